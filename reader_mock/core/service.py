"""The service: settings, a clock and the workspaces, with one method per REST operation.

Each operation takes plain values (the API key, the parsed JSON body, integers, the public base
URL used for pagination links) and returns exactly the ``data`` of the contract's success
envelope (plus ``pagination`` for lists, see :class:`Paginated`), or raises
:class:`~reader_mock.core.errors.ApiError`. Every operation first settles the caller's workspace
up to the clock's current time, and checks everything before it changes anything, so a refused
request leaves no trace in the state.

The HTTP layer does the checks that come first in the documented order: it calls
:meth:`Service.authenticate` (401), then :meth:`Service.check_rate_limit` (429, skipped for the
two streams), then validates the request against the contract (400) before calling the operation.
Operations authenticate again by themselves, so tests can call them directly.

The service is thread-safe: one re-entrant lock guards all state, because a test thread may call
it (or move a manual clock) while the server's event loop serves requests.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from reader_mock.timeline import TERMINAL_STATUSES, Timeline, TimelineError
from reader_mock.timeline.files import TimelineSpec, resolve_timeline

from . import errors
from ._input import BodyReader
from .clock import Clock, RealClock, format_timestamp
from .content import PageContent
from .fanout import EventHub
from .ids import RequestIds
from .jobs import Job
from .journal import Journal
from .limits import check_concurrency
from .logs import LogReader
from .planning import JobKind, plan_job
from .read_request import ReadOptions, parse_read_request
from .settings import Settings
from .targets import Failure, blocked_reason, failure_for
from .webhook_request import parse_webhook_create, parse_webhook_update
from .workspace import ApiKeyRecord, CacheEntry, IdempotentResponse, Webhook, Workspace

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "JobWatch",
    "Paginated",
    "ReadOutcome",
    "Service",
]

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100
MAX_IDEMPOTENCY_KEY: Final = 255
EXTRACT_COST: Final = 2
DEFAULT_SESSION_MS: Final = 3_600_000
MIN_SESSION_MS: Final = 60_000


@dataclass(frozen=True)
class ReadOutcome:
    """The answer of ``POST /v1/read``: ``200`` (scrape) or ``201`` (job) and its ``data``."""

    status: int
    data: dict[str, Any]
    replayed: bool = False
    """True when an idempotency key replayed a stored response."""


@dataclass(frozen=True)
class Paginated:
    """A paginated answer: the envelope's ``data`` and ``pagination``."""

    data: Any
    pagination: dict[str, Any]


@dataclass(frozen=True)
class JobWatch:
    """What a stream starts from: its workspace, the job as it stands, where to read next."""

    workspace: Workspace
    progress: dict[str, Any] | None
    """For a job watch, the snapshot to send first: ``{status, completed, total}`` now, or, when
    resuming, as it was after the last event the client received."""
    terminal: bool
    """The job is over and nothing is to be replayed: send ``done`` and close."""
    unsubscribe: Callable[[], None]
    job: Job | None = None
    reader: LogReader | None = None
    """The stream's place in the job's log (per-job) or the workspace feed."""
    snapshot_id: int = 0
    """With ids on, the ``id:`` of the snapshot (the last event it reflects)."""
    no_content: bool = False
    """A finished job's stream resumed after its last event: answer ``204 No Content``."""
    replay: int = 0
    """Records of the log before the live ones (a resumed stream replays them)."""


def _nothing() -> None:
    return None


def _pagination(total: int, skip: int, limit: int, base_url: str, path: str) -> dict[str, Any]:
    has_more = skip + limit < total
    pagination: dict[str, Any] = {"total": total, "skip": skip, "limit": limit, "hasMore": has_more}
    if has_more:
        pagination["next"] = f"{base_url.rstrip('/')}{path}?skip={skip + limit}&limit={limit}"
    return pagination


