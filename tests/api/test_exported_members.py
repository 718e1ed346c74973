"""The public API: every name in ``reader_mock.__all__`` resolves, and the list is complete."""

from __future__ import annotations

import subprocess
import sys

import reader_mock


def test_all_is_sorted_and_every_name_resolves() -> None:
    names = reader_mock.__all__
    assert names == sorted(names, key=lambda name: (not name[0].isupper(), name.lower()))
    for name in names:
        value = getattr(reader_mock, name)
        assert getattr(value, "__name__", name) == name


def test_unknown_names_raise_attribute_error() -> None:
    try:
        reader_mock.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("an unknown name resolved")


def test_importing_the_contract_does_not_load_the_web_server() -> None:
    code = (
        "import sys, reader_mock.contract; "
        "print('quart' in sys.modules, 'reader_mock.server' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
