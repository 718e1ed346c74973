"""Schemathesis against a live MockServer: the control API obeys contracts/control-openapi.yaml.

Every check and both generation modes run. One exception, on one operation: an inline timeline
is described structurally as "an object", while the server also checks the timeline's meaning
(one ``done``, the AsyncAPI contract...), so generated objects are rightly refused and the
``positive_data_acceptance`` check is left out for ``POST /_mock/jobs/script``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode

from reader_mock.server import MockServer

TOKEN = "control-token-for-tests"
_DOCUMENT = Path(__file__).resolve().parents[2] / "contracts" / "control-openapi.yaml"

schema = schemathesis.openapi.from_path(_DOCUMENT)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=25
)


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def target(live: MockServer) -> MockServer:
    return live


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_control_api_conforms(case: schemathesis.Case[Any], target: MockServer) -> None:
    from schemathesis.checks import positive_data_acceptance

    scripting = case.operation.path == "/_mock/jobs/script"
    excluded = [positive_data_acceptance] if scripting else []
    headers = {"x-mock-token": TOKEN}
    case.call_and_validate(base_url=target.url, headers=headers, excluded_checks=excluded)
