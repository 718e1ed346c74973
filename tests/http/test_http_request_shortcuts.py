"""Which requests skip the per-message wrappers: only a request that cannot need one."""

from __future__ import annotations

import pytest

from reader_mock.http._unread_bodies import _declares_body
from reader_mock.http.routes import is_stream_request


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], False),
        ([(b"host", b"x"), (b"x-api-key", b"k")], False),
        ([(b"content-length", b"0")], False),
        ([(b"content-length", b"00")], False),
        ([(b"content-length", b"10")], True),
        ([(b"content-length", b"100")], True),
        ([(b"Content-Length", b"5")], True),
        ([(b"transfer-encoding", b"chunked")], True),
    ],
)
def test_only_a_request_announcing_a_body_waits_for_it(
    headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    assert _declares_body(headers) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/events", True),
        ("/v1/jobs/job_1/stream", True),
        ("/v1/jobs/job_1", False),
        ("/v1/usage/credits", False),
        ("/v1/events/", False),
        ("/_mock/reset", False),
    ],
)
def test_only_the_two_streams_can_drop(path: str, expected: bool) -> None:
    assert is_stream_request({"type": "http", "path": path}) is expected
