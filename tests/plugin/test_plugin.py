"""The pytest plugin, exercised the way SDK authors use it: suites run with pytester.

Each suite talks to the session server over real sockets with httpx. Runs happen inline (fast),
in a subprocess (entry points loaded afresh) and under xdist with two workers.
"""

from __future__ import annotations

# An inline pytester run forgets the modules first imported during it. httpx imports httpcore
# lazily and keeps a map of its exception classes, so an httpcore first loaded inside a run
# would leave later tests with classes httpx no longer maps (httpcore.ConnectError escaping
# instead of httpx.ConnectError). Loaded here, it outlives every run.
import httpcore  # noqa: F401
import pytest
from suites import (
    CLIENT,
    FAILING,
    FIXTURE_NAMES,
    LAZY,
    MARKED,
    PASSING,
    PINGS,
    SCRIPTED,
    SERVER_ERROR,
    TWO_PAGES_YAML,
    UNUSED_PLUGINS,
    WORKSPACE_DROP,
)

# Here rather than in a conftest: pytest accepts pytest_plugins only in the top-level conftest.
pytest_plugins = ["pytester"]

pytestmark = pytest.mark.slow

_INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
"""


def _suite(pytester: pytest.Pytester, mode: str = "strict", **modules: str) -> None:
    pytester.makeini(_INI.format(mode=mode))
    pytester.makepyfile(client=CLIENT, **modules)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_sync_and_async_tests_pass_inline(pytester: pytest.Pytester, mode: str) -> None:
    _suite(pytester, mode, test_passing=PASSING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_the_suite_passes_in_a_subprocess(pytester: pytest.Pytester) -> None:
    _suite(pytester, "auto", test_passing=PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *UNUSED_PLUGINS)
    result.assert_outcomes(passed=3)


def test_the_suite_passes_under_xdist(pytester: pytest.Pytester) -> None:
    _suite(pytester, "strict", test_passing=PASSING, test_again=PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *UNUSED_PLUGINS, "-n", "2")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_a_client_that_reconnects_after_done_fails_with_the_journal(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester, test_failing=FAILING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "reconnects")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*reader-mock: per-job streams after done:*",
            "*the client connected to the per-job stream of job_* again (#*) after connection #*"
            " had received done*",
            "*journal (stream connections):*",
            "*closed *: after_done*",
            "*reconnect of #*",
        ]
    )


def test_a_client_that_reads_workspace_events_as_job_events_fails(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester, test_failing=FAILING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "workspace_events")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*reader-mock: event names on the job stream:*",
            "*the client surfaced 'job:progress' on the job stream, whose events are *"
            "; it is an event of the workspace stream*",
        ]
    )


def test_an_exception_inside_the_server_fails_the_test_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester, test_server_error=SERVER_ERROR)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_server_side_exception*",
            "*the server raised * unexpected exception(s) in this test*",
            "*ZeroDivisionError: a subscriber failed inside the server*",
        ]
    )


def test_the_timeline_marker_scripts_the_next_job(pytester: pytest.Pytester) -> None:
    _suite(pytester, test_marked=MARKED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_session_that_uses_no_fixture_imports_no_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lazy=LAZY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *UNUSED_PLUGINS)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*PytestUnknownMarkWarning*")


def test_a_client_that_does_not_reconnect_after_a_workspace_drop_fails(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester, test_drop=WORKSPACE_DROP)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*reader-mock: reconnects on the workspace stream:*",
            "*the client did not reconnect after #* was dropped (truncate); the workspace stream"
            " must be reopened after a drop*",
            "*workspace stream of workspace *",
            "*closed *: scripted_drop (truncate)*",
            "*FAILED test_drop.py::test_gives_up_after_a_drop*",
        ]
    )


def test_scripting_by_file_and_by_builder(pytester: pytest.Pytester) -> None:
    _suite(pytester, test_scripted=SCRIPTED)
    pytester.path.joinpath("two-pages.yaml").write_text(TWO_PAGES_YAML)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_bad_timeline_in_the_marker_fails_with_its_problems(pytester: pytest.Pytester) -> None:
    _suite(
        pytester,
        test_bad="""
import pytest

@pytest.mark.reader_mock_timeline("no-such-timeline")
def test_marked(reader_mock):
    pass
""",
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.reader_mock_timeline:*no-such-timeline*neither a ready-made timeline*"]
    )


def test_the_workspace_stream_must_stay_open_across_pings(pytester: pytest.Pytester) -> None:
    _suite(pytester, test_pings=PINGS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*reader-mock: the workspace stream:*",
            "*the client hung up on workspace stream #* before it was sent anything*",
            "*FAILED test_pings.py::test_hangs_up_on_silence*",
        ]
    )


def test_fixtures_and_marker_are_documented(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = pytester.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    assert result.ret == 0
    listing = result.stdout.str()
    for name in FIXTURE_NAMES:
        result.stdout.fnmatch_lines([f"{name}*reader_mock*pytest_plugin.py*"])
        block = listing.split(f"\n{name} ", 1)[1].split("\n\n", 1)[0]
        assert block.count("\n") >= 1, f"{name} has no docstring in --fixtures"
    markers = pytester.runpytest_inprocess("--markers", "-p", "no:cacheprovider")
    markers.stdout.fnmatch_lines(["@pytest.mark.reader_mock_timeline(*timelines): the next jobs*"])
