"""The drift check's findings: each :class:`Difference`, and the :class:`DriftReport` of a run."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .intended import IntendedDifference

__all__ = ["DIFFERENCE_KINDS", "Difference", "DriftReport"]

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


@dataclass(frozen=True)
class DriftReport:
    """Every difference found by :func:`diff_openapi`, with the intended ones marked."""

    differences: tuple[Difference, ...]
    #: Intended entries that matched nothing: they document a difference that no longer exists.
    stale_entries: tuple[IntendedDifference, ...] = ()
    ours_source: str = "ours"
    upstream_source: str = "upstream"

    @property
    def unintended(self) -> tuple[Difference, ...]:
        """Differences nobody has declared deliberate: each one fails the check."""
        return tuple(d for d in self.differences if not d.intended)

    @property
    def intended(self) -> tuple[Difference, ...]:
        """Differences covered by an entry of the intended-differences file."""
        return tuple(d for d in self.differences if d.intended)

    @property
    def ok(self) -> bool:
        """True when every difference is intended."""
        return not self.unintended

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready mapping (the shape of ``--format json``)."""
        return {
            "ok": self.ok,
            "ours": self.ours_source,
            "upstream": self.upstream_source,
            "summary": {
                "total": len(self.differences),
                "unintended": len(self.unintended),
                "intended": len(self.intended),
                "staleEntries": len(self.stale_entries),
            },
            "unintended": [d.to_dict() for d in self.unintended],
            "intended": [d.to_dict() for d in self.intended],
            "staleEntries": [e.to_dict() for e in self.stale_entries],
        }

    def render_json(self) -> str:
        """Render the report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def render_text(self) -> str:
        """Render the report for people: unintended differences first, then intended ones."""
        lines = [
            f"OpenAPI drift: {self.ours_source} (ours) vs {self.upstream_source} (upstream)",
            f"{len(self.differences)} difference(s): {len(self.unintended)} unintended, "
            f"{len(self.intended)} intended.",
        ]
        if self.unintended:
            lines += ["", f"Unintended differences ({len(self.unintended)}):"]
            for diff in self.unintended:
                lines += _text_entry(diff)
        if self.intended:
            lines += ["", f"Intended differences ({len(self.intended)}):"]
            for diff in self.intended:
                lines += _text_entry(diff)
        if self.stale_entries:
            lines += ["", f"Intended entries that matched nothing ({len(self.stale_entries)}):"]
            for entry in self.stale_entries:
                kind = f" [{entry.kind}]" if entry.kind else ""
                lines.append(f"  {entry.location}{kind}")
        lines += [
            "",
            "Result: OK, every difference is intended."
            if self.ok
            else f"Result: FAILED, {len(self.unintended)} unintended difference(s).",
        ]
        return "\n".join(lines) + "\n"


def _text_entry(diff: Difference) -> list[str]:
    lines = [
        f"  {diff.kind}  {diff.location}",
        f"      ours:     {_or_absent(diff.ours)}",
        f"      upstream: {_or_absent(diff.upstream)}",
    ]
    if diff.reason:
        lines += textwrap.wrap(
            diff.reason, width=100, initial_indent="      reason:   ", subsequent_indent=" " * 16
        )
    return lines


def _or_absent(value: str | None) -> str:
    return "(absent)" if value is None else value
