"""Fixtures of the SSE wire tests: a real server per test, and raw HTTP/1.1 streams on it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from sse_server import RawStream, ServedApp


@pytest.fixture
def server(caplog: pytest.LogCaptureFixture) -> Iterator[ServedApp]:
    """A running test server; at teardown, asserts that nothing was logged as a problem."""
    caplog.set_level(logging.DEBUG)
    served = ServedApp()
    served.start()
    try:
        yield served
    finally:
        served.stop()
    problems = [
        f"{record.name} {record.levelname}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.WARNING or record.exc_info is not None
    ]
    assert problems == [], "the server logged problems:\n" + "\n".join(problems)
    assert served.state.loop_errors == []


@pytest.fixture
def raw_stream(server: ServedApp) -> Iterator[Callable[[str], RawStream]]:
    """Open :class:`RawStream` objects on the test server; all are closed at teardown."""
    opened: list[RawStream] = []

    def open_stream(path: str) -> RawStream:
        stream = RawStream(server.port, path)
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()
