"""The journal's record of one stream connection, written by the stream as it writes.

The stream writer tells its :class:`StreamRecorder` what it writes: whole frames it encoded itself
(recorded as they are, with their names, nothing decoded), other bytes (raw timeline text, cut into
frames exactly as a client's SSE parser reads them), the drop that ends it, and why it closed.
Nothing is recorded after the close.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Literal

from ..core.journal import (
    MAX_FRAME_BYTES,
    CloseReason,
    EncodedFrames,
    FrameKind,
    StreamRecord,
    WrittenPiece,
)

if TYPE_CHECKING:
    from ..sse.decoder import Decoder
    from ._peer import Peer

__all__ = ["StreamRecorder", "decoded_pieces", "last_event_of"]

_LINE_END = re.compile(rb"\r\n|\r|\n")


class StreamRecorder:
    """Records what one stream writes into its journal record (see the module docstring)."""

    __slots__ = ("_decoder", "_decoder_base", "_fed", "last_event", "peer", "record")

    def __init__(self, record: StreamRecord, peer: Peer | None = None) -> None:
        """``peer``: tells whether the client has closed the connection (see :meth:`live`)."""
        self.record = record
        self.peer = peer
        self.last_event: str | None = None
        """The name of the last event written, if any."""
        self._decoder: Decoder | None = None
        self._decoder_base = 0  # stream offset of the decoder's first byte
        self._fed = 0

    @property
    def in_frame(self) -> bool:
        """Whether raw text left a frame open, so the next bytes continue it."""
        return self._decoder is not None

    def live(self, hung_up: bool | None = None) -> bool:
        """Whether a write can still reach the client: the record is open and the client has
        not hung up (``hung_up``: what its peer was just found to be, else it is asked). A
        hang-up noticed here closes the record (``client_disconnect``), so what the stream
        would have written next is not recorded as sent."""
        if not self.record.is_open:
            return False
        if hung_up is None:
            hung_up = self.peer is not None and self.peer.hung_up()
        if hung_up:
            self.record.closed("client_disconnect")
            return False
        return True

    def frames(
        self,
        data: bytes,
        frames: Sequence[bytes],
        names: Sequence[str],
        *,
        at: float | None = None,
    ) -> None:
        """One write, ``data``, of whole frames the stream encoded: ``frames[i]`` with the event
        name ``names[i]``, or its comment text for a frame that starts with ``:``. ``at``: the
        clock time to record (default: now)."""
        self.encoded(data, EncodedFrames.kept(frames, names), last_event_of(frames, names), at=at)

    def encoded(
        self, data: bytes, kept: EncodedFrames, last_event: str | None, *, at: float | None = None
    ) -> None:
        """:meth:`frames` for frames already as the journal keeps them
        (:meth:`EncodedFrames.kept`), the name of the last event among them known: what many
        streams that share one write each record."""
        if not self.record.is_open or not kept:
            return
        if self._decoder is not None:  # a raw text left a frame open: read these as a client would
            self.raw(data, at=at)
            return
        self._fed += len(data)
        if last_event is not None:
            self.last_event = last_event
        self.record.frames_written(kept, at=at)

    def raw(self, data: bytes, *, at: float | None = None) -> None:
        """Bytes written as they are, cut into frames as a conforming SSE parser reads them."""
        if not self.record.is_open:
            return
        pieces: list[WrittenPiece] = []
        start = 0
        if self._decoder is None:
            start = _standard_frames(data, pieces)
            if start < len(data):
                from ..sse.decoder import Decoder  # only raw timeline text is decoded

                self._decoder = Decoder(stream_start=self._fed + start == 0)
                self._decoder_base = self._fed + start
        if self._decoder is not None:
            base = self._fed + start - self._decoder_base
            decoded_pieces(self._decoder, data[start:], base, pieces)
            if self._decoder.at_boundary:
                self._decoder = None
        self._fed += len(data)
        for _, _, name, kind in reversed(pieces):
            if kind == "event":
                self.last_event = name
                break
        self.record.frames_written(pieces, at=at)

    def closed(self, reason: CloseReason, *, drop_kind: str | None = None) -> None:
        """The connection ended, and why (only the first close counts)."""
        self.record.closed(reason, drop_kind=drop_kind)


def last_event_of(frames: Sequence[bytes], names: Sequence[str]) -> str | None:
    """The name of the last event among whole ``frames`` (comment frames start with ``:``)."""
    for index in range(len(frames) - 1, -1, -1):
        if frames[index][:1] != b":":
            return names[index]
    return None


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


def decoded_pieces(decoder: Decoder, data: bytes, base: int, pieces: list[WrittenPiece]) -> None:
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
