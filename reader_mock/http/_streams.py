"""The two Server-Sent Events streams: ``GET /v1/jobs/{id}/stream`` and ``GET /v1/events``.

Each stream reads a :class:`~reader_mock.core.logs.StreamLog`, frames its records, adds pings and
ends as scripted, recording what it writes in the journal; the hub (``_stream_hub.py``) holds the
open streams and the job scheduler. How they batch, ping, drop, resume and end:
docs/architecture.md, "The streams on the wire".
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import weakref
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._collector import COLLECTOR
from .._types import Receive, Send
from ..core.clock import Alarm
from ..core.journal import CloseReason, EncodedFrames
from ..core.logs import FrameRun, Record
from ..core.scheduler import Wake
from ..core.service import JobWatch, Service
from ..sse.drops import Drop, DropKind, perform_drop
from ..sse.encoder import encode_comment, encode_json_event, encode_json_frame
from ..sse.tcp_reset import find_connection, reset_connection
from ._peer import Peer, hung_up_among
from ._stream_hub import StreamHub, prepare_frame
from ._wire import chunked_transport, framed_chunk, ready, write_chunk
from .recording import StreamRecorder, last_event_of

if TYPE_CHECKING:
    pass

__all__ = [
    "MAX_PINGS_AT_ONCE",
    "MAX_WRITE",
    "PING",
    "OverflowDrop",
    "Stream",
    "open_job_stream",
    "open_workspace_stream",
]

PING: Final = encode_comment("ping")
MAX_WRITE: Final = 256 * 1024
"""Frames ready together go out in one write of at most this many bytes (more: several writes)."""
MAX_PINGS_AT_ONCE: Final = 1000
"""Pings sent at once after the clock jumped over many intervals; later ones are skipped."""
_TURNS_AT_ONCE: Final = 250
"""Parked streams that take their turns in one callback of the event loop; the others take
theirs in the next turns of the loop, after what became ready meanwhile (REST requests)."""
_TAKE: Final = 4096
"""Records a stream takes from its log at a time."""
_EPSILON: Final = 1e-9
_WOKEN: Final = "reader-mock: the stream was woken"
"""The message of the cancellation that ends a stream's wait in ``receive`` (see
:meth:`Stream._wait`)."""


class _End:
    """Marks the end of a stream's body in a list of writes."""


_END: Final = _End()


