"""Bad input of every kind gets its documented envelope over a real socket, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock

KEY = DEFAULT_API_KEY
Documented = Callable[[httpx.Response, str, str], None]
DOCS = "https://reader.dev/docs/home/concepts/errors#"


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert error["docsUrl"] == DOCS + code.replace("_", "-")
    return error


# ---------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": ""}, {"x-api-key": "rdr_unknown"}, {"authorization": f"Bearer {KEY}"}],
)
def test_missing_or_unknown_keys_are_401(
    base_url: str, headers: dict[str, str], documented: Documented
) -> None:
    for method, path in (("GET", "/v1/usage/credits"), ("POST", "/v1/read")):
        response = httpx.request(
            method, base_url + path, headers=headers, json={"url": "https://a.com"}
        )
        documented(response, method, path)
        _error(response, 401, "unauthenticated")


def test_a_key_in_the_query_string_is_ignored(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/usage/credits", params={"x-api-key": KEY, "api_key": KEY})
    _error(response, 401, "unauthenticated")


def test_streams_refuse_bad_keys_with_json_before_streaming(
    base_url: str, client: httpx.Client, documented: Documented
) -> None:
    job_id = client.post("/v1/read", json={"urls": ["https://example.com"]}).json()["data"]["id"]
    for path, template in (
        (f"/v1/jobs/{job_id}/stream", "/v1/jobs/{id}/stream"),
        ("/v1/events", "/v1/events"),
    ):
        response = httpx.get(base_url + path, headers={"x-api-key": "nope"})
        documented(response, "GET", template)
        _error(response, 401, "unauthenticated")
    missing = client.get("/v1/jobs/job_0000000000000000/stream")
    documented(missing, "GET", "/v1/jobs/{id}/stream")
    assert _error(missing, 404, "not_found")["message"] == "Job not found"
    bad_id = client.get("/v1/jobs/bad%20id/stream")
    documented(bad_id, "GET", "/v1/jobs/{id}/stream")
    _error(bad_id, 400, "invalid_request")


# ---------------------------------------------------------------------------- bodies


JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("content", "headers", "issue"),
    [
        (b"{not json", JSON, ("", "invalid_json")),
        (b'{"url": NaN}', JSON, ("", "invalid_json")),
        (b"\xff\xfe\xfa", JSON, ("", "invalid_json")),
        (b"[" * 5000, JSON, ("", "invalid_json")),
        (b"url=https://example.com", FORM, ("", "invalid_json")),
        (b"", JSON, ("", "required")),
        (b"[]", JSON, ("", "invalid_type")),
        (b"null", {}, ("", "invalid_type")),
        (b'{"url": 42}', JSON, ("url", "invalid_type")),
        (b'{"url": "https://a.com", "timeoutMs": 10}', {}, ("timeoutMs", "too_small")),
        (
            b'{"url": "https://a.com", "proxyMode": "stealth"}',
            {},
            ("proxyMode", "invalid_enum_value"),
        ),
        (b'{"url": "https://a.com", "urls": ["https://b.com"]}', {}, ("", "invalid_union")),
    ],
)
def test_bad_read_bodies(
    client: httpx.Client,
    documented: Documented,
    content: bytes,
    headers: dict[str, str],
    issue: tuple[str, str],
) -> None:
    response = client.post("/v1/read", content=content, headers=headers)
    documented(response, "POST", "/v1/read")
    error = _error(response, 400, "invalid_request")
    assert error["message"] == "Invalid request body"
    assert issue in [(entry["path"], entry["code"]) for entry in error["details"]["issues"]]


def test_json_with_another_content_type_is_still_read(client: httpx.Client) -> None:
    response = client.post(
        "/v1/read",
        content=b'{"url": "https://example.com"}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 200


def test_an_oversized_body_is_413_before_parsing(
    start_server: Callable[..., Any],
) -> None:
    server = start_server(max_body_bytes=1024)
    body = json.dumps({"urls": [f"https://example.com/{i}" for i in range(100)]}).encode()
    assert len(body) > 1024
    with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}) as client:
        response = client.post(
            "/v1/read", content=body, headers={"content-type": "application/json"}
        )
        error = _error(response, 413, "invalid_request")
        assert error["details"]["issues"] == [
            {"path": "", "code": "too_big", "message": "Request body must be at most 1024 bytes"}
        ]
        assert server.service.workspaces["ws_1"].jobs == {}
        # The connection and the server stay usable.
        assert client.get("/v1/usage/credits").status_code == 200


def test_a_refused_body_closes_the_connection_after_a_readable_413(
    start_server: Callable[..., Any],
) -> None:
    """Every 413 arrives whole and says ``Connection: close``; the client's next request on
    the same client then goes out on a new connection instead of a closed one."""
    server = start_server(max_body_bytes=1024, requests_per_minute=10_000)
    body = b'{"url": "https://example.com", "pad": "' + b"x" * 300_000 + b'"}'
    with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}) as client:
        for _ in range(20):
            response = client.post(
                "/v1/read", content=body, headers={"content-type": "application/json"}
            )
            _error(response, 413, "invalid_request")
            assert response.headers["connection"] == "close"
            assert client.get("/v1/usage/credits").status_code == 200


def test_default_body_limit_is_one_mebibyte(client: httpx.Client) -> None:
    urls = [f"https://example.com/{'x' * 1100}/{i}" for i in range(1000)]
    body = json.dumps({"urls": urls}).encode()
    assert len(body) > 1_048_576
    response = client.post("/v1/read", content=body, headers={"content-type": "application/json"})
    _error(response, 413, "invalid_request")


HOOK = {"url": "https://h.example.com", "name": "x", "events": ["a"]}


@pytest.mark.parametrize(
    ("method", "path", "template", "body", "issue"),
    [
        ("POST", "/v1/webhooks", "/v1/webhooks", {**HOOK, "url": None}, ("url", "invalid_type")),
        (
            "POST",
            "/v1/webhooks",
            "/v1/webhooks",
            {**HOOK, "url": "ftp://x"},
            ("url", "invalid_string"),
        ),
        (
            "POST",
            "/v1/webhooks",
            "/v1/webhooks",
            {"name": "x", "events": ["a"]},
            ("url", "required"),
        ),
        (
            "PATCH",
            "/v1/webhooks/whk_1",
            "/v1/webhooks/{id}",
            {"active": "y"},
            ("active", "invalid_type"),
        ),
        (
            "POST",
            "/v1/sessions",
            "/v1/sessions",
            {"maxDurationMs": 10},
            ("maxDurationMs", "too_small"),
        ),
        ("POST", "/v1/api-keys", "/v1/api-keys", {"name": 7}, ("name", "invalid_type")),
    ],
)
def test_bad_bodies_elsewhere(
    client: httpx.Client,
    documented: Documented,
    method: str,
    path: str,
    template: str,
    body: object,
    issue: tuple[str, str],
) -> None:
    response = client.request(method, path, json=body)
    documented(response, method, template)
    error = _error(response, 400, "invalid_request")
    assert issue in [(entry["path"], entry["code"]) for entry in error["details"]["issues"]]


# ---------------------------------------------------------------------------- query and path


@pytest.mark.parametrize(
    ("params", "issue"),
    [
        ({"skip": "-1"}, ("skip", "too_small")),
        ({"skip": "abc"}, ("skip", "invalid_type")),
        ({"limit": "0"}, ("limit", "too_small")),
        ({"limit": "101"}, ("limit", "too_big")),
        ({"limit": "2.5"}, ("limit", "invalid_type")),
        ({"limit": ["1", "2"]}, ("limit", "invalid_type")),
    ],
)
def test_bad_pagination_queries(
    client: httpx.Client, documented: Documented, params: dict[str, Any], issue: tuple[str, str]
) -> None:
    for path in ("/v1/usage/history", "/v1/webhooks"):
        response = client.get(path, params=params)
        documented(response, "GET", path)
        error = _error(response, 400, "invalid_request")
        assert error["message"] == "Invalid query parameters"
        assert issue in [(entry["path"], entry["code"]) for entry in error["details"]["issues"]]


def test_unknown_query_parameters_are_ignored(client: httpx.Client) -> None:
    assert client.get("/v1/usage/history", params={"page": "2", "x": ""}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/v1/jobs/job%20x", "/v1/jobs/{id}"),
        ("DELETE", "/v1/jobs/%C3%A9", "/v1/jobs/{id}"),
        ("POST", "/v1/jobs/a.b/retry", "/v1/jobs/{id}/retry"),
        ("DELETE", "/v1/webhooks/whk%21", "/v1/webhooks/{id}"),
        ("DELETE", "/v1/api-keys/" + "k" * 129, "/v1/api-keys/{id}"),
        ("GET", "/v1/sessions/ses%3Bx", "/v1/sessions/{id}"),
    ],
)
def test_malformed_ids_are_400(
    client: httpx.Client, documented: Documented, method: str, path: str, template: str
) -> None:
    response = client.request(method, path)
    documented(response, method, template)
    error = _error(response, 400, "invalid_request")
    assert error["message"] == "Invalid path parameters"
    assert error["details"]["issues"][0]["path"] == "id"


@pytest.mark.parametrize(
    ("method", "path", "template", "code", "message"),
    [
        ("GET", "/v1/jobs/job_9fba2", "/v1/jobs/{id}", "not_found", "Job not found"),
        ("DELETE", "/v1/jobs/job_9fba2", "/v1/jobs/{id}", "not_found", "Job not found"),
        ("POST", "/v1/jobs/job_9fba2/retry", "/v1/jobs/{id}/retry", "not_found", "Job not found"),
        ("DELETE", "/v1/webhooks/whk_1", "/v1/webhooks/{id}", "not_found", "Webhook not found"),
        ("DELETE", "/v1/api-keys/key_1", "/v1/api-keys/{id}", "not_found", "API key not found"),
        (
            "GET",
            "/v1/sessions/ses_1",
            "/v1/sessions/{id}",
            "session_not_found",
            "Session not found",
        ),
        (
            "DELETE",
            "/v1/sessions/ses_1",
            "/v1/sessions/{id}",
            "session_not_found",
            "Session not found",
        ),
    ],
)
def test_unknown_ids_are_404(
    client: httpx.Client,
    documented: Documented,
    method: str,
    path: str,
    template: str,
    code: str,
    message: str,
) -> None:
    response = client.request(method, path)
    documented(response, method, template)
    assert _error(response, 404, code)["message"] == message


# ---------------------------------------------------------------------------- routes and methods


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/jobs", "/v1/nope", "/v2/read", "/v1//read", "/v1/read/"]
)
def test_unknown_paths_are_404_envelopes(client: httpx.Client, path: str) -> None:
    _error(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/read", {"POST", "OPTIONS"}),
        ("PUT", "/v1/jobs/job_1", {"GET", "HEAD", "DELETE", "OPTIONS"}),
        ("POST", "/v1/usage/credits", {"GET", "HEAD", "OPTIONS"}),
        ("GET", "/v1/webhooks/whk_1", {"PATCH", "DELETE", "OPTIONS"}),
    ],
)
def test_wrong_methods_are_405_with_allow(
    client: httpx.Client, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path)
    _error(response, 405, "invalid_request")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == allowed


# ---------------------------------------------------------------------------- rate limit


def test_rate_limit_over_http(start_server: Callable[..., Any], documented: Documented) -> None:
    server = start_server(requests_per_minute=3)
    clock: ManualClock = server.clock
    with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}) as client:
        assert client.get("/v1/usage/credits").status_code == 200
        assert client.get("/v1/jobs/job_missing").status_code == 404  # counts too
        clock.advance(20)
        assert client.post("/v1/read", content=b"{").status_code == 400  # counts too
        limited = client.get("/v1/usage/credits")
        documented(limited, "GET", "/v1/usage/credits")
        error = _error(limited, 429, "rate_limited")
        assert error["details"] == {"limit": 3, "windowSeconds": 60, "retryAfterSeconds": 40}
        assert limited.headers["retry-after"] == "40"
        # Streams neither count nor get refused.
        job_id = next(iter(server.service.workspaces["ws_1"].jobs), None)
        assert job_id is None
        with client.stream("GET", "/v1/events") as stream:
            assert stream.status_code == 200
        # Unauthenticated requests do not count either.
        assert httpx.get(server.url + "/v1/usage/credits").status_code == 401
        clock.advance(40)
        assert client.get("/v1/usage/credits").status_code == 200


# ---------------------------------------------------------------------------- CORS and request ids


def test_cors_preflight_for_local_origins(client: httpx.Client) -> None:
    response = client.options(
        "/v1/read",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    allowed = response.headers["access-control-allow-headers"]
    assert {name.strip() for name in allowed.split(",")} == {
        "x-api-key",
        "x-idempotency-key",
        "content-type",
        "last-event-id",
        "cache-control",
    }
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["x-request-id"].startswith("req_")


def test_cors_headers_on_responses_and_errors(client: httpx.Client) -> None:
    for headers in (
        {"Origin": "http://127.0.0.1:3000"},
        {"Origin": "http://127.0.0.1:3000", "x-api-key": "bad"},
    ):
        response = client.get("/v1/usage/credits", headers=headers)
        assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
        exposed = {
            name.strip().lower()
            for name in response.headers["access-control-expose-headers"].split(",")
        }
        assert exposed == {"x-request-id", "retry-after"}


def test_other_origins_are_not_allowed_by_default(client: httpx.Client) -> None:
    response = client.get("/v1/usage/credits", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/v1/read",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_configured_origins_are_allowed(start_server: Callable[..., Any]) -> None:
    server = start_server(cors_origins=("https://app.example.com",))
    response = httpx.get(
        server.url + "/v1/usage/credits",
        headers={"Origin": "https://app.example.com", "x-api-key": KEY},
    )
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


def test_every_response_has_a_fresh_request_id(client: httpx.Client) -> None:
    responses = [
        client.get("/v1/usage/credits"),
        client.get("/nowhere"),
        client.put("/v1/read"),
        client.options("/v1/read"),
        client.post("/v1/read", content=b"{"),
        client.get("/v1/usage/credits", headers={"x-api-key": "bad", "x-request-id": "mine"}),
        client.head("/v1/usage/credits"),
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert all(value.startswith("req_") and len(value) == 20 for value in ids)
    assert len(set(ids)) == len(ids)


# ---------------------------------------------------------------------------- last resort


def test_an_unexpected_exception_is_a_500_envelope_logged_in_one_line(
    start_server: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()

    def broken(api_key: str | None) -> dict[str, Any]:
        raise RuntimeError("database on fire")

    server.service.usage.credits = broken
    with caplog.at_level("ERROR", logger="reader_mock.http"):
        response = httpx.get(server.url + "/v1/usage/credits", headers={"x-api-key": KEY})
    error = _error(response, 500, "internal_error")
    assert error["message"] == "Internal server error"
    assert [type(exc) for exc in server.service.unexpected_errors] == [RuntimeError]
    records = [record for record in caplog.records if record.name == "reader_mock.http"]
    assert len(records) == 1
    assert records[0].exc_info is None
    assert "\n" not in records[0].getMessage()
    assert "RuntimeError" in records[0].getMessage()
    server.service.unexpected_errors.clear()  # expected here; the fixture checks for others


def test_a_strange_host_header_still_gives_absolute_next_links(
    client: httpx.Client, base_url: str
) -> None:
    for _ in range(3):
        client.post("/v1/webhooks", json=HOOK)
    response = client.get("/v1/webhooks", params={"limit": 1}, headers={"host": "bad host\\x"})
    assert response.status_code == 200
    assert response.json()["pagination"]["next"] == f"{base_url}/v1/webhooks?skip=1&limit=1"
