"""Encode Server-Sent Events frames to bytes (pure, no I/O).

Events (``event:``, optional ``id:`` and ``retry:``, ``data:`` lines, a blank line) and comments
(``: ping``); :func:`encode_many` joins frames ready together into one write. What the encoder
refuses, and why: docs/architecture.md, "The SSE codec".
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CONTENT_TYPE",
    "STREAM_HEADERS",
    "Message",
    "encode_comment",
    "encode_event",
    "encode_json_event",
    "encode_json_frame",
    "encode_many",
    "json_text",
]

CONTENT_TYPE: Final = "text/event-stream"
"""The Content-Type of a stream, exactly: some strict clients compare the whole header value."""

STREAM_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Content-Type": CONTENT_TYPE,
        # Streams are live: no cache may store them, and proxies must not buffer them.
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
    }
)
"""Response headers of a stream (``Transfer-Encoding`` is the server's business, never set here)."""

# Data is split on every SSE line ending; CRLF first so it counts as one break.
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_FORBIDDEN_IN_FIELD: Final = re.compile(r"[\r\n\x00]")

# Compact, allow_nan=False: NaN and Infinity are not JSON and no client could parse them.
# Non-ASCII is written as UTF-8, as the JSON of a REST response would be.
_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, slots=True)
class Message:
    """One event to encode with :func:`encode_many`.

    Attributes:
        event: the event name (the ``event:`` field).
        data: the data text, usually JSON.
        id: the ``id:`` field; ``None`` sends no ``id:`` line, ``""`` resets the client's id.
        retry: the ``retry:`` field in milliseconds; ``None`` sends no ``retry:`` line.
    """

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        # Only a lone surrogate (U+D800 to U+DFFF) makes a str impossible to write as UTF-8.
        raise ValueError(
            f"SSE {what} contains the lone surrogate U+{ord(exc.object[exc.start]):04X}, "
            "which cannot be sent as UTF-8"
        ) from None


def _check_field(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"SSE {name} must be a string, got {type(value).__name__}")
    bad = _FORBIDDEN_IN_FIELD.search(value)
    if bad is not None:
        char = {"\r": "CR", "\n": "LF", "\x00": "NUL"}[bad.group()]
        raise ValueError(
            f"SSE {name} {value!r} contains {char} at index {bad.start()}; "
            f"a {name} must fit on one line and contain no NUL"
        )
    return value


def _event_line(event: object, newline: str) -> bytes:
    if not isinstance(event, str):
        raise ValueError(f"SSE event name must be a string, got {type(event).__name__}")
    return _cached_event_line(event, newline)


@functools.lru_cache(maxsize=256)
def _cached_event_line(event: str, newline: str) -> bytes:
    # Event names come from a small fixed set, so their checked, encoded line is cached.
    _check_field("event name", event)
    if not event:
        raise ValueError("SSE event name must not be empty (clients would report it as 'message')")
    return _utf8(f"event: {event}{newline}", "event name")


def _id_line(event_id: str, newline: str) -> bytes:
    _check_field("id", event_id)
    return _utf8(f"id: {event_id}{newline}", "id")


def _retry_line(retry: object, newline: str) -> bytes:
    if isinstance(retry, bool) or not isinstance(retry, int):
        raise ValueError(
            f"SSE retry must be an integer number of milliseconds, got {type(retry).__name__}"
        )
    if retry < 0:
        raise ValueError(f"SSE retry must be >= 0 milliseconds, got {retry}")
    return f"retry: {retry}{newline}".encode()


def _data_lines(data: object, newline: str) -> bytes:
    if not isinstance(data, str):
        raise ValueError(f"SSE data must be a string, got {type(data).__name__}")
    if "\n" not in data and "\r" not in data:
        return _utf8(f"data: {data}{newline}", "data")
    return _utf8("".join(f"data: {line}{newline}" for line in _LINE_BREAK.split(data)), "data")


