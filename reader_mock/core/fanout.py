"""The one fan-out of job events: each event is published once and reaches every consumer.

A job's events come from its timeline (:func:`reader_mock.timeline.events_for`). The job engine
publishes them through an :class:`Outlets` per change, which feeds the job's own log (read by its
per-job streams), the workspace's feed (read by workspace streams) and the service's
:class:`EventHub`, whose subscribers are Python code: tests, and webhook deliveries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reader_mock._values import freeze, thaw
from reader_mock.contract import Channel

from .feed import WorkspaceFeed
from .logs import FrameRun, Record, StreamLog

if TYPE_CHECKING:
    from reader_mock.timeline import Event

__all__ = ["EventHub", "JobEvent", "Outlets", "Subscriber"]


@dataclass(frozen=True)
class JobEvent:
    """One event of one job, as a subscriber of the :class:`EventHub` receives it."""

    sequence: int
    """Position in the service's event history, from 1, without gaps."""
    at: float
    """Clock time of the change (the time of the step, not of the settling)."""
    workspace_id: str
    job_id: str
    channel: Channel
    name: str
    """The event name on its channel (``page``, ``job:completed``...)."""
    payload: Mapping[str, Any]
    """The payload exactly as the stream carries it, read-only."""
    credits_used: int
    """The job's ``creditsUsed`` after the change."""
    job_error: str | None
    """The job's ``error`` after the change."""

    def data(self) -> dict[str, Any]:
        """A mutable copy of :attr:`payload`."""
        return dict(thaw(self.payload))


Subscriber = Callable[[JobEvent], None]


class EventHub:
    """The subscribers of a service's job events.

    Subscribers are called synchronously, in publishing order, while the service holds its lock:
    they must be quick and must not call back into the service. One that raises is reported
    through ``on_error`` and does not stop the others.
    """

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.prepare: Callable[[Event], bytes] | None = None
        """How the per-job streams write an event, given by the stream layer: the job engine
        prepares each planned event with it when it plans a job, so a burst of events is
        written without preparing anything (``None``: the streams prepare as they write)."""
        self._subscribers: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()
        self._sequence = 0
        self._on_error = on_error

    @property
    def has_subscribers(self) -> bool:
        """Whether anyone listens (events are only frozen and numbered when someone does)."""
        return bool(self._subscribers)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; returns the unsubscribe function."""
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def publish(
        self,
        *,
        at: float,
        workspace_id: str,
        job_id: str,
        event: Event,
        credits_used: int,
        job_error: str | None,
    ) -> None:
        """Number ``event`` and hand it to every subscriber."""
        self._sequence += 1
        published = JobEvent(
            sequence=self._sequence,
            at=at,
            workspace_id=workspace_id,
            job_id=job_id,
            channel=event.channel,
            name=event.name,
            payload=freeze(event.data),
            credits_used=credits_used,
            job_error=job_error,
        )
        for subscriber in self._subscribers:
            try:
                subscriber(published)
            except Exception as exc:  # a broken subscriber must not break the job engine
                if self._on_error is not None:
                    self._on_error(exc)


class Outlets:
    """Where one job's events go during one change, looked up once for the whole change.

    The job's log and the workspace feed are left out when nothing would read what is appended,
    the hub when nobody subscribed. Streams attach and subscribe under the service lock, which
    every change holds, so the answers stay true for the change: a burst of thousands of pages
    asks once instead of once per event.
    """

    __slots__ = ("feed", "hub", "job_id", "log", "workspace_id")

    def __init__(
        self,
        *,
        workspace_id: str,
        job_id: str,
        log: StreamLog,
        feed: WorkspaceFeed,
        hub: EventHub,
        touch: Callable[[StreamLog], None],
    ) -> None:
        self.workspace_id = workspace_id
        self.job_id = job_id
        self.log = log if log.wanted else None
        self.feed = feed if feed.wanted else None
        self.hub = hub if hub.has_subscribers else None
        if self.log is not None:
            touch(self.log)
        if self.feed is not None:
            touch(self.feed)

    def publish(
        self,
        at: float,
        events: Sequence[Event],
        event_count: int,
        *,
        credits_used: int,
        job_error: str | None,
        prepared: Sequence[bytes | None] = (),
    ) -> int:
        """Send each event to its channel's log and to the hub, numbering the per-job events
        after ``event_count`` (the ``id:`` when ids are on; the feed numbers its own); returns
        the new count.
        ``prepared[i]``: ``events[i]`` as :attr:`EventHub.prepare` made it, if it did."""
        log, feed, hub = self.log, self.feed, self.hub
        for index, event in enumerate(events):
            if event.channel is Channel.JOB:
                event_count += 1
                if log is not None:
                    frame = prepared[index] if prepared else None
                    log.append(Record(at, event, event_count, frame))
            elif feed is not None:
                feed.add(at, event)
            if hub is not None:
                hub.publish(
                    at=at,
                    workspace_id=self.workspace_id,
                    job_id=self.job_id,
                    event=event,
                    credits_used=credits_used,
                    job_error=job_error,
                )
        return event_count

    def publish_run(
        self, at: float, frames: FrameRun, workspace: Sequence[Event], event_count: int
    ) -> int:
        """Send a run applied as one: its per-job events (``frames``) as one record of the job's
        log, numbered after ``event_count``, and its ``workspace`` events to the feed one by one;
        returns the new count. Only when nobody subscribed to the hub."""
        assert self.hub is None, "a run is applied as one only when the hub has no subscriber"
        if self.log is not None:
            self.log.append(Record(at, event_id=event_count + 1, run=frames, stop=len(frames)))
        feed = self.feed
        if feed is not None:
            for event in workspace:
                feed.add(at, event)
        return event_count + len(frames)

    def directive(self, channel: Channel, record: Record) -> None:
        """A scripted drop or raw text, for the connections open on ``channel`` right now."""
        log = self.log if channel is Channel.JOB else self.feed
        if log is not None and log.has_readers:
            log.append(record)
