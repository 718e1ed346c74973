"""Jobs on a manual clock: progression, counters, crawl growth, cancel, retry, bus events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reader_mock.contract import Channel
from reader_mock.core import DEFAULT_API_KEY, JobEvent, ManualClock, Service
from reader_mock.core.errors import ApiError
from reader_mock.timeline import Timeline

ExpectError = Callable[[Callable[[], object], str], ApiError]
KEY = DEFAULT_API_KEY
BASE = "http://mock.test:8080"
BATCH = ["https://example.com/a", "https://fail.example/b", "https://example.com/c"]


def _job(service: Service, job_id: str, **kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = service.jobs.get(KEY, job_id, base_url=BASE, **kwargs).data
    return data


def _batch(service: Service, urls: list[str] | None = None, **extra: Any) -> str:
    job_id: str = service.reads.submit(KEY, {"urls": urls or BATCH, **extra}).data["id"]
    return job_id


@pytest.fixture
def published(service: Service) -> list[JobEvent]:
    """Every event the service publishes, on both channels."""
    received: list[JobEvent] = []
    service.events.subscribe(received.append)
    return received


@pytest.fixture
def events(service: Service) -> list[JobEvent]:
    """The per-job stream's events among them."""
    received: list[JobEvent] = []

    def on_event(event: JobEvent) -> None:
        if event.channel is Channel.JOB:
            received.append(event)

    service.events.subscribe(on_event)
    return received


def test_nothing_moves_until_the_clock_advances(service: Service) -> None:
    job_id = _batch(service)
    for _ in range(3):
        job = _job(service, job_id)
        assert (job["status"], job["completed"], job["results"]) == ("queued", 0, [])
        assert job["startedAt"] is None


def test_default_progression_step_by_step(service: Service, clock: ManualClock) -> None:
    job_id = _batch(service)
    clock.advance(0.49)
    assert _job(service, job_id)["status"] == "queued"
    clock.advance(0.01)
    job = _job(service, job_id)
    assert job["status"] == "processing"
    assert job["startedAt"] == "2026-01-01T00:00:00.500Z"
    assert job["completed"] == 0
    clock.advance(0.2)
    job = _job(service, job_id)
    assert job["completed"] == 1
    assert job["results"][0]["url"] == BATCH[0]
    assert job["results"][0]["metadata"]["scrapedAt"] == "2026-01-01T00:00:00.700Z"
    clock.advance(0.4)
    job = _job(service, job_id)
    assert job["status"] == "completed"
    assert job["completedAt"] == "2026-01-01T00:00:01.100Z"


def test_completed_counts_failures_and_credits_count_charged_pages(
    service: Service, clock: ManualClock
) -> None:
    job_id = _batch(service, proxyMode="premium")
    clock.advance(10)
    job = _job(service, job_id)
    assert (job["status"], job["completed"], job["total"], job["creditsUsed"]) == (
        "completed",
        3,
        3,
        6,
    )
    assert job["error"] is None
    failed = job["results"][1]
    assert failed == {
        "url": "https://fail.example/b",
        "credits": 0,
        "error": "Failed to fetch https://fail.example/b: upstream error",
    }
    ok = job["results"][0]
    assert set(ok) == {"url", "markdown", "statusCode", "proxyMode", "credits", "metadata"}
    assert (ok["proxyMode"], ok["credits"], ok["statusCode"]) == ("premium", 3, 200)
    history = service.usage.history(KEY, base_url=BASE).data
    assert [entry["url"] for entry in history] == BATCH[::-1]  # newest first
    assert [entry["status"] for entry in history] == ["success", "error", "success"]


def test_timeout_hosts_fail_inside_jobs(service: Service, clock: ManualClock) -> None:
    job_id = _batch(service, ["https://x.timeout.example/"], timeoutMs=2000)
    clock.advance(5)
    entry = _job(service, job_id)["results"][0]
    assert entry["error"] == "Scrape of https://x.timeout.example/ exceeded 2000ms timeout"
    assert entry["credits"] == 0


