"""Checks of webhook bodies and headers for a sender: the contract's schemas, ``$ref`` inlined once.

:func:`~reader_mock.contract.events.check_webhook_payload` follows every ``$ref`` (many of them
into ``openapi.yaml``) each time it validates, which costs milliseconds per body. A sender checks
every body it sends, so :class:`WebhookChecks` resolves each message's schemas once, into plain
schemas without references, and validates against those: the same rules, a fraction of the cost.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from .channels import WEBHOOK_CHANNEL_ID
from .documents import ASYNCAPI_URI, contract_registry, load_asyncapi
from .events import EventViolation, channel_messages
from .schemas import FORMAT_CHECKER, find_problems, inline_refs

__all__ = ["WebhookChecks", "default_webhook_checks", "inline_refs"]


class WebhookChecks:
    """Validators of every webhook message's body and headers, built once."""

    def __init__(self, asyncapi: Mapping[str, Any] | None = None) -> None:
        document = asyncapi if asyncapi is not None else load_asyncapi()
        registry = contract_registry()
        self._bodies: dict[str, Draft202012Validator] = {}
        self._headers: dict[str, Draft202012Validator] = {}
        for message in channel_messages(document, WEBHOOK_CHANNEL_ID):
            base = f"{ASYNCAPI_URI}#{message.pointer}"
            self._bodies[message.event] = _validator(inline_refs(f"{base}/payload", registry))
            if "headers" in message.message:
                headers = inline_refs(f"{base}/headers", registry)
                self._headers[message.event] = _validator(headers)

    def check_body(self, name: str, payload: object) -> list[EventViolation]:
        """Like :func:`~reader_mock.contract.events.check_webhook_payload`."""
        validator = self._bodies.get(name)
        if validator is None:
            return [EventViolation("event", f'event: unknown webhook event "{name}"')]
        return _violations(validator, payload, "body")

    def check_headers(self, name: str, headers: Mapping[str, str]) -> list[EventViolation]:
        """Check headers spelled as the contract spells them (``X-Reader-Event``...)."""
        validator = self._headers.get(name)
        if validator is None:
            return []
        return _violations(validator, dict(headers), "headers")


def _validator(schema: Any) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def _violations(
    validator: Draft202012Validator, instance: object, prefix: str
) -> list[EventViolation]:
    if validator.is_valid(instance):
        return []
    return [
        EventViolation(problem.dotted(prefix), f"{problem.dotted(prefix)}: {problem.detail}")
        for problem in find_problems(validator, instance)
    ]


@functools.cache
def default_webhook_checks() -> WebhookChecks:
    """The :class:`WebhookChecks` of the shipped contract (built once)."""
    return WebhookChecks()
