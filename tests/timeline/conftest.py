"""Fixtures for the timeline tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def timelines_dir(repo_root: Path) -> Path:
    """The folder of the ready-made timelines in the source tree."""
    return repo_root / "contracts" / "timelines"


@pytest.fixture
def write_timeline(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a (dedented) timeline file into a temporary folder and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
