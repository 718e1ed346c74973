"""A client that stops reading is cut by the bounded stream log; the other clients go on.

Each test opens one stream from a raw socket with a tiny receive buffer that reads nothing after
its first bytes, and one stream from a client that keeps up. The timelines write megabytes, so
the stuck client's kernel buffers fill and its stream blocks in a write; the log then holds
records for it until the bound lets it go (``Settings.stream_queue_limit``). The clock moves in
steps, and the test waits for the live client to receive each step before the next one, so every
step is one commit of the log.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from reader_mock.contract import check_stream
from reader_mock.core import ManualClock, Settings
from reader_mock.core.logs import StreamLog
from reader_mock.server import MockServer
from reader_mock.timeline import Timeline

LIMIT = 4
"""The log's bound in these tests: records a stuck client may fall behind."""
STEPS = 24
"""Clock steps of one second: enough megabytes to fill any loopback buffer several times."""
PAGE_BYTES = 400_000


pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[MockServer]:
    settings = Settings(stream_queue_limit=LIMIT)
    with MockServer(clock=ManualClock(), settings=settings) as running:
        yield running
        assert running.errors == []


def _stuck_client(server: MockServer, path: str, until: bytes) -> socket.socket:
    """A connection that asks for ``path``, reads until ``until`` and then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Set before connecting, so the window the server sees stays small.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((server.host, server.port))
    request = f"GET {path} HTTP/1.1\r\nHost: mock\r\nx-api-key: {server.api_key}\r\n\r\n"
    sock.sendall(request.encode())
    received = b""
    while until not in received:
        chunk = sock.recv(256)
        assert chunk, received
        received += chunk
    return sock


def _read_to_the_end(sock: socket.socket) -> tuple[int, BaseException | None]:
    """Read what the kernel still holds for ``sock``; how many bytes, and how it ended."""
    sock.settimeout(10)
    total = 0
    try:
        while chunk := sock.recv(65536):
            total += len(chunk)
    except OSError as error:
        return total, error
    return total, None


def _big_pages(count: int) -> Timeline:
    urls = [f"https://example.com/{index}" for index in range(count)]
    builder = Timeline.build("big-pages", description="Large pages.", urls=urls)
    builder = builder.wait(0.5).status("processing")
    for _ in range(count):
        builder = builder.wait(1).page(markdown="# Large\n\n" + "x" * PAGE_BYTES + "\n")
    return builder.done("completed")


def _job_log(server: MockServer, job_id: str) -> StreamLog:
    for workspace in server.service.workspaces.values():
        if job_id in workspace.jobs:
            return workspace.jobs[job_id].log
    raise AssertionError(f"no job {job_id}")


def test_a_stuck_job_stream_is_reset_and_the_log_stays_small(
    server: MockServer, client: httpx.Client
) -> None:
    """The stuck per-job client is reset mid-job; the live one reads every page and ``done``."""
    server.script_next_job(_big_pages(STEPS))
    urls = [f"https://example.com/{index}" for index in range(STEPS)]
    job_id = client.post("/v1/read", json={"urls": urls}).json()["data"]["id"]
    path = f"/v1/jobs/{job_id}/stream"
    stuck = _stuck_client(server, path, b"event: progress")
    log = _job_log(server, job_id)
    kept: list[int] = []
    try:
        with client.stream("GET", path) as live:
            body = bytearray()
            chunks = live.iter_raw()
            while b"event: progress" not in body:
                body.extend(next(chunks))
            server.advance(0.5)
            for step in range(1, STEPS + 1):
                server.advance(1)
                # Wait for this step's page on the live stream: each step is one commit.
                while body.count(b"event: page\n") < step:
                    body.extend(next(chunks))
                kept.append(log.kept)
            body.extend(b"".join(chunks))
        received, end = _read_to_the_end(stuck)
    finally:
        stuck.close()

    cut, kept_up = server.journal.streams(job_id=job_id)
    assert (cut.close_reason, cut.drop_kind) == ("overflow", "reset"), cut.describe()
    # Cut while the job ran: the stuck client saw fewer pages than the job had.
    assert cut.event_names.count("page") < STEPS
    assert isinstance(end, ConnectionResetError), (received, end)
    # While it was stuck the log held its backlog; after the cut, only the latest change (a
    # page and its progress). Read at the step before the last: at the last one the job ends,
    # and the log holds that step's records until the live stream, ending with `done`, lets go.
    assert max(kept) > LIMIT
    assert kept[STEPS - 2] <= 2, kept
    # The live client lost nothing.
    assert kept_up.close_reason == "after_done"
    assert body.count(b"event: page\n") == STEPS
    assert check_stream(bytes(body), "job") == []


def _filler(step: int) -> str:
    return f": filler {step} " + "x" * 1_000_000 + "\n\n"


def test_a_stuck_workspace_stream_is_cut_and_the_others_read_on(
    server: MockServer, client: httpx.Client
) -> None:
    """The stuck workspace client is cut for ``overflow``; the live one receives every write."""
    urls = ["https://example.com/a"]
    builder = Timeline.build("fill-the-feed", description="Megabytes of comments.", urls=urls)
    builder = builder.wait(0.5).status("processing")
    for step in range(1, STEPS + 1):
        builder = builder.wait(1).raw("workspace", _filler(step))
    server.script_next_job(builder.page().done("completed"))
    stuck = _stuck_client(server, "/v1/events", b"\r\n\r\n")
    try:
        with client.stream("GET", "/v1/events") as live:
            assert live.status_code == 200
            client.post("/v1/read", json={"urls": urls})
            chunks = live.iter_raw()
            body = bytearray()
            server.advance(0.5)
            while b"event: job:progress\n" not in body:
                body.extend(next(chunks))
            for step in range(1, STEPS + 1):
                server.advance(1)
                while f": filler {step} ".encode() not in body[-1_100_000:]:
                    body.extend(next(chunks))
            server.advance(1)
            while b"event: job:completed\n" not in body:
                body.extend(next(chunks))
        received, end = _read_to_the_end(stuck)
    finally:
        stuck.close()

    cut, kept_up = server.journal.streams(channel="workspace")
    assert cut.close_reason == "overflow", cut.describe()
    assert cut.drop_kind in ("reset", "truncate")
    assert end is not None or cut.drop_kind == "truncate", (received, end)
    assert received < STEPS * 1_000_000
    # The live client hung up itself (the server may not have noticed yet): it was never cut.
    assert kept_up.close_reason in (None, "client_disconnect")
    for step in range(1, STEPS + 1):
        assert body.count(_filler(step).encode()) == 1, step
    assert check_stream(bytes(body), "workspace", ended=False) == []
