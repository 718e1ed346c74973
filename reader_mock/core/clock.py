"""The mock's clock: every time-dependent rule reads it, so tests can control time.

Three clocks share one interface:

- :class:`RealClock` follows the wall clock;
- :class:`ScaledClock` runs ``speed`` times faster than the wall clock from its start, so a
  30-second keep-alive takes 0.6 s of real time at ``speed=50``;
- :class:`ManualClock` stands still until a test calls :meth:`ManualClock.advance`.

Clock time is a float of seconds since the Unix epoch. :meth:`Clock.wait_until` lets coroutines
sleep until a clock time is reached, and :meth:`Clock.subscribe` tells interested parties that
time jumped (a manual advance), so they can re-check what became due.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

__all__ = [
    "DEFAULT_MANUAL_START",
    "Alarm",
    "Clock",
    "ManualClock",
    "RealClock",
    "ScaledClock",
    "format_timestamp",
    "to_datetime",
]

DEFAULT_MANUAL_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Where a :class:`ManualClock` starts unless told otherwise."""

# Real-time sleeps are cut into slices so a sleeper notices a clock whose speed changed.
_MAX_SLICE = 0.25


def to_datetime(timestamp: float) -> datetime:
    """An aware UTC datetime for a clock timestamp."""
    return datetime.fromtimestamp(timestamp, UTC)


