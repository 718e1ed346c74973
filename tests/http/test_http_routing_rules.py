"""The app's URL rules compile their URL builders only when a URL is first built."""

from __future__ import annotations

import asyncio

from quart import url_for

from reader_mock.core.clock import ManualClock
from reader_mock.http._rules import LazyBuilderRule
from reader_mock.server import MockServer


def test_rules_build_urls_once_asked() -> None:
    app = MockServer(clock=ManualClock()).app
    rules = list(app.url_map.iter_rules())
    assert rules and all(isinstance(rule, LazyBuilderRule) for rule in rules)

    async def build() -> tuple[str, str, str]:
        async with app.test_request_context("/"):
            return (
                url_for("get_job", job_id="job_1"),
                url_for("get_job", job_id="a b", skip="2"),
                url_for("get_job", job_id="job_2", _external=True),
            )

    plain, quoted, external = asyncio.run(build())
    assert plain == "/v1/jobs/job_1"
    assert quoted == "/v1/jobs/a%20b?skip=2"
    assert external == "http://localhost/v1/jobs/job_2"


def test_a_rule_matches_as_before() -> None:
    adapter = MockServer(clock=ManualClock()).app.url_map.bind("localhost")
    assert adapter.match("/v1/jobs/job_9", method="GET") == ("get_job", {"job_id": "job_9"})
    assert adapter.match("/v1/usage/credits", method="GET")[0] == "get_credits"
