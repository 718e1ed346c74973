"""Timelines: a job's life as data, and how a timeline becomes a concrete job script.

A :class:`Timeline` is an immutable sequence of steps. Every step happens at a clock offset from the
job's creation; ``wait`` steps move that offset forward and all other steps take no time, so steps
between two waits happen at the same instant, in order. The same model comes from a timeline file
(``reader_mock.core.timeline_files``) or from the builder methods of :class:`Timeline`::

    Timeline.build("two-pages").wait(0.5).status("processing").page().page().done("completed")

A timeline is independent of any job. :meth:`Timeline.instantiate` plays it for a concrete job (its
URLs, mode, formats and a content source) and returns a :class:`JobScript`: one :class:`Action` per
step that does something, each with its clock offset, the job's counters after it, the result entry
it adds and the events it sends on both SSE channels. The job engine replays those actions on the
clock; the validator checks the same actions against the contract. Content comes from a
:class:`ContentSource`, so the engine's seeded Faker stays in charge of markdown, titles and URLs.

:func:`timeline_for_request` writes the timeline of a job created without a script: one page per
URL, an ``error`` for URLs on the failing host ``fail.example``, then ``done``.

Nothing here does I/O: no files, no clock, no sockets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, Protocol, TypeAlias, cast
from urllib.parse import urlsplit

from reader_mock.contract import Channel

__all__ = [
    "ACTIVE_STATUSES",
    "EVENT_TABLE",
    "PLACEHOLDER_JOB_ID",
    "STEP_KINDS",
    "TERMINAL_STATUSES",
    "Action",
    "ActiveStatus",
    "ChunkedText",
    "ContentSource",
    "Done",
    "Drop",
    "DropHow",
    "DropStreams",
    "ExpectedEvent",
    "GrowTotal",
    "JobMode",
    "JobScript",
    "JobSpec",
    "JobState",
    "JobStatus",
    "Page",
    "PageError",
    "PlainContent",
    "Progress",
    "Raw",
    "ScriptedEvent",
    "SetStatus",
    "Split",
    "Step",
    "StepIssue",
    "TerminalStatus",
    "Timeline",
    "TimelineError",
    "TimelineProblem",
    "TimelineSettings",
    "Wait",
    "is_failing_url",
    "play",
    "split_chunks",
    "step_from_data",
    "timeline_for_request",
]

JobStatus: TypeAlias = Literal["queued", "processing", "completed", "failed", "cancelled"]
ActiveStatus: TypeAlias = Literal["queued", "processing"]
TerminalStatus: TypeAlias = Literal["completed", "failed", "cancelled"]
JobMode: TypeAlias = Literal["batch", "crawl"]
Split: TypeAlias = Literal["bytes"] | tuple[int, ...] | None
"""How text is cut into writes: ``None`` (one write), ``"bytes"`` (one byte per write) or the byte
offsets of the UTF-8 encoding to cut at."""

ACTIVE_STATUSES: Final[tuple[ActiveStatus, ...]] = ("queued", "processing")
TERMINAL_STATUSES: Final[tuple[TerminalStatus, ...]] = ("completed", "failed", "cancelled")
PLACEHOLDER_JOB_ID: Final = "job_0000000000000000"
"""The job id used when a timeline is played without a real job (validation, previews)."""

_FAILING_HOST: Final = "fail.example"


# --------------------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class TimelineProblem:
    """One thing wrong with a timeline, worded for the person who wrote it.

    Attributes:
        source: the file name as given, or ``timeline 'NAME'`` for a built timeline.
        message: what was expected and what was found.
        step: 1-based position of the step in ``steps`` (``None`` for the file as a whole).
        line: 1-based line in the file, when known.
        column: 1-based column in the file, when known.
        field: where, relative to the step (``page.url``) or to the file (``settings.ids``).
    """

    source: str
    message: str
    step: int | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = [self.source]
        if self.step is not None:
            where.append(f"step {self.step}" + (f" (line {self.line})" if self.line else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(self.field)
        return ": ".join([*where, self.message])

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-compatible data (``text`` is the one-line rendering)."""
        return {
            "source": self.source,
            "step": self.step,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
            "text": str(self),
        }


