"""``MockServer.advance_when_connected``: the clock moves once a blocking client has connected."""

from __future__ import annotations

import httpx
import pytest

from reader_mock.core import ManualClock
from reader_mock.server import MockServer


def _create(client: httpx.Client) -> str:
    created = client.post("/v1/read", json={"urls": ["https://example.com/a"]})
    assert created.status_code == 201, created.text
    job_id = created.json()["data"]["id"]
    assert isinstance(job_id, str)
    return job_id


def test_a_blocking_read_gets_the_whole_job_live(server: MockServer, client: httpx.Client) -> None:
    """Started before a read that returns only at the end: the read sees every event live."""
    job_id = _create(client)
    start = server.clock.now()
    moved = server.advance_when_connected(10, job_id=job_id)
    body = client.get(f"/v1/jobs/{job_id}/stream").content  # returns after done
    assert moved.result(timeout=5) == start + 10
    (record,) = server.journal.streams(channel="job", job_id=job_id)
    # Connected at clock 0: a queued snapshot, then the job's own events as they happened.
    assert record.event_names == ["progress", "progress", "page", "progress", "done"]
    assert body.startswith(b'event: progress\ndata: {"status":"queued"')


def test_only_a_new_connection_counts(server: MockServer, client: httpx.Client) -> None:
    """A workspace stream already open does not trigger it; the next one does."""
    with client.stream("GET", "/v1/events") as early:
        assert early.status_code == 200
        start = server.clock.now()
        unmoved = server.advance_when_connected(31, channel="workspace", timeout=0.05)
        with pytest.raises(TimeoutError):
            unmoved.result(timeout=5)
        assert server.clock.now() == start
        moved = server.advance_when_connected(31, channel="workspace", timeout=5)
        with client.stream("GET", "/v1/events") as late:
            assert late.status_code == 200
            assert moved.result(timeout=5) == start + 31
            assert next(late.iter_raw()) == b": ping\n\n"


def test_no_connection_means_no_move_and_a_timeout(server: MockServer) -> None:
    """Nobody connects: the future fails with TimeoutError and the clock stays where it was."""
    start = server.clock.now()
    moved = server.advance_when_connected(10, job_id="job_0000000000000000", timeout=0.05)
    with pytest.raises(TimeoutError, match="no new event stream of job job_0000000000000000"):
        moved.result(timeout=5)
    assert server.clock.now() == start


def test_bad_arguments_fail_in_the_caller() -> None:
    with MockServer(clock=ManualClock()) as server:
        with pytest.raises(ValueError, match="seconds must be >= 0"):
            server.advance_when_connected(-1)
        with pytest.raises(ValueError, match="unknown channel"):
            server.advance_when_connected(1, channel="jobs")
        with pytest.raises(ValueError, match="timeout must be"):
            server.advance_when_connected(1, timeout=-1)
    with MockServer() as real, pytest.raises(TypeError, match="ManualClock"):
        real.advance_when_connected(1)
