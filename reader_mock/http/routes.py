"""One thin route per REST operation.

Each route follows the documented order of checks: API key (401), rate limit (429, not for the two
streams), request validation against ``openapi.yaml`` (400), then the service call, which finds
the resource (404), checks its state (409/410), target URLs (403), credits (402) and concurrency
(429). The route's only other job is to wrap the result in its envelope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from quart import Quart, Request, Response, request
from quart.globals import _cv_request

from .._json import JsonInputError, loads
from ..contract import NO_BODY, check_request
from ..core import errors
from ..core.service import DEFAULT_LIMIT, Service
from ._responses import encoded_page, ok, paginated
from ._streams import StreamHub

__all__ = ["register_routes"]

_HOST: Final = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


async def _json_body() -> object:
    """The request body decoded as JSON (whatever the ``Content-Type``), or ``NO_BODY``; JSON
    the package does not accept (too deep, lone surrogates) is ``400``."""
    raw = await request.get_data()
    if not raw.strip():
        return NO_BODY
    try:
        return loads(raw)
    except JsonInputError as exc:
        problem = errors.issue(exc.path, exc.code, exc.message)
        raise errors.invalid_request(issues=[problem]) from None


_BASE_URLS: dict[tuple[str, str | None, object], str] = {}
"""Base URLs by scheme, ``Host`` header and server address: clients send the same few."""
_MAX_BASE_URLS: Final = 256


def _base_url() -> str:
    """The mock's own address as the client reached it, for pagination links (worked out once
    per scheme, ``Host`` and server address)."""
    current = current_request()
    scheme, server = current.scheme, current.scope.get("server")
    key = (scheme, request_headers(current).get("host"), server)
    found = _BASE_URLS.get(key)
    if found is None:
        found = _work_out_base_url(current)
        if len(_BASE_URLS) >= _MAX_BASE_URLS:
            _BASE_URLS.clear()
        _BASE_URLS[key] = found
    return found


def _work_out_base_url(current: Request) -> str:
    host = current.host
    if not _HOST.match(host):
        server = current.scope.get("server") or ("127.0.0.1", None)
        address, port = server[0], server[1]
        host = f"[{address}]" if ":" in str(address) else str(address)
        if port:
            host += f":{port}"
    return f"{current.scheme}://{host}"


def _message(
    issues: list[dict[str, str]], path: Mapping[str, str], query: Mapping[str, Any]
) -> str:
    first = issues[0]["path"].split(".", 1)[0]
    if first in path:
        return "Invalid path parameters"
    if first in query:
        return "Invalid query parameters"
    if first.startswith("x-"):
        return "Invalid request headers"
    return "Invalid request body"


def current_request() -> Request:
    """The request being handled, read from the context variable behind Quart's ``request``
    proxy: the proxy costs several calls per attribute."""
    return _cv_request.get().request


_LOWERED: Final = "_reader_mock_headers"


def request_headers(current: Request) -> dict[str, str]:
    """The request's headers by lower-case name (the first value of a repeated one), built once
    per request: a lookup of a missing name in Werkzeug's ``Headers`` raises and catches an
    exception, which costs more than the whole of this dict."""
    lowered: dict[str, str] | None = current.__dict__.get(_LOWERED)
    if lowered is None:
        # Reversed, so that the first value of a repeated name is the one kept.
        pairs = reversed(current.headers.to_wsgi_list())
        lowered = current.__dict__[_LOWERED] = {name.lower(): value for name, value in pairs}
    return lowered


def _query_value(current: Request, name: str, default: str) -> str:
    values = current.args.getlist(name)
    return values[0] if values else default


def _validate(
    operation_id: str, *, body: object = NO_BODY, path: Mapping[str, str] | None = None
) -> None:
    """Check the request against the contract; raise ``invalid_request`` with every issue."""
    current = current_request()
    query: dict[str, list[str]] = {}
    if current.query_string:  # most requests have none: no parsing then
        args = current.args
        query = {name: args.getlist(name) for name in args}
    found = check_request(
        operation_id,
        body=body,
        query=query,
        path_params=dict(path or {}),
        headers=request_headers(current),
    )
    if found:
        issues = [errors.issue(entry["path"], entry["code"], entry["message"]) for entry in found]
        raise errors.invalid_request(_message(issues, path or {}, query), issues)


def _page_args() -> tuple[int, int]:
    """``skip`` and ``limit`` (already validated) with their defaults."""
    current = current_request()
    if not current.query_string:
        return 0, DEFAULT_LIMIT
    skip = _query_value(current, "skip", "0")
    return int(skip), int(_query_value(current, "limit", str(DEFAULT_LIMIT)))


def register_routes(app: Quart, service: Service, hub: StreamHub) -> None:
    """Add every ``/v1`` route of ``openapi.yaml`` to ``app``."""

    def admit(*, count: bool = True) -> str | None:
        """Authenticate the caller and (except for streams) count the request."""
        api_key = request_headers(current_request()).get("x-api-key")
        service.admit(api_key, count=count)
        return api_key

    # ------------------------------------------------------------------ read and jobs

    @app.post("/v1/read")
    async def read() -> Response:
        api_key = admit()
        idempotency_key = request_headers(current_request()).get("x-idempotency-key")
        if idempotency_key is not None:
            # A repeat is replayed whatever its body, so look before parsing the body.
            replay = service.reads.replay(api_key, idempotency_key)
            if replay is not None:
                return ok(replay.data, replay.status)
        body = await _json_body()
        _validate("read", body=body)
        outcome = service.reads.submit(api_key, body, idempotency_key=idempotency_key)
        return ok(outcome.data, outcome.status)

    @app.get("/v1/jobs/<job_id>")
    async def get_job(job_id: str) -> Response:
        api_key = admit()
        _validate("getJob", path={"id": job_id})
        skip, limit = _page_args()
        return encoded_page(
            service.jobs.get_json(api_key, job_id, skip=skip, limit=limit, base_url=_base_url())
        )

    @app.delete("/v1/jobs/<job_id>")
    async def cancel_job(job_id: str) -> Response:
        api_key = admit()
        _validate("cancelJob", path={"id": job_id})
        return ok(service.jobs.cancel(api_key, job_id))

    @app.post("/v1/jobs/<job_id>/retry")
    async def retry_job(job_id: str) -> Response:
        api_key = admit()
        _validate("retryJob", path={"id": job_id})
        return ok(service.jobs.retry(api_key, job_id))

    # GET and HEAD on the two streams are served in front of the app (http/_stream_asgi.py);
    # these routes give their paths the methods that answer 405 and OPTIONS.
    @app.get("/v1/jobs/<job_id>/stream")
    async def stream_job(job_id: str) -> Response:
        raise RuntimeError("the per-job stream is served by the stream endpoint")

    @app.get("/v1/events")
    async def stream_events() -> Response:
        raise RuntimeError("the workspace stream is served by the stream endpoint")

    # ------------------------------------------------------------------ webhooks

    @app.post("/v1/webhooks")
    async def create_webhook() -> Response:
        api_key = admit()
        body = await _json_body()
        _validate("createWebhook", body=body)
        return ok(service.webhooks.create(api_key, body), 201)

    @app.get("/v1/webhooks")
    async def list_webhooks() -> Response:
        api_key = admit()
        _validate("listWebhooks")
        skip, limit = _page_args()
        return paginated(
            service.webhooks.list(api_key, skip=skip, limit=limit, base_url=_base_url())
        )

    @app.patch("/v1/webhooks/<webhook_id>")
    async def update_webhook(webhook_id: str) -> Response:
        api_key = admit()
        body = await _json_body()
        _validate("updateWebhook", body=body, path={"id": webhook_id})
        return ok(service.webhooks.update(api_key, webhook_id, body))

    @app.delete("/v1/webhooks/<webhook_id>")
    async def delete_webhook(webhook_id: str) -> Response:
        api_key = admit()
        _validate("deleteWebhook", path={"id": webhook_id})
        return ok(service.webhooks.delete(api_key, webhook_id))

    # ------------------------------------------------------------------ account

    @app.get("/v1/usage/credits")
    async def get_credits() -> Response:
        api_key = admit()
        _validate("getCredits")
        return ok(service.usage.credits(api_key))

    @app.get("/v1/usage/history")
    async def list_usage_history() -> Response:
        api_key = admit()
        _validate("listUsageHistory")
        skip, limit = _page_args()
        return paginated(
            service.usage.history(api_key, skip=skip, limit=limit, base_url=_base_url())
        )

    @app.get("/v1/api-keys")
    async def list_api_keys() -> Response:
        api_key = admit()
        _validate("listApiKeys")
        return ok(service.keys.list(api_key))

    @app.post("/v1/api-keys")
    async def create_api_key() -> Response:
        api_key = admit()
        body = await _json_body()
        _validate("createApiKey", body=body)
        return ok(service.keys.create(api_key, None if body is NO_BODY else body), 201)

    @app.delete("/v1/api-keys/<key_id>")
    async def revoke_api_key(key_id: str) -> Response:
        api_key = admit()
        _validate("revokeApiKey", path={"id": key_id})
        return ok(service.keys.revoke(api_key, key_id))

    @app.get("/v1/queue/status")
    async def get_queue_status() -> Response:
        api_key = admit()
        _validate("getQueueStatus")
        return ok(service.jobs.queue_status(api_key))

    # ------------------------------------------------------------------ sessions

    @app.post("/v1/sessions")
    async def create_session() -> Response:
        api_key = admit()
        body = await _json_body()
        _validate("createSession", body=body)
        created = service.sessions.create(
            api_key, None if body is NO_BODY else body, base_url=_base_url()
        )
        return ok(created, 201)

    @app.get("/v1/sessions")
    async def list_sessions() -> Response:
        api_key = admit()
        _validate("listSessions")
        return ok(service.sessions.list(api_key))

    @app.get("/v1/sessions/<session_id>")
    async def get_session(session_id: str) -> Response:
        api_key = admit()
        _validate("getSession", path={"id": session_id})
        return ok(service.sessions.get(api_key, session_id))

    @app.delete("/v1/sessions/<session_id>")
    async def stop_session(session_id: str) -> Response:
        api_key = admit()
        _validate("stopSession", path={"id": session_id})
        return ok(service.sessions.stop(api_key, session_id))
