"""Webhook deliveries as a state machine: what to send, when, and what each answer means.

No sockets and no HTTP client (in the manner of h11): a sender asks
:meth:`DeliverySchedule.take_due` for the attempts due at a clock time, performs them however it
likes, and reports each answer with :meth:`DeliverySchedule.finish`. The rules (attempts, retry
delays, timeout, what counts as success, the signature scheme) are the contract's
``x-reader-delivery``.

Attempts to one target (a subscription, or the inline webhook of one job) go out one at a time, in
the order their deliveries were made, so a healthy receiver sees events in order; a delivery
waiting for a retry does not hold back the ones after it. Scripted faults (:class:`DeliveryFault`)
change the next matching deliveries: sent twice, out of order, late, with a wrong signature or a
stale timestamp.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from reader_mock.contract import WebhookDeliveryRules
from reader_mock.webhooks import sign

from .clock import format_timestamp

__all__ = [
    "FAULT_KINDS",
    "MAX_RECORDS",
    "USER_AGENT",
    "Attempt",
    "AttemptRecord",
    "Body",
    "Delivery",
    "DeliveryFault",
    "DeliverySchedule",
    "FaultKind",
    "Finished",
    "Target",
]

USER_AGENT: Final = "Reader-Webhook/1.0"
MAX_RECORDS: Final = 2_000
"""Attempts the schedule remembers (the oldest are dropped first, and counted)."""

FaultKind = Literal["duplicate", "out_of_order", "delay", "wrong_signature", "stale_timestamp"]
FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)
DEFAULT_FAULT_SECONDS: Final[dict[str, float]] = {
    "duplicate": 0.0,
    "out_of_order": 5.0,
    "delay": 5.0,
    "wrong_signature": 0.0,
    "stale_timestamp": 600.0,
}
"""What ``seconds`` means per kind: how long an out-of-order delivery waits at most for the one
it lets pass, how late a delayed one starts, how old a stale timestamp is."""

DeliveryState = Literal["pending", "sending", "delivered", "failed", "cancelled"]


class Body:
    """A delivery's body, made when its first attempt starts (not while a job's events are
    published) and then kept; the deliveries of one event to several targets share it."""

    __slots__ = ("_made", "_make")

    def __init__(self, make: Callable[[], bytes] | bytes) -> None:
        self._made = make if isinstance(make, bytes) else None
        self._make = None if isinstance(make, bytes) else make

    def get(self) -> bytes:
        """The bytes; whatever making them raises is raised (every time)."""
        if self._made is None:
            assert self._make is not None
            self._made = self._make()
        return self._made


@dataclass(frozen=True)
class Target:
    """Where an attempt goes, read when the attempt starts (a subscription may have changed)."""

    url: str
    secret: str | None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class DeliveryFault:
    """A scripted fault: the next ``remaining`` deliveries of ``event`` (any event when
    ``None``) are changed as ``kind`` says. Signature faults apply only to signed deliveries."""

    id: int
    kind: FaultKind
    event: str | None
    remaining: int
    seconds: float

    def matches(self, event: str, signed: bool) -> bool:
        """Whether a new delivery of ``event`` is one this fault changes."""
        if self.event is not None and self.event != event:
            return False
        return signed or self.kind not in ("wrong_signature", "stale_timestamp")

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as the control API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "event": self.event,
            "remaining": self.remaining,
            "seconds": self.seconds,
        }


@dataclass(eq=False)
class Delivery:
    """One event for one target, attempted until it succeeds or the attempts run out."""

    seq: int
    id: str
    """The ``X-Reader-Delivery`` UUID, the same for every attempt (and for a scripted copy)."""
    event: str
    body: Body
    target: str
    """Key of the target: ``webhook:<id>`` or ``job:<id>`` (an inline webhook)."""
    webhook_id: str | None
    job_id: str | None
    signed: bool
    next_at: float
    order: float
    attempts: int = 0
    state: DeliveryState = "pending"
    held: bool = False
    faults: list[str] = field(default_factory=list)
    wrong_signature: bool = False
    stale_seconds: float = 0.0

    def key(self) -> tuple[float, float, int]:
        return (self.next_at, self.order, self.seq)


@dataclass
class AttemptRecord:
    """One attempt, as the journal keeps it."""

    delivery_id: str
    event: str
    attempt: int
    url: str
    webhook_id: str | None
    job_id: str | None
    at: float
    timestamp: str | None
    signature: str | None
    faults: tuple[str, ...]
    status: int | None = None
    error: str | None = None
    outcome: Literal["sending", "succeeded", "failed"] = "sending"
    final: bool = False
    """Whether this attempt decided the delivery (success, or the last failure)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as ``GET /_mock/webhooks/deliveries`` shows it."""
        return {
            "deliveryId": self.delivery_id,
            "event": self.event,
            "attempt": self.attempt,
            "url": self.url,
            "webhookId": self.webhook_id,
            "jobId": self.job_id,
            "at": format_timestamp(self.at),
            "timestamp": self.timestamp,
            "signature": self.signature,
            "faults": list(self.faults),
            "status": self.status,
            "error": self.error,
            "outcome": self.outcome,
            "final": self.final,
        }


@dataclass(frozen=True)
class Attempt:
    """An attempt to perform: POST ``body`` with ``headers`` to ``url``; it has failed when no
    answer came by clock time ``deadline``."""

    delivery: Delivery
    number: int
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    at: float
    deadline: float
    record: AttemptRecord
    generation: int


@dataclass(frozen=True)
class Finished:
    """What an answer did to its delivery."""

    delivery: Delivery
    record: AttemptRecord
    succeeded: bool
    gave_up: bool
    """The last attempt failed: the delivery has failed for good."""


class DeliverySchedule:
    """Every pending delivery, the attempts in flight and the journal of attempts."""

    def __init__(
        self,
        rules: WebhookDeliveryRules,
        *,
        seed: int = 0,
        on_bad_body: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.rules = rules
        self._seed = seed
        self._on_bad_body = on_bad_body
        """Told when making a body raised (its delivery is dropped)."""
        self.clear()

    def clear(self) -> None:
        """Forget every delivery, fault and record; answers to attempts in flight are ignored."""
        self._generation = getattr(self, "_generation", 0) + 1
        self._ids = random.Random(f"reader-mock|{self._seed}|webhook-delivery")
        self._seq = 0
        self._queues: dict[str, list[tuple[tuple[float, float, int], Delivery]]] = {}
        self._busy: dict[str, Delivery] = {}
        """The delivery in flight per target."""
        self._held: dict[str, list[Delivery]] = {}
        self._faults: list[DeliveryFault] = []
        self._next_fault_id = 1
        self._records: deque[AttemptRecord] = deque(maxlen=MAX_RECORDS)
        self._recorded = 0

    @property
    def generation(self) -> int:
        """Goes up at every :meth:`clear`; attempts carry the generation they started in."""
        return self._generation

    # ------------------------------------------------------------------ new deliveries

    def add(
        self,
        event: str,
        body: Body | bytes,
        *,
        target: str,
        now: float,
        signed: bool,
        webhook_id: str | None = None,
        job_id: str | None = None,
    ) -> list[Delivery]:
        """Queue ``event`` for ``target``; returns the deliveries made (two when a fault asks
        for a copy)."""
        self._seq += 1
        delivery = Delivery(
            seq=self._seq,
            id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            event=event,
            body=body if isinstance(body, Body) else Body(body),
            target=target,
            webhook_id=webhook_id,
            job_id=job_id,
            signed=signed,
            next_at=now,
            order=float(self._seq),
        )
        held = self._held.pop(target, [])
        made = [delivery]
        for fault in self._take_faults(event, signed):
            delivery.faults.append(fault.kind)
            if fault.kind == "duplicate":
                self._seq += 1
                copy = Delivery(**{**vars(delivery), "seq": self._seq, "faults": ["duplicate"]})
                copy.order = float(self._seq)
                made.append(copy)
            elif fault.kind == "delay":
                delivery.next_at = now + fault.seconds
            elif fault.kind == "out_of_order":
                delivery.held = True
                delivery.next_at = now + fault.seconds
                self._held.setdefault(target, []).append(delivery)
            elif fault.kind == "wrong_signature":
                delivery.wrong_signature = True
            else:
                delivery.stale_seconds = fault.seconds
        for item in made:
            self._push(item)
        for waiting in held:  # each held delivery lets this one pass, then follows it
            if waiting.state == "pending" and waiting.held:
                waiting.held = False
                waiting.next_at = min(waiting.next_at, made[-1].next_at)
                waiting.order = made[-1].order + 0.5
                self._push(waiting)
        return made

    def _take_faults(self, event: str, signed: bool) -> list[DeliveryFault]:
        taken: list[DeliveryFault] = []
        kinds: set[str] = set()
        for fault in list(self._faults):
            if fault.kind in kinds or not fault.matches(event, signed):
                continue
            kinds.add(fault.kind)
            taken.append(fault)
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
        return taken

    def _push(self, delivery: Delivery) -> None:
        heapq.heappush(self._queues.setdefault(delivery.target, []), (delivery.key(), delivery))

    def _head(self, target: str) -> Delivery | None:
        """The next delivery of ``target``, dropping entries that are no longer current."""
        queue = self._queues.get(target)
        while queue:
            key, delivery = queue[0]
            if delivery.state == "pending" and key == delivery.key():
                return delivery
            heapq.heappop(queue)
        self._queues.pop(target, None)
        return None

    # ------------------------------------------------------------------ the sender's side

    def next_due(self) -> float | None:
        """Clock time of the next attempt that can start (targets with one in flight wait)."""
        times = []
        for target in list(self._queues):
            if target in self._busy:
                continue
            head = self._head(target)
            if head is not None:
                times.append(head.next_at)
        return min(times, default=None)

    def take_due(self, now: float, resolve: Callable[[Delivery], Target | None]) -> list[Attempt]:
        """Start the attempts due at ``now``, at most one per target.

        ``resolve`` says where a delivery goes now, or ``None`` when its target is gone or
        inactive: the delivery is then cancelled.
        """
        started: list[Attempt] = []
        for target in list(self._queues):
            if target in self._busy:
                continue
            while (head := self._head(target)) is not None and head.next_at <= now:
                heapq.heappop(self._queues[target])
                where = resolve(head)
                if where is None:
                    head.state = "cancelled"
                    continue
                try:
                    body = head.body.get()
                except Exception as exc:  # a body the contract refuses is never sent
                    head.state = "cancelled"
                    if self._on_bad_body is not None:
                        self._on_bad_body(exc)
                    continue
                started.append(self._start(head, where, body, now))
                self._busy[target] = head
                break
        return started

    def _start(self, delivery: Delivery, where: Target, body: bytes, now: float) -> Attempt:
        delivery.attempts += 1
        delivery.state = "sending"
        first = delivery.attempts == 1
        headers = [
            ("Content-Type", "application/json"),
            ("User-Agent", USER_AGENT),
            ("X-Reader-Event", delivery.event),
            ("X-Reader-Delivery", delivery.id),
            *where.headers,
        ]
        timestamp = signature = None
        faults = tuple(delivery.faults) if first else ()
        if where.secret is not None:
            moment = int(now) - (round(delivery.stale_seconds) if first else 0)
            timestamp = str(moment)
            secret = where.secret
            if first and delivery.wrong_signature:
                secret = "not-the-secret-" + secret
            signature = sign(secret, timestamp, body)
            headers += [
                (self.rules.timestamp_header, timestamp),
                (self.rules.signature_header, signature),
            ]
        record = AttemptRecord(
            delivery_id=delivery.id,
            event=delivery.event,
            attempt=delivery.attempts,
            url=where.url,
            webhook_id=delivery.webhook_id,
            job_id=delivery.job_id,
            at=now,
            timestamp=timestamp,
            signature=signature,
            faults=faults,
        )
        self._records.append(record)
        self._recorded += 1
        return Attempt(
            delivery=delivery,
            number=delivery.attempts,
            url=where.url,
            headers=tuple(headers),
            body=body,
            at=now,
            deadline=now + self.rules.timeout_seconds,
            record=record,
            generation=self._generation,
        )

    def finish(
        self, attempt: Attempt, now: float, *, status: int | None, error: str | None
    ) -> Finished | None:
        """Record the answer to ``attempt``: an HTTP ``status``, or an ``error`` when none came
        (refused, timed out). Returns ``None`` for an attempt started before :meth:`clear`."""
        if attempt.generation != self._generation:
            return None
        delivery, record = attempt.delivery, attempt.record
        if self._busy.get(delivery.target) is delivery:
            del self._busy[delivery.target]
        record.status, record.error = status, error
        succeeded = status is not None and self.rules.is_success(status)
        gave_up = False
        if succeeded:
            delivery.state = "delivered"
            record.outcome, record.final = "succeeded", True
        elif delivery.state == "cancelled":
            record.outcome = "failed"
        elif delivery.attempts >= self.rules.attempts:
            delivery.state = "failed"
            record.outcome, record.final = "failed", True
            gave_up = True
        else:
            record.outcome = "failed"
            delivery.state = "pending"
            delays = self.rules.retry_delays_seconds
            delivery.next_at = now + delays[min(delivery.attempts, len(delays)) - 1]
            self._push(delivery)
        return Finished(delivery, record, succeeded, gave_up)

    # ------------------------------------------------------------------ stopping

    def cancel(self, accept: Callable[[Delivery], bool]) -> int:
        """Cancel the pending deliveries ``accept`` chooses (an attempt in flight ends, and is
        not retried); returns how many were cancelled."""
        candidates = [delivery for queue in self._queues.values() for _, delivery in queue]
        candidates += self._busy.values()
        count = 0
        for delivery in candidates:
            if delivery.state in ("pending", "sending") and accept(delivery):
                delivery.state = "cancelled"
                count += 1
        return count

    # ------------------------------------------------------------------ faults and journal

    def add_fault(
        self, kind: FaultKind, *, event: str | None = None, count: int = 1, seconds: float | None
    ) -> DeliveryFault:
        """Script ``kind`` for the next ``count`` deliveries of ``event`` (any when ``None``)."""
        fault = DeliveryFault(
            id=self._next_fault_id,
            kind=kind,
            event=event,
            remaining=count,
            seconds=DEFAULT_FAULT_SECONDS[kind] if seconds is None else seconds,
        )
        self._next_fault_id += 1
        self._faults.append(fault)
        return fault

    def faults(self) -> list[DeliveryFault]:
        """The pending faults, oldest first (copies)."""
        return [DeliveryFault(**vars(fault)) for fault in self._faults]

    def clear_faults(self) -> None:
        """Forget the pending faults."""
        self._faults.clear()

    def records(self) -> list[AttemptRecord]:
        """The attempts remembered, oldest first."""
        return list(self._records)

    @property
    def dropped(self) -> int:
        """Attempts no longer remembered (beyond :data:`MAX_RECORDS`)."""
        return self._recorded - len(self._records)
