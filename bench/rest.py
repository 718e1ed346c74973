"""Per-request benchmark: REST answers per second, reader-mock against a bare Quart route.

Two read-only operations an SDK calls all the time are measured: ``GET /v1/jobs/{id}`` (a
finished two-page job) and ``GET /v1/usage/credits``. Each server runs in its own process pinned
to one CPU; the load generator, a minimal asyncio HTTP/1.1 client on raw sockets, runs on the
other CPU with ``--connections`` keep-alive connections, each sending its next request as soon
as the previous answer is read. The servers:

- ``reader-mock``: ``MockServer`` on a manual clock, with the rate limit raised out of the way;
- ``quart``: a bare Quart app on Hypercorn (the stack reader-mock is built on) whose two routes
  return the very bytes reader-mock answered, with the same content type: the floor of the stack.
  It gets the very request reader-mock gets, API key header included (it ignores it);
- ``quart-nokey``: the same server sent the request without the API key header, as this
  benchmark measured the floor before (one request header less to parse costs the stack about
  2 % of a request);
- ``prism`` (with ``--prism``): Stoplight Prism mocking ``openapi.yaml``, installed with npm into
  ``.cache/prism`` on first use (skipped with the reason when npm or the install is missing).

Each round gives every server ``--seconds`` of load per operation after a short warm-up, the
servers taking turns; the table shows the median of ``--repeat`` rounds, the ratio to ``quart``,
the median and 99th-percentile latency, and how many answers were not ``200`` (there must be
none). ``--profile`` runs reader-mock alone under cProfile and prints where a request's time
goes, by package and by function.

Targets: reader-mock at 0.8x or better of the bare Quart route; at 1.5x or better of Prism.

Run: ``python bench/rest.py`` (``--seconds``, ``--repeat``, ``--connections``, ``--prism``,
``--profile``). Needs the ``bench`` extra: ``pip install -e '.[test,bench]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import os
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

TARGET_QUART: Final = 0.8
TARGET_PRISM: Final = 1.5
READER_MOCK: Final = "reader-mock"
QUART: Final = "quart"
QUART_NO_KEY: Final = "quart-nokey"
PRISM: Final = "prism"
OPERATIONS: Final = ("GET /v1/jobs/{id}", "GET /v1/usage/credits")
_ROOT: Final = Path(__file__).resolve().parent.parent
_PRISM_DIR: Final = _ROOT / ".cache" / "prism"
_PRISM_PACKAGE: Final = "@stoplight/prism-cli@5"
_READY_TIMEOUT: Final = 120.0
_WARM_UP: Final = 0.5
_HEAD_END: Final = b"\r\n\r\n"
_INSTRUCTIONS_WARM_UP: Final = 200


# ------------------------------------------------------------------------------- server side


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _wait_for_stdin_end(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    for _ in sys.stdin:
        pass
    loop.call_soon_threadsafe(stop.set)


def _serve_reader_mock(profile_path: str | None) -> None:
    """Child: reader-mock with one finished job; says ``READY port key job-id``."""
    import httpx

    from reader_mock.core.clock import ManualClock
    from reader_mock.core.settings import Settings
    from reader_mock.server import MockServer

    settings = Settings(requests_per_minute=10**9)
    profiler = cProfile.Profile() if profile_path else None

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        async with MockServer(clock=ManualClock(), settings=settings) as server:
            key = server.api_key or ""
            async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": key}) as c:
                body = {"urls": ["https://docs.example.com/a", "https://docs.example.com/b"]}
                created = await c.post("/v1/read", json=body)
                job_id = created.json()["data"]["id"]
                server.advance(3600)
                finished = await c.get(f"/v1/jobs/{job_id}")
                if finished.json()["data"]["status"] != "completed":
                    raise SystemExit(f"the job did not complete: {finished.text[:300]}")
            threading.Thread(target=_wait_for_stdin_end, args=(loop, stop), daemon=True).start()
            if profiler is not None:
                profiler.enable()
            _say(f"READY {server.port} {key} {job_id}")
            await stop.wait()
            if profiler is not None:
                profiler.disable()

    asyncio.run(main())
    if profiler is not None and profile_path:
        profiler.dump_stats(profile_path)


def _serve_quart(answers_path: str) -> None:
    """Child: a bare Quart app on Hypercorn answering the recorded bytes; says ``READY port``."""
    import hypercorn.asyncio
    import hypercorn.config
    from quart import Quart, Response

    answers: dict[str, dict[str, str]] = json.loads(Path(answers_path).read_text())
    job, credits = answers["job"], answers["credits"]
    app = Quart("requests_baseline")

    @app.get("/v1/jobs/<job_id>")
    async def get_job(job_id: str) -> Response:
        return Response(job["body"], content_type=job["content_type"])

    @app.get("/v1/usage/credits")
    async def get_credits() -> Response:
        return Response(credits["body"], content_type=credits["content_type"])

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        config = hypercorn.config.Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.accesslog = None
        serving = asyncio.create_task(
            hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait)
        )
        await asyncio.sleep(0)
        threading.Thread(target=_wait_for_stdin_end, args=(loop, stop), daemon=True).start()
        _say(f"READY {port}")
        await serving

    asyncio.run(main())


# ------------------------------------------------------------------------------- the parent


class ServerProcess:
    """A server in a child process, stopped by closing its stdin."""

    def __init__(self, command: list[str], cpu: int | None, name: str) -> None:
        self.name = name
        if cpu is not None:
            command = [*command, "--cpu", str(cpu)]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - read when the server fails
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.ready = self._read_ready()

    def _read_ready(self) -> list[str]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith("READY"):
                return line.split()[1:]
        self.stop()
        raise SystemExit(f"{self.name} did not start:\n{self.stderr()}")

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _prism_unavailable() -> str | None:
    """Why Prism cannot run, or ``None`` once it is installed in ``.cache/prism``."""
    binary = _PRISM_DIR / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    print(f"installing {_PRISM_PACKAGE} into {_PRISM_DIR} ...", file=sys.stderr)
    _PRISM_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(_PRISM_DIR), "--no-audit", "--no-fund", _PRISM_PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not binary.exists():
        return f"npm could not install {_PRISM_PACKAGE}: {done.stderr.strip()[-300:]}"
    return None


class PrismProcess:
    """Prism mocking ``openapi.yaml`` on a free port."""

    def __init__(self, cpu: int | None) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        command = [
            str(_PRISM_DIR / "node_modules" / ".bin" / "prism"),
            "mock",
            str(_ROOT / "openapi.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--errors",
            "false",
        ]
        if cpu is not None and shutil.which("taskset"):
            command = ["taskset", "-c", str(cpu), *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                raise SystemExit("prism exited before it listened")
            time.sleep(0.1)
        self.stop()
        raise SystemExit("prism did not listen within two minutes")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Load:
    """What one load run saw."""

    answers: int = 0
    not_ok: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    """CPU seconds the server process used during the timed part (0 where unknown)."""
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_answer(self) -> float:
        """Server CPU microseconds per answer: steadier than answers/s on a busy machine."""
        return self.server_cpu / self.answers * 1e6 if self.answers else 0.0


def _cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of process ``pid`` (Linux), or 0."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _one_connection(
    port: int, request: bytes, warm_until: float, until: float, load: Load
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    buffer = b""
    try:
        while True:
            sent = time.perf_counter()
            if sent >= until:
                return
            writer.write(request)
            while _HEAD_END not in buffer:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                buffer += chunk
            head, _, buffer = buffer.partition(_HEAD_END)
            length = 0
            closing = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    closing = True
            while len(buffer) < length:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                buffer += chunk
            buffer = buffer[length:]
            done = time.perf_counter()
            if sent >= warm_until:
                load.answers += 1
                load.latencies.append(done - sent)
                if not head.startswith(b"HTTP/1.1 200"):
                    load.not_ok += 1
            if closing:
                # Hypercorn ends a keep-alive connection after 1,000 requests
                # (keep_alive_max_requests), saying so in the answer: open the next one.
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                buffer = b""
    finally:
        writer.close()


def run_load(
    port: int,
    path: str,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    pid: int | None = None,
) -> Load:
    """``connections`` keep-alive connections sending ``GET path`` back to back."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    load = Load()

    async def main() -> None:
        start = time.perf_counter()
        warm_until = start + _WARM_UP
        until = warm_until + seconds

        async def measure_cpu() -> None:
            await asyncio.sleep(_WARM_UP)
            before = _cpu_seconds(pid)
            await asyncio.sleep(seconds)
            load.server_cpu = _cpu_seconds(pid) - before

        await asyncio.gather(
            measure_cpu(),
            *(_one_connection(port, request, warm_until, until, load) for _ in range(connections)),
        )
        load.seconds = seconds

    asyncio.run(main())
    return load


