"""The official Python SDK (``reader-py``, unmodified, ``AsyncReaderClient``) against a live mock.

The same ground as the synchronous suite, through the asynchronous client: each test starts its own
server (``start_mock`` in conftest.py, a background thread with its own event loop) and awaits the
SDK in the test's loop over a real socket. Servers run on a manual clock with no queue delay and no
page interval unless a test says otherwise, so a job is finished when the SDK first polls it and
the SDK's two-second ``asyncio.sleep`` between polls is never reached (the tests count the requests
the server received to prove it). Where the SDK would retry after a real sleep (``429``, ``5xx``),
the client has ``max_retries=0``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from reader_py import AsyncReaderClient  # type: ignore[import-untyped]
from reader_py.errors import (  # type: ignore[import-untyped]
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
    DoneEvent,
    ErrorEvent,
    JobReadResult,
    PageEvent,
    ProgressEvent,
    QueueStatus,
    ScrapeReadResult,
)
from sdk_support import REQUEST_ID, StartMock, counted_requests, failing_batch

from reader_mock.core import ManualClock
from reader_mock.server import MockServer


@asynccontextmanager
async def sdk(
    server: MockServer, *, api_key: str | None = None, retries: int = 2
) -> AsyncIterator[AsyncReaderClient]:
    """An ``AsyncReaderClient`` for ``server`` (its own key unless another is given)."""
    key = api_key if api_key is not None else server.api_key
    assert key is not None
    async with AsyncReaderClient(
        api_key=key, base_url=server.url, timeout=10, max_retries=retries
    ) as client:
        yield client


async def create_job(server: MockServer, urls: list[str]) -> str:
    """Create a batch job with a plain HTTP call (``read`` would wait for it to finish)."""
    assert server.api_key is not None
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/v1/read", json={"urls": urls}, headers={"x-api-key": server.api_key}
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


# ---------------------------------------------------------------------------- read and jobs


@pytest.mark.asyncio
async def test_read_url_scrapes_and_a_repeat_is_served_from_the_cache(
    start_mock: StartMock,
) -> None:
    server = start_mock()
    url = "https://docs.example.com/guide/async"
    async with sdk(server) as client:
        first = await client.read(url=url)
        assert isinstance(first, ScrapeReadResult)
        assert first.data.url == url
        assert first.data.markdown is not None and first.data.markdown.startswith("# ")
        assert first.data.metadata.cached is False
        again = await client.read(url=url)
        assert isinstance(again, ScrapeReadResult)
        assert again.data.metadata.cached is True
        assert again.data.metadata.scraped_at == first.data.metadata.scraped_at
        assert again.data.markdown == first.data.markdown
        assert (await client.get_credits()).used == 1


@pytest.mark.asyncio
async def test_read_urls_returns_a_completed_job_with_every_result_in_order(
    start_mock: StartMock,
) -> None:
    server = start_mock()
    urls = [f"https://shop.example.com/async/{number}" for number in range(120)]
    async with sdk(server) as client:
        result = await client.read(urls=urls)
    assert isinstance(result, JobReadResult)
    job = result.data
    assert (job.status, job.completed, job.total, job.credits_used) == ("completed", 120, 120, 120)
    assert [page.url for page in job.results] == urls
    assert counted_requests(server) == 4  # POST, one poll, two pages of results


@pytest.mark.asyncio
async def test_get_job_and_get_all_job_results(start_mock: StartMock) -> None:
    server = start_mock()
    urls = [f"https://news.example.com/async-{number}" for number in range(205)]
    job_id = await create_job(server, urls)
    async with sdk(server) as client:
        page, more = await client.get_job(job_id, skip=100, limit=100)
        assert more is True
        assert [entry.url for entry in page.results] == urls[100:200]
        tail, more = await client.get_job(job_id, skip=200, limit=100)
        assert more is False
        assert [entry.url for entry in tail.results] == urls[200:]
        everything = await client.get_all_job_results(job_id)
    assert [entry.url for entry in everything] == urls


@pytest.mark.asyncio
async def test_stream_yields_the_job_events_and_ends_after_done(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, queue_delay=1.0, page_interval=1.0)
    urls = failing_batch()
    job_id = await create_job(server, urls)
    kinds: list[str] = []
    async with sdk(server) as client:
        async for event in client.stream(job_id):
            kinds.append(event.type)
            if isinstance(event, ProgressEvent) and len(kinds) == 1:
                assert (event.status, event.completed, event.total) == ("queued", 0, 3)
                clock.advance(10)
            elif isinstance(event, PageEvent):
                assert event.data.url in (urls[0], urls[2])
            elif isinstance(event, ErrorEvent):
                assert event.url == urls[1]
            elif isinstance(event, DoneEvent):
                assert (event.status, event.completed, event.total) == ("completed", 3, 3)
    assert kinds == [
        "progress",
        "progress",
        "page",
        "progress",
        "error",
        "progress",
        "page",
        "progress",
        "done",
    ]


@pytest.mark.asyncio
async def test_cancel_an_active_job_then_again_is_a_conflict(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, queue_delay=1.0, page_interval=1.0)
    job_id = await create_job(server, [f"https://example.com/async/{n}" for n in range(4)])
    clock.advance(1.0)
    async with sdk(server) as client:
        assert (await client.get_job(job_id))[0].status == "processing"
        await client.cancel_job(job_id)
        cancelled, _ = await client.get_job(job_id)
        assert (cancelled.status, cancelled.completed) == ("cancelled", 0)
        assert cancelled.completed_at == "2026-01-01T00:00:01Z"
        with pytest.raises(ConflictError) as caught:
            await client.cancel_job(job_id)
    assert_error(caught.value, 409, "conflict")
    assert caught.value.details == {"status": "cancelled"}


@pytest.mark.asyncio
async def test_retry_after_failures_and_when_nothing_failed(start_mock: StartMock) -> None:
    server = start_mock()
    urls = failing_batch()
    async with sdk(server) as client:
        result = await client.read(urls=urls)
        assert isinstance(result, JobReadResult)
        retried = await client.retry_job(result.data.id)
        assert retried == {"id": result.data.id, "status": "queued", "retrying": 1}
        after, _ = await client.get_job(result.data.id)
        assert after.status == "completed"
        assert [entry.url for entry in after.results] == [urls[0], urls[2], urls[1]]

        clean = await client.read(urls=["https://example.com/clean"])
        assert isinstance(clean, JobReadResult)
        with pytest.raises(InvalidRequestError) as caught:
            await client.retry_job(clean.data.id)
    assert_error(caught.value, 400, "invalid_request")
    assert str(caught.value) == "Job has no failed URLs to retry"


# ---------------------------------------------------------------------------- account


@pytest.mark.asyncio
async def test_credits_and_sessions(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, monthly_credits=50)
    async with sdk(server) as client:
        session = await client.sessions.create(max_duration_ms=60_000)
        assert session.status == "active"
        assert session.expires_at == "2026-01-01T00:01:00Z"
        assert await client.sessions.get(session.session_id) == session
        assert [s.session_id for s in await client.sessions.list()] == [session.session_id]
        credits = await client.get_credits()
        assert (credits.balance, credits.used, credits.limit) == (49, 1, 50)

        clock.advance(61)  # past expiresAt: expired and billed for its one minute
        assert (await client.sessions.get(session.session_id)).status == "expired"
        assert await client.sessions.list() == []
        assert (await client.get_credits()).used == 1

        second = await client.sessions.create()
        clock.advance(125)
        stopped = await client.sessions.stop(second.session_id)
        assert (stopped.duration_ms, stopped.credits_charged) == (125_000, 3)
        assert (await client.get_credits()).used == 4


@pytest.mark.asyncio
async def test_queue_status_parses_into_the_sdk_model(start_mock: StartMock) -> None:
    """``AsyncReaderClient`` 0.4 has no ``get_queue_status`` (the sync client has); the SDK's own
    ``QueueStatus`` model still reads the mock's answer, fetched asynchronously."""
    assert not hasattr(AsyncReaderClient, "get_queue_status")  # if it appears, call it instead
    clock = ManualClock()
    server = start_mock(clock=clock, queue_delay=1.0, page_interval=10.0, max_concurrent_jobs=3)
    await create_job(server, ["https://example.com/async-a"])
    assert server.api_key is not None
    headers = {"x-api-key": server.api_key}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:

        async def status() -> QueueStatus:
            response = await http.get("/v1/queue/status")
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            return QueueStatus(**{_snake(name): value for name, value in data.items()})

        waiting = await status()
        assert (waiting.active_jobs, waiting.waiting_jobs, waiting.max_concurrency) == (0, 1, 3)
        clock.advance(1.0)
        running = await status()
        assert (running.active_jobs, running.waiting_jobs) == (1, 0)


