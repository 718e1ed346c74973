"""Webhook receivers written here, independent of the package's own, and helpers to read what
they got (imported by the webhook tests; fixtures around them are in conftest.py)."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reader_mock.server import MockServer

ALL_EVENTS = [
    "job.started",
    "job.page",
    "job.completed",
    "job.failed",
    "credit.low",
    "session.created",
    "session.stopped",
]


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class OwnReceiver:
    """Records POSTs; answers each with the next status of ``answers`` (then 200)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.answers: list[int] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.cond:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.hits.append(
                        Hit(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            status,
                        )
                    )
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        # A short poll: shutdown() waits for it (half a second by default, at every test's end).
        threading.Thread(target=self.http.serve_forever, args=(0.02,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"

    def wait(self, count: int, timeout: float = 5.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.hits) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"got {len(self.hits)} deliveries, expected {count}"
                self.cond.wait(left)
            return list(self.hits)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class DeadReceiver:
    """Accepts connections and reads, never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/dead"
        self.conns: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        for conn in self.conns:
            conn.close()


def signature_by_hand(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def wait_answered(server: MockServer, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Until the mock has taken in ``count`` answers (so a clock move next schedules from now)."""
    deadline = time.monotonic() + timeout
    while True:
        done = [a for a in server.service.deliveries.attempts() if a["outcome"] != "sending"]
        if len(done) >= count:
            return done
        assert time.monotonic() < deadline, f"{len(done)} attempts answered, expected {count}"
        time.sleep(0.002)
