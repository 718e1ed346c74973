"""The mock's domain: state machines and rules, with no sockets and no web framework.

A test of the core builds a :class:`Service` with a :class:`ManualClock` and calls it directly.
The names below load on first use, so ``from reader_mock.core.clock import ManualClock`` costs
the clock alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_mock._lazy import lazy_exports

if TYPE_CHECKING:
    from .clock import Clock, ManualClock, RealClock, ScaledClock
    from .errors import ApiError
    from .fanout import EventHub, JobEvent
    from .service import JobWatch, Paginated, ReadOutcome, Service
    from .settings import DEFAULT_API_KEY, Settings

__all__ = [
    "DEFAULT_API_KEY",
    "ApiError",
    "Clock",
    "EventHub",
    "JobEvent",
    "JobWatch",
    "ManualClock",
    "Paginated",
    "ReadOutcome",
    "RealClock",
    "ScaledClock",
    "Service",
    "Settings",
]

_MODULES = {
    "clock": ["Clock", "ManualClock", "RealClock", "ScaledClock"],
    "errors": ["ApiError"],
    "fanout": ["EventHub", "JobEvent"],
    "service": ["JobWatch", "Paginated", "ReadOutcome", "Service"],
    "settings": ["DEFAULT_API_KEY", "Settings"],
}

__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
