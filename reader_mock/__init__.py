"""reader-mock: a local mock of the Reader API and a contract test kit for its streams.

The public API is re-exported here: what a user constructs or holds. The names are loaded on
first use, so that importing a small part of the package (``reader_mock.contract`` for a contract
check, the CLI for ``validate``) does not pay for the web server and its dependencies.

    from reader_mock import MockServer, ManualClock

    with MockServer(clock=ManualClock()) as server:
        ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_mock._lazy import lazy_exports

if TYPE_CHECKING:
    from reader_mock.contract.channels import Channel
    from reader_mock.contract.events import (
        ContractViolation,
        EventViolation,
        check_event,
        event_names,
        validate_event,
    )
    from reader_mock.contract.streams import StreamViolation, ViolationKind, check_stream
    from reader_mock.core.clock import ManualClock, RealClock, ScaledClock
    from reader_mock.core.journal import Journal, StreamRecord
    from reader_mock.core.settings import Settings
    from reader_mock.pytest_plugin import JournalAssertions
    from reader_mock.server import MockServer, ServerStartError
    from reader_mock.sse.decoder import Decoder
    from reader_mock.timeline import Timeline, TimelineError
    from reader_mock.timeline.files import load_timeline, parse_timeline
    from reader_mock.timeline.ready_made import load_ready_made

__all__ = [
    "Channel",
    "ContractViolation",
    "Decoder",
    "EventViolation",
    "Journal",
    "JournalAssertions",
    "ManualClock",
    "MockServer",
    "RealClock",
    "ScaledClock",
    "ServerStartError",
    "Settings",
    "StreamRecord",
    "StreamViolation",
    "Timeline",
    "TimelineError",
    "ViolationKind",
    "check_event",
    "check_stream",
    "event_names",
    "load_ready_made",
    "load_timeline",
    "parse_timeline",
    "validate_event",
]

# Where each public name lives. The pytest plugin's module imports pytest, only when
# JournalAssertions is first used.
_MODULES = {
    "contract.channels": ["Channel"],
    "contract.events": [
        "ContractViolation",
        "EventViolation",
        "validate_event",
        "event_names",
        "check_event",
    ],
    "contract.streams": ["StreamViolation", "ViolationKind", "check_stream"],
    "core.clock": ["ManualClock", "RealClock", "ScaledClock"],
    "core.journal": ["Journal", "StreamRecord"],
    "core.settings": ["Settings"],
    "timeline": ["Timeline", "TimelineError"],
    "timeline.files": ["load_timeline", "parse_timeline"],
    "timeline.ready_made": ["load_ready_made"],
    "pytest_plugin": ["JournalAssertions"],
    "server": ["MockServer", "ServerStartError"],
    "sse.decoder": ["Decoder"],
}

__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
