"""Hypothesis throws bodies at ``POST /v1/read`` and the control API, and texts at the timeline
reader: every answer is a documented JSON envelope (never a 500), the server records no
unexpected error, and the timeline reader raises nothing but ``TimelineError``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st

from reader_mock.core import ManualClock, Settings
from reader_mock.server import MockServer
from reader_mock.timeline import TimelineError
from reader_mock.timeline.files import parse_timeline

pytestmark = pytest.mark.slow

# The examples per test come from the Hypothesis profile: 100 by default, 2,000 with
# ``--hypothesis-profile=reliability`` (registered in conftest.py; docs/reliability.md).
FUZZ: Final = hypothesis.settings(
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
    database=None,
)

# Any code point, lone surrogates included: JSON carries them as \\uXXXX escapes.
TEXT: Final = st.text(st.characters(codec=None, categories=None), max_size=20)
SCALARS: Final = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e308, -1e308, 1e-300, 0.0, 5e-324])
    | TEXT
    | st.sampled_from(["https://example.com/", "happy-batch", "processing", "completed", "*"])
)
VALUES: Final = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            TEXT
            | st.sampled_from(
                _KEYS := [
                    "url",
                    "urls",
                    "extract",
                    "schema",
                    "formats",
                    "name",
                    "steps",
                    "wait",
                    "page",
                    "timeline",
                    "seconds",
                    "speed",
                    "path",
                    "code",
                    "count",
                    "latencyMs",
                    "settings",
                    "pingInterval",
                    "done",
                    "metadata",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
READ_BODIES: Final = (
    st.fixed_dictionaries(
        {},
        optional={
            "url": SCALARS,
            "urls": st.lists(SCALARS, max_size=3) | SCALARS,
            "formats": st.lists(st.sampled_from(["markdown", "html", "screenshot", "x"])) | SCALARS,
            "extract": st.fixed_dictionaries({}, optional={"schema": VALUES, "prompt": SCALARS}),
            "timeoutMs": SCALARS,
            "cache": SCALARS,
        },
    )
    | VALUES
)
STEP: Final = st.dictionaries(
    st.sampled_from(["wait", "status", "progress", "page", "error", "total", "done", "drop", "raw"])
    | TEXT,
    VALUES,
    min_size=1,
    max_size=2,
)
TIMELINES: Final = st.fixed_dictionaries(
    {"name": st.sampled_from(["t", "fuzz-1"]) | TEXT, "steps": st.lists(STEP, max_size=6)},
    optional={
        "settings": st.fixed_dictionaries({}, optional={"pingInterval": SCALARS, "ids": SCALARS}),
        "urls": st.lists(SCALARS, max_size=3),
        "mode": SCALARS,
    },
)
CONTROL: Final = st.sampled_from(
    ["/_mock/faults", "/_mock/jobs/script", "/_mock/clock/advance", "/_mock/clock/speed"]
)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    settings = Settings(requests_per_minute=1_000_000, monthly_credits=10**9)
    with MockServer(settings=settings, clock=ManualClock()) as running:
        yield running
    assert running.errors == [], running.errors
    assert running.service.unexpected_errors == [], running.service.unexpected_errors


def _envelope(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    body = response.json()
    assert isinstance(body["success"], bool)
    if not body["success"]:
        assert set(body["error"]) >= {"code", "message", "docsUrl"}


def _text(value: Any) -> str:
    return json.dumps(value)  # ASCII: a lone surrogate travels as an escape


def test_fuzz_read(server: MockServer) -> None:
    with httpx.Client(base_url=server.url, headers={"x-api-key": server.api_key}) as http:

        @FUZZ
        @hypothesis.given(body=READ_BODIES, key=st.none() | TEXT.filter(str.isascii))
        def check(body: Any, key: str | None) -> None:
            headers = {"content-type": "application/json"}
            if key is not None and key.isprintable() and key == key.strip():
                headers["x-idempotency-key"] = key
            _envelope(http.post("/v1/read", content=_text(body), headers=headers))

        check()
        server.reset()


def test_fuzz_control(server: MockServer) -> None:
    with httpx.Client(base_url=server.url, headers={"x-api-key": server.api_key}) as http:

        @FUZZ
        @hypothesis.given(
            path=CONTROL,
            body=VALUES | st.fixed_dictionaries({"timeline": TIMELINES | VALUES}),
        )
        def check(path: str, body: Any) -> None:
            _envelope(
                http.post(path, content=_text(body), headers={"content-type": "application/json"})
            )

        check()
        server.reset()
        assert http.post("/v1/read", json={"urls": ["https://example.com/a"]}).status_code == 201


@FUZZ
@hypothesis.given(timeline=TIMELINES | VALUES, as_yaml=st.booleans())
def test_fuzz_timeline_files(timeline: Any, as_yaml: bool) -> None:
    text = _text(timeline)
    try:
        parse_timeline(text, "fuzz.yaml" if as_yaml else "fuzz.json")
    except TimelineError as exc:
        assert str(exc)
