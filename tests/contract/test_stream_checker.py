"""The stream checker against the shipped contract: one test per rule, with exact places."""

from __future__ import annotations

import pytest

from reader_mock.contract import (
    Channel,
    StreamChecker,
    StreamViolation,
    ViolationKind,
    check_stream,
)
from reader_mock.sse import (
    encode_comment,
    encode_event,
    encode_json_event,
    encode_many,
)

PROGRESS = encode_json_event("progress", {"status": "processing", "completed": 0, "total": 2})
PAGE = encode_json_event(
    "page",
    {"url": "https://example.com/a", "markdown": "# A", "proxyMode": "standard", "credits": 1},
)
ERROR = encode_json_event("error", {"url": "https://example.com/b", "error": "timed out"})
DONE = encode_json_event("done", {"status": "completed", "completed": 2, "total": 2})
PING = encode_comment()
JOB_PROGRESS = encode_json_event(
    "job:progress", {"jobId": "job_1", "status": "processing", "completed": 1, "total": 2}
)
JOB_COMPLETED = encode_json_event(
    "job:completed",
    {"jobId": "job_1", "status": "completed", "completed": 2, "total": 2, "creditsUsed": 2},
)
JOB_FAILED = encode_json_event("job:failed", {"jobId": "job_2", "error": "boom"})


def kinds(violations: list[StreamViolation]) -> list[ViolationKind]:
    return [violation.kind for violation in violations]


def test_a_valid_job_stream_has_no_violations() -> None:
    stream = encode_many([PROGRESS, PING, PAGE, ERROR, PING, PAGE, DONE])
    assert check_stream(stream, Channel.JOB) == []
    assert check_stream([stream[i : i + 1] for i in range(len(stream))], "job") == []


def test_a_job_already_over_may_start_with_done() -> None:
    assert check_stream(DONE, Channel.JOB) == []


def test_a_valid_workspace_read_has_no_violations() -> None:
    stream = encode_many([PING, JOB_PROGRESS, JOB_COMPLETED, PING, JOB_FAILED, PING])
    assert check_stream(stream, Channel.WORKSPACE, ended=False) == []


def test_an_ended_workspace_stream_is_a_violation() -> None:
    stream = encode_many([JOB_PROGRESS, PING])
    [violation] = check_stream(stream, Channel.WORKSPACE)
    assert violation.kind is ViolationKind.UNEXPECTED_END
    assert violation.event_index is None and violation.offset == len(stream)
    assert "workspace stream ended" in violation.message


def test_close_without_done() -> None:
    stream = PROGRESS + PAGE
    [violation] = check_stream(stream, Channel.JOB)
    assert violation == StreamViolation(
        ViolationKind.MISSING_TERMINAL,
        None,
        len(stream),
        "the per-job stream ended without a 'done' event",
    )
    assert check_stream(stream, Channel.JOB, ended=False) == []


def test_frames_and_pings_after_done() -> None:
    stream = PROGRESS + DONE + PING + PAGE
    violations = check_stream(stream, Channel.JOB)
    assert kinds(violations) == [ViolationKind.AFTER_TERMINAL, ViolationKind.AFTER_TERMINAL]
    comment, frame = violations
    assert (comment.event_index, comment.offset) == (None, len(PROGRESS + DONE))
    assert (frame.event_index, frame.offset) == (2, len(PROGRESS + DONE + PING))
    assert "right after 'done'" in frame.message


def test_first_event_must_be_progress() -> None:
    [violation] = check_stream(PAGE + DONE, Channel.JOB)
    assert violation.kind is ViolationKind.FIRST_EVENT
    assert (violation.event_index, violation.offset) == (0, 0)
    assert "must start with 'progress' or 'done', but its first event is 'page'" in (
        violation.message
    )


def test_unknown_event_name() -> None:
    stream = PROGRESS + encode_json_event("started", {}) + DONE
    [violation] = check_stream(stream, Channel.JOB)
    assert violation.kind is ViolationKind.UNKNOWN_EVENT
    assert (violation.event_index, violation.offset) == (1, len(PROGRESS))
    assert violation.message == (
        "unknown event 'started'; the per-job stream sends 'done', 'error', 'page', 'progress'"
    )


def test_event_of_the_other_channel_is_named_as_such() -> None:
    [on_job] = check_stream(PROGRESS + JOB_PROGRESS + DONE, Channel.JOB)
    assert on_job.kind is ViolationKind.WRONG_CHANNEL
    assert on_job.message.startswith(
        "event 'job:progress' belongs to the workspace stream, not the per-job stream"
    )
    [on_workspace] = check_stream(JOB_PROGRESS + DONE, Channel.WORKSPACE, ended=False)
    assert on_workspace.kind is ViolationKind.WRONG_CHANNEL
    assert on_workspace.event_index == 1
    assert "'done' belongs to the per-job stream, not the workspace stream" in on_workspace.message


