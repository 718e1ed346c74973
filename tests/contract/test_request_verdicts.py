"""A bodiless request's verdict is remembered whole: the same issues as a first check, for every
value that can change it, and never shared between callers."""

from __future__ import annotations

from typing import Any

from reader_mock.contract import RequestContract

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "verdicts", "version": "1"},
    "paths": {
        "/things/{n}": {
            "get": {
                "operationId": "getThing",
                "parameters": [
                    {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 9}},
                    {"name": "tag", "in": "query", "schema": {"type": "array", "maxItems": 1}},
                    {
                        "name": "X-Trace",
                        "in": "header",
                        "schema": {"type": "string", "maxLength": 3},
                    },
                ],
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
}

CASES: list[dict[str, Any]] = [
    {"path_params": {"n": "1"}},
    {"path_params": {"n": "x"}},
    {"path_params": {"n": "1"}, "query": {"limit": "5"}},
    {"path_params": {"n": "1"}, "query": {"limit": "50"}},
    {"path_params": {"n": "1"}, "query": {"tag": ["a"]}},
    {"path_params": {"n": "1"}, "query": {"tag": ["a", "b"]}},
    {"path_params": {"n": "1"}, "query": {"tag": "a"}},
    {"path_params": {"n": "1"}, "headers": {"x-trace": "abc"}},
    {"path_params": {"n": "1"}, "headers": {"X-Trace": "abcdef"}},
    {"path_params": {"n": "1"}, "headers": {"X-Other": "abcdef"}},
    {"path_params": {"n": "1"}, "headers": {}},
    {},
]


def test_every_value_that_matters_gets_its_own_verdict() -> None:
    fresh = [RequestContract(DOCUMENT).check_request("getThing", **case) for case in CASES]
    remembering = RequestContract(DOCUMENT)
    for _ in range(3):
        seen = [remembering.check_request("getThing", **case) for case in CASES]
        assert seen == fresh
    assert fresh[0] == [] and fresh[1] != [] and fresh[3] != [] and fresh[5] != []
    assert fresh[8] != [] and fresh[9] == [] and fresh[11] != []


def test_callers_get_their_own_issues() -> None:
    contract = RequestContract(DOCUMENT)
    first = contract.check_request("getThing", path_params={"n": "x"})
    first[0]["message"] = "changed by the caller"
    first.append(first[0])
    again = contract.check_request("getThing", path_params={"n": "x"})
    assert len(again) == 1 and again[0]["message"] != "changed by the caller"
