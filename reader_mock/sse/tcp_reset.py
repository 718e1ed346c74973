"""Reset one TCP connection of the running server from inside the application (TCP RST).

ASGI gives an application no handle on its connection, and Hypercorn exposes none. The one
handle that exists without patching the server is the event loop's own table of live socket
transports: CPython's selector event loop (the default loop on Linux and macOS) keeps every
socket transport it created in ``loop._transports``, keyed by file descriptor. The connection of
a request is the transport whose peer address is the scope's ``client`` and whose local address
is the scope's ``server``; that pair of addresses is unique among open connections.

Resetting is then plain socket API: ``SO_LINGER`` set to on with a zero timeout makes the close
send an RST instead of a FIN (unsent bytes are discarded), and ``transport.abort()`` closes the
socket at once. The server notices the lost connection like any other client disconnect.

The trade-off: ``_transports`` is a private attribute of CPython's asyncio. It has been there
since asyncio's first release and is only read here, never changed; where it is missing (another
event loop such as uvloop, or the Windows proactor loop), :func:`find_connection` returns
``None`` and callers fall back to a truncated body.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Mapping
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
    for transport in list(table.values()):
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
