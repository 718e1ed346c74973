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


def _workspace_stream(
    journal: Journal, ids: range, reason: str, last_event_id: str | None = None
) -> StreamRecord:
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    record = journal.stream_opened("workspace", workspace_id="ws_1", headers=headers)
    for number in ids:
        frame = f'event: job:progress\nid: {number}\ndata: {{"jobId":"job_1"}}\n\n'
        record.frame(frame.encode(), name="job:progress")
    record.closed(reason, drop_kind="truncate" if reason == "scripted_drop" else None)  # type: ignore[arg-type]
    return record


def test_a_reconnect_must_resume_from_the_last_id_sent(journal: Journal) -> None:
    """With ids on, ``last_event_id=True`` wants the id of the last event the dropped
    connection sent; an older (or made-up) one is named, with what the client should send."""
    dropped = _workspace_stream(journal, range(1, 5), "scripted_drop")
    assert dropped.event_ids == ["1", "2", "3", "4"]
    _workspace_stream(journal, range(3, 7), "client_disconnect", last_event_id="2")
    checks = JournalAssertions(journal)
    with pytest.raises(AssertionError) as failure:
        checks.reconnected_after_drop("workspace", last_event_id=True)
    assert (
        "reconnect #2 carried Last-Event-ID '2', but the last event #1 sent had the id '4'"
        in str(failure.value)
    )
    # An older id of the dropped connection may be a browser's: the message says how to test it.
    assert "a browser may discard frames that arrive together with the end" in str(failure.value)


def test_a_reconnect_with_an_id_never_sent_gets_no_browser_hint(journal: Journal) -> None:
    _workspace_stream(journal, range(1, 5), "scripted_drop")
    _workspace_stream(journal, range(3, 7), "client_disconnect", last_event_id="99")
    with pytest.raises(AssertionError) as failure:
        JournalAssertions(journal).reconnected_after_drop("workspace", last_event_id=True)
    assert "carried Last-Event-ID '99', but the last event #1 sent had the id '4'" in str(
        failure.value
    )
    assert "a browser may" not in str(failure.value)


def test_a_reconnect_that_resumes_from_the_last_id_passes(journal: Journal) -> None:
    """Also through a connection that was dropped before it sent anything: the id to send is
    still the one it resumed from."""
    _workspace_stream(journal, range(1, 5), "scripted_drop")
    _workspace_stream(journal, range(0), "scripted_drop", last_event_id="4")
    _workspace_stream(journal, range(5, 8), "client_disconnect", last_event_id="4")
    JournalAssertions(journal).reconnected_after_drop("workspace", last_event_id=True)


def test_the_check_stream_fixture_checks_ids_from_the_resume_point() -> None:
    """``reader_mock_check_stream`` with ``ids=True``: a resumed connection whose first id
    repeats the client's ``Last-Event-ID`` is reported; the next id passes."""
    from reader_mock.pytest_plugin import StreamChecker

    def frame(number: int) -> bytes:
        data = '{"jobId":"job_1","status":"processing","completed":1,"total":3}'
        return f"event: job:progress\nid: {number}\ndata: {data}\n\n".encode()

    check = StreamChecker()
    (violation,) = check(frame(4) + frame(5), "workspace", ended=False, ids=True, last_event_id="4")
    assert violation.kind == "event-id" and "an id came again" in violation.message
    assert check(frame(5), "workspace", ended=False, ids=True, last_event_id="4") == []
    (off,) = check(frame(5), "workspace", ended=False)
    assert off.kind == "unexpected-field"
