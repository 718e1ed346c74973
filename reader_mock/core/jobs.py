"""Jobs: their state, the timeline each one plays, and the logs their event streams read.

Every job plays a :class:`~reader_mock.core.timeline.Timeline`: the one a test scripted for it, or
the one :func:`~reader_mock.core.timeline.timeline_for_request` writes from the request and the
settings' delays. When the job is created (or retried) the timeline is *compiled* into a plan:
the timeline is played for the job's URLs with the workspace's seeded content, every result entry
is finished (generated fields filled in, ``scrapedAt`` set) and, unless the job's stream carries
ids, the per-job frames are encoded once. The plan is a queue of :class:`PlannedAction` with
absolute clock times; the workspace applies the ones that are due whenever it settles, so a job's
state is a pure function of its plan and the clock, and with a manual clock nothing moves until
the clock does.

Applying an action changes the job, charges credits, records usage, publishes on the event bus
(only when someone subscribed) and appends records to two :class:`StreamLog` objects: the job's
own log (read by its per-job streams) and the workspace's feed (read by workspace streams). The
logs keep records only while a stream needs them, and bound how far a stream may fall behind.

What applying an action does is decided live where it cannot be known in advance: a page of a
job that was *not* scripted becomes an error when the balance cannot pay for it (``Insufficient
credits to scrape URL``); a scripted page is played as written and charges what the balance
allows.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast
from urllib.parse import urlsplit

from reader_mock.contract import Channel

from ..sse.encoder import encode_json_event
from .bus import EventBus, JobEventKind
from .clock import format_timestamp
from .read_request import ReadOptions
from .targets import Failure, failure_for
from .timeline import (
    PLACEHOLDER_JOB_ID,
    Drop,
    DropHow,
    JobScript,
    JobSpec,
    Raw,
    Timeline,
    TimelineError,
    TimelineProblem,
    timeline_for_request,
)

if TYPE_CHECKING:
    from .content import ContentSource as PageSource
    from .content import PageContent
    from .limits import CreditLedger
    from .settings import Settings

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "Job",
    "JobHost",
    "JobKind",
    "JobPlan",
    "LogReader",
    "PlannedAction",
    "Record",
    "StreamLog",
    "StreamOptions",
    "TimelineSpec",
    "plan_crawl",
    "plan_job",
    "resolve_timeline",
]

JobKind = Literal["batch", "crawl", "discover"]
JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]

ACTIVE_STATUSES: Final = frozenset({"queued", "processing"})
TERMINAL_STATUSES: Final = frozenset({"completed", "failed", "cancelled"})

TimelineSpec = Timeline | str | os.PathLike[str]
"""How a timeline is named when scripting jobs: a value, a ready-made name or a file path."""


# ------------------------------------------------------------------------------------- logs


@dataclass(slots=True, eq=False)
class Record:
    """One thing a stream writes: an event, or a scripted drop or raw text.

    Attributes:
        at: clock time it happened.
        name: the event name (``progress``, ``job:completed``...); ``""`` for a drop or raw text.
        data: the event's payload.
        event_id: for per-job events, the job's event number (from 1), the ``id:`` when ids are on.
        frame: the encoded frame, when known (encoded once, shared by every stream).
        drop: for a scripted drop, how the connection ends.
        chunks: for raw text, the writes.
    """

    at: float
    name: str = ""
    data: Mapping[str, Any] | None = None
    event_id: int = 0
    frame: bytes | None = None
    drop: DropHow | None = None
    chunks: tuple[bytes, ...] = ()


class LogReader:
    """One stream's place in a :class:`StreamLog`."""

    __slots__ = ("cursor", "on_overflow", "overflowed", "took", "wake")

    def __init__(
        self, cursor: int, wake: Callable[[], None], on_overflow: Callable[[], None]
    ) -> None:
        self.cursor = cursor
        self.wake = wake
        self.on_overflow = on_overflow
        self.took = False
        self.overflowed = False


