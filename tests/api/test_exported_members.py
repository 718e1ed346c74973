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


_FIRST_USE = [
    "faker",
    "httpx",
    "jsonschema",
    "yaml",
    "reader_mock.checking",
    "reader_mock.contract.events",
    "reader_mock.contract.rules",
    "reader_mock.core.content",
    "reader_mock.core.delivery",
    "reader_mock.core.jobs",
    "reader_mock.core.planning",
    "reader_mock.core.read_request",
    "reader_mock.core.webhook_request",
    "reader_mock.drift",
    "reader_mock.sse.decoder",
    "reader_mock.timeline.model",
    "reader_mock.timeline.player",
    "reader_mock.timeline.problems",
    "reader_mock.timeline.steps",
]
"""What the server loads on first use: a read, a webhook, a timeline file, a check."""


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
        ("import reader_mock.server", [*_FIRST_USE, "reader_mock.cli"]),
    ],
)
def test_a_light_import_loads_nothing_heavy(statement: str, absent: list[str]) -> None:
    assert _loaded_after(statement, absent) == []


def test_a_started_server_answers_before_loading_what_only_reads_and_webhooks_need() -> None:
    # The start and a first call that is not a read leave the read path, the timelines and the
    # webhook machinery unloaded; the first read then loads what it needs and works.
    statement = (
        "import http.client, json; from reader_mock.server import MockServer\n"
        "def call(method, path, body=None):\n"
        "    connection = http.client.HTTPConnection('127.0.0.1', server.port, timeout=10)\n"
        "    headers = {'x-api-key': server.api_key, 'content-type': 'application/json'}\n"
        "    connection.request(method, path, body=body, headers=headers)\n"
        "    status = connection.getresponse().status\n"
        "    connection.close()\n"
        "    return status\n"
        "with MockServer() as server:\n"
        "    assert call('GET', '/v1/usage/credits') == 200\n"
        f"    print(' '.join(m for m in {_FIRST_USE!r} if m in sys.modules))\n"
        "    read = json.dumps({'urls': ['https://example.com/a']})\n"
        "    assert call('POST', '/v1/read', read) == 201\n"
        "    assert 'reader_mock.timeline.player' in sys.modules"
    )
    assert _loaded_after(statement, []) == []
