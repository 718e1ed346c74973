"""Stopping the server with many streams of both kinds open: fast, and every body ends whole.

The clients are raw asyncio connections that parse the chunked body themselves, so "ended
cleanly" means exactly that: the zero-length last chunk arrived, then the connection closed
(``Connection: close``). A body cut short raises ``IncompleteReadError`` and fails the test.

The jobs behind the per-job streams are in different states when the server stops: two are
processing (a batch and a crawl, part-way), one is still queued. The workspace streams have
each received the queued job's creation event.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx
import pytest

from reader_mock.contract import ViolationKind, check_stream
from reader_mock.core import ManualClock
from reader_mock.server import MockServer
from reader_mock.timeline.ready_made import load_ready_made

STOP_BOUND = 1.0
"""Wall seconds a stop may take with every stream open."""
JOB_STREAMS = 50
WORKSPACE_STREAMS = 50
WAIT = 10.0
"""Wall seconds a read may wait before the test gives up on it."""
PART_WAY = 1.6
"""Clock seconds into happy-batch and crawl-growing-total: both processing, one page each."""


@dataclass
class _RawStream:
    """One GET of an event stream over a plain socket, its chunked body decoded by hand."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int = 0
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False

    @classmethod
    async def open(cls, server: MockServer, path: str) -> _RawStream:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"x-api-key: {server.api_key}\r\nAccept: text/event-stream\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        stream = cls(reader, writer)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        lines = head.decode("latin-1").split("\r\n")
        stream.status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        assert headers.get("transfer-encoding") == "chunked", head
        return stream

    async def _chunk(self) -> None:
        """Read one chunk; the zero-length one marks the body complete."""
        size_line = await self.reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            assert await self.reader.readuntil(b"\r\n") == b"\r\n"  # no trailers expected
            self.complete = True
            return
        self.body += await self.reader.readexactly(size)
        assert await self.reader.readexactly(2) == b"\r\n"

    async def read_until(self, marker: bytes) -> None:
        """Read chunks until ``marker`` is in the body (the body must not end first)."""
        while marker not in self.body:
            await asyncio.wait_for(self._chunk(), WAIT)
            assert not self.complete, f"the stream ended early: {bytes(self.body)!r}"

    async def read_to_end(self) -> None:
        """Read the rest of the body, its last chunk, and the server's close of the socket."""
        while not self.complete:
            await asyncio.wait_for(self._chunk(), WAIT)
        assert await asyncio.wait_for(self.reader.read(), WAIT) == b""
        self.writer.close()
        await self.writer.wait_closed()

    def close(self) -> None:
        self.writer.close()


@dataclass
class _Open:
    """The streams a test opened, and the status of each per-job stream's job."""

    jobs: list[tuple[_RawStream, str, str]]
    """(stream, job id, job status when the stream opened)."""
    workspace: list[_RawStream]
    queued_job: str

    @property
    def all(self) -> list[_RawStream]:
        return [stream for stream, _, _ in self.jobs] + self.workspace


async def _create_job(http: httpx.AsyncClient, server: MockServer, name: str) -> str:
    """Create a job that plays the ready-made timeline ``name``."""
    timeline = load_ready_made(name)
    server.script_next_job(name)
    body: dict[str, object] = {"urls": list(timeline.urls)}
    if timeline.mode == "crawl":
        body = {"url": timeline.urls[0], "maxPages": 10}
    response = await http.post("/v1/read", json=body)
    assert response.status_code in (200, 201, 202), response.text
    job_id = response.json()["data"]["id"]
    assert isinstance(job_id, str)
    return job_id


async def _open_streams(server: MockServer) -> _Open:
    """Jobs in three states, then 50 workspace streams and 50 per-job streams over them, each
    read until it has something: the queued job's event, or the job's ``progress`` snapshot."""
    headers = {"x-api-key": server.api_key or ""}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=WAIT) as http:
        batch = await _create_job(http, server, "happy-batch")
        crawl = await _create_job(http, server, "crawl-growing-total")
        server.advance(PART_WAY)
        workspace = await asyncio.gather(
            *(_RawStream.open(server, "/v1/events") for _ in range(WORKSPACE_STREAMS))
        )
        assert {stream.status for stream in workspace} == {200}
        # Created while the workspace streams listen; slow-start waits 90 s before processing.
        queued = await _create_job(http, server, "slow-start")
        await asyncio.gather(*(stream.read_until(b"\n\n") for stream in workspace))
        statuses = {}
        for job_id in (batch, crawl, queued):
            response = await http.get(f"/v1/jobs/{job_id}")
            statuses[job_id] = response.json()["data"]["status"]
    assert statuses == {batch: "processing", crawl: "processing", queued: "queued"}

    targets = [(batch, crawl, queued)[index % 3] for index in range(JOB_STREAMS)]
    job_streams = await asyncio.gather(
        *(_RawStream.open(server, f"/v1/jobs/{job_id}/stream") for job_id in targets)
    )
    assert {stream.status for stream in job_streams} == {200}
    await asyncio.gather(*(stream.read_until(b"\n\n") for stream in job_streams))
    jobs = [
        (stream, job_id, statuses[job_id])
        for stream, job_id in zip(job_streams, targets, strict=True)
    ]
    return _Open(jobs, list(workspace), queued)


