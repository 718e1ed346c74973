"""Request validation against openapi.yaml: the issues behind ``invalid_request`` answers."""

from __future__ import annotations

from typing import Any

import pytest

from reader_mock.contract import (
    NO_BODY,
    ContractError,
    Issue,
    RequestContract,
    check_request,
    find_operation_id,
    load_openapi,
)

JOB_ID = "job_3f9a1c7e5b2d4a60"


def read_op() -> str:
    return find_operation_id("POST", "/v1/read")


def get_job_op() -> str:
    return find_operation_id("get", "/v1/jobs/{id}")


def create_webhook_op() -> str:
    return find_operation_id("POST", "/v1/webhooks")


def paths_and_codes(issues: list[Issue]) -> list[tuple[str, str]]:
    return [(issue["path"], issue["code"]) for issue in issues]


def test_operations_are_found_by_method_and_path() -> None:
    spec = load_openapi()
    assert read_op() == spec["paths"]["/v1/read"]["post"]["operationId"]
    assert get_job_op() == spec["paths"]["/v1/jobs/{id}"]["get"]["operationId"]
    with pytest.raises(ContractError, match="no operation GET /v1/jobs with an operationId"):
        find_operation_id("GET", "/v1/jobs")


def test_unknown_operation_id_is_an_error() -> None:
    with pytest.raises(ContractError, match="no operation with operationId 'readAll'"):
        check_request("readAll", body={})


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://example.com"},
        {"urls": ["https://example.com/a", "https://example.com/b"], "proxyMode": "premium"},
        {"url": "https://example.com", "maxDepth": 2, "maxPages": 50, "formats": ["html"]},
        {"url": "https://example.com", "somethingNew": True},  # unknown fields are ignored
    ],
)
def test_good_read_bodies_have_no_issues(body: dict[str, Any]) -> None:
    assert check_request(read_op(), body=body) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"urls": []}, [("urls", "too_small")]),
        ({"urls": ["https://example.com", "not a url"]}, [("urls.1", "invalid_string")]),
        (
            {"url": "https://example.com", "proxyMode": "stealth"},
            [("proxyMode", "invalid_enum_value")],
        ),
        ({"url": "https://example.com", "timeoutMs": "5000"}, [("timeoutMs", "invalid_type")]),
        ({"url": "https://example.com", "timeoutMs": 500}, [("timeoutMs", "too_small")]),
        ({"url": "https://example.com", "timeoutMs": 200000}, [("timeoutMs", "too_big")]),
        ({"url": "https://example.com", "formats": ["pdf"]}, [("formats.0", "invalid_enum_value")]),
        ({"url": "https://example.com", "webhook": {}}, [("webhook.url", "required")]),
        ({}, [("", "invalid_union")]),
        ({"url": "https://example.com", "urls": ["https://example.com"]}, [("", "invalid_union")]),
        (["https://example.com"], [("", "invalid_type")]),
    ],
)
def test_bad_read_bodies(body: Any, expected: list[tuple[str, str]]) -> None:
    assert paths_and_codes(check_request(read_op(), body=body)) == expected


def test_issue_messages_say_what_was_expected_and_found() -> None:
    body = {"urls": ["ftp//nowhere"], "proxyMode": "auto", "timeoutMs": True}
    assert check_request(read_op(), body=body) == [
        Issue(
            path="proxyMode",
            code="invalid_enum_value",
            message='Expected one of "standard", "premium", got string "auto"',
        ),
        Issue(path="timeoutMs", code="invalid_type", message="Expected integer, got boolean true"),
        Issue(
            path="urls.0",
            code="invalid_string",
            message='Expected a valid uri, got string "ftp//nowhere"',
        ),
    ]
    assert check_request(read_op(), body={}) == [
        Issue(
            path="",
            code="invalid_union",
            message='Expected exactly one of "url" or "urls", found none',
        )
    ]


def test_missing_required_body() -> None:
    assert check_request(read_op()) == [
        Issue(path="", code="required", message="A JSON body is required")
    ]
    assert check_request(read_op(), body=None) == [
        Issue(path="", code="invalid_type", message="Expected object, got null")
    ]


