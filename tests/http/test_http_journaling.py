"""The stream recorder: its quick path for encoder-shaped frames must cut every write exactly as
the reference SSE decoder alone would, whatever the bytes and the writes."""

from __future__ import annotations

import gc
import itertools

import hypothesis
from hypothesis import strategies as st

from reader_mock.core import ManualClock
from reader_mock.core.journal import (
    MAX_FRAME_BYTES,
    MAX_FRAMES,
    EncodedFrames,
    Journal,
    StreamRecord,
    WrittenPiece,
)
from reader_mock.http.recording import StreamRecorder, decoded_pieces
from reader_mock.sse import encode_comment, encode_json_event
from reader_mock.sse.decoder import Decoder

PING = encode_comment("ping")

_names = st.sampled_from(["progress", "page", "error", "done", "job:progress", "caf\u00e9"])
_payloads = st.dictionaries(
    st.sampled_from(["url", "markdown", "completed"]),
    st.one_of(st.integers(), st.text(alphabet='ab \n\r\u2028\u00e9"{}:', max_size=12)),
    max_size=3,
)
_standard = st.one_of(
    st.builds(lambda name, payload: encode_json_event(name, payload), _names, _payloads),
    st.just(encode_comment("ping")),
    # A frame larger than what the journal keeps of one frame.
    st.just(encode_json_event("page", {"markdown": "m" * (MAX_FRAME_BYTES + 50)})),
)
# Valid-but-unusual SSE a raw timeline step may write: ids, CR and CRLF line ends, comments
# without a blank line, multi-line data, a BOM in the middle, fields without a colon, blocks
# that dispatch nothing, a lone blank line.
_unusual = st.sampled_from(
    [
        b"event: page\ndata: {}\nid: 7\n\n",
        b"event: progress\r\ndata: {}\r\n\r\n",
        b"event: progress\rdata: {}\r\r",
        b": just a comment\n",
        b":\n\n",
        b"data: a\ndata: b\n\n",
        b"event: first\ndata: 1\nevent: second\n\n",
        b"event: page\ndata: {}\n: a comment inside\n\n",
        b"\xef\xbb\xbfevent: page\ndata: {}\n\n",
        b"event\ndata\n\n",
        b"event: nothing\n\n",
        b"\n",
        b"retry: 100\n\n",
        b"event: half\ndata: {",
        b"event: \ndata: x\n\n",
        b"event: bad\xffname\ndata: 1\n\n",
    ]
)


