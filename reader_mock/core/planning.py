"""Planning a job: its timeline played with the workspace's content, as actions on the clock.

When a job is created (or retried) its timeline is played for the job's URLs with the workspace's
seeded content (:class:`_JobContent`) and becomes a :class:`JobPlan`: a queue of
:class:`PlannedAction` with absolute clock times, each carrying the events the player wrote for
it. The workspace applies the actions that are due whenever it settles, so a job's state is a
pure function of its plan and the clock. A stretch of actions at one clock instant that needs
nothing per event is marked as a :class:`Run`, which the job engine may apply as one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from reader_mock.contract import Channel
from reader_mock.sse.drop_kinds import DropKind
from reader_mock.timeline import (
    Drop,
    Event,
    JobScript,
    JobSpec,
    JobState,
    Raw,
    Timeline,
    instantiate,
    timeline_for_request,
)

from .clock import format_timestamp
from .logs import FrameRun
from .read_request import ReadOptions
from .targets import Failure, failure_for, failure_message

if TYPE_CHECKING:
    from .content import FakerContent, PageContent
    from .settings import Settings

__all__ = [
    "JobKind",
    "JobPlan",
    "PlannedAction",
    "Run",
    "StreamOptions",
    "UsageFacts",
    "plan_crawl",
    "plan_job",
    "plan_retry",
]

JobKind = Literal["batch", "crawl", "discover"]

UsageFacts = tuple[str, float, int, str | None, int, str | None, bool]
"""A usage-history entry as plain facts: url, clock time, duration (ms), proxy mode, credits,
error, cached."""


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
    """One step of a job's timeline, played for the job and placed on the clock.

    ``state`` is the job after the action; ``entry`` the result entry a ``page`` or ``error``
    adds; ``events`` what the action sends when it goes as planned.
    """

    at: float
    kind: str
    state: JobState
    events: tuple[Event, ...] = ()
    prepared: tuple[bytes | None, ...] = ()
    """The per-job events as the streams prepared them (``EventHub.prepare``), if they did."""
    entry: dict[str, Any] | None = None
    duration: int = 0
    """Usage-history duration of an attempt, in milliseconds."""
    drop: tuple[tuple[Channel, ...], DropKind] | None = None
    raw: tuple[Channel, tuple[bytes, ...]] | None = None
    run: Run | None = None
    """On the first action of a run: the run (this action and the ones after it)."""


@dataclass(frozen=True, slots=True, eq=False)
class Run:
    """Consecutive actions at one clock instant, summed up so that they can be applied as one.

    What applying them one by one would do, when the balance pays every page: the results they
    add, their usage entries and credits, the job after the last, their per-job events as one
    :class:`~reader_mock.core.logs.FrameRun` and their workspace events in order.
    """

    length: int
    """How many actions of the plan it stands for, its first included."""
    state: JobState
    started: bool
    """Whether some action leaves the job ``processing`` (it starts, if it had not)."""
    entries: tuple[dict[str, Any], ...]
    usage: tuple[UsageFacts, ...]
    cost: int
    frames: FrameRun
    workspace: tuple[Event, ...]


@dataclass(frozen=True)
class _Pricing:
    """What a job's pages cost and record: as written (a scripted timeline) or by its options."""

    options: ReadOptions
    scripted: bool

    def usage(self, entry: Mapping[str, Any], at: float, duration: int) -> UsageFacts:
        """The usage entry of an attempt (its ``entry``) when the balance pays it in full."""
        url = str(entry["url"])
        if "error" in entry:
            return (url, at, duration, None, 0, str(entry["error"]), False)
        proxy_mode = entry.get("proxyMode")
        mode = proxy_mode if isinstance(proxy_mode, str) else self.options.proxy_mode
        return (url, at, duration, mode, self.cost(entry), None, False)

    def cost(self, entry: Mapping[str, Any]) -> int:
        """Credits one attempt costs."""
        if "error" in entry:
            return 0
        if not self.scripted:
            return self.options.page_cost
        written = entry.get("credits")
        return written if isinstance(written, int) and not isinstance(written, bool) else 0


