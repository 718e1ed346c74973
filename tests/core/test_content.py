"""Generated content: the Faker instance built with only the providers the content uses draws the
same values as one with every provider, so content does not change with how it is built."""

from __future__ import annotations

from typing import Any

import pytest
from faker import Faker

from reader_mock.core import content

_URLS = [f"https://docs.example.com/{index}/page" for index in range(60)]
_EXTRACT = {
    "schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "count": {"type": "integer"},
            "price": {"type": "number"},
            "open": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["a", "b", "c", "d"]},
            "owner": {"type": "object", "properties": {"name": {"type": ["string", "null"]}}},
        },
    }
}


def _everything(seed: int) -> list[Any]:
    drawn: list[Any] = []
    source = content.FakerContent(seed, "ws_test")
    for url in _URLS:
        drawn.append(source.page(url))
        drawn.append(source.page(url, only_main_content=False))
        drawn.append(source.links(url))
        drawn.append(source.cached_duration(url, 12.5))
        drawn.append(source.extracted(url, _EXTRACT))
        drawn.append(source.extracted(url, {"prompt": "the gist"}))
    return drawn


@pytest.mark.parametrize("seed", [0, 7])
def test_content_is_what_a_faker_with_every_provider_draws(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(content._FAKERS, "faker", None)
    monkeypatch.setattr(content._FAKERS, "words", None)
    built = _everything(seed)
    assert content._FAKERS.faker is not None
    assert len(content._FAKERS.faker.providers) < len(Faker().providers)  # the lean one was used

    monkeypatch.setattr(content._FAKERS, "faker", Faker(use_weighting=False))
    monkeypatch.setattr(content._FAKERS, "words", None)
    assert _everything(seed) == built
