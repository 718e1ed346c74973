"""The two Server-Sent Events streams, driven by the clock and the event bus.

A stream subscribes to the bus, then loops: it sends what the bus delivered, and otherwise waits
until the next scheduled change of its workspace or the next keep-alive ping, whichever comes
first on the mock's clock, and settles the workspace when a change is due. With a manual clock a
stream therefore moves exactly when the test advances the clock.

- Per-job stream: a ``progress`` snapshot, then live ``progress``/``page``/``error`` events, then
  ``done``, after which the response ends. On a job that is already terminal: ``done`` alone.
- Workspace stream: ``job:progress``, ``job:completed`` and ``job:failed`` with a ``jobId``; a
  cancelled job ends with a ``job:progress`` whose status is ``cancelled``. It never ends by itself.

Both send a ``: ping`` comment every ``Settings.ping_interval`` seconds of clock time, and both end
when :meth:`StreamHub.close` is called (server shutdown), so a server never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

from quart import Response

from ..core.bus import JobEvent
from ..core.service import JobWatch, Service
from ..sse import CONTENT_TYPE, STREAM_HEADERS, encode_comment, encode_json_event

__all__ = ["PING", "StreamHub", "encode_event", "job_stream", "workspace_stream"]

PING: Final = encode_comment("ping")


def encode_event(name: str, data: Mapping[str, Any]) -> bytes:
    """One SSE frame: an ``event:`` line, one ``data:`` line of compact JSON, a blank line."""
    return encode_json_event(name, data)


class _Listener:
    """Collects bus events for one stream and wakes it, from whatever thread published them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, accept: Callable[[JobEvent], bool]):
        self.loop = loop
        self.accept = accept
        self.events: deque[JobEvent] = deque()
        self.wake = asyncio.Event()

    def __call__(self, event: JobEvent) -> None:
        if self.accept(event):
            self.events.append(event)
            self.poke()

    def poke(self) -> None:
        """Wake the stream (thread-safe; a no-op once its loop is gone)."""
        # Once the loop is closed the stream is gone too: nothing to wake.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.wake.set)


class StreamHub:
    """The open streams of one app, so that shutdown can end them all at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: set[_Listener] = set()
        self._closing = False

    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closing

    def add(self, listener: _Listener) -> None:
        with self._lock:
            self._listeners.add(listener)

    def discard(self, listener: _Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def close(self) -> None:
        """End every open stream and refuse new ones (thread-safe, idempotent)."""
        with self._lock:
            self._closing = True
            listeners = list(self._listeners)
        for listener in listeners:
            listener.poke()

    def reopen(self) -> None:
        """Accept streams again after :meth:`close` (for a server started anew)."""
        with self._lock:
            self._closing = False


async def _wait(service: Service, deadline: float, wake: asyncio.Event) -> None:
    """Until clock time reaches ``deadline`` or ``wake`` is set."""
    clock_task = asyncio.ensure_future(service.clock.wait_until(deadline))
    wake_task = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({clock_task, wake_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (clock_task, wake_task):
            task.cancel()
        await asyncio.gather(clock_task, wake_task, return_exceptions=True)


async def _pump(
    service: Service, hub: StreamHub, watch: JobWatch, listener: _Listener, opened_at: float
) -> AsyncIterator[JobEvent | None]:
    """Yield bus events as they come, and ``None`` whenever a ping is due.

    Pings count from ``opened_at``, the clock time the request was answered, not from when the
    body started to be sent: the clock may move in between.
    """
    interval = service.settings.ping_interval
    next_ping = opened_at + interval
    while not hub.closing:
        listener.wake.clear()
        while listener.events:
            yield listener.events.popleft()
        due = service.next_due(watch.workspace)
        deadline = next_ping if due is None else min(due, next_ping)
        if service.clock.now() < deadline:
            await _wait(service, deadline, listener.wake)
        now = service.clock.now()
        if due is not None and now >= due:
            service.settle(watch.workspace)
        while listener.events:
            yield listener.events.popleft()
        if now >= next_ping:
            yield None
            # Stay on the grid of the stream's start; a long jump sends one ping, not many.
            next_ping += interval * max(1, math.floor((now - next_ping) / interval) + 1)


def _stream_response(body: AsyncIterator[bytes]) -> Response:
    headers = {name: value for name, value in STREAM_HEADERS.items() if name != "Content-Type"}
    response = Response(body, status=200, content_type=CONTENT_TYPE, headers=headers)
    response.timeout = None
    return response


def job_stream(service: Service, hub: StreamHub, api_key: str | None, job_id: str) -> Response:
    """``GET /v1/jobs/{id}/stream`` for a valid id; raises 401/404 before the stream starts."""
    loop = asyncio.get_running_loop()
    listener = _Listener(loop, lambda event: event.job_id == job_id)
    watch = service.watch_job(api_key, job_id, listener)
    opened_at = service.clock.now()
    hub.add(listener)

    async def body() -> AsyncIterator[bytes]:
        try:
            progress = watch.progress or {}
            if watch.terminal:
                yield encode_event("done", progress)
                return
            yield encode_event("progress", progress)
            async for event in _pump(service, hub, watch, listener, opened_at):
                if event is None:
                    yield PING
                elif event.workspace_id == watch.workspace.id:
                    yield encode_event(event.kind, event.data())
                    if event.kind == "done":
                        return
        finally:
            watch.unsubscribe()
            hub.discard(listener)

    return _stream_response(body())


def _workspace_frame(event: JobEvent) -> bytes | None:
    data = event.data()
    if event.kind == "progress" or (event.kind == "done" and data["status"] == "cancelled"):
        return encode_event("job:progress", {"jobId": event.job_id, **data})
    if event.kind == "done" and data["status"] == "completed":
        return encode_event(
            "job:completed", {"jobId": event.job_id, **data, "creditsUsed": event.credits_used}
        )
    if event.kind == "done":
        return encode_event("job:failed", {"jobId": event.job_id, "error": event.job_error or ""})
    return None  # page and error events have no workspace-stream counterpart


def workspace_stream(service: Service, hub: StreamHub, api_key: str | None) -> Response:
    """``GET /v1/events``; raises 401 before the stream starts."""
    loop = asyncio.get_running_loop()
    # The workspace is known only once subscribed, so filter on it when consuming.
    listener = _Listener(loop, lambda event: True)
    watch = service.watch_events(api_key, listener)
    opened_at = service.clock.now()
    hub.add(listener)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for event in _pump(service, hub, watch, listener, opened_at):
                if event is None:
                    yield PING
                    continue
                if event.workspace_id != watch.workspace.id:
                    continue
                frame = _workspace_frame(event)
                if frame is not None:
                    yield frame
        finally:
            watch.unsubscribe()
            hub.discard(listener)

    return _stream_response(body())
