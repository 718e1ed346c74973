"""JSON Schema validation against the contract, with precise, readable problem reports.

Event, request and timeline validation go through here: one validator class (Draft 2020-12, the
dialect of OpenAPI 3.1), one set of format checks that does not depend on optional packages, and
one translation of ``jsonschema`` errors into :class:`Problem` values that name the field, what
was expected and what was found.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema._utils import equal
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.exceptions import Unresolvable

from reader_mock._values import JSON_NAMES, describe_value, type_phrase

from .documents import ContractError

if TYPE_CHECKING:
    from referencing._core import Resolver

__all__ = [
    "FORMAT_CHECKER",
    "MAX_PROBLEMS",
    "MAX_WALKED",
    "BoundedValidator",
    "Problem",
    "describe_error",
    "find_problems",
    "inline_refs",
    "inlined_validator_for",
    "validator_for",
]

PathPart = str | int

_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

MAX_PROBLEMS: Final = 100
"""The most problems :func:`find_problems` reports for one value; it stops looking after that."""

MAX_WALKED: Final = 1_000
"""An array (object) over its schema's ``maxItems`` (``maxProperties``) and longer than this is
reported for its size only: its items are not checked one by one."""

FORMAT_CHECKER: Final = FormatChecker(formats=())
"""Format checks used for every contract schema.

Only the formats the contract relies on, implemented with the standard library so that results
do not change with whichever optional packages happen to be installed.
"""


@FORMAT_CHECKER.checks("uri")
def _is_uri(value: object) -> bool:
    # An absolute URI: a scheme, then something without whitespace; web URLs also need a host.
    # Non-HTTP schemes are well-formed here; the mock refuses them later as url_blocked.
    if not isinstance(value, str):
        return True
    if not _SCHEME.match(value) or any(char.isspace() for char in value):
        return False
    scheme, _, rest = value.partition(":")
    if not rest:
        return False
    if scheme.lower() in {"http", "https", "ws", "wss"}:
        try:
            return bool(urlsplit(value).hostname)
        except ValueError:
            return False
    return True


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    # RFC 3339 needs the "T" separator and an offset; fromisoformat alone is more lenient.
    if len(value) < 20 or value[10] not in "Tt" or not re.search(r"([Zz]|[+-]\d\d:\d\d)$", value):
        return False
    try:
        datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("date")
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("uuid")
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value))


@FORMAT_CHECKER.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


@FORMAT_CHECKER.checks("ipv4")
def _is_ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("int32")
def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMAT_CHECKER.checks("int64")
def _is_int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


_ARRAY_KEYWORDS: Final = ("items", "prefixItems", "contains", "uniqueItems", "unevaluatedItems")
_OBJECT_KEYWORDS: Final = (
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "unevaluatedProperties",
    "dependentSchemas",
)


def _within_size(keyword: str, limit: str, kind: str) -> Any:
    """The ``keyword`` check of Draft 2020-12, skipped for a value over its schema's ``limit``
    (``maxItems``, ``maxProperties``) and over :data:`MAX_WALKED` entries: the size is reported
    alone, and the items are not walked."""
    check = Draft202012Validator.VALIDATORS[keyword]

    def bounded(
        validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
    ) -> Iterable[ValidationError]:
        maximum = schema.get(limit)
        if (
            isinstance(maximum, int)
            and validator.is_type(instance, kind)
            and len(instance) > max(maximum, MAX_WALKED)
        ):
            return ()
        result: Iterable[ValidationError] | None = check(validator, value, instance, schema)
        return result or ()

    return bounded


def _max_size(kind: str, noun: str) -> Any:
    """``maxItems``/``maxProperties``/``maxLength`` with a message that does not quote the
    value: jsonschema's would ``repr()`` an array of a million items."""

    def check(
        validator: Any, maximum: int, instance: Any, schema: Mapping[str, Any]
    ) -> Iterable[ValidationError]:
        if validator.is_type(instance, kind) and len(instance) > maximum:
            yield ValidationError(f"has {len(instance)} {noun}, more than {maximum}")

    return check


