"""What a client gets when the HTTP parser refuses a request before the app sees it.

Hypercorn answers these itself (the application is never called), so they carry no JSON
envelope: an empty body, ``Content-Length: 0`` and ``Connection: close``. docs/reliability.md
documents them; this test pins them, so a change in the server is noticed.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Final

import pytest
from reliability_support import StartMock

pytestmark = pytest.mark.slow

HUGE: Final = 100 * 1024


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /v1/usage/credits HTTP/1.1\r\nHost: a\r\nx-big: " + b"a" * HUGE + b"\r\n\r\n", 431),
        (b"GET /v1/" + b"a" * HUGE + b" HTTP/1.1\r\nHost: a\r\n\r\n", 431),
        (b"GET /v1/usage/credits HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n", 400),
        (b"POST /v1/read HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400),
        (b"NOT-HTTP\r\n\r\n", 400),
    ],
    ids=["100-KB-header", "100-KB-url", "header-without-colon", "bad-length", "garbage"],
)
def test_parser_errors_are_answered_and_the_connection_closed(
    start_mock: StartMock, raw: bytes, status: int
) -> None:
    server = start_mock()
    answer = _exchange(server.port, raw)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    headers = {line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip() for line in lines[1:]}
    assert headers[b"connection"] == b"close"
    assert headers[b"content-length"] == b"0"
    assert body == b""
