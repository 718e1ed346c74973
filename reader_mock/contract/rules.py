"""Stream lifecycle and webhook delivery rules, read from the AsyncAPI extensions.

``contracts/asyncapi.yaml`` states these rules twice: in prose for people and in the
``x-reader-stream`` (per SSE channel) and ``x-reader-delivery`` (webhook channel) extensions for
programs. The server, the pytest assertions and the contract checks read them from here, so a
change in the document changes the behaviour and the checks together.

Every event name a rule mentions must be an event of its channel; anything else is a
:class:`ContractError`, so a typo in the document cannot silently weaken a check.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .channels import CHANNEL_IDS, WEBHOOK_CHANNEL_ID, Channel, coerce_channel
from .documents import ContractError, load_asyncapi
from .events import channel_messages, channel_object

__all__ = [
    "StreamRules",
    "WebhookDeliveryRules",
    "stream_rules",
    "webhook_delivery_rules",
]

_STREAM_EXTENSION: Final = "x-reader-stream"
_DELIVERY_EXTENSION: Final = "x-reader-delivery"
_ID_SCOPES: Final = ("job", "workspace")


@dataclass(frozen=True)
class StreamRules:
    """How one SSE channel begins, runs and ends.

    Attributes:
        channel: the channel these rules belong to.
        address: the channel's path, e.g. ``/v1/jobs/{jobId}/stream``.
        first_event: the event every stream starts with (``None``: no fixed first event).
        first_event_when_terminal: the first event when the job is already over on connect.
        terminal_events: events after which nothing more is sent.
        closes_after: the event after which the server closes the stream (``None``: never).
        endless: the stream never ends on its own.
        keep_alive_comment: the comment text sent to keep the connection open (``ping`` is sent
            as the line ``: ping``).
        keep_alive_interval_seconds: seconds of clock time between keep-alive comments.
        id_field: whether frames carry an ``id:`` field by default.
        id_scope: what ids count when they are on: the events of one ``job``, or of a whole
            ``workspace``.
        ids_consecutive: with ids on, each event's id is the previous event's plus one.
        job_outcome_events: for a stream of many jobs, the event that ends one job's life, per
            terminal status, as sorted ``(status, event)`` pairs.
    """

    channel: Channel
    address: str
    first_event: str | None
    first_event_when_terminal: str | None
    terminal_events: frozenset[str]
    closes_after: str | None
    endless: bool
    keep_alive_comment: str
    keep_alive_interval_seconds: float
    id_field: bool
    id_scope: str = "job"
    ids_consecutive: bool = True
    job_outcome_events: tuple[tuple[str, str], ...] = ()

    @property
    def keep_alive_line(self) -> str:
        """The keep-alive comment as it appears on the wire, without the line ending."""
        return f": {self.keep_alive_comment}"

    def outcome_event(self, status: str) -> str | None:
        """The event that ends a job with terminal ``status`` on this stream, if the rules say."""
        return dict(self.job_outcome_events).get(status)


@dataclass(frozen=True)
class WebhookDeliveryRules:
    """How webhook deliveries are attempted, retried and signed.

    Attributes:
        method: the HTTP method of a delivery.
        attempts: attempts in all, the first included.
        retry_delays_seconds: clock seconds to wait after each failed attempt before the next.
        timeout_seconds: how long one attempt may take.
        success_status_min: lowest status that counts as success.
        success_status_max: highest status that counts as success.
        delivery_id_stable_across_retries: whether every attempt repeats ``X-Reader-Delivery``.
        signature_algorithm: ``hmac-sha256``.
        signature_header: header carrying the signature.
        timestamp_header: header carrying the signing time (unix seconds).
        signature_prefix: text before the hex digest, ``sha256=``.
        signed_content: template of the signed bytes, ``{timestamp}.{body}``.
        timestamp_tolerance_seconds: oldest timestamp a receiver should accept.
    """

    method: str
    attempts: int
    retry_delays_seconds: tuple[float, ...]
    timeout_seconds: float
    success_status_min: int
    success_status_max: int
    delivery_id_stable_across_retries: bool
    signature_algorithm: str
    signature_header: str
    timestamp_header: str
    signature_prefix: str
    signed_content: str
    timestamp_tolerance_seconds: float

    def is_success(self, status: int) -> bool:
        """Whether a receiver's HTTP status ends the delivery successfully."""
        return self.success_status_min <= status <= self.success_status_max


