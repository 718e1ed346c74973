"""The official SDK, reader-py, reading the per-job stream over real sockets.

- ``AsyncReaderClient.stream`` over every ready-made timeline, as the sync client is read in
  ``test_stream_clients.py``;
- both clients, called again after each drop as a caller would, end with ``done`` on every
  ready-made timeline, parser-torture included (the clock moves once a connection is open);
- ``parser-torture`` end to end, sync and async: a strict xfail while the SDK mis-parses it, and
  the same timeline read to ``done`` by the package's reference decoder and by httpx-sse;
- every tricky piece of ``parser-torture`` alone in a minimal timeline, read by both SDK clients,
  so each SDK defect is pinned to the smallest frame that shows it (one strict xfail reason per
  defect: fixing the SDK turns the suite red until the mark goes).

The SDK reads streams without a read timeout, so here every SDK read has a deadline: the sync
client runs in a worker thread and the async one in a task, both feeding a queue that the test
reads with a timeout. A hang becomes a failed assertion; afterwards the clock runs to the job's
end, the server closes the stream after ``done``, and the SDK call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import httpx
import pytest
from httpx_sse import connect_sse

# reader-py ships no type information.
from reader_py import AsyncReaderClient, ReaderClient  # type: ignore[import-untyped]

from reader_mock.contract import Channel
from reader_mock.core import ManualClock
from reader_mock.server import MockServer
from reader_mock.sse import Decoder, StreamEnd, decode
from reader_mock.timeline import (
    ChunkedText,
    Drop,
    JobScript,
    JobSpec,
    Page,
    Raw,
    Split,
    Timeline,
    instantiate,
)
from reader_mock.timeline.ready_made import load_ready_made, ready_made_names

# The signature of the ``start_job`` fixture in conftest.py.
StartJob = Callable[[str], str]
Mode = Literal["sync", "async"]
MODES: Final[tuple[Mode, ...]] = ("sync", "async")

# An event reduced to what identifies it: ("progress"|"done", status, completed, total),
# ("page", url) or ("error", url, message); END and RAISED mark how an SDK call ended.
Key = tuple[object, ...]
END: Final[Key] = ("end",)
RAISED: Final = "raised"

# Wall-clock seconds an expected event may take to reach the test; only a failing case waits
# that long. The clock the mock runs on is manual and moves only when a test advances it.
DEADLINE: Final = 2.0
# The wait for an event a known SDK defect withholds: the case fails (as its strict xfail
# expects) whatever the wait, so a long one only costs time. Were the defect fixed, the event
# would come at once and the case would pass, an XPASS that fails the run.
DEFECT_DEADLINE: Final = 0.3
# Clock seconds that take any ready-made or minimal timeline past its end.
TO_THE_END: Final = 600.0

# What the official SDK sees on each drop timeline: it never reconnects by itself.
_SDK_CUT = {"drop-and-reconnect-job"}


def _payload_key(name: str, payload: Mapping[str, Any]) -> Key:
    if name == "page":
        return ("page", payload["url"])
    if name == "error":
        return ("error", payload["url"], payload["error"])
    return (name, payload["status"], payload["completed"], payload["total"])


def _sdk_key(event: Any) -> Key:
    """The key of an event as the SDK yields it (pydantic models with snake-case fields)."""
    if event.type == "page":
        return ("page", event.data.url)
    if event.type == "error":
        return ("error", event.url, event.error)
    return (event.type, event.status, event.completed, event.total)


# -- what a conforming client sees, from the timeline -----------------------------------------


def _script(timeline: Timeline, urls: Iterable[str]) -> JobScript:
    return instantiate(timeline, JobSpec(tuple(urls)))


def _snapshot(script: JobScript, at: float) -> Key:
    """The ``progress`` snapshot a connection opened at clock ``at`` starts with."""
    state = script.initial
    for action in script.actions:
        if action.at <= at:
            state = action.state
    return ("progress", state.status, state.completed, state.total)


def _expected(script: JobScript, after: float, until: float) -> list[Key]:
    """What a conforming parser on an open per-job connection dispatches for the steps played
    in ``(after, until]``: server events, the events of raw texts (by the reference decoder),
    and END where a drop or ``done`` ends the connection."""
    keys: list[Key] = []
    for action in script.actions:
        if not after < action.at <= until:
            continue
        step = action.source
        if isinstance(step, Drop) and Channel.JOB in step.streams.channels:
            return [*keys, END]
        if isinstance(step, Raw) and step.stream is Channel.JOB:
            events = decode(step.chunks()).events
            keys.extend(_payload_key(event.type, json.loads(event.data)) for event in events)
        for event in action.events:
            if event.channel is Channel.JOB:
                keys.append(_payload_key(event.name, event.data))
                if event.name == "done":
                    return [*keys, END]
    return keys


def _drop_time(script: JobScript) -> float:
    return next(action.at for action in script.actions if isinstance(action.source, Drop))


def _end_time(script: JobScript) -> float:
    return script.actions[-1].at


def _start(server: MockServer, client: httpx.Client, timeline: Timeline) -> str:
    server.script_next_job(timeline)
    response = client.post("/v1/read", json={"urls": list(timeline.urls)})
    assert response.status_code in (200, 201, 202), response.text
    job_id = response.json()["data"]["id"]
    assert isinstance(job_id, str)
    return job_id


# -- the SDK under a deadline ------------------------------------------------------------------


class SdkReader(Protocol):
    """One SDK ``stream()`` call, read with a deadline."""

    ended: bool

    async def take(self, count: int | None = None) -> list[Key]:
        """The next ``count`` keys (all, when None) up to the end, waiting DEADLINE at most."""
        ...

    async def close(self) -> bool:
        """Wait (DEADLINE at most) for the SDK call to return; True when it did."""
        ...


class ThreadReader:
    """``ReaderClient.stream`` in a daemon thread, so a blocked read cannot block the test."""

    def __init__(self, server: MockServer, job_id: str, deadline: float = DEADLINE) -> None:
        self.ended = False
        self._deadline = deadline
        self._items: queue.Queue[Key] = queue.Queue()
        self._thread = threading.Thread(
            target=self._run,
            args=(server.url, server.api_key or "", job_id),
            name=f"reader-py-{job_id}",
            daemon=True,
        )
        self._thread.start()

    def _run(self, base_url: str, api_key: str, job_id: str) -> None:
        try:
            with ReaderClient(api_key=api_key, base_url=base_url) as sdk:
                for event in sdk.stream(job_id):
                    self._items.put(_sdk_key(event))
        except Exception as exc:
            self._items.put((RAISED, type(exc)))
        else:
            self._items.put(END)

    def take_blocking(self, count: int | None = None) -> list[Key]:
        """:meth:`take` for callers outside an event loop."""
        deadline = time.monotonic() + self._deadline
        keys: list[Key] = []
        while not self.ended and (count is None or len(keys) < count):
            try:
                key = self._items.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            keys.append(key)
            self.ended = key == END or key[0] == RAISED
        return keys

    async def take(self, count: int | None = None) -> list[Key]:
        return await asyncio.to_thread(self.take_blocking, count)

    def close_blocking(self) -> bool:
        self._thread.join(DEADLINE)
        return not self._thread.is_alive()

    async def close(self) -> bool:
        return await asyncio.to_thread(self.close_blocking)


class TaskReader:
    """``AsyncReaderClient.stream`` in a task; each wait for it goes through ``wait_for``."""

    def __init__(self, server: MockServer, job_id: str, deadline: float = DEADLINE) -> None:
        self.ended = False
        self._deadline = deadline
        self._items: asyncio.Queue[Key] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(server.url, server.api_key or "", job_id))

    async def _run(self, base_url: str, api_key: str, job_id: str) -> None:
        try:
            async with AsyncReaderClient(api_key=api_key, base_url=base_url) as sdk:
                events = sdk.stream(job_id)
                try:
                    async for event in events:
                        self._items.put_nowait(_sdk_key(event))
                finally:
                    await events.aclose()
        except Exception as exc:
            self._items.put_nowait((RAISED, type(exc)))
        else:
            self._items.put_nowait(END)

    async def take(self, count: int | None = None) -> list[Key]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline
        keys: list[Key] = []
        while not self.ended and (count is None or len(keys) < count):
            try:
                key = await asyncio.wait_for(self._items.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                break
            keys.append(key)
            self.ended = key == END or key[0] == RAISED
        return keys

    async def close(self) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self._task), DEADLINE)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            return False
        return True


@contextlib.asynccontextmanager
async def sdk_reader(
    mode: Mode, server: MockServer, job_id: str, deadline: float = DEADLINE
) -> AsyncIterator[SdkReader]:
    """Read ``job_id``'s stream with the sync or the async SDK client.

    On the way out, a call that has not ended gets the clock run to the job's end (the server
    then closes the stream after ``done``); the SDK call must return within DEADLINE.
    """
    reader: SdkReader = (
        ThreadReader(server, job_id, deadline)
        if mode == "sync"
        else TaskReader(server, job_id, deadline)
    )
    try:
        yield reader
    finally:
        if not reader.ended:
            server.advance(TO_THE_END)
        returned = await reader.close()
    assert returned, "the SDK call did not return after its stream ended"


# -- AsyncReaderClient over every ready-made timeline --------------------------------------------


async def _collect(events: AsyncIterator[Any], types: list[str]) -> Any:
    last = None
    async for event in events:
        types.append(event.type)
        last = event
    return last


# parser-torture: see test_reader_py_reads_parser_torture_to_done (a strict xfail).
@pytest.mark.asyncio
@pytest.mark.parametrize("name", [name for name in ready_made_names() if name != "parser-torture"])
async def test_reader_py_async_stream_reads_every_timeline(
    server: MockServer, name: str, client: httpx.Client, start_job: StartJob
) -> None:
    """``AsyncReaderClient.stream`` yields a snapshot first and stops after ``done``.

    On ``drop-and-reconnect-job`` the truncated chunked body reaches the caller as
    ``httpx.RemoteProtocolError`` before ``done``, as with the sync client.
    """
    job_id = start_job(name)
    types: list[str] = []
    async with AsyncReaderClient(api_key=server.api_key or "", base_url=server.url) as sdk:
        events = sdk.stream(job_id)
        try:
            types.append((await asyncio.wait_for(anext(events), DEADLINE)).type)
            server.advance(load_ready_made(name).duration + 1)
            if name in _SDK_CUT:
                with pytest.raises(httpx.RemoteProtocolError):
                    await asyncio.wait_for(_collect(events, types), DEADLINE)
                assert "done" not in types
                return
            last = await asyncio.wait_for(_collect(events, types), DEADLINE)
        finally:
            await events.aclose()
    job = client.get(f"/v1/jobs/{job_id}").json()["data"]
    assert types[0] == "progress" and types[-1] == "done" and types.count("done") == 1
    assert last is not None and last.status == job["status"]
    assert types.count("page") + types.count("error") == len(job["results"])


def _job_stream_stops(script: JobScript) -> list[float]:
    """Clock times at which the per-job stream ends: each drop of it, then the job's end."""
    drops = [
        action.at
        for action in script.actions
        if isinstance(action.source, Drop) and Channel.JOB in action.source.streams.channels
    ]
    return [*drops, _end_time(script)]


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ready_made_names())
async def test_reader_py_stream_ends_after_done_on_every_timeline(
    server: MockServer, client: httpx.Client, start_job: StartJob, name: str, mode: Mode
) -> None:
    """A caller that calls ``stream()`` again whenever it stops early ends with ``done``.

    The clock moves as soon as a connection is open, not when the SDK yields its first event,
    so parser-torture's first connection runs too (the SDK drops events there: see the strict
    xfails). Each connection ends where the timeline drops the per-job stream (a clean end, or
    ``httpx.RemoteProtocolError`` for a truncated body) and the last one ends right after
    ``done``, with the job's final state.
    """
    timeline = load_ready_made(name)
    script = instantiate(timeline, JobSpec(tuple(timeline.urls), mode=timeline.mode))
    job_id = start_job(name)
    now = 0.0
    ends: list[Key] = []
    for number, stop in enumerate(_job_stream_stops(script), start=1):
        # The clock moves once the SDK's connection is subscribed, whatever it has yielded.
        moved = server.advance_when_connected(
            stop - now, channel="job", job_id=job_id, timeout=DEADLINE
        )
        async with sdk_reader(mode, server, job_id) as reader:
            await asyncio.wrap_future(moved)
            now = stop
            keys = await reader.take()
        assert reader.ended, (number, keys)
        assert keys.count(END) + sum(key[0] == RAISED for key in keys) == 1, keys
        ends.append(keys[-1])
        last = keys
    job = client.get(f"/v1/jobs/{job_id}").json()["data"]
    assert last[-2:] == [("done", job["status"], job["completed"], job["total"]), END]
    # Earlier connections ended without done: a clean end or a truncated body.
    assert all(end == END or end == (RAISED, httpx.RemoteProtocolError) for end in ends)
    assert all(key[:1] != ("done",) for key in last[:-2])


