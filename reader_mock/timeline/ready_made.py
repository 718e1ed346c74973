"""The ready-made timelines shipped in ``contracts/timelines``, and naming a timeline for a job."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from reader_mock.contract import spec_root

from .files import TIMELINE_SUFFIXES, check_timeline, load_timeline
from .model import Timeline, TimelineSpec
from .problems import TimelineError, TimelineProblem

__all__ = [
    "TimelineSpec",
    "iter_timeline_files",
    "load_ready_made",
    "ready_made_dir",
    "ready_made_names",
    "ready_made_paths",
    "resolve_timeline",
]

_READY_MADE_DIR: Final = "contracts/timelines"


def ready_made_dir() -> Path:
    """The folder of the timelines that ship with reader-mock (``contracts/timelines``)."""
    return spec_root() / _READY_MADE_DIR


def ready_made_paths() -> dict[str, Path]:
    """Name (the file's stem) -> path of every shipped timeline."""
    folder = ready_made_dir()
    return {
        path.stem: path
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in TIMELINE_SUFFIXES
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
        if path.is_file() and path.suffix.lower() in TIMELINE_SUFFIXES:
            yield path


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
