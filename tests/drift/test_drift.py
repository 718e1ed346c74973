"""The OpenAPI drift check: unit tests on small documents, then the real check against upstream."""

from __future__ import annotations

import copy
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from click.testing import CliRunner

from reader_mock.cli import main
from reader_mock.drift import (
    DIFFERENCE_KINDS,
    Difference,
    DocumentLoadError,
    DriftReport,
    IntendedDifference,
    IntendedDifferences,
    IntendedDifferencesError,
    diff_openapi,
    load_intended_differences,
    load_openapi_source,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"
UPSTREAM_CURRENT = REFERENCE_DIR / "reader-openapi-upstream.json"
UPSTREAM_OLDER = REFERENCE_DIR / "reader-openapi-upstream-older.json"

# -- small in-memory documents ---------------------------------------------------------------------


def _document() -> dict[str, Any]:
    """A tiny but complete OpenAPI 3.1 document exercising every part the drift check compares."""
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "security": [{"ApiKeyAuth": []}],
        "paths": {
            "/v1/things/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "headers": {"X-Request-Id": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Thing"}
                                }
                            },
                        },
                        "404": {
                            "description": "missing",
                            "content": {"application/json": {"schema": envelope}},
                        },
                    },
                },
                "delete": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"id": {"type": "string"}},
                                        "required": ["id"],
                                    }
                                }
                            },
                        }
                    }
                },
            },
            "/v1/things": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreateThing"}
                            }
                        }
                    },
                    "responses": {
                        "201": {
                            "description": "created",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Thing"}
                                }
                            },
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Mode": {"type": "string", "enum": ["standard", "premium"]},
                "CreateThing": {
                    "type": "object",
                    "properties": {
                        "url": {"type": "string", "format": "uri"},
                        "mode": {"$ref": "#/components/schemas/Mode"},
                        "timeoutMs": {"type": "integer", "minimum": 1000, "maximum": 120000},
                    },
                    "required": ["url"],
                },
                "Thing": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "error": {"type": ["string", "null"]},
                        "mode": {"$ref": "#/components/schemas/Mode"},
                    },
                    "required": ["id", "error"],
                },
                "ErrorEnvelope": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}},
                    "required": ["code"],
                },
            }
        },
    }


def _kinds_at(report: DriftReport) -> set[tuple[str, str]]:
    return {(d.kind, d.location) for d in report.differences}


def _only(report: DriftReport) -> Difference:
    assert len(report.differences) == 1, report.render_text()
    return report.differences[0]


def test_identical_documents_have_no_difference() -> None:
    report = diff_openapi(_document(), _document())
    assert report.differences == ()
    assert report.ok


def test_path_added_and_removed() -> None:
    ours = _document()
    ours["paths"]["/v1/queue/status"] = {"get": {"responses": {}}}
    upstream = _document()
    upstream["paths"]["/v1/legacy"] = {"get": {"responses": {}}, "post": {"responses": {}}}
    report = diff_openapi(ours, upstream)
    assert _kinds_at(report) == {
        ("path-removed", "paths./v1/queue/status"),
        ("path-added", "paths./v1/legacy"),
    }
    removed = next(d for d in report.differences if d.kind == "path-added")
    assert removed.ours is None
    assert removed.upstream == "GET, POST"
    assert not report.ok
    assert report.unintended == report.differences


def test_path_templates_match_whatever_the_parameter_name() -> None:
    ours = _document()
    item = ours["paths"].pop("/v1/things/{id}")
    item["parameters"][0]["name"] = "thingId"
    ours["paths"]["/v1/things/{thingId}"] = item
    report = diff_openapi(ours, _document())
    assert _kinds_at(report) == {
        ("parameter-removed", "paths./v1/things/{id}.get.parameters.path.thingId"),
        ("parameter-added", "paths./v1/things/{id}.get.parameters.path.id"),
        ("parameter-removed", "paths./v1/things/{id}.delete.parameters.path.thingId"),
        ("parameter-added", "paths./v1/things/{id}.delete.parameters.path.id"),
    }


def test_method_added_and_removed() -> None:
    ours = _document()
    ours["paths"]["/v1/things"]["get"] = {"responses": {}}
    upstream = _document()
    upstream["paths"]["/v1/things/{id}"]["patch"] = {"responses": {}}
    report = diff_openapi(ours, upstream)
    assert _kinds_at(report) == {
        ("method-removed", "paths./v1/things.get"),
        ("method-added", "paths./v1/things/{id}.patch"),
    }


def test_parameter_differences() -> None:
    ours = _document()
    get = ours["paths"]["/v1/things/{id}"]["get"]
    get["parameters"][0]["required"] = True
    get["parameters"][0]["schema"]["maximum"] = 50
    get["parameters"].append({"name": "skip", "in": "query", "schema": {"type": "integer"}})
    get["parameters"].append({"name": "X-Trace", "in": "header", "schema": {"type": "string"}})
    report = diff_openapi(ours, _document())
    base = "paths./v1/things/{id}.get.parameters"
    assert _kinds_at(report) == {
        ("parameter-changed", f"{base}.query.limit.required"),
        ("bound-changed", f"{base}.query.limit.schema.maximum"),
        ("parameter-removed", f"{base}.query.skip"),
        ("parameter-removed", f"{base}.header.x-trace"),
    }
    bound = next(d for d in report.differences if d.kind == "bound-changed")
    assert (bound.ours, bound.upstream) == ("50", "100")


def test_parameter_refs_are_resolved_before_comparing() -> None:
    ours = _document()
    ours["components"]["parameters"] = {
        "Limit": ours["paths"]["/v1/things/{id}"]["get"]["parameters"][0]
    }
    ours["paths"]["/v1/things/{id}"]["get"]["parameters"] = [
        {"$ref": "#/components/parameters/Limit"}
    ]
    assert diff_openapi(ours, _document()).differences == ()


def test_request_body_differences() -> None:
    ours = _document()
    ours["paths"]["/v1/things"]["post"]["requestBody"]["required"] = True
    ours["paths"]["/v1/things"]["post"]["requestBody"]["content"]["text/plain"] = {}
    ours["paths"]["/v1/things/{id}"]["delete"]["requestBody"] = {
        "content": {"application/json": {"schema": {"type": "object"}}}
    }
    report = diff_openapi(ours, _document())
    assert _kinds_at(report) == {
        ("request-body-changed", "paths./v1/things.post.requestBody.required"),
        ("media-type-removed", "paths./v1/things.post.requestBody.text/plain"),
        ("request-body-removed", "paths./v1/things/{id}.delete.requestBody"),
    }
    without_body = _document()
    del without_body["paths"]["/v1/things"]["post"]["requestBody"]
    removed = _only(diff_openapi(without_body, _document()))
    assert (removed.kind, removed.location) == (
        "request-body-added",
        "paths./v1/things.post.requestBody",
    )


