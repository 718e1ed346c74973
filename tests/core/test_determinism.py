"""One seed reproduces every byte; refused requests leave no trace in the state."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reader_mock.core import DEFAULT_API_KEY, JobEvent, ManualClock, Service, Settings
from reader_mock.core.errors import ApiError

KEY = DEFAULT_API_KEY
BASE = "http://mock.test:8080"


def _scenario(service: Service, clock: ManualClock) -> list[Any]:
    """A little of everything, returning every answer and event in order."""
    out: list[Any] = []
    events: list[JobEvent] = []
    service.events.subscribe(events.append)
    out.append(
        service.reads.submit(
            KEY, {"url": "https://example.com", "formats": ["markdown", "html"]}
        ).data
    )
    out.append(
        service.reads.submit(KEY, {"url": "https://example.com/s", "formats": ["screenshot"]}).data
    )
    batch = service.reads.submit(
        KEY, {"urls": ["https://example.com/a", "https://fail.example/b"]}
    ).data
    crawl = service.reads.submit(KEY, {"url": "https://docs.example.com", "maxPages": 6}).data
    out += [batch, crawl]
    out.append(
        service.webhooks.create(
            KEY, {"url": "https://h.example.com", "name": "n", "events": ["job.page"]}
        )
    )
    out.append(service.keys.create(KEY, {"name": "ci"}))
    out.append(service.sessions.create(KEY, None, base_url=BASE))
    for _ in range(4):
        clock.advance(0.45)
        out.append(service.jobs.get(KEY, batch["id"], base_url=BASE).data)
        out.append(service.jobs.get(KEY, crawl["id"], base_url=BASE).data)
    out.append(service.reads.submit(KEY, {"url": "https://example.com"}).data)  # cache hit
    out.append(service.jobs.retry(KEY, batch["id"]))
    clock.advance(5)
    out.append(service.jobs.get(KEY, batch["id"], base_url=BASE).data)
    out.append(service.usage.history(KEY, limit=100, base_url=BASE).data)
    out.append(service.usage.credits(KEY))
    out.append([service.new_request_id() for _ in range(3)])
    out.append(
        [
            (event.sequence, event.at, event.job_id, event.channel, event.name, event.data())
            for event in events
        ]
    )
    return out


def _run(seed: int) -> str:
    clock = ManualClock()
    return json.dumps(_scenario(Service(Settings(seed=seed), clock), clock), sort_keys=True)


def test_the_same_seed_reproduces_every_byte() -> None:
    assert _run(7) == _run(7)


def test_another_seed_gives_other_ids_and_content() -> None:
    first, second = json.loads(_run(7)), json.loads(_run(8))
    assert first[2]["id"] != second[2]["id"]
    assert first[0]["markdown"] != second[0]["markdown"]


def test_polling_and_other_requests_do_not_shift_job_ids() -> None:
    quiet_clock, busy_clock = ManualClock(), ManualClock()
    quiet = Service(Settings(), quiet_clock)
    busy = Service(Settings(), busy_clock)
    first = busy.reads.submit(KEY, {"urls": ["https://example.com/a"]}).data["id"]
    for _ in range(20):
        busy.jobs.get(KEY, first, base_url=BASE)
        busy.reads.submit(KEY, {"url": "https://example.com/sync"})
        busy.new_request_id()
    busy.webhooks.create(KEY, {"url": "https://h.example.com", "name": "n", "events": ["x"]})
    busy.sessions.create(KEY, None, base_url=BASE)
    second = busy.reads.submit(KEY, {"urls": ["https://example.com/b"]}).data["id"]
    quiet_ids = [
        quiet.reads.submit(KEY, {"urls": [f"https://example.com/{x}"]}).data["id"] for x in "ab"
    ]
    assert [first, second] == quiet_ids


def test_the_same_url_reads_the_same_whenever_it_is_scraped() -> None:
    clock = ManualClock()
    service = Service(Settings(), clock)
    early = service.reads.submit(KEY, {"url": "https://example.com/same", "cache": False}).data
    service.reads.submit(KEY, {"urls": ["https://example.com/x", "https://example.com/y"]})
    clock.advance(100)
    late = service.reads.submit(KEY, {"url": "https://example.com/same", "cache": False}).data
    assert late["markdown"] == early["markdown"]
    assert late["metadata"]["title"] == early["metadata"]["title"]


# ---------------------------------------------------------------------------- refused requests


def _state(service: Service) -> str:
    """Everything a client can see, plus the ids the next resources would get."""
    workspace = service.workspaces["ws_1"]
    jobs = [
        service.jobs.get(KEY, job_id, limit=100, base_url=BASE).data for job_id in workspace.jobs
    ]
    snapshot = {
        "jobs": jobs,
        "credits": service.usage.credits(KEY),
        "usage": service.usage.history(KEY, limit=100, base_url=BASE).data,
        "webhooks": service.webhooks.list(KEY, limit=100, base_url=BASE).data,
        "keys": service.keys.list(KEY),
        "sessions": [service.sessions.get(KEY, sid) for sid in workspace.sessions],
        "queue": service.jobs.queue_status(KEY),
        "idempotency": sorted(workspace.idempotency),
        "cache": len(workspace.cache),
        "next_job": service.reads.submit(KEY, {"urls": ["https://example.com/next"]}).data["id"],
        "next_webhook": service.webhooks.create(
            KEY, {"url": "https://h.example.com", "name": "n", "events": ["x"]}
        )["id"],
        "next_key": service.keys.create(KEY)["key"],
        "next_session": service.sessions.create(KEY, None, base_url=BASE)["sessionId"],
    }
    return json.dumps(snapshot, sort_keys=True)


def _refused(service: Service, job_id: str, done_id: str, session_id: str) -> None:
    """Requests that must all be refused without changing anything."""
    attempts: list[Callable[[], object]] = [
        lambda: service.reads.submit(KEY, {"url": "https://a.com", "urls": ["https://b.com"]}),
        lambda: service.reads.submit(KEY, {"urls": ["https://ok.example.com", "http://10.0.0.1/"]}),
        lambda: service.reads.submit(
            KEY, {"urls": ["https://example.com"] * 400, "proxyMode": "premium"}
        ),
        lambda: service.reads.submit(KEY, {"urls": ["https://example.com/more"]}),  # concurrency
        lambda: service.reads.submit(KEY, {"url": "https://a.com", "proxyMode": "stealth"}),
        lambda: service.reads.submit(KEY, {"url": "https://a.com"}, idempotency_key=""),
        lambda: service.jobs.cancel(KEY, done_id),
        lambda: service.jobs.retry(KEY, job_id),
        lambda: service.jobs.get(KEY, "job_missing", base_url=BASE),
        lambda: service.jobs.get(KEY, job_id, limit=0, base_url=BASE),
        lambda: service.webhooks.create(KEY, {"url": "https://h.example.com", "name": ""}),
        lambda: service.webhooks.update(KEY, "whk_missing", {"name": "x"}),
        lambda: service.keys.create(KEY, {"name": 3}),
        lambda: service.keys.revoke(KEY, "key_missing"),
        lambda: service.sessions.create(KEY, {"maxDurationMs": 1}, base_url=BASE),
        lambda: service.sessions.stop(KEY, "ses_missing"),
        lambda: service.sessions.get(KEY, "ses_missing"),
        lambda: service.reads.submit("rdr_wrong", {"url": "https://example.com"}),
    ]
    for attempt in attempts:
        try:
            attempt()
        except ApiError:
            continue
        raise AssertionError(f"{attempt} was not refused")
    assert session_id in service.workspaces["ws_1"].sessions


def _setup(service: Service, clock: ManualClock) -> tuple[str, str, str]:
    done_id = service.reads.submit(KEY, {"urls": ["https://example.com/done"]}).data["id"]
    clock.advance(5)
    job_id = service.reads.submit(
        KEY, {"urls": ["https://example.com/1", "https://example.com/2"]}
    ).data["id"]
    service.webhooks.create(KEY, {"url": "https://h.example.com", "name": "w", "events": ["x"]})
    session_id = service.sessions.create(KEY, None, base_url=BASE)["sessionId"]
    service.reads.submit(KEY, {"url": "https://example.com/c"}, idempotency_key="once")
    return job_id, done_id, session_id


def test_refused_requests_change_nothing() -> None:
    settings = Settings(max_concurrent_jobs=1, monthly_credits=1000)
    plain_clock, noisy_clock = ManualClock(), ManualClock()
    plain = Service(settings, plain_clock)
    noisy = Service(settings, noisy_clock)
    _setup(plain, plain_clock)
    job_id, done_id, session_id = _setup(noisy, noisy_clock)
    _refused(noisy, job_id, done_id, session_id)
    # The refusals must not have spent credits, written usage, or moved an id stream.
    for service, clock in ((plain, plain_clock), (noisy, noisy_clock)):
        clock.advance(1)
        service.usage.credits(KEY)
    plain_clock.advance(10)
    noisy_clock.advance(10)
    assert _state(noisy) == _state(plain)
