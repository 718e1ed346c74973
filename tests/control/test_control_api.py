"""The control API under /_mock/, over a real socket with httpx."""

from __future__ import annotations

import threading
import time
from typing import Any, Final

import httpx
import pytest

from reader_mock.contract import check_stream
from reader_mock.core import ManualClock
from reader_mock.server import MockServer


def _data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    assert response.headers["x-request-id"]
    error: dict[str, Any] = body["error"]
    return error


# ----------------------------------------------------------------------------- token


def test_a_configured_token_is_required(live: MockServer, control: httpx.Client) -> None:
    with httpx.Client(base_url=live.url) as bare:
        error = _error(bare.get("/_mock/clock"), 401, "unauthenticated")
        assert "control token" in error["message"]
        _error(bare.get("/_mock/clock", headers={"x-mock-token": "wrong"}), 401, "unauthenticated")
    assert _data(control.get("/_mock/clock"))["kind"] == "manual"


def test_loopback_without_a_token_needs_none() -> None:
    with MockServer(clock=ManualClock()) as server, httpx.Client(base_url=server.url) as client:
        assert server.control_token is None
        assert _data(client.get("/_mock/clock"))["kind"] == "manual"


def test_a_non_loopback_server_gets_a_generated_token() -> None:
    server = MockServer(host="0.0.0.0", clock=ManualClock())  # built, never started
    assert server.control_token is not None and len(server.control_token) >= 24
    assert MockServer(host="::1").control_token is None
    assert MockServer(host="localhost").control_token is None


def test_control_requests_get_cors_headers_and_no_rate_limit(
    control: httpx.Client, api: httpx.Client
) -> None:
    origin = {"Origin": "http://localhost:3000"}
    for _ in range(8):  # more than the 5 requests per minute of the workspace
        response = control.get("/_mock/clock", headers=origin)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert api.get("/v1/usage/credits", headers=origin).headers["access-control-allow-origin"]


# ----------------------------------------------------------------------------- faults


def test_a_fault_answers_the_next_matching_requests(
    control: httpx.Client, api: httpx.Client
) -> None:
    fault = _data(
        control.post(
            "/_mock/faults",
            json={"method": "GET", "path": "/v1/usage/*", "code": "rate_limited", "count": 2},
        ),
        201,
    )
    assert fault["remaining"] == 2 and fault["status"] is None
    first = api.get("/v1/usage/credits")
    error = _error(first, 429, "rate_limited")
    assert first.headers["Retry-After"] == "1"
    assert error["details"]["retryAfterSeconds"] == 1
    assert api.post("/v1/read", json={}).status_code == 400  # another method: untouched
    assert _data(control.get("/_mock/faults"))[0]["remaining"] == 1
    _error(api.get("/v1/usage/history"), 429, "rate_limited")
    assert _data(control.get("/_mock/faults")) == []
    assert api.get("/v1/usage/credits").status_code == 200


def test_a_fault_status_can_be_given_and_faults_can_be_cleared(
    control: httpx.Client, api: httpx.Client
) -> None:
    body = {"path": "/v1/queue/status", "code": "internal_error", "status": 503, "count": 5}
    _data(control.post("/_mock/faults", json=body), 201)
    _error(api.get("/v1/queue/status"), 503, "internal_error")
    assert _data(control.delete("/_mock/faults")) == []
    assert api.get("/v1/queue/status").status_code == 200


def test_a_latency_fault_delays_and_then_answers(control: httpx.Client, api: httpx.Client) -> None:
    _data(control.post("/_mock/faults", json={"path": "/v1/usage/credits", "latencyMs": 300}), 201)
    started = time.perf_counter()
    assert api.get("/v1/usage/credits").status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    api.get("/v1/usage/credits")
    assert time.perf_counter() - started < 0.3


def test_a_fault_can_refuse_a_stream(control: httpx.Client, api: httpx.Client) -> None:
    _data(
        control.post("/_mock/faults", json={"path": "/v1/events", "code": "unauthenticated"}), 201
    )
    _error(api.get("/v1/events"), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "/v1/read", "code": "teapot"}, "code"),
        ({"path": "/v1/read", "code": None}, "code"),
        ({"path": "/v2/read", "code": "not_found"}, "path"),
        ({"code": "not_found"}, "path"),
        ({"path": "/v1/read"}, "code"),
        ({"path": "/v1/read", "status": 500}, "status"),
        ({"path": "/v1/read", "code": "conflict", "status": 200}, "status"),
        ({"path": "/v1/read", "code": "conflict", "count": 0}, "count"),
        ({"path": "/v1/read", "code": "conflict", "method": "get"}, "method"),
        ({"path": "/v1/read", "latencyMs": -1}, "latencyMs"),
    ],
)
def test_bad_faults_are_refused_with_issues(
    control: httpx.Client, body: dict[str, Any], field: str
) -> None:
    error = _error(control.post("/_mock/faults", json=body), 400, "invalid_request")
    assert field in [entry["path"] for entry in error["details"]["issues"]]
    assert _data(control.get("/_mock/faults")) == []


