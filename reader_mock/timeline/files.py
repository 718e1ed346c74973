"""Timeline files: read YAML or JSON, check them, and report problems with their line numbers.

A timeline file is checked in three passes, and every problem names the file, the step (its
1-based number and its line), the field and what was expected:

1. **syntax**: the text parses as YAML (or JSON), has one document, no key twice in a mapping, and
   a mapping at the top;
2. **structure**: the data matches ``contracts/timeline.schema.json`` (JSON Schema 2020-12);
   ``jsonschema`` error paths are mapped back to lines through the YAML parser's node marks;
3. **meaning**: the timeline is played for a representative job
   (:meth:`~reader_mock.timeline.Timeline.representative_job`); the job rules must hold (one
   ``done``, counters that never go back, nothing after ``done`` but waits and workspace drops),
   every event it would send on the per-job and the workspace stream must match
   ``contracts/asyncapi.yaml``, and every ``raw`` text must parse, for a conforming WHATWG parser,
   into the events its ``expect`` lists and end at a frame boundary.

Timelines built in Python go through passes 2 and 3 with :func:`check_timeline`.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reader_mock._values import YAML_NAMES, describe_value, type_phrase
from reader_mock._yaml import JsonLoader, string_keys
from reader_mock.contract import Channel, ContractError, EventViolation, check_event, spec_root
from reader_mock.contract.schemas import FORMAT_CHECKER, describe_error
from reader_mock.sse.decoder import Decoder

from .model import Timeline
from .player import JobScript, play
from .problems import StepIssue, TimelineError, TimelineProblem
from .steps import (
    STEP_KINDS,
    ChunkedText,
    Done,
    Drop,
    ExpectedEvent,
    Page,
    PageError,
    Progress,
    Raw,
    Step,
    Wait,
)

__all__ = [
    "SCHEMA_NAME",
    "TimelineFileError",
    "TimelineSpec",
    "check_timeline",
    "iter_timeline_files",
    "load_ready_made",
    "load_timeline",
    "parse_timeline",
    "ready_made_dir",
    "ready_made_names",
    "ready_made_paths",
    "resolve_timeline",
    "timeline_schema",
    "timeline_schema_path",
]

SCHEMA_NAME: Final = "contracts/timeline.schema.json"
_READY_MADE_DIR: Final = "contracts/timelines"
_TIMELINE_SUFFIXES: Final = (".yaml", ".yml", ".json")
_MAX_VALUES: Final = 1_000_000

Format = Literal["yaml", "json"]
PathPart = str | int
_Path = tuple[PathPart, ...]


class TimelineFileError(TimelineError):
    """A timeline file cannot be read at all (missing, a folder, no permission)."""


# ------------------------------------------------------------------------------------- schema


def timeline_schema_path() -> Path:
    """Where ``contracts/timeline.schema.json`` is (in the source tree or the installed package)."""
    return spec_root() / SCHEMA_NAME


@functools.cache
def timeline_schema() -> dict[str, Any]:
    """The timeline JSON Schema (cached: treat it as read-only).

    Raises:
        ContractError: the schema file is missing or not valid JSON.
    """
    path = timeline_schema_path()
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(f"{path}: timeline schema not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"{path}: cannot read the timeline schema: {exc}") from None
    if not isinstance(schema, dict):
        raise ContractError(f"{path}: the timeline schema is not a JSON object")
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(timeline_schema(), format_checker=FORMAT_CHECKER)


# ---------------------------------------------------------------------------------- positions


@dataclass(frozen=True)
class _Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class _Document:
    """Parsed data plus where each value sits in the text."""

    data: Any
    marks: dict[_Path, _Mark] = field(default_factory=dict)
    problems: list[TimelineProblem] = field(default_factory=list)

    def mark(self, path: Sequence[PathPart]) -> _Mark | None:
        """The mark of ``path``, or of its closest ancestor that has one."""
        parts = tuple(path)
        while True:
            found = self.marks.get(parts)
            if found is not None or not parts:
                return found
            parts = parts[:-1]


def _mark_of(node: yaml.Node) -> _Mark:
    return _Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, path: _Path, doc: _Document, source: str, seen: set[int]) -> None:
    """Record the mark of every value under ``node`` and report keys given twice."""
    if id(node) in seen:  # an alias to a node already walked
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, _Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = str(key_node.value)
            mark = _mark_of(key_node)
            if key in keys:
                doc.problems.append(
                    _problem(
                        source,
                        (*path, key),
                        mark,
                        f"{key!r} appears twice in this mapping (first at line "
                        f"{keys[key].line}); keep one",
                    )
                )
            keys[key] = mark
            doc.marks.setdefault((*path, key), mark)
            _walk(value_node, (*path, key), doc, source, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            doc.marks[(*path, index)] = _mark_of(item)
            _walk(item, (*path, index), doc, source, seen)


def _syntax_error(source: str, what: str, exc: yaml.YAMLError) -> TimelineError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return TimelineError([TimelineProblem(source, f"not valid {what}: {problem}")])
    return TimelineError(
        [
            TimelineProblem(
                source,
                f"not valid {what}: {problem} (column {mark.column + 1})",
                line=mark.line + 1,
                column=mark.column + 1,
            )
        ]
    )


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for once aliases are expanded (memoized per node)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a node that contains itself through an alias counts once
    size = 1
    if isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(value, sizes) for _, value in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes) for item in node.value)
    sizes[id(node)] = size
    return size


def _too_big(source: str, *, deep: bool = False) -> TimelineError:
    if deep:
        return TimelineError([TimelineProblem(source, "the document is nested too deeply")])
    message = f"the document stands for more than {_MAX_VALUES:,} values (through YAML aliases)"
    return TimelineError([TimelineProblem(source, message)])


def _read_yaml(text: str, source: str) -> _Document:
    loader = JsonLoader(text)
    try:
        node = loader.get_single_node()
        doc = _Document(data=None)
        if node is not None:
            # Aliases can make a small file stand for a huge document: refuse before building it.
            if _expanded_size(node, {}) > _MAX_VALUES:
                raise _too_big(source)
            doc.marks[()] = _mark_of(node)
            _walk(node, (), doc, source, set())
            doc.data = string_keys(loader.construct_document(node))
    except yaml.YAMLError as exc:
        raise _syntax_error(source, "YAML", exc) from None
    except RecursionError:
        raise _too_big(source, deep=True) from None
    finally:
        loader.dispose()
    return doc


def _read_json(text: str, source: str) -> _Document:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except RecursionError:
        raise _too_big(source, deep=True) from None
    except json.JSONDecodeError as exc:
        raise TimelineError(
            [
                TimelineProblem(
                    source,
                    f"not valid JSON: {exc.msg} (column {exc.colno})",
                    line=exc.lineno,
                    column=exc.colno,
                )
            ]
        ) from None
    doc = _Document(data=data)
    # JSON is (nearly always) YAML too: borrow YAML's marks for line numbers; without them the
    # problems still name the step and field.
    try:
        marks = _read_yaml(text, source)
        doc.marks = marks.marks
    except TimelineError:
        pass
    doc.problems.extend(
        TimelineProblem(source, f"{key!r} appears twice in a mapping; keep one", field=key)
        for key in dict.fromkeys(duplicates)
    )
    return doc


# ------------------------------------------------------------------------ schema problems


def _choices(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)


_STEP_HINT: Final = "a step is a mapping with one key, its kind, like `- wait: 1` or `- page: {}`"


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _schema_messages(error: ValidationError) -> list[tuple[_Path, str]]:
    """Turn one jsonschema error into (path, message) pairs worded for timeline authors: hints
    for steps and the fields authors get wrong, the contract's wording for the rest."""
    path: _Path = tuple(error.absolute_path)
    keyword = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    is_step = len(path) == 2 and path[0] == "steps"
    kinds = list(STEP_KINDS)

    if "propertyNames" in error.absolute_schema_path:
        name = str(instance)
        if is_step:
            return [
                (
                    (*path, name),
                    f"unknown step kind {name!r}{_suggest(name, kinds)}; "
                    f"expected one of {_choices(kinds)}",
                )
            ]
        return [((*path, name), "this field is not allowed here")]
    if is_step and keyword == "type":
        hint = ""
        if isinstance(instance, str) and instance in STEP_KINDS:
            hint = (
                f"; write `- {instance}: {{}}`" if instance in {"page", "error", "progress"} else ""
            )
        return [(path, f"{_STEP_HINT}; got {describe_value(instance, YAML_NAMES)}{hint}")]
    if is_step and keyword == "maxProperties" and isinstance(instance, dict):
        return [
            (
                path,
                f"a step has exactly one kind, this one has {len(instance)} "
                f"({_choices(instance)}); give each its own `- ` item",
            )
        ]
    if is_step and keyword == "minProperties":
        return [(path, f"an empty step; {_STEP_HINT}")]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        declared = (
            list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
        )
        return [
            (
                (*path, key),
                f"unknown field{_suggest(str(key), declared)}; "
                f"expected one of {_choices(declared)}",
            )
            for key in instance
            if key not in declared
        ]
    if keyword == "enum":
        message = f"expected one of {_choices(value)}, got {describe_value(instance, YAML_NAMES)}"
        if path[-1:] == ("status",) and instance in {"completed", "failed", "cancelled"}:
            message += "; a job ends only through a `done` step"
        return [(path, message)]
    if keyword == "format":
        what = "a URI (like https://example.com/page)" if value == "uri" else f"a valid {value}"
        return [(path, f"expected {what}, got {describe_value(instance, YAML_NAMES)}")]
    if keyword == "pattern":
        if path == ("name",):
            return [
                (
                    path,
                    "expected letters, digits, '.', '_' or '-' (up to 100, starting with a "
                    f"letter or digit), got {describe_value(instance, YAML_NAMES)}",
                )
            ]
        return [
            (path, f"expected text matching {value}, got {describe_value(instance, YAML_NAMES)}")
        ]
    if keyword in {"minItems", "maxItems", "minLength"}:
        if keyword == "maxItems" and path == ("urls",) and value == 1:
            return [(path, f"a crawl has exactly one seed URL, got {len(instance)}")]
        if keyword == "maxItems" and path == ("urls",):
            return [(path, f"a batch has at most {value} URLs, got {len(instance)}")]
        unit = "item" if keyword != "minLength" else "character"
        relation = "at least" if keyword != "maxItems" else "at most"
        return [(path, f"expected {relation} {value} {unit}{'s' if value != 1 else ''}")]
    if keyword == "not" and path[-1:] == ("done",):
        return [((*path, "error"), "only a failed job has an error message")]
    if keyword in {"anyOf", "oneOf"}:
        return _union_messages(error, path, instance)
    # The rest reads as in the contract's messages, with a YAML author's type names.
    return [(problem.path, problem.detail) for problem in describe_error(error, YAML_NAMES)]