class TimelineError(ValueError):
    """A timeline cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Iterable[TimelineProblem]) -> None:
        self.problems: tuple[TimelineProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class StepIssue:
    """A rule a timeline breaks, found while playing it, before it is tied to a file position.

    Attributes:
        step: 1-based step number, or ``None`` for the timeline as a whole.
        field: dotted path inside the step (``progress.completed``), or a top-level field.
        message: what is wrong and how to fix it.
    """

    step: int | None
    field: str | None
    message: str


# ------------------------------------------------------------------------------------------ steps


def _freeze(value: Any) -> Any:
    """Deep, read-only copy of JSON-like data, so steps stay immutable and comparable."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(key): _freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    """Plain ``dict``/``list`` copy of data frozen by :func:`_freeze`."""
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


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


class DropHow(StrEnum):
    """How a ``drop`` step ends a connection."""

    CLEAN = "clean"
    """End the response body properly (terminating chunk), without a ``done``."""
    TRUNCATE = "truncate"
    """Close the connection without the chunked body's terminating chunk."""
    MID_FRAME = "mid-frame"
    """Write the first part of a frame, then close as ``truncate`` does."""
    RESET = "reset"
    """A TCP reset where the server can make one; otherwise ``truncate``."""


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
            object.__setattr__(self, "metadata", _freeze(self.metadata))

    def explicit(self) -> dict[str, Any]:
        """The fields given, under their file-format names."""
        values = {key: getattr(self, attr) for attr, key in self.FIELDS.items()}
        return {key: _thaw(value) for key, value in values.items() if value is not None}

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
    how: DropHow

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


@dataclass(frozen=True)
class TimelineSettings:
    """Stream options for the job that plays a timeline.

    Attributes:
        ids: give the per-job stream ``id:`` fields and resume from ``Last-Event-ID``.
        ping_interval: seconds between ``: ping`` comments on the per-job stream; ``None`` keeps
            the server's interval.
        job_stream_prefix: text written at the start of every per-job stream connection, before
            the first frame (byte order mark cases).
    """

    ids: bool = False
    ping_interval: float | None = None
    job_stream_prefix: ChunkedText | None = None

    def to_data(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.ids:
            body["ids"] = True
        if self.ping_interval is not None:
            body["pingInterval"] = self.ping_interval
        if self.job_stream_prefix is not None:
            body["jobStreamPrefix"] = self.job_stream_prefix.to_data()
        return body


# ------------------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class JobSpec:
    """What a timeline needs to know about the job that plays it.

    Attributes:
        urls: a batch's URLs, or a crawl's seed URL alone.
        mode: ``batch`` or ``crawl``.
        formats: the requested content formats (``markdown``, ``html``, ``screenshot``).
        proxy_mode: the requested proxy mode.
    """

    urls: tuple[str, ...]
    mode: JobMode = "batch"
    formats: tuple[str, ...] = ("markdown",)
    proxy_mode: str = "standard"

    @property
    def initial_total(self) -> int:
        """``total`` when the job is created: the number of URLs, or 1 for a crawl."""
        return len(self.urls) if self.mode == "batch" else 1


class ContentSource(Protocol):
    """Where generated page content comes from (the engine passes its seeded Faker content)."""

    def page(self, job: JobSpec, url: str, position: int) -> dict[str, Any]:
        """A successful result entry for ``url``, the job's ``position``-th attempt (from 0)."""
        ...

    def page_error(self, job: JobSpec, url: str, position: int) -> str:
        """The error message of a failed page."""
        ...

    def discovered_url(self, job: JobSpec, position: int) -> str:
        """The URL a crawl finds for its ``position``-th page (position 0 is the seed)."""
        ...


# A 1x1 transparent PNG: the smallest valid screenshot.
_PIXEL_PNG: Final = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="
)


class PlainContent:
    """Deterministic content without Faker, for validation, previews and tests."""

    def page(self, job: JobSpec, url: str, position: int) -> dict[str, Any]:
        number = position + 1
        entry: dict[str, Any] = {"url": url}
        if "markdown" in job.formats:
            entry["markdown"] = f"# Page {number}\n\nContent of {url}\n"
        if "html" in job.formats:
            entry["html"] = f"<h1>Page {number}</h1><p>Content of {url}</p>"
        if "screenshot" in job.formats:
            entry["screenshot"] = _PIXEL_PNG
        entry["statusCode"] = 200
        entry["proxyMode"] = job.proxy_mode
        entry["credits"] = 3 if job.proxy_mode == "premium" else 1
        entry["metadata"] = {"title": f"Page {number}", "statusCode": 200, "duration": 100}
        return entry

    def page_error(self, job: JobSpec, url: str, position: int) -> str:
        return f"Failed to fetch {url}: upstream error"

    def discovered_url(self, job: JobSpec, position: int) -> str:
        seed = urlsplit(job.urls[0])
        if position == 0:
            return job.urls[0]
        return f"{seed.scheme}://{seed.netloc}/page-{position}"


