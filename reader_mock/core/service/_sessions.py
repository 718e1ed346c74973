"""Browser sessions: ``/v1/sessions`` and ``/v1/sessions/{id}``."""

from __future__ import annotations

from typing import Any, Final

from .. import errors
from ..workspace import Session, Workspace
from ._core import ServiceCore
from ._deliveries import WebhookDeliveries

__all__ = ["Sessions"]

DEFAULT_SESSION_MS: Final = 3_600_000
MIN_SESSION_MS: Final = 60_000

_Rows = list[dict[str, Any]]


def _ws_base(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :]
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :]
    return base


def _find(workspace: Workspace, session_id: str) -> Session:
    session = workspace.sessions.get(session_id)
    if session is None:
        raise errors.session_not_found()
    return session


class Sessions:
    """Start, list, look at and stop browser sessions, billed by the minute."""

    def __init__(self, core: ServiceCore, deliveries: WebhookDeliveries) -> None:
        self._core = core
        self._deliveries = deliveries

    def create(self, api_key: str | None, body: object = None, *, base_url: str) -> dict[str, Any]:
        """``POST /v1/sessions``: a browser session; the first minute (1 credit) is charged now."""
        with self._core.lock:
            workspace, now = self._core.open(api_key)
            from .._input import BodyReader

            reader = BodyReader({} if body is None else body)
            reader.check()
            duration = reader.integer(
                "maxDurationMs",
                DEFAULT_SESSION_MS,
                minimum=MIN_SESSION_MS,
                maximum=DEFAULT_SESSION_MS,
            )
            reader.check()
            workspace.credits.require(1)
            session_id, token = workspace.ids.session()
            endpoint = f"{_ws_base(base_url)}/v1/sessions/{session_id}/cdp?token={token}"
            session = workspace.add_session(
                session_id, token, endpoint, now, duration or DEFAULT_SESSION_MS
            )
            self._deliveries.session_created(workspace, session)
            return session.view()

    def list(self, api_key: str | None) -> _Rows:
        """``GET /v1/sessions``: active sessions, oldest first."""
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            return [s.view() for s in workspace.sessions.values() if s.status == "active"]

    def get(self, api_key: str | None, session_id: str) -> dict[str, Any]:
        """``GET /v1/sessions/{id}``: a session in any state."""
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            return _find(workspace, session_id).view()

    def stop(self, api_key: str | None, session_id: str) -> dict[str, Any]:
        """``DELETE /v1/sessions/{id}``: stop and bill; a stopped or expired one is ``410``."""
        with self._core.lock:
            workspace, now = self._core.open(api_key)
            session = _find(workspace, session_id)
            if session.status != "active":
                raise errors.session_expired(stopped=session.status == "stopped")
            workspace.stop_session(session, now)
            self._deliveries.session_stopped(workspace, session)
            return session.stop_summary()