def _type(
    validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterable[ValidationError]:
    """``type``, with a message that names the value's type instead of quoting the value."""
    wanted = [types] if isinstance(types, str) else types
    if not any(validator.is_type(instance, kind) for kind in wanted):
        yield ValidationError(f"{describe_value(instance)} is not of type {type_phrase(types)}")


def _any_of(
    validator: Any, schemas: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterable[ValidationError]:
    """``anyOf``, with a message that does not quote the value."""
    errors: list[ValidationError] = []
    for index, subschema in enumerate(schemas):
        found = list(validator.descend(instance, subschema, schema_path=index))
        if not found:
            return
        errors.extend(found)
    yield ValidationError(
        f"{describe_value(instance)} is valid under none of the schemas", context=errors
    )


def _one_of(
    validator: Any, schemas: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterable[ValidationError]:
    """``oneOf``, with messages that do not quote the value."""
    errors: list[ValidationError] = []
    valid = 0
    for index, subschema in enumerate(schemas):
        if valid:
            valid += validator.evolve(schema=subschema).is_valid(instance)
            continue
        found = list(validator.descend(instance, subschema, schema_path=index))
        if found:
            errors.extend(found)
        else:
            valid = 1
    if not valid:
        yield ValidationError(
            f"{describe_value(instance)} is valid under none of the schemas", context=errors
        )
    elif valid > 1:
        yield ValidationError(f"{describe_value(instance)} is valid under {valid} of the schemas")


def _enum(
    validator: Any, choices: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterable[ValidationError]:
    """``enum``, with a message that does not quote the value."""
    if all(not equal(choice, instance) for choice in choices):
        yield ValidationError(f"{describe_value(instance)} is not one of the allowed values")


def _not(
    validator: Any, forbidden: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterable[ValidationError]:
    """``not``, with a message that does not quote the value."""
    if validator.evolve(schema=forbidden).is_valid(instance):
        yield ValidationError(f"{describe_value(instance)} is not allowed here")


BoundedValidator: Final = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {
        "type": _type,
        "anyOf": _any_of,
        "oneOf": _one_of,
        "enum": _enum,
        "not": _not,
        "maxItems": _max_size("array", "items"),
        "maxProperties": _max_size("object", "properties"),
        "maxLength": _max_size("string", "characters"),
        **{keyword: _within_size(keyword, "maxItems", "array") for keyword in _ARRAY_KEYWORDS},
        **{
            keyword: _within_size(keyword, "maxProperties", "object")
            for keyword in _OBJECT_KEYWORDS
        },
    },
)
"""Draft 2020-12, except that a long array over ``maxItems`` (object over ``maxProperties``) is
reported for its size only, so the work stays bounded by the schema, and that messages never
quote a whole value."""


def inline_refs(uri: str, registry: Registry[Any]) -> Any:
    """The schema at ``uri`` with every ``$ref`` replaced by what it refers to.

    A ``$ref`` beside other keywords becomes an ``allOf`` of the two. Raises
    :class:`~reader_mock.contract.documents.ContractError` for a reference cycle, which
    cannot be inlined.
    """
    start = registry.resolver().lookup(uri)
    return _inline(start.contents, start.resolver, ())


def _inline(node: Any, resolver: Resolver[Any], seen: tuple[int, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, resolver, seen) for item in node]
    if not isinstance(node, Mapping):
        return node
    rest = {key: _inline(value, resolver, seen) for key, value in node.items() if key != "$ref"}
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return rest
    target = resolver.lookup(ref)
    if id(target.contents) in seen:
        raise ContractError(f"the contract's schemas refer to {ref!r} in a cycle")
    inlined = _inline(target.contents, target.resolver, (*seen, id(target.contents)))
    return {"allOf": [inlined, rest]} if rest else inlined


def validator_for(uri: str, registry: Registry[Any]) -> Draft202012Validator:
    """Build a validator for the schema at ``uri`` (an absolute URI with a JSON pointer)."""
    validator: Draft202012Validator = BoundedValidator(
        {"$ref": uri}, registry=registry, format_checker=FORMAT_CHECKER
    )
    return validator


def inlined_validator_for(uri: str, registry: Registry[Any]) -> Draft202012Validator:
    """:func:`validator_for` over the schema with its ``$ref`` inlined once (:func:`inline_refs`):
    the same rules, without a reference lookup at each validation, for schemas checked often.
    A schema that cannot be inlined (a reference that does not resolve, a cycle) gets the plain
    validator, which reports the problem when it is used, as :func:`find_problems` does."""
    try:
        schema = inline_refs(uri, registry)
    except (Unresolvable, ContractError):
        return validator_for(uri, registry)
    validator: Draft202012Validator = BoundedValidator(schema, format_checker=FORMAT_CHECKER)
    return validator


@dataclass(frozen=True)
class Problem:
    """One reason why a value does not match its schema.

    Attributes:
        path: where, as keys and indexes from the validated value's root (empty for the root).
        code: a short machine code: ``invalid_type``, ``required``, ``invalid_enum_value``,
            ``invalid_literal``, ``too_small``, ``too_big``, ``invalid_string``, ``unrecognized``,
            ``not_unique``, ``invalid_union`` or ``custom``.
        detail: what was expected and what was found, e.g. ``expected integer, got string "5"``.
    """

    path: tuple[PathPart, ...]
    code: str
    detail: str

    def dotted(self, prefix: str = "") -> str:
        """The path as a dotted string (``urls.0``), under ``prefix`` when one is given."""
        parts = [prefix] if prefix else []
        parts.extend(str(part) for part in self.path)
        return ".".join(parts)


def find_problems(validator: Draft202012Validator, instance: object) -> list[Problem]:
    """Validate ``instance`` and return its problems, ordered by path, without duplicates: every
    problem, up to :data:`MAX_PROBLEMS` (then the search stops).

    Raises:
        ContractError: the schema refers to something that does not exist in the contract.
    """
    problems: list[Problem] = []
    try:
        for error in validator.iter_errors(instance):
            problems.extend(describe_error(error))
            if len(problems) >= MAX_PROBLEMS:
                del problems[MAX_PROBLEMS:]
                break
    except Unresolvable as exc:
        raise ContractError(f"the contract refers to {exc.ref!r}, which does not resolve") from None
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda problem: ([str(part) for part in problem.path], problem.code))


def _choices(values: Iterable[object]) -> str:
    return ", ".join(json.dumps(value) for value in values)


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def describe_error(error: ValidationError, names: Mapping[str, str] = JSON_NAMES) -> list[Problem]:
    """Translate one ``jsonschema`` error into problems (several for ``required`` and friends).

    ``names`` is the vocabulary of JSON types (:data:`reader_mock._values.JSON_NAMES` or
    ``YAML_NAMES``).
    """
    keyword = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    path = tuple(error.absolute_path)
    found = describe_value(instance, names)

    if keyword == "type":
        return [Problem(path, "invalid_type", f"expected {type_phrase(value, names)}, got {found}")]
    if keyword == "required" and isinstance(instance, dict):
        return [
            Problem((*path, name), "required", "required field is missing")
            for name in value
            if name not in instance
        ]
    if keyword == "dependentRequired" and isinstance(instance, dict):
        return [
            Problem((*path, name), "required", f"required when {json.dumps(trigger)} is present")
            for trigger, names in value.items()
            if trigger in instance
            for name in names
            if name not in instance
        ]
    if keyword == "enum":
        return [
            Problem(path, "invalid_enum_value", f"expected one of {_choices(value)}, got {found}")
        ]
    if keyword == "const":
        return [Problem(path, "invalid_literal", f"expected {json.dumps(value)}, got {found}")]
    if isinstance(keyword, str) and keyword in _BOUNDS:
        code, relation, unit = _BOUNDS[keyword]
        return [Problem(path, code, _bound_phrase(relation, unit, value, instance, names))]
    if keyword == "pattern":
        return [
            Problem(path, "invalid_string", f"expected a string matching {value!r}, got {found}")
        ]
    if keyword == "format":
        return [Problem(path, "invalid_string", f"expected a valid {value}, got {found}")]
    if keyword in {"additionalProperties", "unevaluatedProperties"} and isinstance(instance, dict):
        extras = _unexpected_keys(error, instance)
        if extras:
            return [
                Problem((*path, key), "unrecognized", "field is not allowed here") for key in extras
            ]
    if keyword == "uniqueItems":
        return [Problem(path, "not_unique", "expected every item to be different")]
    if keyword == "multipleOf":
        return [Problem(path, "custom", f"expected a multiple of {value}, got {found}")]
    if keyword in {"anyOf", "oneOf"}:
        return _describe_union(error, path, found, names)
    if keyword == "not":
        return [Problem(path, "custom", f"this value is not allowed here, got {found}")]
    if keyword is None or error.schema is False:
        return [Problem(path, "unrecognized", "no value is allowed here")]
    return [Problem(path, "custom", error.message)]


def _bound_phrase(
    relation: str, unit: str | None, limit: object, instance: object, names: Mapping[str, str]
) -> str:
    """The wording of one bound keyword (minimum, maxLength, ...)."""
    if unit is None:
        return f"expected a number {relation} {limit}, got {describe_value(instance, names)}"
    size = len(instance) if isinstance(instance, str | list | dict) else instance
    return f"expected {relation} {_plural(limit, unit)}, got {size}"


# keyword -> (problem code, relation, unit of a size; None for a number)
_BOUNDS: Final[Mapping[str, tuple[str, str, str | None]]] = {
    "minimum": ("too_small", ">=", None),
    "exclusiveMinimum": ("too_small", ">", None),
    "maximum": ("too_big", "<=", None),
    "exclusiveMaximum": ("too_big", "<", None),
    "minLength": ("too_small", "at least", "character"),
    "maxLength": ("too_big", "at most", "character"),
    "minItems": ("too_small", "at least", "item"),
    "maxItems": ("too_big", "at most", "item"),
    "minProperties": ("too_small", "at least", "field"),
    "maxProperties": ("too_big", "at most", "field"),
}


def _unexpected_keys(error: ValidationError, instance: Mapping[str, Any]) -> list[str]:
    """Keys of ``instance`` refused by an additionalProperties/unevaluatedProperties error."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        declared = schema.get("properties", {})
        patterns = list(schema.get("patternProperties", {}))
        return [
            key
            for key in instance
            if key not in declared and not any(re.search(pattern, key) for pattern in patterns)
        ]
    # unevaluatedProperties: jsonschema names the keys in its message, quoted with repr().
    return [key for key in instance if repr(key) in error.message]


def _describe_union(
    error: ValidationError, path: tuple[PathPart, ...], found: str, names: Mapping[str, str]
) -> list[Problem]:
    """Describe a failed anyOf/oneOf by its most telling alternative."""
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    groups = _required_groups(error.validator_value)
    if groups is not None:
        # The "exactly one of these fields" idiom: oneOf/anyOf of bare `required` lists. On a
        # value that is not an object every alternative holds; its type error says enough.
        if not isinstance(error.instance, dict):
            return []
        fields = " or ".join(json.dumps(name) for group in groups for name in group)
        amount = "exactly one" if error.validator == "oneOf" else "at least one"
        found_fields = "more than one" if not branches else "none"
        return [
            Problem(path, "invalid_union", f"expected {amount} of {fields}, found {found_fields}")
        ]
    if not branches:
        # oneOf with no failing branch: the value matched more than one alternative.
        return [Problem(path, "invalid_union", f"matches more than one allowed shape, got {found}")]
    # Every alternative rejected the value's type outright: say which types would do.
    only_types = all(
        len(subs) == 1 and subs[0].validator == "type" and tuple(subs[0].absolute_path) == path
        for subs in branches.values()
    )
    if only_types:
        expected = " or ".join(
            type_phrase(subs[0].validator_value, names) for subs in branches.values()
        )
        return [Problem(path, "invalid_type", f"expected {expected}, got {found}")]
    closest = best_match(error.context or ())
    if closest is None:  # pragma: no cover - context is non-empty here
        return [Problem(path, "invalid_union", f"matches none of the allowed shapes, got {found}")]
    return describe_error(closest, names)


def _required_groups(alternatives: object) -> list[list[str]] | None:
    """The field lists of alternatives that only say ``required: [...]``, else ``None``."""
    if not isinstance(alternatives, list) or not alternatives:
        return None
    groups = []
    for alternative in alternatives:
        if not isinstance(alternative, dict) or set(alternative) != {"required"}:
            return None
        groups.append([str(name) for name in alternative["required"]])
    return groups
