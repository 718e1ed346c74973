"""Schemathesis hooks for checking a Reader API server: a fresh idempotency key for every request.

A Reader API server (reader-mock among them) replays the first successful response to an
``x-idempotency-key`` for 24 hours to every later request with that key, whatever the later
request's body (docs/behaviour.md, "Idempotency"). A fuzzer reuses header values freely (the
document's own example key above all), so a replay would answer a deliberately invalid body with
the stored ``200``/``201``, and the negative-data check would read that as invalid data being
accepted. Giving every request that carries a well-formed key a key of its own keeps each request
independent; keys the fuzzer made invalid on purpose (empty, longer than 255 characters) are left
as they are, so the header's own validation is still exercised. Replays themselves are tested in
tests/core and tests/http.

``reader-mock check`` loads this module into Schemathesis through ``SCHEMATHESIS_HOOKS``; the
project's own Schemathesis tests import it.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import schemathesis

__all__ = ["fresh_idempotency_key"]

_HEADER: Final = "x-idempotency-key"
_MAX_KEY: Final = 255


@schemathesis.hook("before_call")
def fresh_idempotency_key(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    """Replace a well-formed ``x-idempotency-key`` of ``case`` with one never used before."""
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        value = headers[name]
        if name.lower() == _HEADER and isinstance(value, str) and 1 <= len(value) <= _MAX_KEY:
            headers[name] = f"fuzz-{uuid.uuid4().hex}"
