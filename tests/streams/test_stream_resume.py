"""Resuming from ``Last-Event-ID`` on both channels, with ids on.

A client reads part of a stream, loses it (a scripted drop, or it hangs up with frames still in
flight), events happen while it is away, and it reconnects with the last id it received. Over
real sockets with httpx-sse, on the mock's clock: what it receives over both connections must be
every event of its channel exactly once, with the ids 1..N in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from httpx_sse import EventSource, ServerSentEvent, connect_sse

from reader_mock import Timeline
from reader_mock.contract import ViolationKind, check_stream
from reader_mock.core import ManualClock
from reader_mock.core.fanout import JobEvent
from reader_mock.core.settings import Settings
from reader_mock.pytest_plugin import JournalAssertions
from reader_mock.server import MockServer

URLS = [f"https://example.com/{name}" for name in ("a", "b", "c", "d")]


def _timeline(drop: str | None) -> Timeline:
    """Four pages with ids on, one a clock second apart from 1.5 s; with ``drop``, the
    connections of that channel are truncated right after the second page (2.5 s)."""
    timeline = (
        Timeline.build("ids-resume", description="Four pages with ids on.", urls=URLS, ids=True)
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page(URLS[0])
        .wait(1)
        .page(URLS[1])
    )
    if drop is not None:
        timeline = timeline.drop(drop, "truncate")
    return timeline.wait(1).page(URLS[2]).wait(1).page(URLS[3]).done("completed")


def _open(
    client: httpx.Client, channel: str, job_id: str, **headers: str
) -> AbstractContextManager[EventSource]:
    url = "/v1/events" if channel == "workspace" else f"/v1/jobs/{job_id}/stream"
    return connect_sse(client, "GET", url, headers=headers)


def _read(
    events: Iterator[ServerSentEvent],
    into: list[ServerSentEvent],
    count: int,
    *,
    until: str | None = None,
) -> None:
    """Read until ``count`` events in all, an event named ``until``, the end of the stream or
    a truncation."""
    try:
        while len(into) < count:
            into.append(next(events))
            if into[-1].event == until:
                return
    except (StopIteration, httpx.RemoteProtocolError):
        pass


def _expected(published: list[JobEvent], channel: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.name, e.data()) for e in published if e.channel.value == channel]


def _got(events: list[ServerSentEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event, json.loads(e.data)) for e in events]


@pytest.mark.parametrize("how", ["drop", "hang-up"])
@pytest.mark.parametrize("channel", ["job", "workspace"])
def test_a_resume_receives_every_id_once(
    server: MockServer, client: httpx.Client, channel: str, how: str
) -> None:
    """Ids 1..N over both connections, no repeat, no gap; the events are exactly those the job
    published on that channel."""
    published: list[JobEvent] = []
    server.service.events.subscribe(published.append)
    server.script_next_job(_timeline(channel if how == "drop" else None))
    first: list[ServerSentEvent] = []
    with client:
        job_id = ""
        if channel == "job":
            job_id = client.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
        with _open(client, channel, job_id) as source:
            events = source.iter_sse()
            server.journal.wait_for_stream(channel=channel)
            if channel == "workspace":
                job_id = client.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
            server.advance(2.5)  # processing, two pages (and the drop)
            # A drop ends the read where the server cut; a client that hangs up leaves after
            # three events with the others of this moment still in flight.
            _read(events, first, 3 if how == "hang-up" else 100)
        known = server.journal.streams()
        server.advance(1)  # the third page while the client is away
        resumed: list[ServerSentEvent] = []
        with _open(client, channel, job_id, **{"Last-Event-ID": first[-1].id}) as source:
            events = source.iter_sse()
            server.journal.wait_for_stream(channel=channel, besides=known)
            server.advance(1)  # the fourth page and the end, live
            _read(events, resumed, 100, until="job:completed")
    received = first + resumed
    ids = [event.id for event in received]
    assert ids == [str(number) for number in range(1, len(received) + 1)], ids
    assert _got(received) == _expected(published, channel)
    assert received[-1].event == ("done" if channel == "job" else "job:completed")
    before, after = server.journal.streams(channel=channel)
    assert after.last_event_id == first[-1].id
    assert after.reconnect_of == before.seq
    if how == "drop":
        assert before.close_reason == "scripted_drop", before.describe()
        JournalAssertions(server.journal).reconnected_after_drop(channel, last_event_id=True)
    else:
        assert before.close_reason == "client_disconnect", before.describe()


def _workspace_events(server: MockServer, client: httpx.Client, count: int) -> list[str]:
    """Open the workspace stream, run one ids job to its end, return the first ``count`` ids."""
    server.script_next_job(_timeline(None))
    with connect_sse(client, "GET", "/v1/events") as source:
        events = source.iter_sse()
        server.journal.wait_for_stream(channel="workspace")
        client.post("/v1/read", json={"urls": URLS})
        server.advance(10)
        received: list[ServerSentEvent] = []
        _read(events, received, count)
    return [event.id for event in received]


def test_an_id_older_than_the_replay_bound_replays_what_is_kept() -> None:
    """The feed keeps its last ``workspace_replay_limit`` events: a resume from an older id
    gets those, and its first id shows the gap."""
    settings = Settings(workspace_replay_limit=2)
    with MockServer(clock=ManualClock(), settings=settings) as server:
        headers = {"x-api-key": server.api_key or ""}
        with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
            ids = _workspace_events(server, client, 7)
            assert ids == [str(number) for number in range(1, 8)], ids
            known = server.journal.streams()
            with connect_sse(client, "GET", "/v1/events", headers={"Last-Event-ID": "1"}) as src:
                events = src.iter_sse()
                server.journal.wait_for_stream(channel="workspace", besides=known)
                replayed: list[ServerSentEvent] = []
                _read(events, replayed, 2)
            assert [event.id for event in replayed] == ["6", "7"]
            assert replayed[-1].event == "job:completed"
        assert server.errors == []


@pytest.mark.parametrize("value", ["7", "99", "abc", "", "-1", "1" * 20])
def test_an_id_the_workspace_never_sent_starts_live(
    server: MockServer, client: httpx.Client, value: str
) -> None:
    """After the last id, a future id or garbage: 200, nothing replayed, the next live event
    carries the next id."""
    with client:
        ids = _workspace_events(server, client, 7)
        assert ids[-1] == "7"
        known = server.journal.streams()
        with connect_sse(client, "GET", "/v1/events", headers={"Last-Event-ID": value}) as src:
            assert src.response.status_code == 200
            events = src.iter_sse()
            server.journal.wait_for_stream(channel="workspace", besides=known)
            client.post("/v1/read", json={"urls": URLS[:1]})
            live = next(events)
        assert (live.event, live.id) == ("job:progress", "8")
        assert json.loads(live.data)["status"] == "queued"


def test_workspace_ids_start_with_the_first_job_that_turns_them_on(
    server: MockServer, client: httpx.Client
) -> None:
    """Events before that job's creation carry no id; from its first event on, every workspace
    event does (another job's too), numbered from 1."""
    with client, connect_sse(client, "GET", "/v1/events") as source:
        events = source.iter_sse()
        server.journal.wait_for_stream(channel="workspace")
        client.post("/v1/read", json={"urls": URLS[:1]})  # no ids
        plain = next(events)
        server.script_next_job(_timeline(None))
        client.post("/v1/read", json={"urls": URLS})
        server.advance(10)
        received: list[ServerSentEvent] = []
        _read(events, received, 9)
    assert plain.id == "" and json.loads(plain.data)["status"] == "queued"
    assert [event.id for event in received] == [str(number) for number in range(1, 10)]
    jobs = {json.loads(event.data)["jobId"] for event in received}
    assert len(jobs) == 2, received


def test_a_client_that_resumes_from_an_older_id_is_told_so(
    server: MockServer, client: httpx.Client
) -> None:
    """A wrong client sends the id before its last one after a drop: the server replays from
    there, the stream checker given the id it really had reports the repeat, and the journal
    assertion names the id it should have sent."""
    server.script_next_job(_timeline("workspace"))
    first: list[ServerSentEvent] = []
    with client:
        with connect_sse(client, "GET", "/v1/events") as source:
            events = source.iter_sse()
            server.journal.wait_for_stream(channel="workspace")
            client.post("/v1/read", json={"urls": URLS})
            server.advance(2.5)
            _read(events, first, 100)
        assert [event.id for event in first] == ["1", "2", "3", "4"]
        known = server.journal.streams()
        with client.stream("GET", "/v1/events", headers={"Last-Event-ID": "3"}) as response:
            server.journal.wait_for_stream(channel="workspace", besides=known)
            data = b""
            for chunk in response.iter_raw():
                data += chunk
                if data.endswith(b"\n\n"):
                    break
    assert data.startswith(b"event: job:progress\nid: 4\n"), data
    (violation,) = check_stream(data, "workspace", ended=False, ids=True, last_event_id="4")
    assert violation.kind is ViolationKind.EVENT_ID
    assert "has the id 4, after id 4: an id came again" in violation.message
    with pytest.raises(AssertionError) as failure:
        JournalAssertions(server.journal).reconnected_after_drop("workspace", last_event_id=True)
    assert "carried Last-Event-ID '3', but the last event #" in str(failure.value)
    assert "sent had the id '4'" in str(failure.value)


def test_a_reset_numbers_the_workspace_events_from_1_again(
    server: MockServer, client: httpx.Client
) -> None:
    """The same test after a reset gives the same ids, and an id of before is not resumed."""
    with client:
        assert _workspace_events(server, client, 7) == [str(n) for n in range(1, 8)]
        server.reset()
        assert _workspace_events(server, client, 7) == [str(n) for n in range(1, 8)]
        known = server.journal.streams()
        # The workspace sent 7 ids since the reset: 9 is one it never sent, so the stream is live.
        with connect_sse(client, "GET", "/v1/events", headers={"Last-Event-ID": "9"}) as src:
            events = src.iter_sse()
            server.journal.wait_for_stream(channel="workspace", besides=known)
            client.post("/v1/read", json={"urls": URLS[:1]})
            assert next(events).id == "8"
