"""Scripted drops over real sockets: what httpx, httpx-sse, a raw socket and our decoder see.

Every test runs against Hypercorn on 127.0.0.1 (the ``server`` fixture), which also asserts at
teardown that the server logged no warning, error or traceback. Gates make "the client has read
the first frame before the drop" true by construction.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Callable, Iterator

import httpcore
import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse
from sse_server import Fail, Gate, RawStream, ServedApp

from reader_mock.sse import Drop, DropKind, decode, encode_json_event

PROGRESS = encode_json_event("progress", {"status": "processing", "completed": 0, "total": 2})
PAGE = encode_json_event(
    "page",
    {"url": "https://example.com/a", "markdown": "# A\n\ntext", "proxyMode": "standard"},
)
INCOMPLETE = (
    "peer closed connection without sending complete message body (incomplete chunked read)"
)
TIMEOUT = httpx.Timeout(10.0)


def _progress_data() -> str:
    return json.dumps({"status": "processing", "completed": 0, "total": 2}, separators=(",", ":"))


def _first_then(
    source: Iterator[ServerSentEvent], server: ServedApp, gate: str
) -> list[ServerSentEvent]:
    """Read the first event, then open the gate that lets the server drop the connection."""
    first = next(source)
    server.open_gate(gate)
    return [first]


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and the ones it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _performed(server: ServedApp) -> list[tuple[DropKind, DropKind]]:
    return [(report.drop.kind, report.performed) for report in server.state.drops]


def _wait_ended(server: ServedApp) -> str:
    [served] = server.state.requests
    assert served.ended.wait(10), "the body generator never finished"
    return served.ending


# -- clean -----------------------------------------------------------------------------------


def test_clean_drop_ends_the_iteration_normally(server: ServedApp) -> None:
    url = server.script("clean", [PROGRESS, Drop(DropKind.CLEAN)])
    with httpx.Client(timeout=TIMEOUT) as client:
        with connect_sse(client, "GET", url) as source:
            events = [(event.event, event.data) for event in source.iter_sse()]
            assert source.response.is_stream_consumed
        # The body ended properly, so the connection can carry the next request.
        again = client.get(server.script("again", [PROGRESS]))
        assert again.content == PROGRESS
    assert events == [("progress", _progress_data())]
    assert _performed(server) == [(DropKind.CLEAN, DropKind.CLEAN)]
    assert server.state.requests[0].ended.wait(10)
    assert server.state.requests[0].ending == "closed"


def test_clean_drop_on_a_raw_socket_sends_the_last_chunk(
    server: ServedApp, raw_stream: Callable[[str], RawStream]
) -> None:
    server.script("clean", [PROGRESS, Drop(DropKind.CLEAN)])
    stream = raw_stream("/scripts/clean")
    assert stream.next_chunk() == PROGRESS
    assert stream.next_chunk() == b""  # the terminating zero-length chunk


# -- truncate --------------------------------------------------------------------------------


def test_truncate_raises_remote_protocol_error(server: ServedApp) -> None:
    url = server.script("truncate", [PROGRESS, Gate("go"), Drop(DropKind.TRUNCATE)])
    with httpx.Client(timeout=TIMEOUT) as client, connect_sse(client, "GET", url) as source:
        events = source.iter_sse()
        seen = _first_then(events, server, "go")
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            next(events)
    assert str(raised.value) == INCOMPLETE
    assert [(event.event, event.data) for event in seen] == [("progress", _progress_data())]
    assert _performed(server) == [(DropKind.TRUNCATE, DropKind.TRUNCATE)]
    assert _wait_ended(server) == "closed"


def test_truncate_on_a_raw_socket_is_a_fin_without_the_last_chunk(
    server: ServedApp, raw_stream: Callable[[str], RawStream]
) -> None:
    server.script("truncate", [PROGRESS, Gate("go"), Drop(DropKind.TRUNCATE)])
    stream = raw_stream("/scripts/truncate")
    assert stream.next_chunk() == PROGRESS
    server.open_gate("go")
    with pytest.raises(EOFError, match="0 bytes unread"):
        stream.next_chunk()


# -- mid-frame -------------------------------------------------------------------------------


def test_mid_frame_is_never_dispatched(server: ServedApp) -> None:
    drop = Drop.mid_frame(PAGE)
    url = server.script("mid", [PROGRESS, Gate("go"), drop])
    with httpx.Client(timeout=TIMEOUT) as client, connect_sse(client, "GET", url) as source:
        events = source.iter_sse()
        seen = _first_then(events, server, "go")
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            seen.extend(events)
    assert str(raised.value) == INCOMPLETE
    assert [event.event for event in seen] == ["progress"]
    assert _performed(server) == [(DropKind.MID_FRAME, DropKind.MID_FRAME)]


def test_mid_frame_bytes_reach_the_client_and_our_decoder_discards_them(
    server: ServedApp,
) -> None:
    drop = Drop.mid_frame(PAGE)
    assert 0 < len(drop.partial) < len(PAGE) - 2
    url = server.script("mid", [PROGRESS, drop])
    received: list[bytes] = []
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        client.stream("GET", url) as response,
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
    ):
        for chunk in response.iter_raw():
            received.append(chunk)
    body = b"".join(received)
    assert body == PROGRESS + drop.partial
    decoded = decode(received)
    assert [event.type for event in decoded.events] == ["progress"]
    assert decoded.end.mid_block and decoded.end.mid_line
    assert decoded.end.discarded is not None
    assert [field.name for field in decoded.end.discarded.fields] == ["event"]


# -- reset -----------------------------------------------------------------------------------


def test_reset_raises_read_error_from_connection_reset(server: ServedApp) -> None:
    url = server.script("reset", [PROGRESS, Gate("go"), Drop(DropKind.RESET)])
    with httpx.Client(timeout=TIMEOUT) as client, connect_sse(client, "GET", url) as source:
        events = source.iter_sse()
        seen = _first_then(events, server, "go")
        with pytest.raises(httpx.ReadError) as raised:
            next(events)
    # httpx.ReadError, raised from httpcore.ReadError, raised while handling the
    # ConnectionResetError (ECONNRESET) that recv() returned.
    chain = _chain(raised.value)
    assert [type(error) for error in chain] == [
        httpx.ReadError,
        httpcore.ReadError,
        ConnectionResetError,
    ]
    assert isinstance(chain[-1], ConnectionResetError)
    assert chain[-1].errno == errno.ECONNRESET
    assert [event.event for event in seen] == ["progress"]
    assert _performed(server) == [(DropKind.RESET, DropKind.RESET)]
    assert _wait_ended(server) == "closed"


def test_reset_without_waiting_still_delivers_earlier_frames(server: ServedApp) -> None:
    """Bytes already written reach the client before the RST does."""
    url = server.script("reset-now", [PROGRESS, PAGE, Drop(DropKind.RESET)])
    received: list[bytes] = []
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        client.stream("GET", url) as response,
        pytest.raises(httpx.ReadError),
    ):
        for chunk in response.iter_raw():
            received.append(chunk)
    assert b"".join(received) == PROGRESS + PAGE


def test_reset_on_a_raw_socket_is_econnreset(
    server: ServedApp, raw_stream: Callable[[str], RawStream]
) -> None:
    server.script("reset", [PROGRESS, Gate("go"), Drop(DropKind.RESET)])
    stream = raw_stream("/scripts/reset")
    assert stream.next_chunk() == PROGRESS
    server.open_gate("go")
    with pytest.raises(ConnectionResetError):
        stream.next_chunk()


def test_reset_falls_back_to_truncate_when_the_connection_cannot_be_found(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = ServedApp(hide_client=True)
    server.start()
    try:
        url = server.script("reset", [PROGRESS, Drop(DropKind.RESET)])
        with httpx.Client(timeout=TIMEOUT) as client, connect_sse(client, "GET", url) as source:
            events = source.iter_sse()
            assert next(events).event == "progress"
            with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
                next(events)
    finally:
        server.stop()
    assert _performed(server) == [(DropKind.RESET, DropKind.TRUNCATE)]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- HTTP/2 ----------------------------------------------------------------------------------


def _h2_client() -> httpx.Client:
    # Prior knowledge: HTTP/2 over plain TCP, which Hypercorn accepts.
    return httpx.Client(http1=False, http2=True, timeout=TIMEOUT)


def test_http2_clean_drop_ends_the_stream(server: ServedApp) -> None:
    url = server.script("clean", [PROGRESS, Drop(DropKind.CLEAN)])
    with _h2_client() as client, connect_sse(client, "GET", url) as source:
        assert source.response.http_version == "HTTP/2"
        assert [event.event for event in source.iter_sse()] == ["progress"]
    assert _performed(server) == [(DropKind.CLEAN, DropKind.CLEAN)]


@pytest.mark.parametrize("kind", [DropKind.TRUNCATE, DropKind.MID_FRAME, DropKind.RESET])
def test_http2_drops_reset_the_connection(server: ServedApp, kind: DropKind) -> None:
    """HTTP/2 cannot end one response early without hanging the client, so the drop is an RST."""
    drop = Drop.mid_frame(PAGE) if kind is DropKind.MID_FRAME else Drop(kind)
    url = server.script("h2", [PROGRESS, Gate("go"), drop])
    with _h2_client() as client, connect_sse(client, "GET", url) as source:
        assert source.response.http_version == "HTTP/2"
        events = source.iter_sse()
        seen = _first_then(events, server, "go")
        with pytest.raises(httpx.NetworkError) as raised:
            seen.extend(events)
    # The HTTP/2 client also writes while it reads (flow-control acknowledgements), so the
    # reset surfaces from whichever socket call comes first: ReadError or WriteError.
    assert type(raised.value) in (httpx.ReadError, httpx.WriteError)
    assert isinstance(_chain(raised.value)[-1], ConnectionResetError)
    assert [event.event for event in seen] == ["progress"]
    assert _performed(server) == [(kind, DropKind.RESET)]
    assert _wait_ended(server) in ("closed", "cancelled")


# -- the silence of drops means something ----------------------------------------------------


def test_an_unscripted_error_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A body that fails for real is logged, so the silent drops above are silent on purpose."""
    caplog.set_level(logging.DEBUG)
    server = ServedApp()
    server.start()
    try:
        url = server.script("fail", [PROGRESS, Fail("unscripted failure")])
        with (
            httpx.Client(timeout=TIMEOUT) as client,
            client.stream("GET", url) as response,
            pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        ):
            response.read()
    finally:
        server.stop()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors, "an exception in a body generator should be logged by the server"
    assert any(
        record.exc_info is not None and "unscripted failure" in str(record.exc_info[1])
        for record in errors
    )
    assert server.state.drops == []


def test_drop_markers_validate_themselves() -> None:
    assert Drop("reset").kind is DropKind.RESET  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown drop kind 'rst'; expected one of 'clean'"):
        Drop("rst")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the partial frame"):
        Drop(DropKind.MID_FRAME)
    with pytest.raises(ValueError, match="must be bytes, got str"):
        Drop(DropKind.TRUNCATE, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least two bytes"):
        Drop.mid_frame(b"\n")
    assert Drop.mid_frame(b"event: a\ndata: 1\n\n").partial == b"event: a\n"