@pytest.mark.parametrize("raw", [b"", b"[1]", b"{nope", b"NaN"])
def test_bodies_that_are_not_objects_are_refused(control: httpx.Client, raw: bytes) -> None:
    json_type = {"Content-Type": "application/json"}
    _error(control.post("/_mock/faults", content=raw, headers=json_type), 400, "invalid_request")


# ----------------------------------------------------------------------------- clock


def test_advance_moves_a_manual_clock_and_jobs_follow(
    live: MockServer, control: httpx.Client, api: httpx.Client
) -> None:
    before = live.clock.now()
    job = _data(api.post("/v1/read", json={"urls": ["https://example.com/a"]}), 201)
    assert _data(api.get(f"/v1/jobs/{job['id']}"))["status"] == "queued"
    clock = _data(control.post("/_mock/clock/advance", json={"seconds": 60}))
    assert clock["timestamp"] == pytest.approx(before + 60)
    assert _data(api.get(f"/v1/jobs/{job['id']}"))["status"] == "completed"
    error = _error(control.post("/_mock/clock/speed", json={"speed": 5}), 409, "conflict")
    assert error["details"] == {"clock": "manual"}
    _error(control.post("/_mock/clock/advance", json={"seconds": -1}), 400, "invalid_request")
    _error(control.post("/_mock/clock/advance", json={"seconds": "1"}), 400, "invalid_request")


def test_speed_changes_a_scaled_clock_and_advance_is_refused() -> None:
    with MockServer(speed=2) as server, httpx.Client(base_url=server.url) as client:
        clock = _data(client.post("/_mock/clock/speed", json={"speed": 50}))
        assert clock == {**clock, "kind": "scaled", "speed": 50}
        error = _error(client.post("/_mock/clock/advance", json={"seconds": 1}), 409, "conflict")
        assert error["details"] == {"clock": "scaled"}
        _error(client.post("/_mock/clock/speed", json={"speed": 0}), 400, "invalid_request")


# ----------------------------------------------------------------------------- journal


def test_journal_lists_v1_requests_with_the_key_masked(
    live: MockServer, control: httpx.Client, api: httpx.Client
) -> None:
    api.get("/v1/usage/credits", params={"x": "1"})
    api.get("/v1/jobs/job_missing")
    control.get("/_mock/faults")  # the control API is not journaled
    journal = _data(control.get("/_mock/journal", params={"kind": "requests"}))
    assert set(journal) == {"requests"}
    requests = journal["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/v1/usage/credits", 200),
        ("GET", "/v1/jobs/job_missing", 404),
    ]
    assert requests[0]["query"] == "x=1"
    assert live.api_key is not None
    assert requests[0]["headers"]["x-api-key"] == "****" + live.api_key[-4:]
    assert live.api_key not in str(journal)
    only = _data(control.get("/_mock/journal", params={"path": "/v1/jobs/job_missing"}))
    assert [r["status"] for r in only["requests"]] == [404]
    last = _data(control.get("/_mock/journal", params={"kind": "requests", "limit": 1}))
    assert [r["path"] for r in last["requests"]] == ["/v1/jobs/job_missing"]


@pytest.mark.parametrize(
    "params", [{"kind": "pages"}, {"channel": "jobs"}, {"limit": "0"}, {"limit": "²"}]
)
def test_bad_journal_queries_are_refused(control: httpx.Client, params: dict[str, str]) -> None:
    _error(control.get("/_mock/journal", params=params), 400, "invalid_request")


# ----------------------------------------------------------------------------- reset


