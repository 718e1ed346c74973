"""The dashboard at ``/_mock/`` in headless Chromium: a job appears and completes live, its events
are listed, the journal shows the stream connections, and the clock buttons move a manual clock.

The page's Content-Security-Policy forbids evaluating strings, so the tests wait with selectors
and Playwright's ``expect``, never with ``wait_for_function``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import httpx
import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock
from reader_mock.server import MockServer

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
expect = playwright.expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

WAIT_MS: Final = 10_000

pytestmark = pytest.mark.slow  # each test starts a browser
TOKEN: Final = "dashboard-test-token"


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(clock=ManualClock(), seed=3, control_token=TOKEN) as running:
        yield running
        assert running.errors == [], running.errors


def _open(page: Page, server: MockServer) -> None:
    page.goto(f"{server.url}/_mock/#key={DEFAULT_API_KEY}&token={TOKEN}")
    page.wait_for_selector("#ws-state.state-connected", timeout=WAIT_MS)
    page.wait_for_selector("#clock-manual:not([hidden])", timeout=WAIT_MS)


def test_a_job_appears_and_completes_live(page: Page, server: MockServer) -> None:
    _open(page, server)
    created = httpx.post(
        f"{server.url}/v1/read",
        json={"urls": ["https://example.com/a", "https://example.com/b"]},
        headers={"x-api-key": DEFAULT_API_KEY},
    )
    job_id = created.json()["data"]["id"]
    row = f'tr[data-job-id="{job_id}"]'
    page.wait_for_selector(f"{row} .status-queued", timeout=WAIT_MS)
    before = page.inner_text("#clock-now")
    start = server.clock.now()

    page.click('button[data-advance="10"]')  # the page moves the manual clock

    page.wait_for_selector(f"{row} .status-completed", timeout=WAIT_MS)
    assert page.inner_text(f"{row} .progress").strip() == "2/2"
    assert page.inner_text(f"{row} .last") == "job:completed"
    events = page.locator("#events li").all_inner_texts()
    assert [event.split(" ")[0] for event in events] == [
        "job:progress",
        "job:progress",
        "job:progress",
        "job:progress",
        "job:completed",
    ]
    assert all(job_id in event for event in events)
    expect(page.locator("#clock-now")).not_to_have_text(before, timeout=WAIT_MS)
    assert server.clock.now() == start + 10
    # The journal lists the page's own workspace stream, open.
    page.wait_for_selector("#streams tr td.state.open", timeout=WAIT_MS)
    assert "workspace" in page.inner_text("#streams")


def test_closed_streams_show_their_reason_and_scripts_and_faults_are_listed(
    page: Page, server: MockServer
) -> None:
    headers = {"x-mock-token": TOKEN}
    httpx.post(
        f"{server.url}/_mock/jobs/script",
        json={"timeline": "partial-failure", "count": 2},
        headers=headers,
    ).raise_for_status()
    httpx.post(
        f"{server.url}/_mock/faults",
        json={"method": "GET", "path": "/v1/usage", "code": "internal_error", "count": 3},
        headers=headers,
    ).raise_for_status()
    _open(page, server)
    expect(page.locator("#timelines")).to_contain_text("partial-failure", timeout=WAIT_MS)
    assert "1. partial-failure · 2. partial-failure" in page.inner_text("#timelines")
    assert "GET /v1/usage → internal_error (3 left)" in page.inner_text("#faults")

    created = httpx.post(
        f"{server.url}/v1/read",
        json={"urls": ["https://example.com/a", "https://example.com/b", "https://example.com/c"]},
        headers={"x-api-key": DEFAULT_API_KEY},
    )
    job_id = created.json()["data"]["id"]
    httpx.post(
        f"{server.url}/_mock/clock/advance", json={"seconds": 120}, headers=headers
    ).raise_for_status()
    with httpx.stream(
        "GET", f"{server.url}/v1/jobs/{job_id}/stream", headers={"x-api-key": DEFAULT_API_KEY}
    ) as stream:
        stream.read()
    page.wait_for_selector("#streams td.reason-after_done", timeout=WAIT_MS)
    assert "closed: after_done" in page.inner_text("#streams")


def test_the_page_loads_without_the_token_and_reports_a_refused_one(
    page: Page, server: MockServer
) -> None:
    page.goto(f"{server.url}/_mock/#key={DEFAULT_API_KEY}&token=wrong")
    expect(page.locator("#error")).to_contain_text("401", timeout=WAIT_MS)
    assert "GET /_mock/" in page.inner_text("#error")
