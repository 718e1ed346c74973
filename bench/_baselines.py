"""The three baseline servers of the throughput benchmark, each serving a fixed list of frames.

Every baseline answers ``GET`` on any path with the same pre-encoded SSE frames, one write per
frame, over HTTP/1.1 chunked transfer:

- ``ceiling``: ``asyncio.start_server`` and a hand-written HTTP/1.1 response, one
  ``writer.write`` and ``drain`` per frame. Nothing a framework does can be faster on one loop.
- ``quart``: a plain Quart app on Hypercorn whose route returns an async generator, one frame per
  ``yield``: the cost of the stack reader-mock is built on.
- ``sse-starlette``: ``EventSourceResponse`` on uvicorn, what someone would write by hand.

:func:`serve` runs one of them on an already listening socket until ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Final

__all__ = ["BASELINES", "serve"]

BASELINES: Final = ("ceiling", "quart", "sse-starlette")

_RESPONSE_HEAD: Final = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-store\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)
_LAST_CHUNK: Final = b"0\r\n\r\n"
# A request head larger than this is not something the benchmark's client sends.
_HEAD_LIMIT: Final = 16 * 1024


async def _serve_ceiling(frames: Sequence[bytes], sock: socket.socket, stop: asyncio.Event) -> None:
    """A minimal HTTP/1.1 server: read a request head, stream the frames, repeat (keep-alive)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                # The client sends GETs without a body, so the head is the whole request.
                await reader.readuntil(b"\r\n\r\n")
                writer.write(_RESPONSE_HEAD)
                for frame in frames:
                    # One chunk per frame, framed at write time as any server would.
                    writer.write(b"%x\r\n%b\r\n" % (len(frame), frame))
                    await writer.drain()
                writer.write(_LAST_CHUNK)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client closed its connection, or sent something that is not a request
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, sock=sock, limit=_HEAD_LIMIT)
    async with server:
        await stop.wait()


async def _serve_quart(frames: Sequence[bytes], sock: socket.socket, stop: asyncio.Event) -> None:
    """A plain Quart app on Hypercorn: the route returns an async generator of the frames."""
    import hypercorn.asyncio
    import hypercorn.config
    from quart import Quart, Response

    app = Quart("throughput_baseline")

    @app.get("/<path:path>")
    async def stream(path: str) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        response = Response(body(), content_type="text/event-stream")
        response.timeout = None  # a long stream must not hit Quart's response timeout
        return response

    config = hypercorn.config.Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    await hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait)


async def _serve_sse_starlette(
    frames: Sequence[bytes], sock: socket.socket, stop: asyncio.Event
) -> None:
    """sse-starlette's ``EventSourceResponse`` on uvicorn, fed the frames as bytes (sent as is)."""
    import uvicorn
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def stream(request: Request) -> EventSourceResponse:
        async def body() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        return EventSourceResponse(body())

    app = Starlette(routes=[Route("/{path:path}", stream)])
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    await stop.wait()
    server.should_exit = True
    await serving


async def serve(
    name: str, frames: Sequence[bytes], sock: socket.socket, stop: asyncio.Event
) -> None:
    """Serve baseline ``name`` on ``sock`` (bound and listening) until ``stop`` is set."""
    if name == "ceiling":
        await _serve_ceiling(frames, sock, stop)
    elif name == "quart":
        await _serve_quart(frames, sock, stop)
    elif name == "sse-starlette":
        await _serve_sse_starlette(frames, sock, stop)
    else:
        raise ValueError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")
