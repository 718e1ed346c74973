"""JSON-like values: how messages name them (``integer 5``, ``a list of 2 items``), and read-only
copies of them.

Two vocabularies: JSON Schema's (``object``, ``array``), for the contract and the API's error
messages, and a YAML author's (``a mapping``, ``a list``), for timeline files and the documents
the drift check reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "JSON_NAMES",
    "YAML_NAMES",
    "describe_value",
    "freeze",
    "json_type",
    "thaw",
    "type_name",
    "type_phrase",
]

_MAX_SHOWN: Final = 60

JSON_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {name: name for name in ("object", "array", "string", "integer", "number", "boolean", "null")}
)
"""JSON Schema's type names, as they are."""

YAML_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "null": "nothing (null)",
    }
)
"""The same types as a YAML author knows them."""


def json_type(value: object) -> str:
    """The JSON Schema type of a value (``integer``, ``array``...), or its Python type's name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def type_name(value: object, names: Mapping[str, str] = JSON_NAMES) -> str:
    """The type of a value in the vocabulary ``names``: ``array``, or ``a list``."""
    kind = json_type(value)
    return names.get(kind, kind)


def type_phrase(expected: object, names: Mapping[str, str] = JSON_NAMES) -> str:
    """The value of a JSON Schema ``type`` (one name or a list) as words: ``integer or null``."""
    kinds = [str(kind) for kind in expected] if isinstance(expected, list | tuple) else [expected]
    return " or ".join(names.get(str(kind), str(kind)) for kind in kinds)


def describe_value(value: object, names: Mapping[str, str] = JSON_NAMES) -> str:
    """A value's type and the value, briefly: ``string "5"``, ``integer 5``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
        if not shown.isascii() and not _utf8(shown):
            shown = json.dumps(value)  # escapes what UTF-8 cannot carry (lone surrogates)
        if len(shown) > _MAX_SHOWN:
            shown = shown[: _MAX_SHOWN - 4] + '..."'
        return f"string {shown}"
    if isinstance(value, list):
        return f"{names['array']} of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return names["object"]
    return type(value).__name__


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def freeze(value: Any) -> Any:
    """A deep, read-only copy of JSON-like data (mappings become read-only with string keys,
    lists become tuples), so values that hold it stay immutable and comparable."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(key): freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A plain ``dict``/``list`` copy of data made by :func:`freeze`."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value
