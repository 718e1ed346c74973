"""Check the raw bytes of an SSE stream against the Reader contract (pure, no I/O).

:func:`check_stream` checks captured bytes; :class:`StreamChecker` checks a stream while it is
read (for example a bounded read of the endless workspace stream). What is checked, frame by
frame: docs/architecture.md, "Checking requests and streams against the contract".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from reader_mock.sse.decoder import Block, Decoder, Event, IgnoredLine, IgnoredReason, StreamEnd

from .channels import CHANNEL_LABELS, Channel, coerce_channel
from .events import EventContract, default_event_contract
from .rules import StreamRules, stream_rules

__all__ = ["StreamChecker", "StreamViolation", "ViolationKind", "check_stream"]


class ViolationKind(StrEnum):
    """The kinds of stream violation."""

    FRAME_SHAPE = "frame-shape"
    """A frame without exactly one ``event:`` and one ``data:`` line."""

    UNEXPECTED_FIELD = "unexpected-field"
    """``id:``/``retry:`` while ids are off, or a field the SSE format does not know."""

    INVALID_FIELD = "invalid-field"
    """An ``id`` with NUL or a ``retry`` that is not only digits: clients ignore it."""

    EVENT_ID = "event-id"
    """With ids on: an event whose id is not the previous one plus one (a repeat or a gap), is
    not a number, or is missing after ids began."""

    UNKNOWN_EVENT = "unknown-event"
    """An event name neither channel has."""

    WRONG_CHANNEL = "wrong-channel"
    """An event name of the other channel."""

    INVALID_JSON = "invalid-json"
    """The data is not JSON."""

    PAYLOAD = "payload"
    """The payload breaks the event's schema."""

    FIRST_EVENT = "first-event"
    """The stream did not start with the event the rules require."""

    AFTER_TERMINAL = "after-terminal"
    """A frame or comment after the terminal event, after which the server must close."""

    MISSING_TERMINAL = "missing-terminal"
    """The stream ended without its terminal event."""

    UNEXPECTED_END = "unexpected-end"
    """An endless stream ended."""

    UNTERMINATED_FRAME = "unterminated-frame"
    """The bytes ended inside a frame or a line; clients discard it."""

    INVALID_UTF8 = "invalid-utf8"
    """A line was not valid UTF-8 (clients decode it with U+FFFD)."""


@dataclass(frozen=True, slots=True)
class StreamViolation:
    """One way a stream breaks the contract.

    Attributes:
        kind: what kind of rule was broken.
        event_index: 0-based index of the frame among the stream's frames (comments and blank
            lines are not frames), or ``None`` for what belongs to no frame (the end of the
            stream, a comment, a line's encoding).
        offset: byte offset in the stream where the problem is (the frame's or line's start,
            or the stream's length for its end).
        message: a sentence for people.
        path: for payload violations, where in the payload (``data.completed``); else ``""``.
    """

    kind: ViolationKind
    event_index: int | None
    offset: int
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f"frame {self.event_index}, " if self.event_index is not None else ""
        return f"{where}byte {self.offset}: {self.message}"


