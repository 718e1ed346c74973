"""A real server for the HTTP tests: the app on the ASGI runner, in a background thread on an
ephemeral port."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from quart import Quart

from reader_mock.contract import OPENAPI_URI, contract_registry, load_openapi
from reader_mock.core import ManualClock, Service, Settings
from reader_mock.http import close_streams, create_app
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


def _resolve(node: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """Follow a local ``$ref`` to its JSON pointer and target."""
    pointer = ""
    while "$ref" in node:
        pointer = node["$ref"][1:]
        target: Any = _OPENAPI
        for token in pointer.split("/")[1:]:
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return pointer, node


def _assert_documented(response: httpx.Response, method: str, template: str) -> None:
    """Check status, ``x-request-id`` and JSON body against ``openapi.yaml``'s response."""
    assert response.headers.get("x-request-id", "").startswith("req_"), response.headers
    operation = _OPENAPI["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template} -> undocumented {status}"
    ref_pointer, spec = _resolve(operation["responses"][status])
    base = ref_pointer or "/paths/{}/{}/responses/{}".format(
        template.replace("~", "~0").replace("/", "~1"), method.lower(), status
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
