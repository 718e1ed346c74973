"""Types and helpers shared by the reliability tests."""

from __future__ import annotations

from collections.abc import Callable

from reader_mock.server import MockServer

StartMock = Callable[..., MockServer]
"""``start_mock(clock=None, **settings)``: see the ``start_mock`` fixture."""
