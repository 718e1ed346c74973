"""The README's curl walkthrough runs as written: its commands, its job id, its frames.

The server is started as the walkthrough says (``reader-mock serve --manual-clock``), on a free
port instead of 8080; every other command is taken from the README, with only the port replaced.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

import pytest

README: Final = Path(__file__).resolve().parents[1] / "README.md"
SECTION: Final = "### Watch a job with curl, step by step"
TIMEOUT: Final = 20.0

pytestmark = pytest.mark.slow  # a real serve process and curl processes


def _blocks() -> list[tuple[str, str]]:
    """``(language, text)`` of each fenced block of the walkthrough, in order."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ")]
    return re.findall(r"```(sh|text)\n(.*?)\n```", section, re.DOTALL)


def _command(block: str, port: int) -> str:
    """The block's first command (continuation lines joined), aimed at ``port``."""
    lines = [line for line in block.splitlines() if not line.startswith("#")]
    return "\n".join(lines).replace("localhost:8080", f"127.0.0.1:{port}")


def _lines(process: subprocess.Popen[str], into: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put(line.rstrip("\n"))
    into.put(None)


def test_the_curl_walkthrough_runs_as_written() -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    blocks = _blocks()
    assert [language for language, _ in blocks] == ["sh", "sh", "sh", "text", "sh", "text"]
    (_, serve), (_, create), (_, stream), (_, snapshot), (_, advance), (_, rest) = blocks
    assert serve == "reader-mock serve --manual-clock"
    server = subprocess.Popen(
        [sys.executable, "-m", "reader_mock.cli", *serve.split()[1:], "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(json.loads(server.stdout.readline())["url"].rsplit(":", 1)[1])
        shown = json.loads(create.splitlines()[-1].removeprefix("# ").replace(",...}}", "}}"))
        created = subprocess.run(
            ["bash", "-c", _command(create, port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        job = json.loads(created.stdout)["data"]
        assert shown["data"].items() <= job.items()  # the same id and fields as the README shows

        reader = subprocess.Popen(
            ["bash", "-c", _command(stream, port)], stdout=subprocess.PIPE, text=True
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_lines, args=(reader, lines), daemon=True).start()
        first = [lines.get(timeout=TIMEOUT) for _ in range(len(snapshot.splitlines()) + 1)]
        assert first == [*snapshot.splitlines(), ""]  # the frame, and the blank line ending it

        subprocess.run(
            ["bash", "-c", _command(advance, port)],
            capture_output=True,
            timeout=TIMEOUT,
            check=True,
        )
        assert reader.wait(timeout=TIMEOUT) == 0  # curl ends by itself after done
        got: list[str] = []
        while (line := lines.get(timeout=TIMEOUT)) is not None:
            got.append(line)
        expected = rest.splitlines()
        assert len(got) == len(expected) + 1 and got[-1] == ""  # the blank line after done
        for mine, theirs in zip(got, expected, strict=False):
            if theirs.endswith(", ...}"):  # a page: the README shows the start of it
                assert mine.startswith(theirs.split('...", ')[0].removesuffix("...")), mine
            else:
                assert mine == theirs
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)