@dataclass(frozen=True)
class JobPlan:
    """A job's played timeline: what its creation sends, its actions, stream options, origin."""

    created: tuple[Event, ...]
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
        pages: FakerContent,
        options: ReadOptions,
        kind: JobKind,
        base: float,
        visits: Sequence[str] = (),
    ) -> None:
        self._pages = pages
        self._options = options
        self._kind = kind
        self._base = base
        self._visits = visits
        self._generated: dict[str, PageContent] = {}

    def generated(self, url: str) -> PageContent:
        found = self._generated.get(url)
        if found is None:
            found = self._pages.page(url, only_main_content=self._options.only_main_content)
            self._generated[url] = found
        return found

    # --- ContentSource (reader_mock.timeline.player)

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
        failure = failure_for(url)
        return failure_message(url, failure or Failure.UPSTREAM, self._options.timeout_ms)

    def discovered_url(self, job: JobSpec, position: int) -> str:
        if position < len(self._visits):
            return self._visits[position]
        seed = urlsplit(job.urls[0])
        return f"{seed.scheme}://{seed.netloc}/page-{position}"

    def finish(self, entry: Mapping[str, Any], at: float) -> dict[str, Any]:
        """A copy of a played result entry with every :data:`_FILL` replaced; ``at`` is seconds
        after the job's creation (``scrapedAt``)."""
        return self._finish(entry, self._base + at)

    # --- usage

    def _finish(self, result: Mapping[str, Any], at: float) -> dict[str, Any]:
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


def fails(url: str) -> bool:
    """Whether an unscripted job's attempt at ``url`` fails (a failing host)."""
    return failure_for(url) is not None


Prepare = Callable[[Event], bytes]
"""How the streams prepare an event ahead of time (``EventHub.prepare`` in :mod:`.fanout`)."""


def _plan(
    script: JobScript,
    content: _JobContent,
    base: float,
    prepare: Prepare | None,
    pricing: _Pricing | None = None,
) -> deque[PlannedAction]:
    """The actions of a played timeline at absolute clock times, each payload serialized once
    and each per-job event prepared for the streams, now rather than in the middle of a burst.
    With ``pricing``, runs are marked (see :func:`_mark_runs`)."""
    plan: list[PlannedAction] = []
    job = Channel.JOB
    for action in script.actions:
        events = action.events
        planned = PlannedAction(base + action.at, action.kind, action.state, events)
        if prepare is not None:
            planned.prepared = tuple(prepare(e) if e.channel is job else None for e in events)
        for event in events:
            _ = event.json
        source = action.source
        if action.result is not None:
            planned.entry = action.result  # the page event carries the same entry
            planned.duration = content.duration(planned.entry)
        elif isinstance(source, Drop):
            planned.drop = (tuple(sorted(source.streams.channels)), source.how)
        elif isinstance(source, Raw):
            planned.raw = (source.stream, source.chunks())
        plan.append(planned)
    if pricing is not None and prepare is not None:
        _mark_runs(plan, pricing)
    return deque(plan)


def _joins_run(action: PlannedAction) -> bool:
    """Whether an action can be part of a run: it only sends events, each per-job one prepared;
    a ``done`` (whose payload the engine rewrites), a drop and raw text cannot."""
    return (
        action.kind != "done"
        and action.drop is None
        and action.raw is None
        and bool(action.events)
        and bool(action.prepared)
        and all(
            frame is not None or event.channel is not Channel.JOB
            for event, frame in zip(action.events, action.prepared, strict=True)
        )
    )


def _mark_runs(plan: list[PlannedAction], pricing: _Pricing) -> None:
    """Mark every stretch of at least two consecutive actions at one clock instant that can
    join a run (:func:`_joins_run`) as a :class:`Run`, on its first action."""
    index = 0
    while index < len(plan):
        first = plan[index]
        end = index
        while end < len(plan) and plan[end].at == first.at and _joins_run(plan[end]):
            end += 1
        if end - index >= 2:
            first.run = _run(plan[index:end], pricing)
        index = max(end, index + 1)


