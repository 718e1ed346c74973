"""Reset benchmark: ``MockServer.reset()`` in process against ``POST /_mock/reset`` over HTTP.

One server on a manual clock, in its own thread, reset again and again by both ways in turn, so
that machine noise hits both alike. The HTTP way posts on one kept-alive httpx client, as the
pytest plugin did before it reset in process. Two variants:

- ``empty``: nothing to forget; what the reset itself costs;
- ``busy``: before each reset, a few jobs are created and a per-job and a workspace stream are
  open (the reset ends them); only the reset is timed.

The figures are medians and 90th percentiles per way and variant, in milliseconds.
Target: the in-process reset under 1 ms median.

Run: ``python bench/reset.py`` (``--resets N``, default 500; ``--jobs N``, default 3).
Needs the ``test`` extra (httpx): ``pip install -e '.[test]'``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import time
from collections.abc import Callable

import httpx

from reader_mock.core.clock import ManualClock
from reader_mock.core.settings import Settings
from reader_mock.server import MockServer

TARGET_MS = 1.0
WAYS = ("in-process", "HTTP")
VARIANTS = ("empty", "busy")
# Wall seconds to wait for a stream to open or end before the benchmark gives up.
PATIENCE = 10.0


def _read_to_end(client: httpx.Client, path: str) -> None:
    with client.stream("GET", path) as response:
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}, expected 200")
        for _ in response.iter_raw():
            pass


class _Busy:
    """Makes the mock busy before a reset: jobs created, two streams open."""

    def __init__(self, server: MockServer, client: httpx.Client, jobs: int) -> None:
        self._server = server
        self._client = client
        self._jobs = jobs
        self._readers = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        self._open: list[concurrent.futures.Future[None]] = []

    def before(self) -> None:
        """Create the jobs and open the streams; return once the server has them open."""
        journal = self._server.journal
        job_ids = []
        for _ in range(self._jobs):
            created = self._client.post("/v1/read", json={"urls": ["https://example.com/a"]})
            if created.status_code != 201:
                raise SystemExit(f"POST /v1/read answered {created.status_code}: {created.text}")
            job_ids.append(created.json()["data"]["id"])
        stream_paths = (f"/v1/jobs/{job_ids[0]}/stream", "/v1/events")
        self._open = [
            self._readers.submit(_read_to_end, self._client, path) for path in stream_paths
        ]
        journal.wait_for_stream(channel="job", job_id=job_ids[0], timeout=PATIENCE)
        journal.wait_for_stream(channel="workspace", timeout=PATIENCE)

    def after(self) -> None:
        """Wait for the streams the reset ended."""
        for reader in self._open:
            reader.result(PATIENCE)
        self._open = []

    def close(self) -> None:
        self._readers.shutdown()


def _p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def _versions() -> str:
    from importlib.metadata import version

    names = ("reader-mock", "hypercorn", "quart", "httpx")
    return ", ".join(f"{name} {version(name)}" for name in names)


def measure(resets: int, jobs: int) -> dict[tuple[str, str], list[float]]:
    """Seconds per reset, by (way, variant)."""
    settings = Settings(monthly_credits=10**12, requests_per_minute=10**9)
    samples: dict[tuple[str, str], list[float]] = {(w, v): [] for w in WAYS for v in VARIANTS}
    with (
        MockServer(clock=ManualClock(), settings=settings) as server,
        httpx.Client(
            base_url=server.url, headers={"x-api-key": server.api_key}, timeout=PATIENCE
        ) as client,
        httpx.Client(base_url=server.url, timeout=PATIENCE) as control,
    ):

        def over_http() -> None:
            response = control.post("/_mock/reset")
            if response.status_code != 200:
                raise SystemExit(f"POST /_mock/reset answered {response.status_code}")

        ways: dict[str, Callable[[], None]] = {"in-process": server.reset, "HTTP": over_http}
        busy = _Busy(server, client, jobs)
        over_http()  # the control connection is open before the first timed reset
        try:
            for variant in VARIANTS:
                for index in range(resets * len(WAYS)):
                    # A, B, B, A, ...: neither way always goes first.
                    order = WAYS if (index // 2) % 2 == 0 else WAYS[::-1]
                    way = order[index % 2]
                    if variant == "busy":
                        busy.before()
                    started = time.perf_counter()
                    ways[way]()
                    samples[(way, variant)].append(time.perf_counter() - started)
                    if variant == "busy":
                        busy.after()
                print(f"{variant}: done", file=sys.stderr, flush=True)
        finally:
            busy.close()
        if server.errors:
            raise SystemExit(f"the server raised: {server.errors!r}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=500, help="resets per way and variant")
    parser.add_argument("--jobs", type=int, default=3, help="jobs created before a busy reset")
    args = parser.parse_args()
    if args.resets < 1 or args.jobs < 1:
        parser.error("--resets and --jobs must be at least 1")

    samples = measure(args.resets, args.jobs)

    print(f"Reset, {args.resets} per way and variant, Python {sys.version.split()[0]}")
    print(f"({_versions()})")
    print(f"busy: {args.jobs} jobs created and a per-job and a workspace stream open before each.")
    print("Times in ms, median / p90; ratio = HTTP median / in-process median.")
    print()
    header = f"{'variant':<10}{'in-process':>20}{'HTTP':>20}{'ratio':>9}"
    print(header)
    print("-" * len(header))
    for variant in VARIANTS:
        cells = []
        for way in WAYS:
            values = [v * 1000 for v in samples[(way, variant)]]
            cells.append((statistics.median(values), _p90(values)))
        ours, http = cells
        print(
            f"{variant:<10}{ours[0]:>11.3f} / {ours[1]:>6.3f}"
            f"{http[0]:>11.3f} / {http[1]:>6.3f}{http[0] / ours[0]:>8.1f}x"
        )
    print()
    for variant in VARIANTS:
        median = statistics.median(v * 1000 for v in samples[("in-process", variant)])
        verdict = "met" if median < TARGET_MS else "MISSED"
        print(
            f"Target: in-process reset ({variant}) under {TARGET_MS:g} ms: "
            f"{median:.3f} ms median, {verdict}."
        )


if __name__ == "__main__":
    main()