def test_hosts_under_the_invalid_tld_fail_inside_jobs_like_an_unknown_host(
    service: Service, clock: ManualClock
) -> None:
    job_id = _batch(service, ["https://nowhere.invalid/a", "https://invalid.example.com/b"])
    clock.advance(5)
    job = _job(service, job_id)
    assert job["results"][0] == {
        "url": "https://nowhere.invalid/a",
        "credits": 0,
        "error": "Failed to fetch https://nowhere.invalid/a: host not found",
    }
    assert "error" not in job["results"][1]  # only the top-level domain counts
    assert (job["status"], job["creditsUsed"]) == ("completed", 1)


def test_zero_delays_finish_on_the_next_look(make_service: Callable[..., Service]) -> None:
    service = make_service(queue_delay=0, page_interval=0)
    created = service.reads.submit(KEY, {"urls": BATCH})
    assert created.data["status"] == "queued"  # the answer is a snapshot at creation
    assert _job(service, created.data["id"])["status"] == "completed"


def test_events_follow_the_job(
    service: Service, clock: ManualClock, events: list[JobEvent], published: list[JobEvent]
) -> None:
    job_id = _batch(service, ["https://example.com/a", "https://fail.example/b"])
    clock.advance(10)
    _job(service, job_id)
    kinds = [
        (event.name, event.data().get("status"), event.data().get("completed")) for event in events
    ]
    assert kinds == [
        ("progress", "queued", 0),
        ("progress", "processing", 0),
        ("page", None, None),
        ("progress", "processing", 1),
        ("error", None, None),
        ("progress", "processing", 2),
        ("done", "completed", 2),
    ]
    page = events[2]
    assert page.data() == _job(service, job_id)["results"][0]
    assert events[4].data() == {
        "url": "https://fail.example/b",
        "error": "Failed to fetch https://fail.example/b: upstream error",
    }
    assert [event.sequence for event in published] == list(range(1, len(published) + 1))
    assert [event.name for event in published if event.channel is Channel.WORKSPACE] == [
        "job:progress"
    ] * 4 + ["job:completed"]
    assert {event.job_id for event in events} == {job_id}
    assert events[-1].credits_used == 1
    assert events[2].at == pytest.approx(clock.now() - 10 + 0.7)
    with pytest.raises(TypeError):
        events[0].payload["status"] = "x"  # type: ignore[index]


def test_a_broken_subscriber_does_not_break_the_job(service: Service, clock: ManualClock) -> None:
    def explode(event: JobEvent) -> None:
        raise RuntimeError("subscriber bug")

    service.events.subscribe(explode)
    job_id = _batch(service)
    clock.advance(10)
    assert _job(service, job_id)["status"] == "completed"
    assert service.unexpected_errors and isinstance(service.unexpected_errors[0], RuntimeError)


# ---------------------------------------------------------------------------- crawl and discover


def test_crawl_total_starts_at_one_and_grows(service: Service, clock: ManualClock) -> None:
    job_id = service.reads.submit(KEY, {"url": "https://docs.example.com", "maxPages": 8}).data[
        "id"
    ]
    assert _job(service, job_id)["total"] == 1
    clock.advance(0.7)  # started, seed page done
    after_seed = _job(service, job_id)
    assert after_seed["completed"] == 1
    assert 1 < after_seed["total"] <= 8
    clock.advance(60)
    job = _job(service, job_id)
    assert job["status"] == "completed"
    assert job["total"] == job["completed"] == 8
    urls = [entry["url"] for entry in job["results"]]
    assert urls[0] == "https://docs.example.com"
    assert len(set(urls)) == 8
    assert all(url.startswith("https://docs.example.com/") for url in urls[1:])
    assert job["creditsUsed"] == 8


