"""The outcome of one drift check, rendered as text for people or JSON for programs."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any

from .differences import Difference
from .intended import IntendedDifference

__all__ = ["DriftReport"]


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
