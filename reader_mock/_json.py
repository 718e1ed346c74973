"""JSON from outside, read within bounds: nesting depth, lone surrogates, non-standard constants.

Every JSON body the mock accepts and every timeline file goes through :func:`loads` or
:func:`check_value`, so the rest of the package only ever sees values it can copy, compare,
serialize and encode to UTF-8:

- more than :data:`MAX_VALUES` values are refused before parsing (a megabyte of ``1,1,1...``
  would otherwise become half a million objects at once);
- nesting deeper than :data:`MAX_DEPTH` is refused before any code of the package walks the
  value: the parser stops at the interpreter's recursion limit, and an iterative walk checks the
  depth of what it built;
- a string (key or value) holding a lone UTF-16 surrogate (``"\\udc00"`` is valid JSON, but no
  UTF-8 text can carry it) is refused, with its path;
- ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON and are refused. (A number too large for
  a float, ``1e400``, is parsed as infinity, as JSON parsers do; schemas and ranges refuse it
  where a number matters, and :func:`check_value` refuses it in timelines.)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "MAX_DEPTH",
    "MAX_VALUES",
    "JsonInputError",
    "check_value",
    "dumps_utf8",
    "loads",
    "too_many_values",
]

MAX_DEPTH: Final = 64
"""The deepest nesting of arrays and objects accepted (a scalar at the top is depth 0)."""
MAX_VALUES: Final = 20_000
"""The most values (array items and object members, counted by the commas between them) a JSON
text may hold; more is refused before it is parsed, so parsing stays short."""

_TOO_DEEP: Final = f"Nesting deeper than {MAX_DEPTH} levels"
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
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


def too_many_values(raw: bytes) -> bool:
    """Whether ``raw`` holds more than :data:`MAX_VALUES` values, counted by the commas outside
    strings; cheap when the text has few commas at all."""
    if raw.count(b",") <= MAX_VALUES:
        return False
    return _STRING.sub(b"", raw).count(b",") > MAX_VALUES


def loads(raw: bytes | str) -> Any:
    """Parse JSON text from outside; raises :class:`JsonInputError` (code ``invalid_json``,
    ``too_big``, ``too_deep`` or ``invalid_string``) for what the package does not accept."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if too_many_values(data):
        raise JsonInputError("", "too_big", f"JSON holds more than {MAX_VALUES:,} values")
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        opened = data.count(b"[") + data.count(b"{")
        if opened == data.count(b"]") + data.count(b"}"):
            raise JsonInputError("", "too_deep", _TOO_DEEP) from None
        raise JsonInputError("", "invalid_json", "Body is not valid JSON") from None
    except ValueError:
        raise JsonInputError("", "invalid_json", "Body is not valid JSON") from None
    if (
        data.count(b"[") + data.count(b"{") > MAX_DEPTH
        or _SURROGATE_ESCAPE.search(data)
        or not data.isascii()
    ):
        check_value(value, finite=False)
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_value(value: Any, *, finite: bool = True) -> None:
    """Check parsed data (JSON or YAML) without recursion: nesting within :data:`MAX_DEPTH`,
    every string encodable as UTF-8 (no lone surrogates), and (with ``finite``) every number
    finite. Raises :class:`JsonInputError`."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            if not _encodable(item):
                raise JsonInputError(path, "invalid_string", "String holds a lone UTF-16 surrogate")
            continue
        if finite and isinstance(item, float) and not math.isfinite(item):
            raise JsonInputError(path, "invalid_number", "Number must be finite")
        if isinstance(item, Mapping):
            entries: Any = item.items()
        elif isinstance(item, list | tuple):
            entries = enumerate(item)
        else:
            continue
        if depth >= MAX_DEPTH:
            raise JsonInputError(path, "too_deep", _TOO_DEEP)
        for key, child in entries:
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not _encodable(key):
                raise JsonInputError(
                    path, "invalid_string", "Object key holds a lone UTF-16 surrogate"
                )
            pending.append((child, child_path, depth + 1))


def _compact_encoder() -> Callable[[Any], str]:
    """What ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` runs, built once.

    ``json.dumps`` with options builds a ``JSONEncoder`` and its C encoder on every call; the C
    encoder is made here once, with the same arguments ``JSONEncoder.iterencode`` gives it, so
    the text is the same. It keeps no state between calls (no record of the objects it is in,
    which ``json.dumps`` uses to report a cycle; the package's values have none, and a cycle
    still ends in an error, the interpreter's recursion limit), so threads can share it.
    """
    make = getattr(json.encoder, "c_make_encoder", None)  # not in the typing stubs
    if make is None:  # a Python without the C accelerator
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
        return encoder.encode

    def fail(value: Any) -> Any:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    encode = make(None, fail, json.encoder.encode_basestring, None, ":", ",", False, False, True)

    def dumps(value: Any) -> str:
        if isinstance(value, str):
            return str(json.encoder.encode_basestring(value))
        return "".join(encode(value, 0))

    return dumps


_dumps_compact: Final = _compact_encoder()


def dumps_utf8(value: Any) -> bytes:
    """Compact JSON of ``value`` in UTF-8, with non-ASCII characters as they are, but with what
    UTF-8 cannot carry (a lone surrogate) escaped as ``\\uXXXX``."""
    try:
        return _dumps_compact(value).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")
