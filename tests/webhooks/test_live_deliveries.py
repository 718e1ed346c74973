"""Deliveries over real sockets, to receivers written in the tests (not the package's fixture)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from webhook_receivers import ALL_EVENTS, OwnReceiver, signature_by_hand, wait_answered

from reader_mock.contract import check_webhook_headers, check_webhook_payload
from reader_mock.core import ManualClock, Settings
from reader_mock.server import MockServer

SECRET = "whsec-tests-0123456789"


def subscribe(api: httpx.Client, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    body = {"url": url, "name": "test", "events": events, **extra}
    response = api.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def start(server: MockServer, api: httpx.Client, timeline: str, **extra: Any) -> str:
    server.script_next_job(timeline)
    urls = {
        "happy-batch": ["https://example.com/a", "https://example.com/b", "https://example.com/c"],
        "partial-failure": [
            "https://example.com/a",
            "https://fail.example/b",
            "https://example.com/c",
        ],
        "fatal-failure": [f"https://example.com/{c}" for c in "abcd"],
    }[timeline]
    response = api.post("/v1/read", json={"urls": urls, **extra})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


def check_delivery(hit: Any, secret: str | None, now: float) -> None:
    """The published scheme, checked by hand, and the AsyncAPI message of the event."""
    event = hit.headers["x-reader-event"]
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["user-agent"] == "Reader-Webhook/1.0"
    assert check_webhook_payload(event, json.loads(hit.body)) == []
    canonical = {
        "Content-Type": hit.headers["content-type"],
        "User-Agent": hit.headers["user-agent"],
        "X-Reader-Event": event,
        "X-Reader-Delivery": hit.headers["x-reader-delivery"],
    }
    if secret is None:
        assert "x-reader-signature" not in hit.headers
        assert "x-reader-timestamp" not in hit.headers
    else:
        stamp = hit.headers["x-reader-timestamp"]
        assert abs(now - int(stamp)) <= 300
        assert hit.headers["x-reader-signature"] == signature_by_hand(secret, stamp, hit.body)
        canonical["X-Reader-Signature"] = hit.headers["x-reader-signature"]
        canonical["X-Reader-Timestamp"] = stamp
    assert check_webhook_headers(event, canonical) == []


def test_job_and_session_events_arrive_signed_and_valid(
    server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    subscribe(api, own.url, ALL_EVENTS, secret=SECRET, headers={"X-Tenant": "t-1"})
    created = api.post("/v1/sessions", json={}).json()["data"]
    api.delete(f"/v1/sessions/{created['sessionId']}").raise_for_status()
    job_id = start(server, api, "happy-batch")
    clock.advance(5)
    hits = own.wait(7)
    wait_answered(server, 7)
    assert [h.headers["x-reader-event"] for h in hits] == [
        "session.created",
        "session.stopped",
        "job.started",
        "job.page",
        "job.page",
        "job.page",
        "job.completed",
    ]
    for hit in hits:
        check_delivery(hit, SECRET, clock.now())
        assert hit.headers["x-tenant"] == "t-1"
        assert hit.path == "/hook"
    assert len({h.headers["x-reader-delivery"] for h in hits}) == 7
    bodies = [json.loads(h.body) for h in hits]
    assert bodies[0]["sessionId"] == created["sessionId"]
    assert bodies[1]["status"] == "stopped"
    job = api.get(f"/v1/jobs/{job_id}").json()["data"]
    assert bodies[2] == {"jobId": job_id, "status": "processing", "completed": 0, "total": 3}
    assert [b["url"] for b in bodies[3:6]] == [r["url"] for r in job["results"]]
    assert bodies[3] == {"jobId": job_id, **job["results"][0]}
    assert bodies[6] == {
        "jobId": job_id,
        "status": "completed",
        "completed": 3,
        "total": 3,
        "creditsUsed": job["creditsUsed"],
    }


def test_unsigned_deliveries_and_failed_pages_and_jobs(
    server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    subscribe(api, own.url, ["job.page", "job.failed", "job.completed"])
    partial = start(server, api, "partial-failure")
    clock.advance(5)
    fatal = start(server, api, "fatal-failure")
    clock.advance(6)
    hits = own.wait(7)
    for hit in hits:
        check_delivery(hit, None, clock.now())
    seen = [(h.headers["x-reader-event"], json.loads(h.body)["jobId"]) for h in hits]
    assert seen == [
        ("job.page", partial),
        ("job.page", partial),
        ("job.page", partial),
        ("job.completed", partial),
        ("job.page", fatal),
        ("job.page", fatal),
        ("job.failed", fatal),
    ]
    failed_page = json.loads(hits[1].body)
    assert failed_page["url"] == "https://fail.example/b"
    assert "upstream error" in failed_page["error"]
    assert json.loads(hits[6].body)["error"] == "Job failed: browser pool crashed"


def test_a_retried_job_fires_its_own_job_completed(
    server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    subscribe(api, own.url, ["job.started", "job.completed"])
    job_id = start(server, api, "partial-failure")
    clock.advance(5)
    own.wait(2)
    api.post(f"/v1/jobs/{job_id}/retry").raise_for_status()
    clock.advance(10)
    hits = own.wait(4)
    events = [h.headers["x-reader-event"] for h in hits]
    assert events == ["job.started", "job.completed", "job.started", "job.completed"]
    assert hits[1].headers["x-reader-delivery"] != hits[3].headers["x-reader-delivery"]
    assert {json.loads(h.body)["jobId"] for h in hits} == {job_id}


def test_the_inline_webhook_gets_its_job_only(
    server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    inline = {"url": own.url + "/inline", "secret": SECRET}
    mine = start(server, api, "happy-batch", webhook=inline)
    start(server, api, "fatal-failure")
    explicit = {"url": own.url + "/pages", "events": ["job.page"]}
    paged = start(server, api, "happy-batch", webhook=explicit)
    clock.advance(10)
    hits = own.wait(4)
    wait_answered(server, 4)
    by_path = {(h.path, h.headers["x-reader-event"], json.loads(h.body)["jobId"]) for h in hits}
    assert len(hits) == 4
    assert by_path == {
        ("/hook/inline", "job.completed", mine),
        ("/hook/pages", "job.page", paged),
    }
    for hit in hits:
        check_delivery(hit, SECRET if hit.path == "/hook/inline" else None, clock.now())
    attempts = server.service.deliveries.attempts(job_id=mine)
    assert [a["webhookId"] for a in attempts] == [None]


def test_credit_low_fires_once_when_the_balance_drops_below_a_tenth(own: OwnReceiver) -> None:
    clock = ManualClock()
    with (
        MockServer(clock=clock, settings=Settings(monthly_credits=30)) as server,
        httpx.Client(base_url=server.url, headers={"x-api-key": server.api_key or ""}) as api,
    ):
        subscribe(api, own.url, ["credit.low"], secret=SECRET)
        for _ in range(8):  # 8 x 3 pages: the balance goes 30 -> 6, below 10 % only at the end
            start(server, api, "happy-batch")
            clock.advance(5)
        api.get("/v1/usage/credits").raise_for_status()  # settles the workspace
        assert server.service.deliveries.attempts() == []
        assert server.service.deliveries.next_due() is None
        for _ in range(2):  # 6 -> 3 (not below the threshold of 3) -> 0
            start(server, api, "happy-batch")
            clock.advance(5)
        hits = own.wait(1)
        wait_answered(server, 1)
        assert len(own.hits) == 1
        check_delivery(hits[0], SECRET, clock.now())
        body = json.loads(hits[0].body)
        assert body["threshold"] == 3 and body["limit"] == 30 and body["balance"] == 2
        assert server.errors == []


def test_refused_twice_then_accepted_three_attempts_one_id_on_the_clock(
    server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    hook = subscribe(api, own.url, ["job.completed"], secret=SECRET)
    own.answers = [500, 503]
    start(server, api, "happy-batch")
    clock.advance(5)
    own.wait(1)
    wait_answered(server, 1)
    failed_at = clock.now()
    assert server.service.deliveries.next_due() == failed_at + 1
    clock.advance(0.999)
    time.sleep(0.05)
    assert len(own.hits) == 1  # not before its second
    clock.advance(0.001)
    own.wait(2)
    wait_answered(server, 2)
    assert server.service.deliveries.next_due() == failed_at + 5
    clock.advance(3.999)
    time.sleep(0.05)
    assert len(own.hits) == 2
    clock.advance(0.001)
    hits = own.wait(3)
    attempts = wait_answered(server, 3)
    assert len({h.headers["x-reader-delivery"] for h in hits}) == 1
    stamps = [int(h.headers["x-reader-timestamp"]) for h in hits]
    assert stamps == [int(failed_at), int(failed_at + 1), int(failed_at + 5)]
    for hit in hits:
        check_delivery(hit, SECRET, int(hit.headers["x-reader-timestamp"]))
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 500, "failed"),
        (2, 503, "failed"),
        (3, 200, "succeeded"),
    ]
    assert [a["signature"] for a in attempts] == [h.headers["x-reader-signature"] for h in hits]
    stats = api.get("/v1/webhooks").json()["data"][0]["deliveryStats"]
    assert hook["deliveryStats"]["totalAttempts"] == 0
    assert stats == {
        "totalAttempts": 3,
        "failedDeliveries": 0,
        "lastDeliveryAt": attempts[-1]["at"],
        "lastDeliveryStatus": 200,
    }


def test_delivery_stats_match_what_the_receiver_saw(
    server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    subscribe(api, own.url, ["job.started", "job.completed"])
    own.answers = [404] * 5  # job.started fails for good, job.completed on its third attempt
    start(server, api, "happy-batch")
    clock.advance(5)
    own.wait(2)
    wait_answered(server, 2)
    clock.advance(1)
    own.wait(4)
    wait_answered(server, 4)
    clock.advance(4)
    hits = own.wait(6)
    attempts = wait_answered(server, 6)
    by_delivery: dict[str, list[int]] = {}
    for hit in hits:
        by_delivery.setdefault(hit.headers["x-reader-delivery"], []).append(hit.status)
    failed = sum(1 for seen in by_delivery.values() if all(s >= 300 for s in seen))
    stats = api.get("/v1/webhooks").json()["data"][0]["deliveryStats"]
    assert stats == {
        "totalAttempts": len(hits),
        "failedDeliveries": failed,
        "lastDeliveryAt": attempts[-1]["at"],
        "lastDeliveryStatus": hits[-1].status,
    }
    assert (len(hits), failed, hits[-1].status) == (6, 1, 200)
    assert [len(seen) for seen in by_delivery.values()] == [3, 3]


def test_an_inactive_or_deleted_subscription_gets_nothing(
    server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    active = subscribe(api, own.url + "/on", ["job.started", "job.completed"])
    off = subscribe(api, own.url + "/off", ["job.started", "job.completed"])
    gone = subscribe(api, own.url + "/gone", ["job.started", "job.completed"])
    api.patch(f"/v1/webhooks/{off['id']}", json={"active": False}).raise_for_status()
    api.delete(f"/v1/webhooks/{gone['id']}").raise_for_status()
    start(server, api, "happy-batch")
    clock.advance(5)
    hits = own.wait(2)
    wait_answered(server, 2)
    assert {h.path for h in hits} == {"/hook/on"}
    assert len(own.hits) == 2
    listed = {w["id"]: w for w in api.get("/v1/webhooks").json()["data"]}
    assert listed[off["id"]]["deliveryStats"]["totalAttempts"] == 0
    assert listed[active["id"]]["deliveryStats"]["totalAttempts"] == 2


@pytest.mark.parametrize("how", ["deactivate", "delete"])
def test_stopping_a_subscription_stops_its_pending_attempts(
    how: str, server: MockServer, api: httpx.Client, clock: ManualClock, own: OwnReceiver
) -> None:
    hook = subscribe(api, own.url, ["job.completed"])
    own.answers = [500]
    start(server, api, "happy-batch")
    clock.advance(5)
    own.wait(1)
    wait_answered(server, 1)
    assert server.service.deliveries.next_due() is not None
    if how == "delete":
        api.delete(f"/v1/webhooks/{hook['id']}").raise_for_status()
    else:
        api.patch(f"/v1/webhooks/{hook['id']}", json={"active": False}).raise_for_status()
    assert server.service.deliveries.next_due() is None
    clock.advance(10)
    time.sleep(0.05)
    assert len(own.hits) == 1
    if how == "deactivate":  # re-enabling keeps the secret, and new events flow again
        api.patch(f"/v1/webhooks/{hook['id']}", json={"active": True}).raise_for_status()
        start(server, api, "happy-batch")
        clock.advance(5)
        assert own.wait(2)[1].headers["x-reader-event"] == "job.completed"


def _page_latencies(server: MockServer, api: httpx.Client, clock: ManualClock) -> list[float]:
    """Real seconds from a clock move to the page it releases, on an open per-job stream."""
    job_id = start(server, api, "happy-batch")
    latencies = []
    with api.stream("GET", f"/v1/jobs/{job_id}/stream", timeout=5) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: progress"
        clock.advance(0.5)  # processing
        for _ in range(3):
            began = time.perf_counter()
            clock.advance(1)
            while next(lines) != "event: page":
                pass
            latencies.append(time.perf_counter() - began)
    return latencies


def test_a_receiver_that_never_answers_does_not_slow_a_stream(
    server: MockServer, api: httpx.Client, clock: ManualClock, dead: Any
) -> None:
    baseline = [t for _ in range(2) for t in _page_latencies(server, api, clock)]
    for index in range(10):
        subscribe(api, f"{dead.url}/{index}", ["job.completed"], secret=SECRET)
    start(server, api, "happy-batch")
    clock.advance(5)
    api.get("/v1/webhooks").raise_for_status()
    deadline = time.monotonic() + 5
    while len(server.service.deliveries.attempts()) < 10:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    hung = [t for _ in range(2) for t in _page_latencies(server, api, clock)]
    attempts = server.service.deliveries.attempts()
    assert len(attempts) == 10 and {a["outcome"] for a in attempts} == {"sending"}
    baseline.sort()
    hung.sort()
    slower = hung[len(hung) // 2] - baseline[len(baseline) // 2]
    assert slower < 0.010, (baseline, hung)
    clock.advance(10)  # the timeout on the clock ends the attempts; the next deliveries go
    done = wait_answered(server, 10)
    assert {a["error"] for a in done} == {"no answer within 10 s of clock time"}
    deadline = time.monotonic() + 5
    while len(server.service.deliveries.attempts()) < 20:  # the hung jobs' job.completed
        assert time.monotonic() < deadline
        time.sleep(0.002)
