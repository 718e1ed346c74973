"""A run of same-instant actions applied as one is indistinguishable from its actions one by one.

Each scenario plays on a fresh server twice: once as it is, where the job engine applies a run
of pages as one, and once with a subscriber on the service's event hub, which makes the engine
apply every action by itself. Both stream connections are read from raw sockets, so the
comparison covers every byte on the wire, the chunk framing of each write included; the journal,
the job, the usage history and the credits must be the same too. A third way, the same timeline
with ``id:`` fields (never a run), must carry the same events.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest

from reader_mock.contract import Channel
from reader_mock.core import ManualClock, Settings
from reader_mock.core.fanout import JobEvent
from reader_mock.core.logs import Record
from reader_mock.server import MockServer
from reader_mock.timeline import (
    Done,
    Page,
    PageError,
    Progress,
    Raw,
    Step,
    Timeline,
    TimelineSettings,
    Wait,
)

SEED = "https://docs.example.com/"
FIRST_RUN = 2_200
"""Pages of the first run: more than a stream takes from its log at a time, so it is cut there."""
LATER_RUN = 300
WAIT = 10.0
"""Wall seconds a read may take."""


def _url(index: int) -> str:
    return f"{SEED}guide/{index}"


def _page(index: int) -> Step:
    if index % 97 == 13:
        return PageError(url=_url(index), error=f"Failed to fetch {_url(index)}: upstream error")
    return Page(
        url=_url(index),
        markdown=f"# Guide {index}\n\n" + "Every request carries the key. " * (1 + index % 5),
        title=f"Guide {index}",
        description="A guide.",
        credits=1 + index % 3,
        metadata={"duration": 100 + index % 50},
    )


def _timeline(*, ids: bool = False) -> Timeline:
    """Three runs: a long one at the start, one after raw text on both streams, one after a ping
    fell due; each ends where the clock moves."""
    pages = FIRST_RUN + 2 * LATER_RUN
    steps: list[Step] = [Wait(1), Progress(status="processing", total=pages)]
    steps += [_page(index) for index in range(FIRST_RUN)]
    steps += [
        Wait(0.5),
        Raw(Channel.JOB, ": between runs\n\n"),
        Raw(Channel.WORKSPACE, ": between runs\n\n"),
    ]
    steps += [_page(index) for index in range(FIRST_RUN, FIRST_RUN + LATER_RUN)]
    steps += [Wait(45)]  # a ping of the 30-second interval falls due before the next run
    steps += [_page(index) for index in range(FIRST_RUN + LATER_RUN, pages)]
    steps += [Wait(1), Done("completed")]
    settings = TimelineSettings(ids=ids)
    return Timeline(name="runs", steps=tuple(steps), mode="crawl", urls=(SEED,), settings=settings)


@dataclass
class Observed:
    """What one play of a scenario showed."""

    job_wire: bytes
    """The per-job stream's body as it came over the socket: chunk framing included."""
    workspace_wire: bytes
    journal: list[tuple[Any, ...]]
    job: dict[str, Any]
    usage: list[dict[str, Any]]
    credits: dict[str, Any]
    run_records: int
    """Records of the job's log that stood for a run applied as one."""
    hub: list[JobEvent] = field(default_factory=list)


def _connect(server: MockServer, path: str) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=WAIT)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: mock\r\nx-api-key: {server.api_key}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


class _Reader(threading.Thread):
    """Reads one stream's socket until ``done(body)`` says it has all it needs."""

    def __init__(self, sock: socket.socket, done: Callable[[bytes], bool]) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.done = done
        self.data = bytearray()
        self.error: BaseException | None = None

    @property
    def body(self) -> bytes:
        """Everything after the response head: the chunked body as sent."""
        head, _, body = bytes(self.data).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        return body

    def run(self) -> None:
        try:
            while b"\r\n\r\n" not in self.data or not self.done(self.body):
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                self.data.extend(chunk)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def result(self) -> bytes:
        self.join(WAIT)
        assert not self.is_alive(), "the stream did not end in time"
        assert self.error is None, self.error
        return self.body


def _job_ended(body: bytes) -> bool:
    return body.endswith(b"\r\n0\r\n\r\n")


def _workspace_ended(body: bytes) -> bool:
    return b"event: job:completed\n" in body and body.endswith(b"\n\n\r\n")


