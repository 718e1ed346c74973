"""Requests per minute, concurrent jobs and credits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from reader_mock.core import (
    DEFAULT_API_KEY,
    ManualClock,
    RealClock,
    ScaledClock,
    Service,
    Settings,
)
from reader_mock.core.errors import ApiError
from reader_mock.core.ids import IdSource
from reader_mock.core.limits import CreditLedger, RateWindow, next_month_start
from reader_mock.core.workspace import UsageHistory

ExpectError = Callable[[Callable[[], object], str], ApiError]
KEY = DEFAULT_API_KEY
BASE = "http://mock.test:8080"


# ---------------------------------------------------------------------------- rate window


def test_window_allows_the_limit_then_refuses_with_retry_after(clock: ManualClock) -> None:
    window = RateWindow(limit=3, window_seconds=60)
    start = clock.now()
    for offset in (0.0, 10.0, 20.0):
        window.hit(start + offset)
    with pytest.raises(ApiError) as caught:
        window.hit(start + 32.5)
    error = caught.value
    # The oldest request (at +0) leaves the window at +60: 27.5 s later, rounded up.
    assert error.status == 429
    assert error.details == {"limit": 3, "windowSeconds": 60, "retryAfterSeconds": 28}
    assert error.headers == {"Retry-After": "28"}
    assert error.message == "Rate limit of 3 requests per 60s exceeded. Retry after 28s."


def test_a_refused_request_does_not_count(clock: ManualClock) -> None:
    window = RateWindow(limit=1, window_seconds=60)
    window.hit(0.0)
    for moment in (1.0, 2.0, 59.0):
        with pytest.raises(ApiError):
            window.hit(moment)
    assert window.count(59.0) == 1
    window.hit(60.0)  # the first request left the window exactly at +60
    assert window.count(60.0) == 1


def test_retry_after_is_at_least_one_second() -> None:
    window = RateWindow(limit=1, window_seconds=60)
    window.hit(0.0)
    with pytest.raises(ApiError) as caught:
        window.hit(59.9)
    assert caught.value.details is not None
    assert caught.value.details["retryAfterSeconds"] == 1


def test_service_rate_limit_is_per_workspace_and_on_the_clock(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    service = make_service(requests_per_minute=2, api_keys=("rdr_one", "rdr_two"))
    one = service.authenticate("rdr_one")
    two = service.authenticate("rdr_two")
    service.check_rate_limit(one)
    clock.advance(15)
    service.check_rate_limit(one)
    error = expect_error(lambda: service.check_rate_limit(one), "rate_limited")
    assert error.headers["Retry-After"] == "45"
    service.check_rate_limit(two)  # another workspace has its own window
    clock.advance(45)
    service.check_rate_limit(one)


def test_under_a_scaled_clock_the_waits_are_real_seconds_rounded_up() -> None:
    """At 20x, 59 clock seconds pass in 2.95 real seconds: a sleeping client needs 3, not 59."""
    clock = ScaledClock(20, start=0.0)
    window = RateWindow(limit=1, window_seconds=60)
    window.hit(0.0, clock.real_seconds)
    with pytest.raises(ApiError) as caught:
        window.hit(1.0, clock.real_seconds)
    error = caught.value
    assert error.details == {"limit": 1, "windowSeconds": 3, "retryAfterSeconds": 3}
    assert error.headers == {"Retry-After": "3"}
    assert error.message == "Rate limit of 1 requests per 3s exceeded. Retry after 3s."
    clock.set_speed(0.5)  # slower than real time: the wait grows
    with pytest.raises(ApiError) as caught:
        window.hit(1.0, clock.real_seconds)
    assert caught.value.headers == {"Retry-After": "118"}


def test_a_manual_clock_reports_waits_in_clock_seconds(clock: ManualClock) -> None:
    """A test that drives a manual clock advances it by the ``Retry-After`` it reads."""
    assert clock.real_seconds(59.0) == 59.0
    assert RealClock().real_seconds(59.0) == 59.0


def test_the_service_reports_real_seconds_under_a_scaled_clock() -> None:
    service = Service(Settings(requests_per_minute=2), ScaledClock(20))
    workspace = service.authenticate(KEY)
    service.check_rate_limit(workspace)
    service.check_rate_limit(workspace)
    with pytest.raises(ApiError) as caught:
        service.check_rate_limit(workspace)
    # Whatever little real time passed (under a real second), the wait is between 2 and 3
    # real seconds, so it reads 3; in clock seconds it would read 60.
    assert caught.value.headers == {"Retry-After": "3"}
    assert caught.value.details is not None
    assert caught.value.details["retryAfterSeconds"] == 3


def test_the_single_plan_of_the_current_generation(
    service: Service, expect_error: ExpectError
) -> None:
    """One plan: 60 requests per minute, 10 concurrent jobs, 1,000 credits, tier ``free``."""
    workspace = service.authenticate(KEY)
    for _ in range(60):
        service.check_rate_limit(workspace)
    error = expect_error(lambda: service.check_rate_limit(workspace), "rate_limited")
    assert error.details == {"limit": 60, "windowSeconds": 60, "retryAfterSeconds": 60}
    for index in range(10):
        service.reads.submit(KEY, {"urls": [f"https://example.com/{index}"]})
    error = expect_error(
        lambda: service.reads.submit(KEY, {"urls": ["https://example.com/x"]}),
        "concurrency_limited",
    )
    assert error.details == {"active": 10, "max": 10}
    credits = service.usage.credits(KEY)
    assert (credits["limit"], credits["tier"]) == (1000, "free")


# ---------------------------------------------------------------------------- concurrency


def test_concurrency_limit_refuses_a_job_beyond_max(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    service = make_service(max_concurrent_jobs=2)
    for index in range(2):
        service.reads.submit(KEY, {"urls": [f"https://example.com/{index}"]})
    error = expect_error(
        lambda: service.reads.submit(KEY, {"urls": ["https://example.com/x"]}),
        "concurrency_limited",
    )
    assert error.details == {"active": 2, "max": 2}
    assert "Retry-After" not in error.headers
    # A synchronous scrape is not a job and is never refused for concurrency.
    assert service.reads.submit(KEY, {"url": "https://example.com/sync"}).status == 200
    clock.advance(10)  # both jobs finish
    assert service.reads.submit(KEY, {"urls": ["https://example.com/x"]}).status == 201


def test_queue_status_counts_processing_and_queued(service: Service, clock: ManualClock) -> None:
    service.reads.submit(KEY, {"urls": ["https://example.com/a", "https://example.com/b"]})
    clock.advance(0.5)  # the first job starts
    service.reads.submit(KEY, {"urls": ["https://example.com/c"]})
    assert service.jobs.queue_status(KEY) == {
        "activeJobs": 1,
        "waitingJobs": 1,
        "maxConcurrency": 10,
    }


# ---------------------------------------------------------------------------- credits


def test_next_month_start_rolls_over_the_year() -> None:
    dec = datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp()
    assert next_month_start(dec) == datetime(2027, 1, 1, tzinfo=UTC).timestamp()


def test_ledger_never_goes_below_zero() -> None:
    ledger = CreditLedger(limit=5, now=0.0)
    assert ledger.charge(3) == 3
    assert ledger.charge(3) == 2
    assert ledger.balance == 0
    assert ledger.charge(1) == 0


def test_credits_snapshot_and_reset(service: Service, clock: ManualClock) -> None:
    assert service.usage.credits(KEY) == {
        "balance": 1000,
        "limit": 1000,
        "used": 0,
        "tier": "free",
        "resetAt": "2026-02-01T00:00:00Z",
    }
    service.reads.submit(KEY, {"url": "https://example.com", "proxyMode": "premium"})
    assert service.usage.credits(KEY)["balance"] == 997
    clock.advance_to(datetime(2026, 2, 1, tzinfo=UTC))
    assert service.usage.credits(KEY) == {
        "balance": 1000,
        "limit": 1000,
        "used": 0,
        "tier": "free",
        "resetAt": "2026-03-01T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("body", "required"),
    [
        ({"url": "https://example.com"}, 1),
        ({"url": "https://example.com", "proxyMode": "premium"}, 3),
        ({"url": "https://example.com", "extract": {"prompt": "price?"}}, 3),
        ({"url": "https://example.com", "proxyMode": "premium", "extract": {"prompt": "p"}}, 5),
        ({"urls": ["https://example.com/a", "https://example.com/b"]}, 2),
        ({"urls": ["https://a.example.com", "https://b.example.com"], "proxyMode": "premium"}, 6),
        ({"url": "https://example.com", "maxPages": 50}, 1),
        ({"url": "https://example.com", "maxPages": 50, "proxyMode": "premium"}, 3),
        ({"url": "https://example.com", "scrape": False, "proxyMode": "premium"}, 1),
    ],
)
def test_preflight_requires_what_the_request_would_cost(
    make_service: Callable[..., Service],
    expect_error: ExpectError,
    body: dict[str, Any],
    required: int,
) -> None:
    short = make_service(monthly_credits=required - 1)
    error = expect_error(lambda: short.reads.submit(KEY, body), "insufficient_credits")
    assert error.details == {
        "required": required,
        "available": required - 1,
        "resetAt": "2026-02-01T00:00:00Z",
    }
    enough = make_service(monthly_credits=required)
    assert enough.reads.submit(KEY, body).status in {200, 201}


def test_pages_the_balance_cannot_pay_fail_and_cost_nothing(
    make_service: Callable[..., Service], clock: ManualClock
) -> None:
    service = make_service(monthly_credits=3)
    urls = [f"https://example.com/{index}" for index in range(3)]
    service.reads.submit(KEY, {"urls": urls})
    service.reads.submit(KEY, {"url": "https://example.com/sync"})  # spends one credit meanwhile
    clock.advance(5)
    job_id = next(iter(service.workspaces["ws_1"].jobs))
    job = service.jobs.get(KEY, job_id, base_url=BASE).data
    assert job["status"] == "completed"
    assert job["completed"] == 3
    assert job["creditsUsed"] == 2
    last = job["results"][-1]
    assert last == {
        "url": urls[2],
        "credits": 0,
        "error": f"Insufficient credits to scrape {urls[2]}",
    }
    assert service.usage.credits(KEY)["balance"] == 0


def test_sessions_charge_every_started_minute(service: Service, clock: ManualClock) -> None:
    created = service.sessions.create(KEY, {"maxDurationMs": 600_000}, base_url=BASE)
    assert service.usage.credits(KEY)["used"] == 1
    clock.advance(150)
    stopped = service.sessions.stop(KEY, created["sessionId"])
    assert stopped == {
        "sessionId": created["sessionId"],
        "status": "stopped",
        "durationMs": 150_000,
        "creditsCharged": 3,
    }
    assert service.usage.credits(KEY)["used"] == 3


def test_usage_history_builds_entries_when_read_with_ids_in_order() -> None:
    """Entries noted while a job plays read as if built at once: same ids, same order."""
    history = UsageHistory(IdSource(7, "ws_1").usage)
    history.add(("https://example.com/a", 1_767_225_600.0, 120, "basic", 1, None, False))
    history.add(("https://example.com/b", 1_767_225_601.5, 80, None, 0, "Timeout", True))
    assert len(history) == 2
    first = [dict(entry) for entry in history.entries()]
    expected_ids = IdSource(7, "ws_1")
    assert [entry["id"] for entry in first] == [expected_ids.usage(), expected_ids.usage()]
    assert first[0]["status"] == "success" and first[0]["createdAt"] == "2026-01-01T00:00:00Z"
    assert first[1] == {
        "id": first[1]["id"],
        "url": "https://example.com/b",
        "duration": 80,
        "status": "error",
        "cached": True,
        "proxyMode": None,
        "credits": 0,
        "error": "Timeout",
        "createdAt": "2026-01-01T00:00:01.500Z",
    }
    history.add(("https://example.com/c", 1_767_225_602.0, 10, "stealth", 5, None, False))
    again = history.entries()
    assert len(again) == 3 and again[:2] == first[:2]
    assert again[2]["id"] == expected_ids.usage()