def _check_ended_by_shutdown(server: MockServer, opened: _Open) -> None:
    """Every body is what was sent before the stop, valid SSE, ended without a terminal event;
    the journal says each stream closed for shutdown."""
    for stream, job_id, status in opened.jobs:
        assert stream.complete
        body = bytes(stream.body)
        # Only the snapshot: the clock did not move after the streams opened.
        assert body.startswith(b"event: progress\ndata: ") and body.count(b"\n\n") == 1
        snapshot = json.loads(body.split(b"data: ", 1)[1])
        assert snapshot["status"] == status, (job_id, snapshot)
        assert check_stream(body, "job", ended=False) == []
        # Ended, the body lacks exactly one thing: the ``done`` the stop cut off.
        kinds = [violation.kind for violation in check_stream(body, "job", ended=True)]
        assert kinds == [ViolationKind.MISSING_TERMINAL]
    for stream in opened.workspace:
        assert stream.complete
        body = bytes(stream.body)
        assert body.startswith(b"event: job:progress\ndata: ") and body.count(b"\n\n") == 1
        assert json.loads(body.split(b"data: ", 1)[1])["jobId"] == opened.queued_job
        assert check_stream(body, "workspace", ended=False) == []
        kinds = [violation.kind for violation in check_stream(body, "workspace", ended=True)]
        assert kinds == [ViolationKind.UNEXPECTED_END]

    records = server.journal.streams()
    job_records = [record for record in records if record.channel == "job"]
    workspace_records = [record for record in records if record.channel == "workspace"]
    assert len(job_records) == JOB_STREAMS and len(workspace_records) == WORKSPACE_STREAMS
    assert {record.close_reason for record in records} == {"shutdown"}
    assert all(record.event_names == ["progress"] for record in job_records)
    assert all(record.event_names == ["job:progress"] for record in workspace_records)
    assert server.errors == []


def _close_all(opened: _Open | None) -> None:
    if opened is not None:
        for stream in opened.all:
            stream.close()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_thread_runner_stop_ends_a_hundred_streams_cleanly() -> None:
    """``stop()`` from the test's thread ends 100 open streams in under a second, each whole."""
    server = MockServer(clock=ManualClock())
    server.start()
    opened: _Open | None = None
    try:
        opened = await _open_streams(server)

        def timed_stop() -> float:
            started = time.monotonic()
            server.stop()
            return time.monotonic() - started

        # The clients keep reading while the server stops, as real ones would.
        elapsed, _ = await asyncio.gather(
            asyncio.to_thread(timed_stop),
            asyncio.gather(*(stream.read_to_end() for stream in opened.all)),
        )
    finally:
        server.stop()
        _close_all(opened)
    assert elapsed < STOP_BOUND, f"stop() took {elapsed:.3f} s"
    _check_ended_by_shutdown(server, opened)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_async_runner_exit_ends_a_hundred_streams_cleanly() -> None:
    """Leaving ``async with MockServer`` ends 100 open streams in the same loop in under 1 s."""
    opened: _Open | None = None
    readers: list[asyncio.Task[None]] = []
    try:
        async with MockServer(clock=ManualClock()) as server:
            opened = await _open_streams(server)
            # Reading while the server, in this same loop, shuts down.
            readers = [asyncio.create_task(stream.read_to_end()) for stream in opened.all]
            started = time.monotonic()
        elapsed = time.monotonic() - started
        await asyncio.wait_for(asyncio.gather(*readers), WAIT)
    finally:
        for reader in readers:
            reader.cancel()
        _close_all(opened)
    assert elapsed < STOP_BOUND, f"leaving the context took {elapsed:.3f} s"
    _check_ended_by_shutdown(server, opened)


@pytest.mark.asyncio
async def test_async_runner_serves_a_job_stream_to_done_after_a_restart() -> None:
    """Re-entered after a stop that cut open streams, the async runner streams a job to ``done``."""
    server = MockServer(clock=ManualClock())
    opened: _Open | None = None
    try:
        async with server:
            opened = await _open_streams(server)
        await asyncio.wait_for(asyncio.gather(*(s.read_to_end() for s in opened.all)), WAIT)
        async with server:
            # The batch job was part-way when the server stopped; its stream resumes the job.
            batch = next(job_id for _, job_id, status in opened.jobs if status == "processing")
            stream = await _RawStream.open(server, f"/v1/jobs/{batch}/stream")
            assert stream.status == 200
            await stream.read_until(b"\n\n")
            server.advance(load_ready_made("happy-batch").duration)
            await stream.read_to_end()
    finally:
        _close_all(opened)
    body = bytes(stream.body)
    assert check_stream(body, "job", ended=True) == []
    assert body.startswith(b"event: progress\n") and b"event: done\n" in body
    records = server.journal.streams(channel="job", job_id=batch)
    assert records[-1].close_reason == "after_done"
    assert {record.close_reason for record in records[:-1]} == {"shutdown"}
    assert server.errors == []
