"""Webhook benchmark: deliveries per second to a local receiver, beside a plain httpx POST loop.

One mock on a manual clock, one batch job whose pages all fall due at once, and subscriptions to
``job.page`` on a local receiver (a minimal asyncio HTTP/1.1 server in its own thread, so the
receiver is not what is measured). The mock sends one attempt at a time per subscription, so the
ceiling is the same number of plain ``httpx.AsyncClient`` POST loops, one request at a time each,
with bodies of the same size, to the same receiver, in the same run. Both ways alternate
``--rounds`` times, so machine noise hits both alike; the figures are medians.

Run: ``python bench/webhooks.py`` (``--pages N``, default 1000; ``--targets N``, default 1, at
most 10; ``--rounds N``, default 3). Needs the ``test`` extra (httpx).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time

import httpx

from reader_mock.core.clock import ManualClock
from reader_mock.core.settings import Settings
from reader_mock.server import MockServer

PATIENCE = 120.0
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Receiver:
    """Counts POSTs and answers 200, in a thread of its own."""

    def __init__(self) -> None:
        self.count = 0
        self.body_bytes = 0
        self._ready = threading.Event()
        self.port = 0
        threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True).start()
        self._ready.wait(10)

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.count += 1
                self.body_bytes += len(body)
                writer.write(_ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def wait(self, count: int) -> None:
        deadline = time.monotonic() + PATIENCE
        while self.count < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"the receiver got {self.count} requests, expected {count}")
            time.sleep(0.001)


def mock_round(server: MockServer, receiver: Receiver, pages: int) -> tuple[float, int]:
    """Deliveries per second for one job of ``pages`` pages; also the mean body size."""
    clock = server.clock
    assert isinstance(clock, ManualClock)
    urls = [f"https://example.com/page/{n}" for n in range(pages)]
    headers = {"x-api-key": server.api_key or ""}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
        response = api.post("/v1/read", json={"urls": urls})
        if response.status_code != 201:
            raise SystemExit(f"POST /v1/read answered {response.status_code}: {response.text}")
        targets = len(api.get("/v1/webhooks").json()["data"])
        expected = receiver.count + pages * targets
        before_bytes, before_count = receiver.body_bytes, receiver.count
        began = time.perf_counter()
        clock.advance(pages)  # every page falls due now
        receiver.wait(expected)
        elapsed = time.perf_counter() - began
    size = (receiver.body_bytes - before_bytes) // max(1, receiver.count - before_count)
    return pages * targets / elapsed, size


async def _post_loop(url: str, body: bytes, count: int) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(count):
            (await client.post(url, content=body)).raise_for_status()


def ceiling_round(receiver: Receiver, requests: int, targets: int, size: int) -> float:
    """Requests per second of ``targets`` plain POST loops, one request at a time each."""
    url = f"http://127.0.0.1:{receiver.port}/ceiling"
    body = b"x" * size

    async def run() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(_post_loop(url, body, requests) for _ in range(targets)))
        return requests * targets / (time.perf_counter() - began)

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--targets", type=int, default=1, choices=range(1, 11))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    receiver = Receiver()
    settings = Settings(monthly_credits=10**9, max_concurrent_jobs=100)
    mock: list[float] = []
    ceiling: list[float] = []
    with MockServer(clock=ManualClock(), settings=settings) as server:
        headers = {"x-api-key": server.api_key or ""}
        for index in range(args.targets):
            hook = {
                "url": f"http://127.0.0.1:{receiver.port}/hooks/{index}",
                "name": f"bench-{index}",
                "events": ["job.page"],
                "secret": "whsec-bench-0123456789",
            }
            httpx.post(f"{server.url}/v1/webhooks", json=hook, headers=headers).raise_for_status()
        mock_round(server, receiver, min(args.pages, 50))  # warm up both ways
        ceiling_round(receiver, 50, args.targets, 1000)
        for _ in range(args.rounds):
            rate, size = mock_round(server, receiver, args.pages)
            mock.append(rate)
            ceiling.append(ceiling_round(receiver, args.pages, args.targets, size))
        if server.errors:
            raise SystemExit(f"the mock recorded errors: {server.errors}")
    mock_rate, ceiling_rate = statistics.median(mock), statistics.median(ceiling)
    print(f"webhook deliveries, {args.pages} pages x {args.targets} subscription(s), signed")
    print(f"  reader-mock deliveries      {mock_rate:9.0f} /s")
    print(f"  plain httpx POST loop(s)    {ceiling_rate:9.0f} /s  (the ceiling)")
    print(f"  ratio                       {mock_rate / ceiling_rate:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
