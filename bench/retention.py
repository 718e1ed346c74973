"""Retention benchmark: the memory finished jobs hold, and what comes back when they are forgotten.

One service on a manual clock, in process, with ``tracemalloc`` on (it slows the mock about ten
times, so only memory is worth reading here). Two ways a job is forgotten:

- ``clock``: jobs of 1,000 pages run to their end, then the clock moves past ``job_retention``;
- ``cap``: the clock stands still between jobs (each runs to its end) and ``max_finished_jobs``
  keeps only the last few; the memory held levels off at what those few hold.

Each prints the memory held by the finished jobs, then what is left once they are forgotten (the
workspace's usage history, one entry per attempted page, stays). Run after a warm-up job, so the
figures leave out what stays loaded for good (Faker, the contract's checks).

With ``--serve``, the same workload goes over HTTP to ``reader-mock serve --manual-clock`` in a
child process instead: with the defaults (every job is kept), with ``--job-retention 60`` (each job
has expired when the next one ends) and with ``--max-finished-jobs KEEP``. The growth of the
process's resident memory (Linux ``/proc``) is printed: what a long-running server pays.

Run: ``python bench/retention.py`` (``--pages N``, default 10000; ``--keep N``, the cap of the
``cap`` way, default 2; ``--serve``). ``--serve`` needs the ``test`` extra (httpx).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Service, Settings

KEY = DEFAULT_API_KEY
JOB_PAGES = 1000


def _run_job(service: Service, clock: ManualClock, tag: str, pages: int) -> None:
    urls = [f"https://example.com/{tag}/{n}" for n in range(pages)]
    service.reads.submit(KEY, {"urls": urls})
    clock.advance(0.5 + 0.2 * pages + 1)
    service.settle_all()


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure(way: str, pages: int, keep: int) -> None:
    """Print the memory held by ``pages`` pages of finished jobs and what is left after."""
    clock = ManualClock()
    cap = keep if way == "cap" else 1_000_000
    settings = Settings(monthly_credits=10**9, job_retention=3600, max_finished_jobs=cap)
    service = Service(settings, clock)
    _run_job(service, clock, "warm-up", 10)
    clock.advance(3600)
    service.settle_all()
    workspace = service.workspaces["ws_1"]
    forgotten_before = workspace.jobs_forgotten
    tracemalloc.start()
    started = time.perf_counter()
    base = _traced()
    jobs = max(1, pages // JOB_PAGES)
    peak = 0
    for number in range(jobs):
        _run_job(service, clock, f"job-{number}", JOB_PAGES)
        peak = max(peak, _traced() - base)
    if way == "clock":
        clock.advance(3600)
        service.settle_all()
    left = _traced() - base
    elapsed = time.perf_counter() - started
    tracemalloc.stop()
    done = jobs * JOB_PAGES
    forgot = workspace.jobs_forgotten - forgotten_before
    if way == "clock":
        what = f"{done} pages held {_mb(peak)}; a retention later: {_mb(left)}"
    else:
        what = f"{done} pages, {keep} jobs kept: held at most {_mb(peak)}, {_mb(left)} at the end"
    print(
        f"{way:>5}: {what} ({left / done:.0f} B a page); {forgot} jobs forgotten; {elapsed:.0f} s"
    )


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def measure_serve(pages: int, flags: list[str]) -> None:
    """Print how much ``reader-mock serve`` grows over ``pages`` pages of finished jobs."""
    import httpx

    command = [sys.executable, "-m", "reader_mock.cli", "serve", "--port", "0", "--json"]
    command += ["--quiet", "--manual-clock", "--credits", "1000000000"]
    command += flags
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        headers = {"x-api-key": announced["apiKey"]}
        with httpx.Client(base_url=announced["url"], headers=headers, timeout=60) as http:
            jobs = max(1, pages // JOB_PAGES)
            for number in range(-1, jobs):  # job -1 warms up
                urls = [f"https://example.com/{number}/{n}" for n in range(JOB_PAGES)]
                http.post("/v1/read", json={"urls": urls}).raise_for_status()
                seconds = {"seconds": 0.5 + 0.2 * JOB_PAGES + 1}
                http.post("/_mock/clock/advance", json=seconds).raise_for_status()
                http.get("/v1/usage/credits").raise_for_status()  # settles the workspace
                if number == -1:
                    base = _rss(process.pid)
            grown = _rss(process.pid) - base
        done = jobs * JOB_PAGES
        how = " ".join(flags) or "the defaults"
        print(f"serve, {how}: {done} pages grew it by {_mb(grown)} ({grown / done:.0f} B a page)")
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--keep", type=int, default=2)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    if args.serve:
        measure_serve(args.pages, [])
        measure_serve(args.pages, ["--job-retention", "60"])
        measure_serve(args.pages, ["--max-finished-jobs", str(args.keep)])
        return
    for way in ("clock", "cap"):
        measure(way, args.pages, args.keep)


if __name__ == "__main__":
    main()