@dataclass(frozen=True)
class JobState:
    """A job's status and counters at one moment."""

    status: JobStatus
    completed: int
    total: int
    credits_used: int = 0
    error: str | None = None

    def progress_payload(self) -> dict[str, Any]:
        """``{status, completed, total}``: the per-job ``progress`` and ``done`` payload."""
        return {"status": self.status, "completed": self.completed, "total": self.total}


@dataclass(frozen=True)
class ScriptedEvent:
    """One SSE event: the channel it goes to, its name and its JSON payload."""

    channel: Channel
    name: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Action:
    """What one step does to a concrete job.

    Attributes:
        at: clock seconds after the job's creation.
        step: 1-based number of the step in the timeline.
        source: the step itself (``Drop`` and ``Raw`` steps are carried out by the streams).
        state: the job's status and counters after the step.
        result: the result entry the step appends to the job's results, if any.
        events: the events the step sends, per-job stream first, then workspace stream.
    """

    at: float
    step: int
    source: Step
    state: JobState
    result: Mapping[str, Any] | None = None
    events: tuple[ScriptedEvent, ...] = ()

    @property
    def kind(self) -> str:
        """The step kind (``page``, ``done``, ``drop``...)."""
        return self.source.KIND


@dataclass(frozen=True)
class JobScript:
    """A timeline played for one job: everything that happens to it, in order.

    Attributes:
        timeline: the timeline played.
        job: the job it was played for.
        job_id: the id put in workspace payloads.
        initial: the job when it is created (``queued``).
        creation_events: what the job's creation sends (a workspace ``job:progress``).
        actions: one per step that does something (waits only move ``at``).
    """

    timeline: Timeline
    job: JobSpec
    job_id: str
    initial: JobState
    creation_events: tuple[ScriptedEvent, ...]
    actions: tuple[Action, ...]

    @property
    def final(self) -> JobState:
        """The job's state after the last action."""
        return self.actions[-1].state if self.actions else self.initial

    @property
    def events(self) -> tuple[ScriptedEvent, ...]:
        """Every event, creation first, in the order it is sent."""
        return self.creation_events + tuple(
            event for action in self.actions for event in action.events
        )

    def events_on(self, channel: Channel | str) -> tuple[ScriptedEvent, ...]:
        """The events one channel carries, in order."""
        wanted = Channel(channel)
        return tuple(event for event in self.events if event.channel is wanted)


# ------------------------------------------------------------------------------------ timeline


