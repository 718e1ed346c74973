"""The REST reads are answered in front of the Quart app, byte for byte as the app answers them.

Every request is sent twice over real sockets: once to the read endpoint, once with the endpoint
passing everything to the app (``reads_by_the_app``). The two answers and the two journal entries
must be the same, the request id and the date aside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from reader_mock.http import _read_asgi, app_state

if TYPE_CHECKING:
    from conftest import LiveServer

_ALLOWED_ORIGIN = "http://localhost:5173"
_UNKNOWN_JOB = "job_0000000000000000"

Request = tuple[str, dict[str, str], bytes]
"""A path, its headers and a body to send with the ``GET``."""


def _key(server: LiveServer) -> str:
    return server.service.settings.api_keys[0]


def _answer(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers in order (the request id and the date masked) and body."""
    masked = {b"x-request-id", b"date"}
    headers = [(n, b"*" if n.lower() in masked else v) for n, v in response.headers.raw]
    return response.status_code, headers, response.content


def _entries(server: LiveServer, since: int) -> list[tuple[Any, ...]]:
    """The journal's request entries after the first ``since``, without their order, time and
    request id."""
    return [
        (r.method, r.path, r.query, r.status, dict(r.headers))
        for r in server.service.journal.requests()[since:]
    ]


def _both_ways(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, requests: list[Request]
) -> tuple[list[Any], list[Any]]:
    """Each request sent to the read endpoint, then each sent again with the app answering: the
    answers and journal entries of both rounds."""
    rounds: list[tuple[list[Any], list[Any]]] = []
    for _ in range(2):
        since = len(server.service.journal.requests())
        with httpx.Client(base_url=server.url, timeout=5) as http:
            answers = [
                _answer(http.request("GET", path, headers=headers, content=body))
                for path, headers, body in requests
            ]
        rounds.append((answers, _entries(server, since)))
        monkeypatch.setattr(_read_asgi, "read_target", lambda scope: None)
    (ours, our_entries), (apps, app_entries) = rounds
    assert ours == apps
    assert our_entries == app_entries
    return ours, our_entries


def _make_job(server: LiveServer, http: httpx.Client) -> str:
    """A finished job of 25 pages: more than one page of results, so its answer has a link."""
    urls = [f"https://example.com/{index}" for index in range(25)]
    created = http.post("/v1/read", json={"urls": urls})
    assert created.status_code == 201, created.text
    server.clock.advance(600)
    return str(created.json()["data"]["id"])


def test_reads_never_build_a_quart_request(
    server: LiveServer, quart_requests: list[str], client: httpx.Client
) -> None:
    job_id = _make_job(server, client)
    paths = [
        f"/v1/jobs/{job_id}",
        "/v1/usage/credits",
        "/v1/usage/history",
        "/v1/api-keys",
        "/v1/queue/status",
        "/v1/sessions",
        "/v1/webhooks",
    ]
    for path in paths:
        assert client.get(path).status_code == 200, path
    assert client.get(f"/v1/jobs/{_UNKNOWN_JOB}").status_code == 404
    assert client.get("/v1/sessions/sess_missing").status_code == 404
    assert client.get("/v1/usage/credits", headers={"x-api-key": "wrong"}).status_code == 401
    # Only the job's creation built one: the count is real.
    assert quart_requests == ["/v1/read"]


def test_other_requests_near_the_reads_go_to_the_app(
    server: LiveServer, quart_requests: list[str], client: httpx.Client
) -> None:
    sent = [
        ("HEAD", "/v1/usage/credits"),
        ("GET", "/v1/usage/credits/"),
        ("GET", "/v1/jobs/"),
        ("GET", "/v1/jobs/a/b"),
        ("DELETE", f"/v1/jobs/{_UNKNOWN_JOB}"),
        ("OPTIONS", "/v1/api-keys"),
    ]
    statuses = [client.request(method, path).status_code for method, path in sent]
    assert statuses == [200, 404, 404, 404, 404, 200]
    assert quart_requests == [path.split("?")[0] for _, path in sent]


