"""The official Python SDK (``reader-py``, unmodified, synchronous client) against a live mock.

Every test starts its own server (``start_mock`` in conftest.py) and talks to it over a real socket
through ``reader_py.ReaderClient``. Servers run on a manual clock with no queue delay and no page
interval unless a test says otherwise, so a job is finished when the SDK first polls it: the SDK
sleeps two real seconds between polls, and no test here ever reaches that sleep (the tests count
the requests the server received to prove it). Where the SDK would retry an error after a real
sleep (``429`` and ``5xx``), the client is built with ``max_retries=0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from reader_py import ReaderClient  # type: ignore[import-untyped]
from reader_py.errors import (  # type: ignore[import-untyped]
    ConcurrencyLimitedError,
    ConflictError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ReaderApiError,
    ScrapeTimeoutError,
    UnauthenticatedError,
    UpstreamUnavailableError,
    UrlBlockedError,
)
from reader_py.types import (  # type: ignore[import-untyped]
    ErrorEvent,
    JobReadResult,
    PageEvent,
    ProgressEvent,
    ScrapeReadResult,
)
from sdk_support import REQUEST_ID, StartMock, counted_requests, failing_batch

from reader_mock.core import ManualClock
from reader_mock.server import MockServer

SESSION_ID = r"^ses_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


@contextmanager
def sdk(
    server: MockServer, *, api_key: str | None = None, retries: int = 2
) -> Iterator[ReaderClient]:
    """A ``ReaderClient`` for ``server`` (its own key unless another is given)."""
    key = api_key if api_key is not None else server.api_key
    assert key is not None
    with ReaderClient(api_key=key, base_url=server.url, timeout=10, max_retries=retries) as client:
        yield client


def create_job(server: MockServer, urls: list[str]) -> str:
    """Create a batch job with a plain HTTP call (``ReaderClient.read`` would wait for it)."""
    assert server.api_key is not None
    response = httpx.post(
        f"{server.url}/v1/read", json={"urls": urls}, headers={"x-api-key": server.api_key}
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["data"]["id"]
    assert isinstance(job_id, str)
    return job_id


def assert_error(error: ReaderApiError, status: int, code: str) -> None:
    """The typed error carries the response's status, code and request id."""
    assert error.http_status == status
    assert error.code == code
    assert error.request_id is not None and REQUEST_ID.match(error.request_id), error.request_id
    assert (
        error.docs_url == f"https://reader.dev/docs/home/concepts/errors#{code.replace('_', '-')}"
    )


# ---------------------------------------------------------------------------- read


def test_read_url_scrapes_and_a_repeat_is_served_from_the_cache(start_mock: StartMock) -> None:
    server = start_mock()
    url = "https://docs.example.com/guide/install"
    with sdk(server) as client:
        first = client.read(url=url)
        assert isinstance(first, ScrapeReadResult)
        page = first.data
        assert page.url == url
        assert page.markdown is not None and page.markdown.startswith("# ")
        assert page.metadata.cached is False
        assert page.metadata.proxy_mode == "standard"
        assert page.metadata.status_code == 200
        assert client.get_credits().used == 1

        again = client.read(url=url)
        assert isinstance(again, ScrapeReadResult)
        assert again.data.metadata.cached is True
        assert again.data.metadata.proxy_mode is None
        assert again.data.metadata.scraped_at == page.metadata.scraped_at
        assert again.data.markdown == page.markdown
        assert client.get_credits().used == 1  # a cache hit is free


def test_read_urls_returns_a_completed_job_with_every_result_in_order(
    start_mock: StartMock,
) -> None:
    server = start_mock()
    urls = [f"https://shop.example.com/item/{number}" for number in range(150)]
    with sdk(server) as client:
        result = client.read(urls=urls)
    assert isinstance(result, JobReadResult)
    job = result.data
    assert (job.status, job.mode, job.completed, job.total) == ("completed", "batch", 150, 150)
    assert job.credits_used == 150
    assert [page.url for page in job.results] == urls
    assert all(page.error is None and page.markdown for page in job.results)
    assert job.completed_at is not None and job.started_at is not None
    # POST, one poll that already saw it completed, then two pages of 100 results: no sleep.
    assert counted_requests(server) == 4


