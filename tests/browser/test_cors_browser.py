"""A web app on another origin uses the mock from headless Chromium, with the streaming code of
docs/frontend.md as written: it creates a job, follows its per-job stream with ``fetch``, resumes
with ``Last-Event-ID`` after a scripted drop, and reads the workspace stream at the same time.

The page is served from ``http://app.test:PORT`` (an origin the mock allows only because it is
given with ``cors_origins``); every request it makes is cross-origin and preflighted. The mock runs
on a manual clock that the test moves, so each step happens when the test says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
import pytest
from browser_support import APP_HOST

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Settings
from reader_mock.pytest_plugin import JournalAssertions
from reader_mock.runner import ASGIServer
from reader_mock.server import MockServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

FRONTEND: Final = Path(__file__).resolve().parents[2] / "docs" / "frontend.md"
MARKER: Final = "<!-- this block runs in headless Chromium (tests/browser/test_cors_browser.py) -->"
WAIT_MS: Final = 10_000

pytestmark = pytest.mark.slow  # each test starts a browser
URLS: Final = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]
# Ids on, and the per-job stream cut (without the end of the body) after the first page.
RESUMING: Final = {
    "name": "resume-in-the-browser",
    "urls": URLS,
    "settings": {"ids": True},
    "steps": [
        {"wait": 0.5},
        {"status": "processing"},
        {"wait": 1},
        {"page": {}},
        # The page reads the frames before the drop: Chromium may discard frames that arrive
        # together with the end of a connection, and then resume from an earlier id.
        {"wait": 0.5},
        {"drop": {"streams": "job", "how": "truncate"}},
        {"wait": 1},
        {"page": {}},
        {"wait": 1},
        {"page": {}},
        {"done": "completed"},
    ],
}


def _example() -> str:
    """The JavaScript example of docs/frontend.md, as the page runs it."""
    found = re.search(re.escape(MARKER) + r"\n```js\n(.*?)\n```", FRONTEND.read_text(), re.DOTALL)
    assert found is not None, f"no example marked to run in {FRONTEND}"
    return found.group(1)


_PAGE: Final = """<!doctype html><meta charset="utf-8"><title>app</title><script>
%s
window.seen = { job: [], workspace: [], workspaceOpen: false };
window.run = async (base, apiKey) => {
  const seen = window.seen;
  const controller = new AbortController();
  seen.stop = () => controller.abort();
  await new Promise((opened, failed) => {
    readStream(`${base}/v1/events`, {
      apiKey, signal: controller.signal, onOpen: () => { seen.workspaceOpen = true; opened(); },
      onEvent: (event) => seen.workspace.push(event),
    }).catch((error) => { seen.workspaceError = String(error); failed(error); });
  });
  const created = await fetch(`${base}/v1/read`, {
    method: "POST",
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    body: JSON.stringify({ urls: %s }),
  });
  seen.requestId = created.headers.get("x-request-id");
  seen.jobId = (await created.json()).data.id;
  await followJob(base, apiKey, seen.jobId, (event) => seen.job.push(event));
  seen.finished = true;
};
</script>"""


class _PageApp:
    """Serves the one page at ``/``."""

    def __init__(self, html: str) -> None:
        self.body = html.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@pytest.fixture
def app_url() -> Iterator[str]:
    """The URL of the app's page, on its own origin ``http://app.test:PORT``."""
    page = _PageApp(_PAGE % (_example(), json.dumps(URLS)))
    server = ASGIServer(page)
    server.start()
    try:
        yield f"http://{APP_HOST}:{server.port}/"
    finally:
        server.stop()


@pytest.fixture
def mock(app_url: str) -> Iterator[MockServer]:
    origin = app_url.rstrip("/")
    with MockServer(
        settings=Settings(cors_origins=(origin,)), clock=ManualClock(), seed=9
    ) as server:
        yield server
        assert server.errors == [], server.errors


