"""Signing and verifying webhook deliveries, by the scheme of the Reader API.

A signed delivery carries ``X-Reader-Timestamp`` (unix seconds) and ``X-Reader-Signature``:
``sha256=`` and the lowercase hex HMAC-SHA256, keyed with the webhook secret, of the timestamp, a
literal ``.`` and the raw body bytes. A receiver checks the signature against the raw body (JSON
parsed and serialized again will not match), compares in constant time, and refuses timestamps
outside a window (300 seconds) so that a captured request cannot be replayed later.

Standard library only: application code and SDKs can use :func:`verify` without loading the mock.

    from reader_mock.webhooks import verify

    if not verify(secret, request.headers, raw_body):
        return 400
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from typing import Final

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_PREFIX",
    "TIMESTAMP_HEADER",
    "TOLERANCE_SECONDS",
    "check_signature",
    "sign",
    "verify",
]

SIGNATURE_HEADER: Final = "X-Reader-Signature"
TIMESTAMP_HEADER: Final = "X-Reader-Timestamp"
SIGNATURE_PREFIX: Final = "sha256="
TOLERANCE_SECONDS: Final = 300
_MAX_DIGITS: Final = 12


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The ``X-Reader-Signature`` value of ``body`` signed at ``timestamp`` with ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    message = str(timestamp).encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, found in headers.items():
        if key.lower() == wanted:
            return found
    return None


def check_signature(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> list[str]:
    """What is wrong with a delivery's signature; an empty list when it verifies.

    Args:
        secret: the webhook's secret.
        headers: the request headers (any mapping; names are matched case-insensitively).
        body: the raw request body, exactly as received.
        tolerance: the widest gap, in seconds, between the timestamp and ``now``.
        now: the receiver's time in unix seconds (default: the wall clock). Tests against a
            mock on a manual clock pass the mock's time.
    """
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    problems: list[str] = []
    if signature is None:
        problems.append(f"the {SIGNATURE_HEADER} header is missing")
    if timestamp is None:
        problems.append(f"the {TIMESTAMP_HEADER} header is missing")
    elif not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_DIGITS:
        problems.append(f"{TIMESTAMP_HEADER} is not a unix time in seconds: {timestamp[:40]!r}")
    else:
        moment = time.time() if now is None else now
        age = moment - int(timestamp)
        if not math.isfinite(age) or abs(age) > tolerance:
            problems.append(
                f"{TIMESTAMP_HEADER} {timestamp} is {age:+.0f} s away from now "
                f"(the window is {tolerance:g} s)"
            )
    if signature is not None and timestamp is not None and timestamp.isascii():
        expected = sign(secret, timestamp, body)
        if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode()):
            problems.append(f"{SIGNATURE_HEADER} does not match the body and timestamp")
    return problems


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: float = TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """Whether a delivery is signed with ``secret`` and its timestamp is within ``tolerance``.

    Constant-time comparison; see :func:`check_signature` for the arguments and for the reasons
    a delivery fails.
    """
    return not check_signature(secret, headers, body, tolerance=tolerance, now=now)
