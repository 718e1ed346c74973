"""openapi.yaml: a valid OpenAPI 3.1 document whose every example matches its schema.

Also covers how the contract documents are found and loaded: from the source checkout, from the
``_spec`` folder a wheel carries, from any working directory, and with clear errors for broken
files.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_openapi

import reader_mock
from reader_mock.contract import (
    OPENAPI_URI,
    ContractError,
    build_registry,
    contract_registry,
    load_openapi,
    load_yaml_document,
)
from reader_mock.contract.documents import escape_pointer_token, unescape_pointer_token
from reader_mock.contract.schemas import find_problems, validator_for

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Keywords whose values are schemas, and keywords whose values map names or list schemas.
SCHEMA_KEYWORDS = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "contentSchema",
)
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


@dataclass(frozen=True)
class ExampleCase:
    """One example value and the schema it must match, both as JSON pointers."""

    location: str
    schema: str
    value: Any


class ExampleCollector:
    """Walk an OpenAPI 3.1 document and collect every example with the schema it illustrates.

    Covered: ``example`` and ``examples`` of media types, parameters and headers (including
    ``examples`` entries that refer to ``components/examples``), and ``examples``/``example`` of
    every schema, nested ones included. Anything that cannot be checked (an ``externalValue``, an
    example with no schema next to it, a ``components/examples`` entry used nowhere) is reported
    as a problem rather than skipped.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.cases: dict[str, ExampleCase] = {}
        self.problems: list[str] = []
        self.used_examples: set[str] = set()

    def collect(self) -> ExampleCollector:
        for path, item in self.document.get("paths", {}).items():
            self.path_item(item, f"/paths/{escape_pointer_token(path)}")
        for name, item in self.document.get("webhooks", {}).items():
            self.path_item(item, f"/webhooks/{escape_pointer_token(name)}")
        components = self.document.get("components", {})
        handlers = {
            "schemas": self.schema,
            "responses": self.response,
            "parameters": self.parameter,
            "requestBodies": self.request_body,
            "headers": self.header,
            "pathItems": self.path_item,
        }
        for section, handler in handlers.items():
            for name, node in components.get(section, {}).items():
                handler(node, f"/components/{section}/{escape_pointer_token(name)}")
        for name in components.get("examples", {}):
            pointer = f"/components/examples/{escape_pointer_token(name)}"
            if pointer not in self.used_examples:
                self.problems.append(f"{pointer}: referenced nowhere, so no schema checks it")
        return self

    def resolve(self, node: Any, pointer: str) -> tuple[str, Any]:
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/"):
                self.problems.append(f"{pointer}: cannot follow {ref}")
                return pointer, {}
            pointer, node = ref[1:], self.document
            for token in pointer.split("/")[1:]:
                token = unescape_pointer_token(token)
                if not isinstance(node, Mapping) or token not in node:
                    self.problems.append(f"{pointer}: {ref} does not resolve")
                    return pointer, {}
                node = node[token]
        return pointer, node

    def path_item(self, node: Any, pointer: str) -> None:
        pointer, item = self.resolve(node, pointer)
        for index, parameter in enumerate(item.get("parameters", [])):
            self.parameter(parameter, f"{pointer}/parameters/{index}")
        for method in METHODS:
            if method in item:
                self.operation(item[method], f"{pointer}/{method}")

    def operation(self, operation: Mapping[str, Any], pointer: str) -> None:
        for index, parameter in enumerate(operation.get("parameters", [])):
            self.parameter(parameter, f"{pointer}/parameters/{index}")
        if "requestBody" in operation:
            self.request_body(operation["requestBody"], f"{pointer}/requestBody")
        for status, response in operation.get("responses", {}).items():
            self.response(response, f"{pointer}/responses/{escape_pointer_token(status)}")
        for name, callback in operation.get("callbacks", {}).items():
            for expression, item in callback.items():
                self.path_item(
                    item,
                    f"{pointer}/callbacks/{escape_pointer_token(name)}/{escape_pointer_token(expression)}",
                )

    def parameter(self, node: Any, pointer: str) -> None:
        pointer, parameter = self.resolve(node, pointer)
        self.holder(parameter, pointer)

    def header(self, node: Any, pointer: str) -> None:
        pointer, header = self.resolve(node, pointer)
        self.holder(header, pointer)

    def request_body(self, node: Any, pointer: str) -> None:
        pointer, body = self.resolve(node, pointer)
        self.content(body, pointer)

    def response(self, node: Any, pointer: str) -> None:
        pointer, response = self.resolve(node, pointer)
        for name, header in response.get("headers", {}).items():
            self.header(header, f"{pointer}/headers/{escape_pointer_token(name)}")
        self.content(response, pointer)

    def content(self, owner: Mapping[str, Any], pointer: str) -> None:
        for media_type, media in owner.get("content", {}).items():
            media_pointer = f"{pointer}/content/{escape_pointer_token(media_type)}"
            self.holder(media, media_pointer)
            for name, encoding in media.get("encoding", {}).items():
                for header_name, header in encoding.get("headers", {}).items():
                    self.header(
                        header,
                        f"{media_pointer}/encoding/{escape_pointer_token(name)}/headers/{escape_pointer_token(header_name)}",
                    )

    def holder(self, holder: Mapping[str, Any], pointer: str) -> None:
        """A media type, parameter or header: its schema and its example(s)."""
        if "content" in holder:  # a parameter or header described by a media type
            self.content(holder, pointer)
        has_examples = "example" in holder or "examples" in holder
        if "schema" not in holder:
            if has_examples:
                self.problems.append(f"{pointer}: has an example but no schema to check it")
            return
        schema_pointer = f"{pointer}/schema"
        self.schema(holder["schema"], schema_pointer)
        if "example" in holder:
            self.add(f"{pointer}/example", schema_pointer, holder["example"])
        for name, entry in holder.get("examples", {}).items():
            entry_pointer, example = self.resolve(
                entry, f"{pointer}/examples/{escape_pointer_token(name)}"
            )
            self.used_examples.add(entry_pointer)
            if "externalValue" in example:
                self.problems.append(f"{entry_pointer}: externalValue cannot be checked")
            elif "value" in example:
                self.add(f"{entry_pointer}/value", schema_pointer, example["value"])
            else:
                self.problems.append(f"{entry_pointer}: example object without a value")

    def schema(self, schema: Any, pointer: str) -> None:
        if not isinstance(schema, Mapping):
            return
        examples = schema.get("examples", [])
        if not isinstance(examples, list):
            self.problems.append(f"{pointer}/examples: must be a list in a schema")
            examples = []
        for index, value in enumerate(examples):
            self.add(f"{pointer}/examples/{index}", pointer, value)
        if "example" in schema:
            self.add(f"{pointer}/example", pointer, schema["example"])
        for keyword in SCHEMA_KEYWORDS:
            if keyword in schema:
                self.schema(schema[keyword], f"{pointer}/{keyword}")
        for keyword in SCHEMA_MAPS:
            for name, sub in schema.get(keyword, {}).items():
                self.schema(sub, f"{pointer}/{keyword}/{escape_pointer_token(name)}")
        for keyword in SCHEMA_LISTS:
            for index, sub in enumerate(schema.get(keyword, [])):
                self.schema(sub, f"{pointer}/{keyword}/{index}")

    def add(self, location: str, schema: str, value: Any) -> None:
        self.cases.setdefault(location, ExampleCase(location, schema, value))


