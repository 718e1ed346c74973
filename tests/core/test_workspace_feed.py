"""The workspace feed: ids from the first job with ids on, kept for resuming, within a bound."""

from __future__ import annotations

import pytest

from reader_mock.contract import Channel
from reader_mock.core.feed import WorkspaceFeed
from reader_mock.core.logs import Record
from reader_mock.core.settings import Settings
from reader_mock.sse.drops import DropKind
from reader_mock.timeline import Event


def _event(number: int) -> Event:
    return Event(Channel.WORKSPACE, "job:progress", {"jobId": "job_1", "n": number})


def _ids(records: list[Record]) -> list[int]:
    return [record.event_id for record in records]


def test_events_are_numbered_only_once_ids_are_on() -> None:
    feed = WorkspaceFeed(limit=100, replay_limit=10)
    assert not feed.wanted  # nobody reads and nothing is kept: nothing is recorded
    reader = feed.attach(lambda: None, lambda: None)
    feed.add(0, _event(0))
    feed.use_ids()
    for number in range(1, 4):
        feed.add(number, _event(number))
    feed.commit()
    assert _ids(feed.take(reader, 100)) == [0, 1, 2, 3]
    assert feed.last_id == 3


def _filled(count: int, replay_limit: int = 1000) -> WorkspaceFeed:
    feed = WorkspaceFeed(limit=100, replay_limit=replay_limit)
    feed.use_ids()
    for number in range(1, count + 1):
        feed.add(number, _event(number))
        if number == 2:
            feed.append(Record(number, drop=DropKind.CLEAN))  # a drop between ids 2 and 3
    feed.commit()
    return feed


@pytest.mark.parametrize(
    ("value", "after"), [("0", [1, 2, 3, 4]), ("1", [2, 3, 4]), (" 2 ", [3, 4])]
)
def test_a_resume_goes_on_right_after_the_id(value: str, after: list[int]) -> None:
    """After the event with that id; the drop of the past between is skipped by the stream."""
    feed = _filled(4)
    position = feed.resume_position(value)
    assert position is not None
    assert [r.event_id for r in feed.records_from(position) if r.event] == after


def test_a_resume_from_the_last_id_replays_nothing() -> None:
    feed = _filled(4)
    assert feed.resume_position("4") == feed.head


@pytest.mark.parametrize("value", [None, "5", "abc", "", "-1", "1.0", "9" * 13, "٣"])
def test_an_id_the_feed_did_not_send_starts_live(value: str | None) -> None:
    assert _filled(4).resume_position(value) is None


def test_without_ids_the_header_is_ignored() -> None:
    feed = WorkspaceFeed(limit=100, replay_limit=10)
    assert feed.resume_position("1") is None


def test_only_the_last_records_are_kept_and_an_older_id_gets_them() -> None:
    feed = _filled(6, replay_limit=2)
    assert _ids(feed.records_from(0)) == [5, 6]
    position = feed.resume_position("1")
    assert _ids(feed.records_from(position or 0)) == [5, 6]
    assert feed.resume_position("5") == feed.head - 1


def test_the_bound_is_a_setting_of_at_least_one() -> None:
    assert Settings().workspace_replay_limit == 1000
    with pytest.raises(ValueError, match="workspace_replay_limit"):
        Settings(workspace_replay_limit=0)


def test_no_more_is_kept_than_a_stream_may_fall_behind() -> None:
    """A resumed stream starts as far behind as what is replayed: never beyond the bound at
    which a stream that stopped reading is let go."""
    feed = WorkspaceFeed(limit=3, replay_limit=1000)
    feed.use_ids()
    for number in range(1, 8):
        feed.add(number, _event(number))
    feed.commit()
    assert _ids(feed.records_from(0)) == [5, 6, 7]


def test_the_workspace_events_of_a_run_are_numbered_too() -> None:
    """A burst applied as one run still hands its workspace events to the feed one by one, so
    they get their numbers like any other."""
    from reader_mock.core.fanout import EventHub, Outlets
    from reader_mock.core.logs import FrameRun, StreamLog

    feed = WorkspaceFeed(limit=100, replay_limit=10)
    feed.use_ids()
    feed.add(1.0, Event(Channel.WORKSPACE, "job:created", {"n": 0}))
    outlets = Outlets(
        workspace_id="ws",
        job_id="job",
        log=StreamLog(limit=100),
        feed=feed,
        hub=EventHub(),
        touch=lambda _log: None,
    )
    burst = [Event(Channel.WORKSPACE, "job:progress", {"n": n}) for n in (1, 2, 3)]
    frames = FrameRun([b"event: page\ndata: {}\n\n"] * 3, ["page"] * 3)
    assert outlets.publish_run(2.0, frames, burst, 0) == 3
    records = feed.records_from(0)
    assert [record.event_id for record in records] == [1, 2, 3, 4]
    assert feed.last_id == 4
    assert feed.resume_position("2") == 2
