"""The state every operation shares: workspaces and keys, the lock, the schedule listeners."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .. import errors
from ..clock import Clock
from ..fanout import EventHub
from ..settings import Settings
from ..workspace import ApiKeyRecord, Workspace

__all__ = ["ServiceCore"]


class ServiceCore:
    """What the resource objects of one service share.

    One re-entrant lock guards all state, because a test thread may call the service (or move a
    manual clock) while the server's event loop serves requests. Every operation runs under it.
    """

    def __init__(self, settings: Settings, clock: Clock, hub: EventHub) -> None:
        self.settings = settings
        self.clock = clock
        self.hub = hub
        self.lock = threading.RLock()
        self.workspaces: dict[str, Workspace] = {}
        """Workspaces by id (``ws_1`` for the first configured key, and so on)."""
        self.keys: dict[str, tuple[Workspace, ApiKeyRecord]] = {}
        """Every key ever issued, by its secret (revoked ones too, so none is issued twice)."""
        self._schedule_listeners: list[Callable[[], None]] = []
        self.build_workspaces()

    def build_workspaces(self) -> None:
        """Start over with one workspace and one key per configured API key."""
        now = self.clock.now()
        self.workspaces = {}
        self.keys = {}
        for index, secret in enumerate(self.settings.api_keys, start=1):
            workspace = Workspace(f"ws_{index}", self.settings, now=now, hub=self.hub)
            record = ApiKeyRecord(
                id=workspace.ids.api_key_id(), name="Default key", secret=secret, created_at=now
            )
            workspace.api_keys[record.id] = record
            self.workspaces[workspace.id] = workspace
            self.keys[secret] = (workspace, record)

    def lookup(self, api_key: str | None) -> tuple[Workspace, ApiKeyRecord]:
        """The workspace and record of an active key, or ``401 unauthenticated``."""
        found = self.keys.get(api_key or "")
        if found is None or not found[1].active:
            raise errors.unauthenticated()
        return found

    def open(self, api_key: str | None) -> tuple[Workspace, float]:
        """The caller's workspace settled up to now, and now: where every operation starts.

        The caller holds :attr:`lock`. Operations authenticate by themselves (without noting the
        key's use, which the HTTP layer did), so tests can call them directly.
        """
        workspace, _ = self.lookup(api_key)
        now = self.clock.now()
        workspace.settle(now)
        return workspace, now

    def on_schedule_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` whenever the next due time may have moved; returns a function
        that unsubscribes."""
        with self.lock:
            self._schedule_listeners.append(listener)

        def unsubscribe() -> None:
            with self.lock:
                if listener in self._schedule_listeners:
                    self._schedule_listeners.remove(listener)

        return unsubscribe

    def schedule_changed(self) -> None:
        """Tell the listeners (called after jobs are created, cancelled or retried, or a reset)."""
        for listener in list(self._schedule_listeners):
            listener()
