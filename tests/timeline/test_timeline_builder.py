"""The Python builder makes the same model as the file format, and is checked the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reader_mock.contract import Channel
from reader_mock.sse.drops import DropKind
from reader_mock.timeline import (
    ChunkedText,
    Done,
    Drop,
    DropStreams,
    ExpectedEvent,
    Page,
    Raw,
    Timeline,
    TimelineError,
    Wait,
    instantiate,
)
from reader_mock.timeline.files import (
    check_timeline,
    load_timeline,
    parse_timeline,
    timeline_schema,
)
from reader_mock.timeline.ready_made import load_ready_made


def _described(name: str) -> str:
    return load_ready_made(name).description


def test_happy_batch() -> None:
    built = (
        Timeline.build(
            "happy-batch",
            description=_described("happy-batch"),
            urls=["https://example.com/a", "https://example.com/b", "https://example.com/c"],
        )
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page()
        .wait(1)
        .page()
        .wait(1)
        .page()
        .done("completed")
    )
    assert built == load_ready_made("happy-batch")


def test_partial_failure() -> None:
    built = (
        Timeline.build(
            "partial-failure",
            description=_described("partial-failure"),
            urls=["https://example.com/a", "https://fail.example/b", "https://example.com/c"],
        )
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page()
        .wait(1)
        .error()  # no message: the error quotes the job's own URL
        .wait(1)
        .page()
        .done("completed")
    )
    assert built == load_ready_made("partial-failure")


def test_crawl_growing_total() -> None:
    built = (
        Timeline.build(
            "crawl-growing-total",
            description=_described("crawl-growing-total"),
            mode="crawl",
            urls=["https://example.com/docs"],
        )
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page(title="Documentation")
        .total(3)
        .wait(1)
        .page()
        .wait(1)
        .page()
        .total(5)
        .wait(1)
        .page()
        .wait(1)
        .page()
        .done("completed")
    )
    assert built == load_ready_made("crawl-growing-total")


def test_fatal_failure() -> None:
    built = (
        Timeline.build(
            "fatal-failure",
            description=_described("fatal-failure"),
            urls=[f"https://example.com/{letter}" for letter in "abcd"],
        )
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page()
        .wait(1)
        .page()
        .wait(2)
        .done("failed", error="Job failed: browser pool crashed")
    )
    assert built == load_ready_made("fatal-failure")


def test_drop_and_reconnect_workspace() -> None:
    built = (
        Timeline.build(
            "drop-and-reconnect-workspace",
            description=_described("drop-and-reconnect-workspace"),
            urls=[f"https://example.com/{letter}" for letter in "abc"],
        )
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page()
        .drop("workspace", "truncate")
        .wait(2)
        .page()
        .wait(1)
        .page()
        .done("completed")
        .wait(1)
        .drop(DropStreams.WORKSPACE, DropKind.RESET)
    )
    assert built == load_ready_made("drop-and-reconnect-workspace")


def test_every_step_kind_and_setting_round_trips_through_yaml(tmp_path: Path) -> None:
    text = """
