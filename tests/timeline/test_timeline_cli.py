"""`reader-mock validate`, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from timeline_cases import READY_MADE

GOOD = """\
name: good
urls: [https://example.com/a]
steps:
  - status: processing
  - page: {}
  - done: completed
"""

BAD = """\
name: bad
urls: [https://example.com/a]
steps:
  - status: processing
  - page: {url: 7}
  - done: completed
  - done: failed
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reader_mock.cli", "validate", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


def test_ready_made_folder_is_valid(timelines_dir: Path, tmp_path: Path) -> None:
    result = _run(str(timelines_dir), cwd=tmp_path)
    _no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(READY_MADE) + 1
    for name in READY_MADE:
        assert any(
            line.startswith(str(timelines_dir / f"{name}.yaml") + ": ok (") for line in lines
        )
    assert lines[-1] == f"{len(READY_MADE)} checked: {len(READY_MADE)} valid, 0 not"


def test_problems_exit_1_with_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = _run("good.yaml", "bad.yaml", cwd=tmp_path)
    _no_traceback(result)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "good.yaml: ok (3 steps)",
        "bad.yaml: step 2 (line 5): page.url: expected a string, got integer 7",
        "bad.yaml: step 4 (line 7): done: the job already ended at step 3; a timeline has "
        "exactly one done",
        "2 checked: 1 valid, 1 not",
    ]
    assert result.stderr == ""


def test_meaning_problems_are_reported_too(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD.replace("{url: 7}", "{}"), encoding="utf-8")
    result = _run("bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "bad.yaml: step 4 (line 7): done: the job already ended at step 3; a timeline has "
        "exactly one done"
    ) in result.stdout.splitlines()


def test_unreadable_paths_exit_2(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "empty").mkdir()
    result = _run("good.yaml", "missing.yaml", "empty", cwd=tmp_path)
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "missing.yaml: no such file",
        "empty: a folder without timeline files (.yaml, .yml, .json)",
    ]
    assert "good.yaml: ok (3 steps)" in result.stdout


def test_json_report(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(
        json.dumps(
            {
                "name": "good",
                "steps": [{"status": "processing"}, {"page": {}}, {"done": "completed"}],
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = _run("--format", "json", "good.json", "bad.yaml", cwd=tmp_path)
    _no_traceback(result)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    good, bad = report["files"]
    assert good == {"path": "good.json", "ok": True, "unreadable": None, "steps": 3, "problems": []}
    assert bad["ok"] is False
    assert bad["problems"][0] == {
        "source": "bad.yaml",
        "step": 2,
        "line": 5,
        "column": 12,
        "field": "page.url",
        "message": "expected a string, got integer 7",
        "text": "bad.yaml: step 2 (line 5): page.url: expected a string, got integer 7",
    }


def test_no_files_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(cwd=tmp_path)
    _no_traceback(result)
    assert result.returncode == 2
    assert "Missing argument" in result.stderr


def test_registered_on_the_main_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reader_mock.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert any(line.split()[:1] == ["validate"] for line in result.stdout.splitlines())
