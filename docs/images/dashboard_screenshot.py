"""Write docs/images/dashboard.png: the dashboard at /_mock/ with a few jobs, in headless Chromium.

Run from the repository root with Playwright installed and a ``chromium`` on PATH:

    python docs/images/dashboard_screenshot.py

The mock runs on a manual clock with a fixed seed, so the picture shows the same jobs each time.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from reader_mock.core import DEFAULT_API_KEY, ManualClock
from reader_mock.server import MockServer

OUT = Path(__file__).resolve().parent / "dashboard.png"
KEY = {"x-api-key": DEFAULT_API_KEY}


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no chromium on PATH", file=sys.stderr)
        return 2
    with MockServer(clock=ManualClock(), seed=2026) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 640})
        page.goto(f"{server.url}/_mock/#key={DEFAULT_API_KEY}")
        page.wait_for_selector("#ws-state.state-connected")
        control = f"{server.url}/_mock"
        httpx.post(
            f"{control}/jobs/script", json={"timeline": "partial-failure"}
        ).raise_for_status()
        urls = [f"https://docs.example.com/guide/{n}" for n in range(1, 4)]
        first = httpx.post(f"{server.url}/v1/read", json={"urls": urls}, headers=KEY)
        first.raise_for_status()
        httpx.post(f"{control}/clock/advance", json={"seconds": 30}).raise_for_status()
        more = [f"https://blog.example.com/post-{n}" for n in range(1, 9)]
        httpx.post(f"{server.url}/v1/read", json={"urls": more}, headers=KEY).raise_for_status()
        httpx.post(f"{control}/clock/advance", json={"seconds": 1.1}).raise_for_status()
        job_id = first.json()["data"]["id"]
        httpx.get(f"{server.url}/v1/jobs/{job_id}/stream", headers=KEY).raise_for_status()
        httpx.post(f"{control}/jobs/script", json={"timeline": "slow-start"}).raise_for_status()
        httpx.post(
            f"{control}/faults",
            json={"method": "GET", "path": "/v1/jobs/*", "code": "rate_limited", "count": 2},
        ).raise_for_status()
        page.click(f'tr[data-job-id="{job_id}"]')
        page.wait_for_selector("#streams td.reason-after_done")
        page.wait_for_selector("#faults:has-text('GET')")
        page.screenshot(path=str(OUT))
        browser.close()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