def _fetch(port: int, path: str, headers: dict[str, str]) -> dict[str, str]:
    import httpx

    response = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
    return {"body": response.text, "content_type": response.headers["content-type"]}


def _cpus() -> tuple[int | None, int | None]:
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    os.sched_setaffinity(0, {cpus[0]})
    return cpus[0], cpus[1]


def _child_command(name: str, *extra: str) -> list[str]:
    return [sys.executable, os.path.abspath(__file__), "--serve", name, *extra]


@dataclass
class Target:
    name: str
    port: int
    paths: dict[str, str]
    headers: dict[str, str]
    stop: Any
    pid: int | None


def _nothing() -> None:
    """Stops nothing: a second target on a server another target stops."""


def _mock_answers(
    mock: ServerProcess,
) -> tuple[int, dict[str, str], dict[str, str], dict[str, Any]]:
    """reader-mock's port, key header, the path of each operation and the bytes it answers
    them with (which the bare Quart route then serves)."""
    port, key, job_id = int(mock.ready[0]), mock.ready[1], mock.ready[2]
    auth = {"x-api-key": key}
    paths = {OPERATIONS[0]: f"/v1/jobs/{job_id}", OPERATIONS[1]: "/v1/usage/credits"}
    answers = {
        "job": _fetch(port, paths[OPERATIONS[0]], auth),
        "credits": _fetch(port, paths[OPERATIONS[1]], auth),
    }
    return port, auth, paths, answers


