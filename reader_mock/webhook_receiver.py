"""A local webhook receiver for tests: records deliveries, checks signatures, answers on command.

:class:`WebhookReceiver` listens on a free port of 127.0.0.1 (standard library HTTP server, in a
thread of its own), answers every ``POST`` with a status you choose, and keeps what arrived in
order, each delivery with the problems of its signature. The ``reader_mock_webhooks`` pytest
fixture gives one per test; docs/webhooks.md shows it in use.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Self

from .webhooks import TOLERANCE_SECONDS, check_signature

__all__ = ["DEFAULT_SECRET", "ReceivedDelivery", "WebhookReceiver"]

DEFAULT_SECRET: Final = "whsec-reader-mock-receiver"
_MAX_BODY: Final = 16 * 1024 * 1024
_POLL_SECONDS: Final = 0.02
"""How often the serving thread looks for a stop: :meth:`WebhookReceiver.stop` waits that long
at most (the standard library's default, half a second, would add that to every test)."""


@dataclass(frozen=True)
class ReceivedDelivery:
    """One request the receiver got, and what it answered."""

    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    status: int
    """The status the receiver answered."""
    signature_problems: tuple[str, ...]
    """Why the signature does not verify (empty: it verifies, or the receiver has no secret)."""
    received_at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> str | None:
        """``X-Reader-Event``."""
        return self.headers.get("x-reader-event")

    @property
    def delivery_id(self) -> str | None:
        """``X-Reader-Delivery``."""
        return self.headers.get("x-reader-delivery")

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, _MAX_BODY))
        status = self.server.receiver._record(self.path, dict(self.headers.items()), body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`WebhookReceiver.deliveries` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver


class WebhookReceiver:
    """An HTTP receiver of webhook deliveries on ``127.0.0.1``, for one test.

    Args:
        secret: the webhook secret to verify signatures with (``None``: do not verify).
        now: the receiver's clock for the timestamp window (default: the wall clock); pass the
            mock's clock (``clock.now``) when the mock runs on a manual clock.
        tolerance: the timestamp window in seconds.
        attempts: the mock's journal of attempts (``service.deliveries.attempts``), so that
            :meth:`wait_for` also waits until the mock has taken in each answer.
    """

    def __init__(
        self,
        secret: str | None = DEFAULT_SECRET,
        *,
        now: Callable[[], float] = time.time,
        tolerance: float = TOLERANCE_SECONDS,
        attempts: Callable[[], Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.secret = secret
        self._now = now
        self._tolerance = tolerance
        self._attempts = attempts
        self._lock = threading.Condition()
        self._received: list[ReceivedDelivery] = []
        self._answers: deque[int] = deque()
        self._default_status = 200
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ running

    def start(self) -> Self:
        """Listen on a free port (idempotent)."""
        if self._server is None:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.receiver = self
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                args=(_POLL_SECONDS,),
                name="reader-mock-webhook-receiver",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, at once."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The URL to subscribe, ``http://127.0.0.1:<port>/hooks``."""
        return self.url_for("/hooks")

    def url_for(self, path: str) -> str:
        """A URL of this receiver with another path (to tell subscriptions apart)."""
        if self._server is None:
            raise RuntimeError("the receiver is not started")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}{path}"

    # ------------------------------------------------------------------ answers

    def respond(self, status: int, times: int = 1) -> None:
        """Answer ``status`` to the next ``times`` requests (then the default status again)."""
        with self._lock:
            self._answers.extend([status] * times)

    def respond_always(self, status: int) -> None:
        """Answer ``status`` from now on (after the answers queued by :meth:`respond`)."""
        with self._lock:
            self._default_status = status

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        lowered = {name.lower(): value for name, value in headers.items()}
        problems: list[str] = []
        if self.secret is not None:
            problems = check_signature(
                self.secret, lowered, body, tolerance=self._tolerance, now=self._now()
            )
        with self._lock:
            status = self._answers.popleft() if self._answers else self._default_status
            self._received.append(ReceivedDelivery(path, lowered, body, status, tuple(problems)))
            self._lock.notify_all()
        return status

    # ------------------------------------------------------------------ what arrived

    @property
    def deliveries(self) -> list[ReceivedDelivery]:
        """Every request received, in arrival order (retries and copies included)."""
        with self._lock:
            return list(self._received)

    def events(self, *, unique: bool = True) -> list[str | None]:
        """The event names received in order; with ``unique``, each delivery id once."""
        seen: set[str | None] = set()
        names = []
        for delivery in self.deliveries:
            if unique and delivery.delivery_id in seen:
                continue
            seen.add(delivery.delivery_id)
            names.append(delivery.event)
        return names

    def attempts_of(self, delivery_id: str) -> list[ReceivedDelivery]:
        """The requests that carried ``delivery_id``."""
        return [d for d in self.deliveries if d.delivery_id == delivery_id]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedDelivery]:
        """Block until ``count`` requests arrived in all (``timeout`` in real seconds) and,
        when the receiver knows the mock's journal, the mock has taken in their answers (so
        moving the clock next schedules the retries from now); returns them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"the webhook receiver got {len(self._received)} requests in "
                        f"{timeout:g} s, expected {count}: {self._summary()}"
                    )
                self._lock.wait(remaining)
            received = list(self._received)
        while self._attempts is not None and self._answered() < count:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"the mock took in {self._answered()} answers of this receiver in "
                    f"{timeout:g} s, expected {count}"
                )
            time.sleep(0.002)
        return received

    def _answered(self) -> int:
        assert self._attempts is not None
        base = self.url_for("/")
        return sum(
            1
            for attempt in self._attempts()
            if str(attempt.get("url", "")).startswith(base) and attempt.get("outcome") != "sending"
        )

    def _summary(self) -> str:
        shown = [f"{d.event} {d.delivery_id} -> {d.status}" for d in self._received[-10:]]
        return "; ".join(shown) or "nothing"

    # ------------------------------------------------------------------ assertions

    def assert_events(self, expected: Sequence[str], *, unique: bool = True) -> None:
        """The events received, in order, are exactly ``expected`` (each delivery once unless
        ``unique=False``)."""
        got = self.events(unique=unique)
        if got != list(expected):
            raise AssertionError(f"webhook events received: {got}, expected {list(expected)}")

    def assert_retried(self, times: int, delivery_id: str | None = None) -> None:
        """One delivery (the first, or ``delivery_id``) arrived ``times`` more times after its
        first attempt, always with the same delivery id."""
        chosen = delivery_id
        if chosen is None:
            received = self.deliveries
            if not received:
                raise AssertionError("the webhook receiver got nothing")
            chosen = received[0].delivery_id
        attempts = self.attempts_of(chosen or "")
        if len(attempts) != times + 1:
            raise AssertionError(
                f"delivery {chosen} arrived {len(attempts)} times, expected {times + 1} "
                f"(retried {times} times)"
            )

    def assert_signatures_valid(self) -> None:
        """Every request carried a valid signature within the timestamp window."""
        if self.secret is None:
            raise AssertionError("the receiver has no secret to verify signatures with")
        bad = [d for d in self.deliveries if d.signature_problems]
        if bad:
            lines = [f"{d.event} {d.delivery_id}: {'; '.join(d.signature_problems)}" for d in bad]
            raise AssertionError("invalid webhook signatures:\n" + "\n".join(lines))
