"""What every test of the repository (``tests/`` and ``examples/``) shares.

Under ``pytest -n`` the workers run tests at the same time. A test marked ``alone`` asserts
wall-clock bounds (a stop within a second, an answer within 100 ms under load) that another test
running beside it would make meaningless, so it runs with no other test at the same time: it
holds a lock the other tests share, taken with writer preference so that it does not wait for a
gap that never comes.

A test whose timed part is only a section of it (after a set-up of seconds that any other test
may share the machine with) leaves the marker off and runs that section in ``with run_alone():``
(the fixture below): the same lock, held only for the section.

Taking the lock waits for the tests running beside to end. So under ``pytest -n`` the tests
that take it come first, together, the others after them in their usual order: xdist hands out
consecutive tests, the first hundreds to one worker, so one worker runs them one after another
and they never wait for each other.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import IO

import hypothesis
import pytest

# The property tests draw the same examples on every run (from each test's name and code), and no
# check of theirs measures time (Hypothesis's deadline per example and its too-slow health check),
# so the suite's verdict does not change between runs. ``--hypothesis-profile=reliability`` is the
# fuzz tests' full run (docs/reliability.md): 2,000 examples each, new ones on every run.
hypothesis.settings.register_profile(
    "suite",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.register_profile(
    "reliability", hypothesis.settings.get_profile("suite"), max_examples=2_000, derandomize=False
)
hypothesis.settings.load_profile("suite")

try:
    import fcntl
except ImportError:  # no flock: tests marked ``alone`` run beside others
    fcntl = None  # type: ignore[assignment]

_files: dict[str, IO[bytes]] = {}


def _lock_file(name: str) -> IO[bytes] | None:
    """One of the run's two lock files, shared by its workers; ``None`` without xdist."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None or fcntl is None:
        return None
    if name not in _files:
        path = Path(tempfile.gettempdir()) / f"reader-mock-tests-{run}.{name}"
        _files[name] = path.open("ab")
    return _files[name]


def _takes_the_lock(item: pytest.Item) -> bool:
    marked = item.get_closest_marker("alone") is not None
    return marked or "run_alone" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        items.sort(key=lambda item: not _takes_the_lock(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    gate, running = _lock_file("gate"), _lock_file("running")
    if gate is None or running is None:
        return (yield)
    alone = item.get_closest_marker("alone") is not None
    if alone:
        fcntl.flock(gate, fcntl.LOCK_EX)  # no other test starts from now on
        fcntl.flock(running, fcntl.LOCK_EX)  # and the ones running have ended
    else:
        fcntl.flock(gate, fcntl.LOCK_SH)
        fcntl.flock(running, fcntl.LOCK_SH)
        fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        return (yield)
    finally:
        fcntl.flock(running, fcntl.LOCK_UN)
        if alone:
            fcntl.flock(gate, fcntl.LOCK_UN)


@contextlib.contextmanager
def _alone_section(marked: bool) -> Iterator[None]:
    gate, running = _lock_file("gate"), _lock_file("running")
    if gate is None or running is None or marked:
        yield
        return
    # The test holds ``running`` shared. It lets go first: an alone test that already holds the
    # gate waits for exactly that, and would wait for this one while this one waits for the gate.
    fcntl.flock(running, fcntl.LOCK_UN)
    fcntl.flock(gate, fcntl.LOCK_EX)  # no other test starts from now on
    fcntl.flock(running, fcntl.LOCK_EX)  # and the ones running have ended
    try:
        yield
    finally:
        fcntl.flock(running, fcntl.LOCK_SH)  # the rest of the test shares the machine again
        fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.fixture
def run_alone(
    request: pytest.FixtureRequest,
) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """``with run_alone():`` runs the block with no other test at the same time under
    ``pytest -n`` (as the ``alone`` marker does for a whole test); without xdist it does nothing."""
    marked = request.node.get_closest_marker("alone") is not None
    return lambda: _alone_section(marked)