def test_payload_schema_errors_come_from_the_contract() -> None:
    bad = encode_json_event("progress", {"status": "processing", "completed": "5", "total": 2})
    [violation] = check_stream(bad + DONE, Channel.JOB)
    assert violation.kind is ViolationKind.PAYLOAD
    assert violation.path == "data.completed"
    assert (
        violation.message == "event 'progress': data.completed: expected integer, got string \"5\""
    )
    missing_job_id = encode_json_event("job:failed", {"error": "boom"})
    [violation] = check_stream(missing_job_id, Channel.WORKSPACE, ended=False)
    assert (violation.kind, violation.event_index) == (ViolationKind.PAYLOAD, 0)
    assert "jobId" in violation.message


@pytest.mark.parametrize("data", ["{", "NaN", "", "{'a': 1}", '{"a": Infinity}'])
def test_data_that_is_not_json(data: str) -> None:
    stream = PROGRESS + encode_event("page", data) + DONE
    [violation] = check_stream(stream, Channel.JOB)
    assert violation.kind is ViolationKind.INVALID_JSON
    assert (violation.event_index, violation.offset) == (1, len(PROGRESS))
    assert violation.message.startswith("the data of 'page' is not JSON")


def test_json_split_over_several_data_lines() -> None:
    split = b'event: progress\ndata: {"status":"processing",\ndata: "completed":0,"total":2}\n\n'
    [violation] = check_stream(split + DONE, Channel.JOB)
    assert violation.kind is ViolationKind.FRAME_SHAPE
    assert "splits its data over 2 'data:' lines" in violation.message


def test_frame_without_event_line() -> None:
    stream = PROGRESS + b'data: {"status":"completed","completed":2,"total":2}\n\n' + DONE
    [violation] = check_stream(stream, Channel.JOB)
    assert violation.kind is ViolationKind.FRAME_SHAPE
    assert "no 'event:' line (clients see the name 'message')" in violation.message


def test_frame_without_data_is_never_dispatched() -> None:
    stream = PROGRESS + b"event: done\n\n"
    violations = check_stream(stream, Channel.JOB)
    assert kinds(violations) == [ViolationKind.FRAME_SHAPE, ViolationKind.MISSING_TERMINAL]
    assert "conforming clients dispatch nothing" in violations[0].message


def test_two_event_lines() -> None:
    stream = PROGRESS + b"event: page\nevent: done\ndata: {}\n\n"
    violations = check_stream(stream, Channel.JOB)
    assert ViolationKind.FRAME_SHAPE in kinds(violations)
    assert "2 'event:' lines (the last one, 'done', wins)" in violations[0].message


def test_id_and_retry_only_when_ids_are_on() -> None:
    with_ids = encode_json_event(
        "progress", {"status": "queued", "completed": 0, "total": 1}, id="1", retry=1000
    )
    violations = check_stream(with_ids + DONE, Channel.JOB)
    assert kinds(violations) == [ViolationKind.UNEXPECTED_FIELD] * 2
    assert [v.offset for v in violations] == [
        len(b"event: progress\n"),
        len(b"event: progress\nid: 1\n"),
    ]
    assert "'id:' field ('1') while event ids are off" in violations[0].message
    done = encode_json_event("done", {"status": "completed", "completed": 2, "total": 2}, id="2")
    assert check_stream(with_ids + done, Channel.JOB, ids=True) == []


def _numbered(ids: list[str | None]) -> bytes:
    """Workspace frames carrying these ids (``None``: no ``id:`` line)."""
    payload = {"jobId": "job_1", "status": "processing", "completed": 0, "total": 9}
    return b"".join(encode_json_event("job:progress", payload, id=i) for i in ids)


