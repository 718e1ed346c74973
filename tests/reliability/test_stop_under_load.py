"""``reader-mock serve`` stops when told: idle within half a second, and under a thousand open
streams with running jobs within a second, every time, with no traceback on stderr. Requests in
flight at the stop get their answer or see their connection close, never a bare ``500``.

The time is the process's own: from the signal to its exit, taken by a thread that waits for the
process, so the client's busy event loop does not add to it. Under ``pytest -n`` a trial shares the
machine while its server starts, its jobs are created and its streams open (seconds, none of them
timed), and has it to itself from the moment the jobs speed up until the process has exited.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Final

import httpx
import pytest
from reliability_support import Served

pytestmark = pytest.mark.slow

STREAMS: Final = 1_000
"""Open streams in each loaded trial: half per-job, half workspace."""
TRIALS: Final = 20
"""Loaded trials; docs/reliability.md gives the figures and the command."""
WAITING_BODIES: Final = 5
"""Requests whose body is still on its way when the signal comes."""
IDLE_STOP: Final = 0.5
LOADED_STOP: Final = 1.0
EXIT_WAIT: Final = 15.0
"""Seconds the test waits for the process to exit before it counts the stop as failed."""


@dataclass(frozen=True)
class _Load:
    """How a loaded trial is set up."""

    jobs: int
    urls_per_job: int
    speed_while_opening: float
    """The clock's speed while the streams open."""
    speed: float
    """The clock's speed once every stream is open, for ``seconds`` before the signal."""
    seconds: float


_LOAD: Final = _Load(jobs=10, urls_per_job=100, speed_while_opening=0.0001, speed=10, seconds=0.5)
"""The suite's trial, a few seconds each: the jobs wait until every stream is open, then their
pages come ten times as fast as in real time, more than a thousand streams can write."""
_HEAVY: Final = _Load(jobs=20, urls_per_job=100, speed_while_opening=1, speed=1, seconds=0.5)
"""``RELIABILITY_STOP_LOAD=heavy``: the setup of the original report, by hand (about three times
as long a trial). Twenty jobs run in real time while the streams open, so every stream has a
backlog when the signal comes."""
LOAD: Final = _HEAVY if os.environ.get("RELIABILITY_STOP_LOAD") == "heavy" else _LOAD

_TIMES: list[float] = []
"""Stop times of the loaded trials run so far, for the summary line."""


@dataclass
class _Outcome:
    """What the clients saw of the stop."""

    took: float
    stream_bytes: list[int] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)
    """The status line of every answer to a request in flight (empty: closed unanswered)."""


def _create_jobs(served: Served) -> list[str]:
    ids = []
    with httpx.Client(base_url=served.url, headers={"x-api-key": served.api_key}) as client:
        for job in range(LOAD.jobs):
            urls = [f"https://example.com/{job}/{n}" for n in range(LOAD.urls_per_job)]
            response = client.post("/v1/read", json={"urls": urls})
            assert response.status_code == 201, response.text
            ids.append(response.json()["data"]["id"])
    return ids


async def _hold_stream(port: int, path: str, api_key: str, opened: asyncio.Event) -> int:
    """Open one stream over a raw socket and read it until the server ends it; bytes read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {api_key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    read = 0
    try:
        first = await reader.read(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first[:200]
        read += len(first)
        opened.set()
        while chunk := await reader.read(65536):
            read += len(chunk)
    except ConnectionError:
        pass
    finally:
        writer.close()
    return read


async def _in_flight(port: int, head: str, body: bytes, sent: asyncio.Event) -> bytes:
    """Send a request (``body`` may be shorter than its Content-Length, so that the server
    still waits for the rest), then read until the server closes; the answer's status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + body)
    await writer.drain()
    sent.set()
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return received.split(b"\r\n", 1)[0]


def _wait_for_exit(served: Served) -> float:
    """Wait (in a thread) for the process to exit; when it did, by the monotonic clock."""
    try:
        served.process.wait(EXIT_WAIT)
    except TimeoutError:
        return float("inf")
    return time.monotonic()


