"""Event names per channel, read from the AsyncAPI document, and validation of single events.

An SSE event is a name (the ``event:`` field) and a payload (the JSON of the ``data:`` field). A
webhook delivery is a name (``X-Reader-Event``), HTTP headers and a JSON body. Every name and
every payload schema comes from ``contracts/asyncapi.yaml``; nothing here lists event names.

Violations name the exact place (``data.completed``, ``event``, ``body.jobId``,
``headers.X-Reader-Signature``) and say what was expected and what was found, because they end up
in test failures and timeline errors that people read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .channels import CHANNEL_IDS, CHANNEL_LABELS, WEBHOOK_CHANNEL_ID, Channel, coerce_channel
from .documents import (
    ASYNCAPI_URI,
    ContractError,
    build_registry,
    contract_registry,
    escape_pointer_token,
    follow_local_refs,
    load_asyncapi,
    load_openapi,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing._core import Resolver

    from .schemas import Problem

__all__ = [
    "ChannelMessage",
    "ContractViolation",
    "EventContract",
    "EventViolation",
    "channel_messages",
    "channel_object",
    "check_event",
    "check_webhook_headers",
    "check_webhook_payload",
    "default_event_contract",
    "event_names",
    "validate_event",
    "webhook_event_names",
]


@dataclass(frozen=True)
class EventViolation:
    """One way an event breaks the contract.

    Attributes:
        path: where: ``event`` for the name, ``data.<field>`` for an SSE payload,
            ``body.<field>`` for a webhook body, ``headers.<Name>`` for a webhook header.
        message: the full sentence, starting with the path, e.g.
            ``data.completed: expected integer, got string "5"``.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return self.message


class ContractViolation(ValueError):
    """Raised by :func:`validate_event` when an event breaks the contract; lists every violation."""

    def __init__(self, violations: Iterable[EventViolation]) -> None:
        self.violations: tuple[EventViolation, ...] = tuple(violations)
        super().__init__("\n".join(violation.message for violation in self.violations))


@dataclass(frozen=True)
class ChannelMessage:
    """A message of a channel, resolved inside the AsyncAPI document.

    Attributes:
        key: the message's key in the channel's ``messages`` map.
        event: the event name on the wire (SSE ``event:`` field, webhook ``X-Reader-Event``).
        pointer: JSON pointer of the message object in the document.
        message: the message object itself.
    """

    key: str
    event: str
    pointer: str
    message: Mapping[str, Any]


def channel_object(document: Mapping[str, Any], channel_id: str) -> Mapping[str, Any]:
    """Return the channel ``channel_id`` of an AsyncAPI document."""
    channel = document.get("channels", {}).get(channel_id)
    if not isinstance(channel, Mapping):
        raise ContractError(f"asyncapi.yaml: channel {channel_id!r} is missing")
    return channel


def channel_messages(document: Mapping[str, Any], channel_id: str) -> tuple[ChannelMessage, ...]:
    """Resolve the messages of one channel and read each one's event name.

    The event name is the message's ``x-sse-event`` extension or, failing that, its ``name``;
    when both are present they must agree.
    """
    channel = channel_object(document, channel_id)
    entries = channel.get("messages")
    if not isinstance(entries, Mapping) or not entries:
        raise ContractError(f"asyncapi.yaml: channel {channel_id!r} has no messages")
    resolved: list[ChannelMessage] = []
    seen: dict[str, str] = {}
    for key, entry in entries.items():
        pointer, message = follow_local_refs(
            document,
            entry,
            f"/channels/{escape_pointer_token(channel_id)}/messages/{escape_pointer_token(key)}",
            name="asyncapi.yaml",
        )
        event = _event_name(message, pointer)
        if event in seen:
            raise ContractError(
                f"asyncapi.yaml: channel {channel_id!r} uses the event name {event!r} "
                f"for both {seen[event]!r} and {key!r}"
            )
        seen[event] = key
        resolved.append(ChannelMessage(key=key, event=event, pointer=pointer, message=message))
    return tuple(resolved)


def _event_name(message: Mapping[str, Any], pointer: str) -> str:
    extension = message.get("x-sse-event")
    name = message.get("name")
    if extension is not None and name is not None and extension != name:
        raise ContractError(
            f"asyncapi.yaml: message {pointer} has name {name!r} but x-sse-event {extension!r}"
        )
    event = extension if extension is not None else name
    if not isinstance(event, str) or not event:
        raise ContractError(f"asyncapi.yaml: message {pointer} has no event name")
    return event


