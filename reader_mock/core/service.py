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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from . import errors
from ._input import BodyReader
from .bus import EventBus, JobEvent
from .clock import Clock, RealClock, format_timestamp
from .content import PageContent
from .ids import RequestIds
from .jobs import TERMINAL_STATUSES, Job, JobKind
from .journal import Journal
from .limits import check_concurrency
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
    """What a stream starts from: its workspace, the job as it stands, how to stop listening."""

    workspace: Workspace
    progress: dict[str, Any] | None
    """For a job watch, ``{status, completed, total}`` when the watch began."""
    terminal: bool
    unsubscribe: Callable[[], None]


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
        self.bus = EventBus(on_error=self.record_unexpected)
        self.journal = Journal(self.clock)
        """What was requested and streamed (see :mod:`.journal`); cleared by :meth:`reset`."""
        self._lock = threading.RLock()
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
            workspace = Workspace(f"ws_{index}", self.settings, now=now, bus=self.bus)
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
        job = Job(
            id=workspace.ids.job(),
            sequence=len(workspace.jobs) + 1,
            kind=kind,
            options=options,
            created_at=now,
            total=len(options.urls) if kind == "batch" else 1,
        )
        workspace.add_job(job, now)
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
            return {"id": job.id, "status": "queued", "retrying": retrying}

    def watch_job(
        self, api_key: str | None, job_id: str, subscriber: Callable[[JobEvent], None]
    ) -> JobWatch:
        """Start following one job for a per-job stream.

        Returns the job's progress as it stands and subscribes ``subscriber`` to the bus for the
        events that follow (all of them: filter on ``job_id``), with no gap in between: both
        happen under the service lock. Raises 401/404 like the other operations.
        """
        with self._lock:
            workspace, _ = self._open(api_key)
            job = self._job(workspace, job_id)
            unsubscribe = self.bus.subscribe(subscriber)
            return JobWatch(
                workspace=workspace,
                progress=job.progress(),
                terminal=job.status in TERMINAL_STATUSES,
                unsubscribe=unsubscribe,
            )

    def watch_events(self, api_key: str | None, subscriber: Callable[[JobEvent], None]) -> JobWatch:
        """Start following a whole workspace for the workspace stream (401 for a bad key).

        ``subscriber`` receives every event from now on (filter on ``workspace_id``).
        """
        with self._lock:
            workspace, _ = self._open(api_key)
            unsubscribe = self.bus.subscribe(subscriber)
            return JobWatch(
                workspace=workspace, progress=None, terminal=False, unsubscribe=unsubscribe
            )

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
            entries = workspace.usage[::-1]
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
