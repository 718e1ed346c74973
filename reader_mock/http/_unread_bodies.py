"""Keep HTTP/1.1 connections usable when the app answers before it has read the request body.

Many answers are decided before the body matters: a wrong key (``401``), the rate limit
(``429``), a bad ``x-idempotency-key`` (``400``), an unknown job (``404``), a replayed idempotent
answer, an injected fault, a body over the limit (``413``). Hypercorn ends the request cycle as
soon as the response is complete; if the client's body has not fully arrived by then, the
connection cannot be reused and is closed without notice, and a client that sent its next
request on it sees "server disconnected".

So when a response starts while the body is still arriving, this middleware holds the response
until the rest of the body has been received (the app's framework keeps reading it, and throws
away what it does not need), within :data:`MAX_WAIT_BYTES` and :data:`MAX_WAIT_SECONDS`. When
the body is not complete within those bounds, the response says ``Connection: close``, so the
client knows not to reuse the connection. A request that declares no body (neither
``Content-Length`` above zero nor ``Transfer-Encoding``, as most ``GET`` requests) passes
through untouched: it has nothing left to read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Final, Literal

from reader_mock._types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MAX_WAIT_BYTES",
    "MAX_WAIT_SECONDS",
    "UnreadBodyGuard",
    "discard_body",
]

MAX_WAIT_BYTES: Final = 64 * 1024 * 1024
"""The most of a request body that is received (and discarded) before an early answer."""
MAX_WAIT_SECONDS: Final = 2.0
"""The longest (real time) the rest of a request body is waited for before an early answer."""
_CLOSE: Final = (b"connection", b"close")
_BODY_HEADERS: Final = frozenset({b"content-length", b"transfer-encoding"})


def _declares_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether an HTTP/1.x request's headers announce a body (RFC 9112, section 6.3)."""
    for name, value in headers:
        lowered = bytes(name).lower()
        if lowered in _BODY_HEADERS and (lowered != b"content-length" or value.strip(b" \t0")):
            return True
    return False


class _Body:
    """How much of one request body has arrived, and a way to wait for the rest."""

    __slots__ = ("complete", "received", "waiter")

    def __init__(self) -> None:
        self.complete = False
        self.received = 0
        self.waiter: asyncio.Future[None] | None = None

    def seen(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if message.get("more_body", False) and self.received <= MAX_WAIT_BYTES:
                return
        self.complete = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self) -> bool:
        """Wait for the rest of the body; whether it arrived whole within the bounds."""
        if not self.complete:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self.waiter), MAX_WAIT_SECONDS)
            except TimeoutError:
                return False
        return self.received <= MAX_WAIT_BYTES


async def discard_body(scope: Scope, receive: Receive) -> Literal["whole", "cut", "gone"]:
    """Receive and throw away the body an HTTP/1.x request announces, within the same bounds, for
    an app that answers without reading it: ``whole`` (or none announced); ``cut`` (not whole
    within the bounds: the answer must say ``Connection: close``); ``gone`` (the client left).
    """
    if not str(scope.get("http_version", "")).startswith("1") or not _declares_body(
        scope.get("headers", ())
    ):
        return "whole"
    body = _Body()
    try:
        async with asyncio.timeout(MAX_WAIT_SECONDS):
            while not body.complete:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return "gone"
                body.seen(message)
    except TimeoutError:
        return "cut"
    return "whole" if body.received <= MAX_WAIT_BYTES else "cut"


class UnreadBodyGuard:
    """ASGI middleware: an HTTP/1.x response waits for the rest of its request's body, or says
    ``Connection: close``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope.get("type") != "http"
            or not str(scope.get("http_version", "")).startswith("1")
            or not _declares_body(scope.get("headers", ()))
        ):
            await self.app(scope, receive, send)
            return
        body = _Body()

        async def tracked_receive() -> Message:
            message = await receive()
            body.seen(message)
            return message

        async def guarded_send(message: Message) -> None:
            early = message["type"] == "http.response.start" and not body.complete
            if early and not await body.wait():
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"connection" for name, _ in headers):
                    message = {**message, "headers": [*headers, _CLOSE]}
            await send(message)

        await self.app(scope, tracked_receive, guarded_send)
