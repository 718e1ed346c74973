"""A job's status, the one type every part of the mock uses for it."""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "ActiveStatus",
    "JobStatus",
    "TerminalStatus",
]

JobStatus: TypeAlias = Literal["queued", "processing", "completed", "failed", "cancelled"]
ActiveStatus: TypeAlias = Literal["queued", "processing"]
"""Counts toward the concurrency limit."""
TerminalStatus: TypeAlias = Literal["completed", "failed", "cancelled"]

ACTIVE_STATUSES: Final[tuple[ActiveStatus, ...]] = ("queued", "processing")
TERMINAL_STATUSES: Final[tuple[TerminalStatus, ...]] = ("completed", "failed", "cancelled")