def test_crawl_depth_limits_the_pages(service: Service, clock: ManualClock) -> None:
    shallow = service.reads.submit(
        KEY, {"url": "https://docs.example.com", "maxDepth": 1, "maxPages": 100}
    )
    deep = service.reads.submit(
        KEY, {"url": "https://docs.example.com", "maxDepth": 2, "maxPages": 100}
    )
    clock.advance(600)
    shallow_job = _job(service, shallow.data["id"], limit=100)
    deep_job = _job(service, deep.data["id"], limit=100)
    seed_links = len(shallow_job["results"]) - 1
    assert 2 <= seed_links <= 5  # the seed page's own links only
    assert deep_job["total"] > shallow_job["total"]


def test_discover_reports_titles_only_and_costs_one_credit(
    service: Service, clock: ManualClock
) -> None:
    job_id = service.reads.submit(KEY, {"url": "https://docs.example.com", "scrape": False}).data[
        "id"
    ]
    clock.advance(600)
    job = _job(service, job_id, limit=100)
    assert job["mode"] == "crawl"
    assert job["creditsUsed"] == 1
    assert job["total"] > 1
    for entry in job["results"]:
        assert set(entry) == {"url", "metadata"}
        assert set(entry["metadata"]) == {"title", "description"}
    history = service.usage.history(KEY, base_url=BASE).data
    assert [(entry["url"], entry["credits"]) for entry in history] == [
        ("https://docs.example.com", 1)
    ]


# ---------------------------------------------------------------------------- pagination


def test_results_pagination(service: Service, clock: ManualClock) -> None:
    urls = [f"https://example.com/{index}" for index in range(5)]
    job_id = _batch(service, urls)
    clock.advance(0.5 + 0.2 * 3)  # three results so far
    page = service.jobs.get(KEY, job_id, skip=0, limit=2, base_url=BASE)
    assert [entry["url"] for entry in page.data["results"]] == urls[:2]
    assert page.pagination == {
        "total": 3,
        "skip": 0,
        "limit": 2,
        "hasMore": True,
        "next": f"{BASE}/v1/jobs/{job_id}?skip=2&limit=2",
    }
    last = service.jobs.get(KEY, job_id, skip=2, limit=2, base_url=BASE + "/")
    assert [entry["url"] for entry in last.data["results"]] == urls[2:3]
    assert last.pagination == {"total": 3, "skip": 2, "limit": 2, "hasMore": False}
    clock.advance(10)
    # Offsets stay valid while the job runs: results are only appended.
    again = service.jobs.get(KEY, job_id, skip=2, limit=2, base_url=BASE)
    assert [entry["url"] for entry in again.data["results"]] == urls[2:4]
    assert again.pagination["hasMore"] is True
    past = service.jobs.get(KEY, job_id, skip=50, limit=10, base_url=BASE)
    assert past.data["results"] == []
    assert past.pagination == {"total": 5, "skip": 50, "limit": 10, "hasMore": False}


@pytest.mark.parametrize(
    ("skip", "limit", "path", "code"),
    [(-1, 20, "skip", "too_small"), (0, 0, "limit", "too_small"), (0, 101, "limit", "too_big")],
)
def test_pagination_bounds(
    service: Service, expect_error: ExpectError, skip: int, limit: int, path: str, code: str
) -> None:
    job_id = _batch(service)
    error = expect_error(
        lambda: service.jobs.get(KEY, job_id, skip=skip, limit=limit, base_url=BASE),
        "invalid_request",
    )
    assert error.message == "Invalid query parameters"
    assert error.details is not None
    assert [(entry["path"], entry["code"]) for entry in error.details["issues"]] == [(path, code)]


def test_unknown_job_is_not_found(service: Service, expect_error: ExpectError) -> None:
    for call in (
        lambda: service.jobs.get(KEY, "job_0000000000000000", base_url=BASE),
        lambda: service.jobs.cancel(KEY, "job_0000000000000000"),
        lambda: service.jobs.retry(KEY, "nope"),
    ):
        error = expect_error(call, "not_found")
        assert error.message == "Job not found"