def _start_servers(with_prism: bool, server_cpu: int | None) -> tuple[list[Target], str | None]:
    mock = ServerProcess(_child_command(READER_MOCK), server_cpu, READER_MOCK)
    port, auth, paths, answers = _mock_answers(mock)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as answers_file:
        json.dump(answers, answers_file)
    quart = ServerProcess(_child_command(QUART, "--answers", answers_file.name), server_cpu, QUART)
    targets = [
        Target(READER_MOCK, port, paths, auth, mock.stop, mock.process.pid),
        Target(QUART, int(quart.ready[0]), paths, auth, quart.stop, quart.process.pid),
        Target(QUART_NO_KEY, int(quart.ready[0]), paths, {}, _nothing, quart.process.pid),
    ]
    skipped = None
    if with_prism:
        skipped = _prism_unavailable()
        if skipped is None:
            prism = PrismProcess(server_cpu)
            targets.append(Target(PRISM, prism.port, paths, auth, prism.stop, prism.process.pid))
    return targets, skipped


def run_benchmark(args: argparse.Namespace) -> None:
    _, server_cpu = _cpus()
    targets, skipped = _start_servers(args.prism, server_cpu)
    results: dict[tuple[str, str], list[Load]] = collections.defaultdict(list)
    try:
        for round_number in range(args.repeat):
            order = targets if round_number % 2 == 0 else list(reversed(targets))
            for operation in OPERATIONS:
                for target in order:
                    load = run_load(
                        target.port,
                        target.paths[operation],
                        target.headers,
                        args.connections,
                        args.seconds,
                        target.pid,
                    )
                    results[(target.name, operation)].append(load)
            print(f"\rround {round_number + 1}/{args.repeat}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        for target in targets:
            target.stop()
    _report(args, targets, results, skipped, pinned=server_cpu is not None)


@dataclass
class Summary:
    """The median figures of one server on one operation."""

    rate: float
    cpu: float
    p50: float
    p99: float
    not_ok: int


def _summary(loads: Sequence[Load]) -> Summary:
    latencies = sorted(x for load in loads for x in load.latencies)

    def at(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * share))] * 1000

    return Summary(
        rate=statistics.median(load.per_second for load in loads),
        cpu=statistics.median(load.cpu_per_answer for load in loads),
        p50=at(0.5) if latencies else 0.0,
        p99=at(0.99) if latencies else 0.0,
        not_ok=sum(load.not_ok for load in loads),
    )


