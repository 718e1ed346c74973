"""Timelines: a job's life as data, how it plays for a job, and the files it is written in.

- :mod:`.steps`, :mod:`.model`: the steps and the :class:`Timeline` value with its builder;
- :mod:`.player`, :mod:`.events`: playing a timeline for one job, and the events each change sends;
- :mod:`.defaults`: the timeline of a job created without a script;
- :mod:`.files`, :mod:`.checks`: timeline files (YAML or JSON) and their checks, every problem
  located (:mod:`.problems`); :mod:`.ready_made`: the shipped timelines.

Importing this package loads the model and the player only; the file loaders (YAML, JSON Schema)
load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_mock._lazy import lazy_exports

from .defaults import timeline_for_request
from .events import Change, Event, done_change, events_for
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
from .status import ACTIVE_STATUSES, TERMINAL_STATUSES, JobStatus
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

if TYPE_CHECKING:
    from .files import check_timeline, load_timeline, parse_timeline
    from .ready_made import load_ready_made, ready_made_names, resolve_timeline

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
        "files": ["check_timeline", "load_timeline", "parse_timeline"],
        "ready_made": ["load_ready_made", "ready_made_names", "resolve_timeline"],
    },
)
