"""Fixtures for the stream tests: a manual-clock server, a client and a job starter."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from reader_mock.core import ManualClock
from reader_mock.server import MockServer
from reader_mock.timeline.ready_made import load_ready_made

StartJob = Callable[[str], str]
RawGet = Callable[..., socket.socket]


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A mock on the manual clock; the test fails if the server logged an error."""
    with MockServer(clock=ManualClock()) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def client(server: MockServer) -> Iterator[httpx.Client]:
    """An httpx client for ``server`` with the workspace's API key."""
    headers = {"x-api-key": server.api_key or ""}
    http = httpx.Client(base_url=server.url, headers=headers, timeout=5)
    # Not entered here, so a test may still write ``with client:`` to scope it.
    yield http
    http.close()


def create_job(server: MockServer, client: httpx.Client, name: str) -> str:
    """Script the ready-made timeline ``name`` and create a job that plays it."""
    timeline = load_ready_made(name)
    server.script_next_job(name)
    body: dict[str, object] = {"urls": list(timeline.urls)}
    if timeline.mode == "crawl":
        # A crawl is a single seed ``url`` with a page limit.
        body = {"url": timeline.urls[0], "maxPages": 10}
    response = client.post("/v1/read", json=body)
    assert response.status_code in (200, 201, 202), response.text
    job_id = response.json()["data"]["id"]
    assert isinstance(job_id, str)
    return job_id


@pytest.fixture
def start_job(server: MockServer, client: httpx.Client) -> StartJob:
    """``start_job(name)`` starts a job on the ready-made timeline ``name``, returns its id."""
    return lambda name: create_job(server, client, name)


@pytest.fixture
def raw_get(server: MockServer) -> RawGet:
    """``raw_get(path, close=False)`` sends a raw GET for a stream and returns the socket."""

    def send(path: str, *, close: bool = False) -> socket.socket:
        host, port = server.host, server.port
        sock = socket.create_connection((host, port), timeout=5)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nx-api-key: {server.api_key}\r\n"
            "Accept: text/event-stream\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
        )
        sock.sendall(request.encode())
        return sock

    return send
