"""An outside SDK's suite, written against the plugin's docs: the SDK in ``minisdk.py`` passes,
and each deliberately wrong client is caught with a message that names what it did.

Blocking calls (the SDK's ``stream_job`` reads until ``done``) move the clock with
``advance_when_connected``; the workspace stream is read in a thread and asserted while held.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import httpx
import pytest
from minisdk import Event, Quirks, Reader

from reader_mock.pytest_plugin import FaultInjector, JournalAssertions, ScriptJobs
from reader_mock.server import MockServer
from reader_mock.timeline import Timeline

URLS = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]
# Ids on, and the workspace stream cut after the second page.
WORKSPACE_DROP = (
    Timeline.build("workspace-drop", description="A workspace drop with ids.", urls=URLS, ids=True)
    .wait(0.5)
    .status("processing")
    .wait(1)
    .page(URLS[0])
    .wait(1)
    .page(URLS[1])
    .drop("workspace", "truncate")
    .wait(1)
    .page(URLS[2])
    .done("completed")
)


@pytest.fixture
def sdk(reader_mock_url: str, reader_mock_api_key: str) -> Iterator[Reader]:
    with Reader(reader_mock_url, reader_mock_api_key) as client:
        yield client


def _wrong(reader_mock: MockServer, **quirks: bool) -> Reader:
    return Reader(reader_mock.url, reader_mock.api_key, quirks=Quirks(**quirks))


def _stream_job(reader_mock: MockServer, sdk: Reader, job_id: str) -> list[Event]:
    """The SDK's blocking read, with the clock moved once it has connected."""
    moved = reader_mock.advance_when_connected(30, job_id=job_id)
    events = list(sdk.stream_job(job_id))
    moved.result(timeout=10)
    return events


class _Watcher:
    """The SDK's workspace stream, read in a thread; events arrive on a queue."""

    def __init__(self, reader_mock: MockServer, sdk: Reader) -> None:
        self.events: queue.Queue[Event | None] = queue.Queue()
        known = reader_mock.journal.streams(channel="workspace")
        self._thread = threading.Thread(target=self._run, args=(sdk,), daemon=True)
        self._thread.start()
        reader_mock.journal.wait_for_stream(channel="workspace", besides=known)

    def _run(self, sdk: Reader) -> None:
        try:
            for event in sdk.watch():
                self.events.put(event)
        except httpx.HTTPError:
            pass  # the test ended and closed the client (or the reset ended the stream)
        finally:
            self.events.put(None)

    def until(self, name: str) -> list[Event]:
        seen: list[Event] = []
        while (event := self.events.get(timeout=10)) is not None:
            seen.append(event)
            if event.name == name:
                break
        return seen

    def ended(self) -> bool:
        self._thread.join(10)
        return not self._thread.is_alive()


# ------------------------------------------------------------------------- a correct client


def test_a_job_streamed_to_done(
    reader_mock: MockServer, sdk: Reader, reader_mock_assert: JournalAssertions
) -> None:
    job_id = sdk.read(URLS)
    events = _stream_job(reader_mock, sdk, job_id)
    assert [e.name for e in events].count("page") == 3
    assert events[-1].name == "done" and '"completed"' in events[-1].data
    reader_mock_assert.job_streams_closed_after_done(job_id)
    reader_mock_assert.event_names_belong("job", [e.name for e in events])


def test_a_failed_page_names_the_jobs_own_url(
    reader_mock: MockServer, sdk: Reader, reader_mock_script: ScriptJobs
) -> None:
    reader_mock_script("partial-failure")
    urls = ["https://x.example.com/1", "https://fail.example/2", "https://x.example.com/3"]
    job_id = sdk.read(urls)
    errors = [e for e in _stream_job(reader_mock, sdk, job_id) if e.name == "error"]
    assert len(errors) == 1
    assert "Failed to fetch https://fail.example/2: upstream error" in errors[0].data


def test_a_dropped_stream_is_resumed(
    reader_mock: MockServer,
    sdk: Reader,
    reader_mock_script: ScriptJobs,
    reader_mock_assert: JournalAssertions,
) -> None:
    reader_mock_script("drop-and-reconnect-job")
    job_id = sdk.read([*URLS, "https://example.com/d"])
    events = _stream_job(reader_mock, sdk, job_id)
    assert events[-1].name == "done"
    reader_mock_assert.reconnected_after_drop("job")
    reader_mock_assert.job_streams_closed_after_done(job_id)


def test_the_workspace_stream_is_held_across_jobs_and_pings(
    reader_mock: MockServer, sdk: Reader, reader_mock_assert: JournalAssertions
) -> None:
    watcher = _Watcher(reader_mock, sdk)
    sdk.read(URLS)
    reader_mock.advance(10)
    assert watcher.until("job:completed")[-1].name == "job:completed"
    reader_mock.advance(60)
    reader_mock_assert.workspace_stream_stayed_open(pings=2)