def _union_messages(error: ValidationError, path: _Path, instance: Any) -> list[tuple[_Path, str]]:
    """Explain a failed anyOf by the alternative written for the value's type."""
    branches: dict[PathPart, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    if path[-1:] == ("split",) and not isinstance(instance, list):
        return [
            (
                path,
                "expected bytes (one write per byte) or a list of byte offsets like [1, 3], "
                f"got {describe_value(instance, YAML_NAMES)}",
            )
        ]
    fitting = [
        subs
        for subs in branches.values()
        if not any(sub.validator == "type" and tuple(sub.absolute_path) == path for sub in subs)
    ]
    if len(fitting) == 1:
        return [message for sub in fitting[0] for message in _schema_messages(sub)]
    expected = []
    for subs in branches.values():
        for sub in subs:
            if sub.validator == "type":
                expected.append(type_phrase(sub.validator_value, YAML_NAMES))
    if path[-1:] == ("done",):
        return [
            (
                path,
                "expected completed, failed, cancelled, or a mapping "
                f"{{status, error}}, got {describe_value(instance, YAML_NAMES)}",
            )
        ]
    return [(path, f"expected {' or '.join(expected)}, got {describe_value(instance, YAML_NAMES)}")]


def _schema_problems(doc: _Document, source: str) -> list[TimelineProblem]:
    problems: list[TimelineProblem] = []
    for error in _validator().iter_errors(doc.data):
        for path, message in _schema_messages(error):
            problems.append(_problem(source, path, doc.mark(path), message))
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda problem: (problem.line or 0, problem.column or 0))


