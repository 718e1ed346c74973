"""POST /v1/read: operations, bad input, blocked URLs, failing hosts, cache, idempotency."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Service
from reader_mock.core.errors import ApiError

ExpectError = Callable[[Callable[[], object], str], ApiError]
KEY = DEFAULT_API_KEY
BASE = "http://mock.test:8080"


def _issues(error: ApiError) -> list[dict[str, str]]:
    assert error.details is not None
    issues: list[dict[str, str]] = error.details["issues"]
    return issues


# ---------------------------------------------------------------------------- operations


def test_url_alone_is_a_synchronous_scrape(service: Service) -> None:
    outcome = service.reads.submit(KEY, {"url": "https://example.com/page"})
    assert outcome.status == 200
    data = outcome.data
    assert set(data) == {"url", "markdown", "metadata"}
    assert data["url"] == "https://example.com/page"
    assert data["markdown"].startswith("# ")
    metadata = data["metadata"]
    assert set(metadata) == {
        "title",
        "description",
        "statusCode",
        "duration",
        "cached",
        "proxyMode",
        "scrapedAt",
    }
    assert metadata["statusCode"] == 200
    assert metadata["cached"] is False
    assert metadata["proxyMode"] == "standard"
    assert metadata["scrapedAt"] == "2026-01-01T00:00:00Z"
    assert data["markdown"].startswith(f"# {metadata['title']}")
    assert service.usage.credits(KEY)["used"] == 1


def test_formats_select_the_content_fields(service: Service) -> None:
    data = service.reads.submit(
        KEY, {"url": "https://example.com", "formats": ["html", "screenshot"]}
    ).data
    assert "markdown" not in data
    assert data["html"].startswith("<!DOCTYPE html>")
    png = base64.b64decode(data["screenshot"], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")
    bare = service.reads.submit(KEY, {"url": "https://example.com/2", "formats": []}).data
    assert set(bare) == {"url", "metadata"}


def test_only_main_content_false_keeps_navigation(service: Service) -> None:
    main = service.reads.submit(KEY, {"url": "https://example.com/n", "formats": ["html"]}).data
    full = service.reads.submit(
        KEY,
        {"url": "https://example.com/n", "formats": ["html"], "onlyMainContent": False},
    ).data
    assert "<nav>" not in main["html"]
    assert "<nav>" in full["html"] and "<footer>" in full["html"]


def test_extract_answers_with_the_schema_fields(service: Service) -> None:
    body = {
        "url": "https://shop.example.com/item",
        "extract": {
            "schema": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "price": {"type": "number"}},
            }
        },
    }
    data = service.reads.submit(KEY, body).data
    assert set(data["extracted"]) == {"title", "price"}
    assert isinstance(data["extracted"]["title"], str)
    assert isinstance(data["extracted"]["price"], float | int)
    prompt_only = service.reads.submit(
        KEY, {"url": "https://a.example.com", "extract": {"prompt": "?"}}
    )
    assert set(prompt_only.data["extracted"]) == {"answer"}
    assert service.usage.credits(KEY)["used"] == 6  # (1 + 2) twice


@pytest.mark.parametrize(
    ("body", "mode", "total"),
    [
        ({"urls": ["https://example.com/a"]}, "batch", 1),
        ({"urls": ["https://example.com/a", "https://example.com/a"]}, "batch", 2),
        ({"url": "https://example.com", "maxDepth": 1}, "crawl", 1),
        ({"url": "https://example.com", "maxPages": 5}, "crawl", 1),
        ({"url": "https://example.com", "scrape": False}, "crawl", 1),
    ],
)
def test_jobs_are_created_with_their_mode(
    service: Service, body: dict[str, Any], mode: str, total: int
) -> None:
    outcome = service.reads.submit(KEY, body)
    assert outcome.status == 201
    assert outcome.data == {
        "id": outcome.data["id"],
        "status": "queued",
        "mode": mode,
        "total": total,
        "completed": 0,
        "creditsUsed": 0,
        "createdAt": "2026-01-01T00:00:00Z",
    }
    assert outcome.data["id"].startswith("job_") and len(outcome.data["id"]) == 20


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({}, "", "invalid_union"),
        ({"url": "https://a.com", "urls": ["https://b.com"]}, "", "invalid_union"),
        ({"url": "https://a.com", "proxyMode": "stealth"}, "proxyMode", "invalid_enum_value"),
        ({"url": "https://a.com", "proxyMode": "auto"}, "proxyMode", "invalid_enum_value"),
        ({"url": "not a url"}, "url", "invalid_string"),
        ({"url": 5}, "url", "invalid_type"),
        ({"urls": []}, "urls", "too_small"),
        ({"urls": ["https://a.com", 3]}, "urls.1", "invalid_type"),
        ({"url": "https://a.com", "formats": ["pdf"]}, "formats.0", "invalid_enum_value"),
        ({"url": "https://a.com", "timeoutMs": 999}, "timeoutMs", "too_small"),
        ({"url": "https://a.com", "timeoutMs": True}, "timeoutMs", "invalid_type"),
        ({"url": "https://a.com", "timeoutMs": 1500.5}, "timeoutMs", "invalid_type"),
        ({"url": "https://a.com", "maxPages": 10_001}, "maxPages", "too_big"),
        ({"url": "https://a.com", "extract": {}}, "extract", "invalid_union"),
        ({"url": "https://a.com", "webhook": {"url": "ftp://x.com"}},
         "webhook.url", "invalid_string"),
        ({"url": "https://a.com", "webhook": {"url": "https://x.com", "secret": "short"}},
         "webhook.secret", "too_small"),
    ],
)  # fmt: skip
def test_bad_bodies_are_invalid_request(
    service: Service, expect_error: ExpectError, body: object, path: str, code: str
) -> None:
    error = expect_error(lambda: service.reads.submit(KEY, body), "invalid_request")
    assert error.status == 400
    assert error.message == "Invalid request body"
    assert {"path": path, "code": code} in [
        {"path": entry["path"], "code": entry["code"]} for entry in _issues(error)
    ]


@pytest.mark.parametrize("body", [None, [], "https://a.com", 3])
def test_a_body_that_is_not_an_object_is_invalid(
    service: Service, expect_error: ExpectError, body: object
) -> None:
    error = expect_error(lambda: service.reads.submit(KEY, body), "invalid_request")
    assert _issues(error)[0]["path"] == ""
    assert _issues(error)[0]["code"] == "invalid_type"


def test_unknown_fields_are_ignored_and_batch_ignores_crawl_options(service: Service) -> None:
    outcome = service.reads.submit(
        KEY, {"urls": ["https://example.com"], "maxPages": 3, "scrape": False, "nope": 1}
    )
    assert outcome.data["mode"] == "batch"


# ---------------------------------------------------------------------------- blocked URLs


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/", "Resolves to private IP"),
        ("http://172.16.0.1/", "Resolves to private IP"),
        ("http://172.31.255.255/", "Resolves to private IP"),
        ("http://192.168.1.1/", "Resolves to private IP"),
        ("http://127.0.0.1:8080/", "Resolves to private IP"),
        ("http://169.254.169.254/latest/meta-data", "Resolves to private IP"),
        ("http://0.0.0.0/", "Resolves to private IP"),
        ("http://[::1]/", "Resolves to private IP"),
        ("http://[fd12:3456::1]/", "Resolves to private IP"),
        ("http://[fe80::1]/", "Resolves to private IP"),
        ("http://[::ffff:10.0.0.1]/", "Resolves to private IP"),
        ("http://localhost/", "Resolves to private IP"),
        ("http://LOCALHOST./", "Resolves to private IP"),
        ("http://api.localhost:3000/", "Resolves to private IP"),
        ("http://2130706433/", "Resolves to private IP"),
        ("http://0x7f.1/", "Resolves to private IP"),
        ("file:///etc/passwd", "Unsupported URL scheme"),
        ("ftp://example.com/file", "Unsupported URL scheme"),
        ("gopher://example.com/", "Unsupported URL scheme"),
        ("ldap://example.com/", "Unsupported URL scheme"),
        ("javascript:alert(1)", "Unsupported URL scheme"),
        ("data:text/html,hi", "Unsupported URL scheme"),
    ],
)
def test_blocked_targets(
    service: Service, expect_error: ExpectError, url: str, reason: str
) -> None:
    error = expect_error(lambda: service.reads.submit(KEY, {"url": url}), "url_blocked")
    assert error.status == 403
    assert error.details == {"url": url, "reason": reason}
    assert error.message == f"URL blocked: {reason}"


@pytest.mark.parametrize(
    "url",
    [
        "http://172.32.0.1/",
        "http://11.0.0.1/",
        "https://[2001:db8::1]/",
        "https://localhost.example/",
    ],
)
def test_public_addresses_are_not_blocked(service: Service, url: str) -> None:
    assert service.reads.submit(KEY, {"url": url}).status == 200


def test_a_batch_names_its_first_blocked_url(service: Service, expect_error: ExpectError) -> None:
    body = {"urls": ["https://example.com", "http://10.0.0.1/", "file:///x", "http://[::1]/"]}
    error = expect_error(lambda: service.reads.submit(KEY, body), "url_blocked")
    assert error.details == {"url": "http://10.0.0.1/", "reason": "Resolves to private IP"}
    assert service.workspaces["ws_1"].jobs == {}


def test_a_blocked_crawl_seed_is_refused(service: Service, expect_error: ExpectError) -> None:
    expect_error(
        lambda: service.reads.submit(KEY, {"url": "http://localhost/", "maxPages": 3}),
        "url_blocked",
    )


# ---------------------------------------------------------------------------- failing hosts


def test_fail_example_gives_502_and_costs_nothing(
    service: Service, expect_error: ExpectError
) -> None:
    error = expect_error(
        lambda: service.reads.submit(KEY, {"url": "https://a.fail.example/x"}),
        "upstream_unavailable",
    )
    assert error.status == 502
    assert service.usage.credits(KEY)["used"] == 0
    history = service.usage.history(KEY, base_url=BASE).data
    assert history[0]["status"] == "error"
    assert history[0]["credits"] == 0
    assert history[0]["proxyMode"] is None


def test_timeout_example_gives_504_with_the_timeout(
    service: Service, expect_error: ExpectError
) -> None:
    error = expect_error(
        lambda: service.reads.submit(KEY, {"url": "https://timeout.example/", "timeoutMs": 5000}),
        "scrape_timeout",
    )
    assert error.status == 504
    assert error.details == {"timeoutMs": 5000}
    assert service.usage.credits(KEY)["used"] == 0


@pytest.mark.parametrize("url", ["https://nowhere.invalid/x", "http://a.b.INVALID./"])
def test_hosts_under_the_invalid_tld_fail_like_a_failed_dns_lookup(
    service: Service, expect_error: ExpectError, url: str
) -> None:
    """An SDK's "unknown host" test needs an error: ``.invalid`` never resolves (RFC 2606)."""
    error = expect_error(lambda: service.reads.submit(KEY, {"url": url}), "upstream_unavailable")
    assert error.status == 502
    assert service.usage.credits(KEY)["used"] == 0
    entry = service.usage.history(KEY, base_url=BASE).data[0]
    assert (entry["status"], entry["credits"], entry["proxyMode"]) == ("error", 0, None)
    assert entry["error"] == f"Failed to fetch {url}: host not found"