def _play(
    settings: Settings,
    *,
    timeline: Timeline | None,
    request: dict[str, Any],
    subscribe: bool,
    steps: tuple[float, ...],
    jobs: int = 1,
) -> Observed:
    """Play one scenario on a fresh server: ``jobs`` jobs created from ``request`` (each
    scripted with ``timeline``), the workspace stream and the last job's stream open from the
    start, the clock moved by each of ``steps``. What is observed of a job is of the last."""
    hub: list[JobEvent] = []
    with MockServer(clock=ManualClock(), settings=settings) as server:
        service = server.service
        if subscribe:
            service.events.subscribe(hub.append)
        key = server.api_key or ""
        workspace_stream = _Reader(_connect(server, "/v1/events"), _workspace_ended)
        workspace_stream.start()
        server.journal.wait_for_stream(channel="workspace")
        with httpx.Client(base_url=server.url, headers={"x-api-key": key}) as client:
            for _ in range(jobs):
                if timeline is not None:
                    server.script_next_job(timeline, check=False)
                created = client.post("/v1/read", json=request)
                assert created.status_code == 201, created.text
        job_id = created.json()["data"]["id"]
        watch = service.streams.watch_job(key, job_id, lambda: None, lambda: None)
        assert watch.job is not None and watch.reader is not None
        job_stream = _Reader(_connect(server, f"/v1/jobs/{job_id}/stream"), _job_ended)
        job_stream.start()
        server.journal.wait_for_stream(channel="job", job_id=job_id)
        for seconds in steps:
            server.advance(seconds)
            assert server.journal.wait_settled(WAIT)
        job_wire = job_stream.result()
        workspace_wire = workspace_stream.result()
        records: list[Record] = watch.job.log.take(watch.reader, 10**9)
        watch.unsubscribe()
        assert server.journal.wait_settled(WAIT)
        journal = [
            (
                stream.channel,
                stream.close_reason,
                stream.drop_kind,
                stream.frames_dropped,
                [(f.at, f.kind, f.name, f.data, f.size) for f in stream.frames],
            )
            for stream in server.journal.streams()
        ]
        workspace = next(iter(service.workspaces.values()))
        job = workspace.jobs[job_id]
        observed = Observed(
            job_wire=job_wire,
            workspace_wire=workspace_wire,
            journal=journal,
            job=job.detail(job.results),
            usage=list(workspace.usage.entries()),
            credits=workspace.credits.snapshot(),
            run_records=sum(1 for record in records if record.run is not None),
            hub=hub,
        )
        assert server.errors == []
    return observed


def _dechunk(wire: bytes) -> bytes:
    """The body a client reads from a chunked one."""
    body = bytearray()
    position = 0
    while True:
        line_end = wire.index(b"\r\n", position)
        size = int(wire[position:line_end], 16)
        if size == 0:
            return bytes(body)
        body.extend(wire[line_end + 2 : line_end + 2 + size])
        position = line_end + 2 + size + 2


def _assert_same(runs: Observed, one_by_one: Observed) -> None:
    assert runs.job_wire == one_by_one.job_wire
    assert runs.workspace_wire == one_by_one.workspace_wire
    assert runs.journal == one_by_one.journal
    assert runs.job == one_by_one.job
    assert runs.usage == one_by_one.usage
    assert runs.credits == one_by_one.credits


CRAWL = {"url": SEED, "maxPages": 10_000}
RICH = Settings(monthly_credits=10**6)
TIMELINE_STEPS = (1.0, 0.5, 45.0, 1.0)


@pytest.fixture(scope="module")
def scripted() -> tuple[Observed, Observed]:
    """The scripted timeline played as runs, and one action at a time (a hub subscriber)."""
    timeline = _timeline()
    runs = _play(RICH, timeline=timeline, request=CRAWL, subscribe=False, steps=TIMELINE_STEPS)
    one_by_one = _play(RICH, timeline=timeline, request=CRAWL, subscribe=True, steps=TIMELINE_STEPS)
    return runs, one_by_one


def test_a_run_sends_the_same_bytes_and_journal_as_its_actions_one_by_one(
    scripted: tuple[Observed, Observed],
) -> None:
    runs, one_by_one = scripted
    # The three runs were applied as one each; with a subscriber, action by action.
    assert runs.run_records == 3
    assert one_by_one.run_records == 0
    _assert_same(runs, one_by_one)
    body = _dechunk(runs.job_wire)
    pages = FIRST_RUN + 2 * LATER_RUN
    assert body.count(b"event: page\n") + body.count(b"event: error\n") == pages
    # The first run went out in many writes, each one chunk.
    assert runs.job_wire.count(b"\r\n") > 20
    assert b": between runs\n\n" in body and b": ping\n\n" in body
    assert body.index(b": ping\n\n") < body.index(_url(FIRST_RUN + LATER_RUN).encode())


