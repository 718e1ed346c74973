"""One difference between two OpenAPI documents, and the kinds a difference can be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ["DIFFERENCE_KINDS", "Difference"]

#: Every value ``Difference.kind`` can take. Intended entries that name a kind are checked against
#: it, so a typo in the intended file is an error instead of an entry that never matches.
DIFFERENCE_KINDS: Final = frozenset(
    {
        "path-added",
        "path-removed",
        "method-added",
        "method-removed",
        "parameter-added",
        "parameter-removed",
        "parameter-changed",
        "request-body-added",
        "request-body-removed",
        "request-body-changed",
        "response-added",
        "response-removed",
        "media-type-added",
        "media-type-removed",
        "header-added",
        "header-removed",
        "header-changed",
        "security-changed",
        "component-added",
        "component-removed",
        "schema-changed",
        "schema-narrowed",
        "schema-widened",
        "ref-changed",
        "type-changed",
        "nullable-changed",
        "enum-changed",
        "format-changed",
        "bound-changed",
        "pattern-changed",
        "default-changed",
        "property-added",
        "property-removed",
        "required-changed",
    }
)


@dataclass(frozen=True)
class Difference:
    """One difference between our document and the upstream one.

    ``location`` is a dotted path into the documents, for example
    ``paths./v1/jobs/{id}.get.parameters.query.limit.schema.maximum``; ``ours`` and ``upstream`` are
    short renderings of each side (``None`` when that side has nothing there).
    """

    kind: str
    location: str
    ours: str | None
    upstream: str | None
    intended: bool = False
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the difference as a JSON-ready mapping."""
        return {
            "kind": self.kind,
            "location": self.location,
            "ours": self.ours,
            "upstream": self.upstream,
            "intended": self.intended,
            "reason": self.reason,
        }
