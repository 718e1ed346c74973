"""The journal: what the mock was asked and what it streamed, for tests to read afterwards.

Every ``/v1`` request and every event-stream connection, frame by frame, with why it closed;
bounded in memory and thread-safe. What a record holds, the close reasons and the bounds:
docs/architecture.md, "The journal".
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, cast, overload
from urllib.parse import unquote_plus

from reader_mock.contract.channels import Channel

from .clock import Clock, ManualClock, format_timestamp

__all__ = [
    "CLOSE_REASONS",
    "MAX_FRAMES",
    "MAX_FRAME_BYTES",
    "MAX_REQUESTS",
    "MAX_STREAMS",
    "CloseReason",
    "EncodedFrames",
    "FrameKind",
    "FrameRecord",
    "HangUpProbe",
    "Journal",
    "JournalCleared",
    "MaskedHeaders",
    "RequestRecord",
    "StreamRecord",
    "WrittenPiece",
    "mask_headers",
    "mask_query",
]

MAX_REQUESTS: Final = 2000
"""Requests kept; older ones are dropped (and counted)."""
MAX_STREAMS: Final = 500
"""Stream connections kept; older ones are dropped (and counted)."""
MAX_FRAMES: Final = 1000
"""Frames kept per connection; older ones are dropped (and counted on the connection)."""
MAX_FRAME_BYTES: Final = 4096
"""Bytes kept of one frame; ``size`` still gives its full length."""


class HangUpProbe(Protocol):
    """Tells, from any thread, whether the client of a stream has hung up."""

    def hung_up(self) -> bool: ...


def _one_by_one(peers: Sequence[HangUpProbe | None]) -> list[bool]:
    return [peer is not None and peer.hung_up() for peer in peers]


FrameKind = Literal["event", "comment", "raw"]
WrittenPiece = tuple[bytes, int, str, FrameKind]
"""One frame of a write: its first :data:`MAX_FRAME_BYTES` bytes, its full size, its name (the
event name, the comment text, ``""`` for raw text) and its kind."""


class EncodedFrames(Sequence[WrittenPiece]):
    """The frames of one write, as the stream that encoded them knows them: ``frames[i]`` the
    bytes of a whole frame, ``names[i]`` its event name, or its comment text for a frame that
    starts with ``:``. Pieces are made when read, so journaling a long burst costs nothing
    per frame; the bytes are the stream's own (shared, not copied)."""

    __slots__ = ("_kept", "frames", "names", "sizes")

    def __init__(
        self, frames: Sequence[bytes], names: Sequence[str], sizes: Sequence[int] | None = None
    ) -> None:
        """``sizes``: the full sizes, when ``frames`` holds only the first bytes of each."""
        if len(frames) != len(names) or (sizes is not None and len(sizes) != len(frames)):
            raise ValueError("every frame needs a name (and a size, if sizes are given)")
        self.frames = frames
        self.names = names
        self.sizes = sizes
        self._kept: _Batch | None = None

    def batch_at(self, moment: float) -> _Batch:
        """The frames as a stream record keeps them, written at ``moment``: one tuple for every
        stream that writes them at that moment (a write many streams share)."""
        kept = self._kept
        if kept is None or kept[0] != moment:
            kept = self._kept = (moment, tuple(self.frames), tuple(self.names), self.sizes_kept())
        return kept

    @classmethod
    def kept(cls, frames: Sequence[bytes], names: Sequence[str]) -> EncodedFrames:
        """The frames as the journal keeps them: any frame longer than :data:`MAX_FRAME_BYTES`
        cut now, so the journal does not hold on to large frames."""
        if not frames or max(map(len, frames)) <= MAX_FRAME_BYTES:
            return cls(frames, names)
        return cls([frame[:MAX_FRAME_BYTES] for frame in frames], names, [len(f) for f in frames])

    def sizes_kept(self) -> tuple[int, ...] | None:
        """The full sizes as a tuple, if they differ from the frames' lengths."""
        return None if self.sizes is None else tuple(self.sizes)

    def __len__(self) -> int:
        return len(self.frames)

    @overload
    def __getitem__(self, index: int) -> WrittenPiece: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[WrittenPiece]: ...

    def __getitem__(self, index: int | slice) -> WrittenPiece | Sequence[WrittenPiece]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        frame = self.frames[index]
        kind: FrameKind = "comment" if frame[:1] == b":" else "event"
        size = len(frame) if self.sizes is None else self.sizes[index]
        return (frame[:MAX_FRAME_BYTES], size, self.names[index], kind)


