"""Test modules the plugin tests run with pytester, written as text."""

from __future__ import annotations

from typing import Final

UNUSED_PLUGINS: Final = tuple(
    option
    for name in ("schemathesis", "hypothesispytest", "anyio", "faker", "pytest_httpserver")
    for option in ("-p", f"no:{name}")
)
"""Options for a pytest run in a new process: the pytest plugins of other installed libraries,
which no suite here uses, stay unloaded. Loading them costs every such process (and each of its
xdist workers) about a second of start-up."""

# A client written against the docs: it reads the per-job stream until done, then stops.
CLIENT: Final = '''
import httpx


def create_job(url, key, urls):
    response = httpx.post(f"{url}/v1/read", json={"urls": urls}, headers={"x-api-key": key})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def read_job_stream(url, key, job_id):
    """The raw bytes of one connection to the per-job stream, until the server ends it."""
    with httpx.stream(
        "GET", f"{url}/v1/jobs/{job_id}/stream", headers={"x-api-key": key}, timeout=10
    ) as response:
        assert response.status_code == 200
        return response.read()
'''

PASSING: Final = """
import httpx
import pytest

from client import create_job, read_job_stream


def test_sync_client(reader_mock, reader_mock_url, reader_mock_api_key,
                     reader_mock_check_stream, reader_mock_assert):
    job_id = create_job(reader_mock_url, reader_mock_api_key, ["https://example.com/a"])
    # read_job_stream blocks until the server ends the stream: move the clock once it connects.
    moved = reader_mock.advance_when_connected(10, job_id=job_id)
    body = read_job_stream(reader_mock_url, reader_mock_api_key, job_id)
    moved.result(timeout=5)
    assert reader_mock_check_stream(body, "job") == []
    reader_mock_assert.job_streams_closed_after_done(job_id)
    reader_mock_assert.event_names_belong("job", ["progress", "page", "done"])


def test_each_test_starts_fresh(reader_mock, reader_mock_api_key):
    response = httpx.get(f"{reader_mock.url}/v1/usage/credits",
                         headers={"x-api-key": reader_mock_api_key})
    assert response.json()["data"]["used"] == 0
    assert reader_mock.journal.streams() == []


@pytest.mark.asyncio
async def test_async_client(reader_mock_url, reader_mock_api_key, reader_mock_clock,
                            reader_mock_assert):
    async with httpx.AsyncClient(base_url=reader_mock_url,
                                 headers={"x-api-key": reader_mock_api_key}) as client:
        created = await client.post("/v1/read", json={"urls": ["https://example.com/a"]})
        job_id = created.json()["data"]["id"]
        reader_mock_clock.advance(10)
        async with client.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
            body = await response.aread()
    assert body.rstrip().endswith(b'"total":1}')
    reader_mock_assert.job_streams_closed_after_done(job_id)
"""

# A client that comes back to a finished job, and one that surfaces workspace events as
# per-job events: both must fail with the journal quoted.
FAILING: Final = """
import httpx

from client import create_job, read_job_stream


def test_reconnects_after_done(reader_mock, reader_mock_url, reader_mock_api_key,
                               reader_mock_assert):
    job_id = create_job(reader_mock_url, reader_mock_api_key, ["https://example.com/a"])
    reader_mock.advance_when_connected(10, job_id=job_id)
    read_job_stream(reader_mock_url, reader_mock_api_key, job_id)
    read_job_stream(reader_mock_url, reader_mock_api_key, job_id)  # "the stream ended: retry"
    reader_mock_assert.job_streams_closed_after_done(job_id)


def test_workspace_events_as_job_events(reader_mock_url, reader_mock_api_key,
                                        reader_mock_clock, reader_mock_assert):
    surfaced = []
    headers = {"x-api-key": reader_mock_api_key}
    with httpx.stream("GET", f"{reader_mock_url}/v1/events", headers=headers,
                      timeout=10) as response:
        create_job(reader_mock_url, reader_mock_api_key, ["https://example.com/a"])
        for line in response.iter_lines():
            if line.startswith("event:"):
                surfaced.append(line.split(":", 1)[1].strip())
                break
    reader_mock_assert.event_names_belong("job", surfaced)
"""

SERVER_ERROR: Final = """
import httpx


def test_server_side_exception(reader_mock, reader_mock_api_key, reader_mock_clock):
    def broken(event):
        raise ZeroDivisionError("a subscriber failed inside the server")

    reader_mock.service.events.subscribe(broken)
    httpx.post(f"{reader_mock.url}/v1/read", json={"urls": ["https://example.com/a"]},
               headers={"x-api-key": reader_mock_api_key})
    reader_mock_clock.advance(10)
    # Any request settles the workspace, so every event is published before the test ends.
    httpx.get(f"{reader_mock.url}/v1/queue/status", headers={"x-api-key": reader_mock_api_key})
"""

