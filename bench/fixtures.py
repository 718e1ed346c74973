"""Fixture cost benchmark: what the plugin's function-scoped fixtures add to each test, beside
pytest-httpserver's ``httpserver`` fixture, in the same run.

A generated suite of ``--tests`` trivial tests per side runs in one pytest session; a small plugin
records each test's setup and teardown durations (what the fixtures cost). The first test of each
side is left out (it starts the session server). Figures: median and p90 in milliseconds, and the
ratio of the medians. Target: under 2 ms per test for reader-mock.

Run: ``python bench/fixtures.py`` (``--tests N``, default 300).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

TARGET_MS = 2.0

OURS = """
def test_ours_{n}(reader_mock, reader_mock_url, reader_mock_api_key, reader_mock_clock,
                  reader_mock_assert, reader_mock_script, reader_mock_faults):
    assert reader_mock_url
"""
THEIRS = """
def test_theirs_{n}(httpserver):
    assert httpserver.url_for("/")
"""


class _Timer:
    def __init__(self) -> None:
        self.costs: dict[str, dict[str, float]] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when in ("setup", "teardown"):
            entry = self.costs.setdefault(report.nodeid, {})
            entry[report.when] = report.duration


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300, help="tests per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # Interleaved in one module, so machine noise hits both alike.
        body = "".join(OURS.format(n=i) + THEIRS.format(n=i) for i in range(args.tests))
        (root / "test_cost.py").write_text(body, encoding="utf-8")
        timer = _Timer()
        code = pytest.main(
            ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(root)], plugins=[timer]
        )
        if code != 0:
            raise SystemExit(f"the generated suite failed ({code})")
    sides: dict[str, list[float]] = {"reader-mock": [], "pytest-httpserver": []}
    for nodeid, phases in timer.costs.items():
        side = "reader-mock" if "test_ours_" in nodeid else "pytest-httpserver"
        if nodeid.endswith("_0"):
            continue  # the first test of each side starts its session server
        sides[side].append(1000 * (phases.get("setup", 0) + phases.get("teardown", 0)))
    print(
        f"Fixture cost per test (setup + teardown), {args.tests} tests per side, "
        f"Python {sys.version.split()[0]}; ms, median / p90"
    )
    ours = statistics.median(sides["reader-mock"])
    theirs = statistics.median(sides["pytest-httpserver"])
    for side, values in sides.items():
        print(f"{side:<20}{statistics.median(values):>9.3f} / {_p90(values):>7.3f}")
    print(f"ratio (reader-mock / pytest-httpserver): {ours / theirs:.2f}x")
    verdict = "met" if ours < TARGET_MS else "MISSED"
    print(f"Target: under {TARGET_MS:g} ms per test: {ours:.3f} ms median, {verdict}.")


if __name__ == "__main__":
    main()