def test_reset_forgets_state_and_closes_open_streams(
    live: MockServer, control: httpx.Client, api: httpx.Client
) -> None:
    job = _data(api.post("/v1/read", json={"urls": ["https://example.com/a"]}), 201)
    _data(control.post("/_mock/faults", json={"path": "/v1/nothing", "code": "not_found"}), 201)
    opened, ended = threading.Event(), threading.Event()

    def read_events() -> None:
        with httpx.stream(
            "GET", f"{live.url}/v1/events", headers=api.headers, timeout=10
        ) as response:
            opened.set()
            for _ in response.iter_bytes():
                pass
        ended.set()

    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()
    assert opened.wait(5)
    _data(control.post("/_mock/reset"))
    assert ended.wait(5), "the workspace stream was not closed by the reset"
    _error(api.get(f"/v1/jobs/{job['id']}"), 404, "not_found")
    assert _data(control.get("/_mock/faults")) == []
    assert [r["path"] for r in _data(control.get("/_mock/journal"))["requests"]] == [
        f"/v1/jobs/{job['id']}"
    ]
    with httpx.stream("GET", f"{live.url}/v1/events", headers=api.headers) as response:
        assert response.status_code == 200  # streams are accepted again


# ----------------------------------------------------------------------------- scripts


def test_script_refuses_unknown_names_and_bad_inline_timelines(control: httpx.Client) -> None:
    error = _error(
        control.post("/_mock/jobs/script", json={"timeline": "no-such-thing"}),
        400,
        "invalid_request",
    )
    assert "partial-failure" in error["details"]["issues"][0]["message"]
    inline = {"name": "broken", "steps": [{"status": "processing"}, {"page": {"url": 7}}]}
    error = _error(
        control.post("/_mock/jobs/script", json={"timeline": inline}), 400, "invalid_request"
    )
    messages = [entry["message"] for entry in error["details"]["issues"]]
    assert any("step 2" in message and "page.url" in message for message in messages), messages
    _error(control.post("/_mock/jobs/script", json={"timeline": 3}), 400, "invalid_request")
    _error(
        control.post("/_mock/jobs/script", json={"timeline": "partial-failure", "count": 0}),
        400,
        "invalid_request",
    )
    _error(control.post("/_mock/jobs/script", json={}), 400, "invalid_request")


def test_script_makes_the_next_job_play_the_timeline(
    control: httpx.Client, api: httpx.Client
) -> None:
    result = _data(control.post("/_mock/jobs/script", json={"timeline": "partial-failure"}), 201)
    assert result == {"scripted": 1, "pending": 1, "timeline": "partial-failure"}
    urls = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]
    job = _data(api.post("/v1/read", json={"urls": urls}), 201)
    _data(control.post("/_mock/clock/advance", json={"seconds": 10}))
    finished = _data(api.get(f"/v1/jobs/{job['id']}"))
    assert finished["status"] == "completed"
    errors = [entry for entry in finished["results"] if entry.get("error")]
    assert [entry["url"] for entry in errors] == ["https://example.com/b"]
    assert _data(control.delete("/_mock/jobs/script")) == {"pending": 0}


_INLINE: Final = {
    "name": "inline-two-pages",
    "urls": ["https://example.com/a", "https://example.com/b"],
    "steps": [
        {"wait": 1},
        {"status": "processing"},
        {"page": {}},
        {"wait": 1},
        {"error": {"error": "HTTP 503 from origin"}},
        {"done": "completed"},
    ],
}


def test_an_inline_script_plays_on_the_per_job_stream(
    control: httpx.Client, api: httpx.Client, live: MockServer
) -> None:
    """End to end over sockets: script over HTTP, create a job, open its stream, advance the
    clock over HTTP, and read the scripted events off the stream."""
    scripted = _data(control.post("/_mock/jobs/script", json={"timeline": _INLINE}), 201)
    assert scripted == {"scripted": 1, "pending": 1, "timeline": "inline-two-pages"}
    job = _data(api.post("/v1/read", json={"urls": _INLINE["urls"]}), 201)
    names: list[str] = []
    body = bytearray()
    with api.stream("GET", f"/v1/jobs/{job['id']}/stream") as response:
        assert response.status_code == 200
        advanced = False
        for line in response.iter_lines():
            body.extend(line.encode() + b"\n")
            if line.startswith("event:"):
                names.append(line.split(":", 1)[1].strip())
            if line == "" and not advanced:
                # The snapshot is in: now move the job along through the control API.
                advanced = True
                _data(control.post("/_mock/clock/advance", json={"seconds": 5}))
    assert names == ["progress", "progress", "page", "progress", "error", "progress", "done"]
    assert check_stream(bytes(body), "job") == []
    stream = live.journal.streams(channel="job", job_id=job["id"])[0]
    assert stream.close_reason == "after_done"
    assert (
        _data(control.post("/_mock/jobs/script", json={"timeline": "happy-batch"}), 201)["pending"]
        == 1
    )
