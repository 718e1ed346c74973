"""The :class:`Service`: the shared core, and one object per resource of the API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from ..clock import Clock, ManualClock, RealClock
from ..fanout import EventHub
from ..ids import RequestIds
from ..journal import Journal
from ..settings import Settings
from ..workspace import Workspace
from ._core import ServiceCore
from ._deliveries import WebhookDeliveries
from ._jobs import Jobs
from ._keys import Keys
from ._reads import Reads
from ._scripts import Scripts
from ._sessions import Sessions
from ._usage import Usage
from ._webhooks import Webhooks

if TYPE_CHECKING:
    from ._streams import Streams

__all__ = ["Service"]


class Service:
    """The mock's domain: settings, a clock and the workspaces, with the REST operations grouped
    by resource (``service.jobs.get(...)``, ``service.webhooks.create(...)``, ...)."""

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.clock: Clock = clock if clock is not None else RealClock()
        self.unexpected_errors: list[BaseException] = []
        """Exceptions no handler expected; a healthy run leaves this empty."""
        self.events = EventHub(on_error=self.record_unexpected)
        self.journal = Journal(self.clock)
        """What was requested and streamed; cleared by :meth:`reset`."""
        self._core = ServiceCore(self.settings, self.clock, self.events)
        self._request_ids = RequestIds(self.settings.seed)
        self.scripts = Scripts(self._core.lock)
        """The timelines the next jobs play (set by tests and the control API)."""
        self.deliveries = WebhookDeliveries(self._core, self.record_unexpected)
        """Webhook deliveries: what is due, what was attempted, the scripted faults."""
        self.reads = Reads(self._core, self.scripts, self.deliveries)
        self.jobs = Jobs(self._core)
        self.webhooks = Webhooks(self._core, self.deliveries)
        self.keys = Keys(self._core)
        self.usage = Usage(self._core)
        self.sessions = Sessions(self._core, self.deliveries)

    def reset(self) -> None:
        """Forget all state: back to the workspaces and keys of the settings, as at start-up,
        with every seeded sequence (ids, generated content, request ids) starting again, an
        empty journal, and a manual clock back where it started (a real or scaled clock keeps
        its time). So the same calls give the same bytes, whatever ran before."""
        with self._core.lock:
            if isinstance(self.clock, ManualClock):
                self.clock.rewind()
            self._core.build_workspaces()
            self._request_ids = RequestIds(self.settings.seed)
            self.journal.clear()
            self.scripts.restart()
        self._core.schedule_changed()

    @cached_property
    def streams(self) -> Streams:
        """Where the two event streams start (loaded with the first stream: a server that only
        answers REST never needs it)."""
        from ._streams import Streams

        return Streams(self._core)

    @property
    def workspaces(self) -> Mapping[str, Workspace]:
        """Workspaces by id (``ws_1`` for the first configured key, and so on)."""
        return self._core.workspaces

    def record_unexpected(self, exc: BaseException) -> None:
        """Remember an exception that no handler expected (tests fail on these)."""
        self.unexpected_errors.append(exc)

    def new_request_id(self) -> str:
        """A fresh ``x-request-id`` value."""
        return self._request_ids.next()

    def authenticate(self, api_key: str | None) -> Workspace:
        """The workspace of an active key (and note the key's use), or ``401 unauthenticated``."""
        with self._core.lock:
            workspace, record = self._core.lookup(api_key)
            record.last_used_at = self.clock.now()
            return workspace

    def admit(self, api_key: str | None, *, count: bool = True) -> Workspace:
        """:meth:`authenticate`, then (with ``count``) :meth:`check_rate_limit`: what every
        request of the API does first, at one look at the clock."""
        clock = self.clock
        with self._core.lock:
            workspace, record = self._core.lookup(api_key)
            now = clock.now()
            record.last_used_at = now
            if count:
                workspace.rate.hit(now, clock.real_seconds)
            return workspace

    def check_rate_limit(self, workspace: Workspace) -> None:
        """Count one request toward the workspace's window, or raise ``429 rate_limited``."""
        with self._core.lock:
            workspace.rate.hit(self.clock.now(), self.clock.real_seconds)

    def settle(self, workspace: Workspace) -> None:
        """Apply everything due in ``workspace`` up to the clock's current time."""
        with self._core.lock:
            workspace.settle(self.clock.now())

    def settle_due(self, workspace: Workspace, now: float) -> None:
        """Apply what is due in ``workspace`` at or before clock time ``now``: nothing to look at
        when it was settled that far already and no job came since (every stream asks this on
        every turn)."""
        if workspace.settled_through >= now:
            return
        with self._core.lock:
            due = workspace.next_due()
            if due is not None and due <= now:
                workspace.settle(now)
            elif workspace.settled_through < now:
                workspace.settled_through = now

    def settle_all(self) -> None:
        """Settle every workspace (for a clock tick or a control request)."""
        with self._core.lock:
            now = self.clock.now()
            for workspace in self._core.workspaces.values():
                workspace.settle(now)

    def next_due(self, workspace: Workspace | None = None) -> float | None:
        """Clock time of the next scheduled change in ``workspace`` (default: any), if any."""
        with self._core.lock:
            chosen = self._core.workspaces.values() if workspace is None else [workspace]
            times = [w.next_due() for w in chosen]
            return min((t for t in times if t is not None), default=None)

    def on_schedule_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` whenever jobs are created, cancelled or retried (the next due time
        may have moved); returns a function that unsubscribes. Listeners must not block."""
        return self._core.on_schedule_change(listener)