def _advance(mock: MockServer, seconds: float) -> None:
    httpx.post(f"{mock.url}/_mock/clock/advance", json={"seconds": seconds}).raise_for_status()


def test_an_app_on_another_origin_streams_resumes_and_reads_the_workspace(
    page: Page, app_url: str, mock: MockServer
) -> None:
    httpx.post(f"{mock.url}/_mock/jobs/script", json={"timeline": RESUMING}).raise_for_status()
    page.goto(app_url)
    page.evaluate(
        "([base, key]) => { window.running = window.run(base, key); }", [mock.url, DEFAULT_API_KEY]
    )
    journal = mock.service.journal

    def job_connections() -> int:
        return len(journal.streams(channel="job"))

    page.wait_for_function("window.seen.jobId !== undefined", timeout=WAIT_MS)
    job_id = page.evaluate("window.seen.jobId")
    assert page.evaluate("window.seen.requestId").startswith("req_")  # an exposed header
    _wait(lambda: job_connections() == 1)

    _advance(mock, 1.5)  # processing and the first page
    page.wait_for_function("window.seen.job.length === 4", timeout=WAIT_MS)
    _advance(mock, 0.5)  # the drop
    _wait(lambda: job_connections() == 2)  # the page reconnected by itself
    first, second = journal.streams(channel="job")
    assert first.close_reason == "scripted_drop"
    assert second.last_event_id is not None

    _advance(mock, 5)  # the other pages and done
    page.wait_for_function("window.seen.finished === true", timeout=WAIT_MS)
    page.wait_for_function(
        "window.seen.workspace.some((event) => event.type === 'job:completed')", timeout=WAIT_MS
    )

    job_events = page.evaluate("window.seen.job")
    names = [event["type"] for event in job_events]
    assert names[0] == "progress" and names[-1] == "done"
    assert names.count("page") == 3
    ids = [int(event["id"]) for event in job_events]
    # Resumed after the last event read before the drop: the new connection goes on from the
    # next id, so the page saw every id once, in order, the resume point among them.
    assert ids == list(range(1, len(ids) + 1)), [(e["type"], e["id"]) for e in job_events]
    assert int(second.last_event_id) in ids[:-1]
    workspace = page.evaluate("window.seen.workspace")
    assert all(json.loads(event["data"])["jobId"] == job_id for event in workspace)
    assert workspace[-1]["type"] == "job:completed"
    # The job turned ids on for the workspace too: its events there count from 1.
    assert [event["id"] for event in workspace] == [str(n) for n in range(1, len(workspace) + 1)]

    # The client closed the per-job stream after done and resumed with Last-Event-ID.
    assertions = JournalAssertions(journal)
    assertions.job_streams_closed_after_done(job_id)
    assertions.reconnected_after_drop("job", last_event_id=True)
    workspace_streams = journal.streams(channel="workspace")
    assert len(workspace_streams) == 1 and workspace_streams[0].is_open
    page.evaluate("window.seen.stop()")
    # Every request came from the app's origin, so each was a CORS request.
    origins = {record.headers.get("origin") for record in journal.requests()}
    assert origins == {app_url.rstrip("/")}, origins


def test_a_mistyped_path_reaches_the_app_as_the_mocks_404(
    page: Page, app_url: str, mock: MockServer
) -> None:
    page.goto(app_url)
    answer = page.evaluate(
        """async ([base, key]) => {
            const response = await fetch(`${base}/v1/jobz`, { headers: { "x-api-key": key } });
            return { status: response.status, body: await response.json() };
        }""",
        [mock.url, DEFAULT_API_KEY],
    )
    assert answer["status"] == 404
    assert answer["body"]["error"]["code"] == "not_found"


def _wait(condition: Any, timeout: float = WAIT_MS / 1000) -> None:
    """Wait for ``condition()`` (state the browser changes on its own), polling the journal."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        pause.wait(0.02)
