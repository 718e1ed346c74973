"""Live servers for the end-to-end suites: real sockets, real clients, nothing in-process.

``start_mock(**settings)`` starts a :class:`~reader_mock.server.MockServer` in a background thread
on an ephemeral port and stops it when the test ends, failing the test if the server recorded any
error. By default the server runs on a manual clock with no queue delay and no page interval, so a
job is finished by the next request and a client that polls never waits on a real sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sdk_support import StartMock

from reader_mock.core import ManualClock, Settings
from reader_mock.server import MockServer


@pytest.fixture
def start_mock() -> Iterator[StartMock]:
    """``start_mock(clock=None, seed=7, **settings)``: a running server, stopped after the test.

    ``settings`` override :class:`~reader_mock.core.Settings`; ``queue_delay`` and
    ``page_interval`` default to 0 here. ``clock`` defaults to a fresh ``ManualClock``.
    """
    servers: list[MockServer] = []

    def start(*, clock: ManualClock | None = None, seed: int = 7, **overrides: Any) -> MockServer:
        overrides.setdefault("queue_delay", 0)
        overrides.setdefault("page_interval", 0)
        server = MockServer(
            settings=Settings(**overrides),
            clock=clock if clock is not None else ManualClock(),
            seed=seed,
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
