"""The clocks: manual, scaled and real, and timestamps as the API prints them."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from reader_mock.core.clock import (
    DEFAULT_MANUAL_START,
    ManualClock,
    RealClock,
    ScaledClock,
    format_timestamp,
)


def test_manual_clock_starts_at_a_fixed_moment_and_stands_still() -> None:
    clock = ManualClock()
    assert clock.utcnow() == DEFAULT_MANUAL_START == datetime(2026, 1, 1, tzinfo=UTC)
    first = clock.now()
    time.sleep(0.01)
    assert clock.now() == first


def test_manual_clock_advances_only_when_told() -> None:
    clock = ManualClock(start=1_000.0)
    assert clock.advance(2.5) == 1_002.5
    assert clock.now() == 1_002.5
    assert clock.advance(0) == 1_002.5
    assert clock.advance_to(datetime.fromtimestamp(1_010, UTC)) == 1_010.0


@pytest.mark.parametrize("seconds", [-1.0, -0.001, float("nan"), float("inf")])
def test_manual_clock_refuses_to_go_backwards_or_to_nonsense(seconds: float) -> None:
    clock = ManualClock(start=50.0)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(seconds)
    assert clock.now() == 50.0


def test_manual_clock_refuses_advance_to_the_past() -> None:
    clock = ManualClock(start=100.0)
    with pytest.raises(ValueError, match="is before"):
        clock.advance_to(99.0)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        ManualClock(start=datetime(2026, 1, 1))


def test_listeners_hear_about_jumps_until_they_unsubscribe() -> None:
    clock = ManualClock()
    heard: list[float] = []
    unsubscribe = clock.subscribe(lambda: heard.append(clock.now()))
    clock.advance(1)
    clock.advance(2)
    unsubscribe()
    clock.advance(3)
    assert heard == [DEFAULT_MANUAL_START.timestamp() + 1, DEFAULT_MANUAL_START.timestamp() + 3]


@pytest.mark.asyncio
async def test_wait_until_returns_at_once_for_a_past_deadline() -> None:
    clock = ManualClock(start=10.0)
    await asyncio.wait_for(clock.wait_until(10.0), timeout=1)
    await asyncio.wait_for(clock.wait_until(3.0), timeout=1)


@pytest.mark.asyncio
async def test_wait_until_waits_for_the_clock_not_for_real_time() -> None:
    clock = ManualClock(start=0.0)
    waiter = asyncio.ensure_future(clock.wait_until(30.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    clock.advance(29.999)
    await asyncio.sleep(0.01)
    assert not waiter.done()
    clock.advance(0.001)
    await asyncio.wait_for(waiter, timeout=1)


@pytest.mark.asyncio
async def test_advancing_from_another_thread_wakes_the_loop() -> None:
    clock = ManualClock(start=0.0)
    waiters = [asyncio.ensure_future(clock.wait_until(deadline)) for deadline in (5.0, 60.0)]
    await asyncio.sleep(0.01)
    thread = threading.Thread(target=clock.advance, args=(10.0,))
    thread.start()
    thread.join()
    await asyncio.wait_for(waiters[0], timeout=1)
    assert not waiters[1].done()
    waiters[1].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiters[1]


@pytest.mark.asyncio
async def test_a_cancelled_waiter_is_forgotten() -> None:
    clock = ManualClock(start=0.0)
    waiter = asyncio.ensure_future(clock.wait_until(5.0))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    clock.advance(10)  # must not try to resolve the cancelled future
    assert waiter.cancelled()


def test_scaled_clock_runs_faster_than_real_time() -> None:
    clock = ScaledClock(1000, start=0.0)
    before_real = time.monotonic()
    time.sleep(0.05)
    elapsed_real = time.monotonic() - before_real
    assert clock.now() >= 0.05 * 1000 * 0.9
    assert clock.now() <= (elapsed_real + 0.05) * 1000


def test_scaled_clock_changes_speed_without_jumping() -> None:
    clock = ScaledClock(1, start=500.0)
    before = clock.now()
    clock.set_speed(10_000)
    after = clock.now()
    assert 0 <= after - before < 5  # no jump: a fraction of a real second at most


@pytest.mark.parametrize("speed", [0, -2, float("nan"), float("inf")])
def test_scaled_clock_refuses_bad_speeds(speed: float) -> None:
    with pytest.raises(ValueError, match="positive number"):
        ScaledClock(speed)


@pytest.mark.asyncio
async def test_scaled_clock_wait_until_takes_scaled_real_time() -> None:
    clock = ScaledClock(200, start=0.0)
    started = time.monotonic()
    await asyncio.wait_for(clock.wait_until(clock.now() + 10.0), timeout=2)
    real = time.monotonic() - started
    assert 0.03 <= real < 1.0  # 10 clock seconds at speed 200 is 0.05 real seconds


def test_real_clock_follows_the_wall_clock() -> None:
    clock = RealClock()
    assert abs(clock.now() - time.time()) < 1
    assert clock.utcnow().tzinfo is UTC


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (DEFAULT_MANUAL_START.timestamp(), "2026-01-01T00:00:00Z"),
        (DEFAULT_MANUAL_START.timestamp() + 0.2, "2026-01-01T00:00:00.200Z"),
        (DEFAULT_MANUAL_START.timestamp() + 4.9996, "2026-01-01T00:00:05Z"),
    ],
)
def test_timestamps_print_as_rfc3339_utc(timestamp: float, text: str) -> None:
    assert format_timestamp(timestamp) == text


@pytest.mark.asyncio
async def test_one_step_wakes_every_due_waiter_with_one_loop_callback() -> None:
    clock = ManualClock(start=0.0)
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(1000)]
    for index, future in enumerate(futures):
        clock.alarm(1.0 + index % 2, future)
    scheduled: list[object] = []
    original = loop.call_soon_threadsafe

    def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
        scheduled.append(callback)
        return original(callback, *args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign,assignment]
    try:
        mover = threading.Thread(target=clock.advance, args=(1.5,))
        mover.start()
        mover.join()
    finally:
        del loop.call_soon_threadsafe
    assert len(scheduled) == 1
    await asyncio.sleep(0)
    assert [future.done() for future in futures] == [index % 2 == 0 for index in range(1000)]


@pytest.mark.asyncio
async def test_cancelled_alarms_are_dropped_and_never_resolve() -> None:
    clock = ManualClock(start=0.0)
    loop = asyncio.get_running_loop()
    kept = loop.create_future()
    clock.alarm(10.0, kept)
    cancelled = []
    for _ in range(500):  # a stream re-arms like this on every event it is woken for
        future = loop.create_future()
        cancel = clock.alarm(10.0, future)
        cancel()
        cancel()  # twice is harmless
        cancelled.append(future)
    assert len(clock._waiters) < 200  # compacted along the way
    clock.advance(10.0)
    await asyncio.wait_for(kept, timeout=1)
    assert not any(future.done() for future in cancelled)
    assert clock._waiters == []


@pytest.mark.asyncio
async def test_an_alarm_in_the_past_resolves_at_once() -> None:
    loop = asyncio.get_running_loop()
    for clock in (ManualClock(start=50.0), ScaledClock(10, start=50.0), RealClock()):
        future = loop.create_future()
        clock.alarm(clock.now() - 1, future)
        assert future.done()


@pytest.mark.asyncio
async def test_a_scaled_alarm_follows_a_change_of_speed() -> None:
    loop = asyncio.get_running_loop()
    clock = ScaledClock(1, start=0.0)
    future = loop.create_future()
    cancel = clock.alarm(clock.now() + 60.0, future)  # a minute at speed 1
    clock.set_speed(1000)  # 60 ms at this speed; noticed within one slice
    await asyncio.wait_for(future, timeout=2)
    cancel()


@pytest.mark.asyncio
async def test_call_at_calls_once_the_clock_reaches_the_deadline() -> None:
    clock = ManualClock(start=0.0)
    loop = asyncio.get_running_loop()
    calls: list[str] = []
    alarms = [clock.call_at(at, loop, partial(calls.append, f"at {at}")) for at in (2, 1)]
    assert all(alarm is not None and alarm.pending for alarm in alarms)
    clock.advance(0.5)
    await asyncio.sleep(0)
    assert calls == []
    mover = threading.Thread(target=clock.advance, args=(1.0,))  # as a test's thread moves it
    mover.start()
    mover.join()
    first, second = alarms
    assert first is not None and second is not None
    assert not second.pending  # on its way to the loop: no longer pending
    assert first.pending
    await asyncio.sleep(0)
    assert calls == ["at 1"]
    clock.advance(5.0)
    await asyncio.sleep(0)
    assert calls == ["at 1", "at 2"]
    assert clock._waiters == []


@pytest.mark.asyncio
async def test_call_at_for_a_passed_deadline_is_refused_and_never_calls() -> None:
    loop = asyncio.get_running_loop()
    for clock in (ManualClock(start=50.0), ScaledClock(10, start=50.0), RealClock()):
        calls: list[int] = []
        assert clock.call_at(clock.now() - 1, loop, partial(calls.append, 1)) is None
        await asyncio.sleep(0.01)
        assert calls == []


@pytest.mark.asyncio
async def test_a_cancelled_call_is_never_made_even_once_it_fell_due() -> None:
    clock = ManualClock(start=0.0)
    loop = asyncio.get_running_loop()
    calls: list[str] = []
    early = clock.call_at(1.0, loop, lambda: calls.append("early"))
    late = clock.call_at(1.0, loop, lambda: calls.append("late"))
    kept = clock.call_at(1.0, loop, lambda: calls.append("kept"))
    assert early is not None and late is not None and kept is not None
    early.cancel()
    early.cancel()  # twice is harmless
    clock.advance(1.0)  # late falls due: its call is queued in the loop...
    late.cancel()  # ...and cancelled before the loop makes it
    await asyncio.sleep(0)
    assert calls == ["kept"]
    assert not early.pending and not late.pending and not kept.pending
    assert clock._cancelled == 0  # a cancel after the fall counts no dead waiter in the heap


@pytest.mark.asyncio
async def test_call_at_on_a_clock_that_moves_by_itself() -> None:
    loop = asyncio.get_running_loop()
    clock = ScaledClock(1000, start=0.0)
    called = asyncio.Event()
    cancelled: list[int] = []
    deadline = clock.now() + 20.0  # 20 ms at this speed
    alarm = clock.call_at(deadline, loop, called.set)
    other = clock.call_at(deadline, loop, lambda: cancelled.append(1))
    assert alarm is not None and other is not None
    assert alarm.deadline == other.deadline and alarm.pending
    other.cancel()
    await asyncio.wait_for(called.wait(), timeout=2)
    await asyncio.sleep(0.05)
    assert not alarm.pending
    assert cancelled == []
