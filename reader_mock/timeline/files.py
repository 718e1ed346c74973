"""Timeline files: read YAML or JSON, check them, and report problems with their line numbers.

:func:`load_timeline` and :func:`parse_timeline` check syntax, then the schema, then the meaning
(:mod:`.checks`); :func:`check_timeline` checks a timeline built in Python. The three passes:
docs/architecture.md, "Timeline files".
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reader_mock._json import MAX_DEPTH, JsonInputError, check_value
from reader_mock._values import YAML_NAMES, describe_value, type_phrase
from reader_mock._yaml import FastJsonLoader, JsonLoader, string_keys
from reader_mock.contract import ContractError, spec_root
from reader_mock.contract.schemas import FORMAT_CHECKER, BoundedValidator, describe_error

from .checks import Locator, PathPart, meaning_problems
from .model import Timeline
from .problems import TimelineError, TimelineProblem
from .steps import (
    STEP_KINDS,
)

__all__ = [
    "MAX_STEPS",
    "MAX_TIMELINE_BYTES",
    "SCHEMA_NAME",
    "TIMELINE_SUFFIXES",
    "TimelineFileError",
    "check_timeline",
    "load_timeline",
    "parse_timeline",
    "timeline_schema",
    "timeline_schema_path",
]

SCHEMA_NAME: Final = "contracts/timeline.schema.json"
TIMELINE_SUFFIXES: Final = (".yaml", ".yml", ".json")
"""The suffixes of timeline files."""
_MAX_VALUES: Final = 1_000_000
MAX_TIMELINE_BYTES: Final = 1_048_576
"""The largest timeline text (UTF-8 bytes) read; a larger one is refused before it is parsed."""
MAX_STEPS: Final = 1_000
"""The most steps a timeline may have (also ``maxItems`` of ``steps`` in the schema)."""

Format = Literal["yaml", "json"]
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
    validator: Draft202012Validator = BoundedValidator(
        timeline_schema(), format_checker=FORMAT_CHECKER
    )
    return validator


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
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
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
        return TimelineError([TimelineProblem(source, _TOO_DEEP)])
    message = f"the document stands for more than {_MAX_VALUES:,} values (through YAML aliases)"
    return TimelineError([TimelineProblem(source, message)])


def _node_limits(node: yaml.Node, source: str) -> None:
    """Refuse a document nested deeper than ``MAX_DEPTH``, with more than ``MAX_STEPS`` steps
    or with text UTF-8 cannot carry, walking its nodes without recursion (each node once)."""
    pending: list[tuple[yaml.Node, int]] = [(node, 0)]
    seen: set[int] = set()
    while pending:
        current, depth = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode):
            try:
                str(current.value).encode("utf-8")
            except UnicodeEncodeError:
                raise _limit_error(
                    source, "text holds a lone UTF-16 surrogate", _mark_of(current)
                ) from None
            continue
        if depth >= MAX_DEPTH:
            raise _limit_error(source, _TOO_DEEP, _mark_of(current))
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                if (
                    depth == 0
                    and key_node.value == "steps"
                    and isinstance(value_node, yaml.SequenceNode)
                ):
                    _check_step_count(len(value_node.value), source)
                pending.extend(((key_node, depth + 1), (value_node, depth + 1)))
        elif isinstance(current, yaml.SequenceNode):
            pending.extend((item, depth + 1) for item in current.value)


_TOO_DEEP: Final = f"the document is nested too deeply (more than {MAX_DEPTH} levels)"


def _limit_error(source: str, message: str, mark: _Mark | None = None) -> TimelineError:
    return TimelineError(
        [
            TimelineProblem(
                source,
                message,
                line=mark.line if mark else None,
                column=mark.column if mark else None,
            )
        ]
    )


def _value_problem(exc: ValueError) -> str:
    if "digits" in str(exc):
        return "a number has too many digits (at most 4,300)"
    return f"not a usable value: {exc}"


def _check_step_count(count: int, source: str) -> None:
    if count > MAX_STEPS:
        raise _limit_error(source, f"the timeline has {count:,} steps; at most {MAX_STEPS:,}")


def _prescan_yaml(text: str, source: str) -> None:
    """Check the limits on libyaml's fast parse, before the slow parse that keeps line marks.

    Text libyaml cannot parse is left to the slow parse, which reports it with its line.
    """
    loader = FastJsonLoader(text)
    try:
        node = loader.get_single_node()
    except (yaml.YAMLError, ValueError, RecursionError):
        return
    finally:
        loader.dispose()
    if node is not None:
        _node_limits(node, source)


def _read_yaml(text: str, source: str) -> _Document:
    _prescan_yaml(text, source)
    try:
        loader = JsonLoader(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow, such as NUL
        raise _syntax_error(source, "YAML", exc) from None
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
    except TimelineError:
        raise
    except ValueError as exc:  # a value Python cannot hold, such as a 5,000-digit integer
        raise _limit_error(source, _value_problem(exc)) from None
    finally:
        loader.dispose()
    return doc


def _not_json(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


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
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=_not_json)
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
    except ValueError as exc:  # NaN, or a number Python cannot hold (5,000 digits)
        raise _limit_error(source, _value_problem(exc)) from None
    if isinstance(data, dict) and isinstance(data.get("steps"), list):
        _check_step_count(len(data["steps"]), source)
    doc = _Document(data=data)
    # JSON is (nearly always) YAML too: borrow YAML's marks for line numbers; without them the
    # problems still name the step and field. JSON on one line has no line numbers to give.
    if "\n" in text.strip():
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
        if path[-1:] == ("status",) and instance in ("completed", "failed", "cancelled"):
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


# A step with structure problems is played as a stand-in of the same kind, so the meaning checks
# of the other steps (counts of attempts, the one done) see the file as its author meant it.
_STAND_INS: Final[dict[str, dict[str, Any]]] = {
    "wait": {"wait": 0},
    "status": {"status": "processing"},
    "page": {"page": {}},
    "error": {"error": {}},
    "done": {"done": "completed"},
}
_NEUTRAL: Final[dict[str, Any]] = {"wait": 0}
_STAND_IN_FIELDS: Final = frozenset({"name", "description", "$schema"})


def _stand_in(step: object) -> dict[str, Any]:
    if isinstance(step, dict) and len(step) == 1:
        return _STAND_INS.get(str(next(iter(step))), _NEUTRAL)
    return _NEUTRAL


def _meaning_despite(
    doc: _Document, source: str, problems: Sequence[TimelineProblem]
) -> list[TimelineProblem]:
    """The meaning problems of the steps that have no structure problem.

    Broken steps are replaced by stand-ins of their kind, a broken name or description by a
    placeholder, unknown top-level fields are left out. When the rest cannot be played (the
    steps, URLs, mode or settings themselves are broken), there is nothing more to say.
    """
    data = doc.data
    allowed = set(timeline_schema().get("properties", {}))
    broken_steps = {problem.step for problem in problems if problem.step is not None}
    stand = {key: value for key, value in data.items() if key in allowed}
    for problem in problems:
        if problem.step is not None:
            continue
        top = (problem.field or "").split(".")[0]
        if top in _STAND_IN_FIELDS:
            stand.pop(top, None)
        elif top in allowed or not top:
            return []  # steps, urls, mode or settings: the rest cannot be played as meant
    steps = stand.get("steps")
    if not isinstance(steps, list):
        return []
    stand["name"] = stand.get("name", "timeline")
    stand["steps"] = [
        _stand_in(step) if number in broken_steps else step
        for number, step in enumerate(steps, start=1)
    ]
    if any(True for _ in _validator().iter_errors(stand)):
        return []
    try:
        timeline = Timeline.from_data(stand)
    except (TypeError, ValueError, KeyError):
        return []
    found = meaning_problems(timeline, Locator(source, doc))
    return [problem for problem in found if problem.step not in broken_steps]


def _in_order(problems: Iterable[TimelineProblem]) -> list[TimelineProblem]:
    """Problems once each, in file order (by line; those without a line last)."""
    return sorted(
        dict.fromkeys(problems),
        key=lambda problem: (
            problem.line if problem.line is not None else 10**9,
            problem.column or 0,
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
    return meaning_problems(timeline, Locator(label, None))


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
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TIMELINE_BYTES:
        raise _limit_error(
            source, f"the timeline is {size:,} bytes; at most {MAX_TIMELINE_BYTES:,} are read"
        )
    read = _read_json if _detect_format(source, format) == "json" else _read_yaml
    doc = read(text, source)
    try:
        check_value(doc.data)
    except JsonInputError as exc:
        if exc.code == "too_deep":
            raise _limit_error(source, _TOO_DEEP) from None
        path = tuple(
            int(part) if part.isascii() and part.isdigit() else part
            for part in exc.path.split(".")
            if part
        )
        raise TimelineError(
            [_problem(source, path, doc.mark(path), exc.message[0].lower() + exc.message[1:])]
        ) from None
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
        # Report the meaning problems of the rest of the file in the same run.
        raise TimelineError(_in_order([*problems, *_meaning_despite(doc, source, problems)]))
    timeline = Timeline.from_data(doc.data)
    problems = meaning_problems(timeline, Locator(source, doc))
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
