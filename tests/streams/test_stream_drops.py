"""Every kind of scripted drop on both channels, as httpx and httpx-sse see it over a socket.

docs/drops.md states what each kind puts on the wire and what a client sees; each case here checks
exactly that: how the read ends (a normal end, ``httpx.RemoteProtocolError``, ``httpx.ReadError``
caused by ``ConnectionResetError``), which bytes and events arrived before it, what the stream
checker says of those bytes, what the journal recorded, and that a new connection carries on.
"""

from __future__ import annotations

import httpx
import pytest
from httpx_sse import EventSource, ServerSentEvent, connect_sse

from reader_mock.contract import ViolationKind, check_stream
from reader_mock.contract.channels import Channel
from reader_mock.server import MockServer
from reader_mock.timeline import Timeline

URLS = ("https://example.com/a", "https://example.com/b")
HOWS = ("clean", "truncate", "mid-frame", "reset")
CHANNELS: tuple[Channel, ...] = tuple(Channel)
# Clock times of the timeline below: the drop comes right after the first page.
DROP_AT = 1.5
DONE_AT = 2.5


def _timeline(channel: str, how: str) -> Timeline:
    """Queued, processing, one page, the drop, one more page, done."""
    return (
        Timeline.build(f"drop-{channel}-{how}", description="One drop.", urls=list(URLS))
        .wait(0.5)
        .status("processing")
        .wait(1)
        .page()
        .drop(channel, how)
        .wait(1)
        .page()
        .done("completed")
    )


def _path(channel: str, job_id: str) -> str:
    return f"/v1/jobs/{job_id}/stream" if channel == "job" else "/v1/events"


