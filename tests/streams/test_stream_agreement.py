"""``GET /v1/jobs/{id}``, the per-job stream and the workspace stream tell the same story.

Each test opens the workspace stream, creates a job on a ready-made timeline, opens its per-job
stream and then walks the manual clock through the timeline in small steps. After every step the
REST record is read first: it settles the job at the current clock time, so it is the reference.
Both streams are then read, over real sockets, until they have caught up with it and delivered
every event frame the server journaled for them; only then are the three compared. Nothing waits
on the wall clock except the client's read timeout, which turns a stream that never catches up
into a failure.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx
import pytest

from reader_mock.contract import check_stream
from reader_mock.server import MockServer
from reader_mock.timeline.ready_made import load_ready_made

Payload = dict[str, Any]
SseEvent = tuple[str, Payload]
# The signature of the ``start_job`` fixture in conftest.py.
StartJob = Callable[[str], str]

# status, completed, total and creditsUsed at the end, as contracts/timelines/README.md gives them.
OUTCOMES: dict[str, tuple[str, int, int, int]] = {
    "happy-batch": ("completed", 3, 3, 3),
    "partial-failure": ("completed", 3, 3, 2),
    "crawl-growing-total": ("completed", 5, 5, 5),
    "fatal-failure": ("failed", 2, 4, 2),
    "cancelled-midway": ("cancelled", 2, 5, 2),
    "slow-start": ("completed", 2, 2, 2),
    "silent-gap": ("completed", 3, 3, 3),
}

_COUNTERS = ("status", "completed", "total")
_RANK = {"queued": 0, "processing": 1, "completed": 2, "failed": 2, "cancelled": 2}
_TERMINAL = frozenset({"completed", "failed", "cancelled"})
# How the workspace stream ends each outcome (contracts/asyncapi.yaml, jobOutcomeEvents).
_WORKSPACE_OUTCOME = {
    "completed": "job:completed",
    "failed": "job:failed",
    "cancelled": "job:progress",
}
# Wall-clock guard for one catch-up; the client's 5 s read timeout bounds each single read.
_CATCH_UP_SECONDS = 10.0


def _step_for(duration: float) -> float:
    """Clock seconds per step: small, but long timelines take bigger steps.

    Every step costs one ``GET /v1/jobs/{id}`` per job, and the default rate limit is 60
    requests per 60 clock seconds, so a 92-second timeline cannot be walked in half seconds.
    """
    return 0.5 if duration <= 20 else 1.5


class SseReader:
    """Reads one open SSE response chunk by chunk, on demand, in the test's own thread.

    Keeps the raw chunks (for ``check_stream``) and the dispatched events, parsed here by a
    deliberately small parser: the server's frames are ``event:``/``data:`` lines and
    ``: ping`` comments, and ``check_stream`` separately proves they have that shape.
    """

    def __init__(self, response: httpx.Response, label: str) -> None:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        self.label = label
        self.chunks: list[bytes] = []
        self.events: list[SseEvent] = []
        self.ended = False
        self._raw: Iterator[bytes] = response.iter_raw()
        self._pending = b""

    def read_more(self) -> None:
        """Block for the next chunk; the end of the body sets :attr:`ended`."""
        try:
            chunk = next(self._raw)
        except StopIteration:
            self.ended = True
            return
        self.chunks.append(chunk)
        self._pending += chunk
        *blocks, self._pending = self._pending.split(b"\n\n")
        for block in blocks:
            self._dispatch(block.decode("utf-8"))

    def _dispatch(self, block: str) -> None:
        name = "message"
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            payload = json.loads("\n".join(data))
            assert isinstance(payload, dict), (self.label, payload)
            self.events.append((name, payload))

    def read_until(self, done: Callable[[], bool], what: str) -> None:
        """Read until ``done()`` holds; fail, naming ``what``, if the stream ends or stalls."""
        deadline = time.monotonic() + _CATCH_UP_SECONDS
        while not done():
            if self.ended:
                pytest.fail(f"{self.label} ended before {what}; events: {self.events}")
            if time.monotonic() > deadline:
                pytest.fail(f"{self.label} never reached {what}; events: {self.events}")
            try:
                self.read_more()
            except httpx.ReadTimeout:
                pytest.fail(f"{self.label} stalled before {what}; events: {self.events}")


def _rest(client: httpx.Client, job_id: str) -> Payload:
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert isinstance(data, dict)
    return data


def _counters(state: Payload) -> Payload:
    return {key: state.get(key) for key in _COUNTERS}


def _order(state: Payload) -> tuple[int, int, int]:
    """How far a job has got; every timeline step moves at least one part of it forward."""
    return (_RANK[state["status"]], state["completed"], state["total"])


def _job_state(events: list[SseEvent]) -> Payload | None:
    """The newest ``progress`` or ``done`` payload of a per-job stream."""
    for name, payload in reversed(events):
        if name in ("progress", "done"):
            return payload
    return None


def _workspace_view(events: list[SseEvent], job_id: str) -> Payload:
    """What a workspace client knows about ``job_id`` from every event it got for it."""
    view: Payload = {}
    for name, payload in events:
        if payload.get("jobId") != job_id:
            continue
        view["last"] = name
        if name == "job:failed":
            # It carries only the error: the counters stay as the last job:progress left them.
            view["status"] = "failed"
            view["error"] = payload["error"]
            continue
        view.update(_counters(payload))
        if name == "job:completed":
            view["creditsUsed"] = payload["creditsUsed"]
    return view


def _journaled_events(
    server: MockServer, channel: Literal["job", "workspace"], job_id: str | None
) -> int:
    """How many event frames the server wrote on the newest connection of ``channel``."""
    records = server.journal.streams(channel=channel, job_id=job_id)
    assert records, f"no {channel} stream in the journal"
    return len(records[-1].event_names)


class Watched:
    """One job under watch: its id, its per-job stream and what it should end as."""

    def __init__(self, name: str, job_id: str, stream: SseReader) -> None:
        self.name = name
        self.job_id = job_id
        self.stream = stream

    def catch_up(self, server: MockServer, workspace: SseReader, rest: Payload) -> None:
        """Read both streams until they show ``rest`` and everything journaled for them."""
        target = _order(rest)

        def job_caught_up() -> bool:
            state = _job_state(self.stream.events)
            return state is not None and _order(state) >= target

        def workspace_caught_up() -> bool:
            view = _workspace_view(workspace.events, self.job_id)
            return "status" in view and _order(view) >= target

        self.stream.read_until(job_caught_up, f"{_counters(rest)}")
        workspace.read_until(workspace_caught_up, f"{_counters(rest)} of {self.job_id}")
        # Also drain what the server wrote in the same turn, so nothing newer is in flight.
        job_frames = _journaled_events(server, "job", self.job_id)
        self.stream.read_until(
            lambda: len(self.stream.events) >= job_frames, f"{job_frames} journaled events"
        )
        ws_frames = _journaled_events(server, "workspace", None)
        workspace.read_until(
            lambda: len(workspace.events) >= ws_frames, f"{ws_frames} journaled events"
        )
        if rest["status"] in _TERMINAL:
            self.stream.read_until(lambda: self.stream.ended, "the end after done")

    def assert_agree(self, workspace: SseReader, rest: Payload, when: str) -> None:
        """The REST record, the per-job stream and the workspace stream say the same now."""
        label = f"{self.name} {self.job_id} {when}"
        events = self.stream.events
        assert _job_state(events) == _counters(rest), label
        names = [name for name, _ in events]
        assert names.count("done") == (1 if rest["status"] in _TERMINAL else 0), (label, names)

        # Every attempt on the stream is the REST result entry at the same position.
        attempts = [(name, payload) for name, payload in events if name in ("page", "error")]
        results = rest["results"]
        assert [p["url"] for _, p in attempts] == [r["url"] for r in results], label
        for (name, payload), entry in zip(attempts, results, strict=True):
            if name == "page":
                assert payload == entry, label
            else:
                assert payload == {"url": entry["url"], "error": entry["error"]}, label
                assert entry["credits"] == 0, label
        charged = sum(payload["credits"] for name, payload in attempts if name == "page")
        assert charged == rest["creditsUsed"], (label, attempts)

        view = _workspace_view(workspace.events, self.job_id)
        assert _counters(view) == _counters(rest), (label, view)
        status = rest["status"]
        if status in _TERMINAL:
            assert view["last"] == _WORKSPACE_OUTCOME[status], (label, view)
        else:
            assert view["last"] == "job:progress", (label, view)
        # Credits reach the workspace only with job:completed; the error only with job:failed.
        credits = rest["creditsUsed"] if status == "completed" else None
        assert view.get("creditsUsed") == credits, (label, view)
        assert view.get("error") == (rest["error"] if status == "failed" else None), label


def _open_job(
    server: MockServer,
    client: httpx.Client,
    start_job: StartJob,
    stack: list[httpx.Response],
    workspace: SseReader,
    name: str,
) -> Watched:
    """Create a job on ``name``, open its stream and check the opening state of all three."""
    job_id = start_job(name)
    response = client.send(client.build_request("GET", f"/v1/jobs/{job_id}/stream"), stream=True)
    stack.append(response)
    watched = Watched(name, job_id, SseReader(response, f"job stream of {job_id}"))
    watched.stream.read_until(lambda: bool(watched.stream.events), "its snapshot")
    rest = _rest(client, job_id)
    assert rest["status"] == "queued" and rest["completed"] == 0, rest
    assert watched.stream.events[0] == ("progress", _counters(rest))
    # Creating the job is announced on the workspace stream with its queued counters.
    watched.catch_up(server, workspace, rest)
    first = next(payload for _, payload in workspace.events if payload["jobId"] == job_id)
    assert first == {"jobId": job_id, **_counters(rest)}
    watched.assert_agree(workspace, rest, "at creation")
    return watched


def _finish(
    server: MockServer, client: httpx.Client, workspace: SseReader, watched: Watched
) -> None:
    """The end state against the timeline's documented outcome, and the wire checks."""
    rest = _rest(client, watched.job_id)
    status, completed, total, credits = OUTCOMES[watched.name]
    assert (rest["status"], rest["completed"], rest["total"], rest["creditsUsed"]) == (
        status,
        completed,
        total,
        credits,
    )
    assert watched.stream.ended
    assert watched.stream.events[-1] == ("done", _counters(rest))
    page_credits = sum(p["credits"] for n, p in watched.stream.events if n == "page")
    assert page_credits == rest["creditsUsed"]
    timeline = load_ready_made(watched.name)
    urls = [entry["url"] for entry in rest["results"]]
    if timeline.mode == "crawl":
        assert urls[0] == timeline.urls[0] and len(set(urls)) == len(urls), urls
    else:
        assert urls == list(timeline.urls[: len(urls)])
    # The client got exactly the events the server journaled, and valid frames.
    job_record = server.journal.streams(channel="job", job_id=watched.job_id)[-1]
    assert job_record.event_names == [name for name, _ in watched.stream.events]
    assert check_stream(watched.stream.chunks, "job", ended=True) == []
    assert workspace.events and check_stream(workspace.chunks, "workspace", ended=False) == []


