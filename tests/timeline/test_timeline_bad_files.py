"""Bad timeline files are refused, and every problem names the file, step, line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reader_mock.timeline import TimelineError, TimelineProblem
from reader_mock.timeline.files import TimelineFileError, load_timeline, parse_timeline

Write = Callable[[str, str], Path]

HEAD = "name: bad\nurls: [https://example.com/a, https://example.com/b]\nsteps:\n"


def _problems(
    write: Write, body: str, name: str = "bad.yaml"
) -> tuple[Path, list[TimelineProblem]]:
    path = write(name, body)
    with pytest.raises(TimelineError) as info:
        load_timeline(path)
    return path, list(info.value.problems)


# (case, steps written after HEAD (line 4 is the first step), step, line, field, fragment)
# fmt: off
CASES = [
    (
        "schema: wrong type",
        "  - status: processing\n  - page:\n      url: 7\n  - page: {}\n  - done: completed\n",
        2, 6, "page.url", "expected a string, got integer 7",
    ),
    (
        "schema: not a URI",
        "  - status: processing\n  - page: {url: not-a-uri}\n  - page: {}\n  - done: completed\n",
        2, 5, "page.url", "expected a URI (like https://example.com/page), got string",
    ),
    (
        "schema: unknown field",
        "  - status: processing\n  - page: {titel: Home}\n  - page: {}\n  - done: completed\n",
        2, 5, "page.titel", "unknown field (did you mean 'title'?)",
    ),
    (
        "schema: failed without error",
        "  - status: processing\n  - done:\n      status: failed\n",
        2, 5, "done.error", "required field is missing",
    ),
    (
        "schema: terminal status through status",
        "  - status: completed\n  - done: completed\n",
        1, 4, "status", "a job ends only through a `done` step",
    ),
    (
        "unknown step",
        "  - status: processing\n  - pages: {}\n  - done: cancelled\n",
        2, 5, "pages", "unknown step kind 'pages' (did you mean 'page'?)",
    ),
    (
        "two kinds in one step",
        "  - status: processing\n  - wait: 1\n    page: {}\n  - done: cancelled\n",
        2, 5, None, "a step has exactly one kind, this one has 2 (wait, page)",
    ),
    (
        "event breaks the contract",
        "  - status: processing\n  - page: {url: https://example.com/a, proxyMode: stealth}\n"
        "  - page: {}\n  - done: completed\n",
        2, 5, "page.proxyMode",
        "expected one of \"standard\", \"premium\", got string \"stealth\" "
        "(in the per-job 'page' event, data.proxyMode)",
    ),
    (
        "two terminal events",
        "  - status: processing\n  - page: {}\n  - page: {}\n  - done: completed\n"
        "  - done: failed\n",
        5, 8, "done", "the job already ended at step 4; a timeline has exactly one done",
    ),
    (
        "completed decreases",
        "  - status: processing\n  - progress: {completed: 2}\n  - progress:\n"
        "      completed: 1\n  - done: cancelled\n",
        3, 7, "progress.completed", "completed never decreases: it is 2, this step says 1",
    ),
    (
        "completed above total (progress)",
        "  - status: processing\n  - progress:\n      completed: 3\n  - done: cancelled\n",
        2, 6, "progress.completed", "completed 3 would exceed total 2",
    ),
    (
        "completed above total (pages of a batch)",
        "  - status: processing\n  - page: {}\n  - page: {}\n  - page: {}\n  - done: completed\n",
        4, 7, "page", "this is attempt 3 but the batch has 2 URLs",
    ),
    (
        "event after done",
        "  - status: processing\n  - done: cancelled\n  - wait: 1\n  - page: {}\n",
        4, 7, "page", "the job ended at step 2; only waits and workspace drops",
    ),
    (
        "per-job drop after done",
        "  - status: processing\n  - done: cancelled\n  - drop: {streams: both, how: reset}\n",
        3, 6, "drop.streams", "no per-job stream left to drop; use streams: workspace",
    ),
    (
        "per-job drop before any stream can be open",
        "  - status: processing\n  - drop: {streams: job, how: truncate}\n  - done: cancelled\n",
        2, 5, "drop.streams", "no per-job stream can be open yet at 0 s",
    ),
    (
        "per-job raw text before any stream can be open",
        "  - raw: {stream: job, text: \": hi\\n\\n\"}\n  - wait: 1\n  - done: cancelled\n",
        1, 4, "raw.stream", "add a `wait` before it (or use streams: workspace)",
    ),
    (
        "total in a batch",
        "  - status: processing\n  - total: 3\n  - done: cancelled\n",
        2, 5, "total", "a batch's total is its number of URLs (2) and never changes",
    ),
    (
        "page while queued",
        "  - page: {}\n  - status: processing\n  - page: {}\n  - done: completed\n",
        1, 4, "page", "the job is still queued",
    ),
    (
        "completed before every URL was attempted",
        "  - status: processing\n  - page: {}\n  - done: completed\n",
        3, 6, "done", "completed is 1 of 2",
    ),
    (
        "raw text whose events differ from expect",
        "  - status: processing\n  - raw:\n      stream: job\n"
        "      text: \"data: a\\ndata: b\\n\\n\"\n      expect: [{data: a}]\n  - done: cancelled\n",
        2, 8, "raw.expect.0.data", 'a conforming parser dispatches message "a\\nb" here',
    ),
    (
        "raw text ending inside a frame",
        "  - status: processing\n  - raw: {stream: job, text: \"event: progress\\n\"}\n"
        "  - done: cancelled\n",
        2, 5, "raw.text", "the text ends inside a frame",
    ),
]
# fmt: on


@pytest.mark.parametrize(
    ("body", "step", "line", "field", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_mistake_is_reported_with_step_line_and_field(
    write_timeline: Write, body: str, step: int, line: int, field: str | None, fragment: str
) -> None:
    path, problems = _problems(write_timeline, HEAD + body)
    matching = [p for p in problems if p.step == step and p.field == field]
    assert matching, "\n".join(map(str, problems))
    problem = matching[0]
    assert problem.line == line, str(problem)
    assert problem.source == str(path)
    assert fragment in problem.message
    where = f"{path}: step {step} (line {line}): " + (f"{field}: " if field else "")
    assert str(problem).startswith(where), str(problem)


def test_shrinking_total_of_a_crawl(write_timeline: Write) -> None:
    path, problems = _problems(
        write_timeline,
        "name: crawl\nmode: crawl\nsteps:\n  - status: processing\n  - total: 3\n  - total: 2\n"
        "  - done: cancelled\n",
    )
    assert [str(p) for p in problems] == [
        f"{path}: step 3 (line 6): total: total never shrinks: it is 3, this step says 2"
    ]


def test_crawl_page_beyond_total_asks_to_grow_it(write_timeline: Write) -> None:
    _, problems = _problems(
        write_timeline,
        "name: crawl\nmode: crawl\nsteps:\n  - status: processing\n  - page: {}\n  - page: {}\n"
        "  - done: completed\n",
    )
    assert len(problems) == 1
    assert problems[0].step == 3
    assert "add `- total: 2`" in problems[0].message


def test_every_problem_is_reported_not_just_the_first(write_timeline: Write) -> None:
    _, problems = _problems(
        write_timeline,
        HEAD + "  - wait: -1\n  - status: done\n  - bogus: 1\n  - done: completed\n",
    )
    # The structure problems, and in the same run the meaning of the rest: the batch lists two
    # URLs and the broken steps are no pages, so the completed job attempted none of them.
    assert [(p.step, p.field) for p in problems] == [
        (1, "wait"),
        (2, "status"),
        (3, "bogus"),
        (4, "done"),
    ]
    assert "completed is 0 of 2" in problems[3].message


EIGHT_MISTAKES = """\
name: eight mistakes
urls:
  - https://example.com/a
  - https://example.com/b
