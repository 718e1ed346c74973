"""Shared data of the timeline tests."""

from __future__ import annotations

READY_MADE = (
    "cancelled-midway",
    "crawl-growing-total",
    "drop-and-reconnect-job",
    "drop-and-reconnect-workspace",
    "fatal-failure",
    "happy-batch",
    "parser-torture",
    "partial-failure",
    "silent-gap",
    "slow-start",
)
"""The ready-made timelines that ship in contracts/timelines, by name."""
