"""Fixtures for the example suite: the official reader-py SDK pointed at reader-mock.

The ``reader_mock*`` fixtures come from reader-mock's pytest plugin, which pytest loads by itself
once reader-mock is installed. Only two things are added here: a client built for the mock, and a
small client for the control API (``/_mock/``), which scripts faults.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import reader_py.client  # type: ignore[import-untyped]
from reader_py import ReaderClient

from reader_mock.server import MockServer


class _ClockTime:
    """Stands in for the ``time`` module inside reader-py, so the SDK's waits (job polling,
    retry back-off, ``Retry-After``) move the mock's manual clock instead of sleeping: a test
    of a 90-second job takes milliseconds, and the journal shows the waits in clock time."""

    def __init__(self, server: MockServer) -> None:
        self._server = server

    def sleep(self, seconds: float) -> None:
        self._server.advance(seconds)

    def time(self) -> float:
        return self._server.clock.now()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def reader(
    reader_mock: MockServer,
    reader_mock_url: str,
    reader_mock_api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ReaderClient]:
    """A reader-py client for the reset mock, whose waits run on the mock's clock."""
    monkeypatch.setattr(reader_py.client, "time", _ClockTime(reader_mock))
    client = ReaderClient(api_key=reader_mock_api_key, base_url=reader_mock_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def control(reader_mock_url: str, reader_mock: MockServer) -> Iterator[httpx.Client]:
    """An HTTP client for the control API, as a test in any language would use it."""
    token = {"x-mock-token": reader_mock.control_token} if reader_mock.control_token else {}
    with httpx.Client(base_url=f"{reader_mock_url}/_mock", headers=token, timeout=10) as client:
        yield client


@pytest.fixture
def create_job(reader_mock_url: str, reader_mock_api_key: str) -> Any:
    """``create_job(urls=None, **fields) -> job id``: start a job without waiting for it; a
    batch of ``urls``, or any other ``POST /v1/read`` body given as ``fields`` (a crawl:
    ``url=..., maxPages=5``).

    reader-py's ``read()`` waits for a job to finish, so a test that streams a job creates it
    with a plain request first.
    """

    def create(urls: list[str] | None = None, **fields: Any) -> str:
        body = {"urls": urls, **fields} if urls is not None else fields
        response = httpx.post(
            f"{reader_mock_url}/v1/read",
            json=body,
            headers={"x-api-key": reader_mock_api_key},
        )
        assert response.status_code == 201, response.text
        job_id: str = response.json()["data"]["id"]
        return job_id

    return create
