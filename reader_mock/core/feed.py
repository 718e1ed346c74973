"""The workspace feed: the log of a workspace's stream, numbered once a job turns ids on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .logs import Record, StreamLog

if TYPE_CHECKING:
    from reader_mock.timeline import Event

__all__ = ["WorkspaceFeed"]


class WorkspaceFeed(StreamLog):
    """The :class:`StreamLog` that workspace streams read.

    From the creation of the first job whose timeline turns ids on (:meth:`use_ids`), every
    workspace event gets the next number of the workspace, from 1: the ``id:`` of its frame.
    The feed then keeps its last ``replay_limit`` records, so that a workspace stream that
    reconnects with ``Last-Event-ID`` gets what it missed (:meth:`resume_position`).
    """

    def __init__(self, *, limit: int, replay_limit: int) -> None:
        super().__init__(limit=limit)
        # No more than a stream may fall behind: a resumed stream starts that far behind.
        self.replay_limit = min(replay_limit, limit)
        self.ids = False
        """Whether workspace events are numbered (the ``id:`` of their frames)."""
        self.last_id = 0
        """The number of the last workspace event (``0``: none yet)."""

    def use_ids(self) -> None:
        """Number every workspace event from now on and keep the last ones for resuming."""
        self.ids = True
        self.keep = self.replay_limit

    def add(self, at: float, event: Event) -> None:
        """Append a workspace event, with the next number when ids are on."""
        if self.ids:
            self.last_id += 1
            self.append(Record(at, event, self.last_id))
        else:
            self.append(Record(at, event))

    def resume_position(self, last_event_id: str | None) -> int | None:
        """Where a stream that received event ``last_event_id`` goes on, or ``None`` to start
        live (ids off, no header, or a value this feed never sent).

        The position is just after that event when it is still kept. For an older id (the
        feed kept only its last ``replay_limit`` records), it is the oldest record kept: the
        stream replays what is left, and its first id shows how many events were lost.
        Called under the service lock, like every writer.
        """
        if not self.ids or last_event_id is None:
            return None
        text = last_event_id.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
            return None
        number = int(text)
        if number > self.last_id:
            return None
        records = self.records_from(0)
        start = self.head - len(records)
        position = start
        for index, record in enumerate(records):
            if 0 < record.event_id <= number:
                position = start + index + 1
        return position
