"""One difference between two OpenAPI documents, and the kinds a difference can be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ["DIFFERENCE_KINDS", "Difference"]

#: Every value ``Difference.kind`` can take. Intended entries that name a kind are checked against
#: it, so a typo in the intended file is an error instead of an entry that never matches.
#:
#: Kinds read in the direction of the comparison, from ours to upstream, as ``diff ours upstream``
#: does: ``*-added`` is something only upstream has (upstream adds it), ``*-removed`` something
#: only ours has, ``schema-narrowed`` an upstream schema narrower than ours.
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
        "condition-changed",
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
    #: For a list of members (an ``enum``, a ``required`` list): the members only upstream has.
    added: tuple[str, ...] = ()
    #: For a list of members: the members only ours has.
    removed: tuple[str, ...] = ()

    @property
    def members_changed(self) -> bool:
        """Whether the difference is about the members of a list (shown as added/removed)."""
        return bool(self.added or self.removed)

    def to_dict(self) -> dict[str, Any]:
        """Return the difference as a JSON-ready mapping."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "location": self.location,
            "ours": self.ours,
            "upstream": self.upstream,
        }
        if self.members_changed:
            data["added"] = list(self.added)
            data["removed"] = list(self.removed)
        data["intended"] = self.intended
        data["reason"] = self.reason
        return data
