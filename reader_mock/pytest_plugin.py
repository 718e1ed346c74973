"""pytest fixtures for testing a Reader client against reader-mock.

Registered through the ``pytest11`` entry point (disable it with ``-p no:reader_mock``); every
fixture and marker is prefixed ``reader_mock``. The fixtures, the marker and how the session server
is shared: docs/architecture.md, "The pytest plugin", and docs/testing-your-sdk.md.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from reader_mock.contract.streams import StreamViolation
    from reader_mock.core.clock import ManualClock
    from reader_mock.core.journal import Journal, StreamRecord
    from reader_mock.server import Fault, MockServer
    from reader_mock.timeline import Timeline
    from reader_mock.webhook_receiver import WebhookReceiver

__all__ = [
    "TIMELINE_MARKER",
    "FaultInjector",
    "JournalAssertions",
    "ScriptJobs",
    "StreamChecker",
    "reader_mock",
    "reader_mock_api_key",
    "reader_mock_assert",
    "reader_mock_check_stream",
    "reader_mock_clock",
    "reader_mock_faults",
    "reader_mock_script",
    "reader_mock_server",
    "reader_mock_url",
    "reader_mock_webhooks",
]

TIMELINE_MARKER: Final = "reader_mock_timeline"
_RESET_TIMEOUT: Final = 10.0
# How many connections a failure message shows at most.
_EXCERPT_STREAMS: Final = 8


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{TIMELINE_MARKER}(*timelines): the next jobs created in the test play these timelines "
        "(ready-made names, file paths or Timeline values), in order.",
    )


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def reader_mock_server() -> Iterator[MockServer]:
    """A reader-mock server for the whole session (one per xdist worker), on a manual clock.

    Prefer the ``reader_mock`` fixture, which resets it before each test.
    """
    from reader_mock.core.clock import ManualClock
    from reader_mock.server import MockServer

    server = MockServer(clock=ManualClock(), host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def reader_mock(
    reader_mock_server: MockServer, request: pytest.FixtureRequest
) -> Iterator[MockServer]:
    """The session server, reset to a fresh workspace; fails the test at teardown when the
    server raised an unexpected exception while it ran."""
    server = reader_mock_server
    try:
        server.reset(timeout=_RESET_TIMEOUT)
    except TimeoutError as exc:
        pytest.fail(f"reader-mock: reset failed: {exc}", pytrace=False)
    server.clear_errors()
    marker = request.node.get_closest_marker(TIMELINE_MARKER)
    if marker is not None:
        _script_marked(server, marker, Path(str(request.node.path)).parent)
    yield server
    found = server.errors
    if found:
        server.clear_errors()
        pytest.fail(_describe_errors(found), pytrace=False)


@pytest.fixture
def reader_mock_url(reader_mock: MockServer) -> str:
    """The base URL of the reset server, like ``http://127.0.0.1:54321`` (no trailing slash)."""
    return reader_mock.url


@pytest.fixture
def reader_mock_api_key(reader_mock: MockServer) -> str:
    """An API key the reset server accepts (send it as ``x-api-key``)."""
    key = reader_mock.api_key
    assert key is not None
    return key


@pytest.fixture
def reader_mock_clock(reader_mock: MockServer) -> ManualClock:
    """The server's manual clock, for reading the time (``now()``) or passing to code that
    takes a clock. To move it, call ``reader_mock.advance(seconds)`` (the same move); for a
    client whose call blocks until the stream ends, ``reader_mock.advance_when_connected``."""
    from reader_mock.core.clock import ManualClock

    clock = reader_mock.clock
    assert isinstance(clock, ManualClock)
    return clock


class StreamChecker:
    """The ``reader_mock_check_stream`` fixture: the contract violations of the bytes a client
    read from a stream."""

    def __call__(
        self,
        data: bytes | Iterable[bytes],
        channel: str,
        *,
        ended: bool = True,
        ids: bool = False,
        last_event_id: str | None = None,
    ) -> list[StreamViolation]:
        """The violations of ``data`` on ``channel`` (``"job"`` or ``"workspace"``); ``[]`` when
        it conforms. ``ended``: the server ended the body (the client did not hang up first).
        ``ids``: a timeline turned ids on, so events carry ``id:``, each the previous one plus
        one. ``last_event_id``: the ``Last-Event-ID`` the connection was opened with, so its
        first event must carry the next id (a repeat or a gap is a violation)."""
        from reader_mock.contract.streams import check_stream

        return check_stream(data, channel, ended=ended, ids=ids, last_event_id=last_event_id)