def test_the_hub_hears_every_event_with_the_credits_after_it(
    scripted: tuple[Observed, Observed],
) -> None:
    _, one_by_one = scripted
    pages = [event for event in one_by_one.hub if event.name in ("page", "error")]
    assert len(pages) == FIRST_RUN + 2 * LATER_RUN
    used = [event.credits_used for event in pages]
    assert used == sorted(used) and used[0] < used[-1]
    assert used[-1] == one_by_one.job["creditsUsed"]


def test_ids_carry_the_same_events_as_a_run(scripted: tuple[Observed, Observed]) -> None:
    """With ``id:`` fields nothing is applied as a run; the frames are the same but for them."""
    runs, _ = scripted
    with_ids = _play(
        RICH, timeline=_timeline(ids=True), request=CRAWL, subscribe=False, steps=TIMELINE_STEPS
    )
    assert with_ids.run_records == 0
    without_ids = re.sub(rb"(?m)^id: \d+\n", b"", _dechunk(with_ids.job_wire))
    assert without_ids == _dechunk(runs.job_wire)
    assert with_ids.job == runs.job
    assert with_ids.usage == runs.usage


def _batch_steps(scripted_job: bool) -> tuple[float, ...]:
    """The clock moves of a batch job: a scripted one ends a second after its pages, the
    default timeline at their instant."""
    return (1.0, 1.0) if scripted_job else (1.0,)


def _scripted_pages(count: int) -> Timeline:
    urls = [f"https://example.com/{index}" for index in range(count)]
    builder = Timeline.build("same-instant", description="Pages at one instant.", urls=urls)
    builder = builder.wait(1).status("processing")
    for _ in range(count):
        builder = builder.page(credits=1)
    return builder.wait(1).done("completed")


BATCH = {"urls": [f"https://example.com/{index}" for index in range(8)]}
# Without delays, the default timeline's pages all fall on one instant.
NO_DELAYS = Settings(monthly_credits=13, queue_delay=1, page_interval=0)


@pytest.mark.parametrize("scripted_job", [True, False], ids=["scripted", "unscripted"])
def test_a_run_the_balance_cannot_pay_is_played_action_by_action(scripted_job: bool) -> None:
    """Two jobs of eight pages at one instant and 13 credits: each could be paid when it was
    created, the first takes 8. The second's run is played page by page: a scripted job charges
    what the balance allows, an unscripted one turns the pages it cannot pay into errors."""
    script = _scripted_pages(8) if scripted_job else None
    play = partial(
        _play, NO_DELAYS, timeline=script, request=BATCH, steps=_batch_steps(scripted_job), jobs=2
    )
    runs, one_by_one = play(subscribe=False), play(subscribe=True)
    assert runs.run_records == 0
    _assert_same(runs, one_by_one)
    assert runs.credits["balance"] == 0
    second = [entry["credits"] for entry in runs.usage[8:]]
    assert second == [1] * 5 + [0] * 3
    errors = [entry["error"] for entry in runs.job["results"] if "error" in entry]
    if scripted_job:
        assert errors == [] and runs.job["creditsUsed"] == 8
    else:
        assert [error.split(" ")[0] for error in errors] == ["Insufficient"] * 3
        assert runs.job["creditsUsed"] == 5


@pytest.mark.parametrize("scripted_job", [True, False], ids=["scripted", "unscripted"])
def test_a_run_the_balance_pays_is_applied_as_one(scripted_job: bool) -> None:
    script = _scripted_pages(8) if scripted_job else None
    play = partial(
        _play, NO_DELAYS, timeline=script, request=BATCH, steps=_batch_steps(scripted_job)
    )
    runs, one_by_one = play(subscribe=False), play(subscribe=True)
    assert runs.run_records == 1
    _assert_same(runs, one_by_one)
    assert runs.credits["balance"] == 5
    assert [entry["status"] for entry in runs.usage] == ["success"] * 8
    assert runs.job["creditsUsed"] == 8 and runs.job["status"] == "completed"
