"""Bad input against ``reader-mock serve`` itself: documented envelopes, and a clean console.

The command runs as a child process on an ephemeral port (``--port 0 --json``), exactly as a user
starts it, and every request goes over a real socket. Each request in the table below is wrong in
one way (malformed JSON, another content type, an oversized body, wrong types, values out of range,
unknown ids, a missing or unknown key, a method the path does not have) and must get its documented
status with the ``{success: false, error: {code, message, docsUrl}}`` envelope and an
``x-request-id``. Then the server is stopped with SIGTERM and its stderr must hold a request line
for every call, no ``500`` and no traceback.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import pytest
from sdk_support import REQUEST_ID

from reader_mock.core.settings import DEFAULT_API_KEY

KEY: Final = {"x-api-key": DEFAULT_API_KEY}
JSON: Final = {"content-type": "application/json", **KEY}
MIB: Final = 1024 * 1024
DOCS: Final = "https://reader.dev/docs/home/concepts/errors#"


@dataclass(frozen=True)
class Bad:
    """One bad request and the answer the contract documents for it."""

    method: str
    path: str
    status: int
    code: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    issue: tuple[str, str] | None = None
    """``(path, code)`` of the first ``details.issues`` entry, when the answer has issues."""


CASES: Final = [
    Bad("POST", "/v1/read", 400, "invalid_request", b'{"url":', issue=("", "invalid_json")),
    Bad("POST", "/v1/read", 400, "invalid_request", b"\xff\xfe\x00", issue=("", "invalid_json")),
    Bad(
        "POST",
        "/v1/read",
        400,
        "invalid_request",
        b"url=https://example.com",
        {"content-type": "application/x-www-form-urlencoded", **KEY},
        ("", "invalid_json"),
    ),
    Bad("POST", "/v1/read", 400, "invalid_request", b"[" * 50_000, issue=("", "invalid_json")),
    Bad("POST", "/v1/read", 400, "invalid_request", b"null", issue=("", "invalid_type")),
    Bad("POST", "/v1/read", 400, "invalid_request", b"", issue=("", "required")),
    Bad(
        "POST",
        "/v1/read",
        413,
        "invalid_request",
        b'{"url": "https://example.com", "pad": "' + b"x" * MIB + b'"}',
        issue=("", "too_big"),
    ),
    Bad(
        "POST",
        "/v1/read",
        400,
        "invalid_request",
        b'{"urls": "https://example.com"}',
        issue=("urls", "invalid_type"),
    ),
    Bad(
        "POST",
        "/v1/read",
        400,
        "invalid_request",
        b'{"url": "https://example.com", "timeoutMs": 5}',
        issue=("timeoutMs", "too_small"),
    ),
    Bad(
        "POST",
        "/v1/read",
        400,
        "invalid_request",
        b'{"url": "https://example.com", "timeoutMs": 1e400}',
        issue=("timeoutMs", "invalid_type"),
    ),
    Bad(
        "POST",
        "/v1/read",
        400,
        "invalid_request",
        b'{"url": "https://example.com", "proxyMode": "stealth"}',
        issue=("proxyMode", "invalid_enum_value"),
    ),
    Bad(
        "POST",
        "/v1/read",
        400,
        "invalid_request",
        b'{"url": "https://example.com", "urls": ["https://example.com"]}',
        issue=("", "invalid_union"),
    ),
    Bad(
        "POST",
        "/v1/read",
        400,
        "invalid_request",
        b'{"url": "https://example.com"}',
        {"x-idempotency-key": "", **JSON},
        ("x-idempotency-key", "too_small"),
    ),
    Bad(
        "POST",
        "/v1/webhooks",
        400,
        "invalid_request",
        b'{"url": "https://hooks.example.com", "name": "n", "events": ["job.completed"],'
        b' "headers": {"X-Reader-Signature": "forged"}}',
        issue=("headers.X-Reader-Signature", "custom"),
    ),
    Bad(
        "POST",
        "/v1/webhooks",
        413,
        "invalid_request",
        b'{"name": "' + b"n" * MIB + b'"}',
        issue=("", "too_big"),
    ),
    Bad(
        "POST",
        "/v1/sessions",
        400,
        "invalid_request",
        b'{"maxDurationMs": 1000}',
        issue=("maxDurationMs", "too_small"),
    ),
    Bad(
        "POST",
        "/v1/api-keys",
        400,
        "invalid_request",
        b'{"name": 5}',
        issue=("name", "invalid_type"),
    ),
    Bad(
        "GET",
        "/v1/usage/history?limit=500",
        400,
        "invalid_request",
        headers=KEY,
        issue=("limit", "too_big"),
    ),
    Bad(
        "GET",
        "/v1/webhooks?skip=-1",
        400,
        "invalid_request",
        headers=KEY,
        issue=("skip", "too_small"),
    ),
    Bad(
        "GET",
        "/v1/jobs/job%21",
        400,
        "invalid_request",
        headers=KEY,
        issue=("id", "invalid_string"),
    ),
    Bad("GET", "/v1/jobs/job_0000000000000000", 404, "not_found", headers=KEY),
    Bad("POST", "/v1/jobs/job_0000000000000000/retry", 404, "not_found", headers=KEY),
    Bad("DELETE", "/v1/webhooks/whk_0000000000000000", 404, "not_found", headers=KEY),
    Bad("DELETE", "/v1/api-keys/key_0000000000000000", 404, "not_found", headers=KEY),
    Bad("GET", "/v1/sessions/ses_unknown", 404, "session_not_found", headers=KEY),
    Bad("GET", "/v1/usage/credits", 401, "unauthenticated", headers={}),
    Bad("GET", "/v1/usage/credits", 401, "unauthenticated", headers={"x-api-key": "rdr_nope"}),
    Bad("GET", "/v1/events", 401, "unauthenticated", headers={}),
    Bad("PUT", "/v1/read", 405, "invalid_request", b"{}"),
]


Served = tuple[str, "subprocess.Popen[str]"]


pytestmark = pytest.mark.slow


@pytest.fixture
def served() -> Iterator[Served]:
    """``reader-mock serve --port 0 --json`` as a child process; yields (url, process)."""
    # The installed console script's entry point, run by this interpreter.
    entry = "from reader_mock.cli import main; main()"
    command = [sys.executable, "-c", entry, "serve", "--port", "0", "--json"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        url = json.loads(line)["url"]
    except (ValueError, KeyError):
        process.kill()
        _, stderr = process.communicate(timeout=10)
        raise AssertionError(f"no JSON start-up line: {line!r}; stderr: {stderr}") from None
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_bad_input_gets_documented_errors_and_a_clean_console(served: Served) -> None:
    url, process = served
    wrong: list[str] = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for case in CASES:
            response = client.request(
                case.method, case.path, content=case.body, headers=case.headers
            )
            problem = _problem(case, response)
            if problem:
                wrong.append(f"{case.method} {case.path} {case.body!r:.60}: {problem}")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert wrong == [], "\n".join(wrong)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if " /v1/" in line]
    assert len(lines) == len(CASES), stderr  # every request was logged, so the log was read
    assert not [line for line in lines if " 500 " in line], stderr


def _problem(case: Bad, response: httpx.Response) -> str:
    """What is wrong with ``response`` for ``case``, or ``""``."""
    if response.status_code != case.status:
        return f"status {response.status_code}, expected {case.status}: {response.text[:200]}"
    if not REQUEST_ID.match(response.headers.get("x-request-id", "")):
        return f"x-request-id {response.headers.get('x-request-id')!r}"
    if response.status_code == 405 and not response.headers.get("allow"):
        return "405 without Allow"
    try:
        envelope = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]}"
    error = envelope.get("error") if isinstance(envelope, dict) else None
    if envelope.get("success") is not False or not isinstance(error, dict):
        return f"not an error envelope: {envelope}"
    if error.get("code") != case.code or not isinstance(error.get("message"), str):
        return f"error {error}"
    if error.get("docsUrl") != DOCS + case.code.replace("_", "-"):
        return f"docsUrl {error.get('docsUrl')!r}"
    if case.issue is not None:
        issues = error.get("details", {}).get("issues") or [{}]
        first = (issues[0].get("path"), issues[0].get("code"))
        if first != case.issue:
            return f"first issue {first}, expected {case.issue}: {issues}"
    return ""
