"""Days of ``serve``: finished jobs are forgotten by the retention policy, and their memory returns.

The memory is measured with ``tracemalloc`` around one job of 1,000 pages (the bench
``bench/retention.py`` does the same with 10,000 and more); the flags are tried on a real
``reader-mock serve`` process.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import httpx
import pytest
from reliability_support import Served

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Service, Settings

pytestmark = pytest.mark.slow

KEY = DEFAULT_API_KEY
PAGES = 1000


def _finish_job(service: Service, clock: ManualClock, urls: list[str]) -> str:
    job_id: str = service.reads.submit(KEY, {"urls": urls}).data["id"]
    clock.advance(0.5 + 0.2 * len(urls) + 1)
    service.settle_all()
    return job_id


@pytest.mark.parametrize("forgotten_by", ["the clock", "the cap"])
def test_a_forgotten_job_gives_its_memory_back(forgotten_by: str) -> None:
    clock = ManualClock()
    service = Service(Settings(monthly_credits=10**6, job_retention=60, max_finished_jobs=1), clock)
    workspace = service.workspaces["ws_1"]
    # Warm up what stays loaded for good (generated content, the contract's checks).
    _finish_job(service, clock, ["https://example.com/warm-up"])
    clock.advance(60)
    service.settle_all()
    urls = [f"https://example.com/page/{n}" for n in range(PAGES)]
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        job_id = _finish_job(service, clock, urls)
        assert len(workspace.jobs[job_id].results) == PAGES
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        if forgotten_by == "the clock":
            clock.advance(60)
            service.settle_all()
        else:  # the clock stands still; one more finished job pushes the big one out
            _finish_job(service, clock, ["https://example.com/one-more"])
        assert job_id not in workspace.jobs
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    print(
        f"\n{PAGES} pages forgotten by {forgotten_by}: held {held / 1e6:.2f} MB "
        f"({held / PAGES:.0f} B a page), left {left / 1e6:.2f} MB ({left / PAGES:.0f} B a page, "
        "the usage history)"
    )
    assert held > PAGES * 1000  # the measure sees the pages
    # What stays is the workspace's usage history (an entry per attempted page).
    assert left < held * 0.2
    assert left / PAGES < 400


def test_the_flags_of_serve_apply(serve: Callable[..., Served]) -> None:
    served = serve("--manual-clock", "--job-retention", "60", "--max-finished-jobs", "1")
    with httpx.Client(base_url=served.url, headers={"x-api-key": served.api_key}) as http:

        def advance(seconds: float) -> None:
            answer = http.post("/_mock/clock/advance", json={"seconds": seconds})
            assert answer.status_code == 200, answer.text

        def create(url: str) -> str:
            answer = http.post("/v1/read", json={"urls": [url]})
            assert answer.status_code == 201, answer.text
            job_id: str = answer.json()["data"]["id"]
            return job_id

        first = create("https://example.com/1")
        advance(5)
        assert http.get(f"/v1/jobs/{first}").status_code == 200
        second = create("https://example.com/2")
        advance(5)  # the cap of one: the first is pushed out
        assert http.get(f"/v1/jobs/{first}").json()["error"]["code"] == "not_found"
        assert http.get(f"/v1/jobs/{second}").status_code == 200
        advance(56)  # the retention: a minute after the second finished (at 5.7 s)
        assert http.get(f"/v1/jobs/{second}").status_code == 404
    _, stderr = served.stop()
    assert "Traceback" not in stderr
