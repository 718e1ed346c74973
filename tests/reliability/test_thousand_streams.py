"""A thousand streams at once, half per-job and half workspace, lose and reorder no event.

Every job plays a scripted timeline on the manual clock; what each stream must carry is what
that timeline plays for its job (``reader_mock.timeline.play``): a per-job stream its job's events
after the snapshot, a workspace stream every job's workspace events, each job's in order. Events
are compared by name and by the fields the timeline decides (status, counters, URL, job id).
Clients are httpx with httpx-sse over real sockets on loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any, Final

import httpx
import pytest
from httpx_sse import aconnect_sse
from reliability_support import StartMock

from reader_mock.server import MockServer
from reader_mock.timeline import Timeline
from reader_mock.timeline.model import JobSpec
from reader_mock.timeline.player import play

pytestmark = pytest.mark.slow

JOBS: Final = 5
PAGES: Final = 4
JOB_STREAMS: Final = 500
WORKSPACE_STREAMS: Final = 500
STEP: Final = 1.0
"""Clock seconds between two pages; the test moves the clock one step at a time."""
DEADLINE: Final = 60.0
"""Wall seconds the whole exchange may take before the test gives up."""

Key = tuple[Any, ...]


def _timeline(job: int) -> Timeline:
    urls = [f"https://example.com/{job}/{page}" for page in range(PAGES)]
    timeline = Timeline.build(f"pages-{job}", urls=urls).wait(STEP).status("processing")
    for url in urls:
        timeline = timeline.wait(STEP).page(url)
    return timeline.done("completed")


def _key(name: str, payload: dict[str, Any]) -> Key:
    """What the timeline decides of an event: generated content (markdown, titles) aside."""
    return (
        name,
        payload.get("jobId"),
        payload.get("status"),
        payload.get("completed"),
        payload.get("total"),
        payload.get("url"),
    )


def _expected(timeline: Timeline, job_id: str, channel: str) -> list[Key]:
    script, issues = play(timeline, JobSpec(timeline.urls), job_id=job_id)
    assert issues == ()
    return [_key(event.name, dict(event.data)) for event in script.events_on(channel)]


async def _read(
    client: httpx.AsyncClient,
    path: str,
    opened: asyncio.Event,
    until: int | None,
) -> list[Key]:
    """The events of one stream, until it ends (``until`` None) or ``until`` events came."""
    keys: list[Key] = []
    async with aconnect_sse(client, "GET", path) as source:
        assert source.response.status_code == 200
        opened.set()
        async for event in source.aiter_sse():
            keys.append(_key(event.event, json.loads(event.data)))
            if until is not None and len(keys) == until:
                break
    return keys


async def _exchange(server: MockServer) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    headers = {"x-api-key": server.api_key}
    timeout = httpx.Timeout(DEADLINE)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=timeout
    ) as client:
        timelines = [_timeline(job) for job in range(JOBS)]
        workspace_each = sum(
            len(_expected(timeline, "job_x", "workspace")) for timeline in timelines
        )
        # The workspace streams first, so they see every job from its creation.
        ws_opened = [asyncio.Event() for _ in range(WORKSPACE_STREAMS)]
        workspace = [
            asyncio.create_task(_read(client, "/v1/events", event, workspace_each))
            for event in ws_opened
        ]
        await asyncio.gather(*(event.wait() for event in ws_opened))
        server.script_jobs(timelines)
        job_ids = []
        for timeline in timelines:
            response = await client.post("/v1/read", json={"urls": list(timeline.urls)})
            assert response.status_code == 201, response.text
            job_ids.append(response.json()["data"]["id"])
        job_opened = [asyncio.Event() for _ in range(JOB_STREAMS)]
        per_job = [
            asyncio.create_task(_read(client, f"/v1/jobs/{job_ids[n % JOBS]}/stream", event, None))
            for n, event in enumerate(job_opened)
        ]
        await asyncio.gather(*(event.wait() for event in job_opened))
        # Nothing has moved yet: every job is queued, every stream open. Now the jobs run.
        for _ in range(PAGES + 3):
            server.advance(STEP)
            await asyncio.sleep(0)
        job_keys = await asyncio.gather(*per_job)
        workspace_keys = await asyncio.gather(*workspace)

    expected_job = {
        job_id: _expected(timeline, job_id, "job")
        for job_id, timeline in zip(job_ids, timelines, strict=True)
    }
    expected_workspace = {
        job_id: _expected(timeline, job_id, "workspace")
        for job_id, timeline in zip(job_ids, timelines, strict=True)
    }
    for n, keys in enumerate(job_keys):
        job_id = job_ids[n % JOBS]
        # The snapshot of a queued job is its creation event; then everything the job plays.
        assert keys == expected_job[job_id], f"per-job stream {n} of {job_id}"
    for n, keys in enumerate(workspace_keys):
        by_job: dict[Any, list[Key]] = defaultdict(list)
        for key in keys:
            by_job[key[1]].append(key)
        assert dict(by_job) == expected_workspace, f"workspace stream {n}"


def test_a_thousand_streams_lose_and_reorder_nothing(start_mock: StartMock) -> None:
    server = start_mock(
        requests_per_minute=1_000_000, max_concurrent_jobs=1_000, monthly_credits=10**8
    )
    started = time.monotonic()
    asyncio.run(asyncio.wait_for(_exchange(server), DEADLINE))
    print(f"\n{JOB_STREAMS + WORKSPACE_STREAMS} streams: {time.monotonic() - started:.1f} s")