def test_webhook_bodies() -> None:
    good = {"url": "https://hooks.example.com/reader", "name": "ci", "events": ["job.completed"]}
    assert check_request(create_webhook_op(), body=good) == []
    bad = {"url": "https://hooks.example.com/reader", "events": [], "secret": "short"}
    assert paths_and_codes(check_request(create_webhook_op(), body=bad)) == [
        ("events", "too_small"),
        ("name", "required"),
        ("secret", "too_small"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, []),
        ({"skip": "0", "limit": "100"}, []),
        ({"limit": "abc"}, [("limit", "invalid_type")]),
        ({"limit": "2.5"}, [("limit", "invalid_type")]),
        ({"limit": "0"}, [("limit", "too_small")]),
        ({"limit": "101"}, [("limit", "too_big")]),
        ({"skip": "-1"}, [("skip", "too_small")]),
        ({"skip": ["1", "2"]}, [("skip", "invalid_type")]),
        ({"unrelated": "x"}, []),
    ],
)
def test_get_job_query(query: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    issues = check_request(get_job_op(), path_params={"id": JOB_ID}, query=query)
    assert paths_and_codes(issues) == expected


def test_query_messages() -> None:
    issues = check_request(get_job_op(), path_params={"id": JOB_ID}, query={"limit": "ten"})
    assert issues == [
        Issue(path="limit", code="invalid_type", message='Expected integer, got string "ten"')
    ]
    issues = check_request(get_job_op(), path_params={"id": JOB_ID}, query={"limit": "500"})
    assert issues == [
        Issue(path="limit", code="too_big", message="Expected a number <= 100, got integer 500")
    ]


def test_path_parameters() -> None:
    assert check_request(get_job_op(), path_params={"id": JOB_ID}) == []
    [issue] = check_request(get_job_op(), path_params={"id": "42; DROP"})
    assert (issue["path"], issue["code"]) == ("id", "invalid_string")
    assert check_request(get_job_op(), path_params={}) == [
        Issue(path="id", code="required", message="Required parameter is missing")
    ]


def test_header_parameters_are_checked_case_insensitively() -> None:
    body = {"url": "https://example.com"}
    assert check_request(read_op(), body=body, headers={"X-Idempotency-Key": "abc"}) == []
    issues = check_request(read_op(), body=body, headers={"X-Idempotency-Key": "k" * 256})
    assert paths_and_codes(issues) == [("x-idempotency-key", "too_big")]
    # Without a headers mapping, header parameters are not looked at.
    assert check_request(read_op(), body=body) == []


SMALL_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "small", "version": "1"},
    "paths": {
        "/things/{n}": {
            "parameters": [
                {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "get": {
                "operationId": "getThing",
                "parameters": [
                    {"name": "flag", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "ratio", "in": "query", "schema": {"type": "number", "maximum": 1}},
                    {"$ref": "#/components/parameters/Tags"},
                    {
                        "name": "ids",
                        "in": "query",
                        "explode": False,
                        "schema": {"type": "array", "items": {"type": "integer"}},
                    },
                    {"name": "need", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "ok"}},
            },
            "put": {
                "operationId": "putThing",
                "requestBody": {"$ref": "#/components/requestBodies/Thing"},
                "responses": {"200": {"description": "ok"}},
            },
        }
    },
    "components": {
        "parameters": {
            "Tags": {
                "name": "tag",
                "in": "query",
                "schema": {"type": "array", "maxItems": 2, "items": {"enum": ["a", "b", "c"]}},
            }
        },
        "requestBodies": {
            "Thing": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"size": {"type": "integer"}},
                        }
                    }
                },
            }
        },
    },
}


def test_query_strings_are_converted_per_schema() -> None:
    contract = RequestContract(SMALL_DOCUMENT)
    assert contract.operation_ids() == {"getThing", "putThing"}
    good = {"flag": "true", "ratio": "0.5", "tag": ["a", "c"], "ids": "1,2,3", "need": "x"}
    assert contract.check_request("getThing", path_params={"n": "7"}, query=good) == []
    bad = {"flag": "yes", "ratio": "2", "tag": ["a", "z", "b"], "ids": "1,x"}
    issues = contract.check_request("getThing", path_params={"n": "seven"}, query=bad)
    assert issues == [
        Issue(path="n", code="invalid_type", message='Expected integer, got string "seven"'),
        Issue(path="flag", code="invalid_type", message='Expected boolean, got string "yes"'),
        Issue(path="ratio", code="too_big", message="Expected a number <= 1, got integer 2"),
        Issue(path="tag", code="too_big", message="Expected at most 2 items, got 3"),
        Issue(
            path="tag.1",
            code="invalid_enum_value",
            message='Expected one of "a", "b", "c", got string "z"',
        ),
        Issue(path="ids.1", code="invalid_type", message='Expected integer, got string "x"'),
        Issue(path="need", code="required", message="Required parameter is missing"),
    ]


def test_optional_body_and_unrecognized_fields() -> None:
    contract = RequestContract(SMALL_DOCUMENT)
    assert contract.check_request("putThing", path_params={"n": "1"}, body=NO_BODY) == []
    issues = contract.check_request("putThing", path_params={"n": "1"}, body={"size": 1, "x": 2})
    assert issues == [Issue(path="x", code="unrecognized", message="Field is not allowed here")]


def test_duplicate_operation_ids_are_refused() -> None:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "dup", "version": "1"},
        "paths": {
            "/a": {"get": {"operationId": "same", "responses": {}}},
            "/b": {"get": {"operationId": "same", "responses": {}}},
        },
    }
    with pytest.raises(ContractError, match="operationId 'same' is used twice"):
        RequestContract(document)


def test_numbers_too_long_to_convert_are_too_big() -> None:
    # Python refuses to turn strings of thousands of digits into an int; the mock must answer
    # invalid_request for them, never fail on them.
    issues = check_request("getJob", query={"limit": ["9" * 5000]}, path_params={"id": "job_1"})
    assert [(issue["path"], issue["code"]) for issue in issues] == [("limit", "too_big")]
