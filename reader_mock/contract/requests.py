"""Check a request's path parameters, query, headers and JSON body against ``openapi.yaml``.

:func:`check_request` returns the issues (``{path, code, message}``) the mock answers bad input
with, as ``invalid_request``. The issue codes and how parameter strings are converted:
docs/architecture.md, "Checking requests and streams against the contract".
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypedDict

from reader_mock._values import describe_value, json_type

from .documents import (
    OPENAPI_URI,
    ContractError,
    build_registry,
    contract_registry,
    escape_pointer_token,
    follow_local_refs,
    load_openapi,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing._core import Resolver

    from .schemas import Problem

__all__ = [
    "NO_BODY",
    "Issue",
    "RequestContract",
    "check_request",
    "default_request_contract",
    "find_operation_id",
]

_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_INTEGER: Final = re.compile(r"^[+-]?\d+$")
_NUMBER: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# OpenAPI says header parameters with these names are ignored: HTTP itself defines them.
_IGNORED_HEADERS: Final = frozenset({"accept", "content-type", "authorization"})
_SCALAR_TYPES: Final = frozenset({"null", "boolean", "integer", "number", "string"})
# Parameter values whose verdict is remembered, at most (then the memory starts again).
_MAX_REMEMBERED: Final = 4096


class Issue(TypedDict):
    """One entry of ``details.issues`` in an ``invalid_request`` error."""

    path: str
    code: str
    message: str


class _NoBody(enum.Enum):
    NO_BODY = "NO_BODY"


NO_BODY: Final = _NoBody.NO_BODY
"""Passed as ``body`` (the default) when the request has no body at all; ``None`` is JSON null."""


class _Parameter(NamedTuple):
    name: str
    location: Literal["path", "query", "header", "cookie"]
    required: bool
    validator: Draft202012Validator | None
    types: frozenset[str]
    item_types: frozenset[str] | None  # set when the schema is an array
    explode: bool


class _Operation(NamedTuple):
    operation_id: str
    method: str
    path: str
    parameters: tuple[_Parameter, ...]
    body: Draft202012Validator | None
    body_required: bool
    header_names: tuple[str, ...]
    """The lower-case names of the header parameters."""


class RequestContract:
    """The request rules of one OpenAPI document, indexed by ``operationId``.

    Each operation's validators are built the first time a request of it is checked, so a
    server's first request loads JSON Schema only if its operation has something to validate.
    The module-level functions use the shipped document through :func:`default_request_contract`;
    build a ``RequestContract`` to use another document.
    """

    def __init__(self, openapi: Mapping[str, Any] | None = None) -> None:
        self._shipped = openapi is None
        self._document: Mapping[str, Any] = load_openapi() if openapi is None else openapi
        self._registry_built: Registry[Any] | None = None
        self._found: dict[str, tuple[str, str, Mapping[str, Any], Mapping[str, Any]]] = {}
        self._operations: dict[str, _Operation] = {}
        self._checked: dict[tuple[str, str, str, tuple[str, ...] | None], list[Issue]] = {}
        self._requests: dict[tuple[object, ...], list[Issue]] = {}
        self._by_route: dict[tuple[str, str], str] = {}
        for path, path_item in self._document.get("paths", {}).items():
            self._index_path(path, path_item)

    @property
    def _registry(self) -> Registry[Any]:
        if self._registry_built is None:
            # Request schemas never refer to the AsyncAPI document.
            self._registry_built = (
                contract_registry() if self._shipped else build_registry(self._document, {})
            )
        return self._registry_built

    def _index_path(self, path: str, path_item: Any) -> None:
        if not isinstance(path_item, Mapping):
            return
        for method in _METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, Mapping):
                continue
            operation_id = operation.get("operationId")
            if not isinstance(operation_id, str):
                continue
            if operation_id in self._found:
                raise ContractError(f"openapi.yaml: operationId {operation_id!r} is used twice")
            self._found[operation_id] = (method, path, path_item, operation)
            self._by_route[(method.upper(), path)] = operation_id

    def _operation(self, operation_id: str) -> _Operation:
        """The checks of one operation, built on first use."""
        built = self._operations.get(operation_id)
        if built is not None:
            return built
        found = self._found.get(operation_id)
        if found is None:
            raise ContractError(f"openapi.yaml has no operation with operationId {operation_id!r}")
        method, path, path_item, operation = found
        path_pointer = f"/paths/{escape_pointer_token(path)}"
        pointer = f"{path_pointer}/{method}"
        parameters = self._parameters(path_item, path_pointer, operation, pointer)
        body, body_required = self._body(operation, pointer)
        built = _Operation(
            operation_id=operation_id,
            method=method.upper(),
            path=path,
            parameters=parameters,
            body=body,
            body_required=body_required,
            header_names=tuple(
                _parameter_key(parameter)
                for parameter in parameters
                if parameter.location == "header"
            ),
        )
        self._operations[operation_id] = built
        return built

    def _parameters(
        self,
        path_item: Mapping[str, Any],
        path_pointer: str,
        operation: Mapping[str, Any],
        pointer: str,
    ) -> tuple[_Parameter, ...]:
        # Operation-level parameters override path-level ones with the same name and location.
        found: dict[tuple[str, str], _Parameter] = {}
        for owner, owner_pointer in ((path_item, path_pointer), (operation, pointer)):
            for index, entry in enumerate(owner.get("parameters", [])):
                param_pointer, param = self._resolve(entry, f"{owner_pointer}/parameters/{index}")
                parameter = self._parameter(param, param_pointer)
                found[(parameter.location, parameter.name)] = parameter
        return tuple(found.values())

    def _parameter(self, param: Mapping[str, Any], pointer: str) -> _Parameter:
        name = param.get("name")
        location = param.get("in")
        if not isinstance(name, str) or location not in {"path", "query", "header", "cookie"}:
            raise ContractError(f"openapi.yaml: parameter at {pointer} needs a name and a location")
        validator = None
        types: frozenset[str] = frozenset()
        item_types = None
        if "schema" in param:
            from .schemas import validator_for

            uri = f"{OPENAPI_URI}#{pointer}/schema"
            validator = validator_for(uri, self._registry)
            resolved = self._registry.resolver().lookup(uri)
            types = _schema_types(resolved.contents, resolved.resolver)
            if "array" in types:
                item_types = _item_types(resolved.contents, resolved.resolver)
        style = param.get("style", "form" if location in {"query", "cookie"} else "simple")
        return _Parameter(
            name=name,
            location=location,
            required=bool(param.get("required", location == "path")),
            validator=validator,
            types=types,
            item_types=item_types,
            explode=bool(param.get("explode", style == "form")),
        )

    def _body(
        self, operation: Mapping[str, Any], pointer: str
    ) -> tuple[Draft202012Validator | None, bool]:
        if "requestBody" not in operation:
            return None, False
        body_pointer, request_body = self._resolve(
            operation["requestBody"], f"{pointer}/requestBody"
        )
        content = request_body.get("content", {})
        for media_type in content:
            if _is_json(media_type) and "schema" in content[media_type]:
                from .schemas import validator_for

                media = escape_pointer_token(media_type)
                uri = f"{OPENAPI_URI}#{body_pointer}/content/{media}/schema"
                return validator_for(uri, self._registry), bool(request_body.get("required"))
        return None, bool(request_body.get("required"))

    def _resolve(self, node: Any, pointer: str) -> tuple[str, Mapping[str, Any]]:
        """Follow local ``$ref``s (``#/components/...``) from ``node``, found at ``pointer``."""
        return follow_local_refs(self._document, node, pointer, name="openapi.yaml")

    def operation_ids(self) -> frozenset[str]:
        """Every ``operationId`` of the document."""
        return frozenset(self._found)

    def find_operation_id(self, method: str, path: str) -> str:
        """The ``operationId`` of ``method`` on the path template ``path`` (``/v1/jobs/{id}``).

        Raises:
            ContractError: no such operation, or it has no ``operationId``.
        """
        try:
            return self._by_route[(method.upper(), path)]
        except KeyError:
            raise ContractError(
                f"openapi.yaml has no operation {method.upper()} {path} with an operationId"
            ) from None

    def _checked_parameter(
        self, operation_id: str, parameter: _Parameter, values: Mapping[str, list[str]]
    ) -> list[Issue]:
        """:func:`_check_parameter`, remembered by value: clients send the same parameters over and
        over (an SDK polling one job), and a JSON Schema check costs far more than a lookup."""
        raw = values.get(_parameter_key(parameter))
        key = (
            operation_id,
            parameter.location,
            parameter.name,
            None if raw is None else tuple(raw),
        )
        known = self._checked.get(key)
        if known is None:
            known = _check_parameter(parameter, values)
            if len(self._checked) >= _MAX_REMEMBERED:
                self._checked.clear()
            self._checked[key] = known
        return [Issue(**issue) for issue in known]

    def check_request(
        self,
        operation_id: str,
        *,
        body: object = NO_BODY,
        query: Mapping[str, str | Sequence[str]] | None = None,
        path_params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[Issue]:
        """Check one request; an empty list means it is valid.

        Args:
            operation_id: the operation's ``operationId``.
            body: the decoded JSON body, or :data:`NO_BODY` when there is none.
            query: query parameters; a list holds the values of a repeated parameter.
            path_params: path parameters by name, as strings.
            headers: request headers (names are case-insensitive). Header parameters are checked
                only when ``headers`` is given.

        Raises:
            ContractError: ``operation_id`` is not in the document.
        """
        operation = self._operation(operation_id)
        if body is not NO_BODY:
            return self._check(operation, body, query, path_params, headers)
        # Without a body the verdict depends only on the values below: remembered whole, as an
        # SDK sends the same request over and over (polling one job).
        key = (
            operation_id,
            _frozen(path_params),
            _frozen(query),
            None if headers is None else _header_values(headers, operation.header_names),
        )
        known = self._requests.get(key)
        if known is None:
            known = self._check(operation, body, query, path_params, headers)
            if len(self._requests) >= _MAX_REMEMBERED:
                self._requests.clear()
            self._requests[key] = known
        return [Issue(**issue) for issue in known]

    def _check(
        self,
        operation: _Operation,
        body: object,
        query: Mapping[str, str | Sequence[str]] | None,
        path_params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> list[Issue]:
        operation_id = operation.operation_id
        issues: list[Issue] = []
        for location in ("path", "query", "header"):
            wanted = [
                parameter for parameter in operation.parameters if parameter.location == location
            ]
            if not wanted:
                continue  # nothing to convert: most operations have no header parameters
            if location == "header":
                if headers is None:
                    continue
                values = _lower_lists(headers)
            else:
                values = _as_lists((path_params if location == "path" else query) or {})
            for parameter in wanted:
                issues.extend(self._checked_parameter(operation_id, parameter, values))
        if operation.body is not None:
            if body is NO_BODY:
                if operation.body_required:
                    issues.append(
                        Issue(path="", code="required", message="A JSON body is required")
                    )
            else:
                from .schemas import find_problems

                issues.extend(_issues(find_problems(operation.body, body), prefix=""))
        return issues


def _frozen(values: Mapping[str, str | Sequence[str]] | None) -> tuple[object, ...]:
    """``values`` as a key: names with their value, or the tuple of a repeated one's values."""
    if not values:
        return ()
    return tuple(
        (name, value if isinstance(value, str) else tuple(str(item) for item in value))
        for name, value in values.items()
    )


def _header_values(headers: Mapping[str, str], names: tuple[str, ...]) -> tuple[object, ...]:
    """The values of the header parameters ``names`` in ``headers`` (any case) as a key."""
    if not names:
        return ()
    lowered = _lower_lists(headers)
    return tuple((name, tuple(lowered.get(name, ()))) for name in names)


def _parameter_key(parameter: _Parameter) -> str:
    return parameter.name.lower() if parameter.location == "header" else parameter.name


def _check_parameter(parameter: _Parameter, values: Mapping[str, list[str]]) -> list[Issue]:
    key = _parameter_key(parameter)
    if parameter.location == "header" and key in _IGNORED_HEADERS:
        return []
    raw = values.get(key)
    if raw is None:
        if parameter.required:
            return [
                Issue(path=parameter.name, code="required", message="Required parameter is missing")
            ]
        return []
    if parameter.item_types is not None:
        items = raw if parameter.explode else [part for value in raw for part in value.split(",")]
        converted: list[object] = []
        issues: list[Issue] = []
        for index, item in enumerate(items):
            value = _convert(item, parameter.item_types)
            if isinstance(value, _Unconvertible):
                issues.append(_type_issue(f"{parameter.name}.{index}", parameter.item_types, item))
            converted.append(value)
        if issues:
            return issues
        instance: object = converted
    else:
        if len(raw) > 1:
            return [
                Issue(
                    path=parameter.name,
                    code="invalid_type",
                    message=f"Expected a single value, got {len(raw)} values",
                )
            ]
        instance = _convert(raw[0], parameter.types)
        if isinstance(instance, _TooManyDigits):
            return [
                Issue(
                    path=parameter.name,
                    code="too_big",
                    message=f"Number has more than {_MAX_DIGITS} digits",
                )
            ]
        if isinstance(instance, _Unconvertible):
            return [_type_issue(parameter.name, parameter.types, raw[0])]
    if parameter.validator is None:
        return []
    from .schemas import find_problems

    return _issues(find_problems(parameter.validator, instance), prefix=parameter.name)


class _Unconvertible:
    """Marks a string that cannot become any of the types a parameter schema allows."""


class _TooManyDigits:
    """Marks a numeric string too long to convert (Python refuses very long int strings)."""


# Far beyond any bound in the contract, far below the interpreter's int-conversion limit.
_MAX_DIGITS = 100


def _convert(raw: str, types: frozenset[str]) -> object:
    """Turn a query/path/header string into the JSON value its schema asks for."""
    if types & {"integer", "number"} and _NUMBER.fullmatch(raw) and len(raw) > _MAX_DIGITS:
        return _TooManyDigits()
    if "integer" in types and _INTEGER.fullmatch(raw):
        return int(raw)
    if "number" in types and _NUMBER.fullmatch(raw):
        return int(raw) if _INTEGER.fullmatch(raw) else float(raw)
    if "boolean" in types and raw in {"true", "false"}:
        return raw == "true"
    if not types or "string" in types:
        return raw
    return _Unconvertible()


def _type_issue(path: str, types: frozenset[str], raw: str) -> Issue:
    expected = " or ".join(sorted(types - {"null"}) or sorted(types))
    return Issue(
        path=path,
        code="invalid_type",
        message=f"Expected {expected}, got {describe_value(raw)}",
    )


def _issues(problems: list[Problem], *, prefix: str) -> list[Issue]:
    return [
        Issue(path=problem.dotted(prefix), code=problem.code, message=_sentence(problem.detail))
        for problem in problems
    ]


def _sentence(detail: str) -> str:
    return detail[:1].upper() + detail[1:]


def _as_lists(values: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    return {
        name: [value] if isinstance(value, str) else [str(item) for item in value]
        for name, value in values.items()
    }


def _lower_lists(headers: Mapping[str, str]) -> dict[str, list[str]]:
    return {name.lower(): [value] for name, value in headers.items()}


def _is_json(media_type: str) -> bool:
    essence = media_type.split(";", 1)[0].strip().lower()
    return essence == "application/json" or essence.endswith("+json")


def _schema_types(schema: object, resolver: Resolver[Any], depth: int = 0) -> frozenset[str]:
    """The JSON types a schema admits, following ``$ref`` and composition (best effort)."""
    if depth > 16 or not isinstance(schema, Mapping):
        return frozenset()
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(str(name) for name in declared)
    if "const" in schema:
        return _value_types([schema["const"]])
    if isinstance(schema.get("enum"), list):
        return _value_types(schema["enum"])
    found: set[str] = set()
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = resolver.lookup(ref)
        found |= _schema_types(target.contents, target.resolver, depth + 1)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(keyword, []):
            found |= _schema_types(part, resolver, depth + 1)
    return frozenset(found)


def _item_types(schema: object, resolver: Resolver[Any], depth: int = 0) -> frozenset[str]:
    """The types allowed for the items of an array schema."""
    if depth > 16 or not isinstance(schema, Mapping):
        return frozenset()
    if "items" in schema:
        return _schema_types(schema["items"], resolver)
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = resolver.lookup(ref)
        return _item_types(target.contents, target.resolver, depth + 1)
    return frozenset()


def _value_types(values: Sequence[object]) -> frozenset[str]:
    return frozenset(kind for kind in map(json_type, values) if kind in _SCALAR_TYPES)


@functools.cache
def default_request_contract() -> RequestContract:
    """The :class:`RequestContract` of the shipped ``openapi.yaml`` (built once)."""
    return RequestContract()


def find_operation_id(method: str, path: str) -> str:
    """The ``operationId`` of ``method`` on the path template ``path`` in ``openapi.yaml``."""
    return default_request_contract().find_operation_id(method, path)


def check_request(
    operation_id: str,
    *,
    body: object = NO_BODY,
    query: Mapping[str, str | Sequence[str]] | None = None,
    path_params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[Issue]:
    """Check one request against ``openapi.yaml``; see :meth:`RequestContract.check_request`."""
    return default_request_contract().check_request(
        operation_id, body=body, query=query, path_params=path_params, headers=headers
    )