MARKED: Final = """
import httpx
import pytest

from client import create_job


@pytest.mark.reader_mock_timeline("partial-failure")
def test_marked_job_plays_the_timeline(reader_mock_url, reader_mock_api_key,
                                       reader_mock_clock):
    urls = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]
    job_id = create_job(reader_mock_url, reader_mock_api_key, urls)
    reader_mock_clock.advance(60)
    job = httpx.get(f"{reader_mock_url}/v1/jobs/{job_id}",
                    headers={"x-api-key": reader_mock_api_key}).json()["data"]
    assert [entry["url"] for entry in job["results"] if entry.get("error")] == [urls[1]]
"""

LAZY: Final = """
import sys


def test_plugin_imports_no_server():
    assert "reader_mock.server" not in sys.modules
    assert "quart" not in sys.modules
"""

# Workspace-stream clients around a scripted drop: one gives up, one reconnects.
WORKSPACE_DROP: Final = """
import httpcore
import httpx
import pytest

from client import create_job

URLS = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]


def follow_workspace(reader_mock, key, *, reconnect):
    headers = {"x-api-key": key}
    seen = []
    for attempt in range(2 if reconnect else 1):
        try:
            with httpx.stream("GET", f"{reader_mock.url}/v1/events", headers=headers,
                              timeout=10) as response:
                if attempt == 0:
                    create_job(reader_mock.url, key, URLS)
                    reader_mock.advance(2)  # past the first page and the truncating drop
                else:
                    reader_mock.advance(1)
                    return seen
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        seen.append(line.split(":", 1)[1].strip())
        except (httpx.HTTPError, httpcore.ProtocolError):  # the connection was cut
            if not reconnect:
                raise
    return seen


@pytest.mark.reader_mock_timeline("drop-and-reconnect-workspace")
def test_gives_up_after_a_drop(reader_mock, reader_mock_api_key, reader_mock_assert):
    with pytest.raises((httpx.HTTPError, httpcore.ProtocolError)):
        follow_workspace(reader_mock, reader_mock_api_key, reconnect=False)
    reader_mock_assert.did_not_reconnect_after_drop("workspace")
    reader_mock_assert.reconnected_after_drop("workspace")


@pytest.mark.reader_mock_timeline("drop-and-reconnect-workspace")
def test_reconnects_after_a_drop(reader_mock, reader_mock_api_key, reader_mock_assert):
    follow_workspace(reader_mock, reader_mock_api_key, reconnect=True)
    reader_mock_assert.reconnected_after_drop("workspace", within=1, headers={"x-api-key": "*"})
"""

# Scripting from a file next to the test module and from a Timeline built in Python.
SCRIPTED: Final = """
import httpx

from reader_mock.timeline import Timeline

from client import create_job


def job(url, key, job_id):
    return httpx.get(f"{url}/v1/jobs/{job_id}", headers={"x-api-key": key}).json()["data"]


def test_file_and_builder(reader_mock, reader_mock_url, reader_mock_api_key, reader_mock_script):
    built = (Timeline.build("one-then-fail", urls=["https://example.com/a", "https://example.com/b"])
             .wait(1).status("processing").page().wait(1).done("failed", error="boom"))
    assert reader_mock_script("two-pages.yaml", built) == 2
    first = create_job(reader_mock_url, reader_mock_api_key, ["https://example.com/x", "https://example.com/y"])
    second = create_job(reader_mock_url, reader_mock_api_key, ["https://example.com/a", "https://example.com/b"])
    reader_mock.advance(30)
    assert job(reader_mock_url, reader_mock_api_key, first)["status"] == "completed"
    failed = job(reader_mock_url, reader_mock_api_key, second)
    assert (failed["status"], failed["completed"]) == ("failed", 1)
"""

TWO_PAGES_YAML: Final = """
name: two-pages
urls: [https://example.com/x, https://example.com/y]
steps:
  - wait: 1
  - status: processing
  - page: {}
  - page: {}
  - done: completed
"""

# Workspace clients around the keep-alive: one that gives up on silence, one that waits.
PINGS: Final = """
import httpx


def test_holds_the_stream_across_pings(reader_mock, reader_mock_api_key, reader_mock_assert):
    headers = {"x-api-key": reader_mock_api_key}
    with httpx.stream("GET", f"{reader_mock.url}/v1/events", headers=headers,
                      timeout=10) as response:
        reader_mock.advance(65)
        # The line iterator is kept, not dropped: dropping it mid-body closes the connection.
        lines = response.iter_lines()
        pings = 0
        while pings < 2:
            pings += next(lines) == ": ping"
        # Asserted while the client still holds the stream: closing it is a hang-up.
        reader_mock_assert.workspace_stream_stayed_open(pings=2)


def test_hangs_up_on_silence(reader_mock, reader_mock_api_key, reader_mock_assert):
    headers = {"x-api-key": reader_mock_api_key}
    with httpx.stream("GET", f"{reader_mock.url}/v1/events", headers=headers, timeout=10):
        pass  # "nothing arrived: the stream must be dead"
    reader_mock_assert.workspace_stream_stayed_open()
"""

FIXTURE_NAMES: Final = (
    "reader_mock_server",
    "reader_mock",
    "reader_mock_url",
    "reader_mock_api_key",
    "reader_mock_clock",
    "reader_mock_script",
    "reader_mock_faults",
    "reader_mock_check_stream",
    "reader_mock_assert",
)
