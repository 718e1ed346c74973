"""Pagination of the list operations: the ``skip``/``limit`` checks and the envelope's links."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, TypeVar

from .. import errors

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "EncodedPage",
    "Paginated",
    "check_page",
    "page_info",
    "paginate",
]

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100

T = TypeVar("T")


class Paginated(NamedTuple):
    """A paginated answer: the envelope's ``data`` and ``pagination``."""

    data: Any
    pagination: dict[str, Any]


class EncodedPage(NamedTuple):
    """A paginated answer whose ``data`` is already compact UTF-8 JSON."""

    data_json: bytes
    pagination: dict[str, Any]


def check_page(skip: int, limit: int) -> None:
    """Refuse a ``skip`` or ``limit`` out of range with ``400`` (an operation checks this first)."""
    issues = []
    if isinstance(skip, bool) or not isinstance(skip, int):
        issues.append(errors.issue("skip", "invalid_type", "Expected integer"))
    elif skip < 0:
        issues.append(
            errors.issue("skip", "too_small", "Number must be greater than or equal to 0")
        )
    if isinstance(limit, bool) or not isinstance(limit, int):
        issues.append(errors.issue("limit", "invalid_type", "Expected integer"))
    elif limit < 1:
        issues.append(
            errors.issue("limit", "too_small", "Number must be greater than or equal to 1")
        )
    elif limit > MAX_LIMIT:
        issues.append(
            errors.issue("limit", "too_big", f"Number must be less than or equal to {MAX_LIMIT}")
        )
    if issues:
        raise errors.invalid_request("Invalid query parameters", issues)


def paginate(
    items: Sequence[T],
    render: Callable[[Sequence[T]], Any],
    *,
    skip: int,
    limit: int,
    base_url: str,
    path: str,
) -> Paginated:
    """``render(items[skip:skip+limit])`` with the pagination of ``items``; ``next`` is an
    absolute link to ``path`` on ``base_url`` while more follow."""
    pagination = page_info(len(items), skip=skip, limit=limit, base_url=base_url, path=path)
    return Paginated(render(items[skip : skip + limit]), pagination)


def page_info(total: int, *, skip: int, limit: int, base_url: str, path: str) -> dict[str, Any]:
    """The ``pagination`` object of a page of ``total`` items (see :func:`paginate`)."""
    has_more = skip + limit < total
    pagination: dict[str, Any] = {"total": total, "skip": skip, "limit": limit, "hasMore": has_more}
    if has_more:
        pagination["next"] = f"{base_url.rstrip('/')}{path}?skip={skip + limit}&limit={limit}"
    return pagination
