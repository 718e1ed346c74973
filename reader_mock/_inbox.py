"""The ASGI messages the server has for one request, in order, until the app takes them.

Hypercorn keeps them in an ``asyncio.Queue``: four deques and an event, about 3 KB that an open
event stream holds for as long as it is open. :class:`Inbox` keeps the same order, the same bound
on messages not yet taken and the same behaviour under cancellation in three short lists. Where
the runner hands it to Hypercorn: ``_serving.install_request_hook``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import MutableMapping
from typing import Any, Final

__all__ = ["DISCONNECT", "Inbox", "Stopping"]

Message = MutableMapping[str, Any]

DISCONNECT: Final = "http.disconnect"


class Stopping:
    """What every inbox of one server shares: whether the server is stopping (then every
    ``get`` answers ``http.disconnect`` at once) and which inboxes have a ``get`` waiting."""

    __slots__ = ("stopping", "waiting")

    def __init__(self) -> None:
        self.stopping = False
        self.waiting: set[Inbox] = set()

    def disconnect_all(self) -> None:
        """From now on every ``get`` answers ``http.disconnect``, those waiting now too."""
        self.stopping = True
        for inbox in list(self.waiting):
            inbox.wake_getters()


class Inbox:
    """A FIFO of ASGI messages with the ``put`` and ``get`` of ``asyncio.Queue``.

    ``put`` waits while ``maxsize`` messages (``0``: no bound) are not taken yet; ``get`` waits
    for a message. A cancelled wait takes nothing and passes its turn on, as the queue's does.
    """

    __slots__ = ("_getters", "_items", "_maxsize", "_putters", "_stopping")

    def __init__(self, maxsize: int, stopping: Stopping) -> None:
        self._items: list[Message] = []
        self._getters: list[asyncio.Future[None]] = []
        self._putters: list[asyncio.Future[None]] = []
        self._maxsize = maxsize
        self._stopping = stopping

    def __len__(self) -> int:
        return len(self._items)

    def _full(self) -> bool:
        return 0 < self._maxsize <= len(self._items)

    async def put(self, message: Message) -> None:
        """Add ``message``, once there is room for it."""
        putters = self._putters
        while self._full():
            putter = asyncio.get_running_loop().create_future()
            putters.append(putter)
            try:
                await putter
            except BaseException:
                _leave(putters, putter, pass_on=not self._full())
                raise
            finally:
                _remove(putters, putter)
        self._items.append(message)
        _wake_first(self._getters)

    async def get(self) -> Message:
        """The oldest message, once there is one; ``http.disconnect`` once the server stops."""
        # One frame for the whole wait: an idle event stream waits here for as long as it is open.
        stopping, getters = self._stopping, self._getters
        while not self._items and not stopping.stopping:
            getter = asyncio.get_running_loop().create_future()
            getters.append(getter)
            stopping.waiting.add(self)
            try:
                await getter
            except BaseException:
                _leave(getters, getter, pass_on=bool(self._items))
                raise
            finally:
                _remove(getters, getter)
                if not getters:
                    stopping.waiting.discard(self)
        if stopping.stopping:
            return {"type": DISCONNECT}
        message = self._items.pop(0)
        _wake_first(self._putters)
        return message

    def wake_getters(self) -> None:
        """Wake every ``get`` waiting now (each looks again at what there is)."""
        for getter in self._getters:
            if not getter.done():
                getter.set_result(None)


def _leave(
    waiters: list[asyncio.Future[None]], waiter: asyncio.Future[None], *, pass_on: bool
) -> None:
    """A waiter leaves the line without taking its turn (it was cancelled). A wake-up it was
    given goes to the next one in line while what it was woken for is still there."""
    woken = waiter.done() and not waiter.cancelled()
    waiter.cancel()
    if woken and pass_on:
        _wake_first(waiters, skip=waiter)


def _remove(waiters: list[asyncio.Future[None]], waiter: asyncio.Future[None]) -> None:
    with contextlib.suppress(ValueError):
        waiters.remove(waiter)


def _wake_first(
    waiters: list[asyncio.Future[None]], skip: asyncio.Future[None] | None = None
) -> None:
    """Wake the first waiter in line not woken yet."""
    for waiter in waiters:
        if waiter is not skip and not waiter.done():
            waiter.set_result(None)
            return