def test_get_job_pages_through_results(start_mock: StartMock) -> None:
    server = start_mock()
    urls = [f"https://news.example.com/{letter}" for letter in "abcde"]
    job_id = create_job(server, urls)
    with sdk(server) as client:
        first, more = client.get_job(job_id, skip=0, limit=2)
        assert more is True
        assert [page.url for page in first.results] == urls[:2]
        assert (first.status, first.completed, first.total) == ("completed", 5, 5)
        middle, more = client.get_job(job_id, skip=2, limit=2)
        assert more is True
        assert [page.url for page in middle.results] == urls[2:4]
        last, more = client.get_job(job_id, skip=4, limit=2)
        assert more is False
        assert [page.url for page in last.results] == urls[4:]
        past_the_end, more = client.get_job(job_id, skip=10, limit=2)
        assert (past_the_end.results, more) == ([], False)


def test_get_all_job_results_follows_every_page(start_mock: StartMock) -> None:
    server = start_mock()
    urls = [f"https://blog.example.com/post-{number}" for number in range(250)]
    job_id = create_job(server, urls)
    with sdk(server) as client:
        pages = client.get_all_job_results(job_id)
    assert [page.url for page in pages] == urls
    assert {page.credits for page in pages} == {1}
    assert counted_requests(server) == 1 + 3  # the POST, then skip 0, 100 and 200


def test_stream_yields_the_job_events_and_ends_after_done(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, queue_delay=1.0, page_interval=1.0)
    urls = failing_batch()
    job_id = create_job(server, urls)
    seen: list[tuple[str, ...]] = []
    with sdk(server) as client:
        for event in client.stream(job_id):
            if isinstance(event, ProgressEvent):
                seen.append((event.type, event.status, str(event.completed)))
            elif isinstance(event, PageEvent):
                seen.append((event.type, event.data.url))
            elif isinstance(event, ErrorEvent):
                seen.append((event.type, event.url, event.error))
            else:
                seen.append((event.type, event.status, str(event.completed)))
            if len(seen) == 1:
                clock.advance(10)  # the whole job is due once the snapshot arrived
    assert seen == [
        ("progress", "queued", "0"),
        ("progress", "processing", "0"),
        ("page", urls[0]),
        ("progress", "processing", "1"),
        ("error", urls[1], f"Failed to fetch {urls[1]}: upstream error"),
        ("progress", "processing", "2"),
        ("page", urls[2]),
        ("progress", "processing", "3"),
        ("done", "completed", "3"),
    ]


def test_stream_of_an_unknown_job_raises_not_found(start_mock: StartMock) -> None:
    server = start_mock()
    with sdk(server) as client, pytest.raises(NotFoundError) as caught:
        list(client.stream("job_00000000deadbeef"))
    assert_error(caught.value, 404, "not_found")


# ---------------------------------------------------------------------------- cancel and retry


def test_cancel_an_active_job_then_cancelling_again_is_a_conflict(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, queue_delay=1.0, page_interval=1.0)
    job_id = create_job(server, [f"https://example.com/{number}" for number in range(5)])
    clock.advance(2.5)  # started at 1 s, first page at 2 s, the next one due at 3 s
    with sdk(server) as client:
        running, _ = client.get_job(job_id)
        assert (running.status, running.completed) == ("processing", 1)
        client.cancel_job(job_id)
        cancelled, _ = client.get_job(job_id)
        assert (cancelled.status, cancelled.completed, cancelled.total) == ("cancelled", 1, 5)
        assert cancelled.completed_at == "2026-01-01T00:00:02.500Z"
        clock.advance(10)
        assert client.get_job(job_id)[0].completed == 1  # nothing moved after the cancel

        with pytest.raises(ConflictError) as caught:
            client.cancel_job(job_id)
    assert_error(caught.value, 409, "conflict")
    assert caught.value.details == {"status": "cancelled"}
    assert str(caught.value) == "Job is already cancelled"


def test_cancel_a_completed_job_is_a_conflict(start_mock: StartMock) -> None:
    server = start_mock()
    job_id = create_job(server, ["https://example.com/only"])
    with sdk(server) as client, pytest.raises(ConflictError) as caught:
        client.cancel_job(job_id)
    assert_error(caught.value, 409, "conflict")
    assert caught.value.details == {"status": "completed"}