steps:
  - wait: -1
  - status: finished
  - page: {url: 7}
  - page: {proxyMode: stealth}
  - page: {}
  - done: completed
  - progress: {completed: 1}
  - done: failed
"""


def test_a_file_with_eight_mistakes_gets_all_eight_in_one_run(write_timeline: Write) -> None:
    """Structure, event contract and job rules together, each quoting the file's own values."""
    path, problems = _problems(write_timeline, EIGHT_MISTAKES)
    assert [str(p) for p in problems] == [
        f"{path}: line 1: name: expected letters, digits, '.', '_' or '-' (up to 100, starting "
        'with a letter or digit), got string "eight mistakes"',
        f"{path}: step 1 (line 6): wait: expected a number >= 0, got integer -1",
        f"{path}: step 2 (line 7): status: expected one of queued, processing, got string "
        '"finished"',
        f"{path}: step 3 (line 8): page.url: expected a string, got integer 7",
        f'{path}: step 4 (line 9): page.proxyMode: expected one of "standard", "premium", got '
        "string \"stealth\" (in the per-job 'page' event, data.proxyMode)",
        f"{path}: step 5 (line 10): page: this is attempt 3 but the batch has 2 URLs; list more "
        "`urls`",
        f"{path}: step 7 (line 12): progress: the job ended at step 6; only waits and workspace "
        "drops or raw text may follow done",
        f"{path}: step 8 (line 13): done: the job already ended at step 6; a timeline has exactly "
        "one done",
    ]


