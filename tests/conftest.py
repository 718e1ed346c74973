"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The root of the source checkout the tests run from."""
    return REPO_ROOT


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The quick loop, ``-m "not slow"``, does not even import the Schemathesis modules.

    Schemathesis builds its tests from the contract while collecting, seconds per module and per
    xdist worker, and every test in those modules is marked slow, so none would run anyway.
    """
    quick_loop = " ".join(config.option.markexpr.split()) == "not slow"
    if quick_loop and collection_path.name.endswith("schemathesis.py"):
        return True
    return None
