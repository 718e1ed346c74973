"""contracts/asyncapi.yaml: valid AsyncAPI 3.0.0, references resolve, examples match payloads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry

from reader_mock.contract import (
    ASYNCAPI_URI,
    Channel,
    build_registry,
    contract_registry,
    load_asyncapi,
    load_openapi,
)
from reader_mock.contract.channels import CHANNEL_IDS, WEBHOOK_CHANNEL_ID
from reader_mock.contract.events import channel_messages
from reader_mock.contract.schemas import find_problems, validator_for

# The REST objects each SSE message reuses: defined once, in openapi.yaml.
SHARED_PAYLOADS = {
    "progress": "JobProgressPayload",
    "page": "JobResultEntry",
    "error": "PageErrorPayload",
    "done": "JobDonePayload",
    "job:progress": "WorkspaceJobProgressPayload",
    "job:completed": "WorkspaceJobCompletedPayload",
    "job:failed": "WorkspaceJobFailedPayload",
}


def official_schema_errors(schema: Mapping[str, Any], document: Mapping[str, Any]) -> list[str]:
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    return [
        f"/{'/'.join(str(part) for part in error.absolute_path)}: {error.message[:300]}"
        for error in validator.iter_errors(document)
    ]


def test_document_is_valid_asyncapi_3(asyncapi_json_schema: dict[str, Any]) -> None:
    assert asyncapi_json_schema["properties"]["asyncapi"]["const"] == "3.0.0"
    assert official_schema_errors(asyncapi_json_schema, load_asyncapi()) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda doc: doc["operations"]["sendJobStreamEvents"].update(action="subscribe"), "/"),
        (lambda doc: doc["info"].pop("title"), "/info"),
        (lambda doc: doc["channels"]["jobStream"].update(address=5), "/channels"),
        (lambda doc: doc["components"]["messages"]["done"].update(payloadSchema={}), "/"),
    ],
    ids=["v2-action", "no-title", "numeric-address", "unknown-message-field"],
)
def test_official_schema_rejects_broken_documents(
    asyncapi_json_schema: dict[str, Any], change: Any, where: str
) -> None:
    broken = copy.deepcopy(load_asyncapi())
    change(broken)
    errors = official_schema_errors(asyncapi_json_schema, broken)
    assert errors, "the official schema accepted a broken document"
    assert any(error.startswith(where) for error in errors), errors


def _refs(node: object, pointer: str = "") -> Iterator[tuple[str, str]]:
    """Every ``$ref`` in a document, with the JSON pointer of the object holding it."""
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield pointer, ref
        for key, value in node.items():
            if key not in {"examples", "example", "const", "enum", "default"}:
                yield from _refs(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _refs(item, f"{pointer}/{index}")


def _objects(node: object) -> Iterator[object]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _objects(item)


def unresolved_references(document: Mapping[str, Any], registry: Registry[Any]) -> list[str]:
    """References that do not resolve, following them into openapi.yaml and beyond."""
    failures = []
    # Every object of ``document`` is already walked by _refs(document) below.
    seen = {id(node) for node in _objects(document)}
    start = registry.resolver(base_uri=ASYNCAPI_URI)
    pending = [(start, pointer, ref) for pointer, ref in _refs(document)]
    while pending:
        resolver, pointer, ref = pending.pop()
        try:
            resolved = resolver.lookup(ref)
        except Exception as exc:  # every resolution failure is a finding, whatever its type
            failures.append(f"{pointer}: {ref} ({type(exc).__name__})")
            continue
        # Targets are objects of the loaded documents: walk each one once.
        if id(resolved.contents) in seen:
            continue
        seen.add(id(resolved.contents))
        pending.extend(
            (resolved.resolver, f"{ref}{inner}", inner_ref)
            for inner, inner_ref in _refs(resolved.contents)
        )
    return failures


def test_every_reference_resolves_including_into_openapi() -> None:
    document = load_asyncapi()
    assert any(ref.startswith("../openapi.yaml#") for _, ref in _refs(document))
    assert unresolved_references(document, contract_registry()) == []


def test_a_dangling_reference_is_found() -> None:
    broken = copy.deepcopy(load_asyncapi())
    broken["components"]["messages"]["done"]["payload"] = {
        "$ref": "../openapi.yaml#/components/schemas/NoSuchSchema"
    }
    failures = unresolved_references(broken, build_registry(load_openapi(), broken))
    assert len(failures) == 1
    assert failures[0].startswith(
        "/components/messages/done/payload: ../openapi.yaml#/components/schemas/NoSuchSchema"
    )


def operation_problems(document: Mapping[str, Any]) -> list[str]:
    """Operations whose messages are not messages of their own channel, and unsent messages."""
    problems = []
    sent: set[str] = set()
    for op_id, operation in document["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        match = re.fullmatch(r"#/channels/([^/]+)", channel_ref)
        if match is None or match.group(1) not in document["channels"]:
            problems.append(f"{op_id}: channel {channel_ref} is not a channel of the document")
            continue
        channel_id = match.group(1)
        channel_keys = set(document["channels"][channel_id]["messages"])
        for message in operation.get("messages", []):
            ref = message["$ref"]
            prefix = f"{channel_ref}/messages/"
            key = ref.removeprefix(prefix)
            if not ref.startswith(prefix) or key not in channel_keys:
                problems.append(f"{op_id}: {ref} is not a message of {channel_ref}")
            else:
                sent.add(f"{channel_id}/{key}")
    for channel_id, channel in document["channels"].items():
        for key in channel["messages"]:
            if f"{channel_id}/{key}" not in sent:
                problems.append(f"channel {channel_id}: message {key} is sent by no operation")
    return problems


def test_operation_messages_are_a_subset_of_their_channel() -> None:
    document = load_asyncapi()
    assert {op["action"] for op in document["operations"].values()} == {"send"}
    assert operation_problems(document) == []


def test_a_message_from_another_channel_is_found() -> None:
    broken = copy.deepcopy(load_asyncapi())
    broken["operations"]["sendJobStreamEvents"]["messages"].append(
        {"$ref": "#/channels/workspaceEvents/messages/jobProgress"}
    )
    assert operation_problems(broken) == [
        "sendJobStreamEvents: #/channels/workspaceEvents/messages/jobProgress is not a message "
        "of #/channels/jobStream"
    ]


def _all_channel_ids() -> list[str]:
    return [*CHANNEL_IDS.values(), WEBHOOK_CHANNEL_ID]


def _examples() -> list[Any]:
    cases = []
    document = load_asyncapi()
    for channel_id in _all_channel_ids():
        for message in channel_messages(document, channel_id):
            for index, example in enumerate(message.message.get("examples", [])):
                label = f"{channel_id}:{message.event}:{example.get('name', index)}"
                cases.append(pytest.param(message.pointer, example, id=label))
    return cases


@pytest.mark.parametrize(("pointer", "example"), _examples())
def test_message_example_matches_its_schemas(pointer: str, example: dict[str, Any]) -> None:
    registry = contract_registry()
    payload = validator_for(f"{ASYNCAPI_URI}#{pointer}/payload", registry)
    assert find_problems(payload, example["payload"]) == []
    if "headers" in example:
        headers = validator_for(f"{ASYNCAPI_URI}#{pointer}/headers", registry)
        assert find_problems(headers, example["headers"]) == []


def test_an_example_that_breaks_its_payload_is_caught() -> None:
    registry = contract_registry()
    pointer = "/components/messages/progress"
    payload = validator_for(f"{ASYNCAPI_URI}#{pointer}/payload", registry)
    example = copy.deepcopy(load_asyncapi()["components"]["messages"]["progress"]["examples"][0])
    example["payload"]["total"] = "100"
    assert [problem.path for problem in find_problems(payload, example["payload"])] == [("total",)]


@pytest.mark.parametrize("channel_id", _all_channel_ids())
def test_every_message_has_an_example(channel_id: str) -> None:
    for message in channel_messages(load_asyncapi(), channel_id):
        assert message.message.get("examples"), f"{message.pointer} has no example"


@pytest.mark.parametrize("channel", list(Channel))
def test_sse_messages_name_the_event_twice_and_reuse_openapi_payloads(channel: Channel) -> None:
    for message in channel_messages(load_asyncapi(), CHANNEL_IDS[channel]):
        assert message.message["name"] == message.message["x-sse-event"] == message.event
        expected = f"../openapi.yaml#/components/schemas/{SHARED_PAYLOADS[message.event]}"
        assert message.message["payload"] == {"$ref": expected}


def test_webhook_examples_carry_their_event_name_in_the_header() -> None:
    for message in channel_messages(load_asyncapi(), WEBHOOK_CHANNEL_ID):
        for example in message.message["examples"]:
            assert example["headers"]["X-Reader-Event"] == message.event


def test_job_webhook_payloads_have_a_top_level_job_id() -> None:
    registry = contract_registry()
    for message in channel_messages(load_asyncapi(), WEBHOOK_CHANNEL_ID):
        if not message.event.startswith("job."):
            continue
        payload = validator_for(f"{ASYNCAPI_URI}#{message.pointer}/payload", registry)
        example = copy.deepcopy(message.message["examples"][0]["payload"])
        del example["jobId"]
        paths = [problem.path for problem in find_problems(payload, example)]
        assert ("jobId",) in paths, message.event


@pytest.mark.parametrize("channel_id", _all_channel_ids())
def test_address_placeholders_are_declared_parameters(channel_id: str) -> None:
    channel = load_asyncapi()["channels"][channel_id]
    placeholders = set(re.findall(r"{([^}]+)}", channel["address"]))
    assert placeholders == set(channel.get("parameters", {}))


def test_webhook_page_payload_has_exactly_the_fields_of_a_result_page() -> None:
    # A result page admits no extra keys, so job.page lists its fields and refers to each one's
    # schema in openapi.yaml; this keeps that list equal to the result page's own.
    page = load_openapi()["components"]["schemas"]["JobResultEntry"]
    payload = load_asyncapi()["components"]["schemas"]["WebhookPagePayload"]
    fields = {name: schema for name, schema in payload["properties"].items() if name != "jobId"}
    assert set(fields) == set(page["properties"])
    assert set(payload["required"]) == {"jobId", *page.get("required", [])}
    assert payload["additionalProperties"] is False
    for name, schema in fields.items():
        assert schema == {
            "$ref": f"../openapi.yaml#/components/schemas/JobResultEntry/properties/{name}"
        }


def test_signed_webhook_examples_carry_real_signatures() -> None:
    signed = 0
    for message in channel_messages(load_asyncapi(), WEBHOOK_CHANNEL_ID):
        for example in message.message["examples"]:
            headers = example["headers"]
            if "X-Reader-Signature" not in headers:
                continue
            signed += 1
            secret = re.search(r"secret `([^`]+)`", example["summary"])
            assert secret is not None, f"{message.event}: the summary names no secret"
            body = json.dumps(example["payload"], separators=(",", ":"))
            signed_bytes = f"{headers['X-Reader-Timestamp']}.{body}".encode()
            digest = hmac.new(secret.group(1).encode(), signed_bytes, hashlib.sha256).hexdigest()
            assert headers["X-Reader-Signature"] == f"sha256={digest}", message.event
    assert signed >= 1