def test_jobs_of_another_workspace_do_not_exist(
    make_service: Callable[..., Service], expect_error: ExpectError
) -> None:
    service = make_service(api_keys=("rdr_one", "rdr_two"))
    job_id = service.reads.submit("rdr_one", {"urls": BATCH}).data["id"]
    expect_error(lambda: service.jobs.get("rdr_two", job_id, base_url=BASE), "not_found")


# ---------------------------------------------------------------------------- cancel


def test_cancel_keeps_finished_pages(
    service: Service, clock: ManualClock, events: list[JobEvent]
) -> None:
    urls = [f"https://example.com/{index}" for index in range(5)]
    job_id = _batch(service, urls)
    clock.advance(0.9)  # two results
    assert service.jobs.cancel(KEY, job_id) == {"id": job_id, "status": "cancelled"}
    clock.advance(60)
    job = _job(service, job_id)
    assert (job["status"], job["completed"], job["total"]) == ("cancelled", 2, 5)
    assert [entry["url"] for entry in job["results"]] == urls[:2]
    assert events[-1].name == "done"
    assert events[-1].data() == {"status": "cancelled", "completed": 2, "total": 5}


def test_cancel_a_queued_job(service: Service) -> None:
    job_id = _batch(service)
    service.jobs.cancel(KEY, job_id)
    assert _job(service, job_id)["status"] == "cancelled"
    assert service.jobs.queue_status(KEY)["waitingJobs"] == 0


@pytest.mark.parametrize("finish", ["complete", "cancel"])
def test_cancel_of_a_terminal_job_is_a_conflict(
    service: Service, clock: ManualClock, expect_error: ExpectError, finish: str
) -> None:
    job_id = _batch(service)
    if finish == "cancel":
        service.jobs.cancel(KEY, job_id)
        status = "cancelled"
    else:
        clock.advance(10)
        status = "completed"
    error = expect_error(lambda: service.jobs.cancel(KEY, job_id), "conflict")
    assert error.status == 409
    assert error.message == f"Job is already {status}"
    assert error.details == {"status": status}


# ---------------------------------------------------------------------------- retry


def test_retry_requeues_only_the_failed_urls(
    service: Service, clock: ManualClock, events: list[JobEvent]
) -> None:
    job_id = _batch(service)
    clock.advance(10)
    before = _job(service, job_id)
    assert service.jobs.retry(KEY, job_id) == {"id": job_id, "status": "queued", "retrying": 1}
    job = _job(service, job_id)
    assert (job["status"], job["completed"], job["completedAt"]) == ("queued", 2, None)
    assert [entry["url"] for entry in job["results"]] == [BATCH[0], BATCH[2]]
    assert job["startedAt"] == before["startedAt"]
    assert events[-1].data() == {"status": "queued", "completed": 2, "total": 3}
    clock.advance(10)
    job = _job(service, job_id)
    assert (job["status"], job["completed"], job["creditsUsed"]) == ("completed", 3, 2)
    assert [entry["url"] for entry in job["results"]] == [BATCH[0], BATCH[2], BATCH[1]]


def test_retry_with_nothing_failed_is_invalid(
    service: Service, clock: ManualClock, expect_error: ExpectError
) -> None:
    job_id = _batch(service, ["https://example.com/ok"])
    clock.advance(10)
    error = expect_error(lambda: service.jobs.retry(KEY, job_id), "invalid_request")
    assert error.message == "Job has no failed URLs to retry"
    assert error.details is None


