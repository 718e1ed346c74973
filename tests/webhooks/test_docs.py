"""docs/webhooks.md: the fixture example runs as a test, as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
MARKER = "<!-- this block runs as a test (tests/webhooks/test_docs.py) -->"
_BLOCK = re.compile(re.escape(MARKER) + r"\n```python\n(.*?)\n```", re.DOTALL)


@pytest.mark.slow  # a pytest run of its own
def test_the_fixture_example_passes(tmp_path: Path) -> None:
    (example,) = _BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    (tmp_path / "test_example.py").write_text(example, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 passed" in completed.stdout
