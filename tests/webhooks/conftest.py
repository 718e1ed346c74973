"""A live mock on a manual clock, and the receivers of webhook_receivers.py as fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from webhook_receivers import DeadReceiver, OwnReceiver

from reader_mock.core import ManualClock
from reader_mock.server import MockServer


@pytest.fixture(scope="module")
def live() -> Iterator[MockServer]:
    with MockServer(clock=ManualClock()) as server:
        yield server


@pytest.fixture
def server(live: MockServer) -> Iterator[MockServer]:
    """The module's server, reset; the test fails if the server recorded an error."""
    live.reset()
    live.clear_errors()
    yield live
    assert live.errors == []


@pytest.fixture
def clock(server: MockServer) -> ManualClock:
    assert isinstance(server.clock, ManualClock)
    return server.clock


@pytest.fixture
def api(server: MockServer) -> Iterator[httpx.Client]:
    headers = {"x-api-key": server.api_key or ""}
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
def own() -> Iterator[OwnReceiver]:
    receiver = OwnReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def dead() -> Iterator[DeadReceiver]:
    receiver = DeadReceiver()
    yield receiver
    receiver.close()
