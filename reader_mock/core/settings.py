"""Settings of one mock server: seed, keys, limits and job pacing.

Every documented limit is configurable here; the defaults are the documented plan (1,000 credits a
month, 60 requests per minute, 10 concurrent jobs). A bad value is a ``ValueError`` that names the
setting, so a CLI flag or control-API call can report it in one line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Final

__all__ = [
    "DEFAULT_API_KEY",
    "MAX_JOB_RETENTION",
    "MAX_PING_INTERVAL",
    "MIN_PING_INTERVAL",
    "Settings",
]

DEFAULT_API_KEY: Final = "rdr_mock_default_key"
"""The API key a server accepts when none is configured."""

MIN_PING_INTERVAL: Final = 0.01
"""The shortest ping interval (seconds of clock time), for the server and for timelines."""
MAX_PING_INTERVAL: Final = 86_400.0
"""The longest ping interval (seconds of clock time), for the server and for timelines."""

MAX_JOB_RETENTION: Final = 315_360_000.0
"""The longest job retention (seconds of clock time): ten years, so "keep them" is expressible."""

_KEY: Final = re.compile(r"^[\x21-\x7e]{1,256}$")


@dataclass(frozen=True)
class Settings:
    """Configuration of a :class:`~reader_mock.core.service.Service`."""

    seed: int = 0
    """Seeds identifiers and generated content: one seed reproduces every response."""
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    """Accepted keys at start-up; each one gets a workspace of its own."""
    monthly_credits: int = 1000
    """Credits per billing period (``Credits.limit``)."""
    requests_per_minute: int = 60
    """Requests allowed in the sliding rate-limit window."""
    rate_window_seconds: int = 60
    """Length of the sliding rate-limit window, in clock seconds."""
    max_concurrent_jobs: int = 10
    """Active (queued + processing) jobs allowed per workspace."""
    max_webhooks: int = 10
    """Webhook subscriptions allowed per workspace."""
    max_api_keys: int = 10
    """Active API keys allowed per workspace."""
    queue_delay: float = 0.5
    """Clock seconds a new or retried job stays ``queued`` before it starts processing."""
    page_interval: float = 0.2
    """Clock seconds between two results of a job (the first comes one interval after start)."""
    idempotency_ttl: float = 86_400.0
    """Clock seconds an idempotency key replays its first response."""
    cache_ttl: float = 86_400.0
    """Clock seconds a synchronous scrape stays in the cache."""
    max_body_bytes: int = 1_048_576
    """Largest request body accepted; a bigger one is refused before it is parsed."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed besides ``localhost``/``127.0.0.1`` (``"*"`` allows any)."""
    ping_interval: float = 30.0
    """Clock seconds between two ``: ping`` comments on an open event stream."""
    stream_queue_limit: int = 10_000
    """Frames an event-stream subscriber may fall behind before it is disconnected (see the
    behaviour page: a client that stops reading must not make the server's memory grow)."""
    workspace_replay_limit: int = 1000
    """Workspace events kept for a workspace stream that resumes from ``Last-Event-ID``, once a
    job's timeline turned ids on (older ones are gone; see the behaviour page). At most
    ``stream_queue_limit`` are kept, as a resumed stream must not start behind that bound."""
    job_retention: float = 86_400.0
    """Clock seconds a finished job (its results and its stream) stays readable after it
    finished; afterwards it is ``404 not_found`` like an unknown job. Running jobs never expire."""
    max_finished_jobs: int = 1000
    """Finished jobs kept per workspace, whatever the clock says; beyond it the job that
    finished first is forgotten, so memory stays bounded on a stopped clock too."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.type in ("int", "float") and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"setting {spec.name} must be a number, got {value!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"setting seed must be an integer, got {self.seed!r}")
        self._at_least("monthly_credits", 0)
        self._at_least("requests_per_minute", 1)
        self._at_least("rate_window_seconds", 1)
        self._at_least("max_concurrent_jobs", 0)
        self._at_least("max_webhooks", 0)
        self._at_least("max_api_keys", 1)
        self._at_least("max_body_bytes", 1)
        self._at_least("stream_queue_limit", 1)
        self._at_least("workspace_replay_limit", 1)
        self._at_least("max_finished_jobs", 0)
        if not (math.isfinite(self.job_retention) and 0 <= self.job_retention <= MAX_JOB_RETENTION):
            raise ValueError(
                f"setting job_retention must be a number of seconds from 0 to "
                f"{MAX_JOB_RETENTION:.0f}, got {self.job_retention!r}"
            )
        if not MIN_PING_INTERVAL <= self.ping_interval <= MAX_PING_INTERVAL:
            raise ValueError(
                f"setting ping_interval must be a number from {MIN_PING_INTERVAL} to "
                f"{MAX_PING_INTERVAL:g}, got {self.ping_interval!r}"
            )
        for name in ("queue_delay", "page_interval", "idempotency_ttl", "cache_ttl"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"setting {name} must be a finite number >= 0, got {value!r}")
        if not self.api_keys:
            raise ValueError("setting api_keys needs at least one key")
        for key in self.api_keys:
            if not isinstance(key, str) or not _KEY.match(key):
                raise ValueError(
                    f"API key {key!r} must be 1 to 256 printable characters without spaces"
                )
        if len(set(self.api_keys)) != len(self.api_keys):
            raise ValueError("setting api_keys lists the same key twice")
        for origin in self.cors_origins:
            if not isinstance(origin, str) or not origin:
                raise ValueError(f"CORS origin {origin!r} must be a non-empty string")

    def _at_least(self, name: str, minimum: int) -> None:
        value = getattr(self, name)
        if not isinstance(value, int) or value < minimum:
            raise ValueError(f"setting {name} must be an integer >= {minimum}, got {value!r}")