_Batch = (
    tuple[float, tuple[bytes, ...], tuple[str, ...], tuple[int, ...] | None]
    | tuple[float, tuple[WrittenPiece, ...]]
)
"""A write as a stream record keeps it: its clock time, then the frames, names and sizes of an
:class:`EncodedFrames`, or the pieces of any other write."""


def _pieces(batch: _Batch) -> Sequence[WrittenPiece]:
    if len(batch) == 4:
        return EncodedFrames(batch[1], batch[2], batch[3])
    return batch[1]


CloseReason = Literal["after_done", "scripted_drop", "client_disconnect", "shutdown", "overflow"]
CLOSE_REASONS: Final[tuple[CloseReason, ...]] = (
    "after_done",
    "scripted_drop",
    "client_disconnect",
    "shutdown",
    "overflow",
)
"""Why a connection closed: the server ended it after ``done``; a timeline step dropped it; the
client hung up; the server shut down (or was reset); the client read too slowly and its queue
overflowed."""

_CHANNELS: Final = tuple(Channel)


class JournalCleared(RuntimeError):
    """The journal was cleared (the mock was reset) while :meth:`Journal.wait_for_stream` waited:
    what it waited for belongs to a test that is over."""


# Headers whose values are secrets: only their last characters are kept.
_SECRET_HEADERS: Final = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "x-mock-token"}
)
# Headers made of name=value pairs whose values are all secrets (the names stay readable).
_SECRET_PAIR_HEADERS: Final = frozenset({"cookie"})
# Query parameters whose values are secrets, compared without case, "-" and "_".
_SECRET_PARAMETERS: Final = frozenset(
    {
        "apikey",
        "xapikey",
        "key",
        "token",
        "accesstoken",
        "auth",
        "authorization",
        "password",
        "secret",
        "mocktoken",
        "xmocktoken",
    }
)
_VISIBLE_TAIL: Final = 4


def _mask(value: str) -> str:
    """``****abcd``: the last four characters of a secret, enough to tell keys apart."""
    if len(value) <= _VISIBLE_TAIL:
        return "*" * len(value)
    return "****" + value[-_VISIBLE_TAIL:]


def _mask_pairs(value: str, separator: str, secret: Callable[[str], bool]) -> str:
    """``a=1; b=2`` with the values of the secret names masked, the rest as it was."""
    parts = []
    for part in value.split(separator):
        name, equals, item = part.partition("=")
        parts.append(f"{name}={_mask(item)}" if equals and secret(name) else part)
    return separator.join(parts)


def _secret_parameter(name: str) -> bool:
    plain = unquote_plus(name).strip().lower().replace("-", "").replace("_", "")
    return plain in _SECRET_PARAMETERS


def mask_query(query: str) -> str:
    """A raw query string with the values of secret parameters (``api_key``, ``token``...)
    masked but for their last 4 characters; the rest as it was."""
    return _mask_pairs(query, "&", _secret_parameter) if "=" in query else query


class MaskedHeaders(dict[str, str]):
    """Headers :func:`mask_headers` made: given to the journal again (the request that opened a
    stream, whose record has them), they are kept as they are, not masked a second time."""

    __slots__ = ()


