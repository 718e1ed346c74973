"""Servers for the ``reader-mock check`` tests: the mock itself, and small deliberately broken
ones of the tests' own.

A broken server replays bytes the real mock streamed for a job (recorded once per session), with
one rule broken on purpose; its unbroken form passes, so each failure is the broken rule's.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock
from reader_mock.runner import ASGIServer
from reader_mock.server import MockServer

KEY: Final = DEFAULT_API_KEY
PING: Final = b": ping\n\n"
PING_EVERY: Final = 0.2
"""Real seconds between the keep-alive comments of a broken server that sends them."""


@dataclass(frozen=True)
class Recorded:
    """What the mock sent for one job: its id, the per-job stream, the workspace stream's frames."""

    job_id: str
    job_stream: bytes
    workspace_frames: bytes


@pytest.fixture(scope="session")
def recorded() -> Recorded:
    """A two-URL job's streams as the mock sends them, both opened while the job is queued."""
    clock = ManualClock()
    with MockServer(clock=clock, seed=5) as server:
        headers = {"x-api-key": KEY}
        with (
            httpx.Client(base_url=server.url, headers=headers, timeout=10) as client,
            client.stream("GET", "/v1/events") as events,
        ):
            created = client.post(
                "/v1/read", json={"urls": ["https://example.com/a", "https://fail.example/b"]}
            )
            job_id = created.json()["data"]["id"]
            with client.stream("GET", f"/v1/jobs/{job_id}/stream") as stream:
                clock.advance(60)
                job_stream = b"".join(stream.iter_raw())
            workspace = b""
            for chunk in events.iter_raw():
                workspace += chunk
                if b"event: job:completed" in workspace and workspace.endswith(b"\n\n"):
                    break
    # The mock's own keep-alive comments are left out: each broken server sends its own.
    return Recorded(job_id, _without_comments(job_stream), _without_comments(workspace))


def _without_comments(data: bytes) -> bytes:
    return re.sub(rb"^:[^\n]*\n\n", b"", data, flags=re.MULTILINE)


class BrokenServer:
    """A raw ASGI app that answers like a Reader API server, with the given breakages.

    ``job_stream`` and ``workspace`` turn the recorded bytes into what is served;
    ``close_after_done=False`` keeps the per-job stream open; ``pings=False`` sends no comments.
    """

    def __init__(
        self,
        recorded: Recorded,
        *,
        job_stream: Callable[[bytes], bytes] = lambda data: data,
        workspace: Callable[[bytes], bytes] = lambda data: data,
        close_after_done: bool = True,
        pings: bool = True,
    ) -> None:
        self.recorded = recorded
        self.job_stream = job_stream(recorded.job_stream)
        self.workspace = workspace(recorded.workspace_frames)
        self.close_after_done = close_after_done
        self.pings = pings

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        path = scope["path"]
        if path == "/v1/usage/credits":
            await _json(send, 200, {"success": True, "data": {}})
        elif path == "/v1/read":
            await _json(send, 201, {"success": True, "data": {"id": self.recorded.job_id}})
        elif path == f"/v1/jobs/{self.recorded.job_id}/stream":
            await _start_stream(send)
            await send({"type": "http.response.body", "body": self.job_stream, "more_body": True})
            if not self.close_after_done:
                await _until_disconnect(receive)
            await send({"type": "http.response.body", "body": b""})
        elif path == "/v1/events":
            await _start_stream(send)
            await send({"type": "http.response.body", "body": self.workspace, "more_body": True})
            await _pings(send, receive) if self.pings else await _until_disconnect(receive)
        else:
            await _json(send, 404, {"success": False, "error": {"code": "not_found"}})


async def _json(send: Any, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _start_stream(send: Any) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def _until_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _pings(send: Any, receive: Any) -> None:
    """Send a keep-alive comment every PING_EVERY seconds until the client goes away."""
    disconnect = asyncio.ensure_future(_until_disconnect(receive))
    try:
        while not disconnect.done():
            await send({"type": "http.response.body", "body": PING, "more_body": True})
            await asyncio.wait([disconnect], timeout=PING_EVERY)
    finally:
        disconnect.cancel()


@pytest.fixture
def serve_broken(recorded: Recorded) -> Iterator[Callable[..., str]]:
    """``serve_broken(**breakages)``: the URL of a running :class:`BrokenServer`."""
    servers: list[ASGIServer] = []

    def start(**breakages: Any) -> str:
        server = ASGIServer(BrokenServer(recorded, **breakages), graceful_timeout=0.2)
        server.start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()
