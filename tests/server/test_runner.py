"""The ASGI runner with plain ASGI apps: both modes, a given socket, a bounded stop, start errors,
and calls into the server's loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from reader_mock.runner import ASGIServer, ServerStartError

# A stop given this timeout must return within it, plus scheduling slack on a busy machine.
STOP_TIMEOUT = 0.5
SLACK = 0.25


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest ASGI app: ``hello`` on every path (no lifespan support)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


class Stuck:
    """An app whose requests never end by themselves: they neither answer nor read, so only a
    cancellation ends them. ``entered`` is set once one runs; ``cancelled`` counts the ends."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.cancelled = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


class ReadsItsBody:
    """An app that reads its request body to the end, noting each message's type.
    ``waiting`` is set once it got a first piece and waits for the rest."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.messages: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            self.messages.append(message["type"])
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            self.waiting.set()


_BEFORE: set[threading.Thread] = set()
"""Server threads that were running when the current test began (another module's servers)."""


@pytest.fixture(autouse=True)
def _threads_before() -> None:
    _BEFORE.clear()
    _BEFORE.update(t for t in threading.enumerate() if t.name.startswith("reader-mock-server-"))


def _server_threads() -> list[threading.Thread]:
    """Server threads this test started that still run."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("reader-mock-server-") and t not in _BEFORE
    ]


def _other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


def _bound_socket(*, listening: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    if listening:
        sock.listen(8)
    return sock


def test_serves_a_plain_asgi_app_in_its_own_thread() -> None:
    with ASGIServer(hello) as server:
        assert server.running
        assert httpx.get(f"{server.url}/anything").text == "hello"
        assert len(_server_threads()) == 1
    assert not server.running
    assert server.errors == []
    assert _server_threads() == []


@pytest.mark.asyncio
async def test_serves_a_plain_asgi_app_in_the_callers_loop() -> None:
    async with ASGIServer(hello) as server, httpx.AsyncClient() as client:
        assert server.running
        assert (await client.get(f"{server.url}/anything")).text == "hello"
        assert _server_threads() == []  # no thread of its own
    assert not server.running
    assert server.errors == []
    assert _other_tasks() == set()


@pytest.mark.parametrize("listening", [True, False])
def test_a_given_socket_is_served_once_and_closed_at_stop(listening: bool) -> None:
    sock = _bound_socket(listening=listening)
    port = sock.getsockname()[1]
    server = ASGIServer(hello, sock=sock)
    assert server.port == port  # known before the start
    assert server.url == f"http://127.0.0.1:{port}"
    with server:
        assert httpx.get(f"{server.url}/").text == "hello"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/")  # the socket went with the server
    with pytest.raises(RuntimeError, match="serves once"):
        server.start()
    assert _server_threads() == []


@pytest.mark.asyncio
async def test_a_given_socket_in_the_callers_loop() -> None:
    sock = _bound_socket(listening=True)
    port = sock.getsockname()[1]
    async with ASGIServer(hello, sock=sock) as server, httpx.AsyncClient() as client:
        assert server.port == port
        assert (await client.get(f"{server.url}/")).text == "hello"
    assert _other_tasks() == set()


def test_a_stop_with_a_stuck_request_ends_within_its_timeout() -> None:
    app = Stuck()
    # Hypercorn alone would wait 30 s for the request; the stop's own bound wins.
    server = ASGIServer(app, graceful_timeout=30)
    server.start()
    with httpx.Client(timeout=10) as client:
        outcome: list[object] = []

        def request() -> None:
            try:
                outcome.append(client.get(f"{server.url}/stuck").status_code)
            except httpx.HTTPError as exc:
                outcome.append(type(exc).__name__)

        requester = threading.Thread(target=request, daemon=True)
        requester.start()
        assert app.entered.wait(5)
        started = time.monotonic()
        server.stop(STOP_TIMEOUT)
        elapsed = time.monotonic() - started
        requester.join(5)
    assert elapsed < STOP_TIMEOUT + SLACK, f"stop({STOP_TIMEOUT}) took {elapsed:.3f} s"
    assert app.cancelled == 1
    # The client is never left hanging: Hypercorn answers 500 for the cancelled request, or
    # the connection closes under it.
    assert not requester.is_alive()
    assert outcome in ([500], ["RemoteProtocolError"]), outcome
    assert _server_threads() == []


def test_a_stop_with_a_half_sent_request_ends_within_its_timeout() -> None:
    server = ASGIServer(hello, graceful_timeout=30)
    server.start()
    # A client that connected and sent half a request head, then went quiet.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as quiet:
        quiet.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.05)  # let the server take the connection in
        started = time.monotonic()
        server.stop(STOP_TIMEOUT)
        elapsed = time.monotonic() - started
    assert elapsed < STOP_TIMEOUT + SLACK, f"stop({STOP_TIMEOUT}) took {elapsed:.3f} s"
    assert _server_threads() == []
    assert server.errors == []


def test_a_stop_answers_a_wait_for_the_body_with_a_disconnect() -> None:
    app = ReadsItsBody()
    server = ASGIServer(app, graceful_timeout=30)
    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        assert app.waiting.wait(5)
        started = time.monotonic()
        server.stop(STOP_TIMEOUT)
        elapsed = time.monotonic() - started
    assert elapsed < STOP_TIMEOUT + SLACK, f"stop({STOP_TIMEOUT}) took {elapsed:.3f} s"
    # The app's wait for the rest of the body ends as a disconnect, not as a cancellation.
    assert app.messages == ["http.request", "http.disconnect"]
    assert server.errors == []
    assert _server_threads() == []


@pytest.mark.asyncio
async def test_a_stop_in_the_callers_loop_ends_within_its_timeout() -> None:
    app = Stuck()
    server = ASGIServer(app, graceful_timeout=30)
    await server.astart()
    async with httpx.AsyncClient(timeout=10) as client:
        request = asyncio.create_task(client.get(f"{server.url}/stuck"))
        while not app.entered.is_set():
            await asyncio.sleep(0.005)
        started = time.monotonic()
        await server.astop(STOP_TIMEOUT)
        elapsed = time.monotonic() - started
        try:
            outcome: object = (await asyncio.wait_for(request, 5)).status_code
        except httpx.RemoteProtocolError as exc:
            outcome = type(exc).__name__
    assert outcome in (500, "RemoteProtocolError"), outcome
    assert elapsed < STOP_TIMEOUT + SLACK, f"astop({STOP_TIMEOUT}) took {elapsed:.3f} s"
    assert app.cancelled == 1
    assert _other_tasks() == set()


async def _failing_start_up(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "no database"})


def test_a_start_up_failure_is_a_clear_error() -> None:
    server = ASGIServer(_failing_start_up)
    with pytest.raises(ServerStartError, match="the application failed to start: no database"):
        server.start()
    assert not server.running
    assert _server_threads() == []
    # The port was released.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", server.port))


@pytest.mark.asyncio
async def test_a_start_up_failure_in_the_callers_loop() -> None:
    with pytest.raises(ServerStartError, match="no database"):
        async with ASGIServer(_failing_start_up):
            pytest.fail("the server started although its app failed to")
    assert _other_tasks() == set()


def test_call_runs_in_the_server_loop_and_returns_its_result() -> None:
    def where() -> str:
        asyncio.get_running_loop()  # raises outside an event loop
        return threading.current_thread().name

    def fail() -> None:
        raise LookupError("from the loop")

    server = ASGIServer(hello)
    assert server.call(threading.current_thread) is threading.current_thread()  # not running
    with server:
        assert server.call(where) == f"reader-mock-server-{server.port}"
        with pytest.raises(LookupError, match="from the loop"):
            server.call(fail)
    assert server.call(lambda: 7) == 7


@pytest.mark.asyncio
async def test_call_from_the_servers_own_loop_runs_at_once() -> None:
    async with ASGIServer(hello) as server:
        assert server.call(threading.current_thread) is threading.current_thread()