def mask_headers(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> MaskedHeaders:
    """Headers as a dict with lower-case names, secret values masked but for their last 4
    characters; a header given twice keeps its values joined with ``", "``."""
    if isinstance(headers, MaskedHeaders):
        return headers
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    result = MaskedHeaders((_lower(name), value) for name, value in pairs)
    if len(result) == len(pairs):
        # Every name once (nearly every request): the secrets are masked in place.
        for key in _SECRET_HEADERS.intersection(result):
            result[key] = _mask(result[key])
        for key in _SECRET_PAIR_HEADERS.intersection(result):
            result[key] = _mask_pairs(result[key], ";", _always)
        return result
    return _mask_repeated_headers(pairs)


def _lower(name: str) -> str:
    """``name`` in lower case, without a copy when it is already (as servers give names): a
    stream's record keeps its request's headers for as long as it is open."""
    return name if name.islower() else name.lower()


def _always(_name: str) -> bool:
    return True


def _mask_repeated_headers(pairs: list[tuple[str, str]]) -> MaskedHeaders:
    """:func:`mask_headers` of headers where a name comes more than once."""
    result = MaskedHeaders()
    for name, value in pairs:
        key = _lower(name)
        if key in _SECRET_HEADERS:
            shown = _mask(value)
        elif key in _SECRET_PAIR_HEADERS:
            shown = _mask_pairs(value, ";", _always)
        else:
            shown = value
        result[key] = f"{result[key]}, {shown}" if key in result else shown
    return result


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP request and the status it was answered with."""

    seq: int
    """Position in the journal, counting every record (requests and streams) from 1."""
    at: float
    """Clock time of the answer."""
    method: str
    path: str
    query: str
    """The raw query string, without ``?``; secret parameters (``api_key``, ``token``...) masked."""
    headers: dict[str, str]
    """Lower-case names; secret values (``x-api-key``, ``authorization``, ``proxy-authorization``,
    ``x-mock-token``, each cookie of ``cookie``) masked but for their last 4 characters."""
    status: int
    request_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (camelCase keys, RFC 3339 time)."""
        return {
            "seq": self.seq,
            "at": format_timestamp(self.at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "status": self.status,
            "requestId": self.request_id,
        }


_Noted = tuple[int, float, str, str, bytes, tuple[tuple[str, str], ...], int, str | None]
"""A request as :meth:`Journal.note_request` keeps it until the journal is read: plain tuples of
strings, which Python's cyclic collector stops tracking (a busy server notes thousands)."""


def _record_of(noted: _Noted) -> RequestRecord:
    seq, at, method, path, query, headers, status, request_id = noted
    return RequestRecord(
        seq,
        at,
        method.upper(),
        path,
        mask_query(query.decode("latin-1")),
        mask_headers(headers),
        status,
        request_id,
    )


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One piece of a stream as it was written: an event, a comment or raw text."""

    at: float
    kind: FrameKind
    name: str
    """The event name, the comment text (``ping``), or ``""`` for raw text."""
    data: bytes
    """The bytes written, cut to :data:`MAX_FRAME_BYTES`."""
    size: int
    """The full number of bytes written."""

    @property
    def event_id(self) -> str | None:
        """The ``id:`` an event frame carried (when ids are on), else ``None``."""
        if self.kind != "event":
            return None
        for line in self.data.split(b"\n"):
            if line.startswith(b"id:"):
                return line[3:].removeprefix(b" ").rstrip(b"\r").decode("utf-8", "replace")
            if not line.strip() or line.startswith(b"data:"):
                break
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the bytes as UTF-8 text (invalid bytes replaced)."""
        return {
            "at": format_timestamp(self.at),
            "kind": self.kind,
            "name": self.name,
            "text": self.data.decode("utf-8", errors="replace"),
            "size": self.size,
            "truncated": self.size > len(self.data),
        }


@dataclass(slots=True, eq=False)
class StreamRecord:
    """One event-stream connection, from open to close. Written by the stream, read by tests."""

    seq: int
    channel: Channel
    job_id: str | None
    workspace_id: str | None
    opened_at: float
    headers: dict[str, str]
    last_event_id: str | None
    reconnect_of: int | None
    """``seq`` of the earlier connection of the same channel and job (or workspace), if any."""
    _journal: Journal = field(repr=False)
    # Frames are kept as written, one batch per write, and become FrameRecords when read:
    # a long burst costs a tuple per frame. Whole batches beyond MAX_FRAMES are forgotten.
    # A list rather than a deque: an idle connection's empty list is a tenth of the size.
    # Each batch is made of plain tuples of bytes and strings, which Python's cyclic
    # collector stops tracking: a thousand streams' batches add nothing to its full passes.
    _batches: list[_Batch] = field(default_factory=list)
    _held: int = 0
    _forgotten: int = 0
    closed_at: float | None = None
    close_reason: CloseReason | None = None
    drop_kind: str | None = None
    """For a ``scripted_drop``: how (``clean``, ``truncate``, ``mid-frame``, ``reset``); for an
    ``overflow``: ``truncate`` or ``reset``."""
    _peer: HangUpProbe | None = field(default=None, repr=False)
    _announced: bool = field(default=True, repr=False)
    _settled_to: float = field(default=float("-inf"), repr=False)

    def settled_to(self, at: float) -> None:
        """The stream has written everything due up to clock time ``at`` and waits for more
        (see :meth:`Journal.wait_settled`)."""
        self._settled_to = at
        journal = self._journal
        # Read after the write: a waiter counted later sees the new time when it first looks.
        if journal._settle_waiters:
            with journal._lock:
                journal._stream_opened.notify_all()

    def watch_peer(self, peer: HangUpProbe) -> None:
        """Give the record a way to tell, from any thread, that the client has hung up; the
        journal asks it before the clock moves and when it is read (see :meth:`Journal.settle`)."""
        self._peer = peer

    @property
    def frames(self) -> list[FrameRecord]:
        """The frames kept, oldest first."""
        with self._journal._lock:
            batches = list(self._batches)
        records = [
            FrameRecord(batch[0], kind, name, data, size)
            for batch in batches
            for data, size, name, kind in _pieces(batch)
        ]
        return records[-MAX_FRAMES:]

    @property
    def frames_dropped(self) -> int:
        """Frames no longer kept because the connection sent more than :data:`MAX_FRAMES`."""
        with self._journal._lock:
            return self._forgotten + max(0, self._held - MAX_FRAMES)

    @property
    def event_names(self) -> list[str]:
        """Names of the events sent, in order (comments and raw text left out)."""
        return [frame.name for frame in self.frames if frame.kind == "event"]

    @property
    def event_ids(self) -> list[str]:
        """The ids the events sent carried, in order (empty when ids are off)."""
        return [i for i in (frame.event_id for frame in self.frames) if i is not None]

    @property
    def is_open(self) -> bool:
        """True until :meth:`closed` is called."""
        return self.close_reason is None

    def frame(
        self,
        data: bytes,
        *,
        name: str = "",
        kind: FrameKind = "event",
        at: float | None = None,
    ) -> FrameRecord:
        """Note bytes written to the connection: an event (``name`` its event name), a comment
        (``name`` its text) or raw text. ``at`` defaults to the clock's time."""
        moment = self._journal.clock.now() if at is None else at
        piece = (bytes(data[:MAX_FRAME_BYTES]), len(data), name, kind)
        self._keep(moment, (piece,))
        return FrameRecord(moment, kind, name, piece[0], piece[1])

    def frames_written(self, pieces: Sequence[WrittenPiece], *, at: float | None = None) -> None:
        """Note the frames of one write, all at ``at`` (default: the clock's time); see
        :data:`WrittenPiece`."""
        if pieces:
            self._keep(self._journal.clock.now() if at is None else at, pieces)

    def _keep(self, moment: float, pieces: Sequence[WrittenPiece]) -> None:
        batch: _Batch
        if isinstance(pieces, EncodedFrames):
            batch = pieces.batch_at(moment)
        else:
            batch = (moment, tuple(pieces))
        with self._journal._lock:
            self._batches.append(batch)
            self._held += len(pieces)
            while self._held - len(self._batches[0][1]) >= MAX_FRAMES:
                forgotten = len(self._batches.pop(0)[1])
                self._held -= forgotten
                self._forgotten += forgotten

    def closed(
        self, reason: CloseReason, *, drop_kind: str | None = None, at: float | None = None
    ) -> None:
        """Note that the connection ended and why; only the first call counts (a stream may
        see its own ``after_done`` and then the client's hang-up)."""
        if reason not in CLOSE_REASONS:
            raise ValueError(f"unknown close reason {reason!r}; expected one of {CLOSE_REASONS}")
        moment = self._journal.clock.now() if at is None else at
        with self._journal._lock:
            if self.close_reason is not None:
                return
            self.close_reason = reason
            self.closed_at = moment
            self.drop_kind = drop_kind
            # A closed stream has nothing left to settle: Journal.wait_settled may be done.
            self._journal._stream_opened.notify_all()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (camelCase keys, RFC 3339 times)."""
        return {
            "seq": self.seq,
            "channel": self.channel,
            "jobId": self.job_id,
            "workspaceId": self.workspace_id,
            "openedAt": format_timestamp(self.opened_at),
            "headers": dict(self.headers),
            "lastEventId": self.last_event_id,
            "reconnectOf": self.reconnect_of,
            "frames": [frame.to_dict() for frame in self.frames],
            "framesDropped": self.frames_dropped,
            "closedAt": None if self.closed_at is None else format_timestamp(self.closed_at),
            "closeReason": self.close_reason,
            "dropKind": self.drop_kind,
        }

    def describe(self) -> str:
        """A few lines for a failure message: the connection, its frames and its end."""
        target = f"job {self.job_id}" if self.job_id else f"workspace {self.workspace_id}"
        opened = format_timestamp(self.opened_at)
        head = f"#{self.seq} {self.channel} stream of {target}, opened {opened}"
        if self.reconnect_of is not None:
            head += f", reconnect of #{self.reconnect_of}"
        if self.last_event_id is not None:
            head += f", Last-Event-ID {self.last_event_id!r}"
        lines = [head]
        if self.frames_dropped:
            lines.append(f"    ... {self.frames_dropped} earlier frames not kept")
        for frame in self.frames:
            lines.append(f"    {format_timestamp(frame.at)} {frame.kind} {frame.name}".rstrip())
        if self.close_reason is None:
            lines.append("    still open")
        else:
            how = f" ({self.drop_kind})" if self.drop_kind else ""
            assert self.closed_at is not None
            lines.append(f"    closed {format_timestamp(self.closed_at)}: {self.close_reason}{how}")
        return "\n".join(lines)


class Journal:
    """Bounded record of requests and stream connections, on the mock's clock."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_requests: int = MAX_REQUESTS,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        if max_requests < 1 or max_streams < 1:
            raise ValueError("a journal keeps at least one request and one stream")
        self.clock = clock
        self._lock = threading.RLock()
        # Notified whenever a stream connection is recorded or the journal cleared.
        self._stream_opened = threading.Condition(self._lock)
        self.ask_peers: Callable[[Sequence[HangUpProbe | None]], list[bool]] = _one_by_one
        """Asks the clients of open streams whether they hung up, all at once (the server
        gives one that asks their sockets with one system call)."""
        self._settle_waiters = 0
        """Threads in :meth:`wait_settled`: streams notify only while there are some."""
        self._generation = 0
        self._seq = 0
        self._requests: deque[RequestRecord | _Noted] = deque(maxlen=max_requests)
        self._streams: deque[StreamRecord] = deque(maxlen=max_streams)
        self._requests_dropped = 0
        self._streams_dropped = 0
        if isinstance(clock, ManualClock):
            # A client that hung up is recorded as gone before the clock moves on, so nothing
            # the stream would have sent it later counts as sent.
            clock.before_advance(self.settle)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def request(
        self,
        method: str,
        path: str,
        *,
        status: int,
        query: str = "",
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        request_id: str | None = None,
        at: float | None = None,
    ) -> RequestRecord:
        """Record one answered request; ``at`` defaults to the clock's time."""
        moment = self.clock.now() if at is None else at
        masked = mask_headers(headers)
        query = mask_query(query)
        with self._lock:
            record = RequestRecord(
                self._next_seq(), moment, method.upper(), path, query, masked, status, request_id
            )
            if len(self._requests) == self._requests.maxlen:
                self._requests_dropped += 1
            self._requests.append(record)
        return record

    def note_request(
        self,
        method: str,
        path: str,
        *,
        status: int,
        query: bytes,
        headers: list[tuple[str, str]],
        request_id: str | None,
    ) -> None:
        """:meth:`request` for the server, which answers every request and reads none: the
        facts are kept as given (``query`` raw, ``headers`` a list the caller no longer
        changes) and become a :class:`RequestRecord`, secrets masked, when the journal is
        first read. Nothing unmasked leaves the journal."""
        moment = self.clock.now()
        with self._lock:
            noted = (
                self._next_seq(),
                moment,
                method,
                path,
                query,
                tuple(headers),
                status,
                request_id,
            )
            if len(self._requests) == self._requests.maxlen:
                self._requests_dropped += 1
            self._requests.append(noted)

    def _request_records(self) -> list[RequestRecord]:
        """Under the lock: the requests kept, oldest first, noted ones made records (once)."""
        kept = self._requests
        if all(type(entry) is RequestRecord for entry in kept):
            return cast(list[RequestRecord], list(kept))
        records = [
            entry if type(entry) is RequestRecord else _record_of(cast(_Noted, entry))
            for entry in kept
        ]
        kept.clear()
        kept.extend(records)
        return records

    def stream_opened(
        self,
        channel: Channel | str,
        *,
        job_id: str | None = None,
        workspace_id: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        at: float | None = None,
        announce: bool = True,
    ) -> StreamRecord:
        """Record a new stream connection and return its record, which the stream then writes
        its frames and its close to. ``Last-Event-ID`` is read from ``headers``.

        ``announce=False``: :meth:`wait_for_stream` does not see it until :meth:`announce` (the
        stream layer announces a connection once its body starts)."""
        if channel not in _CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; expected 'job' or 'workspace'")
        channel = Channel(channel)
        moment = self.clock.now() if at is None else at
        masked = mask_headers(headers)
        with self._lock:
            earlier = self._previous(channel, job_id, workspace_id)
            record = StreamRecord(
                seq=self._next_seq(),
                channel=channel,
                job_id=job_id,
                workspace_id=workspace_id,
                opened_at=moment,
                headers=masked,
                last_event_id=masked.get("last-event-id"),
                reconnect_of=None if earlier is None else earlier.seq,
                _journal=self,
                _announced=announce,
            )
            if len(self._streams) == self._streams.maxlen:
                self._streams_dropped += 1
            self._streams.append(record)
            if announce:
                self._stream_opened.notify_all()
        return record

    def announce(self, record: StreamRecord) -> None:
        """Let :meth:`wait_for_stream` see a connection recorded with ``announce=False``."""
        with self._lock:
            record._announced = True
            self._stream_opened.notify_all()

    def _previous(
        self, channel: Channel, job_id: str | None, workspace_id: str | None
    ) -> StreamRecord | None:
        for record in reversed(self._streams):
            if record.channel != channel:
                continue
            if channel == "job" and record.job_id == job_id:
                return record
            if channel == "workspace" and record.workspace_id == workspace_id:
                return record
        return None

    # ------------------------------------------------------------------ reading

    def settle(self) -> int:
        """Close, for ``client_disconnect``, every open connection whose client has hung up
        (its socket was closed on the other side); returns how many. Every read of the streams
        and every move of a manual clock does this first, so the journal never shows a stream
        open to a client that is gone, and nothing written after the client left is recorded."""
        with self._lock:
            watched = [r for r in self._streams if r.close_reason is None and r._peer]
        peers = [record._peer for record in watched]
        gone = 0
        for record, hung_up in zip(watched, self.ask_peers(peers), strict=True):
            if hung_up:
                record.closed("client_disconnect")
                gone += 1
        return gone

    def wait_settled(self, timeout: float = 2.0) -> bool:
        """Wait (up to ``timeout`` wall seconds) until every open connection has written what
        was due by the clock's time, on a manual clock; returns whether they all have. The
        plugin's assertions call it first, so no test sleeps before reading the journal. Call
        it from a test's thread, never in the server's event loop."""
        if not isinstance(self.clock, ManualClock):
            return True
        self.settle()

        def settled() -> bool:
            now = self.clock.now()
            return all(
                record._settled_to >= now
                for record in self._streams
                if record.close_reason is None and record._announced
            )

        with self._stream_opened:
            self._settle_waiters += 1
            try:
                return self._stream_opened.wait_for(settled, timeout)
            finally:
                self._settle_waiters -= 1

    def discard(self, record: StreamRecord) -> None:
        """Forget one connection (a stream set up across a reset belongs to no test)."""
        with self._lock:
            if record in self._streams:
                self._streams.remove(record)

    def close_open(self, reason: CloseReason) -> None:
        """Close every connection still open, for ``reason`` (a reset closes them for
        ``shutdown``); no client is asked whether it is still there."""
        with self._lock:
            still_open = [record for record in self._streams if record.close_reason is None]
        for record in still_open:
            record.closed(reason)

    def requests(
        self, *, method: str | None = None, path: str | None = None
    ) -> list[RequestRecord]:
        """Requests kept, oldest first, filtered by method and exact path when given."""
        with self._lock:
            found = self._request_records()
        if method is not None:
            found = [record for record in found if record.method == method.upper()]
        if path is not None:
            found = [record for record in found if record.path == path]
        return found

    def streams(
        self, *, channel: Channel | str | None = None, job_id: str | None = None
    ) -> list[StreamRecord]:
        """Stream connections kept, oldest first, filtered by channel and job when given
        (settled first: see :meth:`settle`)."""
        self.settle()
        with self._lock:
            found = list(self._streams)
        if channel is not None:
            found = [record for record in found if record.channel == channel]
        if job_id is not None:
            found = [record for record in found if record.job_id == job_id]
        return found

    def wait_for_stream(
        self,
        *,
        channel: Channel | str | None = None,
        job_id: str | None = None,
        besides: Collection[StreamRecord] = (),
        timeout: float = 5.0,
    ) -> StreamRecord:
        """The first stream connection kept that matches ``channel`` and ``job_id`` and is not
        in ``besides``, waiting up to ``timeout`` wall seconds for one to open.

        A connection is recorded once the server has subscribed it, so from then on every event
        reaches it. Pass the connections you already know in ``besides`` to wait for a new one.

        Raises:
            TimeoutError: no such connection opened in time.
            JournalCleared: the journal was cleared (a reset) while waiting.
            ValueError: an unknown channel or a negative timeout.
        """
        if channel is not None and channel not in _CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; expected 'job' or 'workspace'")
        if not timeout >= 0:
            raise ValueError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        known = set(besides)
        with self._lock:
            generation = self._generation

        def found() -> StreamRecord | bool | None:
            if self._generation != generation:
                return True
            for record in self.streams(channel=channel, job_id=job_id):
                if record._announced and record not in known:
                    return record
            return None

        with self._stream_opened:
            record = self._stream_opened.wait_for(found, timeout)
        if record is True:
            raise JournalCleared("the journal was cleared (the mock was reset) while waiting")
        if not isinstance(record, StreamRecord):
            target = f"of job {job_id}" if job_id is not None else "of any job or workspace"
            kind = f"{channel} stream" if channel is not None else "event stream"
            raise TimeoutError(f"no new {kind} {target} opened within {timeout} s")
        return record

    def clear(self) -> None:
        """Forget everything (numbering starts again at 1); a :meth:`wait_for_stream` under way
        raises :class:`JournalCleared`."""
        with self._lock:
            self._generation += 1
            self._stream_opened.notify_all()
            self._seq = 0
            self._requests.clear()
            self._streams.clear()
            self._requests_dropped = 0
            self._streams_dropped = 0

    @property
    def generation(self) -> int:
        """How many times the journal was cleared: a waiter compares it to know it is stale."""
        return self._generation

    def to_dict(self) -> dict[str, Any]:
        """Everything kept, JSON-ready: ``requests``, ``streams`` and the dropped counts."""
        self.settle()
        with self._lock:
            requests = self._request_records()
            streams = list(self._streams)
            dropped = {"requests": self._requests_dropped, "streams": self._streams_dropped}
        return {
            "requests": [record.to_dict() for record in requests],
            "streams": [record.to_dict() for record in streams],
            "dropped": dropped,
        }
