"""The two streams are answered in front of the Quart app, byte for byte as the app answers.

Each stream answer is compared with the app's own answer to the same situation on a REST path
(the same error, the same fault, the same origin), over real sockets.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from reader_mock.http import app_state

if TYPE_CHECKING:
    from conftest import LiveServer

_ALLOWED_ORIGIN = "http://localhost:5173"
_UNKNOWN_JOB = "job_0000000000000000"


def _key(server: LiveServer) -> str:
    return server.service.settings.api_keys[0]


def _comparable(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    """The answer's headers in order, the request id and the date masked."""
    masked = {b"x-request-id", b"date"}
    return [
        (name, b"*" if name.lower() in masked else value) for name, value in response.headers.raw
    ]


def test_stream_requests_never_build_a_quart_request(
    server: LiveServer, quart_requests: list[str]
) -> None:
    key = {"x-api-key": _key(server)}
    with httpx.Client(base_url=server.url, timeout=5) as http:
        assert http.delete(f"/v1/jobs/{_UNKNOWN_JOB}", headers=key).status_code == 404
        with http.stream("GET", "/v1/events", headers=key) as stream:
            assert stream.status_code == 200
        assert http.head("/v1/events", headers=key).status_code == 200
        assert http.get("/v1/events").status_code == 401
        assert http.get(f"/v1/jobs/{_UNKNOWN_JOB}/stream", headers=key).status_code == 404
        assert http.get("/v1/jobs/a.b/stream", headers=key).status_code == 400
    # The REST request did build one: the count is real.
    assert quart_requests == [f"/v1/jobs/{_UNKNOWN_JOB}"]


@pytest.mark.parametrize(
    ("stream_path", "rest_path", "with_key"),
    [
        ("/v1/events", "/v1/usage/credits", False),
        (f"/v1/jobs/{_UNKNOWN_JOB}/stream", f"/v1/jobs/{_UNKNOWN_JOB}", True),
        ("/v1/jobs/a.b/stream", "/v1/jobs/a.b", True),
    ],
    ids=["unauthenticated", "unknown-job", "invalid-id"],
)
@pytest.mark.parametrize("origin", [None, _ALLOWED_ORIGIN, "https://elsewhere.example"])
@pytest.mark.usefixtures("reads_by_the_app")
def test_stream_errors_match_the_apps_errors(
    server: LiveServer, stream_path: str, rest_path: str, with_key: bool, origin: str | None
) -> None:
    headers = {"x-api-key": _key(server)} if with_key else {}
    if origin is not None:
        headers["Origin"] = origin
    with httpx.Client(base_url=server.url, timeout=5) as http:
        ours = http.get(stream_path, headers=headers)
        apps = http.get(rest_path, headers=headers)
    assert ours.status_code == apps.status_code >= 400
    assert ours.content == apps.content
    assert _comparable(ours) == _comparable(apps)
    assert ours.headers["x-request-id"].startswith("req_")
    assert ours.headers["x-request-id"] != apps.headers["x-request-id"]


@pytest.mark.usefixtures("reads_by_the_app")
def test_injected_faults_on_a_stream_match_the_apps(server: LiveServer) -> None:
    control = app_state(server.app).control
    key = {"x-api-key": _key(server), "Origin": _ALLOWED_ORIGIN}
    with httpx.Client(base_url=server.url, timeout=5) as http:
        for path in ("/v1/events", "/v1/usage/credits"):
            body = {"path": path, "code": "rate_limited"}
            assert http.post("/_mock/faults", json=body).status_code == 201
        ours = http.get("/v1/events", headers=key)
        apps = http.get("/v1/usage/credits", headers=key)
        # The fault was used up: the next stream opens.
        with http.stream("GET", "/v1/events", headers=key) as stream:
            assert stream.status_code == 200
    assert ours.status_code == apps.status_code == 429
    assert ours.headers["Retry-After"] == apps.headers["Retry-After"]
    assert ours.content == apps.content
    assert _comparable(ours) == _comparable(apps)
    assert control.faults() == []


