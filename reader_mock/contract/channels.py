"""The two SSE channels of the Reader API and their ids in the AsyncAPI document.

This module imports nothing else: the core names channels without loading the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

__all__ = ["CHANNEL_IDS", "CHANNEL_LABELS", "WEBHOOK_CHANNEL_ID", "Channel", "coerce_channel"]


class Channel(StrEnum):
    """The two SSE channels of the Reader API."""

    JOB = "job"
    """``GET /v1/jobs/{jobId}/stream``: one job's ``progress``, ``page``, ``error``, ``done``."""

    WORKSPACE = "workspace"
    """``GET /v1/events``: every job of the workspace, ``job:``-prefixed names."""


# Channel ids inside the AsyncAPI document. The ids are part of the document's structure, like
# the JSON pointers the operations use; event names are read from the channels themselves.
CHANNEL_IDS: Final[Mapping[Channel, str]] = {
    Channel.JOB: "jobStream",
    Channel.WORKSPACE: "workspaceEvents",
}
WEBHOOK_CHANNEL_ID: Final = "webhookDeliveries"

CHANNEL_LABELS: Final[Mapping[Channel, str]] = {
    Channel.JOB: "per-job stream",
    Channel.WORKSPACE: "workspace stream",
}
"""How messages name each channel."""


def coerce_channel(channel: Channel | str) -> Channel:
    """Accept a :class:`Channel` or its value (``"job"``, ``"workspace"``).

    Raises:
        ValueError: neither, naming the channels there are.
    """
    try:
        return Channel(channel)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in Channel)
        raise ValueError(f"unknown channel {channel!r}; expected one of {allowed}") from None
