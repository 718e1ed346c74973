"""Every answer's JSON comes from ``dumps_utf8``: the text ``json.dumps`` gives, byte for byte."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reader_mock._json import dumps_utf8


def _reference(value: Any) -> bytes:
    """What ``dumps_utf8`` has always meant, written with ``json.dumps``."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_TEXT | st.integers() | st.booleans() | st.none(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_the_same_bytes_as_json_dumps(value: Any) -> None:
    assert dumps_utf8(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        "top-level text é \u2028 \x00",
        "\udc00",
        {"lone": "\udc00", "fine": "ü"},
        {1: "a", 2.5: "b", None: "c", False: "d"},
        [1e16, 1e-7, -0.0, 10**40, float("nan"), float("-inf")],
        {"nested": [[[[{"deep": []}]]]]},
        (),
        {},
    ],
)
def test_edges_give_the_same_bytes(value: Any) -> None:
    assert dumps_utf8(value) == _reference(value)


def test_what_json_cannot_hold_is_refused_as_by_json_dumps() -> None:
    for value in ({"when": object()}, {("a", "b"): 1}, [{1, 2}]):
        with pytest.raises(TypeError) as ours:
            dumps_utf8(value)
        with pytest.raises(TypeError) as theirs:
            json.dumps(value)
        assert str(ours.value) == str(theirs.value)


def test_threads_share_the_encoder() -> None:
    """The encoder keeps no state between calls: the same object encoded at once by several
    threads is no cycle, and every thread gets the whole text."""
    shared = {"items": [{"n": n, "text": "x" * 50} for n in range(200)]}
    expected = _reference(shared)
    failures: list[BaseException] = []

    def encode_often() -> None:
        try:
            for _ in range(200):
                assert dumps_utf8(shared) == expected
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=encode_often) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
