"""Where the memory of an idle stream goes: the memory per idle subscriber of ``fanout.py``,
split by owner.

``reader-mock serve --manual-clock`` runs in its own process with ``tracemalloc`` on. The same
clients as ``fanout.py`` open ``--subscribers`` streams (half per-job over ``--jobs`` running
jobs, half workspace) while the clock stands still. A snapshot of the server's memory before and
one after give what the open streams hold. Each allocation belongs to the newest frame of its
traceback that is in a package (reader-mock, Hypercorn, h11, Quart); one made only by Python's own
modules (asyncio, socket) is Python's. The baseline is a raw ASGI app on Hypercorn (no
framework) whose every request is an idle stream, measured the same way with the same clients:
what the server alone holds per stream.

The report gives, per stream, the kilobytes each owner holds in both servers and the lines of
reader-mock that allocate what its streams hold. Traced sizes are what Python asked for; the
resident memory that ``fanout.py`` measures (and the target counts) adds the allocator's own
overhead. An object asyncio makes for a call from a package's code is that package's: the future
a stream waits on in its ``receive`` is reader-mock's (the runner's inbox) and Hypercorn's in the
raw app (Hypercorn's queue).

Run: ``python bench/stream_memory.py`` (``--subscribers``, ``--jobs``, ``--lines``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from fanout import (
    _RAW_STREAM,
    Endpoint,
    Server,
    _cpu_seconds,
    _pinned,
    _request,
    _stream_paths,
    _timeline,
    subscribe,
    unsubscribe,
)

_DEPTH: Final = 16
"""Frames kept per allocation: enough to reach the package frame below asyncio's own."""
_SNAPSHOT_WAIT: Final = 120.0
_TRACING: Final = f"""
import gc, os, signal, tracemalloc
tracemalloc.start({_DEPTH})

def _snapshot(signum, frame):
    gc.collect()
    path = os.environ["BENCH_SNAPSHOT"]
    tracemalloc.take_snapshot().dump(path + ".part")
    os.replace(path + ".part", path)

signal.signal(signal.SIGUSR1, _snapshot)
"""
"""What the server's process runs first: tracing on, and a snapshot to a file on ``SIGUSR1``."""
_LOOP_CALL: Final = os.path.join("asyncio", "events.py")
"""Where the event loop calls its callbacks (``Handle._run``)."""
_PACKAGES: Final = (
    ("/reader_mock/", "reader-mock"),
    ("/hypercorn/", "Hypercorn"),
    ("/h11/", "h11"),
    ("/quart/", "Quart"),
    ("/werkzeug/", "Quart"),
)


def _in_loop(traceback: tracemalloc.Traceback) -> list[tracemalloc.Frame]:
    """The frames of an allocation run by the event loop, newest first: those below the loop's
    call of a callback (the program that runs the loop) made none of it."""
    frames: list[tracemalloc.Frame] = []
    for frame in reversed(traceback):  # oldest first: the newest frame is the last
        if frame.filename.endswith(_LOOP_CALL):
            break
        frames.append(frame)
    return frames


def owner(traceback: tracemalloc.Traceback) -> str:
    """Who an allocation belongs to: the package of the newest frame in one, else Python."""
    for frame in _in_loop(traceback):
        for part, name in _PACKAGES:
            if part in frame.filename:
                return name
    return "Python (asyncio, socket)"


def reader_mock_line(traceback: tracemalloc.Traceback) -> str:
    """The newest line of reader-mock in an allocation's traceback."""
    for frame in _in_loop(traceback):
        if "/reader_mock/" in frame.filename:
            return f"{frame.filename.rsplit('/reader_mock/', 1)[1]}:{frame.lineno}"
    return "?"


class Traced:
    """A server process whose memory can be snapshot (see :data:`_TRACING`)."""

    def __init__(self, pid: int, path: Path) -> None:
        self.pid = pid
        self.path = path

    async def snapshot(self) -> tracemalloc.Snapshot:
        self.path.unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + _SNAPSHOT_WAIT
        while not self.path.exists():
            if time.monotonic() > deadline:
                raise SystemExit("the server did not write its memory snapshot")
            await asyncio.sleep(0.2)
        return tracemalloc.Snapshot.load(str(self.path))


class RawServer:
    """:data:`fanout._RAW_STREAM` in a child process with tracing on."""

    key = "unused"

    def __init__(self, cpu: int | None, snapshot: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TRACING + _RAW_STREAM],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "BENCH_SNAPSHOT": str(snapshot)},
            preexec_fn=_pinned(cpu),
        )
        assert self.process.stdout is not None
        self.host = "127.0.0.1"
        self.port = int(self.process.stdout.readline().split()[1])

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


