"""Secrets a client sends never reach the journal in full: headers, cookies and query string."""

from __future__ import annotations

import httpx
import pytest
from reliability_support import StartMock

pytestmark = pytest.mark.slow

SECRET = "rdr_live_0123456789abcdef"


def test_secrets_in_query_cookie_and_proxy_authorization_are_masked(
    start_mock: StartMock,
) -> None:
    server = start_mock()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.get(
            "/v1/usage/credits",
            params={"api_key": SECRET, "X-Api-Key": SECRET, "token": SECRET, "page": "2"},
            headers={
                "x-api-key": server.api_key,
                "Cookie": f"session={SECRET}; theme=dark",
                "Proxy-Authorization": f"Basic {SECRET}",
                "Authorization": f"Bearer {SECRET}",
            },
        )
        assert response.status_code == 200
        journal = client.get("/_mock/journal", params={"kind": "requests"}).json()["data"]
    record = journal["requests"][-1]
    text = str(record)
    assert SECRET not in text
    assert SECRET[:-4] not in text
    assert record["query"] == "api_key=****cdef&X-Api-Key=****cdef&token=****cdef&page=2"
    headers = record["headers"]
    assert headers["cookie"] == "session=****cdef; theme=****"  # 4 characters or less: all
    assert headers["proxy-authorization"] == "****cdef"
    assert headers["authorization"] == "****cdef"
