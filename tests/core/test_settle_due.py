"""``Service.settle_due``: what a stream asks on every turn, cheap once a workspace is settled, and
never skipping a job that came after."""

from __future__ import annotations

from reader_mock.core import DEFAULT_API_KEY, ManualClock, Service


def test_a_job_created_after_settling_is_applied_by_the_next_settle(
    service: Service, clock: ManualClock
) -> None:
    workspace = service.streams.watch_events(DEFAULT_API_KEY, lambda: None, lambda: None).workspace
    until = clock.now() + 1
    service.settle_due(workspace, until)  # nothing scheduled: remembered as settled that far
    assert workspace.settled_through == until
    service.reads.submit(DEFAULT_API_KEY, {"urls": ["https://example.com/a"]})
    first = service.next_due(workspace)
    assert first is not None and first <= until  # due within what was settled before it came
    service.settle_due(workspace, until)
    after = service.next_due(workspace)
    assert after is None or after > until
    assert workspace.settled_through == until


def test_settling_up_to_a_time_applies_only_what_is_due_by_then(
    service: Service, clock: ManualClock
) -> None:
    workspace = service.streams.watch_events(DEFAULT_API_KEY, lambda: None, lambda: None).workspace
    service.reads.submit(DEFAULT_API_KEY, {"urls": ["https://example.com/a"]})
    first = service.next_due(workspace)
    assert first is not None
    service.settle_due(workspace, first - 0.25)
    assert service.next_due(workspace) == first
    service.settle_due(workspace, first)
    later = service.next_due(workspace)
    assert later is None or later > first
