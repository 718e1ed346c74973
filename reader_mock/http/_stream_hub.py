"""What the app holds of its event streams before any opens: the hub of open streams (with the
job scheduler), and the frame each event is prepared as. The streams themselves
(``_streams.py``) load when the first one opens."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from ..core.scheduler import JobScheduler
from ..core.service import Service
from ..sse.encoder import encode_json_frame

if TYPE_CHECKING:
    from ..timeline import Event

__all__ = ["Listener", "StreamHub", "prepare_frame"]


class Listener(Protocol):
    """An open stream as the hub reaches it (from any thread)."""

    ended: bool

    def poke(self) -> None:
        """Wake the stream."""


class StreamHub:
    """The open streams of one app, so that shutdown can end them all at once, and the driver."""

    def __init__(self, service: Service | None = None) -> None:
        self._lock = threading.Lock()
        self._listeners: set[Listener] = set()
        self.closing = False
        """True once :meth:`close` (or :meth:`stop_writing`) was called: read on every turn of
        every stream, so a plain attribute."""
        self.driver = JobScheduler(service) if service is not None else None
        if service is not None:
            # Every stream takes a turn when the clock jumps, even one with nothing due: so it
            # tells the journal it has written all that was due by the new time at once
            # (Journal.wait_settled), rather than at its next ping.
            service.clock.subscribe(self._clock_moved)

    @property
    def open_count(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._listeners)

    def _clock_moved(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.poke()

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.add(listener)

    def discard(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def close(self) -> None:
        """End every open stream (each with its final chunk, dropping what it had still to
        write) and refuse new ones; stop the job driver (thread-safe, idempotent)."""
        self.stop_writing()
        with self._lock:
            listeners = list(self._listeners)
        if self.driver is not None:
            self.driver.halt()
        for listener in listeners:
            listener.poke()

    def stop_writing(self) -> None:
        """Mark the hub closing and do nothing else: safe in a signal handler (no lock, no call
        into the loop). A stream busy writing ends at its next step; :meth:`close` wakes the
        streams that wait."""
        self.closing = True

    def end_open(self) -> None:
        """End the streams open now (each with its final chunk) and keep accepting new ones:
        for a reset. Thread-safe: each stream is woken in its own event loop."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.ended = True
            listener.poke()

    def reopen(self) -> None:
        """Accept streams again after :meth:`close` (for a server started anew)."""
        with self._lock:
            self.closing = False

    def ensure_driver(self) -> None:
        """Start the job driver in the current loop if it is not running."""
        if self.driver is not None and not self.driver.running:
            self.driver.start()


_HEADS: dict[str, bytes] = {}
"""``event: NAME`` and the start of the ``data:`` line, per event name (a small fixed set)."""


def prepare_frame(event: Event) -> bytes:
    """The frame of an event without an ``id:`` field: what every per-job stream writes for it.

    The app hands this to the job engine (``EventHub.prepare``), which prepares each planned
    event with it when it plans a job; the streams call it for the events the engine writes later.
    """
    head = _HEADS.get(event.name)
    if head is None:
        head = _HEADS[event.name] = encode_json_frame(event.name, b"")[:-2]
    return head + event.json + b"\n\n"
