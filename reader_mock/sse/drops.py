"""Scripted connection drops for SSE responses, as a raw ASGI middleware.

A streaming body yields a :class:`Drop` instead of bytes; :class:`DropMiddleware` performs it
(``clean``, ``truncate``, ``mid-frame`` or ``reset``) and reports the kind performed, which can
differ over HTTP/2 or without the loop's transport table. What each kind does and when it differs:
docs/architecture.md, "Scripted drops" (what a client sees: docs/drops.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from reader_mock._types import ASGIApp, Message, Scope, Send

from .drop_kinds import DropKind
from .tcp_reset import find_connection, reset_connection

__all__ = ["Drop", "DropKind", "DropMiddleware", "DropReport", "perform_drop"]

# Hypercorn's HTTP/2 writer sends body data from its own task; a few loop turns let the bytes
# written just before a reset reach the socket first.
_H2_SETTLE_TURNS: Final = 8


@dataclass(frozen=True, slots=True)
class Drop:
    """Yield this from a streaming response body to drop the connection.

    Attributes:
        kind: how to end the connection.
        partial: bytes written just before the drop; for ``mid-frame``, the first part of a
            frame (required).
    """

    kind: DropKind
    partial: bytes = b""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", DropKind(self.kind))
        except ValueError:
            allowed = ", ".join(repr(kind.value) for kind in DropKind)
            raise ValueError(
                f"unknown drop kind {self.kind!r}; expected one of {allowed}"
            ) from None
        if not isinstance(self.partial, bytes):
            raise ValueError(f"Drop.partial must be bytes, got {type(self.partial).__name__}")
        if self.kind is DropKind.MID_FRAME and not self.partial:
            raise ValueError("a mid-frame drop needs the partial frame to write (Drop.partial)")

    @classmethod
    def mid_frame(cls, frame: bytes) -> Drop:
        """A ``mid-frame`` drop that writes the first half of ``frame`` (at least one byte).

        Raises:
            ValueError: ``frame`` has fewer than two bytes, so it cannot be cut.
        """
        if len(frame) < 2:
            raise ValueError("a frame needs at least two bytes to be cut in the middle")
        return cls(DropKind.MID_FRAME, frame[: len(frame) // 2])


@dataclass(frozen=True, slots=True)
class DropReport:
    """What :class:`DropMiddleware` did, passed to its ``on_drop`` callback.

    Attributes:
        scope: the ASGI scope of the dropped request.
        drop: the drop the body asked for.
        performed: the kind actually performed (see the module documentation for when it
            differs from ``drop.kind``).
    """

    scope: Mapping[str, Any]
    drop: Drop
    performed: DropKind


class _Dropped(Exception):
    """Raised through the application to stop it after a drop; caught by the middleware."""

    def __init__(self, owner: object) -> None:
        super().__init__("connection dropped on purpose")
        self.owner = owner


class DropMiddleware:
    """ASGI middleware that performs the :class:`Drop` markers a response body yields.

    Args:
        app: the ASGI application (a Quart app or its ``asgi_app``).
        on_drop: called once per drop, before the connection ends, with a :class:`DropReport`.
        streams: which requests may stream (by their ASGI scope); the others pass through
            untouched, at no cost per message. Every HTTP request by default.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        on_drop: Callable[[DropReport], None] | None = None,
        streams: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.on_drop = on_drop
        self.streams = streams

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or (self.streams is not None and not self.streams(scope)):
            await self.app(scope, receive, send)
            return
        connection = _Connection(scope, send, self.on_drop)
        try:
            await self.app(scope, receive, connection.send)
        except _Dropped as dropped:
            if dropped.owner is not connection:
                raise


class _Connection:
    """The ``send`` side of one request, watching for a :class:`Drop` in the body."""

    def __init__(
        self, scope: Scope, send: Send, on_drop: Callable[[DropReport], None] | None
    ) -> None:
        self.scope = scope
        self._send = send
        self._on_drop = on_drop

    async def send(self, message: Message) -> None:
        if message.get("type") == "http.response.body":
            body = message.get("body")
            if isinstance(body, Drop):
                await perform_drop(self.scope, self._send, body, self._on_drop)
                raise _Dropped(self)
        await self._send(message)


def _performed(scope: Mapping[str, Any], drop: Drop) -> tuple[DropKind, asyncio.Transport | None]:
    """The kind a drop can be performed as on ``scope``'s connection, and the transport to reset."""
    kind = drop.kind
    if kind is DropKind.CLEAN:
        return kind, None
    # HTTP/2 and HTTP/3 multiplex responses on one connection (see the module documentation).
    if kind is DropKind.RESET or scope.get("http_version") not in ("1.0", "1.1"):
        transport = find_connection(scope)
        if transport is not None:
            return DropKind.RESET, transport
        return (DropKind.TRUNCATE if kind is DropKind.RESET else kind), None
    return kind, None


async def perform_drop(
    scope: Mapping[str, Any],
    send: Send,
    drop: Drop,
    on_drop: Callable[[DropReport], None] | None = None,
) -> DropKind:
    """End the streaming response of ``scope`` the way ``drop`` says, through its ``send``, and
    return the kind performed. ``on_drop`` is told first. After a ``truncate`` or ``mid-frame``
    the application must send nothing more: returning without the final body message is the drop.
    """
    performed, transport = _performed(scope, drop)
    if on_drop is not None:
        on_drop(DropReport(scope, drop, performed))
    if drop.partial:
        await send({"type": "http.response.body", "body": drop.partial, "more_body": True})
    if performed is DropKind.CLEAN:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif transport is not None:
        if scope.get("http_version") not in ("1.0", "1.1"):
            for _ in range(_H2_SETTLE_TURNS):
                await asyncio.sleep(0)
        reset_connection(transport)
    return performed
