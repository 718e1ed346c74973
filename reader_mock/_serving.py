"""One serving period of the ASGI runner: its state; the guard between Hypercorn and the app,
which runs each request, tracks requests, forces disconnects at shutdown, records errors, writes
request log lines and watches the app's start-up; and the hook by which Hypercorn hands the
guard its requests."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from reader_mock._inbox import Inbox, Stopping
from reader_mock._logging import log_request
from reader_mock.sse.tcp_reset import find_connection

__all__ = [
    "ASGIApp",
    "Guard",
    "Run",
    "ServerStartError",
    "install_request_hook",
    "watch_quart_errors",
]


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ServerSend = Callable[[Message | None], Awaitable[None]]
"""The ``send`` Hypercorn gives a request: ``None`` once the app is done."""

_HOOK_LOCK = threading.Lock()
"""Held while the request hook is installed (servers may start in several threads at once)."""


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
        self.stopping = Stopping()
        """Shared by the inboxes of its requests (see :meth:`disconnect_all`)."""
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
        ``http.disconnect``, including those waiting now."""
        self.stopping.disconnect_all()

    def remaining(self, at_most: float = math.inf) -> float:
        """Seconds left before the stop deadline (``at_most`` when no stop has a deadline)."""
        if self.deadline is None:
            return at_most
        return min(at_most, max(0.0, self.deadline - self.loop.time()))


class Guard:
    """Between Hypercorn and the app: runs each request (see :func:`install_request_hook`),
    tracks requests, forces disconnects on shutdown, records errors, writes request log lines
    and watches the app's start-up."""

    def __init__(
        self, app: ASGIApp, run: Run, errors: list[BaseException], *, access_log: bool
    ) -> None:
        self._app = app
        self._run = run
        self._errors = errors
        self._access_log = access_log

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # HTTP requests come through the hook (Guard.request); the lifespan and WebSockets, here.
        if scope["type"] == "lifespan":
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

    def inbox(self, maxsize: int) -> Inbox:
        """The inbox of a new request (``maxsize``: Hypercorn's ``max_app_queue_size``)."""
        return Inbox(maxsize, self._run.stopping)

    async def request(self, scope: Scope, inbox: Inbox, send: ServerSend, log: Any) -> None:
        """One HTTP request, in the task the server gave it: the app with the inbox's messages,
        then ``send(None)``, which tells the server the app is done (it answers ``500`` if the
        app never started an answer). ``log``: the server's error log (``await
        log.exception(message)``)."""
        run = self._run
        exchange = _Exchange(self, scope, send)
        task = asyncio.current_task(run.loop)  # the loop given: no look-up of the running one
        if task is not None and not run.owns_loop:
            run.app_tasks.add(task)  # cancelled at the end (in its own loop, every task is)
        if run.in_flight == 0:
            run.idle.clear()
        run.in_flight += 1
        try:
            await self._app(scope, inbox.get, exchange.send)
        except Exception as exc:
            self._errors.append(exc)
            await log.exception("Error in ASGI Framework")
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
            await send(None)


class _Exchange:
    """One HTTP request under the :class:`Guard`: its status once answered, and the ``send``
    the app gets, which hands the server's own awaitable on, so that a message costs no frame
    of ours (an event stream writes many)."""

    __slots__ = ("_guard", "_send", "scope", "started", "status", "streaming")

    def __init__(self, guard: Guard, scope: Scope, send: ServerSend) -> None:
        self._guard = guard
        self.scope = scope
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


def install_request_hook() -> None:
    """Make Hypercorn run the HTTP requests of a :class:`Guard` through :meth:`Guard.request`,
    with an :class:`~reader_mock._inbox.Inbox`; every other app's requests as before.

    Hypercorn's asyncio task group starts each request (``spawn_app``) with an
    ``asyncio.Queue`` for its messages and three frames above the app's (its handler, its ASGI
    wrapper, the middleware's). An idle event stream holds all of it while it is open; the hook
    gives it one frame and three short lists. Idempotent. Why and how: docs/architecture.md,
    "An idle stream's memory".
    """
    from hypercorn.asyncio.task_group import TaskGroup

    with _HOOK_LOCK:
        if not getattr(TaskGroup.spawn_app, "_reader_mock", False):
            TaskGroup.spawn_app = _guarded(TaskGroup.spawn_app)  # type: ignore[method-assign]


def _guarded(spawn_app: Any) -> Any:
    """``spawn_app`` for a :class:`Guard`'s HTTP requests, ``spawn_app`` itself for others."""

    async def spawn_guarded(
        self: Any, app: Any, config: Any, scope: Scope, send: ServerSend
    ) -> Callable[[Message], Awaitable[None]]:
        guard = getattr(app, "app", None)  # Hypercorn's ASGI wrapper keeps the app here
        if not isinstance(guard, Guard) or scope["type"] != "http":
            return await spawn_app(self, app, config, scope, send)  # type: ignore[no-any-return]
        inbox = guard.inbox(config.max_app_queue_size)
        self.spawn(guard.request, scope, inbox, send, config.log)
        return inbox.put

    spawn_guarded._reader_mock = True  # type: ignore[attr-defined]
    return spawn_guarded


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
