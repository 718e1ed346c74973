"""Types and helpers shared by the reliability tests."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reader_mock.server import MockServer

_HERE: Final = Path(__file__).resolve().parent

StartMock = Callable[..., MockServer]
"""``start_mock(clock=None, **settings)``: see the ``start_mock`` fixture."""


@dataclass
class Served:
    """A ``reader-mock serve`` child process, started as a user starts it."""

    url: str
    api_key: str
    process: subprocess.Popen[str]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> tuple[float, str]:
        """Send ``signum``; return how long the process took to exit, and its stderr."""
        started = time.monotonic()
        self.process.send_signal(signum)
        _, stderr = self.process.communicate(timeout=timeout)
        return time.monotonic() - started, stderr


def start_serve(*args: str, first: str = "", env: dict[str, str] | None = None) -> Served:
    """``reader-mock serve --port 0 --json --quiet ARGS`` as a child process; ``first``: Python
    code the process runs before the command, ``env``: its environment."""
    entry = first + "\nfrom reader_mock.cli import main; main()"
    command = [sys.executable, "-c", entry, "serve", "--port", "0", "--json", "--quiet", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=_HERE, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        announced = json.loads(line)
    except ValueError:
        process.kill()
        _, stderr = process.communicate(timeout=10)
        raise AssertionError(f"no JSON start-up line: {line!r}; stderr: {stderr}") from None
    return Served(announced["url"], announced["apiKey"], process)
