"""Jobs: their state, their schedule of steps, and the default way a job progresses.

A job's future is data. When a job is created (or retried) a :class:`Progression` computes its
*steps*: when it starts, which URL it attempts at what clock time and how far ``total`` has grown
by then, and when it finishes. The workspace applies the steps that are due whenever it settles,
so a job's state is a pure function of its steps and the clock; with a manual clock nothing
moves until the clock is advanced. A scripted timeline is simply another :class:`Progression`.

What a step *does* (charging credits, building the result entry, publishing events) lives in
``workspace.py``; this module only decides *when*.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from .clock import format_timestamp
from .read_request import ReadOptions
from .targets import failure_for

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "DefaultProgression",
    "Job",
    "JobKind",
    "Progression",
    "Step",
    "plan_crawl",
]

JobKind = Literal["batch", "crawl", "discover"]
JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]

ACTIVE_STATUSES: Final = frozenset({"queued", "processing"})
TERMINAL_STATUSES: Final = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class Step:
    """One scheduled change of a job.

    ``action`` is one of:

    - ``start``: ``queued`` becomes ``processing`` (sets ``startedAt``);
    - ``attempt``: ``url`` is fetched; a result entry is appended, ``completed`` grows by one and
      ``total`` becomes ``total`` when given (a crawl that found more pages);
    - ``finish``: the job becomes ``completed`` (sets ``completedAt``);
    - ``fail``: the whole job fails with ``error``; URLs not yet attempted stay unattempted.
    """

    at: float
    action: Literal["start", "attempt", "finish", "fail"]
    url: str | None = None
    total: int | None = None
    error: str | None = None


@dataclass
class Job:
    """One batch, crawl or discover job and everything reported about it."""

    id: str
    sequence: int
    """Creation order within the workspace; breaks ties between steps due at the same time."""
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
    steps: deque[Step] = field(default_factory=deque)
    unattempted: list[str] = field(default_factory=list)
    """URLs a failed job never reached; a retry queues them again."""

    @property
    def mode(self) -> str:
        """The reported ``mode``: ``batch``, or ``crawl`` for crawl and discover jobs."""
        return "batch" if self.kind == "batch" else "crawl"

    @property
    def active(self) -> bool:
        """Queued or processing: counts toward the concurrency limit."""
        return self.status in ACTIVE_STATUSES

    def next_due(self) -> float | None:
        """Clock time of the next scheduled step, if any."""
        return self.steps[0].at if self.steps else None

    def failed_urls(self) -> list[str]:
        """URLs whose entry in ``results`` is an error, in result order."""
        return [entry["url"] for entry in self.results if "error" in entry]

    def progress(self) -> dict[str, Any]:
        """``{status, completed, total}``: the per-job ``progress`` and ``done`` payload."""
        return {"status": self.status, "completed": self.completed, "total": self.total}

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


def _maybe_timestamp(value: float | None) -> str | None:
    return None if value is None else format_timestamp(value)


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


class Progression(Protocol):
    """Decides when a job's steps happen."""

    def plan(self, job: Job, now: float) -> list[Step]:
        """Every step of a job created at ``now``."""
        ...

    def plan_retry(self, job: Job, urls: Sequence[str], now: float) -> list[Step]:
        """Every step of a job retried at ``now`` that attempts ``urls`` again."""
        ...


class DefaultProgression:
    """Queued for ``queue_delay``, then one URL every ``page_interval``, then completed.

    The finishing step shares the clock time of the last attempt (steps due together apply in
    order), so a job completes the moment its last URL is done. Both delays may be 0.
    """

    def __init__(
        self,
        queue_delay: float,
        page_interval: float,
        links_of: Callable[[str], Sequence[str]],
    ) -> None:
        self.queue_delay = queue_delay
        self.page_interval = page_interval
        self._links_of = links_of

    def _schedule(self, visits: Sequence[tuple[str, int | None]], now: float) -> list[Step]:
        start = now + self.queue_delay
        steps = [Step(at=start, action="start")]
        at = start
        for index, (url, total) in enumerate(visits):
            at = start + (index + 1) * self.page_interval
            steps.append(Step(at=at, action="attempt", url=url, total=total))
        steps.append(Step(at=at, action="finish"))
        return steps

    def plan(self, job: Job, now: float) -> list[Step]:
        if job.kind == "batch":
            visits: list[tuple[str, int | None]] = [(url, None) for url in job.options.urls]
        else:
            seed = job.options.url or ""
            crawl = plan_crawl(seed, job.options.max_depth, job.options.max_pages, self._links_of)
            visits = [(url, total) for url, total in crawl]
        return self._schedule(visits, now)

    def plan_retry(self, job: Job, urls: Sequence[str], now: float) -> list[Step]:
        return self._schedule([(url, None) for url in urls], now)