@pytest.mark.parametrize(
    ("ids", "last_event_id", "index", "message"),
    [
        (["1", "2", "3", "3", "4"], None, 3, "has the id 3, after id 3: an id came again"),
        (["4", "4", "5"], "3", 1, "has the id 4, after id 4: an id came again"),
        (["4", "5"], "4", 0, "has the id 4, after id 4: an id came again"),
        (["1", "2", "5"], None, 2, "has the id 5, after id 2: 2 event(s) missing"),
        (["6", "7"], "4", 0, "has the id 6, after id 4: 1 event(s) missing"),
        (["1", "2", None], None, 2, "carries no 'id:' after id '2'"),
        (["1", "x"], None, 1, "has the id 'x', which is not a decimal number"),
    ],
)
def test_ids_count_one_by_one_from_the_resume_point(
    ids: list[str | None], last_event_id: str | None, index: int, message: str
) -> None:
    """With ids on, each event's id is the previous one plus one; a resumed connection's first
    id follows its ``Last-Event-ID``: a repeat (the bug of a resume that sends the last id
    again), a gap and a missing id are each one violation, at the frame."""
    violations = check_stream(
        _numbered(ids), Channel.WORKSPACE, ended=False, ids=True, last_event_id=last_event_id
    )
    assert [(v.kind, v.event_index) for v in violations] == [(ViolationKind.EVENT_ID, index)]
    assert message in violations[0].message
    assert "ids count the workspace's events one by one" in violations[0].message


def test_ids_that_count_on_pass_and_ids_may_begin_mid_stream() -> None:
    """Frames before ids began carry none (a workspace before its first job with ids); the
    first id of a fresh connection may be any number."""
    stream = _numbered([None, None, "1", "2", "3"])
    assert check_stream(stream, Channel.WORKSPACE, ended=False, ids=True) == []
    assert check_stream(_numbered(["7", "8"]), Channel.WORKSPACE, ended=False, ids=True) == []
    resumed = _numbered(["5", "6"])
    assert check_stream(resumed, "workspace", ended=False, ids=True, last_event_id="4") == []


def test_ignored_fields() -> None:
    frame = b"Event: page\nid: 1\x002\nretry: 5s\nevent: done\ndata: {}\n\n"
    violations = check_stream(PROGRESS + frame, Channel.JOB, ids=True)
    fields = [v for v in violations if v.kind is not ViolationKind.PAYLOAD]
    assert [(v.kind, v.offset - len(PROGRESS), v.message) for v in fields] == [
        (
            ViolationKind.UNEXPECTED_FIELD,
            0,
            "unknown field 'Event' is ignored (field names are case-sensitive: 'event')",
        ),
        (ViolationKind.INVALID_FIELD, 12, "id '1\\x002' contains NUL and is ignored"),
        (ViolationKind.INVALID_FIELD, 20, "retry '5s' is not only ASCII digits and is ignored"),
    ]
    # Violations come in byte order; the empty ``done`` payload is reported at the frame start.
    assert [v.offset for v in violations] == sorted(v.offset for v in violations)


def test_unterminated_frame_at_the_end() -> None:
    stream = PROGRESS + DONE[:-1]
    violations = check_stream(stream, Channel.JOB)
    assert kinds(violations) == [ViolationKind.UNTERMINATED_FRAME, ViolationKind.MISSING_TERMINAL]
    assert (violations[0].event_index, violations[0].offset) == (1, len(PROGRESS))
    cut_in_a_line = PROGRESS + DONE[:10]
    violations = check_stream(cut_in_a_line, Channel.JOB)
    assert kinds(violations) == [ViolationKind.UNTERMINATED_FRAME, ViolationKind.MISSING_TERMINAL]
    assert violations[0].event_index is None
    assert check_stream(cut_in_a_line, Channel.JOB, ended=False) == []


def test_invalid_utf8() -> None:
    stream = PROGRESS + b'event: page\ndata: {"url":"https://example.com/\xff"}\n\n' + DONE
    violations = check_stream(stream, Channel.JOB)
    assert ViolationKind.INVALID_UTF8 in kinds(violations)


def test_incremental_checking_reports_as_bytes_arrive() -> None:
    checker = StreamChecker(Channel.JOB)
    assert checker.feed(PROGRESS) == []
    assert kinds(checker.feed(encode_json_event("job:failed", {"jobId": "j", "error": "x"}))) == [
        ViolationKind.WRONG_CHANNEL
    ]
    assert checker.feed(DONE[:5]) == []
    assert checker.feed(DONE[5:]) == []
    assert kinds(checker.feed(PING)) == [ViolationKind.AFTER_TERMINAL]
    assert checker.finish() == []
    assert checker.finish() == []
    assert kinds(checker.violations) == [ViolationKind.WRONG_CHANNEL, ViolationKind.AFTER_TERMINAL]
    assert [event.type for event in checker.events] == ["progress", "job:failed", "done"]
    assert [comment.text for comment in checker.decoder.comments] == ["ping"]
    with pytest.raises(ValueError, match="finished"):
        checker.feed(PING)


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown channel 'jobs'"):
        check_stream(b"", "jobs")


def test_string_form() -> None:
    [violation] = check_stream(PAGE + DONE, Channel.JOB)
    assert str(violation).startswith("frame 0, byte 0: the per-job stream must start with")
