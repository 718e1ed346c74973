"""The ``reader_mock_webhooks`` fixture, and delivery faults scripted through the control API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from reader_mock.contract import check_webhook_payload
from reader_mock.core import ManualClock
from reader_mock.server import MockServer
from reader_mock.webhook_receiver import WebhookReceiver
from reader_mock.webhooks import verify

EVENTS = ["job.started", "job.page", "job.completed"]


@pytest.fixture
def api(reader_mock: MockServer) -> Iterator[httpx.Client]:
    headers = {"x-api-key": reader_mock.api_key or ""}
    with httpx.Client(base_url=reader_mock.url, headers=headers, timeout=5) as client:
        yield client


def subscribe(api: httpx.Client, receiver: WebhookReceiver, events: list[str] = EVENTS) -> str:
    body = {"url": receiver.url, "name": "r", "events": events, "secret": receiver.secret}
    response = api.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    hook_id: str = response.json()["data"]["id"]
    return hook_id


def run_job(api: httpx.Client, clock: ManualClock, pages: int = 3) -> str:
    urls = [f"https://example.com/{n}" for n in range(pages)]
    job_id: str = api.post("/v1/read", json={"urls": urls}).json()["data"]["id"]
    clock.advance(30)
    return job_id


def fault(api: httpx.Client, **body: object) -> dict[str, object]:
    response = api.post("/_mock/webhooks/faults", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()["data"]
    return data


def test_a_receiver_stops_at_once() -> None:
    """``stop()`` ends the receiver without waiting out a poll: a test's teardown costs nothing.

    Each stop comes right after its start, while the serving thread waits for its first poll;
    the standard library's half-second poll would make the three take about 1.5 s."""
    started = time.monotonic()
    for _ in range(3):
        with WebhookReceiver() as receiver:
            assert receiver.url.startswith("http://127.0.0.1:")
    assert time.monotonic() - started < 0.75


def test_the_fixture_records_verifies_and_asserts(
    reader_mock_webhooks: WebhookReceiver, api: httpx.Client, reader_mock_clock: ManualClock
) -> None:
    subscribe(api, reader_mock_webhooks)
    reader_mock_webhooks.respond(500, times=2)
    run_job(api, reader_mock_clock, pages=2)
    reader_mock_webhooks.wait_for(2)  # job.started refused, then job.page refused
    reader_mock_clock.advance(1)
    received = reader_mock_webhooks.wait_for(6)
    reader_mock_webhooks.assert_events(["job.started", "job.page", "job.page", "job.completed"])
    reader_mock_webhooks.assert_retried(1)
    reader_mock_webhooks.assert_signatures_valid()
    assert [d.status for d in received] == [500, 500, 200, 200, 200, 200]
    for delivery in received:
        assert check_webhook_payload(delivery.event or "", delivery.json()) == []
    with pytest.raises(AssertionError, match="expected"):
        reader_mock_webhooks.assert_events(["job.started"])
    with pytest.raises(AssertionError, match="retried 2 times"):
        reader_mock_webhooks.assert_retried(2)


def test_duplicate_sends_one_delivery_id_twice(
    reader_mock_webhooks: WebhookReceiver, api: httpx.Client, reader_mock_clock: ManualClock
) -> None:
    subscribe(api, reader_mock_webhooks, ["job.completed"])
    assert fault(api, kind="duplicate", event="job.completed")["remaining"] == 1
    run_job(api, reader_mock_clock)
    first, second = reader_mock_webhooks.wait_for(2)
    assert first.delivery_id == second.delivery_id and first.body == second.body
    reader_mock_webhooks.assert_events(["job.completed", "job.completed"], unique=False)
    reader_mock_webhooks.assert_signatures_valid()
    assert api.get("/_mock/webhooks/faults").json()["data"] == []


def test_out_of_order_lets_the_next_event_pass(
    reader_mock_webhooks: WebhookReceiver, api: httpx.Client, reader_mock_clock: ManualClock
) -> None:
    subscribe(api, reader_mock_webhooks)
    fault(api, kind="out_of_order", event="job.started")
    run_job(api, reader_mock_clock, pages=1)
    reader_mock_webhooks.wait_for(3)
    reader_mock_webhooks.assert_events(["job.page", "job.started", "job.completed"])


def test_delay_starts_a_delivery_later_on_the_clock(
    reader_mock_webhooks: WebhookReceiver, api: httpx.Client, reader_mock_clock: ManualClock
) -> None:
    subscribe(api, reader_mock_webhooks, ["job.completed"])
    fault(api, kind="delay", seconds=60)
    run_job(api, reader_mock_clock)
    attempts = api.get("/_mock/webhooks/deliveries").json()["data"]["attempts"]
    assert attempts == [] and reader_mock_webhooks.deliveries == []
    reader_mock_clock.advance(60)
    reader_mock_webhooks.wait_for(1)
    attempts = api.get("/_mock/webhooks/deliveries").json()["data"]["attempts"]
    assert attempts[0]["faults"] == ["delay"]


