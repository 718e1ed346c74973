"""The journal assertions of the plugin, on journals written by hand (no server)."""

from __future__ import annotations

import pytest

from reader_mock.core import ManualClock
from reader_mock.core.journal import Journal, StreamRecord
from reader_mock.pytest_plugin import JournalAssertions


def _job_stream(
    journal: Journal,
    job_id: str,
    *names: str,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> StreamRecord:
    record = journal.stream_opened("job", job_id=job_id, workspace_id="ws_1", headers=headers or {})
    for name in names:
        record.frame(f"event: {name}\ndata: {{}}\n\n".encode(), name=name)
    if reason is not None:
        record.closed(reason)  # type: ignore[arg-type]
    return record


@pytest.fixture
def journal() -> Journal:
    return Journal(ManualClock())


def test_a_stream_closed_after_done_passes(journal: Journal) -> None:
    _job_stream(journal, "job_1", "progress", "done", reason="after_done")
    JournalAssertions(journal).job_streams_closed_after_done("job_1")


def test_events_after_done_fail(journal: Journal) -> None:
    _job_stream(journal, "job_1", "progress", "done", "progress", reason="client_disconnect")
    with pytest.raises(AssertionError) as failure:
        JournalAssertions(journal).job_streams_closed_after_done()
    text = str(failure.value)
    assert "#1 sent ['progress'] after done" in text
    assert "#1 was not closed right after done (closed: client_disconnect)" in text
    assert "closed 2026-01-01T00:00:00Z: client_disconnect" in text


def test_a_job_without_done_fails_when_named(journal: Journal) -> None:
    _job_stream(journal, "job_1", "progress", reason="client_disconnect")
    with pytest.raises(AssertionError, match="no per-job stream connection of job_1 received"):
        JournalAssertions(journal).job_streams_closed_after_done("job_1")
    JournalAssertions(journal).job_streams_closed_after_done()  # unnamed: nothing finished


def test_reconnect_after_a_drop(journal: Journal) -> None:
    _job_stream(journal, "job_1", "progress", reason="scripted_drop")
    checks = JournalAssertions(journal)
    with pytest.raises(AssertionError, match="did not reconnect after #1 was dropped"):
        checks.reconnected_after_drop()
    _job_stream(journal, "job_1", "progress", "done", reason="after_done")
    checks.reconnected_after_drop()
    with pytest.raises(AssertionError, match="reconnect #2 carried no Last-Event-ID"):
        checks.reconnected_after_drop(last_event_id=True)


def test_event_names_of_the_other_channel_are_named(journal: Journal) -> None:
    checks = JournalAssertions(journal)
    checks.event_names_belong("workspace", ["job:progress", "job:completed"])
    with pytest.raises(AssertionError) as failure:
        checks.event_names_belong("workspace", ["job:progress", "done", "surprise"])
    text = str(failure.value)
    assert "'done' on the workspace stream" in text and "an event of the job stream" in text
    assert "'surprise'" in text
    assert "journal: no stream connections were recorded" in text