@pytest.mark.parametrize(("advance", "status"), [(0.0, "queued"), (0.6, "processing")])
def test_retry_of_an_active_job_is_a_conflict(
    service: Service,
    clock: ManualClock,
    expect_error: ExpectError,
    advance: float,
    status: str,
) -> None:
    job_id = _batch(service)
    clock.advance(advance)
    error = expect_error(lambda: service.jobs.retry(KEY, job_id), "conflict")
    assert error.details == {"status": status}
    assert error.message == f"Job is still {status}"


def test_retry_of_a_cancelled_job_is_a_conflict(
    service: Service, clock: ManualClock, expect_error: ExpectError
) -> None:
    job_id = _batch(service)
    clock.advance(0.8)  # the failing URL has been attempted
    service.jobs.cancel(KEY, job_id)
    error = expect_error(lambda: service.jobs.retry(KEY, job_id), "conflict")
    assert error.details == {"status": "cancelled"}


def test_retry_respects_the_concurrency_limit(
    make_service: Callable[..., Service], clock: ManualClock, expect_error: ExpectError
) -> None:
    service = make_service(max_concurrent_jobs=1)
    job_id = _batch(service)
    clock.advance(10)
    _batch(service, ["https://example.com/busy"])
    error = expect_error(lambda: service.jobs.retry(KEY, job_id), "concurrency_limited")
    assert error.details == {"active": 1, "max": 1}
    assert _job(service, job_id)["status"] == "completed"


# A job that fails as a whole right after its first URL (the default timeline never does).
_FAILS_AFTER_ONE_PAGE = (
    Timeline.build("fails-after-one-page")
    .wait(0.5)
    .status("processing")
    .wait(0.2)
    .page()
    .done("failed", error="Job failed: browser pool crashed")
)


def test_a_job_that_fails_as_a_whole_can_retry_what_it_never_reached(
    service: Service, clock: ManualClock, events: list[JobEvent]
) -> None:
    service.scripts.add([_FAILS_AFTER_ONE_PAGE])
    job_id = _batch(service)
    clock.advance(10)
    job = _job(service, job_id)
    assert (job["status"], job["completed"], job["error"]) == (
        "failed",
        1,
        "Job failed: browser pool crashed",
    )
    assert events[-1].name == "done"
    assert events[-1].job_error == "Job failed: browser pool crashed"
    assert service.jobs.retry(KEY, job_id)["retrying"] == 2  # the two URLs never attempted
    assert _job(service, job_id)["error"] is None
    clock.advance(10)
    job = _job(service, job_id)
    assert (job["status"], job["completed"]) == ("completed", 3)
    assert [entry["url"] for entry in job["results"]] == BATCH


def test_planned_events_carry_what_the_streams_prepared(
    service: Service, clock: ManualClock
) -> None:
    service.events.prepare = lambda event: b"prepared " + event.name.encode()
    job_id = _batch(service, ["https://example.com/a", "https://fail.example/b"])
    watch = service.streams.watch_job(KEY, job_id, lambda: None, lambda: None)
    assert watch.job is not None and watch.reader is not None
    clock.advance(10)
    _job(service, job_id)
    records = watch.job.log.take(watch.reader, 100)
    seen = [(r.event.name, r.prepared) for r in records if r.event is not None]
    # Every planned per-job event was prepared when the job was planned; the job's end is
    # written by the engine as it happens (with the credits really used), so the streams
    # prepare it themselves.
    assert seen == [
        ("progress", b"prepared progress"),
        ("page", b"prepared page"),
        ("progress", b"prepared progress"),
        ("error", b"prepared error"),
        ("progress", b"prepared progress"),
        ("done", None),
    ]


def test_nothing_is_prepared_without_a_stream_layer(service: Service, clock: ManualClock) -> None:
    job_id = _batch(service)
    watch = service.streams.watch_job(KEY, job_id, lambda: None, lambda: None)
    assert watch.job is not None and watch.reader is not None
    clock.advance(10)
    _job(service, job_id)
    records = watch.job.log.take(watch.reader, 100)
    assert records and all(r.prepared is None for r in records)
