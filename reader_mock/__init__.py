"""reader-mock: a local mock of the Reader API and a contract test kit for its streams.

The public API is re-exported here. The names are loaded on first use, so that importing a
small part of the package (``reader_mock.contract`` for a contract check, the CLI for
``validate``) does not pay for the web server and its dependencies.

    from reader_mock import MockServer, ManualClock

    with MockServer(clock=ManualClock()) as server:
        ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reader_mock.contract import Channel, check_event, event_names, validate_event
    from reader_mock.core.clock import Clock, ManualClock, RealClock, ScaledClock
    from reader_mock.core.errors import ApiError
    from reader_mock.core.service import Service
    from reader_mock.core.settings import Settings
    from reader_mock.server import MockServer, ServerStartError
    from reader_mock.sse import Decoder, check_stream
    from reader_mock.timeline import Timeline, TimelineError
    from reader_mock.timeline.files import load_ready_made, load_timeline, parse_timeline

__all__ = [
    "ApiError",
    "Channel",
    "Clock",
    "Decoder",
    "ManualClock",
    "MockServer",
    "RealClock",
    "ScaledClock",
    "ServerStartError",
    "Service",
    "Settings",
    "Timeline",
    "TimelineError",
    "check_event",
    "check_stream",
    "event_names",
    "load_ready_made",
    "load_timeline",
    "parse_timeline",
    "validate_event",
]

# Where each public name lives.
_HOMES: dict[str, str] = {
    "ApiError": "reader_mock.core.errors",
    "Channel": "reader_mock.contract",
    "Clock": "reader_mock.core.clock",
    "Decoder": "reader_mock.sse",
    "ManualClock": "reader_mock.core.clock",
    "MockServer": "reader_mock.server",
    "RealClock": "reader_mock.core.clock",
    "ScaledClock": "reader_mock.core.clock",
    "ServerStartError": "reader_mock.server",
    "Service": "reader_mock.core.service",
    "Settings": "reader_mock.core.settings",
    "Timeline": "reader_mock.timeline",
    "TimelineError": "reader_mock.timeline",
    "check_event": "reader_mock.contract",
    "check_stream": "reader_mock.sse",
    "event_names": "reader_mock.contract",
    "load_ready_made": "reader_mock.timeline.files",
    "load_timeline": "reader_mock.timeline.files",
    "parse_timeline": "reader_mock.timeline.files",
    "validate_event": "reader_mock.contract",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'reader_mock' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