# ---------------------------------------------------------------------------- cache


def test_cache_hit_is_free_and_keeps_the_original_scraped_at(
    service: Service, clock: ManualClock
) -> None:
    first = service.reads.submit(KEY, {"url": "https://example.com/c"}).data
    clock.advance(3600)
    hit = service.reads.submit(KEY, {"url": "https://example.com/c", "formats": ["html"]}).data
    assert hit["metadata"]["cached"] is True
    assert hit["metadata"]["scrapedAt"] == first["metadata"]["scrapedAt"]
    assert "proxyMode" not in hit["metadata"]
    assert hit["metadata"]["title"] == first["metadata"]["title"]
    assert "html" in hit and "markdown" not in hit  # formats are not part of the key
    assert service.usage.credits(KEY)["used"] == 1
    latest = service.usage.history(KEY, base_url=BASE).data[0]
    assert latest["cached"] is True and latest["credits"] == 0 and latest["proxyMode"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"onlyMainContent": False},
        {"includeTags": ["main"]},
        {"excludeTags": ["nav"]},
        {"waitForSelector": "#app"},
    ],
)
def test_cache_key_options_make_a_miss(service: Service, change: dict[str, Any]) -> None:
    service.reads.submit(KEY, {"url": "https://example.com/k"})
    other = service.reads.submit(KEY, {"url": "https://example.com/k", **change}).data
    assert other["metadata"]["cached"] is False