# -- the tricky pieces of parser-torture, one per minimal timeline ------------------------------

_URLS: Final = ("https://example.com/a", "https://example.com/b", "https://example.com/c")
_TORTURE: Final = load_ready_made("parser-torture")

# The SDK's defects, one sentence each: the xfail reasons of the cases that show them.
BOM_DEFECT: Final = (
    "reader-py decodes the stream as UTF-8 without dropping the one leading byte order mark "
    "WHATWG says to ignore, so the first line reads as a field named '\\ufeffevent' and the "
    "progress snapshot is never yielded"
)
SEPARATOR_DEFECT: Final = (
    "reader-py splits the stream with httpx's iter_lines(), which like str.splitlines() also "
    "breaks lines at U+0085, U+2028 and U+2029, so a page whose JSON holds one of them unescaped "
    "is cut apart and silently dropped (WHATWG: only CR and LF end lines)"
)
LONE_CR_DEFECT: Final = (
    "reader-py reads lines with httpx's iter_lines(), which holds back a CR that ends a network "
    "write until more bytes arrive, so a frame whose blank line is a lone CR is yielded only "
    "when the server next writes, not when the frame is complete"
)
TORTURE_DEFECTS: Final = (
    "reader-py never yields parser-torture's BOM-prefixed progress snapshot and drops its page "
    "holding U+2028, U+2029 and U+0085 (the defects pinned frame by frame below)"
)


