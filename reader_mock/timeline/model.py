"""The timeline model and its builder: a job's life as an immutable sequence of steps.

Every step happens at a clock offset from the job's creation; ``wait`` steps move that offset and
all other steps take no time. The same value comes from a timeline file (:mod:`.files`) or from the
builder methods of :class:`Timeline`::

    Timeline.build("two-pages").wait(0.5).status("processing").page().page().done("completed")
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from reader_mock.contract import Channel
from reader_mock.sse.drop_kinds import DropKind

from .status import ActiveStatus, JobStatus, TerminalStatus
from .steps import (
    ChunkedText,
    Done,
    Drop,
    DropStreams,
    ExpectedEvent,
    GrowTotal,
    Page,
    PageError,
    Progress,
    Raw,
    SetStatus,
    Split,
    Step,
    Wait,
    split_from_data,
    step_from_data,
)

__all__ = ["JobMode", "JobSpec", "JobState", "Timeline", "TimelineSettings", "TimelineSpec"]

JobMode: TypeAlias = Literal["batch", "crawl"]


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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True)
class Timeline:
    """A named, immutable sequence of steps, with the job shape and stream settings it assumes.

    Build one with :meth:`build` and the step methods, each of which returns a new timeline with
    one more step; or load one from a file with ``reader_mock.timeline.files.load_timeline``.
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

    def drop(self, streams: DropStreams | str, how: DropKind | str) -> Timeline:
        """Append ``drop``: cut the connections of ``job``, ``workspace`` or ``both`` streams."""
        return self.then(Drop(DropStreams(streams), DropKind(how)))

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

        Use ``reader_mock.timeline.files.parse_timeline`` for data of unknown quality: it
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
                    else ChunkedText(prefix["text"], split_from_data(prefix.get("split")))
                ),
            ),
            steps=tuple(step_from_data(step) for step in data["steps"]),
        )


TimelineSpec: TypeAlias = Timeline | str | os.PathLike[str]
"""How a timeline is named when scripting jobs: a value, a ready-made name or a file path."""
