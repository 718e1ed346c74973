"""Requests the server notes are masked when the journal is read, as recorded ones always were."""

from __future__ import annotations

import json

import pytest

from reader_mock.core import ManualClock
from reader_mock.core.journal import Journal, mask_headers

SECRET = "rdr_secret_abcd1234"
HEADERS = [
    ("Remote-Addr", "127.0.0.1"),
    ("Host", "127.0.0.1:8080"),
    ("X-Api-Key", SECRET),
    ("Authorization", "Bearer tok_verysecret9876"),
    ("Cookie", "session=s3cr3tvalue; theme=dark"),
    ("Accept", "application/json"),
]


def test_a_noted_request_reads_as_the_recorded_one(clock: ManualClock) -> None:
    recorded, noted = Journal(clock), Journal(clock)
    clock.advance(3)
    query = "api_key=abcdefgh&limit=5"
    mine = recorded.request(
        "get", "/v1/jobs/job_1", status=200, query=query, headers=HEADERS, request_id="req_1"
    )
    noted.note_request(
        "get",
        "/v1/jobs/job_1",
        status=200,
        query=query.encode(),
        headers=list(HEADERS),
        request_id="req_1",
    )
    (theirs,) = noted.requests()
    assert theirs == mine
    assert theirs.headers["x-api-key"] == "****1234"
    assert theirs.query == "api_key=****efgh&limit=5"
    assert noted.to_dict() == recorded.to_dict()
    text = json.dumps(noted.to_dict())
    for secret in (SECRET, "verysecret", "s3cr3t", "abcdefgh"):
        assert secret not in text
    assert noted.requests()[0] is theirs  # made a record once


def test_noted_and_recorded_requests_keep_their_order_and_filters(clock: ManualClock) -> None:
    journal = Journal(clock)
    journal.note_request("GET", "/a", status=200, query=b"", headers=[], request_id="req_1")
    journal.request("POST", "/b", status=201)
    journal.note_request("GET", "/b", status=404, query=b"", headers=[], request_id="req_3")
    assert [(r.seq, r.method, r.path) for r in journal.requests()] == [
        (1, "GET", "/a"),
        (2, "POST", "/b"),
        (3, "GET", "/b"),
    ]
    assert [r.status for r in journal.requests(path="/b")] == [201, 404]
    assert [r.seq for r in journal.requests(method="get")] == [1, 3]


def test_the_bound_counts_noted_requests(clock: ManualClock) -> None:
    journal = Journal(clock, max_requests=2)
    for number in range(3):
        path = f"/{number}"
        journal.note_request("GET", path, status=200, query=b"", headers=[], request_id=None)
    assert [r.path for r in journal.requests()] == ["/1", "/2"]
    assert journal.to_dict()["dropped"]["requests"] == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            HEADERS,
            {
                "remote-addr": "127.0.0.1",
                "host": "127.0.0.1:8080",
                "x-api-key": "****1234",
                "authorization": "****9876",
                "cookie": "session=****alue; theme=****",
                "accept": "application/json",
            },
        ),
        (
            [("A", "1"), ("a", "2"), ("X-API-KEY", "one-secret"), ("x-api-key", "two-secrets")],
            {"a": "1, 2", "x-api-key": "****cret, ****rets"},
        ),
        ([("Cookie", "a=1"), ("cookie", "b=22222222")], {"cookie": "a=*, b=****2222"}),
        (
            [("PROXY-Authorization", "Basic Zm9vOmJhcg=="), ("X-Mock-Token", "shrt")],
            {"proxy-authorization": "****cg==", "x-mock-token": "****"},
        ),
        ([], {}),
    ],
)
def test_masking_with_names_once_or_repeated(
    headers: list[tuple[str, str]], expected: dict[str, str]
) -> None:
    """Names once take the single pass, a repeated name the loop: the same rules either way
    (lower-case names, values of a repeated name joined, secrets cut to their last 4)."""
    assert mask_headers(headers) == expected
    assert list(mask_headers(headers)) == list(expected)  # the order the names came in