def _workspace_checks(server: MockServer, workspace: SseReader, job_ids: set[str]) -> None:
    for name, payload in workspace.events:
        assert name in ("job:progress", "job:completed", "job:failed"), name
        assert payload.get("jobId") in job_ids, payload
    record = server.journal.streams(channel="workspace")[-1]
    assert record.event_names == [name for name, _ in workspace.events]


@pytest.mark.parametrize("name", list(OUTCOMES))
def test_rest_and_both_streams_agree_after_every_step(
    server: MockServer, client: httpx.Client, start_job: StartJob, name: str
) -> None:
    """After every clock step, REST, the per-job stream and the workspace stream agree."""
    duration = load_ready_made(name).duration
    step = _step_for(duration)
    streams: list[httpx.Response] = []
    with client, client.stream("GET", "/v1/events") as events:
        workspace = SseReader(events, "workspace stream")
        try:
            watched = _open_job(server, client, start_job, streams, workspace, name)
            elapsed = 0.0
            for _ in range(math.ceil(duration / step)):
                server.advance(step)
                elapsed += step
                rest = _rest(client, watched.job_id)
                watched.catch_up(server, workspace, rest)
                watched.assert_agree(workspace, rest, f"at +{elapsed:g}s")
            _finish(server, client, workspace, watched)
            _workspace_checks(server, workspace, {watched.job_id})
        finally:
            for response in streams:
                response.close()


