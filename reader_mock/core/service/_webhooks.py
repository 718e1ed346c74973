"""The webhook subscriptions: ``/v1/webhooks`` and ``/v1/webhooks/{id}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import errors
from ..workspace import Webhook, Workspace
from ._core import ServiceCore
from ._deliveries import WebhookDeliveries
from ._pages import DEFAULT_LIMIT, Paginated, check_page, paginate

__all__ = ["Webhooks"]


def _find(workspace: Workspace, webhook_id: str) -> Webhook:
    webhook = workspace.webhooks.get(webhook_id)
    if webhook is None:
        raise errors.not_found("Webhook not found")
    return webhook


def _views(hooks: Sequence[Webhook]) -> list[dict[str, Any]]:
    return [hook.view() for hook in hooks]


class Webhooks:
    """Create, list, change and delete a workspace's webhook subscriptions."""

    def __init__(self, core: ServiceCore, deliveries: WebhookDeliveries) -> None:
        self._core = core
        self._deliveries = deliveries

    def create(self, api_key: str | None, body: object) -> dict[str, Any]:
        """``POST /v1/webhooks``: the new subscription, with its ``secret`` if one was given."""
        with self._core.lock:
            workspace, now = self._core.open(api_key)
            from ..webhook_request import parse_webhook_create

            fields = parse_webhook_create(body)
            limit = self._core.settings.max_webhooks
            if len(workspace.webhooks) >= limit:
                raise errors.conflict(f"Maximum of {limit} webhooks per workspace", limit=limit)
            webhook = Webhook(
                id=workspace.ids.webhook(),
                url=fields.url or "",
                name=fields.name or "",
                events=list(fields.events or ()),
                secret=fields.secret,
                headers=dict(fields.headers or {}),
                created_at=now,
                updated_at=now,
            )
            self._deliveries.listen()
            workspace.webhooks[webhook.id] = webhook
            return webhook.view(with_secret=True)

    def list(
        self, api_key: str | None, *, skip: int = 0, limit: int = DEFAULT_LIMIT, base_url: str
    ) -> Paginated:
        """``GET /v1/webhooks``: oldest first, never with secrets."""
        with self._core.lock:
            check_page(skip, limit)
            workspace, _ = self._core.open(api_key)
            hooks = tuple(workspace.webhooks.values())
            return paginate(
                hooks, _views, skip=skip, limit=limit, base_url=base_url, path="/v1/webhooks"
            )

    def update(self, api_key: str | None, webhook_id: str, body: object) -> dict[str, Any]:
        """``PATCH /v1/webhooks/{id}``: change any subset of fields; never shows the secret."""
        with self._core.lock:
            workspace, now = self._core.open(api_key)
            from ..webhook_request import parse_webhook_update

            changes = parse_webhook_update(body)
            webhook = _find(workspace, webhook_id)
            if changes.url is not None:
                webhook.url = changes.url
            if changes.name is not None:
                webhook.name = changes.name
            if changes.events is not None:
                webhook.events = list(changes.events)
            if changes.secret is not None:
                webhook.secret = changes.secret
            if changes.headers is not None:
                webhook.headers = dict(changes.headers)
            if changes.active is not None:
                webhook.active = changes.active
                if not webhook.active:
                    self._deliveries.stop_webhook(workspace.id, webhook.id)
            if changes.any():
                webhook.updated_at = now
            return webhook.view()

    def delete(self, api_key: str | None, webhook_id: str) -> dict[str, Any]:
        """``DELETE /v1/webhooks/{id}``."""
        with self._core.lock:
            workspace, _ = self._core.open(api_key)
            webhook = _find(workspace, webhook_id)
            del workspace.webhooks[webhook.id]
            self._deliveries.stop_webhook(workspace.id, webhook.id)
            return {"id": webhook.id}
