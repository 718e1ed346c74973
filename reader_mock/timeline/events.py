"""The events a change of a job sends, on both SSE channels: the one place payloads are built.

The timeline player calls :func:`events_for` for every step it plays; the job engine calls it
again only for what it learns while the job runs (a cancel, a page the balance cannot pay for,
the credits a finished job used). So the per-job stream, the workspace stream and everything
else that follows a job see the same payloads by construction.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, assert_never

from reader_mock.contract import Channel
from reader_mock.sse.encoder import json_text

from .model import JobState

__all__ = ["Change", "Event", "events_for"]

Change: TypeAlias = Literal[
    "created",
    "status",
    "progress",
    "total",
    "page",
    "error",
    "done:completed",
    "done:failed",
    "done:cancelled",
]
"""A kind of change of a job: its creation (or the start of a retry), a step of its timeline,
or its end."""


@dataclass(frozen=True)
class Event:
    """One event of one job on one channel: its name and its JSON payload."""

    channel: Channel
    name: str
    data: Mapping[str, Any]

    @functools.cached_property
    def json(self) -> bytes:
        """The payload as compact UTF-8 JSON, serialized once and shared by every stream that
        writes the event (the job engine asks for it when it plans a job, ahead of the burst)."""
        return json_text(self.data).encode()


def events_for(
    change: Change,
    state: JobState,
    job_id: str,
    result: Mapping[str, Any] | None = None,
) -> tuple[Event, ...]:
    """The events ``change`` sends, per-job stream first, for a job that is in ``state`` after it.

    ``result`` is the entry a ``page`` or ``error`` adds to the job's results. The workspace
    stream carries ``jobId`` in every payload; the per-job stream never does. There is no
    ``job:cancelled``: a cancelled job ends with a ``job:progress`` whose status says so.
    """
    progress = state.progress_payload()
    job = Event(Channel.JOB, "progress", progress)
    workspace = Event(Channel.WORKSPACE, "job:progress", {"jobId": job_id, **progress})
    match change:
        case "created" | "status" | "progress" | "total":
            return (job, workspace)
        case "page":
            return (Event(Channel.JOB, "page", dict(result or {})), job, workspace)
        case "error":
            entry = result or {}
            error = {"url": entry.get("url"), "error": entry.get("error")}
            return (Event(Channel.JOB, "error", error), job, workspace)
        case "done:completed":
            outcome = {"jobId": job_id, **progress, "creditsUsed": state.credits_used}
            return (
                Event(Channel.JOB, "done", progress),
                Event(Channel.WORKSPACE, "job:completed", outcome),
            )
        case "done:failed":
            failed = {"jobId": job_id, "error": state.error or ""}
            return (
                Event(Channel.JOB, "done", progress),
                Event(Channel.WORKSPACE, "job:failed", failed),
            )
        case "done:cancelled":
            return (Event(Channel.JOB, "done", progress), workspace)
        case _:
            assert_never(change)