@dataclass(frozen=True)
class Frame:
    """One tricky piece of parser-torture, played alone: a stream prefix, a raw text or a page."""

    name: str
    text: str = ""
    split: Split = None
    prefix: ChunkedText | None = None
    markdown: str | None = None

    def timeline(self) -> Timeline:
        """Queued until clock 1, then ``status: processing``, the piece, and at clock 2 ``done``.

        A raw text that ends inside a block is followed by a clean drop, as in parser-torture.
        """
        timeline = Timeline.build(
            f"frame-{self.name}", urls=_URLS, job_stream_prefix=self.prefix
        ).wait(1)
        timeline = timeline.status("processing")
        if self.markdown is not None:
            timeline = timeline.page(markdown=self.markdown)
        if self.text:
            timeline = timeline.raw("job", self.text, split=self.split)
            if decode(Raw(Channel.JOB, self.text, self.split).chunks()).end.mid_block:
                timeline = timeline.drop("job", "clean")
        return timeline.wait(1).done("cancelled")

    def defect(self) -> str | None:
        """The SDK defect this piece runs into, read from its bytes (None: the SDK copes)."""
        if self.prefix is not None and self.prefix.text.startswith("\ufeff"):
            return BOM_DEFECT
        if self.markdown is not None and any(c in self.markdown for c in "\x85\u2028\u2029"):
            return SEPARATOR_DEFECT
        if self.text and Raw(Channel.JOB, self.text, self.split).chunks()[-1].endswith(b"\r"):
            return LONE_CR_DEFECT
        return None