class StreamLog:
    """Records for the streams of one channel (one job's per-job stream, or a workspace's feed).

    Writers (under the service lock) :meth:`append` records and :meth:`commit` once per change;
    each stream reads from its own cursor with :meth:`take`. Records are kept only while some
    stream has not read them, unless ``retain`` (a job whose streams resume from ``Last-Event-ID``
    keeps its whole history). Without readers and without ``retain`` nothing is recorded at all.

    The bound: at every commit, a reader more than ``limit`` records behind that took nothing
    since the previous commit has stopped reading. It is detached and told through its
    ``on_overflow`` callback, so one stuck client cannot make the server hold an ever-growing
    backlog. A reader working through a burst keeps taking and is never cut.
    """

    def __init__(self, *, limit: int, retain: bool = False) -> None:
        self.limit = limit
        self.retain = retain
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._offset = 0
        self._readers: list[LogReader] = []
        self._committed = 0

    @property
    def wanted(self) -> bool:
        """Whether appended records are kept (some stream reads them, or the log retains)."""
        return self.retain or bool(self._readers)

    @property
    def has_readers(self) -> bool:
        """Whether a stream reads this log now."""
        return bool(self._readers)

    @property
    def head(self) -> int:
        """Position just after the last record."""
        return self._offset + len(self._records)

    @property
    def kept(self) -> int:
        """How many records the log holds (what the bound keeps small)."""
        return len(self._records)

    def append(self, record: Record) -> None:
        """Add a record; readers hear of it at the next :meth:`commit`."""
        self._records.append(record)

    def attach(
        self,
        wake: Callable[[], None],
        on_overflow: Callable[[], None],
        *,
        start: int | None = None,
    ) -> LogReader:
        """A new reader from ``start`` (default: the head, i.e. only what comes next)."""
        with self._lock:
            cursor = self.head if start is None else max(self._offset, min(start, self.head))
            reader = LogReader(cursor, wake, on_overflow)
            self._readers.append(reader)
            return reader

    def detach(self, reader: LogReader) -> None:
        """Stop following the log (idempotent)."""
        with self._lock:
            if reader in self._readers:
                self._readers.remove(reader)
            self._trim()

    def take(self, reader: LogReader, limit: int) -> list[Record]:
        """Up to ``limit`` records after the reader's cursor; the cursor moves past them."""
        with self._lock:
            if reader.overflowed:
                return []
            start = max(0, reader.cursor - self._offset)
            batch = self._records[start : start + limit]
            reader.cursor += len(batch)
            reader.took = True
            return batch

    def records_from(self, position: int) -> list[Record]:
        """The records kept from ``position`` on (for resuming)."""
        with self._lock:
            return self._records[max(0, position - self._offset) :]

    def commit(self) -> None:
        """Check the bound, forget what every reader has read, and wake readers with news."""
        stuck: list[LogReader] = []
        news: list[LogReader] = []
        with self._lock:
            previous = self._committed
            for reader in list(self._readers):
                if previous - reader.cursor > self.limit and not reader.took:
                    reader.overflowed = True
                    self._readers.remove(reader)
                    stuck.append(reader)
                    continue
                reader.took = False
                if reader.cursor < self.head:
                    news.append(reader)
            self._committed = self.head
            self._trim()
        for reader in stuck:
            reader.on_overflow()
        for reader in news:
            reader.wake()

    def _trim(self) -> None:
        if self.retain:
            return
        low = min((reader.cursor for reader in self._readers), default=self.head)
        drop = low - self._offset
        if drop > 0:
            del self._records[:drop]
            self._offset = low


# ------------------------------------------------------------------------------------ plans


@dataclass(frozen=True)
class StreamOptions:
    """How a job's per-job stream is written (from the timeline's ``settings``)."""

    ids: bool = False
    """``id:`` fields and ``Last-Event-ID`` resume."""
    ping_interval: float | None = None
    """Clock seconds between pings; ``None``: the server's interval."""
    prefix: tuple[bytes, ...] = ()
    """Writes that start every per-job connection."""


