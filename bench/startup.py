"""Start-up benchmark: reader-mock's MockServer against its own stack and pytest-httpserver.

Each run is a fresh Python process per server, so nothing is cached between runs, and the
servers alternate so that machine noise hits all alike. Before the timed runs, each server's
process runs once untimed so that Python's bytecode caches exist, as they do for an installed
package (the runs ignore ``PYTHONDONTWRITEBYTECODE``). In each process the script measures:

- ``import``: importing the server module (``reader_mock.server`` / ``pytest_httpserver``);
- ``first start``: after that import, build and start a server and get a 200 over a real socket
  (the first server of the process, so it pays for whatever the start loads on first use);
- ``next start``: the same for further servers in the same process (what a test suite that
  starts several servers pays for each one after the first).

The baseline ``quart + hypercorn`` only imports Quart and Hypercorn's asyncio server: the floor
of reader-mock's own stack. The figures are medians and 90th percentiles over all runs.

Targets: reader-mock's import plus first start within 1.25x the stack's import (the median of
the ratios of the two in each run, measured one right after the other); its first request after
start under 20 ms; its first start after import under 100 ms.

Run: ``python bench/startup.py`` (``--runs N``, default 20; ``--next-starts N``, default 5).
Needs the ``bench`` extra: ``pip install -e '.[test,bench]'``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

TARGET_MS = 100.0
TARGET_STACK_RATIO = 1.25
TARGET_FIRST_GET_MS = 20.0
STACK = "quart + hypercorn"
SERVERS = ("reader-mock", STACK, "pytest-httpserver")
PHASES = (
    ("import", "import"),
    ("first_start", "first start -> 200"),
    ("first_build", "  build the server"),
    ("first_listen", "  start() returns"),
    ("first_get", "  first GET -> 200"),
    ("import_and_first_start", "import + first start"),
    ("next_start", "next start -> 200"),
    ("first_read", "first read -> 200"),
    ("next_read", "next read -> 200"),
)


def _get_ok(port: int, path: str, headers: dict[str, str]) -> None:
    """One GET over a new TCP connection; fails unless the answer is 200."""
    _request_ok(port, "GET", path, headers, None, 200)


def _request_ok(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None, status: int
) -> None:
    """One request over a new TCP connection; fails unless the answer has ``status``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != status:
            raise SystemExit(f"{method} {path} answered {response.status}, expected {status}")
    finally:
        connection.close()


def _read_seconds(port: int, key: str, url: str) -> float:
    """One ``POST /v1/read`` of one URL (its content in the answer), timed."""
    headers = {"x-api-key": key, "content-type": "application/json"}
    body = json.dumps({"url": url}).encode()
    started = time.perf_counter()
    _request_ok(port, "POST", "/v1/read", headers, body, 200)
    return time.perf_counter() - started


class _Steps:
    """Wall-clock marks of one start: built, listening, first 200 received."""

    def __init__(self) -> None:
        self.marks = [time.perf_counter()]

    def mark(self) -> None:
        self.marks.append(time.perf_counter())

    def durations(self) -> list[float]:
        return [after - before for before, after in zip(self.marks, self.marks[1:], strict=False)]


def _child_reader_mock(next_starts: int) -> dict[str, list[float]]:
    started = time.perf_counter()
    import reader_mock.server

    imported = time.perf_counter()
    reads: list[float] = []

    def start_and_get() -> tuple[list[float], Callable[[], None]]:
        steps = _Steps()
        server = reader_mock.server.MockServer()
        steps.mark()
        server.start()
        steps.mark()
        assert server.api_key is not None
        _get_ok(server.port, "/v1/usage/credits", {"x-api-key": server.api_key})
        steps.mark()
        if not reads:  # after the first start's first request, untimed by the start phases
            for index in range(2):
                url = f"https://example.com/{index}"
                reads.append(_read_seconds(server.port, server.api_key, url))
        return steps.durations(), server.stop

    found = _measure(started, imported, start_and_get, next_starts)
    return found | {"first_read": reads[:1], "next_read": reads[1:]}


def _child_stack() -> dict[str, list[float]]:
    started = time.perf_counter()
    import hypercorn.asyncio
    import hypercorn.config
    import quart

    imported = time.perf_counter()
    loaded = (quart.Quart, hypercorn.asyncio.serve, hypercorn.config.Config)
    assert all(callable(item) for item in loaded)
    return {"import": [imported - started]}


def _child_httpserver(next_starts: int) -> dict[str, list[float]]:
    started = time.perf_counter()
    import pytest_httpserver

    imported = time.perf_counter()

    def start_and_get() -> tuple[list[float], Callable[[], None]]:
        steps = _Steps()
        server = pytest_httpserver.HTTPServer(host="127.0.0.1", port=0)
        server.expect_request("/v1/usage/credits").respond_with_json({"success": True})
        steps.mark()
        server.start()
        steps.mark()
        _get_ok(server.port, "/v1/usage/credits", {})
        steps.mark()
        return steps.durations(), server.stop

    return _measure(started, imported, start_and_get, next_starts)


