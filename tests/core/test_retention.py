"""Job retention on the mock's clock: finished jobs expire, a cap bounds how many are kept.

No sockets: the service is called directly and time moves only when the test moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reader_mock.core import DEFAULT_API_KEY, JobEvent, ManualClock, Service, Settings
from reader_mock.core.errors import ApiError
from reader_mock.core.logs import Record

ExpectError = Callable[[Callable[[], object], str], ApiError]
KEY = DEFAULT_API_KEY
BASE = "http://mock.test:8080"
HOUR = 3600.0


def _create(service: Service, urls: list[str] | None = None, **extra: Any) -> str:
    body = {"urls": urls or ["https://example.com/a", "https://fail.example/b"], **extra}
    job_id: str = service.reads.submit(KEY, body).data["id"]
    return job_id


def _job(service: Service, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = service.jobs.get(KEY, job_id, base_url=BASE).data
    return data


def _gone(service: Service, job_id: str, expect_error: ExpectError) -> None:
    """Every job operation answers ``404 not_found`` "Job not found", as for an unknown id."""
    calls: list[Callable[[], object]] = [
        lambda: service.jobs.get(KEY, job_id, base_url=BASE),
        lambda: service.jobs.get(KEY, job_id, skip=1, limit=1, base_url=BASE),
        lambda: service.jobs.retry(KEY, job_id),
        lambda: service.jobs.cancel(KEY, job_id),
        lambda: service.streams.watch_job(KEY, job_id, _nothing, _nothing),
        lambda: service.streams.watch_job(KEY, job_id, _nothing, _nothing, last_event_id="1"),
    ]
    for call in calls:
        error = expect_error(call, "not_found")
        assert error.status == 404
        assert error.envelope()["error"]["message"] == "Job not found"


def _nothing() -> None:
    return None


def _ended_at(service: Service, job_id: str) -> float:
    """The clock time the job finished (``completedAt``, unrounded)."""
    assert _job(service, job_id)["completedAt"] is not None
    ended = service.workspaces["ws_1"].jobs[job_id].completed_at
    assert ended is not None
    return ended


def test_the_defaults_keep_a_day_and_a_thousand_jobs() -> None:
    settings = Settings()
    assert (settings.job_retention, settings.max_finished_jobs) == (86_400.0, 1000)


def test_a_finished_job_expires_one_retention_after_it_finished(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    service = make_service(job_retention=HOUR)
    job_id = _create(service)
    clock.advance(10)
    ended = _ended_at(service, job_id)
    clock.advance_to(ended + HOUR - 0.001)
    job = _job(service, job_id)
    assert job["status"] == "completed" and len(job["results"]) == 2
    clock.advance_to(ended + HOUR)
    _gone(service, job_id, expect_error)
    workspace = service.workspaces["ws_1"]
    assert (workspace.finished_jobs(), workspace.jobs_forgotten) == (0, 1)


def test_an_idempotent_replay_names_a_job_that_is_still_kept(
    service: Service, clock: ManualClock, expect_error: ExpectError
) -> None:
    """The default retention is the idempotency window: within it, a replay's job is there."""
    body = {"urls": ["https://example.com/a"]}
    first = service.reads.submit(KEY, body, idempotency_key="once")
    clock.advance(service.settings.idempotency_ttl - 0.001)
    again = service.reads.submit(KEY, body, idempotency_key="once")
    assert again.replayed and again.data == first.data
    assert _job(service, first.data["id"])["status"] == "completed"
    clock.advance(1)  # past the window, and a day after the job finished
    assert not service.reads.submit(KEY, body, idempotency_key="once").replayed
    _gone(service, first.data["id"], expect_error)


