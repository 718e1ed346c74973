"""Whether a stream's client has hung up, asked of its socket from any thread.

A client that closes its connection sends a FIN, which its end of a loopback connection delivers
before ``close()`` returns. The server's event loop notices only on a later turn, so a clock moved
right after the client left would still send it frames. Peeking at the socket (``MSG_PEEK``,
non-blocking) tells at once: an empty read means the client is gone. Why the journal asks, and
when: docs/architecture.md, "The journal".
"""

from __future__ import annotations

import select
import socket
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..core.journal import HangUpProbe
from ..sse.tcp_reset import find_connection

__all__ = ["Peer", "hung_up_among"]

_PEEK: Final = socket.MSG_PEEK | socket.MSG_DONTWAIT
_POLL: Final = getattr(select, "poll", None)  # not on Windows: the peek alone answers there


class Peer:
    """The client end of one request's connection, as far as its socket tells."""

    __slots__ = ("_sock",)

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock

    @classmethod
    def of(cls, scope: Mapping[str, Any]) -> Peer:
        """The peer of the request ``scope``; call it in the server's event loop. Where the
        socket cannot be found (another event loop, HTTP/2 over a proxy...), :meth:`hung_up`
        always answers ``False`` and the server notices the hang-up on its own."""
        transport = find_connection(scope)
        wrapped = None if transport is None else transport.get_extra_info("socket")
        # asyncio hands out a wrapper without recv(); the socket inside it is the real one.
        sock = getattr(wrapped, "_sock", None)
        return cls(sock if isinstance(sock, socket.socket) else None)

    def hung_up(self) -> bool:
        """True once the client has closed (or reset) the connection; safe from any thread.

        A socket the server closed itself (a scripted drop, a reset of a stuck client) is not
        a hang-up: the stream records its own reason."""
        fd = self._fd()
        if fd == -1:
            return False
        # Asked before every write of a stream: nothing to read is the usual answer, and poll
        # gives it without the exception a peek raises (a fresh poller: any thread may ask).
        if _POLL is not None:
            poller = _POLL()
            try:
                poller.register(fd, select.POLLIN)
                if not poller.poll(0):
                    return False
            except (OSError, ValueError):  # the server closed the socket meanwhile
                return False
        return self._peek()

    def _fd(self) -> int:
        sock = self._sock
        return -1 if sock is None else sock.fileno()

    def _peek(self) -> bool:
        """Whether a read would find the end of the stream (the socket is readable)."""
        assert self._sock is not None
        try:
            data = self._sock.recv(1, _PEEK)
        except ConnectionResetError:
            return True
        except OSError:  # nothing to read yet, or the server closed the socket meanwhile
            return False
        return data == b""


def hung_up_among(peers: Sequence[HangUpProbe | None]) -> list[bool]:
    """``hung_up()`` of each peer (``False`` for ``None``), asked of all the sockets of the
    :class:`Peer` among them with one poll: what a clock step that wakes a thousand streams asks
    before they write, and the journal before the clock moves."""
    if _POLL is None:
        return [peer is not None and peer.hung_up() for peer in peers]
    found = [False] * len(peers)
    poller = _POLL()
    where: dict[int, list[int]] = {}
    for index, peer in enumerate(peers):
        if peer is None:
            continue
        if not isinstance(peer, Peer):
            found[index] = peer.hung_up()
            continue
        fd = peer._fd()
        if fd != -1:
            where.setdefault(fd, []).append(index)
            poller.register(fd, select.POLLIN)
    if not where:
        return found
    try:
        readable = poller.poll(0)
    except (OSError, ValueError):  # a socket closed meanwhile: ask one by one
        return [peer is not None and peer.hung_up() for peer in peers]
    for fd, _events in readable:
        for index in where[fd]:
            peer = peers[index]
            found[index] = isinstance(peer, Peer) and peer._peek()
    return found
