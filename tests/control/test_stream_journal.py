"""Stream connections in the journal, over real sockets: frames, close reasons, reconnects."""

from __future__ import annotations

import time

import httpx

from reader_mock.core import ManualClock
from reader_mock.core.journal import StreamRecord
from reader_mock.server import MockServer
from reader_mock.timeline import Timeline


def _closed(record: StreamRecord) -> bool:
    deadline = time.monotonic() + 5
    while record.is_open and time.monotonic() < deadline:
        time.sleep(0.01)  # the server notices a hang-up on its own loop
    return not record.is_open


def test_job_stream_records_frames_done_and_the_reconnect() -> None:
    with MockServer(clock=ManualClock()) as server:
        headers = {"x-api-key": server.api_key or "", "Last-Event-ID": "x1"}
        created = httpx.post(
            f"{server.url}/v1/read", json={"urls": ["https://example.com/a"]}, headers=headers
        )
        job_id = created.json()["data"]["id"]
        # The clock moves once this connection is subscribed, while the read below blocks.
        moved = server.advance_when_connected(10, job_id=job_id)
        url = f"{server.url}/v1/jobs/{job_id}/stream"
        with httpx.stream("GET", url, headers=headers, timeout=10) as response:
            response.read()
        moved.result(timeout=5)
        httpx.get(url, headers=headers, timeout=10)
        first, second = server.journal.streams(channel="job", job_id=job_id)
    assert first.event_names == ["progress", "progress", "page", "progress", "done"]
    assert first.close_reason == "after_done" and first.closed_at == first.frames[-1].at
    assert first.last_event_id == "x1"
    assert first.headers["x-api-key"].startswith("****")
    assert second.reconnect_of == first.seq and second.event_names == ["done"]


def test_workspace_stream_records_pings_hang_ups_and_shutdown() -> None:
    server = MockServer(clock=ManualClock())
    with server:
        headers = {"x-api-key": server.api_key or ""}
        with httpx.stream("GET", f"{server.url}/v1/events", headers=headers) as response:
            server.advance(31)
            assert next(response.iter_bytes()) == b": ping\n\n"
        (hung_up,) = server.journal.streams()
        assert _closed(hung_up) and hung_up.close_reason == "client_disconnect"
        assert [(f.kind, f.name) for f in hung_up.frames] == [("comment", "ping")]
        client = httpx.Client(base_url=server.url, headers=headers)
        open_stream = client.send(client.build_request("GET", "/v1/events"), stream=True)
    stopped = server.journal.streams()[-1]
    open_stream.close()
    client.close()
    assert stopped.reconnect_of == hung_up.seq
    assert stopped.close_reason == "shutdown"
    assert server.errors == []


def test_a_scripted_mid_frame_drop_is_journaled_with_its_kind_and_the_half_frame() -> None:
    timeline = (
        Timeline.build("cut", urls=["https://example.com/a"])
        .wait(1)
        .drop("job", "mid-frame")
        .status("processing")
        .page()
        .done("completed")
    )
    with MockServer(clock=ManualClock()) as server:
        server.script_next_job(timeline)
        headers = {"x-api-key": server.api_key or ""}
        created = httpx.post(
            f"{server.url}/v1/read", json={"urls": ["https://example.com/a"]}, headers=headers
        )
        job_id = created.json()["data"]["id"]
        moved = server.advance_when_connected(1, job_id=job_id)
        url = f"{server.url}/v1/jobs/{job_id}/stream"
        received = b""
        with httpx.stream("GET", url, headers=headers, timeout=10) as response:
            try:
                for chunk in response.iter_raw():
                    received += chunk
            except httpx.RemoteProtocolError:
                pass
        moved.result(timeout=5)
        (record,) = server.journal.streams(channel="job", job_id=job_id)
        assert _closed(record)
    snapshot = b'event: progress\ndata: {"status":"queued","completed":0,"total":1}\n\n'
    assert [(f.kind, f.name) for f in record.frames] == [("event", "progress"), ("raw", "")]
    assert record.frames[0].data == snapshot
    half = record.frames[1].data
    assert half and snapshot.startswith(half) and len(half) < len(snapshot)
    assert received == snapshot + half
    assert (record.close_reason, record.drop_kind) == ("scripted_drop", "mid-frame")