# The raw texts of parser-torture, in file order (the zip below fails if their number changes).
_RAW_NAMES: Final = (
    "crlf-endings",
    "cr-endings",
    "mixed-endings-lone-cr-blank-line",
    "crlf-one-byte-per-write",
    "id-with-4-byte-character-split",
    "ping-after-event-with-id",
    "blocks-without-data",
    "data-without-colon",
    "data-with-0-1-2-spaces",
    "ignored-lines",
    "id-with-nul",
    "id-reset",
    "comment-of-70000-characters",
    "unterminated-block-then-clean-drop",
)


def _torture_frames() -> list[Frame]:
    frames = [Frame("bom-prefix-split", prefix=_TORTURE.settings.job_stream_prefix)]
    frames.append(Frame("bom-prefix-whole", prefix=ChunkedText("\ufeff")))
    raws = [step for step in _TORTURE.steps if isinstance(step, Raw)]
    for name, raw in zip(_RAW_NAMES, raws, strict=True):
        frames.append(Frame(name, text=raw.text, split=raw.split))
    pages = [step.markdown for step in _TORTURE.steps if isinstance(step, Page) and step.markdown]
    frames.extend(
        Frame(f"page-markdown-{index}", markdown=text) for index, text in enumerate(pages)
    )
    for name, char in (("u0085", "\x85"), ("u2028", "\u2028"), ("u2029", "\u2029")):
        frames.append(Frame(f"page-with-{name}", markdown=f"one{char}two"))
    frames.append(Frame("page-with-4-byte-character", markdown="one \U0001f600 two"))
    return frames


