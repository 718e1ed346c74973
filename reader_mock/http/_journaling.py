"""Journal event-stream connections from the bytes they send.

:func:`journal_stream` wraps the body of a ``text/event-stream`` response so that the journal
sees the connection open, every frame written (an event under the name a client sees) and the
close, with its reason:

- ``after_done``: the stream ended by itself right after a ``done`` event;
- ``shutdown``: the stream ended because the server stopped or was reset;
- ``client_disconnect``: the response was abandoned while still streaming (the client hung up);
- ``overflow``: the client read too slowly and was cut (an
  :class:`~reader_mock.http._streams.OverflowDrop`; its ``drop_kind`` says truncate or reset);
- ``scripted_drop``: the body asked for a scripted drop (a :class:`~reader_mock.sse.Drop`
  marker, whose kind is kept), or ended by itself without ``done`` while the server runs.

Frames are cut from the bytes written. The streams' own writes of whole frames
(:class:`~reader_mock.http._streams.FramesWrite`) name their frames, so they are journaled as
they are, with nothing to decode; any other bytes (raw timeline text, a frame split between
writes) are cut by the rules of the reference SSE decoder, exactly as a client reads them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any, Final, Literal

from quart import Response, request
from quart.wrappers.response import IterableBody, ResponseBody

from ..core.errors import ApiError
from ..core.journal import (
    MAX_FRAME_BYTES,
    CloseReason,
    FrameKind,
    StreamRecord,
    WrittenPiece,
)
from ..core.service import Service
from ..sse.decoder import Decoder
from ..sse.drops import Drop
from ._streams import FramesWrite, OverflowDrop, StreamHub

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
    cutter = _FrameCutter(record)
    reason: CloseReason = "client_disconnect"
    drop: Drop | None = None
    try:
        async with body as chunks:
            async for chunk in chunks:
                if isinstance(chunk, Drop):
                    # The drop middleware performs it when it reaches send, and then stops
                    # the response: note it first, the end comes as an exception.
                    drop = chunk
                    if chunk.partial:
                        record.frame(chunk.partial, kind="raw")
                    if isinstance(chunk, OverflowDrop):
                        kind = "reset" if chunk.reset else chunk.kind.value
                        record.closed("overflow", drop_kind=kind)
                    else:
                        record.closed("scripted_drop", drop_kind=str(chunk.kind.value))
                else:
                    cutter.write(chunk if isinstance(chunk, bytes) else str(chunk).encode())
                yield chunk
        if drop is not None:
            reason = "overflow" if isinstance(drop, OverflowDrop) else "scripted_drop"
        elif cutter.last_event == "done":
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


class _FrameCutter:
    """Cuts the bytes a stream writes into journal records, one per frame.

    Nearly every write is whole frames in the encoder's own shape: ``event: NAME``, one
    ``data:`` line, a blank line; or ``: ping`` and a blank line. Those are recognised with a
    few byte searches, which keeps journaling cheap on long bursts. Anything else (raw frames,
    ids, CR line ends, a frame split between writes) goes through the reference decoder, which
    applies the SSE rules to the letter, until the stream is back at a frame boundary.
    """

    def __init__(self, record: StreamRecord) -> None:
        self.record = record
        self.last_event: str | None = None
        self._decoder: Decoder | None = None
        self._decoder_base = 0  # stream offset of the decoder's first byte
        self._fed = 0

    def write(self, data: bytes) -> None:
        """Journal one written chunk."""
        if isinstance(data, FramesWrite) and self._decoder is None:
            # Whole frames the stream encoded itself, written at a frame boundary.
            frames = data.frames
            self._fed += len(data)
            if len(frames):
                for index in range(len(frames) - 1, -1, -1):
                    if frames.frames[index][:1] != b":":
                        self.last_event = frames.names[index]
                        break
                self.record.frames_written(frames)
            return
        pieces: list[WrittenPiece] = []
        start = 0
        if self._decoder is None:
            start = _standard_frames(data, pieces)
            if start < len(data):
                self._decoder = Decoder(stream_start=self._fed + start == 0)
                self._decoder_base = self._fed + start
        if self._decoder is not None:
            base = self._fed + start - self._decoder_base
            _decoded_frames(self._decoder, data[start:], base, pieces)
            if self._decoder.at_boundary:
                self._decoder = None
        self._fed += len(data)
        for _, _, name, kind in reversed(pieces):
            if kind == "event":
                self.last_event = name
                break
        self.record.frames_written(pieces)


_EVENT: Final = b"event: "
_DATA: Final = b"data: "
_PING: Final = b": ping"


def _standard_frames(data: bytes, pieces: list[WrittenPiece]) -> int:
    """Add the encoder-shaped frames at the start of ``data``; returns where they end."""
    if b"\r" in data:
        return 0  # CR line ends: only the decoder knows where those lines end
    pos = 0
    find = data.find
    startswith = data.startswith
    while True:
        end = find(b"\n\n", pos)
        if end < 0:
            return pos
        line_end = find(b"\n", pos, end)
        if line_end < 0:
            if end - pos != len(_PING) or not startswith(_PING, pos):
                return pos
            pieces.append((data[pos : end + 2], end + 2 - pos, "ping", "comment"))
        elif (
            line_end > pos + len(_EVENT)
            and startswith(_EVENT, pos)
            and startswith(_DATA, line_end + 1)
            and find(b"\n", line_end + 1, end) < 0
        ):
            try:
                name = data[pos + len(_EVENT) : line_end].decode()
            except UnicodeDecodeError:
                return pos
            size = end + 2 - pos
            pieces.append((data[pos : pos + min(size, MAX_FRAME_BYTES)], size, name, "event"))
        else:
            return pos
        pos = end + 2


def _decoded_frames(decoder: Decoder, data: bytes, base: int, pieces: list[WrittenPiece]) -> None:
    """Add the frames of ``data`` as the decoder cuts them.

    ``base`` is the decoder's offset of the chunk's first byte. A chunk that carries several
    frames is cut where each event's blank line or each comment's line ends; bytes left after
    the last complete frame are journaled as raw text.
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
        pieces.append(_piece(data, cut, end, name, kind))
        cut = end
    if cut < len(data):
        pieces.append(_piece(data, cut, len(data), "", "raw"))


def _piece(data: bytes, start: int, end: int, name: str, kind: FrameKind) -> WrittenPiece:
    return (data[start : min(end, start + MAX_FRAME_BYTES)], end - start, name, kind)