def test_response_differences() -> None:
    ours = _document()
    responses = ours["paths"]["/v1/things/{id}"]["get"]["responses"]
    responses["429"] = {"description": "slow down"}
    del responses["404"]
    responses["200"]["headers"]["Retry-After"] = {"schema": {"type": "integer"}}
    responses["200"]["headers"]["X-Request-Id"]["schema"]["pattern"] = "^req_[a-z0-9]+$"
    responses["200"]["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    report = diff_openapi(ours, _document())
    base = "paths./v1/things/{id}.get.responses"
    assert _kinds_at(report) == {
        ("response-removed", f"{base}.429"),
        ("response-added", f"{base}.404"),
        ("header-removed", f"{base}.200.headers.retry-after"),
        ("pattern-changed", f"{base}.200.headers.x-request-id.schema.pattern"),
        ("media-type-removed", f"{base}.200.text/event-stream"),
    }


def test_yaml_integer_status_codes_equal_json_string_codes() -> None:
    ours = yaml.safe_load(yaml.safe_dump(_document()).replace("'200':", "200:"))
    assert 200 in ours["paths"]["/v1/things/{id}"]["get"]["responses"]
    assert diff_openapi(ours, _document()).differences == ()


@pytest.mark.parametrize(
    ("change", "kind", "location"),
    [
        (
            lambda s: s["Thing"]["properties"]["id"].update(type="integer"),
            "type-changed",
            "id.type",
        ),
        (
            lambda s: s["Thing"]["properties"]["id"].update(format="uuid"),
            "format-changed",
            "id.format",
        ),
        (
            lambda s: s["Thing"]["properties"]["id"].update(pattern="^t_"),
            "pattern-changed",
            "id.pattern",
        ),
        (
            lambda s: s["Thing"]["properties"]["id"].update(minLength=3),
            "bound-changed",
            "id.minLength",
        ),
        (lambda s: s["Thing"]["properties"]["id"].update(const="x"), "enum-changed", "id.enum"),
        (
            lambda s: s["Thing"]["properties"]["id"].update(default="t_1"),
            "default-changed",
            "id.default",
        ),
        (
            lambda s: s["Thing"]["properties"]["error"].update(type="string"),
            "nullable-changed",
            "error.nullable",
        ),
        (
            lambda s: s["Thing"]["properties"].update(extra={"type": "boolean"}),
            "property-removed",
            "extra",
        ),
        (lambda s: s["Thing"]["properties"].pop("id"), "property-added", "id"),
    ],
)
def test_schema_keyword_differences(change: Any, kind: str, location: str) -> None:
    ours = _document()
    change(ours["components"]["schemas"])
    diff = _only(diff_openapi(ours, _document()))
    assert diff.kind == kind
    assert diff.location == f"components.schemas.Thing.properties.{location}"


def _thing_props(schemas: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = schemas["Thing"]["properties"]
    return props


@pytest.mark.parametrize(
    ("change", "kind", "location"),
    [
        (
            lambda s: s["Thing"].update(
                {"if": {"required": ["error"]}, "then": {"required": ["mode"]}}
            ),
            "condition-changed",
            "if",
        ),
        (lambda s: s["Thing"].update(dependentRequired={"id": ["mode"]}), "condition-changed",
         "dependentRequired.id"),
        (lambda s: s["Thing"].update(dependencies={"id": ["mode"]}), "condition-changed",
         "dependentRequired.id"),
        (lambda s: s["Thing"].update(dependentSchemas={"id": {"required": ["mode"]}}),
         "schema-changed", "dependentSchemas.id"),
        (lambda s: s["Thing"].update(dependencies={"id": {"required": ["mode"]}}),
         "schema-changed", "dependencies.id"),
        (lambda s: s["Thing"].update({"not": {"required": ["mode"]}}), "schema-changed", "not"),
        (lambda s: s["Thing"].update(patternProperties={"^x-": {"type": "string"}}),
         "schema-changed", "patternProperties.^x-"),
        (lambda s: s["Thing"].update(propertyNames={"maxLength": 8}), "schema-changed",
         "propertyNames"),
        (lambda s: s["Thing"].update(unevaluatedProperties=False), "schema-changed",
         "unevaluatedProperties"),
        (lambda s: s["Thing"].update(minProperties=1), "bound-changed", "minProperties"),
        (lambda s: _thing_props(s).update(tags={"type": "array", "contains": {"const": "a"}}),
         "property-removed", "properties.tags"),
        (lambda s: _thing_props(s)["id"].update(format="uuid"), "format-changed",
         "properties.id.format"),
        (lambda s: _thing_props(s)["id"].update(enum=["a", "b"], const="a"), "enum-changed",
         "properties.id.const"),
    ],
)  # fmt: skip
def test_every_keyword_that_changes_what_a_schema_accepts(
    change: Any, kind: str, location: str
) -> None:
    ours = _document()
    change(ours["components"]["schemas"])
    found = _kinds_at(diff_openapi(ours, _document()))
    assert (kind, f"components.schemas.Thing.{location}") in found, found


def _with_tags(schema: dict[str, Any]) -> dict[str, Any]:
    document = _document()
    document["components"]["schemas"]["Thing"]["properties"]["tags"] = schema
    return document


@pytest.mark.parametrize(
    ("ours_tags", "kind", "location"),
    [
        ({"type": "array", "contains": {"const": "a"}}, "schema-changed", "contains"),
        ({"type": "array", "contains": {"const": "b"}}, "enum-changed", "contains.enum"),
        ({"type": "array", "contains": {"const": "a"}, "minContains": 2}, "bound-changed",
         "minContains"),
        ({"type": "array", "contains": {"const": "a"}, "maxContains": 2}, "bound-changed",
         "maxContains"),
        ({"type": "array", "unevaluatedItems": False}, "schema-changed", "unevaluatedItems"),
        ({"type": "array", "additionalItems": False}, "schema-changed", "additionalItems"),
        ({"type": "array", "uniqueItems": True}, "bound-changed", "uniqueItems"),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, "schema-changed", "prefixItems"),
    ],
)  # fmt: skip
def test_every_array_keyword_is_compared(
    ours_tags: dict[str, Any], kind: str, location: str
) -> None:
    upstream_tags: dict[str, Any] = {"type": "array"}
    if location != "contains" and "contains" in ours_tags:
        upstream_tags["contains"] = {"const": "a"}
    report = diff_openapi(_with_tags(ours_tags), _with_tags(upstream_tags))
    diff = _only(report)
    assert (diff.kind, diff.location) == (
        kind,
        f"components.schemas.Thing.properties.tags.{location}",
    )


def test_conditions_on_both_sides_are_compared_branch_by_branch() -> None:
    ours, upstream = _document(), _document()
    condition = {"if": {"pattern": "^https?:"}, "then": {"pattern": "^https?://[^/]"}}
    ours["components"]["schemas"]["Thing"]["properties"]["id"].update(copy.deepcopy(condition))
    condition["then"]["pattern"] = "^https?://"
    upstream["components"]["schemas"]["Thing"]["properties"]["id"].update(condition)
    diff = _only(diff_openapi(ours, upstream))
    assert (diff.kind, diff.location) == (
        "pattern-changed",
        "components.schemas.Thing.properties.id.then.pattern",
    )
    upstream["components"]["schemas"]["Thing"]["properties"]["id"].pop("if")
    one_sided = _only(diff_openapi(ours, upstream))
    assert (one_sided.kind, one_sided.location, one_sided.upstream) == (
        "condition-changed",
        "components.schemas.Thing.properties.id.if",
        None,
    )
    assert one_sided.ours is not None and '"then"' in one_sided.ours


def test_dependent_required_lists_members_in_the_direction_of_the_comparison() -> None:
    ours, upstream = _document(), _document()
    ours["components"]["schemas"]["Thing"]["dependentRequired"] = {"id": ["mode", "error"]}
    upstream["components"]["schemas"]["Thing"]["dependentRequired"] = {"id": ["mode", "url"]}
    diff = _only(diff_openapi(ours, upstream))
    assert (diff.kind, diff.added, diff.removed) == ("condition-changed", ("url",), ("error",))


def test_required_and_enum_changes() -> None:
    ours = _document()
    schemas = ours["components"]["schemas"]
    schemas["Mode"]["enum"] = ["standard", "stealth", "auto"]
    schemas["CreateThing"]["required"] = ["url", "mode"]
    report = diff_openapi(ours, _document())
    assert _kinds_at(report) == {
        ("enum-changed", "components.schemas.Mode.enum"),
        ("required-changed", "components.schemas.CreateThing.required"),
    }
    enum = next(d for d in report.differences if d.kind == "enum-changed")
    assert enum.ours == '["standard", "stealth", "auto"]'
    assert enum.upstream == '["standard", "premium"]'
    # Members, read from ours to upstream: upstream adds premium and lacks stealth and auto.
    assert (enum.added, enum.removed) == (("premium",), ("stealth", "auto"))
    required = next(d for d in report.differences if d.kind == "required-changed")
    assert (required.added, required.removed) == ((), ("mode",))
    assert (required.ours, required.upstream) == ('["mode", "url"]', '["url"]')


def test_a_long_enum_shows_every_added_member_in_every_rendering() -> None:
    """A list too long to print whole still shows which members differ, never cut."""
    codes = [f"code_number_{index}" for index in range(20)]
    ours, upstream = _document(), _document()
    ours["components"]["schemas"]["Mode"]["enum"] = codes
    upstream["components"]["schemas"]["Mode"]["enum"] = [*codes, "brand_new_one", "another_one"]
    report = diff_openapi(ours, upstream)
    diff = _only(report)
    assert diff.ours is not None and diff.ours.endswith("…")  # the whole list is cut...
    assert (diff.added, diff.removed) == (("brand_new_one", "another_one"), ())
    for text in (report.render_text(), report.render_text(details=True)):
        assert "added brand_new_one, another_one" in text  # ...the members are not
    entry = json.loads(report.render_json())["unintended"][0]
    assert (entry["added"], entry["removed"]) == (["brand_new_one", "another_one"], [])


def test_const_equals_a_one_value_enum() -> None:
    ours = _document()
    ours["components"]["schemas"]["Mode"] = {"type": "string", "const": "standard"}
    upstream = _document()
    upstream["components"]["schemas"]["Mode"]["enum"] = ["standard"]
    assert diff_openapi(ours, upstream).differences == ()


def test_enum_order_does_not_matter() -> None:
    ours = _document()
    ours["components"]["schemas"]["Mode"]["enum"] = ["premium", "standard"]
    assert diff_openapi(ours, _document()).differences == ()


def test_nullable_spellings_are_equivalent() -> None:
    ours = _document()
    # The 3.1 type list and a oneOf with a null branch say the same thing.
    ours["components"]["schemas"]["Thing"]["properties"]["error"] = {
        "oneOf": [{"type": "string"}, {"type": "null"}]
    }
    assert diff_openapi(ours, _document()).differences == ()


def test_shared_component_is_reported_once_under_components() -> None:
    ours = _document()
    ours["components"]["schemas"]["Mode"]["enum"] = ["standard"]
    diff = _only(diff_openapi(ours, _document()))
    # Thing, CreateThing and two operations use Mode; the change is reported where Mode lives.
    assert diff.location == "components.schemas.Mode.enum"


def test_renamed_component_with_the_same_shape_is_only_a_naming_difference() -> None:
    ours = _document()
    schemas = ours["components"]["schemas"]
    schemas["Item"] = schemas.pop("Thing")
    text = json.dumps(ours).replace("#/components/schemas/Thing", "#/components/schemas/Item")
    report = diff_openapi(json.loads(text), _document())
    assert _kinds_at(report) == {
        ("component-removed", "components.schemas.Item"),
        ("component-added", "components.schemas.Thing"),
        ("ref-changed", "paths./v1/things/{id}.get.responses.200.application/json.$ref"),
        ("ref-changed", "paths./v1/things.post.responses.201.application/json.$ref"),
    }


def test_inline_schema_is_compared_with_the_resolved_reference() -> None:
    ours = _document()
    thing = copy.deepcopy(ours["components"]["schemas"]["Thing"])
    thing["properties"]["id"]["pattern"] = "^t_"
    ours["paths"]["/v1/things"]["post"]["responses"]["201"]["content"]["application/json"][
        "schema"
    ] = thing
    diff = _only(diff_openapi(ours, _document()))
    assert diff.kind == "pattern-changed"
    assert diff.location == (
        "paths./v1/things.post.responses.201.application/json.properties.id.pattern"
    )


def test_allof_refinement_of_the_upstream_schema_is_one_difference() -> None:
    ours = _document()
    not_found = ours["paths"]["/v1/things/{id}"]["get"]["responses"]["404"]["content"]
    not_found["application/json"]["schema"] = {
        "allOf": [
            {"$ref": "#/components/schemas/ErrorEnvelope"},
            {"properties": {"code": {"const": "not_found"}}},
        ]
    }
    narrowed = _only(diff_openapi(ours, _document()))
    assert narrowed.kind == "schema-widened"
    assert narrowed.location == ("paths./v1/things/{id}.get.responses.404.application/json.allOf")
    assert narrowed.upstream == "$ref #/components/schemas/ErrorEnvelope"
    widened = _only(diff_openapi(_document(), ours))
    assert (widened.kind, widened.location) == ("schema-narrowed", narrowed.location)


def test_allof_that_does_not_contain_the_other_side_is_compared_structurally() -> None:
    ours = _document()
    not_found = ours["paths"]["/v1/things/{id}"]["get"]["responses"]["404"]["content"]
    not_found["application/json"]["schema"] = {
        "allOf": [{"type": "object"}, {"required": ["code"]}]
    }
    kinds = {d.kind for d in diff_openapi(ours, _document()).differences}
    assert "schema-widened" not in kinds
    assert "schema-changed" in kinds  # allOf present on one side only


def test_recursive_schemas_terminate() -> None:
    def tree(name: str) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
                "next": {"$ref": f"#/components/schemas/{name}"},
            },
        }

    ours = _document()
    ours["components"]["schemas"]["Node"] = tree("Node")
    ours["components"]["schemas"]["Thing"]["properties"]["tree"] = {
        "$ref": "#/components/schemas/Node"
    }
    upstream = _document()
    upstream["components"]["schemas"]["Tree"] = tree("Tree")
    upstream["components"]["schemas"]["Thing"]["properties"]["tree"] = {
        "$ref": "#/components/schemas/Tree"
    }
    report = diff_openapi(ours, upstream)
    base = "components.schemas.Thing.properties.tree"
    assert _kinds_at(report) == {
        ("component-removed", "components.schemas.Node"),
        ("component-added", "components.schemas.Tree"),
        ("ref-changed", f"{base}.$ref"),
        ("ref-changed", f"{base}.properties.children.items.$ref"),
        ("ref-changed", f"{base}.properties.next.$ref"),
    }


