"""How the runner has Hypercorn start each request: with an inbox of its messages, over real
sockets; other Hypercorn servers in the same process keep Hypercorn's own queue."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import hypercorn.asyncio
import hypercorn.config
import pytest
from hypercorn.asyncio.task_group import TaskGroup

from reader_mock._inbox import Inbox
from reader_mock._serving import install_request_hook
from reader_mock.runner import ASGIServer


class BodyReader:
    """An app that reads its whole request body and answers with its digest, its length in
    messages and the type of what holds its messages (``receive``'s owner)."""

    def __init__(self) -> None:
        self.receivers: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.receivers.append(type(getattr(receive, "__self__", receive)).__name__)
        digest = hashlib.sha256()
        messages = 0
        while True:
            message = await receive()
            messages += 1
            digest.update(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = f"{digest.hexdigest()} {messages}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def _parts(count: int, size: int) -> Iterator[bytes]:
    for n in range(count):
        yield bytes([n % 256]) * size


def test_a_request_reads_its_body_from_an_inbox_in_order() -> None:
    app = BodyReader()
    parts = list(_parts(200, 1000))
    expected = hashlib.sha256(b"".join(parts)).hexdigest()
    with ASGIServer(app) as server:
        # A chunked upload of many parts: more than the inbox holds at once (10).
        response = httpx.post(f"{server.url}/upload", content=iter(parts), timeout=10)
    assert response.status_code == 200
    digest, messages = response.text.split()
    assert digest == expected
    assert int(messages) >= 2
    assert app.receivers == ["Inbox"]
    assert server.errors == []


@pytest.mark.asyncio
async def test_another_hypercorn_server_in_the_process_keeps_its_own_queue() -> None:
    install_request_hook()
    app = BodyReader()
    config = hypercorn.config.Config()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = config.errorlog = None
    stop = asyncio.Event()
    serving = asyncio.create_task(
        hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    )
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(100):  # until Hypercorn accepts
                try:
                    response = await client.post(f"http://127.0.0.1:{port}/", content=b"abc")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            else:
                pytest.fail("Hypercorn did not start")
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
    assert response.text.split()[0] == hashlib.sha256(b"abc").hexdigest()
    assert app.receivers == ["Queue"]


def test_the_hook_is_installed_once() -> None:
    install_request_hook()
    installed = TaskGroup.spawn_app
    install_request_hook()
    assert TaskGroup.spawn_app is installed
    assert getattr(installed, "_reader_mock", False)


def test_an_app_error_is_answered_recorded_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise ValueError("raw failure")

    caplog.set_level(logging.ERROR, logger="reader_mock.server")
    with ASGIServer(app) as server:
        response = httpx.get(f"{server.url}/", timeout=10)
    assert response.status_code == 500
    assert [type(error) for error in server.errors] == [ValueError]
    logged = [r for r in caplog.records if r.name == "reader_mock.server"]
    assert [r.getMessage() for r in logged] == ["Error in ASGI Framework"]
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], ValueError)


def test_the_inbox_is_what_an_idle_request_waits_in() -> None:
    """The mock's idle event stream waits in its inbox: one frame of ours, no queue."""
    waiting: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        waiting.append(receive.__self__)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"open", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    with ASGIServer(app) as server, httpx.stream("GET", f"{server.url}/", timeout=10) as response:
        assert next(response.iter_bytes()) == b"open"
        assert len(waiting) == 1
        assert isinstance(waiting[0], Inbox)
