"""``find_connection`` finds the transport of a request among many open connections."""

from __future__ import annotations

import asyncio

import pytest

from reader_mock.sse.tcp_reset import find_connection


@pytest.mark.asyncio
async def test_each_request_finds_its_own_connection_among_many() -> None:
    found: list[bool] = []
    connected = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A scope as Hypercorn gives it: the client's and the server's (host, port).
        scope = {
            "client": writer.get_extra_info("peername"),
            "server": writer.get_extra_info("sockname"),
        }
        found.append(find_connection(scope) is writer.transport)
        if len(found) == 60:
            connected.set()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(60)]
    await asyncio.wait_for(connected.wait(), timeout=5)
    assert found == [True] * 60
    unknown = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", port)}
    assert find_connection(unknown) is None
    for _, writer in clients:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_connections_that_replace_closed_ones_are_found() -> None:
    """Clients that come after others closed (ports the kernel may hand out again) are found,
    and a closed connection is never returned."""
    found: list[bool] = []
    scopes: list[dict[str, object]] = []
    batch_done = asyncio.Event()
    batch_closed = asyncio.Event()
    closed_count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal closed_count
        scope = {
            "client": writer.get_extra_info("peername"),
            "server": writer.get_extra_info("sockname"),
        }
        scopes.append(scope)
        found.append(find_connection(scope) is writer.transport)
        if len(found) % 40 == 0:
            batch_done.set()
        await reader.read()
        writer.close()
        closed_count += 1
        if closed_count % 40 == 0:
            batch_closed.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for _ in range(3):
        batch_done.clear()
        batch_closed.clear()
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(40)]
        await asyncio.wait_for(batch_done.wait(), timeout=5)
        for _, writer in clients:
            writer.close()
            await writer.wait_closed()
        await asyncio.wait_for(batch_closed.wait(), timeout=5)  # the server's ends closed too
        closed = scopes[-40:]
        assert all(find_connection(scope) is None for scope in closed)
    assert found == [True] * 120
    server.close()
    await server.wait_closed()
