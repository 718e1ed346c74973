"""What a client sees of job retention over a real socket: ``404 not_found`` once a finished job
expired or was pushed out by the cap, on every job route; an open stream runs to ``done``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from reader_mock.core import DEFAULT_API_KEY

KEY = DEFAULT_API_KEY
URLS = ["https://example.com/a", "https://fail.example/b"]
UNKNOWN = "job_0123456789abcdef"


@pytest.fixture
def retaining(start_server: Callable[..., Any]) -> Any:
    """A live server (see ``start_server``) that keeps a finished job for one clock minute,
    and at most two of them."""
    return start_server(job_retention=60, max_finished_jobs=2)


@pytest.fixture
def http(retaining: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=retaining.url, headers={"x-api-key": KEY}, timeout=5) as client:
        yield client


def _create(http: httpx.Client, urls: list[str] = URLS) -> str:
    response = http.post("/v1/read", json={"urls": urls})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


def _answers(http: httpx.Client, job_id: str) -> list[tuple[str, httpx.Response]]:
    """Every job route's answer for ``job_id``."""
    path = f"/v1/jobs/{job_id}"
    return [
        ("GET job", http.get(path)),
        ("GET results page", http.get(path, params={"skip": 1, "limit": 1})),
        ("GET stream", http.get(f"{path}/stream")),
        ("GET stream, resuming", http.get(f"{path}/stream", headers={"last-event-id": "3"})),
        ("POST retry", http.post(f"{path}/retry")),
        ("DELETE", http.delete(path)),
    ]


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = json.loads(response.content)
    assert body["success"] is False
    assert response.headers["x-request-id"].startswith("req_")
    error: dict[str, Any] = body["error"]
    return error


def _assert_gone(http: httpx.Client, job_id: str) -> None:
    """Each route answers ``404 not_found`` "Job not found", exactly as for an id never issued."""
    for (route, gone), (_, unknown) in zip(
        _answers(http, job_id), _answers(http, UNKNOWN), strict=True
    ):
        assert gone.status_code == 404, (route, gone.status_code, gone.text)
        error = _error(gone)
        assert (error["code"], error["message"]) == ("not_found", "Job not found"), route
        assert error == _error(unknown), route


def test_an_expired_job_is_404_not_found_on_every_job_route(
    retaining: Any, http: httpx.Client
) -> None:
    job_id = _create(http)
    retaining.clock.advance(1)  # the job finished at 0.9 s
    job = http.get(f"/v1/jobs/{job_id}").json()["data"]
    assert (job["status"], len(job["results"])) == ("completed", 2)
    retaining.clock.advance(59)  # 59.1 s after it finished
    assert http.get(f"/v1/jobs/{job_id}").status_code == 200
    assert http.get(f"/v1/jobs/{job_id}/stream").status_code == 200  # done alone
    retaining.clock.advance(1)  # 60.1 s after it finished
    _assert_gone(http, job_id)


def test_the_cap_pushes_out_the_job_that_finished_first(retaining: Any, http: httpx.Client) -> None:
    first, second, third = (_create(http, [f"https://example.com/{n}"]) for n in range(3))
    retaining.clock.advance(5)  # all three end within a second; the clock then stands still
    assert [http.get(f"/v1/jobs/{j}").status_code for j in (second, third)] == [200, 200]
    _assert_gone(http, first)


def test_an_open_stream_runs_to_done_through_the_expiry_and_a_new_one_is_404(
    retaining: Any, http: httpx.Client
) -> None:
    job_id = _create(http)
    with connect_sse(http, "GET", f"/v1/jobs/{job_id}/stream") as source:
        assert source.response.status_code == 200
        events = source.iter_sse()
        first = next(events)
        assert (first.event, first.json()) == (
            "progress",
            {"status": "queued", "completed": 0, "total": 2},
        )
        # One jump past the job's end and past its retention: the stream open now still gets
        # every event up to done, and the server ends it as usual.
        retaining.clock.advance(3600)
        rest = [(event.event, event.json()) for event in events]
    assert [name for name, _ in rest] == [
        "progress",
        "page",
        "progress",
        "error",
        "progress",
        "done",
    ]
    assert rest[-1][1] == {"status": "completed", "completed": 2, "total": 2}
    _assert_gone(http, job_id)
