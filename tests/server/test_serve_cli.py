"""``reader-mock serve`` as a real process: start-up lines, requests, signals, bad options."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reader_mock.cli import main
from reader_mock.contract import Channel, check_stream

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends POSIX signals")

START_TIMEOUT = 60.0


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    api_key: str

    def stop(self, signum: int) -> tuple[int, str, str]:
        """Send ``signum``; return the exit status and what was printed."""
        return _finish(self.process, signum)


class _Lines:
    """Lines of a child's stdout, read straight from the pipe so that a wait never hangs.

    (A buffered text reader may pull several lines at once, after which waiting on the pipe
    for the next one would block although it has arrived.)
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._process = process
        self._fd = process.stdout.fileno()
        self._buffer = b""

    def next(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                self._process.kill()
                pytest.fail(f"no line on stdout within {START_TIMEOUT:g} s")
            chunk = os.read(self._fd, 4096)
            if not chunk:
                self._process.wait(10)
                pytest.fail(f"the server exited with status {self._process.returncode}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "reader_mock.cli", "serve", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


def _finish(process: subprocess.Popen[bytes], signum: int) -> tuple[int, str, str]:
    """Send ``signum`` and wait; return the exit status and the rest of stdout and stderr."""
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.fixture
def serve_json() -> Iterator[Served]:
    """``reader-mock serve --port 0 --json`` running, with its URL and key read from stdout."""
    process = _spawn("--port", "0", "--json")
    try:
        announced = json.loads(_Lines(process).next())
        assert set(announced) == {"url", "apiKey"}
        yield Served(process, announced["url"], announced["apiKey"])
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_then_stops_cleanly_on_a_signal(serve_json: Served, signum: int) -> None:
    assert serve_json.url.startswith("http://127.0.0.1:")
    assert int(serve_json.url.rsplit(":", 1)[1]) > 0
    response = httpx.get(
        f"{serve_json.url}/v1/usage/credits", headers={"x-api-key": serve_json.api_key}
    )
    assert response.status_code == 200
    started = time.monotonic()
    status, stdout, stderr = serve_json.stop(signum)
    assert time.monotonic() - started < 10
    assert status == 0, stderr
    assert "Traceback" not in stderr
    assert stdout == ""  # --json: stdout carries the JSON line only (read already)
    assert "GET /v1/usage/credits 200 " in stderr
    assert f"serving the Reader API on {serve_json.url}" in stderr
    assert stderr.rstrip().endswith("reader-mock stopped.")


@pytest.mark.slow
def test_stops_on_sigterm_with_an_open_event_stream(serve_json: Served) -> None:
    headers = {"x-api-key": serve_json.api_key}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{serve_json.url}/v1/events", headers=headers) as events,
    ):
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
        status, _, stderr = serve_json.stop(signal.SIGTERM)
        ending = "clean"
        try:
            for _ in events.iter_bytes():
                pass
        except httpx.HTTPError as exc:
            ending = type(exc).__name__
    assert status == 0, stderr
    assert "Traceback" not in stderr
    assert ending in {"clean", "RemoteProtocolError"}  # an end, not a hang


@pytest.mark.slow
def test_human_start_up_lines() -> None:
    process = _spawn("--port", "0", "--api-key", "rdr_cli0test1key")
    try:
        stdout = _Lines(process)
        lines = [stdout.next() for _ in range(3)]
        prefix = "reader-mock is serving the Reader API on http://127.0.0.1:"
        assert lines[0].startswith(prefix)
        url = lines[0].split(" on ", 1)[1].strip()
        assert int(url.rsplit(":", 1)[1]) > 0
        assert lines[1].strip() == "API key: rdr_cli0test1key"
        assert lines[2].startswith("Clock: real time.")
        response = httpx.get(f"{url}/v1/usage/credits", headers={"x-api-key": "rdr_cli0test1key"})
        assert response.status_code == 200
    finally:
        status, _, stderr = _finish(process, signal.SIGINT)
    assert status == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_each_api_key_is_a_workspace_of_its_own() -> None:
    """Two ``--api-key`` options: both keys work, and neither sees the other's jobs."""
    process = _spawn("--port", "0", "--json", "--api-key", "rdr_first1", "--api-key", "rdr_other2")
    try:
        announced = json.loads(_Lines(process).next())
        assert announced["apiKey"] == "rdr_first1"
        assert announced["apiKeys"] == ["rdr_first1", "rdr_other2"]
        url = announced["url"]
        first = {"x-api-key": "rdr_first1"}
        other = {"x-api-key": "rdr_other2"}
        created = httpx.post(
            f"{url}/v1/read", json={"urls": ["https://example.com/a"]}, headers=first
        )
        assert created.status_code == 201, created.text
        job_id = created.json()["data"]["id"]
        assert httpx.get(f"{url}/v1/jobs/{job_id}", headers=first).status_code == 200
        assert httpx.get(f"{url}/v1/jobs/{job_id}", headers=other).status_code == 404
    finally:
        status, _, stderr = _finish(process, signal.SIGINT)
    assert status == 0, stderr
    assert "API keys, one workspace each: rdr_first1 (ws_1), rdr_other2 (ws_2)" in stderr


@pytest.mark.slow
def test_limits_and_speed_reach_the_mock() -> None:
    process = _spawn(
        "--port", "0", "--json", "--credits", "7", "--rpm", "2", "--speed", "10",
        "--ping-interval", "0.5",
    )  # fmt: skip
    try:
        announced = json.loads(_Lines(process).next())
        headers = {"x-api-key": announced["apiKey"]}
        with httpx.Client(base_url=announced["url"], headers=headers, timeout=10) as client:
            # 0.5 clock seconds at 10x: a ping after 0.05 s of real time, where the default
            # interval (30) would take 3 s. The stream does not count toward the rate limit.
            with client.stream("GET", "/v1/events") as events:
                started = time.monotonic()
                assert next(events.iter_lines()) == ": ping"
                assert time.monotonic() - started < 2.0
            credits = client.get("/v1/usage/credits")
            assert credits.status_code == 200
            assert credits.json()["data"]["limit"] == 7
            assert client.get("/v1/usage/credits").status_code == 200
            limited = client.get("/v1/usage/credits")
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
    finally:
        status, _, stderr = _finish(process, signal.SIGTERM)
    assert status == 0, stderr
    assert "Clock: 10x real time." in stderr


@pytest.mark.slow
def test_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "reader_mock.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port}: the address is already in use\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "Error: --port: '70000' is not a port number (0 to 65535; "),
        (["--port", "-1"], "Error: --port: '-1' is not a port number"),
        (["--port", "http"], "Error: --port: 'http' is not a port number"),
        (["--speed", "-2"], "Error: --speed: '-2' is not a speed (a number greater than 0)"),
        (["--speed", "0"], "Error: --speed: '0' is not a speed"),
        (["--speed", "nan"], "Error: --speed: 'nan' is not a speed"),
        (["--seed", "1.5"], "Error: --seed: '1.5' is not a whole number"),
        (["--credits", "-5"], "Error: --credits: '-5' is not a whole number >= 0"),
        (["--rpm", "0"], "Error: --rpm: '0' is not a whole number >= 1"),
        (["--ping-interval", "0"], "Error: --ping-interval: '0' is not a number of seconds"),
        (["--max-concurrent-jobs", "x"], "Error: --max-concurrent-jobs: 'x' is not a whole"),
        (["--api-key", "sk_live_1"], "Error: --api-key: 'sk_live_1' is not a Reader API key"),
        (["--api-key", "rdr_with space"], "Error: API key 'rdr_with space' must be 1 to 256"),
        (
            ["--api-key", "rdr_one", "--api-key", "rdr_one"],
            "Error: --api-key: the same key is given twice",
        ),
        (["--host", "no-such-host.invalid"], "Error: cannot listen on no-such-host.invalid:8080"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message), lines[0]


def test_bad_option_in_a_real_process() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "reader_mock.cli", "serve", "--speed", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr == "Error: --speed: '-1' is not a speed (a number greater than 0)\n"
    assert completed.stdout == ""


_TWO_PAGES = """\
name: two-pages
description: Two pages a minute apart, then done.
urls: [https://example.com/a, https://example.com/b]
steps:
  - wait: 1
  - status: processing
  - page: {}
  - wait: 60
  - page: {}
  - done: completed
"""


@pytest.mark.slow
def test_a_timeline_file_plays_on_the_manual_clock(tmp_path: Path) -> None:
    timeline = tmp_path / "two-pages.yaml"
    timeline.write_text(_TWO_PAGES)
    process = _spawn("--port", "0", "--json", "--manual-clock", "--timeline", str(timeline))
    try:
        announced = json.loads(_Lines(process).next())
        headers = {"x-api-key": announced["apiKey"]}
        urls = ["https://example.com/x", "https://example.com/y"]
        with httpx.Client(base_url=announced["url"], headers=headers, timeout=10) as client:
            created = client.post("/v1/read", json={"urls": urls})
            assert created.status_code == 201, created.text
            job_id = created.json()["data"]["id"]
            with client.stream("GET", f"/v1/jobs/{job_id}/stream") as stream:
                chunks = stream.iter_raw()
                received = [next(chunks)]  # the snapshot: nothing moves until the clock does
                assert received[0].startswith(b"event: progress\n")
                assert b'"status":"queued"' in received[0]
                # Past the first page and a ping (30 s after the stream opened), then the rest.
                advanced = client.post("/_mock/clock/advance", json={"seconds": 31})
                assert advanced.status_code == 200, advanced.text
                assert client.post("/_mock/clock/advance", json={"seconds": 40}).status_code == 200
                received.extend(chunks)
            body = b"".join(received)
            job = client.get(f"/v1/jobs/{job_id}").json()["data"]
    finally:
        status, _, stderr = _finish(process, signal.SIGTERM)
    assert status == 0, stderr
    assert "Every job plays, in turn: two-pages" in stderr
    assert "Clock: manual" in stderr
    assert check_stream(body, Channel.JOB) == []
    events = [
        (block.split(b"\n")[0], block)
        for block in body.split(b"\n\n")
        if block and not block.startswith(b":")
    ]
    assert [name for name, _ in events] == [
        b"event: progress",  # queued snapshot
        b"event: progress",  # processing
        b"event: page",
        b"event: progress",
        b"event: page",
        b"event: progress",
        b"event: done",
    ]
    assert body.count(b": ping\n\n") == 2  # at 30 and 60 clock seconds
    pages = [
        json.loads(block.split(b"data: ", 1)[1]) for name, block in events if name.endswith(b"page")
    ]
    assert [page["url"] for page in pages] == urls
    assert job["status"] == "completed"
    assert [entry["url"] for entry in job["results"]] == urls


def test_the_clock_options_exclude_each_other() -> None:
    result = CliRunner().invoke(main, ["serve", "--manual-clock", "--speed", "5"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --manual-clock and --speed: choose one")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "neither a ready-made timeline"),
        ("name: x\nsteps:\n  - page: {}\n", "step 1 (line 3): page: the job is still queued"),
        ("name: [unclosed\n", "bad.yaml"),
    ],
    ids=["unknown-name", "invalid-step", "broken-yaml"],
)
def test_a_bad_timeline_is_refused_at_start(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    spec = "no-such-timeline"
    if content is not None:
        spec = str(tmp_path / "bad.yaml")
        Path(spec).write_text(content)
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--timeline", spec])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: --timeline: the timeline cannot be played:\n")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
