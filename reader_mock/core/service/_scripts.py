"""The test-scripting queue: which timeline the next jobs play."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from reader_mock.timeline import Timeline, TimelineSpec


__all__ = ["Scripts", "TimelineSource"]

TimelineSource = Literal["script", "cycle", "default"]


class Scripts:
    """Timelines queued for the next jobs (any workspace), then a cycle for every other job.

    A job plays the first queued timeline; with none queued, the next of the cycle; with no cycle,
    the default timeline for its request.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._queue: deque[Timeline] = deque()
        self._cycle: tuple[Timeline, ...] = ()
        self._cycle_index = 0

    def add(self, timelines: Iterable[TimelineSpec], *, check: bool = True) -> int:
        """Queue timelines for the next jobs created, one job each, in order; returns how many
        are queued now.

        Each is a ``Timeline``, a ready-made name or a file path, loaded and checked here, so a bad
        one raises ``TimelineError`` (naming file, step, line and field) and queues nothing.
        ``check=False`` skips the checks of ``Timeline`` values (for huge generated ones).
        """
        from reader_mock.timeline.ready_made import resolve_timeline  # files and checks: on use

        resolved = [resolve_timeline(spec, check=check) for spec in timelines]
        with self._lock:
            self._queue.extend(resolved)
            return len(self._queue)

    def clear(self) -> None:
        """Forget the queued timelines no job has taken yet."""
        with self._lock:
            self._queue.clear()

    def set_cycle(self, timelines: Sequence[TimelineSpec], *, check: bool = True) -> None:
        """Make every job that has no queued timeline play these, in turn: the first job the
        first, and so on, starting over after the last (empty: the default timeline again)."""
        from reader_mock.timeline.ready_made import resolve_timeline  # files and checks: on use

        resolved = tuple(resolve_timeline(spec, check=check) for spec in timelines)
        with self._lock:
            self._cycle = resolved
            self._cycle_index = 0

    def queued_names(self) -> list[str]:
        """The names of the timelines queued for the next jobs, in the order they are played."""
        with self._lock:
            return [timeline.name for timeline in self._queue]

    def cycle_names(self) -> list[str]:
        """The names of the timelines every unscripted job plays in turn (empty: none)."""
        with self._lock:
            return [timeline.name for timeline in self._cycle]

    def restart(self) -> None:
        """Forget the queue and start the cycle over from its first timeline (for a reset)."""
        with self._lock:
            self._queue.clear()
            self._cycle_index = 0

    def upcoming(self) -> tuple[Timeline | None, TimelineSource]:
        """The timeline the next job plays and where it comes from (``None`` for the default).

        Nothing is taken: a job that cannot play it leaves it for the next one (see :meth:`take`).
        """
        with self._lock:
            if self._queue:
                return self._queue[0], "script"
            if self._cycle:
                return self._cycle[self._cycle_index % len(self._cycle)], "cycle"
            return None, "default"

    def take(self, source: TimelineSource) -> None:
        """Mark the timeline :meth:`upcoming` gave as played by a job (under the same lock)."""
        with self._lock:
            if source == "script":
                self._queue.popleft()
            elif source == "cycle":
                self._cycle_index += 1
