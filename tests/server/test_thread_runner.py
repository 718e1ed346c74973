"""The ASGI runner in its own thread: start, serve over a real socket, stop promptly, report
errors."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reader_mock.runner import CLOSING_KEY, ASGIServer, ServerStartError

# A bound, not a speed target: stopping with streams open must never take whole seconds.
STOP_BOUND = 1.0


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


def test_context_manager_serves_on_a_real_socket(app_under_test: Any) -> None:
    with ASGIServer(app_under_test.app) as server:
        assert server.running
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        response = httpx.get(f"{server.url}/ping")
        assert response.status_code == 200
        assert response.text == "pong"
    assert not server.running
    assert server.errors == []
    assert _server_threads() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/ping")


def test_accepts_connections_as_soon_as_start_returns(app_under_test: Any) -> None:
    server = ASGIServer(app_under_test.app)
    server.start()
    try:
        # A raw HTTP/1.1 exchange right away: no retry loop, no sleep.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(b"pong")
    finally:
        server.stop()


def test_start_stop_and_start_again(app_under_test: Any) -> None:
    server = ASGIServer(app_under_test.app)
    server.start()
    first_port = server.port
    assert httpx.get(f"{server.url}/ping").text == "pong"
    server.stop()
    server.stop()  # stopping twice is harmless
    server.start()
    try:
        assert httpx.get(f"{server.url}/ping").text == "pong"
        assert server.port > 0
    finally:
        server.stop()
    assert first_port > 0
    assert _server_threads() == []


def test_starting_a_running_server_is_an_error(app_under_test: Any) -> None:
    with (
        ASGIServer(app_under_test.app) as server,
        pytest.raises(RuntimeError, match="already running"),
    ):
        server.start()


def test_port_before_start_is_unknown(make_app: Callable[..., Any]) -> None:
    server = ASGIServer(make_app().app)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = server.port
    assert ASGIServer(make_app().app, port=8123).url == "http://127.0.0.1:8123"


def test_invalid_arguments(make_app: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="between 0 and 65535"):
        ASGIServer(make_app().app, port=70000)
    with pytest.raises(ValueError, match="startup_timeout > 0"):
        ASGIServer(make_app().app, startup_timeout=0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
        datagram.bind(("127.0.0.1", 0))
        with pytest.raises(ValueError, match="stream"):
            ASGIServer(make_app().app, sock=datagram)


def test_stop_with_a_stream_that_watches_closing_ends_it_cleanly(
    app_under_test: Any, open_stream: Callable[..., Any]
) -> None:
    server = ASGIServer(app_under_test.app)
    server.start()
    closing = app_under_test.app.extensions[CLOSING_KEY]
    assert closing is server.closing
    assert closing is not None
    assert not closing.is_set()
    with httpx.Client(timeout=5) as client:
        stream = open_stream(client, f"{server.url}/stream")
        started = time.monotonic()
        server.stop()
        elapsed = time.monotonic() - started
        outcome, lines = stream.drain()
    assert elapsed < STOP_BOUND, f"stop() took {elapsed:.3f} s"
    assert closing.is_set()
    # The stream ended on its own: its last event arrived and the chunked body was complete.
    assert outcome == "clean"
    assert "event: bye" in lines
    assert app_under_test.ended == ["stream"]
    assert server.errors == []
    assert _server_threads() == []


def test_stop_with_a_stream_that_ignores_closing_closes_the_connection(
    app_under_test: Any, open_stream: Callable[..., Any]
) -> None:
    server = ASGIServer(app_under_test.app)
    server.start()
    with httpx.Client(timeout=5) as client:
        stream = open_stream(client, f"{server.url}/stubborn")
        started = time.monotonic()
        server.stop()
        elapsed = time.monotonic() - started
        outcome, _ = stream.drain()
    assert elapsed < STOP_BOUND, f"stop() took {elapsed:.3f} s"
    # Cut before its terminating chunk: the client sees a closed connection, never a hang.
    assert outcome == "RemoteProtocolError"
    # The generator was cancelled and cleaned up before stop() returned.
    assert app_under_test.ended == ["stubborn"]
    assert server.errors == []


def test_stop_with_many_open_streams_and_idle_connections(
    app_under_test: Any, open_stream: Callable[..., Any]
) -> None:
    server = ASGIServer(app_under_test.app)
    server.start()
    clients = [httpx.Client(timeout=5) for _ in range(6)]
    try:
        streams = [
            open_stream(client, f"{server.url}/{'stream' if i % 2 else 'stubborn'}")
            for i, client in enumerate(clients)
        ]
        idle = httpx.Client(timeout=5)
        assert idle.get(f"{server.url}/ping").text == "pong"  # a kept-alive, idle connection
        started = time.monotonic()
        server.stop()
        elapsed = time.monotonic() - started
        outcomes = [stream.drain()[0] for stream in streams]
        idle.close()
    finally:
        for client in clients:
            client.close()
    assert elapsed < STOP_BOUND, f"stop() took {elapsed:.3f} s"
    assert outcomes == ["RemoteProtocolError", "clean"] * 3
    assert sorted(app_under_test.ended) == ["stream"] * 3 + ["stubborn"] * 3


def test_busy_port_is_a_clear_error(app_under_test: Any, make_app: Callable[..., Any]) -> None:
    with ASGIServer(app_under_test.app) as first:
        second = ASGIServer(make_app().app, port=first.port)
        with pytest.raises(ServerStartError) as caught:
            second.start()
        assert str(caught.value) == (
            f"cannot listen on 127.0.0.1:{first.port}: the address is already in use"
        )
        assert not second.running
        # The first server is unaffected.
        assert httpx.get(f"{first.url}/ping").text == "pong"


def test_unknown_host_is_a_clear_error(app_under_test: Any) -> None:
    server = ASGIServer(app_under_test.app, host="no-such-host.invalid")
    with pytest.raises(ServerStartError, match=r"unknown host 'no-such-host\.invalid'"):
        server.start()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to count descriptors")
def test_failed_application_start_up_is_reported_and_leaks_nothing(
    make_app: Callable[..., Any],
) -> None:
    failing = make_app(fail_start=True)
    server = ASGIServer(failing.app)
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ServerStartError, match="failed to start") as caught:
        server.start()
    assert "the database is on fire" in str(caught.value)
    assert not server.running
    assert _server_threads() == []
    assert len(os.listdir("/proc/self/fd")) == open_before
    # The port was released with the descriptor.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", server.port))


def test_application_errors_are_collected(app_under_test: Any) -> None:
    with ASGIServer(app_under_test.app) as server:
        response = httpx.get(f"{server.url}/boom")
        assert response.status_code == 500
    assert [str(error) for error in server.errors] == ["kaboom"]
    assert isinstance(server.errors[0], RuntimeError)


def test_errors_in_a_raw_asgi_app_are_collected() -> None:
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http":
            raise ValueError("raw failure")

    with ASGIServer(app) as server:
        assert httpx.get(f"{server.url}/").status_code == 500
    assert [type(error) for error in server.errors] == [ValueError]


def test_works_from_a_non_main_thread(app_under_test: Any, open_stream: Callable[..., Any]) -> None:
    results: list[object] = []

    def body() -> None:
        try:
            with ASGIServer(app_under_test.app) as server, httpx.Client(timeout=5) as client:
                results.append(client.get(f"{server.url}/ping").text)
                stream = open_stream(client, f"{server.url}/stream")
                server.stop()
                results.append(stream.drain()[0])
        except BaseException as exc:  # report it to the test thread
            results.append(exc)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert results == ["pong", "clean"]


def test_access_log_lines(app_under_test: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reader_mock.access")
    with ASGIServer(app_under_test.app, access_log=True) as server:
        httpx.get(f"{server.url}/ping")
        httpx.get(f"{server.url}/nowhere")
    messages = [r.getMessage() for r in caplog.records if r.name == "reader_mock.access"]
    assert len(messages) == 2
    assert messages[0].startswith("GET /ping 200 ")
    assert messages[0].endswith(" ms")
    assert messages[1].startswith("GET /nowhere 404 ")
    float(messages[0].split()[3])  # the duration is a number


def test_no_access_log_by_default(app_under_test: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reader_mock.access")
    with ASGIServer(app_under_test.app) as server:
        httpx.get(f"{server.url}/ping")
    assert [r for r in caplog.records if r.name == "reader_mock.access"] == []


def test_stop_called_from_a_request_handler() -> None:
    servers: list[ASGIServer] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        servers[0].stop()  # runs in the server's own thread: must not wait for itself
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stopping"})

    server = ASGIServer(app)
    servers.append(server)
    server.start()
    assert httpx.get(f"{server.url}/").text == "stopping"
    for thread in _server_threads():
        thread.join(5)
    assert _server_threads() == []
    assert not server.running
    assert server.errors == []