def _snake(name: str) -> str:
    """``activeJobs`` -> ``active_jobs``, as the SDK converts keys."""
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)


@pytest.mark.asyncio
async def test_cancel_a_completed_job_is_a_conflict(start_mock: StartMock) -> None:
    server = start_mock()
    job_id = await create_job(server, ["https://example.com/async-done"])
    async with sdk(server) as client:
        with pytest.raises(ConflictError) as caught:
            await client.cancel_job(job_id)
    assert_error(caught.value, 409, "conflict")
    assert caught.value.details == {"status": "completed"}


# ---------------------------------------------------------------------------- typed errors


@pytest.mark.asyncio
async def test_a_wrong_key_raises_unauthenticated(start_mock: StartMock) -> None:
    server = start_mock()
    async with sdk(server, api_key="rdr_wrong_key") as client:
        with pytest.raises(UnauthenticatedError) as caught:
            await client.get_credits()
    assert_error(caught.value, 401, "unauthenticated")


@pytest.mark.asyncio
async def test_insufficient_credits_reports_required_and_available(start_mock: StartMock) -> None:
    server = start_mock(monthly_credits=20)
    async with sdk(server) as client:
        with pytest.raises(InsufficientCreditsError) as caught:
            await client.read(
                urls=[f"https://example.com/{n}" for n in range(7)], proxy_mode="premium"
            )
    assert_error(caught.value, 402, "insufficient_credits")
    assert (caught.value.required, caught.value.available) == (7 * 3, 20)
    assert caught.value.reset_at == "2026-02-01T00:00:00Z"


