"""The examples in docs/timelines.md are real: they load, validate and match the builder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reader_mock.timeline import Timeline, instantiate
from reader_mock.timeline.files import check_timeline, parse_timeline


@pytest.fixture(scope="module")
def guide(repo_root: Path) -> str:
    return (repo_root / "docs" / "timelines.md").read_text("utf-8")


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_the_first_example_is_valid_and_equals_the_python_one(guide: str) -> None:
    first = _blocks(guide, "yaml")[0]
    timeline = parse_timeline(first, "guide.yaml")
    python = _blocks(guide, "python")[0]
    # The example loads the file from disk; hand it the parsed one instead.
    code = python.replace('load_timeline("partial-failure.yaml")', "loaded")
    exec(code, {"loaded": timeline})  # runs its own asserts
    built = (
        Timeline.build(
            "partial-failure",
            description="Three URLs, the second fails; the job still completes.",
            urls=["https://example.com/a", "https://fail.example/b", "https://example.com/c"],
        )
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page()
        .wait(1)
        .error(error="Failed to fetch https://fail.example/b: upstream error")
        .wait(1)
        .page()
        .done("completed")
    )
    assert built == timeline
    assert check_timeline(built) == []


def test_the_crawl_example_is_valid(guide: str) -> None:
    crawl = next(block for block in _blocks(guide, "yaml") if block.startswith("mode: crawl"))
    timeline = parse_timeline("name: crawl-example\n" + crawl, "crawl.yaml")
    assert instantiate(timeline).final.total == 3


def test_step_snippets_are_valid_steps(guide: str) -> None:
    # Every example in the steps table, in a timeline that makes it legal.
    rows = re.findall(r"^\| `(\w+)` \| `- (.+?)` \|", guide, flags=re.MULTILINE)
    assert {kind for kind, _ in rows} == {
        "wait",
        "status",
        "progress",
        "page",
        "error",
        "total",
        "done",
        "drop",
        "raw",
    }
    for kind, snippet in rows:
        before = {
            "status": "",
            "done": "  - status: processing\n  - page: {}\n",
            # Raw text and drops of the per-job stream need a client that had time to connect.
            "drop": "  - status: processing\n  - wait: 1\n",
            "raw": "  - status: processing\n  - wait: 1\n",
        }.get(kind, "  - status: processing\n")
        after = "" if kind == "done" else "  - done: cancelled\n"
        text = (
            f"name: snippet\nmode: crawl\nurls: [https://example.com/]\nsettings: {{}}\nsteps:\n"
            f"{before}  - {snippet}\n{after}"
        )
        if kind == "progress":
            text = text.replace("mode: crawl\n", "").replace(
                "urls: [https://example.com/]",
                "urls: [" + ", ".join(f"https://example.com/{n}" for n in range(100)) + "]",
            )
        parse_timeline(text, f"{kind}.yaml")