class _Reader:
    """Typed access to one extension object, with errors that name the field."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ContractError(f"asyncapi.yaml: {where} is missing or not an object")
        self._data: Mapping[str, Any] = data
        self._where = where

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise ContractError(f"asyncapi.yaml: {self._where}.{key} is missing")
        return self._data[key]

    def _fail(self, key: str, expected: str) -> ContractError:
        found = self._data[key]
        return ContractError(
            f"asyncapi.yaml: {self._where}.{key} must be {expected}, found {found!r}"
        )

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise self._fail(key, "a non-empty string or null")
        return value

    def number(self, key: str, *, positive: bool = False) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self._fail(key, "a number >= 0")
        if positive and value == 0:
            raise self._fail(key, "a number > 0")
        return float(value)

    def integer(self, key: str, *, minimum: int) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, f"an integer >= {minimum}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._fail(key, "a list of strings")
        return tuple(value)

    def numbers(self, key: str) -> tuple[float, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(
            isinstance(item, int | float) and not isinstance(item, bool) and item >= 0
            for item in value
        ):
            raise self._fail(key, "a list of numbers >= 0")
        return tuple(float(item) for item in value)

    def child(self, key: str) -> _Reader:
        return _Reader(self._get(key), f"{self._where}.{key}")

    def has(self, key: str) -> bool:
        return key in self._data

    def items(self) -> list[tuple[str, Any]]:
        return list(self._data.items())


def _read_stream_rules(document: Mapping[str, Any], channel: Channel) -> StreamRules:
    channel_id = CHANNEL_IDS[channel]
    channel_doc = channel_object(document, channel_id)
    where = f"channels.{channel_id}.{_STREAM_EXTENSION}"
    reader = _Reader(channel_doc.get(_STREAM_EXTENSION), where)
    keep_alive = reader.child("keepAlive")
    event_ids = reader.child("eventIds")
    scope = event_ids.text("countedPer")
    if scope not in _ID_SCOPES:
        raise event_ids._fail("countedPer", " or ".join(repr(s) for s in _ID_SCOPES))
    outcomes: tuple[tuple[str, str], ...] = ()
    if reader.has("jobOutcomeEvents"):
        outcome_reader = reader.child("jobOutcomeEvents")
        outcomes = tuple(
            sorted((status, outcome_reader.text(status)) for status, _ in outcome_reader.items())
        )
    rules = StreamRules(
        channel=channel,
        address=str(channel_doc.get("address")),
        first_event=reader.optional_text("firstEvent"),
        first_event_when_terminal=reader.optional_text("firstEventWhenTerminal"),
        terminal_events=frozenset(reader.texts("terminalEvents")),
        closes_after=reader.optional_text("closesAfter"),
        endless=reader.boolean("endless"),
        keep_alive_comment=keep_alive.text("comment"),
        keep_alive_interval_seconds=keep_alive.number("intervalSeconds", positive=True),
        id_field=reader.boolean("idField"),
        id_scope=scope,
        ids_consecutive=event_ids.boolean("consecutive"),
        job_outcome_events=outcomes,
    )
    _validate_stream_rules(rules, document, channel_id, where)
    return rules


def _validate_stream_rules(
    rules: StreamRules, document: Mapping[str, Any], channel_id: str, where: str
) -> None:
    """Refuse rules that name unknown events or contradict themselves."""
    known = {message.event for message in channel_messages(document, channel_id)}
    named = [
        ("firstEvent", rules.first_event),
        ("firstEventWhenTerminal", rules.first_event_when_terminal),
        ("closesAfter", rules.closes_after),
        *(("terminalEvents", event) for event in sorted(rules.terminal_events)),
        *((f"jobOutcomeEvents.{status}", event) for status, event in rules.job_outcome_events),
    ]
    for field, event in named:
        if event is not None and event not in known:
            raise ContractError(
                f"asyncapi.yaml: {where}.{field} names {event!r}, which is not an event of "
                f"channel {channel_id!r} ({', '.join(sorted(known))})"
            )
    if rules.endless and rules.closes_after is not None:
        raise ContractError(f"asyncapi.yaml: {where} is endless but also closes after an event")
    if not rules.endless and rules.closes_after is None:
        raise ContractError(f"asyncapi.yaml: {where} ends but names no closesAfter event")
    if rules.closes_after is not None and rules.closes_after not in rules.terminal_events:
        raise ContractError(f"asyncapi.yaml: {where}.closesAfter must be a terminal event")


def _read_delivery_rules(document: Mapping[str, Any]) -> WebhookDeliveryRules:
    channel_doc = channel_object(document, WEBHOOK_CHANNEL_ID)
    where = f"channels.{WEBHOOK_CHANNEL_ID}.{_DELIVERY_EXTENSION}"
    reader = _Reader(channel_doc.get(_DELIVERY_EXTENSION), where)
    success = reader.child("successStatus")
    signature = reader.child("signature")
    rules = WebhookDeliveryRules(
        method=reader.text("method"),
        attempts=reader.integer("attempts", minimum=1),
        retry_delays_seconds=reader.numbers("retryDelaysSeconds"),
        timeout_seconds=reader.number("timeoutSeconds", positive=True),
        success_status_min=success.integer("min", minimum=100),
        success_status_max=success.integer("max", minimum=100),
        delivery_id_stable_across_retries=reader.boolean("deliveryIdStableAcrossRetries"),
        signature_algorithm=signature.text("algorithm"),
        signature_header=signature.text("header"),
        timestamp_header=signature.text("timestampHeader"),
        signature_prefix=signature.text("prefix"),
        signed_content=signature.text("signedContent"),
        timestamp_tolerance_seconds=signature.number("toleranceSeconds", positive=True),
    )
    if len(rules.retry_delays_seconds) != rules.attempts - 1:
        raise ContractError(
            f"asyncapi.yaml: {where}.retryDelaysSeconds has {len(rules.retry_delays_seconds)} "
            f"delays but {rules.attempts} attempts need {rules.attempts - 1}"
        )
    if rules.success_status_min > rules.success_status_max:
        raise ContractError(f"asyncapi.yaml: {where}.successStatus.min is above max")
    return rules


@functools.cache
def _default_stream_rules(channel: Channel) -> StreamRules:
    return _read_stream_rules(load_asyncapi(), channel)


@functools.cache
def _default_delivery_rules() -> WebhookDeliveryRules:
    return _read_delivery_rules(load_asyncapi())


def stream_rules(channel: Channel | str, document: Mapping[str, Any] | None = None) -> StreamRules:
    """The lifecycle rules of an SSE channel.

    Args:
        channel: :attr:`Channel.JOB` or :attr:`Channel.WORKSPACE` (or their values).
        document: an AsyncAPI document to read instead of the shipped one.

    Raises:
        ContractError: the extension is missing, malformed or names unknown events.
    """
    channel = coerce_channel(channel)
    if document is None:
        return _default_stream_rules(channel)
    return _read_stream_rules(document, channel)


def webhook_delivery_rules(document: Mapping[str, Any] | None = None) -> WebhookDeliveryRules:
    """The webhook delivery rules (attempts, retry delays, timeout, signature scheme).

    Raises:
        ContractError: the extension is missing or malformed.
    """
    if document is None:
        return _default_delivery_rules()
    return _read_delivery_rules(document)
