"""The REST reads served as raw ASGI, in front of the Quart app.

A ``GET`` of a read (``_reads.py``) never builds a Quart request: it is what SDKs send most (a
job's status, its next page, the credits), and the app's request and response objects cost more
than everything the mock does for it. The answer is the app's, byte for byte: the same checks in
the same order (faults, API key and rate limit, the contract), the same envelope, request id,
CORS headers and journal entry. Every other request (another method, a path the app's router
reads differently, a query string that is not UTF-8) goes to the app. Why: docs/architecture.md,
"In front of the app".
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from .._types import ASGIApp, Receive, Scope, Send
from ..contract import NO_BODY, check_request
from ..core import errors
from ..core.errors import ApiError
from ..core.service import DEFAULT_LIMIT
from ._asgi_answers import AppAnswers, Asked
from ._reads import READS, Read, ReadArgs, base_url, page_args
from ._unread_bodies import discard_body

__all__ = ["ReadEndpoint", "read_target"]

_COLLECTIONS: Final[dict[str, Read]] = {read.rule: read for read in READS if "<" not in read.rule}
_ITEMS: Final[dict[str, Read]] = {
    read.rule[: read.rule.index("<")]: read for read in READS if "<" in read.rule
}
"""Reads of one item by the path before the id (``/v1/jobs/``)."""


_NO_QUERY: Final[dict[str, list[str]]] = {}


def read_target(scope: Mapping[str, Any]) -> tuple[Read, str, dict[str, list[str]]] | None:
    """The read an ASGI ``GET`` names, the id in its path (``""`` for a collection) and its query
    (every value of each name, as the app reads it); ``None`` when the app answers it: another
    path, a ``root_path``, a query string that is not UTF-8."""
    if scope.get("root_path"):
        return None
    path = str(scope.get("path", ""))
    found = _COLLECTIONS.get(path)
    ident = ""
    if found is None:
        cut = path.rfind("/") + 1
        found = _ITEMS.get(path[:cut])
        if found is None or cut == len(path):
            return None
        ident = path[cut:]
    raw = bytes(scope.get("query_string", b""))
    if not raw:
        return found, ident, _NO_QUERY
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return None
    query: dict[str, list[str]] = {}
    # Werkzeug's own error handler (registered by werkzeug.urls, which the app has imported), as
    # its request parses the query: invalid escapes stay quoted.
    for name, value in parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"):
        query.setdefault(name, []).append(value)
    return found, ident, query


class ReadEndpoint:
    """ASGI: answers ``GET`` on the reads, passes everything else to ``app``."""

    __slots__ = ("_answers", "_app")

    def __init__(self, app: ASGIApp, answers: AppAnswers) -> None:
        self._app = app
        self._answers = answers

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Hands over the coroutine rather than awaiting it: one frame less under every request.
        if scope["type"] == "http" and scope.get("method") == "GET":
            target = read_target(scope)
            if target is not None:
                return self._serve(scope, receive, send, *target)
        return self._app(scope, receive, send)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        read: Read,
        ident: str,
        query: dict[str, list[str]],
    ) -> None:
        body = await discard_body(scope, receive)
        if body == "gone":
            return
        answers = self._answers
        asked = Asked(answers, scope, cut=body == "cut")
        try:
            control = answers.control
            if control.has_faults:
                await control.apply_fault("GET", str(scope["path"]))
            service = answers.service
            api_key = asked.first.get("x-api-key")
            service.admit(api_key)
            path = {"id": ident} if ident else {}
            found = check_request(
                read.operation_id, body=NO_BODY, query=query, path_params=path, headers=asked.first
            )
            if found:
                raise errors.request_issues(found, path, query)
            skip, limit = page_args(query) if read.paged else (0, DEFAULT_LIMIT)

            def links() -> str:
                return base_url(
                    str(scope.get("scheme", "http")), asked.first.get("host"), scope.get("server")
                )

            answer = read.answer(service, ReadArgs(api_key, ident, skip, limit, links))
        except ApiError as error:
            await answers.error(asked, send, error)
            return
        except Exception as error:
            await answers.unexpected(asked, send, error)
            return
        await answers.json(asked, send, 200, answer)
