"""YAML read as JSON data: safe loading, timestamps kept as strings, mapping keys as strings.

Every YAML document the package reads (the contract documents, timeline files, upstream OpenAPI
documents, the intended-differences file) is JSON data written as YAML. Plain ``safe_load`` turns
``2026-04-04T12:00:00Z`` into a ``datetime``, which no JSON Schema ``type: string`` accepts, and
``200:`` into an integer key, which no JSON pointer (``#/responses/200``) addresses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

__all__ = ["FastJsonLoader", "JsonLoader", "string_keys"]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class JsonLoader(yaml.SafeLoader):
    """A safe loader (plain data only) that keeps timestamps as strings.

    The pure-Python parser: its nodes carry the line and column marks that problems point at.
    """


JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# libyaml's C parser reads large documents about seven times faster than the pure-Python one;
# both construct the same data.
if TYPE_CHECKING:
    _CSafeLoader = yaml.SafeLoader
else:
    _CSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FastJsonLoader(_CSafeLoader):
    """:class:`JsonLoader` on libyaml's C parser when PyYAML has it."""


FastJsonLoader.yaml_implicit_resolvers = JsonLoader.yaml_implicit_resolvers


def string_keys(value: Any) -> Any:
    """Copy ``value`` with every mapping key turned into a string, as JSON has them."""
    if isinstance(value, Mapping):
        return {str(key): string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [string_keys(item) for item in value]
    return value
