"""The two event streams served as raw ASGI, in front of the Quart app.

``GET`` and ``HEAD`` on ``/v1/events`` and ``/v1/jobs/{id}/stream`` never build a Quart request:
an idle stream then holds only what the server and its own record need, and each write goes from
the stream writer straight to the server's ``send``. Everything else (other methods, preflights,
other paths) goes to the app. The answers are the app's, byte for byte: the request id, CORS
headers, injected faults, error envelopes and the journal's entries. Why: docs/architecture.md,
"The streams on the wire".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Final

from .._json import dumps_utf8
from .._types import ASGIApp, Receive, Scope, Send
from ..contract import NO_BODY, check_request
from ..core import errors
from ..core.errors import ApiError
from ..core.service import Service
from ..sse.encoder import CONTENT_TYPE, STREAM_HEADERS
from ._control import ControlState
from ._cors import CorsPolicy
from ._streams import Stream, StreamHub, open_job_stream, open_workspace_stream
from ._unread_bodies import discard_body

__all__ = ["StreamEndpoint", "stream_target"]

_EVENTS: Final = "/v1/events"
_JOBS: Final = "/v1/jobs/"
_STREAM: Final = "/stream"
_METHODS: Final = frozenset({"GET", "HEAD"})
_STREAM_HEAD: Final = [
    *(
        (name.lower().encode(), value.encode())
        for name, value in STREAM_HEADERS.items()
        if name != "Content-Type"
    ),
    (b"content-type", CONTENT_TYPE.encode()),
]
"""A stream's own headers, in the order the app's responses list them."""
_NO_CONTENT_HEAD: Final = [
    (b"cache-control", b"no-store"),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", b"0"),
]
_VARY: Final = (b"vary", b"Origin")
_CLOSE: Final = (b"connection", b"close")
_HEAD_BASE_URL: Final = "http://localhost"
"""Pagination links of the job looked up for a ``HEAD`` are never sent: any base will do."""
_log = logging.getLogger("reader_mock.http")


def stream_target(scope: Mapping[str, Any]) -> str | None:
    """The stream an ASGI request's path names: ``""`` for the workspace stream, the job id for
    a per-job stream, ``None`` for any other path (as the app's router reads the path)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root:
        if path == root or not path.startswith(root):
            return None
        path = path[len(root) :]
    if path == _EVENTS:
        return ""
    if not (path.startswith(_JOBS) and path.endswith(_STREAM)):
        return None
    job_id = path[len(_JOBS) : -len(_STREAM)]
    if not job_id or "/" in job_id:
        return None
    return job_id


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


class StreamEndpoint:
    """ASGI: serves ``GET`` and ``HEAD`` on the two stream paths, passes everything else to
    ``app``. The other arguments are the app's own (see :func:`~reader_mock.http.create_app`)."""

    __slots__ = ("_app", "_control", "_cors", "_hub", "_service")

    def __init__(
        self,
        app: ASGIApp,
        service: Service,
        hub: StreamHub,
        cors: CorsPolicy,
        control: ControlState,
    ) -> None:
        self._app = app
        self._service = service
        self._hub = hub
        self._cors = cors
        self._control = control

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Hands over the coroutine rather than awaiting it: one frame less under every request.
        if scope["type"] == "http" and scope.get("method") in _METHODS:
            target = stream_target(scope)
            if target is not None:
                return self._serve(scope, receive, send, target or None)
        return self._app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, job_id: str | None) -> None:
        stream = await self._answer(scope, receive, send, job_id)
        if stream is not None:
            # Only the stream stays: what answering it needed is gone with its frame.
            await stream.run(send, receive)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, job_id: str | None
    ) -> Stream | None:
        """Answer the request up to the start of the stream's body; the stream to run, if any."""
        service = self._service
        request_id = service.new_request_id()
        body = await discard_body(scope, receive)
        if body == "gone":
            return None
        headers = _request_headers(scope)
        lowered: dict[str, str] = {}
        for name, value in headers:
            lowered.setdefault(name, value)
        method, path = str(scope["method"]), str(scope["path"])
        head = [(b"x-request-id", request_id.encode()), *self._cors_headers(lowered.get("origin"))]
        if body == "cut":
            head.append(_CLOSE)
        try:
            control = self._control
            if control.has_faults:
                await control.apply_fault(method, path)
            api_key = lowered.get("x-api-key")
            service.authenticate(api_key)
            if job_id is not None:
                _validate(job_id, scope, lowered)
            if method == "HEAD":
                if job_id is not None:  # 404 as for GET
                    service.jobs.get(api_key, job_id, limit=1, base_url=_HEAD_BASE_URL)
                self._journal(scope, headers, 200, request_id)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [*_STREAM_HEAD, *head],
                    }
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return None
            last_event_id = _header(headers, "last-event-id")
            stream: Stream | None
            if job_id is None:
                stream = open_workspace_stream(
                    service, self._hub, scope, headers, api_key, last_event_id
                )
            else:
                stream = open_job_stream(
                    service, self._hub, scope, headers, api_key, job_id, last_event_id
                )
        except ApiError as error:
            await self._error(scope, send, headers, error, head, request_id)
            return None
        except Exception as error:
            service.record_unexpected(error)
            _log.error("unexpected %s on %s %s: %s", type(error).__name__, method, path, error)
            await self._error(scope, send, headers, errors.internal_error(), head, request_id)
            return None
        if stream is None:
            # Everything was received, the job is over: 204 tells an EventSource to stop.
            self._journal(scope, headers, 204, request_id)
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [*_NO_CONTENT_HEAD, *head],
                }
            )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return None
        # The stream's record masked the same headers: the request's entry shares them.
        self._journal(scope, stream.headers, 200, request_id)
        await send(
            {"type": "http.response.start", "status": 200, "headers": (*_STREAM_HEAD, *head)}
        )
        return stream

    def _cors_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        """``Vary: Origin``, and the CORS headers of an answer to an allowed origin."""
        return [_VARY, *((name, value.encode()) for name, value in self._cors.grants(origin))]

    def _journal(
        self,
        scope: Scope,
        headers: list[tuple[str, str]] | Mapping[str, str],
        status: int,
        request_id: str,
    ) -> None:
        self._service.journal.request(
            str(scope["method"]),
            str(scope["path"]),
            status=status,
            query=bytes(scope.get("query_string", b"")).decode("latin-1"),
            headers=headers,
            request_id=request_id,
        )

    async def _error(
        self,
        scope: Scope,
        send: Send,
        headers: list[tuple[str, str]],
        error: ApiError,
        head: list[tuple[bytes, bytes]],
        request_id: str,
    ) -> None:
        """The error envelope, with the headers the app gives it."""
        body = dumps_utf8(error.envelope())
        own = [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
        own.append((b"content-type", b"application/json"))
        own.append((b"content-length", str(len(body)).encode()))
        self._journal(scope, headers, error.status, request_id)
        await send(
            {"type": "http.response.start", "status": error.status, "headers": [*own, *head]}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (lower case), as the app's request reads it."""
    for key, value in headers:
        if key == name:
            return value
    return None


def _validate(job_id: str, scope: Scope, headers: Mapping[str, str]) -> None:
    """The job id (and the rest of the request) against ``streamJob``; ``400`` with every issue."""
    query: dict[str, list[str]] = {}
    raw = bytes(scope.get("query_string", b""))
    if raw:  # most requests have none: no parsing then
        from urllib.parse import parse_qsl

        for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            query.setdefault(name, []).append(value)
    found = check_request(
        "streamJob", body=NO_BODY, query=query, path_params={"id": job_id}, headers=headers
    )
    if found:
        issues = [errors.issue(entry["path"], entry["code"], entry["message"]) for entry in found]
        first = issues[0]["path"].split(".", 1)[0]
        if first == "id":
            message = "Invalid path parameters"
        elif first in query:
            message = "Invalid query parameters"
        elif first.startswith("x-"):
            message = "Invalid request headers"
        else:
            message = "Invalid request body"
        raise errors.invalid_request(message, issues)