def format_timestamp(timestamp: float) -> str:
    """RFC 3339 text for a clock timestamp, in UTC with a ``Z`` suffix.

    Milliseconds are shown only when the time has a fractional part, so whole seconds read as
    ``2026-01-01T00:00:05Z``.
    """
    total_millis = round(timestamp * 1000)
    millis = total_millis % 1000
    text = _whole_second(total_millis // 1000)
    if millis:
        text += f".{millis:03d}"
    return text + "Z"


@functools.lru_cache(maxsize=256)
def _whole_second(seconds: int) -> str:
    # A burst of usage entries and events shares a few seconds: format each second once.
    return to_datetime(seconds).strftime("%Y-%m-%dT%H:%M:%S")


def _as_timestamp(start: datetime | float) -> float:
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ValueError(
                "a clock start must be an aware datetime (for example with tzinfo=UTC)"
            )
        return start.timestamp()
    if not math.isfinite(start):
        raise ValueError(f"a clock start must be a finite number of seconds, got {start!r}")
    return float(start)


class Alarm(Protocol):
    """A call the clock makes at ``deadline`` (see :meth:`Clock.call_at`)."""

    @property
    def deadline(self) -> float: ...

    @property
    def pending(self) -> bool:
        """Neither made (or on its way) nor cancelled."""
        ...

    def cancel(self) -> None:
        """Make sure the call is not made (any number of times, from the loop's thread)."""
        ...


class Clock(ABC):
    """What the rest of the mock needs from a clock."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    @abstractmethod
    def now(self) -> float:
        """Clock seconds since the Unix epoch."""

    def utcnow(self) -> datetime:
        """The clock's current time as an aware UTC datetime."""
        return to_datetime(self.now())

    @abstractmethod
    def alarm(self, deadline: float, future: asyncio.Future[None]) -> Callable[[], None]:
        """Resolve ``future`` once clock time reaches ``deadline`` (at once if it has); call it
        in the future's event loop. Returns a function that cancels the alarm (any number of
        times). A waiter needs no task of its own: many streams wait at little cost."""

    def call_at(
        self, deadline: float, loop: asyncio.AbstractEventLoop, callback: Callable[[], object]
    ) -> Alarm | None:
        """Call ``callback()`` in ``loop``'s thread once clock time reaches ``deadline``;
        ``None``, and no call, when it has already. What a thousand parked streams each keep
        for their next ping: on a manual clock it is one small object."""
        future: asyncio.Future[None] = loop.create_future()
        cancel = self.alarm(deadline, future)
        if future.done():
            cancel()
            return None
        return _FutureAlarm(deadline, future, cancel, callback)

    async def wait_until(self, deadline: float) -> None:
        """Return once clock time has reached ``deadline`` (at once if it already has)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        cancel = self.alarm(deadline, future)
        try:
            await future
        finally:
            cancel()

    def real_seconds(self, clock_seconds: float) -> float:
        """How long ``clock_seconds`` of clock time last for someone who waits in real time.

        Durations a client acts on (``Retry-After``) go through this: a sleeping client must see
        real seconds. A clock that does not move by itself answers in clock seconds, since a test
        that drives it advances it by exactly that much.
        """
        return clock_seconds

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` whenever clock time jumps; returns a function that unsubscribes.

        Listeners run in the thread that moved the clock and must not block.
        """
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


class RealClock(Clock):
    """The wall clock."""

    def now(self) -> float:
        return time.time()

    def alarm(self, deadline: float, future: asyncio.Future[None]) -> Callable[[], None]:
        return _timer_alarm(future, lambda: deadline - self.now())


class ScaledClock(Clock):
    """A clock that runs ``speed`` times as fast as real time, starting at ``start``.

    ``start`` defaults to the wall-clock time at construction. :meth:`set_speed` changes the
    rate from now on without making time jump.
    """

    def __init__(self, speed: float, start: datetime | float | None = None) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._speed = self._checked_speed(speed)
        self._origin = time.time() if start is None else _as_timestamp(start)
        self._real_origin = time.monotonic()

    @staticmethod
    def _checked_speed(speed: float) -> float:
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError(f"clock speed must be a positive number, got {speed!r}")
        return float(speed)

    @property
    def speed(self) -> float:
        """How many clock seconds pass per real second."""
        return self._speed

    def now(self) -> float:
        with self._lock:
            return self._origin + (time.monotonic() - self._real_origin) * self._speed

    def real_seconds(self, clock_seconds: float) -> float:
        with self._lock:
            return clock_seconds / self._speed

    def set_speed(self, speed: float) -> None:
        """Run at ``speed`` from now on; clock time continues from where it is."""
        checked = self._checked_speed(speed)
        with self._lock:
            real_now = time.monotonic()
            self._origin += (real_now - self._real_origin) * self._speed
            self._real_origin = real_now
            self._speed = checked
        self._notify()

    def alarm(self, deadline: float, future: asyncio.Future[None]) -> Callable[[], None]:
        return _timer_alarm(future, lambda: (deadline - self.now()) / self._speed)


def _timer_alarm(
    future: asyncio.Future[None], real_seconds_left: Callable[[], float]
) -> Callable[[], None]:
    """An alarm on a clock that moves by itself: loop timers of at most ``_MAX_SLICE`` real
    seconds, each checking the time again (the speed of a scaled clock may have changed)."""
    loop = future.get_loop()
    handle: asyncio.TimerHandle | None = None

    def check() -> None:
        nonlocal handle
        if future.done():
            return
        left = real_seconds_left()
        if left <= 0:
            future.set_result(None)
        else:
            handle = loop.call_later(min(left, _MAX_SLICE), check)

    def cancel() -> None:
        if handle is not None:
            handle.cancel()

    check()
    return cancel


class _FutureAlarm:
    """:meth:`Clock.call_at` over :meth:`Clock.alarm`."""

    __slots__ = ("_callback", "_cancel", "_future", "deadline")

    def __init__(
        self,
        deadline: float,
        future: asyncio.Future[None],
        cancel: Callable[[], None],
        callback: Callable[[], object],
    ) -> None:
        self.deadline = deadline
        self._future = future
        self._cancel = cancel
        self._callback = callback
        future.add_done_callback(self._done)

    @property
    def pending(self) -> bool:
        return not self._future.done()

    def _done(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled():
            self._callback()

    def cancel(self) -> None:
        self._cancel()
        self._future.cancel()


class _Waiter:
    """A deadline in a :class:`ManualClock`'s heap: a future to resolve, or a call to make."""

    __slots__ = ("callback", "clock", "deadline", "fired", "future", "loop")

    def __init__(
        self,
        clock: ManualClock,
        deadline: float,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[None] | None,
        callback: Callable[[], object] | None = None,
    ) -> None:
        self.clock = clock
        self.deadline = deadline
        self.loop = loop
        self.future = future
        self.callback = callback
        """Both ``None`` once the alarm was cancelled: the heap drops it when its time comes."""
        self.fired = False
        """Taken from the heap as due: its call is on its way to the loop."""

    def __lt__(self, other: _Waiter) -> bool:
        return self.deadline < other.deadline

    @property
    def pending(self) -> bool:
        return not self.fired and (self.future is not None or self.callback is not None)

    def cancel(self) -> None:
        self.clock._cancel(self)


def _resolve_all(futures: list[asyncio.Future[None]], calls: list[_Waiter]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
    for waiter in calls:
        callback = waiter.callback
        if callback is not None:  # not cancelled since it fell due
            waiter.callback = None
            callback()


def _nothing() -> None:
    pass


class ManualClock(Clock):
    """A clock that moves only when :meth:`advance` (or :meth:`advance_to`) is called.

    It is safe to advance from one thread (a test) while coroutines wait on it in another (the
    server's event loop): waiters are woken with ``call_soon_threadsafe`` on their own loop.
    """

    def __init__(self, start: datetime | float = DEFAULT_MANUAL_START) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._start = _as_timestamp(start)
        self._now = self._start
        self._waiters: list[_Waiter] = []
        """A heap by deadline; cancelled waiters stay in it until their time or a compaction."""
        self._cancelled = 0
        self._before: list[Callable[[], object]] = []

    @property
    def start(self) -> float:
        """Where the clock started (and where :meth:`rewind` takes it back)."""
        return self._start

    def before_advance(self, listener: Callable[[], object]) -> Callable[[], None]:
        """Call ``listener()`` just before every move of the clock, while the time is still the
        old one; returns a function that unsubscribes. The journal settles here what happened
        before the move (a client that hung up is recorded as gone at the time it left)."""
        with self._listeners_lock:
            self._before.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._before:
                    self._before.remove(listener)

        return unsubscribe

    def rewind(self) -> float:
        """Back to where the clock started (a reset between tests); returns that time.

        Waiters keep their deadlines: whoever waits re-arms when told the clock jumped.
        """
        with self._lock:
            self._now = self._start
        self._notify()
        return self._start

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds``, wake due waiters; returns the new time."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"a manual clock only moves forward: advance() needs a finite number of "
                f"seconds >= 0, got {seconds!r}"
            )
        with self._listeners_lock:
            before = list(self._before)
        for listener in before:
            listener()
        due: dict[asyncio.AbstractEventLoop, tuple[list[asyncio.Future[None]], list[_Waiter]]]
        due = {}
        with self._lock:
            self._now += seconds
            now = self._now
            waiters = self._waiters
            while waiters and waiters[0].deadline <= now:
                waiter = heapq.heappop(waiters)
                if not waiter.pending:
                    self._cancelled -= 1
                    continue
                waiter.fired = True
                futures, calls = due.setdefault(waiter.loop, ([], []))
                if waiter.future is not None:
                    futures.append(waiter.future)
                else:
                    calls.append(waiter)
        # One callback per event loop, however many waiters: a step that wakes a thousand
        # streams must not write a thousand times to the loop's self-pipe.
        for loop, (futures, calls) in due.items():
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits there now
                loop.call_soon_threadsafe(_resolve_all, futures, calls)
        self._notify()
        return now

    def advance_to(self, moment: datetime | float) -> float:
        """Move the clock forward to ``moment``; moving backwards is a ``ValueError``."""
        target = _as_timestamp(moment)
        with self._lock:
            current = self._now
        if target < current:
            raise ValueError(
                f"a manual clock only moves forward: {format_timestamp(target)} is before "
                f"{format_timestamp(current)}"
            )
        return self.advance(target - current)

    def alarm(self, deadline: float, future: asyncio.Future[None]) -> Callable[[], None]:
        with self._lock:
            if self._now < deadline:
                waiter = _Waiter(self, deadline, future.get_loop(), future)
                heapq.heappush(self._waiters, waiter)
            else:
                waiter = None
        if waiter is None:
            if not future.done():
                future.set_result(None)
            return _nothing
        return waiter.cancel

    def call_at(
        self, deadline: float, loop: asyncio.AbstractEventLoop, callback: Callable[[], object]
    ) -> Alarm | None:
        with self._lock:
            if self._now >= deadline:
                return None
            waiter = _Waiter(self, deadline, loop, None, callback)
            heapq.heappush(self._waiters, waiter)
        return waiter

    def _cancel(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter.fired:
                waiter.callback = None  # its call may still be on its way: it is skipped
                return
            if not waiter.pending:
                return
            waiter.future = waiter.callback = None
            self._cancelled += 1
            # A stream re-arms on every event it is woken for: drop the dead waiters once
            # they outnumber the live ones.
            if self._cancelled > 64 and self._cancelled * 2 > len(self._waiters):
                self._waiters = [w for w in self._waiters if w.pending]
                heapq.heapify(self._waiters)
                self._cancelled = 0