def _problem(
    source: str, path: Sequence[PathPart], mark: _Mark | None, message: str
) -> TimelineProblem:
    """A problem at ``path`` of the file data (``steps.3.page.url`` -> step 4, ``page.url``)."""
    step: int | None = None
    where: list[PathPart] = list(path)
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        step = path[1] + 1
        where = list(path[2:])
    return TimelineProblem(
        source,
        message,
        step=step,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        field=".".join(str(part) for part in where) or None,
    )


# -------------------------------------------------------------------------- meaning checks


class _Locator:
    """Maps a (step, field) of a timeline to a line of its file, when there is a file."""

    def __init__(self, source: str, doc: _Document | None) -> None:
        self.source = source
        self.doc = doc

    def problem(self, step: int | None, where: str | None, message: str) -> TimelineProblem:
        parts: list[PathPart] = []
        if step is not None:
            parts = ["steps", step - 1]
        if where:
            parts.extend(int(part) if part.isdigit() else part for part in where.split("."))
        mark = self.doc.mark(parts) if self.doc is not None else None
        return TimelineProblem(
            self.source,
            message,
            step=step,
            line=mark.line if mark else None,
            column=mark.column if mark else None,
            field=where or None,
        )


_CHANNEL_LABELS: Final[Mapping[Channel, str]] = {
    Channel.JOB: "per-job",
    Channel.WORKSPACE: "workspace",
}