def test_retry_a_job_with_failed_urls(start_mock: StartMock) -> None:
    server = start_mock()
    urls = failing_batch()
    with sdk(server) as client:
        result = client.read(urls=urls)
        assert isinstance(result, JobReadResult)
        job = result.data
        assert (job.status, job.completed, job.credits_used) == ("completed", 3, 2)
        failed = [page for page in job.results if page.error is not None]
        assert [page.url for page in failed] == [urls[1]]
        assert failed[0].error == f"Failed to fetch {urls[1]}: upstream error"
        assert failed[0].credits == 0

        assert client.retry_job(job.id) == {"id": job.id, "status": "queued", "retrying": 1}
        retried, _ = client.get_job(job.id)
        # The failed entry left and came back at the end: fail.example always fails.
        assert retried.status == "completed"
        assert [page.url for page in retried.results] == [urls[0], urls[2], urls[1]]
        assert (retried.completed, retried.total, retried.credits_used) == (3, 3, 2)


def test_retry_a_job_with_nothing_failed_is_invalid(start_mock: StartMock) -> None:
    server = start_mock()
    job_id = create_job(server, ["https://example.com/fine"])
    with sdk(server) as client, pytest.raises(InvalidRequestError) as caught:
        client.retry_job(job_id)
    assert_error(caught.value, 400, "invalid_request")
    assert str(caught.value) == "Job has no failed URLs to retry"


def test_retry_an_active_job_is_a_conflict(start_mock: StartMock) -> None:
    server = start_mock(queue_delay=5.0)
    job_id = create_job(server, ["https://example.com/waiting"])
    with sdk(server) as client, pytest.raises(ConflictError) as caught:
        client.retry_job(job_id)
    assert_error(caught.value, 409, "conflict")
    assert caught.value.details == {"status": "queued"}


# ---------------------------------------------------------------------------- account


def test_get_credits_reports_the_balance(start_mock: StartMock) -> None:
    server = start_mock(monthly_credits=500)
    with sdk(server) as client:
        client.read(url="https://example.com/one", proxy_mode="premium")
        credits = client.get_credits()
    assert (credits.balance, credits.limit, credits.used) == (497, 500, 3)
    assert credits.tier == "free"
    assert credits.reset_at == "2026-02-01T00:00:00Z"  # the manual clock starts on 1 January


def test_get_queue_status_counts_waiting_and_running_jobs(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, queue_delay=1.0, page_interval=10.0, max_concurrent_jobs=4)
    create_job(server, ["https://example.com/a"])
    create_job(server, ["https://example.com/b"])
    with sdk(server) as client:
        waiting = client.get_queue_status()
        assert (waiting.active_jobs, waiting.waiting_jobs, waiting.max_concurrency) == (0, 2, 4)
        clock.advance(1.0)
        running = client.get_queue_status()
        assert (running.active_jobs, running.waiting_jobs) == (2, 0)
        clock.advance(10.0)
        done = client.get_queue_status()
        assert (done.active_jobs, done.waiting_jobs) == (0, 0)


def test_browser_sessions_create_get_list_stop(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock)
    with sdk(server) as client:
        created = client.sessions.create(max_duration_ms=600_000)
        assert created.status == "active"
        assert created.session_id.startswith("ses_")
        assert created.token.startswith("tok_") and len(created.token) == 20
        assert created.ws_endpoint == (
            f"ws://{server.host}:{server.port}/v1/sessions/{created.session_id}/cdp"
            f"?token={created.token}"
        )
        assert (created.created_at, created.expires_at) == (
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:10:00Z",
        )
        assert client.sessions.get(created.session_id) == created
        assert [s.session_id for s in client.sessions.list()] == [created.session_id]
        assert client.get_credits().used == 1  # the first minute, at creation

        clock.advance(150)  # two and a half minutes: three started minutes
        stopped = client.sessions.stop(created.session_id)
        assert (stopped.session_id, stopped.status) == (created.session_id, "stopped")
        assert (stopped.duration_ms, stopped.credits_charged) == (150_000, 3)
        assert client.get_credits().used == 3
        assert client.sessions.list() == []
        assert client.sessions.get(created.session_id).status == "stopped"
        with pytest.raises(ReaderApiError) as caught:  # again: 410, as upstream lists
            client.sessions.stop(created.session_id)
        assert_error(caught.value, 410, "session_expired")
        assert client.get_credits().used == 3


# ---------------------------------------------------------------------------- typed errors


def test_a_wrong_key_raises_unauthenticated(start_mock: StartMock) -> None:
    server = start_mock()
    with (
        sdk(server, api_key="rdr_not_a_key_of_this_server") as client,
        pytest.raises(UnauthenticatedError) as caught,
    ):
        client.get_credits()
    assert_error(caught.value, 401, "unauthenticated")
    assert str(caught.value) == "Missing or invalid API key"


