"""The events a change of a job sends, on both SSE channels: the one place payloads are built.

The timeline player calls :func:`events_for` for every step it plays; the job engine calls it
again only for what it learns while the job runs (a cancel, a page the balance cannot pay for,
the credits a finished job used). So the per-job stream, the workspace stream and everything
else that follows a job see the same payloads by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias, assert_never

from reader_mock.contract import Channel
from reader_mock.sse.encoder import json_text

from .model import JobState
from .status import JobStatus

__all__ = ["Change", "Event", "done_change", "events_for"]

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


class Event:
    """One event of one job on one channel: its name and its JSON payload (read-only).

    ``json`` is the payload as compact UTF-8 JSON, serialized on first use and then kept, so
    every stream that writes the event shares one serialization (the job engine asks for it
    when it plans a job, ahead of the burst).
    """

    __slots__ = ("channel", "data", "json", "name")

    channel: Channel
    name: str
    data: Mapping[str, Any]
    json: bytes

    def __init__(self, channel: Channel, name: str, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "channel", channel)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "data", data)

    def __getattr__(self, attribute: str) -> Any:
        # Called only while ``json`` is unset: later reads are plain slot reads.
        if attribute != "json":
            raise AttributeError(attribute)
        text = json_text(self.data).encode()
        object.__setattr__(self, "json", text)
        return text

    def __setattr__(self, attribute: str, value: object) -> None:
        raise AttributeError(f"an Event is read-only ({attribute!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.channel, self.name, self.data) == (other.channel, other.name, other.data)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Event({self.channel!r}, {self.name!r}, {self.data!r})"


def done_change(status: JobStatus) -> Change:
    """The change that ends a job with ``status`` (a terminal one)."""
    match status:
        case "completed":
            return "done:completed"
        case "failed":
            return "done:failed"
        case "cancelled":
            return "done:cancelled"
    raise ValueError(f"a job does not end as {status!r}")


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
            return (Event(Channel.JOB, "page", result or {}), job, workspace)
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
