"""Schemathesis against a live reader-mock: every operation of openapi.yaml, then its links.

The server is a real :class:`~reader_mock.server.MockServer` on an ephemeral port, reached over a
real socket. Its limits are raised so far that fuzzing never meets them (credits, requests per
minute, concurrent jobs, webhooks, API keys): those limits have tests of their own, and here they
would only turn most answers into ``402``/``409``/``429`` and leave the rest of the API untested. It
runs on a manual clock with no queue delay and no page interval, so every job is finished by the
next request (a per-job stream therefore sends ``done`` and ends) and nothing expires.

Generation covers positive and negative data in the examples, coverage and fuzzing phases, and
every check Schemathesis offers runs (its default): nothing is excluded, and the module proves it
by recording, through an ``after_validate`` hook, the name of every check that looked at a
response. ``reader_mock/checking/schemathesis.toml`` (the settings of ``reader-mock check``)
bounds the run and states the few documented behaviours a generic fuzzer cannot infer;
``reader_mock.checking.schemathesis_hooks`` gives every request a fresh idempotency key.

The server has two workspaces. Generated requests carry the first one's key; the second belongs to
a neighbouring workspace (``schemathesis-identities.json``), so ``object_level_authorization``
replays the first workspace's reads of its own objects with the neighbour's key and fails if one
leaks. The module checks that such replays were really sent.

The workspace stream never ends and, on a manual clock, never pings; a stream read with nothing
happening would validate no event at all. So each call to ``GET /v1/events`` starts a job a moment
after the stream opens, and the events it causes are what Schemathesis validates against the
document's per-event schema; the module checks that such events really arrived.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import hypothesis
import pytest
import schemathesis
import yaml
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config._auth import WFCAuthConfig
from schemathesis.core import NOT_SET

from reader_mock.checking import schemathesis_hooks
from reader_mock.checking.rest import schemathesis_config
from reader_mock.core import ManualClock, Settings
from reader_mock.core.settings import DEFAULT_API_KEY
from reader_mock.server import MockServer

HERE: Final = Path(__file__).resolve().parent
OPENAPI: Final = HERE.parents[1] / "openapi.yaml"
IDENTITIES: Final = HERE / "schemathesis-identities.json"
NEIGHBOUR_KEY: Final = "rdr_neighbour_workspace_key"
UNLIMITED: Final = 1_000_000_000
FEED_DELAY: Final = 0.1
"""Seconds after a workspace stream opens before the job that feeds it is created."""

# Imported for its hook, which it registers with Schemathesis on import.
assert schemathesis_hooks.fresh_idempotency_key is not None

load_all_checks()
EVERY_CHECK: Final = frozenset(check.__name__ for check in CHECKS.get_all())


pytestmark = pytest.mark.slow


def _config() -> schemathesis.Config:
    """The settings ``reader-mock check`` uses, plus the neighbouring workspace as a peer identity.

    ``reader-mock check`` has one key: ``reader-mock serve`` has one workspace.
    """
    config = schemathesis.Config.from_str(schemathesis_config(DEFAULT_API_KEY))
    config.projects.default.auth.wfc = WFCAuthConfig(
        path=str(IDENTITIES), user="owner", peers=["owner", "neighbour"]
    )
    return config


schema = schemathesis.openapi.from_path(OPENAPI, config=_config())
# The document as written: Schemathesis adds the links it infers to its own copy.
DOCUMENT: Final = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))

checks_seen: set[str] = set()
"""Names of the checks that validated at least one response."""
operations_seen: set[str] = set()
"""Operation ids whose responses were validated in this process."""
workspace_events: Counter[str] = Counter()
"""Event names read from ``GET /v1/events`` answers that Schemathesis validated."""
neighbour_requests: Counter[str] = Counter()
"""Requests the second identity made during the stateful run, counted before each reset."""
feeders: dict[str, threading.Thread] = {}
"""The job-creating thread started for each workspace-stream call, by case id."""


@schema.hook("after_validate")
def record_checks(
    context: schemathesis.HookContext,
    case: schemathesis.Case[Any],
    response: schemathesis.Response,
    results: list[Any],
) -> None:
    """Remember which checks ran, and which events a workspace stream carried."""
    checks_seen.update(result.name for result in results)
    operation = str(case.operation.definition.raw.get("operationId"))
    operations_seen.add(operation)
    if operation == "streamEvents":
        for line in response.text.splitlines():
            if line.startswith("event:"):
                workspace_events[line.removeprefix("event:").strip()] += 1


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockServer]:
    """One mock server for the whole module: two workspaces, limits fuzzing cannot reach."""
    settings = Settings(
        api_keys=(DEFAULT_API_KEY, NEIGHBOUR_KEY),
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


def _operation_ids() -> set[str]:
    """The ``operationId`` of every operation in the document."""
    paths = DOCUMENT["paths"]
    return {operation["operationId"] for item in paths.values() for operation in item.values()}


def _feed_workspace_stream(server: MockServer) -> threading.Thread:
    """Start a thread that creates a small batch job once the stream has had time to open."""

    def create() -> None:
        threading.Event().wait(FEED_DELAY)
        response = httpx.post(
            f"{server.url}/v1/read",
            json={"urls": ["https://feed.example.com/a", "https://fail.example/b"]},
            headers={"x-api-key": DEFAULT_API_KEY},
        )
        assert response.status_code == 201, response.text

    thread = threading.Thread(target=create, daemon=True)
    thread.start()
    return thread


def _call(case: schemathesis.Case[Any], server: MockServer) -> None:
    """Call and validate one case; a workspace-stream call gets a job to report while it is open."""
    feeding = case.operation.definition.raw.get("operationId") == "streamEvents"
    feeder = _feed_workspace_stream(server) if feeding else None
    try:
        case.call_and_validate(base_url=server.url)
    finally:
        if feeder is not None:
            feeder.join(timeout=5)


@schema.parametrize()
def test_every_operation_conforms(case: schemathesis.Case[Any], mock_server: MockServer) -> None:
    """Positive and negative requests to every operation get documented, schema-valid answers."""
    _call(case, mock_server)


def test_linked_operations_conform(mock_server: MockServer) -> None:
    """Sequences that follow the document's links (job, webhook, key, session ids) conform."""
    reached: Counter[tuple[str, str]] = Counter()

    class LinkedCalls(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every sequence starts from the same fresh state, so a sequence Hypothesis replays
            # (to confirm or shrink a failure) gets the answers it got the first time.
            mock_server.reset()

        def teardown(self) -> None:
            neighbour = mock_server.service.workspaces["ws_2"]
            neighbour_requests["ws_2"] += neighbour.rate.count(mock_server.clock.now())

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": mock_server.url}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case[Any]) -> None:
            # The base class records the response for the checks that look back along the chain.
            super().after_call(response, case)
            operation = str(case.operation.definition.raw.get("operationId"))
            reached[(operation, _outcome(response))] += 1

    LinkedCalls.run(
        settings=hypothesis.settings(
            max_examples=40,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            database=None,
        )
    )
    # Links of every kind were followed to a resource a link supplied (not only made-up ids): a
    # job, a webhook, an API key and a session were each read, changed or removed through one.
    # Which operations a random run reaches varies; test_each_link_leads_to_a_conforming_answer
    # follows every link once, deterministically.
    kinds = {
        "job": {"getJob", "streamJob", "cancelJob", "retryJob"},
        "webhook": {"updateWebhook", "deleteWebhook"},
        "API key": {"revokeApiKey"},
        "session": {"getSession", "stopSession"},
    }
    succeeded = {operation for operation, outcome in reached if outcome.startswith("2")}
    missed = [kind for kind, operations in kinds.items() if not operations & succeeded]
    assert missed == [], f"{missed}; reached: {sorted(reached)}"


# How to create the resource each link starts from: (source operationId, path, JSON body).
SOURCES: Final = {
    "read": ("/v1/read", {"urls": ["https://example.com/a", "https://fail.example/b"]}),
    "createWebhook": (
        "/v1/webhooks",
        {"url": "https://hooks.example.com/r", "name": "links", "events": ["job.completed"]},
    ),
    "createApiKey": ("/v1/api-keys", {"name": "links"}),
    "createSession": ("/v1/sessions", {"maxDurationMs": 600_000}),
}
# What each link target answers on the resource just created. The batch has a failed URL, so the
# retry succeeds; on a manual clock with no delays the job is finished, so the cancel is a 409.
TARGETS: Final[dict[str, tuple[dict[str, Any] | None, int]]] = {
    "getJob": (None, 200),
    "streamJob": (None, 200),
    "retryJob": (None, 200),
    "cancelJob": (None, 409),
    "updateWebhook": ({"active": False}, 200),
    "deleteWebhook": (None, 200),
    "revokeApiKey": (None, 200),
    "getSession": (None, 200),
    "stopSession": (None, 200),
}
ORDER: Final = {"get": 0, "patch": 1, "post": 1, "delete": 2}
"""Reads first, then changes, then removals, so every link finds its resource."""


def test_each_link_leads_to_a_conforming_answer(mock_server: MockServer) -> None:
    """Every link of the document, followed once from a freshly made resource, with all checks."""
    links = _links()
    assert {source for source, _, _, _ in links} == set(SOURCES)
    assert {target for _, _, target, _ in links} == set(TARGETS)
    created: dict[str, Any] = {}
    for source, (path, body) in SOURCES.items():
        response = httpx.post(
            mock_server.url + path, json=body, headers={"x-api-key": DEFAULT_API_KEY}
        )
        assert response.status_code == 201, response.text
        created[source] = response.json()
    answers: dict[str, int] = {}
    for source, name, target, pointer in sorted(links, key=lambda link: _order(link[2])):
        operation = schema.find_operation_by_id(target)
        parameters = {name: _resolve(created[source], pointer)}
        body, _ = TARGETS[target]
        case = operation.Case(
            path_parameters=parameters,
            body=body if body is not None else NOT_SET,
            media_type="application/json" if body is not None else None,
        )
        # A case built by hand gets no generated credentials; the key goes in as a header.
        answer = case.call_and_validate(
            base_url=mock_server.url, headers={"x-api-key": DEFAULT_API_KEY}
        )
        answers[target] = answer.status_code
    assert answers == {target: status for target, (_, status) in TARGETS.items()}


def _links() -> list[tuple[str, str, str, str]]:
    """``(source operationId, parameter, target operationId, JSON pointer)`` for every link."""
    found = []
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                for link in response.get("links", {}).values():
                    for parameter, expression in link["parameters"].items():
                        prefix = "$response.body#"
                        assert expression.startswith(prefix), expression
                        pointer = expression.removeprefix(prefix)
                        found.append(
                            (operation["operationId"], parameter, link["operationId"], pointer)
                        )
    return found


def _order(target: str) -> int:
    """Where ``target`` comes in the walk: reads, then changes, then removals."""
    for item in DOCUMENT["paths"].values():
        for method, operation in item.items():
            if operation["operationId"] == target:
                return ORDER[method]
    raise AssertionError(f"no operation {target}")


def _resolve(document: Any, pointer: str) -> Any:
    """The value at the JSON pointer ``pointer`` (``/data/id``) in ``document``."""
    value = document
    for part in pointer.strip("/").split("/"):
        value = value[part]
    return value


def _outcome(response: schemathesis.Response) -> str:
    """``200``-style for a success; for an error the status and the code (or the retry message)."""
    if response.status_code < 400:
        return str(response.status_code)
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)
    detail = error["message"] if error.get("code") == "invalid_request" else error.get("code")
    return f"{response.status_code} {detail}"


def test_every_check_ran_and_the_streams_carried_events(mock_server: MockServer) -> None:
    """Runs last in this module: no check was left out, and the SSE reads validated real events."""
    if operations_seen != _operation_ids():
        # Only when the module was split (pytest -k, or pytest-xdist across processes): the
        # record is per process, so the accounting is only meaningful for a whole run.
        pytest.skip("the operations were not all tested in this process; run the whole module")
    assert checks_seen == EVERY_CHECK, sorted(EVERY_CHECK - checks_seen)
    assert {"job:progress", "job:completed"} <= set(workspace_events), workspace_events
    # object_level_authorization really replayed reads with the neighbour's key (the stateful
    # run gives it the chains it needs). Requests with a valid key count toward the rate window,
    # which each sequence's reset empties, so it is read at the end of every sequence.
    assert neighbour_requests["ws_2"] > 0
