"""Playing a timeline for a concrete job: URLs, content, timing, counters and events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from reader_mock.contract import Channel, check_event, stream_rules
from reader_mock.sse.drops import DropKind
from reader_mock.timeline import (
    TERMINAL_STATUSES,
    Drop,
    JobSpec,
    JobState,
    PlainContent,
    Timeline,
    TimelineError,
    events_for,
    instantiate,
    play,
)


class RecordingContent:
    """A content source that says where everything came from."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def page(self, job: JobSpec, url: str, position: int) -> dict[str, Any]:
        self.calls.append(("page", url, position))
        return {
            "url": url,
            "markdown": f"generated {position}",
            "proxyMode": job.proxy_mode,
            "credits": 3 if job.proxy_mode == "premium" else 1,
            "metadata": {"title": f"title {position}", "duration": 5},
        }

    def page_error(self, job: JobSpec, url: str, position: int) -> str:
        self.calls.append(("error", url, position))
        return f"broken {position}"

    def discovered_url(self, job: JobSpec, position: int) -> str:
        self.calls.append(("discover", job.urls[0], position))
        return f"{job.urls[0]}found-{position}"

    def finish(self, entry: Mapping[str, Any], at: float) -> dict[str, Any]:
        return dict(entry)


JOB = JobSpec(("https://a.test/1", "https://a.test/2", "https://a.test/3"), proxy_mode="premium")


def test_urls_come_from_the_job_by_position_unless_the_step_gives_one() -> None:
    content = RecordingContent()
    timeline = (
        Timeline.build("t", urls=["https://ignored.test/1"])
        .status("processing")
        .page()
        .error(url="https://fail.example/x")
        .page(markdown="# mine", title="Mine", metadata={"lang": "en"})
        .done("completed")
    )
    script = instantiate(timeline, JOB, content=content, job_id="job_00000000000000aa")
    results = [action.result for action in script.actions if action.result is not None]
    assert results == [
        {
            "url": "https://a.test/1",
            "markdown": "generated 0",
            "proxyMode": "premium",
            "credits": 3,
            "metadata": {"title": "title 0", "duration": 5},
        },
        {"url": "https://fail.example/x", "error": "broken 1", "credits": 0},
        {
            "url": "https://a.test/3",
            "markdown": "# mine",
            "proxyMode": "premium",
            "credits": 3,
            "metadata": {"title": "Mine", "duration": 5, "lang": "en"},
        },
    ]
    assert content.calls == [
        ("page", "https://a.test/1", 0),
        ("error", "https://fail.example/x", 1),
        ("page", "https://a.test/3", 2),
    ]
    assert script.final.credits_used == 6
    assert script.job_id == "job_00000000000000aa"


def test_a_crawl_takes_the_seed_then_discovered_urls() -> None:
    content = RecordingContent()
    timeline = (
        Timeline.build("c", mode="crawl")
        .status("processing")
        .page()
        .total(3)
        .page()
        .page()
        .done("completed")
    )
    script = instantiate(timeline, JobSpec(("https://s.test/",), "crawl"), content=content)
    urls = [action.result["url"] for action in script.actions if action.result is not None]
    assert urls == ["https://s.test/", "https://s.test/found-1", "https://s.test/found-2"]


def test_steps_happen_at_the_sum_of_the_waits_before_them() -> None:
    timeline = (
        Timeline.build("t", urls=["https://a.test/1"])
        .wait(2)
        .status("processing")
        .wait(0.5)
        .page()
        .wait(0)
        .done("completed")
        .wait(10)
        .drop("workspace", "clean")
    )
    script = instantiate(timeline)
    assert [(action.at, action.kind) for action in script.actions] == [
        (2.0, "status"),
        (2.5, "page"),
        (2.5, "done"),
        (12.5, "drop"),
    ]
    assert timeline.duration == 12.5
    assert script.actions[-1].events == ()


