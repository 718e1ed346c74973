"""The stream log's bound: a reader that stops taking is let go, a busy one never is."""

from __future__ import annotations

from reader_mock.contract import Channel
from reader_mock.core.logs import FrameRun, LogReader, Record, StreamLog
from reader_mock.timeline import Event


class _Reader:
    """One reader of a log, with what its callbacks were told."""

    def __init__(self, log: StreamLog) -> None:
        self.wakes = 0
        self.overflows = 0
        self.log = log
        self.reader: LogReader = log.attach(self._wake, self._overflow)

    def _wake(self) -> None:
        self.wakes += 1

    def _overflow(self) -> None:
        self.overflows += 1

    def take_all(self) -> list[Record]:
        return self.log.take(self.reader, 1_000_000)


def _change(log: StreamLog, count: int, start: float = 0.0) -> None:
    """One change of the job: ``count`` records, then a commit."""
    for index in range(count):
        log.append(Record(at=start + index, event=Event(Channel.JOB, "progress", {"n": index})))
    log.commit()


def test_a_reader_that_stops_taking_is_detached_at_the_second_commit() -> None:
    """Behind by more than the limit and idle since the previous commit: cut, and forgotten."""
    log = StreamLog(limit=5)
    idle, busy = _Reader(log), _Reader(log)
    _change(log, 6)
    # Six behind, but the first commit is the one that told it: it has had no chance to read.
    assert (idle.overflows, idle.wakes) == (0, 1)
    busy.take_all()
    _change(log, 6)
    assert idle.overflows == 1 and idle.reader.overflowed
    assert busy.overflows == 0
    # Nothing more for the detached reader, and the log no longer keeps records for it.
    assert idle.take_all() == []
    busy.take_all()
    log.commit()  # what every reader has read is forgotten at the next commit
    assert log.kept == 0
    _change(log, 3)
    assert idle.wakes == 1 and idle.overflows == 1


def test_a_reader_within_the_limit_is_kept_however_long_it_waits() -> None:
    """Exactly ``limit`` records behind, across many commits: never cut."""
    log = StreamLog(limit=5)
    slow = _Reader(log)
    _change(log, 5)
    for start in range(10):
        log.commit()  # changes that touched other logs: nothing new here
        assert slow.overflows == 0, start
    assert len(slow.take_all()) == 5


def test_a_reader_working_through_a_burst_is_never_cut() -> None:
    """Far behind after a burst, but taking a little before every commit: kept to the end."""
    log = StreamLog(limit=3)
    reader = _Reader(log)
    _change(log, 1000)
    received = 0
    for step in range(50):
        received += len(log.take(reader.reader, 10))
        _change(log, 2, start=1000 + step * 2)
    received += len(reader.take_all())
    assert reader.overflows == 0
    assert received == 1100
    log.commit()
    assert log.kept == 0


def test_the_bound_keeps_the_log_small_whatever_a_stuck_reader_does() -> None:
    """With one reader stuck for ever, the records kept stay below two changes' worth."""
    log = StreamLog(limit=100)
    stuck, live = _Reader(log), _Reader(log)
    most = 0
    for step in range(200):
        _change(log, 60, start=step * 60)
        most = max(most, log.kept)
        live.take_all()
    assert stuck.overflows == 1
    assert most <= 100 + 2 * 60
    log.commit()
    assert log.kept == 0


def test_a_retaining_log_keeps_its_history_but_still_lets_a_stuck_reader_go() -> None:
    """A job whose streams resume from ``Last-Event-ID`` keeps every record for later readers."""
    log = StreamLog(limit=2, retain=True)
    stuck = _Reader(log)
    _change(log, 3)
    _change(log, 3)
    assert stuck.overflows == 1
    assert log.kept == 6
    assert [record.event.data for record in log.records_from(4) if record.event] == [
        {"n": 1},
        {"n": 2},
    ]


