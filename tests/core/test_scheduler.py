"""The job scheduler: jobs move when the clock reaches their next action, without anyone asking."""

from __future__ import annotations

import asyncio

import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Service
from reader_mock.core.scheduler import JobScheduler, Wake, wait_for_clock

# Wall seconds a test waits for the scheduler at most.
PATIENCE = 5.0


async def _until_settled(service: Service) -> None:
    """Until nothing is due any more (the scheduler applied every action)."""
    async with asyncio.timeout(PATIENCE):
        while service.next_due() is not None:
            await asyncio.sleep(0.001)


@pytest.mark.asyncio
async def test_jobs_created_while_running_settle_when_the_clock_jumps(
    service: Service, clock: ManualClock
) -> None:
    scheduler = JobScheduler(service)
    scheduler.start()
    scheduler.start()  # already running in this loop: nothing changes
    assert scheduler.running
    try:
        service.reads.submit(DEFAULT_API_KEY, {"urls": ["https://example.com/a"]})
        due = service.next_due()
        assert due is not None
        await asyncio.sleep(0.01)
        assert service.next_due() == due  # a manual clock does not move by itself
        clock.advance(3600)
        await _until_settled(service)
    finally:
        await scheduler.stop()
    assert not scheduler.running
    await scheduler.stop()  # stopping twice is harmless


@pytest.mark.asyncio
async def test_wait_for_clock_ends_at_the_deadline_or_when_woken(clock: ManualClock) -> None:
    wake = Wake()
    waiting = asyncio.create_task(wait_for_clock(clock, clock.now() + 10, wake))
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.advance(10)
    await asyncio.wait_for(waiting, PATIENCE)
    woken = asyncio.create_task(wait_for_clock(clock, clock.now() + 10, wake))
    wake.set()
    await asyncio.wait_for(woken, PATIENCE)