def test_a_running_job_never_expires_and_its_retention_starts_at_its_end(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    # One page every two hours: the job runs for four hours, longer than the retention.
    service = make_service(job_retention=HOUR, page_interval=2 * HOUR)
    job_id = _create(service)
    for _ in range(3):
        clock.advance(HOUR + 1)
        assert _job(service, job_id)["status"] == "processing"
    clock.advance(HOUR + 1)
    ended = _ended_at(service, job_id)
    assert _job(service, job_id)["status"] == "completed"
    clock.advance_to(ended + HOUR)
    _gone(service, job_id, expect_error)


def test_the_cap_forgets_the_job_that_finished_first_on_a_stopped_clock(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    service = make_service(max_finished_jobs=2, max_concurrent_jobs=10)
    # Created in this order, finishing in the opposite one: three pages, two, one.
    slow = _create(service, ["https://example.com/1", "https://example.com/2", "https://e.com/3"])
    middle = _create(service, ["https://example.com/4", "https://example.com/5"])
    quick = _create(service, ["https://example.com/6"])
    running = _create(service, [f"https://example.com/r{n}" for n in range(100)])
    clock.advance(0.5 + 3 * 0.2)
    # All three finished. Two are kept; the one that finished first (the quick one) is gone.
    _gone(service, quick, expect_error)
    assert _job(service, middle)["completed"] == 2
    assert _job(service, slow)["completed"] == 3
    # The clock stands still: nothing else is forgotten, the running job is never counted.
    for _ in range(3):
        assert _job(service, running)["status"] == "processing"
    assert service.workspaces["ws_1"].finished_jobs() == 2
    service.jobs.cancel(KEY, running)  # a cancelled job is finished too
    _gone(service, middle, expect_error)
    assert _job(service, running)["status"] == "cancelled"
    assert _job(service, slow)["status"] == "completed"


def test_a_retried_job_is_running_again_and_its_retention_restarts(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    service = make_service(job_retention=HOUR, max_finished_jobs=1)
    job_id = _create(service)  # one of its two pages fails
    clock.advance(10)
    clock.advance(HOUR - 20)
    other = _create(service, ["https://example.com/other"])
    clock.advance(0.3)
    assert service.jobs.retry(KEY, job_id)["retrying"] == 1
    # Running again: no longer kept as finished.
    assert service.workspaces["ws_1"].finished_jobs() == 0
    clock.advance(30)  # both end; the retried job ended last, so it is the one kept
    _gone(service, other, expect_error)
    ended = _ended_at(service, job_id)
    clock.advance_to(ended + HOUR - 1)
    assert len(_job(service, job_id)["results"]) == 2
    clock.advance_to(ended + HOUR)
    _gone(service, job_id, expect_error)


def test_job_ids_and_order_go_on_after_jobs_are_forgotten(
    make_service: Callable[..., Service], clock: ManualClock
) -> None:
    kept = make_service(seed=7)
    forgetting = Service(Settings(seed=7, max_finished_jobs=0), clock)
    ids_kept, ids_forgetting = [], []
    for n in range(5):
        ids_kept.append(_create(kept, [f"https://example.com/{n}"]))
        ids_forgetting.append(_create(forgetting, [f"https://example.com/{n}"]))
        clock.advance(5)
        kept.settle_all()
        forgetting.settle_all()
    assert ids_forgetting == ids_kept
    workspace = forgetting.workspaces["ws_1"]
    assert workspace.jobs == {}
    created = [job.sequence for job in kept.workspaces["ws_1"].jobs.values()]
    assert (workspace.jobs_created, workspace.jobs_forgotten, created) == (5, 5, [1, 2, 3, 4, 5])


def test_expiry_publishes_nothing_and_leaves_the_workspace_feed_alone(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    service = make_service(job_retention=60)
    published: list[JobEvent] = []
    service.events.subscribe(published.append)
    feed = service.workspaces["ws_1"].feed
    reader = feed.attach(_nothing, _nothing)
    job_id = _create(service)
    clock.advance(10)
    service.settle_all()
    before = len(published)
    names = [r.event.name for r in feed.take(reader, 100) if r.event is not None]
    assert names[-1] == "job:completed"
    clock.advance(60)
    _gone(service, job_id, expect_error)
    assert len(published) == before
    assert feed.take(reader, 100) == []
    later = _create(service, ["https://example.com/later"])
    clock.advance(10)
    service.settle_all()
    names = [r.event.name for r in feed.take(reader, 100) if r.event is not None]
    assert names[0] == "job:progress" and names[-1] == "job:completed"
    assert {event.job_id for event in published[before:]} == {later}


def test_an_open_stream_keeps_its_job_until_done(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    """The clock jumps past the job's end and its retention at once: the stream already open
    still reads everything up to ``done``; a new one is 404."""
    service = make_service(job_retention=60)
    job_id = _create(service)
    watch = service.streams.watch_job(KEY, job_id, _nothing, _nothing)
    assert watch.job is not None and watch.reader is not None
    clock.advance(3600)
    _gone(service, job_id, expect_error)
    records: list[Record] = watch.job.log.take(watch.reader, 100)
    names = [record.event.name for record in records if record.event is not None]
    assert names == ["progress", "page", "progress", "error", "progress", "done"]
    watch.unsubscribe()


def test_an_inline_webhook_still_gets_its_retries_after_the_job_is_forgotten(
    make_service: Callable[..., Service], clock: ManualClock
) -> None:
    service = make_service(max_finished_jobs=0)
    hook = {"url": "https://hooks.example.com/reader", "events": ["job.completed"]}
    job_id = _create(service, ["https://example.com/a"], webhook=hook)
    clock.advance(10)
    service.settle_all()
    assert service.workspaces["ws_1"].jobs == {}
    first = service.deliveries.take_due()
    assert [(a.number, a.url, a.delivery.event) for a in first] == [
        (1, hook["url"], "job.completed")
    ]
    assert first[0].record.job_id == job_id
    service.deliveries.finish(first[0], status=500, error=None)
    clock.advance(1)
    again = service.deliveries.take_due()
    assert [(a.number, a.url) for a in again] == [(2, hook["url"])]


def test_reset_forgets_every_job_and_starts_counting_again(
    make_service: Callable[..., Service], clock: ManualClock
) -> None:
    service = make_service(max_finished_jobs=1)
    first = [_create(service, [f"https://example.com/{n}"]) for n in range(3)]
    clock.advance(5)
    service.settle_all()
    assert service.workspaces["ws_1"].jobs_forgotten == 2
    service.reset()
    workspace = service.workspaces["ws_1"]
    assert (workspace.jobs, workspace.jobs_created, workspace.jobs_forgotten) == ({}, 0, 0)
    assert _create(service, ["https://example.com/0"]) == first[0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"job_retention": -1}, "setting job_retention must be a number of seconds from 0 to"),
        ({"job_retention": float("inf")}, "setting job_retention must be"),
        ({"job_retention": float("nan")}, "setting job_retention must be"),
        ({"job_retention": 315_360_001}, "setting job_retention must be"),
        ({"job_retention": "1h"}, "setting job_retention must be a number"),
        ({"max_finished_jobs": -1}, "setting max_finished_jobs must be an integer >= 0"),
        ({"max_finished_jobs": 1.5}, "setting max_finished_jobs must be an integer >= 0"),
        ({"max_finished_jobs": True}, "setting max_finished_jobs must be a number"),
    ],
)
def test_bad_retention_settings_name_the_setting(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message):
        Settings(**overrides)


def test_the_edges_of_the_retention_settings_are_allowed(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    assert Settings(job_retention=315_360_000, max_finished_jobs=0).job_retention == 315_360_000
    service = make_service(job_retention=0)
    job_id = _create(service)
    clock.advance(10)
    _gone(service, job_id, expect_error)  # forgotten as it finished