@dataclass(frozen=True)
class Timeline:
    """A named, immutable sequence of steps, with the job shape and stream settings it assumes.

    Build one with :meth:`build` and the step methods, each of which returns a new timeline with
    one more step; or load one from a file with ``reader_mock.core.timeline_files.load_timeline``.
    Both give equal values for the same timeline.

    Attributes:
        name: short identifier (``partial-failure``).
        steps: the steps in order.
        description: what the timeline shows.
        mode: ``batch`` or ``crawl``.
        urls: the URLs the timeline is written for, used when it plays on its own.
        settings: stream options for the job that plays it.
    """

    name: str
    steps: tuple[Step, ...] = ()
    description: str = ""
    mode: JobMode = "batch"
    urls: tuple[str, ...] = ()
    settings: TimelineSettings = field(default_factory=TimelineSettings)

    # --- builder

    @classmethod
    def build(
        cls,
        name: str,
        *,
        description: str = "",
        mode: JobMode = "batch",
        urls: Sequence[str] = (),
        ids: bool = False,
        ping_interval: float | None = None,
        job_stream_prefix: ChunkedText | str | None = None,
    ) -> Timeline:
        """Start a timeline with no steps; add steps with the methods below."""
        prefix = (
            ChunkedText(job_stream_prefix)
            if isinstance(job_stream_prefix, str)
            else job_stream_prefix
        )
        return cls(
            name=name,
            description=description,
            mode=mode,
            urls=tuple(urls),
            settings=TimelineSettings(
                ids=ids,
                ping_interval=None if ping_interval is None else float(ping_interval),
                job_stream_prefix=prefix,
            ),
        )

    def then(self, *steps: Step) -> Timeline:
        """A copy with ``steps`` appended."""
        return replace(self, steps=self.steps + steps)

    def wait(self, seconds: float) -> Timeline:
        """Append ``wait``: let ``seconds`` of clock time pass."""
        return self.then(Wait(float(seconds)))

    def status(self, status: ActiveStatus) -> Timeline:
        """Append ``status``: ``queued`` or ``processing``."""
        return self.then(SetStatus(status))

    def progress(
        self,
        *,
        status: ActiveStatus | None = None,
        completed: int | None = None,
        total: int | None = None,
    ) -> Timeline:
        """Append ``progress``: set the fields given, then send a snapshot."""
        return self.then(Progress(status=status, completed=completed, total=total))

    def page(
        self,
        url: str | None = None,
        *,
        markdown: str | None = None,
        html: str | None = None,
        screenshot: str | None = None,
        title: str | None = None,
        description: str | None = None,
        status_code: int | None = None,
        proxy_mode: str | None = None,
        credits: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Timeline:
        """Append ``page``: one finished page; absent fields are generated."""
        return self.then(
            Page(
                url=url,
                markdown=markdown,
                html=html,
                screenshot=screenshot,
                title=title,
                description=description,
                status_code=status_code,
                proxy_mode=proxy_mode,
                credits=credits,
                metadata=metadata,
            )
        )

    def error(self, url: str | None = None, *, error: str | None = None) -> Timeline:
        """Append ``error``: one failed page (counts toward ``completed``)."""
        return self.then(PageError(url=url, error=error))

    def total(self, total: int) -> Timeline:
        """Append ``total``: a crawl's new total."""
        return self.then(GrowTotal(total))

    def done(self, status: TerminalStatus, *, error: str | None = None) -> Timeline:
        """Append ``done``: the job ends; ``error`` (the job's error) goes with ``failed``."""
        return self.then(Done(status, error))

    def drop(self, streams: DropStreams | str, how: DropHow | str) -> Timeline:
        """Append ``drop``: cut the connections of ``job``, ``workspace`` or ``both`` streams."""
        return self.then(Drop(DropStreams(streams), DropHow(how)))

    def raw(
        self,
        stream: Channel | str,
        text: str,
        *,
        split: Split | Sequence[int] = None,
        expect: Iterable[ExpectedEvent | Mapping[str, str]] | None = None,
    ) -> Timeline:
        """Append ``raw``: write ``text`` as-is to one stream's open connections."""
        expected = None
        if expect is not None:
            expected = tuple(
                item if isinstance(item, ExpectedEvent) else ExpectedEvent(**item)
                for item in expect
            )
        cut: Split
        if split is None:
            cut = None
        elif isinstance(split, str):
            if split != "bytes":
                raise ValueError(f"split is 'bytes' or a list of byte offsets, not {split!r}")
            cut = "bytes"
        else:
            cut = tuple(split)
        return self.then(Raw(Channel(stream), text, cut, expected))

    # --- views

    @property
    def duration(self) -> float:
        """Clock seconds from the job's creation to the last step."""
        return math.fsum(step.seconds for step in self.steps if isinstance(step, Wait))

    def _attempt_steps(self) -> list[Page | PageError]:
        """The ``page`` and ``error`` steps before the first ``done`` (later ones are mistakes)."""
        found: list[Page | PageError] = []
        for step in self.steps:
            if isinstance(step, Done):
                break
            if isinstance(step, Page | PageError):
                found.append(step)
        return found

    @property
    def attempts(self) -> int:
        """How many pages the timeline attempts (``page`` and ``error`` steps before ``done``)."""
        return len(self._attempt_steps())

    def representative_job(self) -> JobSpec:
        """The job the timeline plays for when no real job is given.

        A crawl starts from ``urls[0]`` (or ``https://example.com/``). A batch uses ``urls``, or
        else one URL per attempt: the step's own ``url`` when it has one, a made-up one otherwise.
        """
        if self.mode == "crawl":
            return JobSpec((self.urls[0] if self.urls else "https://example.com/",), "crawl")
        if self.urls:
            return JobSpec(self.urls)
        attempts = self._attempt_steps()
        urls = tuple(
            step.url or f"https://example.com/page-{number}"
            for number, step in enumerate(attempts, 1)
        )
        return JobSpec(urls or ("https://example.com/page-1",))

    def instantiate(
        self,
        job: JobSpec | None = None,
        *,
        content: ContentSource | None = None,
        job_id: str = PLACEHOLDER_JOB_ID,
    ) -> JobScript:
        """Play the timeline for ``job`` (default: :meth:`representative_job`).

        Raises:
            TimelineError: the timeline breaks a job rule for this job (two ``done`` steps, a
                counter going back, more attempts than the batch has URLs...).
        """
        script, issues = play(self, job, content=content, job_id=job_id)
        if issues:
            source = f"timeline {self.name!r}"
            raise TimelineError(
                TimelineProblem(source, issue.message, step=issue.step, field=issue.field)
                for issue in issues
            )
        return script

    # --- file format

    def to_data(self) -> dict[str, Any]:
        """The timeline in the file format (JSON-compatible; dump it as YAML or JSON)."""
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.mode != "batch":
            data["mode"] = self.mode
        if self.urls:
            data["urls"] = list(self.urls)
        settings = self.settings.to_data()
        if settings:
            data["settings"] = settings
        data["steps"] = [step.to_data() for step in self.steps]
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Timeline:
        """Build a timeline from file-format data that passed ``contracts/timeline.schema.json``.

        Use ``reader_mock.core.timeline_files.parse_timeline`` for data of unknown quality: it
        checks the schema first and reports problems with their line numbers.
        """
        settings = data.get("settings") or {}
        prefix = settings.get("jobStreamPrefix")
        return cls(
            name=data["name"],
            description=data.get("description", ""),
            mode=data.get("mode", "batch"),
            urls=tuple(data.get("urls", ())),
            settings=TimelineSettings(
                ids=bool(settings.get("ids", False)),
                ping_interval=(
                    float(settings["pingInterval"]) if "pingInterval" in settings else None
                ),
                job_stream_prefix=(
                    None
                    if prefix is None
                    else ChunkedText(prefix["text"], _split_from_data(prefix.get("split")))
                ),
            ),
            steps=tuple(step_from_data(step) for step in data["steps"]),
        )


def _split_from_data(value: Any) -> Split:
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
        split=_split_from_data(body.get("split")),
        expect=None
        if expect is None
        else tuple(
            ExpectedEvent(data=item["data"], event=item.get("event", "message"), id=item.get("id"))
            for item in expect
        ),
    )