def _measure(
    started: float,
    imported: float,
    start_and_get: Callable[[], tuple[list[float], Callable[[], None]]],
    next_starts: int,
) -> dict[str, list[float]]:
    (build, listen, first_get), stop = start_and_get()
    stop()
    next_times = []
    for _ in range(next_starts):
        durations, stop = start_and_get()
        next_times.append(sum(durations))
        stop()
    return {
        "import": [imported - started],
        "first_start": [build + listen + first_get],
        "first_build": [build],
        "first_listen": [listen],
        "first_get": [first_get],
        "import_and_first_start": [imported - started + build + listen + first_get],
        "next_start": next_times,
    }


def _run_child(server: str, next_starts: int) -> dict[str, list[float]]:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    completed = subprocess.run(
        [sys.executable, __file__, "--child", server, "--next-starts", str(next_starts)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    if completed.returncode != 0:
        raise SystemExit(f"the {server} run failed:\n{completed.stderr}")
    result: dict[str, list[float]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def _versions() -> str:
    from importlib.metadata import version

    names = ("reader-mock", "hypercorn", "quart", "pytest-httpserver", "werkzeug")
    return ", ".join(f"{name} {version(name)}" for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="fresh processes per server")
    parser.add_argument("--next-starts", type=int, default=5, help="extra starts per process")
    parser.add_argument("--child", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runs < 1 or args.next_starts < 1:
        parser.error("--runs and --next-starts must be at least 1")

    if args.child is not None:
        if args.child == STACK:
            print(json.dumps(_child_stack()))
        else:
            child = _child_reader_mock if args.child == "reader-mock" else _child_httpserver
            print(json.dumps(child(args.next_starts)))
        return

    for server in SERVERS:  # untimed: writes the bytecode caches
        _run_child(server, 1)
    samples: dict[str, dict[str, list[float]]] = {
        server: {phase: [] for phase, _ in PHASES} for server in SERVERS
    }
    for run in range(args.runs):
        order = SERVERS if run % 2 == 0 else tuple(reversed(SERVERS))
        for server in order:
            for phase, values in _run_child(server, args.next_starts).items():
                samples[server][phase].extend(values)
        print(f"\rrun {run + 1}/{args.runs}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    print(f"Start-up, {args.runs} fresh processes per server, Python {sys.version.split()[0]}")
    print(f"({_versions()})")
    print("Times in ms, median / p90; ratio = reader-mock median / pytest-httpserver median.")
    print()
    header = f"{'phase':<24}{'reader-mock':>20}{STACK:>20}{'pytest-httpserver':>22}{'ratio':>9}"
    print(header)
    print("-" * len(header))

    def median(server: str, phase: str) -> float:
        return statistics.median(v * 1000 for v in samples[server][phase])

    for phase, label in PHASES:
        cells = []
        for server in SERVERS:
            values = [v * 1000 for v in samples[server][phase]]
            cell = f"{statistics.median(values):>11.1f} / {_p90(values):>6.1f}" if values else "-"
            cells.append(cell)
        ratio = "-"
        if samples["pytest-httpserver"][phase]:
            ratio = f"{median('reader-mock', phase) / median('pytest-httpserver', phase):.1f}x"
        print(f"{label:<24}{cells[0]:>20}{cells[1]:>20}{cells[2]:>22}{ratio:>9}")

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    total = median("reader-mock", "import_and_first_start")
    floor = median(STACK, "import")
    first_get = median("reader-mock", "first_get")
    first = median("reader-mock", "first_start")
    # Each run measures both one after the other: the ratio within a run cancels the machine's
    # slow and fast spells, which the ratio of the two medians does not.
    paired = sorted(
        ours / stack
        for ours, stack in zip(
            samples["reader-mock"]["import_and_first_start"], samples[STACK]["import"], strict=True
        )
    )
    run_ratio = statistics.median(paired)
    print()
    print(
        f"Target: reader-mock import + first start within {TARGET_STACK_RATIO}x the import of "
        f"{STACK}, run by run: median {run_ratio:.2f}x (runs from {paired[0]:.2f}x to "
        f"{paired[-1]:.2f}x; the medians above give {total:.1f} / {floor:.1f} ms = "
        f"{total / floor:.2f}x), {verdict(run_ratio <= TARGET_STACK_RATIO)}."
    )
    print(
        f"Target: reader-mock first request after start under {TARGET_FIRST_GET_MS:.0f} ms: "
        f"{first_get:.1f} ms median, {verdict(first_get < TARGET_FIRST_GET_MS)}."
    )
    print(
        f"Target: reader-mock first start after import under {TARGET_MS:.0f} ms: "
        f"{first:.1f} ms median, {verdict(first < TARGET_MS)}."
    )
    first_read, next_read = median("reader-mock", "first_read"), median("reader-mock", "next_read")
    print(
        f"No target: reader-mock's first read (POST /v1/read of one URL, after the first GET) "
        f"{first_read:.1f} ms, the next {next_read:.1f} ms: the first loads what generated "
        f"pages and body checks need (Faker, jsonschema; bench/README.md, "
        f'"What the start-up loads").'
    )


if __name__ == "__main__":
    main()