def test_every_read_answers_as_the_app(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, client: httpx.Client
) -> None:
    job_id = _make_job(server, client)
    session = client.post("/v1/sessions", json={})
    assert session.status_code == 201, session.text
    session_id = session.json()["data"]["sessionId"]
    webhook = {"name": "h", "url": "https://example.com/hook", "events": ["job.completed"]}
    hook = client.post("/v1/webhooks", json=webhook)
    assert hook.status_code == 201, hook.text
    key = {"x-api-key": _key(server)}
    requests: list[Request] = [
        (f"/v1/jobs/{job_id}", key, b""),
        ("/v1/usage/credits", key, b""),
        ("/v1/usage/history", key, b""),
        ("/v1/api-keys", key, b""),
        ("/v1/queue/status", key, b""),
        ("/v1/sessions", key, b""),
        (f"/v1/sessions/{session_id}", key, b""),
        ("/v1/webhooks", key, b""),
        # Pages, as the links give them, and queries the reads do not take.
        (f"/v1/jobs/{job_id}?skip=20&limit=20", key, b""),
        (f"/v1/jobs/{job_id}?limit=1&limit=5&skip=", key, b""),
        ("/v1/usage/history?limit=2", key, b""),
        ("/v1/webhooks?skip=1", key, b""),
        ("/v1/usage/credits?x=%E2%9C%93&x=2&y", key, b""),
    ]
    answers, entries = _both_ways(server, monkeypatch, requests)
    assert [status for status, _, _ in answers] == [200] * 9 + [400, 200, 200, 200]
    # The job's pagination links name the address the client used.
    assert f'"{server.url}/v1/jobs/{job_id}' in answers[0][2].decode()
    assert [f"{entry[1]}?{entry[2]}".rstrip("?") for entry in entries] == [
        path for path, _, _ in requests
    ]
    assert all(entry[4]["x-api-key"].startswith("****") for entry in entries)


@pytest.mark.parametrize("origin", [None, _ALLOWED_ORIGIN, "https://elsewhere.example"])
def test_errors_answer_as_the_app(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, origin: str | None
) -> None:
    key = {"x-api-key": _key(server)}
    if origin is not None:
        key["Origin"] = origin
    no_key = {"Origin": origin} if origin is not None else {}
    requests: list[Request] = [
        ("/v1/usage/credits", no_key, b""),
        ("/v1/usage/credits", {**key, "x-api-key": "rdr_wrong"}, b""),
        (f"/v1/jobs/{_UNKNOWN_JOB}", key, b""),
        ("/v1/jobs/a.b", key, b""),
        ("/v1/sessions/sess_missing", key, b""),
        ("/v1/sessions/%20", key, b""),
        ("/v1/jobs/job_1?limit=0", key, b""),
        ("/v1/jobs/job_1?limit=x&skip=-1", key, b""),
        ("/v1/webhooks?limit=1000", key, b""),
        ("/v1/usage/history?skip=%FF", key, b""),
    ]
    answers, _ = _both_ways(server, monkeypatch, requests)
    assert [status for status, _, _ in answers] == [
        401,
        401,
        404,
        400,
        404,
        400,
        400,
        400,
        400,
        400,
    ]


def test_host_headers_and_bodies_answer_as_the_app(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, client: httpx.Client
) -> None:
    job_id = _make_job(server, client)
    key = _key(server)
    path = f"/v1/jobs/{job_id}"
    requests: list[Request] = [
        (path, {"x-api-key": key, "Host": "mock.example:80"}, b""),
        (path, {"x-api-key": key, "Host": "mock.example:8080"}, b""),
        (path, {"x-api-key": key, "Host": "not a host"}, b""),
        (path, {"x-api-key": key, "Host": "[::1]:9"}, b""),
        # A GET with a body: read and thrown away, the answer the same, even over the body limit.
        ("/v1/usage/credits", {"x-api-key": key}, b'{"ignored": true}'),
        ("/v1/usage/credits", {"x-api-key": key}, b"x" * (2 * 1024 * 1024)),
    ]
    answers, _ = _both_ways(server, monkeypatch, requests)
    bodies = [body.decode() for _, _, body in answers]
    assert '"http://mock.example/v1/jobs/' in bodies[0]
    assert '"http://mock.example:8080/v1/jobs/' in bodies[1]
    assert f'"{server.url}/v1/jobs/' in bodies[2]
    assert '"http://[::1]:9/v1/jobs/' in bodies[3]
    assert [answer[0] for answer in answers[4:]] == [200, 200]