def example_failures(document: Mapping[str, Any], registry: Any) -> list[str]:
    """Every example that does not match its schema, and everything that could not be checked."""
    collector = ExampleCollector(document).collect()
    failures = list(collector.problems)
    for case in collector.cases.values():
        validator = validator_for(f"{OPENAPI_URI}#{case.schema}", registry)
        for problem in find_problems(validator, case.value):
            where = problem.dotted() or "(the example itself)"
            failures.append(f"{case.location}: {where}: {problem.detail}")
    return failures


def test_openapi_is_a_valid_openapi_31_document() -> None:
    document = load_openapi()
    assert str(document.get("openapi", "")).startswith("3.1")
    validate_openapi(copy.deepcopy(document))


def test_every_example_matches_its_schema() -> None:
    document = load_openapi()
    collector = ExampleCollector(document).collect()
    assert any("/content/" in location for location in collector.cases), "no media examples"
    assert any(location.startswith("/components/schemas/") for location in collector.cases), (
        "no schema examples"
    )
    assert example_failures(document, contract_registry()) == []


BROKEN_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "examples", "version": "1"},
    "paths": {
        "/items/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "get": {
                "parameters": [
                    {"$ref": "#/components/parameters/Limit"},
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "string", "minLength": 2},
                        "examples": {"short": {"value": "x"}, "fine": {"value": "xyz"}},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {
                            "X-Count": {"schema": {"type": "integer"}, "example": "many"},
                        },
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Item"},
                                "example": {"id": 1, "name": 5},
                                "examples": {
                                    "good": {"value": {"id": 2, "name": "two"}},
                                    "shared": {"$ref": "#/components/examples/BadItem"},
                                    "remote": {"externalValue": "https://example.com/item.json"},
                                },
                            }
                        },
                    }
                },
            },
        }
    },
    "components": {
        "parameters": {
            "Limit": {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "maximum": 100},
                "example": 500,
            }
        },
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer", "examples": [1, "one"]},
                    "name": {"type": "string", "example": "fine"},
                    "tags": {"type": "array", "items": {"type": "string", "examples": [3]}},
                },
                "examples": [{"id": 3}, {"name": "no id"}],
            }
        },
        "examples": {
            "BadItem": {"value": {"id": "seven"}},
            "Unused": {"value": {"id": 8}},
        },
    },
}


