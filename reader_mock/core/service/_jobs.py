"""The job operations: ``GET`` and ``DELETE /v1/jobs/{id}``, retry, and the queue status."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from reader_mock.timeline import TERMINAL_STATUSES

from .. import errors
from ..limits import check_concurrency
from ..workspace import Workspace
from ._core import ServiceCore
from ._pages import DEFAULT_LIMIT, EncodedPage, Paginated, check_page, page_info, paginate

if TYPE_CHECKING:
    from ..jobs import Job

__all__ = ["Jobs", "find_job"]


def find_job(workspace: Workspace, job_id: str) -> Job:
    """The workspace's job ``job_id``, or ``404 not_found``."""
    job = workspace.jobs.get(job_id)
    if job is None:
        raise errors.not_found("Job not found")
    return job


_PLAIN_ID: Final = re.compile(r"[A-Za-z0-9_.~-]+")
"""An id ``quote`` leaves as it is (every id the mock issues)."""


def _job_path(job: Job) -> str:
    job_id = job.id
    return f"/v1/jobs/{job_id if _PLAIN_ID.fullmatch(job_id) else quote(job_id, safe='')}"


class Jobs:
    """The jobs ``POST /v1/read`` created: look, cancel, retry, and how full the queue is."""

    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    def get(
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
        with self._core.lock:
            check_page(skip, limit)
            workspace, _ = self._core.open(api_key)
            job = find_job(workspace, job_id)
            return paginate(
                job.results,
                job.detail,
                skip=skip,
                limit=limit,
                base_url=base_url,
                path=_job_path(job),
            )

    def get_json(
        self,
        api_key: str | None,
        job_id: str,
        *,
        skip: int = 0,
        limit: int = DEFAULT_LIMIT,
        base_url: str,
    ) -> EncodedPage:
        """:meth:`get` with the job already encoded as JSON (the bytes of ``data`` in the
        answer), kept by the job while it does not change: what the HTTP route serves."""
        with self._core.lock:
            check_page(skip, limit)
            workspace, _ = self._core.open(api_key)
            job = find_job(workspace, job_id)
            pagination = page_info(
                len(job.results), skip=skip, limit=limit, base_url=base_url, path=_job_path(job)
            )
            return EncodedPage(job.detail_json(skip, limit), pagination)

    def cancel(self, api_key: str | None, job_id: str) -> dict[str, Any]:
        """``DELETE /v1/jobs/{id}``: cancel a queued or processing job; 409 when terminal."""
        with self._core.lock:
            workspace, now = self._core.open(api_key)
            job = find_job(workspace, job_id)
            if job.status in TERMINAL_STATUSES:
                raise errors.conflict(f"Job is already {job.status}", status=job.status)
            workspace.cancel_job(job, now)
        self._core.schedule_changed()
        return {"id": job.id, "status": "cancelled"}

    def retry(self, api_key: str | None, job_id: str) -> dict[str, Any]:
        """``POST /v1/jobs/{id}/retry``: queue the failed URLs of a finished job again.

        Allowed on ``completed`` and ``failed`` jobs. Failed entries leave ``results`` and their
        URLs are attempted again, new entries being appended; a ``failed`` job also re-queues the
        URLs it never reached. 409 while the job is active or when it was cancelled, 400 when
        nothing failed, 429 when the workspace is at its concurrency limit.
        """
        with self._core.lock:
            workspace, now = self._core.open(api_key)
            job = find_job(workspace, job_id)
            if job.active:
                raise errors.conflict(f"Job is still {job.status}", status=job.status)
            if job.status == "cancelled":
                raise errors.conflict("Job was cancelled", status=job.status)
            if not job.failed_urls() and not job.unattempted:
                raise errors.invalid_request("Job has no failed URLs to retry")
            check_concurrency(workspace.active_jobs(), self._core.settings.max_concurrent_jobs)
            retrying = workspace.retry_job(job, now)
        self._core.schedule_changed()
        return {"id": job.id, "status": "queued", "retrying": retrying}

    def queue_status(self, api_key: str | None) -> dict[str, Any]:
        """``GET /v1/queue/status``: processing and queued jobs, and the concurrency limit."""
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            return {
                "activeJobs": workspace.count_status("processing"),
                "waitingJobs": workspace.count_status("queued"),
                "maxConcurrency": self._core.settings.max_concurrent_jobs,
            }
