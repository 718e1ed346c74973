"""SSE throughput benchmark: events per second delivered to one client of a per-job stream.

The stream measured is the per-job stream (``GET /v1/jobs/{id}/stream``) of a job that delivers
``--events`` pages with no delay between them, each ``page`` event a realistic result entry of a
few hundred bytes (url, markdown, statusCode, proxyMode, credits, metadata). Following the
contract, the stream opens with a ``progress`` snapshot of the queued job, then carries a
``progress`` when the job starts, a ``page`` and a ``progress`` for every page, and ends with
``done``: ``2 * events + 3`` frames in all.

Four servers send those frames to the same client code, one at a time, each in its own process
(so the client and the server each get a core of their own):

- ``ceiling``: a plain ``asyncio.start_server`` writing a hand-made HTTP/1.1 chunked response, one
  ``write`` and ``drain`` per frame: as fast as one event loop serves these bytes;
- ``quart``: a plain Quart app on Hypercorn, the route returning an async generator that yields
  one frame at a time: the cost of reader-mock's own stack;
- ``sse-starlette``: ``EventSourceResponse`` on uvicorn: what one would write by hand;
- ``reader-mock``: ``MockServer`` playing a scripted timeline of that job on a manual clock. The
  job is a crawl (a batch holds at most 1,000 URLs; a crawl's ``total`` may grow to any size)
  whose timeline sets ``total`` as it starts, so its stream has the frames above; only the
  queued snapshot says ``total: 1``, the seed. The client opens the stream while the job waits
  behind a one-second ``wait``, then moves the clock, so the job engine, the event bus, the
  journal and the stream all run inside the timed interval.

The three baselines serve the exact bytes the contract prescribes for this job; reader-mock's
bytes are checked against them.

Nothing waits silently: a server that fails to start, answers a command with an error, exits,
or leaves its stream without a byte for 30 seconds stops the benchmark with a message, whether
its process still runs, and the end of its stderr.

Every server first gets one untimed run whose bytes are fully decoded with
``reader_mock.sse.Decoder`` and checked (every event arrived intact, in order); it doubles as the
warm-up. Then ``--repeat`` rounds of timed runs follow, the servers taking turns within each
round. A timed run counts bytes and frames only (a frame ends at a blank line). The table shows the
median per server: events (frames) per second, pages per second, megabytes (10^6 bytes) of SSE
body per second, each server's ratio to the ceiling, and the CPU the client and the server used
per second of the run (a side at about 100 % is the bottleneck).

Target: reader-mock at least 1.0 of the ceiling's events per second. The job's pages share one
clock instant, so the job engine applies them as one run and the stream writes them in large
writes (docs/architecture.md, "A run is applied as one"); the ceiling writes frame by frame.

Run: ``python bench/throughput.py`` (``--events N``, default 100000; ``--repeat N``, default 3;
``--only NAME``, repeatable, to run some servers: the ceiling always runs, as every ratio needs
it; ``--profile``: run reader-mock alone under cProfile and print where its time goes).
Needs the ``bench`` extra: ``pip install -e '.[test,bench]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import hashlib
import io
import json
import os
import pstats
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import _baselines
import httpx

TARGET: Final = 1.0
CEILING: Final = "ceiling"
READER_MOCK: Final = "reader-mock"
SERVERS: Final = (*_baselines.BASELINES, READER_MOCK)
MEGABYTE: Final = 1_000_000
_T = TypeVar("_T")

# reader-mock's job waits this long (clock seconds) before it starts, so the stream can open
# first; the client then moves the manual clock by as much.
_GATE_SECONDS: Final = 1.0
_READY_TIMEOUT: Final = 120.0
_COMMAND_TIMEOUT: Final = 600.0
# Any crawl option makes a read a crawl; the scripted timeline, not this, sets its pages.
_MAX_PAGES: Final = 10_000
_CHECKED_PAGES: Final = 20
# The longest silence a stream may keep before the run fails (with the server's stderr).
_READ_TIMEOUT: Final = 30.0
_STREAM_PATH: Final = "/stream"
_RECV_SIZE: Final = 256 * 1024
CLIENTS: Final = ("raw", "httpx")


# ------------------------------------------------------------------------------------ the job


_TOPICS: Final = (
    "installation",
    "authentication",
    "rate-limits",
    "webhooks",
    "streaming",
    "pagination",
    "sessions",
    "errors",
    "billing",
    "crawling",
)
_SENTENCES: Final = (
    "Every request carries the API key in the x-api-key header.",
    "Jobs move from queued to processing and end completed, failed or cancelled.",
    "Results are paginated; follow the next link until hasMore is false.",
    "A crawl discovers links breadth first and stops at maxDepth or maxPages.",
    "Premium proxies cost three credits a page and reach sites that block data centres.",
    "Webhook deliveries are signed with HMAC-SHA256 over the timestamp and the body.",
    "The stream sends a comment every thirty seconds to keep idle connections open.",
    "Retrying a job queues its failed URLs again and keeps the pages that succeeded.",
)


# Every page is fetched at the same moment: the timeline has no delay between them. Fixed, so that
# every job (each starting later on the clock) sends the same bytes.
_SCRAPED_AT: Final = "2026-01-01T00:00:01Z"


def page_entry(index: int) -> dict[str, Any]:
    """The result entry of the job's ``index``-th page (from 0): deterministic, a few hundred
    bytes as JSON, shaped like a real one (url, markdown, statusCode, proxyMode, credits,
    metadata with scrapedAt)."""
    topic = _TOPICS[index % len(_TOPICS)]
    number = index + 1
    title = f"{topic.replace('-', ' ').capitalize()} guide, part {number}"
    # Two to four sentences, picked so that neighbouring pages differ.
    count = 2 + index % 3
    body = " ".join(_SENTENCES[(index * 3 + k) % len(_SENTENCES)] for k in range(count))
    return {
        "url": f"https://docs.example.com/guides/{topic}/part-{number}",
        "markdown": f"# {title}\n\n{body}\n",
        "statusCode": 200,
        "proxyMode": "standard",
        "credits": 1,
        # In the order reader-mock writes them, so that its bytes can equal the baselines'.
        "metadata": {
            "title": title,
            "description": _SENTENCES[index % len(_SENTENCES)],
            "duration": 120 + (index * 37) % 900,
            "statusCode": 200,
            "scrapedAt": _SCRAPED_AT,
        },
    }


def job_urls(events: int) -> list[str]:
    """The job's URLs, in page order."""
    return [page_entry(index)["url"] for index in range(events)]


