"""Input the mock cannot hold is refused with a documented 400, never a 500 or a traceback.

Lone UTF-16 surrogates, nesting beyond the depth limit, and timeline numbers out of their
documented ranges, sent over real sockets; and ``reader-mock validate`` on files that used to
crash it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from click.testing import CliRunner
from reliability_support import StartMock

from reader_mock.cli.main import main

pytestmark = pytest.mark.slow

MAX_DEPTH: Final = 64  # docs/reliability.md
JSON: Final = {"content-type": "application/json"}


def _issue(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "invalid_request"
    issues: list[dict[str, str]] = body["error"]["details"]["issues"]
    assert len(issues) == 1
    return issues[0]


def _nested(levels: int) -> str:
    """JSON text of ``levels`` enum schemas inside each other (two levels each), built as text:
    the client's own encoder would overflow its stack."""
    return '{"enum": [' * levels + '"leaf"' + "]}" * levels


@pytest.fixture
def http(start_mock: StartMock) -> httpx.Client:
    server = start_mock(requests_per_minute=10_000)
    client = httpx.Client(base_url=server.url, headers={"x-api-key": server.api_key}, timeout=10)
    return client


# ------------------------------------------------------------------------ lone surrogates


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/v1/api-keys", '{"name": "bad \\udc00 key"}'),
        (
            "/v1/webhooks",
            '{"url": "https://hooks.example/x", "events": ["job.completed"], "name": "\\ud800"}',
        ),
    ],
)
def test_a_name_with_a_lone_surrogate_is_refused_and_listing_still_works(
    http: httpx.Client, path: str, text: str
) -> None:
    issue = _issue(http.post(path, content=text, headers=JSON))
    assert issue["code"] == "invalid_string"
    assert issue["path"] == "name"
    listed = http.get(path)
    assert listed.status_code == 200, listed.text


def test_an_extract_schema_key_with_a_lone_surrogate_charges_nothing(http: httpx.Client) -> None:
    before = http.get("/v1/usage/credits").json()["data"]
    text = '{"url": "https://example.com/", "extract": {"schema": {"\\udc00": 1}}}'
    issue = _issue(http.post("/v1/read", content=text, headers=JSON))
    assert issue["code"] == "invalid_string"
    assert http.get("/v1/usage/credits").json()["data"] == before


def test_surrogates_encoded_as_raw_bytes_are_refused(http: httpx.Client) -> None:
    body = b'{"url": "https://example.com/\xed\xb0\x80"}'
    assert _issue(http.post("/v1/read", content=body, headers=JSON))["code"] in {
        "invalid_string",
        "invalid_json",
    }


