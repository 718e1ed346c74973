"""The body of ``POST /v1/read``, read into :class:`ReadOptions`.

Which operation runs depends on the fields present:

- ``url`` alone: a synchronous scrape;
- ``urls`` (one or more): a batch job;
- ``url`` with ``maxDepth`` and/or ``maxPages``: a crawl job (defaults depth 2, 20 pages);
- ``url`` with ``scrape: false``: a discover job (crawl defaults too).

``url`` with ``urls``, or neither, is ``invalid_request``; so are the older generation's proxy
modes (``stealth``, ``auto``). Unknown fields are ignored. ``extract`` belongs to synchronous
scrapes; on jobs it is ignored, like the crawl options on a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ._input import BodyReader

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_PAGES",
    "FORMATS",
    "PROXY_MODES",
    "Operation",
    "ReadOptions",
    "parse_read_request",
]

FORMATS: Final = ("markdown", "html", "screenshot")
PROXY_MODES: Final = ("standard", "premium")
DEFAULT_MAX_DEPTH: Final = 2
DEFAULT_MAX_PAGES: Final = 20
MAX_BATCH: Final = 1000

Operation = Literal["scrape", "batch", "crawl", "discover"]


@dataclass(frozen=True)
class ReadOptions:
    """A validated ``POST /v1/read`` request."""

    operation: Operation
    url: str | None
    urls: tuple[str, ...]
    formats: tuple[str, ...]
    only_main_content: bool
    include_tags: tuple[str, ...]
    exclude_tags: tuple[str, ...]
    wait_for_selector: str | None
    timeout_ms: int
    proxy_mode: str
    max_depth: int
    max_pages: int
    cache: bool
    extract: Mapping[str, Any] | None
    webhook: Mapping[str, Any] | None

    @property
    def page_cost(self) -> int:
        """Credits one successfully scraped page costs with this proxy mode."""
        return 3 if self.proxy_mode == "premium" else 1

    @property
    def targets(self) -> tuple[str, ...]:
        """The URLs the request names: the batch, or the single URL / crawl seed."""
        return self.urls if self.operation == "batch" else (self.url or "",)

    def cache_key(self) -> tuple[object, ...]:
        """What identifies a cached synchronous scrape (not formats, proxy mode or timeout)."""
        return (
            self.url,
            self.only_main_content,
            self.include_tags,
            self.exclude_tags,
            self.wait_for_selector,
        )


def _read_extract(reader: BodyReader) -> Mapping[str, Any] | None:
    extract = reader.mapping("extract")
    if extract is None:
        return None
    sub = BodyReader(extract, prefix=reader.path("extract"))
    schema = sub.mapping("schema")
    prompt = sub.string("prompt", None, min_length=1)
    if schema is None and prompt is None and not sub.issues:
        sub.add(
            reader.path("extract"),
            "invalid_union",
            'Expected at least one of "schema" or "prompt", found none',
        )
    reader.issues.extend(sub.issues)
    return extract


def _read_webhook(reader: BodyReader) -> Mapping[str, Any] | None:
    webhook = reader.mapping("webhook")
    if webhook is None:
        return None
    sub = BodyReader(webhook, prefix=reader.path("webhook"))
    if not sub.has("url"):
        sub.add(sub.path("url"), "required", "Required")
    url = sub.url("url", web_only=True)
    events = sub.string_list("events")
    secret = sub.string("secret", None, min_length=16, max_length=256)
    reader.issues.extend(sub.issues)
    if sub.issues:
        return None
    result: dict[str, Any] = {
        "url": url,
        "events": list(events) if events is not None else ["job.completed", "job.failed"],
    }
    if secret is not None:
        result["secret"] = secret
    return result


def parse_read_request(body: object) -> ReadOptions:
    """Read and check a ``POST /v1/read`` body; raises ``invalid_request`` on bad input."""
    reader = BodyReader(body)
    reader.check()
    url = reader.url("url")
    urls = reader.string_list("urls", min_items=1, max_items=MAX_BATCH, url=True)
    formats = reader.string_list("formats", allowed=FORMATS)
    only_main = reader.boolean("onlyMainContent", True)
    include_tags = reader.string_list("includeTags")
    exclude_tags = reader.string_list("excludeTags")
    wait_for = reader.string("waitForSelector", None)
    timeout_ms = reader.integer("timeoutMs", 30_000, minimum=1000, maximum=120_000)
    proxy_mode = reader.choice("proxyMode", "standard", PROXY_MODES)
    reader.integer("batchConcurrency", None, minimum=1, maximum=20)
    reader.integer("maxConcurrency", None, minimum=1)
    max_depth = reader.integer("maxDepth", None, minimum=1, maximum=10)
    max_pages = reader.integer("maxPages", None, minimum=1, maximum=10_000)
    scrape = reader.boolean("scrape", True)
    cache = reader.boolean("cache", True)
    extract = _read_extract(reader)
    webhook = _read_webhook(reader)

    has_url, has_urls = reader.has("url"), reader.has("urls")
    if has_url == has_urls:
        found = "more than one" if has_url else "none"
        reader.add("", "invalid_union", f'Expected exactly one of "url" or "urls", found {found}')
    reader.check()

    operation: Operation
    if has_urls:
        operation = "batch"
    elif not scrape:
        operation = "discover"
    elif reader.has("maxDepth") or reader.has("maxPages"):
        operation = "crawl"
    else:
        operation = "scrape"
    return ReadOptions(
        operation=operation,
        url=url,
        urls=tuple(urls or ()),
        formats=tuple(dict.fromkeys(formats)) if formats is not None else ("markdown",),
        only_main_content=only_main,
        include_tags=tuple(include_tags or ()),
        exclude_tags=tuple(exclude_tags or ()),
        wait_for_selector=wait_for,
        timeout_ms=timeout_ms if timeout_ms is not None else 30_000,
        proxy_mode=proxy_mode,
        max_depth=max_depth if max_depth is not None else DEFAULT_MAX_DEPTH,
        max_pages=max_pages if max_pages is not None else DEFAULT_MAX_PAGES,
        cache=cache,
        extract=extract if operation == "scrape" else None,
        webhook=webhook,
    )
