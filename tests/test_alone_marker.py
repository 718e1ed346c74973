"""Under ``pytest -n``, a test marked ``alone`` runs with no other test at the same time, and so
does the block of a test in ``with run_alone():``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# The pytest plugins of other installed libraries stay unloaded in the inner runs: each would
# cost every process of a run about a second of start-up.
_UNUSED_PLUGINS = [
    option
    for name in ("schemathesis", "hypothesispytest", "anyio", "faker", "pytest_httpserver")
    for option in ("-p", f"no:{name}")
]

_SUITE = """
import json, os, time
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

OUT = Path(os.environ["ALONE_OUT"])


def _run(name, seconds):
    start = time.monotonic()
    time.sleep(seconds)  # the span another test must not overlap
    line = json.dumps({"name": name, "start": start, "end": time.monotonic()})
    with OUT.open("a") as out:
        out.write(line + "\\n")


@pytest.mark.parametrize("index", range(12))
def test_beside(index):
    _run(f"beside-{index}", 0.05)


@pytest.mark.alone
@pytest.mark.parametrize("index", range(3))
def test_alone(index):
    _run(f"alone-{index}", 0.2)


@pytest.mark.parametrize("index", range(3))
def test_a_section_alone(index, run_alone):
    _run(f"before-{index}", 0.05)
    with run_alone():
        _run(f"section-{index}", 0.2)
    _run(f"after-{index}", 0.05)
"""


def _project(pytester: pytest.Pytester, repo_root: Path, **files: str) -> None:
    """A project with the repository's conftest (the lock and the ordering) and ``files``."""
    pytester.makeconftest((repo_root / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    alone: runs with no other test\n")
    pytester.makepyfile(**files)


@pytest.mark.slow
def test_an_alone_test_overlaps_no_other(
    pytester: pytest.Pytester, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(pytester, repo_root, test_suite=_SUITE)
    out = pytester.path / "spans.jsonl"
    monkeypatch.setenv("ALONE_OUT", str(out))
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", "-p", "no:cacheprovider", *_UNUSED_PLUGINS
    )
    result.assert_outcomes(passed=18)
    spans = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(spans) == 24
    alone = [span for span in spans if span["name"].startswith(("alone", "section"))]
    assert len(alone) == 6
    for span in alone:
        overlapping = [
            other["name"]
            for other in spans
            if other is not span and other["start"] < span["end"] and span["start"] < other["end"]
        ]
        assert overlapping == [], f"{span['name']} ran beside {overlapping}"
    # The others did share the two workers: the lock serialises only what is marked.
    beside = [span for span in spans if span["name"].startswith("beside")]
    assert any(
        a["start"] < b["end"] and b["start"] < a["end"]
        for index, a in enumerate(beside)
        for b in beside[index + 1 :]
    ), "no two unmarked tests ran at the same time"


_ORDER_SUITE = """
import pytest


def test_first():
    pass


@pytest.mark.alone
def test_marked_alone():
    pass


def test_second():
    pass


def test_with_a_section_alone(run_alone):
    pass


def test_third():
    pass
"""


def _collected(pytester: pytest.Pytester) -> list[str]:
    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "-p", "no:cacheprovider", *_UNUSED_PLUGINS
    )
    return [line.split("::")[1] for line in result.outlines if "::" in line]


@pytest.mark.slow
def test_under_xdist_the_tests_that_take_the_lock_come_first(
    pytester: pytest.Pytester, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They run one after another on one worker, never waiting for each other's tests."""
    _project(pytester, repo_root, test_order=_ORDER_SUITE)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert _collected(pytester) == [
        "test_marked_alone",
        "test_with_a_section_alone",
        "test_first",
        "test_second",
        "test_third",
    ]
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert _collected(pytester) == [  # one test at a time: the file's order
        "test_first",
        "test_marked_alone",
        "test_second",
        "test_with_a_section_alone",
        "test_third",
    ]