_FROM_DATA: Final[Mapping[str, Callable[[Any], Step]]] = {
    "wait": lambda body: Wait(float(body)),
    "status": lambda body: SetStatus(body),
    "progress": _progress_from_data,
    "page": _page_from_data,
    "error": lambda body: PageError(**(body or {})),
    "total": lambda body: GrowTotal(int(body)),
    "done": _done_from_data,
    "drop": lambda body: Drop(DropStreams(body["streams"]), DropHow(body["how"])),
    "raw": _raw_from_data,
}


def step_from_data(data: Mapping[str, Any]) -> Step:
    """One step from its file form (a one-key mapping), assuming it passed the schema."""
    ((kind, body),) = data.items()
    return _FROM_DATA[kind](body)


# ---------------------------------------------------------------------------------------- play

_PayloadFn: TypeAlias = Callable[[JobState, Mapping[str, Any] | None, str], dict[str, Any]]


def _progress(state: JobState, result: Mapping[str, Any] | None, job_id: str) -> dict[str, Any]:
    return state.progress_payload()


def _workspace_progress(
    state: JobState, result: Mapping[str, Any] | None, job_id: str
) -> dict[str, Any]:
    return {"jobId": job_id, **state.progress_payload()}


def _page(state: JobState, result: Mapping[str, Any] | None, job_id: str) -> dict[str, Any]:
    return dict(result or {})


def _page_error(state: JobState, result: Mapping[str, Any] | None, job_id: str) -> dict[str, Any]:
    result = result or {}
    return {"url": result.get("url"), "error": result.get("error")}


def _job_completed(
    state: JobState, result: Mapping[str, Any] | None, job_id: str
) -> dict[str, Any]:
    return {"jobId": job_id, **state.progress_payload(), "creditsUsed": state.credits_used}


def _job_failed(state: JobState, result: Mapping[str, Any] | None, job_id: str) -> dict[str, Any]:
    return {"jobId": job_id, "error": state.error}


_PROGRESS_EVENTS: Final = ((Channel.JOB, "progress", _progress),)
_WORKSPACE_PROGRESS: Final = ((Channel.WORKSPACE, "job:progress", _workspace_progress),)