Measured = tuple[Counter[str], Counter[str]]
"""Bytes per owner and bytes per reader-mock line, per stream."""


async def measure(endpoint: Endpoint, traced: Traced, paths: Sequence[str]) -> Measured:
    """What streams on ``paths`` hold on ``endpoint``, per stream."""
    # A few streams first: what the first stream loads is not what each one holds.
    await unsubscribe(await subscribe(endpoint, paths[:10]))
    await asyncio.sleep(0.5)
    before = await traced.snapshot()
    streams = await subscribe(endpoint, paths)
    after = await traced.snapshot()
    owners: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    for stat in after.compare_to(before, "traceback"):
        who = owner(stat.traceback)
        owners[who] += stat.size_diff
        if who == "reader-mock":
            lines[reader_mock_line(stat.traceback)] += stat.size_diff
    await unsubscribe(streams)
    per = 1 / len(paths)
    return (
        Counter({k: v * per for k, v in owners.items()}),
        Counter({k: v * per for k, v in lines.items()}),
    )


async def on_reader_mock(server: Server, snapshot: Path, args: argparse.Namespace) -> Measured:
    timeline = _timeline(50)
    script = {"timeline": timeline, "count": args.jobs}
    await _request(server, "POST", "/_mock/jobs/script", script, control=True)
    job_ids = []
    for _ in range(args.jobs):
        created = await _request(server, "POST", "/v1/read", {"urls": timeline["urls"]})
        job_ids.append(created["data"]["id"])
    paths = _stream_paths(job_ids, args.subscribers)
    return await measure(server, Traced(server.process.pid, snapshot), paths)


async def on_raw(raw: RawServer, snapshot: Path, args: argparse.Namespace) -> Measured:
    paths = ["/stream"] * args.subscribers
    return await measure(raw, Traced(raw.process.pid, snapshot), paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="streams, half per-job")
    parser.add_argument("--jobs", type=int, default=10, help="running jobs")
    parser.add_argument("--lines", type=int, default=15, help="reader-mock lines to list")
    args = parser.parse_args()
    if min(args.subscribers, args.jobs) < 1 or args.lines < 0:
        parser.error("--subscribers and --jobs must be at least 1, --lines at least 0")
    client_cpu = server_cpu = None
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        client_cpu, server_cpu = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {client_cpu})

    with tempfile.TemporaryDirectory() as folder:
        snapshot = Path(folder) / "snapshot"
        launch = ("-c", _TRACING + "from reader_mock.cli import main\nmain()")
        env = {**os.environ, "BENCH_SNAPSHOT": str(snapshot)}
        server = Server(server_cpu, args.jobs, launch=launch, env=env)
        try:
            ours = asyncio.run(on_reader_mock(server, snapshot, args))
        except BaseException:
            print(f"the server's error output:\n{server.stderr()[-4000:]}", file=sys.stderr)
            raise
        finally:
            server.stop()
        raw = RawServer(server_cpu, snapshot)
        try:
            floor = asyncio.run(on_raw(raw, snapshot, args))
        finally:
            raw.stop()
    report(args, ours, floor)


def report(args: argparse.Namespace, ours: Measured, floor: Measured) -> None:
    owners, lines = ours
    floor_owners, _ = floor
    print(
        f"Memory per idle stream, by owner: {args.subscribers} streams (half per-job over "
        f"{args.jobs} jobs, half workspace), clock stopped; Python {sys.version.split()[0]}"
    )
    print()
    print(f"{'KB per stream (traced)':<28}{'reader-mock':>12}{'raw ASGI':>10}{'difference':>12}")
    names = sorted(set(owners) | set(floor_owners), key=lambda n: -owners.get(n, 0.0))
    for name in names:
        mine, base = owners.get(name, 0.0) / 1024, floor_owners.get(name, 0.0) / 1024
        if max(abs(mine), abs(base)) >= 0.01:
            print(f"{name:<28}{mine:>12.2f}{base:>10.2f}{mine - base:>+12.2f}")
    total, base_total = sum(owners.values()) / 1024, sum(floor_owners.values()) / 1024
    print(f"{'all owners':<28}{total:>12.2f}{base_total:>10.2f}{total - base_total:>+12.2f}")
    print(
        "(resident memory, which adds the allocator's overhead and is what the target counts: "
        "python bench/fanout.py)"
    )
    if args.lines:
        print()
        print(f"reader-mock's lines, bytes per stream (the {args.lines} largest):")
        for line, size in lines.most_common(args.lines):
            print(f"  {size:>7.0f}  {line}")


if __name__ == "__main__":
    main()