def _report(
    args: argparse.Namespace,
    targets: Sequence[Target],
    results: dict[tuple[str, str], list[Load]],
    skipped: str | None,
    *,
    pinned: bool,
) -> None:
    from importlib.metadata import version

    where = "servers on one CPU, client on the other" if pinned else "not pinned (one CPU)"
    print(
        f"REST answers per second, {args.connections} keep-alive connections, "
        f"median of {args.repeat} x {args.seconds:g} s; {where}"
    )
    print(
        f"Python {sys.version.split()[0]}; reader-mock {version('reader-mock')}, "
        f"quart {version('quart')}, hypercorn {version('hypercorn')}"
    )
    print("x quart: answers/s over quart's; CPU us: server CPU per answer (x: quart's over ours)")
    header = (
        f"{'operation':<24}{'server':<13}{'answers/s':>10}{'x quart':>9}"
        f"{'CPU us':>8}{'x':>6}{'p50 ms':>8}{'p99 ms':>8}{'not 200':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    verdicts: list[str] = []
    for operation in OPERATIONS:
        floor = _summary(results[(QUART, operation)])
        found: dict[str, Summary] = {}
        for target in targets:
            got = found[target.name] = _summary(results[(target.name, operation)])
            cpu_ratio = floor.cpu / got.cpu if got.cpu else 0.0
            print(
                f"{operation:<24}{target.name:<13}{got.rate:>10,.0f}{got.rate / floor.rate:>9.2f}"
                f"{got.cpu:>8.0f}{cpu_ratio:>6.2f}{got.p50:>8.2f}{got.p99:>8.2f}{got.not_ok:>8}"
            )
        ours = found[READER_MOCK]
        ratio = ours.rate / floor.rate
        cpu_ratio = floor.cpu / ours.cpu if ours.cpu else 0.0
        verdicts.append(
            f"{operation}: reader-mock at {ratio:.2f}x the bare Quart route's answers/s "
            f"({cpu_ratio:.2f}x by CPU per answer), target {TARGET_QUART}x: "
            f"{'met' if ratio >= TARGET_QUART else 'MISSED'}"
        )
        no_key = found[QUART_NO_KEY]
        verdicts.append(
            f"{operation}: against {QUART_NO_KEY} (the request without the API key header): "
            f"{ours.rate / no_key.rate:.2f}x its answers/s, "
            f"{(no_key.cpu / ours.cpu if ours.cpu else 0.0):.2f}x by CPU per answer"
        )
        if PRISM in found:
            prism_ratio = ours.rate / found[PRISM].rate
            verdicts.append(
                f"{operation}: reader-mock at {prism_ratio:.2f}x Prism, target {TARGET_PRISM}x: "
                f"{'met' if prism_ratio >= TARGET_PRISM else 'MISSED'}"
            )
    print()
    for line in verdicts:
        print(line)
    if skipped is not None:
        print(f"Prism skipped: {skipped}")


def _ask_sequentially(sock: socket.socket, request: bytes, count: int) -> None:
    """``count`` requests one after the other on ``sock``, each answer read whole."""
    buffer = b""
    for _ in range(count):
        sock.sendall(request)
        while _HEAD_END not in buffer:
            buffer += sock.recv(65536)
        head, _, buffer = buffer.partition(_HEAD_END)
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"an answer was not 200: {head[:200]!r}")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buffer) < length:
            buffer += sock.recv(65536)
        buffer = buffer[length:]