@pytest.mark.parametrize(
    ("first", "second"),
    [("crawl-growing-total", "fatal-failure"), ("partial-failure", "cancelled-midway")],
)
def test_two_jobs_interleave_on_the_workspace_stream_and_each_agrees(
    server: MockServer, client: httpx.Client, start_job: StartJob, first: str, second: str
) -> None:
    """Two concurrent jobs: the workspace stream interleaves them, and each agrees with REST."""
    # The second job starts a quarter second later, so their events alternate on the wire.
    offset = 0.25
    duration = max(load_ready_made(first).duration, load_ready_made(second).duration + offset)
    step = 0.5
    streams: list[httpx.Response] = []
    with client, client.stream("GET", "/v1/events") as events:
        workspace = SseReader(events, "workspace stream")
        try:
            jobs = [_open_job(server, client, start_job, streams, workspace, first)]
            server.advance(offset)
            jobs.append(_open_job(server, client, start_job, streams, workspace, second))
            elapsed = offset
            while elapsed < duration:
                server.advance(step)
                elapsed += step
                for watched in jobs:
                    rest = _rest(client, watched.job_id)
                    watched.catch_up(server, workspace, rest)
                    watched.assert_agree(workspace, rest, f"at +{elapsed:g}s")
            # Only now compare each job again: the other job's catch-up read more frames.
            for watched in jobs:
                watched.assert_agree(workspace, _rest(client, watched.job_id), "at the end")
                _finish(server, client, workspace, watched)
            ids = [payload["jobId"] for _, payload in workspace.events]
            switches = sum(1 for a, b in itertools.pairwise(ids) if a != b)
            assert switches >= 4, ids
            _workspace_checks(server, workspace, {watched.job_id for watched in jobs})
        finally:
            for response in streams:
                response.close()
