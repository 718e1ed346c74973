"""The timeline generated for a job created without a script."""

from __future__ import annotations

import pytest

from reader_mock.core.targets import failure_for
from reader_mock.timeline import (
    GrowTotal,
    JobSpec,
    Page,
    PageError,
    instantiate,
    timeline_for_request,
)
from reader_mock.timeline.files import check_timeline


def fails(url: str) -> bool:
    """The failing hosts of the mock (what the job engine passes)."""
    return failure_for(url) is not None


def test_one_page_per_url_and_an_error_for_the_failing_host() -> None:
    urls = ["https://example.com/a", "https://fail.example/b", "https://x.fail.example/c"]
    timeline = timeline_for_request(urls, queued_delay=1.5, page_delay=0.25, fails=fails)
    assert check_timeline(timeline) == []
    assert timeline.mode == "batch"
    assert timeline.urls == tuple(urls)
    assert [type(step) for step in timeline.steps if isinstance(step, Page | PageError)] == [
        Page,
        PageError,
        PageError,
    ]
    script = instantiate(timeline, JobSpec(tuple(urls)))
    assert [(action.at, action.kind) for action in script.actions] == [
        (1.5, "status"),
        (1.75, "page"),
        (2.0, "error"),
        (2.25, "error"),
        (2.25, "done"),
    ]
    results = [action.result for action in script.actions if action.result]
    assert [result["url"] for result in results] == urls
    assert [result.get("error") is not None for result in results] == [False, True, True]
    assert script.final.status == "completed"
    assert (script.final.completed, script.final.total, script.final.credits_used) == (3, 3, 1)


def test_zero_delays_leave_no_waits() -> None:
    timeline = timeline_for_request(["https://example.com/a"], fails=fails)
    assert [step.KIND for step in timeline.steps] == ["status", "page", "done"]
    assert timeline.duration == 0


def test_a_crawl_grows_its_total_page_by_page() -> None:
    timeline = timeline_for_request(
        ["https://docs.test/"], mode="crawl", crawl_pages=4, page_delay=1, fails=fails
    )
    assert check_timeline(timeline) == []
    assert [step.total for step in timeline.steps if isinstance(step, GrowTotal)] == [2, 3, 4]
    script = instantiate(timeline, JobSpec(("https://docs.test/",), "crawl"))
    urls = [action.result["url"] for action in script.actions if action.result]
    assert urls[0] == "https://docs.test/"
    assert len(set(urls)) == 4
    assert all(url.startswith("https://docs.test/") for url in urls)
    assert (script.final.completed, script.final.total) == (4, 4)
    assert script.actions[-1].at == 4


def test_a_crawl_of_a_failing_host_fails_its_seed_and_ends() -> None:
    timeline = timeline_for_request(
        ["https://fail.example/"], mode="crawl", crawl_pages=5, fails=fails
    )
    assert [step.KIND for step in timeline.steps] == ["status", "error", "done"]
    assert check_timeline(timeline) == []


def test_content_and_formats_come_from_the_job() -> None:
    urls = ("https://example.com/a", "https://example.com/b")
    job = JobSpec(urls, formats=("markdown", "html"), proxy_mode="premium")
    script = instantiate(
        timeline_for_request(urls, fails=fails), job, job_id="job_00000000000000cc"
    )
    pages = [action.result for action in script.actions if action.result]
    assert all("html" in page and "markdown" in page for page in pages)
    assert script.final.credits_used == 6
    completed = script.events_on("workspace")[-1]
    assert completed.name == "job:completed"
    assert completed.data["creditsUsed"] == 6


@pytest.mark.parametrize(
    ("urls", "kwargs", "message"),
    [
        ([], {}, "at least one URL"),
        (["https://a.test/", "https://b.test/"], {"mode": "crawl"}, "exactly one seed"),
        (["https://a.test/"], {"page_delay": -1}, "delays"),
    ],
)
def test_bad_arguments(urls: list[str], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        timeline_for_request(urls, fails=fails, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "failing"),
    [
        ("https://fail.example/x", True),
        ("http://FAIL.EXAMPLE", True),
        ("https://a.b.fail.example:8443/x?y", True),
        ("https://notfail.example/", False),
        ("https://fail.example.com/", False),
        ("https://example.com/fail.example", False),
        ("http://[::1", False),
    ],
)
def test_failing_host(url: str, failing: bool) -> None:
    assert fails(url) is failing
