"""The ASGI interface as type aliases, for the package's raw ASGI middlewares and its server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# An application's parameters stay open: frameworks type their scopes and messages as TypedDicts,
# which a parameter typed with the mappings above would not accept.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
