"""Live servers for the reliability suite: real sockets on loopback, real clients.

``start_mock(**settings)`` starts a :class:`~reader_mock.server.MockServer` in a background thread
on an ephemeral port of 127.0.0.1 and stops it when the test ends, failing the test if the server
recorded any error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reliability_support import Served, StartMock, start_serve

from reader_mock.core import ManualClock, Settings
from reader_mock.server import MockServer


@pytest.fixture
def start_mock() -> Iterator[StartMock]:
    """``start_mock(clock=None, **settings)``: a running server on a manual clock, stopped after
    the test; ``settings`` override :class:`~reader_mock.core.Settings`."""
    servers: list[MockServer] = []

    def start(*, clock: ManualClock | None = None, **overrides: Any) -> MockServer:
        server = MockServer(
            settings=Settings(**overrides), clock=clock if clock is not None else ManualClock()
        )
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    for server in servers:
        assert server.errors == [], server.errors
        assert server.service.unexpected_errors == [], server.service.unexpected_errors


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """``serve(*args)``: ``reader-mock serve`` as a child process, killed after the test if it
    still runs."""
    started: list[Served] = []

    def start(*args: str, first: str = "", env: dict[str, str] | None = None) -> Served:
        served = start_serve(*args, first=first, env=env)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.communicate(timeout=10)
