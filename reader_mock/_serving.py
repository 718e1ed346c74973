"""One serving period of the ASGI runner: its state, and the ASGI middleware between Hypercorn
and the app that tracks requests, forces disconnects at shutdown, records errors, writes request
log lines and watches the app's start-up."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from reader_mock._logging import log_request
from reader_mock.sse.tcp_reset import find_connection

__all__ = ["ASGIApp", "Guard", "Run", "ServerStartError", "watch_quart_errors"]

_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}
_STOPPING = "reader-mock: the server is stopping"
"""The message of the cancellation that ends a request's wait for its next ASGI message."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServerStartError(RuntimeError):
    """The server could not start: the address is unusable, or the application failed to start."""


class Run:
    """The state of one serving period, from start to stop.

    Created in the starting thread; its events are first used, and so bound, in the server loop.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        *,
        owns_loop: bool,
        on_closing: Callable[[], None] | None = None,
    ) -> None:
        self.loop = loop
        self.on_closing = on_closing
        self.fd = fd
        self.owns_loop = owns_loop
        self.stop_requested = asyncio.Event()
        self.deadline: float | None = None
        self.closing = asyncio.Event()
        self.hypercorn_stop = asyncio.Event()
        self.disconnect: asyncio.Future[None] | None = None
        self.receiving: set[asyncio.Task[Any]] = set()
        """Tasks waiting in the app's ``receive`` right now (see :meth:`disconnect_all`)."""
        self.serving = False
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.app_tasks: set[asyncio.Task[Any]] = set()
        self.startup_passed = False
        self.startup_failed = False

    def begin_stop(self, timeout: float) -> None:
        """In the server loop: shut down, finishing within ``timeout`` seconds from now. The app
        is told at once (:meth:`close`), in this very call: on a busy loop every later step of
        the stop waits a whole turn of the loop, and the app's streams would keep writing."""
        deadline = self.loop.time() + timeout
        self.deadline = deadline if self.deadline is None else min(self.deadline, deadline)
        self.stop_requested.set()
        self.close()

    def close(self) -> None:
        """In the server loop: set the closing event and call ``on_closing``, once."""
        if self.closing.is_set():
            return
        self.closing.set()
        if self.on_closing is not None:
            self.on_closing()

    def request_stop(self, timeout: float) -> None:
        """:meth:`begin_stop` from any thread, or from a signal handler of the loop's thread
        (it only queues a callback); idempotent."""
        if self.loop.is_closed():
            return
        # RuntimeError: the loop closed in the meantime, so there is nothing left to stop.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.begin_stop, timeout)

    def disconnect_all(self) -> None:
        """In the server loop: from now on every ``receive`` of the app answers
        ``http.disconnect``, including those waiting now (their wait is cancelled, and the
        cancellation is turned into that answer)."""
        if self.disconnect is not None and not self.disconnect.done():
            self.disconnect.set_result(None)
        for task in list(self.receiving):
            task.cancel(_STOPPING)

    def remaining(self, at_most: float = math.inf) -> float:
        """Seconds left before the stop deadline (``at_most`` when no stop has a deadline)."""
        if self.deadline is None:
            return at_most
        return min(at_most, max(0.0, self.deadline - self.loop.time()))


