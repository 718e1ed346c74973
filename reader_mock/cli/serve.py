"""``reader-mock serve``: run the mock in the foreground until Ctrl-C or SIGTERM.

It prints where it listens and a working API key (with ``--json``, also one JSON line on stdout
for scripts that start it on ``--port 0``), logs one line per request to stderr, and stops cleanly
with exit status 0 on SIGINT or SIGTERM. Bad option values and an unusable address are one-line
errors with exit status 2.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from reader_mock._collector import COLLECTOR
from reader_mock.core.settings import MAX_JOB_RETENTION

from .shared import InputError

if TYPE_CHECKING:
    from reader_mock.server import MockServer

__all__ = ["serve"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STOP_DEADLINE = 0.65
"""Seconds from a stop signal to the exit at the latest. The stop ends every stream with its
final chunk and closes every connection, in a few tenths of a second even under a thousand
busy streams; on a machine too busy for that, the process exits at this deadline all the same,
and the connections still open are closed by the exit."""


def _number(
    kind: type[int] | type[float], low: float | None, high: float | None, *, what: str
) -> Callable[[click.Context, click.Parameter, str | None], Any]:
    """A callback that turns an option's text into a number in ``[low, high]`` (a float must be
    strictly above ``low``), or fails with a one-line error and exit status 2.

    Options using it keep ``type=str``: click's own number types would print the usage text
    with the error, and the other commands of the CLI answer bad input with one ``Error:`` line.
    """

    def check(ctx: click.Context, param: click.Parameter, text: str | None) -> Any:

        if text is None:
            return None
        problem = InputError(f"{param.opts[0]}: {text!r} is not {what}")
        try:
            number = kind(text.strip())
        except ValueError:
            raise problem from None
        if isinstance(number, float) and not math.isfinite(number):
            raise problem
        if low is not None and (number <= low if kind is float else number < low):
            raise problem
        if high is not None and number > high:
            raise problem
        return number

    return check


_PORT = _number(int, 0, 65535, what="a port number (0 to 65535; 0 picks a free port)")
_SEED = _number(int, None, None, what="a whole number")
_SPEED = _number(float, 0, None, what="a speed (a number greater than 0)")
_SECONDS = _number(float, 0, None, what="a number of seconds greater than 0")
_AMOUNT = _number(int, 0, None, what="a whole number >= 0")
_RATE = _number(int, 1, None, what="a whole number >= 1")
_RETENTION_TEXT = f"a number of seconds from 0 to {MAX_JOB_RETENTION:.0f} (ten years)"
_RETENTION_NUMBER = _number(float, None, MAX_JOB_RETENTION, what=_RETENTION_TEXT)


def _retention(ctx: click.Context, param: click.Parameter, text: str | None) -> float | None:
    """``--job-retention``: seconds from 0 (a finished job is forgotten at once) to ten years."""
    value: float | None = _RETENTION_NUMBER(ctx, param, text)
    if value is not None and value < 0:
        raise InputError(f"{param.opts[0]}: {text!r} is not {_RETENTION_TEXT}")
    return value


def _check_api_keys(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:

    for value in values:
        # Reader keys start with rdr_; clients that check the prefix would refuse anything else.
        # The rest is checked by Settings (printable characters, no spaces, no repeats).
        if not value.startswith("rdr_") or len(value) == len("rdr_"):
            raise InputError(
                f"--api-key: {value!r} is not a Reader API key (it must start with rdr_)"
            )
    if len(set(values)) != len(values):
        raise InputError("--api-key: the same key is given twice; each key is a workspace")
    return values


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    metavar="HOST",
    help="Address to listen on.",
)
@click.option(
    "--port",
    callback=_PORT,
    default="8080",
    metavar="PORT",
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--seed",
    callback=_SEED,
    default="0",
    metavar="INT",
    show_default=True,
    help="Seed for generated content and identifiers; one seed gives the same responses.",
)
@click.option(
    "--api-key",
    "api_keys",
    callback=_check_api_keys,
    multiple=True,
    metavar="rdr_KEY",
    help="An API key clients send in x-api-key (repeatable: each key has a workspace of its "
    "own, with its own jobs, credits and limits). Default: the mock's fixed key, printed at start.",
)
@click.option(
    "--speed",
    callback=_SPEED,
    default=None,
    metavar="FLOAT",
    help="Run the mock's clock this many times faster than real time (job timelines, pings).",
)
@click.option(
    "--manual-clock",
    is_flag=True,
    help="Stop the mock's clock: time moves only when POST /_mock/clock/advance moves it, so a "
    "test suite in any language decides when jobs progress and pings fall due.",
)
@click.option(
    "--ping-interval",
    callback=_SECONDS,
    default=None,
    metavar="SECONDS",
    help="Clock seconds between keep-alive pings on open event streams. [default: 30]",
)
@click.option(
    "--credits",
    callback=_AMOUNT,
    default=None,
    metavar="N",
    help="Credits per month. [default: 1000]",
)
@click.option(
    "--rpm", callback=_RATE, default=None, metavar="N", help="Requests per minute. [default: 60]"
)
@click.option(
    "--max-concurrent-jobs",
    callback=_AMOUNT,
    default=None,
    metavar="N",
    help="Jobs (queued or processing) allowed at once per workspace. [default: 10]",
)
@click.option(
    "--job-retention",
    callback=_retention,
    default=None,
    metavar="SECONDS",
    help="Clock seconds a finished job stays readable (GET, results, stream, retry); then it is "
    "404 not_found like an unknown job. Running jobs never expire. [default: 86400, a day]",
)
@click.option(
    "--max-finished-jobs",
    callback=_AMOUNT,
    default=None,
    metavar="N",
    help="Finished jobs kept per workspace whatever the clock says; beyond it the job that "
    "finished first is forgotten (404), so memory stays bounded. [default: 1000]",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow browser requests from this origin too: scheme://host[:port], such as "
    "https://app.example.com (repeatable). '*' allows any origin and 'null' the opaque origin of "
    "file: and sandboxed pages, each only when given. localhost, 127.0.0.1 and [::1] origins "
    "are always allowed.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Also print {"url": ..., "apiKey": ...} as one JSON line on stdout (the other start-up '
    "lines then go to stderr).",
)
@click.option(
    "--control-token",
    default=None,
    metavar="TOKEN",
    help="Token the control API under /_mock/ requires in x-mock-token. Default: none on "
    "loopback; on any other address one is generated and printed.",
)
@click.option(
    "--timeline",
    "timelines",
    multiple=True,
    metavar="NAME|FILE",
    help="Every job plays this timeline (a ready-made name such as happy-batch, or a YAML/JSON "
    "file), checked at start. Repeat it to play several in turn, one job each, starting over "
    "after the last. A job must list as many URLs as the timeline attempts. Default: each job "
    "plays a timeline written from its request.",
)
@click.option("--quiet", is_flag=True, help="Do not log requests.")
def serve(
    host: str,
    port: int,
    seed: int,
    api_keys: tuple[str, ...],
    speed: float | None,
    ping_interval: float | None,
    credits: int | None,
    rpm: int | None,
    max_concurrent_jobs: int | None,
    cors_origins: tuple[str, ...],
    job_retention: float | None,
    max_finished_jobs: int | None,
    as_json: bool,
    quiet: bool,
    control_token: str | None = None,
    timelines: tuple[str, ...] = (),
    manual_clock: bool = False,
) -> None:
    """Serve the mock Reader API until Ctrl-C.

    Prints the URL and an API key that works. Each request is logged to stderr as method, path,
    status and duration. Exit status: 0 after Ctrl-C or SIGTERM, 2 for a bad option or an
    address that cannot be used (a busy port, for example).
    """
    # Until the event loop installs its handlers, SIGTERM would kill the process with a
    # non-zero status; treat it like Ctrl-C instead. Signals can be handled in the main thread only.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        limits = {
            "ping_interval": ping_interval,
            "monthly_credits": credits,
            "requests_per_minute": rpm,
            "max_concurrent_jobs": max_concurrent_jobs,
            "job_retention": job_retention,
            "max_finished_jobs": max_finished_jobs,
            "cors_origins": cors_origins or None,
            "api_keys": api_keys or None,
        }
        server = _make_server(
            host,
            port,
            seed,
            speed,
            limits,
            quiet=quiet,
            control_token=control_token,
            manual_clock=manual_clock,
        )
        _play_timelines(server, timelines)
        _exit_without_collecting()
        with _request_lines(enabled=not quiet):
            asyncio.run(_serve_until_stopped(server, as_json=as_json))
    except KeyboardInterrupt:
        pass  # interrupted before serving began: nothing to stop
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous_sigterm)
    click.echo("reader-mock stopped.", err=True)


@contextlib.contextmanager
def _request_lines(*, enabled: bool) -> Iterator[None]:
    """Print request lines to stderr while serving."""
    if not enabled:
        yield
        return
    from reader_mock._logging import log_to_stderr, stop_logging

    handler = log_to_stderr()
    try:
        yield
    finally:
        stop_logging(handler)


_EXIT_HOOKED: list[bool] = []


def _exit_without_collecting() -> None:
    """When the process exits, freeze the garbage collector first: after a thousand streams
    the final collection alone takes a few tenths of a second, for memory the exit frees
    anyway. Registered once, and it acts only at exit, so serving in process changes nothing."""
    if not _EXIT_HOOKED:
        _EXIT_HOOKED.append(True)
        atexit.register(gc.freeze)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _make_server(
    host: str,
    port: int,
    seed: int,
    speed: float | None,
    settings_fields: dict[str, Any],
    *,
    quiet: bool,
    control_token: str | None = None,
    manual_clock: bool = False,
) -> MockServer:
    from reader_mock.core.clock import Clock, ManualClock, ScaledClock
    from reader_mock.core.settings import Settings
    from reader_mock.server import MockServer

    if manual_clock and speed is not None:
        raise InputError("--manual-clock and --speed: choose one (a manual clock has no speed)")
    # A scaled clock even at real speed, so POST /_mock/clock/speed can change it later.
    clock: Clock = ManualClock() if manual_clock else ScaledClock(1.0 if speed is None else speed)

    given = {name: value for name, value in settings_fields.items() if value is not None}
    if control_token is not None and (not control_token or not control_token.isprintable()):
        raise InputError("--control-token: expected printable characters")
    try:
        settings = Settings(**given)
        return MockServer(
            host=host,
            port=port,
            seed=seed,
            clock=clock,
            settings=settings,
            access_log=not quiet,
            control_token=control_token,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def _play_timelines(server: MockServer, timelines: tuple[str, ...]) -> None:
    """Make every job play ``timelines`` in turn; a bad one is an error naming its problems."""
    from reader_mock.timeline import TimelineError

    if not timelines:
        return
    try:
        server.set_timeline_cycle(timelines)
    except TimelineError as exc:
        raise InputError(f"--timeline: the timeline cannot be played:\n{exc}") from exc


async def _serve_until_stopped(server: MockServer, *, as_json: bool) -> None:
    from reader_mock.server import ServerStartError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # A plain signal handler runs between two bytecodes of whatever the loop is doing, so
        # the streams stop writing within this turn of the loop; a handler added with
        # loop.add_signal_handler would run only after that turn and the next, each of which
        # can take a good part of a second with a thousand busy streams.
        deadline.arm()
        server.stop_soon()
        loop.call_soon_threadsafe(stop.set)

    previous: dict[int, Any] = {}
    deadline = _Deadline(_STOP_DEADLINE)
    if threading.current_thread() is threading.main_thread():
        deadline.start()
        for stop_signal in _STOP_SIGNALS:
            previous[stop_signal] = signal.signal(stop_signal, on_signal)
    try:
        try:
            await server.__aenter__()
        except ServerStartError as exc:
            raise InputError(str(exc)) from exc
        try:
            _announce(server, as_json=as_json)
            # What start-up built (the app, the contract's documents) lives as long as the
            # process: frozen, later collections stop walking it on every full pass, about a
            # tenth of the CPU of a REST request under load (docs/architecture.md, "Start-up").
            gc.freeze()
            # Full collections at calm moments, not in the middle of a clock step
            # (docs/architecture.md, "Garbage collection").
            COLLECTOR.install()
            await stop.wait()
        finally:
            COLLECTOR.uninstall()
            await server.__aexit__(None, None, None)
    finally:
        deadline.cancel()
        for number, handler in previous.items():
            signal.signal(number, handler)


class _Deadline:
    """Ends the process ``seconds`` after :meth:`arm` unless :meth:`cancel` comes first: a
    thread of its own, so a busy event loop cannot hold it up. Exit status 0, as for any stop."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._armed = threading.Event()
        self._cancelled = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="reader-mock-stop-deadline", daemon=True).start()

    def arm(self) -> None:
        """From the signal handler: it only sets an event no other code of the thread holds."""
        self._armed.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._armed.set()

    def _run(self) -> None:
        self._armed.wait()
        if self._cancelled.wait(self._seconds):
            return
        with contextlib.suppress(Exception):
            click.echo("reader-mock stopped (open connections closed by the exit).", err=True)
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(0)


