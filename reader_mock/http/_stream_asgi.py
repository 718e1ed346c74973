"""The two event streams served as raw ASGI, in front of the Quart app.

``GET`` and ``HEAD`` on ``/v1/events`` and ``/v1/jobs/{id}/stream`` never build a Quart request:
an idle stream then holds only what the server and its own record need, and each write goes from
the stream writer straight to the server's ``send``. Everything else (other methods, preflights,
other paths) goes to the app. The answers are the app's, byte for byte: the request id, CORS
headers, injected faults, error envelopes and the journal's entries (``_asgi_answers.py``). Why:
docs/architecture.md, "The streams on the wire".
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .._types import ASGIApp, Receive, Scope, Send
from ..contract import NO_BODY, check_request
from ..core import errors
from ..core.errors import ApiError
from ..sse.encoder import CONTENT_TYPE, STREAM_HEADERS
from ._asgi_answers import AppAnswers, Asked, app_path
from ._stream_hub import StreamHub
from ._unread_bodies import discard_body

if TYPE_CHECKING:
    from ._streams import Stream

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
_HEAD_BASE_URL: Final = "http://localhost"
"""Pagination links of the job looked up for a ``HEAD`` are never sent: any base will do."""


def stream_target(scope: Mapping[str, Any]) -> str | None:
    """The stream an ASGI request's path names: ``""`` for the workspace stream, the job id for
    a per-job stream, ``None`` for any other path (as the app's router reads the path)."""
    path = app_path(scope)
    if path == _EVENTS:
        return ""
    if not (path.startswith(_JOBS) and path.endswith(_STREAM)):
        return None
    job_id = path[len(_JOBS) : -len(_STREAM)]
    if not job_id or "/" in job_id:
        return None
    return job_id


class StreamEndpoint:
    """ASGI: serves ``GET`` and ``HEAD`` on the two stream paths, passes everything else to
    ``app``. The other arguments are the app's own (see :func:`~reader_mock.http.create_app`)."""

    __slots__ = ("_answers", "_app", "_hub")

    def __init__(self, app: ASGIApp, answers: AppAnswers, hub: StreamHub) -> None:
        self._app = app
        self._answers = answers
        self._hub = hub

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
        body = await discard_body(scope, receive)
        if body == "gone":
            return None
        answers = self._answers
        service = answers.service
        asked = Asked(answers, scope, cut=body == "cut")
        headers, first, method = asked.headers, asked.first, str(scope["method"])
        try:
            control = answers.control
            if control.has_faults:
                await control.apply_fault(method, str(scope["path"]))
            api_key = first.get("x-api-key")
            service.authenticate(api_key)
            if job_id is not None:
                _validate(job_id, scope, first)
            if method == "HEAD":
                if job_id is not None:  # 404 as for GET
                    service.jobs.get(api_key, job_id, limit=1, base_url=_HEAD_BASE_URL)
                answers.journal(asked, 200)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [*_STREAM_HEAD, *asked.head],
                    }
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return None
            # The streams load with the first one: a server that only answers REST never does.
            from ._streams import open_job_stream, open_workspace_stream

            last_event_id = first.get("last-event-id")
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
            await answers.error(asked, send, error)
            return None
        except Exception as error:
            await answers.unexpected(asked, send, error)
            return None
        if stream is None:
            # Everything was received, the job is over: 204 tells an EventSource to stop.
            answers.journal(asked, 204)
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [*_NO_CONTENT_HEAD, *asked.head],
                }
            )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return None
        # The stream's record masked the same headers: the request's entry shares them.
        answers.journal(asked, 200, stream.headers)
        await send(
            {"type": "http.response.start", "status": 200, "headers": (*_STREAM_HEAD, *asked.head)}
        )
        return stream


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
        raise errors.request_issues(found, {"id": job_id}, query)