def test_broken_urls_or_steps_leave_the_meaning_unchecked(write_timeline: Write) -> None:
    """When what the meaning depends on is broken, only the structure is reported."""
    _, problems = _problems(
        write_timeline,
        "name: x\nurls: 5\nsteps:\n  - page: {}\n  - done: completed\n  - done: failed\n",
    )
    assert [(p.step, p.field) for p in problems] == [(None, "urls")]


def test_missing_done(write_timeline: Write) -> None:
    path, problems = _problems(write_timeline, HEAD + "  - status: processing\n")
    assert [str(p) for p in problems] == [
        f"{path}: line 3: steps: the job never ends: add a `done` step "
        "(completed, failed or cancelled)"
    ]


def test_missing_top_level_fields(write_timeline: Write) -> None:
    _, problems = _problems(write_timeline, "description: nothing else\n")
    assert {(p.field, p.message) for p in problems} == {
        ("name", "required field is missing"),
        ("steps", "required field is missing"),
    }
    assert all(p.line == 1 and p.step is None for p in problems)


def test_yaml_syntax_error(write_timeline: Write) -> None:
    path, problems = _problems(write_timeline, "name: x\nsteps:\n  - wait: 1\n   - page: {}\n")
    assert len(problems) == 1
    assert problems[0].line == 4
    assert str(problems[0]).startswith(f"{path}: line 4: not valid YAML: ")


def test_not_a_mapping(write_timeline: Write) -> None:
    path, problems = _problems(write_timeline, "- wait: 1\n- done: completed\n")
    assert [str(p) for p in problems] == [
        f"{path}: line 1: expected a mapping with name and steps at the top level, "
        "got a list of 2 items"
    ]


def test_empty_file(write_timeline: Write) -> None:
    _, problems = _problems(write_timeline, "# nothing here\n")
    assert "the file is empty" in problems[0].message


def test_key_given_twice(write_timeline: Write) -> None:
    path, problems = _problems(write_timeline, "name: a\nsteps:\n  - done: cancelled\nname: b\n")
    assert [str(p) for p in problems] == [
        f"{path}: line 4: name: 'name' appears twice in this mapping (first at line 1); keep one"
    ]


def test_json_file_problems_have_lines(write_timeline: Write) -> None:
    path, problems = _problems(
        write_timeline,
        '{\n  "name": "j",\n  "steps": [\n    {"status": "processing"},\n'
        '    {"page": {"url": 5}},\n    {"done": "completed"}\n  ]\n}\n',
        name="bad.json",
    )
    assert [str(p) for p in problems] == [
        f"{path}: step 2 (line 5): page.url: expected a string, got integer 5"
    ]


def test_json_syntax_error(write_timeline: Write) -> None:
    _, problems = _problems(write_timeline, '{"name": "j",\n "steps": [}\n', name="bad.json")
    assert problems[0].line == 2
    assert "not valid JSON" in problems[0].message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\nsteps: []\n".encode("latin-1"))
    with pytest.raises(TimelineError) as info:
        load_timeline(path)
    assert "not UTF-8" in str(info.value)
    assert not isinstance(info.value, TimelineFileError)


