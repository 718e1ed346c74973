"""An example suite: testing the official reader-py SDK against reader-mock.

Read it as a template for testing any Reader client. Each test drives the SDK the way an
application would, scripts the mock (a ready-made timeline, an injected fault, a clock jump) and
then checks two things: what the SDK returned, and what it did on the wire, from the mock's
journal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpcore
import httpx
import pytest
from reader_py import (  # type: ignore[import-untyped]
    AsyncReaderClient,
    InsufficientCreditsError,
    NotFoundError,
    ReaderClient,
    UnauthenticatedError,
)

from reader_mock.pytest_plugin import JournalAssertions
from reader_mock.server import MockServer

THREE = ["https://example.com/a", "https://fail.example/b", "https://example.com/c"]
FOUR = [f"https://example.com/page-{n}" for n in range(1, 5)]


# ----------------------------------------------------------------------------- scrape


def test_scrape_returns_the_page_at_once(reader: ReaderClient, reader_mock: MockServer) -> None:
    result = reader.read(url="https://example.com/pricing")
    assert result.kind == "scrape"
    assert result.data.markdown
    assert result.data.url == "https://example.com/pricing"
    assert result.data.metadata.status_code == 200
    # One request, no job: a single URL is scraped synchronously.
    assert [r.path for r in reader_mock.journal.requests()] == ["/v1/read"]


# ----------------------------------------------------------------------------- batch


@pytest.mark.reader_mock_timeline("partial-failure")
def test_batch_with_a_failed_page_still_completes(
    reader: ReaderClient, reader_mock: MockServer
) -> None:
    result = reader.read(urls=THREE)
    assert result.kind == "job"
    job = result.data
    assert (job.status, job.completed, job.total) == ("completed", 3, 3)
    failed = [page.url for page in job.results if page.error]
    assert failed == ["https://fail.example/b"]
    # The SDK polled while the job ran; its 2-second waits moved the mock's clock.
    polls = reader_mock.journal.requests(method="GET")
    assert len(polls) >= 2


# ----------------------------------------------------------------------------- streaming


def test_streaming_a_job_until_done(
    reader: ReaderClient,
    reader_mock: MockServer,
    create_job: Callable[..., str],
    reader_mock_script: Callable[..., int],
    reader_mock_assert: JournalAssertions,
) -> None:
    reader_mock_script("happy-batch")
    job_id = create_job(THREE[:1] + THREE[2:] + ["https://example.com/d"])
    events: list[Any] = []
    for event in reader.stream(job_id):
        events.append(event)
        if len(events) == 1:
            reader_mock.advance(10)  # the snapshot arrived: play the whole timeline
    kinds = [event.type for event in events]
    assert kinds[0] == "progress" and kinds[-1] == "done"
    assert kinds.count("page") == 3
    assert (events[-1].status, events[-1].completed, events[-1].total) == ("completed", 3, 3)
    # On the wire: only per-job event names, and the SDK let the server end the stream after
    # done without coming back to the finished job.
    reader_mock_assert.event_names_belong("job", kinds)
    reader_mock_assert.job_streams_closed_after_done(job_id)


@pytest.mark.asyncio
@pytest.mark.reader_mock_timeline("crawl-growing-total")
async def test_the_async_client_follows_a_growing_total(
    reader_mock: MockServer,
    reader_mock_url: str,
    reader_mock_api_key: str,
    create_job: Callable[..., str],
    reader_mock_check_stream: Callable[..., list[Any]],
    reader_mock_assert: JournalAssertions,
) -> None:
    """The same fixtures in a pytest-asyncio test: the server runs on its own thread, so the
    async client and the test's event loop need nothing special."""
    job_id = create_job(url="https://example.com/docs", maxPages=5)
    totals: list[int] = []
    async with AsyncReaderClient(api_key=reader_mock_api_key, base_url=reader_mock_url) as client:
        async for event in client.stream(job_id):
            if event.type in ("progress", "done"):
                totals.append(event.total)
            if len(totals) == 1:
                reader_mock.advance(10)
    assert totals[0] == 1 and totals[-1] == 5 and totals == sorted(totals)
    # The bytes the server sent on that connection conform to the contract.
    (stream,) = reader_mock.journal.streams(channel="job", job_id=job_id)
    sent = b"".join(frame.data for frame in stream.frames)
    assert reader_mock_check_stream(sent, "job") == []
    reader_mock_assert.job_streams_closed_after_done(job_id)


