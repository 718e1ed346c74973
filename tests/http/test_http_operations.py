"""Every operation over a real socket, each answer checked against openapi.yaml."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from reader_mock.core import DEFAULT_API_KEY, ManualClock

KEY = DEFAULT_API_KEY
Documented = Callable[[httpx.Response, str, str], None]


def test_scrape_and_cache_hit(client: httpx.Client, documented: Documented) -> None:
    first = client.post(
        "/v1/read",
        json={"url": "https://example.com", "formats": ["markdown", "html", "screenshot"]},
    )
    documented(first, "POST", "/v1/read")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    body = first.json()
    assert body["success"] is True
    assert body["data"]["metadata"]["cached"] is False
    hit = client.post("/v1/read", json={"url": "https://example.com"})
    documented(hit, "POST", "/v1/read")
    assert hit.json()["data"]["metadata"]["cached"] is True
    assert hit.headers["x-request-id"] != first.headers["x-request-id"]


def test_job_lifecycle(
    client: httpx.Client, clock: ManualClock, base_url: str, documented: Documented
) -> None:
    created = client.post(
        "/v1/read",
        json={"urls": [f"https://example.com/{i}" for i in range(3)] + ["https://fail.example/x"]},
    )
    documented(created, "POST", "/v1/read")
    assert created.status_code == 201
    job_id = created.json()["data"]["id"]
    clock.advance(0.9)
    page = client.get(f"/v1/jobs/{job_id}", params={"limit": 1})
    documented(page, "GET", "/v1/jobs/{id}")
    pagination = page.json()["pagination"]
    assert pagination == {
        "total": 2,
        "skip": 0,
        "limit": 1,
        "hasMore": True,
        "next": f"{base_url}/v1/jobs/{job_id}?skip=1&limit=1",
    }
    following = client.get(pagination["next"])
    documented(following, "GET", "/v1/jobs/{id}")
    assert following.json()["pagination"]["skip"] == 1
    clock.advance(10)
    done = client.get(f"/v1/jobs/{job_id}")
    documented(done, "GET", "/v1/jobs/{id}")
    assert done.json()["data"]["status"] == "completed"
    conflict = client.delete(f"/v1/jobs/{job_id}")
    documented(conflict, "DELETE", "/v1/jobs/{id}")
    assert conflict.status_code == 409
    retry = client.post(f"/v1/jobs/{job_id}/retry")
    documented(retry, "POST", "/v1/jobs/{id}/retry")
    assert retry.json()["data"] == {"id": job_id, "status": "queued", "retrying": 1}
    busy = client.post(f"/v1/jobs/{job_id}/retry")
    documented(busy, "POST", "/v1/jobs/{id}/retry")
    assert busy.status_code == 409
    cancelled = client.delete(f"/v1/jobs/{job_id}")
    documented(cancelled, "DELETE", "/v1/jobs/{id}")
    assert cancelled.json() == {"success": True, "data": {"id": job_id, "status": "cancelled"}}
    queue = client.get("/v1/queue/status")
    documented(queue, "GET", "/v1/queue/status")


def test_webhooks(client: httpx.Client, documented: Documented) -> None:
    created = client.post(
        "/v1/webhooks",
        json={
            "url": "http://127.0.0.1:9/hook",
            "name": "local",
            "events": ["job.completed"],
            "secret": "x" * 16,
        },
    )
    documented(created, "POST", "/v1/webhooks")
    assert created.status_code == 201
    assert created.json()["data"]["secret"] == "x" * 16
    hook_id = created.json()["data"]["id"]
    listed = client.get("/v1/webhooks")
    documented(listed, "GET", "/v1/webhooks")
    assert "secret" not in listed.json()["data"][0]
    patched = client.patch(f"/v1/webhooks/{hook_id}", json={"active": False})
    documented(patched, "PATCH", "/v1/webhooks/{id}")
    assert patched.json()["data"]["active"] is False
    deleted = client.delete(f"/v1/webhooks/{hook_id}")
    documented(deleted, "DELETE", "/v1/webhooks/{id}")
    missing = client.delete(f"/v1/webhooks/{hook_id}")
    documented(missing, "DELETE", "/v1/webhooks/{id}")
    assert missing.status_code == 404


def test_account_endpoints(client: httpx.Client, documented: Documented) -> None:
    client.post("/v1/read", json={"url": "https://example.com"})
    for path in ("/v1/usage/credits", "/v1/usage/history", "/v1/api-keys", "/v1/queue/status"):
        response = client.get(path)
        documented(response, "GET", path)
        assert response.status_code == 200
    created = client.post("/v1/api-keys", json={"name": "ci"})
    documented(created, "POST", "/v1/api-keys")
    new_key = created.json()["data"]["key"]
    without_body = client.post("/v1/api-keys")
    documented(without_body, "POST", "/v1/api-keys")
    assert without_body.json()["data"]["name"] == "API key"
    assert client.get("/v1/usage/credits", headers={"x-api-key": new_key}).status_code == 200
    revoked = client.delete(f"/v1/api-keys/{created.json()['data']['id']}")
    documented(revoked, "DELETE", "/v1/api-keys/{id}")
    refused = client.get("/v1/usage/credits", headers={"x-api-key": new_key})
    documented(refused, "GET", "/v1/usage/credits")
    assert refused.status_code == 401


def test_sessions(
    client: httpx.Client, clock: ManualClock, base_url: str, documented: Documented
) -> None:
    created = client.post("/v1/sessions", json={"maxDurationMs": 60_000})
    documented(created, "POST", "/v1/sessions")
    session = created.json()["data"]
    ws_base = base_url.replace("http://", "ws://")
    assert session["wsEndpoint"] == (
        f"{ws_base}/v1/sessions/{session['sessionId']}/cdp?token={session['token']}"
    )
    listed = client.get("/v1/sessions")
    documented(listed, "GET", "/v1/sessions")
    one = client.get(f"/v1/sessions/{session['sessionId']}")
    documented(one, "GET", "/v1/sessions/{id}")
    clock.advance(61)
    expired = client.delete(f"/v1/sessions/{session['sessionId']}")
    documented(expired, "DELETE", "/v1/sessions/{id}")
    assert expired.status_code == 410
    fresh = client.post("/v1/sessions").json()["data"]
    stopped = client.delete(f"/v1/sessions/{fresh['sessionId']}")
    documented(stopped, "DELETE", "/v1/sessions/{id}")
    assert stopped.json()["data"]["status"] == "stopped"
    missing = client.get("/v1/sessions/ses_missing")
    documented(missing, "GET", "/v1/sessions/{id}")
    assert missing.json()["error"]["code"] == "session_not_found"


def test_idempotent_replay_over_http(client: httpx.Client, documented: Documented) -> None:
    headers = {"x-idempotency-key": "batch-1"}
    first = client.post("/v1/read", json={"urls": ["https://example.com/a"]}, headers=headers)
    replay = client.post("/v1/read", content=b"not json at all", headers=headers)
    documented(replay, "POST", "/v1/read")
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert replay.headers["x-request-id"] != first.headers["x-request-id"]
    bad = client.post(
        "/v1/read", json={"url": "https://example.com"}, headers={"x-idempotency-key": ""}
    )
    documented(bad, "POST", "/v1/read")
    assert bad.json()["error"]["details"]["issues"][0]["path"] == "x-idempotency-key"
