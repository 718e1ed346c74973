"""The nine kinds of timeline step, and their file form (a one-key mapping)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Final, Literal, TypeAlias, cast

from reader_mock._values import freeze, thaw
from reader_mock.contract import Channel
from reader_mock.sse.drop_kinds import DropKind

from .status import ActiveStatus, TerminalStatus

__all__ = [
    "STEP_KINDS",
    "ChunkedText",
    "Done",
    "Drop",
    "DropStreams",
    "ExpectedEvent",
    "GrowTotal",
    "Page",
    "PageError",
    "Progress",
    "Raw",
    "SetStatus",
    "Split",
    "Step",
    "Wait",
    "split_chunks",
    "split_from_data",
    "step_from_data",
]

Split: TypeAlias = Literal["bytes"] | tuple[int, ...] | None
"""How text is cut into writes: ``None`` (one write), ``"bytes"`` (one byte per write) or the byte
offsets of the UTF-8 encoding to cut at."""


class DropStreams(StrEnum):
    """Which connections a ``drop`` step cuts."""

    JOB = "job"
    WORKSPACE = "workspace"
    BOTH = "both"

    @property
    def channels(self) -> frozenset[Channel]:
        """The SSE channels concerned."""
        if self is DropStreams.BOTH:
            return frozenset({Channel.JOB, Channel.WORKSPACE})
        return frozenset({Channel(self.value)})


@dataclass(frozen=True)
class Wait:
    """Let ``seconds`` of clock time pass before the next step."""

    KIND: ClassVar[str] = "wait"
    seconds: float

    def to_data(self) -> dict[str, Any]:
        return {self.KIND: self.seconds}


@dataclass(frozen=True)
class SetStatus:
    """Change the job's status to ``queued`` or ``processing`` (terminal ones come from Done)."""

    KIND: ClassVar[str] = "status"
    status: ActiveStatus

    def to_data(self) -> dict[str, Any]:
        return {self.KIND: self.status}


@dataclass(frozen=True)
class Progress:
    """Send a progress snapshot after setting the fields given; ``None`` keeps a field as it is."""

    KIND: ClassVar[str] = "progress"
    status: ActiveStatus | None = None
    completed: int | None = None
    total: int | None = None

    def to_data(self) -> dict[str, Any]:
        body = {"status": self.status, "completed": self.completed, "total": self.total}
        return {self.KIND: {key: value for key, value in body.items() if value is not None}}


@dataclass(frozen=True)
class Page:
    """One page finished. Fields left ``None`` come from the content source.

    ``url`` defaults to the job's URL at this position (the n-th page or error takes the n-th URL);
    ``title`` and ``description`` go to ``metadata``; ``metadata`` is merged over the generated one.
    """

    KIND: ClassVar[str] = "page"
    url: str | None = None
    markdown: str | None = None
    html: str | None = None
    screenshot: str | None = None
    title: str | None = None
    description: str | None = None
    status_code: int | None = None
    proxy_mode: str | None = None
    credits: int | None = None
    metadata: Mapping[str, Any] | None = None

    # Step field name -> key in the file format.
    FIELDS: ClassVar[Mapping[str, str]] = {
        "url": "url",
        "markdown": "markdown",
        "html": "html",
        "screenshot": "screenshot",
        "title": "title",
        "description": "description",
        "status_code": "statusCode",
        "proxy_mode": "proxyMode",
        "credits": "credits",
        "metadata": "metadata",
    }

    def __post_init__(self) -> None:
        if self.metadata is not None:
            object.__setattr__(self, "metadata", freeze(self.metadata))

    def explicit(self) -> dict[str, Any]:
        """The fields given, under their file-format names."""
        values = {key: getattr(self, attr) for attr, key in self.FIELDS.items()}
        return {key: thaw(value) for key, value in values.items() if value is not None}

    def to_data(self) -> dict[str, Any]:
        return {self.KIND: self.explicit()}


@dataclass(frozen=True)
class PageError:
    """One page failed: an ``error`` event and a failed result entry; it counts as attempted."""

    KIND: ClassVar[str] = "error"
    url: str | None = None
    error: str | None = None

    def to_data(self) -> dict[str, Any]:
        body = {"url": self.url, "error": self.error}
        return {self.KIND: {key: value for key, value in body.items() if value is not None}}


@dataclass(frozen=True)
class GrowTotal:
    """A crawl found more pages: ``total`` becomes this (it never shrinks)."""

    KIND: ClassVar[str] = "total"
    total: int

    def to_data(self) -> dict[str, Any]:
        return {self.KIND: self.total}


@dataclass(frozen=True)
class Done:
    """End the job. ``error`` is the job's error message and belongs to ``failed`` only."""

    KIND: ClassVar[str] = "done"
    status: TerminalStatus
    error: str | None = None

    def to_data(self) -> dict[str, Any]:
        if self.error is None:
            return {self.KIND: self.status}
        return {self.KIND: {"status": self.status, "error": self.error}}


@dataclass(frozen=True)
class Drop:
    """Cut the open connections of the per-job stream, the workspace stream, or both."""

    KIND: ClassVar[str] = "drop"
    streams: DropStreams
    how: DropKind

    def to_data(self) -> dict[str, Any]:
        return {self.KIND: {"streams": self.streams.value, "how": self.how.value}}


