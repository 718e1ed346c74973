"""Which requests skip the unread-body guard's wrappers: only a request that cannot need one."""

from __future__ import annotations

import pytest

from reader_mock.http._unread_bodies import _declares_body


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
