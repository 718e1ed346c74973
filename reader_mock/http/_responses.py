"""Envelopes: turning core results and errors into JSON responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from quart import Response

from .._json import dumps_utf8
from ..core.errors import ApiError
from ..core.service import EncodedPage, Paginated

__all__ = [
    "error_response",
    "json_body_response",
    "json_response",
    "ok",
    "ok_body",
    "page_body",
    "paginated_body",
]

_PAGE_OPEN: Final = b'{"success":true,"data":'
_PAGE_MIDDLE: Final = b',"pagination":'
_PAGE_CLOSE: Final = b"}"


def json_response(
    payload: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response; keys keep the order the core built them in, and text UTF-8 cannot
    carry is escaped."""
    body = dumps_utf8(payload)
    return Response(
        body, status=status, headers=dict(headers or {}), content_type="application/json"
    )


def ok_body(data: Any) -> bytes:
    """``{"success": true, "data": ...}``, encoded."""
    return dumps_utf8({"success": True, "data": data})


def paginated_body(result: Paginated) -> bytes:
    """``{"success": true, "data": ..., "pagination": ...}``, encoded."""
    return dumps_utf8({"success": True, "data": result.data, "pagination": result.pagination})


def page_body(page: EncodedPage) -> bytes:
    """:func:`paginated_body` of a page whose ``data`` comes encoded: the same bytes, joined."""
    return b"".join(
        (_PAGE_OPEN, page.data_json, _PAGE_MIDDLE, dumps_utf8(page.pagination), _PAGE_CLOSE)
    )


def json_body_response(body: bytes, status: int = 200) -> Response:
    """A JSON response of ``body``, already encoded."""
    return Response(body, status=status, headers={}, content_type="application/json")


def ok(data: Any, status: int = 200) -> Response:
    """``{"success": true, "data": ...}``."""
    return json_body_response(ok_body(data), status)


def error_response(error: ApiError) -> Response:
    """The error envelope with the error's status and headers (``Retry-After``...)."""
    return json_response(error.envelope(), error.status, error.headers)
