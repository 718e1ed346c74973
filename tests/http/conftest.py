"""A real server for the HTTP tests: Hypercorn in a background thread on an ephemeral port.

The socket is bound to 127.0.0.1:0 and listening before Hypercorn starts, then handed over as
``fd://``, so the port is known at once and early connections simply wait in the backlog.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from jsonschema import Draft202012Validator
from quart import Quart

from reader_mock.contract import OPENAPI_URI, contract_registry, load_openapi
from reader_mock.contract.documents import escape_pointer_token, follow_local_refs
from reader_mock.core import ManualClock, Service, Settings
from reader_mock.http import close_streams, create_app


@dataclass
class LiveServer:
    """A running server with its service, clock and base URL."""

    url: str
    service: Service
    clock: ManualClock
    app: Quart


class _Runner:
    def __init__(self, app: Quart) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.ready = threading.Event()
        self.failure: BaseException | None = None

    def run(self, fd: int) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            config = Config()
            config.bind = [f"fd://{fd}"]
            config.graceful_timeout = 2
            config.accesslog = None
            self.ready.set()
            await serve(self.app, config, shutdown_trigger=self.stop.wait)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by the fixture
            self.failure = exc
            self.ready.set()


@pytest.fixture
def start_server() -> Iterator[Callable[..., LiveServer]]:
    """Start servers with settings overrides; all of them stop at the end of the test."""
    running: list[tuple[_Runner, threading.Thread, Service]] = []

    def start(**overrides: Any) -> LiveServer:
        clock = ManualClock()
        service = Service(Settings(**overrides), clock)
        app = create_app(service)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        port = sock.getsockname()[1]
        runner = _Runner(app)
        thread = threading.Thread(target=runner.run, args=(sock.detach(),), daemon=True)
        thread.start()
        assert runner.ready.wait(10), "the server did not start"
        assert runner.failure is None, runner.failure
        running.append((runner, thread, service))
        return LiveServer(f"http://127.0.0.1:{port}", service, clock, app)

    yield start
    for runner, thread, service in running:
        close_streams(runner.app)
        if runner.loop is not None and runner.stop is not None:
            runner.loop.call_soon_threadsafe(runner.stop.set)
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"
        assert runner.failure is None, runner.failure
        assert service.unexpected_errors == [], service.unexpected_errors


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """A server with the default settings."""
    return start_server()


@pytest.fixture
def clock(server: LiveServer) -> ManualClock:
    """The manual clock of ``server``."""
    return server.clock


@pytest.fixture
def base_url(server: LiveServer) -> str:
    """The base URL of ``server``, such as ``http://127.0.0.1:54321``."""
    return server.url


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """An httpx client for ``server`` sending the default API key."""
    with httpx.Client(
        base_url=server.url, headers={"x-api-key": server.service.settings.api_keys[0]}, timeout=10
    ) as http:
        yield http


_OPENAPI = load_openapi()


def _assert_documented(response: httpx.Response, method: str, template: str) -> None:
    """Check status, ``x-request-id`` and JSON body against ``openapi.yaml``'s response."""
    assert response.headers.get("x-request-id", "").startswith("req_"), response.headers
    operation = _OPENAPI["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template} -> undocumented {status}"
    here = f"/paths/{escape_pointer_token(template)}/{method.lower()}/responses/{status}"
    base, spec = follow_local_refs(
        _OPENAPI, operation["responses"][status], here, name="openapi.yaml"
    )
    schema_uri = f"{OPENAPI_URI}#{base}/content/application~1json/schema"
    validator = Draft202012Validator(
        {"$ref": schema_uri},
        registry=contract_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert not errors, (response.json(), errors)
    assert "content" in spec


Documented = Callable[[httpx.Response, str, str], None]


@pytest.fixture
def documented() -> Documented:
    """``documented(response, method, path_template)`` checks a response against the contract."""
    return _assert_documented