def test_a_keeping_log_holds_its_last_records_and_no_more() -> None:
    """``keep``: the last records stay for readers to come, whatever the readers took."""
    log = StreamLog(limit=100, keep=3)
    assert log.wanted  # records are kept without any reader
    reader = _Reader(log)
    _change(log, 5)
    assert len(reader.take_all()) == 5
    log.commit()
    assert log.kept == 3
    assert [record.event.data for record in log.records_from(0) if record.event] == [
        {"n": 2},
        {"n": 3},
        {"n": 4},
    ]
    log.detach(reader.reader)
    _change(log, 2)
    assert log.kept == 3 and log.head == 7


def _run(count: int) -> FrameRun:
    """A run of ``count`` events, each frame a few bytes."""
    frames = [f"event: page\ndata: {index}\n\n".encode() for index in range(count)]
    return FrameRun(frames, ["page"] * count)


def _places(records: list[Record]) -> list[tuple[int, int, int]]:
    """Each record's position and, for a run, which of its events it holds (else 0, 1)."""
    return [
        (r.position, r.start, r.stop) if r.run is not None else (r.position, 0, 1) for r in records
    ]


def test_a_run_takes_one_place_per_event_and_is_cut_where_a_take_ends() -> None:
    log = StreamLog(limit=100)
    reader = _Reader(log)
    _change(log, 1)
    log.append(Record(at=1.0, event_id=2, run=_run(10), stop=10))
    log.append(Record(at=1.0, event=Event(Channel.JOB, "progress", {"n": 11})))
    log.commit()
    assert (log.head, log.kept) == (12, 12)
    first = log.take(reader.reader, 4)
    assert _places(first) == [(0, 0, 1), (1, 0, 3)]
    assert first[1].event_id == 2 and reader.reader.cursor == 4
    second = log.take(reader.reader, 4)
    assert _places(second) == [(4, 3, 7)]
    assert second[0].event_id == 5
    log.commit()
    # Read up to the middle of the run: the run is kept whole, what precedes it is forgotten.
    assert log.kept == 11
    rest = reader.take_all()
    assert _places(rest) == [(8, 7, 10), (11, 0, 1)]
    frames: list[bytes] = []
    for part in (first[1], second[0], rest[0]):
        assert part.run is not None
        frames += part.run.frames[part.start : part.stop]
    assert frames == list(_run(10).frames)
    log.commit()
    assert log.kept == 0


def test_a_reader_stuck_behind_a_run_is_cut_as_behind_its_events() -> None:
    """The bound counts the run's events: a reader idle behind a long run is let go at the
    second commit, as it would be behind the same events one by one."""
    log = StreamLog(limit=5)
    idle, busy = _Reader(log), _Reader(log)
    log.append(Record(at=1.0, run=_run(6), stop=6))
    log.commit()
    assert idle.overflows == 0
    busy.take_all()
    _change(log, 1, start=2.0)
    assert idle.overflows == 1
    assert busy.overflows == 0


def test_a_reader_at_the_head_takes_nothing_while_runs_are_kept_for_others() -> None:
    """A reader that took everything takes nothing more, whatever the log still keeps for a
    reader behind it: not an empty piece of the last record (which a stream would read as the
    end of its body)."""
    for last_is_run in (True, False):
        log = StreamLog(limit=100)
        ahead, behind = _Reader(log), _Reader(log)
        _change(log, 1)
        log.append(Record(at=1.0, event_id=2, run=_run(5), stop=5))
        if not last_is_run:
            log.append(Record(at=1.0, event=Event(Channel.JOB, "progress", {"n": 7})))
        log.commit()
        head = log.head
        assert ahead.take_all()
        assert ahead.reader.cursor == head
        log.commit()
        assert log.kept == head  # kept for the reader behind
        assert ahead.take_all() == []
        assert ahead.reader.cursor == head
        assert _places(behind.take_all())[-1][0] < head
