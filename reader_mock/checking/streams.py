"""The stream checks: a job's per-job stream and the workspace stream of a live server.

The workspace stream is opened first, then a job is created and its per-job stream read to the
end. Every byte goes through the contract's :class:`~reader_mock.contract.StreamChecker` (the
reference decoder, event names, payload schemas, the first event, nothing after ``done``); this
module adds what only a live connection shows: status and content type, that the server closes
the per-job stream right after ``done``, that the workspace stream reports the job's outcome with
its ``jobId``, and that a keep-alive comment comes within the expected interval. Every read is
bounded, so an endless or silent stream never makes the check hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from reader_mock.contract import Channel, StreamChecker, StreamViolation

from .report import CheckCase, Problem

__all__ = ["StreamLimits", "check_streams"]

JOB_URLS: Final = (
    "https://example.com/reader-mock-check/a",
    "https://example.com/reader-mock-check/b",
)
"""The job the check creates: two URLs, so the server runs it as a job with a stream."""
_OUTCOMES: Final = frozenset({"job:completed", "job:failed"})
_EVENT_STREAM: Final = "text/event-stream"


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How long the check waits, in real seconds.

    Attributes:
        ping_interval: the longest a workspace stream may go without a keep-alive comment.
        job_timeout: how long the job's per-job stream may take to reach ``done``.
        close_grace: how long after ``done`` the server has to close the per-job stream.
        outcome_grace: how long after the per-job ``done`` the workspace stream has to report
            the job's outcome.
    """

    ping_interval: float = 30.0
    job_timeout: float = 60.0
    close_grace: float = 2.0
    outcome_grace: float = 5.0

    @property
    def ping_deadline(self) -> float:
        """The interval plus some slack for the network and the server's timer."""
        return self.ping_interval + max(1.0, self.ping_interval * 0.2)


@dataclass(slots=True)
class _Read:
    """A stream as read so far, checked frame by frame."""

    channel: Channel
    checker: StreamChecker = field(init=False)
    problems: list[Problem] = field(default_factory=list)
    comment_times: list[float] = field(default_factory=list)
    silence: float | None = None
    """Seconds without a comment when the ping deadline passed, if it did."""
    ended: bool = False

    def __post_init__(self) -> None:
        self.checker = StreamChecker(self.channel)

    def feed(self, chunk: bytes) -> None:
        before = len(self.checker.decoder.comments)
        self.add(self.checker.feed(chunk))
        if len(self.checker.decoder.comments) > before:
            self.comment_times.append(time.monotonic())

    def add(self, violations: list[StreamViolation]) -> None:
        self.problems.extend(_problem(self.checker, violation) for violation in violations)


def _problem(checker: StreamChecker, violation: StreamViolation) -> Problem:
    """A contract violation, with the frame's event name and the payload field when known."""
    where = [checker.label]
    blocks = checker.decoder.blocks
    if violation.event_index is not None:
        where.append(f"frame {violation.event_index + 1}")
        if violation.event_index < len(blocks):
            block = blocks[violation.event_index]
            names = [f.value for f in block.fields if f.name == "event"]
            if names:
                where.append(f"event {names[0]!r}")
    where.append(f"byte {violation.offset}")
    if violation.path:
        where.append(f"field {violation.path}")
    return Problem(str(violation.kind), ", ".join(where), violation.message)


async def _chunks(response: httpx.Response, deadline: Callable[[], float]) -> AsyncIterator[bytes]:
    """The body's chunks until the server ends it or ``deadline()`` (monotonic) passes."""
    iterator = response.aiter_raw()
    while True:
        left = deadline() - time.monotonic()
        if left <= 0:
            raise TimeoutError
        try:
            async with asyncio.timeout(left):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        yield chunk


def _opened(response: httpx.Response, label: str) -> list[Problem]:
    """Problems of a stream's response head: it must be ``200`` with ``text/event-stream``."""
    problems = []
    if response.status_code != 200:
        problems.append(Problem("status", label, f"expected 200, got {response.status_code}"))
    content_type = response.headers.get("content-type", "")
    if response.status_code == 200 and not content_type.startswith(_EVENT_STREAM):
        problems.append(
            Problem("content-type", label, f"expected {_EVENT_STREAM}, got {content_type!r}")
        )
    return problems