class _Fill:
    """Marks a result field that the workspace's content fills in after the timeline was played.

    Generated content is expensive (Faker), so it is made only for fields a scripted ``page``
    step did not give.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<fill>"


_FILL: Final = _Fill()


@dataclass(slots=True, eq=False)
class PlannedAction:
    """One compiled step of a job's timeline.

    ``status``, ``completed`` and ``total`` are the job's counters after the action; ``entry``
    is the result entry a ``page`` or ``error`` adds; ``frames`` are the per-job frames the
    action sends when it goes as planned (``None``: encode when read).
    """

    at: float
    kind: str
    status: JobStatus
    completed: int
    total: int
    entry: dict[str, Any] | None = None
    job_error: str | None = None
    duration: int = 0
    """Usage-history duration of an attempt, in milliseconds."""
    frames: tuple[bytes, ...] | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    """``{status, completed, total}`` after the action."""
    drop: tuple[tuple[Channel, ...], DropHow] | None = None
    raw: tuple[Channel, tuple[bytes, ...]] | None = None


@dataclass(frozen=True)
class JobPlan:
    """A job's compiled timeline: its actions, stream options and where it came from."""

    actions: deque[PlannedAction]
    stream: StreamOptions
    scripted: bool
    timeline: str
    """The timeline's name."""


class _JobContent:
    """The timeline's content source for one job: seeded content, shaped by the job's options.

    Playing a timeline asks for every page; the answer carries :data:`_FILL` markers that
    :meth:`finish` replaces with generated content once the steps' own fields are applied.
    """

    def __init__(
        self,
        pages: PageSource,
        options: ReadOptions,
        kind: JobKind,
        visits: Sequence[str] = (),
    ) -> None:
        self._pages = pages
        self._options = options
        self._kind = kind
        self._visits = visits
        self._generated: dict[str, PageContent] = {}

    def generated(self, url: str) -> PageContent:
        found = self._generated.get(url)
        if found is None:
            found = self._pages.page(url, only_main_content=self._options.only_main_content)
            self._generated[url] = found
        return found

    # --- ContentSource (timeline.py)

    def page(self, job: JobSpec, url: str, position: int) -> dict[str, Any]:
        if self._kind == "discover":
            return {"url": url, "metadata": {"title": _FILL, "description": _FILL}}
        entry: dict[str, Any] = {"url": url}
        for name in ("markdown", "html", "screenshot"):
            if name in job.formats:
                entry[name] = _FILL
        entry.update(
            statusCode=200,
            proxyMode=job.proxy_mode,
            credits=self._options.page_cost,
            metadata={
                "title": _FILL,
                "description": _FILL,
                "duration": _FILL,
                "statusCode": 200,
                "scrapedAt": _FILL,
            },
        )
        return entry

    def page_error(self, job: JobSpec, url: str, position: int) -> str:
        if failure_for(url) is Failure.TIMEOUT:
            return f"Scrape of {url} exceeded {self._options.timeout_ms}ms timeout"
        return f"Failed to fetch {url}: upstream error"

    def discovered_url(self, job: JobSpec, position: int) -> str:
        if position < len(self._visits):
            return self._visits[position]
        seed = urlsplit(job.urls[0])
        return f"{seed.scheme}://{seed.netloc}/page-{position}"

    # --- finishing

    def finish(self, result: Mapping[str, Any], at: float) -> dict[str, Any]:
        """A copy of a played result entry with every :data:`_FILL` replaced."""
        entry = dict(result)
        metadata = entry.get("metadata")
        if isinstance(metadata, Mapping):
            metadata = dict(metadata)
            entry["metadata"] = metadata
        needs_page = any(value is _FILL for value in entry.values()) or (
            isinstance(metadata, dict)
            and any(value is _FILL for key, value in metadata.items() if key != "scrapedAt")
        )
        page = self.generated(str(entry["url"])) if needs_page else None
        for key, value in entry.items():
            if value is _FILL and page is not None:
                entry[key] = page.screenshot() if key == "screenshot" else getattr(page, key)
        if isinstance(metadata, dict):
            for key, value in metadata.items():
                if value is not _FILL:
                    continue
                if key == "scrapedAt":
                    metadata[key] = format_timestamp(at)
                elif page is not None:
                    metadata[key] = page.duration_ms if key == "duration" else getattr(page, key)
        return entry

    def duration(self, entry: Mapping[str, Any]) -> int:
        """The usage-history duration of an attempt."""
        url = str(entry.get("url"))
        if "error" in entry:
            if failure_for(url) is Failure.TIMEOUT:
                return self._options.timeout_ms
            return self.generated(url).duration_ms
        metadata = entry.get("metadata")
        duration = metadata.get("duration") if isinstance(metadata, Mapping) else None
        if isinstance(duration, int) and not isinstance(duration, bool):
            return duration
        return self.generated(url).duration_ms