def _check_page(skip: int, limit: int) -> None:
    issues = []
    if isinstance(skip, bool) or not isinstance(skip, int):
        issues.append(errors.issue("skip", "invalid_type", "Expected integer"))
    elif skip < 0:
        issues.append(
            errors.issue("skip", "too_small", "Number must be greater than or equal to 0")
        )
    if isinstance(limit, bool) or not isinstance(limit, int):
        issues.append(errors.issue("limit", "invalid_type", "Expected integer"))
    elif limit < 1:
        issues.append(
            errors.issue("limit", "too_small", "Number must be greater than or equal to 1")
        )
    elif limit > MAX_LIMIT:
        issues.append(
            errors.issue("limit", "too_big", f"Number must be less than or equal to {MAX_LIMIT}")
        )
    if issues:
        raise errors.invalid_request("Invalid query parameters", issues)


def _ws_base(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :]
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :]
    return base


class Service:
    """The mock's domain: every workspace and every REST operation."""

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.clock: Clock = clock if clock is not None else RealClock()
        self.unexpected_errors: list[BaseException] = []
        """Exceptions no handler expected; a healthy run leaves this empty."""
        self.events = EventHub(on_error=self.record_unexpected)
        self.journal = Journal(self.clock)
        """What was requested and streamed (see :mod:`.journal`); cleared by :meth:`reset`."""
        self._lock = threading.RLock()
        self._scripts: deque[Timeline] = deque()
        self._cycle: tuple[Timeline, ...] = ()
        self._cycle_index = 0
        self._schedule_listeners: list[Callable[[], None]] = []
        self._request_ids = RequestIds(self.settings.seed)
        self._workspaces: dict[str, Workspace] = {}
        self._keys: dict[str, tuple[Workspace, ApiKeyRecord]] = {}
        self._build_workspaces()

    # ------------------------------------------------------------------ set-up

    def _build_workspaces(self) -> None:
        now = self.clock.now()
        self._workspaces = {}
        self._keys = {}
        for index, secret in enumerate(self.settings.api_keys, start=1):
            workspace = Workspace(f"ws_{index}", self.settings, now=now, hub=self.events)
            record = ApiKeyRecord(
                id=workspace.ids.api_key_id(), name="Default key", secret=secret, created_at=now
            )
            workspace.api_keys[record.id] = record
            self._workspaces[workspace.id] = workspace
            self._keys[secret] = (workspace, record)

    def reset(self) -> None:
        """Forget all state: back to the workspaces and keys of the settings, as at start-up,
        with request ids starting again from the seed and an empty journal (the clock keeps
        its time)."""
        with self._lock:
            self._build_workspaces()
            self._request_ids = RequestIds(self.settings.seed)
            self.journal.clear()
            self._scripts.clear()
            self._cycle_index = 0
        self._schedule_changed()

    @property
    def workspaces(self) -> Mapping[str, Workspace]:
        """Workspaces by id (``ws_1`` for the first configured key, and so on)."""
        return self._workspaces

    def record_unexpected(self, exc: BaseException) -> None:
        """Remember an exception that no handler expected (tests fail on these)."""
        self.unexpected_errors.append(exc)

    def new_request_id(self) -> str:
        """A fresh ``x-request-id`` value."""
        return self._request_ids.next()

    # ------------------------------------------------------------------ auth and limits

    def _lookup(self, api_key: str | None) -> tuple[Workspace, ApiKeyRecord]:
        found = self._keys.get(api_key or "")
        if found is None or not found[1].active:
            raise errors.unauthenticated()
        return found

    def authenticate(self, api_key: str | None) -> Workspace:
        """The workspace of an active key (and note the key's use), or ``401 unauthenticated``."""
        with self._lock:
            workspace, record = self._lookup(api_key)
            record.last_used_at = self.clock.now()
            return workspace

    def check_rate_limit(self, workspace: Workspace) -> None:
        """Count one request toward the workspace's window, or raise ``429 rate_limited``."""
        with self._lock:
            workspace.rate.hit(self.clock.now())

    def _open(self, api_key: str | None) -> tuple[Workspace, float]:
        workspace, _ = self._lookup(api_key)
        now = self.clock.now()
        workspace.settle(now)
        return workspace, now

    def settle(self, workspace: Workspace) -> None:
        """Apply everything due in ``workspace`` up to the clock's current time."""
        with self._lock:
            workspace.settle(self.clock.now())

    def settle_all(self) -> None:
        """Settle every workspace (for a clock tick or a control request)."""
        with self._lock:
            now = self.clock.now()
            for workspace in self._workspaces.values():
                workspace.settle(now)

    def on_schedule_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` whenever jobs are created, cancelled or retried (the next due time
        may have moved); returns a function that unsubscribes. Listeners must not block."""
        with self._lock:
            self._schedule_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._schedule_listeners:
                    self._schedule_listeners.remove(listener)

        return unsubscribe

    def _schedule_changed(self) -> None:
        for listener in list(self._schedule_listeners):
            listener()

    # ------------------------------------------------------------------ scripted timelines

    def script_jobs(self, timelines: Iterable[TimelineSpec], *, check: bool = True) -> int:
        """Queue timelines for the next jobs created (in any workspace), one job each, in order;
        returns how many are queued now.

        Each is a ``Timeline``, a ready-made name or a file path, loaded and checked here, so a bad
        one raises ``TimelineError`` (naming file, step, line and field) and queues nothing.
        ``check=False`` skips the checks of ``Timeline`` values (for huge generated ones).
        """
        resolved = [resolve_timeline(spec, check=check) for spec in timelines]
        with self._lock:
            self._scripts.extend(resolved)
            return len(self._scripts)

    def script_next_job(self, timeline: TimelineSpec, *, check: bool = True) -> int:
        """Queue one timeline for the next job created; see :meth:`script_jobs`."""
        return self.script_jobs([timeline], check=check)

    def scripted_count(self) -> int:
        """How many scripted timelines wait for a job."""
        with self._lock:
            return len(self._scripts)

    def scripted_names(self) -> list[str]:
        """The names of the scripted timelines waiting, next first."""
        with self._lock:
            return [timeline.name for timeline in self._scripts]

    def clear_scripts(self) -> None:
        """Forget the scripted timelines no job has taken yet."""
        with self._lock:
            self._scripts.clear()

    def set_timeline_cycle(self, timelines: Sequence[TimelineSpec], *, check: bool = True) -> None:
        """Make every job that has no scripted timeline play these, in turn: the first job the
        first, and so on, starting over after the last (empty: the default timeline again)."""
        resolved = tuple(resolve_timeline(spec, check=check) for spec in timelines)
        with self._lock:
            self._cycle = resolved
            self._cycle_index = 0

    def timeline_cycle_names(self) -> list[str]:
        """The names of the timelines every unscripted job plays in turn (empty: none)."""
        with self._lock:
            return [timeline.name for timeline in self._cycle]

    def _upcoming_timeline(self) -> tuple[Timeline | None, str]:
        """The timeline the next job plays and where it comes from (``script``, ``cycle``, or
        ``default`` with no timeline)."""
        if self._scripts:
            return self._scripts[0], "script"
        if self._cycle:
            return self._cycle[self._cycle_index % len(self._cycle)], "cycle"
        return None, "default"

    def _timeline_taken(self, source: str) -> None:
        if source == "script":
            self._scripts.popleft()
        elif source == "cycle":
            self._cycle_index += 1

    def next_due(self, workspace: Workspace | None = None) -> float | None:
        """Clock time of the next scheduled change in ``workspace`` (default: any), if any."""
        with self._lock:
            chosen = self._workspaces.values() if workspace is None else [workspace]
            times = [w.next_due() for w in chosen]
            return min((t for t in times if t is not None), default=None)

    # ------------------------------------------------------------------ read

    def read(
        self,
        api_key: str | None,
        body: object,
        *,
        idempotency_key: str | None = None,
    ) -> ReadOutcome:
        """``POST /v1/read``: a synchronous scrape (200) or a new job (201).

        With ``idempotency_key``, the first successful outcome is stored and replayed for
        ``settings.idempotency_ttl`` seconds of clock time to every request with the same key,
        whatever its body; a replay changes nothing. Errors are not stored.
        """
        with self._lock:
            workspace, now = self._open(api_key)
            if idempotency_key is not None:
                replay = self._replay(workspace, idempotency_key, now)
                if replay is not None:
                    return replay
            options = parse_read_request(body)
            if options.operation == "scrape":
                outcome = self._scrape(workspace, options, now)
            else:
                outcome = self._create_job(workspace, options, now)
            if idempotency_key is not None:
                workspace.idempotency[idempotency_key] = IdempotentResponse(
                    stored_at=now, status=outcome.status, data=copy.deepcopy(outcome.data)
                )
            return outcome

    def replay(self, api_key: str | None, idempotency_key: str) -> ReadOutcome | None:
        """The live stored response of an idempotency key, or ``None``.

        The HTTP layer asks this before it parses the body, because a repeat is replayed
        whatever its body is (even one that is not JSON). A malformed key is ``400``.
        """
        with self._lock:
            workspace, now = self._open(api_key)
            return self._replay(workspace, idempotency_key, now)

    def _replay(self, workspace: Workspace, key: str, now: float) -> ReadOutcome | None:
        if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
            code, bound = ("too_small", "at least 1") if not key else ("too_big", "at most 255")
            raise errors.invalid_request(
                "Invalid request headers",
                [
                    errors.issue(
                        "x-idempotency-key", code, f"String must contain {bound} character(s)"
                    )
                ],
            )
        stored = workspace.idempotency.get(key)
        if stored is None:
            return None
        if now >= stored.stored_at + self.settings.idempotency_ttl:
            del workspace.idempotency[key]
            return None
        return ReadOutcome(stored.status, copy.deepcopy(stored.data), replayed=True)

    def _scrape(self, workspace: Workspace, options: ReadOptions, now: float) -> ReadOutcome:
        url = options.url or ""
        reason = blocked_reason(url)
        if reason is not None:
            raise errors.url_blocked(url, reason)
        key = options.cache_key()
        if options.cache and options.extract is None:
            entry = workspace.cache.get(key)
            if entry is not None and now < entry.stored_at + self.settings.cache_ttl:
                return self._cache_hit(workspace, options, entry, now)
        cost = options.page_cost + (EXTRACT_COST if options.extract is not None else 0)
        workspace.credits.require(cost)
        failure = failure_for(url)
        if failure is not None:
            page = workspace.content.page(url, only_main_content=options.only_main_content)
            if failure is Failure.UPSTREAM:
                problem = errors.upstream_unavailable()
                message = f"Failed to fetch {url}: upstream error"
                duration = page.duration_ms
            else:
                problem = errors.scrape_timeout(options.timeout_ms)
                message = f"Scrape of {url} exceeded {options.timeout_ms}ms timeout"
                duration = options.timeout_ms
            workspace.record_usage(
                url=url, at=now, duration=duration, proxy_mode=None, credits=0, error=message
            )
            raise problem
        charged = workspace.credits.charge(cost)
        page = workspace.content.page(url, only_main_content=options.only_main_content)
        data = self._page_data(options, page)
        if options.extract is not None:
            data["extracted"] = workspace.content.extracted(url, options.extract)
        data["metadata"] = {
            "title": page.title,
            "description": page.description,
            "statusCode": 200,
            "duration": page.duration_ms,
            "cached": False,
            "proxyMode": options.proxy_mode,
            "scrapedAt": format_timestamp(now),
        }
        workspace.cache[key] = CacheEntry(stored_at=now, scraped_at=now)
        workspace.record_usage(
            url=url,
            at=now,
            duration=page.duration_ms,
            proxy_mode=options.proxy_mode,
            credits=charged,
            error=None,
        )
        return ReadOutcome(200, data)

    @staticmethod
    def _page_data(options: ReadOptions, page: PageContent) -> dict[str, Any]:
        data: dict[str, Any] = {"url": page.url}
        if "markdown" in options.formats:
            data["markdown"] = page.markdown
        if "html" in options.formats:
            data["html"] = page.html
        if "screenshot" in options.formats:
            data["screenshot"] = page.screenshot()
        return data

    def _cache_hit(
        self, workspace: Workspace, options: ReadOptions, entry: CacheEntry, now: float
    ) -> ReadOutcome:
        url = options.url or ""
        page = workspace.content.page(url, only_main_content=options.only_main_content)
        duration = workspace.content.cached_duration(url, entry.scraped_at)
        data = self._page_data(options, page)
        data["metadata"] = {
            "title": page.title,
            "description": page.description,
            "statusCode": 200,
            "duration": duration,
            "cached": True,
            "scrapedAt": format_timestamp(entry.scraped_at),
        }
        workspace.record_usage(
            url=url, at=now, duration=duration, proxy_mode=None, credits=0, error=None, cached=True
        )
        return ReadOutcome(200, data)

    def _create_job(self, workspace: Workspace, options: ReadOptions, now: float) -> ReadOutcome:
        for url in options.targets:
            reason = blocked_reason(url)
            if reason is not None:
                raise errors.url_blocked(url, reason)
        kind: JobKind
        if options.operation == "batch":
            kind, required = "batch", options.page_cost * len(options.urls)
        elif options.operation == "crawl":
            kind, required = "crawl", options.page_cost
        else:
            kind, required = "discover", 1
        workspace.credits.require(required)
        check_concurrency(workspace.active_jobs(), self.settings.max_concurrent_jobs)
        timeline, source = self._upcoming_timeline()
        try:
            plan = plan_job(
                workspace.content,
                self.settings,
                options,
                kind,
                now,
                workspace.ids.peek_job(),
                timeline,
            )
        except TimelineError as exc:
            # A test set this up: say so plainly, and keep the timeline for a job that fits.
            name = timeline.name if timeline is not None else "default"
            raise errors.invalid_request(
                f"The scripted timeline {name!r} cannot play for this job; it stays queued",
                [errors.issue("", "timeline_mismatch", p.message) for p in exc.problems][:20],
            ) from None
        self._timeline_taken(source)
        job = Job(
            id=workspace.ids.job(),
            sequence=len(workspace.jobs) + 1,
            kind=kind,
            options=options,
            created_at=now,
            total=len(options.urls) if kind == "batch" else 1,
        )
        workspace.add_job(job, plan, now)
        self._schedule_changed()
        return ReadOutcome(201, job.summary())

    # ------------------------------------------------------------------ jobs

    @staticmethod
    def _job(workspace: Workspace, job_id: str) -> Job:
        job = workspace.jobs.get(job_id)
        if job is None:
            raise errors.not_found("Job not found")
        return job

    def get_job(
        self,
        api_key: str | None,
        job_id: str,
        *,
        skip: int = 0,
        limit: int = DEFAULT_LIMIT,
        base_url: str,
    ) -> Paginated:
        """``GET /v1/jobs/{id}``: the job with ``results[skip:skip+limit]``.

        ``pagination.total`` is the number of result entries stored so far, not ``data.total``:
        then ``hasMore``/``next`` only ever point at entries that exist, and offsets stay valid
        while the job runs because results are only appended.
        """
        with self._lock:
            _check_page(skip, limit)
            workspace, _ = self._open(api_key)
            job = self._job(workspace, job_id)
            data = job.detail(job.results[skip : skip + limit])
            path = f"/v1/jobs/{quote(job.id, safe='')}"
            return Paginated(data, _pagination(len(job.results), skip, limit, base_url, path))

    def cancel_job(self, api_key: str | None, job_id: str) -> dict[str, Any]:
        """``DELETE /v1/jobs/{id}``: cancel a queued or processing job; 409 when terminal."""
        with self._lock:
            workspace, now = self._open(api_key)
            job = self._job(workspace, job_id)
            if job.status in TERMINAL_STATUSES:
                raise errors.conflict(f"Job is already {job.status}", status=job.status)
            workspace.cancel_job(job, now)
        self._schedule_changed()
        return {"id": job.id, "status": "cancelled"}

    def retry_job(self, api_key: str | None, job_id: str) -> dict[str, Any]:
        """``POST /v1/jobs/{id}/retry``: queue the failed URLs of a finished job again.

        Allowed on ``completed`` and ``failed`` jobs. Failed entries leave ``results`` and their
        URLs are attempted again, new entries being appended; a ``failed`` job also re-queues the
        URLs it never reached. 409 while the job is active or when it was cancelled, 400 when
        nothing failed, 429 when the workspace is at its concurrency limit.
        """
        with self._lock:
            workspace, now = self._open(api_key)
            job = self._job(workspace, job_id)
            if job.active:
                raise errors.conflict(f"Job is still {job.status}", status=job.status)
            if job.status == "cancelled":
                raise errors.conflict("Job was cancelled", status=job.status)
            if not job.failed_urls() and not job.unattempted:
                raise errors.invalid_request("Job has no failed URLs to retry")
            check_concurrency(workspace.active_jobs(), self.settings.max_concurrent_jobs)
            retrying = workspace.retry_job(job, now)
        self._schedule_changed()
        return {"id": job.id, "status": "queued", "retrying": retrying}

    def watch_job(
        self,
        api_key: str | None,
        job_id: str,
        wake: Callable[[], None],
        on_overflow: Callable[[], None],
        *,
        last_event_id: str | None = None,
    ) -> JobWatch:
        """Start following one job for a per-job stream (401/404 like the other operations).

        The snapshot and the stream's place in the job's log are taken together under the
        service lock, so no event falls in between. ``wake`` is called (from any thread) when the
        log has news, ``on_overflow`` when the stream fell too far behind and was let go.

        With ids on, ``last_event_id`` (an id this job sent) resumes after that event: the
        snapshot is the job as it was then, and everything after it is replayed; when that was
        the job's last event, the answer is ``no_content``. Any other value starts afresh.
        """
        with self._lock:
            workspace, _ = self._open(api_key)
            job = self._job(workspace, job_id)
            log = job.log
            resume = job.resume_point(last_event_id)
            if resume is not None and job.terminal and resume == job.event_count:
                return JobWatch(workspace, None, True, _nothing, job=job, no_content=True)
            if resume is not None:
                state, position = job.state_at(resume)
                reader = log.attach(wake, on_overflow, start=position)
                return JobWatch(
                    workspace,
                    state,
                    False,
                    lambda: log.detach(reader),
                    job=job,
                    reader=reader,
                    snapshot_id=resume,
                    replay=log.head - reader.cursor,
                )
            if job.terminal:
                return JobWatch(
                    workspace, job.progress(), True, _nothing, job=job, snapshot_id=job.event_count
                )
            reader = log.attach(wake, on_overflow)
            return JobWatch(
                workspace,
                job.progress(),
                False,
                lambda: log.detach(reader),
                job=job,
                reader=reader,
                snapshot_id=job.event_count,
            )

    def watch_events(
        self, api_key: str | None, wake: Callable[[], None], on_overflow: Callable[[], None]
    ) -> JobWatch:
        """Start following a whole workspace for the workspace stream (401 for a bad key)."""
        with self._lock:
            workspace, _ = self._open(api_key)
            feed = workspace.feed
            reader = feed.attach(wake, on_overflow)
            return JobWatch(workspace, None, False, lambda: feed.detach(reader), reader=reader)

    # ------------------------------------------------------------------ webhooks

    def _webhook(self, workspace: Workspace, webhook_id: str) -> Webhook:
        webhook = workspace.webhooks.get(webhook_id)
        if webhook is None:
            raise errors.not_found("Webhook not found")
        return webhook

    def create_webhook(self, api_key: str | None, body: object) -> dict[str, Any]:
        """``POST /v1/webhooks``: the new subscription, with its ``secret`` if one was given."""
        with self._lock:
            workspace, now = self._open(api_key)
            fields = parse_webhook_create(body)
            limit = self.settings.max_webhooks
            if len(workspace.webhooks) >= limit:
                raise errors.conflict(f"Maximum of {limit} webhooks per workspace", limit=limit)
            webhook = Webhook(
                id=workspace.ids.webhook(),
                url=fields.url or "",
                name=fields.name or "",
                events=list(fields.events or ()),
                secret=fields.secret,
                headers=dict(fields.headers or {}),
                created_at=now,
                updated_at=now,
            )
            workspace.webhooks[webhook.id] = webhook
            return webhook.view(with_secret=True)

    def list_webhooks(
        self, api_key: str | None, *, skip: int = 0, limit: int = DEFAULT_LIMIT, base_url: str
    ) -> Paginated:
        """``GET /v1/webhooks``: oldest first, never with secrets."""
        with self._lock:
            _check_page(skip, limit)
            workspace, _ = self._open(api_key)
            hooks = list(workspace.webhooks.values())
            data = [hook.view() for hook in hooks[skip : skip + limit]]
            return Paginated(data, _pagination(len(hooks), skip, limit, base_url, "/v1/webhooks"))

    def update_webhook(self, api_key: str | None, webhook_id: str, body: object) -> dict[str, Any]:
        """``PATCH /v1/webhooks/{id}``: change any subset of fields; never shows the secret."""
        with self._lock:
            workspace, now = self._open(api_key)
            changes = parse_webhook_update(body)
            webhook = self._webhook(workspace, webhook_id)
            if changes.url is not None:
                webhook.url = changes.url
            if changes.name is not None:
                webhook.name = changes.name
            if changes.events is not None:
                webhook.events = list(changes.events)
            if changes.secret is not None:
                webhook.secret = changes.secret
            if changes.headers is not None:
                webhook.headers = dict(changes.headers)
            if changes.active is not None:
                webhook.active = changes.active
            if changes.any():
                webhook.updated_at = now
            return webhook.view()

    def delete_webhook(self, api_key: str | None, webhook_id: str) -> dict[str, Any]:
        """``DELETE /v1/webhooks/{id}``."""
        with self._lock:
            workspace, _ = self._open(api_key)
            webhook = self._webhook(workspace, webhook_id)
            del workspace.webhooks[webhook.id]
            return {"id": webhook.id}

    # ------------------------------------------------------------------ account

    def get_credits(self, api_key: str | None) -> dict[str, Any]:
        """``GET /v1/usage/credits``."""
        with self._lock:
            workspace, _ = self._open(api_key)
            return workspace.credits.snapshot()

    def list_usage_history(
        self, api_key: str | None, *, skip: int = 0, limit: int = DEFAULT_LIMIT, base_url: str
    ) -> Paginated:
        """``GET /v1/usage/history``: newest first."""
        with self._lock:
            _check_page(skip, limit)
            workspace, _ = self._open(api_key)
            entries = workspace.usage.entries()[::-1]
            data = [dict(entry) for entry in entries[skip : skip + limit]]
            pagination = _pagination(len(entries), skip, limit, base_url, "/v1/usage/history")
            return Paginated(data, pagination)

    def list_api_keys(self, api_key: str | None) -> list[dict[str, Any]]:
        """``GET /v1/api-keys``: every key, revoked ones included, oldest first."""
        with self._lock:
            workspace, _ = self._open(api_key)
            return [record.summary() for record in workspace.api_keys.values()]

    def create_api_key(self, api_key: str | None, body: object = None) -> dict[str, Any]:
        """``POST /v1/api-keys``: a new key for the same workspace; the raw key is shown once.

        ``body`` ``None`` means no body was sent.
        """
        with self._lock:
            workspace, now = self._open(api_key)
            reader = BodyReader({} if body is None else body)
            reader.check()
            name = reader.string("name", "API key")
            reader.check()
            limit = self.settings.max_api_keys
            if workspace.active_api_keys() >= limit:
                raise errors.conflict(
                    f"Maximum of {limit} active API keys per workspace", limit=limit
                )
            secret = workspace.ids.api_key_secret()
            while secret in self._keys:  # practically never; keeps keys unique regardless
                secret = workspace.ids.api_key_secret()
            record = ApiKeyRecord(
                id=workspace.ids.api_key_id(), name=name or "API key", secret=secret, created_at=now
            )
            workspace.api_keys[record.id] = record
            self._keys[secret] = (workspace, record)
            return {
                "id": record.id,
                "name": record.name,
                "key": secret,
                "last4": secret[-4:],
                "createdAt": format_timestamp(now),
            }

    def revoke_api_key(self, api_key: str | None, key_id: str) -> dict[str, Any]:
        """``DELETE /v1/api-keys/{id}``: revoke (again: still 200); 404 for unknown ids."""
        with self._lock:
            workspace, _ = self._open(api_key)
            record = workspace.api_keys.get(key_id)
            if record is None:
                raise errors.not_found("API key not found")
            record.active = False
            return {"id": record.id}

    def get_queue_status(self, api_key: str | None) -> dict[str, Any]:
        """``GET /v1/queue/status``: processing and queued jobs, and the concurrency limit."""
        with self._lock:
            workspace, _ = self._open(api_key)
            return {
                "activeJobs": workspace.count_status("processing"),
                "waitingJobs": workspace.count_status("queued"),
                "maxConcurrency": self.settings.max_concurrent_jobs,
            }

    # ------------------------------------------------------------------ sessions

    def create_session(
        self, api_key: str | None, body: object = None, *, base_url: str
    ) -> dict[str, Any]:
        """``POST /v1/sessions``: a browser session; the first minute (1 credit) is charged now."""
        with self._lock:
            workspace, now = self._open(api_key)
            reader = BodyReader({} if body is None else body)
            reader.check()
            duration = reader.integer(
                "maxDurationMs",
                DEFAULT_SESSION_MS,
                minimum=MIN_SESSION_MS,
                maximum=DEFAULT_SESSION_MS,
            )
            reader.check()
            workspace.credits.require(1)
            session_id, token = workspace.ids.session()
            endpoint = f"{_ws_base(base_url)}/v1/sessions/{session_id}/cdp?token={token}"
            session = workspace.add_session(
                session_id, token, endpoint, now, duration or DEFAULT_SESSION_MS
            )
            return session.view()

    def list_sessions(self, api_key: str | None) -> list[dict[str, Any]]:
        """``GET /v1/sessions``: active sessions, oldest first."""
        with self._lock:
            workspace, _ = self._open(api_key)
            return [s.view() for s in workspace.sessions.values() if s.status == "active"]

    def get_session(self, api_key: str | None, session_id: str) -> dict[str, Any]:
        """``GET /v1/sessions/{id}``: a session in any state."""
        with self._lock:
            workspace, _ = self._open(api_key)
            session = workspace.sessions.get(session_id)
            if session is None:
                raise errors.session_not_found()
            return session.view()

    def stop_session(self, api_key: str | None, session_id: str) -> dict[str, Any]:
        """``DELETE /v1/sessions/{id}``: stop and bill; a stopped one returns its summary again."""
        with self._lock:
            workspace, now = self._open(api_key)
            session = workspace.sessions.get(session_id)
            if session is None:
                raise errors.session_not_found()
            if session.status == "expired":
                raise errors.session_expired()
            if session.status == "active":
                workspace.stop_session(session, now)
            return session.stop_summary()