@st.composite
def _writes(draw: st.DrawFn) -> list[bytes]:
    """A stream made of frames, cut into writes at arbitrary points."""
    frames = draw(st.lists(st.one_of(_standard, _standard, _unusual), min_size=1, max_size=12))
    stream = b"".join(frames)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=6)))
    bounds = [0, *[cut for cut in cuts if cut < len(stream)], len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _record() -> StreamRecord:
    return Journal(ManualClock()).stream_opened("job", job_id="job_1")


def _reference(writes: list[bytes]) -> list[WrittenPiece]:
    """Every write cut by one decoder that sees the whole stream."""
    decoder = Decoder()
    pieces: list[WrittenPiece] = []
    fed = 0
    for data in writes:
        decoded_pieces(decoder, data, fed, pieces)
        fed += len(data)
    return pieces


def _pieces(record: StreamRecord) -> list[WrittenPiece]:
    return [(frame.data, frame.size, frame.name, frame.kind) for frame in record.frames]


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(_writes())
def test_the_quick_path_cuts_every_write_as_the_decoder_does(writes: list[bytes]) -> None:
    record = _record()
    cutter = StreamRecorder(record)
    for data in writes:
        cutter.raw(data)
    pieces = _pieces(record)
    assert pieces == _reference(writes)
    # Nothing is lost or invented: the pieces are the stream, each cut to the kept size.
    assert sum(size for _, size, _, _ in pieces) == sum(len(data) for data in writes)
    events = [name for _, _, name, kind in pieces if kind == "event"]
    assert cutter.last_event == (events[-1] if events else None)


def test_encoder_frames_take_the_quick_path_and_keep_their_names() -> None:
    record = _record()
    cutter = StreamRecorder(record)
    burst = b"".join(
        [encode_json_event("progress", {"completed": 0})]
        + [encode_json_event("page", {"url": f"https://example.com/{i}"}) for i in range(3)]
        + [encode_comment("ping"), encode_json_event("done", {"status": "completed"})]
    )
    cutter.raw(burst)
    assert [(f.kind, f.name) for f in record.frames] == [
        ("event", "progress"),
        ("event", "page"),
        ("event", "page"),
        ("event", "page"),
        ("comment", "ping"),
        ("event", "done"),
    ]
    assert cutter.last_event == "done"
    # The quick path never needed the decoder.
    assert not cutter.in_frame


def test_a_bom_after_the_first_byte_is_text_not_the_streams_bom() -> None:
    """After quick-path frames a BOM is part of the field name, so ``event`` is not set and a
    browser dispatches the block as ``message``."""
    record = _record()
    cutter = StreamRecorder(record)
    cutter.raw(encode_json_event("progress", {}))
    cutter.raw(b"\xef\xbb\xbfevent: page\ndata: {}\n\n")
    assert [(f.kind, f.name) for f in record.frames] == [
        ("event", "progress"),
        ("event", "message"),
    ]
    assert cutter.last_event == "message"


def test_a_stream_write_that_names_its_frames_journals_as_its_bytes_would() -> None:
    """The stream's own writes carry each frame's name; the journal keeps the same frames as
    when it cuts the bare bytes, without decoding them."""
    frames = [encode_json_event("progress", {"status": "queued"}), PING, PING]
    names = ["progress", "ping", "ping"]
    for index in range(MAX_FRAMES + 5):
        page = {"url": f"https://example.com/{index}", "markdown": "m" * (index % 7000)}
        frames.append(encode_json_event("page", page))
        names.append("page")
    frames.append(encode_json_event("done", {"status": "completed"}))
    names.append("done")
    writes = [(frames[i : i + 300], names[i : i + 300]) for i in range(0, len(frames), 300)]
    assert len(writes) > 1

    named, bare = _record(), _record()
    named_cutter, bare_cutter = StreamRecorder(named), StreamRecorder(bare)
    for chunk, chunk_names in writes:
        named_cutter.frames(b"".join(chunk), chunk, chunk_names)
        bare_cutter.raw(b"".join(chunk))
    assert not named_cutter.in_frame
    assert _pieces(named) == _pieces(bare)
    assert named.frames_dropped == bare.frames_dropped == 3 + MAX_FRAMES + 5 + 1 - MAX_FRAMES
    assert named_cutter.last_event == bare_cutter.last_event == "done"
    assert [frame.kind for frame in named.frames][-1] == "event"


def test_nothing_is_recorded_after_the_close() -> None:
    record = _record()
    recorder = StreamRecorder(record)
    frame = encode_json_event("progress", {})
    recorder.frames(frame, [frame], ["progress"])
    recorder.closed("shutdown")
    page = encode_json_event("page", {})
    recorder.frames(page, [page], ["page"])
    recorder.raw(PING)
    recorder.closed("client_disconnect")
    assert [f.name for f in record.frames] == ["progress"]
    assert record.close_reason == "shutdown"


def test_kept_writes_leave_the_cyclic_collector_nothing_to_walk() -> None:
    record = _record()
    recorder = StreamRecorder(record)
    frame = encode_json_event("progress", {"completed": 1})
    ping = encode_comment("ping")
    recorder.frames(frame + ping, [frame, ping], ["progress", "ping"])  # warm up both ways
    recorder.raw(b"data: raw\n\n")
    gc.collect()
    gc.collect()
    tracked = len(gc.get_objects())
    for _ in range(299):
        recorder.frames(frame + ping, [frame, ping], ["progress", "ping"])
        recorder.raw(b"data: raw\n\n")
    # Two passes, as the young generations' collections make before anything grows old.
    gc.collect()
    gc.collect()
    # 600 writes kept (a thousand open streams keep as many per step): none stays tracked.
    assert len(gc.get_objects()) - tracked < 150  # three per write when each batch was tracked
    assert [f.name for f in record.frames[-3:]] == ["progress", "ping", "message"]
    assert len(record.frames) == 3 * 300


def test_streams_that_share_a_write_keep_one_batch_of_it() -> None:
    """A write many streams send at one moment is kept once, whatever number of records hold
    it; at another moment it is a batch of its own."""
    frame = encode_json_event("page", {"url": "https://example.com/a"})
    kept = EncodedFrames.kept((frame, PING), ("page", "ping"))
    records = [_record() for _ in range(3)]
    for record in records:
        StreamRecorder(record).encoded(frame + PING, kept, "page", at=5.0)
    batches = [record._batches[-1] for record in records]
    assert all(batch is batches[0] for batch in batches)
    assert batches[0][:3] == (5.0, (frame, PING), ("page", "ping"))
    StreamRecorder(records[0]).encoded(frame + PING, kept, "page", at=6.0)
    assert records[0]._batches[-1] is not batches[0]
    assert [(f.at, f.name) for f in records[0].frames] == [
        (5.0, "page"),
        (5.0, "ping"),
        (6.0, "page"),
        (6.0, "ping"),
    ]