def test_events_per_change_on_both_channels() -> None:
    timeline = (
        Timeline.build("t", urls=["https://a.test/1", "https://fail.example/2"])
        .status("processing")
        .page()
        .error()
        .done("completed")
    )
    script = instantiate(timeline, job_id="job_00000000000000bb")
    sent = [(event.channel.value, event.name) for event in script.events]
    assert sent == [
        ("job", "progress"),  # creation: the queued snapshot, event id 1 of the per-job stream
        ("workspace", "job:progress"),
        ("job", "progress"),
        ("workspace", "job:progress"),
        ("job", "page"),
        ("job", "progress"),
        ("workspace", "job:progress"),
        ("job", "error"),
        ("job", "progress"),
        ("workspace", "job:progress"),
        ("job", "done"),
        ("workspace", "job:completed"),
    ]
    assert dict(script.creation_events[1].data) == {
        "jobId": "job_00000000000000bb",
        "status": "queued",
        "completed": 0,
        "total": 2,
    }
    error = script.events_on("job")[-3]
    assert dict(error.data) == {
        "url": "https://fail.example/2",
        "error": "Failed to fetch https://fail.example/2: upstream error",
    }
    for event in script.events:
        assert check_event(event.channel, event.name, dict(event.data)) == []


@pytest.mark.parametrize("status", TERMINAL_STATUSES)
def test_outcome_events_follow_the_contract_rules(status: str) -> None:
    # The table and the contract's machine-readable rules must name the same outcome event.
    state = JobState(status, 1, 1, error="boom" if status == "failed" else None)  # type: ignore[arg-type]
    sent = events_for(f"done:{status}", state, "job_00000000000000aa")  # type: ignore[arg-type]
    workspace = [event.name for event in sent if event.channel is Channel.WORKSPACE]
    assert workspace == [stream_rules(Channel.WORKSPACE).outcome_event(status)]
    job = [event.name for event in sent if event.channel is Channel.JOB]
    assert job == sorted(stream_rules(Channel.JOB).terminal_events)


def test_drop_steps_use_the_stream_layer_kinds() -> None:
    step = Timeline.build("t").drop("job", "mid-frame").steps[0]
    assert isinstance(step, Drop) and step.how is DropKind.MID_FRAME


def test_a_job_with_fewer_urls_than_attempts_is_refused() -> None:
    timeline = Timeline.build("t").status("processing").page().page().page().done("completed")
    with pytest.raises(TimelineError, match="this is attempt 3 but the batch has 2 URLs"):
        instantiate(timeline, JobSpec(("https://a.test/1", "https://a.test/2")))


def test_a_job_with_more_urls_than_attempts_cannot_complete() -> None:
    timeline = Timeline.build("t").status("processing").page().done("completed")
    _, issues = play(timeline, JobSpec(("https://a.test/1", "https://a.test/2")))
    assert [issue.message for issue in issues] == [
        "a completed job has attempted every URL, but completed is 1 of 2; add pages or errors, "
        "or end with cancelled or failed"
    ]
    # Cancelled or failed jobs may stop early.
    cancelled = Timeline.build("t").status("processing").page().done("cancelled")
    assert play(cancelled, JobSpec(("https://a.test/1", "https://a.test/2")))[1] == ()


def test_play_reports_without_raising_and_still_scripts_every_step() -> None:
    timeline = Timeline.build("t").page().status("processing").done("completed").page()
    script, issues = play(timeline)
    assert [(issue.step, issue.field) for issue in issues] == [(1, "page"), (4, "page")]
    assert [action.kind for action in script.actions] == ["page", "status", "done"]


def test_plain_content_follows_formats_and_proxy_mode() -> None:
    job = JobSpec(("https://a.test/x",), formats=("html", "screenshot"), proxy_mode="premium")
    entry = PlainContent().page(job, "https://a.test/x", 0)
    assert "markdown" not in entry
    assert entry["html"].startswith("<h1>")
    assert entry["credits"] == 3
    assert check_event(Channel.JOB, "page", entry) == []
    import base64

    assert base64.b64decode(entry["screenshot"]).startswith(b"\x89PNG\r\n\x1a\n")


def test_representative_job() -> None:
    assert Timeline.build("t").representative_job() == JobSpec(("https://example.com/page-1",))
    explicit = Timeline.build("t").page().page(url="https://x.test/").error()
    assert explicit.representative_job().urls == (
        "https://example.com/page-1",
        "https://x.test/",
        "https://example.com/page-3",
    )
    crawl = Timeline.build("c", mode="crawl", urls=["https://seed.test/"])
    assert crawl.representative_job() == JobSpec(("https://seed.test/",), "crawl")