def _step_field(step: Step, violation: EventViolation) -> str:
    """The step field a contract violation comes from (``page.proxyMode``), else the step kind."""
    parts = violation.path.split(".")
    parts = parts[1:] if parts[0] in {"data", "body"} else []
    kind = step.KIND
    if isinstance(step, Page) and parts:
        explicit = step.explicit()
        described = parts[0] == "metadata" and parts[1:2] in (["title"], ["description"])
        if described and parts[1] in explicit:
            return f"page.{parts[1]}"
        if parts[0] in explicit:
            return "page." + ".".join(parts)
    elif isinstance(step, PageError | Done | Progress) and parts:
        name = parts[0]
        if getattr(step, name, None) is not None:
            return f"{kind}.{name}"
    return kind


def _contract_problems(
    script: JobScript, issues: Sequence[StepIssue], locate: _Locator
) -> list[TimelineProblem]:
    """Check every event the script sends against the AsyncAPI contract."""
    reported = {(issue.step, issue.field) for issue in issues}
    problems: list[TimelineProblem] = []
    for event in script.creation_events:
        for violation in check_event(event.channel, event.name, dict(event.data)):
            problems.append(
                locate.problem(
                    None,
                    None,
                    f"the job's creation sends a {_CHANNEL_LABELS[event.channel]} "
                    f"{event.name!r} event that breaks the contract: {violation.message}",
                )
            )
    for action in script.actions:
        for event in action.events:
            for violation in check_event(event.channel, event.name, dict(event.data)):
                where = _step_field(action.source, violation)
                if (action.step, where) in reported:
                    continue
                detail = violation.message
                prefix = f"{violation.path}: "
                if detail.startswith(prefix):
                    detail = detail[len(prefix) :]
                problems.append(
                    locate.problem(
                        action.step,
                        where,
                        f"{detail} (in the {_CHANNEL_LABELS[event.channel]} {event.name!r} "
                        f"event, {violation.path})",
                    )
                )
    return problems


