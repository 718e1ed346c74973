"""The frame encoder: exact bytes, refused inputs, and round trips through the reference decoder."""

from __future__ import annotations

import json
import random
import re

import pytest

from reader_mock.sse import (
    Message,
    decode,
    encode_comment,
    encode_event,
    encode_json_event,
    encode_many,
    json_text,
)


def test_exact_bytes_of_a_json_event() -> None:
    frame = encode_json_event("progress", {"status": "processing", "completed": 1, "total": 3})
    assert frame == (b'event: progress\ndata: {"status":"processing","completed":1,"total":3}\n\n')


def test_json_is_compact_utf8_and_keeps_line_separators_raw() -> None:
    frame = encode_json_event("page", {"markdown": "Caf\u00e9\n\u2028"})
    assert frame == 'event: page\ndata: {"markdown":"Caf\u00e9\\n\u2028"}\n\n'.encode()


def test_all_fields_in_order_with_crlf() -> None:
    frame = encode_event("job:progress", "x", id="41", retry=1500, crlf=True)
    assert frame == b"event: job:progress\r\nid: 41\r\nretry: 1500\r\ndata: x\r\n\r\n"
    assert encode_json_event("e", [1], id="", crlf=True) == b"event: e\r\nid: \r\ndata: [1]\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        ("a\nb", [b"data: a", b"data: b"]),
        ("a\r\nb", [b"data: a", b"data: b"]),
        ("a\rb", [b"data: a", b"data: b"]),
        ("a\n\r\nb\r", [b"data: a", b"data: ", b"data: b", b"data: "]),
        ("", [b"data: "]),
        (" lead", [b"data:  lead"]),
    ],
)
def test_multi_line_data_becomes_several_data_lines(data: str, lines: list[bytes]) -> None:
    assert (
        encode_event("e", data) == b"event: e\n" + b"".join(line + b"\n" for line in lines) + b"\n"
    )


def test_comments() -> None:
    assert encode_comment() == b": ping\n\n"
    assert encode_comment("ping", crlf=True) == b": ping\r\n\r\n"
    assert encode_comment("") == b":\n\n"
    assert encode_comment("a\nb") == b": a\n: b\n\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "a\nb"}, "SSE event name 'a\\nb' contains LF at index 1"),
        ({"event": "a\rb"}, "contains CR at index 1"),
        ({"event": "a\x00"}, "contains NUL at index 1"),
        ({"event": ""}, "must not be empty"),
        ({"event": 5}, "event name must be a string, got int"),
        ({"id": "1\n"}, "SSE id '1\\n' contains LF"),
        ({"id": "\r"}, "SSE id '\\r' contains CR"),
        ({"id": "a\x00b"}, "contains NUL"),
        ({"id": 7}, "SSE id must be a string, got int"),
        ({"retry": -1}, "retry must be >= 0 milliseconds, got -1"),
        ({"retry": 1.5}, "retry must be an integer number of milliseconds, got float"),
        ({"retry": "10"}, "got str"),
        ({"retry": True}, "got bool"),
        ({"data": b"x"}, "SSE data must be a string, got bytes"),
        ({"data": "a\ud800"}, "SSE data contains the lone surrogate U+D800"),
        ({"data": "a\n\udfff"}, "SSE data contains the lone surrogate U+DFFF"),
        ({"event": "\udc80"}, "SSE event name contains the lone surrogate U+DC80"),
        ({"id": "\ud83d"}, "SSE id contains the lone surrogate U+D83D"),
    ],
)
def test_invalid_fields_are_refused_with_a_clear_message(
    kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"event": "e", "data": "x", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_event(**arguments)  # type: ignore[arg-type]


def test_payloads_that_are_not_json_are_refused() -> None:
    with pytest.raises(ValueError, match="not JSON-serializable"):
        encode_json_event("e", {"x": float("nan")})
    with pytest.raises(ValueError, match="not JSON-serializable"):
        encode_json_event("e", {"x": object()})
    with pytest.raises(ValueError, match="contains LF"):
        encode_json_event("a\n", {})
    with pytest.raises(ValueError, match="data contains the lone surrogate U\\+D800"):
        encode_json_event("e", {"x": "\ud800"})
    with pytest.raises(ValueError, match="comment contains the lone surrogate"):
        encode_comment("\ud800")


def test_encode_many_is_one_bytes_object() -> None:
    ping = encode_comment()
    batch = encode_many([Message("progress", "{}"), ping, Message("done", "a\nb", id="3", retry=0)])
    assert batch == (
        b"event: progress\ndata: {}\n\n: ping\n\nevent: done\nid: 3\nretry: 0\ndata: a\ndata: b\n\n"
    )
    assert encode_many([Message("e", "x")], crlf=True) == b"event: e\r\ndata: x\r\n\r\n"
    assert encode_many([]) == b""
    with pytest.raises(ValueError, match="takes Message objects or bytes, got str"):
        encode_many(["event: e\n\n"])  # type: ignore[list-item]


def test_json_text_matches_what_is_sent() -> None:
    payload = {"b": [1, 2.5, None, True], "a": "\u00e9"}
    assert json_text(payload) == '{"b":[1,2.5,null,true],"a":"\u00e9"}'
    assert json.loads(json_text(payload)) == payload


def _random_text(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(size)))


def test_round_trip_through_the_reference_decoder() -> None:
    """Random events of every shape decode back to what was encoded, however they are chunked."""
    rng = random.Random(20261128)
    name_chars = "abz:_- \u00e9\U0001f600\t\u2028"
    data_chars = 'ab {}":,\n\r\t\u2028\u0085\x00\U0001f600\u00e9'
    for _ in range(300):
        messages = []
        for _ in range(rng.randrange(1, 5)):
            name = _random_text(rng, name_chars, 8) or "x"
            data = _random_text(rng, data_chars, 40)
            event_id = rng.choice([None, "", _random_text(rng, name_chars, 6)])
            retry = rng.choice([None, 0, rng.randrange(100_000)])
            messages.append(Message(name, data, event_id, retry))
        crlf = rng.random() < 0.5
        stream = encode_many([*messages, encode_comment("keep", crlf=crlf)], crlf=crlf)
        cuts = sorted(rng.sample(range(len(stream) + 1), k=min(3, len(stream) + 1)))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        decoded = decode(chunks)
        assert decoded == decode(stream)
        expected = []
        last_id = ""
        for message in messages:
            if message.id is not None:
                last_id = message.id
            data = message.data.replace("\r\n", "\n").replace("\r", "\n")
            expected.append((message.event, data, last_id))
        assert [(e.type, e.data, e.last_event_id) for e in decoded.events] == expected
        retries = [message.retry for message in messages if message.retry is not None]
        assert decoded.retry == (retries[-1] if retries else None)
        assert [c.text for c in decoded.comments] == ["keep"]
        assert decoded.ignored == () and not decoded.end.mid_block
