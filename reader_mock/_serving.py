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

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Hands over the coroutine rather than awaiting it: one frame less under every request
        # (an idle event stream holds its frames for as long as it is open).
        kind = scope["type"]
        if kind == "http":
            return self._http(scope, receive, send)
        if kind == "lifespan":
            return self._lifespan(scope, receive, send)
        return self._app(scope, receive, send)

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

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        run = self._run
        exchange = _Exchange(self, scope, receive, send)
        task = asyncio.current_task(run.loop)  # the loop given: no look-up of the running one
        if task is not None:
            run.app_tasks.add(task)
        if run.in_flight == 0:
            run.idle.clear()
        run.in_flight += 1
        try:
            await self._app(scope, exchange.receive, exchange.send)
        except Exception as exc:
            self._errors.append(exc)
            raise
        finally:
            if exchange.status is None and run.closing.is_set():
                _close_unanswered(scope)
            run.in_flight -= 1
            if run.in_flight == 0:
                run.idle.set()
            if task is not None:
                run.app_tasks.discard(task)
            if self._access_log:
                elapsed = time.perf_counter() - exchange.started
                note = "stream closed" if exchange.streaming else ""
                log_request(scope["method"], scope["path"], exchange.status, elapsed, note=note)


class _Exchange:
    """One HTTP request under the :class:`Guard`: its status once answered, and the ``receive``
    and ``send`` the app gets. Both hand the server's own awaitable on whenever they can, so
    that a message costs no frame of ours (an event stream writes many)."""

    __slots__ = ("_guard", "_receive", "_send", "scope", "started", "status", "streaming")

    def __init__(self, guard: Guard, scope: Scope, receive: Receive, send: Send) -> None:
        self._guard = guard
        self.scope = scope
        self._receive = receive
        self._send = send
        # The request log's timing and stream check only when the log is on.
        self.started = time.perf_counter() if guard._access_log else 0.0
        self.status: int | None = None
        self.streaming = False

    def send(self, message: Message) -> Awaitable[None]:
        if self.status is None and message["type"] == "http.response.start":
            self.status = int(message["status"])
            if self._guard._access_log and _is_event_stream(message.get("headers", ())):
                self.streaming = True
                elapsed = time.perf_counter() - self.started
                scope = self.scope
                log_request(
                    scope["method"], scope["path"], self.status, elapsed, note="stream open"
                )
        return self._send(message)

    def receive(self) -> Awaitable[Message]:
        disconnect = self._guard._run.disconnect
        if disconnect is None:
            return self._receive()
        return self._receive_stopping(disconnect)

    async def _receive_stopping(self, disconnect: asyncio.Future[None]) -> Message:
        """``receive`` once the server is stopping: ``http.disconnect`` as soon as it is told."""
        if disconnect.done():
            return dict(_DISCONNECT)
        # Waited for in this task: no task or wait per message. A stop cancels the wait
        # (Run.disconnect_all), and that cancellation becomes the disconnect message.
        run = self._guard._run
        task = asyncio.current_task(run.loop)
        if task is None:
            return await self._receive()
        run.receiving.add(task)
        try:
            return await self._receive()
        except asyncio.CancelledError as exc:
            if exc.args != (_STOPPING,):
                raise
            task.uncancel()
            return dict(_DISCONNECT)
        finally:
            run.receiving.discard(task)


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
