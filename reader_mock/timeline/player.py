"""Playing a timeline for one job: the job's states, result entries and events, step by step.

:func:`play` folds the steps over the job's state and reports every job rule a step breaks;
:func:`instantiate` is the strict form the job engine uses. Content (markdown, titles, URLs) comes
from a :class:`ContentSource`, so the engine's seeded Faker stays in charge of it. No I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol, assert_never
from urllib.parse import urlsplit

from reader_mock.contract import Channel

from .events import Change, Event, done_change, events_for
from .model import JobSpec, JobState, Timeline
from .problems import StepIssue, TimelineError, TimelineProblem
from .status import ActiveStatus
from .steps import (
    Done,
    Drop,
    GrowTotal,
    Page,
    PageError,
    Progress,
    Raw,
    SetStatus,
    Step,
    Wait,
)

__all__ = [
    "PLACEHOLDER_JOB_ID",
    "Action",
    "ContentSource",
    "JobScript",
    "PlainContent",
    "instantiate",
    "play",
]

PLACEHOLDER_JOB_ID: Final = "job_0000000000000000"
"""The job id used when a timeline is played without a real job (validation, previews)."""


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

    def finish(self, entry: Mapping[str, Any], at: float) -> dict[str, Any]:
        """The result entry a ``page`` step adds, ``at`` seconds after the job's creation: the
        entry :meth:`page` gave, with the step's own fields applied, completed where needed."""
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

    def finish(self, entry: Mapping[str, Any], at: float) -> dict[str, Any]:
        return dict(entry)


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
    result: dict[str, Any] | None = None
    events: tuple[Event, ...] = ()

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
        creation_events: what the job's creation (or a retry's start) sends.
        actions: one per step that does something (waits only move ``at``).
    """

    timeline: Timeline
    job: JobSpec
    job_id: str
    initial: JobState
    creation_events: tuple[Event, ...]
    actions: tuple[Action, ...]

    @property
    def final(self) -> JobState:
        """The job's state after the last action."""
        return self.actions[-1].state if self.actions else self.initial

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event, creation first, in the order it is sent."""
        return self.creation_events + tuple(
            event for action in self.actions for event in action.events
        )

    def events_on(self, channel: Channel | str) -> tuple[Event, ...]:
        """The events one channel carries, in order."""
        wanted = Channel(channel)
        return tuple(event for event in self.events if event.channel is wanted)


class _Player:
    """Folds the steps of a timeline over a job's state, collecting actions and broken rules."""

    def __init__(
        self, job: JobSpec, content: ContentSource, job_id: str, initial: JobState
    ) -> None:
        self.job = job
        self.content = content
        self.job_id = job_id
        self.at = 0.0
        self.state = initial
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
        change: Change | None,
        result: dict[str, Any] | None = None,
    ) -> None:
        events = () if change is None else events_for(change, self.state, self.job_id, result)
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
        self.act(number, step, "page", self.content.finish(entry, self.at))

    def error(self, number: int, step: PageError) -> None:
        position = self.position
        url = self.attempt(number, step)
        message = step.error or self.content.page_error(self.job, url, position)
        self.act(number, step, "error", {"url": url, "credits": 0, "error": message})

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
        self.act(number, step, done_change(step.status))

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
        match step:
            case Wait():
                self.wait(number, step)
            case SetStatus():
                self.status(number, step)
            case Progress():
                self.progress(number, step)
            case Page():
                self.page(number, step)
            case PageError():
                self.error(number, step)
            case GrowTotal():
                self.total(number, step)
            case Done():
                self.done(number, step)
            case Drop():
                self.drop(number, step)
            case Raw():
                self.raw(number, step)
            case _:
                assert_never(step)

    def finish(self) -> None:
        if self.done_step is None:
            self.issue(
                None,
                "steps",
                "the job never ends: add a `done` step (completed, failed or cancelled)",
            )


def play(
    timeline: Timeline,
    job: JobSpec | None = None,
    *,
    content: ContentSource | None = None,
    job_id: str = PLACEHOLDER_JOB_ID,
    start: JobState | None = None,
) -> tuple[JobScript, tuple[StepIssue, ...]]:
    """Play ``timeline`` for ``job`` and report every job rule it breaks, without raising.

    ``start`` is the job before the first step (default: queued, nothing attempted); a retry
    starts from the counters the job keeps. The script is complete even when there are issues
    (steps that break a rule are skipped or applied as far as they can be), so a validator can
    still check its events. :func:`instantiate` is the strict form.
    """
    job = job or timeline.representative_job()
    initial = start or JobState("queued", 0, job.initial_total)
    player = _Player(job, content or PlainContent(), job_id, initial)
    for number, step in enumerate(timeline.steps, 1):
        player.play(number, step)
    player.finish()
    script = JobScript(
        timeline=timeline,
        job=job,
        job_id=job_id,
        initial=initial,
        creation_events=events_for("created", initial, job_id),
        actions=tuple(player.actions),
    )
    return script, tuple(player.issues)


def instantiate(
    timeline: Timeline,
    job: JobSpec | None = None,
    *,
    content: ContentSource | None = None,
    job_id: str = PLACEHOLDER_JOB_ID,
    start: JobState | None = None,
) -> JobScript:
    """Play ``timeline`` for ``job`` (default: the timeline's representative job).

    Raises:
        TimelineError: the timeline breaks a job rule for this job (two ``done`` steps, a
            counter going back, more attempts than the batch has URLs...).
    """
    script, issues = play(timeline, job, content=content, job_id=job_id, start=start)
    if issues:
        source = f"timeline {timeline.name!r}"
        raise TimelineError(
            TimelineProblem(source, issue.message, step=issue.step, field=issue.field)
            for issue in issues
        )
    return script
