"""Event names, event validation and stream/delivery rules, all read from the AsyncAPI document."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reader_mock.contract import (
    Channel,
    ContractError,
    ContractViolation,
    EventContract,
    EventViolation,
    check_event,
    check_webhook_headers,
    check_webhook_payload,
    event_names,
    load_asyncapi,
    stream_rules,
    validate_event,
    webhook_delivery_rules,
    webhook_event_names,
)

# The frames the Reader documentation shows, as (channel, event, data).
DOCUMENTED_FRAMES = [
    (Channel.JOB, "progress", {"status": "processing", "completed": 12, "total": 100}),
    (
        Channel.JOB,
        "page",
        {"url": "https://example.com/a", "markdown": "# A", "proxyMode": "standard", "credits": 1},
    ),
    (Channel.JOB, "error", {"url": "https://example.com/b", "error": "Scrape timed out"}),
    (Channel.JOB, "done", {"status": "completed", "completed": 100, "total": 100}),
    (
        Channel.WORKSPACE,
        "job:progress",
        {"jobId": "job_9fba2", "status": "processing", "completed": 45, "total": 100},
    ),
    (
        Channel.WORKSPACE,
        "job:completed",
        {
            "jobId": "job_9fba2",
            "status": "completed",
            "completed": 100,
            "total": 100,
            "creditsUsed": 100,
        },
    ),
    (Channel.WORKSPACE, "job:failed", {"jobId": "job_73ab1", "error": "Upstream unavailable"}),
]

SIGNED_HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "Reader-Webhook/1.0",
    "X-Reader-Event": "job.completed",
    "X-Reader-Delivery": "7c3e89f1-2d44-4b1a-8c9f-b3d2e4f5a6b7",
    "X-Reader-Signature": "sha256=" + "ab" * 32,
    "X-Reader-Timestamp": "1712275200",
}


def messages(violations: list[EventViolation]) -> list[str]:
    return [violation.message for violation in violations]


def test_event_names_per_channel() -> None:
    assert event_names(Channel.JOB) == {"progress", "page", "error", "done"}
    assert event_names("workspace") == {"job:progress", "job:completed", "job:failed"}
    assert webhook_event_names() == {
        "job.started",
        "job.page",
        "job.completed",
        "job.failed",
        "credit.low",
        "session.created",
        "session.stopped",
    }


def test_event_names_come_from_the_document() -> None:
    document = copy.deepcopy(load_asyncapi())
    messages_map = document["components"]["messages"]
    messages_map["jobFailed"]["name"] = messages_map["jobFailed"]["x-sse-event"] = "job:broken"
    contract = EventContract(asyncapi=document)
    assert contract.event_names(Channel.WORKSPACE) == {
        "job:progress",
        "job:completed",
        "job:broken",
    }
    assert messages(contract.check_event(Channel.WORKSPACE, "job:failed", {})) == [
        'event: unknown event name "job:failed" on the workspace stream (/v1/events); '
        "the workspace stream sends only: job:broken, job:completed, job:progress"
    ]


def test_name_and_extension_must_agree() -> None:
    document = copy.deepcopy(load_asyncapi())
    document["components"]["messages"]["done"]["x-sse-event"] = "finished"
    with pytest.raises(ContractError, match="has name 'done' but x-sse-event 'finished'"):
        EventContract(asyncapi=document)


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(
        ValueError, match="unknown channel 'jobs'; expected one of 'job', 'workspace'"
    ):
        event_names("jobs")


@pytest.mark.parametrize(("channel", "name", "data"), DOCUMENTED_FRAMES)
def test_documented_frames_are_accepted(channel: Channel, name: str, data: Any) -> None:
    assert check_event(channel, name, data) == []
    validate_event(channel, name, data)


def test_workspace_event_without_job_id() -> None:
    data = {"status": "processing", "completed": 45, "total": 100}
    assert check_event(Channel.WORKSPACE, "job:progress", data) == [
        EventViolation("data.jobId", "data.jobId: required field is missing")
    ]


def test_workspace_name_on_the_per_job_stream() -> None:
    data = {"jobId": "job_9fba2", "status": "processing", "completed": 45, "total": 100}
    assert messages(check_event(Channel.JOB, "job:progress", data)) == [
        'event: "job:progress" is an event of the workspace stream (/v1/events), not of the '
        "per-job stream (/v1/jobs/{jobId}/stream); "
        "the per-job stream sends only: done, error, page, progress"
    ]


def test_per_job_name_on_the_workspace_stream() -> None:
    [violation] = check_event(Channel.WORKSPACE, "done", {"status": "completed"})
    assert violation.path == "event"
    assert violation.message.startswith(
        'event: "done" is an event of the per-job stream (/v1/jobs/{jobId}/stream), '
        "not of the workspace stream (/v1/events)"
    )


def test_webhook_name_on_a_stream() -> None:
    [violation] = check_event(Channel.WORKSPACE, "job.completed", {})
    assert violation.message.startswith(
        'event: "job.completed" is a webhook event name, not an SSE event;'
    )


def test_frame_without_event_field() -> None:
    [violation] = check_event(Channel.JOB, "message", {})
    assert 'the frame has no "event:" field' in violation.message


def test_done_with_unknown_status() -> None:
    data = {"status": "exploded", "completed": 100, "total": 100}
    [violation] = check_event(Channel.JOB, "done", data)
    assert violation.path == "data.status"
    assert violation.message.startswith("data.status: expected one of ")
    for status in ("completed", "failed", "cancelled"):
        assert f'"{status}"' in violation.message
    assert violation.message.endswith('got string "exploded"')


def test_progress_with_a_string_counter() -> None:
    data = {"status": "processing", "completed": "5", "total": 100}
    assert check_event(Channel.JOB, "progress", data) == [
        EventViolation("data.completed", 'data.completed: expected integer, got string "5"')
    ]


def test_page_without_url() -> None:
    data = {"markdown": "# A", "proxyMode": "standard", "credits": 1}
    assert messages(check_event(Channel.JOB, "page", data)) == [
        "data.url: required field is missing"
    ]


def test_payload_that_is_not_an_object() -> None:
    assert messages(check_event(Channel.JOB, "error", ["https://example.com", "boom"])) == [
        "data: expected object, got array of 2 items"
    ]


def test_every_problem_is_reported() -> None:
    data = {"jobId": 7, "status": "processing", "total": -1}
    assert messages(check_event(Channel.WORKSPACE, "job:progress", data)) == [
        "data.completed: required field is missing",
        "data.jobId: expected string, got integer 7",
        "data.total: expected a number >= 0, got integer -1",
    ]


def test_check_event_raises_with_every_message() -> None:
    with pytest.raises(ContractViolation) as caught:
        validate_event(Channel.JOB, "progress", {"status": "processing", "completed": "1"})
    assert [v.path for v in caught.value.violations] == ["data.completed", "data.total"]
    assert str(caught.value) == (
        'data.completed: expected integer, got string "1"\ndata.total: required field is missing'
    )


def test_webhook_payloads() -> None:
    page = {"jobId": "job_9fba2", "url": "https://example.com/a", "markdown": "# A", "credits": 1}
    assert check_webhook_payload("job.page", page) == []
    page_without_job = {key: value for key, value in page.items() if key != "jobId"}
    assert messages(check_webhook_payload("job.page", page_without_job)) == [
        "body.jobId: required field is missing"
    ]
    assert messages(check_webhook_payload("job.failed", {"jobId": "job_1"})) == [
        "body.error: required field is missing"
    ]
    credit = {
        "balance": 50,
        "limit": 1000,
        "used": 950,
        "tier": "free",
        "resetAt": "2026-05-01T00:00:00Z",
    }
    assert messages(check_webhook_payload("credit.low", credit)) == [
        "body.threshold: required field is missing"
    ]
    assert check_webhook_payload("credit.low", {**credit, "threshold": 100}) == []


def test_unknown_webhook_names() -> None:
    [violation] = check_webhook_payload("job.cancelled", {})
    assert violation.path == "event"
    assert violation.message.startswith('event: unknown webhook event "job.cancelled"; ')
    assert "job.completed" in violation.message
    [violation] = check_webhook_payload("job:completed", {})
    assert violation.message.startswith(
        'event: "job:completed" is an event of the workspace stream (/v1/events), not a webhook'
    )


def test_webhook_headers_signed_and_unsigned() -> None:
    assert check_webhook_headers("job.completed", SIGNED_HEADERS) == []
    lower = {name.lower(): value for name, value in SIGNED_HEADERS.items()}
    assert check_webhook_headers("job.completed", lower) == []
    unsigned = {name: value for name, value in SIGNED_HEADERS.items() if "Signature" not in name}
    unsigned.pop("X-Reader-Timestamp")
    assert check_webhook_headers("job.completed", unsigned) == []


def test_webhook_header_violations() -> None:
    half_signed = {**SIGNED_HEADERS}
    half_signed.pop("X-Reader-Timestamp")
    assert messages(check_webhook_headers("job.completed", half_signed)) == [
        "headers.X-Reader-Timestamp: required field is missing"
    ]
    wrong = {
        **SIGNED_HEADERS,
        "X-Reader-Event": "job.failed",
        "X-Reader-Delivery": "12",
        "User-Agent": "python-httpx/0.28",
    }
    assert messages(check_webhook_headers("job.completed", wrong)) == [
        'headers.User-Agent: expected "Reader-Webhook/1.0", got string "python-httpx/0.28"',
        'headers.X-Reader-Delivery: expected a valid uuid, got string "12"',
        'headers.X-Reader-Event: expected "job.completed", got string "job.failed"',
    ]


def test_stream_rules_of_the_per_job_stream() -> None:
    rules = stream_rules(Channel.JOB)
    assert rules.address == "/v1/jobs/{jobId}/stream"
    assert rules.first_event == "progress"
    assert rules.first_event_when_terminal == "done"
    assert rules.terminal_events == {"done"}
    assert rules.closes_after == "done"
    assert rules.endless is False
    assert rules.keep_alive_line == ": ping"
    assert rules.keep_alive_interval_seconds == 30
    assert rules.id_field is False
    assert (rules.id_scope, rules.ids_consecutive) == ("job", True)


def test_stream_rules_of_the_workspace_stream() -> None:
    rules = stream_rules("workspace")
    assert rules.address == "/v1/events"
    assert rules.first_event is None
    assert rules.closes_after is None
    assert rules.terminal_events == frozenset()
    assert rules.endless is True
    assert rules.keep_alive_comment == "ping"
    assert rules.keep_alive_interval_seconds == 30
    assert rules.id_field is False
    assert (rules.id_scope, rules.ids_consecutive) == ("workspace", True)
    assert rules.outcome_event("cancelled") == "job:progress"
    assert rules.outcome_event("completed") == "job:completed"
    assert rules.outcome_event("failed") == "job:failed"


def test_stream_rules_follow_the_document() -> None:
    document = copy.deepcopy(load_asyncapi())
    extension = document["channels"]["jobStream"]["x-reader-stream"]
    extension["keepAlive"] = {"comment": "heartbeat", "intervalSeconds": 5}
    extension["idField"] = True
    extension["firstEvent"] = "page"
    rules = stream_rules(Channel.JOB, document)
    assert (rules.keep_alive_line, rules.keep_alive_interval_seconds) == (": heartbeat", 5.0)
    assert rules.id_field is True
    assert rules.first_event == "page"
    assert stream_rules(Channel.JOB).first_event == "progress"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"firstEvent": "start"},
            "channels.jobStream.x-reader-stream.firstEvent names 'start', which is not an event "
            "of channel 'jobStream' (done, error, page, progress)",
        ),
        ({"terminalEvents": "done"}, "terminalEvents must be a list of strings, found 'done'"),
        ({"endless": True}, "is endless but also closes after an event"),
        ({"closesAfter": "progress"}, "closesAfter must be a terminal event"),
        ({"keepAlive": {"comment": "ping", "intervalSeconds": 0}}, "must be a number > 0"),
        ({"idField": "no"}, "x-reader-stream.idField must be true or false, found 'no'"),
        (
            {"eventIds": {"countedPer": "key", "consecutive": True}},
            "x-reader-stream.eventIds.countedPer must be 'job' or 'workspace', found 'key'",
        ),
        ({"eventIds": {"countedPer": "job"}}, "x-reader-stream.eventIds.consecutive is missing"),
    ],
)
def test_malformed_stream_rules_are_refused(change: dict[str, Any], message: str) -> None:
    document = copy.deepcopy(load_asyncapi())
    document["channels"]["jobStream"]["x-reader-stream"].update(change)
    with pytest.raises(ContractError) as caught:
        stream_rules(Channel.JOB, document)
    assert message in str(caught.value)


def test_missing_stream_extension_is_refused() -> None:
    document = copy.deepcopy(load_asyncapi())
    del document["channels"]["workspaceEvents"]["x-reader-stream"]
    with pytest.raises(ContractError, match="x-reader-stream is missing or not an object"):
        stream_rules(Channel.WORKSPACE, document)


def test_webhook_delivery_rules() -> None:
    rules = webhook_delivery_rules()
    assert rules.method == "POST"
    assert rules.attempts == 3
    assert rules.retry_delays_seconds == (1.0, 4.0)
    assert rules.timeout_seconds == 10
    assert [rules.is_success(status) for status in (199, 200, 204, 299, 300, 500)] == [
        False,
        True,
        True,
        True,
        False,
        False,
    ]
    assert rules.delivery_id_stable_across_retries is True
    assert rules.signature_algorithm == "hmac-sha256"
    assert (rules.signature_header, rules.timestamp_header) == (
        "X-Reader-Signature",
        "X-Reader-Timestamp",
    )
    assert rules.signature_prefix == "sha256="
    assert rules.signed_content == "{timestamp}.{body}"
    assert rules.timestamp_tolerance_seconds == 300


def test_delivery_rules_follow_the_document_and_must_be_consistent() -> None:
    document = copy.deepcopy(load_asyncapi())
    extension = document["channels"]["webhookDeliveries"]["x-reader-delivery"]
    extension.update(attempts=4, retryDelaysSeconds=[1, 4, 16])
    assert webhook_delivery_rules(document).retry_delays_seconds == (1.0, 4.0, 16.0)
    extension.update(attempts=3)
    with pytest.raises(ContractError, match="has 3 delays but 3 attempts need 2"):
        webhook_delivery_rules(document)


def test_a_payload_reference_that_does_not_resolve_is_a_contract_error() -> None:
    document = copy.deepcopy(load_asyncapi())
    document["components"]["messages"]["done"]["payload"] = {
        "$ref": "../openapi.yaml#/components/schemas/NoSuchPayload"
    }
    contract = EventContract(asyncapi=document)
    with pytest.raises(ContractError, match="'/components/schemas/NoSuchPayload', which does not"):
        contract.check_event(Channel.JOB, "done", {"status": "completed"})
