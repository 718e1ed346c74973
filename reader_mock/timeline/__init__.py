"""Timelines: a job's life as data, how it plays for a job, and the files it is written in.

- :mod:`.steps`, :mod:`.model`: the steps and the :class:`Timeline` value with its builder;
- :mod:`.player`, :mod:`.events`: playing a timeline for one job, and the events each change sends;
- :mod:`.defaults`: the timeline of a job created without a script;
- :mod:`.files`, :mod:`.checks`: timeline files (YAML or JSON) and their checks, every problem
  located (:mod:`.problems`); :mod:`.ready_made`: the shipped timelines.

Importing this package loads the job statuses only; every other name loads its module on first
use (the model and the player with the first job, the file loaders with YAML and JSON Schema with
the first file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_mock._lazy import lazy_exports

from .status import ACTIVE_STATUSES, TERMINAL_STATUSES, JobStatus

if TYPE_CHECKING:
    from .defaults import timeline_for_request
    from .events import Change, Event, done_change, events_for
    from .files import check_timeline, load_timeline, parse_timeline
    from .model import JobMode, JobSpec, JobState, Timeline, TimelineSettings, TimelineSpec
    from .player import (
        PLACEHOLDER_JOB_ID,
        Action,
        ContentSource,
        JobScript,
        PlainContent,
        instantiate,
        play,
    )
    from .problems import StepIssue, TimelineError, TimelineProblem
    from .ready_made import load_ready_made, ready_made_names, resolve_timeline
    from .steps import (
        ChunkedText,
        Done,
        Drop,
        DropStreams,
        ExpectedEvent,
        GrowTotal,
        Page,
        PageError,
        Progress,
        Raw,
        SetStatus,
        Split,
        Step,
        Wait,
    )

__all__ = [
    "ACTIVE_STATUSES",
    "PLACEHOLDER_JOB_ID",
    "TERMINAL_STATUSES",
    "Action",
    "Change",
    "ChunkedText",
    "ContentSource",
    "Done",
    "Drop",
    "DropStreams",
    "Event",
    "ExpectedEvent",
    "GrowTotal",
    "JobMode",
    "JobScript",
    "JobSpec",
    "JobState",
    "JobStatus",
    "Page",
    "PageError",
    "PlainContent",
    "Progress",
    "Raw",
    "SetStatus",
    "Split",
    "Step",
    "StepIssue",
    "Timeline",
    "TimelineError",
    "TimelineProblem",
    "TimelineSettings",
    "TimelineSpec",
    "Wait",
    "check_timeline",
    "done_change",
    "events_for",
    "instantiate",
    "load_ready_made",
    "load_timeline",
    "parse_timeline",
    "play",
    "ready_made_names",
    "resolve_timeline",
    "timeline_for_request",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "defaults": ["timeline_for_request"],
        "events": ["Change", "Event", "done_change", "events_for"],
        "model": ["JobMode", "JobSpec", "JobState", "Timeline", "TimelineSettings", "TimelineSpec"],
        "player": [
            "PLACEHOLDER_JOB_ID",
            "Action",
            "ContentSource",
            "JobScript",
            "PlainContent",
            "instantiate",
            "play",
        ],
        "problems": ["StepIssue", "TimelineError", "TimelineProblem"],
        "steps": [
            "ChunkedText",
            "Done",
            "Drop",
            "DropStreams",
            "ExpectedEvent",
            "GrowTotal",
            "Page",
            "PageError",
            "Progress",
            "Raw",
            "SetStatus",
            "Split",
            "Step",
            "Wait",
        ],
        "files": ["check_timeline", "load_timeline", "parse_timeline"],
        "ready_made": ["load_ready_made", "ready_made_names", "resolve_timeline"],
    },
)
