"""Fan-out benchmark: many stream subscribers following running jobs while REST clients work.

``reader-mock serve --manual-clock`` runs in its own process on one CPU; this script, on the
other CPU, is every client at once (one asyncio loop, raw sockets):

1. ``--rest`` keep-alive REST clients poll ``GET /v1/jobs/{id}`` for ``--seconds`` with no stream
   open: the baseline.
2. ``--subscribers`` streams open, half per-job streams spread over ``--jobs`` scripted jobs, half
   workspace streams. With the clock stopped they are idle: the server's resident memory before
   and after, divided by the count, is the memory per idle subscriber. This is measured first,
   before any REST load (whose freed memory the streams would reuse), then the streams close and
   open again after the baseline.
3. The script moves the clock ten times with no REST client (the quiet steps): the server's CPU
   time per step is what delivering one step to every subscriber costs. The frames and bytes each
   stream receives per step are counted.
4. The same REST clients poll again while the script moves the clock one second every
   ``--step-interval`` real seconds, ``--steps`` times. Each second every job delivers one page,
   so every subscriber receives events after every step. An event's delivery time is from the
   step that released it (the ``POST /_mock/clock/advance`` was sent, on one keep-alive
   connection as a test's HTTP client sends it) to its arrival.
5. The floor: a raw ``asyncio.start_server`` HTTP/1.1 server (:data:`_FLOOR`), on the server's
   CPU, takes the same streams on the same paths and, for each clock step, writes to every open
   stream one chunk of as many frames and bytes as reader-mock sent that kind of stream per
   quiet step, one ``transport.write`` each and nothing else. The same clients move its clock
   for the same quiet steps: its delivery times and CPU time per step are the least that fan-out
   can cost on this machine. It has no REST API, so it is measured with no REST load only.

The report gives REST answers/s and p50/p99 latency with and without the streams; what a step
sends to each kind of stream; event delivery p50/p99 in the quiet steps beside the floor's, and
with the REST clients; the server's CPU time per quiet step beside the floor's; the memory per
idle subscriber (beside an idle stream of a bare Quart app on Hypercorn, what the stack alone
holds, and of a raw ASGI app on Hypercorn, what the server alone holds); and whether the server's
stderr shows the event loop's wake-up pipe overflowing (``BlockingIOError`` on the wakeup fd).

Targets: REST p99 under 50 ms and delivery p99 under 50 ms with the streams open and the REST
clients polling; memory per idle subscriber at or under 20 KB; no wake-up pipe overflow. The
floor is context, not a target.

Run: ``python bench/fanout.py`` (``--subscribers``, ``--jobs``, ``--rest``, ``--steps``,
``--step-interval``, ``--seconds``; ``--no-floor`` skips the floor). Needs the ``bench`` extra:
``pip install -e '.[test,bench]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

TARGET_REST_P99_MS: Final = 50.0
TARGET_DELIVERY_P99_MS: Final = 50.0
TARGET_IDLE_KB: Final = 20.0
_READY_TIMEOUT: Final = 60.0
_QUIET_STEPS: Final = 10
_HEAD_END: Final = b"\r\n\r\n"
_FRAME_END: Final = b"\n\n"


# ------------------------------------------------------------------------------- the servers


class Endpoint(Protocol):
    """Where the clients connect, and the API key they send."""

    host: str
    port: int
    key: str

    def cpu_seconds(self) -> float: ...


def _rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    """CPU time (user and system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pinned(cpu: int | None) -> Callable[[], None] | None:
    """What a child process runs before its program to stay on ``cpu`` (``None``: anywhere)."""
    if cpu is None:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


class Server:
    """``reader-mock serve --manual-clock`` in a child process, pinned to ``cpu``."""

    def __init__(
        self,
        cpu: int | None,
        jobs: int,
        *,
        launch: Sequence[str] = ("-m", "reader_mock.cli"),
        env: dict[str, str] | None = None,
    ) -> None:
        """``launch``: how Python starts the CLI (another program may run first, with ``-c``);
        ``env``: the child's environment."""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - read at the end
        command = [sys.executable, *launch, "serve", "--port", "0"]
        command += ["--manual-clock", "--json", "--quiet", "--rpm", "1000000000"]
        command += ["--credits", "1000000000", "--max-concurrent-jobs", str(max(10, jobs))]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
            preexec_fn=_pinned(cpu),
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("{"):
                found = json.loads(line)
                self.url: str = found["url"]
                self.key: str = found["apiKey"]
                parts = urlsplit(self.url)
                self.host = parts.hostname or "127.0.0.1"
                self.port = parts.port or 80
                return
        self.stop()
        raise SystemExit(f"reader-mock serve did not start:\n{self.stderr()}")

    def rss_bytes(self) -> int:
        return _rss_bytes(self.process.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the server has used so far."""
        return _cpu_seconds(self.process.pid)

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_BARE_STREAM: Final = """
import asyncio, os, socket, sys
import hypercorn.asyncio, hypercorn.config
from quart import Quart, Response

app = Quart("idle_streams")

@app.get("/stream")
async def stream() -> Response:
    async def body():
        yield b": open\\n\\n"
        await asyncio.Event().wait()

    response = Response(body(), content_type="text/event-stream")
    response.timeout = None
    return response

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(1024)
print("READY", sock.getsockname()[1], flush=True)
config = hypercorn.config.Config()
config.bind = [f"fd://{sock.detach()}"]
config.accesslog = None
asyncio.run(hypercorn.asyncio.serve(app, config))
"""
"""A bare Quart app on Hypercorn whose one route is an event stream that stays open and idle."""

_RAW_STREAM: Final = """
import asyncio, socket
import hypercorn.asyncio, hypercorn.config

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "body": b": open\\n\\n", "more_body": True})
    while (await receive())["type"] != "http.disconnect":
        pass

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(1024)
print("READY", sock.getsockname()[1], flush=True)
config = hypercorn.config.Config()
config.bind = [f"fd://{sock.detach()}"]
config.accesslog = None
asyncio.run(hypercorn.asyncio.serve(app, config))
"""
"""A raw ASGI app on Hypercorn (no framework) whose every request is an idle event stream that
waits for its client to leave: what the server alone holds per idle stream."""


async def bare_stream_bytes(count: int, cpu: int | None, script: str = _BARE_STREAM) -> float:
    """Server memory per idle stream of ``script`` (:data:`_BARE_STREAM`: what the stack alone
    holds; :data:`_RAW_STREAM`: what the server alone holds)."""
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=_pinned(cpu),
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[1])

        def rss() -> int:
            return _rss_bytes(process.pid)

        async def open_one() -> asyncio.StreamWriter:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await reader.readuntil(b"open")
            return writer

        writer = await open_one()  # the first request loads what every request needs
        await asyncio.sleep(0.5)
        before = rss()
        writers = [await open_one() for _ in range(count)]
        await asyncio.sleep(1.0)
        after = rss()
        for each in [writer, *writers]:
            each.close()
        return (after - before) / count
    finally:
        process.terminate()
        process.wait(timeout=30)


_FLOOR: Final = """
import asyncio, sys