EVENT_TABLE: Final[Mapping[str, tuple[tuple[Channel, str, _PayloadFn], ...]]] = {
    "created": _WORKSPACE_PROGRESS,
    "status": _PROGRESS_EVENTS + _WORKSPACE_PROGRESS,
    "progress": _PROGRESS_EVENTS + _WORKSPACE_PROGRESS,
    "total": _PROGRESS_EVENTS + _WORKSPACE_PROGRESS,
    "page": ((Channel.JOB, "page", _page), *_PROGRESS_EVENTS, *_WORKSPACE_PROGRESS),
    "error": ((Channel.JOB, "error", _page_error), *_PROGRESS_EVENTS, *_WORKSPACE_PROGRESS),
    "done:completed": (
        (Channel.JOB, "done", _progress),
        (Channel.WORKSPACE, "job:completed", _job_completed),
    ),
    "done:failed": (
        (Channel.JOB, "done", _progress),
        (Channel.WORKSPACE, "job:failed", _job_failed),
    ),
    # There is no job:cancelled: a cancelled job ends with a job:progress whose status says so.
    "done:cancelled": ((Channel.JOB, "done", _progress), *_WORKSPACE_PROGRESS),
}
"""What each kind of change sends, in order: (channel, event name, payload builder). ``drop``
and ``raw`` send no events; ``created`` is the job's creation."""


def _events(
    key: str, state: JobState, result: Mapping[str, Any] | None, job_id: str
) -> tuple[ScriptedEvent, ...]:
    return tuple(
        ScriptedEvent(channel, name, build(state, result, job_id))
        for channel, name, build in EVENT_TABLE[key]
    )


