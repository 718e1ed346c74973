"""MockServer running the mock itself: settings, clocks, and its event streams at shutdown."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock, RealClock, ScaledClock, Settings
from reader_mock.server import MockServer

STOP_BOUND = 1.0


def _frames(lines: Iterator[str]) -> Iterator[list[str]]:
    """Group SSE lines into frames (a frame ends at a blank line)."""
    frame: list[str] = []
    for line in lines:
        if line == "":
            yield frame
            frame = []
        else:
            frame.append(line)


def test_defaults_serve_the_mock_with_the_default_key() -> None:
    with MockServer() as server:
        assert server.api_key == DEFAULT_API_KEY
        assert server.base_url == server.url == f"http://127.0.0.1:{server.port}"
        assert isinstance(server.clock, RealClock)
        assert server.service.clock is server.clock
        response = httpx.get(
            f"{server.url}/v1/usage/credits", headers={"x-api-key": server.api_key}
        )
        assert response.status_code == 200
        assert response.json()["success"] is True
        assert response.headers["x-request-id"]
        assert httpx.get(f"{server.url}/v1/usage/credits").status_code == 401
    assert server.errors == []


def test_retry_after_is_in_real_seconds_over_http_under_a_scaled_clock() -> None:
    settings = Settings(requests_per_minute=1)
    with MockServer(speed=20, settings=settings) as server:
        headers = {"x-api-key": server.api_key or ""}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            assert client.get("/v1/usage/credits").status_code == 200
            refused = client.get("/v1/usage/credits")
        assert refused.status_code == 429
        # 60 clock seconds at 20x last 3 real seconds: what a client that sleeps must wait.
        assert refused.headers["Retry-After"] == "3"
        details = refused.json()["error"]["details"]
        assert details == {"limit": 1, "windowSeconds": 3, "retryAfterSeconds": 3}
    assert server.errors == []


def test_arguments_reach_the_service() -> None:
    clock = ManualClock()
    server = MockServer(
        api_key="rdr_given1", seed=42, clock=clock, settings=Settings(monthly_credits=3)
    )
    assert server.clock is clock
    assert server.service.clock is clock
    assert server.service.settings.seed == 42
    assert server.service.settings.api_keys == ("rdr_given1",)
    assert server.service.settings.monthly_credits == 3
    assert server.api_key == "rdr_given1"
    scaled = MockServer(speed=50).clock
    assert isinstance(scaled, ScaledClock)
    assert scaled.speed == 50


def test_conflicting_or_bad_arguments() -> None:
    with pytest.raises(ValueError, match="either clock= or speed="):
        MockServer(clock=ManualClock(), speed=2)
    with pytest.raises(ValueError, match="speed"):
        MockServer(speed=-1)
    with pytest.raises(ValueError, match="API key"):
        MockServer(api_key="has space")
    with pytest.raises(ValueError, match="between 0 and 65535"):
        MockServer(port=70000)


def test_stop_ends_the_mock_streams_cleanly_and_a_restart_serves_them_again() -> None:
    clock = ManualClock()
    server = MockServer(clock=clock)
    headers = {"x-api-key": server.api_key or ""}
    server.start()
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as client:
        created = client.post("/v1/read", json={"urls": ["https://example.com/a"]})
        assert created.status_code == 201, created.text
        job_id = created.json()["data"]["id"]
        with (
            client.stream("GET", f"/v1/jobs/{job_id}/stream") as job,
            client.stream("GET", "/v1/events") as events,
        ):
            job_frames = _frames(job.iter_lines())
            assert next(job_frames)[0] == "event: progress"
            assert events.status_code == 200
            started = time.monotonic()
            server.stop()
            elapsed = time.monotonic() - started
            # Both streams end with a complete body: no exception while reading to the end.
            rest_of_job = list(job_frames)
            rest_of_events = list(_frames(events.iter_lines()))
    assert elapsed < STOP_BOUND, f"stop() took {elapsed:.3f} s"
    assert all(frame[0].startswith("event: ") for frame in rest_of_job)
    assert all(frame == [": ping"] or frame[0].startswith("event: ") for frame in rest_of_events)
    assert server.errors == []

    # Started again, the server streams again (the stop closed the old streams only).
    server.start()
    try:
        with (
            httpx.Client(base_url=server.url, headers=headers, timeout=5) as client,
            client.stream("GET", "/v1/events") as events,
        ):
            assert events.status_code == 200
            clock.advance(server.service.settings.ping_interval)
            # The job created earlier finishes within that time; its events come first.
            seen: list[str] = []
            for frame in _frames(events.iter_lines()):
                seen.append(frame[0])
                if frame == [": ping"] or len(seen) == 10:
                    break
    finally:
        server.stop()
    assert seen[-1] == ": ping", seen
    assert "event: job:completed" in seen
    assert server.errors == []


@pytest.mark.asyncio
async def test_async_mode_ends_the_workspace_stream() -> None:
    server = MockServer(clock=ManualClock())
    headers = {"x-api-key": server.api_key or ""}
    async with httpx.AsyncClient(timeout=5) as client:
        await server.__aenter__()
        async with client.stream("GET", f"{server.url}/v1/events", headers=headers) as events:
            assert events.status_code == 200
            started = time.monotonic()
            await server.__aexit__(None, None, None)
            elapsed = time.monotonic() - started
            rest = [line async for line in events.aiter_lines()]
    assert elapsed < STOP_BOUND, f"stopping took {elapsed:.3f} s"
    assert all(line in ("", ": ping") for line in rest)
    assert server.errors == []


def test_unexpected_service_errors_are_reported() -> None:
    with MockServer() as server:
        server.service.record_unexpected(RuntimeError("core failure"))
        assert [str(error) for error in server.errors] == ["core failure"]
        server.clear_errors()
        assert server.errors == []
