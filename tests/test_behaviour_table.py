"""The contradiction table of docs/behaviour.md: every row decided, pinned by tests that exist."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEHAVIOUR = ROOT / "docs" / "behaviour.md"
#: The upstream documentation's contradictions, numbered 1 to 30.
CONTRADICTIONS = range(1, 31)
_ROW = re.compile(r"^\| (\d+) \|(.*)\|\s*$")
_TEST_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def table_rows(text: str) -> dict[int, list[str]]:
    """The table's rows by contradiction number: the cells after the number."""
    start = text.index("## Contradictions in the upstream documentation")
    section = text[start : text.index("\n## ", start + 1)]
    rows: dict[int, list[str]] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        number = int(match[1])
        assert number not in rows, f"row {number} appears twice"
        rows[number] = [cell.strip() for cell in match[2].split(" | ")]
    return rows


@cache
def _test_names(path: str) -> frozenset[str]:
    """Names of the module-level test functions of a test file (empty when there is no file)."""
    file = ROOT / path
    if not file.is_file():
        return frozenset()
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    )


def problems(rows: dict[int, list[str]]) -> list[str]:
    """What is wrong with the table: missing rows, empty decisions, missing or unknown tests."""
    found: list[str] = []
    for number in CONTRADICTIONS:
        if number not in rows:
            found.append(f"#{number}: no row")
    for number, cells in sorted(rows.items()):
        if number not in CONTRADICTIONS:
            found.append(f"#{number}: no such contradiction")
        if len(cells) != 3 or not all(cells):
            found.append(f"#{number}: expected a contradiction, a decision and tests")
            continue
        tests = _TEST_ID.findall(cells[2])
        if not tests:
            found.append(f"#{number}: names no test")
        for path, name in tests:
            if name not in _test_names(path):
                found.append(f"#{number}: {path}::{name} does not exist")
    return found


def test_every_contradiction_has_a_decision_and_existing_tests() -> None:
    assert problems(table_rows(BEHAVIOUR.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("| 7 |", "| 77 |", 1), ["#7: no row", "#77: no such contradiction"]),
        (
            lambda t: re.sub(r"(\| 18 \|.*\| )`tests/[^|]*\|", r"\1(to do) |", t, count=1),
            ["#18: names no test"],
        ),
        (
            lambda t: t.replace("::test_session_lifecycle`", "::test_session_lifecycle_gone`", 1),
            ["#29: tests/core/test_account.py::test_session_lifecycle_gone does not exist"],
        ),
        (
            lambda t: t.replace("`tests/core/test_account.py::", "`tests/core/test_gone.py::", 1),
            ["#10: tests/core/test_gone.py::test_webhook_lifecycle does not exist"],
        ),
    ],
)
def test_the_check_finds_a_missing_row_an_untested_row_and_a_test_that_does_not_exist(
    change: object, expected: list[str]
) -> None:
    text = BEHAVIOUR.read_text(encoding="utf-8")
    assert callable(change)
    assert problems(table_rows(change(text))) == expected
