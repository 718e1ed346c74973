"""API keys, webhooks, usage history and browser sessions."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Service
from reader_mock.core.errors import ApiError

ExpectError = Callable[[Callable[[], object], str], ApiError]
KEY = DEFAULT_API_KEY
BASE = "http://mock.test:8080"
HOOK = {"url": "https://hooks.example.com/r", "name": "notifier", "events": ["job.completed"]}


# ---------------------------------------------------------------------------- API keys


def test_configured_key_is_listed_without_its_secret(service: Service) -> None:
    keys = service.keys.list(KEY)
    assert len(keys) == 1
    key = keys[0]
    assert re.fullmatch(r"key_[0-9a-f]{16}", key["id"])
    assert key == {
        "id": key["id"],
        "name": "Default key",
        "last4": KEY[-4:],
        "active": True,
        "rateLimit": None,
        "expiresAt": None,
        "lastUsedAt": None,
        "createdAt": "2026-01-01T00:00:00Z",
    }


def test_authenticate_refuses_missing_unknown_and_revoked_keys(
    service: Service, expect_error: ExpectError
) -> None:
    for bad in (None, "", "rdr_unknown", KEY + " "):
        error = expect_error(partial(service.authenticate, bad), "unauthenticated")
        assert error.status == 401
        assert error.message == "Missing or invalid API key"


def test_created_keys_work_at_once_and_revocation_is_immediate(
    service: Service, clock: ManualClock, expect_error: ExpectError
) -> None:
    created = service.keys.create(KEY, {"name": "CI"})
    assert re.fullmatch(r"rdr_[0-9a-f]{32}", created["key"])
    assert created["last4"] == created["key"][-4:]
    assert created["name"] == "CI"
    clock.advance(5)
    assert service.authenticate(created["key"]) is service.authenticate(KEY)
    listed = {key["id"]: key for key in service.keys.list(KEY)}
    assert listed[created["id"]]["lastUsedAt"] == "2026-01-01T00:00:05Z"
    assert "key" not in listed[created["id"]]
    assert service.keys.revoke(created["key"], created["id"]) == {"id": created["id"]}
    expect_error(lambda: service.authenticate(created["key"]), "unauthenticated")
    assert service.keys.revoke(KEY, created["id"]) == {"id": created["id"]}  # again: 200
    listed = {key["id"]: key for key in service.keys.list(KEY)}
    assert listed[created["id"]]["active"] is False


def test_key_defaults_and_limits(
    make_service: Callable[..., Service], expect_error: ExpectError
) -> None:
    service = make_service(max_api_keys=2)
    assert service.keys.create(KEY)["name"] == "API key"
    error = expect_error(lambda: service.keys.create(KEY, {}), "conflict")
    assert error.details == {"limit": 2}
    assert error.message == "Maximum of 2 active API keys per workspace"
    expect_error(lambda: service.keys.revoke(KEY, "key_0000000000000000"), "not_found")
    expect_error(lambda: service.keys.create(KEY, {"name": 5}), "invalid_request")


def test_a_key_of_another_workspace_is_not_found(
    make_service: Callable[..., Service], expect_error: ExpectError
) -> None:
    """The errors page: a 404 for "an API key that doesn't belong to your workspace"."""
    service = make_service(api_keys=("rdr_one", "rdr_two"))
    other_id = service.keys.list("rdr_two")[0]["id"]
    error = expect_error(lambda: service.keys.revoke("rdr_one", other_id), "not_found")
    assert (error.status, error.message) == (404, "API key not found")
    assert service.keys.list("rdr_two")[0]["active"] is True


def test_an_empty_key_name_is_refused_and_creates_no_key(
    service: Service, expect_error: ExpectError
) -> None:
    """A client that sends ``name: ""`` has a bug; naming the key silently would hide it."""
    error = expect_error(lambda: service.keys.create(KEY, {"name": ""}), "invalid_request")
    assert error.status == 400
    assert error.details == {
        "issues": [
            {
                "path": "name",
                "code": "too_small",
                "message": "String must contain at least 1 character(s)",
            }
        ]
    }
    assert len(service.keys.list(KEY)) == 1
    assert service.keys.create(KEY, {"name": " "})["name"] == " "


# ---------------------------------------------------------------------------- webhooks


def test_webhook_lifecycle(service: Service, clock: ManualClock) -> None:
    created = service.webhooks.create(
        KEY, {**HOOK, "secret": "s" * 16, "headers": {"X-Team": "crawlers"}}
    )
    assert re.fullmatch(r"whk_[0-9a-f]{16}", created["id"])
    assert created == {
        "id": created["id"],
        "url": HOOK["url"],
        "name": "notifier",
        "events": ["job.completed"],
        "secret": "s" * 16,
        "headers": {"X-Team": "crawlers"},
        "active": True,
        "deliveryStats": {
            "totalAttempts": 0,
            "failedDeliveries": 0,
            "lastDeliveryAt": None,
            "lastDeliveryStatus": None,
        },
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
    }
    listed = service.webhooks.list(KEY, base_url=BASE)
    assert "secret" not in listed.data[0]
    assert listed.pagination == {"total": 1, "skip": 0, "limit": 20, "hasMore": False}
    clock.advance(30)
    updated = service.webhooks.update(KEY, created["id"], {"active": False, "secret": "t" * 20})
    assert updated["active"] is False
    assert "secret" not in updated
    assert updated["updatedAt"] == "2026-01-01T00:00:30Z"
    assert service.workspaces["ws_1"].webhooks[created["id"]].secret == "t" * 20
    clock.advance(30)
    unchanged = service.webhooks.update(KEY, created["id"], {})
    assert unchanged["updatedAt"] == "2026-01-01T00:00:30Z"
    assert service.webhooks.delete(KEY, created["id"]) == {"id": created["id"]}
    assert service.webhooks.list(KEY, base_url=BASE).data == []


def test_loopback_receivers_are_allowed(service: Service) -> None:
    created = service.webhooks.create(KEY, {**HOOK, "url": "http://127.0.0.1:9999/hook"})
    assert created["url"] == "http://127.0.0.1:9999/hook"
    assert "secret" not in created


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"name": "n", "events": ["e"]}, "url", "required"),
        ({**HOOK, "url": "ftp://hooks.example.com"}, "url", "invalid_string"),
        ({**HOOK, "name": ""}, "name", "too_small"),
        ({**HOOK, "name": "n" * 101}, "name", "too_big"),
        ({**HOOK, "events": []}, "events", "too_small"),
        ({**HOOK, "secret": "short"}, "secret", "too_small"),
        ({**HOOK, "headers": {"X-Reader-Signature": "x"}}, "headers.X-Reader-Signature", "custom"),
        ({**HOOK, "headers": {"content-type": "text/plain"}}, "headers.content-type", "custom"),
        ({**HOOK, "headers": {"Bad Name": "x"}}, "headers.Bad Name", "invalid_string"),
        ({**HOOK, "headers": {"X-Ok": "line\nbreak"}}, "headers.X-Ok", "invalid_string"),
    ],
)
def test_bad_webhook_bodies(
    service: Service, expect_error: ExpectError, body: dict[str, Any], path: str, code: str
) -> None:
    error = expect_error(lambda: service.webhooks.create(KEY, body), "invalid_request")
    assert error.details is not None
    assert (path, code) in [(entry["path"], entry["code"]) for entry in error.details["issues"]]
    assert service.workspaces["ws_1"].webhooks == {}


def test_webhook_limit_and_unknown_ids(
    make_service: Callable[..., Service], expect_error: ExpectError
) -> None:
    service = make_service(max_webhooks=2)
    for _ in range(2):
        service.webhooks.create(KEY, HOOK)
    error = expect_error(lambda: service.webhooks.create(KEY, HOOK), "conflict")
    assert error.details == {"limit": 2}
    assert error.message == "Maximum of 2 webhooks per workspace"
    for call in (
        lambda: service.webhooks.update(KEY, "whk_0000000000000000", {}),
        lambda: service.webhooks.delete(KEY, "whk_0000000000000000"),
    ):
        assert expect_error(call, "not_found").message == "Webhook not found"


def test_update_validates_before_looking_up(service: Service, expect_error: ExpectError) -> None:
    expect_error(
        lambda: service.webhooks.update(KEY, "whk_missing", {"name": ""}), "invalid_request"
    )


def test_webhook_list_pagination(service: Service) -> None:
    ids = [service.webhooks.create(KEY, HOOK)["id"] for _ in range(5)]
    page = service.webhooks.list(KEY, skip=1, limit=2, base_url=BASE)
    assert [hook["id"] for hook in page.data] == ids[1:3]  # oldest first
    assert page.pagination == {
        "total": 5,
        "skip": 1,
        "limit": 2,
        "hasMore": True,
        "next": f"{BASE}/v1/webhooks?skip=3&limit=2",
    }


# ---------------------------------------------------------------------------- usage history


def test_usage_history_is_newest_first_and_paginated(service: Service, clock: ManualClock) -> None:
    for index in range(4):
        service.reads.submit(KEY, {"url": f"https://example.com/{index}"})
        clock.advance(1)
    page = service.usage.history(KEY, skip=0, limit=3, base_url=BASE)
    assert [entry["url"] for entry in page.data] == [
        "https://example.com/3",
        "https://example.com/2",
        "https://example.com/1",
    ]
    assert page.pagination["next"] == f"{BASE}/v1/usage/history?skip=3&limit=3"
    entry = page.data[0]
    assert re.fullmatch(r"use_[0-9a-f]{16}", entry["id"])
    assert entry == {
        "id": entry["id"],
        "url": "https://example.com/3",
        "duration": entry["duration"],
        "status": "success",
        "cached": False,
        "proxyMode": "standard",
        "credits": 1,
        "error": None,
        "createdAt": "2026-01-01T00:00:03Z",
    }


# ---------------------------------------------------------------------------- sessions


def test_session_lifecycle(service: Service, clock: ManualClock) -> None:
    created = service.sessions.create(KEY, None, base_url="http://127.0.0.1:8080")
    session_id = created["sessionId"]
    assert re.fullmatch(
        r"ses_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", session_id
    )
    assert created["wsEndpoint"] == (
        f"ws://127.0.0.1:8080/v1/sessions/{session_id}/cdp?token={created['token']}"
    )
    assert created["status"] == "active"
    assert created["expiresAt"] == "2026-01-01T01:00:00Z"
    assert service.sessions.list(KEY) == [created]
    assert service.sessions.get(KEY, session_id) == created
    clock.advance(61)
    summary = service.sessions.stop(KEY, session_id)
    assert summary == {
        "sessionId": session_id,
        "status": "stopped",
        "durationMs": 61_000,
        "creditsCharged": 2,
    }
    assert service.sessions.get(KEY, session_id)["status"] == "stopped"
    assert service.sessions.list(KEY) == []
    assert service.usage.credits(KEY)["used"] == 2


def test_stopping_a_stopped_session_is_410_session_expired_and_charges_nothing(
    service: Service, clock: ManualClock, expect_error: ExpectError
) -> None:
    """Upstream lists ``410 session_expired`` for a session "already stopped or expired"."""
    session_id = service.sessions.create(KEY, None, base_url=BASE)["sessionId"]
    clock.advance(30)
    service.sessions.stop(KEY, session_id)
    clock.advance(600)
    error = expect_error(lambda: service.sessions.stop(KEY, session_id), "session_expired")
    assert (error.status, error.message) == (410, "Session is already stopped")
    assert service.sessions.get(KEY, session_id)["status"] == "stopped"
    assert service.usage.credits(KEY)["used"] == 1


def test_sessions_expire_on_the_clock(
    service: Service, clock: ManualClock, expect_error: ExpectError
) -> None:
    created = service.sessions.create(KEY, {"maxDurationMs": 60_000}, base_url="https://m.test")
    assert created["wsEndpoint"].startswith("wss://m.test/")
    clock.advance(59.999)
    assert service.sessions.get(KEY, created["sessionId"])["status"] == "active"
    clock.advance(0.001)
    assert service.sessions.get(KEY, created["sessionId"])["status"] == "expired"
    assert service.sessions.list(KEY) == []
    error = expect_error(
        lambda: service.sessions.stop(KEY, created["sessionId"]), "session_expired"
    )
    assert error.status == 410


def test_an_expired_session_bills_its_whole_duration(service: Service, clock: ManualClock) -> None:
    service.sessions.create(KEY, {"maxDurationMs": 150_000}, base_url=BASE)
    clock.advance(200)
    assert service.usage.credits(KEY)["used"] == 3


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"maxDurationMs": 59_999}, "too_small"),
        ({"maxDurationMs": 3_600_001}, "too_big"),
        ({"maxDurationMs": "600000"}, "invalid_type"),
        ([], "invalid_type"),
    ],
)
def test_bad_session_bodies(
    service: Service, expect_error: ExpectError, body: object, code: str
) -> None:
    error = expect_error(
        lambda: service.sessions.create(KEY, body, base_url=BASE), "invalid_request"
    )
    assert error.details is not None
    assert error.details["issues"][0]["code"] == code
    assert service.usage.credits(KEY)["used"] == 0


def test_session_needs_a_credit_and_unknown_ids_are_not_found(
    make_service: Callable[..., Service], expect_error: ExpectError
) -> None:
    service = make_service(monthly_credits=0)
    error = expect_error(
        lambda: service.sessions.create(KEY, None, base_url=BASE), "insufficient_credits"
    )
    assert error.details is not None and error.details["required"] == 1
    for call in (
        lambda: service.sessions.get(KEY, "ses_missing"),
        lambda: service.sessions.stop(KEY, "ses_missing"),
    ):
        error = expect_error(call, "session_not_found")
        assert (error.status, error.message) == (404, "Session not found")
