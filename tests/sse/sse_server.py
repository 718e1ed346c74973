"""Real servers for the SSE wire tests: a small Quart app on the ASGI runner, in its own thread.

The app streams *scripts*: lists of steps registered by a test under a name. A step is bytes
(written as one body chunk), a :class:`Drop` (the scripted end), or a :class:`Gate` (the stream
waits until the test opens it, so "the client has read this frame before the drop" holds by
construction, not by timing). Every request is recorded with how its body generator ended.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from quart import Quart, Response

from reader_mock.runner import ASGIServer
from reader_mock.sse import STREAM_HEADERS, Drop, DropMiddleware, DropReport, encode_json_event

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
GRACEFUL_TIMEOUT = 1.0


@dataclass(frozen=True)
class Gate:
    """A step that waits until the test calls :meth:`ServedApp.open_gate` with this name."""

    name: str


@dataclass(frozen=True)
class Fail:
    """A step that raises an unexpected error inside the body generator."""

    message: str


Step = bytes | Drop | Gate | Fail


@dataclass
class Served:
    """What the server saw of one streaming request.

    ``ending`` is ``finished`` (the script ran out), ``closed`` (the generator was closed at a
    yield, as after a drop) or ``cancelled`` (the client went away); ``ended`` is set once the
    generator's ``finally:`` has run.
    """

    script: str
    http_version: str
    ending: str = "running"
    ended: threading.Event = field(default_factory=threading.Event)


@dataclass
class ServerState:
    scripts: dict[str, list[Step]] = field(default_factory=dict)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    requests: list[Served] = field(default_factory=list)
    drops: list[DropReport] = field(default_factory=list)
    loop_errors: list[dict[str, Any]] = field(default_factory=list)


def build_app(state: ServerState) -> Quart:
    """A Quart app that streams the registered scripts, wrapped in :class:`DropMiddleware`."""
    app = Quart("sse-wire-tests")

    @app.get("/scripts/<name>")
    async def stream_script(name: str) -> Response:
        from quart import request

        steps = state.scripts[name]
        served = Served(script=name, http_version=request.http_version)
        state.requests.append(served)

        async def body() -> AsyncIterator[bytes | Drop]:
            try:
                for step in steps:
                    if isinstance(step, Gate):
                        await state.gates[step.name].wait()
                    elif isinstance(step, Fail):
                        raise RuntimeError(step.message)
                    else:
                        yield step
                served.ending = "finished"
            except GeneratorExit:
                served.ending = "closed"
                raise
            except asyncio.CancelledError:
                served.ending = "cancelled"
                raise
            finally:
                served.ended.set()

        response = Response(body(), headers=dict(STREAM_HEADERS))
        response.timeout = None
        return response

    @app.get("/v1/jobs/<job_id>/stream")
    async def job_stream(job_id: str) -> Response:
        # The per-job channel as the official SDK reads it; the frames come from a script.
        return await stream_script(f"job:{job_id}")

    app.asgi_app = DropMiddleware(app.asgi_app, on_drop=state.drops.append)  # type: ignore[method-assign]
    return app


class ServedApp:
    """:func:`build_app` served on 127.0.0.1 in a background thread.

    Args:
        hide_client: remove the client address from every scope, as a server that cannot tell
            its peers would; the drop middleware then cannot find the connection to reset.
    """

    def __init__(self, *, hide_client: bool = False) -> None:
        self.state = ServerState()
        self.app = build_app(self.state)
        asgi: Any = self.app
        if hide_client:
            quart_app: Any = self.app

            async def without_client(scope: Any, receive: Any, send: Any) -> None:
                await quart_app({**scope, "client": None}, receive, send)

            asgi = without_client
        self._server = ASGIServer(
            asgi, graceful_timeout=GRACEFUL_TIMEOUT, startup_timeout=START_TIMEOUT
        )

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    def script(self, name: str, steps: Sequence[Step]) -> str:
        """Register a script; return its URL."""
        self.state.scripts[name] = list(steps)
        for step in steps:
            if isinstance(step, Gate):
                self.state.gates.setdefault(step.name, asyncio.Event())
        return f"{self.url}/scripts/{name}"

    def open_gate(self, name: str) -> None:
        self._server.call(self.state.gates[name].set)

    def start(self) -> None:
        self._server.start()

        def watch_loop_errors() -> None:
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(
                lambda _loop, context: self.state.loop_errors.append(context)
            )

        self._server.call(watch_loop_errors)

    def stop(self) -> None:
        self._server.stop(STOP_TIMEOUT)
        late = [error for error in self._server.errors if "did not end" in str(error)]
        assert late == [], "the test server did not stop"


def job_frames() -> list[bytes]:
    """A valid per-job stream: progress, page, error, done."""
    return [
        encode_json_event("progress", {"status": "processing", "completed": 0, "total": 2}),
        encode_json_event(
            "page",
            {
                "url": "https://example.com/a",
                "markdown": "# A\n\nCafé \u2028 line",
                "statusCode": 200,
                "proxyMode": "standard",
                "credits": 1,
            },
        ),
        encode_json_event("error", {"url": "https://example.com/b", "error": "timed out"}),
        encode_json_event("done", {"status": "completed", "completed": 2, "total": 2}),
    ]


class RawStream:
    """A hand-written HTTP/1.1 client over a plain socket, to see the exact bytes and chunks."""

    def __init__(self, port: int, path: str, *, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
        )
        self.sock.sendall(request.encode("ascii"))
        self._buffer = b""
        head = self._read_until(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status_line = lines[0].decode("latin-1")
        self.header_lines = [line.decode("latin-1") for line in lines[1:]]
        self.chunks: list[bytes] = []

    def header(self, name: str) -> list[str]:
        """Every value of header ``name``, exactly as sent."""
        prefix = name.lower() + ":"
        return [
            line.split(":", 1)[1].strip()
            for line in self.header_lines
            if line.lower().startswith(prefix)
        ]

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(f"the server closed the connection; {len(self._buffer)} bytes unread")
        self._buffer += data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def next_chunk(self) -> bytes:
        """The next chunk's data; ``b""`` for the terminating chunk.

        Raises:
            EOFError: the server closed the connection (FIN) before a whole chunk.
            ConnectionResetError: the server reset the connection.
        """
        size = int(self._read_until(b"\r\n").split(b";")[0], 16)
        data = self._read_exactly(size)
        if self._read_exactly(2) != b"\r\n":
            raise AssertionError("a chunk must end with CRLF")
        if size:
            self.chunks.append(data)
        return data

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def close(self) -> None:
        self.sock.close()
