"""What is wrong with a timeline, worded for the person who wrote it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["StepIssue", "TimelineError", "TimelineProblem"]


@dataclass(frozen=True)
class TimelineProblem:
    """One thing wrong with a timeline, worded for the person who wrote it.

    Attributes:
        source: the file name as given, or ``timeline 'NAME'`` for a built timeline.
        message: what was expected and what was found.
        step: 1-based position of the step in ``steps`` (``None`` for the file as a whole).
        line: 1-based line in the file, when known.
        column: 1-based column in the file, when known.
        field: where, relative to the step (``page.url``) or to the file (``settings.ids``).
    """

    source: str
    message: str
    step: int | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = [self.source]
        if self.step is not None:
            where.append(f"step {self.step}" + (f" (line {self.line})" if self.line else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(self.field)
        return ": ".join([*where, self.message])

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-compatible data (``text`` is the one-line rendering)."""
        return {
            "source": self.source,
            "step": self.step,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
            "text": str(self),
        }


class TimelineError(ValueError):
    """A timeline cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Iterable[TimelineProblem]) -> None:
        self.problems: tuple[TimelineProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class StepIssue:
    """A rule a timeline breaks, found while playing it, before it is tied to a file position.

    Attributes:
        step: 1-based step number, or ``None`` for the timeline as a whole.
        field: dotted path inside the step (``progress.completed``), or a top-level field.
        message: what is wrong and how to fix it.
    """

    step: int | None
    field: str | None
    message: str
