"""The two SSE streams over a real socket, moved by the manual clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reader_mock.contract import validate_event
from reader_mock.core import DEFAULT_API_KEY, ManualClock
from reader_mock.http import close_streams

KEY = DEFAULT_API_KEY
URLS = ["https://example.com/a", "https://fail.example/b"]


class _Frames:
    """Reads raw SSE frames (comments included) from a streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines: Iterator[str] = response.iter_lines()

    def next(self) -> tuple[str, Any]:
        """The next frame: ``("ping", None)`` for a comment, else ``(event, parsed data)``."""
        fields: list[str] = []
        for line in self._lines:
            if line == "":
                if fields:
                    break
                continue
            fields.append(line)
        else:
            raise EOFError("the stream ended")
        if fields == [": ping"]:
            return "ping", None
        assert len(fields) == 2, fields
        assert fields[0].startswith("event: ") and fields[1].startswith("data: "), fields
        return fields[0][len("event: ") :], json.loads(fields[1][len("data: ") :])

    def rest(self) -> list[str]:
        """Whatever is left before the stream ends."""
        return [line for line in self._lines if line]


@pytest.fixture
def stream_client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers={"x-api-key": KEY}, timeout=5) as client:
        yield client


def test_a_live_job_stream_runs_to_done_and_closes(
    stream_client: httpx.Client, clock: ManualClock
) -> None:
    job_id = stream_client.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
    with stream_client.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["x-request-id"].startswith("req_")
        frames = _Frames(response)
        assert frames.next() == ("progress", {"status": "queued", "completed": 0, "total": 2})
        clock.advance(10)
        received = []
        while True:
            name, data = frames.next()
            validate_event("job", name, data)
            received.append((name, data))
            if name == "done":
                break
        assert frames.rest() == []  # the server ended the response right after done
    names = [name for name, _ in received]
    assert names == ["progress", "page", "progress", "error", "progress", "done"]
    assert received[-1][1] == {"status": "completed", "completed": 2, "total": 2}
    job = stream_client.get(f"/v1/jobs/{job_id}").json()["data"]
    assert received[1][1] == job["results"][0]


def test_a_terminal_job_stream_sends_done_alone(
    stream_client: httpx.Client, clock: ManualClock
) -> None:
    job_id = stream_client.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
    clock.advance(10)
    with stream_client.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        frames = _Frames(response)
        assert frames.next() == ("done", {"status": "completed", "completed": 2, "total": 2})
        assert frames.rest() == []


def test_cancel_ends_the_job_stream(stream_client: httpx.Client) -> None:
    job_id = stream_client.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
    with stream_client.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        frames = _Frames(response)
        assert frames.next()[0] == "progress"
        assert stream_client.delete(f"/v1/jobs/{job_id}").status_code == 200
        assert frames.next() == ("done", {"status": "cancelled", "completed": 0, "total": 2})
        assert frames.rest() == []


def test_pings_follow_the_clock(stream_client: httpx.Client, clock: ManualClock) -> None:
    job_id = stream_client.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
    stream_client.delete(f"/v1/jobs/{job_id}")
    with stream_client.stream("GET", "/v1/events") as response:
        frames = _Frames(response)
        clock.advance(30)
        assert frames.next() == ("ping", None)
        clock.advance(30)
        assert frames.next() == ("ping", None)


def test_the_workspace_stream_reports_every_job(
    stream_client: httpx.Client, clock: ManualClock
) -> None:
    with stream_client.stream("GET", "/v1/events") as response:
        assert response.status_code == 200
        frames = _Frames(response)
        first = stream_client.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
        second = stream_client.post("/v1/read", json={"urls": ["https://example.com/z"]}).json()
        second_id = second["data"]["id"]
        stream_client.delete(f"/v1/jobs/{second_id}")
        clock.advance(10)
        received: list[tuple[str, Any]] = []
        while not any(name == "job:completed" for name, _ in received):
            name, data = frames.next()
            validate_event("workspace", name, data)
            received.append((name, data))
    assert received[0] == (
        "job:progress",
        {"jobId": first, "status": "queued", "completed": 0, "total": 2},
    )
    assert (
        "job:progress",
        {"jobId": second_id, "status": "cancelled", "completed": 0, "total": 1},
    ) in received
    assert received[-1] == (
        "job:completed",
        {"jobId": first, "status": "completed", "completed": 2, "total": 2, "creditsUsed": 1},
    )
    assert {name for name, _ in received} == {"job:progress", "job:completed"}


def test_other_workspaces_stay_private(start_server: Callable[..., Any]) -> None:
    server = start_server(api_keys=("rdr_one", "rdr_two"))
    with (
        httpx.Client(base_url=server.url, headers={"x-api-key": "rdr_one"}, timeout=5) as one,
        httpx.Client(base_url=server.url, headers={"x-api-key": "rdr_two"}, timeout=5) as two,
    ):
        theirs = two.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
        assert one.get(f"/v1/jobs/{theirs}/stream").status_code == 404
        with one.stream("GET", "/v1/events") as response:
            frames = _Frames(response)
            two.post("/v1/read", json={"urls": URLS})
            mine = one.post("/v1/read", json={"urls": URLS}).json()["data"]["id"]
            name, data = frames.next()
            assert (name, data["jobId"]) == ("job:progress", mine)


def test_closing_ends_open_streams(server: Any, stream_client: httpx.Client) -> None:
    with stream_client.stream("GET", "/v1/events") as response:
        frames = _Frames(response)
        close_streams(server.app)
        assert frames.rest() == []
