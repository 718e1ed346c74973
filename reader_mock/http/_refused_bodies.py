"""Read the rest of a request body the app refused, so that its ``413`` reaches the client.

The app answers a body over ``Settings.max_body_bytes`` with ``413`` before reading it. If the
connection were then closed with the client's bytes still unread, the kernel would answer them
with a TCP reset, and a reset can destroy the ``413`` in the client's receive buffer before the
client reads it: the client sees "server disconnected" instead of the documented error, more
often the busier the machine. So after a ``413`` this middleware reads and discards what is left
of the body (the way servers "linger" before closing), within limits: at most
:data:`MAX_DRAIN_BYTES` and :data:`MAX_DRAIN_SECONDS`. A client sending more than that, or
stalling, sees the connection close as before. The ``413`` itself says ``Connection: close``:
the connection is not reused for another request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from reader_mock._types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_DRAIN_BYTES", "MAX_DRAIN_SECONDS", "RefusedBodyDrain"]

MAX_DRAIN_BYTES: Final = 64 * 1024 * 1024
"""The most of a refused body that is read and discarded."""
MAX_DRAIN_SECONDS: Final = 10.0
"""The longest (real time) the rest of a refused body is waited for."""


class RefusedBodyDrain:
    """ASGI middleware: after a ``413`` answer, read the rest of the request body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        refused = False

        async def tracked_receive() -> Message:
            nonlocal body_done
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message.get("status") == 413:
                refused = True
            await send(message)

        await self.app(scope, tracked_receive, tracked_send)
        if refused and not body_done:
            await _drain(receive)


async def _drain(receive: Receive) -> None:
    deadline = time.monotonic() + MAX_DRAIN_SECONDS
    read = 0
    while read <= MAX_DRAIN_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
