"""The suite's property tests draw the same examples on every run and measure no time
(conftest.py), so its verdict does not change from one run to the next; the reliability profile
draws new examples."""

from __future__ import annotations

import hypothesis
import pytest
from hypothesis import strategies as st


def _draw(settings: hypothesis.settings) -> list[str]:
    """The examples one property draws in a run."""
    drawn: list[str] = []

    @settings
    @hypothesis.given(st.text(max_size=30))
    def holds(value: str) -> None:
        drawn.append(value)

    holds()
    return drawn


def _draw_twice(settings: hypothesis.settings) -> tuple[list[str], list[str]]:
    """The examples one property draws in two runs, as two runs of the suite would."""
    return _draw(settings), _draw(settings)


def test_two_runs_draw_the_same_examples(pytestconfig: pytest.Config) -> None:
    if pytestconfig.getoption("hypothesis_profile", None) not in (None, "suite"):
        pytest.skip("another Hypothesis profile was chosen on the command line")
    first, second = _draw_twice(hypothesis.settings(max_examples=50))
    assert len(first) >= 10
    assert first == second
    # Nor does any check measure time: a slow machine gives the same verdict.
    current = hypothesis.settings()
    assert current.deadline is None
    assert hypothesis.HealthCheck.too_slow in current.suppress_health_check


def test_the_reliability_profile_draws_new_examples() -> None:
    reliability = hypothesis.settings.get_profile("reliability")
    assert reliability.max_examples == 2_000
    first, second = _draw_twice(hypothesis.settings(reliability, max_examples=50))
    assert first != second
