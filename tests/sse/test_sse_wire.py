"""Exact bytes on the wire: headers, frames, pings and batches, read from a raw socket."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sse_server import RawStream, ServedApp, job_frames

from reader_mock.contract import check_stream
from reader_mock.sse import (
    CONTENT_TYPE,
    Message,
    encode_comment,
    encode_event,
    encode_json_event,
    encode_many,
)


def test_content_type_is_exactly_text_event_stream(
    server: ServedApp, raw_stream: Callable[[str], RawStream]
) -> None:
    server.script("frames", job_frames())
    stream = raw_stream("/scripts/frames")
    assert stream.status_line == "HTTP/1.1 200 "
    assert stream.header("content-type") == [CONTENT_TYPE] == ["text/event-stream"]
    assert stream.header("cache-control") == ["no-store"]
    assert stream.header("x-accel-buffering") == ["no"]
    assert stream.header("transfer-encoding") == ["chunked"]
    with httpx.Client(timeout=10) as client:
        response = client.get(f"{server.url}/scripts/frames")
    assert response.headers.get_list("content-type") == ["text/event-stream"]


def test_frames_and_pings_arrive_byte_for_byte(
    server: ServedApp, raw_stream: Callable[[str], RawStream]
) -> None:
    frames = job_frames()
    ping = encode_comment()
    steps = [frames[0], ping, frames[1], ping, ping, frames[2], frames[3]]
    server.script("frames", list(steps))
    stream = raw_stream("/scripts/frames")
    while stream.next_chunk():
        pass
    assert stream.chunks == steps
    assert ping == b": ping\n\n"
    assert stream.chunks[0].startswith(b'event: progress\ndata: {"status":"processing"')
    assert check_stream(stream.body(), "job") == []


def test_frames_ready_together_go_out_in_one_chunk(
    server: ServedApp, raw_stream: Callable[[str], RawStream]
) -> None:
    frames = job_frames()
    batch = encode_many([frames[0], frames[1], encode_comment(), frames[2], frames[3]])
    server.script("batch", [batch])
    stream = raw_stream("/scripts/batch")
    while stream.next_chunk():
        pass
    assert stream.chunks == [batch]
    assert stream.body() == b"".join(frames[:2]) + b": ping\n\n" + b"".join(frames[2:])


def test_crlf_frames_arrive_unchanged(
    server: ServedApp, raw_stream: Callable[[str], RawStream]
) -> None:
    frame = encode_json_event(
        "progress", {"status": "queued", "completed": 0, "total": 1}, crlf=True
    )
    multi = encode_event("note", "one\ntwo", id="7", retry=250, crlf=True)
    server.script("crlf", [frame, multi, encode_comment(crlf=True)])
    stream = raw_stream("/scripts/crlf")
    while stream.next_chunk():
        pass
    assert stream.body() == (
        b'event: progress\r\ndata: {"status":"queued","completed":0,"total":1}\r\n\r\n'
        b"event: note\r\nid: 7\r\nretry: 250\r\ndata: one\r\ndata: two\r\n\r\n"
        b": ping\r\n\r\n"
    )
    assert encode_many([Message("note", "one\ntwo", "7", 250)], crlf=True) == multi
