"""A stream's chunks go straight to its HTTP/1.1 connection, and a parked stream takes its turns
without waking its task: the bytes on the wire stay exactly what the server would frame.

Raw sockets read the body as sent, so the chunked framing itself is checked, not a client's
decoding of it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest

from reader_mock._types import Receive, Scope, Send
from reader_mock.http._wire import chunked_transport, write_chunk

if TYPE_CHECKING:
    from conftest import LiveServer

_STEPS = 8


def _timeline(pages: int) -> dict[str, Any]:
    steps: list[Any] = [{"status": "processing"}]
    for _ in range(pages):
        steps += [{"wait": 1}, {"page": {}}]
    steps.append({"done": "completed"})
    urls = [f"https://docs.example.com/wire/{index}" for index in range(pages)]
    return {"name": "wire", "urls": urls, "steps": steps}


def _start_job(server: LiveServer, pages: int) -> str:
    key = {"x-api-key": server.service.settings.api_keys[0]}
    timeline = _timeline(pages)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        scripted = http.post("/_mock/jobs/script", json={"timeline": timeline, "count": 1})
        assert scripted.status_code < 300, scripted.text
        created = http.post("/v1/read", json={"urls": timeline["urls"]}, headers=key)
        assert created.status_code == 201, created.text
        return str(created.json()["data"]["id"])


class _RawStream:
    """One stream request on a raw socket: the head, then the body bytes exactly as sent."""

    def __init__(self, server: LiveServer, path: str, version: str = "1.1") -> None:
        host, port = server.url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        key = server.service.settings.api_keys[0]
        self.sock.sendall(
            f"GET {path} HTTP/{version}\r\nHost: {host}\r\nx-api-key: {key}\r\n\r\n".encode()
        )
        self.raw = b""
        while b"\r\n\r\n" not in self.raw:
            self._read()
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        self.head = head.decode("latin-1").lower()

    def _read(self) -> None:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"nothing more arrived after {self.raw[-300:]!r}") from None
        assert data, "the server closed the connection"
        self.raw += data

    def read_until(self, done: Callable[[bytes], bool]) -> None:
        while not done(self.raw):
            self._read()

    def close(self) -> None:
        self.sock.close()


def _dechunk(raw: bytes) -> tuple[bytes, bool]:
    """The body of a chunked transfer so far, strictly parsed; and whether it ended."""
    body = b""
    while raw:
        size_line, found, rest = raw.partition(b"\r\n")
        if not found:
            break
        size = int(size_line, 16)  # a stray byte in the framing fails here
        if size == 0:
            assert rest.startswith(b"\r\n"), rest[:20]
            return body, True
        if len(rest) < size + 2:
            break
        assert rest[size : size + 2] == b"\r\n", rest[size : size + 10]
        body += rest[:size]
        raw = rest[size + 2 :]
    return body, False


def _has_pages(count: int) -> Callable[[bytes], bool]:
    return lambda raw: _dechunk(raw)[0].count(b"event: page") >= count


def _has_progress(completed: int) -> Callable[[bytes], bool]:
    return lambda raw: b'"completed":%d,' % completed in _dechunk(raw)[0]


def _events(body: bytes) -> list[str]:
    return [
        line.removeprefix(b"event: ").decode()
        for line in body.split(b"\n")
        if line.startswith(b"event: ")
    ]


@dataclass
class _Calls:
    """What each stream request (by its client port) asked of the server: ``receive`` calls,
    and body parts with bytes handed to ``send``."""

    receives: dict[int, int] = field(default_factory=dict)
    sends: dict[int, int] = field(default_factory=dict)


@pytest.fixture
def stream_calls(server: LiveServer) -> Iterator[_Calls]:
    calls = _Calls()
    inner: Any = server.app.asgi_app

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.endswith(("/stream", "/events")):
            await inner(scope, receive, send)
            return
        port = int(scope["client"][1])
        calls.receives[port] = calls.sends[port] = 0

        def counted_receive() -> Any:
            calls.receives[port] += 1
            return receive()

        def counted_send(message: Any) -> Any:
            if message["type"] == "http.response.body" and message.get("body"):
                calls.sends[port] += 1
            return send(message)

        await inner(scope, counted_receive, counted_send)

    server.app.asgi_app = cast(Any, counting)  # type: ignore[method-assign]
    yield calls
    server.app.asgi_app = inner  # type: ignore[method-assign]


def test_chunks_written_to_the_connection_frame_every_event_of_a_job(
    server: LiveServer, stream_calls: _Calls
) -> None:
    job_id = _start_job(server, _STEPS)
    job = _RawStream(server, f"/v1/jobs/{job_id}/stream")
    feed = _RawStream(server, "/v1/events")
    try:
        assert job.head.startswith("http/1.1 200") and "transfer-encoding: chunked" in job.head
        job.read_until(lambda raw: b"event: progress" in _dechunk(raw)[0])
        for step in range(1, _STEPS + 1):
            server.clock.advance(1)
            # Every step's page reaches the job's stream, its progress the workspace's, before
            # the next step.
            job.read_until(_has_pages(step))
            feed.read_until(_has_progress(step))
        server.clock.advance(1)
        job.read_until(lambda raw: _dechunk(raw)[1])
        body, ended = _dechunk(job.raw)
        assert ended
        names = _events(body)
        assert names[0] == "progress" and names[-1] == "done"
        assert names.count("page") == _STEPS
        feed_names = _events(_dechunk(feed.raw)[0])
        assert feed_names.count("job:progress") >= _STEPS
        # Written while parked: each stream called receive to read the (empty) request body,
        # to wait, and once more at most (a first write goes through the server, which sends
        # the head), not once per step.
        receives, sends = stream_calls.receives, stream_calls.sends
        assert len(receives) == 2
        assert all(2 <= calls <= 3 for calls in receives.values()), receives
        # Only a stream's first chunk went through the server's send.
        assert sorted(sends.values()) == [1, 1], sends
    finally:
        job.close()
        feed.close()


def test_an_http_1_0_stream_is_sent_without_chunk_framing(server: LiveServer) -> None:
    job_id = _start_job(server, 3)
    stream = _RawStream(server, f"/v1/jobs/{job_id}/stream", version="1.0")
    try:
        assert stream.head.startswith("http/1.1 200")
        assert "transfer-encoding" not in stream.head
        for _ in range(4):
            server.clock.advance(1)
        stream.read_until(lambda raw: b"event: done" in raw)
        assert stream.raw.startswith(b"event: progress\n"), stream.raw[:40]
        assert _events(stream.raw).count("page") == 3
        assert b"\r\n" not in stream.raw  # no chunk sizes between the frames
    finally:
        stream.close()


@pytest.mark.asyncio
async def test_a_chunk_goes_through_the_server_while_bytes_wait_for_the_client() -> None:
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), ours
    )
    try:
        assert write_chunk(transport, b"")  # nothing to write: no chunk, which would end the body
        chunk = b"x" * 1000
        written = 0
        while write_chunk(transport, chunk):  # the client reads nothing: the buffers fill
            written += 1
            assert written < 100_000
        assert transport.get_write_buffer_size() > 0
        assert not write_chunk(transport, b"y")  # still waiting: handed to the server's send
        framed = b"3e8\r\n" + chunk + b"\r\n"
        expected = framed * written
        theirs.setblocking(False)
        received = b""
        async with asyncio.timeout(10):
            while len(received) < len(expected):
                received += await loop.sock_recv(theirs, 65536)
        assert received == expected  # every chunk whole, in order, nothing of the refused one
        while transport.get_write_buffer_size():
            await asyncio.sleep(0.001)
        assert write_chunk(transport, b"z")  # drained: straight to the connection again
        async with asyncio.timeout(10):
            assert await loop.sock_recv(theirs, 64) == b"1\r\nz\r\n"
    finally:
        transport.close()
        theirs.close()


def test_only_plain_http_1_1_is_written_past_the_server() -> None:
    base = {"type": "http", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    for version, scheme in [("1.0", "http"), ("2", "http"), ("1.1", "https")]:
        assert chunked_transport({**base, "http_version": version, "scheme": scheme}) is None


def _names_after_head(stream: _RawStream) -> list[str]:
    body = _dechunk(stream.raw)[0]
    return ["ping" if frame.startswith(b":") else _events(frame)[0] for frame in _frames(body)]


def _frames(body: bytes) -> list[bytes]:
    return [frame for frame in body.split(b"\n\n") if frame]


def test_streams_of_one_job_keep_their_own_pings_when_they_share_writes(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(ping_interval=2)
    job_id = _start_job(server, 8)
    early = _RawStream(server, f"/v1/jobs/{job_id}/stream")
    early.read_until(lambda raw: b"event: progress" in _dechunk(raw)[0])
    server.clock.advance(1)
    early.read_until(_has_pages(1))
    late = _RawStream(server, f"/v1/jobs/{job_id}/stream")  # its pings fall a second later
    late.read_until(lambda raw: b"event: progress" in _dechunk(raw)[0])
    try:
        for step in range(2, 7):
            server.clock.advance(1)
            early.read_until(_has_pages(step))
            late.read_until(_has_pages(step - 1))
        # Each second brings a page and a progress to both; a ping every two seconds from
        # when each opened comes before the records of its second.
        assert _names_after_head(early) == [
            "progress",
            *["page", "progress"],
            *["ping", "page", "progress"],
            *["page", "progress"],
            *["ping", "page", "progress"],
            *["page", "progress"],
            *["ping", "page", "progress"],
        ]
        assert _names_after_head(late) == [
            "progress",
            *["page", "progress"],
            *["ping", "page", "progress"],
            *["page", "progress"],
            *["ping", "page", "progress"],
            *["page", "progress"],
        ]
    finally:
        early.close()
        late.close()
