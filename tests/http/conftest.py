"""A real server for the HTTP tests: the app on the ASGI runner, in a background thread on an
ephemeral port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from quart import Quart, Request

from reader_mock.contract import OPENAPI_URI, contract_registry, load_openapi
from reader_mock.contract.documents import escape_pointer_token, follow_local_refs
from reader_mock.core import ManualClock, Service, Settings
from reader_mock.http import _read_asgi, close_streams, create_app
from reader_mock.runner import ASGIServer


@dataclass
class LiveServer:
    """A running server with its service, clock and base URL."""

    url: str
    service: Service
    clock: ManualClock
    app: Quart


@pytest.fixture
def start_server() -> Iterator[Callable[..., LiveServer]]:
    """Start servers with settings overrides; all of them stop at the end of the test."""
    running: list[tuple[ASGIServer, Service]] = []

    def start(**overrides: Any) -> LiveServer:
        clock = ManualClock()
        service = Service(Settings(**overrides), clock)
        app = create_app(service)
        runner = ASGIServer(app, graceful_timeout=2, startup_timeout=10)
        runner.start()
        running.append((runner, service))
        return LiveServer(runner.url, service, clock, app)

    yield start
    for runner, service in running:
        close_streams(runner.app)
        runner.stop(10)
        assert runner.errors == [], runner.errors
        assert service.unexpected_errors == [], service.unexpected_errors


@pytest.fixture
def reads_by_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read endpoint in front of the app passes every read on: the app answers them."""
    monkeypatch.setattr(_read_asgi, "read_target", lambda scope: None)


@pytest.fixture
def quart_requests(server: LiveServer) -> Iterator[list[str]]:
    """The paths of the requests the Quart app of ``server`` builds a request object for, in
    order."""
    built: list[str] = []
    original = server.app.request_class

    class Counted(original):  # type: ignore[misc,valid-type]
        def __init__(self, method: str, scheme: str, path: str, *args: object, **kw: object):
            built.append(path)
            super().__init__(method, scheme, path, *args, **kw)

    server.app.request_class = Counted
    yield built
    server.app.request_class = original
    assert issubclass(original, Request)


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
