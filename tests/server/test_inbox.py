"""The inbox of one request's ASGI messages, without a server: order, the bound on messages not
taken, cancelled waits that lose nothing, and the stop that answers ``http.disconnect``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reader_mock._inbox import Inbox, Stopping


def _body(n: int) -> dict[str, Any]:
    return {"type": "http.request", "body": str(n).encode(), "more_body": True}


async def _turns(count: int = 3) -> None:
    """Let every task that can run do so (the loop's own turns, no wall-clock wait)."""
    for _ in range(count):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_messages_come_out_in_the_order_they_went_in() -> None:
    inbox = Inbox(0, Stopping())
    for n in range(25):
        await inbox.put(_body(n))
    assert len(inbox) == 25
    assert [(await inbox.get())["body"] for _ in range(25)] == [str(n).encode() for n in range(25)]
    assert len(inbox) == 0


@pytest.mark.asyncio
async def test_get_waits_for_a_message() -> None:
    stopping = Stopping()
    inbox = Inbox(10, stopping)
    getter = asyncio.create_task(inbox.get())
    await _turns()
    assert not getter.done()
    assert stopping.waiting == {inbox}
    await inbox.put(_body(1))
    assert await getter == _body(1)
    assert stopping.waiting == set()


@pytest.mark.asyncio
async def test_put_waits_while_the_inbox_is_full() -> None:
    inbox = Inbox(2, Stopping())
    await inbox.put(_body(1))
    await inbox.put(_body(2))
    putter = asyncio.create_task(inbox.put(_body(3)))
    await _turns()
    assert not putter.done()
    assert len(inbox) == 2
    assert await inbox.get() == _body(1)
    await putter
    assert [await inbox.get(), await inbox.get()] == [_body(2), _body(3)]


@pytest.mark.asyncio
async def test_no_bound_means_put_never_waits() -> None:
    inbox = Inbox(0, Stopping())
    for n in range(1000):
        await asyncio.wait_for(inbox.put(_body(n)), 1)
    assert len(inbox) == 1000


@pytest.mark.asyncio
async def test_a_get_cancelled_after_it_was_woken_passes_the_message_on() -> None:
    inbox = Inbox(10, Stopping())
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await _turns()
    await inbox.put(_body(1))  # wakes the first in line
    first.cancel()  # before it ran: it takes nothing, and the second gets the message
    assert await asyncio.wait_for(second, 1) == _body(1)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(inbox) == 0


@pytest.mark.asyncio
async def test_a_cancelled_get_leaves_the_message_for_the_next_get() -> None:
    inbox = Inbox(10, Stopping())
    getter = asyncio.create_task(inbox.get())
    await _turns()
    await inbox.put(_body(1))
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert await inbox.get() == _body(1)


@pytest.mark.asyncio
async def test_a_put_cancelled_after_it_was_woken_passes_the_room_on() -> None:
    inbox = Inbox(1, Stopping())
    await inbox.put(_body(1))
    first = asyncio.create_task(inbox.put(_body(2)))
    second = asyncio.create_task(inbox.put(_body(3)))
    await _turns()
    assert await inbox.get() == _body(1)  # room for one: the first putter is woken
    first.cancel()
    await asyncio.wait_for(second, 1)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert [await inbox.get()] == [_body(3)]
    assert len(inbox) == 0


@pytest.mark.asyncio
async def test_a_stop_answers_every_get_with_a_disconnect() -> None:
    stopping = Stopping()
    inboxes = [Inbox(10, stopping) for _ in range(3)]
    waiting = [asyncio.create_task(inbox.get()) for inbox in inboxes]
    await _turns()
    assert stopping.waiting == set(inboxes)
    stopping.disconnect_all()
    assert [await task for task in waiting] == [{"type": "http.disconnect"}] * 3
    assert stopping.waiting == set()
    # From now on, at once, even with messages not taken yet.
    await inboxes[0].put(_body(1))
    assert await asyncio.wait_for(inboxes[0].get(), 1) == {"type": "http.disconnect"}
    assert await asyncio.wait_for(inboxes[1].get(), 1) == {"type": "http.disconnect"}
