"""Serve the mock over a real socket: Hypercorn in a background thread or in the caller's loop.

``MockServer`` is the one way the project runs its app. The pytest plugin, the CLI and the
benchmarks build on it::

    with MockServer(seed=7) as server:              # its own thread and event loop
        httpx.get(f"{server.url}/v1/usage/credits", headers={"x-api-key": server.api_key})

    async with MockServer(clock=ManualClock()) as server:   # a task in the running loop
        ...

How it starts. The listening socket is bound and put in listen mode in the calling thread, so a
busy port fails at once with :class:`ServerStartError`, the port of ``port=0`` is known before
anything else runs, and a client that connects early waits in the kernel's accept queue rather
than being refused. The socket's descriptor is handed to Hypercorn as an ``fd://`` bind. Starting
returns once Hypercorn has run the application's start-up (``before_serving``) and is accepting
connections: Hypercorn awaits its ``shutdown_trigger`` only after that point, so our trigger first
reports readiness and then waits for the stop request. No polling, no sleeps.

How it stops, promptly even with event streams open:

1. open event streams are told to end: the mock's own streams through
   ``reader_mock.http.close_streams``, any other app's through the *closing* event, an
   :class:`asyncio.Event` of the server's loop found in ``app.extensions["reader_mock.closing"]``
   (:data:`CLOSING_KEY`) for a Quart app and as :attr:`MockServer.closing`. A stream that watches
   it ends cleanly, with its final chunk;
2. requests still running after a short grace period are told the client disconnected (their
   ``receive()`` returns ``http.disconnect``). Quart then cancels their handlers itself, so no
   handler task outlives the server;
3. Hypercorn is told to shut down, with a small ``graceful_timeout``. Should it still be waiting
   for connections after that (Python 3.12.1 and later can wait forever for open connections),
   its task is cancelled;
4. tasks the application's requests left behind are cancelled and awaited.

Errors raised by the application (in requests or in its start-up) and by Hypercorn are collected
in :attr:`MockServer.errors`, so that a test can fail on a server-side error instead of losing it
in another thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import errno
import ipaddress
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from types import TracebackType
from typing import Any, Self

import hypercorn.asyncio
import hypercorn.config

from reader_mock._logging import log_request
from reader_mock.core.clock import Clock, ManualClock, RealClock, ScaledClock
from reader_mock.core.journal import Channel, Journal
from reader_mock.core.service import Service
from reader_mock.core.settings import Settings
from reader_mock.http import app_state, close_streams, create_app
from reader_mock.timeline.ready_made import TimelineSpec

__all__ = ["CLOSING_KEY", "MockServer", "ServerStartError"]

#: Key of the closing event in a Quart app's ``extensions``.
CLOSING_KEY = "reader_mock.closing"

# Hypercorn's own warnings and errors (not request lines) go to this logger.
_server_logger = logging.getLogger("reader_mock.server")

_BACKLOG = 128
# How long streams get to end by themselves once the closing event is set.
_CLOSING_GRACE = 0.1
# Extra time, beyond graceful_timeout, before Hypercorn's task is cancelled outright.
_HARD_STOP_MARGIN = 0.3
_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServerStartError(RuntimeError):
    """The server could not start: the address is unusable, or the application failed to start."""


class _Run:
    """The state of one serving period, from start to stop.

    Created in the starting thread; its events are first used, and so bound, in the server loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, *, owns_loop: bool) -> None:
        self.loop = loop
        self.fd = fd
        self.owns_loop = owns_loop
        self.stop_requested = asyncio.Event()
        self.closing = asyncio.Event()
        self.hypercorn_stop = asyncio.Event()
        self.disconnect: asyncio.Future[None] | None = None
        self.serving = False
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.app_tasks: set[asyncio.Task[Any]] = set()
        self.startup_passed = False
        self.startup_failed = False

    def request_stop(self) -> None:
        """Ask the server loop to shut down; safe from any thread, idempotent."""
        if self.loop.is_closed():
            return
        # RuntimeError: the loop closed in the meantime, so there is nothing left to stop.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.stop_requested.set)


