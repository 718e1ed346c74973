"""A stream's body chunks written straight to its HTTP/1.1 connection, past the server's ``send``.

After the server has sent the response's head, a chunked HTTP/1.1 body is only its chunks on the
socket: a stream writes them to the connection's transport itself while nothing is waiting in its
buffer, and hands a write to the server's ``send`` (which waits for the client) otherwise. Why:
docs/architecture.md, "The streams on the wire".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ..sse.tcp_reset import find_connection

__all__ = ["chunked_transport", "ready", "write_chunk"]


def chunked_transport(scope: Mapping[str, Any]) -> asyncio.Transport | None:
    """The plain TCP transport of an HTTP/1.1 request, whose streamed response the server frames
    as chunks; ``None`` for any other (HTTP/1.0, HTTP/2, TLS, a transport that cannot be found).
    Call it in the server's event loop once the response's head went out through ``send``."""
    if scope.get("http_version") != "1.1" or scope.get("scheme") != "http":
        return None
    transport = find_connection(scope)
    if transport is None or transport.get_extra_info("sslcontext") is not None:
        return None
    if not isinstance(transport.get_protocol(), asyncio.StreamReaderProtocol):
        return None  # not the asyncio stream the server reads and writes through
    return transport


def ready(transport: asyncio.Transport) -> bool:
    """Whether a chunk can be written now: the connection is open and nothing waits in its
    buffer for a client that reads slowly (the server's ``send`` waits for it)."""
    return not (transport.is_closing() or transport.get_write_buffer_size())


def write_chunk(transport: asyncio.Transport, data: bytes) -> bool:
    """Write ``data`` as one chunk of the body now; ``False`` (nothing written) when the write
    must go through the server's ``send`` instead (see :func:`ready`)."""
    if not ready(transport):
        return False
    if data:  # an empty chunk would end the body: the server writes nothing for it either
        transport.write(framed_chunk(data))
    return True


def framed_chunk(data: bytes) -> bytes:
    """``data`` (not empty) framed as one chunk of a chunked body."""
    return b"".join((b"%x\r\n" % len(data), data, b"\r\n"))
