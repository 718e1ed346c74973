"""CORS as browsers need it: preflights for every ``/v1`` path, the headers a streaming client
sends, and origins given by the operator checked when the server starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import httpx
import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Settings
from reader_mock.core.service import Service
from reader_mock.http import create_app

APP: Final = "https://app.example.com"


def _preflight(client: httpx.Client, path: str, origin: str, method: str = "GET") -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "x-api-key, last-event-id, cache-control",
        },
    )


def _names(value: str) -> set[str]:
    return {name.strip().lower() for name in value.split(",")}


def test_a_preflight_allows_what_a_resuming_stream_client_sends(client: httpx.Client) -> None:
    response = _preflight(client, "/v1/jobs/job_123/stream", "http://localhost:5173")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert {"x-api-key", "last-event-id", "cache-control"} <= _names(
        response.headers["access-control-allow-headers"]
    )
    assert "GET" in response.headers["access-control-allow-methods"].split(", ")


@pytest.mark.parametrize(
    ("path", "method", "status"), [("/v1/nowhere", "GET", 404), ("/v1/read", "PUT", 405)]
)
def test_a_preflight_to_a_missing_path_or_method_lets_the_real_answer_through(
    client: httpx.Client, path: str, method: str, status: int
) -> None:
    origin = "http://127.0.0.1:3000"
    preflight = _preflight(client, path, origin, method)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert method in preflight.headers["access-control-allow-methods"].split(", ")
    answer = client.request(method, path, headers={"Origin": origin})
    assert answer.status_code == status
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.json()["error"]["code"] in {"not_found", "invalid_request", "method_not_allowed"}


def test_configured_origins_are_normalized_and_matched(start_server: Callable[..., Any]) -> None:
    server = start_server(cors_origins=("HTTPS://App.Example.com:443/",))
    response = httpx.get(
        server.url + "/v1/usage/credits", headers={"Origin": APP, "x-api-key": DEFAULT_API_KEY}
    )
    assert response.headers["access-control-allow-origin"] == APP
    assert "origin" in _names(response.headers["vary"])
    other = httpx.get(
        server.url + "/v1/usage/credits",
        headers={"Origin": "https://app.example.com:8443", "x-api-key": DEFAULT_API_KEY},
    )
    assert "access-control-allow-origin" not in other.headers


def test_null_is_allowed_only_when_given(start_server: Callable[..., Any]) -> None:
    default = start_server()
    given = start_server(cors_origins=("null",))
    headers = {"Origin": "null", "x-api-key": DEFAULT_API_KEY}
    assert (
        "access-control-allow-origin"
        not in httpx.get(default.url + "/v1/usage/credits", headers=headers).headers
    )
    answer = httpx.get(given.url + "/v1/usage/credits", headers=headers)
    assert answer.headers["access-control-allow-origin"] == "null"


@pytest.mark.parametrize(
    "origin",
    [
        "notanorigin",
        "app.example.com",
        "ftp://app.example.com",
        "https://app.example.com/path",
        "https://app.example.com?q=1",
        "https://user@app.example.com",
        "https://app.example.com:99999",
        "https://",
        " https://app.example.com",
        "https://bad host.example",
        "",
    ],
)
def test_a_bad_origin_is_refused_when_the_app_is_built(origin: str) -> None:
    with pytest.raises(ValueError, match="CORS origin") as caught:
        create_app(Service(Settings(cors_origins=("*", origin)), ManualClock()))
    assert repr(origin) in str(caught.value) or origin == ""


def test_serve_refuses_a_bad_cors_origin_with_status_2() -> None:
    from click.testing import CliRunner

    from reader_mock.cli import main

    result = CliRunner().invoke(main, ["serve", "--port", "0", "--cors-origin", "notanorigin"])
    assert result.exit_code == 2
    assert "CORS origin 'notanorigin'" in result.output
    assert "Traceback" not in result.output
