"""Decisions on contradictions of the upstream documentation, pinned over HTTP.

Each test names the contradiction it pins in its docstring; docs/behaviour.md maps every
contradiction to its decision and its test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reader_mock.contract import load_openapi
from reader_mock.core import DEFAULT_API_KEY, ManualClock

KEY = DEFAULT_API_KEY
DOCS = "https://reader.dev/docs/home/concepts/errors#"
HOOK = {"url": "https://hooks.example.com/r", "name": "n", "events": ["job.completed"]}
JOB_SUMMARY_KEYS = {"id", "status", "mode", "total", "completed", "creditsUsed", "createdAt"}


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


def test_webhooks_have_no_single_get_and_never_show_a_secret_after_create(
    client: httpx.Client,
) -> None:
    """#11: "list/get responses" strip the secret, but upstream has no single-webhook GET."""
    created = client.post("/v1/webhooks", json={**HOOK, "secret": "s" * 16})
    assert created.status_code == 201
    webhook = created.json()["data"]
    assert webhook["secret"] == "s" * 16
    single = client.get(f"/v1/webhooks/{webhook['id']}")
    assert single.status_code == 405
    assert single.headers["allow"] == "DELETE, OPTIONS, PATCH"
    listed = client.get("/v1/webhooks").json()["data"]
    assert [w["id"] for w in listed] == [webhook["id"]]
    assert "secret" not in listed[0]
    patched = client.patch(f"/v1/webhooks/{webhook['id']}", json={"secret": "t" * 16})
    assert patched.status_code == 200
    assert "secret" not in patched.json()["data"]


def test_every_error_carries_docs_url_concurrency_limited_included(
    start_server: Callable[..., Any],
) -> None:
    """#14: the concurrency_limited example has no docsUrl; the schema requires it. It is sent."""
    server = start_server(max_concurrent_jobs=1)
    with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=10) as client:
        assert client.post("/v1/read", json={"urls": ["https://example.com/a"]}).status_code == 201
        refused = client.post("/v1/read", json={"urls": ["https://example.com/b"]})
        error = _error(refused, 429, "concurrency_limited")
        assert error["docsUrl"] == DOCS + "concurrency-limited"
        assert "retry-after" not in refused.headers
        missing = _error(client.get("/v1/jobs/job_missing"), 404, "not_found")
        assert missing["docsUrl"] == DOCS + "not-found"


def test_session_codes_outside_the_catalog_and_no_code_less_403(
    client: httpx.Client, clock: ManualClock
) -> None:
    """#15: session_not_found and session_expired exist beside the 11 stable codes, with a
    docsUrl each; keys have no permissions, so the auth page's code-less 403 never happens."""
    missing = _error(client.get("/v1/sessions/ses_missing"), 404, "session_not_found")
    assert missing["docsUrl"] == DOCS + "session-not-found"
    session = client.post("/v1/sessions", json={"maxDurationMs": 60_000}).json()["data"]
    clock.advance(60)
    expired = _error(client.delete(f"/v1/sessions/{session['sessionId']}"), 410, "session_expired")
    assert (expired["message"], expired["docsUrl"]) == (
        "Session has expired",
        DOCS + "session-expired",
    )
    codes = load_openapi()["components"]["schemas"]["ErrorCode"]["enum"]
    assert len(codes) == 13 and codes[-2:] == ["session_not_found", "session_expired"]
    # A new key can do everything the first one can: there is no 403 without a code.
    other = client.post("/v1/api-keys", json={"name": "second"}).json()["data"]["key"]
    for method, path in (
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/webhooks"),
        ("GET", "/v1/usage/credits"),
    ):
        assert client.request(method, path, headers={"x-api-key": other}).status_code == 200


@pytest.mark.parametrize(
    ("field", "bad", "code"),
    [
        ("batchConcurrency", 21, "too_big"),
        ("batchConcurrency", 0, "too_small"),
        ("maxConcurrency", 0, "too_small"),
        ("maxConcurrency", "4", "invalid_type"),
    ],
)
def test_both_concurrency_knobs_are_validated(
    client: httpx.Client, field: str, bad: object, code: str
) -> None:
    """#17: batchConcurrency (1-20, in the OpenAPI) and maxConcurrency (>= 1, current generation)
    are both accepted and validated."""
    refused = client.post("/v1/read", json={"urls": ["https://example.com/a"], field: bad})
    issues = _error(refused, 400, "invalid_request")["details"]["issues"]
    assert [(issue["path"], issue["code"]) for issue in issues] == [(field, code)]


def test_concurrency_knobs_change_no_result(client: httpx.Client, clock: ManualClock) -> None:
    """#17: neither knob changes what a job produces, nor its timing, in the mock."""
    urls = [f"https://example.com/{index}" for index in range(6)]
    jobs = [
        client.post("/v1/read", json={"urls": urls, **extra}).json()["data"]["id"]
        for extra in ({}, {"batchConcurrency": 1}, {"maxConcurrency": 50})
    ]
    clock.advance(2)  # part-way: the three jobs stand at the same point
    midway = [client.get(f"/v1/jobs/{job}").json()["data"]["completed"] for job in jobs]
    assert len(set(midway)) == 1
    clock.advance(60)
    results = [client.get(f"/v1/jobs/{job}").json()["data"]["results"] for job in jobs]
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 6


