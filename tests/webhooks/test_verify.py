"""``reader_mock.webhooks``: signatures checked against ones computed independently of it."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess

import pytest

from reader_mock.contract.documents import load_asyncapi
from reader_mock.sse.encoder import json_text
from reader_mock.webhooks import check_signature, sign, verify

SECRET = "whsec-example-0123456789"
BODY = b'{"jobId":"job_9fba2","status":"completed","completed":100,"total":100,"creditsUsed":100}'
NOW = 1_712_275_200


def by_hand(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def headers_for(signature: str, timestamp: int | str = NOW) -> dict[str, str]:
    return {"X-Reader-Signature": signature, "X-Reader-Timestamp": str(timestamp)}


def test_sign_matches_a_signature_computed_by_hand() -> None:
    assert sign(SECRET, NOW, BODY) == by_hand(SECRET, str(NOW), BODY)
    assert sign(SECRET.encode(), str(NOW), BODY) == by_hand(SECRET, str(NOW), BODY)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_sign_matches_openssl() -> None:
    completed = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", SECRET, "-r"],
        input=f"{NOW}.".encode() + BODY,
        capture_output=True,
        check=True,
    )
    assert sign(SECRET, NOW, BODY) == "sha256=" + completed.stdout.split()[0].decode()


@pytest.mark.parametrize("name", ["jobPage", "jobCompleted"])
def test_the_signed_examples_of_the_contract_verify(name: str) -> None:
    message = load_asyncapi()["channels"]["webhookDeliveries"]["messages"][name]
    key = message["$ref"].rsplit("/", 1)[-1]
    example = load_asyncapi()["components"]["messages"][key]["examples"][0]
    body = json_text(example["payload"]).encode()
    assert verify(SECRET, example["headers"], body, now=NOW)
    assert not verify(SECRET + "x", example["headers"], body, now=NOW)


def test_a_valid_delivery_verifies_with_any_header_case() -> None:
    signature = by_hand(SECRET, str(NOW), BODY)
    assert verify(SECRET, headers_for(signature), BODY, now=NOW)
    lowered = {k.lower(): v for k, v in headers_for(signature).items()}
    assert verify(SECRET, lowered, BODY, now=NOW + 299)
    assert check_signature(SECRET, lowered, BODY, now=NOW) == []


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "now", "problem"),
    [
        ("another-secret-123456", BODY, NOW, NOW, "does not match"),
        (SECRET, BODY.replace(b"100", b"101", 1), NOW, NOW, "does not match"),
        (SECRET, BODY + b" ", NOW, NOW, "does not match"),
        (SECRET, BODY, NOW - 301, NOW, "away from now"),
        (SECRET, BODY, NOW + 301, NOW, "away from now"),
    ],
)
def test_what_fails(secret: str, body: bytes, timestamp: int, now: int, problem: str) -> None:
    headers = headers_for(by_hand(secret, str(timestamp), body), timestamp)
    assert not verify(SECRET, headers, BODY, now=now)
    assert any(problem in p for p in check_signature(SECRET, headers, BODY, now=now))


def test_the_window_is_the_tolerance() -> None:
    headers = headers_for(by_hand(SECRET, str(NOW - 600), BODY), NOW - 600)
    assert not verify(SECRET, headers, BODY, now=NOW)
    assert verify(SECRET, headers, BODY, tolerance=600, now=NOW)


def test_missing_or_malformed_headers_fail() -> None:
    assert not verify(SECRET, {}, BODY, now=NOW)
    problems = check_signature(SECRET, {}, BODY, now=NOW)
    assert len(problems) == 2
    signature = by_hand(SECRET, str(NOW), BODY)
    assert not verify(SECRET, headers_for(signature, "12.5"), BODY, now=NOW)
    assert not verify(SECRET, headers_for(signature, "\uff11\uff12"), BODY, now=NOW)
    assert not verify(SECRET, headers_for("sha256=" + "0" * 64), BODY, now=NOW)
    assert not verify(SECRET, headers_for("sha256=ü"), BODY, now=NOW)


def test_verify_uses_the_wall_clock_by_default() -> None:
    import time

    moment = int(time.time())
    assert verify(SECRET, headers_for(by_hand(SECRET, str(moment), BODY), moment), BODY)


def test_the_helper_loads_nothing_of_the_mock() -> None:
    import sys

    heavy = ["quart", "httpx", "jsonschema", "yaml", "reader_mock.core", "reader_mock.contract"]
    code = (
        "import sys, reader_mock.webhooks; "
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == []
