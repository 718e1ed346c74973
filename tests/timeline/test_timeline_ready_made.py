"""The ready-made timelines load, say what their README says, and stream what they promise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from timeline_cases import READY_MADE

from reader_mock.contract import Channel, check_event, stream_rules
from reader_mock.sse.decoder import decode
from reader_mock.sse.drops import DropKind
from reader_mock.sse.encoder import encode_json_event
from reader_mock.timeline import (
    Drop,
    DropStreams,
    JobScript,
    Raw,
    Timeline,
    Wait,
    instantiate,
)
from reader_mock.timeline.files import (
    check_timeline,
    load_timeline,
    timeline_schema,
    timeline_schema_path,
)
from reader_mock.timeline.ready_made import load_ready_made, ready_made_dir, ready_made_names


def test_the_shipped_set(timelines_dir: Path) -> None:
    assert ready_made_names() == sorted(READY_MADE)
    assert ready_made_dir().resolve() == timelines_dir.resolve()


@pytest.mark.parametrize("name", READY_MADE)
def test_loads_without_problems(name: str, timelines_dir: Path) -> None:
    timeline = load_timeline(timelines_dir / f"{name}.yaml")
    assert timeline.name == name
    assert timeline.description
    assert check_timeline(timeline) == []
    # The file form and the model carry the same information.
    assert Timeline.from_data(timeline.to_data()) == timeline


def test_schema_is_a_valid_2020_12_schema(repo_root: Path) -> None:
    schema = json.loads((repo_root / "contracts" / "timeline.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert timeline_schema() == schema
    assert timeline_schema_path().resolve() == (repo_root / "contracts/timeline.schema.json")


@pytest.mark.parametrize("name", READY_MADE)
def test_files_match_the_schema_with_a_plain_validator(name: str, timelines_dir: Path) -> None:
    # Independent of reader-mock's loader: plain PyYAML and jsonschema.
    data = yaml.safe_load((timelines_dir / f"{name}.yaml").read_text("utf-8"))
    errors = list(Draft202012Validator(timeline_schema()).iter_errors(data))
    assert errors == []


def test_readme_documents_every_timeline(timelines_dir: Path) -> None:
    readme = (timelines_dir / "README.md").read_text("utf-8")
    for name in READY_MADE:
        assert f"## `{name}`" in readme


def test_readme_table_matches_the_timelines(timelines_dir: Path) -> None:
    readme = (timelines_dir / "README.md").read_text("utf-8")
    rows = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    assert sorted(rows) == sorted(READY_MADE)
    for name, (_, ends, attempts, duration, _) in rows.items():
        timeline = load_ready_made(name)
        assert ends == instantiate(timeline).final.status, name
        assert int(attempts.split()[0]) == timeline.attempts, name
        assert duration == f"{timeline.duration:g} s", name


def _events(script: JobScript, channel: Channel) -> list[tuple[str, dict[str, Any]]]:
    return [(event.name, dict(event.data)) for event in script.events_on(channel)]


@pytest.mark.parametrize("name", READY_MADE)
def test_every_event_matches_the_contract(name: str) -> None:
    script = instantiate(load_ready_made(name), job_id="job_0123456789abcdef")
    for event in script.events:
        assert check_event(event.channel, event.name, dict(event.data)) == [], event
    job_events = _events(script, Channel.JOB)
    assert [event for event, _ in job_events].count("done") == 1
    assert job_events[-1][0] == "done"
    workspace = _events(script, Channel.WORKSPACE)
    assert all(payload["jobId"] == "job_0123456789abcdef" for _, payload in workspace)


def test_partial_failure_counts_the_failed_url() -> None:
    script = instantiate(load_ready_made("partial-failure"))
    errors = [payload for name, payload in _events(script, Channel.JOB) if name == "error"]
    assert errors == [
        {
            "url": "https://fail.example/b",
            "error": "Failed to fetch https://fail.example/b: upstream error",
        }
    ]
    assert script.final.completed == script.final.total == 3
    assert script.final.credits_used == 2
    assert _events(script, Channel.WORKSPACE)[-1] == (
        "job:completed",
        {
            "jobId": script.job_id,
            "status": "completed",
            "completed": 3,
            "total": 3,
            "creditsUsed": 2,
        },
    )


def test_fatal_failure_ends_with_job_failed() -> None:
    script = instantiate(load_ready_made("fatal-failure"))
    assert _events(script, Channel.JOB)[-1] == (
        "done",
        {"status": "failed", "completed": 2, "total": 4},
    )
    assert _events(script, Channel.WORKSPACE)[-1] == (
        "job:failed",
        {"jobId": script.job_id, "error": "Job failed: browser pool crashed"},
    )
    assert not [name for name, _ in _events(script, Channel.JOB) if name == "error"]


def test_cancelled_midway_ends_with_a_cancelled_job_progress() -> None:
    script = instantiate(load_ready_made("cancelled-midway"))
    assert _events(script, Channel.JOB)[-1] == (
        "done",
        {"status": "cancelled", "completed": 2, "total": 5},
    )
    assert _events(script, Channel.WORKSPACE)[-1] == (
        "job:progress",
        {"jobId": script.job_id, "status": "cancelled", "completed": 2, "total": 5},
    )


def test_crawl_total_grows_and_never_shrinks() -> None:
    script = instantiate(load_ready_made("crawl-growing-total"))
    totals = [
        payload["total"]
        for name, payload in _events(script, Channel.JOB)
        if name in {"progress", "done"}
    ]
    assert totals == sorted(totals)
    assert totals[0] == 1
    assert totals[-1] == 5
    pages = [payload["url"] for name, payload in _events(script, Channel.JOB) if name == "page"]
    assert pages[0] == "https://example.com/docs"
    assert len(set(pages)) == 5
    assert all(url.startswith("https://example.com/") for url in pages)


def test_slow_start_stays_queued_past_several_pings() -> None:
    script = instantiate(load_ready_made("slow-start"))
    started = next(action for action in script.actions if action.state.status == "processing")
    ping = stream_rules(Channel.JOB).keep_alive_interval_seconds
    assert started.at >= 3 * ping


def test_silent_gap_waits_longer_than_the_ping_interval() -> None:
    timeline = load_ready_made("silent-gap")
    ping = stream_rules(Channel.JOB).keep_alive_interval_seconds
    assert timeline.settings.ping_interval is None
    assert max(step.seconds for step in timeline.steps if isinstance(step, Wait)) > 2 * ping


@pytest.mark.parametrize(
    ("name", "streams"),
    [
        ("drop-and-reconnect-job", DropStreams.JOB),
        ("drop-and-reconnect-workspace", DropStreams.WORKSPACE),
    ],
)
def test_drop_timelines_drop_one_stream_while_the_job_goes_on(
    name: str, streams: DropStreams
) -> None:
    script = instantiate(load_ready_made(name))
    drops = [action for action in script.actions if isinstance(action.source, Drop)]
    assert len(drops) == 2
    assert {action.source.streams for action in drops if isinstance(action.source, Drop)} == {
        streams
    }
    assert len({action.source.how for action in drops if isinstance(action.source, Drop)}) == 2
    first = drops[0]
    # The job is still running when the connection is cut, and makes progress after it.
    assert first.state.status == "processing"
    later_pages = [a for a in script.actions if a.at > first.at and a.kind == "page"]
    assert later_pages


# ------------------------------------------------------------------ parser-torture, end to end


def _per_job_connections(script: JobScript) -> list[list[bytes]]:
    """The writes of each per-job stream connection of a client that connects when the job is
    created and reconnects right after every drop (each connection opens with the prefix and a
    progress snapshot, as the contract says)."""
    prefix = script.timeline.settings.job_stream_prefix

    def opening(snapshot: dict[str, Any]) -> list[bytes]:
        return [*(prefix.chunks() if prefix else ()), encode_json_event("progress", snapshot)]

    connections = [opening(script.initial.progress_payload())]
    for action in script.actions:
        source = action.source
        if isinstance(source, Raw) and source.stream is Channel.JOB:
            connections[-1].extend(source.chunks())
        for event in action.events:
            if event.channel is Channel.JOB:
                connections[-1].append(encode_json_event(event.name, dict(event.data)))
        if isinstance(source, Drop) and Channel.JOB in source.streams.channels:
            connections.append(opening(action.state.progress_payload()))
    return connections


def _intended(script: JobScript) -> list[tuple[str, str]]:
    """What a conforming client must see: the server's events plus each raw text's `expect`."""
    seen = [("progress", json.dumps(script.initial.progress_payload(), separators=(",", ":")))]
    for action in script.actions:
        source = action.source
        if isinstance(source, Raw) and source.stream is Channel.JOB:
            seen.extend((event.event, event.data) for event in source.expect or ())
        seen.extend(
            (event.name, json.dumps(dict(event.data), separators=(",", ":"), ensure_ascii=False))
            for event in action.events
            if event.channel is Channel.JOB
        )
        if isinstance(source, Drop) and Channel.JOB in source.streams.channels:
            seen.append(
                ("progress", json.dumps(action.state.progress_payload(), separators=(",", ":")))
            )
    return seen


def _naive(data: bytes) -> list[tuple[str, str]]:
    """A fragile parser of the kind the torture targets: LF-only, strips all spaces, no BOM."""
    events = []
    for block in data.decode("utf-8").split("\n\n"):
        name, lines = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.lower().startswith("data:"):
                lines.append(line[5:].strip())
        if lines:
            events.append((name, "\n".join(lines)))
    return events


def test_parser_torture_is_a_valid_job_for_a_conforming_parser() -> None:
    script = instantiate(load_ready_made("parser-torture"))
    connections = _per_job_connections(script)
    assert len(connections) == 2
    decoded = [decode(chunks) for chunks in connections]
    seen = [(event.type, event.data) for result in decoded for event in result.events]
    assert seen == _intended(script)
    # Every event a conforming client sees is a valid per-job event; the last one is done.
    for name, data in seen:
        assert check_event(Channel.JOB, name, json.loads(data)) == [], (name, data)
    assert seen[-1][0] == "done"
    assert json.loads(seen[-1][1])["status"] == "completed"
    # The first connection ended with the unterminated block, discarded; the second cleanly.
    assert decoded[0].end.discarded is not None
    assert decoded[1].end.discarded is None and not decoded[1].end.mid_block


def test_parser_torture_breaks_a_naive_parser() -> None:
    # The same simulation on a plain timeline agrees with a naive parser; the torture does not,
    # so the torture really is tricky and the simulation is not what makes the difference.
    plain = instantiate(load_ready_made("happy-batch"))
    plain_bytes = b"".join(chunk for c in _per_job_connections(plain) for chunk in c)
    assert _naive(plain_bytes) == [(e.type, e.data) for e in decode(plain_bytes).events]

    torture = instantiate(load_ready_made("parser-torture"))
    for chunks in _per_job_connections(torture):
        assert _naive(b"".join(chunks)) != [(e.type, e.data) for e in decode(chunks).events]


def test_parser_torture_covers_the_listed_cases() -> None:
    timeline = load_ready_made("parser-torture")
    raws = [step for step in timeline.steps if isinstance(step, Raw)]
    texts = [raw.text for raw in raws]
    prefix = timeline.settings.job_stream_prefix
    assert prefix is not None and prefix.text == "\ufeff" and len(prefix.chunks()) == 2
    assert any("\r\n" in t and "\n" not in t.replace("\r\n", "") for t in texts)  # CRLF only
    assert any("\r" in t and "\n" not in t for t in texts)  # CR only
    assert any(raw.split == "bytes" and "\r\n" in raw.text for raw in raws)
    assert any("\0" in t for t in texts)
    assert any(t.startswith("id\n") for t in texts)
    assert any("retry: 1000x" in t for t in texts)
    assert any("\nData:" in t for t in texts)
    assert any(len(t) > 65536 and t.startswith(":") for t in texts)
    assert any(
        len(raw.text.encode()) - len(raw.text) >= 3 and isinstance(raw.split, tuple) for raw in raws
    )
    last_raw = max(i for i, step in enumerate(timeline.steps) if isinstance(step, Raw))
    dropped = timeline.steps[last_raw + 1]
    assert isinstance(dropped, Drop) and dropped.how is DropKind.CLEAN