def plan_crawl(
    seed: str, max_depth: int, max_pages: int, links_of: Callable[[str], Sequence[str]]
) -> list[tuple[str, int]]:
    """The pages a crawl visits, breadth first, each with the ``total`` known after it.

    ``total`` starts at 1 (the seed) and grows as pages reveal links, up to ``max_pages``. Links
    are followed to ``max_depth`` hops from the seed; pages on failing hosts reveal nothing.
    """
    found: list[str] = [seed]
    depth_of = {seed: 0}
    visits: list[tuple[str, int]] = []
    position = 0
    while position < len(found):
        url = found[position]
        position += 1
        depth = depth_of[url]
        if depth < max_depth and failure_for(url) is None:
            for link in links_of(url):
                if len(found) >= max_pages:
                    break
                if link not in depth_of:
                    depth_of[link] = depth + 1
                    found.append(link)
        visits.append((url, len(found)))
    return visits


def _fails(url: str) -> bool:
    return failure_for(url) is not None


def _progress_payload(status: str, completed: int, total: int) -> dict[str, Any]:
    return {"status": status, "completed": completed, "total": total}


def _compile(
    script: JobScript,
    content: _JobContent,
    *,
    base: float,
    offset: int = 0,
    total: int | None = None,
    encode: bool = True,
) -> deque[PlannedAction]:
    """The plan of a played timeline: absolute times, finished entries, encoded frames.

    ``offset`` is added to ``completed`` and ``total`` replaces the played ``total`` (a retry
    plays only the failed URLs of a job that keeps its other results).
    """
    plan: deque[PlannedAction] = deque()
    for action in script.actions:
        at = base + action.at
        state = action.state
        completed = state.completed + offset
        planned_total = state.total if total is None else total
        progress = _progress_payload(state.status, completed, planned_total)
        planned = PlannedAction(
            at, action.kind, state.status, completed, planned_total, progress=progress
        )
        source = action.source
        frames: tuple[bytes, ...] | None = None
        if action.kind == "page" and action.result is not None:
            planned.entry = content.finish(action.result, at)
            planned.duration = content.duration(planned.entry)
            if encode:
                frames = (
                    encode_json_event("page", planned.entry),
                    encode_json_event("progress", progress),
                )
        elif action.kind == "error" and action.result is not None:
            planned.entry = {
                "url": action.result.get("url"),
                "credits": 0,
                "error": action.result.get("error"),
            }
            planned.duration = content.duration(planned.entry)
            if encode:
                frames = (
                    encode_json_event(
                        "error", {"url": planned.entry["url"], "error": planned.entry["error"]}
                    ),
                    encode_json_event("progress", progress),
                )
        elif action.kind == "done":
            planned.job_error = state.error
        elif isinstance(source, Drop):
            planned.drop = (tuple(sorted(source.streams.channels)), source.how)
        elif isinstance(source, Raw):
            planned.raw = (source.stream, source.chunks())
        elif encode:
            frames = (encode_json_event("progress", progress),)
        planned.frames = frames
        plan.append(planned)
    return plan


def _spec(options: ReadOptions, kind: JobKind, urls: Sequence[str] | None = None) -> JobSpec:
    if urls is not None:
        return JobSpec(tuple(urls), "batch", options.formats, options.proxy_mode)
    if kind == "batch":
        return JobSpec(options.urls, "batch", options.formats, options.proxy_mode)
    return JobSpec((options.url or "",), "crawl", options.formats, options.proxy_mode)


