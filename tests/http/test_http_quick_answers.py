"""The quick ways the hot read operations answer give the bytes the plain way gives."""

from __future__ import annotations

from typing import Any

import httpx

from reader_mock._json import dumps_utf8


def test_a_polled_job_answers_the_bytes_of_its_envelope(server: Any, client: httpx.Client) -> None:
    urls = [f"https://example.com/{n}" for n in range(4)] + ["https://fail.example/x"]
    job_id = client.post("/v1/read", json={"urls": urls}).json()["data"]["id"]
    key = server.service.settings.api_keys[0]
    for query in ("", "?skip=1&limit=2", "?limit=1", ""):
        for _ in range(12):
            answer = client.get(f"/v1/jobs/{job_id}{query}")
            assert answer.status_code == 200
            page = dict(httpx.QueryParams(query.lstrip("?")))
            expected = server.service.jobs.get(
                key,
                job_id,
                base_url=server.url,
                **{name: int(value) for name, value in page.items()},
            )
            envelope = {"success": True, "data": expected.data, "pagination": expected.pagination}
            assert answer.content == dumps_utf8(envelope)
            assert answer.headers["content-type"] == "application/json"
            server.clock.advance(0.1)