def test_scrape_results_carry_no_raw_html_and_no_final_url(
    client: httpx.Client, clock: ManualClock
) -> None:
    """#18: rawHtml is "always returned" in prose but in no schema; finalUrl is in SDK types only.
    The mock sends neither: every field it sends is in the schema, and nothing redirects, so
    `url` is the URL as requested."""
    url = "https://Example.com/some/page?q=1"
    scraped = client.post(
        "/v1/read", json={"url": url, "formats": ["markdown", "html", "screenshot"]}
    ).json()["data"]
    assert set(scraped) == {"url", "markdown", "html", "screenshot", "metadata"}
    assert scraped["url"] == url
    job = client.post("/v1/read", json={"urls": [url], "formats": ["html"]}).json()["data"]["id"]
    clock.advance(60)
    entry = client.get(f"/v1/jobs/{job}").json()["data"]["results"][0]
    assert "rawHtml" not in entry and "finalUrl" not in entry
    assert entry["url"] == url


def test_an_idempotency_key_on_other_operations_is_ignored(client: httpx.Client) -> None:
    """#22: idempotency is documented for POST /v1/read only; elsewhere the header is ignored,
    so two creations with one key create two resources."""
    headers = {"x-idempotency-key": "same-key"}
    first = client.post("/v1/webhooks", json=HOOK, headers=headers)
    second = client.post("/v1/webhooks", json=HOOK, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["data"]["id"] != second.json()["data"]["id"]
    keys = [client.post("/v1/api-keys", headers=headers).json()["data"]["id"] for _ in range(2)]
    assert keys[0] != keys[1]


def test_default_jobs_finish_within_the_shorter_sdk_poll_timeout(
    client: httpx.Client, clock: ManualClock
) -> None:
    """#25: the SDKs wait 300 s (Python, JS 0.2) or 600 s (JS 0.3.1) for a job. With the default
    timing, the largest batch and a default crawl end within the shorter one, so either default
    passes; a test that wants a client timeout scripts a job that never ends."""
    urls = [f"https://example.com/{index}" for index in range(1000)]
    batch = client.post("/v1/read", json={"urls": urls}).json()["data"]["id"]
    crawl = client.post("/v1/read", json={"url": "https://example.com", "maxDepth": 2})
    crawl_id = crawl.json()["data"]["id"]
    clock.advance(200)
    assert client.get(f"/v1/jobs/{batch}").json()["data"]["status"] == "processing"
    clock.advance(100)  # 300 s after creation
    for job in (batch, crawl_id):
        assert client.get(f"/v1/jobs/{job}").json()["data"]["status"] == "completed"


def test_a_created_job_is_named_by_data_id_and_never_job_id(client: httpx.Client) -> None:
    """#26: the introduction says a batch "returns a jobId"; the response has data.id."""
    created = client.post("/v1/read", json={"urls": ["https://example.com/a"]})
    assert created.status_code == 201
    data = created.json()["data"]
    assert set(data) == JOB_SUMMARY_KEYS
    assert "jobId" not in created.text
    fetched = client.get(f"/v1/jobs/{data['id']}").json()["data"]
    assert fetched["id"] == data["id"] and "jobId" not in fetched


def test_webhook_event_names_are_stored_unchecked_but_at_least_one_is_needed(
    client: httpx.Client,
) -> None:
    """#30: create needs one event or more, with no enum: an unknown name is stored as given
    (it never fires); an inline webhook may leave `events` out."""
    events = ["job.completed", "job.someday"]
    created = client.post("/v1/webhooks", json={**HOOK, "events": events})
    assert created.status_code == 201
    assert created.json()["data"]["events"] == events
    issues = _error(
        client.post("/v1/webhooks", json={**HOOK, "events": []}), 400, "invalid_request"
    )
    assert [(i["path"], i["code"]) for i in issues["details"]["issues"]] == [
        ("events", "too_small")
    ]
    inline = client.post(
        "/v1/read",
        json={"urls": ["https://example.com/a"], "webhook": {"url": "https://hooks.example.com/i"}},
    )
    assert inline.status_code == 201


def test_both_streams_send_keep_alive_pings(start_server: Callable[..., Any]) -> None:
    """#23: the concept page says both streams ping; the per-job page only through the shared
    schema. Both ping every 30 s of clock time."""
    server = start_server(queue_delay=100)  # the job stays queued: its stream stays open
    clock: ManualClock = server.clock
    with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=5) as client:
        job = client.post("/v1/read", json={"urls": ["https://example.com/a"]}).json()["data"]
        for path in (f"/v1/jobs/{job['id']}/stream", "/v1/events"):
            with client.stream("GET", path) as response:
                lines = response.iter_lines()
                if path.endswith("/stream"):
                    assert next(lines) == "event: progress"  # the snapshot comes first
                    assert next(lines).startswith("data: ")
                    assert next(lines) == ""
                clock.advance(30)
                assert (next(lines), next(lines)) == (": ping", ""), path