class _Player:
    """Folds the steps of a timeline over a job's state, collecting actions and broken rules."""

    def __init__(self, job: JobSpec, content: ContentSource, job_id: str) -> None:
        self.job = job
        self.content = content
        self.job_id = job_id
        self.at = 0.0
        self.state = JobState("queued", 0, job.initial_total)
        self.position = 0  # attempts so far: the next page or error takes this URL position
        self.done_step: int | None = None
        self.actions: list[Action] = []
        self.issues: list[StepIssue] = []

    def issue(self, step: int | None, where: str | None, message: str) -> None:
        self.issues.append(StepIssue(step, where, message))

    def act(
        self,
        number: int,
        step: Step,
        key: str | None,
        result: Mapping[str, Any] | None = None,
    ) -> None:
        events = () if key is None else _events(key, self.state, result, self.job_id)
        self.actions.append(Action(self.at, number, step, self.state, result, events))

    # --- rules shared by several steps

    def change_status(self, number: int, where: str, status: ActiveStatus) -> bool:
        if status == "queued" and self.state.status == "processing":
            self.issue(number, where, "the job is already processing; it never goes back to queued")
            return False
        self.state = replace(self.state, status=status)
        return True

    def change_total(self, number: int, where: str, total: int) -> bool:
        current = self.state.total
        if total == current:
            return True
        if self.job.mode == "batch":
            self.issue(
                number,
                where,
                f"a batch's total is its number of URLs ({current}) and never changes; "
                "only a crawl's total grows (mode: crawl)",
            )
            return False
        if total < current:
            self.issue(
                number, where, f"total never shrinks: it is {current}, this step says {total}"
            )
            return False
        self.state = replace(self.state, total=total)
        return True

    def change_completed(self, number: int, where: str, completed: int) -> bool:
        current = self.state.completed
        if completed < current:
            self.issue(
                number,
                where,
                f"completed never decreases: it is {current}, this step says {completed}",
            )
            return False
        if completed > self.state.total:
            self.issue(
                number,
                where,
                f"completed {completed} would exceed total {self.state.total}"
                + ("; grow total first" if self.job.mode == "crawl" else ""),
            )
            return False
        self.state = replace(self.state, completed=completed)
        return True

    def after_done(self, number: int, step: Step) -> bool:
        """Whether a step may follow ``done``; report it when it may not."""
        if self.done_step is None or isinstance(step, Wait):
            return True
        ended = f"the job ended at step {self.done_step}"
        if isinstance(step, Drop):
            if Channel.JOB not in step.streams.channels:
                return True
            self.issue(
                number,
                "drop.streams",
                f"{ended} and the per-job stream closed after done, so there is no per-job "
                "stream left to drop; use streams: workspace",
            )
            return False
        if isinstance(step, Raw):
            if step.stream is Channel.WORKSPACE:
                return True
            self.issue(
                number,
                "raw.stream",
                f"{ended} and the per-job stream closed after done; only the workspace stream "
                "is still open",
            )
            return False
        self.issue(
            number,
            step.KIND,
            f"{ended}; only waits and workspace drops or raw text may follow done",
        )
        return False

    # --- one handler per step kind

    def wait(self, number: int, step: Wait) -> None:
        if not math.isfinite(step.seconds) or step.seconds < 0:
            self.issue(
                number, "wait", f"expected a finite number of seconds >= 0, got {step.seconds}"
            )
            return
        self.at += step.seconds

    def status(self, number: int, step: SetStatus) -> None:
        if self.change_status(number, "status", step.status):
            self.act(number, step, "status")

    def progress(self, number: int, step: Progress) -> None:
        if step.status is not None:
            self.change_status(number, "progress.status", step.status)
        if step.total is not None:
            self.change_total(number, "progress.total", step.total)
        if step.completed is not None:
            self.change_completed(number, "progress.completed", step.completed)
        self.act(number, step, "progress")

    def attempt(self, number: int, step: Page | PageError) -> str:
        """Check and count one attempted page; return its URL."""
        if self.state.status != "processing":
            self.issue(
                number,
                step.KIND,
                "the job is still queued: add a `status: processing` step before the first "
                "page or error",
            )
        position = self.position
        completed = self.state.completed + 1
        if completed > self.state.total:
            if self.job.mode == "batch":
                self.issue(
                    number,
                    step.KIND,
                    f"this is attempt {completed} but the batch has {self.state.total} URL"
                    f"{'s' if self.state.total != 1 else ''}; list more `urls`",
                )
            else:
                self.issue(
                    number,
                    step.KIND,
                    f"completed would become {completed}, above total {self.state.total}: a crawl "
                    f"grows `total` before it finds more pages (add `- total: {completed}`)",
                )
        self.position += 1
        self.state = replace(
            self.state, completed=completed, total=max(self.state.total, completed)
        )
        if step.url is not None:
            return step.url
        if position < len(self.job.urls):
            return self.job.urls[position]
        return self.content.discovered_url(self.job, position)

    def page(self, number: int, step: Page) -> None:
        position = self.position
        url = self.attempt(number, step)
        entry = self.content.page(self.job, url, position)
        explicit = step.explicit()
        metadata = dict(entry.get("metadata") or {})
        for key in ("title", "description"):
            if key in explicit:
                metadata[key] = explicit.pop(key)
        if "statusCode" in explicit and "statusCode" in metadata:
            metadata["statusCode"] = explicit["statusCode"]
        metadata.update(explicit.pop("metadata", {}))
        entry.update(explicit)
        entry["url"] = url
        if metadata:
            entry["metadata"] = metadata
        credits = entry.get("credits")
        if isinstance(credits, int) and not isinstance(credits, bool):
            self.state = replace(self.state, credits_used=self.state.credits_used + credits)
        self.act(number, step, "page", entry)

    def error(self, number: int, step: PageError) -> None:
        position = self.position
        url = self.attempt(number, step)
        message = step.error or self.content.page_error(self.job, url, position)
        self.act(number, step, "error", {"url": url, "error": message, "credits": 0})

    def total(self, number: int, step: GrowTotal) -> None:
        if self.change_total(number, "total", step.total):
            self.act(number, step, "total")

    def done(self, number: int, step: Done) -> None:
        if step.status == "completed" and self.state.completed != self.state.total:
            self.issue(
                number,
                "done",
                f"a completed job has attempted every URL, but completed is "
                f"{self.state.completed} of {self.state.total}; add pages or errors, or end with "
                "cancelled or failed",
            )
        if step.status == "failed" and not step.error:
            self.issue(number, "done.error", "a failed job needs an error message")
        if step.status != "failed" and step.error is not None:
            self.issue(number, "done.error", "only a failed job has an error message")
        self.state = replace(
            self.state, status=step.status, error=step.error if step.status == "failed" else None
        )
        self.done_step = number
        self.act(number, step, f"done:{step.status}")

    def drop(self, number: int, step: Drop) -> None:
        if Channel.JOB in step.streams.channels and not self.reachable(number, "drop.streams"):
            return
        self.act(number, step, None)

    def raw(self, number: int, step: Raw) -> None:
        if step.stream is Channel.JOB and not self.reachable(number, "raw.stream"):
            return
        self.act(number, step, None)

    def reachable(self, number: int, where: str) -> bool:
        """Whether a per-job stream can be open when the step plays; report it when not.

        Raw text and drops reach the connections open at that moment, and nobody can open the
        per-job stream before the request that creates the job has been answered."""
        if self.at > 0:
            return True
        self.issue(
            number,
            where,
            "no per-job stream can be open yet at 0 s, when the job is created, so nothing would "
            "receive this; add a `wait` before it (or use streams: workspace)",
        )
        return False

    def play(self, number: int, step: Step) -> None:
        if self.done_step is not None and isinstance(step, Done):
            self.issue(
                number,
                "done",
                f"the job already ended at step {self.done_step}; a timeline has exactly one done",
            )
            return
        if not self.after_done(number, step):
            return
        handler: Callable[[int, Any], None] = getattr(self, _HANDLERS[step.KIND])
        handler(number, step)

    def finish(self) -> None:
        if self.done_step is None:
            self.issue(
                None,
                "steps",
                "the job never ends: add a `done` step (completed, failed or cancelled)",
            )


