"""Bodies of ``POST /v1/webhooks`` and ``PATCH /v1/webhooks/{id}``.

Receiver URLs must be absolute ``http``/``https`` URLs; loopback and private addresses are allowed
so that local receivers work (the real API refuses them; a local mock must not). Event names are
not checked against a list. Custom ``headers`` must have token names and printable ASCII values,
and may not replace ``Content-Type``, ``User-Agent`` or any ``X-Reader-*`` header, which the
delivery itself sets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from reader_mock._values import json_type

from ._input import BodyReader

__all__ = ["WebhookChanges", "parse_webhook_create", "parse_webhook_update"]

_TOKEN: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PRINTABLE: Final = re.compile(r"^[\x20-\x7e]*$")
_RESERVED: Final = frozenset({"content-type", "user-agent"})
_MAX_HEADERS: Final = 20


@dataclass(frozen=True)
class WebhookChanges:
    """Fields given in a webhook body; ``None`` means "not given" (``secret`` may not be null)."""

    url: str | None = None
    name: str | None = None
    events: tuple[str, ...] | None = None
    secret: str | None = None
    headers: Mapping[str, str] | None = None
    active: bool | None = None

    def any(self) -> bool:
        """Whether the body changes anything."""
        return any(
            value is not None
            for value in (self.url, self.name, self.events, self.secret, self.headers, self.active)
        )


def _headers(reader: BodyReader) -> dict[str, str] | None:
    value = reader.mapping("headers")
    if value is None:
        return None
    base = reader.path("headers")
    if len(value) > _MAX_HEADERS:
        reader.add(base, "too_big", f"Object must have at most {_MAX_HEADERS} properties")
        return None
    result: dict[str, str] = {}
    for name, header_value in value.items():
        path = f"{base}.{name}"
        if not _TOKEN.match(name) or len(name) > 100:
            reader.add(
                path, "invalid_string", "Header names must be HTTP tokens (at most 100 characters)"
            )
        elif name.lower() in _RESERVED or name.lower().startswith("x-reader-"):
            reader.add(
                path, "custom", f"Header {name} is set by every delivery and cannot be replaced"
            )
        elif not isinstance(header_value, str):
            reader.add(path, "invalid_type", f"Expected string, got {json_type(header_value)}")
        elif not _PRINTABLE.match(header_value) or len(header_value) > 1000:
            reader.add(
                path,
                "invalid_string",
                "Header values must be printable ASCII of at most 1000 characters",
            )
        else:
            result[name] = header_value
    return result


def _read(body: object, *, create: bool) -> WebhookChanges:
    reader = BodyReader(body)
    reader.check()
    if create:
        for field_name in ("url", "name", "events"):
            if not reader.has(field_name):
                reader.add(field_name, "required", "Required")
    url = reader.url("url", web_only=True)
    name = reader.string("name", None, min_length=1, max_length=100)
    events = reader.string_list("events", min_items=1)
    secret = reader.string("secret", None, min_length=16, max_length=256)
    headers = _headers(reader)
    active = None
    if not create and reader.has("active"):
        active = reader.boolean("active", True)
    reader.check()
    return WebhookChanges(
        url=url,
        name=name,
        events=None if events is None else tuple(events),
        secret=secret,
        headers=headers,
        active=active,
    )


def parse_webhook_create(body: object) -> WebhookChanges:
    """Read a creation body (``url``, ``name`` and ``events`` required)."""
    return _read(body, create=True)


def parse_webhook_update(body: Any) -> WebhookChanges:
    """Read an update body (every field optional; ``{}`` changes nothing)."""
    return _read(body, create=False)
