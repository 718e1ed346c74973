"""The reference decoder against the WHATWG SSE parsing rules, in the spirit of the WPT tests.

Every case is fed three ways: in one chunk, byte by byte, and split in two at every position;
all three must give the same events and the same observations, offsets included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from reader_mock.sse import Decoded, Decoder, IgnoredReason, decode

Expected = tuple[str, str, str]  # type, data, last event id


@dataclass(frozen=True)
class Case:
    name: str
    stream: bytes
    events: list[Expected]
    comments: list[str] = field(default_factory=list)
    ignored: list[IgnoredReason] = field(default_factory=list)
    retry: int | None = None


CASES = [
    Case("bom", b"\xef\xbb\xbfdata: 1\n\n", [("message", "1", "")]),
    Case(
        "double bom loses the first event",
        b"\xef\xbb\xbf\xef\xbb\xbfdata: 1\n\ndata: 2\n\n",
        [("message", "2", "")],
        ignored=[IgnoredReason.UNKNOWN_FIELD],
    ),
    Case("bom not at the start is data", b"data: \xef\xbb\xbfx\n\n", [("message", "\ufeffx", "")]),
    Case(
        "cr only",
        b"data: 1\rdata: 2\r\rdata: 3\r\r",
        [("message", "1\n2", ""), ("message", "3", "")],
    ),
    Case(
        "crlf only",
        b"data: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n",
        [("message", "1\n2", ""), ("message", "3", "")],
    ),
    Case(
        "mixed endings",
        b"data: a\ndata: b\r\n\rdata: c\r\r\ndata: d\n\r\n",
        [("message", "a\nb", ""), ("message", "c", ""), ("message", "d", "")],
    ),
    Case("lf line then crlf blank line", b"data: x\n\r\nevent: e\r\n", [("message", "x", "")]),
    Case(
        "comments",
        b": test\n:\n:\x00\n:data:fail\n:  two spaces\ndata: ok\n\n",
        [("message", "ok", "")],
        comments=["test", "", "\x00", "data:fail", " two spaces"],
    ),
    Case(
        "very long comment",
        b":" + b"x" * 100_000 + b"\ndata: after\n\n",
        [("message", "after", "")],
        comments=["x" * 100_000],
    ),
    Case(
        "spec example: data without colon, unterminated last block",
        b"data\n\ndata\ndata\n\ndata:",
        [("message", "", ""), ("message", "\n", "")],
    ),
    Case(
        "zero, one and two spaces after the colon",
        b"data:test\n\ndata: test\n\ndata:  test\n\n",
        [("message", "test", ""), ("message", "test", ""), ("message", " test", "")],
    ),
    Case(
        "multi-line data",
        b"data: a\ndata:\ndata: b\ndata\n\n",
        [("message", "a\n\nb\n", "")],
    ),
    Case(
        "only CR and LF end lines",
        '{"t":"a\u2028b\u2029c\u0085d\x0be\x0cf"}'.join(["data: ", "\n\n"]).encode(),
        [("message", '{"t":"a\u2028b\u2029c\u0085d\x0be\x0cf"}', "")],
    ),
    Case("nul in data is kept", b"data: a\x00b\n\n", [("message", "a\x00b", "")]),
    Case(
        "id with nul is ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [("message", "a", "1"), ("message", "b", "1")],
        ignored=[IgnoredReason.ID_WITH_NUL],
    ),
    Case(
        "id reset by id alone and by an empty id",
        b"id: 1\ndata: a\n\nid\ndata: b\n\nid: 3\ndata: c\n\nid:\ndata: d\n\n",
        [("message", "a", "1"), ("message", "b", ""), ("message", "c", "3"), ("message", "d", "")],
    ),
    Case(
        "id sticks to later events",
        b"id: 7\ndata: a\n\ndata: b\n\n",
        [("message", "a", "7"), ("message", "b", "7")],
    ),
    Case(
        "bogus retry values are ignored",
        "retry: 1000x\nretry: -1\nretry:  1000\nretry: 1.5\nretry: +5\nretry\n"
        "retry: \u0661\u0662\ndata: x\n\n".encode(),
        [("message", "x", "")],
        ignored=[IgnoredReason.INVALID_RETRY] * 7,
    ),
    Case("valid retry", b"retry: 2500\ndata: x\n\nretry: 07\n\n", [("message", "x", "")], retry=7),
    Case(
        "field names are case-sensitive",
        b"Data: x\nEVENT: e\ndata: y\n\n",
        [("message", "y", "")],
        ignored=[IgnoredReason.UNKNOWN_FIELD, IgnoredReason.UNKNOWN_FIELD],
    ),
    Case(
        "a space before the colon is part of the name",
        b"data : x\n\n",
        [],
        ignored=[IgnoredReason.UNKNOWN_FIELD],
    ),
    Case(
        "colon in the value",
        b"data: a:b: c\n\nevent: job:progress\ndata: {}\n\n",
        [("message", "a:b: c", ""), ("job:progress", "{}", "")],
    ),
    Case(
        "event field: last wins, empty means message",
        b"event: e\ndata: 1\n\nevent:\ndata: 2\n\nevent: a\nevent: b\ndata: 3\n\n",
        [("e", "1", ""), ("message", "2", ""), ("b", "3", "")],
    ),
    Case(
        "blocks with empty data dispatch nothing but update state",
        b"id: 5\n\nevent: done\n\nretry: 10\n\ndata: x\n\n",
        [("message", "x", "5")],
        retry=10,
    ),
    Case(
        "ping after an event with an id fires nothing",
        b"id: 1\ndata: a\n\n: ping\n\n",
        [("message", "a", "1")],
        comments=["ping"],
    ),
    Case("unterminated last block", b"data: a\n\ndata: b\n", [("message", "a", "")]),
    Case("leading blank lines", b"\n\r\n\rdata: x\n\n", [("message", "x", "")]),
    Case(
        "4-byte utf-8 character",
        "event: \U0001f600\ndata: \U0001f600 \u00e9\n\n".encode(),
        [("\U0001f600", "\U0001f600 \u00e9", "")],
    ),
    Case(
        "invalid utf-8 becomes U+FFFD", b"data: \xff\xe2\x82\n\n", [("message", "\ufffd\ufffd", "")]
    ),
]


def _summary(decoded: Decoded) -> tuple[list[Expected], list[str], list[IgnoredReason], int | None]:
    return (
        [(event.type, event.data, event.last_event_id) for event in decoded.events],
        [comment.text for comment in decoded.comments],
        [line.reason for line in decoded.ignored],
        decoded.retry,
    )


def _feeds(stream: bytes) -> Iterable[tuple[str, list[bytes]]]:
    yield "one chunk", [stream]
    yield "byte by byte", [stream[i : i + 1] for i in range(len(stream))]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_case_in_one_chunk_and_byte_by_byte(case: Case) -> None:
    whole = decode(case.stream)
    assert _summary(whole) == (case.events, case.comments, case.ignored, case.retry)
    for how, chunks in _feeds(case.stream):
        assert decode(chunks) == whole, how


@pytest.mark.parametrize(
    "case", [case for case in CASES if len(case.stream) < 2_000], ids=lambda case: case.name
)
def test_case_split_in_two_at_every_position(case: Case) -> None:
    whole = decode(case.stream)
    for cut in range(len(case.stream) + 1):
        assert decode([case.stream[:cut], case.stream[cut:]]) == whole, cut


def test_crlf_split_at_every_byte_position() -> None:
    stream = (
        b"\xef\xbb\xbfevent: a\r\ndata: 1\r\n\r\n: ping\r\n\r\nid: 9\r\ndata: 2\r\ndata: 3\r\n\r\n"
    )
    whole = decode(stream)
    assert [(e.type, e.data, e.last_event_id) for e in whole.events] == [
        ("a", "1", ""),
        ("message", "2\n3", "9"),
    ]
    for first in range(len(stream) + 1):
        for second in range(first, len(stream) + 1):
            chunks = [stream[:first], stream[first:second], stream[second:]]
            assert decode(chunks) == whole, (first, second)


def test_offsets_count_every_byte_fed() -> None:
    stream = b"\xef\xbb\xbf: ping\nevent: a\ndata: 1\n\nid: 2\r\ndata: x\r\n\r\ndata: tail"
    decoded = decode(stream)
    assert [(c.offset, c.text) for c in decoded.comments] == [(3, "ping")]
    first, second = decoded.events
    assert (first.start, first.end) == (10, 27)
    assert stream[first.start : first.end] == b"event: a\ndata: 1\n"
    assert (second.start, second.end) == (28, 44)
    assert stream[second.start : second.end] == b"id: 2\r\ndata: x\r\n"
    assert [block.start for block in decoded.blocks] == [10, 28]
    assert decoded.blocks[1].fields[0].offset == 28
    assert decoded.blocks[1].fields[1].offset == 35
    end = decoded.end
    assert (end.length, end.trailing_start, end.mid_block, end.mid_line) == (56, 46, True, True)
    assert end.discarded is None  # "data: tail" never became a line


def test_unterminated_block_is_reported_at_close() -> None:
    stream = b'data: a\n\nevent: page\ndata: {"u\n'
    decoder = Decoder()
    assert [e.data for e in decoder.feed(stream)] == ["a"]
    end = decoder.close()
    assert end.mid_block and not end.mid_line
    assert end.discarded is not None
    assert end.discarded.start == 9
    assert [(f.name, f.value) for f in end.discarded.fields] == [("event", "page"), ("data", '{"u')]
    assert decoder.close() is end


def test_clean_end_is_not_mid_block() -> None:
    end = decode(b"data: a\r\n\r\n").end
    assert (end.mid_block, end.mid_line, end.discarded) == (False, False, None)
    assert end.trailing_start == end.length == 11


def test_split_crlf_blank_line_is_not_trailing() -> None:
    end = decode([b"data: a\r\n\r", b"\n"]).end
    assert end.trailing_start == 11
    assert not end.mid_block


def test_block_records_every_field_line() -> None:
    decoded = decode(b"event: done\n\nevent: a\ndata: 1\ndata: 2\nid: 3\n\n")
    empty, full = decoded.blocks
    assert empty.event is None
    assert empty.count("event") == 1
    assert full.count("data") == 2
    assert full.event is not None and full.event.data == "1\n2"


def test_ignored_line_messages_explain() -> None:
    decoded = decode(b"Data: x\nid: a\x00\nretry: 5s\nfoo: bar\n\n")
    assert [line.message for line in decoded.ignored] == [
        "unknown field 'Data' is ignored (field names are case-sensitive: 'data')",
        "id 'a\\x00' contains NUL and is ignored",
        "retry '5s' is not only ASCII digits and is ignored",
        "unknown field 'foo' is ignored",
    ]


def test_invalid_utf8_offsets() -> None:
    decoded = decode(b"data: ok\n\n: \xfe\ndata: \xc3\n\n")
    assert decoded.invalid_utf8 == (10, 14)


def test_feed_after_close_is_refused() -> None:
    decoder = Decoder()
    decoder.feed(b"data: a\n\n")
    decoder.close()
    with pytest.raises(ValueError, match="closed"):
        decoder.feed(b"data: b\n\n")


def test_empty_feeds_change_nothing() -> None:
    decoder = Decoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"") == []
    assert [e.data for e in decoder.feed(b"\xbb\xbfdata: x\n\n")] == ["x"]


def test_partial_bom_at_end_is_mid_line() -> None:
    end = decode(b"\xef\xbb").end
    assert end.mid_line and end.mid_block and end.length == 2


def test_a_decoder_not_at_the_stream_start_keeps_a_leading_bom() -> None:
    """``stream_start=False``: a BOM there belongs to the first field name, as mid-stream."""
    events = Decoder(stream_start=False).feed(b"\xef\xbb\xbfevent: page\ndata: 1\n\n")
    assert [(e.type, e.data) for e in events] == [("message", "1")]
    assert [(e.type, e.data) for e in Decoder().feed(b"\xef\xbb\xbfevent: page\ndata: 1\n\n")] == [
        ("page", "1")
    ]


@pytest.mark.parametrize(
    ("stream", "at_boundary"),
    [
        (b"", False),  # a BOM may still come
        (b"data: 1\n\n", True),
        (b": ping\n", True),  # a comment line is finished; no block is open
        (b"data: 1\n", False),  # a block is open
        (b"data: 1", False),  # a line is open
        (b"data: 1\n\r", False),  # an LF may still belong to the CR
        (b"data: 1\r\n\r\n", True),
    ],
)
def test_at_boundary_says_whether_a_fresh_decoder_could_take_over(
    stream: bytes, at_boundary: bool
) -> None:
    decoder = Decoder()
    decoder.feed(stream)
    assert decoder.at_boundary is at_boundary