def test_a_dropped_workspace_stream_is_resumed_with_every_id_once(
    reader_mock: MockServer,
    sdk: Reader,
    reader_mock_script: ScriptJobs,
    reader_mock_assert: JournalAssertions,
) -> None:
    reader_mock_script(WORKSPACE_DROP)
    watcher = _Watcher(reader_mock, sdk)
    sdk.read(URLS)
    reader_mock.advance(10)
    events = watcher.until("job:completed")
    assert [e.id for e in events] == [str(n) for n in range(1, len(events) + 1)], events
    reader_mock_assert.reconnected_after_drop("workspace", last_event_id=True)
    reader_mock_assert.event_names_belong("workspace", [e.name for e in events])


def test_an_injected_fault_reaches_the_sdk(sdk: Reader, reader_mock_faults: FaultInjector) -> None:
    reader_mock_faults("/v1/read", method="POST", code="rate_limited")
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sdk.read(URLS)
    assert refused.value.response.status_code == 429
    assert reader_mock_faults.pending == []
    assert sdk.read(URLS).startswith("job_")


# ------------------------------------------------------------------------- wrong clients


def test_a_client_that_reconnects_after_done_is_caught(
    reader_mock: MockServer, reader_mock_assert: JournalAssertions
) -> None:
    with _wrong(reader_mock, reconnect_after_done=True) as wrong:
        job_id = wrong.read(URLS)
        _stream_job(reader_mock, wrong, job_id)
    with pytest.raises(AssertionError, match=r"connected to the per-job stream of job_\w+ again"):
        reader_mock_assert.job_streams_closed_after_done(job_id)


def test_a_client_that_gives_up_after_a_drop_is_caught(
    reader_mock: MockServer, reader_mock_script: ScriptJobs, reader_mock_assert: JournalAssertions
) -> None:
    reader_mock_script("drop-and-reconnect-job")
    with _wrong(reader_mock, no_reconnect=True) as wrong:
        job_id = wrong.read([*URLS, "https://example.com/d"])
        with pytest.raises(ConnectionError):
            _stream_job(reader_mock, wrong, job_id)
    with pytest.raises(AssertionError, match=r"did not reconnect after #\d+ was dropped"):
        reader_mock_assert.reconnected_after_drop("job")


def test_a_client_that_surfaces_pings_as_events_is_caught(
    reader_mock: MockServer, reader_mock_assert: JournalAssertions
) -> None:
    with _wrong(reader_mock, comments_are_events=True) as wrong:
        job_id = wrong.read(URLS)
        moved = reader_mock.advance_when_connected(60, job_id=job_id)
        names = [event.name for event in wrong.stream_job(job_id)]
        moved.result(timeout=10)
    assert "ping" not in names  # the job's events all came within its first 30 s
    with pytest.raises(AssertionError, match=r"a `: ping` comment is not an event"):
        reader_mock_assert.event_names_belong("job", [*names, "ping"])


def test_a_client_that_resumes_the_workspace_from_an_older_id_is_caught(
    reader_mock: MockServer, reader_mock_script: ScriptJobs, reader_mock_assert: JournalAssertions
) -> None:
    reader_mock_script(WORKSPACE_DROP)
    with _wrong(reader_mock, stale_last_event_id=True) as wrong:
        watcher = _Watcher(reader_mock, wrong)
        wrong.read(URLS)
        reader_mock.advance(10)
        ids = [e.id for e in watcher.until("job:completed")]
    assert len(ids) > len(set(ids)), ids  # it got an event twice
    with pytest.raises(AssertionError) as failure:
        reader_mock_assert.reconnected_after_drop("workspace", last_event_id=True)
    assert "carried Last-Event-ID '3', but the last event #" in str(failure.value)
    assert "sent had the id '4'" in str(failure.value)


def test_a_client_that_leaves_the_workspace_stream_after_a_job_is_caught(
    reader_mock: MockServer, reader_mock_assert: JournalAssertions
) -> None:
    with _wrong(reader_mock, workspace_ends_with_job=True) as wrong:
        watcher = _Watcher(reader_mock, wrong)
        wrong.read(URLS)
        reader_mock.advance(10)
        assert watcher.until("job:completed")
        assert watcher.ended()
        reader_mock.advance(60)
        with pytest.raises(AssertionError, match=r"right after the event job:completed of job_"):
            reader_mock_assert.workspace_stream_stayed_open()


def test_a_client_that_dies_on_a_ping_is_caught(
    reader_mock: MockServer, reader_mock_assert: JournalAssertions
) -> None:
    with _wrong(reader_mock, die_on_ping=True) as wrong:
        watcher = _Watcher(reader_mock, wrong)
        reader_mock.advance(70)
        assert watcher.ended()
        with pytest.raises(AssertionError, match=r"right after a `: ping` comment"):
            reader_mock_assert.workspace_stream_stayed_open()
