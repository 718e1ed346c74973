"""A reference Server-Sent Events decoder that follows WHATWG HTML section 9.2 to the letter.

Fed bytes in chunks of any size, it returns the events a conforming browser would dispatch, and
records the framing a contract checker needs (comments, blocks, ignored lines, invalid UTF-8, how
the stream ended). The rules it follows: docs/architecture.md, "The SSE codec".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "Block",
    "Comment",
    "Decoded",
    "Decoder",
    "Event",
    "Field",
    "IgnoredLine",
    "IgnoredReason",
    "StreamEnd",
    "decode",
]

_BOM: Final = b"\xef\xbb\xbf"
_LINE_END: Final = re.compile(rb"\r\n|\r|\n")
_LF: Final = 0x0A
_KNOWN_FIELDS: Final = frozenset({"event", "data", "id", "retry"})


@dataclass(frozen=True, slots=True)
class Event:
    """An event as a conforming browser dispatches it.

    Attributes:
        type: the event name; ``message`` when the block had no (or an empty) ``event`` field.
        data: the data lines joined with LF.
        last_event_id: the source's last event id when the event was dispatched.
        start: byte offset of the block's first field line.
        end: byte offset of the blank line that dispatched the event.
    """

    type: str
    data: str
    last_event_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Field:
    """One field line of a block, as split by the SSE rules (one leading space removed)."""

    name: str
    value: str
    offset: int


@dataclass(frozen=True, slots=True)
class Block:
    """The field lines between two blank lines (comments are not part of it).

    Attributes:
        start: byte offset of the first field line.
        end: byte offset of the blank line that ended the block.
        fields: every field line in order, ignored ones included.
        event: the event the block dispatched, or ``None`` when its data buffer was empty.
    """

    start: int
    end: int
    fields: tuple[Field, ...]
    event: Event | None

    def count(self, name: str) -> int:
        """How many lines of the block name the field ``name``."""
        return sum(1 for field in self.fields if field.name == name)


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment line: ``text`` is what follows the colon, without one leading space."""

    offset: int
    text: str


class IgnoredReason(StrEnum):
    """Why the SSE rules ignore a field line."""

    UNKNOWN_FIELD = "unknown-field"
    """The field name is not ``event``, ``data``, ``id`` or ``retry`` (names are case-sensitive)."""

    ID_WITH_NUL = "id-with-nul"
    """An ``id`` value containing U+0000 is ignored entirely."""

    INVALID_RETRY = "invalid-retry"
    """A ``retry`` value that is not only ASCII digits is ignored."""


@dataclass(frozen=True, slots=True)
class IgnoredLine:
    """A field line that changed nothing, with the reason."""

    offset: int
    field: Field
    reason: IgnoredReason

    @property
    def message(self) -> str:
        """A sentence for people."""
        if self.reason is IgnoredReason.UNKNOWN_FIELD:
            hint = ""
            if self.field.name.lower() in _KNOWN_FIELDS:
                hint = f" (field names are case-sensitive: {self.field.name.lower()!r})"
            return f"unknown field {self.field.name!r} is ignored{hint}"
        if self.reason is IgnoredReason.ID_WITH_NUL:
            return f"id {self.field.value!r} contains NUL and is ignored"
        return f"retry {self.field.value!r} is not only ASCII digits and is ignored"


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """How the bytes ended, reported by :meth:`Decoder.close`.

    Attributes:
        length: bytes fed in all.
        trailing_start: offset just past the last blank line (past the BOM, or 0, if none).
        mid_block: whether anything but blank lines followed the last blank line.
        mid_line: whether the bytes ended inside a line (after its last line ending).
        discarded: the unterminated block that was never dispatched, if it had field lines
            (a final partial line is not part of it: it never became a line); its ``end`` is
            the stream's length.
    """

    length: int
    trailing_start: int
    mid_block: bool
    mid_line: bool
    discarded: Block | None


