"""``reader-mock check``: it passes the mock, fails each broken server naming the broken rule,
exits 2 when nothing listens, and writes JUnit XML that parses."""

from __future__ import annotations

import functools
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest
from click.testing import CliRunner, Result

from reader_mock import checking
from reader_mock.cli import main
from reader_mock.core import DEFAULT_API_KEY, Settings
from reader_mock.core.clock import ScaledClock
from reader_mock.server import MockServer

KEY: Final = DEFAULT_API_KEY
STREAMS: Final = ["--only", "streams", "--ping-interval", "1", "--job-timeout", "5"]


def _check(url: str, *options: str) -> Result:
    return CliRunner().invoke(main, ["check", url, "--api-key", KEY, *options])


def _failed_rules(output: str) -> set[str]:
    return set(re.findall(r"^    \[([^\]]+)\]", output, re.MULTILINE))


def _shorter_graces(monkeypatch: pytest.MonkeyPatch, **graces: float) -> None:
    """The check's waits after ``done`` (2 s for the per-job stream's close, 5 s for the
    workspace stream's outcome) cut short, for a server that never comes: the check waits them
    out before it fails, and a shorter wait fails the same way."""
    limits = functools.partial(checking.StreamLimits, **graces)
    monkeypatch.setattr(checking, "StreamLimits", limits)


def test_the_unbroken_replay_passes(serve_broken: Callable[..., str]) -> None:
    result = _check(serve_broken(), *STREAMS)
    assert result.exit_code == 0, result.output
    assert "7 checks: 7 passed, 0 failed" in result.output


def test_wrong_event_names_on_the_per_job_stream_fail(serve_broken: Callable[..., str]) -> None:
    url = serve_broken(job_stream=lambda data: data.replace(b"event: page\n", b"event: result\n"))
    result = _check(url, *STREAMS)
    assert result.exit_code == 1, result.output
    assert "unknown-event" in _failed_rules(result.output)
    line = next(line for line in result.output.splitlines() if "[unknown-event]" in line)
    assert "per-job stream, frame 3, event 'result'" in line, line


def test_a_per_job_stream_open_after_done_fails(
    serve_broken: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _shorter_graces(monkeypatch, close_grace=0.5)
    started = time.monotonic()
    result = _check(serve_broken(close_after_done=False), *STREAMS)
    assert result.exit_code == 1, result.output
    assert _failed_rules(result.output) == {"close-after-done"}, result.output
    assert "open more than 0.5 s after 'done'" in result.output
    assert time.monotonic() - started < 15


def test_workspace_payloads_without_job_id_fail(
    serve_broken: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _shorter_graces(monkeypatch, outcome_grace=1.0)
    url = serve_broken(workspace=lambda data: re.sub(rb'"jobId":"[^"]*",?', b"", data))
    result = _check(url, *STREAMS)
    assert result.exit_code == 1, result.output
    rules = _failed_rules(result.output)
    assert {"job-id", "job-outcome"} <= rules, result.output
    assert "payload" in rules  # the schema requires it as well


def test_a_workspace_stream_without_keep_alive_fails(serve_broken: Callable[..., str]) -> None:
    started = time.monotonic()
    result = _check(serve_broken(pings=False), *STREAMS)
    assert result.exit_code == 1, result.output
    assert _failed_rules(result.output) == {"keep-alive"}, result.output
    assert "expected one every 1 s" in result.output
    assert time.monotonic() - started < 15


def test_nothing_listening_is_status_2_without_a_traceback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "reader_mock.cli",
            "check",
            f"http://127.0.0.1:{port}",
            "--api-key",
            KEY,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert "nothing is listening" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_a_server_that_never_answers_is_status_2_within_bounded_time() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel; nothing ever answers
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = _check(f"http://127.0.0.1:{port}", *STREAMS, "--connect-timeout", "1")
        elapsed = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert "could not run" in result.output
    assert "no answer within 1 s" in result.output
    assert 1 <= elapsed < 6, elapsed  # the default bound, 10 s, would be too long


@pytest.mark.parametrize(
    "arguments",
    [
        ["check", "localhost:8080", "--api-key", KEY],
        ["check", "http://127.0.0.1:1", "--api-key", KEY, "--ping-interval", "0"],
        ["check", "http://127.0.0.1:1", "--api-key", KEY, "--only", "soap"],
        ["check", "http://127.0.0.1:1", "--api-key", KEY, "--max-examples", "0"],
        ["check", "http://127.0.0.1:1", "--api-key", KEY, "--max-examples", "many"],
        ["check", "http://127.0.0.1:1", "--api-key", KEY, "--connect-timeout", "0"],
        ["check", "http://127.0.0.1:1"],
    ],
)
def test_bad_arguments_are_status_2(arguments: list[str]) -> None:
    result = CliRunner(env={"READER_API_KEY": None}).invoke(main, arguments)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_refused_key_is_status_2(serve_broken: Callable[..., str]) -> None:
    with MockServer(settings=Settings(), clock=ScaledClock(20)) as server:
        result = CliRunner().invoke(main, ["check", server.url, "--api-key", "rdr_wrong"])
    assert result.exit_code == 2, result.output
    assert "refused the API key (401)" in result.output


def test_junit_xml_has_one_case_per_check_and_the_failures(
    serve_broken: Callable[..., str], tmp_path: Path
) -> None:
    report = tmp_path / "check.xml"
    result = _check(serve_broken(pings=False), *STREAMS, "--junit", str(report))
    assert result.exit_code == 1
    root = ET.fromstring(report.read_bytes())
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests", "0")) == 7
    failed = [case for case in cases if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == [
        "workspace stream: a keep-alive comment within the ping interval"
    ]
    failure = failed[0].find("failure")
    assert failure is not None and failure.get("type") == "keep-alive"
    assert suite.get("failures") == "1"


@pytest.mark.slow
def test_the_mock_at_speed_20_passes_every_check_within_3_minutes(tmp_path: Path) -> None:
    """REST through Schemathesis and both streams, against ``reader-mock serve --speed 20``
    with limits a fuzzer does not reach. One generated example per operation and phase, beside
    every case of the coverage phase: the suite's own Schemathesis tests (tests/integration) run
    the full 25 in process; this one proves the command end to end, and that ``--max-examples``
    reaches Schemathesis."""
    settings = Settings(
        requests_per_minute=1_000_000, monthly_credits=1_000_000_000, max_concurrent_jobs=1_000_000
    )
    report = tmp_path / "check.xml"
    started = time.monotonic()
    with MockServer(settings=settings, clock=ScaledClock(20)) as server:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "reader_mock.cli",
                "check",
                server.url,
                "--api-key",
                KEY,
                "--ping-interval",
                "1.5",
                "--junit",
                str(report),
                "--max-examples",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert server.errors == []
        # The settings file's 25 examples send about 2,000 requests; one sends about 1,000.
        sent = len(server.journal.requests())
    assert 0 < sent < 1_600, sent
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stdout + run.stderr
    assert elapsed < 180, elapsed
    cases = ET.fromstring(report.read_bytes()).findall(".//testcase")
    groups = {case.get("classname") for case in cases}
    assert groups == {"rest", "streams"}
    assert len([case for case in cases if case.get("classname") == "rest"]) >= 20
    assert "passed" in run.stderr  # the progress lines
