"""JSON from outside, read within bounds: nesting depth, lone surrogates, non-standard constants.

Every JSON body the mock accepts and every timeline file goes through :func:`loads` or
:func:`check_value`, so the rest of the package only ever sees values it can copy, compare,
serialize and encode to UTF-8:

- nesting deeper than :data:`MAX_DEPTH` is refused before anything recursive runs on the text
  (the parser included): a prescan measures the depth of the brackets outside strings, with a
  bounded number of passes over the text in C;
- a string (key or value) holding a lone UTF-16 surrogate (``"\\udc00"`` is valid JSON, but no
  UTF-8 text can carry it) is refused, with its path;
- ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON and are refused, and so is a number too
  large for a float (``1e400``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_DEPTH", "JsonInputError", "check_value", "dumps_utf8", "loads", "too_deep"]

MAX_DEPTH: Final = 64
"""The deepest nesting of arrays and objects accepted (a scalar at the top is depth 0)."""

_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(rb"[^\[\]{}]+")
_OPENERS: Final = bytes.maketrans(b"{}", b"[]")
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


class JsonInputError(ValueError):
    """JSON input the package does not accept; ``path`` is dotted (``""``: the whole value)."""

    def __init__(self, path: str, code: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.code = code
        self.message = message


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def too_deep(raw: bytes) -> bool:
    """Whether the brackets of ``raw`` (outside strings) nest deeper than :data:`MAX_DEPTH`.

    Each pass removes the innermost pairs, so a text nested ``d`` deep empties in ``d`` passes;
    at most ``MAX_DEPTH + 1`` passes are made. Unbalanced brackets are left to the parser.
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw)).translate(_OPENERS)
    for _ in range(MAX_DEPTH):
        reduced = brackets.replace(b"[]", b"")
        if not reduced or reduced == brackets:
            return False
        brackets = reduced
    return True


def loads(raw: bytes | str) -> Any:
    """Parse JSON text from outside; raises :class:`JsonInputError` (code ``invalid_json``,
    ``too_deep`` or ``invalid_string``) for what the package does not accept."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if too_deep(data):
        raise JsonInputError("", "too_deep", f"JSON nests deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(data, parse_constant=_reject_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        raise JsonInputError("", "invalid_json", "Body is not valid JSON") from None
    if _SURROGATE_ESCAPE.search(data) or not data.isascii():
        check_value(value)
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_value(value: Any) -> None:
    """Check parsed data (JSON or YAML) without recursion: nesting within :data:`MAX_DEPTH`,
    every string encodable as UTF-8 (no lone surrogates), every number finite. Raises
    :class:`JsonInputError`."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            if not _encodable(item):
                raise JsonInputError(path, "invalid_string", "String holds a lone UTF-16 surrogate")
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise JsonInputError(path, "invalid_number", "Number must be finite")
        if isinstance(item, Mapping):
            entries: Any = item.items()
        elif isinstance(item, list | tuple):
            entries = enumerate(item)
        else:
            continue
        if depth >= MAX_DEPTH:
            raise JsonInputError(path, "too_deep", f"Nesting deeper than {MAX_DEPTH} levels")
        for key, child in entries:
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not _encodable(key):
                raise JsonInputError(
                    path, "invalid_string", "Object key holds a lone UTF-16 surrogate"
                )
            pending.append((child, child_path, depth + 1))


def dumps_utf8(value: Any) -> bytes:
    """Compact JSON of ``value`` in UTF-8, with non-ASCII characters as they are, but with what
    UTF-8 cannot carry (a lone surrogate) escaped as ``\\uXXXX``."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")