@pytest.mark.asyncio
async def test_rate_limited_reports_retry_after(start_mock: StartMock) -> None:
    clock = ManualClock()
    server = start_mock(clock=clock, requests_per_minute=2)
    async with sdk(server, retries=0) as client:
        await client.get_credits()
        clock.advance(50)
        await client.get_credits()
        with pytest.raises(RateLimitedError) as caught:
            await client.get_credits()
    assert_error(caught.value, 429, "rate_limited")
    assert (caught.value.retry_after_seconds, caught.value.limit) == (10, 2)


@pytest.mark.asyncio
async def test_not_found_and_url_blocked(start_mock: StartMock) -> None:
    server = start_mock()
    async with sdk(server) as client:
        with pytest.raises(NotFoundError) as missing:
            await client.get_job("job_00000000deadbeef")
        with pytest.raises(UrlBlockedError) as blocked:
            await client.read(url="http://[fd00::1]/internal")
    assert_error(missing.value, 404, "not_found")
    assert_error(blocked.value, 403, "url_blocked")
    assert (blocked.value.url, blocked.value.reason) == (
        "http://[fd00::1]/internal",
        "Resolves to private IP",
    )


@pytest.mark.asyncio
async def test_failing_and_slow_hosts(start_mock: StartMock) -> None:
    server = start_mock()
    async with sdk(server, retries=0) as client:
        with pytest.raises(UpstreamUnavailableError) as upstream:
            await client.read(url="https://api.fail.example/data")
        with pytest.raises(ScrapeTimeoutError) as slow:
            await client.read(url="https://timeout.example/", timeout_ms=2_000)
        assert (await client.get_credits()).used == 0
    assert_error(upstream.value, 502, "upstream_unavailable")
    assert_error(slow.value, 504, "scrape_timeout")
    assert slow.value.timeout_ms == 2_000