def test_a_wrong_signature_fails_verification_and_the_retry_is_genuine(
    reader_mock_webhooks: WebhookReceiver, api: httpx.Client, reader_mock_clock: ManualClock
) -> None:
    subscribe(api, reader_mock_webhooks, ["job.completed"])
    fault(api, kind="wrong_signature")
    reader_mock_webhooks.respond(401)  # what a receiver answers a bad signature
    run_job(api, reader_mock_clock)
    reader_mock_webhooks.wait_for(1)
    reader_mock_clock.advance(1)
    bad, good = reader_mock_webhooks.wait_for(2)
    assert bad.delivery_id == good.delivery_id
    assert any("does not match" in p for p in bad.signature_problems)
    assert good.signature_problems == ()
    with pytest.raises(AssertionError, match="invalid webhook signatures"):
        reader_mock_webhooks.assert_signatures_valid()


def test_a_stale_timestamp_is_signed_but_outside_the_window(
    reader_mock_webhooks: WebhookReceiver, api: httpx.Client, reader_mock_clock: ManualClock
) -> None:
    subscribe(api, reader_mock_webhooks, ["job.completed"])
    fault(api, kind="stale_timestamp", seconds=301)
    run_job(api, reader_mock_clock)
    (stale,) = reader_mock_webhooks.wait_for(1)
    secret = reader_mock_webhooks.secret or ""
    now = reader_mock_clock.now()
    assert int(stale.headers["x-reader-timestamp"]) == int(now) - 301
    assert not verify(secret, stale.headers, stale.body, now=now)
    assert verify(secret, stale.headers, stale.body, tolerance=302, now=now)


def test_the_journal_of_attempts(
    reader_mock_webhooks: WebhookReceiver, api: httpx.Client, reader_mock_clock: ManualClock
) -> None:
    hook_id = subscribe(api, reader_mock_webhooks)
    job_id = run_job(api, reader_mock_clock, pages=1)
    received = reader_mock_webhooks.wait_for(3)
    data = api.get("/_mock/webhooks/deliveries").json()["data"]
    assert data["dropped"] == 0
    rows = data["attempts"]
    assert [r["event"] for r in rows] == ["job.started", "job.page", "job.completed"]
    for row, delivery in zip(rows, received, strict=True):
        assert row["deliveryId"] == delivery.delivery_id
        assert row["signature"] == delivery.headers["x-reader-signature"]
        assert row["timestamp"] == delivery.headers["x-reader-timestamp"]
        url = reader_mock_webhooks.url
        assert (row["webhookId"], row["jobId"], row["url"]) == (hook_id, job_id, url)
        assert (row["status"], row["outcome"], row["final"], row["attempt"]) == (
            200,
            "succeeded",
            True,
            1,
        )
    page = api.get("/_mock/webhooks/deliveries", params={"event": "job.page", "limit": 1})
    assert [r["event"] for r in page.json()["data"]["attempts"]] == ["job.page"]
    assert api.get("/_mock/webhooks/deliveries", params={"jobId": "job_x"}).json()["data"] == {
        "attempts": [],
        "dropped": 0,
    }
    api.post("/_mock/reset").raise_for_status()
    assert api.get("/_mock/webhooks/deliveries").json()["data"]["attempts"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/_mock/webhooks/faults", {}, "kind"),
        ("POST", "/_mock/webhooks/faults", {"kind": "explode"}, "kind"),
        ("POST", "/_mock/webhooks/faults", {"kind": "delay", "event": "job:progress"}, "event"),
        ("POST", "/_mock/webhooks/faults", {"kind": "delay", "count": 0}, "count"),
        ("POST", "/_mock/webhooks/faults", {"kind": "delay", "seconds": -1}, "seconds"),
        ("POST", "/_mock/webhooks/faults", {"kind": "delay", "seconds": "5"}, "seconds"),
        ("POST", "/_mock/webhooks/faults", {"kind": "delay", "seconds": None}, "seconds"),
        ("POST", "/_mock/webhooks/faults", {"kind": "delay", "event": None}, "event"),
        ("POST", "/_mock/webhooks/faults", {"kind": "stale_timestamp", "seconds": 300}, "seconds"),
        ("GET", "/_mock/webhooks/deliveries?limit=0", None, "limit"),
        ("GET", "/_mock/webhooks/deliveries?limit=x", None, "limit"),
        ("GET", "/_mock/webhooks/deliveries?event=nope", None, "event"),
    ],
)
def test_bad_control_input_is_a_clear_400(
    reader_mock: MockServer, method: str, path: str, body: object, field: str
) -> None:
    response = httpx.request(method, reader_mock.url + path, json=body, timeout=5)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [issue["path"] for issue in error["details"]["issues"]] == [field]


def test_bad_json_body_is_a_clear_400(reader_mock: MockServer) -> None:
    response = httpx.post(
        reader_mock.url + "/_mock/webhooks/faults",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["issues"][0]["code"] == "invalid_json"


def test_faults_are_listed_and_cleared(reader_mock: MockServer, api: httpx.Client) -> None:
    made = fault(api, kind="delay", event="credit.low", count=3, seconds=2.5)
    listed = api.get("/_mock/webhooks/faults").json()["data"]
    assert listed == [made] and made["seconds"] == 2.5 and made["remaining"] == 3
    assert api.delete("/_mock/webhooks/faults").json()["data"] == []
    assert api.get("/_mock/webhooks/faults").json()["data"] == []
    assert json.loads(json.dumps(made))["kind"] == "delay"