def _frame_cases() -> list[Any]:
    cases: list[Any] = []
    for frame in _torture_frames():
        defect = frame.defect()
        # A known defect fails only once the SDK read's DEFECT_DEADLINE has passed.
        marks = (
            []
            if defect is None
            else [pytest.mark.xfail(strict=True, reason=defect), pytest.mark.slow]
        )
        cases.extend(
            pytest.param(mode, frame, marks=marks, id=f"{mode}-{frame.name}") for mode in MODES
        )
    return cases


@pytest.mark.asyncio
@pytest.mark.parametrize(("mode", "frame"), _frame_cases())
async def test_reader_py_reads_each_tricky_frame_in_time(
    server: MockServer, client: httpx.Client, mode: Mode, frame: Frame
) -> None:
    """The SDK yields what a conforming parser dispatches, each event before the clock moves on.

    Clock 0: the snapshot; clock 1: ``progress`` (processing) and the piece's events; clock 2:
    ``done`` and the end (or the end at clock 1 after a clean drop).
    """
    timeline = frame.timeline()
    script = _script(timeline, _URLS)
    job_id = _start(server, client, timeline)
    deadline = DEADLINE if frame.defect() is None else DEFECT_DEADLINE
    async with sdk_reader(mode, server, job_id, deadline) as reader:
        assert await reader.take(1) == [_snapshot(script, 0.0)]
        for start, stop in ((0.0, 1.0), (1.0, 2.0)):
            expected = _expected(script, start, stop)
            server.advance(stop - start)
            assert await reader.take(len(expected)) == expected
            if expected[-1] == END:
                break


def test_the_frames_cover_every_raw_text_of_parser_torture() -> None:
    """The minimal timelines replay parser-torture's own raw texts, and each is valid alone."""
    frames = {frame.text for frame in _torture_frames() if frame.text}
    assert frames == {step.text for step in _TORTURE.steps if isinstance(step, Raw)}
    for frame in _torture_frames():
        # The mock's own checks: contract events, job rules, raw texts ending at a boundary.
        assert instantiate(frame.timeline(), JobSpec(_URLS)).actions


# -- parser-torture end to end ------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=TORTURE_DEFECTS)
@pytest.mark.parametrize("mode", MODES)
async def test_reader_py_reads_parser_torture_to_done(
    server: MockServer, client: httpx.Client, mode: Mode
) -> None:
    """Both SDK clients over parser-torture, reconnecting (as the caller) after its clean drop.

    Each connection must yield exactly what a conforming parser dispatches: the snapshot before
    the clock moves, then every event up to the drop; after the reconnect, ``done`` last.
    """
    script = _script(_TORTURE, _TORTURE.urls)
    dropped_at, ends_at = _drop_time(script), _end_time(script)
    job_id = _start(server, client, _TORTURE)
    seen: list[Key] = []
    for opened_at, closed_at in ((0.0, dropped_at), (dropped_at, ends_at)):
        async with sdk_reader(mode, server, job_id, DEFECT_DEADLINE) as reader:
            assert await reader.take(1) == [_snapshot(script, opened_at)]
            server.advance(closed_at - opened_at)
            keys = await reader.take()
        assert keys == _expected(script, opened_at, closed_at)
        seen.extend(keys)
    job = client.get(f"/v1/jobs/{job_id}").json()["data"]
    assert seen[-2:] == [("done", job["status"], job["completed"], job["total"]), END]
    assert sum(key[0] in ("page", "error") for key in seen) == len(job["results"])


def _read_with_decoder(
    server: MockServer, client: httpx.Client, job_id: str, advance: float
) -> tuple[list[Key], StreamEnd]:
    """One connection read as raw bytes by the reference decoder: the snapshot, then the clock
    moves ``advance`` seconds, then everything up to the end of the body."""
    decoder = Decoder()
    keys: list[Key] = []
    with client.stream("GET", f"/v1/jobs/{job_id}/stream") as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        while not keys:
            keys.extend(_decoded(decoder.feed(next(chunks))))
        server.advance(advance)
        for chunk in chunks:
            keys.extend(_decoded(decoder.feed(chunk)))
    return keys, decoder.close()


def _decoded(events: Iterable[Any]) -> Iterator[Key]:
    for event in events:
        yield _payload_key(event.type, json.loads(event.data))