def plan_job(
    pages: PageSource,
    settings: Settings,
    options: ReadOptions,
    kind: JobKind,
    now: float,
    timeline: Timeline | None = None,
) -> JobPlan:
    """Compile the plan of a job created at ``now``: ``timeline``, or the default one.

    Raises:
        TimelineError: ``timeline`` cannot play for this job (its URLs, mode or counters do not
            fit); nothing has changed.
    """
    visits: list[str] = []
    if kind != "batch":
        crawl = plan_crawl(options.url or "", options.max_depth, options.max_pages, pages.links)
        visits = [url for url, _ in crawl]
    content = _JobContent(pages, options, kind, visits)
    spec = _spec(options, kind)
    scripted = timeline is not None
    if timeline is None:
        timeline = timeline_for_request(
            spec.urls,
            mode=spec.mode,
            queued_delay=settings.queue_delay,
            page_delay=settings.page_interval,
            crawl_pages=max(1, len(visits)),
            fails=_fails,
        )
    script = timeline.instantiate(spec, content=content, job_id=PLACEHOLDER_JOB_ID)
    stream = StreamOptions(
        ids=timeline.settings.ids,
        ping_interval=timeline.settings.ping_interval,
        prefix=(
            ()
            if timeline.settings.job_stream_prefix is None
            else timeline.settings.job_stream_prefix.chunks()
        ),
    )
    actions = _compile(script, content, base=now, encode=not stream.ids)
    return JobPlan(actions, stream, scripted, timeline.name)


# ------------------------------------------------------------------------------------- jobs


class JobHost(Protocol):
    """What a job needs from its workspace while it plays."""

    @property
    def id(self) -> str: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def credits(self) -> CreditLedger: ...

    @property
    def content(self) -> PageSource: ...

    @property
    def bus(self) -> EventBus: ...

    @property
    def feed(self) -> StreamLog:
        """The workspace stream's log."""
        ...

    def touch(self, log: StreamLog) -> None:
        """Note that ``log`` got records, to commit it at the end of the change."""
        ...

    def record_usage(
        self,
        *,
        url: str,
        at: float,
        duration: int,
        proxy_mode: str | None,
        credits: int,
        error: str | None,
        cached: bool = False,
    ) -> None: ...


class Outlets:
    """Where a job's events go during one change, looked up once for the whole change.

    ``log`` (the per-job stream's log) and ``feed`` (the workspace stream's log) are ``None``
    when nothing would read what is appended; ``bus`` is ``None`` without subscribers. Streams
    attach and subscribe under the service lock, which every change holds, so the answers stay
    true for the change; a burst of thousands of pages asks once instead of per event.
    """

    __slots__ = ("bus", "feed", "log")

    def __init__(self, job: Job, host: JobHost) -> None:
        log, feed, bus = job.log, host.feed, host.bus
        self.log = log if log.wanted else None
        self.feed = feed if feed.wanted else None
        self.bus = bus if bus.has_subscribers else None
        if self.log is not None:
            host.touch(self.log)
        if self.feed is not None:
            host.touch(self.feed)


