"""The ASGI runner as a task in the caller's event loop (``async with``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reader_mock.runner import CLOSING_KEY, ASGIServer, ServerStartError

STOP_BOUND = 1.0


async def _first_event(response: httpx.Response) -> Any:
    """Read the first event of an open stream; return the line iterator to continue with."""
    assert response.status_code == 200
    lines = response.aiter_lines()
    first = [line async for line in _until_blank(lines)]
    assert first[0] == "event: tick", first
    return lines


async def _until_blank(lines: Any) -> Any:
    async for line in lines:
        if line == "":
            return
        yield line


async def _drain(lines: Any) -> tuple[str, list[str]]:
    seen: list[str] = []
    try:
        async for line in lines:
            seen.append(line)
    except httpx.HTTPError as exc:
        return type(exc).__name__, seen
    return "clean", seen


def _other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


@pytest.mark.asyncio
async def test_async_context_manager_serves_and_stops(app_under_test: Any) -> None:
    async with ASGIServer(app_under_test.app) as server, httpx.AsyncClient() as client:
        assert server.running
        response = await client.get(f"{server.url}/ping")
        assert response.text == "pong"
    assert not server.running
    assert server.errors == []
    assert _other_tasks() == set()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{server.url}/ping")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "expected_outcome"),
    [("stream", "clean"), ("stubborn", "RemoteProtocolError")],
)
async def test_stop_with_an_open_stream(
    app_under_test: Any, path: str, expected_outcome: str
) -> None:
    server = ASGIServer(app_under_test.app)
    async with httpx.AsyncClient(timeout=5) as client:
        await server.__aenter__()
        assert app_under_test.app.extensions[CLOSING_KEY] is server.closing
        async with client.stream("GET", f"{server.url}/{path}") as response:
            lines = await _first_event(response)
            started = time.monotonic()
            await server.__aexit__(None, None, None)
            elapsed = time.monotonic() - started
            outcome, _ = await _drain(lines)
    assert elapsed < STOP_BOUND, f"stopping took {elapsed:.3f} s"
    assert outcome == expected_outcome
    assert app_under_test.ended == [path]
    # Nothing the server started is left in the caller's loop.
    assert _other_tasks() == set()
    assert server.errors == []


@pytest.mark.asyncio
async def test_busy_port_in_the_event_loop(
    app_under_test: Any, make_app: Callable[..., Any]
) -> None:
    async with ASGIServer(app_under_test.app) as first:
        with pytest.raises(ServerStartError, match="already in use"):
            async with ASGIServer(make_app().app, port=first.port):
                pytest.fail("a second server started on a busy port")


@pytest.mark.asyncio
async def test_failed_start_up_in_the_event_loop(make_app: Callable[..., Any]) -> None:
    server = ASGIServer(make_app(fail_start=True).app)
    with pytest.raises(ServerStartError, match="the database is on fire"):
        async with server:
            pytest.fail("the server started although its app failed to")
    assert _other_tasks() == set()


@pytest.mark.asyncio
async def test_cancelling_the_caller_still_stops_the_server(app_under_test: Any) -> None:
    entered = asyncio.Event()
    servers: list[ASGIServer] = []

    async def user() -> None:
        async with ASGIServer(app_under_test.app) as server:
            servers.append(server)
            entered.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(user())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not servers[0].running
    assert _other_tasks() == set()


def test_async_mode_in_a_non_main_thread(app_under_test: Any) -> None:
    results: list[object] = []

    async def body() -> None:
        async with ASGIServer(app_under_test.app) as server, httpx.AsyncClient() as client:
            results.append((await client.get(f"{server.url}/ping")).text)

    def run() -> None:
        try:
            asyncio.run(body())
        except BaseException as exc:  # report it to the test thread
            results.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert results == ["pong"]
