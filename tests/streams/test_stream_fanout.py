"""Two hundred clients on one stream: every one of them receives the same events.

The mock runs in its own thread; the clients are ``httpx.AsyncClient`` streams in the test's
event loop, each on its own socket. All of them are subscribed before the manual clock moves (a
per-job client has its first ``progress`` snapshot, a workspace client its response headers, which
the server sends only after subscribing), then the clock runs a ready-made timeline to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from typing import Any

import httpx
import pytest

from reader_mock.contract import check_stream
from reader_mock.server import MockServer
from reader_mock.timeline.ready_made import load_ready_made

# The signature of the ``start_job`` fixture in conftest.py.
StartJob = Callable[[str], str]

SUBSCRIBERS = 200
TIMELINES = ["partial-failure", "crawl-growing-total"]
STEP = 0.5
"""Clock seconds per advance: the timeline's events reach the streams over several commits."""
WAIT = 10.0
"""Wall seconds a test waits for its clients before it gives up."""
WORKSPACE_TERMINAL = {"completed": "job:completed", "failed": "job:failed"}
"""The workspace event that ends a job, by the job's final status (contracts/asyncapi.yaml)."""

Frame = tuple[str, str]


pytestmark = pytest.mark.slow


class _Gate:
    """Opens once ``count`` clients have arrived."""

    def __init__(self, count: int) -> None:
        self._left = count
        self.opened = asyncio.Event()

    def arrive(self) -> None:
        self._left -= 1
        if self._left == 0:
            self.opened.set()


def _frames(body: bytes) -> list[Frame]:
    """The (event, data) pairs of the complete frames in an SSE body; comments are skipped."""
    frames: list[Frame] = []
    blocks = body.split(b"\n\n")
    for block in blocks[:-1]:  # the last piece is not ended by a blank line (yet)
        event = data = None
        for line in block.decode().split("\n"):
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
        if event is not None and data is not None:
            frames.append((event, data))
    return frames


def _client(server: MockServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url,
        headers={"x-api-key": server.api_key or ""},
        limits=httpx.Limits(max_connections=SUBSCRIBERS + 50, max_keepalive_connections=0),
        timeout=WAIT,
    )


async def _all_arrived(gate: _Gate, tasks: Collection[asyncio.Task[bytes]]) -> None:
    """Wait for the gate; a client that failed or ended before it fails the test at once."""
    opened = asyncio.ensure_future(gate.opened.wait())
    try:
        pending: set[asyncio.Future[Any]] = {opened, *tasks}
        while not opened.done():
            done, pending = await asyncio.wait(
                pending, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
            )
            assert done, "the clients did not all subscribe in time"
            for finished in done - {opened}:
                finished.result()  # raises the client's error, if it failed
                pytest.fail("a stream ended before the clock moved")
    finally:
        opened.cancel()


async def _run_clock(server: MockServer, duration: float) -> None:
    """Advance the clock in steps past the timeline's end, yielding to the clients between."""
    moved = 0.0
    while moved <= duration:
        server.advance(STEP)
        moved += STEP
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def _subscribers(
    server: MockServer, subscribe: Callable[[httpx.AsyncClient, _Gate], Coroutine[Any, Any, bytes]]
) -> AsyncIterator[tuple[httpx.AsyncClient, list[asyncio.Task[bytes]]]]:
    """Start the subscribers and yield their tasks once every one of them has subscribed."""
    async with _client(server) as http:
        gate = _Gate(SUBSCRIBERS)
        tasks = [asyncio.create_task(subscribe(http, gate)) for _ in range(SUBSCRIBERS)]
        try:
            await _all_arrived(gate, tasks)
            yield http, tasks
        finally:
            # Only left running when the test failed; no task may outlive it.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", TIMELINES)
async def test_two_hundred_job_streams_get_identical_bodies(
    server: MockServer, start_job: StartJob, name: str
) -> None:
    """200 per-job streams of one job read byte-identical, valid bodies that end after ``done``."""
    job_id = await asyncio.to_thread(start_job, name)
    path = f"/v1/jobs/{job_id}/stream"

    async def subscribe(http: httpx.AsyncClient, gate: _Gate) -> bytes:
        async with http.stream("GET", path) as response:
            assert response.status_code == 200
            chunks = response.aiter_raw()
            body = bytearray()
            while b"\n\n" not in body:
                body += await anext(chunks)
            gate.arrive()
            async for chunk in chunks:
                body += chunk
        return bytes(body)

    async with _subscribers(server, subscribe) as (http, tasks):
        # Every snapshot is out and nothing else can be: the clock has not moved.
        assert len(server.journal.streams(channel="job", job_id=job_id)) == SUBSCRIBERS
        await _run_clock(server, load_ready_made(name).duration)
        bodies = await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        job = (await http.get(f"/v1/jobs/{job_id}")).json()["data"]

    first = bodies[0]
    assert all(body == first for body in bodies), "the per-job bodies differ"
    assert check_stream(first, "job", ended=True) == []
    frames = _frames(first)
    names = [event for event, _ in frames]
    assert names[0] == "progress" and names[-1] == "done" and names.count("done") == 1
    assert json.loads(frames[-1][1])["status"] == job["status"]
    assert names.count("page") + names.count("error") == len(job["results"])

    records = server.journal.streams(channel="job", job_id=job_id)
    assert len(records) == SUBSCRIBERS
    assert {record.close_reason for record in records} == {"after_done"}
    assert all(record.event_names == names for record in records)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", TIMELINES)
async def test_two_hundred_workspace_streams_get_the_same_events(
    server: MockServer, start_job: StartJob, name: str
) -> None:
    """200 workspace streams see the same job events, from creation to the terminal event."""
    terminals = set(WORKSPACE_TERMINAL.values())
    markers = [f"event: {event}\n".encode() for event in terminals]

    async def subscribe(http: httpx.AsyncClient, gate: _Gate) -> bytes:
        async with http.stream("GET", "/v1/events") as response:
            assert response.status_code == 200
            # Headers are sent after the subscription: from here on nothing is missed.
            gate.arrive()
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                # Parse only once a terminal name shows up: 200 clients share two cores.
                if any(marker in body for marker in markers) and any(
                    event in terminals for event, _ in _frames(bytes(body))
                ):
                    break
        return bytes(body)

    async with _subscribers(server, subscribe) as (http, tasks):
        # Created once everyone listens, so its ``queued`` event is part of every stream.
        job_id = await asyncio.to_thread(start_job, name)
        await _run_clock(server, load_ready_made(name).duration)
        bodies = await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        status = (await http.get(f"/v1/jobs/{job_id}")).json()["data"]["status"]

    sequences = [_frames(body) for body in bodies]
    first = sequences[0]
    assert all(sequence == first for sequence in sequences), "the workspace streams differ"
    for body in bodies:
        assert check_stream(body, "workspace", ended=False) == []
    payloads = [json.loads(data) for _, data in first]
    assert all(payload["jobId"] == job_id for payload in payloads)
    assert payloads[0]["status"] == "queued"
    assert first[-1][0] == WORKSPACE_TERMINAL[status]
    assert [event for event, _ in first].count(first[-1][0]) == 1

    records = server.journal.streams(channel="workspace")
    assert len(records) == SUBSCRIBERS
    names = [event for event, _ in first]
    # A record may hold more than its client read only if the server wrote more: it did not.
    assert all(record.event_names == names for record in records)