def _announce(server: MockServer, *, as_json: bool) -> None:
    human = sys.stderr if as_json else sys.stdout
    speed = getattr(server.clock, "speed", None)
    if speed is None:
        pace = "manual (POST /_mock/clock/advance moves it)"
    elif speed == 1:
        pace = "real time"
    else:
        pace = f"{speed:g}x real time"
    print(f"reader-mock is serving the Reader API on {server.url}", file=human)
    keys = server.service.settings.api_keys
    if len(keys) == 1:
        print(f"API key: {keys[0]}", file=human)
    else:
        workspaces = ", ".join(f"{key} (ws_{index})" for index, key in enumerate(keys, start=1))
        print(f"API keys, one workspace each: {workspaces}", file=human)
    if server.control_token is not None:
        print(f"Control token (x-mock-token): {server.control_token}", file=human)
    cycle = server.service.scripts.cycle_names()
    if cycle:
        print(f"Every job plays, in turn: {', '.join(cycle)}", file=human)
    print(f"Clock: {pace}. Press Ctrl-C to stop.", file=human, flush=True)
    if as_json:
        announced: dict[str, Any] = {"url": server.url, "apiKey": server.api_key}
        if len(keys) > 1:
            announced["apiKeys"] = list(keys)
        if server.control_token is not None:
            announced["controlToken"] = server.control_token
        print(json.dumps(announced), flush=True)
