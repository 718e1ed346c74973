"""How ``reader-mock check`` turns Schemathesis' JUnit report into its own checks and problems.

The report below has the shape Schemathesis 4 writes (one ``testcase`` per operation, one
``failure`` whose text has a numbered block per test case). Running Schemathesis itself against
the mock is the slow test in test_check_cli.py.
"""

from __future__ import annotations

from typing import Final

from reader_mock.checking.report import junit_xml
from reader_mock.checking.rest import cases_from_junit, schemathesis_config

REPORT: Final = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites errors="0" failures="1" skipped="1" tests="3" time="6.1">
  <testsuite name="schemathesis" errors="0" failures="1" skipped="1" tests="3" time="6.1">
    <testcase name="POST /v1/read" time="3.5" />
    <testcase name="GET /v1/queue" time="0.1"><skipped message="No examples in schema" /></testcase>
    <testcase name="DELETE /v1/sessions/{id}" time="2.5">
      <failure type="failure" message="ST202">1. Test Case ID: 4U5hok

- ST202 Schema-valid request rejected

    Valid data should have been accepted
    Expected: 2xx, 3xx, 401, 403, 404, 409, 429, 5xx

[410] Gone:

    `{"success":false,"error":{"code":"session_expired"}}`

Reproduce with:

    curl -X DELETE -H 'x-api-key: [Filtered]' http://127.0.0.1:8091/v1/sessions/ses_1

2. Test Case ID: 9ZxQ2a

- Server error

- Undocumented HTTP status code

    Received: 500
    Documented: 200, 401, 404, 410

[500] Internal Server Error:

    `oops`

Reproduce with:

    curl -X DELETE http://127.0.0.1:8091/v1/sessions/ses_2
</failure>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_each_operation_is_a_case_and_each_failing_check_a_problem() -> None:
    cases = cases_from_junit(REPORT)
    assert [(case.name, case.status) for case in cases] == [
        ("POST /v1/read", "passed"),
        ("GET /v1/queue", "skipped"),
        ("DELETE /v1/sessions/{id}", "failed"),
    ]
    problems = cases[2].problems
    assert [(p.rule, p.where) for p in problems] == [
        ("ST202 Schema-valid request rejected", "DELETE /v1/sessions/{id}, test case 4U5hok"),
        ("Server error", "DELETE /v1/sessions/{id}, test case 9ZxQ2a"),
        ("Undocumented HTTP status code", "DELETE /v1/sessions/{id}, test case 9ZxQ2a"),
    ]
    assert problems[0].message == (
        "Valid data should have been accepted Expected: 2xx, 3xx, 401, 403, 404, 409, 429, 5xx; "
        "response [410] Gone; "
        "curl -X DELETE -H 'x-api-key: [Filtered]' http://127.0.0.1:8091/v1/sessions/ses_1"
    )
    assert "Received: 500 Documented: 200, 401, 404, 410; response [500]" in problems[2].message
    # And back out as JUnit: the rule is the failure's type.
    assert b'type="ST202 Schema-valid request rejected"' in junit_xml(cases)


def test_the_settings_get_the_key_as_the_security_schemes_credentials() -> None:
    text = schemathesis_config('rdr_"quoted"_key')
    assert text.rstrip().endswith('[auth.openapi.ApiKeyAuth]\napi_key = "rdr_\\"quoted\\"_key"')
    assert 'include-operation-id = "stopSession"' in text
