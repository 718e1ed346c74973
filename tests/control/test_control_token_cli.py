"""``reader-mock serve --control-token``: the control API of a served mock needs the token."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest


@pytest.mark.slow
def test_serve_with_a_control_token_requires_it() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reader_mock.cli",
            "serve",
            "--port",
            "0",
            "--json",
            "--control-token",
            "tok-123",
            "--quiet",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        assert announced["controlToken"] == "tok-123"
        url = announced["url"]
        assert httpx.get(f"{url}/_mock/clock").status_code == 401
        response = httpx.get(f"{url}/_mock/clock", headers={"x-mock-token": "tok-123"})
        assert response.status_code == 200
        clock = response.json()["data"]
        assert (clock["kind"], clock["speed"]) == ("scaled", 1.0)  # real time, speed adjustable
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "Control token (x-mock-token): tok-123" in stderr.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
