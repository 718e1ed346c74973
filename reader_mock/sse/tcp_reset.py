"""Reset one TCP connection of the running server from inside the application (TCP RST).

:func:`find_connection` finds a request's transport in the event loop (``None`` where it cannot);
:func:`reset_connection` closes it with an RST. How, and the trade-off of reading a private asyncio
attribute: docs/architecture.md, "Scripted drops".
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["find_connection", "reset_connection"]

_LINGER_ZERO: Final = struct.pack("ii", 1, 0)


def _address(value: object) -> tuple[object, ...] | None:
    # Scopes carry (host, port); IPv6 socket addresses add flow info and scope id.
    if isinstance(value, list | tuple) and len(value) >= 2:
        return tuple(value[:2])
    return None


class _Index:
    """One event loop's transports by (client, server) address, filled as they are first seen,
    so that finding a connection among thousands costs a lookup, not a scan."""

    __slots__ = ("by_address", "seen")

    def __init__(self) -> None:
        self.by_address: weakref.WeakValueDictionary[tuple[object, ...], asyncio.Transport] = (
            weakref.WeakValueDictionary()
        )
        self.seen: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()

    def add_new(self, transports: Iterable[object]) -> None:
        for transport in transports:
            if not isinstance(transport, asyncio.Transport) or transport in self.seen:
                continue
            self.seen.add(transport)
            peer = _address(transport.get_extra_info("peername"))
            local = _address(transport.get_extra_info("sockname"))
            if peer is not None and local is not None:
                self.by_address[(peer, local)] = transport


_INDEXES: Final[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Index]] = (
    weakref.WeakKeyDictionary()
)


def find_connection(scope: Mapping[str, Any]) -> asyncio.Transport | None:
    """The transport of the connection that carries the request ``scope``, if it can be found.

    Must be called from the server's event loop.
    """
    client = _address(scope.get("client"))
    server = _address(scope.get("server"))
    if client is None or server is None:
        return None
    loop = asyncio.get_running_loop()
    table = getattr(loop, "_transports", None)
    if not isinstance(table, Mapping):
        return None
    index = _INDEXES.get(loop)
    if index is None:
        index = _INDEXES[loop] = _Index()
    key = (client, server)
    found = index.by_address.get(key)
    if found is None or found.is_closing():
        # Transports accepted since the last look are indexed now; a closed one whose port a
        # new connection reuses is replaced by it.
        index.add_new(
            [ref() for ref in table.valuerefs()]
            if isinstance(table, weakref.WeakValueDictionary)
            else list(table.values())
        )
        found = index.by_address.get(key)
    if found is None or found.is_closing():
        return None
    return found


def reset_connection(transport: asyncio.Transport) -> None:
    """Close the connection with a TCP RST (unsent bytes are discarded)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # If the socket is already gone, abort() below still closes the transport.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    transport.abort()
