"""Answers given before the request body is read keep the connection usable.

A 401, a 429, a 400 for a bad ``x-idempotency-key``, a 404 for an unknown job, a replayed
idempotent answer and an injected fault are all decided before the route reads the body. Each
must leave the keep-alive connection usable (or say ``Connection: close``): a client reusing it
must never see "Server disconnected".
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest
from reliability_support import StartMock

from reader_mock.server import MockServer

pytestmark = pytest.mark.slow

REQUESTS = 1_000
MAX_WAIT_SECONDS = 2.0  # docs/reliability.md: how long the rest of a body is waited for
BODY = {"urls": [f"https://example.com/page/{n}" for n in range(40)]}  # about 1.3 KB


def _prepare_rate_limited(server: MockServer, http: httpx.Client) -> None:
    assert http.get("/v1/usage/credits").status_code == 200  # the one request of the window


def _prepare_fault(server: MockServer, http: httpx.Client) -> None:
    fault = {"method": "POST", "path": "/v1/read", "code": "upstream_unavailable", "count": 10_000}
    assert http.post("/_mock/faults", json=fault).status_code == 201


def _prepare_replay(server: MockServer, http: httpx.Client) -> None:
    first = http.post("/v1/read", json=BODY, headers={"x-idempotency-key": "same"})
    assert first.status_code == 201


KINDS: dict[str, tuple[dict[str, object], str, dict[str, str], int, Callable[..., None] | None]] = {
    # kind: (settings, path, headers, expected status, preparation)
    "unauthenticated": ({}, "/v1/read", {"x-api-key": "rdr_wrong"}, 401, None),
    "rate-limited": ({"requests_per_minute": 1}, "/v1/read", {}, 429, _prepare_rate_limited),
    "bad-idempotency-key": ({}, "/v1/read", {"x-idempotency-key": "k" * 256}, 400, None),
    "unknown-job": ({}, "/v1/jobs/job_unknown/retry", {}, 404, None),
    "injected-fault": ({}, "/v1/read", {}, 502, _prepare_fault),
    "idempotent-replay": ({}, "/v1/read", {"x-idempotency-key": "same"}, 201, _prepare_replay),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_early_answers_keep_the_connection(start_mock: StartMock, kind: str) -> None:
    settings, path, headers, status, prepare = KINDS[kind]
    server = start_mock(**{"requests_per_minute": 100 * REQUESTS, **settings})
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(
        base_url=server.url, headers={"x-api-key": server.api_key}, limits=limits, timeout=10
    ) as http:
        if prepare is not None:
            prepare(server, http)
        failures: list[str] = []
        statuses: set[int] = set()
        for _ in range(REQUESTS):
            try:
                response = http.post(path, json=BODY, headers=headers)
            except httpx.TransportError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            statuses.add(response.status_code)
        assert failures == [], f"{len(failures)} of {REQUESTS}: {failures[:3]}"
        assert statuses == {status}


def test_a_body_that_never_arrives_gets_its_answer_with_connection_close(
    start_mock: StartMock,
) -> None:
    """A client that announces a body and stalls gets its early answer after the documented
    wait, marked ``Connection: close``, and the server then closes the connection."""
    server = start_mock()
    head = (
        "POST /v1/read HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: rdr_wrong\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"urls":')
        started = time.monotonic()
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        waited = time.monotonic() - started
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 401 "
    assert b"connection: close" in rest.lower()
    assert MAX_WAIT_SECONDS - 0.1 <= waited < MAX_WAIT_SECONDS + 2