class StreamChecker:
    """Check one stream incrementally: :meth:`feed` bytes as they arrive, then :meth:`finish`.

    Args:
        channel: the channel the bytes came from.
        ids: whether frames may carry ``id:`` and ``retry:`` (``None``: as the rules say). With
            ids on and rules that say ids are consecutive, each event's id must be the previous
            one plus one.
        last_event_id: the ``Last-Event-ID`` the connection was opened with: its first event
            must carry the next id (``None``: the first id may be any number).
        contract: event names and schemas (``None``: the shipped contract).
        rules: stream rules (``None``: the shipped rules of ``channel``).
    """

    def __init__(
        self,
        channel: Channel | str,
        *,
        ids: bool | None = None,
        last_event_id: str | None = None,
        contract: EventContract | None = None,
        rules: StreamRules | None = None,
    ) -> None:
        self.channel = coerce_channel(channel)
        self._contract = contract if contract is not None else default_event_contract()
        self._rules = rules if rules is not None else stream_rules(self.channel)
        self._ids = self._rules.id_field if ids is None else ids
        self._last_id = last_event_id
        """The id of the previous event (the one the connection resumed after, at first)."""
        self._own = self._contract.event_names(self.channel)
        self._others = {
            other: self._contract.event_names(other) for other in Channel if other != self.channel
        }
        self._decoder = Decoder()
        self._blocks_seen = 0
        self._comments_seen = 0
        self._utf8_seen = 0
        self._ignored: dict[int, IgnoredLine] = {}
        self._ignored_seen = 0
        self._dispatched = 0
        self._terminal: Event | None = None
        self._end: StreamEnd | None = None
        self.events: list[Event] = []
        self.violations: list[StreamViolation] = []

    @property
    def label(self) -> str:
        """``per-job stream`` or ``workspace stream``."""
        return CHANNEL_LABELS[self.channel]

    @property
    def decoder(self) -> Decoder:
        """The decoder, with its framing observations (comments, blocks, ignored lines)."""
        return self._decoder

    def feed(self, data: bytes) -> list[StreamViolation]:
        """Check the next bytes; return the violations they reveal.

        Raises:
            ValueError: :meth:`finish` was already called.
        """
        if self._end is not None:
            raise ValueError("the stream checker is finished; create a new one for a new stream")
        self.events.extend(self._decoder.feed(data))
        return self._collect()

    def finish(self, *, ended: bool = True) -> list[StreamViolation]:
        """Stop checking; return the violations found at the end of the bytes.

        Args:
            ended: ``True`` when the bytes run to the end of the response (the server ended it
                or the connection dropped); ``False`` when the client stopped reading an open
                stream, in which case an unfinished frame or a missing terminal event is not
                a violation.
        """
        if self._end is not None:
            return []
        self._end = self._decoder.close()
        found = self._collect()
        if not ended:
            return found
        extra: list[StreamViolation] = []
        end = self._end
        if end.discarded is not None or end.mid_line:
            start = end.discarded.start if end.discarded is not None else end.trailing_start
            index = self._blocks_seen if end.discarded is not None else None
            extra.append(
                StreamViolation(
                    ViolationKind.UNTERMINATED_FRAME,
                    index,
                    start,
                    f"the stream ended inside a frame ({end.length - end.trailing_start} bytes "
                    "after the last blank line); clients discard it",
                )
            )
        rules = self._rules
        if rules.endless:
            extra.append(
                StreamViolation(
                    ViolationKind.UNEXPECTED_END,
                    None,
                    end.length,
                    f"the {self.label} ended; it must stay open until the client disconnects",
                )
            )
        elif rules.closes_after is not None and self._terminal is None:
            extra.append(
                StreamViolation(
                    ViolationKind.MISSING_TERMINAL,
                    None,
                    end.length,
                    f"the {self.label} ended without a {rules.closes_after!r} event",
                )
            )
        self.violations.extend(extra)
        return [*found, *extra]

    # -- what the decoder learned since the last call ------------------------------------------

    def _collect(self) -> list[StreamViolation]:
        decoder = self._decoder
        found: list[StreamViolation] = []
        for ignored in decoder.ignored[self._ignored_seen :]:
            self._ignored[ignored.offset] = ignored
        self._ignored_seen = len(decoder.ignored)
        for index in range(self._blocks_seen, len(decoder.blocks)):
            found.extend(self._check_block(index, decoder.blocks[index]))
        self._blocks_seen = len(decoder.blocks)
        for comment in decoder.comments[self._comments_seen :]:
            terminal = self._terminal
            if (
                terminal is not None
                and self._rules.closes_after is not None
                and comment.offset > terminal.end
            ):
                found.append(
                    StreamViolation(
                        ViolationKind.AFTER_TERMINAL,
                        None,
                        comment.offset,
                        f"comment {comment.text!r} after {terminal.type!r}: the server "
                        f"must close the {self.label} right after {terminal.type!r}",
                    )
                )
        self._comments_seen = len(decoder.comments)
        for offset in decoder.invalid_utf8[self._utf8_seen :]:
            found.append(
                StreamViolation(
                    ViolationKind.INVALID_UTF8,
                    None,
                    offset,
                    "the line is not valid UTF-8; clients decode it with U+FFFD",
                )
            )
        self._utf8_seen = len(decoder.invalid_utf8)
        found.sort(key=lambda violation: violation.offset)
        self.violations.extend(found)
        return found

    def _check_block(self, index: int, block: Block) -> list[StreamViolation]:
        found = self._check_fields(index, block)
        event = block.event
        names = [field.value for field in block.fields if field.name == "event"]
        if self._terminal is not None:
            found.append(
                self._violation(
                    ViolationKind.AFTER_TERMINAL,
                    index,
                    block.start,
                    f"frame after {self._terminal.type!r}: the server must close the "
                    f"{self.label} right after {self._terminal.type!r}",
                )
            )
        if not names:
            found.append(
                self._violation(
                    ViolationKind.FRAME_SHAPE,
                    index,
                    block.start,
                    "the frame has no 'event:' line (clients see the name 'message'); every "
                    "frame needs exactly one",
                )
            )
            return found
        name = names[-1] or "message"
        if len(names) > 1:
            found.append(
                self._violation(
                    ViolationKind.FRAME_SHAPE,
                    index,
                    block.start,
                    f"the frame has {len(names)} 'event:' lines (the last one, {name!r}, wins); "
                    "every frame needs exactly one",
                )
            )
        data_lines = block.count("data")
        if data_lines == 0:
            found.append(
                self._violation(
                    ViolationKind.FRAME_SHAPE,
                    index,
                    block.start,
                    f"the {name!r} frame has no 'data:' line, so conforming clients dispatch "
                    "nothing; every frame needs exactly one",
                )
            )
        elif data_lines > 1:
            found.append(
                self._violation(
                    ViolationKind.FRAME_SHAPE,
                    index,
                    block.start,
                    f"the {name!r} frame splits its data over {data_lines} 'data:' lines; "
                    "the contract sends the JSON on exactly one",
                )
            )
        found.extend(self._check_name(index, block, name))
        if event is not None:
            found.extend(self._check_event(index, event, name))
            if self._ids and self._rules.ids_consecutive:
                found.extend(self._check_id(index, block, name))
        return found

    def _check_fields(self, index: int, block: Block) -> list[StreamViolation]:
        found: list[StreamViolation] = []
        for field in block.fields:
            if field.name in ("id", "retry") and not self._ids:
                found.append(
                    self._violation(
                        ViolationKind.UNEXPECTED_FIELD,
                        index,
                        field.offset,
                        f"'{field.name}:' field ({field.value!r}) while event ids are off; "
                        f"the {self.label} sends no 'id:' or 'retry:' by default",
                    )
                )
                continue
            ignored = self._ignored.get(field.offset)
            if ignored is None:
                continue
            kind = (
                ViolationKind.UNEXPECTED_FIELD
                if ignored.reason is IgnoredReason.UNKNOWN_FIELD
                else ViolationKind.INVALID_FIELD
            )
            found.append(self._violation(kind, index, field.offset, ignored.message))
        return found

    def _check_name(self, index: int, block: Block, name: str) -> list[StreamViolation]:
        if name in self._own:
            return []
        for other, names in self._others.items():
            if name in names:
                return [
                    self._violation(
                        ViolationKind.WRONG_CHANNEL,
                        index,
                        block.start,
                        f"event {name!r} belongs to the {CHANNEL_LABELS[other]}, not the "
                        f"{self.label} (which sends {_listing(self._own)})",
                    )
                ]
        return [
            self._violation(
                ViolationKind.UNKNOWN_EVENT,
                index,
                block.start,
                f"unknown event {name!r}; the {self.label} sends {_listing(self._own)}",
            )
        ]

    def _check_event(self, index: int, event: Event, name: str) -> list[StreamViolation]:
        found: list[StreamViolation] = []
        rules = self._rules
        position = self._dispatched
        self._dispatched += 1
        if position == 0 and rules.first_event is not None:
            allowed = [rules.first_event]
            if rules.first_event_when_terminal is not None:
                allowed.append(rules.first_event_when_terminal)
            if name not in allowed:
                found.append(
                    self._violation(
                        ViolationKind.FIRST_EVENT,
                        index,
                        event.start,
                        f"the {self.label} must start with {_either(allowed)}, "
                        f"but its first event is {name!r}",
                    )
                )
        if name in rules.terminal_events and self._terminal is None:
            self._terminal = event
        try:
            payload = json.loads(event.data, parse_constant=_not_json)
        except ValueError as exc:
            found.append(
                self._violation(
                    ViolationKind.INVALID_JSON,
                    index,
                    event.start,
                    f"the data of {name!r} is not JSON ({exc}): {_preview(event.data)}",
                )
            )
            return found
        if name in self._own:
            for problem in self._contract.check_event(self.channel, name, payload):
                found.append(
                    StreamViolation(
                        ViolationKind.PAYLOAD,
                        index,
                        event.start,
                        f"event {name!r}: {problem.message}",
                        problem.path,
                    )
                )
        return found

    def _check_id(self, index: int, block: Block, name: str) -> list[StreamViolation]:
        """With ids on: the event's own ``id:`` is the previous event's plus one."""
        # An id with NUL is ignored by clients (and reported as an invalid field).
        given = [f.value for f in block.fields if f.name == "id" and "\0" not in f.value]
        own = given[-1] if given else None
        previous, self._last_id = self._last_id, own
        scope = f"the {self._rules.id_scope}'s events"
        if own is None:
            if previous is None:
                return []  # ids have not begun on this stream
            self._last_id = previous
            problem = f"{name!r} carries no 'id:' after id {previous!r}"
        elif not _is_number(own):
            problem = f"{name!r} has the id {own!r}, which is not a decimal number"
        elif previous is None or not _is_number(previous) or int(own) == int(previous) + 1:
            return []
        elif int(own) <= int(previous):
            problem = f"{name!r} has the id {own}, after id {previous}: an id came again"
        else:
            problem = (
                f"{name!r} has the id {own}, after id {previous}: "
                f"{int(own) - int(previous) - 1} event(s) missing"
            )
        return [
            self._violation(
                ViolationKind.EVENT_ID,
                index,
                block.start,
                f"{problem}; with ids on, ids count {scope} one by one",
            )
        ]

    @staticmethod
    def _violation(
        kind: ViolationKind, index: int | None, offset: int, message: str
    ) -> StreamViolation:
        return StreamViolation(kind, index, offset, message)


