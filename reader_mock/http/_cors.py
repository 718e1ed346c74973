"""CORS for browser clients of the ``/v1`` API.

Origins on ``localhost``, ``127.0.0.1`` and ``[::1]`` (any port, ``http`` or ``https``) are
allowed by default, others through ``Settings.cors_origins`` (``"*"`` allows every origin).
Preflights allow the ``x-api-key``, ``x-idempotency-key`` and ``content-type`` request headers;
responses expose ``x-request-id`` and ``Retry-After``. A refused origin gets no CORS headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from quart import Response

__all__ = ["ALLOWED_HEADERS", "EXPOSED_HEADERS", "CorsPolicy"]

ALLOWED_HEADERS: Final = "x-api-key, x-idempotency-key, content-type"
EXPOSED_HEADERS: Final = "x-request-id, Retry-After"
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_PREFLIGHT_MAX_AGE: Final = "600"


class CorsPolicy:
    """Decides which origins may call the API from a browser."""

    def __init__(self, extra_origins: Iterable[str]) -> None:
        extra = {origin.rstrip("/") for origin in extra_origins}
        self._any = "*" in extra
        self._extra = frozenset(origin.lower() for origin in extra - {"*"})

    def allows(self, origin: str | None) -> bool:
        """Whether ``origin`` (the ``Origin`` request header) may read responses."""
        if not origin:
            return False
        if self._any or origin.lower() in self._extra:
            return True
        try:
            parts = urlsplit(origin)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            return False
        return parts.scheme in {"http", "https"} and host in _LOCAL_HOSTS

    def decorate(self, response: Response, origin: str | None) -> None:
        """Add the CORS headers of an actual (non-preflight) response."""
        if not self.allows(origin):
            return
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.vary.add("Origin")

    def preflight(
        self, origin: str | None, methods: Iterable[str], headers: str = ALLOWED_HEADERS
    ) -> Response:
        """The ``204`` answer to a preflight, allowing ``headers``; without CORS headers for a
        refused origin."""
        response = Response("", status=204)
        response.vary.add("Origin")
        if self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(methods))
            response.headers["Access-Control-Allow-Headers"] = headers
            response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
        return response