name: everything
description: every step kind
mode: crawl
urls: [https://example.com/]
settings:
  ids: true
  pingInterval: 0.05
  jobStreamPrefix: {text: "\\uFEFF", split: [1]}
steps:
  - wait: 0
  - status: queued
  - status: processing
  - progress: {completed: 0}
  - page:
      title: Home
      description: The home page
      markdown: "# Home"
      html: "<h1>Home</h1>"
      statusCode: 200
      proxyMode: premium
      credits: 3
      metadata: {lang: en, tags: [a, b]}
  - total: 3
  - error: {url: https://example.com/x, error: gone}
  - progress: {status: processing, total: 3}
  - wait: 0.5
  - raw: {stream: job, text: "data: x\\n\\n", split: bytes, expect: [{data: x}]}
  - raw: {stream: workspace, text: ": note\\n\\n", split: [2, 4], expect: []}
  - drop: {streams: both, how: mid-frame}
  - page: {}
  - done: completed
"""
    path = tmp_path / "everything.yaml"
    path.write_text(text, encoding="utf-8")
    built = (
        Timeline.build(
            "everything",
            description="every step kind",
            mode="crawl",
            urls=["https://example.com/"],
            ids=True,
            ping_interval=0.05,
            job_stream_prefix=ChunkedText("\ufeff", (1,)),
        )
        .wait(0)
        .status("queued")
        .status("processing")
        .progress(completed=0)
        .page(
            title="Home",
            description="The home page",
            markdown="# Home",
            html="<h1>Home</h1>",
            status_code=200,
            proxy_mode="premium",
            credits=3,
            metadata={"lang": "en", "tags": ["a", "b"]},
        )
        .total(3)
        .error("https://example.com/x", error="gone")
        .progress(status="processing", total=3)
        .wait(0.5)
        .raw("job", "data: x\n\n", split="bytes", expect=[{"data": "x"}])
        .raw(Channel.WORKSPACE, ": note\n\n", split=[2, 4], expect=[])
        .drop("both", "mid-frame")
        .page()
        .done("completed")
    )
    loaded = load_timeline(path)
    assert loaded == built
    assert check_timeline(built) == []
    # The builder's file form is valid against the schema and reads back as the same timeline.
    data = built.to_data()
    assert list(Draft202012Validator(timeline_schema()).iter_errors(data)) == []
    assert Timeline.from_data(data) == built
    assert parse_timeline(_yaml(data), "again.yaml") == built


def _yaml(data: object) -> str:
    import yaml

    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_steps_are_plain_immutable_values() -> None:
    start = Timeline.build("t")
    longer = start.wait(1).status("processing")
    assert start.steps == ()
    assert longer.steps[0] == Wait(1.0)
    page = Page(metadata={"a": {"b": [1]}})
    with pytest.raises(TypeError):
        page.metadata["a"] = 1  # type: ignore[index]
    assert Timeline.build("t").raw("job", ": x\n\n", expect=[ExpectedEvent("y")]).steps == (
        Raw(Channel.JOB, ": x\n\n", None, (ExpectedEvent("y"),)),
    )
    assert Timeline.build("t").drop("job", "clean").steps == (
        Drop(DropStreams.JOB, DropKind.CLEAN),
    )
    assert Timeline.build("t").done("cancelled").steps == (Done("cancelled"),)


def test_builder_arguments_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(ValueError):
        Timeline.build("t").drop("sideways", "clean")
    with pytest.raises(ValueError):
        Timeline.build("t").raw("job", "x", split="words")  # type: ignore[arg-type]


def test_built_timelines_are_checked_like_files() -> None:
    broken = (
        Timeline.build("broken", urls=["https://example.com/a"])
        .status("processing")
        .page(url=7)  # type: ignore[arg-type]
        .done("completed")
    )
    assert [str(problem) for problem in check_timeline(broken)] == [
        "timeline 'broken': step 2: page.url: expected a string, got integer 7"
    ]
    twice = (
        Timeline.build("twice", urls=["https://example.com/a"])
        .status("processing")
        .page(proxy_mode="auto")
        .done("completed")
        .done("cancelled")
    )
    assert [str(problem) for problem in check_timeline(twice)] == [
        'timeline \'twice\': step 2: page.proxyMode: expected one of "standard", "premium", '
        "got string \"auto\" (in the per-job 'page' event, data.proxyMode)",
        "timeline 'twice': step 4: done: the job already ended at step 3; a timeline has exactly "
        "one done",
    ]


def test_instantiate_refuses_a_timeline_that_breaks_a_job_rule() -> None:
    timeline = Timeline.build("t").status("processing").page().page().total(1).done("completed")
    with pytest.raises(TimelineError) as info:
        instantiate(timeline)
    assert [str(p) for p in info.value.problems] == [
        "timeline 't': step 4: total: a batch's total is its number of URLs (2) and never "
        "changes; only a crawl's total grows (mode: crawl)"
    ]