# ------------------------------------------------------------------------------ raw frames


def _decode(
    chunks: Iterable[bytes], *, stream_start: bool, last_id: str = ""
) -> tuple[list[ExpectedEvent], bool, str]:
    """Decode raw text as a conforming (WHATWG) parser does.

    Args:
        chunks: the writes.
        stream_start: whether the text opens the stream (where one BOM is stripped).
        last_id: the parser's last event ID before the text (it sticks across events).

    Returns:
        The events dispatched; whether the text ends at a frame boundary (no partial line and no
        field lines waiting for a blank line; trailing comments are harmless); the last event ID
        after it.
    """
    decoder = Decoder()
    if not stream_start:
        # Raw steps are written mid-stream: get past the start, where one BOM would be stripped,
        # and restore the last event ID the earlier raw texts left.
        decoder.feed(b":\n")
        if last_id:
            decoder.feed(f"id: {last_id}\n\n".encode())
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    end = decoder.close()
    found = [ExpectedEvent(event.data, event.type, event.last_event_id) for event in events]
    return found, end.discarded is None and not end.mid_line, decoder.last_event_id


def _chunks(
    text: str, split: Any, where: str, step: int | None, locate: _Locator
) -> tuple[bytes, ...] | None:
    try:
        return ChunkedText(text, split).chunks()
    except UnicodeEncodeError:
        message = (
            "the text holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which UTF-8 "
            "cannot encode"
        )
        raise _RawProblem(locate.problem(step, f"{where}.text", message)) from None
    except ValueError:
        size = len(text.encode("utf-8"))
        raise _RawProblem(
            locate.problem(
                step,
                f"{where}.split",
                f"expected byte offsets that increase, each between 1 and {size - 1} (the text is "
                f"{size} bytes of UTF-8)",
            )
        ) from None


class _RawProblem(Exception):
    def __init__(self, problem: TimelineProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _raw_problems(timeline: Timeline, locate: _Locator) -> list[TimelineProblem]:
    """Check raw texts: expected events, frame boundaries, and the per-job stream prefix."""
    problems: list[TimelineProblem] = []
    prefix = timeline.settings.job_stream_prefix
    if prefix is not None:
        where = "settings.jobStreamPrefix"
        try:
            chunks = _chunks(prefix.text, prefix.split, where, None, locate)
        except _RawProblem as exc:
            problems.append(exc.problem)
        else:
            events, clean, _ = _decode(chunks or (), stream_start=True)
            if events or not clean:
                problems.append(
                    locate.problem(
                        None,
                        f"{where}.text",
                        "the per-job stream's first event must stay the progress snapshot, so "
                        "the prefix may only hold a byte order mark, comments, fields without "
                        "data, and blank lines, and must end with a blank line or a comment line",
                    )
                )
    steps = timeline.steps
    # The last event ID sticks across events; server frames carry no id: field unless
    # settings.ids is on, so between raw texts it is what the previous raw text left.
    last_ids: dict[Channel, str] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, Raw):
            continue
        number = index + 1
        try:
            chunks = _chunks(step.text, step.split, "raw", number, locate)
        except _RawProblem as exc:
            problems.append(exc.problem)
            continue
        events, clean, last_ids[step.stream] = _decode(
            chunks or (), stream_start=False, last_id=last_ids.get(step.stream, "")
        )
        if step.expect is not None:
            problems.extend(_expect_problems(step.expect, events, number, locate))
        if not clean and not _dropped_next(steps, index, step.stream):
            problems.append(
                locate.problem(
                    number,
                    "raw.text",
                    "the text ends inside a frame (no blank line after its last field), so the "
                    f"next event on the {step.stream.value} stream would merge into it; end it "
                    f"with a blank line, or drop the stream right after "
                    f"(`- drop: {{streams: {step.stream.value}, how: clean}}`) to test an "
                    "unterminated last block",
                )
            )
    return problems


