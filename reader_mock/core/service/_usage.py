"""What a workspace has spent: ``/v1/usage/credits`` and ``/v1/usage/history``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._core import ServiceCore
from ._pages import DEFAULT_LIMIT, Paginated, check_page, paginate

__all__ = ["Usage"]


def _copies(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(entry) for entry in entries]


class Usage:
    """The credit balance and the usage history of a workspace."""

    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    def credits(self, api_key: str | None) -> dict[str, Any]:
        """``GET /v1/usage/credits``."""
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            return workspace.credits.snapshot()

    def history(
        self, api_key: str | None, *, skip: int = 0, limit: int = DEFAULT_LIMIT, base_url: str
    ) -> Paginated:
        """``GET /v1/usage/history``: newest first."""
        with self._core.lock:
            check_page(skip, limit)
            workspace, _ = self._core.open(api_key)
            entries = workspace.usage.entries()[::-1]
            return paginate(
                entries,
                _copies,
                skip=skip,
                limit=limit,
                base_url=base_url,
                path="/v1/usage/history",
            )
