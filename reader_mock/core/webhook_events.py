"""Which webhook event a job event is, and its body: a mapping, never a second payload builder.

Job events come from the one event pipeline (:class:`~reader_mock.core.fanout.EventHub`); their
payloads were built by :func:`reader_mock.timeline.events_for`. A webhook body is the matching
workspace-stream payload as it is (``job.started``, ``job.completed``, ``job.failed``), or the
per-job page payload with ``jobId`` added (``job.page``), as ``contracts/asyncapi.yaml`` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from reader_mock.contract import Channel

from .fanout import JobEvent

__all__ = ["ACCOUNT_EVENTS", "JOB_EVENTS", "job_webhook_event"]

JOB_EVENTS: Final = frozenset({"job.started", "job.page", "job.completed", "job.failed"})
"""Events about one job: the only ones an inline webhook of ``POST /v1/read`` receives."""
ACCOUNT_EVENTS: Final = frozenset({"credit.low", "session.created", "session.stopped"})
"""Events about the workspace: delivered to subscriptions only."""


def job_webhook_event(
    event: JobEvent, previous_status: str | None
) -> tuple[str, Mapping[str, Any]] | None:
    """The webhook event name and body for ``event``, or ``None`` when it is not one.

    ``previous_status`` is the job's status before the event (``None`` when unknown): a
    workspace ``job:progress`` that moves a job into ``processing`` is ``job.started``, so a
    retried job starts again.
    """
    payload = event.payload
    if event.channel is Channel.WORKSPACE:
        if event.name == "job:completed":
            return "job.completed", payload
        if event.name == "job:failed":
            return "job.failed", payload
        if (
            event.name == "job:progress"
            and payload.get("status") == "processing"
            and previous_status != "processing"
        ):
            return "job.started", payload
        return None
    if event.name == "page":
        return "job.page", {"jobId": event.job_id, **payload}
    if event.name == "error":
        # A page that failed is a finished page too: its result entry holds url and error.
        return "job.page", {"jobId": event.job_id, **payload}
    return None