def test_unreadable_paths_are_file_errors(tmp_path: Path) -> None:
    with pytest.raises(TimelineFileError, match="no such file"):
        load_timeline(tmp_path / "missing.yaml")
    with pytest.raises(TimelineFileError, match="is a folder"):
        load_timeline(tmp_path)


def test_parse_timeline_names_the_source() -> None:
    with pytest.raises(TimelineError) as info:
        parse_timeline("name: x\nsteps: []\n", source="inline")
    assert str(info.value) == "inline: line 2: steps: expected at least 1 item"


def test_problem_to_dict_is_json_data(write_timeline: Write) -> None:
    _, problems = _problems(
        write_timeline, HEAD + "  - status: processing\n  - page: {url: 7}\n  - done: cancelled\n"
    )
    data = problems[0].to_dict()
    assert data == {
        "source": data["source"],
        "step": 2,
        "line": 5,
        "column": 12,
        "field": "page.url",
        "message": "expected a string, got integer 7",
        "text": str(problems[0]),
    }


def test_alias_bombs_are_refused_before_expansion() -> None:
    lines = ["name: x", "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("steps: [{done: cancelled}]")
    with pytest.raises(TimelineError) as info:
        parse_timeline("\n".join(lines) + "\n", "bomb.yaml")
    assert str(info.value) == (
        "bomb.yaml: the document stands for more than 1,000,000 values (through YAML aliases)"
    )


def test_deep_nesting_is_refused() -> None:
    text = '{"name": "x", "steps": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(TimelineError, match="nested too deeply"):
        parse_timeline(text, "deep.json")


def test_small_aliases_are_fine() -> None:
    text = (
        "name: x\nurls: [https://example.com/a, https://example.com/b]\nsteps:\n"
        "  - status: processing\n  - &one {page: {title: Same}}\n  - *one\n  - done: completed\n"
    )
    timeline = parse_timeline(text, "alias.yaml")
    assert timeline.steps[1] == timeline.steps[2]


def test_null_bodies_mean_empty_ones() -> None:
    head = "name: x\nurls: [https://example.com/a, https://fail.example/b]\nsteps:\n"
    empty = "  - status: processing\n  - progress:\n  - page:\n  - error:\n  - done: completed\n"
    braces = (
        "  - status: processing\n  - progress: {}\n  - page: {}\n  - error: {}\n"
        "  - done: completed\n"
    )
    assert parse_timeline(head + empty, "a.yaml") == parse_timeline(head + braces, "b.yaml")


def test_workspace_drops_and_raw_text_may_come_at_0_s() -> None:
    """A workspace stream can be open before the job exists, so these are fine at 0 s."""
    timeline = parse_timeline(
        HEAD + '  - raw: {stream: workspace, text: ": hi\\n\\n"}\n'
        "  - drop: {streams: workspace, how: clean}\n  - done: cancelled\n",
        "fine.yaml",
    )
    assert [step.KIND for step in timeline.steps] == ["raw", "drop", "done"]


def test_a_batch_over_the_url_limit_is_named_as_a_batch(write_timeline: Write) -> None:
    urls = ", ".join(f"https://example.com/{n}" for n in range(1001))
    body = f"name: big\nurls: [{urls}]\nsteps:\n  - done: cancelled\n"
    _, problems = _problems(write_timeline, body)
    messages = [problem.message for problem in problems if problem.field == "urls"]
    assert messages == ["a batch has at most 1000 URLs, got 1001"], problems


def test_a_crawl_with_two_seeds_is_named_as_a_crawl(write_timeline: Write) -> None:
    body = "name: c\nmode: crawl\nurls: [https://a.example/, https://b.example/]\nsteps:\n"
    _, problems = _problems(write_timeline, body + "  - done: cancelled\n")
    messages = [problem.message for problem in problems if problem.field == "urls"]
    assert messages == ["a crawl has exactly one seed URL, got 2"], problems