HEAD = (b"HTTP/1.1 200 OK\\r\\ncontent-type: text/event-stream\\r\\n"
        b"transfer-encoding: chunked\\r\\n\\r\\n")
BODY = b'{"ok":true}'
ANSWER = (b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n"
          b"content-length: %d\\r\\n\\r\\n%b" % (len(BODY), BODY))

def chunk(frames, size):
    # `frames` frames ending in a blank line, `size` bytes in all, as one chunk.
    sizes = [size // frames + (index < size % frames) for index in range(frames)]
    body = b"".join(b"data: " + b"x" * (each - 8) + b"\\n\\n" for each in sizes)
    return b"%x\\r\\n%b\\r\\n" % (len(body), body)

JOB, WORKSPACE = chunk(*map(int, sys.argv[1:3])), chunk(*map(int, sys.argv[3:5]))
streams = {}

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            method, path = head.split(b" ", 2)[:2]
            if method == b"GET":
                writer.write(HEAD)
                streams[writer.transport] = JOB if path.endswith(b"/stream") else WORKSPACE
                try:
                    await reader.read()
                finally:
                    del streams[writer.transport]
                return
            for line in head.lower().split(b"\\r\\n"):
                if line.startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":", 1)[1]))
            for transport, step in streams.items():
                transport.write(step)
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print("READY", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""
"""The floor of delivery: a raw ``asyncio.start_server`` HTTP/1.1 server. A ``GET`` is a stream it
keeps open; any other request (the clock step) writes one chunk to every open stream, as many
frames and bytes as reader-mock writes per step to that kind of stream (its arguments: frames and
bytes of a per-job stream's step, then of a workspace stream's), and answers a small JSON 200."""


@dataclass(frozen=True)
class StepSize:
    """What one clock step sends to one kind of stream: frames, and payload bytes in all."""

    frames: int
    size: int


class Floor:
    """:data:`_FLOOR` in a child process pinned to ``cpu``, sending ``job`` to each per-job
    stream and ``workspace`` to each workspace stream per step."""

    def __init__(self, cpu: int | None, job: StepSize, workspace: StepSize) -> None:
        sizes = [str(value) for each in (job, workspace) for value in (each.frames, each.size)]
        self.process = subprocess.Popen(
            [sys.executable, "-c", _FLOOR, *sizes],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_pinned(cpu),
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().split()
        if not ready:
            self.stop()
            raise SystemExit("the floor server did not start")
        self.host = "127.0.0.1"
        self.port = int(ready[1])
        self.key = ""  # the floor asks for none

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the floor has used so far."""
        return _cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


# ------------------------------------------------------------------------------- the clients


async def _request(
    server: Server, method: str, path: str, body: Any = None, *, control: bool = False
) -> Any:
    """One request on a fresh connection; the decoded JSON answer."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    data = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.host}", "Connection: close"]
    if not control:
        lines.append(f"x-api-key: {server.key}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    answer = await reader.read()
    writer.close()
    head, _, payload = answer.partition(_HEAD_END)
    if not head.startswith(b"HTTP/1.1 2"):
        raise SystemExit(f"{method} {path} answered {head[:60]!r}: {payload[:300]!r}")
    return json.loads(payload)


class ClockDriver:
    """Moves the server's clock over one keep-alive connection, as a test's HTTP client does."""

    def __init__(self, server: Endpoint) -> None:
        self._server = server
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def advance(self, seconds: float) -> None:
        if self._writer is None:
            server = self._server
            self._reader, self._writer = await asyncio.open_connection(server.host, server.port)
        assert self._reader is not None
        data = json.dumps({"seconds": seconds}).encode()
        head = (
            f"POST /_mock/clock/advance HTTP/1.1\r\nHost: {self._server.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self._writer.write(head.encode() + data)
        answer = await self._reader.readuntil(_HEAD_END)
        if not answer.startswith(b"HTTP/1.1 2"):
            raise SystemExit(f"advancing the clock answered {answer[:60]!r}")
        for line in answer.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await self._reader.readexactly(int(line.split(b":", 1)[1]))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _timeline(pages: int) -> dict[str, Any]:
    urls = [f"https://docs.example.com/fanout/{index}" for index in range(pages)]
    steps: list[Any] = [{"status": "processing"}]
    for _ in range(pages):
        steps += [{"wait": 1}, {"page": {}}]
    steps.append({"done": "completed"})
    return {"name": "fanout", "urls": urls, "steps": steps}


@dataclass
class Rest:
    """What the REST clients saw."""

    latencies: list[float] = field(default_factory=list)
    not_ok: int = 0
    seconds: float = 0.0


async def _rest_client(server: Server, path: str, until: float, rest: Rest) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {server.host}\r\nx-api-key: {server.key}\r\n\r\n"
    ).encode()
    buffer = b""
    try:
        while time.perf_counter() < until:
            sent = time.perf_counter()
            writer.write(request)
            while _HEAD_END not in buffer:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("the server closed a REST connection")
                buffer += chunk
            head, _, buffer = buffer.partition(_HEAD_END)
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(buffer) < length:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("the server closed a REST connection")
                buffer += chunk
            buffer = buffer[length:]
            rest.latencies.append(time.perf_counter() - sent)
            if not head.startswith(b"HTTP/1.1 200"):
                rest.not_ok += 1
            if b"\r\nconnection: close" in head.lower():
                # The server's last answer on this connection (Hypercorn closes a keep-alive
                # connection after 1,000 requests): a client opens another, as HTTP clients do.
                writer.close()
                reader, writer = await asyncio.open_connection(server.host, server.port)
                buffer = b""
    finally:
        writer.close()


async def run_rest(server: Server, path: str, clients: int, seconds: float) -> Rest:
    rest = Rest(seconds=seconds)
    until = time.perf_counter() + seconds
    await asyncio.gather(*(_rest_client(server, path, until, rest) for _ in range(clients)))
    return rest


class Subscriber:
    """One open stream: the arrival time of every frame after the head, and the bytes after it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.arrivals: list[float] = []
        self.received = 0
        self.opened = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.failure: str | None = None

    async def follow(self, server: Endpoint) -> None:
        try:
            reader, writer = await asyncio.open_connection(server.host, server.port)
        except OSError as exc:
            self.failure = f"connect: {exc}"
            self.opened.set()
            return
        writer.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {server.host}\r\nx-api-key: {server.key}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        buffer = b""
        try:
            while _HEAD_END not in buffer:
                chunk = await reader.read(65536)
                if not chunk:
                    self.failure = "closed before the head"
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(_HEAD_END)
            if not head.startswith(b"HTTP/1.1 200"):
                self.failure = head.split(b"\r\n", 1)[0].decode(errors="replace")
                return
            self.received += len(buffer)
            self.arrivals.extend([time.perf_counter()] * buffer.count(_FRAME_END))
            self.opened.set()
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                now = time.perf_counter()
                self.received += len(chunk)
                # Chunked framing adds size lines, never a blank line inside a frame's bytes.
                self.arrivals.extend([now] * chunk.count(_FRAME_END))
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self.opened.set()
            writer.close()


# ------------------------------------------------------------------------------- the run


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def _stream_paths(job_ids: Sequence[str], count: int) -> list[str]:
    """``count`` stream paths: even ones per-job streams spread over the jobs, odd ones the
    workspace stream."""
    return [
        f"/v1/jobs/{job_ids[(index // 2) % len(job_ids)]}/stream"
        if index % 2 == 0
        else "/v1/events"
        for index in range(count)
    ]


async def subscribe(server: Endpoint, paths: Sequence[str]) -> list[Subscriber]:
    """One open stream per path, once every one has its head and the server has settled."""
    subscribers = [Subscriber(path) for path in paths]
    for index, subscriber in enumerate(subscribers):
        subscriber.task = asyncio.create_task(subscriber.follow(server))
        if index % 100 == 99:
            await asyncio.sleep(0)  # let the connections open in waves
    await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in subscribers)), 120)
    failures = [s.failure for s in subscribers if s.failure]
    if failures:
        raise SystemExit(f"{len(failures)} streams failed to open; first: {failures[0]}")
    await asyncio.sleep(1.0)  # let the server settle what the opening created
    return subscribers


async def unsubscribe(subscribers: Sequence[Subscriber]) -> None:
    """Closes every stream and waits until each subscriber has stopped."""
    for subscriber in subscribers:
        if subscriber.task is not None:
            subscriber.task.cancel()
    await asyncio.gather(*(s.task for s in subscribers if s.task), return_exceptions=True)


async def quiet_steps(
    server: Endpoint, clock: ClockDriver, interval: float
) -> tuple[float, list[float]]:
    """Moves the clock :data:`_QUIET_STEPS` times with no REST load: the server's CPU time per
    step (what one step of every subscriber costs, steadier than latencies on a shared machine)
    and when each step was sent."""
    steps: list[float] = []
    cpu_before = server.cpu_seconds()
    for _ in range(_QUIET_STEPS):
        steps.append(time.perf_counter())
        await clock.advance(1)
        await asyncio.sleep(interval)
    return (server.cpu_seconds() - cpu_before) / _QUIET_STEPS, steps


def _delivery(
    subscribers: Sequence[Subscriber], steps: Sequence[float], until: float = math.inf
) -> list[float]:
    """The delivery time of every frame that arrived after the first of ``steps`` and before
    ``until``: from the latest step sent before it."""
    delivery: list[float] = []
    for subscriber in subscribers:
        for arrival in subscriber.arrivals:
            at = bisect.bisect_right(steps, arrival)
            if at and arrival < until:
                delivery.append(arrival - steps[at - 1])
    return delivery


def _step_sizes(
    subscribers: Sequence[Subscriber], frames: Sequence[int], received: Sequence[int], steps: int
) -> tuple[StepSize, StepSize]:
    """What each step sent on average to a per-job stream and to a workspace stream, from what
    every subscriber had (``frames``, ``received``) before ``steps`` steps and has now. The size
    is that of the payload a single chunk would carry on the same bytes of the wire."""
    found: list[StepSize] = []
    for workspace in (False, True):
        mine = [
            index
            for index, subscriber in enumerate(subscribers)
            if subscriber.path.endswith("/events") == workspace
        ]
        count = max(1, len(mine) * steps)
        wire = sum(subscribers[index].received - received[index] for index in mine) // count
        frames_per_step = sum(len(subscribers[i].arrivals) - frames[i] for i in mine) / count
        # A chunk of n bytes adds its size in hex, two line ends and, after it, one more.
        payload = wire - 4 - len(f"{wire:x}")
        found.append(StepSize(max(1, round(frames_per_step)), payload))
    return found[0], found[1]


def _events(delivery: Sequence[float]) -> str:
    """How many events arrived and their delivery time's p50 and p99."""
    return (
        f"{len(delivery):,} events, p50 {_percentile(delivery, 0.5) * 1000:.1f} ms, "
        f"p99 {_percentile(delivery, 0.99) * 1000:.1f} ms"
    )


async def run(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    """Every measure on reader-mock; the stream paths and what a step sends, for the floor."""
    pages = args.steps + _QUIET_STEPS + 5
    await _request(
        server,
        "POST",
        "/_mock/jobs/script",
        {"timeline": _timeline(pages), "count": args.jobs},
        control=True,
    )
    urls = _timeline(pages)["urls"]
    job_ids = []
    for _ in range(args.jobs):
        created = await _request(server, "POST", "/v1/read", {"urls": urls})
        job_ids.append(created["data"]["id"])
    poll_path = f"/v1/jobs/{job_ids[0]}?limit=1"
    paths = _stream_paths(job_ids, args.subscribers)

    # Memory first, on a server that has served nothing else yet (as the bare baselines):
    # memory that earlier REST load left free would be reused by the streams and hide them.
    before = server.rss_bytes()
    subscribers = await subscribe(server, paths)
    after = server.rss_bytes()
    await unsubscribe(subscribers)
    await asyncio.sleep(1.0)  # let the server end those streams

    alone = await run_rest(server, poll_path, args.rest, args.seconds)

    subscribers = await subscribe(server, paths)
    clock = ClockDriver(server)
    frames = [len(s.arrivals) for s in subscribers]
    received = [s.received for s in subscribers]
    cpu_per_step, quiet = await quiet_steps(server, clock, args.step_interval)
    job_step, workspace_step = _step_sizes(subscribers, frames, received, _QUIET_STEPS)

    steps: list[float] = []

    async def move_clock() -> None:
        for _ in range(args.steps):
            steps.append(time.perf_counter())
            await clock.advance(1)
            await asyncio.sleep(args.step_interval)

    client_cpu = time.process_time()
    client_wall = time.perf_counter()
    loaded_rest, _ = await asyncio.gather(
        run_rest(server, poll_path, args.rest, args.steps * args.step_interval),
        move_clock(),
    )
    client_share = (time.process_time() - client_cpu) / (time.perf_counter() - client_wall)
    await asyncio.sleep(2.0)  # deliveries still on their way
    await unsubscribe(subscribers)
    clock.close()
    return {
        "alone": alone,
        "loaded": loaded_rest,
        "delivery": _delivery(subscribers, steps),
        "quiet_delivery": _delivery(subscribers, quiet, until=steps[0]),
        "cpu_per_step": cpu_per_step,
        "job_step": job_step,
        "workspace_step": workspace_step,
        "paths": paths,
        "idle_bytes": (after - before) / max(1, len(subscribers)),
        "client_share": client_share,
    }


async def run_floor(floor: Floor, paths: Sequence[str], interval: float) -> dict[str, Any]:
    """The quiet steps on the floor, by the same clients on the same stream paths; what its
    steps sent, to check it against reader-mock's."""
    subscribers = await subscribe(floor, paths)
    clock = ClockDriver(floor)
    frames = [len(s.arrivals) for s in subscribers]
    received = [s.received for s in subscribers]
    cpu_per_step, quiet = await quiet_steps(floor, clock, interval)
    await asyncio.sleep(2.0)  # deliveries still on their way
    await unsubscribe(subscribers)
    clock.close()
    return {
        "floor_delivery": _delivery(subscribers, quiet),
        "floor_cpu_per_step": cpu_per_step,
        "floor_steps": _step_sizes(subscribers, frames, received, _QUIET_STEPS),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="streams, half per-job")
    parser.add_argument("--jobs", type=int, default=10, help="running jobs")
    parser.add_argument("--rest", type=int, default=20, help="REST clients")
    parser.add_argument("--steps", type=int, default=30, help="clock steps of one second")
    parser.add_argument("--step-interval", type=float, default=0.2, help="real seconds per step")
    parser.add_argument("--seconds", type=float, default=3.0, help="REST baseline duration")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the floor (a raw asyncio server's steps)"
    )
    args = parser.parse_args(argv)
    if min(args.subscribers, args.jobs, args.rest, args.steps) < 1 or args.step_interval <= 0:
        parser.error("every count must be at least 1 and --step-interval positive")

    client_cpu = server_cpu = None
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        client_cpu, server_cpu = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {client_cpu})
    server = Server(server_cpu, args.jobs)
    try:
        found = asyncio.run(run(args, server))
    except BaseException:
        server.stop()
        print(f"the server's error output:\n{server.stderr()[-4000:]}", file=sys.stderr)
        raise
    server.stop()
    if not args.no_floor:
        floor = Floor(server_cpu, found["job_step"], found["workspace_step"])
        try:
            found |= asyncio.run(run_floor(floor, found["paths"], args.step_interval))
        finally:
            floor.stop()
    found["bare_idle_bytes"] = asyncio.run(bare_stream_bytes(args.subscribers, server_cpu))
    found["raw_idle_bytes"] = asyncio.run(
        bare_stream_bytes(args.subscribers, server_cpu, _RAW_STREAM)
    )
    overflow = "BlockingIOError" in server.stderr() or "wakeup fd" in server.stderr()
    _report(args, found, overflow, pinned=server_cpu is not None)


def _report(
    args: argparse.Namespace, found: dict[str, Any], overflow: bool, *, pinned: bool
) -> None:
    from importlib.metadata import version

    alone: Rest = found["alone"]
    loaded: Rest = found["loaded"]
    delivery: list[float] = found["delivery"]
    where = "server on one CPU, clients on the other" if pinned else "not pinned"
    print(
        f"Fan-out: {args.subscribers} streams (half per-job over {args.jobs} jobs, "
        f"half workspace), {args.rest} REST clients, {args.steps} clock steps every "
        f"{args.step_interval:g} s; {where}"
    )
    print(f"Python {sys.version.split()[0]}; reader-mock {version('reader-mock')}")
    print()
    header = (
        f"{'REST GET /v1/jobs/{id}':<30}{'answers/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'not 200':>9}"
    )
    print(header)
    print("-" * len(header))
    for label, rest in (("no streams (baseline)", alone), ("with the streams", loaded)):
        rate = len(rest.latencies) / rest.seconds
        print(
            f"{label:<30}{rate:>10,.0f}{_percentile(rest.latencies, 0.5) * 1000:>9.1f}"
            f"{_percentile(rest.latencies, 0.99) * 1000:>9.1f}{rest.not_ok:>9}"
        )
    quiet: list[float] = found["quiet_delivery"]
    floor: list[float] | None = found.get("floor_delivery")
    job: StepSize = found["job_step"]
    workspace: StepSize = found["workspace_step"]
    print()
    sent = (
        f"per clock step, a per-job stream receives {job.frames} frames ({job.size:,} bytes), "
        f"a workspace stream {workspace.frames} frames ({workspace.size:,} bytes)"
    )
    if floor is not None:
        same = found["floor_steps"] == (job, workspace)
        sent += "; the floor's streams: the same" if same else "; the floor's streams: NOT the same"
    print(sent)
    print("events delivered, from clock step to client:")
    quiet_line = f"  {_QUIET_STEPS} steps, no REST load: {_events(quiet)}"
    if floor is not None:
        quiet_line += (
            f"; the floor (raw asyncio, one write per subscriber per step): {_events(floor)}"
        )
    print(quiet_line)
    print(f"  {args.steps} steps, with the REST clients: {_events(delivery)}")
    cpu_line = (
        f"server CPU per clock step ({_QUIET_STEPS} steps, no REST load): "
        f"{found['cpu_per_step'] * 1000:.0f} ms"
    )
    if floor is not None:
        cpu_line += f"; the floor: {found['floor_cpu_per_step'] * 1000:.0f} ms"
    print(cpu_line)
    idle_kb = found["idle_bytes"] / 1024
    bare_kb = found["bare_idle_bytes"] / 1024
    raw_kb = found["raw_idle_bytes"] / 1024
    print(
        f"memory per idle subscriber: {idle_kb:.1f} KB (server resident memory); "
        f"an idle stream of a bare Quart app on Hypercorn: {bare_kb:.1f} KB, "
        f"of a raw ASGI app on Hypercorn: {raw_kb:.1f} KB"
    )
    print(f"wake-up pipe overflow on the server's stderr: {'YES' if overflow else 'no'}")
    print(
        f"the clients' own CPU while loaded: {found['client_share']:.0%} of one core "
        "(near 100 %, the figures above would measure the clients, not the server)"
    )
    print()
    rest_p99 = _percentile(loaded.latencies, 0.99) * 1000
    delivery_p99 = _percentile(delivery, 0.99) * 1000

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    targets = (
        ("REST p99 with the streams", rest_p99, "ms", rest_p99 < TARGET_REST_P99_MS),
        (
            "delivery p99 with the REST clients",
            delivery_p99,
            "ms",
            delivery_p99 < TARGET_DELIVERY_P99_MS,
        ),
        ("memory per idle subscriber", idle_kb, "KB", idle_kb <= TARGET_IDLE_KB),
    )
    bounds = (TARGET_REST_P99_MS, TARGET_DELIVERY_P99_MS, TARGET_IDLE_KB)
    for (label, value, unit, met), bound in zip(targets, bounds, strict=True):
        print(f"Target: {label} at most {bound:g} {unit}: {value:.1f} {unit}, {verdict(met)}")
    print(f"Target: no wake-up pipe overflow: {verdict(not overflow)}")


if __name__ == "__main__":
    main()
