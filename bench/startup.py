"""Start-up benchmark: reader-mock's MockServer against pytest-httpserver's HTTPServer.

Each run is a fresh Python process per server, so nothing is cached between runs, and the two
servers alternate so that machine noise hits both alike. In each process the script measures:

- ``import``: importing the server module (``reader_mock.server`` / ``pytest_httpserver``);
- ``first start``: after that import, build and start a server and get a 200 over a real socket
  (the first server of the process, so it pays for whatever the start loads on first use);
- ``next start``: the same for further servers in the same process (what a test suite that
  starts several servers pays for each one after the first).

The figures are medians and 90th percentiles over all runs, with our time divided by theirs.
Target: reader-mock's first start after import under 100 ms.

Run: ``python bench/startup.py`` (``--runs N``, default 20; ``--next-starts N``, default 5).
Needs the ``bench`` extra: ``pip install -e '.[test,bench]'``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

TARGET_MS = 100.0
SERVERS = ("reader-mock", "pytest-httpserver")
PHASES = (
    ("import", "import"),
    ("first_start", "first start -> 200"),
    ("first_build", "  build the server"),
    ("first_listen", "  start() returns"),
    ("first_get", "  first GET -> 200"),
    ("import_and_first_start", "import + first start"),
    ("next_start", "next start -> 200"),
)


def _get_ok(port: int, path: str, headers: dict[str, str]) -> None:
    """One GET over a new TCP connection; fails unless the answer is 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}, expected 200")
    finally:
        connection.close()


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

    def start_and_get() -> tuple[list[float], Callable[[], None]]:
        steps = _Steps()
        server = reader_mock.server.MockServer()
        steps.mark()
        server.start()
        steps.mark()
        assert server.api_key is not None
        _get_ok(server.port, "/v1/usage/credits", {"x-api-key": server.api_key})
        steps.mark()
        return steps.durations(), server.stop

    return _measure(started, imported, start_and_get, next_starts)


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
    completed = subprocess.run(
        [sys.executable, __file__, "--child", server, "--next-starts", str(next_starts)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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
        child = _child_reader_mock if args.child == "reader-mock" else _child_httpserver
        print(json.dumps(child(args.next_starts)))
        return

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
    header = f"{'phase':<24}{'reader-mock':>20}{'pytest-httpserver':>22}{'ratio':>9}"
    print(header)
    print("-" * len(header))
    for phase, label in PHASES:
        cells = []
        for server in SERVERS:
            values = [v * 1000 for v in samples[server][phase]]
            cells.append((statistics.median(values), _p90(values)))
        ours, theirs = cells
        print(
            f"{label:<24}{ours[0]:>11.1f} / {ours[1]:>6.1f}"
            f"{theirs[0]:>13.1f} / {theirs[1]:>6.1f}{ours[0] / theirs[0]:>8.1f}x"
        )
    first = statistics.median(v * 1000 for v in samples["reader-mock"]["first_start"])
    verdict = "met" if first < TARGET_MS else "MISSED"
    print()
    print(
        f"Target: reader-mock first start after import under {TARGET_MS:.0f} ms: "
        f"{first:.1f} ms median, {verdict}."
    )


if __name__ == "__main__":
    main()
