"""The parsed-document cache: same data as the YAML, never stale, can be turned off."""

from __future__ import annotations

from pathlib import Path

import pytest

from reader_mock.contract import load_yaml_document, openapi_path

DOC = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\nx-when: 2026-04-04T12:00:00Z\n"


def test_second_load_comes_from_the_cache_with_identical_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READER_MOCK_CACHE_DIR", str(tmp_path / "cache"))
    first = load_yaml_document(openapi_path())
    entries = list((tmp_path / "cache").glob("openapi-*.json"))
    assert len(entries) == 1
    assert load_yaml_document(openapi_path()) == first


def test_an_edited_document_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READER_MOCK_CACHE_DIR", str(tmp_path / "cache"))
    doc = tmp_path / "doc.yaml"
    doc.write_text(DOC, encoding="utf-8")
    assert load_yaml_document(doc)["x-when"] == "2026-04-04T12:00:00Z"
    doc.write_text(DOC.replace("title: t", "title: changed"), encoding="utf-8")
    assert load_yaml_document(doc)["info"]["title"] == "changed"
    assert len(list((tmp_path / "cache").glob("doc-*.json"))) == 2


def test_a_damaged_entry_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READER_MOCK_CACHE_DIR", str(tmp_path / "cache"))
    doc = tmp_path / "doc.yaml"
    doc.write_text(DOC, encoding="utf-8")
    load_yaml_document(doc)
    [entry] = (tmp_path / "cache").glob("doc-*.json")
    entry.write_text("{not json", encoding="utf-8")
    assert load_yaml_document(doc)["info"]["title"] == "t"
    assert entry.read_text(encoding="utf-8").startswith("{")


def test_an_empty_setting_turns_the_cache_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READER_MOCK_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    doc = tmp_path / "doc.yaml"
    doc.write_text(DOC, encoding="utf-8")
    assert load_yaml_document(doc)["paths"] == {}
    assert not (tmp_path / "xdg").exists()
