"""MockServer.reset(): back to a fresh workspace in process, over real sockets with httpx."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest

from reader_mock.core import ManualClock
from reader_mock.core.errors import ApiError
from reader_mock.server import MockServer

# Wall seconds a test waits for a stream at most.
PATIENCE = 5.0


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A running mock on a manual clock, in its own thread."""
    with MockServer(clock=ManualClock()) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def api(server: MockServer) -> Iterator[httpx.Client]:
    """An httpx client for the ``/v1`` API with the server's key."""
    headers = {"x-api-key": server.api_key}
    with httpx.Client(base_url=server.url, headers=headers, timeout=PATIENCE) as client:
        yield client


def _create_job(api: httpx.Client) -> str:
    created = api.post("/v1/read", json={"urls": ["https://example.com/a"]})
    assert created.status_code == 201, created.text
    job_id: str = created.json()["data"]["id"]
    return job_id


class StreamReader:
    """Reads one event stream to its end in a background thread."""

    def __init__(self, server: MockServer, path: str) -> None:
        self.lines: list[str] = []
        self.outcome: str | None = None
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(server, path), daemon=True)
        self._thread.start()

    def _read(self, server: MockServer, path: str) -> None:
        headers = {"x-api-key": server.api_key}
        try:
            with httpx.stream("GET", f"{server.url}{path}", headers=headers, timeout=30) as reply:
                assert reply.status_code == 200
                self.lines.extend(reply.iter_lines())
            self.outcome = "clean"  # the body ended with its final chunk
        except httpx.HTTPError as exc:
            self.outcome = type(exc).__name__
        finally:
            self.ended.set()


def test_reset_forgets_jobs_scripts_faults_and_the_journal(
    server: MockServer, api: httpx.Client
) -> None:
    first_id = api.get("/v1/usage/credits").headers["x-request-id"]
    job_id = _create_job(api)
    assert server.script_next_job("partial-failure") == 1
    fault = {"path": "/v1/nothing", "code": "not_found"}
    assert httpx.post(f"{server.url}/_mock/faults", json=fault).status_code == 201
    assert server.journal.requests() != []

    server.reset()

    assert server.journal.requests() == []
    assert server.journal.streams() == []
    # Request ids start again from the seed, as on a fresh server.
    assert api.get("/v1/usage/credits").headers["x-request-id"] == first_id
    assert httpx.get(f"{server.url}/_mock/faults").json()["data"] == []
    assert server.script_jobs([]) == 0  # no scripted timeline waits any more
    assert api.get(f"/v1/jobs/{job_id}").status_code == 404


def test_reset_ends_open_streams_as_shutdown(server: MockServer, api: httpx.Client) -> None:
    job_id = _create_job(api)
    job = StreamReader(server, f"/v1/jobs/{job_id}/stream")
    events = StreamReader(server, "/v1/events")
    records = [
        server.journal.wait_for_stream(channel="job", job_id=job_id, timeout=PATIENCE),
        server.journal.wait_for_stream(channel="workspace", timeout=PATIENCE),
    ]
    assert all(record.is_open for record in records)

    server.reset()

    # Done when reset() returns: the journal shows both closed by the reset.
    assert [record.close_reason for record in records] == ["shutdown", "shutdown"]
    assert job.ended.wait(PATIENCE) and events.ended.wait(PATIENCE)
    # Both ended with their final chunk, not a broken connection.
    assert (job.outcome, events.outcome) == ("clean", "clean")
    assert job.lines[0] == "event: progress"
    # The streams that ended leave nothing in the fresh journal.
    assert server.journal.streams() == []


def test_a_job_after_a_reset_streams_to_done(server: MockServer, api: httpx.Client) -> None:
    _create_job(api)
    old_events = StreamReader(server, "/v1/events")
    server.journal.wait_for_stream(channel="workspace", timeout=PATIENCE)
    server.reset()
    assert old_events.ended.wait(PATIENCE)

    job_id = _create_job(api)
    events = StreamReader(server, "/v1/events")
    server.journal.wait_for_stream(channel="workspace", timeout=PATIENCE)
    moved = server.advance_when_connected(3600, channel="job", job_id=job_id)
    job = StreamReader(server, f"/v1/jobs/{job_id}/stream")
    moved.result(PATIENCE)
    assert job.ended.wait(PATIENCE)
    assert job.outcome == "clean"
    assert "event: done" in job.lines
    (record,) = server.journal.streams(channel="job")
    assert record.close_reason == "after_done"
    assert api.get(f"/v1/jobs/{job_id}").json()["data"]["status"] == "completed"
    # The workspace stream opened after the reset hears of the new job, and stays open.
    server.reset()
    assert events.ended.wait(PATIENCE)
    assert "event: job:completed" in events.lines


def test_reset_from_another_thread(server: MockServer, api: httpx.Client) -> None:
    job_id = _create_job(api)
    failures: list[BaseException] = []

    def reset() -> None:
        try:
            server.reset()
        except BaseException as exc:  # reported to the test thread
            failures.append(exc)

    worker = threading.Thread(target=reset)
    worker.start()
    worker.join(PATIENCE)
    assert not worker.is_alive()
    assert failures == []
    assert api.get(f"/v1/jobs/{job_id}").status_code == 404


def test_reset_of_a_stopped_server() -> None:
    server = MockServer(clock=ManualClock())
    job_id = server.service.reads.submit(server.api_key, {"urls": ["https://example.com/a"]}).data[
        "id"
    ]
    server.reset()
    with pytest.raises(ApiError) as caught:
        server.service.jobs.get(server.api_key, job_id, base_url=server.host)
    assert caught.value.code == "not_found"
    with server, httpx.Client(headers={"x-api-key": server.api_key}) as client:
        assert client.get(f"{server.url}/v1/jobs/{job_id}").status_code == 404


@pytest.mark.asyncio
async def test_reset_from_the_servers_own_loop() -> None:
    clock = ManualClock()
    async with (
        MockServer(clock=clock) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"x-api-key": server.api_key}, timeout=PATIENCE
        ) as client,
    ):
        async with client.stream("GET", "/v1/events") as events:
            assert events.status_code == 200
            async with asyncio.timeout(PATIENCE):
                while not server.journal.streams():
                    await asyncio.sleep(0.005)
            (record,) = server.journal.streams()

            server.reset()  # a plain call in the loop the server runs in

            assert record.close_reason == "shutdown"
            async with asyncio.timeout(PATIENCE):
                rest = [line async for line in events.aiter_lines()]
        assert all(line in ("", ": ping") for line in rest)
        # A stream opened after the reset is served as usual.
        async with client.stream("GET", "/v1/events") as again:
            assert again.status_code == 200
            async with asyncio.timeout(PATIENCE):
                while not server.journal.streams():
                    await asyncio.sleep(0.005)
            clock.advance(server.service.settings.ping_interval)
            async with asyncio.timeout(PATIENCE):
                lines = again.aiter_lines()
                assert await anext(lines) == ": ping"
        assert server.errors == []
