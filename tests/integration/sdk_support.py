"""What the official-SDK suites share besides the ``start_mock`` fixture (see conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from reader_mock.server import MockServer

__all__ = ["REQUEST_ID", "StartMock", "counted_requests", "failing_batch"]

REQUEST_ID: Final = re.compile(r"^req_[0-9a-f]{16}$")
"""The shape of every ``x-request-id`` the mock sends."""

StartMock = Callable[..., MockServer]
"""``start_mock(clock=None, seed=7, **settings)`` from conftest.py."""


def counted_requests(server: MockServer) -> int:
    """Requests the first workspace's rate-limit window holds now (every counted ``/v1`` call).

    Under a manual clock nothing leaves the window, so this is the number of counted requests the
    workspace received since the server started.
    """
    workspace = server.service.workspaces["ws_1"]
    return workspace.rate.count(server.clock.now())


def failing_batch() -> list[str]:
    """Three URLs, the second on the failing host ``fail.example``."""
    return [
        "https://docs.example.com/ok-1",
        "https://fail.example/broken",
        "https://docs.example.com/ok-2",
    ]
