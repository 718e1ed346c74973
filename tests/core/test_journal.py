"""The journal: requests and stream connections on the clock, bounded, masked, queryable."""

from __future__ import annotations

import json
import threading

import pytest

from reader_mock.core import ManualClock, Service, Settings
from reader_mock.core.journal import (
    MAX_FRAME_BYTES,
    MAX_FRAMES,
    Journal,
    WrittenPiece,
    mask_headers,
)


def test_request_is_recorded_with_clock_time_and_masked_key(clock: ManualClock) -> None:
    journal = Journal(clock)
    clock.advance(5)
    record = journal.request(
        "get",
        "/v1/jobs/job_1",
        status=200,
        query="limit=5",
        headers=[("X-Api-Key", "rdr_secret_abcd1234"), ("Accept", "application/json")],
        request_id="req_1",
    )
    assert record.method == "GET"
    assert record.at == clock.now()
    assert record.headers == {"x-api-key": "****1234", "accept": "application/json"}
    data = record.to_dict()
    assert data["at"] == "2026-01-01T00:00:05Z"
    assert data["query"] == "limit=5"
    assert data["requestId"] == "req_1"
    assert "rdr_secret" not in json.dumps(journal.to_dict())


def test_short_secrets_are_hidden_entirely() -> None:
    assert mask_headers({"x-api-key": "abc"}) == {"x-api-key": "***"}
    assert mask_headers([("A", "1"), ("a", "2")]) == {"a": "1, 2"}


def test_requests_filter_by_method_and_path(clock: ManualClock) -> None:
    journal = Journal(clock)
    journal.request("GET", "/v1/usage/credits", status=200)
    journal.request("POST", "/v1/read", status=201)
    journal.request("GET", "/v1/read", status=405)
    assert [r.status for r in journal.requests(path="/v1/read")] == [201, 405]
    assert [r.path for r in journal.requests(method="get")] == ["/v1/usage/credits", "/v1/read"]


def test_stream_frames_and_close(clock: ManualClock) -> None:
    journal = Journal(clock)
    stream = journal.stream_opened(
        "job", job_id="job_1", workspace_id="ws_1", headers={"x-api-key": "k" * 20}
    )
    stream.frame(b"event: progress\ndata: {}\n\n", name="progress")
    clock.advance(30)
    stream.frame(b": ping\n\n", name="ping", kind="comment")
    stream.frame(b"event: done\ndata: {}\n\n", name="done")
    stream.closed("after_done")
    stream.closed("client_disconnect")  # the first reason stays
    assert stream.event_names == ["progress", "done"]
    assert stream.close_reason == "after_done"
    assert stream.closed_at == clock.now()
    assert [f.at for f in stream.frames] == [clock.now() - 30, clock.now(), clock.now()]
    text = stream.describe()
    assert "closed 2026-01-01T00:00:30Z: after_done" in text
    assert "comment ping" in text


def test_scripted_drop_keeps_its_kind(clock: ManualClock) -> None:
    stream = Journal(clock).stream_opened("workspace", workspace_id="ws_1")
    stream.closed("scripted_drop", drop_kind="truncate")
    assert stream.to_dict()["dropKind"] == "truncate"
    with pytest.raises(ValueError, match="unknown close reason"):
        stream.closed("bored")  # type: ignore[arg-type]


def test_reconnect_links_to_the_earlier_connection_of_the_same_job(clock: ManualClock) -> None:
    journal = Journal(clock)
    first = journal.stream_opened("job", job_id="job_1", workspace_id="ws_1")
    other = journal.stream_opened("job", job_id="job_2", workspace_id="ws_1")
    events = journal.stream_opened("workspace", workspace_id="ws_1")
    first.closed("scripted_drop", drop_kind="clean")
    again = journal.stream_opened(
        "job", job_id="job_1", workspace_id="ws_1", headers={"Last-Event-ID": "7"}
    )
    events_again = journal.stream_opened("workspace", workspace_id="ws_1")
    assert first.reconnect_of is None and other.reconnect_of is None
    assert again.reconnect_of == first.seq
    assert again.last_event_id == "7"
    assert events_again.reconnect_of == events.seq
    assert journal.streams(job_id="job_1") == [first, again]
    assert journal.streams(channel="workspace") == [events, events_again]


def test_journal_is_bounded_and_counts_what_it_dropped(clock: ManualClock) -> None:
    journal = Journal(clock, max_requests=3, max_streams=2)
    for index in range(5):
        journal.request("GET", f"/v1/jobs/job_{index}", status=200)
    for index in range(3):
        journal.stream_opened("job", job_id=f"job_{index}")
    assert [r.path for r in journal.requests()] == [f"/v1/jobs/job_{i}" for i in (2, 3, 4)]
    assert [s.job_id for s in journal.streams()] == ["job_1", "job_2"]
    assert journal.to_dict()["dropped"] == {"requests": 2, "streams": 1}


