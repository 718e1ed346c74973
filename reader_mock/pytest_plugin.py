"""pytest fixtures for testing a Reader client against reader-mock.

Registered through the ``pytest11`` entry point, so installing reader-mock is enough; disable it
with ``-p no:reader_mock``. Every fixture and marker is prefixed ``reader_mock``:

- ``reader_mock_server`` (session): a :class:`~reader_mock.server.MockServer` on an ephemeral
  port of 127.0.0.1, in a background thread, on a :class:`~reader_mock.core.clock.ManualClock`.
  One per pytest process (so one per xdist worker).
- ``reader_mock`` (function): the same server, reset to a fresh workspace before the test (open
  streams closed, jobs, scripts, faults and journal forgotten). At teardown, an exception raised
  inside the server during the test fails the test, with its traceback.
- ``reader_mock_url``, ``reader_mock_api_key``, ``reader_mock_clock``: the base URL, a working
  API key and the manual clock of the reset server.
- ``reader_mock_check_stream``: ``check(data, channel, *, ended=True)`` returns the contract
  violations of bytes a client read from a stream.
- ``reader_mock_assert``: assertions over the journal (:class:`JournalAssertions`).
- ``@pytest.mark.reader_mock_timeline("partial-failure")``: the next job created in the test
  plays that timeline (a ready-made name, a file path or a ``Timeline``; several arguments
  script several jobs, in order).

The server runs in its own thread with its own event loop, so the fixtures work the same in
plain tests, in pytest-asyncio tests (strict or auto mode) and in tests whose client blocks.
The server module is imported only when a fixture first needs it: a session that never uses the
mock pays nothing for the plugin.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from reader_mock.core.clock import ManualClock
    from reader_mock.core.journal import Journal, StreamRecord
    from reader_mock.server import MockServer
    from reader_mock.sse.checker import StreamViolation

__all__ = [
    "TIMELINE_MARKER",
    "JournalAssertions",
    "reader_mock",
    "reader_mock_api_key",
    "reader_mock_assert",
    "reader_mock_check_stream",
    "reader_mock_clock",
    "reader_mock_server",
    "reader_mock_url",
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
    _reset(server)
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
    """The server's manual clock: ``advance(seconds)`` moves jobs, pings and timeouts."""
    from reader_mock.core.clock import ManualClock

    clock = reader_mock.clock
    assert isinstance(clock, ManualClock)
    return clock


@pytest.fixture
def reader_mock_check_stream() -> Callable[..., list[StreamViolation]]:
    """``check(data, channel, *, ended=True)``: the contract violations of the bytes a client
    read from a stream (``channel`` is ``"job"`` or ``"workspace"``); ``[]`` when it conforms."""
    from reader_mock.sse.checker import check_stream

    def check(
        data: bytes | Iterable[bytes], channel: str, *, ended: bool = True
    ) -> list[StreamViolation]:
        return check_stream(data, channel, ended=ended)

    return check


@pytest.fixture
def reader_mock_assert(reader_mock: MockServer) -> JournalAssertions:
    """Assertions about what the client did, read from the server's journal."""
    return JournalAssertions(reader_mock.journal)


# ----------------------------------------------------------------------------- assertions


class JournalAssertions:
    """Assertions over a :class:`~reader_mock.core.journal.Journal`; a failure message quotes
    the connections it is about, frame by frame."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def job_streams_closed_after_done(self, job_id: str | None = None) -> None:
        """Every per-job stream that sent ``done`` was closed by the server right after it, and
        the client did not connect to that job's stream again afterwards.

        With ``job_id``, also that some connection of that job received ``done``.
        """
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
            if record.close_reason not in (None, "after_done"):
                problems.append(
                    f"#{record.seq} was not closed right after done (closed: {record.close_reason})"
                )
                shown.append(record)
        if job_id is not None and job_id not in finished:
            problems.append(f"no per-job stream connection of {job_id} received done")
            shown.extend(streams)
        if problems:
            raise AssertionError(_failure("per-job streams after done", problems, shown))

    def reconnected_after_drop(self, channel: str = "job", *, last_event_id: bool = False) -> None:
        """After every connection of ``channel`` the server dropped (a scripted drop), the client
        opened a new one to the same job (or workspace); with ``last_event_id``, the new one
        carried a ``Last-Event-ID`` header."""
        streams = self.journal.streams(channel="job" if channel == "job" else "workspace")
        problems: list[str] = []
        shown: list[StreamRecord] = []
        for record in streams:
            if record.close_reason != "scripted_drop":
                continue
            again = next((later for later in streams if later.reconnect_of == record.seq), None)
            if again is None:
                problems.append(f"the client did not reconnect after #{record.seq} was dropped")
                shown.append(record)
            elif last_event_id and again.last_event_id is None:
                problems.append(f"reconnect #{again.seq} carried no Last-Event-ID header")
                shown.extend([record, again])
        if problems:
            raise AssertionError(_failure(f"reconnects on the {channel} stream", problems, shown))

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


# ----------------------------------------------------------------------------- helpers


def _reset(server: MockServer) -> None:
    """Reset through the control API, as a test in any language would."""
    import httpx

    headers = {"x-mock-token": server.control_token} if server.control_token else {}
    response = httpx.post(f"{server.url}/_mock/reset", headers=headers, timeout=_RESET_TIMEOUT)
    if response.status_code != 200:
        pytest.fail(f"reader-mock: reset failed: {response.status_code} {response.text}")


def _script_marked(server: MockServer, marker: pytest.Mark, folder: Path) -> None:
    timelines = list(marker.args)
    if not timelines:
        pytest.fail(f"@pytest.mark.{TIMELINE_MARKER} needs at least one timeline", pytrace=False)
    script: Callable[[Any], Any] | None = getattr(server, "script_next_job", None)
    if script is None:
        pytest.fail("reader-mock: this MockServer cannot script jobs", pytrace=False)
    for timeline in timelines:
        if isinstance(timeline, str) and timeline.endswith((".yaml", ".yml", ".json")):
            # A relative file is found next to the test module.
            timeline = Path(timeline) if os.path.isabs(timeline) else folder / timeline
        script(timeline)


def _describe_errors(errors: Sequence[BaseException]) -> str:
    parts = [f"reader-mock: the server raised {len(errors)} unexpected exception(s) in this test:"]
    for error in errors:
        parts.append("".join(traceback.format_exception(error)).rstrip())
    return "\n\n".join(parts)
