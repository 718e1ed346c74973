"""Per-workspace state and the settling of everything scheduled in it.

A workspace owns its API keys, jobs, webhooks, usage history, credits, browser sessions,
idempotency records and scrape cache. :meth:`Workspace.settle` applies, in clock order, every
scheduled change that is due: job steps, session expiries and the monthly credit refill; then it
forgets the finished jobs past their retention. The service settles a workspace before it answers
anything about it, so what a client sees is a pure function of the requests made and the clock.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from .clock import format_timestamp
from .fanout import EventHub
from .feed import WorkspaceFeed
from .ids import IdSource
from .limits import CreditLedger, RateWindow
from .logs import StreamLog
from .settings import Settings

if TYPE_CHECKING:
    from .content import FakerContent
    from .jobs import Job
    from .planning import JobPlan, UsageFacts

__all__ = [
    "ApiKeyRecord",
    "CacheEntry",
    "IdempotentResponse",
    "Session",
    "Webhook",
    "Workspace",
]

_MINUTE_MS = 60_000


@dataclass
class ApiKeyRecord:
    """An API key of the workspace; ``secret`` is the raw key sent in ``x-api-key``."""

    id: str
    name: str
    secret: str
    created_at: float
    active: bool = True
    last_used_at: float | None = None

    def summary(self) -> dict[str, Any]:
        """The ``ApiKeySummary`` (never the raw key)."""
        return {
            "id": self.id,
            "name": self.name,
            "last4": self.secret[-4:],
            "active": self.active,
            "rateLimit": None,
            "expiresAt": None,
            "lastUsedAt": None
            if self.last_used_at is None
            else format_timestamp(self.last_used_at),
            "createdAt": format_timestamp(self.created_at),
        }


@dataclass
class Webhook:
    """A webhook subscription. ``delivery_stats`` is updated by whoever delivers."""

    id: str
    url: str
    name: str
    events: list[str]
    secret: str | None
    headers: dict[str, str]
    created_at: float
    updated_at: float
    active: bool = True
    delivery_stats: dict[str, Any] = field(
        default_factory=lambda: {
            "totalAttempts": 0,
            "failedDeliveries": 0,
            "lastDeliveryAt": None,
            "lastDeliveryStatus": None,
        }
    )

    def view(self, *, with_secret: bool = False) -> dict[str, Any]:
        """The ``Webhook`` object; ``secret`` only when asked for and set (creation only)."""
        data: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "name": self.name,
            "events": list(self.events),
        }
        if with_secret and self.secret is not None:
            data["secret"] = self.secret
        data.update(
            headers=dict(self.headers),
            active=self.active,
            deliveryStats=dict(self.delivery_stats),
            createdAt=format_timestamp(self.created_at),
            updatedAt=format_timestamp(self.updated_at),
        )
        return data


SessionStatus = Literal["active", "stopped", "expired"]


@dataclass
class Session:
    """A browser session and its billing."""

    id: str
    sequence: int
    token: str
    ws_endpoint: str
    created_at: float
    expires_at: float
    status: SessionStatus = "active"
    stopped_at: float | None = None
    credits_charged: int = 0

    def view(self) -> dict[str, Any]:
        """The ``Session`` object."""
        return {
            "sessionId": self.id,
            "wsEndpoint": self.ws_endpoint,
            "token": self.token,
            "status": self.status,
            "createdAt": format_timestamp(self.created_at),
            "expiresAt": format_timestamp(self.expires_at),
        }

    def stop_summary(self) -> dict[str, Any]:
        """The ``SessionStopResult`` of a stopped session."""
        end = self.stopped_at if self.stopped_at is not None else self.created_at
        return {
            "sessionId": self.id,
            "status": "stopped",
            "durationMs": round((end - self.created_at) * 1000),
            "creditsCharged": self.credits_charged,
        }


class IdempotentResponse(NamedTuple):
    """The first successful response to an idempotency key."""

    stored_at: float
    status: int
    data: dict[str, Any]


class CacheEntry(NamedTuple):
    """A cached synchronous scrape; the content itself is regenerated from the URL."""

    stored_at: float
    scraped_at: float


def started_minutes(duration_ms: int) -> int:
    """Minutes a session of ``duration_ms`` has begun (at least the first)."""
    return max(1, math.ceil(duration_ms / _MINUTE_MS))


_LONG_BURST: Final = 1000


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one long burst of a job's actions.

    A burst of thousands of pages builds records that live until the streams read them; they
    would set off full collections that walk the whole heap (the job's plan, every finished
    job's results) several times per burst and cost more than applying the pages. The actions
    make no reference cycles, so nothing waits for the collector; it runs again right after.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class UsageHistory:
    """The usage-history entries of a workspace, oldest first.

    Entries are noted as plain facts and become API objects (with their ids, drawn in order from
    the workspace's usage id stream) when first read: a job of many pages pays for a tuple per
    page while it plays, and the history reads the same as if each entry were built at once.
    """

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._entries: list[dict[str, Any]] = []
        self._pending: list[UsageFacts] = []

    def add(self, facts: UsageFacts) -> None:
        """Note ``(url, at, duration, proxy_mode, credits, error, cached)``."""
        self._pending.append(facts)

    def extend(self, facts: Sequence[UsageFacts]) -> None:
        """Note several entries, in order."""
        self._pending.extend(facts)

    def __len__(self) -> int:
        return len(self._entries) + len(self._pending)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry as the API shows it, oldest first (the list itself: do not modify)."""
        for url, at, duration, proxy_mode, credits, error, cached in self._pending:
            self._entries.append(
                {
                    "id": self._new_id(),
                    "url": url,
                    "duration": duration,
                    "status": "error" if error else "success",
                    "cached": cached,
                    "proxyMode": proxy_mode,
                    "credits": credits,
                    "error": error,
                    "createdAt": format_timestamp(at),
                }
            )
        self._pending.clear()
        return self._entries


class Workspace:
    """Everything one workspace holds."""

    def __init__(
        self,
        workspace_id: str,
        settings: Settings,
        *,
        now: float,
        hub: EventHub,
    ) -> None:
        self.id = workspace_id
        self.settings = settings
        self.hub = hub
        """Subscribers of this workspace's job events (the service's, shared)."""
        self.ids = IdSource(settings.seed, workspace_id)
        self.credits = CreditLedger(settings.monthly_credits, now)
        self.rate = RateWindow(settings.requests_per_minute, settings.rate_window_seconds)
        self.feed = WorkspaceFeed(
            limit=settings.stream_queue_limit, replay_limit=settings.workspace_replay_limit
        )
        """The workspace stream's log (see :class:`~reader_mock.core.feed.WorkspaceFeed`)."""
        self._touched: set[StreamLog] = set()
        self.api_keys: dict[str, ApiKeyRecord] = {}
        self.jobs: dict[str, Job] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.usage = UsageHistory(self.ids.usage)
        """Usage entries, oldest first (listed newest first)."""
        self.sessions: dict[str, Session] = {}
        self.idempotency: dict[str, IdempotentResponse] = {}
        self.cache: dict[tuple[object, ...], CacheEntry] = {}
        self._scheduled: dict[str, Job] = {}
        self.settled_through = -math.inf
        """Clock time up to which every scheduled change was applied, while no job was added or
        retried since: nothing is due at or before it (see ``Service.settle_due``)."""
        self._session_count = 0
        self._finished: dict[str, Job] = {}
        """Finished jobs still kept, in the order they finished (so the oldest expire first)."""
        self.jobs_created = 0
        """Jobs ever created here (a job's ``sequence``; forgotten jobs still count)."""
        self.jobs_forgotten = 0
        """Finished jobs forgotten by the retention policy (expired or over the cap)."""

    @functools.cached_property
    def content(self) -> FakerContent:
        """The workspace's generated pages, made when a read first needs one (the generator
        loads only then)."""
        from .content import FakerContent

        return FakerContent(self.settings.seed, self.id)

    # ------------------------------------------------------------------ queries

    def finished_jobs(self) -> int:
        """Finished jobs still kept (what :attr:`Settings.max_finished_jobs` bounds)."""
        return len(self._finished)

    def active_jobs(self) -> int:
        """Jobs in ``queued`` or ``processing``."""
        return sum(1 for job in self.jobs.values() if job.active)

    def count_status(self, status: str) -> int:
        """Jobs currently in ``status``."""
        return sum(1 for job in self.jobs.values() if job.status == status)

    def active_api_keys(self) -> int:
        """API keys not revoked."""
        return sum(1 for key in self.api_keys.values() if key.active)

    def next_due(self) -> float | None:
        """Clock time of the next scheduled change (job step or session expiry), if any."""
        times = [job.plan[0].at for job in self._scheduled.values() if job.plan]
        times += [s.expires_at for s in self.sessions.values() if s.status == "active"]
        return min(times, default=None)

    # ------------------------------------------------------------------ settling

    def settle(self, now: float) -> None:
        """Apply every scheduled change due at or before ``now``, in clock order."""
        while True:
            best_key: tuple[float, int, int] | None = None
            best_job: Job | None = None
            best_session: Session | None = None
            for job in self._scheduled.values():
                step_at = job.plan[0].at
                key = (step_at, 0, job.sequence)
                if step_at <= now and (best_key is None or key < best_key):
                    best_key, best_job, best_session = key, job, None
            for session in self.sessions.values():
                if session.status != "active" or session.expires_at > now:
                    continue
                key = (session.expires_at, 1, session.sequence)
                if best_key is None or key < best_key:
                    best_key, best_job, best_session = key, None, session
            if best_job is not None:
                self._play(best_job, now)
                if not best_job.plan:
                    self._scheduled.pop(best_job.id, None)
            elif best_session is not None:
                self._expire(best_session)
            else:
                break
        self.credits.roll_over(now)
        self._expire_jobs(now)
        self.commit()
        self.settled_through = now

    def _play(self, job: Job, now: float) -> None:
        """Apply ``job``'s due actions while no other job or session comes first.

        One job's burst (a timeline whose pages share one instant) is applied in one go rather
        than re-choosing the earliest job after every action.
        """
        keys = [
            (other.plan[0].at, 0, other.sequence)
            for other in self._scheduled.values()
            if other is not job and other.plan
        ]
        keys += [
            (session.expires_at, 1, session.sequence)
            for session in self.sessions.values()
            if session.status == "active"
        ]
        bound = min(keys, default=None)
        plan = job.plan
        burst = len(plan) > _LONG_BURST and plan[_LONG_BURST].at <= now
        out = job.outlets(self)
        was_terminal = job.terminal
        with _cyclic_gc_paused() if burst else contextlib.nullcontext():
            job.apply_next(self, out)
            while plan and plan[0].at <= now:
                if bound is not None and (plan[0].at, 0, job.sequence) >= bound:
                    break
                job.apply_next(self, out)
        if job.terminal and not was_terminal:
            self._finish(job)

    def touch(self, log: StreamLog) -> None:
        """Note that ``log`` got records; :meth:`commit` tells its readers."""
        self._touched.add(log)

    def commit(self) -> None:
        """Tell the streams of every log that got records since the last commit."""
        touched, self._touched = self._touched, set()
        for log in touched:
            log.commit()

    # ------------------------------------------------------------------ retention

    def _finish(self, job: Job) -> None:
        """Keep ``job`` as finished; beyond the cap, forget the one that finished first."""
        self._finished[job.id] = job
        cap = self.settings.max_finished_jobs
        while len(self._finished) > cap:
            self._forget(next(iter(self._finished.values())))

    def _expire_jobs(self, now: float) -> None:
        """Forget the finished jobs whose retention ended at or before ``now``.

        Jobs finish in clock order, so the kept ones are in order of their end: the walk stops
        at the first one still within its retention.
        """
        retention = self.settings.job_retention
        while self._finished:
            job = next(iter(self._finished.values()))
            ended = job.completed_at if job.completed_at is not None else job.created_at
            if ended + retention > now:
                break
            self._forget(job)

    def _forget(self, job: Job) -> None:
        """Drop a finished job: it is now unknown (``404``) and its results, log and plan are
        freed once the streams still writing it (which hold it themselves) have ended."""
        del self._finished[job.id]
        self.jobs.pop(job.id, None)
        self.jobs_forgotten += 1

    def _expire(self, session: Session) -> None:
        """A session reached ``expiresAt``: bill the minutes it ran beyond the first."""
        self.credits.roll_over(session.expires_at)
        session.status = "expired"
        duration_ms = round((session.expires_at - session.created_at) * 1000)
        session.credits_charged += self.credits.charge(started_minutes(duration_ms) - 1)

    # ------------------------------------------------------------------ changes

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
    ) -> None:
        """Append one usage-history entry."""
        self.usage.add((url, at, duration, proxy_mode, credits, error, cached))

    def record_usages(self, facts: Sequence[UsageFacts]) -> None:
        """Append usage-history entries given as facts (a run of a job's pages)."""
        self.usage.extend(facts)

    def add_job(self, job: Job, plan: JobPlan, now: float) -> None:
        """Register a new job with its compiled plan and announce it (``progress``, queued)."""
        self.jobs[job.id] = job
        self.jobs_created += 1
        if plan.stream.ids:
            self.feed.use_ids()  # from this job's first event on, workspace events have ids
        job.start(self, plan, now)
        if job.plan:
            self._scheduled[job.id] = job
            self.settled_through = -math.inf
        self.commit()

    def cancel_job(self, job: Job, now: float) -> None:
        """Stop an active job; finished results stay."""
        self._scheduled.pop(job.id, None)
        job.cancel(self, now)
        self._finish(job)
        self.commit()

    def retry_job(self, job: Job, now: float) -> int:
        """Queue the failed (for a failed job also the unattempted) URLs again; returns how many."""
        self._finished.pop(job.id, None)
        retrying = job.retry(self, now)
        if job.plan:
            self._scheduled[job.id] = job
            self.settled_through = -math.inf
        self.commit()
        return retrying

    def add_session(
        self, session_id: str, token: str, ws_endpoint: str, now: float, max_duration_ms: int
    ) -> Session:
        """Open a browser session and charge its first minute."""
        self._session_count += 1
        session = Session(
            id=session_id,
            sequence=self._session_count,
            token=token,
            ws_endpoint=ws_endpoint,
            created_at=now,
            expires_at=now + max_duration_ms / 1000,
            credits_charged=self.credits.charge(1),
        )
        self.sessions[session_id] = session
        return session

    def stop_session(self, session: Session, now: float) -> None:
        """Stop an active session and bill every started minute the balance can pay."""
        session.status = "stopped"
        session.stopped_at = now
        duration_ms = round((now - session.created_at) * 1000)
        session.credits_charged += self.credits.charge(started_minutes(duration_ms) - 1)