@dataclass(eq=False)
class Job:
    """One batch, crawl or discover job, the plan it plays and the log of its per-job stream."""

    id: str
    sequence: int
    """Creation order within the workspace; breaks ties between actions due at the same time."""
    kind: JobKind
    options: ReadOptions
    created_at: float
    total: int
    status: JobStatus = "queued"
    completed: int = 0
    credits_used: int = 0
    error: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    unattempted: list[str] = field(default_factory=list)
    """URLs a failed job never reached; a retry queues them again."""
    plan: deque[PlannedAction] = field(default_factory=deque)
    stream: StreamOptions = field(default_factory=StreamOptions)
    scripted: bool = False
    """Whether the current plan is a timeline a test scripted (played exactly as written)."""
    timeline: str = "default"
    """The name of the timeline the job plays."""
    log: StreamLog = field(default_factory=lambda: StreamLog(limit=10_000))
    event_count: int = 0
    """Per-job events so far (the ``id:`` of the last one when ids are on)."""
    attempts: int = 0
    """Pages and errors of the current plan applied so far."""

    @property
    def mode(self) -> str:
        """The reported ``mode``: ``batch``, or ``crawl`` for crawl and discover jobs."""
        return "batch" if self.kind == "batch" else "crawl"

    @property
    def active(self) -> bool:
        """Queued or processing: counts toward the concurrency limit."""
        return self.status in ACTIVE_STATUSES

    @property
    def terminal(self) -> bool:
        """Completed, failed or cancelled."""
        return self.status in TERMINAL_STATUSES

    def next_due(self) -> float | None:
        """Clock time of the next planned action, if any."""
        return self.plan[0].at if self.plan else None

    def failed_urls(self) -> list[str]:
        """URLs whose entry in ``results`` is an error, in result order."""
        return [entry["url"] for entry in self.results if "error" in entry]

    def progress(self) -> dict[str, Any]:
        """``{status, completed, total}``: the per-job ``progress`` and ``done`` payload."""
        return _progress_payload(self.status, self.completed, self.total)

    def summary(self) -> dict[str, Any]:
        """The ``JobSummary`` of a ``201`` from ``POST /v1/read``."""
        return {
            "id": self.id,
            "status": self.status,
            "mode": self.mode,
            "total": self.total,
            "completed": self.completed,
            "creditsUsed": self.credits_used,
            "createdAt": format_timestamp(self.created_at),
        }

    def detail(self, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The ``JobDetail`` of ``GET /v1/jobs/{id}`` with the given slice of results."""
        return {
            "id": self.id,
            "status": self.status,
            "mode": self.mode,
            "completed": self.completed,
            "total": self.total,
            "creditsUsed": self.credits_used,
            "error": self.error,
            "results": [dict(entry) for entry in results],
            "startedAt": _maybe_timestamp(self.started_at),
            "completedAt": _maybe_timestamp(self.completed_at),
            "createdAt": format_timestamp(self.created_at),
        }

    # --------------------------------------------------------------- lifecycle

    def start(self, host: JobHost, plan: JobPlan, now: float) -> None:
        """Take ``plan`` and announce the job (a ``progress`` snapshot, queued)."""
        self.plan = plan.actions
        self.stream = plan.stream
        self.scripted = plan.scripted
        self.timeline = plan.timeline
        self.log = StreamLog(limit=host.settings.stream_queue_limit, retain=plan.stream.ids)
        self._announce(host, now)

    def cancel(self, host: JobHost, now: float) -> None:
        """Stop an active job; finished results stay."""
        self.plan.clear()
        self.status = "cancelled"
        self.completed_at = now
        out = Outlets(self, host)
        self._emit(out, host, now, "done", self.progress())
        self._emit_outcome(out, now)

    def retry(self, host: JobHost, now: float) -> int:
        """Queue the failed (for a failed job also the unattempted) URLs again; returns how many.

        The retry plays the default timeline for those URLs, whatever the job played before.
        """
        failed = self.failed_urls()
        urls = failed + self.unattempted
        self.results = [entry for entry in self.results if "error" not in entry]
        self.completed -= len(failed)
        self.unattempted = []
        self.error = None
        self.completed_at = None
        self.status = "queued"
        settings = host.settings
        content = _JobContent(host.content, self.options, self.kind)
        timeline = timeline_for_request(
            urls,
            queued_delay=settings.queue_delay,
            page_delay=settings.page_interval,
            fails=_fails,
            name="retry",
        )
        script = timeline.instantiate(
            _spec(self.options, self.kind, urls), content=content, job_id=self.id
        )
        self.plan = _compile(
            script,
            content,
            base=now,
            offset=self.completed,
            total=self.total,
            encode=not self.stream.ids,
        )
        self.scripted = False
        self.attempts = 0
        self._announce(host, now)
        return len(urls)

    def _announce(self, host: JobHost, now: float) -> None:
        progress = self.progress()
        out = Outlets(self, host)
        self._emit(out, host, now, "progress", progress)
        self._emit_workspace(out, now, "job:progress", progress)

    # --------------------------------------------------------------- playing

    def apply_next(self, host: JobHost, out: Outlets | None = None) -> None:
        """Apply the first planned action (the workspace calls this when it is due).

        ``out``: the outlets of the change this action is part of (looked up when not given).
        """
        action = self.plan.popleft()
        at = action.at
        host.credits.roll_over(at)
        if out is None:
            out = Outlets(self, host)
        if action.drop is not None:
            channels, how = action.drop
            for channel in channels:
                # The payload is what a mid-frame drop cuts: the job as it stands.
                data = self.progress()
                if channel is not Channel.JOB:
                    data = {"jobId": self.id, **data}
                self._directive(host, channel, Record(at, data=data, drop=how))
            return
        if action.raw is not None:
            channel, chunks = action.raw
            self._directive(host, channel, Record(at, chunks=chunks))
            return
        entry = action.entry
        frames = action.frames
        if entry is not None:
            entry, as_planned = self._attempt(host, action, entry)
            self.results.append(entry)
            self.attempts += 1
            if not as_planned:
                frames = None
        self.status = action.status
        self.completed = action.completed
        self.total = action.total
        if self.started_at is None and self.status == "processing":
            self.started_at = at
        progress = action.progress
        if action.kind == "done":
            self.completed_at = at
            self.error = action.job_error
            if self.status == "failed" and self.kind == "batch":
                self.unattempted = list(self.options.urls[self.attempts :])
            self._emit(out, host, at, "done", progress)
            self._emit_outcome(out, at)
            return
        if entry is None:
            self._emit(out, host, at, "progress", progress, frames[0] if frames else None)
        else:
            if "error" in entry:
                error = {"url": entry["url"], "error": entry["error"]}
                self._emit(out, host, at, "error", error, frames[0] if frames else None)
            else:
                self._emit(out, host, at, "page", entry, frames[0] if frames else None)
            self._emit(out, host, at, "progress", progress, frames[1] if frames else None)
        self._emit_workspace(out, at, "job:progress", progress)

    def _attempt(
        self, host: JobHost, action: PlannedAction, entry: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Charge and record one attempted page; returns the entry and whether it is as planned."""
        url = str(entry["url"])
        at = action.at
        options = self.options
        if "error" in entry:
            self._record_failure(host, action, url, str(entry["error"]))
            return entry, True
        discover = self.kind == "discover"
        proxy_mode = entry.get("proxyMode")
        if self.scripted:
            # Played as written: the job reports the step's credits; the balance pays what it can.
            written = entry.get("credits")
            cost = written if isinstance(written, int) and not isinstance(written, bool) else 0
            charged = host.credits.charge(cost)
            self.credits_used += cost
        else:
            cost = (1 if self.credits_used == 0 else 0) if discover else options.page_cost
            if not host.credits.can_pay(cost):
                error = f"Insufficient credits to scrape {url}"
                self._record_failure(host, action, url, error)
                return {"url": url, "credits": 0, "error": error}, False
            charged = host.credits.charge(cost)
            self.credits_used += charged
        if not discover or url == options.url:
            host.record_usage(
                url=url,
                at=at,
                duration=action.duration,
                proxy_mode=proxy_mode if isinstance(proxy_mode, str) else options.proxy_mode,
                credits=charged,
                error=None,
            )
        return entry, True

    @staticmethod
    def _record_failure(host: JobHost, action: PlannedAction, url: str, error: str) -> None:
        """The usage entry of a failed attempt: no credits, no proxy."""
        host.record_usage(
            url=url, at=action.at, duration=action.duration, proxy_mode=None, credits=0, error=error
        )

    # --------------------------------------------------------------- events

    def _emit(
        self,
        out: Outlets,
        host: JobHost,
        at: float,
        name: str,
        data: Mapping[str, Any],
        frame: bytes | None = None,
    ) -> None:
        """One per-job event: to the job's log (when read or retained) and to the bus."""
        self.event_count += 1
        if out.log is not None:
            out.log.append(Record(at, name, data, self.event_count, frame))
        if out.bus is not None:
            out.bus.publish(
                at=at,
                workspace_id=host.id,
                job_id=self.id,
                kind=cast(JobEventKind, name),
                payload=data,
                credits_used=self.credits_used,
                job_error=self.error,
            )

    def _emit_workspace(self, out: Outlets, at: float, name: str, data: Mapping[str, Any]) -> None:
        if out.feed is not None:
            out.feed.append(Record(at, name, {"jobId": self.id, **data}))

    def _emit_outcome(self, out: Outlets, at: float) -> None:
        """The workspace stream's end of the job: completed, failed, or a cancelled progress."""
        if self.status == "completed":
            payload = {**self.progress(), "creditsUsed": self.credits_used}
            self._emit_workspace(out, at, "job:completed", payload)
        elif self.status == "failed":
            self._emit_workspace(out, at, "job:failed", {"error": self.error or ""})
        else:
            self._emit_workspace(out, at, "job:progress", self.progress())

    def _directive(self, host: JobHost, channel: Channel, record: Record) -> None:
        """A scripted drop or raw text, for the connections open on ``channel`` right now."""
        log = self.log if channel is Channel.JOB else host.feed
        if log.has_readers:
            log.append(record)
            host.touch(log)

    # --------------------------------------------------------------- resuming

    def resume_point(self, last_event_id: str | None) -> int | None:
        """The event id a reconnecting per-job stream resumes after, or ``None`` to start afresh.

        Only with ids on, and only for an id this job sent: ``0`` up to :attr:`event_count`.
        """
        if not self.stream.ids or last_event_id is None:
            return None
        text = last_event_id.strip()
        if not text.isdigit() or len(text) > 12:
            return None
        number = int(text)
        return number if number <= self.event_count else None

    def state_at(self, event_id: int) -> tuple[dict[str, Any], int]:
        """The job's ``{status, completed, total}`` after event ``event_id`` and the log position
        just after that event (the job's log retains everything when ids are on)."""
        records = self.log.records_from(0)
        state: dict[str, Any] | None = None
        position = 0
        for index, record in enumerate(records):
            if record.event_id and record.event_id > event_id:
                break
            position = index + 1
            if record.name in ("progress", "done") and record.data is not None:
                state = dict(record.data)
        if state is None:
            state = _progress_payload("queued", 0, self.total)
        return state, position


def _maybe_timestamp(value: float | None) -> str | None:
    return None if value is None else format_timestamp(value)


# ------------------------------------------------------------------------------ scripting


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.lower().endswith((".yaml", ".yml", ".json"))


def resolve_timeline(spec: TimelineSpec, *, check: bool = True) -> Timeline:
    """The timeline ``spec`` names: a :class:`Timeline` (checked like a file unless ``check`` is
    false), a ready-made name (``partial-failure``) or the path of a YAML or JSON file.

    Raises:
        TimelineError: the timeline has problems, the file cannot be read, or the name is
            neither a ready-made timeline nor an existing file. The problems name the file,
            step, line and field.
        TypeError: ``spec`` is none of the three.
    """
    from .timeline_files import check_timeline, load_ready_made, load_timeline, ready_made_names

    if isinstance(spec, Timeline):
        if check:
            problems = check_timeline(spec)
            if problems:
                raise TimelineError(problems)
        return spec
    if isinstance(spec, os.PathLike):
        return load_timeline(os.fspath(spec))
    if isinstance(spec, str):
        if spec in ready_made_names():
            return load_ready_made(spec)
        if _looks_like_path(spec) or os.path.exists(spec):
            return load_timeline(spec)
        known = ", ".join(ready_made_names())
        raise TimelineError(
            [
                TimelineProblem(
                    spec,
                    f"neither a ready-made timeline ({known}) nor a timeline file",
                )
            ]
        )
    raise TypeError(
        f"a timeline is a Timeline, a ready-made name or a file path, not {type(spec).__name__}"
    )
