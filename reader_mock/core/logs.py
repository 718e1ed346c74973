"""Stream logs: what the streams of one channel have still to write, read from a cursor each."""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from reader_mock.sse.drop_kinds import DropKind

if TYPE_CHECKING:
    from reader_mock.timeline import Event

__all__ = ["FrameRun", "LogReader", "Record", "StreamLog"]


class FrameRun:
    """The prepared frames of consecutive per-job events, written as one stretch.

    ``frames[i]`` is the frame of the ``i``-th event as the streams prepared it, ``names[i]`` its
    event name, ``ends[i]`` the byte offset just after it in the joined frames (so a stream cuts
    the stretch into writes without measuring each frame). Opaque bytes to the core.
    """

    __slots__ = ("ends", "frames", "names")

    def __init__(self, frames: Sequence[bytes], names: Sequence[str]) -> None:
        if len(frames) != len(names):
            raise ValueError("every frame needs a name")
        self.frames = tuple(frames)
        self.names = tuple(names)
        self.ends = array("q", accumulate(map(len, self.frames)))

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(slots=True, eq=False)
class Record:
    """One thing the streams of a channel write: an event, a scripted drop or raw text.

    Attributes:
        at: clock time it happened.
        event: the event, or ``None`` for a drop or raw text.
        event_id: for per-job events, the job's event number (from 1), the ``id:`` when ids are on.
        prepared: the event as the streams prepared it when the job was planned (see
            :attr:`reader_mock.core.fanout.EventHub.prepare`), or ``None``.
        drop: for a scripted drop, how the connections end.
        cut: for a ``mid-frame`` drop, the event whose frame is cut (the job as it stands).
        chunks: for raw text, the writes.
        run: for a run of per-job events applied as one (see :class:`FrameRun`), the run;
            the record stands for its events ``start`` to ``stop`` (``event_id`` is the first's).
        position: where the record starts in its log (set when appended).

    A record takes one place in its log, a run one per event: the log's positions, its bound
    and each reader's cursor count events, so a run reads exactly like its events one by one.
    """

    at: float
    event: Event | None = None
    event_id: int = 0
    prepared: bytes | None = None
    drop: DropKind | None = None
    cut: Event | None = None
    chunks: tuple[bytes, ...] = ()
    run: FrameRun | None = None
    start: int = 0
    stop: int = 0
    position: int = 0

    @property
    def size(self) -> int:
        """The places the record takes in its log: its events for a run, else one."""
        return 1 if self.run is None else self.stop - self.start

    def part(self, start: int, stop: int) -> Record:
        """The events ``start`` to ``stop`` (counted within this record) of a run record."""
        base = self.start
        return Record(
            self.at,
            event_id=self.event_id + start,
            run=self.run,
            start=base + start,
            stop=base + stop,
            position=self.position + start,
        )


def _position(record: Record) -> int:
    return record.position


class LogReader:
    """One stream's place in a :class:`StreamLog`."""

    __slots__ = ("cursor", "on_overflow", "overflowed", "took", "wake")

    def __init__(
        self, cursor: int, wake: Callable[[], None], on_overflow: Callable[[], None]
    ) -> None:
        self.cursor = cursor
        self.wake = wake
        self.on_overflow = on_overflow
        self.took = False
        self.overflowed = False


