"""The API keys of a workspace: ``/v1/api-keys`` and ``/v1/api-keys/{id}``."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..clock import format_timestamp
from ..workspace import ApiKeyRecord
from ._core import ServiceCore

__all__ = ["Keys"]

_Rows = list[dict[str, Any]]
#: The name of a key created without one.
_DEFAULT_NAME = "API key"


class Keys:
    """List, issue and revoke the keys that open a workspace."""

    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    def list(self, api_key: str | None) -> _Rows:
        """``GET /v1/api-keys``: every key, revoked ones included, oldest first."""
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            return [record.summary() for record in workspace.api_keys.values()]

    def create(self, api_key: str | None, body: object = None) -> dict[str, Any]:
        """``POST /v1/api-keys``: a new key for the same workspace; the raw key is shown once.

        ``body`` ``None`` means no body was sent.
        """
        core = self._core
        with core.lock:
            workspace, now = core.open(api_key)
            from .._input import BodyReader

            reader = BodyReader({} if body is None else body)
            reader.check()
            name = reader.string("name", _DEFAULT_NAME, min_length=1)
            reader.check()
            limit = core.settings.max_api_keys
            if workspace.active_api_keys() >= limit:
                raise errors.conflict(
                    f"Maximum of {limit} active API keys per workspace", limit=limit
                )
            secret = workspace.ids.api_key_secret()
            while secret in core.keys:  # practically never; keeps keys unique regardless
                secret = workspace.ids.api_key_secret()
            record = ApiKeyRecord(
                id=workspace.ids.api_key_id(),
                name=name or _DEFAULT_NAME,
                secret=secret,
                created_at=now,
            )
            workspace.api_keys[record.id] = record
            core.keys[secret] = (workspace, record)
            return {
                "id": record.id,
                "name": record.name,
                "key": secret,
                "last4": secret[-4:],
                "createdAt": format_timestamp(now),
            }

    def revoke(self, api_key: str | None, key_id: str) -> dict[str, Any]:
        """``DELETE /v1/api-keys/{id}``: revoke (again: still 200); 404 for unknown ids."""
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            record = workspace.api_keys.get(key_id)
            if record is None:
                raise errors.not_found("API key not found")
            record.active = False
            return {"id": record.id}
