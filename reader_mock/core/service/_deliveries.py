"""Webhook deliveries of a service: events in, attempts out, ``deliveryStats`` kept.

Job events arrive from the service's :class:`~reader_mock.core.fanout.EventHub` (subscribed from
the first webhook on, so a mock without webhooks pays nothing); session and credit events from
the operations that cause them. Each event goes to every active subscription of the workspace
that lists it, and a job event also to the inline ``webhook`` of the read that made the job.
Bodies are checked against the contract before anything is queued. The schedule itself is
:class:`~reader_mock.core.delivery.DeliverySchedule`; a sender (the HTTP layer) performs the
attempts it hands out.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from reader_mock._values import thaw
from reader_mock.contract import Channel
from reader_mock.sse.encoder import json_text

from ..clock import format_timestamp
from ..fanout import JobEvent
from ..webhook_events import JOB_EVENTS, job_webhook_event
from ..workspace import Session, Workspace
from ._core import ServiceCore

if TYPE_CHECKING:
    from reader_mock.contract.webhook_checks import WebhookChecks

    from ..delivery import Attempt, Delivery, DeliveryFault, DeliverySchedule, FaultKind, Target

__all__ = ["WebhookDeliveries"]

_Place = tuple[str, str | None, str | None]  # workspace id, webhook id, job id
_ENDED = frozenset({"completed", "failed", "cancelled"})


def credit_threshold(limit: int) -> int:
    """The smallest whole balance that is not below 10 % of ``limit``."""
    return math.ceil(limit / 10)


class WebhookDeliveries:
    """The deliveries of one service. Every method takes the service lock; listeners given to
    :meth:`on_change` run under it and must only wake something up."""

    def __init__(self, core: ServiceCore, on_error: Callable[[BaseException], None]) -> None:
        self._core = core
        self._on_error = on_error
        self._schedule: DeliverySchedule | None = None
        self._checked_headers: set[tuple[str, ...]] = set()
        self._listeners: list[Callable[[], None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._status: dict[tuple[str, str], str] = {}
        self._low: dict[str, bool] = {}
        self._places: dict[str, _Place] = {}
        self._inline: dict[str, Target] = {}
        """The inline webhook of each job that has deliveries, taken when the first is queued:
        a job the retention policy forgets still gets the retries of its last deliveries."""

    # ------------------------------------------------------------------ wiring

    @property
    def schedule(self) -> DeliverySchedule:
        """The delivery schedule, made (with the contract's delivery rules) on first use: a mock
        whose tests never use webhooks does not load them."""
        schedule = self._schedule
        if schedule is None:
            from reader_mock.contract import webhook_delivery_rules

            from ..delivery import DeliverySchedule

            with self._core.lock:
                schedule = self._schedule
                if schedule is None:
                    schedule = self._schedule = DeliverySchedule(
                        webhook_delivery_rules(),
                        seed=self._core.settings.seed,
                        on_bad_body=self._on_error,
                    )
        return schedule

    @property
    def _started(self) -> bool:
        """Whether anything was ever scheduled, scripted or recorded (since the start)."""
        return self._schedule is not None

    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` when an attempt may have become due or a reset happened;
        returns the unsubscriber."""
        with self._core.lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._core.lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    @property
    def listening(self) -> bool:
        """Whether job events are followed (from the first webhook until a reset)."""
        return self._unsubscribe is not None

    def listen(self) -> None:
        """Follow job events from now on, knowing where every job and balance stands."""
        with self._core.lock:
            if self._unsubscribe is not None:
                return
            for workspace in self._core.workspaces.values():
                for job in workspace.jobs.values():
                    self._status[(workspace.id, job.id)] = job.status
                self._low[workspace.id] = self._is_low(workspace)
            self._unsubscribe = self._core.hub.subscribe(self._on_job_event)

    def reset(self) -> None:
        """Forget every delivery, fault and attempt; answers still on their way are ignored."""
        with self._core.lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            if self._started:
                self.schedule.clear()
            self._status.clear()
            self._low.clear()
            self._places.clear()
            self._inline.clear()
            self._changed()

    # ------------------------------------------------------------------ events in

    def _on_job_event(self, event: JobEvent) -> None:
        """An EventHub subscriber: runs under the service lock, only queues."""
        key = (event.workspace_id, event.job_id)
        previous = self._status.get(key)
        if event.channel is Channel.WORKSPACE:
            status = event.payload.get("status")
            if event.name == "job:completed":
                status = "completed"
            elif event.name == "job:failed":
                status = "failed"
            if isinstance(status, str):
                if status in _ENDED:
                    self._status.pop(key, None)
                else:
                    self._status[key] = status
        workspace = self._core.workspaces.get(event.workspace_id)
        if workspace is None:
            return
        mapped = job_webhook_event(event, previous)
        if mapped is not None:
            self._emit(workspace, mapped[0], mapped[1], job_id=event.job_id)
        self._check_credits(workspace)

    def session_created(self, workspace: Workspace, session: Session) -> None:
        """A browser session was created (and its first minute charged)."""
        with self._core.lock:
            if self.listening:
                self._emit(workspace, "session.created", session.view())
                self._check_credits(workspace)

    def session_stopped(self, workspace: Workspace, session: Session) -> None:
        """A browser session was stopped (and billed)."""
        with self._core.lock:
            if self.listening:
                self._emit(workspace, "session.stopped", session.stop_summary())
                self._check_credits(workspace)

    def credits_changed(self, workspace: Workspace) -> None:
        """Credits may have been spent outside a job (a synchronous scrape)."""
        with self._core.lock:
            if self.listening:
                self._check_credits(workspace)

    @staticmethod
    def _is_low(workspace: Workspace) -> bool:
        credits = workspace.credits
        return credits.balance < credit_threshold(credits.limit)

    def _check_credits(self, workspace: Workspace) -> None:
        low = self._is_low(workspace)
        was = self._low.get(workspace.id, False)
        self._low[workspace.id] = low
        if low and not was:
            credits = workspace.credits
            body = {**credits.snapshot(), "threshold": credit_threshold(credits.limit)}
            self._emit(workspace, "credit.low", body)

    def _emit(
        self,
        workspace: Workspace,
        name: str,
        payload: Mapping[str, Any],
        *,
        job_id: str | None = None,
    ) -> None:
        targets: list[tuple[str, _Place, bool]] = [
            (f"{workspace.id}/{hook.id}", (workspace.id, hook.id, None), hook.secret is not None)
            for hook in workspace.webhooks.values()
            if hook.active and name in hook.events
        ]
        if job_id is not None and name in JOB_EVENTS:
            job = workspace.jobs.get(job_id)
            inline = job.options.webhook if job is not None else None
            if inline is not None and name in inline["events"]:
                place: _Place = (workspace.id, None, job_id)
                key = f"{workspace.id}/{job_id}"
                from ..delivery import Target

                self._inline[key] = Target(str(inline["url"]), inline.get("secret"))
                targets.append((key, place, "secret" in inline))
        if not targets:
            return
        from ..delivery import Body

        body = Body(functools.partial(self._render, name, payload))
        now = self._core.clock.now()
        for target, place, signed in targets:
            self._places[target] = place
            self.schedule.add(
                name,
                body,
                target=target,
                now=now,
                signed=signed,
                webhook_id=place[1],
                job_id=job_id,
            )
        self._changed()

    def _render(self, name: str, payload: Mapping[str, Any]) -> bytes:
        """The body of a delivery, checked against the contract's message first."""
        data = thaw(payload)
        violations = _checks().check_body(name, data)
        if violations:
            from reader_mock.contract import ContractViolation

            raise ContractViolation(violations)
        return json_text(data).encode()

    # ------------------------------------------------------------------ the sender's side

    def next_due(self) -> float | None:
        """Clock time of the next attempt that can start, if any."""
        with self._core.lock:
            return self.schedule.next_due() if self._started else None

    @property
    def generation(self) -> int:
        """Changes at every reset: attempts of an older generation are to be abandoned (there
        are none before the schedule exists)."""
        return self.schedule.generation if self._started else 0

    def take_due(self) -> list[Attempt]:
        """Start the attempts due now (the sender performs them)."""
        with self._core.lock:
            if not self._started:
                return []
            attempts = self.schedule.take_due(self._core.clock.now(), self._resolve)
            for attempt in attempts:
                if attempt.number == 1:
                    self._check_headers(attempt)
            return attempts

    def _check_headers(self, attempt: Attempt) -> None:
        """Check the headers once per event and set of header names (the values are made the
        same way every time)."""
        shape = (attempt.delivery.event, *(name for name, _ in attempt.headers))
        if shape in self._checked_headers:
            return
        self._checked_headers.add(shape)
        violations = _checks().check_headers(attempt.delivery.event, dict(attempt.headers))
        if violations:
            from reader_mock.contract import ContractViolation

            self._on_error(ContractViolation(violations))

    def _resolve(self, delivery: Delivery) -> Target | None:
        place = self._places.get(delivery.target)
        workspace = self._core.workspaces.get(place[0]) if place is not None else None
        if place is None or workspace is None:
            return None
        webhook_id = place[1]
        if webhook_id is not None:
            from ..delivery import Target

            hook = workspace.webhooks.get(webhook_id)
            if hook is None or not hook.active:
                return None
            return Target(hook.url, hook.secret, tuple(hook.headers.items()))
        return self._inline.get(delivery.target)

    def finish(self, attempt: Attempt, *, status: int | None, error: str | None) -> None:
        """Record the answer to an attempt and count it in the subscription's ``deliveryStats``."""
        with self._core.lock:
            finished = self.schedule.finish(
                attempt, self._core.clock.now(), status=status, error=error
            )
            if finished is None:
                return
            place = self._places.get(attempt.delivery.target)
            workspace = self._core.workspaces.get(place[0]) if place is not None else None
            hook_id = attempt.delivery.webhook_id
            hook = workspace.webhooks.get(hook_id) if workspace and hook_id else None
            if hook is not None:
                stats = hook.delivery_stats
                stats["totalAttempts"] += 1
                stats["lastDeliveryAt"] = format_timestamp(attempt.at)
                stats["lastDeliveryStatus"] = status
                if finished.gave_up:
                    stats["failedDeliveries"] += 1
            self._changed()

    # ------------------------------------------------------------------ subscriptions change

    def stop_webhook(self, workspace_id: str, webhook_id: str) -> int:
        """A subscription was deleted or deactivated: its pending attempts will not be made."""
        with self._core.lock:
            if not self._started:
                return 0
            target = f"{workspace_id}/{webhook_id}"
            return self.schedule.cancel(lambda delivery: delivery.target == target)

    # ------------------------------------------------------------------ faults and journal

    def add_fault(
        self,
        kind: FaultKind,
        *,
        event: str | None = None,
        count: int = 1,
        seconds: float | None = None,
    ) -> DeliveryFault:
        """Script ``kind`` for the next ``count`` deliveries of ``event`` (any when ``None``)."""
        with self._core.lock:
            return self.schedule.add_fault(kind, event=event, count=count, seconds=seconds)

    def faults(self) -> list[DeliveryFault]:
        """The scripted faults still waiting for a delivery."""
        with self._core.lock:
            return self.schedule.faults() if self._started else []

    def clear_faults(self) -> None:
        """Forget the scripted faults."""
        with self._core.lock:
            if self._started:
                self.schedule.clear_faults()

    def attempts(
        self, *, event: str | None = None, webhook_id: str | None = None, job_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every attempt remembered, oldest first, as JSON objects (optionally filtered)."""
        with self._core.lock:
            if not self._started:
                return []
            return [
                record.to_dict()
                for record in self.schedule.records()
                if (event is None or record.event == event)
                and (webhook_id is None or record.webhook_id == webhook_id)
                and (job_id is None or record.job_id == job_id)
            ]


def _checks() -> WebhookChecks:
    """The contract's webhook checks, loaded with JSON Schema on the first delivery."""
    from reader_mock.contract.webhook_checks import default_webhook_checks

    return default_webhook_checks()
