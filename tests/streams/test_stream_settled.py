"""The journal is settled when a test reads it, and a resume never repeats an id.

Each test reads the journal at the moment a hurried test would: right after the client saw the
end of a stream, or right after it hung up and the clock moved. No test waits or sleeps first:
what the journal shows must already be true. These run in a loop (``bench``-free): a race shows
up as a failure in some runs, never as a slow test.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from reader_mock.pytest_plugin import JournalAssertions
from reader_mock.server import MockServer

StartJob = Callable[[str], str]

_IDS_TIMELINE = """
name: ids-on
description: Three pages with ids on, a truncated per-job stream after the second.
mode: batch
urls: [https://example.com/a, https://example.com/b, https://example.com/c]
settings:
  ids: true
steps:
  - wait: 0.5
  - status: processing
  - wait: 1
  - page: {}
  - wait: 1
  - page: {}
  - drop:
      streams: job
      how: truncate
  - wait: 1
  - page: {}
  - done: completed
"""


def test_the_close_after_done_is_recorded_before_the_client_sees_done(
    server: MockServer, client: httpx.Client, start_job: StartJob
) -> None:
    """At the moment a client reads ``done``, the journal already shows the stream closed."""
    job_id = start_job("happy-batch")
    with connect_sse(client, "GET", f"/v1/jobs/{job_id}/stream") as source:
        events = source.iter_sse()
        assert next(events).event == "progress"
        server.advance(10)
        names = []
        for event in events:
            names.append(event.event)
            if event.event == "done":
                # Still inside the response: the server may not have sent the final chunk yet.
                (record,) = server.journal.streams(job_id=job_id)
                assert record.close_reason == "after_done", record.describe()
                break
    assert names[-1] == "done"
    JournalAssertions(server.journal).job_streams_closed_after_done(job_id)


def _read_until_completed(server: MockServer, client: httpx.Client) -> list[str]:
    """Open the workspace stream, let a job complete, hang up after the first ``job:completed``."""
    names: list[str] = []
    with connect_sse(client, "GET", "/v1/events") as source:
        server.journal.wait_for_stream(channel="workspace")
        client.post("/v1/read", json={"urls": ["https://example.com/a"]})
        server.advance(10)
        for event in source.iter_sse():
            names.append(event.event)
            if event.event == "job:completed":
                break
    return names


def test_nothing_written_after_the_client_hung_up_is_recorded_as_sent(
    server: MockServer, client: httpx.Client
) -> None:
    """The client hangs up; the clock moves past two pings at once: no ping is recorded."""
    with client:
        names = _read_until_completed(server, client)
        server.advance(60)
        (record,) = server.journal.streams(channel="workspace")
    assert names[-1] == "job:completed"
    assert record.close_reason == "client_disconnect", record.describe()
    assert record.frames[-1].name == "job:completed", record.describe()
    assert [f for f in record.frames if f.kind == "comment"] == [], record.describe()
    # The hang-up was noticed before the clock moved: it is recorded at the old time.
    assert record.closed_at == record.frames[-1].at


def test_a_client_that_hangs_up_after_a_job_is_caught_as_such(
    server: MockServer, client: httpx.Client
) -> None:
    """The verdict and its reason do not depend on when the server noticed the hang-up."""
    with client:
        _read_until_completed(server, client)
        server.advance(60)
    with pytest.raises(AssertionError) as failure:
        JournalAssertions(server.journal, ping_interval=30).workspace_stream_stayed_open()
    message = str(failure.value)
    assert re.search(
        r"the client hung up on workspace stream #\d+ right after the event "
        r"job:completed of job_\w+",
        message,
    ), message
    assert "as if the stream ended with the job" in message
    assert "advance the clock" not in message and "move the clock" not in message


def _die_on_first_ping(server: MockServer, client: httpx.Client, seen: list[str]) -> None:
    with connect_sse(client, "GET", "/v1/events") as source:
        # A broken parser that treats any comment as the end of the stream.
        for line in source.response.iter_lines():
            if line.startswith(":"):
                seen.append(line)
                return


@pytest.mark.parametrize("step", [30, 70])
def test_a_client_that_dies_on_its_first_ping_fails_whatever_the_jump(
    server: MockServer, client: httpx.Client, step: float
) -> None:
    """One jump over one ping or over two: the client left right after a ping, and is told so."""
    seen: list[str] = []
    with client:
        reader = threading.Thread(target=_die_on_first_ping, args=(server, client, seen))
        reader.start()
        server.journal.wait_for_stream(channel="workspace")
        server.advance(step)
        reader.join(10)
        assert seen == [": ping"]
        assert not reader.is_alive()
        for pings in (1, 2, 5):
            with pytest.raises(AssertionError, match=r"right after a `: ping` comment"):
                JournalAssertions(server.journal).workspace_stream_stayed_open(pings=pings)


def test_a_client_that_holds_the_stream_passes_and_one_that_did_not_wait_is_told_to(
    server: MockServer, client: httpx.Client
) -> None:
    """Open and silent: passes after a ping; before any ping, the advice is to move the clock."""
    assertions = JournalAssertions(server.journal, ping_interval=30)
    with client, client.stream("GET", "/v1/events") as response:
        assert response.status_code == 200
        server.journal.wait_for_stream(channel="workspace")
        with pytest.raises(AssertionError, match=r"is still open but was sent 0 ping\(s\)"):
            assertions.workspace_stream_stayed_open()
        server.advance(30)
        chunks = response.iter_raw()
        assert next(chunks).startswith(b": ping")
        assertions.workspace_stream_stayed_open()


@pytest.fixture
def ids_job(server: MockServer, client: httpx.Client, tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "ids-on.yaml"
    path.write_text(_IDS_TIMELINE, encoding="utf-8")
    server.script_next_job(path)
    urls = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]
    yield client.post("/v1/read", json={"urls": urls}).json()["data"]["id"]


def _read(source: Iterator[ServerSentEvent], into: list[ServerSentEvent]) -> None:
    try:
        for event in source:
            into.append(event)
    except httpx.RemoteProtocolError:
        pass  # the truncate drop: the client resumes


def test_a_resume_never_repeats_the_last_id_received(
    server: MockServer, client: httpx.Client, ids_job: str
) -> None:
    """Per-job stream with ids: a drop, a resume from ``Last-Event-ID``: ids strictly increase,
    the resumed connection starts after the last event received, and nothing is lost."""
    url = f"/v1/jobs/{ids_job}/stream"
    first: list[ServerSentEvent] = []
    with connect_sse(client, "GET", url) as source:
        events = source.iter_sse()
        first.append(next(events))
        server.advance(3)  # up to the drop after the second page
        _read(events, first)
    resumed: list[ServerSentEvent] = []
    with connect_sse(client, "GET", url, headers={"Last-Event-ID": first[-1].id}) as source:
        events = source.iter_sse()
        server.advance(5)
        _read(events, resumed)
    ids = [int(event.id) for event in first + resumed]
    assert ids == sorted(set(ids)), ids
    assert int(resumed[0].id) == int(first[-1].id) + 1, (ids, resumed[0])
    names = [event.event for event in first + resumed]
    assert names.count("page") == 3 and names[-1] == "done", names
    again, resumption = server.journal.streams(job_id=ids_job)
    assert resumption.last_event_id == first[-1].id
    assert resumption.reconnect_of == again.seq
    JournalAssertions(server.journal).reconnected_after_drop("job", last_event_id=True)


def test_the_workspace_stream_resumes_live_without_ids_or_repeats(
    server: MockServer, client: httpx.Client
) -> None:
    """Without a job that turns ids on, the workspace stream carries no ids: a reconnect with
    ``Last-Event-ID`` starts live, and no event the client had comes again."""
    first: list[ServerSentEvent] = []
    with connect_sse(client, "GET", "/v1/events") as source:
        events = source.iter_sse()
        server.journal.wait_for_stream(channel="workspace")
        urls = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]
        client.post("/v1/read", json={"urls": urls})
        server.advance(0.75)  # queued, processing, the first page
        while len(first) < 3:
            first.append(next(events))
    assert all(event.id == "" for event in first), [event.id for event in first]
    known = server.journal.streams()
    with connect_sse(client, "GET", "/v1/events", headers={"Last-Event-ID": "3"}) as source:
        events = source.iter_sse()
        server.journal.wait_for_stream(channel="workspace", besides=known)
        server.advance(5)
        rest = []
        for event in events:
            rest.append(event)
            if event.event == "job:completed":
                break
    assert all(event.id == "" for event in rest)
    seen = {(e.event, e.data) for e in first}
    assert not seen & {(e.event, e.data) for e in rest}, rest
    assert rest[-1].event == "job:completed"


def test_streams_with_nothing_due_are_settled_as_soon_as_the_clock_moves(
    server: MockServer, client: httpx.Client, start_job: StartJob
) -> None:
    """After a move of the clock that gives an open stream nothing to write (its next ping still
    ahead), the journal is settled at once: the plugin's assertions do not wait out their bound.
    A stream only woken by its log or its next ping would leave the wait to run out (False)."""
    job_id = start_job("happy-batch")
    with (
        client.stream("GET", "/v1/events") as workspace,
        client.stream("GET", f"/v1/jobs/{job_id}/stream") as job,
    ):
        assert workspace.status_code == job.status_code == 200
        server.journal.wait_for_stream(channel="workspace")
        server.journal.wait_for_stream(channel="job", job_id=job_id)
        for _ in range(3):
            server.advance(0.001)  # before the job's first step and any ping
            assert server.journal.wait_settled(timeout=5.0)
            now = server.clock.now()
            for record in server.journal.streams():
                assert record._settled_to >= now, record.describe()