def encode_event(
    event: str,
    data: str,
    *,
    id: str | None = None,
    retry: int | None = None,
    crlf: bool = False,
) -> bytes:
    """Encode one event frame.

    Args:
        event: the event name; non-empty, without CR, LF or NUL.
        data: the data; each CR, LF or CRLF starts a new ``data:`` line.
        id: the ``id:`` field; without CR, LF or NUL. ``""`` is sent and resets the client's
            last event id.
        retry: reconnection time in milliseconds, an integer >= 0.
        crlf: end lines with CRLF instead of LF.

    Raises:
        ValueError: a field cannot be encoded; the message names the field and the reason.
    """
    newline = "\r\n" if crlf else "\n"
    parts = [_event_line(event, newline)]
    if id is not None:
        parts.append(_id_line(id, newline))
    if retry is not None:
        parts.append(_retry_line(retry, newline))
    parts.append(_data_lines(data, newline))
    parts.append(newline.encode())
    return b"".join(parts)


def json_text(payload: object) -> str:
    """The compact JSON text the encoder sends for ``payload``.

    Raises:
        ValueError: the payload is not JSON-serializable (or holds NaN or infinity).
    """
    try:
        return _JSON.encode(payload)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"SSE payload is not JSON-serializable: {exc}") from None


def encode_json_event(
    event: str,
    payload: object,
    *,
    id: str | None = None,
    retry: int | None = None,
    crlf: bool = False,
) -> bytes:
    """Encode one event whose data is the compact JSON of ``payload``.

    This is the fast path for the Reader streams: compact JSON never contains a raw CR or LF
    (the JSON encoder escapes them), so the data is always exactly one ``data:`` line.

    Raises:
        ValueError: a field cannot be encoded or the payload is not JSON-serializable.
    """
    newline = "\r\n" if crlf else "\n"
    head = _event_line(event, newline)
    if id is None and retry is None:
        return head + _utf8(f"data: {json_text(payload)}{newline}{newline}", "data")
    return encode_event(event, json_text(payload), id=id, retry=retry, crlf=crlf)


def encode_json_frame(event: str, data: bytes, *, id: str | None = None) -> bytes:
    """Encode one event whose data is compact JSON already serialized to UTF-8 (one line, as
    :func:`json_text` makes it), so an event written to many streams is serialized once."""
    head = _event_line(event, "\n")
    if id is not None:
        head += _id_line(id, "\n")
    return head + b"data: " + data + b"\n\n"


def encode_comment(text: str = "ping", *, crlf: bool = False) -> bytes:
    """Encode a comment frame: ``: ping`` and a blank line for the default text.

    A text with line breaks becomes one comment line per line. An empty text gives ``:`` alone.

    Raises:
        ValueError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValueError(f"SSE comment must be a string, got {type(text).__name__}")
    newline = "\r\n" if crlf else "\n"
    lines = _LINE_BREAK.split(text)
    body = "".join(f": {line}{newline}" if line else f":{newline}" for line in lines)
    return _utf8(f"{body}{newline}", "comment")


def encode_many(items: Iterable[Message | bytes], *, crlf: bool = False) -> bytes:
    """Encode several frames into one ``bytes``, so they go out in a single write.

    Args:
        items: :class:`Message` objects to encode, or frames already encoded (comments, raw
            frames), which are copied as they are.
        crlf: line endings of the encoded messages.

    Raises:
        ValueError: a message cannot be encoded.
    """
    parts: list[bytes] = []
    for item in items:
        if isinstance(item, bytes | bytearray | memoryview):
            parts.append(bytes(item))
        elif isinstance(item, Message):
            parts.append(
                encode_event(item.event, item.data, id=item.id, retry=item.retry, crlf=crlf)
            )
        else:
            raise ValueError(
                f"encode_many takes Message objects or bytes, got {type(item).__name__}"
            )
    return b"".join(parts)
