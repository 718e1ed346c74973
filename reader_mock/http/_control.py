"""The control API under ``/_mock/``: drive the mock from a test in any language.

It scripts the next jobs, injects faults into ``/v1`` requests, moves the clock, serves the journal
and resets the state; ``contracts/control-openapi.yaml`` describes it. Its rules (token, what it
is kept out of) and what a reset does: docs/architecture.md, "The control API".
"""

from __future__ import annotations

import asyncio
import fnmatch
import hmac
import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from quart import Quart, Response, request

from .._json import JsonInputError, loads
from ..core import errors
from ..core.clock import Clock, ManualClock, ScaledClock, format_timestamp
from ..core.errors import ERROR_STATUS, ApiError
from ..core.service import Service
from ._responses import ok
from ._stream_hub import StreamHub

if TYPE_CHECKING:
    from ..core.delivery import FaultKind
    from ..timeline import Timeline

__all__ = [
    "CONTROL_PREFIX",
    "TOKEN_HEADER",
    "ControlState",
    "Fault",
    "fault_from",
    "register_control",
    "reset_mock",
]

CONTROL_PREFIX: Final = "/_mock/"
TOKEN_HEADER: Final = "x-mock-token"

_METHODS: Final = ("*", "GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")
MAX_FAULT_COUNT: Final = 10_000
MAX_LATENCY_MS: Final = 60_000
MAX_SCRIPT_COUNT: Final = 100
MAX_ADVANCE_SECONDS: Final = 10 * 365 * 86_400
MAX_SPEED: Final = 10_000.0
MAX_JOURNAL_LIMIT: Final = 10_000
_DIGITS: Final = re.compile(r"^[0-9]{1,6}$")
MAX_FAULT_SECONDS: Final = 86_400.0
_STALE_AFTER: Final = 300


@dataclass
class Fault:
    """An injected fault: the next ``remaining`` matching ``/v1`` requests wait ``latency_ms``,
    then (when ``code`` is set) get that error instead of their answer."""

    id: int
    method: str
    path: str
    """An exact path or a glob (``*`` matches any characters, ``/`` included)."""
    code: str | None
    status: int | None
    remaining: int
    latency_ms: int

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is one this fault applies to."""
        if self.method != "*" and self.method != method.upper():
            return False
        return path == self.path or fnmatch.fnmatchcase(path, self.path)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as the control API shows it."""
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "code": self.code,
            "status": self.status,
            "remaining": self.remaining,
            "latencyMs": self.latency_ms,
        }