# Step kind -> _Player method (a table rather than an if-chain, so a new kind is one entry).
_HANDLERS: Final[Mapping[str, str]] = {kind: kind for kind in STEP_KINDS}


def play(
    timeline: Timeline,
    job: JobSpec | None = None,
    *,
    content: ContentSource | None = None,
    job_id: str = PLACEHOLDER_JOB_ID,
) -> tuple[JobScript, tuple[StepIssue, ...]]:
    """Play ``timeline`` for ``job`` and report every job rule it breaks, without raising.

    The script is complete even when there are issues (steps that break a rule are skipped or
    applied as far as they can be), so a validator can still check its events.
    :meth:`Timeline.instantiate` is the strict form.
    """
    job = job or timeline.representative_job()
    player = _Player(job, content or PlainContent(), job_id)
    for number, step in enumerate(timeline.steps, 1):
        player.play(number, step)
    player.finish()
    initial = JobState("queued", 0, job.initial_total)
    script = JobScript(
        timeline=timeline,
        job=job,
        job_id=job_id,
        initial=initial,
        creation_events=_events("created", initial, None, job_id),
        actions=tuple(player.actions),
    )
    return script, tuple(player.issues)


# -------------------------------------------------------------------------- default timelines


def is_failing_url(url: str) -> bool:
    """Whether ``url`` is on the failing host ``fail.example`` or one of its subdomains."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    return host == _FAILING_HOST or host.endswith("." + _FAILING_HOST)


def timeline_for_request(
    urls: Sequence[str],
    *,
    mode: JobMode = "batch",
    queued_delay: float = 0.0,
    page_delay: float = 0.0,
    crawl_pages: int = 1,
    fails: Callable[[str], bool] = is_failing_url,
    name: str = "default",
) -> Timeline:
    """The timeline of a job created without a script.

    The job stays ``queued`` for ``queued_delay`` seconds, turns ``processing``, then attempts one
    URL every ``page_delay`` seconds: a ``page``, or an ``error`` when ``fails(url)``. A crawl
    attempts ``crawl_pages`` pages, growing ``total`` by one before each page after the seed
    (discovered pages share the seed's host, so they fail when the seed does; a failing seed ends
    the crawl). The job ends ``completed``. Page content is left to the content source.

    Args:
        urls: the batch's URLs, or the crawl's seed alone.
        mode: ``batch`` or ``crawl``.
        queued_delay: clock seconds between creation and ``processing``.
        page_delay: clock seconds before each attempt.
        crawl_pages: pages a crawl finds, the seed included (at least 1).
        fails: which URLs fail.
        name: the timeline's name.
    """
    if not urls:
        raise ValueError("a job has at least one URL")
    if mode == "crawl" and len(urls) != 1:
        raise ValueError("a crawl has exactly one seed URL")
    if queued_delay < 0 or page_delay < 0:
        raise ValueError("delays are clock seconds >= 0")
    steps: list[Step] = []
    if queued_delay:
        steps.append(Wait(float(queued_delay)))
    steps.append(SetStatus("processing"))
    if mode == "crawl":
        failing = fails(urls[0])
        attempts = [failing] * (1 if failing else max(1, crawl_pages))
    else:
        attempts = [fails(url) for url in urls]
    # Steps are collected in a list (not chained builder calls) so a 1,000-URL batch stays linear.
    for index, failing in enumerate(attempts):
        if mode == "crawl" and index:
            steps.append(GrowTotal(index + 1))
        if page_delay:
            steps.append(Wait(float(page_delay)))
        steps.append(PageError() if failing else Page())
    steps.append(Done("completed"))
    plural = "s" if len(urls) != 1 else ""
    description = f"Generated for a {mode} of {len(urls)} URL{plural}."
    return Timeline.build(name, description=description, mode=mode, urls=urls).then(*steps)