def test_frames_are_bounded_per_connection(clock: ManualClock) -> None:
    stream = Journal(clock).stream_opened("workspace", workspace_id="ws_1")
    for _ in range(MAX_FRAMES):
        stream.frame(b": ping\n\n", name="ping", kind="comment")
    stream.frame(b"x" * (MAX_FRAME_BYTES + 10), kind="raw")
    assert stream.frames_dropped == 1
    assert len(stream.frames) == MAX_FRAMES
    last = stream.frames[-1]
    assert last.size == MAX_FRAME_BYTES + 10 and len(last.data) == MAX_FRAME_BYTES
    assert last.to_dict()["truncated"] is True


def test_batched_writes_keep_the_last_frames_in_order(clock: ManualClock) -> None:
    """Writes of many frames at once are bounded like single frames, oldest forgotten first."""
    stream = Journal(clock).stream_opened("job", job_id="job_1")
    written = 0
    for batch in (700, 1, 900, 650):
        pieces: list[WrittenPiece] = [
            (f"{written + i}".encode(), 3, f"e{written + i}", "event") for i in range(batch)
        ]
        stream.frames_written(pieces)
        written += batch
        clock.advance(1)
    names = [frame.name for frame in stream.frames]
    assert names == [f"e{i}" for i in range(written - MAX_FRAMES, written)]
    assert stream.frames_dropped == written - MAX_FRAMES
    assert stream.to_dict()["framesDropped"] == written - MAX_FRAMES
    # Every frame of a write carries the time of that write.
    assert stream.frames[-1].at - stream.frames[-650].at == 0
    assert stream.frames[-1].at - stream.frames[-651].at == 1


def test_wait_for_stream_returns_a_connection_it_was_not_told_of(clock: ManualClock) -> None:
    """A matching connection not in ``besides`` is returned at once; a known one is not."""
    journal = Journal(clock)
    other = journal.stream_opened("job", job_id="job_2")
    first = journal.stream_opened("job", job_id="job_1")
    assert journal.wait_for_stream(job_id="job_1", timeout=0) is first
    assert journal.wait_for_stream(channel="job", besides=[other], timeout=0) is first
    with pytest.raises(TimeoutError, match="no new job stream of job job_1 opened within 0 s"):
        journal.wait_for_stream(channel="job", job_id="job_1", besides=[first], timeout=0)
    with pytest.raises(TimeoutError, match="no new workspace stream of any job or workspace"):
        journal.wait_for_stream(channel="workspace", timeout=0)


def test_wait_for_stream_wakes_when_the_connection_opens(clock: ManualClock) -> None:
    """A waiter in another thread gets the connection recorded after it started waiting."""
    journal = Journal(clock)
    known = [journal.stream_opened("job", job_id="job_1")]
    found: list[object] = []
    waiting = threading.Event()

    def wait() -> None:
        waiting.set()
        found.append(journal.wait_for_stream(job_id="job_1", besides=known, timeout=10))

    waiter = threading.Thread(target=wait)
    waiter.start()
    waiting.wait()
    journal.stream_opened("job", job_id="job_2")  # not the one it waits for
    opened = journal.stream_opened("job", job_id="job_1")
    waiter.join(10)
    assert not waiter.is_alive()
    assert found == [opened]


def test_wait_for_stream_refuses_bad_arguments(clock: ManualClock) -> None:
    journal = Journal(clock)
    with pytest.raises(ValueError, match="unknown channel 'jobs'"):
        journal.wait_for_stream(channel="jobs", timeout=0)
    with pytest.raises(ValueError, match="timeout must be"):
        journal.wait_for_stream(timeout=-1)


def test_journal_is_safe_across_threads(clock: ManualClock) -> None:
    journal = Journal(clock)
    stream = journal.stream_opened("workspace", workspace_id="ws_1")

    def write() -> None:
        for _ in range(500):
            journal.request("GET", "/v1/usage/credits", status=200)
            stream.frame(b": ping\n\n", name="ping", kind="comment")

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = [record.seq for record in journal.requests()]
    assert len(seqs) == 2000 and len(set(seqs)) == 2000
    assert len(stream.frames) + stream.frames_dropped == 2000


def test_service_reset_clears_the_journal_and_restarts_request_ids(clock: ManualClock) -> None:
    service = Service(Settings(seed=3), clock)
    first_ids = [service.new_request_id() for _ in range(2)]
    service.journal.request("GET", "/v1/usage/credits", status=200)
    service.reset()
    assert service.journal.requests() == []
    assert [service.new_request_id() for _ in range(2)] == first_ids


def test_wait_settled_ends_when_the_stream_it_waits_for_closes(clock: ManualClock) -> None:
    """A stream that closes instead of settling (it wrote ``done``) has nothing left to
    write: a wait for it ends then, not at its timeout."""
    journal = Journal(clock)
    stream = journal.stream_opened("job", job_id="job_1", workspace_id="ws_1")
    stream.settled_to(clock.now())
    clock.advance(1)
    waiting = threading.Event()
    outcome: list[bool] = []

    def wait() -> None:
        waiting.set()
        outcome.append(journal.wait_settled(timeout=30))

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert waiting.wait(5)
    stream.closed("after_done")
    waiter.join(5)
    assert not waiter.is_alive(), "wait_settled waited for a closed stream"
    assert outcome == [True]
