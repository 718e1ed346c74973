"""What the endpoints in front of the Quart app share: each answers as raw ASGI, byte for byte as
the app would (the request id, CORS headers, injected faults, error envelopes, the journal's
entry). Why some requests are answered there: docs/architecture.md, "In front of the app"."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from .._json import dumps_utf8
from .._types import Scope, Send
from ..core import errors
from ..core.errors import ApiError
from ..core.service import Service
from ._control import ControlState
from ._cors import CorsPolicy

__all__ = ["AppAnswers", "Asked", "app_path"]

_VARY: Final = (b"vary", b"Origin")
_CLOSE: Final = (b"connection", b"close")
_JSON: Final = (b"content-type", b"application/json")
_log = logging.getLogger("reader_mock.http")


def app_path(scope: Mapping[str, Any]) -> str:
    """The path of an ASGI request as the app's router reads it (below ``root_path``); ``""``
    when the path is not under it (the app answers that)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root:
        if path == root or not path.startswith(root):
            return ""
        path = path[len(root) :]
    return path


def _request_headers(scope: Scope) -> list[tuple[str, str]]:
    """The request's headers as the app's requests carry them: the client's address first
    (``remote-addr``), then every header as sent, and an empty ``host`` for HTTP/1.0 without."""
    client = scope.get("client")
    items = [("remote-addr", str(client[0]) if client else "<local>")]
    items += [
        (_lower(bytes(name).decode("latin-1")), bytes(value).decode("latin-1"))
        for name, value in scope.get("headers", ())
    ]
    if str(scope.get("http_version", "1.1")) < "1.1" and all(name != "host" for name, _ in items):
        items.append(("host", ""))
    return items


def _lower(name: str) -> str:
    return name if name.islower() else name.lower()  # servers give lower-case names: no copy


class Asked:
    """One request answered in front of the app: its headers (as the app's requests carry them),
    the first value of each by name, its request id, and the headers every answer to it
    carries (``x-request-id``, CORS, ``Connection: close`` when its body was cut)."""

    __slots__ = ("first", "head", "headers", "request_id", "scope")

    def __init__(self, answers: AppAnswers, scope: Scope, *, cut: bool) -> None:
        self.scope = scope
        self.request_id = answers.service.new_request_id()
        self.headers = headers = _request_headers(scope)
        first: dict[str, str] = {}
        for name, value in headers:
            first.setdefault(name, value)
        self.first = first
        head = [(b"x-request-id", self.request_id.encode()), _VARY]
        head += [(name, value.encode()) for name, value in answers.cors.grants(first.get("origin"))]
        if cut:
            head.append(_CLOSE)
        self.head = head


class AppAnswers:
    """Answers as the app gives them, for the endpoints in front of it."""

    __slots__ = ("control", "cors", "service")

    def __init__(self, service: Service, cors: CorsPolicy, control: ControlState) -> None:
        self.service = service
        self.cors = cors
        self.control = control

    def journal(
        self,
        asked: Asked,
        status: int,
        headers: list[tuple[str, str]] | Mapping[str, str] | None = None,
    ) -> None:
        """The journal's entry for the answer (``headers``: the request's, unless given, masked
        already)."""
        scope = asked.scope
        if headers is None:  # kept as they are, masked when the journal is first read
            self.service.journal.note_request(
                str(scope["method"]),
                str(scope["path"]),
                status=status,
                query=bytes(scope.get("query_string", b"")),
                headers=asked.headers,
                request_id=asked.request_id,
            )
            return
        self.service.journal.request(
            str(scope["method"]),
            str(scope["path"]),
            status=status,
            query=bytes(scope.get("query_string", b"")).decode("latin-1"),
            headers=headers,
            request_id=asked.request_id,
        )

    async def json(self, asked: Asked, send: Send, status: int, body: bytes) -> None:
        """A JSON answer, journaled."""
        self.journal(asked, status)
        length = (b"content-length", str(len(body)).encode())
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": (_JSON, length, *asked.head),
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def error(self, asked: Asked, send: Send, error: ApiError) -> None:
        """The error envelope, with the headers the app gives it, journaled."""
        body = dumps_utf8(error.envelope())
        own = [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
        own.append(_JSON)
        own.append((b"content-length", str(len(body)).encode()))
        self.journal(asked, error.status)
        await send(
            {"type": "http.response.start", "status": error.status, "headers": [*own, *asked.head]}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def unexpected(self, asked: Asked, send: Send, error: Exception) -> None:
        """A ``500 internal_error``, the error logged and recorded as the app does."""
        scope = asked.scope
        self.service.record_unexpected(error)
        _log.error(
            "unexpected %s on %s %s: %s",
            type(error).__name__,
            scope["method"],
            scope["path"],
            error,
        )
        await self.error(asked, send, errors.internal_error())
