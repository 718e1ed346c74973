"""Fixtures for the contract tests: the official AsyncAPI 3.0.0 JSON Schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ASYNCAPI_SPECS_PACKAGE = "@asyncapi/specs@6"
ASYNCAPI_SCHEMA = Path("node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json")
NPM_TIMEOUT_SECONDS = 300


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock so parallel test workers install the package only once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: parallel installs are unlikely enough there
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def asyncapi_json_schema(repo_root: Path) -> dict[str, Any]:
    """The official AsyncAPI 3.0.0 JSON Schema (draft-07) from the npm package @asyncapi/specs.

    The package is installed with npm into ``<repo>/.cache/npm`` (ignored by git) the first time
    and reused afterwards. The test is skipped only when npm itself is not available.
    """
    prefix = repo_root / ".cache" / "npm"
    schema_path = prefix / ASYNCAPI_SCHEMA
    if not schema_path.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip(
                "npm is not on PATH, so the official AsyncAPI JSON Schema "
                f"({ASYNCAPI_SPECS_PACKAGE}) cannot be installed"
            )
        with _exclusive(prefix.parent / "npm.lock"):
            if not schema_path.is_file():
                _npm_install(npm, prefix)
    if not schema_path.is_file():
        pytest.fail(f"npm installed {ASYNCAPI_SPECS_PACKAGE} but {schema_path} is missing")
    schema: dict[str, Any] = json.loads(schema_path.read_text(encoding="utf-8"))
    return schema


def _npm_install(npm: str, prefix: Path) -> None:
    prefix.mkdir(parents=True, exist_ok=True)
    command = [
        npm,
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--prefix",
        str(prefix),
        ASYNCAPI_SPECS_PACKAGE,
    ]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            env={**os.environ, "npm_config_update_notifier": "false"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(command)}` did not finish in {NPM_TIMEOUT_SECONDS} s")
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` failed with exit code {result.returncode}:\n"
            f"{result.stderr[-2000:]}"
        )
