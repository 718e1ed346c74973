"""Journal event-stream connections from the bytes they send.

:func:`journal_stream` wraps the body of a ``text/event-stream`` response so that the journal
sees the connection open, every piece written (decoded with the reference SSE decoder, so an
event is recorded under the name a client sees) and the close, with its reason:

- ``after_done``: the stream ended by itself right after a ``done`` event;
- ``shutdown``: the stream ended because the server stopped or was reset;
- ``client_disconnect``: the response was abandoned while still streaming (the client hung up);
- ``scripted_drop``: the body asked for a scripted drop (a :class:`~reader_mock.sse.Drop`
  marker, whose kind is kept), or ended by itself without ``done`` while the server runs.

Working from the bytes keeps the journal true to the wire whatever the stream code does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

from quart import Response, request
from quart.wrappers.response import IterableBody, ResponseBody

from ..core.errors import ApiError
from ..core.journal import CloseReason, StreamRecord
from ..core.service import Service
from ..sse.decoder import Decoder
from ..sse.drops import Drop
from ._streams import StreamHub

__all__ = ["journal_stream"]

_LINE_END = re.compile(rb"\r\n|\r|\n")


def _is_event_stream(response: Response) -> bool:
    return response.status_code == 200 and response.mimetype == "text/event-stream"


def journal_stream(response: Response, service: Service, hub: StreamHub) -> None:
    """Record the stream ``response`` answers the current request with, if it is one."""
    if not _is_event_stream(response) or not isinstance(response.response, ResponseBody):
        return
    job_id = (request.view_args or {}).get("job_id")
    channel: Literal["job", "workspace"] = "job" if job_id is not None else "workspace"
    workspace_id: str | None
    try:
        workspace_id = service.authenticate(request.headers.get("x-api-key")).id
    except ApiError:  # the key was revoked in the meantime; the stream is journaled anyway
        workspace_id = None
    record = service.journal.stream_opened(
        channel,
        job_id=None if job_id is None else str(job_id),
        workspace_id=workspace_id,
        headers=request.headers.items(),
    )
    response.response = IterableBody(_journaled(response.response, record, hub))


async def _journaled(
    body: ResponseBody, record: StreamRecord, hub: StreamHub
) -> AsyncIterator[Any]:
    decoder = Decoder()
    last_event: str | None = None
    reason: CloseReason = "client_disconnect"
    drop: Drop | None = None
    fed = 0
    try:
        async with body as chunks:
            async for chunk in chunks:
                if isinstance(chunk, Drop):
                    # The drop middleware performs it when it reaches send, and then stops
                    # the response: note it first, the end comes as an exception.
                    drop = chunk
                    if chunk.partial:
                        record.frame(chunk.partial, kind="raw")
                    record.closed("scripted_drop", drop_kind=str(chunk.kind.value))
                else:
                    data = bytes(chunk if isinstance(chunk, bytes) else str(chunk).encode())
                    last_event = _record(decoder, record, data, fed) or last_event
                    fed += len(data)
                yield chunk
        if drop is not None:
            reason = "scripted_drop"
        elif last_event == "done":
            reason = "after_done"
        elif hub.closing:
            reason = "shutdown"
        else:
            reason = "scripted_drop"
    except (GeneratorExit, asyncio.CancelledError):
        reason = "shutdown" if hub.closing else "client_disconnect"
        raise
    finally:
        record.closed(reason)


def _record(decoder: Decoder, record: StreamRecord, data: bytes, base: int) -> str | None:
    """Journal one written chunk; returns the name of the last event it completed, if any.

    ``base`` is the stream offset of the chunk's first byte. A chunk that carries several
    frames (the stream writes a backlog in one go) is journaled frame by frame, cut where
    each event's blank line or each comment's line ends; bytes left after the last complete
    frame are journaled as raw text.
    """
    events = decoder.feed(data)
    items: list[tuple[int, int, str, Literal["event", "comment"]]] = []
    for event in events:
        end = event.end - base
        end += 2 if data[end : end + 2] == b"\r\n" else 1
        items.append((event.start - base, end, event.type, "event"))
    for comment in decoder.comments:
        start = comment.offset - base
        match = _LINE_END.search(data, max(start, 0))
        end = len(data) if match is None else match.end()
        # A comment written alone ends with a blank line, which belongs to it.
        blank = _LINE_END.match(data, end)
        if blank is not None:
            end = blank.end()
        items.append((start, end, comment.text, "comment"))
    # The decoder keeps what it saw for checkers; here each chunk is journaled once, so its
    # lists are emptied to keep memory flat on endless streams.
    decoder.comments.clear()
    decoder.blocks.clear()
    decoder.ignored.clear()
    decoder.invalid_utf8.clear()
    items.sort()
    cut = 0
    for _, end, name, kind in items:
        end = max(end, cut)
        record.frame(data[cut:end], name=name, kind=kind)
        cut = end
    if cut < len(data):
        record.frame(data[cut:], kind="raw")
    return events[-1].type if events else None