class Decoder:
    """Incremental WHATWG SSE decoder; see the module documentation for the rules.

    Attributes:
        last_event_id: the source's last event id (set when a block ends).
        retry: the last valid reconnection time in milliseconds, or ``None``.
        comments: every comment line seen so far.
        blocks: every block that had at least one field line, in order.
        ignored: every field line the SSE rules ignored.
        invalid_utf8: offsets of lines that were not valid UTF-8 (decoded with U+FFFD).
    """

    def __init__(self, *, stream_start: bool = True) -> None:
        """``stream_start=False`` decodes bytes that continue a stream from a frame boundary
        (a leading BOM there is not the stream's BOM, so it is kept as text)."""
        self.last_event_id = ""
        self.retry: int | None = None
        self.comments: list[Comment] = []
        self.blocks: list[Block] = []
        self.ignored: list[IgnoredLine] = []
        self.invalid_utf8: list[int] = []
        self._fed = 0
        self._closed = False
        self._head = b""  # the first bytes while a BOM cannot be ruled in or out
        self._bom_pending = stream_start
        self._partial = bytearray()
        self._line_start = 0
        self._skip_lf = False  # the last chunk ended with CR: a leading LF belongs to it
        self._boundary = 0
        self._block_start = -1
        self._fields: list[Field] = []
        self._type = ""
        self._data: list[str] = []
        self._id_buffer = ""
        self._end: StreamEnd | None = None

    @property
    def at_boundary(self) -> bool:
        """True when every byte fed belongs to a finished line and no block is half read.

        Bytes fed from here on decode as they would in a new ``Decoder(stream_start=False)``,
        except for the sticky last event id.
        """
        return not (
            self._bom_pending or self._partial or self._skip_lf or self._fields or self._closed
        )

    def feed(self, data: bytes) -> list[Event]:
        """Decode the next bytes; return the events they complete, in order.

        Raises:
            ValueError: the decoder was closed.
        """
        if self._closed:
            raise ValueError("the decoder is closed; create a new one for a new stream")
        if not data:
            return []
        base = self._fed
        self._fed += len(data)
        chunk = bytes(data)
        pos = 0
        if self._bom_pending:
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._bom_pending = False
            self._head = b""
            base = 0
            if chunk.startswith(_BOM):
                pos = len(_BOM)
                self._line_start = self._boundary = pos
        elif self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                pos = 1
                self._line_start = base + 1
                if self._boundary == base:
                    self._boundary = base + 1
        return self._lines(chunk, base, pos)

    def _lines(self, chunk: bytes, base: int, pos: int) -> list[Event]:
        events: list[Event] = []
        size = len(chunk)
        search = _LINE_END.search
        while True:
            match = search(chunk, pos)
            if match is None:
                self._partial += chunk[pos:]
                return events
            line_end = match.start()
            if self._partial:
                self._partial += chunk[pos:line_end]
                raw = bytes(self._partial)
                self._partial.clear()
            else:
                raw = chunk[pos:line_end]
            pos = match.end()
            if pos == size and match.group() == b"\r":
                self._skip_lf = True
            offset = self._line_start
            self._line_start = base + pos
            self._line(raw, offset, base + pos, events)

    def _line(self, raw: bytes, offset: int, after: int, events: list[Event]) -> None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", "replace")
            self.invalid_utf8.append(offset)
        if not line:
            self._dispatch(offset, after, events)
            return
        if line[0] == ":":
            text = line[1:]
            self.comments.append(Comment(offset, text[1:] if text[:1] == " " else text))
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        field = Field(name, value, offset)
        if self._block_start < 0:
            self._block_start = offset
        self._fields.append(field)
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\x00" in value:
                self.ignored.append(IgnoredLine(offset, field, IgnoredReason.ID_WITH_NUL))
            else:
                self._id_buffer = value
        elif name == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry = int(value)
            else:
                self.ignored.append(IgnoredLine(offset, field, IgnoredReason.INVALID_RETRY))
        else:
            self.ignored.append(IgnoredLine(offset, field, IgnoredReason.UNKNOWN_FIELD))

    def _dispatch(self, offset: int, after: int, events: list[Event]) -> None:
        self.last_event_id = self._id_buffer
        self._boundary = after
        event = None
        if self._data:
            event = Event(
                self._type or "message",
                "\n".join(self._data),
                self.last_event_id,
                self._block_start,
                offset,
            )
            events.append(event)
        if self._fields:
            self.blocks.append(Block(self._block_start, offset, tuple(self._fields), event))
        self._data = []
        self._type = ""
        self._fields = []
        self._block_start = -1

    def close(self) -> StreamEnd:
        """End the stream: discard the unterminated block and report how the bytes ended.

        Calling it again returns the same report.
        """
        if self._end is not None:
            return self._end
        discarded = None
        if self._fields:
            discarded = Block(self._block_start, self._fed, tuple(self._fields), None)
        end = StreamEnd(
            length=self._fed,
            trailing_start=self._boundary,
            mid_block=self._fed > self._boundary,
            mid_line=bool(self._partial) or bool(self._head),
            discarded=discarded,
        )
        self._closed = True
        self._data = []
        self._type = ""
        self._fields = []
        self._partial.clear()
        self._head = b""
        self._end = end
        return end


@dataclass(frozen=True, slots=True)
class Decoded:
    """Everything :func:`decode` learned from a whole stream."""

    events: tuple[Event, ...]
    comments: tuple[Comment, ...]
    blocks: tuple[Block, ...]
    ignored: tuple[IgnoredLine, ...]
    invalid_utf8: tuple[int, ...]
    last_event_id: str
    retry: int | None
    end: StreamEnd


def decode(data: bytes | Iterable[bytes]) -> Decoded:
    """Decode a whole stream, given as bytes or as the chunks it arrived in, then close it."""
    decoder = Decoder()
    events: list[Event] = []
    chunks: Iterable[bytes] = (data,) if isinstance(data, bytes | bytearray) else data
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    end = decoder.close()
    return Decoded(
        events=tuple(events),
        comments=tuple(decoder.comments),
        blocks=tuple(decoder.blocks),
        ignored=tuple(decoder.ignored),
        invalid_utf8=tuple(decoder.invalid_utf8),
        last_event_id=decoder.last_event_id,
        retry=decoder.retry,
        end=end,
    )