@pytest.fixture
def reader_mock_check_stream() -> StreamChecker:
    """``check(data, channel, *, ended=True, ids=False, last_event_id=None)``: the contract
    violations of the bytes a client read from a stream (``channel`` is ``"job"`` or
    ``"workspace"``); ``[]`` when it conforms."""
    return StreamChecker()


class ScriptJobs:
    """The ``reader_mock_script`` fixture: script the timelines the next jobs play."""

    def __init__(self, server: MockServer, folder: Path) -> None:
        self._server = server
        self._folder = folder

    def __call__(self, *timelines: str | Path | Timeline) -> int:
        """The next jobs created play ``timelines``, in order; returns how many scripted
        timelines wait for a job. A bad timeline raises ``TimelineError``."""
        located = [_located(timeline, self._folder) for timeline in timelines]
        return self._server.script_jobs(located)


@pytest.fixture
def reader_mock_script(reader_mock: MockServer, request: pytest.FixtureRequest) -> ScriptJobs:
    """``script(*timelines)``: the next jobs created play these timelines, in order. Each is a
    ready-made name (``"partial-failure"``), a timeline file (``.yaml``/``.yml``/``.json``; a
    relative path is found next to the test module) or a ``Timeline`` built in Python. Returns
    how many scripted timelines wait for a job. A bad timeline raises ``TimelineError``."""
    return ScriptJobs(reader_mock, Path(str(request.node.path)).parent)


class FaultInjector:
    """The ``reader_mock_faults`` fixture: faults injected into ``/v1`` requests from Python, as
    ``POST /_mock/faults`` does. The next reset (the next test) forgets them."""

    def __init__(self, server: MockServer) -> None:
        self._server = server

    def __call__(
        self,
        path: str,
        *,
        method: str = "*",
        code: str | None = None,
        status: int | None = None,
        count: int = 1,
        latency_ms: int = 0,
    ) -> Fault:
        """The next ``count`` requests matching ``method`` and ``path`` (exact, or a glob where
        ``*`` matches anything) wait ``latency_ms`` real milliseconds, then get the error
        ``code`` (its documented status, or ``status``). ``ValueError`` names a bad argument."""
        return self._server.inject_fault(
            path, method=method, code=code, status=status, count=count, latency_ms=latency_ms
        )

    @property
    def pending(self) -> list[Fault]:
        """The faults not used up yet, in the order they are tried."""
        return self._server.faults

    def clear(self) -> None:
        """Forget the pending faults."""
        self._server.clear_faults()


@pytest.fixture
def reader_mock_faults(reader_mock: MockServer) -> FaultInjector:
    """``faults(path, *, method="*", code=None, status=None, count=1, latency_ms=0)``: make the
    next matching ``/v1`` requests fail with ``code`` (``"rate_limited"``, ``"internal_error"``...)
    or wait ``latency_ms``; ``faults.pending``, ``faults.clear()``."""
    return FaultInjector(reader_mock)


@pytest.fixture
def reader_mock_assert(reader_mock: MockServer) -> JournalAssertions:
    """Assertions about what the client did, read from the server's journal."""
    return JournalAssertions(
        reader_mock.journal, ping_interval=reader_mock.service.settings.ping_interval
    )


@pytest.fixture
def reader_mock_webhooks(reader_mock: MockServer) -> Iterator[WebhookReceiver]:
    """A webhook receiver on a free port of 127.0.0.1 for this test: subscribe ``.url`` with
    ``.secret``; it records deliveries, verifies signatures on the mock's clock, answers what
    ``respond(status, times)`` says, and asserts (docs/webhooks.md)."""
    from reader_mock.webhook_receiver import WebhookReceiver

    service = reader_mock.service
    with WebhookReceiver(now=service.clock.now, attempts=service.deliveries.attempts) as receiver:
        yield receiver


# ----------------------------------------------------------------------------- assertions


