"""The sender's checks (schemas with ``$ref`` inlined) agree with the contract's own checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reader_mock.contract import check_webhook_headers, check_webhook_payload
from reader_mock.contract.channels import WEBHOOK_CHANNEL_ID
from reader_mock.contract.documents import ContractError, load_asyncapi
from reader_mock.contract.events import channel_messages
from reader_mock.contract.webhook_checks import default_webhook_checks, inline_refs

MESSAGES = channel_messages(load_asyncapi(), WEBHOOK_CHANNEL_ID)


def _mutations(payload: dict[str, Any]) -> list[object]:
    found: list[object] = [payload, {}, [], "text", None, {**payload, "surplus": 1}]
    for key, value in payload.items():
        without = {k: v for k, v in payload.items() if k != key}
        found += [without, {**payload, key: None}, {**payload, key: [value]}]
        if isinstance(value, int):
            found.append({**payload, key: -1})
            found.append({**payload, key: str(value)})
        if isinstance(value, str):
            found.append({**payload, key: ""})
            found.append({**payload, key: 5})
    return found


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.event)
def test_bodies_are_judged_alike(message: Any) -> None:
    checks = default_webhook_checks()
    for example in message.message["examples"]:
        for candidate in _mutations(copy.deepcopy(example["payload"])):
            fast = checks.check_body(message.event, candidate)
            slow = check_webhook_payload(message.event, candidate)
            assert [v.path for v in fast] == [v.path for v in slow], candidate
        assert checks.check_body(message.event, example["payload"]) == []


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.event)
def test_headers_are_judged_alike(message: Any) -> None:
    checks = default_webhook_checks()
    for example in message.message["examples"]:
        headers = dict(example["headers"])
        candidates = [
            headers,
            {**headers, "X-Reader-Event": "job.nothing"},
            {**headers, "X-Reader-Delivery": "not-a-uuid"},
            {**headers, "User-Agent": "curl/8"},
            {**headers, "X-Reader-Signature": "sha256=" + "0" * 64},
            {k: v for k, v in headers.items() if k != "Content-Type"},
        ]
        for candidate in candidates:
            fast = checks.check_headers(message.event, candidate)
            slow = check_webhook_headers(message.event, candidate)
            assert [v.path for v in fast] == [v.path for v in slow], candidate
        assert checks.check_headers(message.event, headers) == []


def test_unknown_events_are_violations() -> None:
    assert default_webhook_checks().check_body("job.nothing", {})[0].path == "event"


def test_a_reference_cycle_cannot_be_inlined() -> None:
    from referencing import Registry, Resource

    uri = "https://example.invalid/loop.json"
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
    }
    registry: Registry[Any] = Registry().with_resource(uri, Resource.from_contents(schema))
    with pytest.raises(ContractError, match="cycle"):
        inline_refs(uri + "#/$defs/a", registry)
