"""``Wake`` and ``wait_for_clock``: a wait on the clock or a flag, with one future and no task."""

from __future__ import annotations

import asyncio

import pytest

from reader_mock.core.clock import ManualClock
from reader_mock.core.scheduler import Wake, wait_for_clock


@pytest.mark.asyncio
async def test_the_clock_ends_the_wait() -> None:
    clock, wake = ManualClock(start=0.0), Wake()
    waiting = asyncio.ensure_future(wait_for_clock(clock, 30.0, wake))
    await asyncio.sleep(0)
    clock.advance(29.0)
    await asyncio.sleep(0.01)
    assert not waiting.done()
    clock.advance(1.0)
    await asyncio.wait_for(waiting, timeout=1)


@pytest.mark.asyncio
async def test_the_flag_ends_the_wait_and_the_alarm_is_cancelled() -> None:
    clock, wake = ManualClock(start=0.0), Wake()
    tasks_before = len(asyncio.all_tasks())
    waiting = asyncio.ensure_future(wait_for_clock(clock, 30.0, wake))
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == tasks_before + 1  # the waiter alone: no helper tasks
    wake.set()
    await asyncio.wait_for(waiting, timeout=1)
    assert wake.is_set()
    assert all(waiter.future is None for waiter in clock._waiters)


@pytest.mark.asyncio
async def test_a_set_flag_returns_at_once_until_cleared() -> None:
    clock, wake = ManualClock(start=0.0), Wake()
    wake.set()
    await asyncio.wait_for(wait_for_clock(clock, 30.0, wake), timeout=1)
    await asyncio.wait_for(wake.wait(), timeout=1)
    wake.clear()
    waiting = asyncio.ensure_future(wake.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    wake.set()
    await asyncio.wait_for(waiting, timeout=1)


@pytest.mark.asyncio
async def test_a_cancelled_wait_leaves_nothing_armed() -> None:
    clock, wake = ManualClock(start=0.0), Wake()
    waiting = asyncio.ensure_future(wait_for_clock(clock, 30.0, wake))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    wake.set()  # nobody waits: nothing to resolve
    clock.advance(60.0)
    assert clock._waiters == []


def test_a_callback_runs_once_when_the_flag_is_next_set() -> None:
    wake = Wake()
    calls: list[str] = []
    wake.call_on_set(lambda: calls.append("first"))
    assert calls == []
    wake.set()
    wake.set()  # the callback was used up by the first
    assert calls == ["first"] and wake.is_set()
    wake.clear()
    wake.call_on_set(lambda: calls.append("second"))
    wake.call_on_set(None)  # withdrawn before the flag is set
    wake.set()
    assert calls == ["first"]