class StreamLog:
    """Records for the streams of one channel (one job's per-job stream, or a workspace's feed).

    Writers (under the service lock) :meth:`append` records and :meth:`commit` once per change;
    each stream reads from its own cursor with :meth:`take`. Records are kept only while some
    stream has not read them, unless ``retain`` (a job whose streams resume from ``Last-Event-ID``
    keeps its whole history) or ``keep`` (the last ``keep`` places stay, for a workspace feed
    with ids). Without readers, ``retain`` and ``keep`` nothing is recorded at all.
    Positions count places (see :class:`Record`): a run takes one per event, and a reader may
    stop inside a run.

    The bound: at every commit, a reader more than ``limit`` places behind that took nothing
    since the previous commit has stopped reading. It is detached and told through its
    ``on_overflow`` callback, so one stuck client cannot make the server hold an ever-growing
    backlog. A reader working through a burst keeps taking and is never cut.
    """

    def __init__(self, *, limit: int, retain: bool = False, keep: int = 0) -> None:
        self.limit = limit
        self.retain = retain
        self.keep = keep
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._offset = 0
        self._head = 0
        self._readers: list[LogReader] = []
        self._committed = 0

    @property
    def wanted(self) -> bool:
        """Whether appended records are kept (some stream reads them, or the log keeps some)."""
        return self.retain or self.keep > 0 or bool(self._readers)

    @property
    def has_readers(self) -> bool:
        """Whether a stream reads this log now."""
        return bool(self._readers)

    @property
    def head(self) -> int:
        """Position just after the last record."""
        return self._head

    @property
    def kept(self) -> int:
        """How many places the log holds (what the bound keeps small)."""
        return self._head - self._offset

    def append(self, record: Record) -> None:
        """Add a record; readers hear of it at the next :meth:`commit`."""
        record.position = self._head
        # In the list first: a stream taking meanwhile never sees the head past the records.
        self._records.append(record)
        self._head += 1 if record.run is None else record.stop - record.start

    def attach(
        self,
        wake: Callable[[], None],
        on_overflow: Callable[[], None],
        *,
        start: int | None = None,
    ) -> LogReader:
        """A new reader from ``start`` (default: the head, i.e. only what comes next)."""
        with self._lock:
            cursor = self.head if start is None else max(self._offset, min(start, self.head))
            reader = LogReader(cursor, wake, on_overflow)
            self._readers.append(reader)
            return reader

    def detach(self, reader: LogReader) -> None:
        """Stop following the log (idempotent)."""
        with self._lock:
            if reader in self._readers:
                self._readers.remove(reader)
            self._trim()

    def take(self, reader: LogReader, limit: int) -> list[Record]:
        """Records for up to ``limit`` places after the reader's cursor (a run may be cut
        there); the cursor moves past them."""
        with self._lock:
            if reader.overflowed:
                return []
            reader.took = True
            batch = self._from(reader.cursor, limit)
            if batch:
                last = batch[-1]
                reader.cursor = last.position + last.size
            return batch

    def records_from(self, position: int) -> list[Record]:
        """The records kept from ``position`` on (for resuming)."""
        with self._lock:
            return self._from(max(position, self._offset), self._head)

    def _from(self, position: int, limit: int) -> list[Record]:
        """Records for up to ``limit`` places from ``position`` (at least the log's offset)."""
        records = self._records
        start = position - self._offset
        if len(records) == self._head - self._offset:  # one place per record: plain indices
            return records[start : start + limit]
        index = bisect_right(records, position, key=_position) - 1
        batch: list[Record] = []
        while index < len(records) and limit > 0:
            record = records[index]
            index += 1
            skip = position - record.position
            size = record.size
            if skip >= size:
                continue  # the place is at this record's end (a reader that took it all)
            if skip == 0 and size <= limit:
                batch.append(record)
            else:
                size = min(size - skip, limit)
                batch.append(record.part(skip, skip + size))
            position += size
            limit -= size
        return batch

    def commit(self) -> None:
        """Check the bound, forget what every reader has read, and wake readers with news."""
        stuck: list[LogReader] = []
        news: list[LogReader] = []
        with self._lock:
            previous = self._committed
            for reader in list(self._readers):
                if previous - reader.cursor > self.limit and not reader.took:
                    reader.overflowed = True
                    self._readers.remove(reader)
                    stuck.append(reader)
                    continue
                reader.took = False
                if reader.cursor < self.head:
                    news.append(reader)
            self._committed = self.head
            self._trim()
        for reader in stuck:
            reader.on_overflow()
        for reader in news:
            reader.wake()

    def _trim(self) -> None:
        """Forget the records every reader has read whole."""
        if self.retain:
            return
        low = min((reader.cursor for reader in self._readers), default=self._head)
        low = min(low, self._head - self.keep)
        records = self._records
        if len(records) == self._head - self._offset:
            drop = low - self._offset
        else:
            drop = bisect_right(records, low, key=_position)
            if drop and records[drop - 1].position + records[drop - 1].size > low:
                drop -= 1  # the reader is inside that run: keep it
        if drop > 0:
            del records[:drop]
            self._offset = records[0].position if records else self._head
