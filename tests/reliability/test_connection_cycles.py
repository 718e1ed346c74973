"""Ten thousand stream connections opened and dropped, with resets of the mock among them, leave
the server's memory flat once it has warmed up.

``reader-mock serve --manual-clock`` runs as a child process, so its resident memory (``VmRSS``)
is the server's alone. Clients are raw sockets on loopback: each opens a per-job or workspace
stream, reads its first bytes and hangs up, one in four with a TCP reset (``SO_LINGER`` zero)
rather than a FIN. Every thousand connections the mock is reset (``POST /_mock/reset``) while
streams are open (it ends them), and new jobs are created. The server's memory is read after each
round once it has closed every stream of the round.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import httpx
import pytest
from reliability_support import Served

pytestmark = pytest.mark.slow

CYCLES: Final = 10_000
ROUNDS: Final = 10
"""Resets: one before each round of ``CYCLES // ROUNDS`` connections."""
WARM_UP: Final = 5
"""Rounds before the memory is taken as the baseline (the allocator's pools are still filling
in the first four)."""
WORKERS: Final = 8
"""Clients connecting at the same time."""
HELD: Final = 8
"""Streams open across each reset."""
JOBS: Final = 10
GROWTH_BOUND: Final = 8 * 1024 * 1024
"""Bytes the server's resident memory may grow over the 5,000 connections after the warm-up: a
leak of 2 KB per connection would be 9.8 MiB. Most runs grow by under 2.5 MiB; the allocator has
been seen to add up to 6 MiB in a run (docs/reliability.md)."""
DEADLINE: Final = 120.0

_LINGER_ZERO: Final = struct.pack("ii", 1, 0)


def _rss(pid: int) -> int:
    """Resident memory of process ``pid``, in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _cycle(port: int, path: str, api_key: str, reset: bool) -> None:
    """Open one stream, read its first bytes, hang up (with a TCP reset when ``reset``)."""
    with _open(port, path, api_key) as sock:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)


def _open(port: int, path: str, api_key: str) -> socket.socket:
    """A stream opened and its head read; the caller closes it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {api_key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200 "), head[:300]
    return sock


def _ended(sock: socket.socket) -> bytes:
    """Everything the server sends until it ends the chunked body."""
    received = b""
    while not received.endswith(b"0\r\n\r\n"):
        data = sock.recv(65536)
        assert data, f"closed without the body's end: {received[-200:]!r}"
        received += data
    return received


def _round(client: httpx.Client, served: Served, port: int, number: int) -> None:
    """Reset the mock while streams are open (each is ended by it), create jobs, then
    ``CYCLES // ROUNDS`` connections from ``WORKERS`` clients at once."""
    held = [_open(port, "/v1/events", served.api_key) for _ in range(HELD)]
    response = client.post("/_mock/reset", json={})
    assert response.status_code == 200, response.text
    for sock in held:
        with sock:
            _ended(sock)
    job_ids = []
    for job in range(JOBS):
        response = client.post(
            "/v1/read",
            json={"urls": [f"https://example.com/{number}/{job}"]},
            headers={"x-api-key": served.api_key},
        )
        assert response.status_code == 201, response.text
        job_ids.append(response.json()["data"]["id"])
    per_worker = CYCLES // ROUNDS // WORKERS

    def worker(index: int) -> None:
        for n in range(per_worker):
            path = "/v1/events" if n % 2 else f"/v1/jobs/{job_ids[n % JOBS]}/stream"
            _cycle(port, path, served.api_key, reset=n % 4 == index % 4)

    with ThreadPoolExecutor(WORKERS) as pool:
        for done in [pool.submit(worker, index) for index in range(WORKERS)]:
            done.result(DEADLINE)


def _all_closed(client: httpx.Client) -> None:
    """Wait until the server has closed every stream of the round: the clients have all hung
    up, but a busy server may still be taking some of them down. Its memory is read only then,
    so that no round's figure holds connections still in flight."""
    deadline = time.monotonic() + DEADLINE
    while True:
        response = client.get("/_mock/journal", params={"kind": "streams"})
        assert response.status_code == 200, response.text
        streams = response.json()["data"]["streams"]
        if streams and all(stream["closeReason"] is not None for stream in streams):
            return
        assert time.monotonic() < deadline, "streams still open after the round"
        time.sleep(0.05)  # polls a condition; the bound is the deadline


def _run(served: Served) -> list[int]:
    """Every round; the server's resident memory after each, once its streams are all closed."""
    port = httpx.URL(served.url).port
    assert port is not None
    sizes = []
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for number in range(ROUNDS):
            _round(client, served, port, number)
            _all_closed(client)
            sizes.append(_rss(served.process.pid))
    return sizes


def _cpu(pid: int) -> float:
    """Processor seconds process ``pid`` has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_ten_thousand_connections_and_resets_leave_memory_flat(
    serve: Callable[..., Served],
) -> None:
    served = serve("--manual-clock", "--rpm", "1000000", "--max-concurrent-jobs", "1000")
    started = time.monotonic()
    sizes = _run(served)
    took = time.monotonic() - started
    cpu = _cpu(served.process.pid)
    baseline = sizes[WARM_UP - 1]
    growth = max(sizes[WARM_UP:]) - baseline
    mib = [f"{size / 2**20:.1f}" for size in sizes]
    print(
        f"\n{CYCLES} connections, {ROUNDS} resets in {took:.1f} s ({cpu:.1f} s of the "
        f"server's processor time); server RSS after each round "
        f"(MiB): {', '.join(mib)}; growth after warm-up {growth / 2**10:.0f} KiB"
    )
    _, stderr = served.stop()
    assert served.process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr[-2000:]
    assert growth < GROWTH_BOUND, f"grew {growth / 2**20:.1f} MiB after the warm-up"
