"""Serve any ASGI application with Hypercorn over a real socket: in a background thread with its
own event loop, or as a task in the caller's loop::

    with ASGIServer(app) as server:              # its own thread and event loop
        httpx.get(f"{server.url}/ping")

    async with ASGIServer(app) as server:        # a task in the running loop
        ...

The socket is bound before Hypercorn starts, so the port is known at once and a busy port fails
with :class:`ServerStartError`. Starting returns once connections are accepted; stopping ends
within its timeout. :class:`~reader_mock.server.MockServer` runs the mock on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import hypercorn.asyncio
import hypercorn.config

from reader_mock._serving import (
    Guard,
    Run,
    ServerStartError,
    install_request_hook,
    watch_quart_errors,
)

__all__ = ["CLOSING_KEY", "ASGIServer", "ServerStartError"]

#: Key of the closing event in a Quart app's ``extensions``.
CLOSING_KEY = "reader_mock.closing"

# Hypercorn's own warnings and errors (not request lines) go to this logger.
_server_logger = logging.getLogger("reader_mock.server")

_BACKLOG = 128
# How long streams get to end by themselves once the closing event is set.
_CLOSING_GRACE = 0.1
# Extra time, beyond graceful_timeout, before Hypercorn's task is cancelled outright.
_HARD_STOP_MARGIN = 0.3
# How long, at most, the tasks left by requests get to end once cancelled.
_LEFTOVER_WAIT = 1.0
# Share of a stop's timeout kept for closing the event loop after the shutdown steps.
_TEARDOWN_SHARE = 0.2


T = TypeVar("T")


def _listen(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (port 0: any free port), or raise ServerStartError."""
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServerStartError(f"cannot listen on {where}: unknown host {host!r}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            # Lets a restarted server reuse a port whose old connections linger in TIME_WAIT;
            # on POSIX it never allows two listeners on one port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "the address is already in use"
        elif exc.errno == errno.EADDRNOTAVAIL:
            reason = "the address is not available on this machine"
        elif exc.errno == errno.EACCES:
            reason = "permission denied"
        else:
            reason = exc.strerror or str(exc)
        raise ServerStartError(f"cannot listen on {where}: {reason}") from exc
    return sock


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller runs in ``loop`` (in its thread, inside a callback or a task)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _connections(loop: asyncio.AbstractEventLoop, port: int) -> list[asyncio.Transport]:
    """The connections the server accepted on ``port``, closing ones included, read from the
    loop's table of transports as ``reader_mock.sse.tcp_reset`` does (none without one)."""
    table = getattr(loop, "_transports", None)
    if not isinstance(table, Mapping):
        return []
    found = []
    for transport in list(table.values()):
        if isinstance(transport, asyncio.Transport):
            local = transport.get_extra_info("sockname")
            if isinstance(local, tuple) and len(local) >= 2 and local[1] == port:
                found.append(transport)
    return found


_ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


def _quiet_cancellations(
    previous: _ExceptionHandler | None,
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """An exception handler for the stop: it drops the report of a cancelled connection task
    (Python 3.11's ``asyncio.start_server`` logs one, with a traceback, for every connection
    task cancelled; 3.12 no longer does) and passes every other report on."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    return handle


class ASGIServer:
    """An ASGI application served by Hypercorn on a real socket, started as a context manager
    or explicitly.

    Arguments (all keyword-only but ``app``):

    - ``host``, ``port``: where to listen; ``port=0`` (the default) picks a free port, read it
      back from :attr:`port` or :attr:`url` once started.
    - ``sock``: a bound socket to serve on instead (put in listen mode if it is not yet); the
      server takes it over and closes it when it stops, so it serves one run.
    - ``access_log``: log one line per request to the ``reader_mock.access`` logger.
    - ``graceful_timeout``: seconds Hypercorn waits for connections to finish at shutdown.
    - ``startup_timeout``: seconds :meth:`start` waits for the application's start-up.
    - ``on_closing``: called in the server's loop when a stop begins, before connections are
      closed: the place to tell the app's own streams to end.
    - ``name``: the server thread is named ``{name}-{port}``.

    Stopping, with event streams open: the *closing* event (:attr:`closing`, also put in a Quart
    app's ``extensions[CLOSING_KEY]``) is set and ``on_closing`` called, so streams can end with
    their final chunk; requests still running after a short grace are told the client
    disconnected; then Hypercorn shuts down, and is cancelled if it is still waiting when the
    time is up; tasks the requests left behind are cancelled last.

    Exceptions raised by the application (in requests or at start-up) and by Hypercorn are
    collected in :attr:`errors`. One instance serves in one place at a time: in its own thread
    (``with``, :meth:`start`, :meth:`stop`) or in the running event loop (``async with``,
    :meth:`astart`, :meth:`astop`). It can be started again after it stopped.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        access_log: bool = False,
        graceful_timeout: float = 0.2,
        startup_timeout: float = 30.0,
        on_closing: Callable[[], None] | None = None,
        name: str = "reader-mock-server",
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        if graceful_timeout < 0 or startup_timeout <= 0:
            raise ValueError("graceful_timeout must be >= 0 and startup_timeout > 0")
        self._bound_port: int | None = None
        if sock is not None:
            if sock.type != socket.SOCK_STREAM:
                raise ValueError("sock must be a stream (TCP) socket")
            address = sock.getsockname()
            if not isinstance(address, tuple) or not address[1]:
                raise ValueError("sock must be bound to an address and port")
            host, port = str(address[0]), int(address[1])
            self._bound_port = port
        self._app = app
        self._host = host
        self._requested_port = port
        self._sock = sock
        self._access_log = access_log
        self._graceful_timeout = graceful_timeout
        self._startup_timeout = startup_timeout
        self._on_closing = on_closing
        self._name = name
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._run: Run | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what the server is ---------------------------------------------------------------

    @property
    def app(self) -> Any:
        """The ASGI application being served."""
        return self._app

    @property
    def host(self) -> str:
        """The host the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port the server listens on (the one picked for ``port=0`` once started)."""
        if self._bound_port is not None:
            return self._bound_port
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("the server has not been started yet, so port 0 is not resolved")

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised in the server, oldest first: by the application's requests or its
        start-up, and by Hypercorn. A healthy run leaves it empty."""
        return list(self._errors)

    def clear_errors(self) -> None:
        """Forget the errors recorded so far."""
        self._errors.clear()

    @property
    def running(self) -> bool:
        """True from a successful start until stop."""
        run = self._run
        return run is not None and run.serving and not run.stop_requested.is_set()

    @property
    def closing(self) -> asyncio.Event | None:
        """The closing event of the current run (set when a stop begins), None before the first."""
        run = self._run
        return None if run is None else run.closing

    def call(self, function: Callable[[], T], *, timeout: float = 5.0) -> T:
        """Run ``function`` in the server's event loop and return its result (or raise its
        exception), so that it never runs at the same time as the application's code.

        Called from that loop (in its thread), or while the server does not run, it runs at
        once. Raises ``TimeoutError`` when the loop did not run it within ``timeout`` seconds.
        """
        run = self._run
        if run is None or not run.serving or _in_loop(run.loop):
            return function()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call_in_loop() -> None:
            if not done.set_running_or_notify_cancel():
                return
            try:
                done.set_result(function())
            except BaseException as error:  # handed to the caller through the future
                done.set_exception(error)

        try:
            run.loop.call_soon_threadsafe(call_in_loop)
        except RuntimeError:  # the loop closed in the meantime: nothing runs there any more
            return function()
        try:
            return done.result(timeout)
        except TimeoutError:
            if done.done():  # the call itself raised it, or ended just now
                return done.result()
            done.cancel()
            message = f"the server loop did not run the call within {timeout:g} s"
            raise TimeoutError(message) from None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.url if self._bound_port or self._requested_port else self._host
        return f"<{type(self).__name__} {where} {state}>"

    # -- in a background thread -----------------------------------------------------------

    def start(self) -> None:
        """Start serving in a background thread; return once connections are being accepted.

        Raises :class:`ServerStartError` when the address cannot be used or the application
        fails to start, and RuntimeError when this server is already running.
        """
        with self._lock:
            self._ensure_stopped()
            fd = self._listening_fd()
            known_errors = len(self._errors)
            loop = asyncio.new_event_loop()
            run = Run(loop, fd, owns_loop=True, on_closing=self._on_closing)
            ready = threading.Event()
            thread = threading.Thread(
                target=self._thread_main,
                args=(run, ready),
                name=f"{self._name}-{self._bound_port}",
                daemon=True,
            )
            self._run = run
            self._thread = thread
            thread.start()
        if not ready.wait(self._startup_timeout):
            self.stop()
            raise ServerStartError(
                f"the server on {self.url} did not start within {self._startup_timeout:g} s"
            )
        if not run.serving:
            thread.join(self._startup_timeout)
            with self._lock:
                self._thread = None
            raise self._start_failure(known_errors)

    def stop_soon(self, timeout: float = 5.0) -> None:
        """Begin stopping and return at once: from any thread, the server's loop, or a signal
        handler of the loop's thread. The stop then runs as :meth:`stop` or :meth:`astop` would,
        within ``timeout`` seconds; call either to wait for its end. Does nothing when not
        running."""
        run = self._run
        if run is not None:
            run.request_stop(timeout * (1 - _TEARDOWN_SHARE))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background server; returns within ``timeout`` seconds, having cancelled
        whatever had not ended by then. Does nothing when not running."""
        with self._lock:
            thread, run = self._thread, self._run
            self._thread = None
        if thread is None or run is None:
            return
        run.request_stop(timeout * (1 - _TEARDOWN_SHARE))
        if thread is threading.current_thread():
            return  # called from the server's own loop: it stops once this call returns
        thread.join(timeout)
        if thread.is_alive():
            self._errors.append(RuntimeError(f"the server thread did not end within {timeout:g} s"))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _thread_main(self, run: Run, ready: threading.Event) -> None:
        try:
            with asyncio.Runner(loop_factory=lambda: run.loop) as runner:
                runner.run(self._serve(run, ready.set))
        except BaseException as exc:  # the loop itself failed; keep it for the caller
            self._errors.append(exc)
        finally:
            ready.set()

    # -- in the caller's event loop -------------------------------------------------------

    async def astart(self) -> None:
        """Start serving as a task of the running loop; return once connections are accepted.

        Raises as :meth:`start` does.
        """
        with self._lock:
            self._ensure_stopped()
            fd = self._listening_fd()
            known_errors = len(self._errors)
            loop = asyncio.get_running_loop()
            run = Run(loop, fd, owns_loop=False, on_closing=self._on_closing)
            ready: asyncio.Future[None] = loop.create_future()

            def on_ready() -> None:
                if not ready.done():
                    ready.set_result(None)

            task = loop.create_task(self._serve(run, on_ready), name=f"{self._name}-{self.port}")
            self._run = run
            self._task = task
        try:
            await asyncio.wait(
                (ready, task), timeout=self._startup_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            await self.astop()
            raise
        if not run.serving:
            await self.astop()
            if task.done():
                raise self._start_failure(known_errors)
            raise ServerStartError(
                f"the server on {self.url} did not start within {self._startup_timeout:g} s"
            )

    async def astop(self, timeout: float = 5.0) -> None:
        """Stop the server task; returns within ``timeout`` seconds, having cancelled whatever
        had not ended by then. Call it in the loop the server runs in."""
        with self._lock:
            task, run = self._task, self._run
            self._task = None
        if task is None or run is None:
            return
        run.begin_stop(timeout * (1 - _TEARDOWN_SHARE))
        # asyncio.wait does not cancel the task: a caller cancelled while stopping still gets a
        # server that finishes its shutdown instead of one abandoned half-way.
        done, _ = await asyncio.wait((task,), timeout=timeout)
        if not done:
            task.cancel()
            self._errors.append(RuntimeError(f"the server did not stop within {timeout:g} s"))

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    # -- shared ---------------------------------------------------------------------------

    def _ensure_stopped(self) -> None:
        if self._thread is not None or self._task is not None:
            raise RuntimeError(f"{self!r} is already running")

    def _listening_fd(self) -> int:
        """The descriptor of the socket to serve on: the given one, or a new one bound now."""
        sock = self._sock
        if sock is None:
            sock = _listen(self._host, self._requested_port)
        elif sock.fileno() < 0:
            raise RuntimeError("a server given a socket serves once: that socket is closed now")
        else:
            sock.listen(_BACKLOG)
        self._bound_port = sock.getsockname()[1]
        return sock.detach()

    def _start_failure(self, known_errors: int) -> ServerStartError:
        """The error to raise for a failed start, from the errors recorded since it began."""
        new_errors = self._errors[known_errors:]
        first = new_errors[0] if new_errors else None
        if isinstance(first, ServerStartError):
            return first
        reason = f"{type(first).__name__}: {first}" if first is not None else "it stopped"
        error = ServerStartError(f"the server on {self.url} failed to start: {reason}")
        error.__cause__ = first
        return error

    async def _serve(self, run: Run, on_ready: Callable[[], None]) -> None:
        """Serve until a stop is requested, then shut down in order (see the class docs)."""
        install_request_hook()
        extensions = getattr(self._app, "extensions", None)
        if isinstance(extensions, dict):
            extensions[CLOSING_KEY] = run.closing
        guard = Guard(self._app, run, self._errors, access_log=self._access_log)
        stop_watching_errors = watch_quart_errors(self._app, self._errors)

        async def trigger() -> None:
            # Hypercorn awaits this once its start-up has run and its listeners accept.
            run.serving = True
            on_ready()
            await run.hypercorn_stop.wait()

        serve_task = asyncio.create_task(
            hypercorn.asyncio.serve(
                guard,  # type: ignore[arg-type]  # Hypercorn's TypedDict-based ASGI types
                self._config(run.fd),
                shutdown_trigger=trigger,
                mode="asgi",
            )
        )
        stop_wait = asyncio.create_task(run.stop_requested.wait())
        loop = asyncio.get_running_loop()
        previous_handler = loop.get_exception_handler()
        try:
            await asyncio.wait((serve_task, stop_wait), return_when=asyncio.FIRST_COMPLETED)
            loop.set_exception_handler(_quiet_cancellations(previous_handler))
            if not serve_task.done():
                await self._shut_down(run, serve_task)
        finally:
            stop_wait.cancel()
            run.serving = False
            stop_watching_errors()
            if not serve_task.done():
                # Reached only when this coroutine itself is cancelled from outside.
                serve_task.cancel()
                await asyncio.wait((serve_task,), timeout=run.remaining(_LEFTOVER_WAIT))
            failure = None
            if serve_task.done() and not serve_task.cancelled():
                failure = serve_task.exception()
            if failure is not None:
                self._errors.append(failure)
            if not run.startup_passed:
                # Hypercorn stopped before creating its socket from the descriptor: close it here.
                _close_fd(run.fd)
            await self._cancel_leftovers(run)
            loop.set_exception_handler(previous_handler)
            on_ready()

    async def _shut_down(self, run: Run, serve_task: asyncio.Task[None]) -> None:
        # The steps share the time left: a quarter at most for streams to end by themselves,
        # half at most for Hypercorn, and the rest for cancelling what did not end.
        budget = run.remaining()
        run.close()
        if run.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.idle.wait(), min(_CLOSING_GRACE, budget / 4))
        run.disconnect_all()
        run.hypercorn_stop.set()
        if not run.in_flight:
            # Every answer is complete: the connections close now, all in this one step (what
            # they have buffered still goes out first), rather than each on its own later turn
            # of a busy loop through Hypercorn's keep-alive task.
            for transport in _connections(run.loop, self.port):
                transport.close()
        # A close waits for the client to read what is buffered. After graceful_timeout the
        # connections left are aborted, so that their tasks end by themselves: Hypercorn would
        # cancel them, and Python 3.11 logs a traceback for every connection task cancelled.
        done, _ = await asyncio.wait((serve_task,), timeout=min(self._graceful_timeout, budget / 2))
        if not done:
            for transport in _connections(run.loop, self.port):
                transport.abort()
            patience = min(_HARD_STOP_MARGIN, run.remaining())
            done, _ = await asyncio.wait((serve_task,), timeout=patience)
        if not done:
            _server_logger.warning("Hypercorn did not stop in time; cancelling it")
            serve_task.cancel()
            await asyncio.wait((serve_task,), timeout=run.remaining(_LEFTOVER_WAIT))

    async def _cancel_leftovers(self, run: Run) -> None:
        """Cancel what requests left running, so no task outlives the server.

        In its own loop the server cancels every other task (Quart's inner handler tasks among
        them); in a shared loop only the tasks it ran the application in.
        """
        current = asyncio.current_task()
        if run.owns_loop:
            leftovers = {task for task in asyncio.all_tasks() if task is not current}
        else:
            leftovers = {task for task in run.app_tasks if not task.done()}
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=run.remaining(_LEFTOVER_WAIT))

    def _config(self, fd: int) -> hypercorn.config.Config:
        config = hypercorn.config.Config()
        config.bind = [f"fd://{fd}"]
        config.backlog = _BACKLOG
        # Longer than the stop's own wait, so that the stop aborts connections before Hypercorn
        # cancels their tasks (see _shut_down).
        config.graceful_timeout = self._graceful_timeout + _HARD_STOP_MARGIN
        config.startup_timeout = self._startup_timeout
        config.shutdown_timeout = 2.0
        config.accesslog = None  # request lines come from _Guard, in our own format
        config.errorlog = _server_logger
        return config