class _Waker:
    """The streams of one event loop: woken from other threads with one loop callback for any
    number of pokes, so a burst over many streams cannot fill the loop's self-pipe (the pipe
    that also carries signals such as SIGTERM); and the turns of its parked streams called
    back in one turn of the loop, taken together, after one poll of all their sockets."""

    __slots__ = ("__weakref__", "_lock", "_parked", "_pending", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._pending: set[Wake] = set()
        self._parked: list[Stream] = []

    def wake(self, event: Wake) -> None:
        with self._lock:
            first = not self._pending
            self._pending.add(event)
        if first:
            # RuntimeError: the loop is closed, so its streams are gone too.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._run)

    def _run(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, set()
        for event in pending:
            event.set()

    def turn(self, stream: Stream) -> None:
        """Take a turn for the parked ``stream`` soon, with the others called back meanwhile
        (in the loop's thread)."""
        if not self._parked:
            self.loop.call_soon(self._turns)
        self._parked.append(stream)

    def _turns(self) -> None:
        parked = self._parked
        streams, self._parked = parked[:_TURNS_AT_ONCE], parked[_TURNS_AT_ONCE:]
        if self._parked:
            self.loop.call_soon(self._turns)  # requests that came meanwhile go in between
        gone = hung_up_among([stream.peer for stream in streams])
        shared: _Shared = {}
        for stream, hung_up in zip(streams, gone, strict=True):
            stream.called_back(hung_up, shared)
        if not self._parked:
            COLLECTOR.calm()  # the burst is over: the time for a full collection, if one is due


_WAKERS: Final[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waker]] = (
    weakref.WeakKeyDictionary()
)
_WAKERS_LOCK: Final = threading.Lock()


def _waker_for(loop: asyncio.AbstractEventLoop) -> _Waker:
    with _WAKERS_LOCK:
        waker = _WAKERS.get(loop)
        if waker is None:
            waker = _WAKERS[loop] = _Waker(loop)
        return waker


class _Connection:
    """One open stream as the log, the hub and the clock reach it (from any thread)."""

    __slots__ = ("ended", "event", "loop", "overflowed", "reset", "scope", "waker", "writing")

    def __init__(self, loop: asyncio.AbstractEventLoop, scope: Mapping[str, Any]) -> None:
        self.loop = loop
        self.scope = scope
        self.event = Wake()
        self.waker = _waker_for(loop)
        self.writing = False
        self.overflowed = False
        self.reset = False
        self.ended = False

    def poke(self) -> None:
        """Wake the stream: news in its log, or the hub is closing. In the stream's own loop the
        event is set at once; from another thread the wakeups are coalesced (:class:`_Waker`)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.event.set()
        else:
            self.waker.wake(self.event)

    def overflow(self) -> None:
        """The log let this stream go: it fell too far behind."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._cut)

    def _cut(self) -> None:
        self.overflowed = True
        if self.writing:
            # Stuck in a write to a client that does not read: no frame can get through, so
            # the connection is reset (a truncation would wait behind the unread bytes).
            transport = find_connection(self.scope)
            if transport is not None:
                reset_connection(transport)
                self.reset = True
        self.event.set()


@dataclass(frozen=True, slots=True)
class OverflowDrop(Drop):
    """How a stream ends whose client fell too far behind: a truncation, unless the connection
    was already reset (``reset``) because the stream was stuck in a write. The journal records
    it as closed for ``overflow`` rather than as a scripted drop."""

    reset: bool = False


class _Pings:
    """The keep-alive schedule of one stream: every ``interval`` clock seconds from ``start``."""

    __slots__ = ("count", "interval", "next", "start")

    def __init__(self, start: float, interval: float) -> None:
        self.start = start
        self.interval = interval
        self.count = 0
        self.next = start + interval
        """Clock time of the next ping."""

    def due(self, until: float) -> int:
        """How many pings to send for the time up to ``until`` (they are then counted as sent)."""
        passed = math.floor((until - self.start) / self.interval + _EPSILON)
        if passed <= self.count:
            return 0
        due = passed - self.count
        self.count = passed
        self.next = self.start + (passed + 1) * self.interval
        return min(due, MAX_PINGS_AT_ONCE)


_Items = list["_Write | Drop | _End"]
_SharedKey = tuple[int, int, int, bool, bool]
"""The log read (its id), the places read (from, to), ids on, ends with ``done``."""
_Shared = dict[_SharedKey, _Items]
"""Writes of one turn, by what was read."""


class _Write:
    """One write of a stream: its bytes, and for whole frames encoded here, the frames as the
    journal keeps them and the name of the last event among them (worked out once, for every
    stream that shares the write). ``final``: the body ends right after it, so the journal
    records the close before the client can see the end."""

    __slots__ = ("at", "chunk", "data", "final", "kept", "last_event")

    def __init__(
        self,
        data: bytes,
        frames: Sequence[bytes] | None = None,
        names: Sequence[str] | None = None,
        *,
        final: bool = False,
        at: float | None = None,
    ) -> None:
        self.data = data
        self.kept = None if frames is None else EncodedFrames.kept(frames, names or ())
        self.last_event = None if names is None or frames is None else last_event_of(frames, names)
        self.final = final
        self.at = at
        """The clock time the journal gives the write (None: when it is written). What a
        connection is sent on opening is recorded at its opening, however late it goes out."""
        self.chunk: bytes | None = None
        """The write framed as a chunk of the body, made by the first stream that writes it
        straight to its connection."""

    def record(self, recorder: StreamRecorder, now: float | None = None) -> None:
        """Note the write in the journal, at its own time or else ``now`` (None: the clock's)."""
        at = self.at if self.at is not None else now
        if self.kept is None:
            recorder.raw(self.data, at=at)
        else:
            recorder.encoded(self.data, self.kept, self.last_event, at=at)


class _Batch:
    """Writes for one turn of a stream: frames joined up to :data:`MAX_WRITE`, raw writes kept
    apart, and how the body ends (a :class:`Drop` or :data:`_END`)."""

    __slots__ = ("items", "names", "pending", "size")

    def __init__(self) -> None:
        self.items: list[_Write | Drop | _End] = []
        self.pending: list[bytes] = []
        self.names: list[str] = []
        self.size = 0

    def frame(self, data: bytes, name: str) -> None:
        """An event frame named ``name``, or a comment frame whose text is ``name``."""
        self.pending.append(data)
        self.names.append(name)
        self.size += len(data)
        if self.size >= MAX_WRITE:
            self.flush()

    def run(self, run: FrameRun, start: int, stop: int) -> None:
        """Frames ``start`` to ``stop`` of a run, cut into writes exactly where :meth:`frame`
        would cut them one by one."""
        frames, names, ends = run.frames, run.names, run.ends
        while start < stop:
            base = ends[start - 1] if start else 0
            # The first frame that brings the pending write to MAX_WRITE, if one does.
            full = bisect_left(ends, base + MAX_WRITE - self.size, start, stop)
            last = min(full + 1, stop)
            self.pending.extend(frames[start:last])
            self.names.extend(names[start:last])
            self.size += ends[last - 1] - base
            if full < stop:
                self.flush()
            start = last

    def pings(self, count: int) -> None:
        for _ in range(count):
            self.frame(PING, "ping")

    def flush(self) -> None:
        if self.pending:
            # Tuples: the journal keeps them as they are, for every stream that shares the write.
            pending = tuple(self.pending)
            self.items.append(_Write(b"".join(pending), pending, tuple(self.names)))
            self.pending = []
            self.names = []
            self.size = 0

    def write(self, data: bytes) -> None:
        """A write of its own (raw text)."""
        self.flush()
        self.items.append(_Write(data))

    def end(self, how: Drop | _End) -> None:
        self.flush()
        if how is _END and self.items and isinstance(self.items[-1], _Write):
            self.items[-1].final = True
        self.items.append(how)


def _frame(record: Record, ids: bool) -> bytes:
    """The frame of an event record: its payload was serialized once, for every stream. With
    ``ids``, a numbered record carries its number as ``id:``."""
    event = record.event
    assert event is not None
    if ids and record.event_id:
        return encode_json_frame(event.name, event.json, id=str(record.event_id))
    frame = record.prepared
    if frame is None:
        # Framed once, by the first stream that writes it: the others write the same bytes.
        frame = record.prepared = prepare_frame(event)
    return frame


def _drop(record: Record) -> Drop | _End:
    """What a scripted drop record asks the body to end with."""
    how = record.drop
    if how is None:
        return _END
    if how is DropKind.MID_FRAME:
        cut = record.cut
        assert cut is not None
        return Drop.mid_frame(encode_json_frame(cut.name, cut.json))
    # Clean too: the middleware ends the body with its final chunk, and the journal learns the kind.
    return Drop(how)


class Stream:
    """One open stream: it reads its log, frames, pings, records and writes straight to the
    ASGI ``send`` of its request, and waits in the request's ``receive`` (so a client that hangs
    up ends it) until its log, the clock or the hub wakes it."""

    __slots__ = (
        "_alarm",
        "_ends_with_done",
        "_handed",
        "_hub",
        "_ids",
        "_opening",
        "_parked",
        "_pings",
        "_recorder",
        "_replay",
        "_service",
        "_task",
        "_watch",
        "_wire",
        "conn",
    )

    def __init__(
        self,
        service: Service,
        hub: StreamHub,
        watch: JobWatch,
        conn: _Connection,
        recorder: StreamRecorder,
        *,
        interval: float,
        opened_at: float,
        ids: bool,
        ends_with_done: bool,
        opening: list[_Write | _End] | None = None,
    ) -> None:
        self._service = service
        self._hub = hub
        self._watch = watch
        self.conn = conn
        self._recorder = recorder
        self._pings = _Pings(opened_at, interval)
        self._ids = ids
        self._replay = watch.replay
        self._ends_with_done = ends_with_done
        self._opening = opening
        self._task: asyncio.Task[Any] | None = None
        self._alarm: Alarm | None = None
        """The clock's call for the next ping while parked."""
        self._parked = False
        """Waiting (in ``receive``) for its flag or its next ping, which call it back."""
        self._wire: asyncio.Transport | None = None
        self._handed: tuple[_Items, bool, float] | None = None
        """A turn taken while the task was parked, with what it left for the task to do."""

    async def run(self, send: Send, receive: Receive) -> None:
        """Write the body (the response has started) until it ends, then let the log and the hub
        go. The journal's record closes with the reason, before the client can see the end.

        One coroutine does it all, writing and waiting: an idle stream holds one frame."""
        hub, conn, recorder = self._hub, self.conn, self._recorder
        self._task = asyncio.current_task()
        reason: CloseReason | None = None
        try:
            self._service.journal.announce(recorder.record)
            COLLECTOR.stream_opened(conn.loop)
            items: Iterable[_Write | Drop | _End] = self._opening or ()
            self._opening = None
            opening = True  # what a connection is sent on opening goes out even in a shutdown
            may_wait = False
            wired = False
            now = 0.0
            handed: tuple[_Items, bool, float] | tuple[()] | None = None
            while True:
                for item in items:
                    if isinstance(item, _End) or (hub.closing and not opening):
                        # The server is stopping: what is pending is dropped, the body ends now.
                        reason = _ending(recorder, hub, conn)
                        return
                    if not isinstance(item, OverflowDrop) and not recorder.live():
                        # Nobody reads this (or a reset closed the record).
                        reason = "client_disconnect"
                        return
                    if isinstance(item, Drop):
                        if item.partial:
                            recorder.raw(item.partial)
                        if isinstance(item, OverflowDrop):
                            kind = "reset" if item.reset else item.kind.value
                            recorder.closed("overflow", drop_kind=kind)
                        else:
                            recorder.closed("scripted_drop", drop_kind=item.kind.value)
                        await perform_drop(conn.scope, send, item)
                        return
                    item.record(recorder)
                    if item.final:
                        recorder.closed(_ending(recorder, hub, conn))
                    wire = self._wire
                    if wire is not None and write_chunk(wire, item.data):
                        continue
                    conn.writing = True
                    await send({"type": "http.response.body", "body": item.data, "more_body": True})
                    conn.writing = False
                    if not wired:
                        # The head and a first chunk went out through the server: the body's
                        # next chunks can go straight to the connection.
                        wired = True
                        self._wire = chunked_transport(conn.scope)
                opening = False
                # Written: nothing of this turn is kept while the stream waits.
                items = handed = ()
                item = _END
                if may_wait and not self._has_news():
                    recorder.record.settled_to(now)
                    if self._arm():
                        # Waits in receive: a stream needs no task of its own to hear its client
                        # hang up. The wake-up ends the wait by cancelling it (_WOKEN).
                        try:
                            while (await receive())["type"] != "http.disconnect":
                                pass  # a request body part: nothing reads it
                        except asyncio.CancelledError as exc:
                            if not self._woken(exc):
                                raise
                        else:
                            # The client hung up (or the server is stopping): nothing reaches it.
                            recorder.closed(
                                "shutdown" if hub.closing or conn.ended else "client_disconnect"
                            )
                            return
                        finally:
                            self._disarm()
                if hub.closing:
                    reason = _ending(recorder, hub, conn)
                    return
                handed = self._handed
                if handed:
                    self._handed = None
                    items, may_wait, now = handed
                else:
                    items, may_wait, now = self._turn()
        except asyncio.CancelledError:
            recorder.closed("shutdown" if hub.closing or conn.ended else "client_disconnect")
            raise
        finally:
            self._watch.unsubscribe()
            hub.discard(conn)
            COLLECTOR.stream_ended(conn.loop)
            if reason is not None:
                recorder.closed(reason)
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _has_news(self) -> bool:
        """Whether the stream has more to do before it may wait (its wake-up flag cleared)."""
        conn = self.conn
        conn.event.clear()
        reader = self._watch.reader
        assert reader is not None
        return (
            self._log().head > reader.cursor or conn.overflowed or self._hub.closing or conn.ended
        )

    def _arm(self) -> bool:
        """Park the stream: it is called back when its flag is set or its next ping is due;
        False when either is due already (no wait then). The clock alarm stays from one wait to
        the next while the next ping does not move."""
        conn = self.conn
        wake = conn.event
        if wake.is_set():
            return False
        ping_at = self._pings.next
        alarm = self._alarm
        if alarm is None or alarm.deadline != ping_at or not alarm.pending:
            if alarm is not None:
                alarm.cancel()
            alarm = self._alarm = self._service.clock.call_at(ping_at, conn.loop, self._ping_due)
            if alarm is None:
                return False
        wake.call_on_set(self._poked)
        self._parked = True
        return True

    def _disarm(self) -> None:
        """Unpark: nothing calls the stream back any more."""
        self._parked = False
        self.conn.event.call_on_set(None)
        self._drop_alarm()

    def _drop_alarm(self) -> None:
        alarm = self._alarm
        if alarm is not None:
            self._alarm = None
            alarm.cancel()

    def _poked(self) -> None:
        # Called as the flag is set, often from inside the log's commit: the turn comes after.
        self.conn.waker.turn(self)

    def _ping_due(self) -> None:
        self.conn.waker.turn(self)

    @property
    def headers(self) -> Mapping[str, str]:
        """The request's headers as the journal keeps them (secrets masked)."""
        return self._recorder.record.headers

    @property
    def peer(self) -> Peer | None:
        """The client end of the stream's connection, asked whether the client hung up."""
        return self._recorder.peer

    def _woken(self, cancelled: asyncio.CancelledError) -> bool:
        """Whether a cancellation of the wait is the stream's own wake-up (then undone)."""
        task = self._task
        if cancelled.args != (_WOKEN,) or task is None:
            return False
        return task.uncancel() == 0  # otherwise it was cancelled for another reason as well

    def called_back(self, hung_up: bool, shared: _Shared) -> None:
        """The parked stream's flag was set or its ping is due: a turn here, or in its task.
        ``hung_up``: whether its client was just found gone; ``shared``: see :meth:`_turn`."""
        task = self._task
        if not self._parked or task is None:
            return
        self._parked = False
        try:
            if self._turn_parked(hung_up, shared):
                return
        except Exception:  # the task takes the turn again, and ends with its error
            self._handed = None
        self._disarm()
        task.cancel(_WOKEN)

    def _turn_parked(self, hung_up: bool, shared: _Shared) -> bool:
        """Take a turn for the stream while its task stays parked in ``receive``, and wait again:
        True when done so. A turn that only writes frames to a connection ready for them needs
        nothing of the task; anything else (an end, a drop, a client that reads slowly or hung
        up, more records than one turn takes) is handed to the task, which is then woken."""
        wire, conn, hub = self._wire, self.conn, self._hub
        if wire is None or hub.closing or conn.ended or conn.overflowed:
            return False
        conn.event.call_on_set(None)  # news during the turn is seen at its end
        items, may_wait, now = self._turn(shared)
        recorder = self._recorder
        for index, item in enumerate(items):
            if (
                not isinstance(item, _Write)
                or item.final
                or not ready(wire)
                or not recorder.live(hung_up)
            ):
                self._handed = items[index:], may_wait, now
                return False
            item.record(recorder, now)
            if item.data:
                chunk = item.chunk
                if chunk is None:
                    chunk = item.chunk = framed_chunk(item.data)
                wire.write(chunk)
        if not may_wait or self._has_news() or hub.closing:
            return False
        recorder.record.settled_to(now)
        return self._arm()

    def _log(self) -> Any:
        watch = self._watch
        return watch.job.log if watch.job is not None else watch.workspace.feed

    def _turn(
        self, shared: _Shared | None = None
    ) -> tuple[list[_Write | Drop | _End], bool, float]:
        """What the stream writes now: the records its log has for it, with the pings due among
        them, and how the body ends if it does. Also whether it may wait afterwards (it took all
        its log had and did not end), and the clock time it looked at.

        ``shared``: the writes of the streams that took their turns just before, by what they
        read; a stream that reads the same records with no ping among them writes the same."""
        service, watch, conn, hub = self._service, self._watch, self.conn, self._hub
        reader = watch.reader
        assert reader is not None
        log = self._log()
        pings = self._pings
        interval = pings.interval
        ids = self._ids
        # The clock may have woken this stream before the driver: settle first, so that
        # events due before a ping are in the log when the ping's turn comes.
        now = service.clock.now()
        service.settle_due(watch.workspace, now)
        cursor = reader.cursor
        records = log.take(reader, _TAKE)
        taken = reader.cursor - cursor
        ping_at = pings.next
        replay = self._replay
        key: _SharedKey | None = None
        if (
            shared is not None
            and replay <= 0
            and 0 < taken < _TAKE
            and now < ping_at - interval * 1e-6  # no ping among the records, none due now
            and not (conn.overflowed or conn.ended or hub.closing)
        ):
            key = (id(log), cursor, reader.cursor, ids, self._ends_with_done)
            same = shared.get(key)
            if same is not None:
                self._replay = replay - taken
                return same, True, now
        batch = _Batch()
        finished = False
        for record in records:
            event = record.event
            run = record.run
            if run is not None:
                # Events applied as one run, all at one instant: written as they would be one by
                # one (a run holds no ``done``).
                if record.at >= ping_at - interval * 1e-6:
                    batch.pings(pings.due(record.at))
                    ping_at = pings.next
                batch.run(run, record.start, record.stop)
                replay -= record.size
                continue
            if event is not None:
                name = event.name
                # Most records are before the next ping: skip asking (due() decides exactly).
                if record.at >= ping_at - interval * 1e-6:
                    batch.pings(pings.due(record.at))
                    ping_at = pings.next
                # Prepared when the job was planned, unless ids are on or the engine wrote it later.
                frame = None if ids else record.prepared
                batch.frame(frame or _frame(record, ids), name)
                if self._ends_with_done and name == "done":
                    batch.end(_END)
                    finished = True
                    break
            elif replay > 0:
                pass  # a drop or raw text of the past: it was for the connections open then
            elif record.chunks:
                batch.pings(pings.due(record.at))
                for chunk in record.chunks:
                    batch.write(chunk)
            else:
                batch.pings(pings.due(record.at))
                batch.end(_drop(record))
                finished = True
                break
            replay -= 1
        self._replay = replay
        may_wait = not finished and taken < _TAKE
        if may_wait:
            batch.pings(pings.due(now))
            if conn.overflowed:
                batch.end(OverflowDrop(DropKind.TRUNCATE, reset=conn.reset))
                may_wait = False
            elif hub.closing or conn.ended:
                batch.end(_END)
                may_wait = False
        batch.flush()
        if key is not None and shared is not None and may_wait:
            shared[key] = batch.items
        return batch.items, may_wait, now


def _ending(recorder: StreamRecorder, hub: StreamHub, conn: _Connection) -> CloseReason:
    """Why a body that ends by itself ends: after ``done``, for a shutdown or reset, or (a body
    that ran out without either) as a scripted drop."""
    if recorder.last_event == "done":
        return "after_done"
    if hub.closing or conn.ended:
        return "shutdown"
    return "scripted_drop"


def _recorder(
    service: Service,
    scope: Mapping[str, Any],
    headers: list[tuple[str, str]],
    watch: JobWatch,
    job_id: str | None,
    at: float,
) -> StreamRecorder:
    """A journal record for the stream this request opens, announced when its body starts:
    so a test that waits for the connection (``advance_when_connected``) moves the clock only
    once the request itself is journaled."""
    record = service.journal.stream_opened(
        "job" if job_id is not None else "workspace",
        job_id=job_id,
        workspace_id=watch.workspace.id,
        headers=headers,
        at=at,
        announce=False,
    )
    peer = Peer.of(scope)
    record.watch_peer(peer)
    return StreamRecorder(record, peer)


def _ended_if_reset(
    service: Service, conn: _Connection, recorder: StreamRecorder, generation: int
) -> None:
    """A reset from another thread came while this stream was being set up: it watches what
    the reset forgot, so it ends at once and leaves no record in the new journal."""
    if service.journal.generation != generation:
        conn.ended = True
        service.journal.discard(recorder.record)
        recorder.closed("shutdown")


def open_job_stream(
    service: Service,
    hub: StreamHub,
    scope: Mapping[str, Any],
    headers: list[tuple[str, str]],
    api_key: str | None,
    job_id: str,
    last_event_id: str | None,
) -> Stream | None:
    """Open ``GET /v1/jobs/{id}/stream`` for the request ``scope`` (its ``headers`` as the
    journal records them); raises 401/404 before the stream starts. ``None``: the job is over
    and ``last_event_id`` was its last event, the answer is ``204 No Content``.

    ``last_event_id`` resumes a job whose timeline turns ids on.
    """
    conn = _Connection(asyncio.get_running_loop(), scope)
    generation = service.journal.generation
    watch = service.streams.watch_job(
        api_key, job_id, conn.poke, conn.overflow, last_event_id=last_event_id
    )
    if watch.no_content:
        return None
    job = watch.job
    assert job is not None
    opened_at = service.clock.now()
    recorder = _recorder(service, scope, headers, watch, job_id, opened_at)
    hub.ensure_driver()
    hub.add(conn)
    _ended_if_reset(service, conn, recorder, generation)
    options = job.stream
    opening: list[_Write | _End] = [_Write(chunk, at=opened_at) for chunk in options.prefix]
    if not watch.resumed:
        # A resumed stream goes on after the client's last event: no snapshot, no id twice.
        name = "done" if watch.terminal else "progress"
        event_id = str(watch.snapshot_id) if options.ids else None
        first = encode_json_event(name, watch.progress or {}, id=event_id)
        opening.append(_Write(first, (first,), (name,), final=watch.terminal, at=opened_at))
        if watch.terminal:
            opening.append(_END)
    return Stream(
        service,
        hub,
        watch,
        conn,
        recorder,
        interval=options.ping_interval or service.settings.ping_interval,
        opened_at=opened_at,
        ids=options.ids,
        ends_with_done=True,
        opening=opening,
    )


def open_workspace_stream(
    service: Service,
    hub: StreamHub,
    scope: Mapping[str, Any],
    headers: list[tuple[str, str]],
    api_key: str | None,
    last_event_id: str | None,
) -> Stream:
    """Open ``GET /v1/events`` for the request ``scope``; raises 401 before the stream starts.

    Once a job's timeline turned ids on, ``last_event_id`` resumes after that workspace event.
    """
    conn = _Connection(asyncio.get_running_loop(), scope)
    generation = service.journal.generation
    watch = service.streams.watch_events(
        api_key, conn.poke, conn.overflow, last_event_id=last_event_id
    )
    opened_at = service.clock.now()
    recorder = _recorder(service, scope, headers, watch, None, opened_at)
    hub.ensure_driver()
    hub.add(conn)
    _ended_if_reset(service, conn, recorder, generation)
    return Stream(
        service,
        hub,
        watch,
        conn,
        recorder,
        interval=service.settings.ping_interval,
        opened_at=opened_at,
        ids=True,  # the feed's records are numbered once a job turned ids on
        ends_with_done=False,
    )
