"""The kinds of scripted drop: what timelines, the job engine and the streams name, without the
machinery that performs them (:mod:`.drops`)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DropKind"]


class DropKind(StrEnum):
    """How a scripted drop ends the connection."""

    CLEAN = "clean"
    TRUNCATE = "truncate"
    MID_FRAME = "mid-frame"
    RESET = "reset"
