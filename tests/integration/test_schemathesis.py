"""Schemathesis against a live reader-mock: every operation of openapi.yaml, then its links.

The server is a real :class:`~reader_mock.server.MockServer` on an ephemeral port. Its limits are
raised so far that fuzzing never meets them (credits, requests per minute, concurrent jobs,
webhooks, API keys): those limits have tests of their own, and here they would only turn most
answers into ``402``/``409``/``429`` and leave the rest of the API untested. It runs on a manual
clock with no queue delay and no page interval, so every job is finished by the next request
(a per-job stream therefore sends ``done`` and ends) and nothing expires during the run.

Generation covers positive and negative data in every phase, and every check Schemathesis offers
runs (its default): nothing is excluded. ``schemathesis.toml`` next to this file bounds the run
(25 examples per operation, a fixed seed), limits how long the never-ending workspace stream is
read, and accepts the documented ``400`` of a retry with nothing to retry. ``schemathesis_hooks``
gives every request a fresh idempotency key (see its docstring for why).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import hypothesis
import pytest
import schemathesis
import schemathesis_hooks

from reader_mock.core import ManualClock, Settings
from reader_mock.server import MockServer

HERE: Final = Path(__file__).resolve().parent
OPENAPI: Final = HERE.parents[1] / "openapi.yaml"
CONFIG: Final = HERE / "schemathesis.toml"
UNLIMITED: Final = 1_000_000_000

# Imported for its hook, which it registers with Schemathesis on import.
assert schemathesis_hooks.fresh_idempotency_key is not None


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockServer]:
    """One mock server for the whole module, with limits fuzzing cannot reach."""
    settings = Settings(
        monthly_credits=UNLIMITED,
        requests_per_minute=UNLIMITED,
        max_concurrent_jobs=UNLIMITED,
        max_webhooks=UNLIMITED,
        max_api_keys=UNLIMITED,
        queue_delay=0,
        page_interval=0,
    )
    with MockServer(settings=settings, clock=ManualClock(), seed=11) as server:
        yield server
        assert server.errors == [], server.errors
        assert server.service.unexpected_errors == [], server.service.unexpected_errors


@pytest.fixture(autouse=True)
def _no_server_errors(mock_server: MockServer) -> Iterator[None]:
    """Fail the test that made the server record an error, not only the module's last one."""
    yield
    assert mock_server.errors == [], mock_server.errors


schema = schemathesis.openapi.from_path(OPENAPI, config=schemathesis.Config.from_path(CONFIG))


@schema.parametrize()
def test_every_operation_conforms(case: schemathesis.Case, mock_server: MockServer) -> None:
    """Positive and negative requests to every operation get documented, schema-valid answers."""
    case.call_and_validate(base_url=mock_server.url)


def test_linked_operations_conform(mock_server: MockServer) -> None:
    """Sequences that follow the document's links (job, webhook, key, session ids) conform."""

    class LinkedCalls(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": mock_server.url}

    LinkedCalls.run(
        settings=hypothesis.settings(
            max_examples=60,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            database=None,
        )
    )
