"""The in-process event bus: every job transition and result, as it happens.

The core publishes one :class:`JobEvent` per change while it settles a workspace; SSE streams,
webhook deliveries and the journal subscribe. Events are frozen records; their ``payload`` is
shaped exactly like the per-job stream's payload for that event:

==============  ==========================================================
``progress``    ``{status, completed, total}``
``page``        the result entry appended to ``results``
``error``       ``{url, error}`` for a URL that failed
``done``        ``{status, completed, total}`` with a terminal status
==============  ==========================================================

``credits_used`` and ``job_error`` carry the job's counters at the time of the event, so a
subscriber can build workspace-stream and webhook payloads without reading the job again.

Subscribers are called synchronously, in publishing order, in the thread that settled the
workspace, while the service holds its lock: they must be quick and must not call back into the
service (hand the event to your own queue or loop instead). A subscriber that raises is reported
through the bus's ``on_error`` hook and does not stop the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["EventBus", "JobEvent", "JobEventKind", "Subscriber"]

JobEventKind = Literal["progress", "page", "error", "done"]


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


@dataclass(frozen=True)
class JobEvent:
    """One change of one job."""

    sequence: int
    """Position in the service's event history, from 1, without gaps."""
    at: float
    """Clock time the change happened (the time of the step, not of the settling)."""
    workspace_id: str
    job_id: str
    kind: JobEventKind
    payload: Mapping[str, Any] = field(repr=False)
    """Read-only; :meth:`data` gives a plain, JSON-ready copy."""
    credits_used: int = 0
    job_error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", _freeze(self.payload))

    def data(self) -> dict[str, Any]:
        """A plain ``dict`` copy of the payload, ready for ``json.dumps``."""
        result: dict[str, Any] = _thaw(self.payload)
        return result


Subscriber = Callable[[JobEvent], None]


class EventBus:
    """Publish/subscribe for :class:`JobEvent` records."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._sequence = 0
        self._on_error = on_error

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Receive every event from now on; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(subscriber)
        return lambda: self.unsubscribe(subscriber)

    @property
    def has_subscribers(self) -> bool:
        """Whether anyone listens; publishers skip building events nobody would receive."""
        return bool(self._subscribers)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber`` (no error if it was not subscribed)."""
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def publish(
        self,
        *,
        at: float,
        workspace_id: str,
        job_id: str,
        kind: JobEventKind,
        payload: Mapping[str, Any],
        credits_used: int,
        job_error: str | None,
    ) -> JobEvent:
        """Number, freeze and deliver one event; returns it."""
        with self._lock:
            self._sequence += 1
            event = JobEvent(
                sequence=self._sequence,
                at=at,
                workspace_id=workspace_id,
                job_id=job_id,
                kind=kind,
                payload=payload,
                credits_used=credits_used,
                job_error=job_error,
            )
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception as exc:  # a broken subscriber must not break the job engine
                if self._on_error is not None:
                    self._on_error(exc)
        return event