def check_stream(
    data: bytes | Iterable[bytes],
    channel: Channel | str,
    *,
    ended: bool = True,
    ids: bool | None = None,
    last_event_id: str | None = None,
    contract: EventContract | None = None,
    rules: StreamRules | None = None,
) -> list[StreamViolation]:
    """Check the bytes a client received from one SSE stream; return every violation in order.

    Args:
        data: the response body, whole or in the chunks it arrived in.
        channel: the channel it came from (:attr:`Channel.JOB` or :attr:`Channel.WORKSPACE`).
        ended: whether the bytes run to the end of the response (see
            :meth:`StreamChecker.finish`).
        ids: whether ``id:`` and ``retry:`` fields are allowed (``None``: as the rules say);
            with ids on, each event's id must be the previous one plus one.
        last_event_id: the ``Last-Event-ID`` the connection was opened with (see
            :class:`StreamChecker`).
        contract: event names and schemas (``None``: the shipped contract).
        rules: stream rules (``None``: the shipped rules of ``channel``).
    """
    checker = StreamChecker(
        channel, ids=ids, last_event_id=last_event_id, contract=contract, rules=rules
    )
    chunks: Iterable[bytes] = (data,) if isinstance(data, bytes | bytearray) else data
    for chunk in chunks:
        checker.feed(chunk)
    checker.finish(ended=ended)
    return list(checker.violations)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _not_json(name: str) -> object:
    # json.loads accepts NaN and Infinity, which are not JSON and which strict clients refuse.
    raise ValueError(f"{name} is not a JSON value")


def _listing(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in sorted(names))


def _either(names: list[str]) -> str:
    return " or ".join(repr(name) for name in names)


def _preview(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
