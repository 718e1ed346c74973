"""A small Quart app to test the server runner with, independent of the mock's own routes.

Routes:

- ``GET /ping``: ``pong``;
- ``GET /stream``: an endless event stream that watches the server's closing event and ends
  cleanly when it is set, the way the mock's streams do;
- ``GET /stubborn``: an endless event stream that ignores the closing event;
- ``GET /boom``: raises, so Quart answers 500.

``ended`` lists the streams whose generator ran its ``finally`` block, to prove that nothing is
left running after a stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from quart import Quart, Response, current_app

from reader_mock.runner import CLOSING_KEY

TICK = 0.05


@dataclass
class AppUnderTest:
    app: Quart
    ended: list[str] = field(default_factory=list)


def _event_stream(body: AsyncIterator[bytes]) -> Response:
    response = Response(body, content_type="text/event-stream")
    response.timeout = None
    return response


def build_app(*, fail_start: bool = False) -> AppUnderTest:
    app = Quart("reader_mock_server_tests")
    under_test = AppUnderTest(app)

    if fail_start:

        @app.before_serving
        async def refuse() -> None:
            raise RuntimeError("the database is on fire")

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("kaboom")

    @app.get("/stream")
    async def stream() -> Response:
        closing: asyncio.Event = current_app.extensions[CLOSING_KEY]

        async def body() -> AsyncIterator[bytes]:
            count = 0
            try:
                while not closing.is_set():
                    yield f"event: tick\ndata: {count}\n\n".encode()
                    count += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closing.wait(), TICK)
                yield b"event: bye\ndata: closing\n\n"
            finally:
                under_test.ended.append("stream")

        return _event_stream(body())

    @app.get("/stubborn")
    async def stubborn() -> Response:
        async def body() -> AsyncIterator[bytes]:
            count = 0
            try:
                while True:
                    yield f"event: tick\ndata: {count}\n\n".encode()
                    count += 1
                    await asyncio.sleep(TICK)
            finally:
                under_test.ended.append("stubborn")

        return _event_stream(body())

    return under_test


@pytest.fixture
def app_under_test() -> AppUnderTest:
    """A fresh test app."""
    return build_app()


@pytest.fixture
def make_app() -> Callable[..., AppUnderTest]:
    """The test app factory, for tests that need a second app or a failing one."""
    return build_app


class OpenStream:
    """An event stream opened with httpx and read up to the end of its first event."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.response = client.send(client.build_request("GET", url), stream=True)
        assert self.response.status_code == 200
        assert self.response.headers["content-type"] == "text/event-stream"
        self._lines = self.response.iter_lines()
        first: list[str] = []
        for line in self._lines:
            if line == "":
                break
            first.append(line)
        # A whole event arrived, so the stream is surely open on the server.
        assert first[0] == "event: tick", first

    def drain(self) -> tuple[str, list[str]]:
        """Read to the end: ("clean", lines), or (exception class name, lines) on a broken end."""
        lines: list[str] = []
        try:
            for line in self._lines:
                lines.append(line)
        except httpx.HTTPError as exc:
            return type(exc).__name__, lines
        finally:
            self.response.close()
        return "clean", lines


@pytest.fixture
def open_stream() -> type[OpenStream]:
    """``open_stream(client, url)`` opens an event stream and reads its first event."""
    return OpenStream