class JournalAssertions:
    """Assertions over a :class:`~reader_mock.core.journal.Journal`; a failure message quotes
    the connections it is about, frame by frame."""

    def __init__(self, journal: Journal, *, ping_interval: float | None = None) -> None:
        """``ping_interval``: the server's keep-alive interval, quoted in advice."""
        self.journal = journal
        self.ping_interval = ping_interval

    def job_streams_closed_after_done(self, job_id: str | None = None) -> None:
        """Every per-job stream that sent ``done`` was closed by the server right after it, and
        the client did not connect to that job's stream again afterwards.

        With ``job_id``, also that some connection of that job received ``done``.
        """
        self.journal.wait_settled()
        streams = self.journal.streams(channel="job", job_id=job_id)
        problems: list[str] = []
        shown: list[StreamRecord] = []
        finished: dict[str, StreamRecord] = {}
        for record in streams:
            names = record.event_names
            key = record.job_id or ""
            if key in finished:
                first = finished[key]
                problems.append(
                    f"the client connected to the per-job stream of {key} again (#{record.seq}) "
                    f"after connection #{first.seq} had received done: a finished job's stream "
                    "must not be reopened"
                )
                shown.extend([first, record])
                continue
            if "done" not in names:
                continue
            finished[key] = record
            after = names[names.index("done") + 1 :]
            if after:
                problems.append(f"#{record.seq} sent {after} after done")
                shown.append(record)
            if record.close_reason != "after_done":
                problems.append(
                    f"#{record.seq} was not closed right after done (closed: {record.close_reason})"
                )
                shown.append(record)
        if job_id is not None and job_id not in finished:
            problems.append(f"no per-job stream connection of {job_id} received done")
            shown.extend(streams)
        if problems:
            raise AssertionError(_failure("per-job streams after done", problems, shown))

    def reconnected_after_drop(
        self,
        channel: str = "job",
        *,
        within: float | None = None,
        last_event_id: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """After every connection of ``channel`` (``job`` or ``workspace``) that a timeline
        dropped, the client opened a new one to the same job (or workspace).

        ``within``: the new one opened at most that many clock seconds after the drop.
        ``last_event_id``: it carried a ``Last-Event-ID`` header; when ids were on, the id of the
        last event the dropped connection sent (after a ``reset`` drop, whose last frames may
        be lost, one of its ids; a browser may also miss the frames that arrive with the end of
        a ``truncate`` or ``mid-frame`` drop, so put a wait before such a drop to check its id).
        ``headers``: it carried these headers with these values (names are case-insensitive;
        secret values are masked in the journal, so compare those by presence with the value
        ``"*"``).
        """
        streams = self._streams(channel)
        dropped = [record for record in streams if record.close_reason == "scripted_drop"]
        problems: list[str] = []
        shown: list[StreamRecord] = []
        if not dropped:
            problems.append(f"no {channel} stream connection was dropped by the timeline")
            shown.extend(streams)
        for record in dropped:
            again = next((later for later in streams if later.reconnect_of == record.seq), None)
            if again is None:
                problems.append(
                    f"the client did not reconnect after #{record.seq} was dropped "
                    f"({record.drop_kind}); the {channel} stream must be reopened after a drop"
                )
                shown.append(record)
                continue
            assert record.closed_at is not None
            waited = again.opened_at - record.closed_at
            if within is not None and waited > within:
                problems.append(
                    f"reconnect #{again.seq} came {waited:g} s (clock) after #{record.seq} was "
                    f"dropped; expected within {within:g} s"
                )
                shown.extend([record, again])
            if last_event_id:
                problem = _resumed_from(record, again)
                if problem is not None:
                    problems.append(problem)
                    shown.extend([record, again])
            for name, expected in (headers or {}).items():
                got = again.headers.get(name.lower())
                if got is None or (expected != "*" and got != expected):
                    problems.append(
                        f"reconnect #{again.seq} carried {name}: {got!r}; expected {expected!r}"
                    )
                    shown.extend([record, again])
        if problems:
            raise AssertionError(_failure(f"reconnects on the {channel} stream", problems, shown))

    def did_not_reconnect_after_drop(self, channel: str = "job") -> None:
        """A timeline dropped a connection of ``channel`` and the client did not open a new one
        afterwards: for a client meant to surface the drop as an error instead of retrying."""
        streams = self._streams(channel)
        dropped = [record for record in streams if record.close_reason == "scripted_drop"]
        problems: list[str] = []
        if not dropped:
            problems.append(f"no {channel} stream connection was dropped by the timeline")
        for record in dropped:
            again = next((later for later in streams if later.reconnect_of == record.seq), None)
            if again is not None:
                problems.append(
                    f"the client reconnected (#{again.seq}) after #{record.seq} was dropped"
                )
        if problems:
            raise AssertionError(_failure(f"drops on the {channel} stream", problems, streams))

    def workspace_stream_stayed_open(self, *, pings: int = 1) -> None:
        """The client holds its workspace stream open through at least ``pings`` keep-alive
        comments and never hung up on it: the workspace stream never ends by itself, and
        neither a ping, a silence nor a job's end is a reason to leave.

        Call it while the client still reads the stream (before the test closes it). The
        verdict follows what the client did: a hang-up at any time fails, with what the client
        had been sent just before it; a client that stayed fails only when the clock did not
        move far enough for ``pings`` pings while it held the stream.
        """
        streams = self._streams("workspace")
        problems: list[str] = []
        if not streams:
            problems.append("the client never opened the workspace stream (GET /v1/events)")
        for record in streams:
            if record.close_reason == "client_disconnect":
                problems.append(_hang_up(record))
        held = [record for record in streams if record.close_reason != "client_disconnect"]
        if streams and not problems and held:
            best = max(held, key=_ping_count)
            got = _ping_count(best)
            if got < pings:
                wait = ""
                if self.ping_interval is not None:
                    wait = f" ({pings * self.ping_interval:g} s for {pings} ping(s))"
                state = "is still open" if best.is_open else f"ended ({best.close_reason})"
                problems.append(
                    f"workspace stream #{best.seq} {state} but was sent {got} ping(s), fewer "
                    f"than the {pings} asked for: the test must move the clock past the ping "
                    f"interval{wait} while the client holds the stream, then assert"
                )
        if problems:
            raise AssertionError(_failure("the workspace stream", problems, streams))

    def _streams(self, channel: str) -> list[StreamRecord]:
        if channel not in ("job", "workspace"):
            raise ValueError(f"channel must be 'job' or 'workspace', not {channel!r}")
        # Settled first: what was due by the clock's time has been written (bounded wait).
        self.journal.wait_settled()
        return self.journal.streams(channel="job" if channel == "job" else "workspace")

    def event_names_belong(self, channel: str, names: Sequence[str]) -> None:
        """Every event name the client surfaced (``names``, in order) is an event of the channel
        it read (``job`` or ``workspace``), as the contract defines it."""
        from reader_mock.contract import Channel, default_event_contract

        contract = default_event_contract()
        which = Channel(channel)
        allowed = contract.event_names(which)
        others = {other: contract.event_names(other) for other in Channel if other is not which}
        problems: list[str] = []
        for name in dict.fromkeys(names):
            if name in allowed:
                continue
            if name.lstrip(": ") == "ping":
                problems.append(
                    f"the client surfaced {name!r} as an event on the {channel} stream: a "
                    "`: ping` comment is not an event (a line that starts with ':' is a "
                    "keep-alive comment, which an SSE parser skips)"
                )
                continue
            owner = next((str(o.value) for o, found in others.items() if name in found), None)
            where = f"; it is an event of the {owner} stream" if owner else ""
            problems.append(
                f"the client surfaced {name!r} on the {channel} stream, whose events are "
                f"{sorted(allowed)}{where}"
            )
        if problems:
            streams = self.journal.streams(channel="job" if channel == "job" else "workspace")
            raise AssertionError(
                _failure(f"event names on the {channel} stream", problems, streams)
            )


def _resumed_from(dropped: StreamRecord, again: StreamRecord) -> str | None:
    """What is wrong with the ``Last-Event-ID`` of a reconnect after a drop, if anything."""
    got = again.last_event_id
    if got is None:
        return f"reconnect #{again.seq} carried no Last-Event-ID header"
    sent = dropped.event_ids
    expected = sent[-1] if sent else dropped.last_event_id
    if expected is None or got == expected:
        return None
    if dropped.drop_kind == "reset" and got in sent:
        return None  # a reset may lose the last frames before they reach the client
    hint = ""
    if got in sent:
        hint = (
            " (a browser may discard frames that arrive together with the end of the "
            "connection: to check the id, let the client read the last frames before the drop, "
            "with a wait step before it)"
        )
    return (
        f"reconnect #{again.seq} carried Last-Event-ID {got!r}, but the last event #{dropped.seq} "
        f"sent had the id {expected!r}: a client must send the id of the last event it "
        f"received, or the server replays events it already has (or skips some){hint}"
    )


def _ping_count(record: StreamRecord) -> int:
    return sum(1 for frame in record.frames if frame.kind == "comment" and frame.name == "ping")


def _hang_up(record: StreamRecord) -> str:
    """What a client that hung up on a workspace stream had been sent just before, in words."""
    from reader_mock.core.clock import format_timestamp

    frames = record.frames
    pings = _ping_count(record)
    events = [frame for frame in frames if frame.kind == "event"]
    if not frames:
        last = "before it was sent anything"
    elif frames[-1].kind == "comment" and frames[-1].name == "ping":
        last = (
            f"right after a `: ping` comment ({format_timestamp(frames[-1].at)}), which is a "
            "keep-alive, not an event and not the end of the stream"
        )
    else:
        frame = frames[-1]
        what = f"the event {frame.name}" if frame.kind == "event" else f"{frame.kind} text"
        job = _job_of(frame.data)
        last = f"right after {what}{f' of {job}' if job else ''} ({format_timestamp(frame.at)})"
        if frame.name in ("job:completed", "job:failed"):
            last += ", as if the stream ended with the job: it does not"
    return (
        f"the client hung up on workspace stream #{record.seq} {last}, having been sent "
        f"{len(events)} event(s) and {pings} ping(s): it must keep the workspace stream open "
        "(it never ends by itself) and close it only when its caller is done with it"
    )


def _job_of(data: bytes) -> str | None:
    """The ``jobId`` in a workspace event frame, if it shows one."""
    marker = b'"jobId":"'
    start = data.find(marker)
    if start < 0:
        return None
    end = data.find(b'"', start + len(marker))
    return data[start + len(marker) : end].decode("utf-8", "replace") if end > 0 else None


def _failure(topic: str, problems: Sequence[str], streams: Sequence[StreamRecord]) -> str:
    lines = [f"reader-mock: {topic}:"]
    lines.extend(f"  - {problem}" for problem in problems)
    unique = list({record.seq: record for record in streams}.values())
    if unique:
        lines.append("journal (stream connections):")
        for record in unique[:_EXCERPT_STREAMS]:
            lines.extend("  " + line for line in record.describe().splitlines())
        if len(unique) > _EXCERPT_STREAMS:
            lines.append(f"  ... and {len(unique) - _EXCERPT_STREAMS} more")
    else:
        lines.append("journal: no stream connections were recorded")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- internals


def _located(timeline: Any, folder: Path) -> Any:
    """A timeline file named relative to the test module, made absolute; anything else as is."""
    if isinstance(timeline, str | Path) and str(timeline).endswith((".yaml", ".yml", ".json")):
        return Path(timeline) if os.path.isabs(timeline) else folder / timeline
    return timeline


def _script_marked(server: MockServer, marker: pytest.Mark, folder: Path) -> None:
    timelines = list(marker.args)
    if not timelines:
        pytest.fail(f"@pytest.mark.{TIMELINE_MARKER} needs at least one timeline", pytrace=False)
    from reader_mock.timeline import TimelineError

    try:
        server.script_jobs([_located(timeline, folder) for timeline in timelines])
    except (TimelineError, TypeError) as exc:
        pytest.fail(f"@pytest.mark.{TIMELINE_MARKER}: {exc}", pytrace=False)


def _describe_errors(errors: Sequence[BaseException]) -> str:
    parts = [f"reader-mock: the server raised {len(errors)} unexpected exception(s) in this test:"]
    for error in errors:
        parts.append("".join(traceback.format_exception(error)).rstrip())
    return "\n\n".join(parts)
