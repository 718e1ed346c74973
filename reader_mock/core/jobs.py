"""Jobs: the state machine a job's plan drives, and the facts only the running job knows.

Applying a planned action changes the job, charges credits, records usage and publishes the
action's events through :class:`~reader_mock.core.fanout.Outlets`. What the timeline could not
know is decided here, with the same event builder the player uses: a page of a job that was *not*
scripted becomes an error when the balance cannot pay for it (``Insufficient credits to scrape
URL``); a scripted page is played as written and charges what the balance allows; the end of a
job reports the credits it really used; a cancel ends the job where it stands. A run of actions
(:class:`~reader_mock.core.planning.Run`) is applied as one when nothing would tell it apart from
its actions one by one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from reader_mock.contract import Channel
from reader_mock.timeline import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Event,
    JobState,
    JobStatus,
    done_change,
    events_for,
)

from .._json import dumps_utf8
from .clock import format_timestamp
from .fanout import EventHub, Outlets
from .feed import WorkspaceFeed
from .logs import Record, StreamLog
from .planning import JobKind, JobPlan, PlannedAction, Run, StreamOptions, UsageFacts, plan_retry
from .read_request import ReadOptions

if TYPE_CHECKING:
    from .content import FakerContent
    from .limits import CreditLedger
    from .settings import Settings

__all__ = ["Job", "JobHost"]


class JobHost(Protocol):
    """What a job needs from its workspace while it plays."""

    @property
    def id(self) -> str: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def credits(self) -> CreditLedger: ...

    @property
    def content(self) -> FakerContent: ...

    @property
    def hub(self) -> EventHub: ...

    @property
    def feed(self) -> WorkspaceFeed:
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

    def record_usages(self, facts: Sequence[UsageFacts]) -> None:
        """Append usage-history entries given as facts."""
        ...


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
    _detail: tuple[list[dict[str, Any]], tuple[Any, ...], bytes] | None = field(
        default=None, init=False, repr=False
    )
    """The last :meth:`detail_json`: the results list it read, what it depended on, its bytes."""

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

    def state(self) -> JobState:
        """The job's status and counters now."""
        return JobState(self.status, self.completed, self.total, self.credits_used, self.error)

    def progress(self) -> dict[str, Any]:
        """``{status, completed, total}``: the per-job ``progress`` and ``done`` payload."""
        return self.state().progress_payload()

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

    def detail_json(self, skip: int, limit: int) -> bytes:
        """The compact UTF-8 JSON of :meth:`detail` with ``results[skip:skip+limit]``.

        The last answer is kept while nothing it shows changed, so polling a job that did not
        move costs no encoding. The answer is checked, not invalidated: it is reused only when every
        field :meth:`detail` reads is as it was and the results list is the same list of the same
        length (results are only appended; a retry replaces the list), so no change can leave it
        stale.
        """
        results = self.results
        key = (
            len(results),
            self.id,
            self.kind,
            self.created_at,
            self.status,
            self.completed,
            self.total,
            self.credits_used,
            self.error,
            self.started_at,
            self.completed_at,
            skip,
            limit,
        )
        kept = self._detail
        if kept is not None and kept[0] is results and kept[1] == key:
            return kept[2]
        encoded = dumps_utf8(self.detail(results[skip : skip + limit]))
        self._detail = (results, key, encoded)
        return encoded

    # --------------------------------------------------------------- lifecycle

    def start(self, host: JobHost, plan: JobPlan, now: float) -> None:
        """Take ``plan`` and announce the job (a ``progress`` snapshot, queued)."""
        self.log = StreamLog(limit=host.settings.stream_queue_limit, retain=plan.stream.ids)
        self._take(host, plan, now)

    def cancel(self, host: JobHost, now: float) -> None:
        """Stop an active job; finished results stay."""
        self.plan.clear()
        self.status = "cancelled"
        self.completed_at = now
        self._publish(self.outlets(host), now, events_for("done:cancelled", self.state(), self.id))

    def retry(self, host: JobHost, now: float) -> int:
        """Queue the failed (for a failed job also the unattempted) URLs again; returns how many."""
        failed = self.failed_urls()
        urls = failed + self.unattempted
        self.results = [entry for entry in self.results if "error" not in entry]
        self.completed -= len(failed)
        self.unattempted = []
        self.error = None
        self.completed_at = None
        self.status = "queued"
        start = JobState("queued", self.completed, self.total)
        plan = plan_retry(
            host.content,
            host.settings,
            self.options,
            self.kind,
            now,
            self.id,
            urls,
            start,
            self.stream,
            host.hub.prepare,
        )
        self._take(host, plan, now)
        return len(urls)

    def _take(self, host: JobHost, plan: JobPlan, now: float) -> None:
        self.plan = plan.actions
        self.stream = plan.stream
        self.scripted = plan.scripted
        self.timeline = plan.timeline
        self.attempts = 0
        self._publish(self.outlets(host), now, plan.created)

    # --------------------------------------------------------------- playing

    def outlets(self, host: JobHost) -> Outlets:
        """Where this job's events go during the change under way."""
        return Outlets(
            workspace_id=host.id,
            job_id=self.id,
            log=self.log,
            feed=host.feed,
            hub=host.hub,
            touch=host.touch,
        )

    def apply_next(self, host: JobHost, out: Outlets | None = None) -> None:
        """Apply the first planned action (the workspace calls this when it is due).

        ``out``: the outlets of the change this action is part of (looked up when not given).
        """
        action = self.plan.popleft()
        at = action.at
        host.credits.roll_over(at)
        if out is None:
            out = self.outlets(host)
        run = action.run
        if run is not None and out.hub is None and host.credits.can_pay(run.cost):
            self._apply_run(host, run, at, out)
            return
        if action.drop is not None:
            channels, how = action.drop
            # What a mid-frame drop cuts: the job's progress as it stands.
            job, workspace = events_for("progress", self.state(), self.id)
            for channel in channels:
                cut = job if channel is Channel.JOB else workspace
                out.directive(channel, Record(at, drop=how, cut=cut))
            return
        if action.raw is not None:
            channel, chunks = action.raw
            out.directive(channel, Record(at, chunks=chunks))
            return
        state = action.state
        events = action.events
        prepared = action.prepared
        entry = action.entry
        if entry is not None:
            entry, as_planned = self._attempt(host, action, entry)
            self.results.append(entry)
            self.attempts += 1
            if not as_planned:
                events = events_for("error", state, self.id, entry)
                prepared = ()
        self.status = state.status
        self.completed = state.completed
        self.total = state.total
        if self.started_at is None and self.status == "processing":
            self.started_at = at
        if action.kind == "done":
            self.completed_at = at
            self.error = state.error
            if self.status == "failed" and self.kind == "batch":
                self.unattempted = list(self.options.urls[self.attempts :])
            # The job's end reports the credits it really used (a retry's included).
            ended = replace(state, credits_used=self.credits_used)
            events = events_for(done_change(state.status), ended, self.id)
            prepared = ()
        self._publish(out, at, events, prepared)

    def _apply_run(self, host: JobHost, run: Run, at: float, out: Outlets) -> None:
        """Apply a run as one: what its actions would do one by one when the balance pays every
        page and nobody subscribed to the hub (the hub gets each event with the job's credits
        after it, so a run is applied action by action then)."""
        skip = self.plan.popleft
        for _ in range(run.length - 1):
            skip()
        host.credits.charge(run.cost)
        self.credits_used += run.cost
        self.results.extend(run.entries)
        self.attempts += len(run.entries)
        host.record_usages(run.usage)
        state = run.state
        self.status = state.status
        self.completed = state.completed
        self.total = state.total
        if self.started_at is None and run.started:
            self.started_at = at
        self.event_count = out.publish_run(at, run.frames, run.workspace, self.event_count)

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

    def _publish(
        self,
        out: Outlets,
        at: float,
        events: Sequence[Event],
        prepared: Sequence[bytes | None] = (),
    ) -> None:
        """Send events through this change's outlets, numbering the per-job ones."""
        self.event_count = out.publish(
            at,
            events,
            self.event_count,
            credits_used=self.credits_used,
            job_error=self.error,
            prepared=prepared,
        )

    # --------------------------------------------------------------- resuming

    def resume_point(self, last_event_id: str | None) -> int | None:
        """The event id a reconnecting per-job stream resumes after, or ``None`` to start afresh.

        Only with ids on, and only for an id this job sent: ``0`` up to :attr:`event_count`.
        """
        if not self.stream.ids or last_event_id is None:
            return None
        text = last_event_id.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
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
            event = record.event
            if event is not None and event.name in ("progress", "done"):
                state = dict(event.data)
        if state is None:
            state = {"status": "queued", "completed": 0, "total": self.total}
        return state, position


def _maybe_timestamp(value: float | None) -> str | None:
    return None if value is None else format_timestamp(value)