class _Guard:
    """ASGI middleware between Hypercorn and the app: tracks requests, forces disconnects on
    shutdown, records errors, writes request log lines and watches the app's start-up."""

    def __init__(
        self, app: ASGIApp, run: _Run, errors: list[BaseException], *, access_log: bool
    ) -> None:
        self._app = app
        self._run = run
        self._errors = errors
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self._app(scope, receive, send)

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
        started = time.perf_counter()
        status: int | None = None
        streaming = False

        async def watched_send(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                streaming = _is_event_stream(message.get("headers", ()))
                if streaming and self._access_log:
                    elapsed = time.perf_counter() - started
                    log_request(scope["method"], scope["path"], status, elapsed, note="stream open")
            await send(message)

        async def guarded_receive() -> Message:
            disconnect = run.disconnect
            if disconnect is None:
                return await receive()
            if disconnect.done():
                return dict(_DISCONNECT)
            pending = asyncio.ensure_future(receive())
            try:
                await asyncio.wait((pending, disconnect), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not pending.done():
                    pending.cancel()
            if pending.done() and not pending.cancelled():
                return pending.result()
            return dict(_DISCONNECT)

        task = asyncio.current_task()
        if task is not None:
            run.app_tasks.add(task)
        run.in_flight += 1
        run.idle.clear()
        try:
            await self._app(scope, guarded_receive, watched_send)
        except Exception as exc:
            self._errors.append(exc)
            raise
        finally:
            run.in_flight -= 1
            if run.in_flight == 0:
                run.idle.set()
            if task is not None:
                run.app_tasks.discard(task)
            if self._access_log:
                elapsed = time.perf_counter() - started
                note = "stream closed" if streaming else ""
                log_request(scope["method"], scope["path"], status, elapsed, note=note)


def _is_event_stream(headers: Any) -> bool:
    for name, value in headers:
        if bytes(name).lower() == b"content-type":
            return bytes(value).lower().startswith(b"text/event-stream")
    return False


def _watch_quart_errors(app: Any, errors: list[BaseException]) -> Callable[[], None]:
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


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class MockServer:
    """The reader-mock server on a real socket, started as a context manager or explicitly.

    Arguments (all keyword-only):

    - ``host``, ``port``: where to listen; ``port=0`` (the default) picks a free port, read it back
      from :attr:`port` or :attr:`url`.
    - ``api_key``: the one key the mock accepts at start (replaces ``settings.api_keys``);
      ``seed``: replaces ``settings.seed``.
    - ``clock``: the clock the service runs on (a ``ManualClock`` in tests); ``speed`` instead
      builds a ``ScaledClock(speed)``; neither means real time.
    - ``settings``: a complete ``Settings`` for the service.
    - ``app``: any ASGI application to serve instead of the mock (no service is built then).
    - ``access_log``: log one line per request to the ``reader_mock.access`` logger.
    - ``graceful_timeout``: seconds Hypercorn waits for connections to finish at shutdown.
    - ``startup_timeout``: seconds :meth:`start` waits for the application's start-up.
    - ``control_token``: the token the control API under ``/_mock/`` requires in the
      ``x-mock-token`` header; generated when ``host`` is not a loopback address and none is
      given (read it back from :attr:`control_token`). Without one, loopback needs none.

    One instance serves in one place at a time: in its own thread (``with``, :meth:`start`,
    :meth:`stop`) or in the running event loop (``async with``). It can be started again after
    it stopped; the service, and so the mock's state, is kept.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        seed: int | None = None,
        clock: Clock | None = None,
        speed: float | None = None,
        settings: Settings | None = None,
        app: Any | None = None,
        access_log: bool = False,
        graceful_timeout: float = 0.2,
        startup_timeout: float = 30.0,
        control_token: str | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        if graceful_timeout < 0 or startup_timeout <= 0:
            raise ValueError("graceful_timeout must be >= 0 and startup_timeout > 0")
        self._host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self._access_log = access_log
        self._graceful_timeout = graceful_timeout
        self._startup_timeout = startup_timeout
        self._service: Service | None
        self._clock: Clock | None
        if app is not None:
            if settings is not None or clock is not None or speed is not None or seed is not None:
                raise ValueError("app= serves a given application: settings, seed, clock and speed "
                                 "do not apply to it")  # fmt: skip
            self._app: Any = app
            self._service = None
            self._clock = None
            self._api_key = api_key
        else:
            self._service = _build_service(settings, api_key, seed, clock, speed)
            self._clock = self._service.clock
            self._api_key = self._service.settings.api_keys[0]
            if control_token is None and not _is_loopback(host):
                # Bound where others can reach it, the control API must not be open to them.
                control_token = secrets.token_urlsafe(24)
            self._app = create_app(self._service, control_token=control_token)
        self._control_token = control_token
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._run: _Run | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what the server is ---------------------------------------------------------------

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
    def base_url(self) -> str:
        """Same as :attr:`url`."""
        return self.url

    @property
    def api_key(self) -> str | None:
        """A key the mock accepts: the first of ``settings.api_keys`` (None only for a custom
        ``app`` given without one)."""
        return self._api_key

    @property
    def service(self) -> Service:
        """The mock's domain service, for tests that inspect or drive state directly."""
        if self._service is None:
            raise RuntimeError("this server runs a custom app and has no service")
        return self._service

    @property
    def control_token(self) -> str | None:
        """The token ``/_mock/`` requests need in ``x-mock-token`` (None: none needed). One is
        generated when the server listens on a non-loopback address and none was given."""
        return self._control_token

    @property
    def journal(self) -> Journal:
        """What the server was asked and what it streamed (see :mod:`reader_mock.core.journal`)."""
        return self.service.journal

    @property
    def clock(self) -> Clock:
        """The service's clock (advance it when it is a ``ManualClock``)."""
        if self._clock is None:
            raise RuntimeError("this server runs a custom app and has no clock")
        return self._clock

    @property
    def app(self) -> Any:
        """The ASGI application being served."""
        return self._app

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised in the server, oldest first: by the application's requests or its
        start-up, by Hypercorn, and those the service recorded as unexpected.

        A healthy run leaves it empty; a test fixture can fail a test that left something here.
        """
        found = list(self._errors)
        if self._service is not None:
            found.extend(self._service.unexpected_errors)
        return found

    def clear_errors(self) -> None:
        """Forget the errors recorded so far (between tests, for example)."""
        self._errors.clear()
        if self._service is not None:
            self._service.unexpected_errors.clear()

    @property
    def running(self) -> bool:
        """True from a successful start until stop."""
        run = self._run
        return run is not None and run.serving and not run.stop_requested.is_set()

    @property
    def closing(self) -> asyncio.Event | None:
        """The closing event of the current run (see the module docs), None before the first."""
        run = self._run
        return None if run is None else run.closing

    # -- scripting jobs and time --------------------------------------------------------

    def script_next_job(self, timeline: TimelineSpec, *, check: bool = True) -> int:
        """Make the next job created play ``timeline``: a :class:`~reader_mock.Timeline`, a
        ready-made name (``"happy-batch"``) or a timeline file path. Returns how many scripted
        timelines now wait for a job. A bad timeline raises ``TimelineError`` and queues nothing.
        """
        return self.service.scripts.add([timeline], check=check)

    def script_jobs(self, timelines: Iterable[TimelineSpec], *, check: bool = True) -> int:
        """Queue timelines for the next jobs created, one job each, in order (see
        :meth:`script_next_job`)."""
        return self.service.scripts.add(timelines, check=check)

    def clear_scripts(self) -> None:
        """Forget the scripted timelines no job has taken yet."""
        self.service.scripts.clear()

    def set_timeline_cycle(self, timelines: Sequence[TimelineSpec], *, check: bool = True) -> None:
        """Make every job without a scripted timeline play these in turn (empty: the timeline
        written from the request again). ``reader-mock serve --timeline`` uses this."""
        self.service.scripts.set_cycle(timelines, check=check)

    def advance(self, seconds: float) -> float:
        """Move the manual clock forward by ``seconds``; returns the new clock time.

        Raises ``TypeError`` when the server runs on a real or scaled clock, which cannot be
        moved by hand.
        """
        clock = self._manual_clock("advance")
        return clock.advance(seconds)

    def advance_when_connected(
        self,
        seconds: float,
        *,
        channel: Channel | None = None,
        job_id: str | None = None,
        timeout: float = 5.0,
    ) -> concurrent.futures.Future[float]:
        """Move the manual clock by ``seconds`` as soon as a new stream connection opens.

        For a client whose call blocks until the stream ends, so the test cannot move the
        clock between connecting and reading: start this first, then make the call. The
        connection must match ``channel`` (``"job"`` or ``"workspace"``) and ``job_id`` when
        given, and be one the journal does not hold yet. The clock moves from a background
        thread once the server has subscribed the connection, so every event of those
        ``seconds`` reaches it.

        Returns a future of the new clock time; ``result()`` raises ``TimeoutError`` when no
        such connection opened within ``timeout`` wall seconds (the clock did not move then).
        Raises ``TypeError`` at once on a clock that cannot be moved by hand, and
        ``ValueError`` for negative ``seconds``.
        """
        clock = self._manual_clock("advance_when_connected")
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, not {seconds!r}")
        # Checked here, in the caller's thread, rather than failing later in the waiter.
        if channel is not None and channel not in ("job", "workspace"):
            raise ValueError(f"unknown channel {channel!r}; expected 'job' or 'workspace'")
        if not timeout >= 0:
            raise ValueError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        journal = self.journal
        known = journal.streams(channel=channel, job_id=job_id)
        moved: concurrent.futures.Future[float] = concurrent.futures.Future()

        def wait_then_advance() -> None:
            try:
                journal.wait_for_stream(
                    channel=channel, job_id=job_id, besides=known, timeout=timeout
                )
                moved.set_result(clock.advance(seconds))
            except BaseException as error:  # handed to the caller through the future
                moved.set_exception(error)

        waiter = threading.Thread(
            target=wait_then_advance, name="reader-mock-advance-when-connected", daemon=True
        )
        waiter.start()
        return moved

    def _manual_clock(self, method: str) -> ManualClock:
        """The manual clock, or ``TypeError`` naming ``method`` when it cannot be moved by hand."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise TypeError(
                f"{method}() needs a server built with clock=ManualClock(); this one runs on "
                f"{type(clock).__name__}"
            )
        return clock

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.url if self._bound_port or self._requested_port else self._host
        return f"<MockServer {where} {state}>"

    # -- in a background thread -----------------------------------------------------------

    def start(self) -> None:
        """Start serving in a background thread; return once connections are being accepted.

        Raises :class:`ServerStartError` when the address cannot be used or the application
        fails to start, and RuntimeError when this server is already running.
        """
        with self._lock:
            self._ensure_stopped()
            sock = _listen(self._host, self._requested_port)
            self._bound_port = sock.getsockname()[1]
            known_errors = len(self._errors)
            loop = asyncio.new_event_loop()
            run = _Run(loop, sock.detach(), owns_loop=True)
            ready = threading.Event()
            thread = threading.Thread(
                target=self._thread_main,
                args=(run, ready),
                name=f"reader-mock-server-{self._bound_port}",
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
            thread.join()
            with self._lock:
                self._thread = None
            raise self._start_failure(known_errors)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background server and wait for its thread (at most ``timeout`` seconds).

        Open streams are ended (see the module docs). Does nothing when not running.
        """
        with self._lock:
            thread, run = self._thread, self._run
            self._thread = None
        if thread is None or run is None:
            return
        run.request_stop()
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

    def _thread_main(self, run: _Run, ready: threading.Event) -> None:
        try:
            with asyncio.Runner(loop_factory=lambda: run.loop) as runner:
                runner.run(self._serve(run, ready.set))
        except BaseException as exc:  # the loop itself failed; keep it for the caller
            self._errors.append(exc)
        finally:
            ready.set()

    # -- in the caller's event loop -------------------------------------------------------

    async def __aenter__(self) -> Self:
        with self._lock:
            self._ensure_stopped()
            sock = _listen(self._host, self._requested_port)
            self._bound_port = sock.getsockname()[1]
            known_errors = len(self._errors)
            loop = asyncio.get_running_loop()
            run = _Run(loop, sock.detach(), owns_loop=False)
            ready: asyncio.Future[None] = loop.create_future()

            def on_ready() -> None:
                if not ready.done():
                    ready.set_result(None)

            task = loop.create_task(
                self._serve(run, on_ready), name=f"reader-mock-server-{self.port}"
            )
            self._run = run
            self._task = task
        try:
            await asyncio.wait(
                (ready, task), timeout=self._startup_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            await self._stop_task()
            raise
        if not run.serving:
            await self._stop_task()
            if task.done():
                raise self._start_failure(known_errors)
            raise ServerStartError(
                f"the server on {self.url} did not start within {self._startup_timeout:g} s"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop_task()

    async def _stop_task(self) -> None:
        with self._lock:
            task, run = self._task, self._run
            self._task = None
        if task is None or run is None:
            return
        run.stop_requested.set()
        # Shield: a caller cancelled while stopping still gets a server that finishes its
        # shutdown instead of one abandoned half-way.
        await asyncio.shield(task)

    # -- shared ---------------------------------------------------------------------------

    def _ensure_stopped(self) -> None:
        if self._thread is not None or self._task is not None:
            raise RuntimeError(f"{self!r} is already running")

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

    async def _serve(self, run: _Run, on_ready: Callable[[], None]) -> None:
        """Serve until a stop is requested, then shut down in order (see the module docs)."""
        run.disconnect = asyncio.get_running_loop().create_future()
        if self._service is not None:
            app_state(self._app).streams.reopen()  # closed by the previous stop, if any
        extensions = getattr(self._app, "extensions", None)
        if isinstance(extensions, dict):
            extensions[CLOSING_KEY] = run.closing
        guard = _Guard(self._app, run, self._errors, access_log=self._access_log)
        stop_watching_errors = _watch_quart_errors(self._app, self._errors)

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
        try:
            await asyncio.wait((serve_task, stop_wait), return_when=asyncio.FIRST_COMPLETED)
            if not serve_task.done():
                await self._shut_down(run, serve_task)
        finally:
            stop_wait.cancel()
            run.serving = False
            stop_watching_errors()
            if not serve_task.done():
                # Reached only when this coroutine itself is cancelled from outside.
                serve_task.cancel()
                await asyncio.wait((serve_task,))
            if not serve_task.cancelled() and serve_task.exception() is not None:
                self._errors.append(serve_task.exception())  # type: ignore[arg-type]
            if not run.startup_passed:
                # Hypercorn stopped before creating its socket from the descriptor: close it here.
                _close_fd(run.fd)
            await self._cancel_leftovers(run)
            on_ready()

    async def _shut_down(self, run: _Run, serve_task: asyncio.Task[None]) -> None:
        run.closing.set()
        if self._service is not None:
            close_streams(self._app)
        if run.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.idle.wait(), _CLOSING_GRACE)
        if run.disconnect is not None and not run.disconnect.done():
            run.disconnect.set_result(None)
        run.hypercorn_stop.set()
        done, _ = await asyncio.wait(
            (serve_task,), timeout=self._graceful_timeout + _HARD_STOP_MARGIN
        )
        if not done:
            _server_logger.warning("Hypercorn did not stop in time; cancelling it")
            serve_task.cancel()
            await asyncio.wait((serve_task,))

    async def _cancel_leftovers(self, run: _Run) -> None:
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
            await asyncio.wait(leftovers, timeout=1.0)

    def _config(self, fd: int) -> hypercorn.config.Config:
        config = hypercorn.config.Config()
        config.bind = [f"fd://{fd}"]
        config.backlog = _BACKLOG
        config.graceful_timeout = self._graceful_timeout
        config.startup_timeout = self._startup_timeout
        config.shutdown_timeout = 2.0
        config.accesslog = None  # request lines come from _Guard, in our own format
        config.errorlog = _server_logger
        return config


def _build_service(
    settings: Settings | None,
    api_key: str | None,
    seed: int | None,
    clock: Clock | None,
    speed: float | None,
) -> Service:
    """The mock's Service from the constructor arguments."""
    if clock is not None and speed is not None:
        raise ValueError("give either clock= or speed=, not both")
    if speed is not None:
        clock = ScaledClock(speed)
    overrides: dict[str, Any] = {}
    if api_key is not None:
        overrides["api_keys"] = (api_key,)
    if seed is not None:
        overrides["seed"] = seed
    base = settings if settings is not None else Settings()
    return Service(
        dataclasses.replace(base, **overrides), clock if clock is not None else RealClock()
    )