def test_security_difference() -> None:
    ours = _document()
    ours["paths"]["/v1/things"]["post"]["security"] = []
    diff = _only(diff_openapi(ours, _document()))
    assert (diff.kind, diff.location) == ("security-changed", "paths./v1/things.post.security")
    assert (diff.ours, diff.upstream) == (None, "ApiKeyAuth")


def test_malformed_parts_are_compared_without_crashing() -> None:
    ours = _document()
    ours["paths"]["/v1/things"]["post"]["responses"] = ["not", "a", "mapping"]
    ours["components"]["schemas"]["Thing"]["properties"] = "nonsense"
    ours["components"]["schemas"]["Mode"] = True
    report = diff_openapi(ours, _document())
    assert ("response-added", "paths./v1/things.post.responses.201") in _kinds_at(report)
    assert ("schema-changed", "components.schemas.Mode") in _kinds_at(report)


def test_every_reported_kind_is_a_known_kind() -> None:
    ours = _document()
    ours["paths"]["/v1/extra"] = {"get": {"responses": {}}}
    ours["components"]["schemas"]["Mode"]["enum"] = ["x"]
    report = diff_openapi(ours, _document())
    assert report.differences
    assert {d.kind for d in report.differences} <= DIFFERENCE_KINDS


# -- intended differences --------------------------------------------------------------------------