class Guard:
    """ASGI middleware between Hypercorn and the app: tracks requests, forces disconnects on
    shutdown, records errors, writes request log lines and watches the app's start-up."""

    def __init__(
        self, app: ASGIApp, run: Run, errors: list[BaseException], *, access_log: bool
    ) -> None:
        self._app = app
        self._run = run
        self._errors = errors
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self._app(scope, receive, send)
            return
        # An HTTP request, handled here rather than in a method of its own: one call less for
        # every request. What is done per request or per message is kept to what the stop
        # needs (whether the request was answered, its task, who waits in receive); the
        # request log's timing and stream check only when the log is on.
        run = self._run
        access_log = self._access_log
        started = time.perf_counter() if access_log else 0.0
        status: int | None = None
        streaming = False

        async def watched_send(message: Message) -> None:
            nonlocal status, streaming
            if status is None and message["type"] == "http.response.start":
                status = int(message["status"])
                if access_log:
                    streaming = _is_event_stream(message.get("headers", ()))
                    if streaming:
                        elapsed = time.perf_counter() - started
                        log_request(
                            scope["method"], scope["path"], status, elapsed, note="stream open"
                        )
            await send(message)

        async def guarded_receive() -> Message:
            disconnect = run.disconnect
            if disconnect is None:
                return await receive()
            if disconnect.done():
                return dict(_DISCONNECT)
            # Waited for in this task: no task or wait per message. A stop cancels the wait
            # (Run.disconnect_all), and that cancellation becomes the disconnect message.
            task = asyncio.current_task()
            if task is None:
                return await receive()
            receiving = run.receiving
            receiving.add(task)
            try:
                return await receive()
            except asyncio.CancelledError as exc:
                if exc.args != (_STOPPING,):
                    raise
                task.uncancel()
                return dict(_DISCONNECT)
            finally:
                receiving.discard(task)

        task = asyncio.current_task()
        if task is not None:
            run.app_tasks.add(task)
        if run.in_flight == 0:
            run.idle.clear()
        run.in_flight += 1
        try:
            await self._app(scope, guarded_receive, watched_send)
        except Exception as exc:
            self._errors.append(exc)
            raise
        finally:
            if status is None and run.closing.is_set():
                _close_unanswered(scope)
            run.in_flight -= 1
            if run.in_flight == 0:
                run.idle.set()
            if task is not None:
                run.app_tasks.discard(task)
            if access_log:
                elapsed = time.perf_counter() - started
                note = "stream closed" if streaming else ""
                log_request(scope["method"], scope["path"], status, elapsed, note=note)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        run = self._run

        async def watched_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                run.startup_passed = True
            elif message["type"] == "lifespan.startup.failed":
                run.startup_failed = True
                reason = message.get("message") or "no reason given"
                self._errors.append(ServerStartError(f"the application failed to start: {reason}"))
            await send(message)

        task = asyncio.current_task()
        if task is not None:
            run.app_tasks.add(task)
        try:
            await self._app(scope, receive, watched_send)
        finally:
            # Hypercorn goes on to create its sockets whenever the lifespan call ends without a
            # reported failure (an app without lifespan support raises here, and that is fine).
            if not run.startup_failed:
                run.startup_passed = True
            if task is not None:
                run.app_tasks.discard(task)


def _close_unanswered(scope: Scope) -> None:
    """Close the connection of a request the stop left without an answer (its app was told the
    client disconnected, or was cancelled): the client sees the connection close, where
    Hypercorn would answer a bare ``500`` with an empty body. The transport is closed before
    Hypercorn writes, so that answer is dropped."""
    transport = find_connection(scope)
    if transport is not None:
        transport.close()


def _is_event_stream(headers: Any) -> bool:
    for name, value in headers:
        if bytes(name).lower() == b"content-type":
            return bytes(value).lower().startswith(b"text/event-stream")
    return False


def watch_quart_errors(app: Any, errors: list[BaseException]) -> Callable[[], None]:
    """Record the exceptions a Quart app turns into 500 responses; returns the undo function.

    Quart handles those itself, so they never reach the ASGI layer; its ``got_request_exception``
    and ``got_background_exception`` signals are where they can be seen.
    """
    quart = sys.modules.get("quart")  # a Quart app means Quart is imported already
    if quart is None or not isinstance(app, quart.Quart):
        return lambda: None
    from quart.signals import got_background_exception, got_request_exception

    async def record(sender: Any, exception: BaseException, **extra: Any) -> None:
        errors.append(exception)

    signals = (got_request_exception, got_background_exception)
    for signal in signals:
        signal.connect(record, sender=app, weak=False)

    def disconnect() -> None:
        for signal in signals:
            signal.disconnect(record, sender=app)

    return disconnect
