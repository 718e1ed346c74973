"""Lint and type checks belong to the suite: `ruff check .` and `mypy` (see pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run_tool(module: str, *args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, cwd=cwd, timeout=600, check=False,
    )  # fmt: skip


def test_ruff_check_is_clean() -> None:
    result = _run_tool("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, f"ruff check failed:\n{result.stdout}\n{result.stderr}"


def test_mypy_is_clean() -> None:
    # Files and strictness come from [tool.mypy] in pyproject.toml.
    result = _run_tool("mypy")
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}\n{result.stderr}"


# Test folders are not packages: each has its own conftest.py and imports its neighbours by bare
# name, as pytest puts the folder on sys.path. So mypy checks each folder from inside it.
_FOLDERS = sorted(
    path.relative_to(REPO_ROOT).as_posix()
    for path in [*REPO_ROOT.glob("tests/*/"), REPO_ROOT / "examples", REPO_ROOT / "bench"]
    if path.is_dir() and any(path.glob("*.py"))
)


@pytest.mark.parametrize("folder", ["tests", *_FOLDERS])
def test_mypy_is_clean_on_tests_examples_and_benchmarks(
    folder: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    where = REPO_ROOT / folder
    files = sorted(path.name for path in where.glob("*.py"))
    # One cache per worker: the package's own analysis is done once, not once per folder.
    cache = tmp_path_factory.getbasetemp() / "mypy-cache"
    config = str(REPO_ROOT / "pyproject.toml")
    result = _run_tool(
        "mypy", "--config-file", config, "--cache-dir", str(cache), *files, cwd=where
    )
    assert result.returncode == 0, f"mypy failed in {folder}:\n{result.stdout}\n{result.stderr}"