def test_collector_finds_every_broken_example() -> None:
    registry = build_registry(BROKEN_DOCUMENT, {})
    failures = example_failures(BROKEN_DOCUMENT, registry)
    assert sorted(failures) == sorted(
        [
            "/components/examples/Unused: referenced nowhere, so no schema checks it",
            "/paths/~1items~1{id}/get/responses/200/content/application~1json/examples/remote: "
            "externalValue cannot be checked",
            "/paths/~1items~1{id}/get/parameters/1/examples/short/value: (the example itself): "
            "expected at least 2 characters, got 1",
            "/paths/~1items~1{id}/get/responses/200/headers/X-Count/example: "
            '(the example itself): expected integer, got string "many"',
            "/paths/~1items~1{id}/get/responses/200/content/application~1json/example: name: "
            "expected string, got integer 5",
            '/components/examples/BadItem/value: id: expected integer, got string "seven"',
            "/components/parameters/Limit/example: (the example itself): "
            "expected a number <= 100, got integer 500",
            "/components/schemas/Item/examples/1: id: required field is missing",
            "/components/schemas/Item/properties/id/examples/1: (the example itself): "
            'expected integer, got string "one"',
            "/components/schemas/Item/properties/tags/items/examples/0: (the example itself): "
            "expected string, got integer 3",
        ]
    )


def test_collector_passes_a_document_with_good_examples() -> None:
    document = copy.deepcopy(BROKEN_DOCUMENT)
    get = document["paths"]["/items/{id}"]["get"]
    get["parameters"][1]["examples"].pop("short")
    response = get["responses"]["200"]
    response["headers"]["X-Count"]["example"] = 3
    media = response["content"]["application/json"]
    media["example"] = {"id": 1, "name": "one"}
    media["examples"].pop("remote")
    components = document["components"]
    components["examples"] = {"BadItem": {"value": {"id": 7}}}
    components["parameters"]["Limit"]["example"] = 50
    item = components["schemas"]["Item"]
    item["examples"] = [{"id": 3}]
    item["properties"]["id"]["examples"] = [1]
    item["properties"]["tags"]["items"]["examples"] = ["a"]
    collector = ExampleCollector(document).collect()
    assert len(collector.cases) == 10
    assert example_failures(document, build_registry(document, {})) == []


