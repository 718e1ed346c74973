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


def find_connection(scope: Mapping[str, Any]) -> asyncio.Transport | None:
    """The transport of the connection that carries the request ``scope``, if it can be found.

    Must be called from the server's event loop.
    """
    client = _address(scope.get("client"))
    server = _address(scope.get("server"))
    if client is None or server is None:
        return None
    table = getattr(asyncio.get_running_loop(), "_transports", None)
    if not isinstance(table, Mapping):
        return None
    # Newest first: the connection asked about is usually the one just accepted, the last
    # added, so a server with a thousand open streams does not look at each one per request.
    candidates: Iterable[object] = (
        (ref() for ref in reversed(table.valuerefs()))
        if isinstance(table, weakref.WeakValueDictionary)
        else reversed(list(table.values()))
    )
    for transport in candidates:
        if not isinstance(transport, asyncio.Transport) or transport.is_closing():
            continue
        if (
            _address(transport.get_extra_info("peername")) == client
            and _address(transport.get_extra_info("sockname")) == server
        ):
            return transport
    return None


def reset_connection(transport: asyncio.Transport) -> None:
    """Close the connection with a TCP RST (unsent bytes are discarded)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # If the socket is already gone, abort() below still closes the transport.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    transport.abort()
