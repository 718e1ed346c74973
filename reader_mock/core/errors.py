"""API errors and their envelope.

Every refusal the mock gives is an :class:`ApiError`; the HTTP layer turns it into
``{"success": false, "error": {code, message, details?, docsUrl}}`` with its status and headers.
There is one constructor per error code, so a code always comes with the status and the
``details`` shape that ``openapi.yaml`` fixes for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "DOCS_BASE",
    "ERROR_STATUS",
    "ApiError",
    "concurrency_limited",
    "conflict",
    "docs_url",
    "insufficient_credits",
    "internal_error",
    "invalid_request",
    "issue",
    "not_found",
    "rate_limited",
    "request_issues",
    "scrape_timeout",
    "session_expired",
    "session_not_found",
    "unauthenticated",
    "upstream_unavailable",
    "url_blocked",
]

DOCS_BASE: Final = "https://reader.dev/docs/home/concepts/errors"

ERROR_STATUS: Final[Mapping[str, int]] = {
    "invalid_request": 400,
    "unauthenticated": 401,
    "insufficient_credits": 402,
    "url_blocked": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limited": 429,
    "concurrency_limited": 429,
    "internal_error": 500,
    "upstream_unavailable": 502,
    "scrape_timeout": 504,
    "session_not_found": 404,
    "session_expired": 410,
}
"""HTTP status of each error code: the 11 stable codes and the two browser-session codes."""


def docs_url(code: str) -> str:
    """The documentation link of an error code (the code with ``-`` for ``_`` as anchor)."""
    return f"{DOCS_BASE}#{code.replace('_', '-')}"


class ApiError(Exception):
    """A documented API error: status, code, message, optional details and extra headers."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code not in ERROR_STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = ERROR_STATUS[code] if status is None else status
        self.details: dict[str, Any] | None = None if details is None else dict(details)
        self.headers: dict[str, str] = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        """The JSON error envelope."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        error["docsUrl"] = docs_url(self.code)
        return {"success": False, "error": error}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def issue(path: str, code: str, message: str) -> dict[str, str]:
    """One entry of ``details.issues``."""
    return {"path": path, "code": code, "message": message}


def invalid_request(
    message: str = "Invalid request body",
    issues: Sequence[Mapping[str, str]] | None = None,
    *,
    status: int | None = None,
) -> ApiError:
    """400: bad input. ``issues`` become ``details.issues``; without them there are no details."""
    details = None if not issues else {"issues": [dict(entry) for entry in issues]}
    return ApiError("invalid_request", message, details=details, status=status)


def request_issues(
    found: Sequence[Mapping[str, object]], path: Mapping[str, str], query: Mapping[str, object]
) -> ApiError:
    """400 for the issues a request check ``found`` (entries with ``path``, ``code`` and
    ``message``), its message naming the part of the request of the first issue: the path's
    parameters (names in ``path``), the query (names in ``query``), a header, or the body."""
    issues = [issue(str(e["path"]), str(e["code"]), str(e["message"])) for e in found]
    first = issues[0]["path"].split(".", 1)[0]
    if first in path:
        message = "Invalid path parameters"
    elif first in query:
        message = "Invalid query parameters"
    elif first.startswith("x-"):
        message = "Invalid request headers"
    else:
        message = "Invalid request body"
    return invalid_request(message, issues)


def unauthenticated() -> ApiError:
    """401: the ``x-api-key`` header is missing, unknown or revoked."""
    return ApiError("unauthenticated", "Missing or invalid API key")


def insufficient_credits(required: int, available: int, reset_at: str) -> ApiError:
    """402: the balance cannot pay for the request."""
    return ApiError(
        "insufficient_credits",
        f"You need {required} credits but only {available} are available. "
        "Wait for your credits to reset at the next billing cycle.",
        details={"required": required, "available": available, "resetAt": reset_at},
    )


def url_blocked(url: str, reason: str) -> ApiError:
    """403: a target URL is not allowed."""
    return ApiError("url_blocked", f"URL blocked: {reason}", details={"url": url, "reason": reason})


def not_found(message: str) -> ApiError:
    """404: no such resource in the caller's workspace (or no such route)."""
    return ApiError("not_found", message)


def conflict(message: str, *, status: str | None = None, limit: int | None = None) -> ApiError:
    """409: the resource's state (``status``) or a cap (``limit``) forbids the action."""
    if (status is None) == (limit is None):
        raise ValueError("conflict() needs exactly one of status= or limit=")
    details: dict[str, Any] = {"status": status} if status is not None else {"limit": limit}
    return ApiError("conflict", message, details=details)


def rate_limited(limit: int, window_seconds: int, retry_after_seconds: int) -> ApiError:
    """429: the requests-per-minute window is full; ``Retry-After`` repeats the wait."""
    return ApiError(
        "rate_limited",
        f"Rate limit of {limit} requests per {window_seconds}s exceeded. "
        f"Retry after {retry_after_seconds}s.",
        details={
            "limit": limit,
            "windowSeconds": window_seconds,
            "retryAfterSeconds": retry_after_seconds,
        },
        headers={"Retry-After": str(retry_after_seconds)},
    )


def concurrency_limited(active: int, maximum: int) -> ApiError:
    """429: the workspace already has ``maximum`` active jobs. Deliberately no ``Retry-After``."""
    return ApiError(
        "concurrency_limited",
        f"Concurrency limit reached. You have {active} active jobs (limit: {maximum}).",
        details={"active": active, "max": maximum},
    )


def internal_error(message: str = "Internal server error") -> ApiError:
    """500: something went wrong on the server's side."""
    return ApiError("internal_error", message)


def upstream_unavailable(message: str = "Upstream service is unavailable") -> ApiError:
    """502: the page or browser could not be reached."""
    return ApiError("upstream_unavailable", message)


def scrape_timeout(timeout_ms: int) -> ApiError:
    """504: the scrape ran past its deadline."""
    return ApiError(
        "scrape_timeout",
        f"Scrape exceeded {timeout_ms}ms timeout",
        details={"timeoutMs": timeout_ms},
    )


def session_not_found() -> ApiError:
    """404 (browser sessions): no such session in the caller's workspace."""
    return ApiError("session_not_found", "Session not found")


def session_expired(*, stopped: bool = False) -> ApiError:
    """410 (browser sessions): the session expired, or was already stopped (upstream lists both)."""
    return ApiError(
        "session_expired", "Session is already stopped" if stopped else "Session has expired"
    )