@dataclass(frozen=True)
class _Stream:
    address: str
    validators: Mapping[str, Draft202012Validator]


@dataclass(frozen=True)
class _Webhook:
    payload: Draft202012Validator
    headers: Draft202012Validator | None
    header_names: Mapping[str, str]  # lower-case name -> spelling used by the schema


class EventContract:
    """The event names and payload validators of one AsyncAPI document.

    Validators are built once, when the contract is created. The module-level functions use the
    shipped documents through :func:`default_event_contract`; build an ``EventContract`` directly
    to check events against modified documents.
    """

    def __init__(
        self,
        asyncapi: Mapping[str, Any] | None = None,
        openapi: Mapping[str, Any] | None = None,
    ) -> None:
        if asyncapi is None and openapi is None:
            document: Mapping[str, Any] = load_asyncapi()
            registry = contract_registry()
        else:
            document = asyncapi if asyncapi is not None else load_asyncapi()
            registry = build_registry(openapi if openapi is not None else load_openapi(), document)
        self._streams = {
            channel: self._stream(document, registry, channel_id)
            for channel, channel_id in CHANNEL_IDS.items()
        }
        self._webhooks = {
            message.event: self._webhook(registry, message)
            for message in channel_messages(document, WEBHOOK_CHANNEL_ID)
        }

    @staticmethod
    def _stream(document: Mapping[str, Any], registry: Registry[Any], channel_id: str) -> _Stream:
        from .schemas import inlined_validator_for

        address = channel_object(document, channel_id).get("address")
        # Every event of a stream and of a timeline is checked: references inlined once.
        validators = {
            message.event: inlined_validator_for(_payload_uri(message), registry)
            for message in channel_messages(document, channel_id)
        }
        return _Stream(address=str(address), validators=validators)

    @staticmethod
    def _webhook(registry: Registry[Any], message: ChannelMessage) -> _Webhook:
        from referencing.exceptions import Unresolvable

        from .schemas import validator_for

        headers = None
        names: dict[str, str] = {}
        if "headers" in message.message:
            uri = f"{ASYNCAPI_URI}#{message.pointer}/headers"
            headers = validator_for(uri, registry)
            try:
                names = {name.lower(): name for name in _property_names(uri, registry)}
            except Unresolvable as exc:
                raise ContractError(
                    f"asyncapi.yaml: the headers of {message.pointer} refer to {exc.ref!r}, "
                    "which does not resolve"
                ) from None
        return _Webhook(
            payload=validator_for(_payload_uri(message), registry),
            headers=headers,
            header_names=names,
        )

    def event_names(self, channel: Channel | str) -> frozenset[str]:
        """The event names the channel may send."""
        return frozenset(self._streams[coerce_channel(channel)].validators)

    def webhook_event_names(self) -> frozenset[str]:
        """The webhook event names (``job.completed``, ``credit.low``, ...)."""
        return frozenset(self._webhooks)

    def check_event(
        self, channel: Channel | str, name: str, payload: object
    ) -> list[EventViolation]:
        """Check one SSE event; an empty list means it matches the contract.

        Args:
            channel: the stream the event was sent on.
            name: the ``event:`` field (``"message"`` when the frame had none).
            payload: the decoded JSON of the ``data:`` field.
        """
        channel = coerce_channel(channel)
        stream = self._streams[channel]
        validator = stream.validators.get(name)
        if validator is None:
            return [EventViolation("event", self._unknown_event(channel, name))]
        from .schemas import find_problems

        return _violations(find_problems(validator, payload), "data")

    def validate_event(self, channel: Channel | str, name: str, payload: object) -> None:
        """Like :meth:`check_event`, but raise :class:`ContractViolation` on any violation."""
        violations = self.check_event(channel, name, payload)
        if violations:
            raise ContractViolation(violations)

    def check_webhook_payload(self, name: str, payload: object) -> list[EventViolation]:
        """Check the decoded JSON body of one webhook delivery named ``name``."""
        webhook = self._webhooks.get(name)
        if webhook is None:
            return [EventViolation("event", self._unknown_webhook(name))]
        from .schemas import find_problems

        return _violations(find_problems(webhook.payload, payload), "body")

    def check_webhook_headers(self, name: str, headers: Mapping[str, str]) -> list[EventViolation]:
        """Check the HTTP headers of one webhook delivery named ``name``.

        Header names are matched case-insensitively; headers the contract does not mention are
        allowed (transport headers, custom headers of the subscription).
        """
        webhook = self._webhooks.get(name)
        if webhook is None:
            return [EventViolation("event", self._unknown_webhook(name))]
        if webhook.headers is None:
            return []
        canonical = webhook.header_names
        normalized = {canonical.get(key.lower(), key): value for key, value in headers.items()}
        from .schemas import find_problems

        return _violations(find_problems(webhook.headers, normalized), "headers")

    def _unknown_event(self, channel: Channel, name: str) -> str:
        label = self._label(channel)
        allowed = _listing(self._streams[channel].validators)
        sends_only = f"the {CHANNEL_LABELS[channel]} sends only: {allowed}"
        if name in {"", "message"}:
            return (
                f'event: the frame has no "event:" field (a client sees the name "message"); '
                f"{sends_only}"
            )
        for other, stream in self._streams.items():
            if other is not channel and name in stream.validators:
                return (
                    f'event: "{name}" is an event of the {self._label(other)}, not of the '
                    f"{label}; {sends_only}"
                )
        if name in self._webhooks:
            return f'event: "{name}" is a webhook event name, not an SSE event; {sends_only}'
        return f'event: unknown event name "{name}" on the {label}; {sends_only}'

    def _unknown_webhook(self, name: str) -> str:
        allowed = _listing(self._webhooks)
        for channel, stream in self._streams.items():
            if name in stream.validators:
                return (
                    f'event: "{name}" is an event of the {self._label(channel)}, not a webhook '
                    f"event; webhook events are: {allowed}"
                )
        return f'event: unknown webhook event "{name}"; webhook events are: {allowed}'

    def _label(self, channel: Channel) -> str:
        return f"{CHANNEL_LABELS[channel]} ({self._streams[channel].address})"