def test_proxy_mode_and_timeout_are_not_in_the_cache_key(service: Service) -> None:
    service.reads.submit(KEY, {"url": "https://example.com/p"})
    hit = service.reads.submit(
        KEY, {"url": "https://example.com/p", "proxyMode": "premium", "timeoutMs": 9000}
    ).data
    assert hit["metadata"]["cached"] is True


def test_cache_expires_after_24_hours(service: Service, clock: ManualClock) -> None:
    service.reads.submit(KEY, {"url": "https://example.com/t"})
    clock.advance(86_399)
    assert (
        service.reads.submit(KEY, {"url": "https://example.com/t"}).data["metadata"]["cached"]
        is True
    )
    clock.advance(1)
    fresh = service.reads.submit(KEY, {"url": "https://example.com/t"}).data["metadata"]
    assert fresh["cached"] is False
    assert fresh["scrapedAt"] == "2026-01-02T00:00:00Z"


def test_cache_false_skips_the_read_but_writes(service: Service, clock: ManualClock) -> None:
    service.reads.submit(KEY, {"url": "https://example.com/w"})
    clock.advance(60)
    skipped = service.reads.submit(KEY, {"url": "https://example.com/w", "cache": False}).data
    assert skipped["metadata"]["cached"] is False
    assert skipped["metadata"]["scrapedAt"] == "2026-01-01T00:01:00Z"
    clock.advance(60)
    hit = service.reads.submit(KEY, {"url": "https://example.com/w"}).data["metadata"]
    assert hit["cached"] is True
    assert hit["scrapedAt"] == "2026-01-01T00:01:00Z"  # the rewritten entry
    assert service.usage.credits(KEY)["used"] == 2


