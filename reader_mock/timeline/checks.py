"""The meaning checks of a timeline: job rules, events against the contract, raw frames.

A timeline that passed its schema is played for a representative job: the job rules must hold,
every event it would send must match ``contracts/asyncapi.yaml``, and every ``raw`` text must parse,
for a conforming WHATWG parser, into the events its ``expect`` lists and end at a frame boundary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from reader_mock.contract import Channel, EventViolation, check_event
from reader_mock.sse.decoder import Decoder

from .model import Timeline
from .player import JobScript, play
from .problems import StepIssue, TimelineProblem
from .steps import (
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

__all__ = ["Locator", "PathPart", "Positions", "meaning_problems"]

PathPart = str | int


class Position(Protocol):
    """Where a value starts in a file."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


class Positions(Protocol):
    """The positions of a file's values, by their path from the top."""

    def mark(self, path: Sequence[PathPart]) -> Position | None: ...


class Locator:
    """Maps a (step, field) of a timeline to a line of its file, when there is a file."""

    def __init__(self, source: str, doc: Positions | None) -> None:
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
    script: JobScript, issues: Sequence[StepIssue], locate: Locator
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
    text: str, split: Any, where: str, step: int | None, locate: Locator
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


def _raw_problems(timeline: Timeline, locate: Locator) -> list[TimelineProblem]:
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
    expected: Sequence[ExpectedEvent], actual: Sequence[ExpectedEvent], step: int, locate: Locator
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


def meaning_problems(timeline: Timeline, locate: Locator) -> list[TimelineProblem]:
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