def _drifted() -> DriftReport:
    ours = _document()
    ours["paths"]["/v1/sessions"] = {"get": {"responses": {}}}
    ours["paths"]["/v1/sessions/{id}"] = {"get": {"responses": {}}}
    ours["components"]["schemas"]["Mode"]["enum"] = ["standard"]
    ours["paths"]["/v1/things/{id}"]["get"]["responses"]["200"]["headers"]["Retry-After"] = {}
    intended = IntendedDifferences.from_data(
        [
            {"location": "paths./v1/sessions*", "kind": "path-removed", "reason": "Sessions."},
            {"location": "paths.**.headers.retry-after", "reason": "Documented header."},
            {"location": "paths./v1/nothing-here", "reason": "Stale."},
        ]
    )
    return diff_openapi(ours, _document(), intended, ours_source="a.yaml", upstream_source="b.json")


def test_intended_entries_mark_differences_with_their_reason() -> None:
    report = _drifted()
    intended = {d.location: d.reason for d in report.intended}
    assert intended == {
        "paths./v1/sessions": "Sessions.",
        "paths./v1/sessions/{id}": "Sessions.",
        "paths./v1/things/{id}.get.responses.200.headers.retry-after": "Documented header.",
    }
    assert [d.location for d in report.unintended] == ["components.schemas.Mode.enum"]
    assert report.unintended[0].reason is None
    assert not report.ok
    assert [e.location for e in report.stale_entries] == ["paths./v1/nothing-here"]


