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
