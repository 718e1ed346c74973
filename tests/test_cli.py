"""The reader-mock command line: version, help and input errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reader_mock.cli import main

MINIMAL_OPENAPI = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}


def _diff(*args: str) -> Result:
    return CliRunner().invoke(main, ["contract", "diff", *args])


def _assert_input_error(result: Result, *fragments: str) -> None:
    """Exit 2, a single `Error: ...` line on stderr naming the problem, nothing on stdout."""
    assert result.exit_code == 2, result.output
    # A clean exit: click raised SystemExit(2), not some other exception.
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    path = tmp_path / "ours.json"
    path.write_text(json.dumps(MINIMAL_OPENAPI), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there now


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("reader-mock, version ")


def test_help_lists_the_contract_commands() -> None:
    result = CliRunner().invoke(main, ["contract", "--help"])
    assert result.exit_code == 0
    assert "diff" in result.output


def test_missing_upstream_file(tmp_path: Path, ours: Path) -> None:
    missing = tmp_path / "nowhere.json"
    _assert_input_error(
        _diff("--upstream", str(missing), "--ours", str(ours)), str(missing), "no such file"
    )


def test_missing_ours_file(tmp_path: Path, ours: Path) -> None:
    missing = tmp_path / "absent.yaml"
    _assert_input_error(_diff("--upstream", str(ours), "--ours", str(missing)), "no such file")


def test_bad_yaml(tmp_path: Path, ours: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.1.0\npaths:\n  /a: [unclosed\n", encoding="utf-8")
    _assert_input_error(
        _diff("--upstream", str(bad), "--ours", str(ours)),
        str(bad),
        "neither JSON nor YAML",
        "line",
    )


def test_not_an_openapi_document(tmp_path: Path, ours: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("name: something else\n", encoding="utf-8")
    _assert_input_error(
        _diff("--upstream", str(other), "--ours", str(ours)), "not an OpenAPI 3 document"
    )


def test_directory_instead_of_file(tmp_path: Path, ours: Path) -> None:
    _assert_input_error(_diff("--upstream", str(tmp_path), "--ours", str(ours)), "is a directory")


def test_url_that_cannot_be_fetched(ours: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/openapi.json"
    _assert_input_error(_diff("--upstream", url, "--ours", str(ours)), url, "cannot fetch")


def test_malformed_intended_file_names_the_entry(tmp_path: Path, ours: Path) -> None:
    intended = tmp_path / "intended.yaml"
    intended.write_text(
        "- location: paths./v1/a\n  reason: fine\n- location: paths./v1/b\n  kind: path-added\n",
        encoding="utf-8",
    )
    _assert_input_error(
        _diff("--upstream", str(ours), "--ours", str(ours), "--intended", str(intended)),
        "entry 2 (location 'paths./v1/b')",
        "'reason'",
    )


def test_click_usage_errors_exit_2() -> None:
    missing_option = _diff()
    assert missing_option.exit_code == 2
    assert "Missing option '--upstream'" in missing_option.output
    bad_choice = _diff("--upstream", "x.json", "--format", "xml")
    assert bad_choice.exit_code == 2
    assert "'xml' is not one of" in bad_choice.output


def test_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: [\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "reader_mock.cli", "contract", "diff", "--upstream", str(bad),
         "--ours", str(bad)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    assert completed.stderr.count("\n") == 1
    assert completed.stderr.startswith(f"Error: {bad}: neither JSON nor YAML")


@pytest.mark.parametrize(
    "args",
    [["--help"], ["validate", "contracts/timelines/happy-batch.yaml"]],
    ids=["help", "validate"],
)
def test_help_and_validate_do_not_load_the_server(args: list[str]) -> None:
    probe = (
        "import sys\n"
        "from reader_mock.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = ('quart', 'hypercorn', 'reader_mock.server', 'reader_mock.drift')\n"
        "print(' '.join(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=root, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
