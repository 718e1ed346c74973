"""One thin route per REST operation.

Each route follows the documented order of checks: API key (401), rate limit (429, not for the two
streams), request validation against ``openapi.yaml`` (400), then the service call, which finds
the resource (404), checks its state (409/410), target URLs (403), credits (402) and concurrency
(429). The route's only other job is to wrap the result in its envelope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from quart import Quart, Request, Response, request
from quart.globals import _cv_request

from .._json import JsonInputError, loads
from ..contract import NO_BODY, check_request
from ..core import errors
from ..core.service import DEFAULT_LIMIT, Service
from ._reads import READS, Read, ReadArgs, base_url, page_args
from ._responses import json_body_response, ok
from ._stream_hub import StreamHub

__all__ = ["register_routes"]


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


def _base_url() -> str:
    """The mock's own address as the client reached it, for pagination links."""
    current = current_request()
    server = current.scope.get("server")
    return base_url(current.scheme, request_headers(current).get("host"), server)


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


def _query() -> dict[str, list[str]]:
    """The request's query, every value of each name in order (most requests have none: no
    parsing then)."""
    current = current_request()
    if not current.query_string:
        return {}
    args = current.args
    return {name: args.getlist(name) for name in args}


def _validate(
    operation_id: str,
    *,
    body: object = NO_BODY,
    path: Mapping[str, str] | None = None,
    query: dict[str, list[str]] | None = None,
) -> None:
    """Check the request against the contract; raise ``invalid_request`` with every issue."""
    if query is None:
        query = _query()
    found = check_request(
        operation_id,
        body=body,
        query=query,
        path_params=dict(path or {}),
        headers=request_headers(current_request()),
    )
    if found:
        raise errors.request_issues(found, path or {}, query)


def register_routes(app: Quart, service: Service, hub: StreamHub) -> None:
    """Add every ``/v1`` route of ``openapi.yaml`` to ``app``."""

    def admit(*, count: bool = True) -> str | None:
        """Authenticate the caller and (except for streams) count the request."""
        api_key = request_headers(current_request()).get("x-api-key")
        service.admit(api_key, count=count)
        return api_key

    def read_view(read: Read) -> Callable[..., Awaitable[Response]]:
        """The route of a read; the read endpoint in front of the app answers most of these
        requests itself (http/_read_asgi.py), with the same answers."""

        async def view(**params: str) -> Response:
            api_key = admit()
            ident = next(iter(params.values()), "")
            query = _query()
            _validate(read.operation_id, path={"id": ident} if params else None, query=query)
            skip, limit = page_args(query) if read.paged else (0, DEFAULT_LIMIT)
            args = ReadArgs(api_key, ident, skip, limit, _base_url)
            return json_body_response(read.answer(service, args))

        return view

    for operation in READS:
        app.add_url_rule(operation.rule, operation.endpoint, read_view(operation), methods=["GET"])

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

    @app.delete("/v1/sessions/<session_id>")
    async def stop_session(session_id: str) -> Response:
        api_key = admit()
        _validate("stopSession", path={"id": session_id})
        return ok(service.sessions.stop(api_key, session_id))