@pytest.mark.reader_mock_timeline("fatal-failure")
def test_streaming_a_failed_job(
    reader: ReaderClient,
    reader_mock: MockServer,
    create_job: Callable[..., str],
    reader_mock_assert: JournalAssertions,
) -> None:
    job_id = create_job(FOUR)
    events: list[Any] = []
    for event in reader.stream(job_id):
        events.append(event)
        if len(events) == 1:
            reader_mock.advance(10)
    assert events[-1].type == "done"
    assert (events[-1].status, events[-1].completed, events[-1].total) == ("failed", 2, 4)
    reader_mock_assert.job_streams_closed_after_done(job_id)


# ----------------------------------------------------------------------------- errors


def test_an_unknown_key_is_unauthenticated(reader_mock_url: str) -> None:
    with (
        ReaderClient(api_key="rdr_wrong", base_url=reader_mock_url) as client,
        pytest.raises(UnauthenticatedError) as raised,
    ):
        client.get_credits()
    assert raised.value.http_status == 401


def test_an_unknown_job_is_not_found(reader: ReaderClient) -> None:
    with pytest.raises(NotFoundError) as raised:
        reader.get_job("job_does_not_exist")
    assert raised.value.code == "not_found"


def test_an_injected_error_reaches_the_caller_typed(
    reader: ReaderClient, control: httpx.Client
) -> None:
    fault = {"method": "POST", "path": "/v1/read", "code": "insufficient_credits"}
    assert control.post("/faults", json=fault).status_code == 201
    with pytest.raises(InsufficientCreditsError) as raised:
        reader.read(url="https://example.com/")
    assert raised.value.http_status == 402


def test_a_rate_limit_is_retried_after_the_advised_wait(
    reader: ReaderClient, control: httpx.Client, reader_mock: MockServer
) -> None:
    fault = {"method": "POST", "path": "/v1/read", "code": "rate_limited", "count": 1}
    assert control.post("/faults", json=fault).status_code == 201
    result = reader.read(url="https://example.com/")
    assert result.kind == "scrape"
    tries = reader_mock.journal.requests(method="POST", path="/v1/read")
    assert [r.status for r in tries] == [429, 200]
    # It waited (in clock time) at least as long as Retry-After asked before trying again.
    assert tries[1].at > tries[0].at


# ----------------------------------------------------------------------------- drops


@pytest.mark.reader_mock_timeline("drop-and-reconnect-job")
def test_a_dropped_job_stream_surfaces_as_an_error(
    reader: ReaderClient,
    reader_mock: MockServer,
    create_job: Callable[..., str],
    reader_mock_assert: JournalAssertions,
) -> None:
    """reader-py 0.4 does not reconnect a per-job stream the server cut: the drop reaches the
    caller as a protocol error. This pins that behaviour; a client that reconnects would assert
    ``reader_mock_assert.reconnected_after_drop("job", within=5)`` instead."""
    job_id = create_job(FOUR)
    events: list[Any] = []
    with pytest.raises((httpx.HTTPError, httpcore.ProtocolError)):
        for event in reader.stream(job_id):
            events.append(event)
            if len(events) == 1:
                reader_mock.advance(2)  # past the first page and the truncating drop
    assert [event.type for event in events][:1] == ["progress"]
    assert "done" not in [event.type for event in events]
    reader_mock_assert.did_not_reconnect_after_drop("job")