class _Dropped:
    """One stream read until its drop: what arrived and how the read ended."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.events: list[ServerSentEvent] = []
        self.error: httpx.HTTPError | None = None
        self.job_id = ""

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def _read_through_the_drop(
    server: MockServer, client: httpx.Client, channel: Channel, how: str, *, sse: bool
) -> _Dropped:
    """Start a job on the one-drop timeline, read ``channel`` from before the drop to its end.

    The per-job stream is opened once the job exists and read up to its snapshot; the workspace
    stream is opened before the job is created. Then the clock moves past the drop.
    """
    server.script_next_job(_timeline(channel, how))
    seen = _Dropped()

    def create() -> None:
        created = client.post("/v1/read", json={"urls": list(URLS)})
        assert created.status_code == 201, created.text
        seen.job_id = created.json()["data"]["id"]

    if channel == "job":
        create()
    with client.stream("GET", _path(channel, seen.job_id)) as response:
        assert response.status_code == 200
        if channel == "workspace":
            create()
        try:
            if sse:
                events = EventSource(response).iter_sse()
                seen.events.append(next(events))
                server.advance(DROP_AT)
                seen.events.extend(events)
            else:
                raw = response.iter_raw()
                if channel == "job":
                    seen.chunks.append(next(raw))
                server.advance(DROP_AT)
                seen.chunks.extend(raw)
        except httpx.HTTPError as error:
            seen.error = error
    return seen


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in the chain of causes and contexts of ``error``."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, kind):
            return True
        current = current.__cause__ or current.__context__
    return False


def _check_end(seen: _Dropped, how: str) -> None:
    """How the read ended, exactly as docs/drops.md says for ``how``."""
    if how == "clean":
        assert seen.error is None, repr(seen.error)
    elif how in ("truncate", "mid-frame"):
        assert isinstance(seen.error, httpx.RemoteProtocolError), repr(seen.error)
        assert "incomplete chunked read" in str(seen.error)
    else:
        assert isinstance(seen.error, httpx.ReadError), repr(seen.error)
        assert _caused_by(seen.error, ConnectionResetError), repr(seen.error)


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_raw_bytes_up_to_each_drop(
    server: MockServer, client: httpx.Client, channel: Channel, how: str
) -> None:
    """Raw bytes: every frame before the drop arrives whole; the end is as documented."""
    seen = _read_through_the_drop(server, client, channel, how, sse=False)
    _check_end(seen, how)
    body = seen.body
    # The first page arrived with its progress; the second page and done never did.
    assert (b"event: page\n" if channel == "job" else b"event: job:progress\n") in body
    assert b"event: done\n" not in body and b"event: job:completed\n" not in body
    whole, _, partial = body.rpartition(b"\n\n")
    if how == "mid-frame":
        # Half a progress frame after the last blank line, and no blank line to dispatch it.
        name = b"progress" if channel == "job" else b"job:progress"
        assert partial.startswith(b"event: " + name + b"\ndata: {"), partial
        assert not partial.endswith(b"\n")
    else:
        assert partial == b""
    # The checker sees the frames as valid; what it reports is only the early end.
    expected = [
        ViolationKind.MISSING_TERMINAL if channel == "job" else ViolationKind.UNEXPECTED_END
    ]
    if how == "mid-frame":
        expected.insert(0, ViolationKind.UNTERMINATED_FRAME)
    kinds = [violation.kind for violation in check_stream(body, channel)]
    assert sorted(kinds) == sorted(expected), check_stream(body, channel)
    assert check_stream(whole + b"\n\n", channel, ended=False) == []
    record = server.journal.streams(channel=channel)[-1]
    assert (record.close_reason, record.drop_kind) == ("scripted_drop", how), record.describe()


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_httpx_sse_events_up_to_each_drop(
    server: MockServer, client: httpx.Client, channel: Channel, how: str
) -> None:
    """httpx-sse: the events before the drop are dispatched, a half frame never is."""
    seen = _read_through_the_drop(server, client, channel, how, sse=True)
    _check_end(seen, how)
    names = [event.event for event in seen.events]
    if channel == "job":
        # Snapshot, processing, the first page and its progress; nothing of the cut frame.
        assert names == ["progress", "progress", "page", "progress"], names
    else:
        assert names == ["job:progress", "job:progress", "job:progress"], names
        assert all(f'"jobId":"{seen.job_id}"' in event.data for event in seen.events)
    assert all(event.data for event in seen.events)


@pytest.mark.parametrize("how", HOWS)
def test_a_new_job_connection_after_each_drop_gets_the_rest(
    server: MockServer, client: httpx.Client, how: str
) -> None:
    """After the drop, reconnecting gives a fresh snapshot, the last page and ``done``."""
    seen = _read_through_the_drop(server, client, Channel.JOB, how, sse=True)
    path = f"/v1/jobs/{seen.job_id}/stream"
    with connect_sse(client, "GET", path) as source:
        events = source.iter_sse()
        snapshot = next(events)
        server.advance(DONE_AT - DROP_AT)
        rest = [snapshot, *events]
    assert [event.event for event in rest] == ["progress", "page", "progress", "done"]
    assert '"completed":1' in snapshot.data.replace(" ", "")
    assert '"status":"completed"' in rest[-1].data.replace(" ", "")
    first, second = server.journal.streams(job_id=seen.job_id)
    assert second.reconnect_of == first.seq
    assert (first.close_reason, second.close_reason) == ("scripted_drop", "after_done")


@pytest.mark.parametrize("how", HOWS)
def test_a_new_workspace_connection_after_each_drop_hears_what_comes_next(
    server: MockServer, client: httpx.Client, how: str
) -> None:
    """Events sent while the client was away are not replayed; the next ones arrive."""
    seen = _read_through_the_drop(server, client, Channel.WORKSPACE, how, sse=True)
    with connect_sse(client, "GET", "/v1/events") as source:
        events = source.iter_sse()
        server.advance(DONE_AT - DROP_AT)
        rest: list[ServerSentEvent] = []
        for event in events:
            rest.append(event)
            if event.event == "job:completed":
                break
    assert [event.event for event in rest] == ["job:progress", "job:completed"]
    assert all(f'"jobId":"{seen.job_id}"' in event.data for event in rest)
    job = client.get(f"/v1/jobs/{seen.job_id}").json()["data"]
    assert (job["status"], job["completed"]) == ("completed", 2)
