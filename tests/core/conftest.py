"""Fixtures for the core tests: a service on a manual clock, called directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reader_mock.core import ManualClock, Service, Settings
from reader_mock.core.errors import ApiError


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at its default start, 2026-01-01T00:00:00Z."""
    return ManualClock()


@pytest.fixture
def make_service(clock: ManualClock) -> Callable[..., Service]:
    """Build a service on the test's manual clock with settings overrides."""

    def build(**overrides: Any) -> Service:
        return Service(Settings(**overrides), clock)

    return build


@pytest.fixture
def service(make_service: Callable[..., Service]) -> Service:
    """A service with the default settings."""
    return make_service()


ExpectError = Callable[[Callable[[], object], str], ApiError]


@pytest.fixture
def expect_error() -> ExpectError:
    """``expect_error(call, code)``: run ``call``, check it raised ``code``, return the error."""

    def check(call: Callable[[], object], code: str) -> ApiError:
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.code == code, caught.value.envelope()
        return caught.value

    return check
