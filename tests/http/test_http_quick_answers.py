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


def test_next_links_follow_the_host_each_request_names(server: Any, client: httpx.Client) -> None:
    urls = [f"https://example.com/{n}" for n in range(3)]
    job_id = client.post("/v1/read", json={"urls": urls}).json()["data"]["id"]
    server.clock.advance(3600)
    port = server.url.rsplit(":", 1)[1]
    hosts = ["127.0.0.1", "localhost:9999", "mock.example", "127.0.0.1", "bad host!"]
    for host in [*hosts, *hosts]:
        answer = client.get(f"/v1/jobs/{job_id}?limit=1", headers={"Host": host})
        link = answer.json()["pagination"]["next"]
        expected = f"http://127.0.0.1:{port}" if host == "bad host!" else f"http://{host}"
        assert link == f"{expected}/v1/jobs/{job_id}?skip=1&limit=1"


async def _coroutine_function() -> int:
    return 1


def _plain_function() -> int:
    return 2


class _Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def __call__(self) -> int:
        return 3


def test_the_app_wraps_each_kind_of_function_as_quart_does() -> None:
    import asyncio

    from quart import Quart

    from reader_mock.http._quart import MockQuart

    ours, theirs = MockQuart("ours"), Quart("theirs")
    assert ours.ensure_async(_coroutine_function) is _coroutine_function
    wrapped = ours.ensure_async(_plain_function)
    assert ours.ensure_async(_plain_function) is wrapped  # worked out once
    unhashable = _Unhashable()

    async def run() -> list[int]:
        async with ours.app_context(), theirs.app_context():
            return [
                await ours.ensure_async(_coroutine_function)(),
                await wrapped(),
                await ours.ensure_async(unhashable)(),
                await theirs.ensure_async(_plain_function)(),
                await theirs.ensure_async(unhashable)(),
            ]

    assert asyncio.run(run()) == [1, 2, 3, 2, 3]
