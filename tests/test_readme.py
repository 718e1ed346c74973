"""The README's Python examples run as written.

A block runs when the line before its opening fence is the marker comment below, so the README
cannot show an example that no longer works.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- this block runs as a test (tests/test_readme.py) -->"
_BLOCK = re.compile(re.escape(MARKER) + r"\n```python\n(.*?)\n```", re.DOTALL)


def _examples() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_marks_examples_to_run() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(MARKER) == len(_examples()) >= 1


@pytest.mark.parametrize("index", range(len(_examples())))
def test_readme_example_runs(index: int, tmp_path: Path) -> None:
    script = tmp_path / f"example_{index}.py"
    script.write_text(_examples()[index], encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
