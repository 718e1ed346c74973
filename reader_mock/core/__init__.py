"""The mock's domain: state machines and rules, with no sockets and no web framework.

A test of the core builds a :class:`Service` with a :class:`ManualClock` and calls it directly.
"""

from .bus import EventBus, JobEvent
from .clock import Clock, ManualClock, RealClock, ScaledClock
from .errors import ApiError
from .service import JobWatch, Paginated, ReadOutcome, Service
from .settings import DEFAULT_API_KEY, Settings

__all__ = [
    "DEFAULT_API_KEY",
    "ApiError",
    "Clock",
    "EventBus",
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