def _dropped_next(steps: Sequence[Step], index: int, stream: Channel) -> bool:
    """Whether the first step after ``index`` that is not a wait drops ``stream``."""
    for step in steps[index + 1 :]:
        if isinstance(step, Wait):
            continue
        return isinstance(step, Drop) and stream in step.streams.channels
    return False


def _show_event(event: ExpectedEvent, *, with_id: bool = False) -> str:
    shown = f"{event.event} {json.dumps(event.data, ensure_ascii=False)}"
    if with_id or event.id:
        shown += f" with id {json.dumps(event.id, ensure_ascii=False)}"
    return shown


def _expect_problems(
    expected: Sequence[ExpectedEvent], actual: Sequence[ExpectedEvent], step: int, locate: _Locator
) -> list[TimelineProblem]:
    problems: list[TimelineProblem] = []
    if len(expected) != len(actual):
        shown = "; ".join(_show_event(event) for event in actual) or "nothing"
        problems.append(
            locate.problem(
                step,
                "raw.expect",
                f"a conforming parser dispatches {len(actual)} event"
                f"{'s' if len(actual) != 1 else ''} for this text, not {len(expected)}: {shown}",
            )
        )
        return problems
    for position, (want, got) in enumerate(zip(expected, actual, strict=True)):
        mismatch = [
            name
            for name, ok in (
                ("event", want.event == got.event),
                ("data", want.data == got.data),
                ("id", want.id is None or want.id == got.id),
            )
            if not ok
        ]
        if mismatch:
            problems.append(
                locate.problem(
                    step,
                    f"raw.expect.{position}.{mismatch[0]}",
                    "a conforming parser dispatches "
                    f"{_show_event(got, with_id='id' in mismatch)} here",
                )
            )
    return problems


# ----------------------------------------------------------------------------- entry points


def _meaning_problems(timeline: Timeline, locate: _Locator) -> list[TimelineProblem]:
    script, issues = play(timeline)
    problems = [locate.problem(issue.step, issue.field, issue.message) for issue in issues]
    problems.extend(_contract_problems(script, issues, locate))
    problems.extend(_raw_problems(timeline, locate))
    return sorted(
        dict.fromkeys(problems),
        key=lambda problem: (
            problem.step if problem.step is not None else 10**9,
            problem.line or 0,
        ),
    )


def check_timeline(timeline: Timeline, source: str | None = None) -> list[TimelineProblem]:
    """Every problem of a timeline built in Python: structure (through its file form) and meaning.

    Args:
        timeline: the timeline to check.
        source: the name problems start with; default ``timeline 'NAME'``.
    """
    label = source or f"timeline {timeline.name!r}"
    doc = _Document(data=timeline.to_data())
    problems = _schema_problems(doc, label)
    if problems:
        return problems
    return _meaning_problems(timeline, _Locator(label, None))


def _detect_format(source: str, format: Format | None) -> Format:
    if format is not None:
        return format
    return "json" if source.lower().endswith(".json") else "yaml"


def parse_timeline(
    text: str, source: str = "<timeline>", *, format: Format | None = None
) -> Timeline:
    """Parse and check the text of a timeline file.

    Args:
        text: the file's text.
        source: the name problems start with (usually the path as the user gave it).
        format: ``yaml`` or ``json``; by default JSON when ``source`` ends in ``.json``. YAML
            reads JSON too, but JSON mode decodes escapes exactly as JSON does.

    Raises:
        TimelineError: with every problem found, each naming the step, line and field.
    """
    read = _read_json if _detect_format(source, format) == "json" else _read_yaml
    doc = read(text, source)
    if doc.data is None:
        raise TimelineError(
            [TimelineProblem(source, "the file is empty; expected a mapping with name and steps")]
        )
    if not isinstance(doc.data, dict):
        raise TimelineError(
            [
                TimelineProblem(
                    source,
                    "expected a mapping with name and steps at the top level, got "
                    f"{describe_value(doc.data, YAML_NAMES)}",
                    line=doc.marks[()].line if () in doc.marks else None,
                )
            ]
        )
    problems = doc.problems + _schema_problems(doc, source)
    if problems:
        raise TimelineError(problems)
    timeline = Timeline.from_data(doc.data)
    problems = _meaning_problems(timeline, _Locator(source, doc))
    if problems:
        raise TimelineError(problems)
    return timeline


