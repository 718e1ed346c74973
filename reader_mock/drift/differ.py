"""Compare two OpenAPI documents, structurally, and mark the intended differences.

The comparison covers paths, methods, parameters, request bodies, responses (per status code,
media type and header) and component schemas, with every JSON Schema keyword that can change what
a document accepts. Local ``$ref`` pointers are followed; a component both sides define is
compared once, under ``components.schemas.<Name>``, instead of at every place that uses it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar
from urllib.parse import unquote

from reader_mock._yaml import string_keys
from reader_mock.contract.documents import unescape_pointer_token

from .differences import Difference
from .intended import IntendedDifferences
from .report import DriftReport

__all__ = ["diff_openapi"]

_K = TypeVar("_K")

_HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_BOUND_KEYWORDS: Final = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
#: Keywords whose value is one subschema (or a boolean schema).
_SUBSCHEMA_KEYWORDS: Final = (
    "items",
    "additionalItems",
    "contains",
    "not",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)
#: Keywords whose value maps names (or patterns) to subschemas.
_SCHEMA_MAP_KEYWORDS: Final = ("patternProperties", "dependentSchemas")
#: The conditional keywords, compared together.
_CONDITIONAL: Final = ("if", "then", "else")
_COMPOSITIONS: Final = ("allOf", "anyOf", "oneOf")
_SCHEMA_COMPONENT_PREFIX: Final = "#/components/schemas/"
_MAX_REF_HOPS: Final = 32
_MAX_SCHEMA_DEPTH: Final = 64
_MAX_RENDER: Final = 120


def diff_openapi(
    ours: Mapping[str, Any],
    upstream: Mapping[str, Any],
    intended: IntendedDifferences | None = None,
    *,
    ours_source: str = "ours",
    upstream_source: str = "upstream",
) -> DriftReport:
    """List every difference between two parsed OpenAPI documents.

    Differences covered by an entry of ``intended`` are marked ``intended`` with the entry's reason;
    entries that cover nothing are returned as ``stale_entries``. The result is sorted by location.
    """
    differ = _Differ(string_keys(ours), string_keys(upstream))
    found = sorted(set(differ.run()), key=lambda d: (d.location, d.kind))
    found = _without_repeats(found, differ.aliases)
    marked: list[Difference] = []
    used: set[int] = set()
    for diff in found:
        entry = intended.match(diff) if intended is not None else None
        if entry is None:
            marked.append(diff)
            continue
        used.add(id(entry))
        marked.append(dataclasses.replace(diff, intended=True, reason=entry.reason))
    stale = tuple(e for e in intended.entries if id(e) not in used) if intended else ()
    return DriftReport(tuple(marked), stale, ours_source, upstream_source)


class _Document:
    """One side of the comparison: a parsed document and its local ``$ref`` resolution."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def lookup(self, ref: str) -> Any:
        """Follow a local JSON pointer; None when it is remote or points nowhere."""
        if not ref.startswith("#"):
            return None
        node: Any = self.data
        pointer = ref[1:]
        if not pointer:
            return node
        for token in pointer.lstrip("/").split("/"):
            key = unescape_pointer_token(unquote(token))
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return None
        return node

    def resolve(self, node: Any) -> Any:
        """Replace a ``$ref`` node by its target (siblings of ``$ref`` win), following chains.

        An unresolvable reference is returned as is, so the caller still sees the ``$ref`` string.
        """
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or len(seen) >= _MAX_REF_HOPS:
                return node
            seen.add(ref)
            target = self.lookup(ref)
            if not isinstance(target, Mapping):
                return node
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings}
        return node

    def resolve_mapping(self, node: Any) -> Mapping[str, Any] | None:
        resolved = self.resolve(node)
        return resolved if isinstance(resolved, Mapping) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ref(node: Any) -> str | None:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return ref
    return None


