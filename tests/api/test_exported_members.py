"""The public API: every name in ``reader_mock.__all__`` resolves, the list is complete, and the
package faces stay cheap to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import reader_mock

# What users construct or hold; internals (the service, its errors, the clock interface) are not
# part of the top level.
PUBLIC = {
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
}


def test_all_is_sorted_and_every_name_resolves() -> None:
    names = reader_mock.__all__
    assert names == sorted(names, key=lambda name: (not name[0].isupper(), name.lower()))
    for name in names:
        value = getattr(reader_mock, name)
        assert getattr(value, "__name__", name) == name


def test_the_top_level_exports_what_users_hold_and_nothing_internal() -> None:
    assert set(reader_mock.__all__) == PUBLIC
    for internal in ("Service", "ApiError", "Clock"):
        assert not hasattr(reader_mock, internal)


def test_unknown_names_raise_attribute_error() -> None:
    try:
        reader_mock.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("an unknown name resolved")


def _loaded_after(statement: str, modules: list[str]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``statement``."""
    code = f"import sys; {statement}; print(' '.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_the_contract_does_not_load_the_web_server() -> None:
    loaded = _loaded_after("import reader_mock.contract", ["quart", "reader_mock.server"])
    assert loaded == []


@pytest.mark.parametrize(
    ("statement", "absent"),
    [
        ("import reader_mock", ["pytest", "quart", "httpx", "jsonschema", "yaml"]),
        ("import reader_mock.sse.decoder", ["httpx", "jsonschema", "yaml", "click", "asyncio"]),
        ("from reader_mock.core.clock import ManualClock", ["reader_mock.core.service", "yaml"]),
        ("from reader_mock.contract import Channel", ["jsonschema", "yaml"]),
        ("import reader_mock.cli", ["quart", "hypercorn", "httpx", "reader_mock.drift"]),
    ],
)
def test_a_light_import_loads_nothing_heavy(statement: str, absent: list[str]) -> None:
    assert _loaded_after(statement, absent) == []
