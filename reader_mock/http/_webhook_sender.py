"""Webhook attempts over real HTTP: a thin httpx adapter around the core's delivery schedule.

One task in the server's event loop asks the schedule for the attempts due on the mock's clock and
starts each as its own task, so a slow or dead receiver holds up only its own target. An attempt
ends with the receiver's status, with the error that stopped it (refused, reset), or when the
mock's clock passes its deadline (the contract's 10 s timeout, in clock seconds). Nothing here
decides what is sent or when: that is :class:`~reader_mock.core.delivery.DeliverySchedule`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.clock import Clock
from ..core.scheduler import Wake, wait_for_clock
from ..core.service import Service

if TYPE_CHECKING:
    import httpx

    from ..core.delivery import Attempt

__all__ = ["WebhookSender"]

_MAX_CONNECTIONS = 100


class WebhookSender:
    """Performs a service's webhook attempts from the event loop it is started in."""

    def __init__(self, service: Service) -> None:
        self._deliveries = service.deliveries
        self._clock: Clock = service.clock
        self._on_error: Callable[[BaseException], None] = service.record_unexpected
        self._task: asyncio.Task[None] | None = None
        self._attempts: dict[asyncio.Task[None], int] = {}
        self._client: httpx.AsyncClient | None = None
        self._poked = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the sender runs (in some loop)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Run in the current event loop (no-op when already running)."""
        if self.running:
            return
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(Wake()), name="reader-mock-webhooks")

    async def stop(self) -> None:
        """Stop, abandoning the attempts in flight (idempotent)."""
        task, self._task = self._task, None
        pending = [*self._attempts, *([task] if task is not None else [])]
        self._attempts.clear()
        for item in pending:
            item.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _run(self, rearm: Wake) -> None:
        loop = asyncio.get_running_loop()

        def poke() -> None:
            # Called under the service lock, from any thread: only wake the loop, once.
            if self._poked.is_set():
                return
            self._poked.set()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to wake
                loop.call_soon_threadsafe(rearm.set)

        stop_clock = self._clock.subscribe(poke)
        stop_changes = self._deliveries.on_change(poke)
        try:
            while True:
                rearm.clear()
                self._poked.clear()
                self._abandon_stale()
                try:
                    due = self._start_due(loop)
                except Exception as exc:  # a bug: report it, and wait for the next change
                    self._on_error(exc)
                    due = None
                if due is None:
                    await rearm.wait()
                else:
                    await wait_for_clock(self._clock, due, rearm)
        finally:
            stop_clock()
            stop_changes()

    def _start_due(self, loop: asyncio.AbstractEventLoop) -> float | None:
        """Start the attempts due now; returns when the next one is due."""
        for attempt in self._deliveries.take_due():
            task = loop.create_task(self._attempt(attempt))
            self._attempts[task] = attempt.generation
            task.add_done_callback(self._forget)
        return self._deliveries.next_due()

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._attempts.pop(task, None)

    def _abandon_stale(self) -> None:
        """After a reset, attempts still in flight belong to a mock that no longer exists."""
        generation = self._deliveries.generation
        for task, started_in in list(self._attempts.items()):
            if started_in != generation:
                task.cancel()

    def _http_client(self) -> httpx.AsyncClient:
        """The client of every attempt, made (with httpx and its TLS context) for the first."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=None,  # the deadline is on the mock's clock
                follow_redirects=False,
                trust_env=False,  # no proxy from the environment: receivers are often on loopback
                limits=httpx.Limits(max_connections=_MAX_CONNECTIONS),
            )
        return self._client

    async def _attempt(self, attempt: Attempt) -> None:
        client = self._http_client()
        status: int | None = None
        error: str | None = None
        request = asyncio.ensure_future(
            client.post(attempt.url, content=attempt.body, headers=list(attempt.headers))
        )
        deadline = asyncio.ensure_future(self._clock.wait_until(attempt.deadline))
        try:
            await asyncio.wait({request, deadline}, return_when=asyncio.FIRST_COMPLETED)
            if request.done():
                failure = request.exception()
                if failure is None:
                    status = request.result().status_code
                else:
                    error = _describe(failure)
            else:
                error = f"no answer within {attempt.deadline - attempt.at:g} s of clock time"
        finally:
            for future in (request, deadline):
                future.cancel()
            await asyncio.gather(request, deadline, return_exceptions=True)
        try:
            self._deliveries.finish(attempt, status=status, error=error)
        except Exception as exc:  # the journal must not lose the sender
            self._on_error(exc)


def _describe(failure: BaseException) -> str:
    detail = str(failure)
    return f"{type(failure).__name__}: {detail}" if detail else type(failure).__name__