def load_timeline(path: str | Path) -> Timeline:
    """Read and check one timeline file (``.yaml``, ``.yml`` or ``.json``).

    Problems name the file as ``path`` was given.

    Raises:
        TimelineFileError: the file cannot be read (missing, a folder, no permission).
        TimelineError: the file has problems; each names the step, line and field.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise TimelineFileError([TimelineProblem(source, "no such file")]) from None
    except IsADirectoryError:
        raise TimelineFileError(
            [TimelineProblem(source, "is a folder, not a timeline file")]
        ) from None
    except OSError as exc:
        raise TimelineFileError(
            [TimelineProblem(source, f"cannot read: {exc.strerror or exc}")]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TimelineError(
            [TimelineProblem(source, f"not UTF-8 text (byte {exc.start + 1})", line=line)]
        ) from None
    return parse_timeline(text, source)


# ----------------------------------------------------------------------------- ready-made


def ready_made_dir() -> Path:
    """The folder of the timelines that ship with reader-mock (``contracts/timelines``)."""
    return spec_root() / _READY_MADE_DIR


def ready_made_paths() -> dict[str, Path]:
    """Name (the file's stem) -> path of every shipped timeline."""
    folder = ready_made_dir()
    return {
        path.stem: path
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in _TIMELINE_SUFFIXES
    }


def ready_made_names() -> list[str]:
    """The names of the shipped timelines, sorted."""
    return sorted(ready_made_paths())


def load_ready_made(name: str) -> Timeline:
    """Load one shipped timeline by name (``partial-failure``).

    Raises:
        KeyError: no shipped timeline has that name (the message lists the names).
        TimelineError: the shipped file has problems (a packaging bug).
    """
    paths = ready_made_paths()
    if name not in paths:
        raise KeyError(
            f"no ready-made timeline {name!r}; expected one of {', '.join(sorted(paths))}"
        )
    return load_timeline(paths[name])


def iter_timeline_files(folder: Path) -> Iterator[Path]:
    """The timeline files directly inside ``folder``, sorted by name."""
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in _TIMELINE_SUFFIXES:
            yield path


# ----------------------------------------------------------------------------- naming one

TimelineSpec = Timeline | str | os.PathLike[str]
"""How a timeline is named when scripting jobs: a value, a ready-made name or a file path."""


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.lower().endswith((".yaml", ".yml", ".json"))


def resolve_timeline(spec: TimelineSpec, *, check: bool = True) -> Timeline:
    """The timeline ``spec`` names: a :class:`Timeline` (checked like a file unless ``check`` is
    false), a ready-made name (``partial-failure``) or the path of a YAML or JSON file.

    Raises:
        TimelineError: the timeline has problems, the file cannot be read, or the name is
            neither a ready-made timeline nor an existing file. The problems name the file,
            step, line and field.
        TypeError: ``spec`` is none of the three.
    """
    if isinstance(spec, Timeline):
        if check:
            problems = check_timeline(spec)
            if problems:
                raise TimelineError(problems)
        return spec
    if isinstance(spec, os.PathLike):
        return load_timeline(os.fspath(spec))
    if isinstance(spec, str):
        if spec in ready_made_names():
            return load_ready_made(spec)
        if _looks_like_path(spec) or os.path.exists(spec):
            return load_timeline(spec)
        known = ", ".join(ready_made_names())
        raise TimelineError(
            [
                TimelineProblem(
                    spec,
                    f"neither a ready-made timeline ({known}) nor a timeline file",
                )
            ]
        )
    raise TypeError(
        f"a timeline is a Timeline, a ready-made name or a file path, not {type(spec).__name__}"
    )
