"""Headless Chromium for the browser tests: the system's ``chromium`` driven by Playwright.

Playwright's own browser download is not used: the tests launch the Chromium found on ``PATH``
(Debian's ``chromium`` package, which ``.ci/run`` installs). Without it, or without Playwright,
every test here is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from browser_support import APP_HOST

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The Chromium to drive: ``READER_MOCK_CHROMIUM`` or the first of :data:`NAMES` on PATH."""
    given = os.environ.get("READER_MOCK_CHROMIUM")
    if given:
        return given
    return next((found for name in NAMES if (found := shutil.which(name))), None)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless Chromium for one test.

    Not shared across tests: while Playwright's sync API runs, the thread has a running event
    loop, which would stop later tests in the process from starting their own.
    """
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium on PATH (apt-get install chromium); browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[test]'); browser tests skipped")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # Pages of another origin than the mock's: http://app.test:PORT is this machine.
            args=["--no-sandbox", f"--host-resolver-rules=MAP {APP_HOST} 127.0.0.1"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (its own context: no cache or storage shared with other tests)."""
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    opened = context.new_page()
    errors: list[Any] = []
    opened.on("pageerror", lambda error: errors.append(error))
    yield opened
    context.close()
    assert errors == [], errors