def test_the_rate_limit_answers_as_the_app(
    start_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(requests_per_minute=2)
    key = {"x-api-key": _key(server)}
    requests: list[Request] = [("/v1/usage/credits", key, b"")] * 3
    rounds = []
    for _ in range(2):
        with httpx.Client(base_url=server.url, timeout=5) as http:
            rounds.append(
                [_answer(http.get(path, headers=headers)) for path, headers, _ in requests]
            )
        server.clock.advance(61)  # a new window for the second round
        monkeypatch.setattr(_read_asgi, "read_target", lambda scope: None)
    ours, apps = rounds
    assert ours == apps
    assert [status for status, _, _ in ours] == [200, 200, 429]
    assert (b"retry-after", b"60") in [(n.lower(), v) for n, v in ours[2][1]]


def test_injected_faults_answer_as_the_app(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = app_state(server.app).control
    key = {"x-api-key": _key(server), "Origin": _ALLOWED_ORIGIN}
    rounds = []
    for _ in range(2):
        with httpx.Client(base_url=server.url, timeout=5) as http:
            for code in ("upstream_unavailable", "rate_limited"):
                fault = {"path": "/v1/jobs/*", "method": "GET", "code": code}
                assert http.post("/_mock/faults", json=fault).status_code == 201
            rounds.append(
                [_answer(http.get(f"/v1/jobs/{_UNKNOWN_JOB}", headers=key)) for _ in range(3)]
            )
        monkeypatch.setattr(_read_asgi, "read_target", lambda scope: None)
    ours, apps = rounds
    assert ours == apps
    assert [status for status, _, _ in ours] == [502, 429, 404]
    assert control.faults() == []


def test_an_unexpected_error_is_a_500_envelope_and_recorded(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the credits are broken")

    monkeypatch.setattr(server.service.usage, "credits", broken)
    rounds = []
    for _ in range(2):
        with httpx.Client(base_url=server.url, timeout=5) as http:
            rounds.append(
                _answer(http.get("/v1/usage/credits", headers={"x-api-key": _key(server)}))
            )
        monkeypatch.setattr(_read_asgi, "read_target", lambda scope: None)
    ours, apps = rounds
    assert ours == apps
    assert ours[0] == 500
    assert b'"internal_error"' in ours[2]
    errors = server.service.unexpected_errors
    assert [str(error) for error in errors] == ["the credits are broken"] * 2
    errors.clear()  # seen: the server fixture fails on any left


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/usage/credits", ("getCredits", "")),
        ("/v1/jobs/job_1", ("getJob", "job_1")),
        ("/v1/sessions/s", ("getSession", "s")),
        ("/v1/jobs/", None),
        ("/v1/jobs", None),
        ("/v1/jobs/a/b", None),
        ("/v1/usage/credits/", None),
        ("/v1/read", None),
    ],
)
def test_read_target(path: str, expected: tuple[str, str] | None) -> None:
    found = _read_asgi.read_target({"path": path, "query_string": b""})
    assert (None if found is None else (found[0].operation_id, found[1])) == expected
    assert _read_asgi.read_target({"path": path, "query_string": b"", "root_path": "/r"}) is None
    with_query = _read_asgi.read_target({"path": path, "query_string": b"a=1&b=%41&a=&c"})
    if expected is None:
        assert with_query is None
    else:
        assert with_query is not None
        assert with_query[2] == {"a": ["1", ""], "b": ["A"], "c": [""]}
    assert _read_asgi.read_target({"path": path, "query_string": b"a=\xff"}) is None
