"""``GET /_mock/`` serves the dashboard page without a token; ``GET /_mock/jobs/script`` lists the
scripted timelines. The page itself is tested in Chromium (tests/browser)."""

from __future__ import annotations

import httpx

from reader_mock.server import MockServer


def test_the_dashboard_loads_without_the_token(live: MockServer, control: httpx.Client) -> None:
    for path in ("/_mock/", "/_mock"):
        page = httpx.get(live.url + path)
        assert page.status_code == 200, path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>reader-mock dashboard</title>" in page.text
        assert "https://" not in page.text.split("<script>")[1]  # no CDN: everything is inline
        assert "default-src 'self'" in page.headers["content-security-policy"]
    # The data it shows still needs the token.
    assert httpx.get(live.url + "/_mock/clock").status_code == 401
    assert httpx.get(live.url + "/_mock/jobs/script").status_code == 401


def test_the_scripted_timelines_are_listed_in_order(control: httpx.Client) -> None:
    assert control.get("/_mock/jobs/script").json()["data"] == {"pending": [], "cycle": []}
    control.post("/_mock/jobs/script", json={"timeline": "partial-failure", "count": 2})
    control.post("/_mock/jobs/script", json={"timeline": "slow-start"})
    listed = control.get("/_mock/jobs/script").json()
    assert listed == {
        "success": True,
        "data": {"pending": ["partial-failure", "partial-failure", "slow-start"], "cycle": []},
    }
    control.delete("/_mock/jobs/script")
    assert control.get("/_mock/jobs/script").json()["data"]["pending"] == []
