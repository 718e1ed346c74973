"""A web page cannot drive the control API: no simple cross-origin request, no foreign origin,
no DNS-rebound host. Origins the server allows can, preflight included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import httpx
import pytest
from reliability_support import Served, start_serve

pytestmark = pytest.mark.slow

EVIL: Final = "https://evil.example"
ALLOWED: Final = "https://tools.example"

# Every state-changing control call the probe could make from a page.
CALLS: Final = [
    ("/_mock/faults", b'{"path": "/v1/read", "code": "internal_error", "count": 100}'),
    ("/_mock/reset", b"{}"),
    ("/_mock/clock/advance", b'{"seconds": 60}'),
    ("/_mock/jobs/script", b'{"timeline": "happy-batch"}'),
]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One ``reader-mock serve`` for the module: the refused calls change nothing."""
    started = start_serve("--manual-clock", "--cors-origin", ALLOWED)
    yield started
    started.process.kill()
    started.process.communicate(timeout=10)


def _state(client: httpx.Client) -> tuple[object, ...]:
    """What a control call that went through would change."""
    faults = client.get("/_mock/faults").json()["data"]
    clock = client.get("/_mock/clock").json()["data"]["timestamp"]
    journal = client.get("/_mock/journal", params={"kind": "requests"}).json()["data"]
    return faults, clock, len(journal["requests"])


@pytest.mark.parametrize(("path", "body"), CALLS)
@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain", "Origin": EVIL},  # a simple cross-origin request
        {"Content-Type": "text/plain"},  # no origin, but not JSON
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "application/json", "Origin": EVIL},
        {"Content-Type": "application/json", "Origin": "null"},
        {"Content-Type": "application/json", "Host": "evil.example"},  # DNS rebinding
        {"Content-Type": "application/json", "Host": "192.168.1.20:8080"},
    ],
    ids=[
        "simple-cors",
        "text-plain",
        "form",
        "json-evil-origin",
        "null-origin",
        "rebound-host",
        "lan-host",
    ],
)
def test_requests_a_page_could_send_are_refused_and_change_nothing(
    served: Served, path: str, body: bytes, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        client.get("/v1/usage/credits", headers={"x-api-key": served.api_key})
        before = _state(client)
        response = client.post(path, content=body, headers=headers)
        expected = 415 if "Origin" not in headers and "Host" not in headers else 403
        assert response.status_code == expected, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert "access-control-allow-origin" not in response.headers
        assert _state(client) == before


def test_json_from_an_allowed_origin_works_with_its_preflight(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        preflight = client.options(
            "/_mock/clock/advance",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "content-type" in preflight.headers["access-control-allow-headers"]
        moved = client.post(
            "/_mock/clock/advance", json={"seconds": 60}, headers={"Origin": ALLOWED}
        )
        assert moved.status_code == 200, moved.text
        assert moved.headers["access-control-allow-origin"] == ALLOWED


def test_a_preflight_from_a_foreign_origin_is_refused(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        preflight = client.options(
            "/_mock/reset", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:1234", "127.0.0.1", "127.0.0.2:80", "[::1]:9", "app.localhost"]
)
def test_loopback_hosts_are_accepted(served: Served, host: str) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        response = client.post("/_mock/clock/advance", json={"seconds": 1}, headers={"Host": host})
        assert response.status_code == 200, response.text


def test_requests_without_a_body_need_no_content_type(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        assert client.post("/_mock/reset").status_code == 200
        assert client.delete("/_mock/faults").status_code == 200
