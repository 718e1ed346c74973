"""Lint and type checks belong to the suite: `ruff check .` and `mypy` (see pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run_tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600, check=False,
    )  # fmt: skip


def test_ruff_check_is_clean() -> None:
    result = _run_tool("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, f"ruff check failed:\n{result.stdout}\n{result.stderr}"


def test_mypy_is_clean() -> None:
    # Files and strictness come from [tool.mypy] in pyproject.toml.
    result = _run_tool("mypy")
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}\n{result.stderr}"