def _render(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= _MAX_RENDER else text[: _MAX_RENDER - 1] + "…"


def _summary(node: Any) -> str:
    """A one-glance rendering of a schema, parameter, response or operation."""
    ref = _ref(node)
    if ref is not None:
        return f"$ref {ref}"
    if isinstance(node, Mapping) and isinstance(node.get("type"), str):
        fmt = node.get("format")
        return f"{node['type']} ({fmt})" if isinstance(fmt, str) else str(node["type"])
    if isinstance(node, Mapping) and isinstance(node.get("type"), list):
        return _render(node["type"])
    return _render(node)


def _is_null_schema(node: Any) -> bool:
    if not isinstance(node, Mapping):
        return False
    kind = node.get("type")
    return kind == "null" or kind == ["null"]


_ANNOTATIONS: Final = frozenset(
    {
        "description",
        "title",
        "example",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "externalDocs",
        "$comment",
        "xml",
    }
)


def _meaningful_keys(node: Mapping[str, Any]) -> set[str]:
    return {k for k in node if k not in _ANNOTATIONS and not k.startswith("x-")}


def _unwrap(node: Any) -> tuple[Any, bool]:
    """Strip the wrappers that only add nullability or a description around one schema.

    ``anyOf``/``oneOf`` of one schema and ``{type: null}`` becomes that schema, nullable;
    ``allOf`` of a single schema becomes that schema.
    """
    nullable = False
    for _ in range(_MAX_REF_HOPS):
        if not isinstance(node, Mapping):
            break
        keys = _meaningful_keys(node)
        unwrapped = False
        for keyword in ("anyOf", "oneOf"):
            branches = node.get(keyword)
            if keys == {keyword} and isinstance(branches, list) and len(branches) == 2:
                others = [b for b in branches if not _is_null_schema(b)]
                if len(others) == 1:
                    node, nullable, unwrapped = others[0], True, True
                    break
        if not unwrapped:
            branches = node.get("allOf")
            if keys == {"allOf"} and isinstance(branches, list) and len(branches) == 1:
                node, unwrapped = branches[0], True
        if not unwrapped:
            break
    return node, nullable


def _all_of(node: Any) -> list[Any] | None:
    """The branches of a schema that is only an ``allOf`` (annotations aside), else None."""
    if not isinstance(node, Mapping):
        return None
    branches = node.get("allOf")
    if _meaningful_keys(node) == {"allOf"} and isinstance(branches, list) and len(branches) > 1:
        return branches
    return None


def _types(node: Mapping[str, Any]) -> frozenset[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list):
        return frozenset(str(k) for k in kind)
    return frozenset()


def _nullable(node: Mapping[str, Any]) -> bool:
    enum = node.get("enum")
    return (
        "null" in _types(node)
        or node.get("nullable") is True
        or (isinstance(enum, list) and None in enum and len(enum) > 1)
    )


def _enum_values(node: Mapping[str, Any]) -> list[Any] | None:
    enum = node.get("enum")
    if "const" in node and not isinstance(enum, list):
        # `const: x` and `enum: [x]` allow the same single value.
        return [node["const"]]
    if not isinstance(enum, list):
        return None
    # null in an enum is nullability, compared separately.
    return [v for v in enum if v is not None] if len(enum) > 1 else list(enum)


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _additional(node: Mapping[str, Any]) -> Any:
    # Absent, true and {} all allow any extra property.
    value = node.get("additionalProperties", True)
    if value == {}:
        return True
    return value


class _Differ:
    def __init__(self, ours: Mapping[str, Any], upstream: Mapping[str, Any]) -> None:
        self.ours = _Document(ours)
        self.upstream = _Document(upstream)
        self.found: list[Difference] = []
        #: Locations whose schema is, on one side, a component compared on its own (location ->
        #: ``components.schemas.<Name>``): a difference found at both is reported once.
        self.aliases: dict[str, list[str]] = {}

    def run(self) -> list[Difference]:
        self._paths()
        self._component_schemas()
        return self.found

    def _add(
        self,
        kind: str,
        location: str,
        ours: str | None,
        upstream: str | None,
        *,
        added: Iterable[Any] = (),
        removed: Iterable[Any] = (),
    ) -> None:
        self.found.append(
            Difference(
                kind,
                location,
                ours,
                upstream,
                added=tuple(_member(v) for v in added),
                removed=tuple(_member(v) for v in removed),
            )
        )

    # -- paths and operations ---------------------------------------------------------------------

    def _paths(self) -> None:
        ours_paths = _mapping(self.ours.data.get("paths"))
        up_paths = _mapping(self.upstream.data.get("paths"))
        # Paths match by template shape, so `/jobs/{id}` and `/jobs/{jobId}` are one path whose
        # parameter names differ (reported as parameter differences).
        ours_index = {_template_key(p): p for p in ours_paths}
        up_index = {_template_key(p): p for p in up_paths}
        for key, up_path in up_index.items():
            location = f"paths.{up_path}"
            ours_path = ours_index.get(key)
            if ours_path is None:
                self._add("path-added", location, None, _methods(up_paths[up_path]))
            else:
                self._path_item(ours_paths[ours_path], up_paths[up_path], location)
        for key, ours_path in ours_index.items():
            if key not in up_index:
                self._add(
                    "path-removed", f"paths.{ours_path}", _methods(ours_paths[ours_path]), None
                )

    def _path_item(self, ours_raw: Any, up_raw: Any, location: str) -> None:
        ours_item = self.ours.resolve_mapping(ours_raw) or {}
        up_item = self.upstream.resolve_mapping(up_raw) or {}
        for method in _HTTP_METHODS:
            here = f"{location}.{method}"
            in_ours, in_up = method in ours_item, method in up_item
            if in_ours and not in_up:
                self._add("method-removed", here, method.upper(), None)
            elif in_up and not in_ours:
                self._add("method-added", here, None, method.upper())
            elif in_ours and in_up:
                self._operation(ours_item, up_item, method, here)

    def _operation(
        self, ours_item: Mapping[str, Any], up_item: Mapping[str, Any], method: str, location: str
    ) -> None:
        ours_op = _mapping(self.ours.resolve(ours_item[method]))
        up_op = _mapping(self.upstream.resolve(up_item[method]))
        self._parameters(
            self._effective_parameters(self.ours, ours_item, ours_op),
            self._effective_parameters(self.upstream, up_item, up_op),
            location,
        )
        self._request_body(ours_op.get("requestBody"), up_op.get("requestBody"), location)
        self._responses(
            _mapping(ours_op.get("responses")), _mapping(up_op.get("responses")), location
        )
        ours_security = _security(ours_op.get("security", self.ours.data.get("security")))
        up_security = _security(up_op.get("security", self.upstream.data.get("security")))
        if ours_security != up_security:
            self._add(
                "security-changed",
                f"{location}.security",
                _render_security(ours_security),
                _render_security(up_security),
            )

    @staticmethod
    def _effective_parameters(
        doc: _Document, item: Mapping[str, Any], op: Mapping[str, Any]
    ) -> dict[tuple[str, str], Mapping[str, Any]]:
        params: dict[tuple[str, str], Mapping[str, Any]] = {}
        # Operation-level parameters override path-level ones with the same name and location.
        for source in (item.get("parameters"), op.get("parameters")):
            if not isinstance(source, list):
                continue
            for raw in source:
                param = doc.resolve_mapping(raw)
                if param is None:
                    continue
                where, name = param.get("in"), param.get("name")
                if not isinstance(where, str) or not isinstance(name, str):
                    continue
                params[(where, name.lower() if where == "header" else name)] = param
        return params

    def _parameters(
        self,
        ours: dict[tuple[str, str], Mapping[str, Any]],
        upstream: dict[tuple[str, str], Mapping[str, Any]],
        location: str,
    ) -> None:
        for key in _keys_of_both(upstream, ours):
            where, name = key
            here = f"{location}.parameters.{where}.{name}"
            if key not in ours:
                self._add("parameter-added", here, None, _summary(upstream[key].get("schema")))
                continue
            if key not in upstream:
                self._add("parameter-removed", here, _summary(ours[key].get("schema")), None)
                continue
            ours_req, up_req = _param_required(ours[key]), _param_required(upstream[key])
            if ours_req != up_req:
                self._add(
                    "parameter-changed", f"{here}.required", _render(ours_req), _render(up_req)
                )
            self._schema(ours[key].get("schema"), upstream[key].get("schema"), f"{here}.schema")

    def _request_body(self, ours_raw: Any, up_raw: Any, location: str) -> None:
        here = f"{location}.requestBody"
        ours_body = self.ours.resolve_mapping(ours_raw)
        up_body = self.upstream.resolve_mapping(up_raw)
        if ours_body is None and up_body is None:
            return
        if up_body is None:
            self._add("request-body-removed", here, _media_types(ours_body), None)
            return
        if ours_body is None:
            self._add("request-body-added", here, None, _media_types(up_body))
            return
        ours_req, up_req = ours_body.get("required") is True, up_body.get("required") is True
        if ours_req != up_req:
            self._add(
                "request-body-changed", f"{here}.required", _render(ours_req), _render(up_req)
            )
        self._content(ours_body, up_body, here)

    def _responses(
        self, ours: Mapping[str, Any], upstream: Mapping[str, Any], location: str
    ) -> None:
        for code in _keys_of_both(upstream, ours):
            here = f"{location}.responses.{code}"
            if code not in ours:
                self._add("response-added", here, None, _media_types(upstream[code]))
                continue
            if code not in upstream:
                self._add("response-removed", here, _media_types(ours[code]), None)
                continue
            ours_resp = self.ours.resolve_mapping(ours[code]) or {}
            up_resp = self.upstream.resolve_mapping(upstream[code]) or {}
            self._content(ours_resp, up_resp, here)
            self._headers(
                _mapping(ours_resp.get("headers")), _mapping(up_resp.get("headers")), here
            )

    def _content(self, ours: Mapping[str, Any], upstream: Mapping[str, Any], location: str) -> None:
        ours_content, up_content = _mapping(ours.get("content")), _mapping(upstream.get("content"))
        for media in _keys_of_both(up_content, ours_content):
            here = f"{location}.{media}"
            if media not in ours_content:
                self._add("media-type-added", here, None, media)
            elif media not in up_content:
                self._add("media-type-removed", here, media, None)
            else:
                self._schema(
                    _mapping(ours_content[media]).get("schema"),
                    _mapping(up_content[media]).get("schema"),
                    here,
                )

    def _headers(
        self, ours_raw: Mapping[str, Any], up_raw: Mapping[str, Any], location: str
    ) -> None:
        ours = {name.lower(): value for name, value in ours_raw.items()}
        upstream = {name.lower(): value for name, value in up_raw.items()}
        for name in _keys_of_both(upstream, ours):
            here = f"{location}.headers.{name}"
            if name not in ours:
                self._add("header-added", here, None, name)
                continue
            if name not in upstream:
                self._add("header-removed", here, name, None)
                continue
            ours_header = self.ours.resolve_mapping(ours[name]) or {}
            up_header = self.upstream.resolve_mapping(upstream[name]) or {}
            ours_req, up_req = (
                ours_header.get("required") is True,
                up_header.get("required") is True,
            )
            if ours_req != up_req:
                self._add("header-changed", f"{here}.required", _render(ours_req), _render(up_req))
            self._schema(ours_header.get("schema"), up_header.get("schema"), f"{here}.schema")

    # -- schemas ----------------------------------------------------------------------------------

    def _component_schemas(self) -> None:
        ours = _mapping(_mapping(self.ours.data.get("components")).get("schemas"))
        upstream = _mapping(_mapping(self.upstream.data.get("components")).get("schemas"))
        for name in _keys_of_both(upstream, ours):
            here = f"components.schemas.{name}"
            if name not in ours:
                self._add("component-added", here, None, _summary(upstream[name]))
            elif name not in upstream:
                self._add("component-removed", here, _summary(ours[name]), None)
            else:
                self._schema(ours[name], upstream[name], here)

    def _shared_component(self, ref: str) -> bool:
        """Both documents define this component schema, so it is compared under components."""
        return (
            ref.startswith(_SCHEMA_COMPONENT_PREFIX)
            and "/" not in ref[len(_SCHEMA_COMPONENT_PREFIX) :]
            and self.ours.lookup(ref) is not None
            and self.upstream.lookup(ref) is not None
        )

    def _schema(
        self,
        ours_raw: Any,
        up_raw: Any,
        location: str,
        stack: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        if len(stack) > _MAX_SCHEMA_DEPTH:
            return
        ours_node, ours_wrapped_null = _unwrap(ours_raw)
        up_node, up_wrapped_null = _unwrap(up_raw)
        if self._refinement((ours_node, ours_wrapped_null), (up_node, up_wrapped_null), location):
            return
        ours_ref, up_ref = _ref(ours_node), _ref(up_node)
        if ours_ref is not None and ours_ref == up_ref and self._shared_component(ours_ref):
            if ours_wrapped_null != up_wrapped_null:
                self._nullable_changed(location, ours_wrapped_null, up_wrapped_null)
            return
        if ours_ref is not None and up_ref is not None and ours_ref != up_ref:
            self._add("ref-changed", f"{location}.$ref", ours_ref, up_ref)
            for ref in (ours_ref, up_ref):
                if self._shared_component(ref):
                    component = "components.schemas." + ref[len(_SCHEMA_COMPONENT_PREFIX) :]
                    self.aliases.setdefault(location, []).append(component)
        if ours_ref is not None or up_ref is not None:
            # Cycle protection: a pair of references already being compared higher up stops here.
            pair = (ours_ref or "", up_ref or "")
            if pair in stack:
                return
            stack = stack | {pair}
        ours = self.ours.resolve(ours_node)
        upstream = self.upstream.resolve(up_node)
        if not isinstance(ours, Mapping) or not isinstance(upstream, Mapping):
            if _json_key(ours) != _json_key(upstream):
                self._add(
                    "schema-changed",
                    location,
                    None if ours is None else _summary(ours),
                    None if upstream is None else _summary(upstream),
                )
            return
        ours_null = ours_wrapped_null or _nullable(ours)
        up_null = up_wrapped_null or _nullable(upstream)
        if ours_null != up_null:
            self._nullable_changed(location, ours_null, up_null)
        self._keywords(ours, upstream, location, stack)

    def _refinement(
        self, ours: tuple[Any, bool], upstream: tuple[Any, bool], location: str
    ) -> bool:
        """Report ``allOf: [<the other side's schema>, <more constraints>]`` as one difference.

        That is how a document narrows a shared schema for one use (an error envelope whose
        ``error`` is the one code a status can carry); the added constraints have no upstream
        counterpart to compare with, and the shared part is equal by construction.
        """
        for (narrower, narrower_null), (wider, wider_null), kind in (
            (ours, upstream, "schema-widened"),
            (upstream, ours, "schema-narrowed"),
        ):
            branches = _all_of(narrower)
            if branches is None or _all_of(wider) is not None or wider is None:
                continue
            wider_key = _json_key(wider)
            if not any(_json_key(branch) == wider_key for branch in branches):
                continue
            extra = len(branches) - 1
            narrow_text = f"allOf: {_summary(wider)} + {extra} more schema(s)"
            narrow_text += " or null" if narrower_null else ""
            wide_text = _summary(wider) + (" or null" if wider_null else "")
            if kind == "schema-widened":
                self._add(kind, f"{location}.allOf", narrow_text, wide_text)
            else:
                self._add(kind, f"{location}.allOf", wide_text, narrow_text)
            return True
        return False

    def _nullable_changed(self, location: str, ours: bool, upstream: bool) -> None:
        def word(flag: bool) -> str:
            return "nullable" if flag else "not nullable"

        self._add("nullable-changed", f"{location}.nullable", word(ours), word(upstream))

    def _keywords(
        self,
        ours: Mapping[str, Any],
        upstream: Mapping[str, Any],
        location: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        ours_unresolved, up_unresolved = _ref(ours), _ref(upstream)
        if (ours_unresolved or up_unresolved) and ours_unresolved != up_unresolved:
            self._add("ref-changed", f"{location}.$ref", ours_unresolved, up_unresolved)

        ours_types, up_types = _types(ours) - {"null"}, _types(upstream) - {"null"}
        if ours_types != up_types:
            self._add(
                "type-changed",
                f"{location}.type",
                _render_types(ours_types),
                _render_types(up_types),
            )

        ours_enum, up_enum = _enum_values(ours), _enum_values(upstream)
        if ours_enum is not None and up_enum is not None:
            ours_keys = {_json_key(v): v for v in ours_enum}
            up_keys = {_json_key(v): v for v in up_enum}
            if ours_keys.keys() != up_keys.keys():
                self._add(
                    "enum-changed",
                    f"{location}.enum",
                    _render(ours_enum),
                    _render(up_enum),
                    added=[v for k, v in up_keys.items() if k not in ours_keys],
                    removed=[v for k, v in ours_keys.items() if k not in up_keys],
                )
        elif ours_enum is not None or up_enum is not None:
            self._add(
                "enum-changed",
                f"{location}.enum",
                None if ours_enum is None else _render(ours_enum),
                None if up_enum is None else _render(up_enum),
            )
        if any("enum" in side and "const" in side for side in (ours, upstream)):
            # Both keywords on one schema: const is its own restriction on top of the enum.
            self._keyword("enum-changed", "const", ours, upstream, location)

        self._keyword("format-changed", "format", ours, upstream, location)
        self._keyword("pattern-changed", "pattern", ours, upstream, location)
        self._keyword("default-changed", "default", ours, upstream, location)
        for keyword in _BOUND_KEYWORDS:
            self._keyword("bound-changed", keyword, ours, upstream, location)

        self._properties(ours, upstream, location, stack)

        ours_extra, up_extra = _additional(ours), _additional(upstream)
        if isinstance(ours_extra, Mapping) and isinstance(up_extra, Mapping):
            self._schema(ours_extra, up_extra, f"{location}.additionalProperties", stack)
        elif _json_key(ours_extra) != _json_key(up_extra):
            self._add(
                "schema-changed",
                f"{location}.additionalProperties",
                _summary(ours_extra),
                _summary(up_extra),
            )

        for keyword in _SUBSCHEMA_KEYWORDS:
            self._subschema(
                ours.get(keyword), upstream.get(keyword), f"{location}.{keyword}", stack
            )
        for keyword in ("prefixItems", *_COMPOSITIONS):
            self._branches(ours.get(keyword), upstream.get(keyword), f"{location}.{keyword}", stack)
        for keyword in _SCHEMA_MAP_KEYWORDS:
            self._schema_map(
                _mapping(ours.get(keyword)),
                _mapping(upstream.get(keyword)),
                f"{location}.{keyword}",
                stack,
            )
        self._conditional(ours, upstream, location, stack)
        self._dependencies(ours, upstream, location, stack)

    def _keyword(
        self,
        kind: str,
        keyword: str,
        ours: Mapping[str, Any],
        upstream: Mapping[str, Any],
        location: str,
    ) -> None:
        ours_has, up_has = keyword in ours, keyword in upstream
        if not ours_has and not up_has:
            return
        ours_value, up_value = ours.get(keyword), upstream.get(keyword)
        if ours_has == up_has and _json_key(ours_value) == _json_key(up_value):
            return
        self._add(
            kind,
            f"{location}.{keyword}",
            _render(ours_value) if ours_has else None,
            _render(up_value) if up_has else None,
        )

    def _properties(
        self,
        ours: Mapping[str, Any],
        upstream: Mapping[str, Any],
        location: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        ours_props, up_props = (
            _mapping(ours.get("properties")),
            _mapping(upstream.get("properties")),
        )
        for name in _keys_of_both(up_props, ours_props):
            here = f"{location}.properties.{name}"
            if name not in ours_props:
                self._add("property-added", here, None, _summary(up_props[name]))
            elif name not in up_props:
                self._add("property-removed", here, _summary(ours_props[name]), None)
            else:
                self._schema(ours_props[name], up_props[name], here, stack)
        self._members(
            "required-changed",
            f"{location}.required",
            list(_strings(ours.get("required"))),
            list(_strings(upstream.get("required"))),
        )

    def _members(self, kind: str, location: str, ours: list[str], upstream: list[str]) -> None:
        """Report a list of names whose members differ, as the members added and removed."""
        if set(ours) == set(upstream):
            return
        self._add(
            kind,
            location,
            _render(sorted(ours)) if ours else None,
            _render(sorted(upstream)) if upstream else None,
            added=sorted(set(upstream) - set(ours)),
            removed=sorted(set(ours) - set(upstream)),
        )

    def _schema_map(
        self,
        ours: Mapping[str, Any],
        upstream: Mapping[str, Any],
        location: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        """Compare ``patternProperties`` or ``dependentSchemas``: one subschema per key."""
        for key in _keys_of_both(upstream, ours):
            self._subschema(ours.get(key), upstream.get(key), f"{location}.{key}", stack)

    def _conditional(
        self,
        ours: Mapping[str, Any],
        upstream: Mapping[str, Any],
        location: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        """``if``/``then``/``else``: one difference when only one side has a condition."""
        ours_has, up_has = "if" in ours, "if" in upstream
        if ours_has and up_has:
            for keyword in _CONDITIONAL:
                self._subschema(
                    ours.get(keyword), upstream.get(keyword), f"{location}.{keyword}", stack
                )
        elif ours_has or up_has:
            self._add(
                "condition-changed",
                f"{location}.if",
                _render_condition(ours) if ours_has else None,
                _render_condition(upstream) if up_has else None,
            )

    def _dependencies(
        self,
        ours: Mapping[str, Any],
        upstream: Mapping[str, Any],
        location: str,
        stack: frozenset[tuple[str, str]],
    ) -> None:
        """``dependentRequired`` (and the older ``dependencies``): names a property requires."""
        ours_required, ours_schemas = _split_dependencies(ours)
        up_required, up_schemas = _split_dependencies(upstream)
        for name in _keys_of_both(up_required, ours_required):
            self._members(
                "condition-changed",
                f"{location}.dependentRequired.{name}",
                ours_required.get(name, []),
                up_required.get(name, []),
            )
        for name in _keys_of_both(up_schemas, ours_schemas):
            self._subschema(
                ours_schemas.get(name),
                up_schemas.get(name),
                f"{location}.dependencies.{name}",
                stack,
            )

    def _subschema(
        self, ours: Any, upstream: Any, location: str, stack: frozenset[tuple[str, str]]
    ) -> None:
        if ours is None and upstream is None:
            return
        if ours is None or upstream is None:
            self._add(
                "schema-changed",
                location,
                None if ours is None else _summary(ours),
                None if upstream is None else _summary(upstream),
            )
            return
        self._schema(ours, upstream, location, stack)

    def _branches(
        self, ours: Any, upstream: Any, location: str, stack: frozenset[tuple[str, str]]
    ) -> None:
        if ours is None and upstream is None:
            return
        ours_list = ours if isinstance(ours, list) else None
        up_list = upstream if isinstance(upstream, list) else None
        if ours_list is None or up_list is None or len(ours_list) != len(up_list):
            self._add(
                "schema-changed",
                location,
                None if ours_list is None else f"{len(ours_list)} schema(s)",
                None if up_list is None else f"{len(up_list)} schema(s)",
            )
            return
        for index, (ours_branch, up_branch) in enumerate(zip(ours_list, up_list, strict=True)):
            self._schema(ours_branch, up_branch, f"{location}.{index}", stack)


def _member(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _render_condition(node: Mapping[str, Any]) -> str:
    return _render({k: node[k] for k in _CONDITIONAL if k in node})


def _split_dependencies(
    node: Mapping[str, Any],
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The property dependencies of a schema: required names, and schemas (``dependencies``)."""
    required = {
        str(k): list(_strings(v)) for k, v in _mapping(node.get("dependentRequired")).items()
    }
    schemas: dict[str, Any] = {}
    for name, value in _mapping(node.get("dependencies")).items():
        if isinstance(value, list):
            required.setdefault(str(name), []).extend(_strings(value))
        else:
            schemas[str(name)] = value
    return required, schemas


def _without_repeats(found: list[Difference], aliases: Mapping[str, list[str]]) -> list[Difference]:
    """Drop a difference below an aliased location that its component already reports."""
    if not aliases:
        return found
    seen = {(d.kind, d.location, d.ours, d.upstream) for d in found}
    kept: list[Difference] = []
    for diff in found:
        repeated = False
        for alias, components in aliases.items():
            if not diff.location.startswith(alias + "."):
                continue
            rest = diff.location[len(alias) :]
            if any((diff.kind, c + rest, diff.ours, diff.upstream) in seen for c in components):
                repeated = True
                break
        if not repeated:
            kept.append(diff)
    return kept


def _template_key(path: str) -> str:
    return re.sub(r"\{[^}/]*\}", "{}", path)


def _methods(item: Any) -> str:
    found = [m.upper() for m in _HTTP_METHODS if isinstance(item, Mapping) and m in item]
    return ", ".join(found) if found else "(no operations)"


def _media_types(node: Any) -> str:
    content = _mapping(node.get("content")) if isinstance(node, Mapping) else {}
    if content:
        return ", ".join(content)
    ref = _ref(node)
    return f"$ref {ref}" if ref else "(no content)"


def _param_required(param: Mapping[str, Any]) -> bool:
    # Path parameters are always required, whatever the document says.
    return param.get("in") == "path" or param.get("required") is True


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def _render_types(types: Iterable[str]) -> str | None:
    ordered = sorted(types)
    if not ordered:
        return None
    return ordered[0] if len(ordered) == 1 else _render(ordered)


def _security(value: Any) -> frozenset[frozenset[tuple[str, tuple[str, ...]]]]:
    if not isinstance(value, list):
        return frozenset()
    requirements = set()
    for requirement in value:
        if isinstance(requirement, Mapping):
            requirements.add(
                frozenset(
                    (
                        str(name),
                        tuple(sorted(str(s) for s in scopes)) if isinstance(scopes, list) else (),
                    )
                    for name, scopes in requirement.items()
                )
            )
    return frozenset(requirements)


def _render_security(value: frozenset[frozenset[tuple[str, tuple[str, ...]]]]) -> str | None:
    if not value:
        return None
    alternatives = sorted(" + ".join(sorted(name for name, _ in req)) or "(none)" for req in value)
    return " | ".join(alternatives)


def _keys_of_both(upstream: Iterable[_K], ours: Iterable[_K]) -> list[_K]:
    """The keys of both sides: upstream's in its order, then those only ours has."""
    return list(dict.fromkeys([*upstream, *ours]))
