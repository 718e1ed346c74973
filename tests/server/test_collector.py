"""The serving process's full garbage collections: rare, and at calm moments only."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from reader_mock._collector import Collector


@pytest.fixture
def full_passes() -> Iterator[list[int]]:
    """Counts the full collections Python runs while the test runs."""
    seen: list[int] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            seen.append(1)

    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)


@pytest.fixture
def collector() -> Iterator[Collector]:
    thresholds = gc.get_threshold()
    collector = Collector()
    try:
        yield collector
    finally:
        collector.uninstall()
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop of the test's own, run by hand."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


def _young_passes(count: int) -> None:
    """``count`` collections of the two younger generations, each counted towards a full one."""
    for _ in range(count):
        gc.collect(1)


def test_a_collector_not_installed_leaves_the_collections_to_python(
    collector: Collector, full_passes: list[int], loop: asyncio.AbstractEventLoop
) -> None:
    found = collector
    thresholds = gc.get_threshold()
    _young_passes(60)
    found.calm()
    for _ in range(1200):
        found.stream_ended(loop)
        found.stream_opened(loop)
    loop.run_until_complete(asyncio.sleep(0))
    assert gc.get_threshold() == thresholds
    assert not found.installed
    assert full_passes == []


def test_installing_makes_pythons_own_full_collections_rare_and_uninstalling_restores_them(
    collector: Collector,
) -> None:
    found = collector
    gc.set_threshold(700, 10, 10)
    found.install()
    assert gc.get_threshold() == (700, 10, 100)
    found.install()  # a second install keeps the thresholds it saved first
    found.uninstall()
    assert gc.get_threshold() == (700, 10, 10)


def test_a_calm_moment_runs_a_full_collection_only_once_enough_young_ones_ran(
    collector: Collector, full_passes: list[int]
) -> None:
    found = collector
    found.install()
    gc.collect()  # count from zero
    full_passes.clear()
    _young_passes(49)
    found.calm()
    assert full_passes == []
    _young_passes(1)
    found.calm()
    assert full_passes == [1]
    assert gc.get_count()[2] == 0
    found.calm()
    assert full_passes == [1]


def test_ended_streams_get_one_full_collection_after_the_callbacks_ready_now(
    collector: Collector, full_passes: list[int], loop: asyncio.AbstractEventLoop
) -> None:
    found = collector
    found.install()
    gc.collect()
    full_passes.clear()
    order: list[str] = []

    def streams_end(count: int) -> None:
        for _ in range(count):
            found.stream_ended(loop)
        order.append(f"{count} ended, {len(full_passes)} full")

    loop.call_soon(streams_end, 150)  # not yet ten younger passes: nothing
    loop.run_until_complete(asyncio.sleep(0))
    assert full_passes == []
    _young_passes(10)  # as often as Python's own full passes would come
    loop.call_soon(streams_end, 1)  # a collection is scheduled, once
    loop.call_soon(streams_end, 10)  # ready before it: runs first
    loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(asyncio.sleep(0))
    assert order == ["150 ended, 0 full", "1 ended, 0 full", "10 ended, 0 full"]
    assert full_passes == [1]


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_what_a_full_pass_leaves_is_frozen_until_streams_end(
    collector: Collector, full_passes: list[int], loop: asyncio.AbstractEventLoop
) -> None:
    """A connection alive at a full pass is not walked by the next ones; once streams have
    ended, the pass thaws everything, and what died meanwhile is freed."""
    found = collector
    found.install()
    node = _Node()
    gone = weakref.ref(node)
    _young_passes(50)
    found.calm()
    assert gc.get_freeze_count() > 0
    del node  # dies while frozen: the next ordinary pass does not see it
    _young_passes(50)
    found.calm()
    assert gone() is not None
    assert full_passes == [1, 1]
    for _ in range(100):
        found.stream_ended(loop)
    _young_passes(10)
    found.calm()
    assert gone() is None
    assert full_passes == [1, 1, 1]


def test_a_thousand_new_streams_get_a_full_collection_at_once(
    collector: Collector, full_passes: list[int], loop: asyncio.AbstractEventLoop
) -> None:
    """Many connections opened together are walked (and frozen) right after, not by the passes
    of the clock steps that follow."""
    found = collector
    found.install()
    gc.collect()
    full_passes.clear()
    for _ in range(999):
        found.stream_opened(loop)
    loop.run_until_complete(asyncio.sleep(0))
    assert full_passes == []
    found.stream_opened(loop)
    loop.run_until_complete(asyncio.sleep(0))
    assert full_passes == [1]
    for _ in range(999):
        found.stream_opened(loop)  # counted afresh after the pass
    loop.run_until_complete(asyncio.sleep(0))
    assert full_passes == [1]
