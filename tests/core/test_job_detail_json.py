"""``GET /v1/jobs/{id}`` from the kept encoding: the same bytes as encoding the detail afresh, after
every change a job can go through, and no encoding while nothing changed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reader_mock._json import dumps_utf8
from reader_mock.core import DEFAULT_API_KEY, ManualClock, Service
from reader_mock.core.jobs import Job
from reader_mock.http._stream_hub import prepare_frame
from reader_mock.timeline import Timeline

KEY = DEFAULT_API_KEY
BASE = "http://mock.test:8080"


def _fresh(service: Service, job_id: str, **page: int) -> bytes:
    """The envelope's ``data`` and ``pagination`` encoded from :meth:`Jobs.get` (no cache)."""
    got = service.jobs.get(KEY, job_id, base_url=BASE, **page)
    return dumps_utf8({"data": got.data, "pagination": got.pagination})


def _kept(service: Service, job_id: str, **page: int) -> bytes:
    got = service.jobs.get_json(KEY, job_id, base_url=BASE, **page)
    return b'{"data":' + got.data_json + b',"pagination":' + dumps_utf8(got.pagination) + b"}"


def _job(service: Service, job_id: str) -> Job:
    return service.workspaces["ws_1"].jobs[job_id]


def _agree(service: Service, job_id: str, **page: int) -> bytes:
    kept = _kept(service, job_id, **page)
    assert kept == _fresh(service, job_id, **page)
    return kept


def test_every_step_of_a_job_with_a_failure_a_retry_and_pages(
    service: Service, clock: ManualClock
) -> None:
    urls = [f"https://example.com/{n}" for n in range(5)] + ["https://fail.example/x"]
    job_id = service.reads.submit(KEY, {"urls": urls}).data["id"]
    seen = {_agree(service, job_id)}
    pages: list[dict[str, int]] = [{}, {"skip": 2, "limit": 2}, {"skip": 0, "limit": 1}, {}]
    while _job(service, job_id).terminal is False:
        clock.advance(0.05)
        for page in pages:
            seen.add(_agree(service, job_id, **page))
    assert _job(service, job_id).status == "completed"
    assert len(seen) > 10  # every step showed something new, and each agreed
    service.jobs.retry(KEY, job_id)
    assert b'"status":"queued"' in _agree(service, job_id)
    while _job(service, job_id).terminal is False:
        clock.advance(0.05)
        _agree(service, job_id)
        _agree(service, job_id, skip=1, limit=3)


def test_a_cancel_shows_at_once(service: Service, clock: ManualClock) -> None:
    job_id = service.reads.submit(KEY, {"urls": ["https://example.com/a"] * 3}).data["id"]
    clock.advance(0.7)
    before = _agree(service, job_id)
    service.jobs.cancel(KEY, job_id)
    after = _agree(service, job_id)
    assert b'"status":"cancelled"' in after and after != before


def test_a_burst_applied_as_one_run_shows_at_once(service: Service, clock: ManualClock) -> None:
    service.events.prepare = prepare_frame  # as the app does: the frames a run needs
    timeline = Timeline.build("burst", mode="crawl").wait(1)
    timeline = timeline.progress(status="processing", total=40)
    for n in range(40):
        timeline = timeline.page(f"https://example.com/{n}", markdown=f"# {n}")
    service.scripts.add([timeline.wait(1).done("completed")], check=False)
    request = {"url": "https://example.com/0", "maxPages": 100}
    job_id = service.reads.submit(KEY, request).data["id"]
    assert any(action.run is not None for action in _job(service, job_id).plan)
    empty = _agree(service, job_id, limit=100)
    clock.advance(1)
    full = _agree(service, job_id, limit=100)
    assert full != empty and full.count(b'"url":') == 40
    clock.advance(1)
    assert b'"status":"completed"' in _agree(service, job_id, limit=100)


def test_an_unchanged_job_is_not_encoded_again(service: Service, clock: ManualClock) -> None:
    job_id = service.reads.submit(KEY, {"urls": ["https://example.com/a"]}).data["id"]
    clock.advance(3600)
    first = service.jobs.get_json(KEY, job_id, base_url=BASE).data_json
    assert service.jobs.get_json(KEY, job_id, base_url=BASE).data_json is first
    other_page = service.jobs.get_json(KEY, job_id, base_url=BASE, limit=1).data_json
    assert other_page is not first and other_page == first  # one result: the same bytes


_CHANGES: list[tuple[str, Any]] = [
    ("status", "failed"),
    ("completed", 7),
    ("total", 9),
    ("credits_used", 5),
    ("error", "Boom"),
    ("started_at", 12.5),
    ("completed_at", 99.0),
    ("created_at", 1.0),
    ("kind", "crawl"),
    ("id", "job_other"),
]


@pytest.mark.parametrize(("name", "value"), _CHANGES, ids=[name for name, _ in _CHANGES])
def test_any_field_the_detail_shows_refreshes_the_kept_bytes(
    service: Service, clock: ManualClock, name: str, value: Any
) -> None:
    """Whatever code changes a job later, the kept bytes follow every field the detail reads."""
    job_id = service.reads.submit(KEY, {"urls": ["https://example.com/a"]}).data["id"]
    clock.advance(3600)
    job = _job(service, job_id)
    before = job.detail_json(0, 20)
    assert {f.name for f in dataclasses.fields(job)} >= {name for name, _ in _CHANGES}
    setattr(job, name, value)
    after = job.detail_json(0, 20)
    assert after != before
    assert after == dumps_utf8(job.detail(job.results[:20]))


def test_results_appended_or_replaced_refresh_the_kept_bytes(
    service: Service, clock: ManualClock
) -> None:
    job_id = service.reads.submit(KEY, {"urls": ["https://example.com/a"]}).data["id"]
    clock.advance(3600)
    job = _job(service, job_id)
    before = job.detail_json(0, 20)
    job.results.append({"url": "https://example.com/b", "credits": 0, "error": "Gone"})
    appended = job.detail_json(0, 20)
    assert appended != before and appended == dumps_utf8(job.detail(job.results))
    job.results = [dict(entry, url="https://example.com/c") for entry in job.results]
    replaced = job.detail_json(0, 20)
    assert replaced != appended and replaced == dumps_utf8(job.detail(job.results))
