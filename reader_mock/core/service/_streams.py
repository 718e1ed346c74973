"""Where the two event streams start: a job's log or a workspace's feed, and a first snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ..logs import LogReader
from ..workspace import Workspace
from ._core import ServiceCore
from ._jobs import find_job

if TYPE_CHECKING:
    from ..jobs import Job

__all__ = ["JobWatch", "Streams"]


@dataclass(frozen=True, slots=True)
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
    resumed: bool = False
    """The stream resumes after the client's ``Last-Event-ID``: it sends no snapshot, only what
    came after that event."""


def _nothing() -> None:
    return None


class Streams:
    """``GET /v1/jobs/{id}/stream`` and ``GET /v1/events``: the watches the stream layer reads."""

    def __init__(self, core: ServiceCore) -> None:
        self._core = core

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
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            job = find_job(workspace, job_id)
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
                    partial(log.detach, reader),
                    job=job,
                    reader=reader,
                    snapshot_id=resume,
                    replay=log.head - reader.cursor,
                    resumed=True,
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
                partial(log.detach, reader),
                job=job,
                reader=reader,
                snapshot_id=job.event_count,
            )

    def watch_events(
        self,
        api_key: str | None,
        wake: Callable[[], None],
        on_overflow: Callable[[], None],
        *,
        last_event_id: str | None = None,
    ) -> JobWatch:
        """Start following a whole workspace for the workspace stream (401 for a bad key).

        Once a job turned the workspace's ids on, ``last_event_id`` (an id the workspace sent)
        resumes after that event: the events the feed still keeps after it are replayed first
        (:meth:`~reader_mock.core.feed.WorkspaceFeed.resume_position`). Any other value starts
        live, as without the header.
        """
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            feed = workspace.feed
            position = feed.resume_position(last_event_id)
            reader = feed.attach(wake, on_overflow, start=position)
            return JobWatch(
                workspace,
                None,
                False,
                partial(feed.detach, reader),
                reader=reader,
                replay=feed.head - reader.cursor,
                resumed=position is not None,
            )