def _run(actions: Sequence[PlannedAction], pricing: _Pricing) -> Run:
    frames: list[bytes] = []
    names: list[str] = []
    workspace: list[Event] = []
    entries: list[dict[str, Any]] = []
    usage: list[UsageFacts] = []
    started = False
    job = Channel.JOB
    for action in actions:
        for event, frame in zip(action.events, action.prepared, strict=True):
            if event.channel is job:
                assert frame is not None
                frames.append(frame)
                names.append(event.name)
            else:
                workspace.append(event)
        if action.entry is not None:
            entries.append(action.entry)
            usage.append(pricing.usage(action.entry, action.at, action.duration))
        started = started or action.state.status == "processing"
    return Run(
        length=len(actions),
        state=actions[-1].state,
        started=started,
        entries=tuple(entries),
        usage=tuple(usage),
        cost=sum(facts[4] for facts in usage),
        frames=FrameRun(frames, names),
        workspace=tuple(workspace),
    )


def _spec(options: ReadOptions, kind: JobKind, urls: Sequence[str] | None = None) -> JobSpec:
    if urls is not None:
        return JobSpec(tuple(urls), "batch", options.formats, options.proxy_mode)
    if kind == "batch":
        return JobSpec(options.urls, "batch", options.formats, options.proxy_mode)
    return JobSpec((options.url or "",), "crawl", options.formats, options.proxy_mode)


def plan_job(
    pages: FakerContent,
    settings: Settings,
    options: ReadOptions,
    kind: JobKind,
    now: float,
    job_id: str,
    timeline: Timeline | None = None,
    prepare: Prepare | None = None,
) -> JobPlan:
    """Plan job ``job_id`` created at ``now``: ``timeline``, or the default one. ``prepare``:
    how the streams prepare an event (not used when the timeline turns ``id:`` fields on).

    Raises:
        TimelineError: ``timeline`` cannot play for this job (its URLs, mode or counters do not
            fit); nothing has changed.
    """
    visits: list[str] = []
    if kind != "batch":
        crawl = plan_crawl(options.url or "", options.max_depth, options.max_pages, pages.links)
        visits = [url for url, _ in crawl]
    content = _JobContent(pages, options, kind, now, visits)
    spec = _spec(options, kind)
    scripted = timeline is not None
    if timeline is None:
        timeline = timeline_for_request(
            spec.urls,
            mode=spec.mode,
            queued_delay=settings.queue_delay,
            page_delay=settings.page_interval,
            crawl_pages=max(1, len(visits)),
            fails=fails,
        )
    script = instantiate(timeline, spec, content=content, job_id=job_id)
    stream = StreamOptions(
        ids=timeline.settings.ids,
        ping_interval=timeline.settings.ping_interval,
        prefix=(
            ()
            if timeline.settings.job_stream_prefix is None
            else timeline.settings.job_stream_prefix.chunks()
        ),
    )
    # A discover job's first page pays for the whole job: its pages are applied one by one.
    pricing = None if kind == "discover" else _Pricing(options, scripted)
    actions = _plan(script, content, now, None if stream.ids else prepare, pricing)
    return JobPlan(script.creation_events, actions, stream, scripted, timeline.name)


def plan_retry(
    pages: FakerContent,
    settings: Settings,
    options: ReadOptions,
    kind: JobKind,
    now: float,
    job_id: str,
    urls: Sequence[str],
    start: JobState,
    stream: StreamOptions,
    prepare: Prepare | None = None,
) -> JobPlan:
    """Plan the retry of ``urls`` for a job that keeps its other results (``start``).

    The retry plays the default timeline for those URLs, whatever the job played before.
    """
    content = _JobContent(pages, options, kind, now)
    timeline = timeline_for_request(
        urls,
        queued_delay=settings.queue_delay,
        page_delay=settings.page_interval,
        fails=fails,
        name="retry",
    )
    script = instantiate(
        timeline, _spec(options, kind, urls), content=content, job_id=job_id, start=start
    )
    pricing = None if kind == "discover" else _Pricing(options, scripted=False)
    actions = _plan(script, content, now, None if stream.ids else prepare, pricing)
    return JobPlan(script.creation_events, actions, stream, False, "retry")
