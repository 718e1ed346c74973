"""Deterministic identifiers.

Every kind of identifier has its own random stream, derived from the seed, the workspace and the
kind. An id therefore depends only on how many ids *of the same kind* the same workspace issued
before it: polling a job, scraping a page or creating a webhook never shifts the next job id, and
one workspace's activity never shifts another's. Request ids (``x-request-id``) come from a stream
of their own per server, so the number of requests does not move any resource id either.

Shapes: ``job_``/``whk_``/``key_``/``use_``/``tok_`` + 16 lowercase hex digits, ``req_`` + 16 hex,
``ses_`` + a lowercase UUID version 4, raw API keys ``rdr_`` + 32 lowercase hex digits.
"""

from __future__ import annotations

import random
import threading
import uuid

__all__ = ["IdSource", "RequestIds"]


def _stream(seed: int, scope: str, kind: str) -> random.Random:
    # Seeding with a string is stable across processes (it is hashed with SHA-512).
    return random.Random(f"reader-mock|{seed}|{scope}|{kind}")


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


class IdSource:
    """The identifier streams of one workspace."""

    def __init__(self, seed: int, scope: str) -> None:
        self._jobs = _stream(seed, scope, "job")
        self._next_job: str | None = None
        self._webhooks = _stream(seed, scope, "webhook")
        self._key_ids = _stream(seed, scope, "api-key-id")
        self._key_secrets = _stream(seed, scope, "api-key-secret")
        self._sessions = _stream(seed, scope, "session")
        self._usage = _stream(seed, scope, "usage")

    def job(self) -> str:
        """A job id, ``job_`` + 16 hex digits."""
        found = self.peek_job()
        self._next_job = None
        return found

    def peek_job(self) -> str:
        """The id :meth:`job` returns next, without taking it (a job is planned under its id
        before it is known to fit)."""
        if self._next_job is None:
            self._next_job = "job_" + _hex(self._jobs, 16)
        return self._next_job

    def webhook(self) -> str:
        """A webhook id, ``whk_`` + 16 hex digits."""
        return "whk_" + _hex(self._webhooks, 16)

    def api_key_id(self) -> str:
        """An API key id, ``key_`` + 16 hex digits."""
        return "key_" + _hex(self._key_ids, 16)

    def api_key_secret(self) -> str:
        """A raw API key, ``rdr_`` + 32 hex digits."""
        return "rdr_" + _hex(self._key_secrets, 32)

    def session(self) -> tuple[str, str]:
        """A browser session id (``ses_`` + UUID4) and its CDP token (``tok_`` + 16 hex)."""
        session_id = "ses_" + str(uuid.UUID(int=self._sessions.getrandbits(128), version=4))
        return session_id, "tok_" + _hex(self._sessions, 16)

    def usage(self) -> str:
        """A usage-history entry id, ``use_`` + 16 hex digits."""
        return "use_" + _hex(self._usage, 16)


class RequestIds:
    """The ``x-request-id`` stream of one server: ``req_`` + 16 hex digits, thread-safe."""

    def __init__(self, seed: int) -> None:
        self._rng = _stream(seed, "server", "request")
        self._lock = threading.Lock()

    def next(self) -> str:
        """The next request id."""
        with self._lock:
            return "req_" + _hex(self._rng, 16)