def test_location_globs() -> None:
    def covers(pattern: str, location: str, kind: str = "path-removed") -> bool:
        entry = IntendedDifference(location=pattern, reason="r")
        return entry.matches(Difference(kind, location, "x", None))

    assert covers("paths./v1/jobs/{id}.get", "paths./v1/jobs/{id}.get")
    assert covers("paths.*.get", "paths./v1/jobs/{id}.get")
    assert not covers("paths.*", "paths./v1/jobs/{id}.get")
    assert covers("paths.**", "paths./v1/jobs/{id}.get")
    assert covers("paths./v1/queue/status.**", "paths./v1/queue/status")
    assert covers(
        "paths.**.headers.x-request-id", "paths./a.get.responses.200.headers.x-request-id"
    )
    assert not covers(
        "paths.**.headers.x-request-id", "paths./a.get.parameters.header.x-request-id"
    )
    assert not covers("paths./v1/read", "paths./v1/readme")
    assert covers("paths./v1/rea?", "paths./v1/read")
    kinded = IntendedDifference(location="paths.**", reason="r", kind="path-removed")
    assert not kinded.matches(Difference("path-added", "paths./x", None, "GET"))


def test_intended_file_is_loaded_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "intended.yaml"
    path.write_text(
        "- location: components.schemas.Mode.enum\n"
        "  kind: enum-changed\n"
        "  reason: >\n"
        "    The mock targets the current generation.\n",
        encoding="utf-8",
    )
    loaded = load_intended_differences(path)
    assert loaded.entries == (
        IntendedDifference(
            location="components.schemas.Mode.enum",
            kind="enum-changed",
            reason="The mock targets the current generation.",
        ),
    )
    assert loaded.source == str(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"location": "x"}, "expected a list of entries"),
        (["just a string"], "entry 1: expected a mapping"),
        (
            [{"location": "a", "reason": "ok"}, {"location": "paths./v1/x"}],
            "entry 2 (location 'paths./v1/x'): 'reason' must be a non-empty string",
        ),
        ([{"location": "a", "reason": "  "}], "entry 1 (location 'a'): 'reason'"),
        ([{"reason": "why"}], "entry 1: 'location' must be a non-empty string"),
        ([{"location": "a", "reason": "r", "kind": "enum-change"}], "unknown kind 'enum-change'"),
        ([{"location": "a", "reason": "r", "why": "x"}], "unknown key(s) why"),
    ],
)
def test_malformed_intended_entries_are_rejected(data: Any, message: str) -> None:
    with pytest.raises(IntendedDifferencesError) as caught:
        IntendedDifferences.from_data(data, source="intended.yaml")
    assert str(caught.value).startswith("intended.yaml: ")
    assert message in str(caught.value)


def test_intended_file_with_bad_yaml_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "intended.yaml"
    path.write_text("- location: [unclosed\n", encoding="utf-8")
    with pytest.raises(IntendedDifferencesError, match=r"invalid YAML.*line 2"):
        load_intended_differences(path)
    with pytest.raises(IntendedDifferencesError, match="cannot read"):
        load_intended_differences(tmp_path / "absent.yaml")


# -- renderings ------------------------------------------------------------------------------------


def test_summary_lists_the_unintended_ones_counts_the_rest_and_points_to_the_details() -> None:
    text = _drifted().render_text(details_hint="See the details.")
    assert "a.yaml (ours) vs b.json (upstream)" in text
    assert "'-added' is only in upstream, '-removed' only in ours" in text
    assert (
        "4 difference(s): 1 unintended, 3 intended (2 reason(s)), 1 stale intended entry." in text
    )
    unintended_at = text.index("Unintended differences (1):")
    intended_at = text.index("Intended differences (3) in 2 path(s), 1 operation(s); by kind:")
    assert (
        unintended_at
        < text.index("  schema Mode\n    enum-changed  enum: added premium")
        < (intended_at)
    )
    assert "2 path-removed, 1 header-removed" in text
    assert "Sessions." not in text  # reasons belong to the details
    assert "paths./v1/nothing-here" in text
    assert text.index("See the details.") > intended_at
    assert text.rstrip().endswith("Result: FAILED, 1 unintended difference(s).")


def test_details_group_by_operation_and_schema_and_write_each_reason_once() -> None:
    text = _drifted().render_text(details=True)
    unintended_at = text.index("Unintended differences (1):")
    intended_at = text.index("Intended differences (3):")
    assert unintended_at < text.index("  schema Mode\n    enum-changed  enum\n") < intended_at
    assert (
        "  path /v1/sessions\n    path-removed  (itself)  [R1]\n        ours GET, upstream (absent)"
        in text
    )
    assert "  path /v1/sessions/{id}\n    path-removed  (itself)  [R1]\n" in text
    assert (
        "  GET /v1/things/{id}\n    header-removed  responses.200.headers.retry-after  [R2]" in text
    )
    assert text.count("Sessions.") == 1  # two differences, one reason
    assert "Reasons:\n  [R1] Sessions.\n  [R2] Documented header.\n" in text


def test_groups_cover_operations_schemas_and_whole_paths() -> None:
    from reader_mock.drift.report import group_of

    assert group_of("paths./v1/jobs/{id}.get.responses.200") == (
        "GET /v1/jobs/{id}",
        "responses.200",
    )
    assert group_of("paths./v1/files.json.post") == ("POST /v1/files.json", "")
    assert group_of("paths./v1/queue/status") == ("path /v1/queue/status", "")
    assert group_of("components.schemas.Webhook.properties.url") == (
        "schema Webhook",
        "properties.url",
    )


