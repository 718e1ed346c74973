"""A live MockServer on a manual clock for the control API tests, reached over a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reader_mock.core import ManualClock, Settings
from reader_mock.server import MockServer

TOKEN = "control-token-for-tests"


@pytest.fixture(scope="module")
def live() -> Iterator[MockServer]:
    """One server per module, with a control token; reset before each test by ``control``."""
    with MockServer(
        clock=ManualClock(), settings=Settings(requests_per_minute=5), control_token=TOKEN
    ) as server:
        yield server


@pytest.fixture
def control(live: MockServer) -> Iterator[httpx.Client]:
    """An httpx client for the control API (token set), on a freshly reset server."""
    with httpx.Client(base_url=live.url, headers={"x-mock-token": TOKEN}, timeout=5) as client:
        client.post("/_mock/reset").raise_for_status()
        live.clear_errors()
        yield client
    assert live.errors == []


@pytest.fixture
def api(live: MockServer) -> Iterator[httpx.Client]:
    """An httpx client for the ``/v1`` API with the server's key."""
    assert live.api_key is not None
    with httpx.Client(base_url=live.url, headers={"x-api-key": live.api_key}, timeout=5) as client:
        yield client
