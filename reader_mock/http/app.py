"""The Quart application: routes, envelopes for every error, ``x-request-id``, CORS, body limit.

:func:`create_app` builds the app around a :class:`~reader_mock.core.service.Service`. Every
response carries a fresh ``x-request-id``, including errors, unknown routes (``404 not_found``),
unsupported methods (``405`` with ``Allow`` and an ``invalid_request`` envelope), CORS preflights
and streams. A body larger than ``Settings.max_body_bytes`` (1 MiB by default) is refused before
it is parsed with ``413`` and an ``invalid_request`` envelope. Anything unexpected is logged as
one line, recorded in ``service.unexpected_errors`` and answered ``500 internal_error``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..contract.requests import default_request_contract
from ..core import errors
from ..core.errors import ApiError
from ..core.service import Service
from ._asgi_answers import AppAnswers
from ._control import CONTROL_PREFIX, TOKEN_HEADER, ControlState, register_control, reset_mock
from ._cors import ALLOWED_HEADERS, CorsPolicy
from ._dashboard import DASHBOARD_PATHS, register_dashboard
from ._guard import CONTROL_ALLOWED_HEADERS, check_control_request
from ._peer import hung_up_among
from ._quart import MockQuart
from ._read_asgi import ReadEndpoint
from ._responses import error_response
from ._rules import LazyBuilderRule
from ._stream_asgi import StreamEndpoint
from ._stream_hub import StreamHub, prepare_frame
from ._unread_bodies import UnreadBodyGuard
from ._webhook_sender import WebhookSender
from .routes import current_request, register_routes, request_headers

__all__ = ["AppState", "app_state", "close_streams", "create_app", "halt_streams", "reset_app"]

_EXTENSION: Final = "reader_mock"
_API_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID: Final = "_reader_mock_request_id"
"""Where a request keeps its id, on the request itself (cheaper than Quart's ``g`` proxy)."""
_log = logging.getLogger("reader_mock.http")


@dataclass(frozen=True)
class AppState:
    """What an app built by :func:`create_app` carries in ``app.extensions["reader_mock"]``."""

    service: Service
    streams: StreamHub
    cors: CorsPolicy
    control: ControlState


def app_state(app: Quart) -> AppState:
    """The :class:`AppState` of an app built by :func:`create_app`."""
    state = app.extensions[_EXTENSION]
    assert isinstance(state, AppState)
    return state


def close_streams(app: Quart) -> None:
    """End every open event stream of ``app`` and refuse new ones (thread-safe).

    Call it before stopping the server: a server waits for open responses, and the workspace
    stream never ends by itself.
    """
    app_state(app).streams.close()


def halt_streams(app: Quart) -> None:
    """Make every open event stream of ``app`` stop writing at its next step, waking none:
    safe in a signal handler. :func:`close_streams` must follow, in the server's loop."""
    app_state(app).streams.stop_writing()


def reset_app(app: Quart) -> None:
    """Reset the mock ``app`` serves, as ``POST /_mock/reset`` does: open streams end (the journal
    shows them closed for ``shutdown``); jobs, scripted timelines, faults and the journal are
    forgotten. Safe from any thread."""
    state = app_state(app)
    reset_mock(state.service, state.streams, state.control)


def _http_error(error: HTTPException, max_body: int) -> ApiError:
    status = error.code or 500
    if status == 404:
        return errors.not_found("Not found")
    if isinstance(error, MethodNotAllowed):
        allowed = ", ".join(sorted(error.valid_methods or ()))
        problem = errors.invalid_request(
            f"Method {request.method} is not allowed on this path", status=405
        )
        problem.headers["Allow"] = allowed
        return problem
    if status == 413:
        return errors.invalid_request(
            issues=[errors.issue("", "too_big", f"Request body must be at most {max_body} bytes")],
            status=413,
        )
    if status < 500:
        return errors.invalid_request(error.description or "Bad request", status=status)
    return errors.internal_error()


def create_app(service: Service, *, control_token: str | None = None) -> Quart:
    """A Quart app serving the Reader REST API from ``service``, and the control API under
    ``/_mock/`` (which then needs ``control_token`` in ``x-mock-token`` when one is given)."""
    app = MockQuart("reader_mock", static_folder=None)
    app.url_rule_class = LazyBuilderRule
    app.config["MAX_CONTENT_LENGTH"] = service.settings.max_body_bytes
    # A path with doubled slashes is a different path, not a redirect.
    app.url_map.merge_slashes = False
    hub = StreamHub(service)
    service.events.prepare = prepare_frame  # planned events are prepared for the streams
    service.journal.ask_peers = hung_up_among  # one poll for every open stream's client
    control = register_control(app, service, hub, control_token)
    register_dashboard(app)
    state = AppState(service, hub, CorsPolicy(service.settings.cors_origins), control)
    app.extensions[_EXTENSION] = state
    register_routes(app, service, state.streams)
    # What every first request would otherwise wait for: the URL matcher and the contract's index
    # of operations (JSON Schema itself loads when an operation first has something to check).
    app.url_map.update()
    default_request_contract()
    # Answers decided before the body is read wait for the rest of it, or close the connection.
    app.asgi_app = UnreadBodyGuard(app.asgi_app)  # type: ignore[method-assign,assignment]
    # The reads and the two streams never build a Quart request: a read costs half as much, an
    # idle stream little, and a stream's write goes straight to the server (docs/architecture.md,
    # "In front of the app" and "The streams on the wire").
    answers = AppAnswers(service, state.cors, control)
    reads = ReadEndpoint(app.asgi_app, answers)
    app.asgi_app = StreamEndpoint(reads, answers, hub)  # type: ignore[method-assign,assignment]

    sender = WebhookSender(service)

    @app.before_serving
    async def start_driver() -> None:
        hub.reopen()  # closed by the previous stop, if any
        hub.ensure_driver()
        sender.start()

    @app.after_serving
    async def stop_driver() -> None:
        hub.close()
        await sender.stop()
        if hub.driver is not None:
            await hub.driver.stop()

    @app.before_request
    async def start() -> Response | None:
        # The request itself rather than its context-local proxy, looked up once.
        current = current_request()
        current.__dict__[_REQUEST_ID] = service.new_request_id()
        method, path, headers = current.method, current.path, current.headers
        is_control = path.startswith(CONTROL_PREFIX)
        if is_control:
            server = current.scope.get("server")
            refusal = check_control_request(
                method, headers, str(server[0]) if server else None, state.cors
            )
            if refusal is not None:
                raise refusal
        is_preflight = (
            method == "OPTIONS"
            and "Access-Control-Request-Method" in headers
            and (is_control or path.startswith("/v1/"))
        )
        if is_preflight:
            # Any path and any method: the real answer (404, 405) must reach the page.
            rule = current.url_rule if current.routing_exception is None else None
            methods = set(rule.methods or ()) if rule is not None else set(_API_METHODS)
            asked = headers["Access-Control-Request-Method"].strip().upper()
            if asked.isascii() and asked.isalpha():
                methods.add(asked)
            allowed = CONTROL_ALLOWED_HEADERS if is_control else ALLOWED_HEADERS
            return state.cors.preflight(headers.get("Origin"), methods, allowed)
        if is_control and path not in DASHBOARD_PATHS:
            if not control.token_ok(headers.get(TOKEN_HEADER)):
                raise ApiError("unauthenticated", "Missing or invalid control token")
        elif control.has_faults and path.startswith("/v1/") and method != "OPTIONS":
            await control.apply_fault(method, path)
        return None

    @app.after_request
    async def finish(response: Response) -> Response:
        current = current_request()
        request_id = current.__dict__.get(_REQUEST_ID) or service.new_request_id()
        # No answer carries the header before this point: added, not looked for and replaced.
        response.headers.add("x-request-id", request_id)
        method, path = current.method, current.path
        cross_origin = path.startswith(("/v1/", CONTROL_PREFIX))
        if cross_origin and method != "OPTIONS":
            state.cors.decorate(response, request_headers(current).get("origin"))
        if not path.startswith(CONTROL_PREFIX):
            service.journal.note_request(
                method,
                path,
                status=response.status_code,
                query=current.query_string,
                headers=current.headers.to_wsgi_list(),
                request_id=request_id,
            )
        return response

    @app.errorhandler(ApiError)
    async def api_error(error: ApiError) -> Response:
        return error_response(error)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        response = error_response(_http_error(error, service.settings.max_body_bytes))
        if response.status_code == 413:
            # The body may be far larger than the limit: the connection is not reused.
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        service.record_unexpected(error)
        _log.error(
            "unexpected %s on %s %s: %s", type(error).__name__, request.method, request.path, error
        )
        return error_response(errors.internal_error())

    return app