def test_extract_never_reads_the_cache(service: Service) -> None:
    service.reads.submit(KEY, {"url": "https://example.com/e"})
    data = service.reads.submit(
        KEY, {"url": "https://example.com/e", "extract": {"prompt": "x"}}
    ).data
    assert data["metadata"]["cached"] is False
    assert "extracted" in data


def test_failures_are_not_cached(service: Service, expect_error: ExpectError) -> None:
    for _ in range(2):
        expect_error(
            lambda: service.reads.submit(KEY, {"url": "https://fail.example/"}),
            "upstream_unavailable",
        )


# ---------------------------------------------------------------------------- idempotency


def test_idempotent_replay_within_24_hours_whatever_the_body(
    service: Service, clock: ManualClock
) -> None:
    first = service.reads.submit(
        KEY, {"urls": ["https://example.com/a"]}, idempotency_key="batch-1"
    )
    clock.advance(3600)
    again = service.reads.submit(
        KEY, {"url": "https://other.example.com"}, idempotency_key="batch-1"
    )
    assert again.replayed is True
    assert (again.status, again.data) == (first.status, first.data)
    assert len(service.workspaces["ws_1"].jobs) == 1
    looked_up = service.reads.replay(KEY, "batch-1")
    assert looked_up is not None and looked_up.data == first.data


def test_idempotent_replay_ignores_an_invalid_repeat_body(service: Service) -> None:
    first = service.reads.submit(KEY, {"url": "https://example.com/i"}, idempotency_key="k")
    again = service.reads.submit(KEY, {"bogus": True}, idempotency_key="k")
    assert again.data == first.data and again.status == 200
    assert service.usage.credits(KEY)["used"] == 1


def test_idempotency_record_expires_after_24_hours(service: Service, clock: ManualClock) -> None:
    first = service.reads.submit(KEY, {"urls": ["https://example.com/a"]}, idempotency_key="k")
    clock.advance(86_400)
    later = service.reads.submit(KEY, {"urls": ["https://example.com/a"]}, idempotency_key="k")
    assert later.replayed is False
    assert later.data["id"] != first.data["id"]


def test_errors_are_not_stored_for_idempotency(service: Service, expect_error: ExpectError) -> None:
    expect_error(
        lambda: service.reads.submit(KEY, {"url": "http://10.0.0.1"}, idempotency_key="k"),
        "url_blocked",
    )
    assert (
        service.reads.submit(KEY, {"url": "https://example.com"}, idempotency_key="k").status == 200
    )


def test_idempotency_keys_belong_to_their_workspace(make_service: Callable[..., Service]) -> None:
    service = make_service(api_keys=("rdr_one", "rdr_two"))
    one = service.reads.submit("rdr_one", {"urls": ["https://example.com"]}, idempotency_key="same")
    two = service.reads.submit("rdr_two", {"urls": ["https://example.com"]}, idempotency_key="same")
    assert two.replayed is False and two.data["id"] != one.data["id"]


@pytest.mark.parametrize(("key", "code"), [("", "too_small"), ("k" * 256, "too_big")])
def test_bad_idempotency_keys_are_invalid(
    service: Service, expect_error: ExpectError, key: str, code: str
) -> None:
    error = expect_error(
        lambda: service.reads.submit(KEY, {"url": "https://example.com"}, idempotency_key=key),
        "invalid_request",
    )
    assert _issues(error)[0]["path"] == "x-idempotency-key"
    assert _issues(error)[0]["code"] == code