def test_json_rendering() -> None:
    data = json.loads(_drifted().render_json())
    assert data["ok"] is False
    assert data["direction"].startswith("Kinds read from ours to upstream")
    assert data["summary"] == {
        "total": 4,
        "unintended": 1,
        "intended": 3,
        "reasons": 2,
        "staleEntries": 1,
    }
    assert data["unintended"] == [
        {
            "kind": "enum-changed",
            "location": "components.schemas.Mode.enum",
            "ours": '["standard"]',
            "upstream": '["standard", "premium"]',
            "added": ["premium"],
            "removed": [],
            "intended": False,
            "reason": None,
        }
    ]
    assert data["reasons"] == [
        {"id": 1, "text": "Sessions."},
        {"id": 2, "text": "Documented header."},
    ]
    assert [(g["name"], [d["reason"] for d in g["differences"]]) for g in data["groups"]] == [
        ("path /v1/sessions", [1]),
        ("path /v1/sessions/{id}", [1]),
        ("GET /v1/things/{id}", [2]),
        ("schema Mode", [None]),
    ]


# -- loading documents -----------------------------------------------------------------------------


def test_load_yaml_and_json_files(tmp_path: Path) -> None:
    as_yaml = tmp_path / "doc.yaml"
    as_yaml.write_text(yaml.safe_dump(_document()), encoding="utf-8")
    as_json = tmp_path / "doc.json"
    as_json.write_text(json.dumps(_document()), encoding="utf-8")
    assert load_openapi_source(as_yaml) == load_openapi_source(str(as_json)) == _document()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("openapi: 3.1.0\npaths: [unclosed\n", "neither JSON nor YAML"),
        ("- a\n- b\n", "top level is a list"),
        ('{"swagger": "2.0", "paths": {}}', "not an OpenAPI 3 document (no 'openapi' field)"),
        ("openapi: 3.1.0\npaths: 12\n", "'paths' must be a mapping"),
    ],
)
def test_bad_documents_are_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DocumentLoadError) as caught:
        load_openapi_source(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_unreadable_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(DocumentLoadError, match="no such file"):
        load_openapi_source(tmp_path / "absent.json")
    with pytest.raises(DocumentLoadError, match="is a directory"):
        load_openapi_source(tmp_path)
    binary = tmp_path / "doc.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DocumentLoadError, match="not UTF-8"):
        load_openapi_source(binary)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {}

    def do_GET(self) -> None:
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"nope"))
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def http_base() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving a few fixed documents."""
    _Handler.routes = {
        "/openapi.json": (200, "application/json", json.dumps(_document()).encode()),
        "/openapi.yaml": (200, "application/yaml", yaml.safe_dump(_document()).encode()),
        "/page.html": (200, "text/html", b"<html><body>Not a spec</body></html>"),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    # A short poll: shutdown() waits for it (half a second by default).
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_load_from_url(http_base: str) -> None:
    assert load_openapi_source(f"{http_base}/openapi.json") == _document()
    assert load_openapi_source(f"{http_base}/openapi.yaml") == _document()


def test_url_errors_are_clear(http_base: str) -> None:
    with pytest.raises(DocumentLoadError, match="server answered HTTP 404"):
        load_openapi_source(f"{http_base}/missing.json")
    with pytest.raises(DocumentLoadError, match="not an OpenAPI document"):
        load_openapi_source(f"{http_base}/page.html")


def test_url_timeout_is_clear() -> None:
    # A socket that listens but never answers: the kernel accepts the connection, nobody replies.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/openapi.json"
        with pytest.raises(DocumentLoadError, match=r"no answer within 0\.3 s"):
            load_openapi_source(url, timeout=0.3)


def test_cli_diff_on_small_documents(tmp_path: Path) -> None:
    ours = _document()
    ours["paths"]["/v1/queue/status"] = {"get": {"responses": {}}}
    ours_path = tmp_path / "ours.yaml"
    ours_path.write_text(yaml.safe_dump(ours), encoding="utf-8")
    upstream_path = tmp_path / "upstream.json"
    upstream_path.write_text(json.dumps(_document()), encoding="utf-8")
    intended_path = tmp_path / "intended.yaml"
    intended_path.write_text("[]\n", encoding="utf-8")
    args = [
        "contract", "diff", "--ours", str(ours_path), "--upstream", str(upstream_path),
        "--intended", str(intended_path),
    ]  # fmt: skip
    failing = CliRunner().invoke(main, args)
    assert failing.exit_code == 1, failing.output
    assert "  path /v1/queue/status\n    path-removed  (itself): ours GET" in failing.stdout
    assert "--details (or --format json)." in failing.stdout

    intended_path.write_text(
        "- location: paths./v1/queue/status\n  reason: Queue status is documented.\n",
        encoding="utf-8",
    )
    passing = CliRunner().invoke(main, [*args, "--format", "json"])
    assert passing.exit_code == 0, passing.output
    data = json.loads(passing.stdout)
    assert data["ok"] is True
    assert data["reasons"] == [{"id": 1, "text": "Queue status is documented."}]
    details = CliRunner().invoke(main, [*args, "--details"])
    assert details.exit_code == 0, details.output
    assert "  path /v1/queue/status\n    path-removed  (itself)  [R1]\n" in details.stdout


# -- the real check against the upstream contract --------------------------------------------------


def _require(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"upstream reference contract not available at {path}")
    return path


def test_openapi_yaml_matches_current_upstream_apart_from_intended_differences() -> None:
    upstream = _require(UPSTREAM_CURRENT)
    result = CliRunner().invoke(main, ["contract", "diff", "--upstream", str(upstream)])
    assert result.exit_code == 0, result.output
    assert "Intended differences (" in result.stdout
    assert "Result: OK, every difference is intended." in result.stdout
    # The default output is a summary that fits one screen and says where the details are.
    lines = result.stdout.splitlines()
    assert len(lines) <= 24, result.stdout
    assert all(len(line) <= 100 for line in lines if str(upstream) not in line)
    assert any("--details" in line for line in lines)

    as_json = CliRunner().invoke(
        main, ["contract", "diff", "--upstream", str(upstream), "--format", "json"]
    )
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["ok"] is True
    assert data["unintended"] == []
    intended = [d for group in data["groups"] for d in group["differences"]]
    assert intended, "the current generation adds endpoints upstream does not list"
    assert all(d["intended"] and d["reason"] for d in intended)
    reasons = [r["text"] for r in data["reasons"]]
    assert len(reasons) == len(set(reasons)) == data["summary"]["reasons"]
    # Each group appears once, and a component compared on its own is not repeated elsewhere.
    names = [g["name"] for g in data["groups"]]
    assert len(names) == len(set(names))
    webhook_name_bounds = [
        d["location"] for d in intended if d["location"].endswith("properties.name.maxLength")
    ]
    assert "components.schemas.Webhook.properties.name.maxLength" in webhook_name_bounds
    assert not any(loc.startswith("paths./v1/webhooks.post") for loc in webhook_name_bounds)
    # The added error codes are visible as members, not behind a cut rendering.
    error_codes = next(d for d in intended if d["location"] == "components.schemas.ErrorCode.enum")
    assert set(error_codes["removed"]) == {"session_not_found", "session_expired"}
    # Every entry of the intended file still documents a real difference.
    assert data["staleEntries"] == []


def test_the_conditions_of_pagination_and_read_urls_are_reported_when_undeclared() -> None:
    """``next`` exactly when ``hasMore``, and http(s) URLs with a host: both are conditions."""
    upstream = load_openapi_source(_require(UPSTREAM_CURRENT))
    shipped = load_intended_differences()
    without = IntendedDifferences(
        tuple(e for e in shipped.entries if e.kind != "condition-changed")
    )
    report = diff_openapi(load_openapi_source(REPO_ROOT / "openapi.yaml"), upstream, without)
    assert {(d.kind, d.location) for d in report.unintended} == {
        ("condition-changed", "components.schemas.Pagination.if"),
        ("condition-changed", "components.schemas.ReadRequest.properties.url.if"),
        ("condition-changed", "components.schemas.ReadRequest.properties.urls.items.if"),
    }
    pagination = next(d for d in report.unintended if "Pagination" in d.location)
    assert pagination.upstream is None
    assert pagination.ours is not None and '"then": {"required": ["next"]}' in pagination.ours
    text = report.render_text()
    assert "  schema Pagination\n    condition-changed  if: ours" in text
    assert "Result: FAILED, 3 unintended difference(s)." in text


def test_older_upstream_generation_is_reported_as_drift() -> None:
    upstream = _require(UPSTREAM_OLDER)
    result = CliRunner().invoke(
        main, ["contract", "diff", "--upstream", str(upstream), "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    unintended = {(d["kind"], d["location"]) for d in json.loads(result.stdout)["unintended"]}
    assert ("enum-changed", "components.schemas.ProxyMode.enum") in unintended
    assert ("enum-changed", "components.schemas.Credits.properties.tier.enum") in unintended


def _console_script() -> str:
    candidate = Path(sys.executable).with_name("reader-mock")
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("reader-mock")
    if found is None:
        pytest.skip("the reader-mock console script is not installed (pip install -e .)")
    return found


def test_console_script_runs_the_real_check(tmp_path: Path) -> None:
    upstream = _require(UPSTREAM_CURRENT)
    older = _require(UPSTREAM_OLDER)
    script = _console_script()
    env = {**os.environ, "NO_COLOR": "1"}
    ok = subprocess.run(
        [script, "contract", "diff", "--upstream", str(upstream)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Result: OK" in ok.stdout
    drift = subprocess.run(
        [script, "contract", "diff", "--upstream", str(older)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "  schema ProxyMode\n    enum-changed  enum: added stealth, auto; removed premium" in (
        drift.stdout
    )
    assert "Traceback" not in drift.stderr
