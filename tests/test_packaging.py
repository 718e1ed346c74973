"""The built wheel carries the contract documents and works without the source checkout.

This is the acceptance check for packaging: build a wheel from this checkout, unpack it, and import
reader_mock from the unpacked copy in a separate interpreter whose working directory is elsewhere,
so the repository's own files cannot be picked up by accident.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from reader_mock.contract import load_yaml_document

REPO_ROOT = Path(__file__).resolve().parents[1]

REQUIRED_MEMBERS = (
    "reader_mock/__init__.py",
    "reader_mock/py.typed",
    "reader_mock/cli/__init__.py",
    "reader_mock/_spec/openapi.yaml",
    "reader_mock/_spec/contracts/asyncapi.yaml",
    "reader_mock/_spec/contracts/intended-differences.yaml",
    # Package data read at run time: the dashboard page and the settings of reader-mock check.
    "reader_mock/http/static/dashboard.html",
    "reader_mock/checking/schemathesis.toml",
)

# Run in the unpacked wheel: report where everything was loaded from.
PROBE = textwrap.dedent(
    """
    import json
    import reader_mock
    import reader_mock.contract as contract
    from reader_mock.drift import default_intended_path, load_intended_differences

    openapi = contract.load_openapi()
    asyncapi = contract.load_asyncapi()
    print(json.dumps({
        "package": reader_mock.__file__,
        "openapi_path": str(contract.openapi_path()),
        "asyncapi_path": str(contract.asyncapi_path()),
        "intended_path": str(default_intended_path()),
        "intended_entries": len(load_intended_differences().entries),
        "openapi_paths": sorted(openapi["paths"]),
        "asyncapi_version": asyncapi.get("asyncapi"),
    }))
    """
)


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build a wheel of this checkout into a temporary folder."""
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out)]
    if importlib.util.find_spec("hatchling") is not None:
        # The build backend is already here: skip the isolated build environment (faster, offline).
        command.append("--no-build-isolation")
    command.append(str(REPO_ROOT))
    built = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=out
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = sorted(out.glob("reader_mock-*.whl"))
    assert len(wheels) == 1, [p.name for p in out.iterdir()]
    return wheels[0]


def test_wheel_contains_the_package_and_the_contract(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for member in REQUIRED_MEMBERS:
            assert member in names, f"{member} missing from {wheel.name}"
        # The packaged contract is byte for byte the repository's.
        assert (
            archive.read("reader_mock/_spec/openapi.yaml")
            == (REPO_ROOT / "openapi.yaml").read_bytes()
        )
    assert not [n for n in names if "node_modules" in n or "__pycache__" in n]
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)


def test_unpacked_wheel_loads_its_own_contract(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(unpacked), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)

    spec = unpacked / "reader_mock" / "_spec"
    assert Path(found["package"]).resolve() == (unpacked / "reader_mock" / "__init__.py").resolve()
    assert Path(found["openapi_path"]).resolve() == (spec / "openapi.yaml").resolve()
    assert Path(found["asyncapi_path"]).resolve() == (spec / "contracts/asyncapi.yaml").resolve()
    assert (
        Path(found["intended_path"]).resolve()
        == (spec / "contracts/intended-differences.yaml").resolve()
    )
    assert found["intended_entries"] > 0

    repository_openapi = load_yaml_document(REPO_ROOT / "openapi.yaml")
    assert found["openapi_paths"] == sorted(repository_openapi["paths"])
    assert found["asyncapi_version"] == "3.0.0"