async def check_streams(
    client: httpx.AsyncClient,
    limits: StreamLimits,
    progress: Callable[[str], None] = lambda line: None,
) -> list[CheckCase]:
    """Open the workspace stream, create a job, read its per-job stream; one case per check."""
    workspace = _Read(Channel.WORKSPACE)
    opened = asyncio.Event()
    job_id: list[str] = []
    job_done = asyncio.Event()
    reader = asyncio.create_task(
        _read_workspace(client, workspace, limits, opened, job_id, job_done)
    )
    started = time.monotonic()
    try:
        await asyncio.wait(
            [reader, asyncio.ensure_future(opened.wait())],
            timeout=limits.job_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        progress("streams: workspace stream opened; creating a job")
        create = CheckCase("streams", "a job is created for the stream checks (POST /v1/read)")
        created = await _create_job(client, create)
        create.seconds = time.monotonic() - started
        cases = [create]
        if created is None:
            reader.cancel()
            skip = "no job was created"
            cases += [
                CheckCase("streams", _JOB_STREAM, skipped=skip),
                CheckCase("streams", _JOB_CLOSE, skipped=skip),
            ]
        else:
            job_id.append(created)
            progress(f"streams: reading the per-job stream of {created}")
            cases += await _check_job_stream(client, created, limits)
        job_done.set()
        progress("streams: reading the workspace stream")
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        cases += _workspace_cases(workspace, limits, created, time.monotonic() - started)
        return cases
    finally:
        if not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


_JOB_STREAM: Final = "per-job stream: frames, event names and payloads (GET /v1/jobs/{id}/stream)"
_JOB_CLOSE: Final = "per-job stream: done comes last and the server closes the stream"
_WS_STREAM: Final = "workspace stream: frames, event names and payloads (GET /v1/events)"
_WS_JOB_ID: Final = "workspace stream: every payload carries jobId"
_WS_OUTCOME: Final = "workspace stream: the created job's outcome is reported"
_WS_KEEPALIVE: Final = "workspace stream: a keep-alive comment within the ping interval"


async def _create_job(client: httpx.AsyncClient, case: CheckCase) -> str | None:
    """Create the job; its id, or ``None`` with a problem recorded in ``case``."""
    where = "POST /v1/read"
    try:
        response = await client.post("/v1/read", json={"urls": list(JOB_URLS)})
    except httpx.HTTPError as exc:
        case.problems.append(Problem("request", where, f"failed: {exc!r}"))
        return None
    if response.status_code not in (200, 201, 202):
        case.problems.append(
            Problem(
                "status", where, f"expected 201, got {response.status_code}: {response.text[:200]}"
            )
        )
        return None
    try:
        job_id = response.json()["data"]["id"]
    except (ValueError, KeyError, TypeError):
        job_id = None
    if not isinstance(job_id, str) or not job_id:
        case.problems.append(
            Problem("payload", where, f"no job id at data.id in {response.text[:200]!r}")
        )
        return None
    return job_id


async def _check_job_stream(
    client: httpx.AsyncClient, job_id: str, limits: StreamLimits
) -> list[CheckCase]:
    started = time.monotonic()
    frames = CheckCase("streams", _JOB_STREAM)
    close = CheckCase("streams", _JOB_CLOSE)
    label = f"GET /v1/jobs/{job_id}/stream"
    read = _Read(Channel.JOB)
    closed_in_time = False
    saw_done: float | None = None
    try:
        async with client.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
            frames.problems += _opened(response, label)
            if response.status_code == 200:
                deadline = [started + limits.job_timeout]
                try:
                    async for chunk in _chunks(response, lambda: deadline[0]):
                        read.feed(chunk)
                        if saw_done is None and _done_seen(read):
                            saw_done = time.monotonic()
                            deadline[0] = min(deadline[0], saw_done + limits.close_grace)
                    closed_in_time = True
                except TimeoutError:
                    pass
    except httpx.HTTPError as exc:
        # A dropped connection ends the bytes as well; the checker says what was missing.
        read.ended = True
        frames.problems.append(Problem("connection", label, f"the connection failed: {exc!r}"))
    read.add(read.checker.finish(ended=closed_in_time or read.ended))
    frames.problems += read.problems
    if saw_done is None:
        if not closed_in_time:
            close.problems.append(
                Problem(
                    "timeout",
                    label,
                    f"no 'done' event within {limits.job_timeout:g} s (the job never finished)",
                )
            )
        else:
            close.problems.append(
                Problem("missing-terminal", label, "the stream ended without a 'done' event")
            )
    elif not closed_in_time:
        close.problems.append(
            Problem(
                "close-after-done",
                label,
                f"the server kept the stream open more than {limits.close_grace:g} s after "
                "'done'; it must close it right after, or clients that reconnect get 'done' again",
            )
        )
    frames.seconds = close.seconds = time.monotonic() - started
    return [frames, close]


def _done_seen(read: _Read) -> bool:
    return any(event.type == "done" for event in read.checker.events)


async def _read_workspace(
    client: httpx.AsyncClient,
    read: _Read,
    limits: StreamLimits,
    opened: asyncio.Event,
    job_id: list[str],
    job_done: asyncio.Event,
) -> None:
    """Read the workspace stream until the job's outcome and a keep-alive comment were seen (or
    were given up on: no comment within the ping deadline, no outcome soon after ``done``)."""
    label = "GET /v1/events"
    try:
        async with client.stream("GET", "/v1/events") as response:
            read.problems += _opened(response, label)
            start = time.monotonic()
            read.comment_times.insert(0, start)  # the silence is measured from the opening
            opened.set()
            if response.status_code != 200:
                return
            deadline = start + max(limits.job_timeout, limits.ping_deadline) + limits.close_grace
            chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
            pump = asyncio.create_task(_pump(response, chunks))
            try:
                await _follow_workspace(read, limits, chunks, deadline, job_id, job_done)
            finally:
                pump.cancel()
                (failure,) = await asyncio.gather(pump, return_exceptions=True)
            if isinstance(failure, httpx.HTTPError):
                raise failure
    except httpx.HTTPError as exc:
        read.ended = True
        read.problems.append(Problem("connection", label, f"the connection failed: {exc!r}"))
    finally:
        opened.set()


async def _pump(response: httpx.Response, chunks: asyncio.Queue[bytes | None]) -> None:
    """Put the body's chunks in ``chunks``, then ``None`` once it ended (or failed)."""
    try:
        async for chunk in response.aiter_raw():
            chunks.put_nowait(chunk)
    finally:
        chunks.put_nowait(None)


async def _follow_workspace(
    read: _Read,
    limits: StreamLimits,
    chunks: asyncio.Queue[bytes | None],
    deadline: float,
    job_id: list[str],
    job_done: asyncio.Event,
) -> None:
    """Feed the workspace stream's chunks to ``read`` until the job's outcome and a keep-alive
    comment were seen, or given up on, or ``deadline`` passed."""
    outcome_by: float | None = None
    while True:
        now = time.monotonic()
        if job_done.is_set() and outcome_by is None:
            outcome_by = now + limits.outcome_grace
        outcome_known = _outcome(read, job_id) is not None
        outcome_settled = outcome_known or (outcome_by is not None and now >= outcome_by)
        pinged = len(read.comment_times) > 1 or read.silence is not None
        if (job_done.is_set() and outcome_settled and pinged) or now >= deadline:
            return
        wait_until = deadline
        if read.silence is None:
            wait_until = min(wait_until, read.comment_times[-1] + limits.ping_deadline)
        if outcome_by is not None and not outcome_known:
            wait_until = min(wait_until, outcome_by)
        try:
            async with asyncio.timeout(max(0.0, wait_until - now)):
                chunk = await chunks.get()
        except TimeoutError:
            now = time.monotonic()
            if read.silence is None and now >= read.comment_times[-1] + limits.ping_deadline:
                read.silence = now - read.comment_times[-1]
            continue
        if chunk is None:
            read.ended = True
            return
        read.feed(chunk)


def _payloads(read: _Read) -> list[tuple[int, str, Any]]:
    """``(frame number, event name, payload)`` of every event whose data is JSON."""
    found = []
    for number, event in enumerate(read.checker.events, start=1):
        try:
            found.append((number, event.type, json.loads(event.data)))
        except ValueError:
            continue
    return found


def _outcome(read: _Read, job_id: list[str]) -> str | None:
    for _, name, payload in _payloads(read):
        if (
            name in _OUTCOMES
            and isinstance(payload, dict)
            and job_id
            and (payload.get("jobId") == job_id[0])
        ):
            return name
    return None


def _workspace_cases(
    read: _Read, limits: StreamLimits, job_id: str | None, seconds: float
) -> list[CheckCase]:
    label = "GET /v1/events"
    read.add(read.checker.finish(ended=read.ended))
    frames = CheckCase("streams", _WS_STREAM, problems=list(read.problems), seconds=seconds)
    with_id = CheckCase("streams", _WS_JOB_ID, seconds=seconds)
    for number, name, payload in _payloads(read):
        if not isinstance(payload, dict) or not isinstance(payload.get("jobId"), str):
            with_id.problems.append(
                Problem("job-id", f"{label}, event {number} {name!r}", "the payload has no jobId")
            )
    outcome = CheckCase("streams", _WS_OUTCOME, seconds=seconds)
    if job_id is None:
        outcome.skipped = "no job was created"
    elif _outcome(read, [job_id]) is None:
        names = sorted({name for _, name, _ in _payloads(read)})
        outcome.problems.append(
            Problem(
                "job-outcome",
                label,
                f"no job:completed or job:failed with jobId {job_id!r} arrived "
                f"(events seen: {', '.join(names) or 'none'})",
            )
        )
    keepalive = CheckCase("streams", _WS_KEEPALIVE, seconds=seconds)
    times = read.comment_times
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    if read.silence is not None:
        gaps.append(read.silence)
    if not gaps:
        keepalive.skipped = "the workspace stream could not be read"
    elif max(gaps) > limits.ping_deadline:
        keepalive.problems.append(
            Problem(
                "keep-alive",
                label,
                f"{max(gaps):.1f} s without a comment (such as ': ping'); expected one every "
                f"{limits.ping_interval:g} s",
            )
        )
    return [frames, with_id, outcome, keepalive]
