"""``POST /v1/read``: a synchronous scrape, or a batch, crawl or discover job."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .. import errors
from ..clock import format_timestamp
from ..limits import check_concurrency
from ..workspace import CacheEntry, IdempotentResponse, Workspace
from ._core import ServiceCore
from ._deliveries import WebhookDeliveries
from ._scripts import Scripts

if TYPE_CHECKING:
    # The read path (request parsing, planning, jobs and their timelines) loads with the first
    # read: a server that answers other calls first does not wait for it at start-up.
    from ..content import PageContent
    from ..planning import JobKind
    from ..read_request import ReadOptions

__all__ = ["ReadOutcome", "Reads"]

MAX_IDEMPOTENCY_KEY: Final = 255
EXTRACT_COST: Final = 2


class ReadOutcome(NamedTuple):
    """The answer of ``POST /v1/read``: ``200`` (scrape) or ``201`` (job) and its ``data``."""

    status: int
    data: dict[str, Any]
    replayed: bool = False
    """True when an idempotency key replayed a stored response."""


class Reads:
    """The read operation, with its cache, its idempotency keys and the jobs it creates."""

    def __init__(self, core: ServiceCore, scripts: Scripts, deliveries: WebhookDeliveries) -> None:
        self._core = core
        self._scripts = scripts
        self._deliveries = deliveries

    def submit(
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
        with self._core.lock:
            workspace, now = self._core.open(api_key)
            if idempotency_key is not None:
                replay = self._replay(workspace, idempotency_key, now)
                if replay is not None:
                    return replay
            from ..read_request import parse_read_request

            options = parse_read_request(body)
            if options.operation == "scrape":
                outcome = self._scrape(workspace, options, now)
                self._deliveries.credits_changed(workspace)
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
        with self._core.lock:
            workspace, now = self._core.open(api_key)
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
        if now >= stored.stored_at + self._core.settings.idempotency_ttl:
            del workspace.idempotency[key]
            return None
        return ReadOutcome(stored.status, copy.deepcopy(stored.data), replayed=True)

    def _scrape(self, workspace: Workspace, options: ReadOptions, now: float) -> ReadOutcome:
        from ..targets import Failure, blocked_reason, failure_for, failure_message

        url = options.url or ""
        reason = blocked_reason(url)
        if reason is not None:
            raise errors.url_blocked(url, reason)
        key = options.cache_key()
        if options.cache and options.extract is None:
            entry = workspace.cache.get(key)
            if entry is not None and now < entry.stored_at + self._core.settings.cache_ttl:
                return self._cache_hit(workspace, options, entry, now)
        cost = options.page_cost + (EXTRACT_COST if options.extract is not None else 0)
        workspace.credits.require(cost)
        failure = failure_for(url)
        if failure is not None:
            page = workspace.content.page(url, only_main_content=options.only_main_content)
            message = failure_message(url, failure, options.timeout_ms)
            if failure is Failure.TIMEOUT:
                problem = errors.scrape_timeout(options.timeout_ms)
                duration = options.timeout_ms
            else:
                problem = errors.upstream_unavailable()
                duration = page.duration_ms
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
        from reader_mock.timeline import TimelineError

        from ..jobs import Job
        from ..planning import plan_job
        from ..targets import blocked_reason

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
        check_concurrency(workspace.active_jobs(), self._core.settings.max_concurrent_jobs)
        timeline, source = self._scripts.upcoming()
        try:
            plan = plan_job(
                workspace.content,
                self._core.settings,
                options,
                kind,
                now,
                workspace.ids.peek_job(),
                timeline,
                workspace.hub.prepare,
            )
        except TimelineError as exc:
            # A test set this up: say so plainly, and keep the timeline for a job that fits.
            name = timeline.name if timeline is not None else "default"
            first = exc.problems[0].message if exc.problems else "it does not fit"
            raise errors.invalid_request(
                f"No job was created: the scripted timeline {name!r} does not fit this request "
                f"({first}). The timeline stays scripted for the next job: send a request it "
                "fits, or clear the scripted timelines (DELETE /_mock/jobs/script)",
                [errors.issue("", "timeline_mismatch", p.message) for p in exc.problems][:20],
            ) from None
        self._scripts.take(source)
        if options.webhook is not None:
            self._deliveries.listen()
        job = Job(
            id=workspace.ids.job(),
            sequence=workspace.jobs_created + 1,
            kind=kind,
            options=options,
            created_at=now,
            total=len(options.urls) if kind == "batch" else 1,
        )
        workspace.add_job(job, plan, now)
        self._core.schedule_changed()
        return ReadOutcome(201, job.summary())
