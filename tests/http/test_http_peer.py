"""Whether a stream's client hung up, asked of its socket: one by one, or many with one poll."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from reader_mock.http._peer import Peer, hung_up_among


@pytest.fixture
def connections() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    """Four TCP connections over loopback: (the server's end, the client's end)."""
    listener = socket.create_server(("127.0.0.1", 0))
    pairs = []
    for _ in range(4):
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        pairs.append((server, client))
    listener.close()
    yield pairs
    for server, client in pairs:
        server.close()
        client.close()


def test_one_poll_tells_which_clients_hung_up(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    (s0, _c0), (s1, c1), (s2, c2), (s3, c3) = connections
    c1.close()  # hung up
    c2.sendall(b"more")  # readable, but still there
    c3.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c3.close()  # reset
    peers: list[Peer | None] = [Peer(s0), Peer(s1), Peer(s2), Peer(s3), None, Peer(None)]
    found = hung_up_among(peers)
    assert found == [False, True, False, True, False, False]
    assert found == [peer is not None and peer.hung_up() for peer in peers]
    assert s2.recv(16) == b"more"  # only peeked at


def test_a_socket_the_server_closed_is_no_hang_up(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    server, _client = connections[0]
    peer = Peer(server)
    server.close()
    assert hung_up_among([peer]) == [False]
    assert not peer.hung_up()