def test_a_surrogate_pair_is_text_and_is_accepted(http: httpx.Client) -> None:
    response = http.post("/v1/api-keys", content='{"name": "smile \\ud83d\\ude00"}', headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["name"] == "smile \U0001f600"


# --------------------------------------------------------------------------------- depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 950, 5_000])
def test_deep_extract_schemas_are_refused_before_anything_recursive(
    http: httpx.Client, depth: int
) -> None:
    body = '{"url": "https://example.com/", "extract": {"schema": ' + _nested(depth // 2) + "}}"
    headers = {"x-idempotency-key": f"deep-{depth}", **JSON}
    response = http.post("/v1/read", content=body, headers=headers)
    issue = _issue(response)
    assert issue["code"] == "too_deep"
    assert issue["message"] == f"Nesting deeper than {MAX_DEPTH} levels"


def test_nesting_at_the_limit_is_accepted(http: httpx.Client) -> None:
    # The body object and "extract" are two levels; the schema fills the rest exactly.
    schema: Any = {}
    for _ in range(MAX_DEPTH - 3):
        schema = {"a": schema}
    body = {"url": "https://example.com/", "extract": {"schema": schema}}
    response = http.post("/v1/read", json=body, headers={"x-idempotency-key": "at-limit"})
    assert response.status_code == 200, response.text
    replay = http.post("/v1/read", json=body, headers={"x-idempotency-key": "at-limit"})
    assert replay.status_code == 200
    assert replay.json() == response.json()


def test_a_deep_timeline_is_refused_by_the_control_api(http: httpx.Client) -> None:
    metadata: Any = 1
    for _ in range(500):
        metadata = {"a": metadata}
    timeline = {"name": "deep", "steps": [{"page": {"metadata": metadata}}, {"done": "completed"}]}
    issue = _issue(http.post("/_mock/jobs/script", json={"timeline": timeline}))
    assert issue["code"] == "too_deep"


# ------------------------------------------------------------------------ timeline numbers


@pytest.mark.parametrize(
    ("timeline", "field"),
    [
        ({"steps": [{"wait": 1e308}, {"wait": 1e308}, {"done": "completed"}]}, "wait"),
        ({"settings": {"pingInterval": 1e-300}, "steps": [{"done": "completed"}]}, "pingInterval"),
        ({"settings": {"pingInterval": 1e9}, "steps": [{"done": "completed"}]}, "pingInterval"),
        ({"steps": [{"total": 10**30}, {"done": "completed"}]}, "total"),
        ({"steps": [{"page": {"credits": 10**30}}, {"done": "completed"}]}, "credits"),
    ],
)
def test_timeline_numbers_out_of_range_are_refused_and_reads_keep_working(
    http: httpx.Client, timeline: dict[str, Any], field: str
) -> None:
    scripted = http.post("/_mock/jobs/script", json={"timeline": {"name": "t", **timeline}})
    assert scripted.status_code == 400, scripted.text
    issues = scripted.json()["error"]["details"]["issues"]
    assert any(field in issue["message"] for issue in issues), issues
    read = http.post("/v1/read", json={"urls": ["https://example.com/a"]})
    assert read.status_code == 201, read.text


def test_a_number_too_large_for_a_float_is_refused(http: httpx.Client) -> None:
    text = '{"timeline": {"name": "t", "steps": [{"wait": 1e400}, {"done": "completed"}]}}'
    issue = _issue(http.post("/_mock/jobs/script", content=text, headers=JSON))
    assert issue["code"] == "invalid_timeline"


# ------------------------------------------------------------------- reader-mock validate


def _steps(count: int) -> str:
    return "name: many\nsteps:\n" + "  - wait: 1\n" * count + "  - done: completed\n"


BAD_FILES: Final = {
    "nul.yaml": (b"name: a\nsteps:\n  - wait: 1\x00\n", "not valid YAML"),
    "digits.yaml": (b"name: a\nsteps:\n  - wait: " + b"9" * 5_000 + b"\n", "too many digits"),
    "digits.json": (
        b'{"name": "a", "steps": [{"wait": ' + b"9" * 5_000 + b"}]}",
        "too many digits",
    ),
    "deep.json": (
        b'{"name": "a", "steps": [{"page": {"metadata": '
        + b'{"a": ' * 500
        + b"1"
        + b"}" * 500
        + b"}}]}",
        "nested too deeply",
    ),
    "deep.yaml": (
        b"name: a\nsteps:\n  - page: {metadata: " + b"{a: " * 500 + b"1" + b"}" * 500 + b"}\n",
        "nested too deeply",
    ),
    "nan.yaml": (b"name: a\nsteps:\n  - wait: .nan\n  - done: completed\n", "finite"),
    "huge.json": (
        b'{"name": "a", "steps": [{"wait": 1e308}, {"wait": 1e308}, {"done": "completed"}]}',
        "<= 604800",
    ),
    "surrogate.yaml": (b'name: a\nsteps:\n  - page: {title: "\\udc00"}\n', "surrogate"),
    "many.yaml": (_steps(1_000).encode(), "at most 1,000"),
    "million.yaml": (_steps(1_000_000).encode(), "at most 1,048,576"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_validate_reports_bad_files_without_a_traceback(tmp_path: Path, name: str) -> None:
    content, expected = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    report = json.loads(result.output)
    messages = [problem["message"] for problem in report["files"][0]["problems"]]
    assert any(expected in message for message in messages), messages