def _payload_uri(message: ChannelMessage) -> str:
    if "payload" not in message.message:
        raise ContractError(f"asyncapi.yaml: message {message.pointer} has no payload")
    return f"{ASYNCAPI_URI}#{message.pointer}/payload"


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _violations(problems: Iterable[Problem], prefix: str) -> list[EventViolation]:
    result = []
    for problem in problems:
        path = problem.dotted(prefix)
        result.append(EventViolation(path, f"{path}: {problem.detail}"))
    return result


def _property_names(uri: str, registry: Registry[Any]) -> set[str]:
    """Names declared under ``properties`` in a schema, following ``$ref`` and ``allOf``."""
    names: set[str] = set()
    start = registry.resolver().lookup(uri)
    pending: list[tuple[object, Resolver[Any]]] = [(start.contents, start.resolver)]
    while pending:
        schema, resolver = pending.pop()
        if not isinstance(schema, Mapping):
            continue
        names.update(schema.get("properties", {}))
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = resolver.lookup(ref)
            pending.append((target.contents, target.resolver))
        pending.extend((part, resolver) for part in schema.get("allOf", []))
    return names


@functools.cache
def default_event_contract() -> EventContract:
    """The :class:`EventContract` of the shipped documents (built once)."""
    return EventContract()


def event_names(channel: Channel | str) -> frozenset[str]:
    """The SSE event names of ``channel``, read from the AsyncAPI document."""
    return default_event_contract().event_names(channel)


def webhook_event_names() -> frozenset[str]:
    """The webhook event names, read from the AsyncAPI document."""
    return default_event_contract().webhook_event_names()


def check_event(channel: Channel | str, name: str, payload: object) -> list[EventViolation]:
    """Check one SSE event against the contract; see :meth:`EventContract.check_event`."""
    return default_event_contract().check_event(channel, name, payload)


def validate_event(channel: Channel | str, name: str, payload: object) -> None:
    """Raise :class:`ContractViolation` if the SSE event breaks the contract."""
    default_event_contract().validate_event(channel, name, payload)


def check_webhook_payload(name: str, payload: object) -> list[EventViolation]:
    """Check one webhook body against the contract."""
    return default_event_contract().check_webhook_payload(name, payload)


def check_webhook_headers(name: str, headers: Mapping[str, str]) -> list[EventViolation]:
    """Check one webhook delivery's headers against the contract."""
    return default_event_contract().check_webhook_headers(name, headers)
