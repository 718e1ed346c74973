"""Encoded frames, served over a real socket, read back by three parsers.

The reference decoder, httpx-sse and the official SDK (reader-py, which parses the per-job
stream itself) must all read back what the encoder wrote.
"""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest
from httpx_sse import connect_sse

# reader-py ships no type information.
from reader_py import AsyncReaderClient, ReaderClient  # type: ignore[import-untyped]
from reader_py.client import _parse_sse_stream  # type: ignore[import-untyped]
from reader_py.types import (  # type: ignore[import-untyped]
    DoneEvent,
    ErrorEvent,
    PageEvent,
    ProgressEvent,
)
from sse_server import ServedApp

from reader_mock.contract import check_stream
from reader_mock.sse import (
    Message,
    decode,
    encode_comment,
    encode_json_event,
    encode_many,
)

TIMEOUT = httpx.Timeout(10.0)

PROGRESS = {"status": "processing", "completed": 0, "total": 3}
PAGE = {
    "url": "https://example.com/caf\u00e9",
    "markdown": "# Caf\u00e9 \U0001f600\n\nline one\r\nline two",
    "statusCode": 200,
    "proxyMode": "premium",
    "credits": 2,
    "metadata": {"title": "Caf\u00e9"},
}
ERROR = {"url": "https://example.com/b", "error": 'timed out: "quoted"\n'}
DONE = {"status": "completed", "completed": 3, "total": 3}


def _job_stream(*, crlf: bool) -> bytes:
    return encode_many(
        [
            encode_json_event("progress", PROGRESS, crlf=crlf),
            encode_comment(crlf=crlf),
            encode_json_event("page", PAGE, crlf=crlf),
            encode_json_event("error", ERROR, crlf=crlf),
            encode_comment(crlf=crlf),
            encode_json_event("done", DONE, crlf=crlf),
        ]
    )


def _random_messages(seed: int) -> list[Message]:
    rng = random.Random(seed)
    alphabet = 'abc {}[]":,\n\r\t\u00e9\u2028\U0001f600\\'
    messages = []
    for index in range(40):
        data = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        messages.append(Message(f"event-{index}:{rng.choice(['x', 'y'])}", data))
    return messages


def _expected(messages: list[Message]) -> list[tuple[str, str]]:
    return [
        (message.event, message.data.replace("\r\n", "\n").replace("\r", "\n"))
        for message in messages
    ]


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_httpx_sse_and_the_reference_decoder_read_what_was_encoded(
    server: ServedApp, crlf: bool
) -> None:
    messages = _random_messages(seed=7)
    ping = encode_comment(crlf=crlf)
    steps = [encode_many([message, ping], crlf=crlf) for message in messages]
    url = server.script("random", steps)
    with httpx.Client(timeout=TIMEOUT) as client:
        with connect_sse(client, "GET", url) as source:
            via_httpx_sse = [(event.event, event.data) for event in source.iter_sse()]
        raw = client.get(url).content
    via_decoder = [(event.type, event.data) for event in decode(raw).events]
    assert via_decoder == _expected(messages)
    assert via_httpx_sse == via_decoder


def test_httpx_sse_reads_ids_and_retry(server: ServedApp) -> None:
    messages = [Message("a", "1", id="x1", retry=1500), Message("b", "2"), Message("c", "3", id="")]
    url = server.script("ids", [encode_many(messages)])
    with httpx.Client(timeout=TIMEOUT) as client, connect_sse(client, "GET", url) as source:
        events = [(e.event, e.data, e.id, e.retry) for e in source.iter_sse()]
    raw = encode_many(messages)
    decoded = decode(raw)
    assert [(e.type, e.data, e.last_event_id) for e in decoded.events] == [
        ("a", "1", "x1"),
        ("b", "2", "x1"),
        ("c", "3", ""),
    ]
    assert decoded.retry == 1500
    assert events == [("a", "1", "x1", 1500), ("b", "2", "x1", None), ("c", "3", "", None)]


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_the_official_sdk_reads_the_per_job_stream(server: ServedApp, crlf: bool) -> None:
    stream = _job_stream(crlf=crlf)
    assert check_stream(stream, "job") == []
    server.script("job:job_1", [stream])
    with ReaderClient(api_key="rm_test", base_url=server.url) as client:
        events = list(client.stream("job_1", timeout=10))
    assert events == [
        ProgressEvent(status="processing", completed=0, total=3),
        PageEvent(
            data={
                "url": PAGE["url"],
                "markdown": "# Caf\u00e9 \U0001f600\n\nline one\r\nline two",
                "status_code": 200,
                "proxy_mode": "premium",
                "credits": 2,
                "metadata": {"title": "Caf\u00e9"},
            }
        ),
        ErrorEvent(url=ERROR["url"], error=ERROR["error"]),
        DoneEvent(status="completed", completed=3, total=3),
    ]


def test_the_official_async_sdk_stops_after_done(server: ServedApp) -> None:
    frames = [
        encode_json_event("progress", PROGRESS),
        encode_json_event("done", DONE),
    ]
    server.script("job:job_2", frames)

    async def read() -> list[object]:
        client = AsyncReaderClient(api_key="rm_test", base_url=server.url)
        try:
            return [event async for event in client.stream("job_2", timeout=10)]
        finally:
            await client.close()

    events = asyncio.run(read())
    assert [type(event) for event in events] == [ProgressEvent, DoneEvent]


def test_the_sdk_line_parser_reads_encoded_frames() -> None:
    lines = _job_stream(crlf=False).decode().split("\n")
    parsed = list(_parse_sse_stream(iter(lines), 10))
    assert [event.type for event in parsed] == ["progress", "page", "error", "done"]
    page = parsed[1]
    assert isinstance(page, PageEvent)
    assert page.data.markdown == PAGE["markdown"]


@pytest.mark.xfail(
    strict=True,
    reason=(
        "reader-py reads the stream with httpx's iter_lines(), which splits on U+2028 like "
        "str.splitlines(); a page whose JSON holds a raw U+2028 is silently dropped"
    ),
)
def test_the_official_sdk_keeps_a_page_with_a_line_separator(server: ServedApp) -> None:
    page = {"url": "https://example.com/a", "markdown": "before\u2028after"}
    frames = [
        encode_json_event("progress", PROGRESS),
        encode_json_event("page", page),
        encode_json_event("done", DONE),
    ]
    assert json.loads(decode(b"".join(frames)).events[1].data) == page
    server.script("job:job_3", frames)
    with ReaderClient(api_key="rm_test", base_url=server.url) as client:
        events = list(client.stream("job_3", timeout=10))
    assert [event.type for event in events] == ["progress", "page", "done"]
