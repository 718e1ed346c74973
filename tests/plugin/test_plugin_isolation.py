"""Each test starts from the same state: one suite, run in two orders and under xdist, gives the
same bytes in every test.

The suite's tests move the clock an hour, arm a clock move that never fires, read a stream and
scrape generated content; each writes what it received (bodies, stream bytes, the journal) to a
file. Whatever ran before a test, its file must be byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import httpcore  # noqa: F401  (see test_plugin.py: loaded once, outside the inline runs)
import pytest
from suites import UNUSED_PLUGINS

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.slow

_CONFTEST = '''
import json
import os
import re

import httpx
import pytest


def pytest_collection_modifyitems(items):
    if os.environ.get("SUITE_ORDER") == "reversed":
        items.reverse()


@pytest.fixture
def http(reader_mock):
    with httpx.Client(
        base_url=reader_mock.url, headers={"x-api-key": reader_mock.api_key}, timeout=10
    ) as client:
        yield client


@pytest.fixture
def dump(request, reader_mock):
    """Writes what the test received, and the journal, to a file named after the test."""
    found = {}
    yield found
    journal = reader_mock.journal.to_dict()
    for record in journal["requests"] + journal["streams"]:
        record["headers"].pop("host", None)  # the port differs between sessions
    found["journal"] = journal
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)
    path = os.path.join(os.environ["SUITE_OUT"], name + ".json")
    with open(path, "w", encoding="utf-8") as out:
        json.dump(found, out, sort_keys=True, indent=1)
'''

_SUITE = """
import httpx


def answer(response):
    return {"status": response.status_code, "body": response.text,
            "request_id": response.headers.get("x-request-id")}


def test_an_hour_later(reader_mock, http, dump):
    created = http.post("/v1/read", json={"urls": ["https://example.com/a"]})
    reader_mock.advance(3600)
    job_id = created.json()["data"]["id"]
    dump["created"] = answer(created)
    dump["job"] = answer(http.get(f"/v1/jobs/{job_id}"))


def test_a_move_armed_and_never_used(reader_mock, http, dump):
    reader_mock.advance_when_connected(1000, channel="workspace")
    dump["created"] = answer(http.post("/v1/read", json={"urls": ["https://example.com/b"]}))


def test_a_stream_read_to_the_end(reader_mock, reader_mock_script, http, dump):
    reader_mock_script("partial-failure")
    urls = ["https://example.com/x", "https://fail.example/y", "https://example.com/z"]
    created = http.post("/v1/read", json={"urls": urls})
    job_id = created.json()["data"]["id"]
    moved = reader_mock.advance_when_connected(10, job_id=job_id)
    with http.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        body = response.read()
    moved.result(timeout=10)
    dump["created"] = answer(created)
    dump["stream"] = body.decode()
    dump["job"] = answer(http.get(f"/v1/jobs/{job_id}"))


def test_generated_content(reader_mock, http, dump):
    reader_mock.advance(5)
    body = {"url": "https://example.com/page", "formats": ["markdown"]}
    scraped = http.post("/v1/read", json=body)
    dump["scraped"] = answer(scraped)
    dump["credits"] = answer(http.get("/v1/usage/credits"))
"""


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, order: str, *args: str
) -> dict[str, str]:
    out = pytester.path / f"out-{order}-{len(args)}"
    out.mkdir()
    monkeypatch.setenv("SUITE_OUT", str(out))
    monkeypatch.setenv("SUITE_ORDER", order)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", *UNUSED_PLUGINS, *args
    )
    result.assert_outcomes(passed=4)
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(out.iterdir())}


def test_a_suite_gives_the_same_bytes_in_any_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(test_suite=_SUITE)
    forward = _run(pytester, monkeypatch, "forward")
    backward = _run(pytester, monkeypatch, "reversed")
    spread = _run(pytester, monkeypatch, "forward", "-n", "2")
    assert len(forward) == 4
    for name, text in forward.items():
        assert backward[name] == text, f"{name} differs when the suite runs backwards"
        assert spread[name] == text, f"{name} differs under -n 2"
    # The hour-long test really moved the clock, and the next test did not inherit it.
    assert '"2026-01-01T01:00:00Z"' in forward["test_an_hour_later.json"]
    assert "2026-01-01T00:16:40Z" not in "".join(forward.values())  # the armed 1,000 s
    # The ready-made timeline's failed page quotes the job's own URL.
    stream = forward["test_a_stream_read_to_the_end.json"]
    assert "Failed to fetch https://fail.example/y: upstream error" in stream


def test_a_reset_takes_the_manual_clock_back_and_cancels_armed_moves(
    tmp_path: Path,
) -> None:
    """The same, in process: what a reset does to the clock and to a pending move."""
    import concurrent.futures

    from reader_mock.core.clock import ManualClock
    from reader_mock.server import MockServer

    clock = ManualClock()
    with MockServer(clock=clock) as server:
        start = clock.now()
        server.advance(3600)
        armed = server.advance_when_connected(1000, channel="workspace", timeout=30)
        server.reset()
        assert clock.now() == start
        with pytest.raises(concurrent.futures.CancelledError):
            armed.result(timeout=5)
        import httpx

        headers = {"x-api-key": server.api_key}
        with (
            httpx.Client(base_url=server.url, headers=headers) as http,
            http.stream("GET", "/v1/events") as response,
        ):
            assert response.status_code == 200
            server.journal.wait_for_stream(channel="workspace")
            server.reset()
        assert clock.now() == start