def _instructions(
    control: str, pid: int, out: str, port: int, path: str, headers: dict[str, str], count: int
) -> float:
    """Instructions the server ran per answer over ``count`` answers, after a warm-up."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        _ask_sequentially(sock, request, _INSTRUCTIONS_WARM_UP)
        before = set(Path(out).parent.glob(Path(out).name + ".*"))
        for command in ("--instr=on", "--zero"):
            subprocess.run([control, command, str(pid)], capture_output=True, check=True)
        _ask_sequentially(sock, request, count)
        subprocess.run([control, "--dump", str(pid)], capture_output=True, check=True)
        subprocess.run([control, "--instr=off", str(pid)], capture_output=True, check=True)
    (dump,) = set(Path(out).parent.glob(Path(out).name + ".*")) - before
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1]) / count
    raise SystemExit(f"no instruction count in {dump}")


def run_instructions(args: argparse.Namespace) -> None:
    """Instructions per answer under valgrind's callgrind: the same on a busy machine as on a
    quiet one (the kernel's share of a request, the same for both servers, is not counted)."""
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        print("instructions skipped: valgrind (with callgrind_control) is not installed")
        return
    os.environ["PYTHONHASHSEED"] = "0"  # the same dict and set layouts in every run
    with tempfile.TemporaryDirectory() as folder:

        def under_callgrind(name: str, *extra: str) -> tuple[list[str], str]:
            out = os.path.join(folder, f"{name}.callgrind")
            tool = [valgrind, "--tool=callgrind", "--instr-atstart=no"]
            return [*tool, f"--callgrind-out-file={out}", *_child_command(name, *extra)], out

        command, mock_out = under_callgrind(READER_MOCK)
        mock = ServerProcess(command, None, READER_MOCK)
        port, auth, paths, answers = _mock_answers(mock)
        answers_path = os.path.join(folder, "answers.json")
        Path(answers_path).write_text(json.dumps(answers))
        command, quart_out = under_callgrind(QUART, "--answers", answers_path)
        quart = ServerProcess(command, None, QUART)
        quart_port = int(quart.ready[0])
        servers = [
            (READER_MOCK, mock.process.pid, mock_out, port, auth),
            (QUART, quart.process.pid, quart_out, quart_port, auth),
            (QUART_NO_KEY, quart.process.pid, quart_out, quart_port, {}),
        ]
        found: dict[tuple[str, str], float] = {}
        try:
            for operation in OPERATIONS:
                for name, pid, out, server_port, headers in servers:
                    found[(name, operation)] = _instructions(
                        control, pid, out, server_port, paths[operation], headers, args.count
                    )
        finally:
            mock.stop()
            quart.stop()
    print(f"Instructions per answer (callgrind), {args.count} answers on one connection")
    header = f"{'operation':<24}{'server':<13}{'instructions':>14}{'x quart':>9}"
    print()
    print(header)
    print("-" * len(header))
    for operation in OPERATIONS:
        floor = found[(QUART, operation)]
        for name, *_ in servers:
            count = found[(name, operation)]
            print(f"{operation:<24}{name:<13}{count:>14,.0f}{floor / count:>9.2f}")


def run_profile(args: argparse.Namespace) -> None:
    """reader-mock alone under cProfile, loaded on ``GET /v1/jobs/{id}``; where the time goes."""
    _, server_cpu = _cpus()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "reader-mock.prof")
        mock = ServerProcess(
            _child_command(READER_MOCK, "--profile-out", path), server_cpu, READER_MOCK
        )
        port, key, job_id = int(mock.ready[0]), mock.ready[1], mock.ready[2]
        load = run_load(
            port, f"/v1/jobs/{job_id}", {"x-api-key": key}, args.connections, args.seconds
        )
        mock.stop()
        stats = pstats.Stats(path)
    answers = max(load.answers, 1)
    by_package: collections.Counter[str] = collections.Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
    total = sum(by_package.values())
    print(f"GET /v1/jobs/{{id}} under cProfile: {load.answers} answers in {args.seconds:g} s")
    print(f"{'where':<28}{'us/request':>12}{'share':>8}")
    for package, seconds in by_package.most_common(15):
        print(f"{package:<28}{seconds / answers * 1e6:>12.1f}{seconds / total:>8.0%}")
    print()
    stats.sort_stats("cumulative").print_stats("reader_mock", 25)


def _package(filename: str) -> str:
    parts = Path(filename).parts
    for marker in ("site-packages", "reader_mock"):
        if marker in parts:
            index = parts.index(marker)
            if marker == "reader_mock":
                return "reader_mock." + Path(*parts[index + 1 :]).with_suffix(
                    ""
                ).as_posix().replace("/", ".")
            return parts[index + 1] if index + 1 < len(parts) else marker
    if filename.startswith(("~", "<")):
        return "builtins (C)"
    return "stdlib " + Path(filename).stem


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load per operation and round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--prism", action="store_true", help="also measure Prism (needs npm)")
    parser.add_argument("--profile", action="store_true", help="profile reader-mock's server")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per answer under valgrind (steady on a busy machine)",
    )
    parser.add_argument(
        "--count", type=int, default=300, help="answers counted per server (--instructions)"
    )
    parser.add_argument("--serve", choices=(READER_MOCK, QUART), help=argparse.SUPPRESS)
    parser.add_argument("--answers", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeat < 1 or args.connections < 1:
        parser.error("--seconds, --repeat and --connections must be positive")
    if args.serve is not None:
        _pin(args.cpu)
        if args.serve == READER_MOCK:
            _serve_reader_mock(args.profile_out)
        else:
            _serve_quart(args.answers)
    elif args.profile:
        run_profile(args)
    elif args.instructions:
        run_instructions(args)
    else:
        run_benchmark(args)


if __name__ == "__main__":
    main()