# Loading the documents ---------------------------------------------------------------------


def test_yaml_loading_keeps_json_types(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text("responses:\n  200: {at: 2026-04-04T12:00:00Z, day: 2026-04-04}\n")
    assert load_yaml_document(path) == {
        "responses": {"200": {"at": "2026-04-04T12:00:00Z", "day": "2026-04-04"}}
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "contract document not found"),
        ("", "expected a YAML mapping at the top level, found an empty file"),
        ("- a\n- b\n", "expected a YAML mapping at the top level, found a list"),
        ("a: [1, 2\n", "not valid YAML at line 2, column 1"),
        ("a: b\n\tc: d\n", "not valid YAML at line 2"),
    ],
    ids=["missing", "empty", "list", "unclosed", "tab"],
)
def test_broken_documents_raise_contract_errors(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "openapi.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ContractError) as caught:
        load_yaml_document(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


_PROBE = """
import json
from reader_mock.contract import (
    Channel, asyncapi_path, event_names, load_openapi, openapi_path, spec_root, stream_rules,
    check_event,
)
print(json.dumps({
    "root": str(spec_root()),
    "openapi": str(openapi_path()),
    "asyncapi": str(asyncapi_path()),
    "paths": len(load_openapi()["paths"]),
    "job": sorted(event_names(Channel.JOB)),
    "ping": stream_rules(Channel.WORKSPACE).keep_alive_interval_seconds,
    "violations": [v.message for v in check_event("workspace", "job:failed", {"error": "x"})],
}))
"""


def _probe(import_root: Path, cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(import_root)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe: dict[str, Any] = json.loads(result.stdout)
    return probe


def test_contract_loads_from_another_working_directory(tmp_path: Path, repo_root: Path) -> None:
    package_parent = Path(reader_mock.__file__).resolve().parents[1]
    probe = _probe(package_parent, cwd=tmp_path)
    assert Path(probe["openapi"]).is_file()
    assert Path(probe["asyncapi"]) == Path(probe["root"]) / "contracts" / "asyncapi.yaml"
    assert probe["paths"] == len(load_openapi()["paths"])
    assert probe["job"] == ["done", "error", "page", "progress"]
    assert probe["ping"] == 30
    assert probe["violations"] == ["data.jobId: required field is missing"]


def test_contract_loads_from_the_packaged_spec_folder(tmp_path: Path, repo_root: Path) -> None:
    # The layout a wheel installs: the documents inside reader_mock/_spec, no repository around.
    site = tmp_path / "site"
    package = site / "reader_mock"
    shutil.copytree(
        Path(reader_mock.__file__).resolve().parent,
        package,
        ignore=shutil.ignore_patterns("__pycache__", "_spec"),
    )
    spec = package / "_spec"
    (spec / "contracts").mkdir(parents=True)
    shutil.copy(repo_root / "openapi.yaml", spec / "openapi.yaml")
    shutil.copy(repo_root / "contracts" / "asyncapi.yaml", spec / "contracts" / "asyncapi.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = _probe(site, cwd=elsewhere)
    assert Path(probe["root"]) == spec
    assert probe["job"] == ["done", "error", "page", "progress"]


def test_missing_documents_are_reported(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(
        Path(reader_mock.__file__).resolve().parent,
        site / "reader_mock",
        ignore=shutil.ignore_patterns("__pycache__", "_spec"),
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "from reader_mock.contract import ContractError, load_openapi\n"
        "try:\n    load_openapi()\nexcept ContractError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the contract documents were not found: no openapi.yaml in ")
    assert str(site / "reader_mock" / "_spec") in result.stdout