async def _stop_under_load(
    served: Served, job_ids: list[str], alone: AbstractContextManager[None]
) -> _Outcome:
    port = httpx.URL(served.url).port
    assert port is not None
    paths = [
        f"/v1/jobs/{job_ids[n % len(job_ids)]}/stream" if n % 2 else "/v1/events"
        for n in range(STREAMS)
    ]
    opened = [asyncio.Event() for _ in paths]
    streams = [
        asyncio.create_task(_hold_stream(port, path, served.api_key, event))
        for path, event in zip(paths, opened, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 60)
    loop = asyncio.get_running_loop()
    # The streams wait on a clock that hardly moves while this waits for the machine.
    await loop.run_in_executor(None, alone.__enter__)
    try:
        # Every stream is open: the jobs run at full speed, and publish to every stream meanwhile.
        async with httpx.AsyncClient(base_url=served.url) as control:
            response = await control.post("/_mock/clock/speed", json={"speed": LOAD.speed})
            assert response.status_code == 200, response.text
        await asyncio.sleep(LOAD.seconds)
        body = json.dumps({"urls": ["https://example.com/late"]}).encode()
        head = (
            "POST /v1/read HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"x-api-key: {served.api_key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sent = [asyncio.Event() for _ in range(WAITING_BODIES)]
        requests = [asyncio.create_task(_in_flight(port, head, body[:10], event)) for event in sent]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in sent)), 30)
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        exited = await loop.run_in_executor(None, _wait_for_exit, served)
    finally:
        alone.__exit__(None, None, None)
    outcome = _Outcome(took=exited - started)
    outcome.stream_bytes = await asyncio.wait_for(asyncio.gather(*streams), 30)
    outcome.answers = await asyncio.wait_for(asyncio.gather(*requests), 30)
    return outcome


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigterm_under_a_thousand_streams_stops_within_a_second(
    serve: Callable[..., Served],
    run_alone: Callable[[], AbstractContextManager[None]],
    trial: int,
) -> None:
    served = serve(
        "--speed",
        str(LOAD.speed_while_opening),
        "--rpm",
        "1000000",
        "--max-concurrent-jobs",
        "1000",
        "--credits",
        "100000000",
        "--ping-interval",
        "1",
    )
    outcome = asyncio.run(_stop_under_load(served, _create_jobs(served), run_alone()))
    _, stderr = served.process.communicate(timeout=10)
    _TIMES.append(outcome.took)
    how = "at the deadline" if "closed by the exit" in stderr else "gracefully"
    print(
        f"\nSIGTERM under {STREAMS} streams: stopped {how} after {outcome.took:.3f} s "
        f"(trials so far: median {statistics.median(_TIMES):.3f} s, max {max(_TIMES):.3f} s); "
        f"requests waiting for their body: {outcome.answers.count(b'')} closed unanswered, "
        f"answered {[line.decode() for line in outcome.answers if line]}"
    )
    assert served.process.returncode == 0, stderr[-2000:]
    assert outcome.took < LOADED_STOP, f"stopped after {outcome.took:.3f} s"
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "Exception" not in stderr, stderr[-2000:]
    assert "wakeup fd" not in stderr, stderr[-2000:]
    assert all(read > 0 for read in outcome.stream_bytes)
    # A request still waiting for its body when the stop came is closed unanswered (an empty
    # status line); Hypercorn's bare 500 is what it got before.
    for status_line in outcome.answers:
        assert status_line == b"" or int(status_line.split()[1]) < 500, status_line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_idle_server_stops_within_half_a_second(
    serve: Callable[..., Served],
    run_alone: Callable[[], AbstractContextManager[None]],
    signum: signal.Signals,
) -> None:
    served = serve()
    with httpx.Client(base_url=served.url, headers={"x-api-key": served.api_key}) as client:
        assert client.get("/v1/usage/credits").status_code == 200  # a kept-alive connection
        with run_alone():
            took, stderr = served.stop(signum)
    print(f"\nidle {signum.name}: stopped after {took:.3f} s")
    assert served.process.returncode == 0, stderr
    assert took < IDLE_STOP, f"stopped after {took:.3f} s"
    assert "Traceback" not in stderr, stderr
