"""The mock on a real socket: :class:`MockServer`, the one way the project runs its app.

The pytest plugin, the CLI and the benchmarks build on it::

    with MockServer(seed=7) as server:              # its own thread and event loop
        httpx.get(f"{server.url}/v1/usage/credits", headers={"x-api-key": server.api_key})

    async with MockServer(clock=ManualClock()) as server:   # a task in the running loop
        ...

It is the mock's app on an :class:`~reader_mock.runner.ASGIServer`, with methods that drive the
mock in process: reset it, script jobs, move the clock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import gc
import ipaddress
import secrets
import threading
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from reader_mock.contract.channels import Channel
from reader_mock.core.clock import Clock, ManualClock, RealClock, ScaledClock
from reader_mock.core.journal import Journal, JournalCleared
from reader_mock.core.service import Service
from reader_mock.core.settings import Settings
from reader_mock.http import (
    Fault,
    app_state,
    close_streams,
    create_app,
    fault_from,
    halt_streams,
    reset_app,
)
from reader_mock.runner import CLOSING_KEY, ASGIServer, ServerStartError

if TYPE_CHECKING:
    from reader_mock.timeline import TimelineSpec

__all__ = ["CLOSING_KEY", "Fault", "MockServer", "ServerStartError"]

# The server stack is imported: what exists now lives as long as the process. Frozen, it is left
# out of every later collection, so the first full one (due soon after an import this large)
# does not walk it on the way to the first answer (docs/architecture.md, "Start-up").
gc.freeze()


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    - ``access_log``: log one line per request to the ``reader_mock.access`` logger.
    - ``graceful_timeout``: seconds Hypercorn waits for connections to finish at shutdown.
    - ``startup_timeout``: seconds :meth:`start` waits for the application's start-up.
    - ``control_token``: the token the control API under ``/_mock/`` requires in the
      ``x-mock-token`` header; generated when ``host`` is not a loopback address and none is
      given (read it back from :attr:`control_token`). Without one, loopback needs none.

    One instance serves in one place at a time: in its own thread (``with``, :meth:`start`,
    :meth:`stop`) or in the running event loop (``async with``). It can be started again after
    it stopped; the service, and so the mock's state, is kept. Stopping ends the open event
    streams, each with its final chunk. To serve another ASGI app, use
    :class:`~reader_mock.runner.ASGIServer`.
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
        access_log: bool = False,
        graceful_timeout: float = 0.2,
        startup_timeout: float = 30.0,
        control_token: str | None = None,
    ) -> None:
        self._service = _build_service(settings, api_key, seed, clock, speed)
        if control_token is None and not _is_loopback(host):
            # Bound where others can reach it, the control API must not be open to them.
            control_token = secrets.token_urlsafe(24)
        self._control_token = control_token
        # Clock moves armed by advance_when_connected and not made yet; a reset cancels them.
        self._armed: set[concurrent.futures.Future[float]] = set()
        self._armed_lock = threading.Lock()
        app = create_app(self._service, control_token=control_token)
        self._server = ASGIServer(
            app,
            host=host,
            port=port,
            access_log=access_log,
            graceful_timeout=graceful_timeout,
            startup_timeout=startup_timeout,
            on_closing=lambda: close_streams(app),
        )

    # -- what the server is ---------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host the server listens on."""
        return self._server.host

    @property
    def port(self) -> int:
        """The port the server listens on (the one picked for ``port=0`` once started)."""
        return self._server.port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        return self._server.url

    @property
    def base_url(self) -> str:
        """Same as :attr:`url`."""
        return self.url

    @property
    def api_key(self) -> str:
        """A key the mock accepts: the first of ``settings.api_keys``."""
        return self._service.settings.api_keys[0]

    @property
    def service(self) -> Service:
        """The mock's domain service, for tests that inspect or drive state directly."""
        return self._service

    @property
    def control_token(self) -> str | None:
        """The token ``/_mock/`` requests need in ``x-mock-token`` (None: none needed). One is
        generated when the server listens on a non-loopback address and none was given."""
        return self._control_token

    @property
    def journal(self) -> Journal:
        """What the server was asked and what it streamed (see :mod:`reader_mock.core.journal`)."""
        return self._service.journal

    @property
    def clock(self) -> Clock:
        """The service's clock (advance it when it is a ``ManualClock``)."""
        return self._service.clock

    @property
    def app(self) -> Any:
        """The ASGI application being served."""
        return self._server.app

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised in the server, oldest first: by the application's requests or its
        start-up, by Hypercorn, and those the service recorded as unexpected.

        A healthy run leaves it empty; a test fixture can fail a test that left something here.
        """
        return [*self._server.errors, *self._service.unexpected_errors]

    def clear_errors(self) -> None:
        """Forget the errors recorded so far (between tests, for example)."""
        self._server.clear_errors()
        self._service.unexpected_errors.clear()

    @property
    def running(self) -> bool:
        """True from a successful start until stop."""
        return self._server.running

    @property
    def closing(self) -> asyncio.Event | None:
        """The closing event of the current run (set when a stop begins), None before the first."""
        return self._server.closing

    # -- resetting ------------------------------------------------------------------------

    def reset(self, *, timeout: float = 5.0) -> None:
        """Back to a fresh workspace, as ``POST /_mock/reset`` does, without a request.

        The streams open now are told to end, each with its final chunk, and their journal
        records show them closed for ``shutdown``; jobs, keys, usage, scripted timelines,
        faults and the journal are forgotten; ids, generated content and request ids start
        again from the seed; a manual clock goes back to its start, and the clock moves armed
        with :meth:`advance_when_connected` are cancelled. So a test gives the same bytes
        whatever ran before it. Callable from any thread, including the server's own loop; it
        runs in that loop and returns once done (``TimeoutError`` when the loop did not get to
        it in ``timeout`` seconds).

        It runs in the calling thread (every step is thread-safe), so it costs no hand-over to
        the server's thread: a fraction of a millisecond. ``timeout`` is kept for callers that
        pass it.
        """
        with self._armed_lock:
            armed, self._armed = self._armed, set()
        for move in armed:
            move.cancel()
        reset_app(self._server.app)

    # -- faults ---------------------------------------------------------------------------

    def inject_fault(
        self,
        path: str,
        *,
        method: str = "*",
        code: str | None = None,
        status: int | None = None,
        count: int = 1,
        latency_ms: int = 0,
    ) -> Fault:
        """Make the next ``count`` ``/v1`` requests matching ``method`` and ``path`` (an exact
        path or a glob, ``*`` matching anything, ``/`` included) wait ``latency_ms`` real
        milliseconds, then answer the error ``code`` (with its documented status, or
        ``status``), as ``POST /_mock/faults`` does. A reset forgets pending faults.

        Raises ``ValueError`` naming every problem (an unknown code, a path outside ``/v1/``,
        neither a code nor a latency...).
        """
        body: dict[str, object] = {"method": method, "path": path, "count": count}
        if code is not None:
            body["code"] = code
        if status is not None:
            body["status"] = status
        if latency_ms:
            body["latencyMs"] = latency_ms
        return app_state(self._server.app).control.add_fault(fault_from(body))

    @property
    def faults(self) -> list[Fault]:
        """The faults still pending, in the order they are tried."""
        return app_state(self._server.app).control.faults()

    def clear_faults(self) -> None:
        """Forget the pending faults."""
        app_state(self._server.app).control.clear_faults()

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
        channel: Channel | str | None = None,
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
        such connection opened within ``timeout`` wall seconds (the clock did not move then),
        and ``CancelledError`` when the mock was reset first (a move armed in one test never
        fires in the next). Raises ``TypeError`` at once on a clock that cannot be moved by
        hand, and ``ValueError`` for negative ``seconds``.
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
        with self._armed_lock:
            self._armed.add(moved)

        def wait_then_advance() -> None:
            try:
                journal.wait_for_stream(
                    channel=channel, job_id=job_id, besides=known, timeout=timeout
                )
            except JournalCleared:
                moved.cancel()
                return
            except BaseException as error:  # handed to the caller through the future
                with self._armed_lock:
                    self._armed.discard(moved)
                if moved.set_running_or_notify_cancel():
                    moved.set_exception(error)
                return
            with self._armed_lock:
                # Still armed: no reset came in between, so the move belongs to this test.
                armed = moved in self._armed
                self._armed.discard(moved)
                if not armed or not moved.set_running_or_notify_cancel():
                    return
                try:
                    moved.set_result(clock.advance(seconds))
                except BaseException as error:
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
        return repr(self._server).replace(type(self._server).__name__, type(self).__name__, 1)

    # -- serving --------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving in a background thread; return once connections are being accepted.

        Raises :class:`ServerStartError` when the address cannot be used or the application
        fails to start, and RuntimeError when this server is already running.
        """
        self._server.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background server; returns within ``timeout`` seconds. Open streams end
        with their final chunk. Does nothing when not running."""
        self._server.stop(timeout)

    def stop_soon(self, timeout: float = 5.0) -> None:
        """Begin stopping and return at once: from any thread, or from a signal handler of the
        thread the server's loop runs in (``reader-mock serve`` calls it on SIGTERM). Open streams
        stop writing at their next step, even on a loop busy with a thousand of them, and end
        with their final chunk; :meth:`stop` or leaving ``async with`` waits for the end."""
        halt_streams(self._server.app)
        self._server.stop_soon(timeout)

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

    async def __aenter__(self) -> Self:
        await self._server.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.astop()


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