def _progress(status: str, completed: int, total: int) -> dict[str, Any]:
    return {"status": status, "completed": completed, "total": total}


def stream_frames(events: int) -> list[bytes]:
    """The per-job stream of the job, frame by frame, as the contract prescribes it for a stream
    opened while the job is queued: the crawl's ``total`` is 1 (the seed) until the job starts."""
    from reader_mock.sse import encode_json_event

    frames = [
        encode_json_event("progress", _progress("queued", 0, 1)),
        encode_json_event("progress", _progress("processing", 0, events)),
    ]
    for index in range(events):
        frames.append(encode_json_event("page", page_entry(index)))
        frames.append(encode_json_event("progress", _progress("processing", index + 1, events)))
    frames.append(encode_json_event("done", _progress("completed", events, events)))
    return frames


# ------------------------------------------------------------------------------- server side


def pin_cpus() -> tuple[int, int] | None:
    """Pin this process (the client) to one CPU and return it with the CPU for the servers.

    Left to itself, Linux tends to wake a reader on the CPU of the process that woke it, so a
    client and a server that hand bytes back and forth end up sharing one CPU while the other
    idles. Pinning them apart gives each a CPU of its own. ``None`` where affinity cannot be
    set or there is a single CPU.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    os.sched_setaffinity(0, {cpus[0]})
    return cpus[0], cpus[1]


def _pin_self(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _say(line: str) -> None:
    """One line to the parent process."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _serve_baseline(name: str, events: int) -> None:
    """Child process: serve baseline ``name`` until the parent closes our stdin."""
    frames = stream_frames(events)
    sock = _listen()
    port = sock.getsockname()[1]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def watch_stdin() -> None:
            for _ in sys.stdin:
                pass
            loop.call_soon_threadsafe(stop.set)

        serving = asyncio.create_task(_baselines.serve(name, frames, sock, stop))
        # The port accepts connections from the moment it listens; the server takes them in
        # as soon as its task runs.
        await asyncio.sleep(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
        _say(f"READY {port}")
        await serving

    asyncio.run(main())


def reader_mock_unavailable() -> str | None:
    """Why reader-mock's stream cannot be measured yet, or ``None`` when it can."""
    try:
        from reader_mock.server import MockServer
    except ImportError as exc:  # pragma: no cover - the package is this repository
        return f"cannot import reader_mock.server: {exc}"
    if not hasattr(MockServer, "script_next_job"):
        return "MockServer cannot script the next job's timeline yet (no script_next_job)"
    return None


def mock_timeline(events: int) -> Any:
    """reader-mock's timeline for the job: a gate, ``processing`` with the whole ``total``, every
    page, ``completed``.

    The job is a crawl: a batch holds at most 1,000 URLs, while a crawl's ``total`` may grow to
    any size. A single ``progress`` step both starts the job and sets ``total``, so the stream
    carries the same frames as a batch of ``events`` URLs would after its first snapshot. Every
    page names its URL and every field of its entry, so the entries are exactly
    :func:`page_entry`'s. Built from a list of steps in one go: chained builder calls would copy
    the steps each time.
    """
    from reader_mock.timeline import Done, Page, Progress, Step, Timeline, Wait

    steps: list[Step] = [Wait(_GATE_SECONDS), Progress(status="processing", total=events)]
    for index in range(events):
        entry = page_entry(index)
        metadata = entry["metadata"]
        steps.append(
            Page(
                url=entry["url"],
                markdown=entry["markdown"],
                title=metadata["title"],
                description=metadata["description"],
                status_code=entry["statusCode"],
                proxy_mode=entry["proxyMode"],
                credits=entry["credits"],
                metadata={"duration": metadata["duration"], "scrapedAt": metadata["scrapedAt"]},
            )
        )
    steps.append(Done("completed"))
    return Timeline(name="throughput", steps=tuple(steps), mode="crawl", urls=(seed_url(),))


def seed_url() -> str:
    """The crawl's seed: the first page's URL."""
    return str(page_entry(0)["url"])


def _serve_reader_mock(events: int, profile_path: str | None) -> None:
    """Child process: reader-mock on a manual clock, driven by commands on stdin.

    ``job`` scripts the next job and creates it (answers ``JOB <id>``); ``go`` moves the clock
    past the job's gate; end of input stops the server. A command that fails answers
    ``ERROR <what>`` (its traceback goes to stderr) rather than leaving the parent waiting. With
    ``profile_path``, cProfile records the server's loop from ``go`` to the next command and
    writes its stats there at the end.
    """
    from reader_mock.core.clock import ManualClock
    from reader_mock.core.settings import Settings
    from reader_mock.server import MockServer
    from reader_mock.timeline.ready_made import resolve_timeline

    # A short timeline of the same shape is checked here, so that one the mock refuses stops
    # the benchmark at start-up in the mock's own words; checking the full one would take about
    # a millisecond a page. Each job still plays it under the job rules when it is created.
    resolve_timeline(mock_timeline(min(events, _CHECKED_PAGES)), check=True)
    timeline = mock_timeline(events)
    clock = ManualClock()
    settings = Settings(monthly_credits=10**12, requests_per_minute=10**6)
    profiler = cProfile.Profile() if profile_path else None

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        profiling = False

        async with MockServer(clock=clock, settings=settings) as server:
            key = server.api_key or ""

            def run(command: str, client: httpx.Client) -> None:
                nonlocal profiling
                if profiler is not None and profiling:
                    asyncio.run_coroutine_threadsafe(_disable(profiler), loop).result()
                    profiling = False
                if command == "job":
                    _say(_create_job(server, client, timeline))
                elif command == "go":
                    if profiler is not None:
                        asyncio.run_coroutine_threadsafe(_enable(profiler), loop).result()
                        profiling = True
                    server.advance(_GATE_SECONDS)
                else:
                    _say(f"ERROR unknown command {command!r}")

            def commands() -> None:
                try:
                    with httpx.Client(base_url=server.url, headers={"x-api-key": key}) as client:
                        for line in sys.stdin:
                            try:
                                run(line.strip(), client)
                            except Exception as exc:  # reported to the parent, which stops
                                traceback.print_exc()
                                _say(f"ERROR {type(exc).__name__}: {exc}".replace("\n", " "))
                finally:
                    loop.call_soon_threadsafe(stop.set)

            threading.Thread(target=commands, daemon=True).start()
            _say(f"READY {server.port}")
            await stop.wait()
            for error in server.errors:
                print(f"server error: {error!r}", file=sys.stderr)

    asyncio.run(main())
    if profiler is not None and profile_path:
        profiler.dump_stats(profile_path)


async def _enable(profiler: cProfile.Profile) -> None:
    profiler.enable()  # in the loop's thread: cProfile records the thread it is enabled in


async def _disable(profiler: cProfile.Profile) -> None:
    profiler.disable()


def _create_job(server: Any, client: httpx.Client, timeline: Any) -> str:
    """Script the next job with the timeline and create it; the reply line for the parent.

    The timeline was checked once at start-up, so it is not checked again for every job.
    """
    server.script_next_job(timeline, check=False)
    body = {"url": seed_url(), "maxPages": _MAX_PAGES}
    response = client.post("/v1/read", json=body, timeout=_COMMAND_TIMEOUT)
    if response.status_code != 201:
        return f"ERROR POST /v1/read answered {response.status_code}: {response.text[:300]}"
    return f"JOB {response.json()['data']['id']}"


# ------------------------------------------------------------------------------- the parent


class ServerProcess:
    """One server in a child process: started, asked for jobs, measured, stopped."""

    def __init__(
        self, name: str, events: int, *, cpu: int | None, profile_path: str | None = None
    ) -> None:
        self.name = name
        command = [sys.executable, os.path.abspath(__file__), "--serve", name]
        command += ["--events", str(events)]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        if profile_path:
            command += ["--profile-out", profile_path]
        # Kept open for the life of the process and closed in close().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()
        self.port = 0

    def _read_lines(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        for line in stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def _reply(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit(
                f"{self.name}: no answer from the server within {timeout:.0f} s" + self.diagnosis()
            ) from None
        if line is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
            raise SystemExit(f"{self.name}: the server process ended" + self.diagnosis())
        if line.startswith("ERROR "):
            raise SystemExit(f"{self.name}: {line[6:]}" + self.diagnosis())
        return line

    def diagnosis(self) -> str:
        """Whether the server process still runs, and the end of what it wrote to stderr."""
        code = self._process.poll()
        state = "still running" if code is None else f"exited with status {code}"
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            errors = self._stderr.read().decode(errors="replace")[-4000:].rstrip()
        except (OSError, ValueError):
            errors = ""
        shown = "\n".join("  | " + line for line in errors.splitlines()) or "  (nothing)"
        return f"\n{self.name} server process {state}; its stderr ends:\n{shown}"

    def wait_ready(self) -> None:
        line = self._reply(_READY_TIMEOUT)
        if not line.startswith("READY "):
            raise SystemExit(f"{self.name}: unexpected start-up line {line!r}")
        self.port = int(line.split()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def send(self, command: str) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()

    def ask(self, command: str) -> str:
        self.send(command)
        return self._reply(_COMMAND_TIMEOUT)

    def cpu_seconds(self) -> float | None:
        """CPU time the server process used so far (Linux only; ``None`` elsewhere)."""
        try:
            with open(f"/proc/{self._process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime are fields 14 and 15 of the file, 12 and 13 after the command name.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        stdin = self._process.stdin
        if stdin is not None and not stdin.closed:
            stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stderr.close()


@dataclass(frozen=True)
class Target:
    """Where one run reads its stream, and what to do once the first frame has arrived."""

    url: str
    headers: dict[str, str]
    after_first_frame: Callable[[], None] | None = None


class FrameCounter:
    """Counts frames (blank-line separators, ``\\n\\n``) across chunk boundaries, cheaply.

    Pairs of LFs are counted left to right without overlap, as ``bytes.count`` does on the
    whole body; an LF left unpaired at the end of a chunk pairs with an LF that starts the next.
    """

    def __init__(self) -> None:
        self.frames = 0
        self._pending = False

    def feed(self, chunk: bytes) -> None:
        """Count the frames a chunk ends."""
        self.feed_range(chunk, 0, len(chunk))

    def feed_range(self, buffer: bytes, start: int, end: int) -> None:
        """Count the frames ``buffer[start:end]`` ends, without copying it."""
        if start >= end:
            return
        if self._pending and buffer[start] == 0x0A:
            self.frames += 1
            start += 1
        self.frames += buffer.count(b"\n\n", start, end)
        # The LFs ending the range pair up from the left: an odd run leaves one waiting.
        stop = end
        while stop > start and buffer[stop - 1] == 0x0A:
            stop -= 1
        self._pending = (end - stop) % 2 == 1


@dataclass(frozen=True)
class Run:
    """One timed read of a stream."""

    seconds: float
    body_bytes: int
    frames: int
    client_cpu: float
    server_cpu: float | None


def _chunks(target: Target) -> Iterator[bytes]:
    """The body of the stream at ``target`` as httpx delivers it (``iter_raw``)."""
    timeout = httpx.Timeout(_READ_TIMEOUT, connect=10.0)
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("GET", target.url, headers=target.headers) as response,
    ):
        if response.status_code != 200:
            response.read()
            raise SystemExit(
                f"GET {target.url} answered {response.status_code}: {response.text[:300]}"
            )
        yield from response.iter_raw()


def _recv(sock: socket.socket, url: str) -> bytes:
    data = sock.recv(_RECV_SIZE)
    if not data:
        raise SystemExit(f"GET {url}: the connection closed before the end of the body")
    return data


def _raw_segments(target: Target) -> Iterator[tuple[bytes, int, int]]:
    """The body of the stream at ``target``, read from a plain socket: ``(buffer, start, end)``
    for each chunk of the chunked body, without copying the chunk out of the buffer.

    A minimal HTTP/1.1 client (GET, a ``200`` with ``Transfer-Encoding: chunked``, no chunk
    extensions or trailers) whose cost per chunk is a few microseconds, so that it keeps up
    with every server measured: httpx spends about 30 us per chunk, more than the servers do.
    """
    parts = urlsplit(target.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head_lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
    head_lines += [f"{name}: {value}" for name, value in target.headers.items()]
    request = ("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection((host, port), timeout=_READ_TIMEOUT) as sock:
        sock.sendall(request)
        buffer = b""
        while (head_end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += _recv(sock, target.url)
        status_line, *header_lines = buffer[:head_end].decode("latin-1").split("\r\n")
        if status_line.split(" ")[1:2] != ["200"]:
            raise SystemExit(f"GET {target.url} answered {status_line!r}")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        if headers.get("transfer-encoding", "").lower() != "chunked":
            raise SystemExit(f"GET {target.url}: the benchmark's client reads chunked bodies only")
        pos = head_end + 4
        while True:
            eol = buffer.find(b"\r\n", pos)
            if eol < 0:
                buffer = buffer[pos:] + _recv(sock, target.url)
                pos = 0
                continue
            try:
                size = int(buffer[pos:eol], 16)
            except ValueError:
                raise SystemExit(
                    f"GET {target.url}: bad chunk header {buffer[pos:eol][:40]!r}"
                ) from None
            if size == 0:
                return
            start = eol + 2
            end = start + size
            if end + 2 > len(buffer):
                # The chunk is not all here yet: keep its header and read more.
                buffer = buffer[pos:] + _recv(sock, target.url)
                pos = 0
                continue
            yield buffer, start, end
            pos = end + 2


def timed_run(server: ServerProcess, target: Target, client: str) -> Run:
    """Read the whole stream once with ``client`` (``raw`` or ``httpx``), counting bytes and
    frames only."""
    counter = FrameCounter()
    size = 0
    gate = target.after_first_frame
    cpu_before = server.cpu_seconds()
    client_before = time.process_time()
    started = time.perf_counter()
    if client == "httpx":
        for chunk in _chunks(target):
            size += len(chunk)
            counter.feed(chunk)
            if gate is not None and counter.frames:
                gate()
                gate = None
    else:
        feed = counter.feed_range
        for buffer, start, end in _raw_segments(target):
            size += end - start
            feed(buffer, start, end)
            if gate is not None and counter.frames:
                gate()
                gate = None
    seconds = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    cpu_after = server.cpu_seconds()
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Run(seconds, size, counter.frames, client_cpu, server_cpu)


@dataclass(frozen=True)
class Expected:
    """What every server must deliver."""

    events: int
    frames: int
    body_bytes: int
    digest: str
    urls: tuple[str, ...]


def expected_stream(events: int) -> Expected:
    frames = stream_frames(events)
    body = b"".join(frames)
    if body.count(b"\n\n") != len(frames):
        raise AssertionError("a frame holds a blank line; the frame count would be wrong")
    urls = tuple(job_urls(events))
    return Expected(events, len(frames), len(body), hashlib.sha256(body).hexdigest(), urls)


@dataclass(frozen=True)
class Verified:
    """The outcome of a checked run: the body's size and how its bytes compare."""

    body_bytes: int
    note: str


def verify_run(target: Target, expected: Expected) -> Verified:
    """Read the stream once with httpx, decode every event with reader-mock's decoder, check
    them all.

    Raises SystemExit when an event is missing, out of order or malformed.
    """
    from reader_mock.sse import Decoder

    decoder = Decoder()
    digest = hashlib.sha256()
    events = []
    size = 0
    gate = target.after_first_frame
    for chunk in _chunks(target):
        size += len(chunk)
        digest.update(chunk)
        events.extend(decoder.feed(chunk))
        if gate is not None and events:
            gate()
            gate = None
    end = decoder.close()
    problems: list[str] = []
    if end.mid_block or end.mid_line:
        problems.append("the body ends inside an event")
    pages = [event for event in events if event.type == "page"]
    if len(pages) != expected.events:
        problems.append(f"{len(pages)} page events, expected {expected.events}")
    urls = tuple(json.loads(event.data).get("url") for event in pages)
    if urls != expected.urls[: len(urls)]:
        first = next(i for i, url in enumerate(urls) if url != expected.urls[i])
        problems.append(
            f"page {first + 1} has url {urls[first]!r}, expected {expected.urls[first]!r}"
        )
    if not events or events[-1].type != "done":
        problems.append("the last event is not done")
    elif json.loads(events[-1].data).get("status") != "completed":
        problems.append(f"done says {events[-1].data}, expected status completed")
    if len(events) != expected.frames:
        problems.append(f"{len(events)} events in all, expected {expected.frames}")
    if problems:
        raise SystemExit(f"GET {target.url}: " + "; ".join(problems))
    if digest.hexdigest() == expected.digest:
        return Verified(size, "same bytes as the baselines")
    return Verified(
        size, f"bytes differ from the baselines' ({size} bytes against {expected.body_bytes})"
    )


# ----------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Summary:
    """One server's medians over its timed runs."""

    name: str
    events_per_second: float
    pages_per_second: float
    megabytes_per_second: float
    client_cpu: float
    """Share of one CPU the client used while reading."""
    server_cpu: float | None
    """Share of one CPU the server process used while serving (``None``: not measurable)."""
    events_per_cpu_second: float | None
    """Events per second of the server's own CPU time: its cost per event, which other load on
    the machine disturbs far less than wall-clock throughput."""


def summarise(name: str, runs: Sequence[Run], expected: Expected, body_bytes: int) -> Summary:
    """Medians over the runs, once each run is known to have received the whole stream."""
    for run in runs:
        # A run that lost frames or bytes would make its speed meaningless.
        if run.frames != expected.frames or run.body_bytes != body_bytes:
            raise SystemExit(
                f"{name}: a timed run received {run.frames} frames and {run.body_bytes} bytes; "
                f"expected {expected.frames} frames and {body_bytes} bytes"
            )
    seconds = statistics.median(run.seconds for run in runs)
    cpu = [run.server_cpu for run in runs if run.server_cpu]
    return Summary(
        name=name,
        events_per_second=expected.frames / seconds,
        pages_per_second=expected.events / seconds,
        megabytes_per_second=body_bytes / seconds / MEGABYTE,
        client_cpu=statistics.median(run.client_cpu / run.seconds for run in runs),
        server_cpu=(
            statistics.median(c / run.seconds for run in runs if (c := run.server_cpu) is not None)
            if len(cpu) == len(runs)
            else None
        ),
        events_per_cpu_second=(
            statistics.median(expected.frames / c for c in cpu) if len(cpu) == len(runs) else None
        ),
    )


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    names = ("reader-mock", "quart", "hypercorn", "uvicorn", "sse-starlette", "httpx", "h11")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def print_table(
    summaries: Sequence[Summary],
    notes: dict[str, str],
    unavailable: dict[str, str],
    expected: Expected,
    repeat: int,
    client: str,
    placement: str,
) -> None:
    print(
        f"SSE throughput, one client, per-job stream of a job of {expected.events:,} pages: "
        f"{expected.frames:,} events, {expected.body_bytes / MEGABYTE:.1f} MB per run"
    )
    print(f"Python {sys.version.split()[0]}; {_versions()}")
    print(f"Each server in its own process; {placement}.")
    print(
        f"Median of {repeat} timed run(s) per server, read by the {client} client; "
        "x ceiling = this server / the ceiling."
    )
    print()
    header = (
        f"{'server':<14}{'events/s':>10}{'x ceiling':>10}{'pages/s':>9}{'MB/s':>7}"
        f"{'client CPU':>11}{'server CPU':>11}{'events/CPU-s':>13}{'x ceiling':>10}"
    )
    print(header)
    print("-" * len(header))
    ceiling = next((s for s in summaries if s.name == CEILING), None)
    for summary in summaries:
        ratio = cpu_ratio = per_cpu = server_cpu = "-"
        if summary.server_cpu is not None:
            server_cpu = f"{summary.server_cpu:.0%}"
        if summary.events_per_cpu_second is not None:
            per_cpu = f"{summary.events_per_cpu_second:,.0f}"
        if ceiling is not None:
            ratio = f"{summary.events_per_second / ceiling.events_per_second:.2f}"
            if summary.events_per_cpu_second and ceiling.events_per_cpu_second:
                cpu_ratio = f"{summary.events_per_cpu_second / ceiling.events_per_cpu_second:.2f}"
        print(
            f"{summary.name:<14}{summary.events_per_second:>10,.0f}{ratio:>10}"
            f"{summary.pages_per_second:>9,.0f}{summary.megabytes_per_second:>7.1f}"
            f"{summary.client_cpu:>11.0%}{server_cpu:>11}{per_cpu:>13}{cpu_ratio:>10}"
        )
    for name, reason in unavailable.items():
        print(f"{name}: not available ({reason})")
    print()
    for name, note in notes.items():
        print(f"{name}: every event arrived intact; {note}")
    mock = next((s for s in summaries if s.name == READER_MOCK), None)
    print()
    if mock is None or ceiling is None:
        print(f"Target: reader-mock at least {TARGET} of the ceiling's events/s: not measured.")
        return
    share = mock.events_per_second / ceiling.events_per_second
    verdict = "met" if share >= TARGET else "MISSED"
    print(
        f"Target: reader-mock at least {TARGET} of the ceiling's events/s: {share:.2f}, {verdict}"
    )


# ------------------------------------------------------------------------------------- main


def _target(server: ServerProcess) -> Target:
    """How to read ``server``'s stream for the next run (for reader-mock: a new job)."""
    if server.name != READER_MOCK:
        return Target(server.url + _STREAM_PATH, {})
    reply = server.ask("job")
    if not reply.startswith("JOB "):
        raise SystemExit(f"{READER_MOCK}: could not create the job: {reply}")
    job_id = reply.split(maxsplit=1)[1]
    from reader_mock.core.settings import DEFAULT_API_KEY

    return Target(
        f"{server.url}/v1/jobs/{job_id}/stream",
        {"x-api-key": DEFAULT_API_KEY},
        after_first_frame=lambda: server.send("go"),
    )


def _watched(server: ServerProcess, read: Callable[[], _T]) -> _T:
    """``read()``, failing with the server's state and stderr when the read fails or stalls."""
    try:
        return read()
    except SystemExit as exc:
        if isinstance(exc.code, str) and server.name + " server process" in exc.code:
            raise  # it already says how the server is
        raise SystemExit(f"{exc.code}{server.diagnosis()}") from None
    except (httpx.HTTPError, OSError) as exc:
        what = "no data" if isinstance(exc, TimeoutError | httpx.TimeoutException) else "failed"
        raise SystemExit(
            f"{server.name}: reading the stream {what}"
            + (f" for {_READ_TIMEOUT:.0f} s" if what == "no data" else f": {exc!r}")
            + server.diagnosis()
        ) from None


def _verify(server: ServerProcess, expected: Expected) -> Verified:
    return verify_run(_target(server), expected)


def _timed(server: ServerProcess, client: str) -> Run:
    return timed_run(server, _target(server), client)


def _progress_note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_benchmark(names: Sequence[str], events: int, repeat: int, client: str) -> None:
    cpus = pin_cpus()
    placement = (
        "client and servers share the CPUs"
        if cpus is None
        else f"client on CPU {cpus[0]}, servers on CPU {cpus[1]}"
    )
    expected = expected_stream(events)
    unavailable: dict[str, str] = {}
    if READER_MOCK in names:
        reason = reader_mock_unavailable()
        if reason is not None:
            unavailable[READER_MOCK] = reason
            names = [name for name in names if name != READER_MOCK]
    servers = [ServerProcess(name, events, cpu=cpus and cpus[1]) for name in names]
    checked: dict[str, Verified] = {}
    runs: dict[str, list[Run]] = {name: [] for name in names}
    try:
        for server in servers:
            server.wait_ready()
        for server in servers:
            _progress_note(f"{server.name}: checking every event (untimed, also the warm-up)")
            checked[server.name] = _watched(server, partial(_verify, server, expected))
        for round_number in range(repeat):
            for server in servers:
                _progress_note(f"{server.name}: timed run {round_number + 1}/{repeat}")
                run = _watched(server, partial(_timed, server, client))
                runs[server.name].append(run)
    finally:
        for server in servers:
            server.close()
    summaries = [summarise(name, runs[name], expected, checked[name].body_bytes) for name in names]
    notes = {name: outcome.note for name, outcome in checked.items()}
    print_table(summaries, notes, unavailable, expected, repeat, client, placement)


def run_profile(events: int, client: str) -> None:
    """reader-mock alone, one run under cProfile; prints the functions that take the time."""
    reason = reader_mock_unavailable()
    if reason is not None:
        raise SystemExit(f"{READER_MOCK}: not available ({reason})")
    expected = expected_stream(events)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "reader-mock.prof")
        cpus = pin_cpus()
        server = ServerProcess(READER_MOCK, events, cpu=cpus and cpus[1], profile_path=path)
        try:
            server.wait_ready()
            run = _watched(server, partial(_timed, server, client))
        finally:
            server.close()
        if run.frames != expected.frames:
            raise SystemExit(f"received {run.frames} frames, expected {expected.frames}")
        print(
            f"reader-mock under cProfile: {expected.frames / run.seconds:,.0f} events/s "
            f"({run.seconds:.2f} s for {expected.frames:,} events; profiling slows it down)"
        )
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            stats = pstats.Stats(path, stream=text)
            stats.sort_stats(order).print_stats(30)
            print(f"\n--- top 30 by {order} ---")
            print(text.getvalue())


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="pages in the job")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per server")
    parser.add_argument(
        "--only",
        action="append",
        choices=SERVERS,
        metavar="NAME",
        help=f"run this server ({', '.join(SERVERS)}); repeatable; the ceiling always runs",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile reader-mock's server with cProfile"
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="raw",
        help="client of the timed runs: a minimal socket client (default) or httpx's iter_raw",
    )
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    if args.serve is not None:
        _pin_self(args.cpu)
    if args.serve == READER_MOCK:
        _serve_reader_mock(args.events, args.profile_out)
    elif args.serve is not None:
        _serve_baseline(args.serve, args.events)
    elif args.profile:
        run_profile(args.events, args.client)
    else:
        names = SERVERS if not args.only else (CEILING, *args.only)
        run_benchmark(list(dict.fromkeys(names)), args.events, args.repeat, args.client)


if __name__ == "__main__":
    main()