@dataclass(frozen=True)
class ExpectedEvent:
    """An event a conforming (WHATWG) SSE parser dispatches for a raw text.

    Attributes:
        data: the event's data, after the parser joined ``data:`` lines.
        event: the event type (``message`` when the frame names none).
        id: the last event ID at dispatch; ``None`` means "not checked".
    """

    data: str
    event: str = "message"
    id: str | None = None

    def to_data(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.event != "message":
            body["event"] = self.event
        body["data"] = self.data
        if self.id is not None:
            body["id"] = self.id
        return body


def _split_data(split: Split) -> Any:
    return list(split) if isinstance(split, tuple) else split


@dataclass(frozen=True)
class Raw:
    """Write ``text`` as-is to the open connections of one stream, for parser edge cases.

    ``split`` cuts its UTF-8 bytes into separate writes; ``expect`` lists the events a conforming
    parser must dispatch for it (checked when the timeline is validated).
    """

    KIND: ClassVar[str] = "raw"
    stream: Channel
    text: str
    split: Split = None
    expect: tuple[ExpectedEvent, ...] | None = None

    def chunks(self) -> tuple[bytes, ...]:
        """The writes, in order."""
        return split_chunks(self.text, self.split)

    def to_data(self) -> dict[str, Any]:
        body: dict[str, Any] = {"stream": self.stream.value, "text": self.text}
        if self.split is not None:
            body["split"] = _split_data(self.split)
        if self.expect is not None:
            body["expect"] = [event.to_data() for event in self.expect]
        return {self.KIND: body}


Step: TypeAlias = Wait | SetStatus | Progress | Page | PageError | GrowTotal | Done | Drop | Raw

STEP_KINDS: Final[Mapping[str, type[Step]]] = {
    cls.KIND: cls
    for cls in (Wait, SetStatus, Progress, Page, PageError, GrowTotal, Done, Drop, Raw)
}
"""Step kind (the key in the file format) -> step class."""


def split_chunks(text: str, split: Split) -> tuple[bytes, ...]:
    """Cut the UTF-8 encoding of ``text`` as ``split`` says (see :data:`Split`).

    Raises:
        UnicodeEncodeError: the text holds a lone surrogate.
        ValueError: offsets that do not increase or fall outside the text.
    """
    data = text.encode("utf-8")
    if not data:
        return ()
    if split is None:
        return (data,)
    if split == "bytes":
        return tuple(data[index : index + 1] for index in range(len(data)))
    cuts = [0, *split, len(data)]
    if any(later <= earlier for earlier, later in itertools.pairwise(cuts)):
        raise ValueError(f"split offsets must increase strictly inside 1..{len(data) - 1}")
    return tuple(data[start:end] for start, end in itertools.pairwise(cuts))


@dataclass(frozen=True)
class ChunkedText:
    """Text written as-is, cut into writes as ``split`` says."""

    text: str
    split: Split = None

    def chunks(self) -> tuple[bytes, ...]:
        """The writes, in order."""
        return split_chunks(self.text, self.split)

    def to_data(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text}
        if self.split is not None:
            body["split"] = _split_data(self.split)
        return body


def split_from_data(value: Any) -> Split:
    if value is None or value == "bytes":
        return cast(Split, value)
    return tuple(int(offset) for offset in value)  # integers by the schema (3.0 included)


def _whole(value: Any) -> Any:
    """``3.0`` -> ``3``: JSON Schema's ``integer`` admits floats with no fraction; payloads should
    carry real integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _page_from_data(body: Mapping[str, Any] | None) -> Page:
    body = body or {}
    values = {attr: body.get(key) for attr, key in Page.FIELDS.items()}
    for attr in ("status_code", "credits"):
        values[attr] = _whole(values[attr])
    return Page(**values)


def _progress_from_data(body: Mapping[str, Any] | None) -> Progress:
    body = body or {}
    return Progress(
        status=body.get("status"),
        completed=_whole(body.get("completed")),
        total=_whole(body.get("total")),
    )


def _done_from_data(body: Any) -> Done:
    if isinstance(body, str):
        return Done(cast(TerminalStatus, body))
    return Done(body["status"], body.get("error"))


def _raw_from_data(body: Mapping[str, Any]) -> Raw:
    expect = body.get("expect")
    return Raw(
        stream=Channel(body["stream"]),
        text=body["text"],
        split=split_from_data(body.get("split")),
        expect=None
        if expect is None
        else tuple(
            ExpectedEvent(data=item["data"], event=item.get("event", "message"), id=item.get("id"))
            for item in expect
        ),
    )


def step_from_data(data: Mapping[str, Any]) -> Step:
    """One step from its file form (a one-key mapping), assuming it passed the schema."""
    ((kind, body),) = data.items()
    match kind:
        case "wait":
            return Wait(float(body))
        case "status":
            return SetStatus(body)
        case "progress":
            return _progress_from_data(body)
        case "page":
            return _page_from_data(body)
        case "error":
            return PageError(**(body or {}))
        case "total":
            return GrowTotal(int(body))
        case "done":
            return _done_from_data(body)
        case "drop":
            return Drop(DropStreams(body["streams"]), DropKind(body["how"]))
        case "raw":
            return _raw_from_data(body)
    raise ValueError(f"unknown step kind {kind!r}")
