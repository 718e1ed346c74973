"""``reader-mock validate FILE...``: check timeline files and report every problem.

Each problem is one line naming the file, the step (number and line), the field and what was
expected. A folder stands for the timeline files directly inside it (``.yaml``, ``.yml``,
``.json``). Exit status: 0 when every file is valid, 1 when any file has problems, 2 when a path
cannot be read (missing, no permission, a folder without timelines) or the contract itself does
not load. Problems go to stdout, unreadable paths to stderr; never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .shared import InputError, format_option

__all__ = ["validate"]


@dataclass
class _Report:
    """The outcome for one path."""

    path: str
    steps: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    unreadable: str | None = None

    @property
    def ok(self) -> bool:
        return self.unreadable is None and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "unreadable": self.unreadable,
            "steps": self.steps,
            "problems": self.problems,
        }


def _expand(paths: tuple[Path, ...]) -> list[tuple[Path, str | None]]:
    """Replace folders by their timeline files; a folder without any is an unreadable path."""
    from reader_mock.timeline.ready_made import iter_timeline_files

    expanded: list[tuple[Path, str | None]] = []
    for path in paths:
        if not path.is_dir():
            expanded.append((path, None))
            continue
        try:
            files = list(iter_timeline_files(path))
        except OSError as exc:
            expanded.append((path, f"cannot list the folder: {exc.strerror or exc}"))
            continue
        if not files:
            expanded.append((path, "a folder without timeline files (.yaml, .yml, .json)"))
        expanded.extend((file, None) for file in files)
    return expanded


def _check(path: Path) -> _Report:
    from reader_mock.timeline import TimelineError
    from reader_mock.timeline.files import TimelineFileError, load_timeline

    report = _Report(str(path))
    try:
        timeline = load_timeline(path)
    except TimelineFileError as exc:
        report.unreadable = "; ".join(problem.message for problem in exc.problems)
    except TimelineError as exc:
        report.problems = [problem.to_dict() for problem in exc.problems]
    else:
        report.steps = len(timeline.steps)
    return report


@click.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE..."
)
@format_option
def validate(files: tuple[Path, ...], output_format: str) -> None:
    """Check timeline files (YAML or JSON) and report every problem.

    Checks the structure against contracts/timeline.schema.json, every event the timeline would
    send against contracts/asyncapi.yaml, and the job rules (one done, counters that never go
    back, nothing after done but waits and workspace drops). A FILE may be a folder: its
    timeline files are checked. Exits 0 when all are valid, 1 when any has problems, 2 when a
    path cannot be read.
    """
    from reader_mock.contract import ContractError

    try:
        reports = [
            _Report(str(path), unreadable=reason) if reason else _check(path)
            for path, reason in _expand(files)
        ]
    except ContractError as exc:
        raise InputError(f"the contract did not load: {exc}") from None

    if output_format == "json":
        body = {"ok": all(report.ok for report in reports), "files": [r.to_dict() for r in reports]}
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            if report.unreadable is not None:
                click.echo(f"{report.path}: {report.unreadable}", err=True)
            elif report.problems:
                for problem in report.problems:
                    click.echo(problem["text"])
            else:
                click.echo(f"{report.path}: ok ({report.steps} steps)")
        valid = sum(report.ok for report in reports)
        click.echo(f"{len(reports)} checked: {valid} valid, {len(reports) - valid} not")

    context = click.get_current_context()
    if any(report.unreadable is not None for report in reports):
        context.exit(2)
    context.exit(0 if all(report.ok for report in reports) else 1)