def test_reference_decoder_reads_parser_torture_to_done(
    server: MockServer, client: httpx.Client
) -> None:
    """The package's WHATWG decoder dispatches every event of parser-torture, in order, to done.

    The first connection ends with the unterminated block, which the decoder discards.
    """
    script = _script(_TORTURE, _TORTURE.urls)
    dropped_at, ends_at = _drop_time(script), _end_time(script)
    job_id = _start(server, client, _TORTURE)
    first, end = _read_with_decoder(server, client, job_id, dropped_at)
    assert first == [_snapshot(script, 0.0), *_expected(script, 0.0, dropped_at)[:-1]]
    # The unterminated block: its event field, and a data line that never ended.
    assert end.mid_line and end.discarded is not None and end.discarded.count("event") == 1
    second, end = _read_with_decoder(server, client, job_id, ends_at - dropped_at)
    assert second == [_snapshot(script, dropped_at), *_expected(script, dropped_at, ends_at)[:-1]]
    assert end.discarded is None and not end.mid_line
    job = client.get(f"/v1/jobs/{job_id}").json()["data"]
    assert second[-1] == ("done", job["status"], job["completed"], job["total"])
    assert sum(key[0] in ("page", "error") for key in first + second) == len(job["results"])


def test_httpx_sse_reads_parser_torture_to_done(server: MockServer, client: httpx.Client) -> None:
    """httpx-sse 0.4.3, reconnecting after the clean drop, sees every page and ``done``.

    Two of its own deviations are set aside: it keeps the BOM (so it names each snapshot
    ``message``) and it dispatches blocks without data (id-only, event-only, a ping after an
    id). Apart from those it dispatches what the reference decoder does.
    """
    script = _script(_TORTURE, _TORTURE.urls)
    dropped_at, ends_at = _drop_time(script), _end_time(script)
    job_id = _start(server, client, _TORTURE)
    seen: list[Key] = []
    for opened_at, closed_at in ((0.0, dropped_at), (dropped_at, ends_at)):
        keys: list[Key] = []
        with connect_sse(client, "GET", f"/v1/jobs/{job_id}/stream") as source:
            for event in source.iter_sse():
                if not event.data:
                    continue  # WHATWG: a block with no data dispatches nothing
                name = "progress" if not keys and event.event == "message" else event.event
                keys.append(_payload_key(name, json.loads(event.data)))
                if len(keys) == 1:
                    server.advance(closed_at - opened_at)
        assert keys == [_snapshot(script, opened_at), *_expected(script, opened_at, closed_at)[:-1]]
        seen.extend(keys)
    job = client.get(f"/v1/jobs/{job_id}").json()["data"]
    assert seen[-1] == ("done", job["status"], job["completed"], job["total"])
    assert sum(key[0] in ("page", "error") for key in seen) == len(job["results"])


def _is_subsequence(part: list[Key], whole: list[Key]) -> bool:
    rest = iter(whole)
    return all(key in rest for key in part)


def test_every_raw_text_of_parser_torture_reaches_a_client(
    server: MockServer, client: httpx.Client
) -> None:
    """A client connected from the job's creation receives every raw text before the drop."""
    script = _script(_TORTURE, _TORTURE.urls)
    dropped_at = _drop_time(script)
    job_id = _start(server, client, _TORTURE)
    first, _ = _read_with_decoder(server, client, job_id, dropped_at)
    raw_keys = [
        key
        for action in script.actions
        if isinstance(action.source, Raw) and action.at <= dropped_at
        for key in _decoded(decode(action.source.chunks()).events)
    ]
    assert _is_subsequence(raw_keys, first)


# -- a hung SDK read does not hold the server ----------------------------------------------------


@pytest.mark.slow
def test_stopping_the_server_ends_a_hung_sdk_read() -> None:
    """The sync SDK blocked on a BOM-prefixed stream returns once the server stops, quickly."""
    timeline = Frame("bom", prefix=ChunkedText("\ufeff")).timeline()
    with MockServer(clock=ManualClock()) as own:
        with httpx.Client(base_url=own.url, headers={"x-api-key": own.api_key or ""}) as http:
            job_id = _start(own, http, timeline)
        # The snapshot is lost to the BOM (a known defect: waited for as such): the SDK call
        # blocks, waiting for bytes.
        reader = ThreadReader(own, job_id, DEFECT_DEADLINE)
        assert reader.take_blocking(1) == []
        started = time.monotonic()
        own.stop()
        stopped_in = time.monotonic() - started
        assert own.errors == []
    assert stopped_in < 2.0, f"stopping the server took {stopped_in:.2f} s"
    assert reader.close_blocking(), "the SDK call did not return after the server stopped"
    ending = reader.take_blocking()
    assert ending in ([END], [(RAISED, httpx.RemoteProtocolError)]), ending
