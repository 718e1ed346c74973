"""Stream logs: what the streams of one channel have still to write, read from a cursor each."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from reader_mock.sse.drops import DropKind
from reader_mock.timeline import Event

__all__ = ["LogReader", "Record", "StreamLog"]


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
    """

    at: float
    event: Event | None = None
    event_id: int = 0
    prepared: bytes | None = None
    drop: DropKind | None = None
    cut: Event | None = None
    chunks: tuple[bytes, ...] = ()


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
    keeps its whole history) or ``keep`` (the last ``keep`` records stay, for a workspace feed
    with ids). Without readers, ``retain`` and ``keep`` nothing is recorded at all.

    The bound: at every commit, a reader more than ``limit`` records behind that took nothing
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
        return self._offset + len(self._records)

    @property
    def kept(self) -> int:
        """How many records the log holds (what the bound keeps small)."""
        return len(self._records)

    def append(self, record: Record) -> None:
        """Add a record; readers hear of it at the next :meth:`commit`."""
        self._records.append(record)

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
        """Up to ``limit`` records after the reader's cursor; the cursor moves past them."""
        with self._lock:
            if reader.overflowed:
                return []
            start = max(0, reader.cursor - self._offset)
            batch = self._records[start : start + limit]
            reader.cursor += len(batch)
            reader.took = True
            return batch

    def records_from(self, position: int) -> list[Record]:
        """The records kept from ``position`` on (for resuming)."""
        with self._lock:
            return self._records[max(0, position - self._offset) :]

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
        if self.retain:
            return
        low = min((reader.cursor for reader in self._readers), default=self.head)
        low = min(low, self.head - self.keep)
        drop = low - self._offset
        if drop > 0:
            del self._records[:drop]
            self._offset = low
