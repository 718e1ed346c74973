"""HEAD on the GET routes, the two event streams included.

A HEAD request gets the headers of the GET and no body. On a stream it must not open the stream:
the workspace stream never ends, so a HEAD that opened it never finished on the server and left
its keep-alive connection unusable for the next request.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reader_mock.core import Service


@pytest.fixture
def service(server: Any) -> Service:
    """The service behind the test's server."""
    assert isinstance(server.service, Service)
    return server.service


@pytest.mark.parametrize("path", ["/v1/events", "/v1/jobs/{job}/stream"])
def test_head_on_a_stream_answers_headers_and_frees_the_connection(
    service: Service, client: httpx.Client, path: str
) -> None:
    job = client.post("/v1/read", json={"urls": ["https://example.com/a"]}).json()["data"]["id"]
    head = client.head(path.format(job=job), timeout=2)
    assert head.status_code == 200
    assert head.headers["content-type"] == "text/event-stream"
    assert head.headers["x-request-id"].startswith("req_")
    assert head.content == b""
    # The same connection answers the next request at once.
    follow_up = client.get("/v1/usage/credits", timeout=2)
    assert follow_up.status_code == 200
    assert service.unexpected_errors == []


def test_head_on_a_stream_checks_the_key_and_the_job(client: httpx.Client) -> None:
    assert client.head("/v1/jobs/job_missing/stream", timeout=2).status_code == 404
    assert client.head("/v1/jobs/job%21/stream", timeout=2).status_code == 400
    bad_key = {"x-api-key": "rdr_wrong"}
    assert client.head("/v1/events", headers=bad_key, timeout=2).status_code == 401
    assert client.head("/v1/jobs/job_missing/stream", headers=bad_key, timeout=2).status_code == 401


def test_head_on_a_json_route_has_the_get_headers_without_a_body(client: httpx.Client) -> None:
    get = client.get("/v1/usage/credits")
    head = client.head("/v1/usage/credits")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["x-request-id"] != get.headers["x-request-id"]