@pytest.mark.parametrize(("proxy_mode", "cost"), [("standard", 1), ("premium", 3)])
def test_a_batch_the_balance_cannot_pay_raises_insufficient_credits(
    start_mock: StartMock, proxy_mode: str, cost: int
) -> None:
    server = start_mock(monthly_credits=11)
    urls = [f"https://example.com/{number}" for number in range(12)]
    with sdk(server) as client:
        client.read(url="https://example.com/paid")  # balance 10
        with pytest.raises(InsufficientCreditsError) as caught:
            client.read(urls=urls, proxy_mode=proxy_mode)
        assert client.get_credits().balance == 10  # nothing was charged
    assert server.service.workspaces["ws_1"].jobs == {}  # and nothing was created
    error = caught.value
    assert_error(error, 402, "insufficient_credits")
    assert (error.required, error.available) == (len(urls) * cost, 10)
    assert error.reset_at == "2026-02-01T00:00:00Z"


def test_too_many_requests_raise_rate_limited_with_retry_after(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, requests_per_minute=3)
    with sdk(server, retries=0) as client:
        client.get_credits()
        clock.advance(15)
        client.get_credits()
        client.get_credits()
        with pytest.raises(RateLimitedError) as caught:
            client.get_credits()
        error = caught.value
        assert_error(error, 429, "rate_limited")
        # The oldest counted request leaves the 60 s window 45 s from now.
        assert (error.retry_after_seconds, error.limit, error.window_seconds) == (45, 3, 60)
        clock.advance(45)
        assert client.get_credits().used == 0


def test_too_many_active_jobs_raise_concurrency_limited(start_mock: StartMock) -> None:
    server = start_mock(queue_delay=30.0, max_concurrent_jobs=1)
    create_job(server, ["https://example.com/first"])
    with sdk(server, retries=0) as client, pytest.raises(ConcurrencyLimitedError) as caught:
        client.read(urls=["https://example.com/second"])
    assert_error(caught.value, 429, "concurrency_limited")
    assert (caught.value.active, caught.value.max) == (1, 1)


def test_an_unknown_job_raises_not_found(start_mock: StartMock) -> None:
    server = start_mock()
    with sdk(server) as client, pytest.raises(NotFoundError) as caught:
        client.get_job("job_00000000deadbeef")
    assert_error(caught.value, 404, "not_found")
    assert str(caught.value) == "Job not found"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/admin", "Resolves to private IP"),
        ("http://localhost:8080/", "Resolves to private IP"),
        ("ftp://files.example.com/a.txt", "Unsupported URL scheme"),
    ],
)
def test_a_private_or_non_web_target_raises_url_blocked(
    start_mock: StartMock, url: str, reason: str
) -> None:
    server = start_mock()
    with sdk(server) as client, pytest.raises(UrlBlockedError) as caught:
        client.read(url=url)
    assert_error(caught.value, 403, "url_blocked")
    assert (caught.value.url, caught.value.reason) == (url, reason)


def test_a_failing_host_raises_upstream_unavailable(start_mock: StartMock) -> None:
    server = start_mock()
    with sdk(server, retries=0) as client:
        with pytest.raises(UpstreamUnavailableError) as caught:
            client.read(url="https://fail.example/article")
        assert client.get_credits().used == 0
    assert_error(caught.value, 502, "upstream_unavailable")
    assert str(caught.value) == "Upstream service is unavailable"


def test_a_slow_host_raises_scrape_timeout_with_the_request_timeout(start_mock: StartMock) -> None:
    server = start_mock()
    with sdk(server, retries=0) as client:
        with pytest.raises(ScrapeTimeoutError) as caught:
            client.read(url="https://timeout.example/slow", timeout_ms=7_500)
        assert client.get_credits().used == 0
    assert_error(caught.value, 504, "scrape_timeout")
    assert caught.value.timeout_ms == 7_500
    assert str(caught.value) == "Scrape exceeded 7500ms timeout"


def test_a_timing_out_url_in_a_job_is_a_failed_entry(start_mock: StartMock) -> None:
    server = start_mock()
    urls = ["https://example.com/quick", "https://a.timeout.example/slow"]
    with sdk(server) as client:
        result = client.read(urls=urls, timeout_ms=4_000)
    assert isinstance(result, JobReadResult)
    entries = result.data.results
    assert [page.url for page in entries] == urls
    assert entries[1].error == f"Scrape of {urls[1]} exceeded 4000ms timeout"
    assert (entries[1].credits, result.data.credits_used) == (0, 1)
