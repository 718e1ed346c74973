"""Check a live server that claims to speak the Reader API against the written contract.

REST goes through Schemathesis with the project's own settings (:mod:`.rest`); the two event
streams are read, bounded in time, and every frame is checked with the contract's stream checker
(:mod:`.streams`). :mod:`.report` holds the outcome and its text and JUnit forms. The command line
is ``reader-mock check``; nothing here imports click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reader_mock._lazy import lazy_exports

if TYPE_CHECKING:
    from .report import CheckCase, Problem, junit_xml, text_report
    from .run import CheckOptions, CheckUnavailable, run_check
    from .streams import StreamLimits

__all__ = [
    "CheckCase",
    "CheckOptions",
    "CheckUnavailable",
    "Problem",
    "StreamLimits",
    "junit_xml",
    "run_check",
    "text_report",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "report": ("CheckCase", "Problem", "junit_xml", "text_report"),
        "run": ("CheckOptions", "CheckUnavailable", "run_check"),
        "streams": ("StreamLimits",),
    },
)
