"""The timeline of a job created without a script: what the mock plays by default."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .model import JobMode, Timeline
from .steps import Done, GrowTotal, Page, PageError, SetStatus, Step, Wait

__all__ = ["timeline_for_request"]


def timeline_for_request(
    urls: Sequence[str],
    *,
    mode: JobMode = "batch",
    queued_delay: float = 0.0,
    page_delay: float = 0.0,
    crawl_pages: int = 1,
    fails: Callable[[str], bool],
    name: str = "default",
) -> Timeline:
    """The timeline of a job created without a script.

    The job stays ``queued`` for ``queued_delay`` seconds, turns ``processing``, then attempts one
    URL every ``page_delay`` seconds: a ``page``, or an ``error`` when ``fails(url)``. A crawl
    attempts ``crawl_pages`` pages, growing ``total`` by one before each page after the seed
    (discovered pages share the seed's host, so they fail when the seed does; a failing seed ends
    the crawl). The job ends ``completed``. Page content is left to the content source.

    Args:
        urls: the batch's URLs, or the crawl's seed alone.
        mode: ``batch`` or ``crawl``.
        queued_delay: clock seconds between creation and ``processing``.
        page_delay: clock seconds before each attempt.
        crawl_pages: pages a crawl finds, the seed included (at least 1).
        fails: which URLs fail (the engine passes the failing hosts of
            :mod:`reader_mock.core.targets`).
        name: the timeline's name.
    """
    if not urls:
        raise ValueError("a job has at least one URL")
    if mode == "crawl" and len(urls) != 1:
        raise ValueError("a crawl has exactly one seed URL")
    if queued_delay < 0 or page_delay < 0:
        raise ValueError("delays are clock seconds >= 0")
    steps: list[Step] = []
    if queued_delay:
        steps.append(Wait(float(queued_delay)))
    steps.append(SetStatus("processing"))
    if mode == "crawl":
        failing = fails(urls[0])
        attempts = [failing] * (1 if failing else max(1, crawl_pages))
    else:
        attempts = [fails(url) for url in urls]
    # Steps are collected in a list (not chained builder calls) so a 1,000-URL batch stays linear.
    for index, failing in enumerate(attempts):
        if mode == "crawl" and index:
            steps.append(GrowTotal(index + 1))
        if page_delay:
            steps.append(Wait(float(page_delay)))
        steps.append(PageError() if failing else Page())
    steps.append(Done("completed"))
    plural = "s" if len(urls) != 1 else ""
    description = f"Generated for a {mode} of {len(urls)} URL{plural}."
    return Timeline.build(name, description=description, mode=mode, urls=urls).then(*steps)
