"""The clock-driven scheduler: settles the service whenever the next job action falls due.

It runs as a task in the server's event loop and sleeps until the clock reaches the next due
time; it is re-armed when the clock jumps or jobs are created, cancelled or retried. So streams
hear of events without anyone polling. Plain asyncio: no web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol

from .clock import Clock

__all__ = ["JobScheduler", "Schedulable", "Wake", "wait_for_clock"]


class Schedulable(Protocol):
    """What the scheduler needs of the service."""

    @property
    def clock(self) -> Clock: ...

    def next_due(self) -> float | None:
        """Clock time of the next scheduled change, if any."""
        ...

    def settle_all(self) -> None:
        """Apply every change due by now."""
        ...

    def on_schedule_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` when the next due time may have moved; returns the unsubscriber."""
        ...


class JobScheduler:
    """Settles the service when the next job action is due, in the running event loop."""

    def __init__(self, service: Schedulable) -> None:
        self._service = service
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        """Whether the scheduler runs (in some loop)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Run in the current event loop (no-op when already running there)."""
        loop = asyncio.get_running_loop()
        if self.running and self._loop is loop:
            return
        self._loop = loop
        self._task = loop.create_task(self._run(Wake()), name="reader-mock-scheduler")

    def halt(self) -> None:
        """Stop settling now, from any thread: the task is cancelled in its loop, and
        :meth:`stop` still awaits it. For a server that is stopping: what it would settle, no
        stream writes any more."""
        task, loop = self._task, self._loop
        if task is None or task.done() or loop is None:
            return
        try:
            in_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            in_loop = False
        if in_loop:
            task.cancel()
        else:
            # RuntimeError: the loop is closed, so the task is gone too.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

    async def stop(self) -> None:
        """Stop running (idempotent)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self, rearm: Wake) -> None:
        service = self._service
        clock = service.clock
        loop = asyncio.get_running_loop()

        def poke() -> None:
            # In its own loop (the usual case: a request changed the schedule), set at once;
            # through the loop's self-pipe only from another thread, so that a burst of changes
            # cannot fill the pipe that also carries signals.
            try:
                running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                rearm.set()
                return
            # RuntimeError: the loop is closed, so the scheduler is gone too.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(rearm.set)

        stop_clock = clock.subscribe(poke)
        stop_schedule = service.on_schedule_change(poke)
        try:
            while True:
                rearm.clear()
                due = service.next_due()
                if due is not None and due <= clock.now():
                    service.settle_all()
                    await asyncio.sleep(0)  # let the streams write before settling more
                    continue
                if due is None:
                    await rearm.wait()
                else:
                    await wait_for_clock(clock, due, rearm)
        finally:
            stop_clock()
            stop_schedule()


class Wake:
    """A flag that ends a wait early: like :class:`asyncio.Event` for a single waiter, set and
    waited for in one event loop. With :func:`wait_for_clock`, one future serves a wait on the
    clock and on the flag at once, with no task per wait: a thousand idle streams wait
    cheaply, and a clock step wakes them without creating tasks."""

    __slots__ = ("_callback", "_future", "_set")

    def __init__(self) -> None:
        self._set = False
        self._future: asyncio.Future[None] | None = None
        self._callback: Callable[[], None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """Set the flag, end the current wait and call the callback, if any (once)."""
        self._set = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)
        callback = self._callback
        if callback is not None:
            self._callback = None
            callback()

    def clear(self) -> None:
        self._set = False

    def call_on_set(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` (once) when the flag is next set (``None``: no longer): for a
        waiter that awaits something else, or nothing at all."""
        self._callback = callback

    async def wait(self) -> None:
        """Until the flag is set."""
        if self._set:
            return
        await self._wait_on(asyncio.get_running_loop().create_future())

    async def _wait_on(self, future: asyncio.Future[None]) -> None:
        self._future = future
        try:
            await future
        finally:
            self._future = None


async def wait_for_clock(clock: Clock, deadline: float, wake: Wake) -> None:
    """Until clock time reaches ``deadline`` or ``wake`` is set."""
    if wake.is_set():
        return
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cancel = clock.alarm(deadline, future)
    try:
        await wake._wait_on(future)
    finally:
        cancel()
