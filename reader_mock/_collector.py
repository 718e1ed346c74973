"""Full passes of Python's cyclic garbage collector at calm moments of a serving process.

With a thousand streams open, one full pass walks every connection's objects and holds the event
loop for a tenth of a second. Left to Python, such passes come every few seconds under load, at
any allocation, in the middle of a clock step or a request. :data:`COLLECTOR`, once installed by
the process that serves (``reader-mock serve``), makes them rarer and moves them to the end of a
burst of stream writes or of stream endings (docs/architecture.md, "Full collections at calm
moments").
"""

from __future__ import annotations

import asyncio
import gc
from typing import Final

__all__ = ["COLLECTOR", "Collector"]

_YOUNG_PASSES: Final = 50
"""Passes over the younger generations after which a calm moment runs a full pass (Python's own
full passes may come after 10)."""
_ENDED_STREAMS: Final = 100
"""Streams ended after which full passes come as often as Python's own may (every
:data:`_CHURN_PASSES` younger passes): each stream leaves its connection's reference cycles for
a full pass to free, and connections that come and go must not pile them up."""
_CHURN_PASSES: Final = 10
_COME_AND_GONE: Final = 1000
"""Streams opened and ended after which the next calm moment runs a full pass whatever else:
after a thousand new connections, a pass then (and freezing what it leaves) spares the passes
of the clock steps that follow from walking them."""
_THAW_PASSES: Final = 500
"""Younger passes after which a full pass also walks what earlier passes froze."""
_SAFETY_NET: Final = 100
"""Python's own full passes still come after this many younger passes, for a process whose
calm moments never come (no streams at all)."""


class Collector:
    """When to run a full pass: :meth:`calm` after a burst of work, :meth:`stream_ended` for each
    stream that ends. Does nothing until :meth:`install` (a process-wide choice, so only the
    process that serves makes it)."""

    __slots__ = ("_ended", "_installed", "_opened", "_previous", "_scheduled", "_since_thaw")

    def __init__(self) -> None:
        self._installed = False
        self._previous: tuple[int, int, int] | None = None
        self._opened = 0
        self._ended = 0
        self._scheduled = False
        self._since_thaw = 0

    @property
    def installed(self) -> bool:
        """Whether full passes are under this collector's control."""
        return self._installed

    def install(self) -> None:
        """Make Python's own full passes rare; :meth:`calm` runs them instead."""
        if not self._installed:
            self._previous = gc.get_threshold()
            first, second, _ = self._previous
            gc.set_threshold(first, second, _SAFETY_NET)
            self._installed = True

    def uninstall(self) -> None:
        """Give full passes back to Python, with the thresholds it had."""
        if self._installed and self._previous is not None:
            gc.set_threshold(*self._previous)
        self._installed = False

    def due(self) -> bool:
        """Whether a full pass should run at the next calm moment."""
        if not self._installed:
            return False
        young = gc.get_count()[2]  # younger passes since the last full one
        return (
            young >= _YOUNG_PASSES
            or (self._ended >= _ENDED_STREAMS and young >= _CHURN_PASSES)
            or self._opened + self._ended >= _COME_AND_GONE
        )

    def calm(self) -> None:
        """A burst of work has just ended (in the event loop's thread): run a full pass if one
        is due. What survives it is frozen: the open connections, which live on, are not walked
        again by the next passes. Once streams have ended, or after :data:`_THAW_PASSES`
        younger passes, the pass thaws everything first, so what was frozen and has since died
        is freed too."""
        self._scheduled = False
        if not self.due():
            return
        self._since_thaw += gc.get_count()[2]
        if self._ended >= _ENDED_STREAMS or self._since_thaw >= _THAW_PASSES:
            gc.unfreeze()
            self._since_thaw = 0
        gc.collect()
        gc.freeze()
        self._opened = self._ended = 0

    def stream_opened(self, loop: asyncio.AbstractEventLoop) -> None:
        """A stream started in ``loop``; see :meth:`stream_ended`."""
        if self._installed:
            self._opened += 1
            self._schedule(loop)

    def stream_ended(self, loop: asyncio.AbstractEventLoop) -> None:
        """A stream ended in ``loop``: when a full pass is due, it runs after the callbacks
        ready now (the other streams that end at the same time)."""
        if self._installed:
            self._ended += 1
            self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._scheduled and self.due():
            self._scheduled = True
            loop.call_soon(self.calm)


COLLECTOR: Final = Collector()
"""The process's collector."""