def test_stream_answers_are_journaled_as_before(server: LiveServer) -> None:
    key = _key(server)
    with httpx.Client(base_url=server.url, timeout=5) as http:
        with http.stream("GET", "/v1/events?a=1", headers={"x-api-key": key}) as stream:
            assert stream.status_code == 200
            request_id = stream.headers["x-request-id"]
        head = http.head(f"/v1/jobs/{_UNKNOWN_JOB}/stream", headers={"x-api-key": key})
    journal = server.service.journal
    journal.settle()
    requests = journal.requests()
    assert [(r.method, r.path, r.query, r.status) for r in requests] == [
        ("GET", "/v1/events", "a=1", 200),
        ("HEAD", f"/v1/jobs/{_UNKNOWN_JOB}/stream", "", 404),
    ]
    assert requests[0].request_id == request_id
    assert requests[1].request_id == head.headers["x-request-id"]
    # The request's headers as the app records them: the client's address first, the key masked.
    assert next(iter(requests[0].headers)) == "remote-addr"
    assert requests[0].headers["x-api-key"].startswith("****")
    (stream_record,) = journal.streams()
    assert stream_record.channel == "workspace"
    assert stream_record.close_reason == "client_disconnect"
    assert stream_record.seq < requests[0].seq  # opened before the request was answered
    # One masked copy of the headers for both entries: an open stream holds them once.
    assert stream_record.headers is requests[0].headers


def test_other_methods_and_paths_near_the_streams_go_to_the_app(server: LiveServer) -> None:
    key = {"x-api-key": _key(server)}
    with httpx.Client(base_url=server.url, timeout=5) as http:
        not_allowed = http.post("/v1/events", headers=key, json={})
        assert not_allowed.status_code == 405
        assert not_allowed.headers["Allow"] == "GET, HEAD, OPTIONS"
        assert not_allowed.json()["error"]["code"] == "invalid_request"
        for path in ("/v1/events/", "/v1/jobs/a/b/stream", "/v1/jobs//stream"):
            missing = http.get(path, headers=key)
            assert missing.status_code == 404, path
            assert missing.json()["error"]["code"] == "not_found"
            assert missing.headers["x-request-id"].startswith("req_")


def test_an_unexpected_error_is_a_500_envelope_and_recorded(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the feed is broken")

    monkeypatch.setattr(server.service.streams, "watch_events", broken)
    with httpx.Client(base_url=server.url, timeout=5) as http:
        answer = http.get("/v1/events", headers={"x-api-key": _key(server)})
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert answer.headers["x-request-id"].startswith("req_")
    errors = server.service.unexpected_errors
    assert [str(error) for error in errors] == ["the feed is broken"]
    errors.clear()  # seen: the server fixture fails on any left


def test_a_stream_whose_client_hangs_up_while_idle_ends(server: LiveServer) -> None:
    """No clock move, no write: the stream hears the hang-up in its wait and lets go."""
    hub = app_state(server.app).streams
    _, sock = _open_raw(server, "/v1/events")
    assert hub.open_count == 1
    sock.close()
    deadline = time.monotonic() + 5
    while hub.open_count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hub.open_count == 0
    (record,) = server.service.journal.streams()
    assert record.close_reason == "client_disconnect"


def test_a_stream_request_with_a_body_is_answered_once_the_body_is_in(server: LiveServer) -> None:
    started = time.monotonic()
    head, sock = _open_raw(server, "/v1/events", body=b"hello")
    sock.close()
    assert b"connection: close" not in head.lower()
    assert time.monotonic() - started < 1.5


@pytest.mark.slow
def test_a_stream_request_whose_body_never_comes_says_connection_close(
    server: LiveServer,
) -> None:
    """The answer waits for the rest of the body at most 2 s (real time), then says the
    connection cannot be reused."""
    started = time.monotonic()
    head, sock = _open_raw(server, "/v1/events", body=b"he", length=5)
    sock.close()
    assert b"\r\nconnection: close\r\n" in head.lower(), head
    assert 1.5 < time.monotonic() - started < 4.5


def _open_raw(
    server: LiveServer, path: str, *, body: bytes = b"", length: int | None = None
) -> tuple[bytes, socket.socket]:
    """A raw request for a stream; its answer's head (a 200) and the socket."""
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", f"x-api-key: {_key(server)}"]
    if body or length is not None:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return head, sock


def test_the_streams_load_with_the_first_stream(repo_root: Path) -> None:
    """A server that answers only REST never loads the stream machinery; the first stream does."""
    probe = (
        "import sys, httpx\n"
        "from reader_mock.server import MockServer\n"
        "streams = ('reader_mock.http._streams', 'reader_mock.sse.drops',\n"
        "           'reader_mock.core.service._streams')\n"
        "with MockServer() as server:\n"
        "    key = {'x-api-key': server.api_key}\n"
        "    assert httpx.get(server.url + '/v1/usage/credits', headers=key).status_code == 200\n"
        "    print(' '.join(name for name in streams if name in sys.modules))\n"
        "    with httpx.stream('GET', server.url + '/v1/events', headers=key) as stream:\n"
        "        assert stream.status_code == 200\n"
        "    print(' '.join(name for name in streams if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo_root, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = "reader_mock.http._streams reader_mock.sse.drops reader_mock.core.service._streams"
    assert done.stdout.splitlines() == ["", loaded]