class ControlState:
    """The control API's own state: the token and the pending faults (thread-safe)."""

    def __init__(self, service: Service, token: str | None) -> None:
        self.service = service
        self.token = token
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def faults(self) -> list[Fault]:
        with self._lock:
            return [Fault(**vars(fault)) for fault in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def has_faults(self) -> bool:
        """Whether any fault is pending (read without the lock: a request racing the control
        request that adds a fault may or may not get it, as with the lock)."""
        return bool(self._faults)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first pending fault matching the request, counted as used (``None``: no fault)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Fault(**vars(fault))
        return None

    def token_ok(self, given: str | None) -> bool:
        """Whether a request may use the control API (always, without a configured token)."""
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def apply_fault(self, method: str, path: str) -> None:
        """Wait and raise as the first matching fault says; does nothing without one."""
        fault = self.take_fault(method, path)
        if fault is None:
            return
        if fault.latency_ms:
            # Latency is what the client waits for: real time, not clock time.
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.code is not None:
            error = fault_error(fault.code, self.service)
            if fault.status is not None:
                error.status = fault.status
            raise error


def fault_error(code: str, service: Service) -> ApiError:
    """An error of ``code`` with the details the contract gives that code."""
    settings = service.settings
    now = service.clock.now()
    makers: Mapping[str, Callable[[], ApiError]] = {
        "invalid_request": lambda: errors.invalid_request("Injected fault: invalid request"),
        "unauthenticated": errors.unauthenticated,
        "insufficient_credits": lambda: errors.insufficient_credits(
            1, 0, format_timestamp(now + 30 * 86_400)
        ),
        "url_blocked": lambda: errors.url_blocked(
            "https://blocked.example/", "blocked by an injected fault"
        ),
        "not_found": lambda: errors.not_found("Not found"),
        "conflict": lambda: errors.conflict("Injected fault: conflict", status="processing"),
        "rate_limited": lambda: errors.rate_limited(
            settings.requests_per_minute, settings.rate_window_seconds, 1
        ),
        "concurrency_limited": lambda: errors.concurrency_limited(
            settings.max_concurrent_jobs, settings.max_concurrent_jobs
        ),
        "internal_error": errors.internal_error,
        "upstream_unavailable": errors.upstream_unavailable,
        "scrape_timeout": lambda: errors.scrape_timeout(30_000),
        "session_not_found": errors.session_not_found,
        "session_expired": errors.session_expired,
    }
    return makers[code]()


# ----------------------------------------------------------------------------- input


class _Issues:
    """Collects ``details.issues`` for one request body."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append(errors.issue(path, code, message))

    def raise_if_any(self, message: str = "Invalid request body") -> None:
        if self.items:
            raise errors.invalid_request(message, self.items)


async def _body_object(*, required: bool = True) -> dict[str, Any]:
    """The JSON object in the body; ``{}`` for an empty body unless ``required``."""
    raw = await request.get_data()
    if not raw.strip():
        if required:
            raise errors.invalid_request(
                issues=[errors.issue("", "invalid_type", "Expected a JSON object")]
            )
        return {}
    try:
        value = loads(raw)
    except JsonInputError as exc:
        problem = errors.issue(exc.path, exc.code, exc.message)
        raise errors.invalid_request(issues=[problem]) from None
    if not isinstance(value, dict):
        raise errors.invalid_request(
            issues=[errors.issue("", "invalid_type", "Expected a JSON object")]
        )
    return value


def _integer(
    body: Mapping[str, Any],
    name: str,
    issues: _Issues,
    *,
    default: int | None,
    low: int,
    high: int,
) -> int | None:
    if name not in body:
        return default
    value = body[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 2.0 is an integer to JSON Schema too
    if isinstance(value, bool) or not isinstance(value, int):
        issues.add(name, "invalid_type", "Expected integer")
        return None
    if not low <= value <= high:
        issues.add(name, "out_of_range", f"Expected an integer from {low} to {high}")
        return None
    return value


def _number(
    body: Mapping[str, Any], name: str, issues: _Issues, *, low: float, high: float, strict: bool
) -> float | None:
    if name not in body:
        issues.add(name, "required", "Required")
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        issues.add(name, "invalid_type", "Expected number")
        return None
    too_low = value <= low if strict else value < low
    if too_low or value > high:
        bound = "greater than" if strict else "at least"
        issues.add(name, "out_of_range", f"Expected a number {bound} {low:g} and at most {high:g}")
        return None
    return float(value)


def _fault_from(body: Mapping[str, Any]) -> Fault:
    issues = _Issues()
    method = body.get("method", "*")
    if not isinstance(method, str) or method not in _METHODS:
        issues.add("method", "invalid_enum_value", f"Expected one of {', '.join(_METHODS)}")
        method = "*"
    path = body.get("path")
    if not isinstance(path, str):
        issues.add("path", "invalid_type" if "path" in body else "required", "Expected a string")
    elif not path.startswith("/v1/") or len(path) > 1000:
        issues.add("path", "invalid_string", "Expected a /v1/ path or glob (at most 1000 chars)")
    code = body.get("code")
    if "code" in body and (not isinstance(code, str) or code not in ERROR_STATUS):
        issues.add("code", "invalid_enum_value", f"Expected one of {', '.join(ERROR_STATUS)}")
        code = None
    status = _integer(body, "status", issues, default=None, low=400, high=599)
    if status is not None and "code" not in body:
        issues.add("status", "invalid_combination", "status needs a code")
    count = _integer(body, "count", issues, default=1, low=1, high=MAX_FAULT_COUNT)
    latency = _integer(body, "latencyMs", issues, default=0, low=0, high=MAX_LATENCY_MS)
    if code is None and not latency and "code" not in body:
        issues.add("code", "required", "Give a code, a latencyMs, or both")
    issues.raise_if_any()
    assert isinstance(path, str) and count is not None and latency is not None
    return Fault(0, method, path, code, status, count, latency)


def _delivery_fault_from(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``POST /_mock/webhooks/faults`` body, checked."""
    from ..contract import webhook_event_names
    from ..core.delivery import FAULT_KINDS

    issues = _Issues()
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        code = "required" if "kind" not in body else "invalid_enum_value"
        issues.add("kind", code, f"Expected one of {', '.join(FAULT_KINDS)}")
    event = body.get("event")
    names = sorted(webhook_event_names())
    if "event" in body and event not in names:
        issues.add("event", "invalid_enum_value", f"Expected one of {', '.join(names)}")
    count = _integer(body, "count", issues, default=1, low=1, high=MAX_FAULT_COUNT)
    seconds = body.get("seconds")
    if "seconds" in body:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            issues.add("seconds", "invalid_type", "Expected number")
        elif not 0 <= seconds <= MAX_FAULT_SECONDS:
            issues.add(
                "seconds", "out_of_range", f"Expected a number from 0 to {MAX_FAULT_SECONDS:g}"
            )
        elif kind == "stale_timestamp" and seconds <= _STALE_AFTER:
            issues.add(
                "seconds",
                "out_of_range",
                f"A stale timestamp is more than {_STALE_AFTER} seconds old",
            )
    issues.raise_if_any()
    return {
        "kind": cast("FaultKind", kind),
        "event": event,
        "count": count,
        "seconds": None if seconds is None else float(seconds),
    }


def fault_from(body: Mapping[str, Any]) -> Fault:
    """A fault described as ``POST /_mock/faults`` takes it (``method``, ``path``, ``code``,
    ``status``, ``count``, ``latencyMs``), for Python callers; ``ValueError`` names every
    problem."""
    try:
        return _fault_from(body)
    except ApiError as exc:
        issues = (exc.details or {}).get("issues", [])
        problems = "; ".join(f"{i['path']}: {i['message']}" for i in issues)
        raise ValueError(f"invalid fault: {problems or exc.message}") from None


def _timeline_from(value: object, index: str) -> Timeline:
    """A timeline from a ready-made name or an inline timeline object, checked."""
    from ..timeline import TimelineError
    from ..timeline.files import parse_timeline
    from ..timeline.ready_made import load_ready_made

    if isinstance(value, str):
        try:
            return load_ready_made(value)
        except KeyError as exc:
            raise errors.invalid_request(
                issues=[errors.issue(index, "unknown_timeline", str(exc.args[0]))]
            ) from None
    if isinstance(value, dict):
        try:
            return parse_timeline(json.dumps(value), source=index, format="json")
        except TimelineError as exc:
            raise errors.invalid_request(
                "Invalid timeline",
                [errors.issue(index, "invalid_timeline", str(p)) for p in exc.problems][:50],
            ) from None
    raise errors.invalid_request(
        issues=[
            errors.issue(index, "invalid_type", "Expected a ready-made name or a timeline object")
        ]
    )


def _script(service: Service, timelines: list[Timeline]) -> int:
    """Queue ``timelines`` for the next jobs of the service; returns how many are queued now."""
    from ..timeline import TimelineError

    try:
        # Checked when parsed (off the event loop): not again here, in the loop.
        return service.scripts.add(timelines, check=False)
    except TimelineError as exc:  # already checked when parsed; kept for a clear answer anyway
        raise errors.invalid_request(
            "Invalid timeline",
            [errors.issue("timeline", "invalid_timeline", str(p)) for p in exc.problems][:50],
        ) from None


def _clock_info(clock: Clock) -> dict[str, Any]:
    kind = "manual" if isinstance(clock, ManualClock) else "scaled"
    if not isinstance(clock, ManualClock | ScaledClock):
        kind = "real"
    now = clock.now()
    info: dict[str, Any] = {"kind": kind, "now": format_timestamp(now), "timestamp": now}
    info["speed"] = clock.speed if isinstance(clock, ScaledClock) else None
    return info


def reset_mock(service: Service, hub: StreamHub, control: ControlState) -> None:
    """Back to a fresh workspace: what ``POST /_mock/reset`` and ``MockServer.reset()`` do.

    The streams open now are told to end (each with its final chunk) and the journal shows them
    closed for ``shutdown``; then pending faults are forgotten, and the service starts over
    (:meth:`~reader_mock.core.service.Service.reset`: jobs, scripted timelines, the journal, the
    seeded sequences, a manual clock back to its start). Streams opened afterwards are served as
    usual. Safe from any thread: every step locks what it changes or wakes the streams through
    their event loop. One step per line: whatever else keeps per-test state resets here too.
    """
    hub.end_open()
    service.journal.close_open("shutdown")
    control.clear_faults()
    service.deliveries.reset()
    service.reset()


# ----------------------------------------------------------------------------- routes


def register_control(
    app: Quart, service: Service, hub: StreamHub, token: str | None
) -> ControlState:
    """Add the ``/_mock/`` routes to ``app``; returns the state the app's hooks consult."""
    state = ControlState(service, token)

    @app.post("/_mock/jobs/script")
    async def script_jobs() -> Response:
        body = await _body_object()
        issues = _Issues()
        count = _integer(body, "count", issues, default=1, low=1, high=MAX_SCRIPT_COUNT)
        if "timeline" not in body:
            issues.add("timeline", "required", "Required")
        issues.raise_if_any()
        assert count is not None
        # Checking a long timeline takes a while: off the event loop, so others are served.
        timeline = await asyncio.to_thread(_timeline_from, body["timeline"], "timeline")
        pending = _script(service, [timeline] * count)
        return ok({"scripted": count, "pending": pending, "timeline": timeline.name}, 201)

    @app.get("/_mock/jobs/script")
    async def list_scripts() -> Response:
        scripts = service.scripts
        return ok({"pending": scripts.queued_names(), "cycle": scripts.cycle_names()})

    @app.delete("/_mock/jobs/script")
    async def clear_scripts() -> Response:
        service.scripts.clear()
        return ok({"pending": 0})

    @app.post("/_mock/faults")
    async def add_fault() -> Response:
        fault = state.add_fault(_fault_from(await _body_object()))
        return ok(fault.to_dict(), 201)

    @app.get("/_mock/faults")
    async def list_faults() -> Response:
        return ok([fault.to_dict() for fault in state.faults()])

    @app.delete("/_mock/faults")
    async def clear_faults() -> Response:
        state.clear_faults()
        return ok([])

    @app.get("/_mock/clock")
    async def get_clock() -> Response:
        return ok(_clock_info(service.clock))

    @app.post("/_mock/clock/advance")
    async def advance_clock() -> Response:
        body = await _body_object()
        issues = _Issues()
        seconds = _number(body, "seconds", issues, low=0, high=MAX_ADVANCE_SECONDS, strict=False)
        issues.raise_if_any()
        assert seconds is not None
        clock = service.clock
        if not isinstance(clock, ManualClock):
            raise ApiError(
                "conflict",
                "Only a manual clock can be advanced",
                details={"clock": _clock_info(clock)["kind"]},
            )
        clock.advance(seconds)
        service.settle_all()
        return ok(_clock_info(clock))

    @app.post("/_mock/clock/speed")
    async def set_speed() -> Response:
        body = await _body_object()
        issues = _Issues()
        speed = _number(body, "speed", issues, low=0, high=MAX_SPEED, strict=True)
        issues.raise_if_any()
        assert speed is not None
        clock = service.clock
        if not isinstance(clock, ScaledClock):
            raise ApiError(
                "conflict",
                "Only a scaled clock has a speed",
                details={"clock": _clock_info(clock)["kind"]},
            )
        clock.set_speed(speed)
        return ok(_clock_info(clock))

    @app.get("/_mock/journal")
    async def get_journal() -> Response:
        args = request.args
        issues = _Issues()
        kind = args.get("kind")
        if kind is not None and kind not in ("requests", "streams"):
            issues.add("kind", "invalid_enum_value", "Expected 'requests' or 'streams'")
        channel = args.get("channel")
        if channel is not None and channel not in ("job", "workspace"):
            issues.add("channel", "invalid_enum_value", "Expected 'job' or 'workspace'")
        limit: int | None = None
        raw_limit = args.get("limit")
        if raw_limit is not None:
            if not _DIGITS.match(raw_limit) or not 1 <= int(raw_limit) <= MAX_JOURNAL_LIMIT:
                issues.add("limit", "out_of_range", f"Expected an integer 1 to {MAX_JOURNAL_LIMIT}")
            else:
                limit = int(raw_limit)
        issues.raise_if_any("Invalid query parameters")
        journal = service.journal
        data: dict[str, Any] = {}
        if kind in (None, "requests"):
            found = journal.requests(path=args.get("path"))
            data["requests"] = [r.to_dict() for r in found[-limit if limit else 0 :]]
        if kind in (None, "streams"):
            streams = journal.streams(
                channel="job" if channel == "job" else "workspace" if channel else None,
                job_id=args.get("jobId"),
            )
            data["streams"] = [s.to_dict() for s in streams[-limit if limit else 0 :]]
        return ok(data)

    @app.post("/_mock/reset")
    async def reset() -> Response:
        reset_mock(service, hub, state)
        return ok({"reset": True, "clock": _clock_info(service.clock)})

    deliveries = service.deliveries

    @app.get("/_mock/webhooks/deliveries")
    async def list_deliveries() -> Response:
        args = request.args
        issues = _Issues()
        event = args.get("event")
        from ..contract import webhook_event_names

        if event is not None and event not in webhook_event_names():
            names = ", ".join(sorted(webhook_event_names()))
            issues.add("event", "invalid_enum_value", f"Expected one of {names}")
        limit: int | None = None
        raw_limit = args.get("limit")
        if raw_limit is not None:
            if not _DIGITS.match(raw_limit) or not 1 <= int(raw_limit) <= MAX_JOURNAL_LIMIT:
                issues.add("limit", "out_of_range", f"Expected an integer 1 to {MAX_JOURNAL_LIMIT}")
            else:
                limit = int(raw_limit)
        issues.raise_if_any("Invalid query parameters")
        found = deliveries.attempts(
            event=event, webhook_id=args.get("webhookId"), job_id=args.get("jobId")
        )
        return ok(
            {
                "attempts": found[-limit:] if limit else found,
                "dropped": deliveries.schedule.dropped,
            }
        )

    @app.post("/_mock/webhooks/faults")
    async def add_delivery_fault() -> Response:
        fields = _delivery_fault_from(await _body_object())
        fault = deliveries.add_fault(
            fields["kind"], event=fields["event"], count=fields["count"], seconds=fields["seconds"]
        )
        return ok(fault.to_dict(), 201)

    @app.get("/_mock/webhooks/faults")
    async def list_delivery_faults() -> Response:
        return ok([fault.to_dict() for fault in deliveries.faults()])

    @app.delete("/_mock/webhooks/faults")
    async def clear_delivery_faults() -> Response:
        deliveries.clear_faults()
        return ok([])

    return state
