"""The mock's domain: state machines and rules, with no sockets and no web framework.

A test of the core builds a :class:`Service` with a :class:`ManualClock` and calls it directly.
The names below load on first use, so importing one core module does not load the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_HOMES: dict[str, str] = {
    "DEFAULT_API_KEY": "settings",
    "ApiError": "errors",
    "Clock": "clock",
    "EventHub": "fanout",
    "JobEvent": "fanout",
    "JobWatch": "service",
    "ManualClock": "clock",
    "Paginated": "service",
    "ReadOutcome": "service",
    "RealClock": "clock",
    "ScaledClock": "clock",
    "Service": "service",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'reader_mock.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
