"""The outcome of one drift check, rendered for people (a summary or the details) or as JSON.

Differences are grouped by operation (``POST /v1/read``) and by component schema
(``schema Webhook``), each reason is written once and referred to by number, and a list whose
members differ (an ``enum``, a ``required`` list) shows the members added and removed.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from .differences import Difference
from .intended import IntendedDifference

__all__ = ["DIRECTION", "DriftReport", "group_of"]

#: How to read the kinds, said once at the top of every rendering.
DIRECTION: Final = (
    "Kinds read from ours to upstream: '-added' is only in upstream, '-removed' only in ours."
)
_WIDTH: Final = 100
#: At most this many unintended differences are listed in the summary.
_SUMMARY_UNINTENDED: Final = 12
_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_OPERATION: Final = re.compile(
    r"paths\.(?P<path>.*?)\.(?P<method>" + "|".join(_METHODS) + r")(?:\.|$)"
)
_SCHEMA: Final = re.compile(r"components\.schemas\.(?P<name>[^.]+)(?:\.|$)")


def group_of(location: str) -> tuple[str, str]:
    """The group a location belongs to (``POST /v1/read``, ``schema Webhook``, ``path /v1/x``)
    and the location relative to it (``""`` for the grouped node itself)."""
    match = _OPERATION.match(location)
    if match is not None:
        return f"{match['method'].upper()} {match['path']}", location[match.end() :]
    match = _SCHEMA.match(location)
    if match is not None:
        return f"schema {match['name']}", location[match.end() :]
    if location.startswith("paths."):
        return f"path {location[len('paths.') :]}", ""
    return "other", location


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

    def reasons(self) -> tuple[str, ...]:
        """Each distinct reason once, in the order the grouped report first meets it."""
        seen: dict[str, None] = {}
        for _, diffs in self.groups(self.intended):
            for diff in diffs:
                if diff.reason:
                    seen.setdefault(diff.reason, None)
        return tuple(seen)

    @staticmethod
    def groups(differences: Iterable[Difference]) -> list[tuple[str, list[Difference]]]:
        """Differences by group: operations first (by path), then schemas, each in order."""
        grouped: dict[str, list[Difference]] = {}
        for diff in differences:
            grouped.setdefault(group_of(diff.location)[0], []).append(diff)
        return sorted(grouped.items(), key=lambda item: _group_order(item[0]))

    # -- JSON -------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready mapping (the shape of ``--format json``)."""
        reasons = self.reasons()
        number = {text: index for index, text in enumerate(reasons, 1)}

        def entry(diff: Difference) -> dict[str, Any]:
            data = diff.to_dict()
            data["reason"] = number.get(diff.reason) if diff.reason else None
            return data

        return {
            "ok": self.ok,
            "ours": self.ours_source,
            "upstream": self.upstream_source,
            "direction": DIRECTION,
            "summary": {
                "total": len(self.differences),
                "unintended": len(self.unintended),
                "intended": len(self.intended),
                "reasons": len(reasons),
                "staleEntries": len(self.stale_entries),
            },
            "unintended": [d.to_dict() for d in self.unintended],
            "groups": [
                {"name": name, "differences": [entry(d) for d in diffs]}
                for name, diffs in self.groups(self.differences)
            ],
            "reasons": [{"id": number[text], "text": text} for text in reasons],
            "staleEntries": [e.to_dict() for e in self.stale_entries],
        }

    def render_json(self) -> str:
        """Render the report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    # -- text -------------------------------------------------------------------------------------

    def render_text(self, *, details: bool = False, details_hint: str | None = None) -> str:
        """Render the report for people: a one-screen summary, or every difference grouped.

        ``details_hint`` is the line that tells a reader of the summary how to see the details.
        """
        lines = self._header()
        if details:
            lines += self._details()
        else:
            lines += self._summary(details_hint)
        lines += ["", self._result()]
        return "\n".join(lines) + "\n"

    def _header(self) -> list[str]:
        reasons = len(self.reasons())
        stale = len(self.stale_entries)
        return [
            f"OpenAPI drift: {self.ours_source} (ours) vs {self.upstream_source} (upstream)",
            DIRECTION,
            f"{len(self.differences)} difference(s): {len(self.unintended)} unintended, "
            f"{len(self.intended)} intended ({reasons} reason(s)), "
            f"{stale} stale intended entr{'y' if stale == 1 else 'ies'}.",
        ]

    def _result(self) -> str:
        if self.ok and not self.stale_entries:
            return "Result: OK, every difference is intended."
        if self.ok:
            return "Result: OK, every difference is intended (remove the stale entries)."
        return f"Result: FAILED, {len(self.unintended)} unintended difference(s)."

    def _summary(self, details_hint: str | None) -> list[str]:
        lines: list[str] = []
        unintended = self.unintended
        if unintended:
            lines += ["", f"Unintended differences ({len(unintended)}):"]
            shown = 0
            for name, diffs in self.groups(unintended):
                if shown >= _SUMMARY_UNINTENDED:
                    break
                lines.append(f"  {name}")
                for diff in diffs[: _SUMMARY_UNINTENDED - shown]:
                    lines += _one_line(diff)
                    shown += 1
            if len(unintended) > shown:
                lines.append(f"  ... and {len(unintended) - shown} more")
        intended = self.intended
        if intended:
            groups = self.groups(intended)
            counts = Counter(_group_category(name) for name, _ in groups)
            spread = ", ".join(f"{count} {category}" for category, count in counts.items())
            lines += ["", f"Intended differences ({len(intended)}) in {spread}; by kind:"]
            kinds = Counter(d.kind for d in intended)
            by_kind = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
            lines += _wrap(by_kind, "  ", "  ")
        if self.stale_entries:
            lines += ["", f"Intended entries that matched nothing ({len(self.stale_entries)}):"]
            lines += [_stale_line(e) for e in self.stale_entries[:_SUMMARY_UNINTENDED]]
            if len(self.stale_entries) > _SUMMARY_UNINTENDED:
                lines.append(f"  ... and {len(self.stale_entries) - _SUMMARY_UNINTENDED} more")
        if details_hint and (unintended or intended or self.stale_entries):
            lines += ["", details_hint]
        return lines

    def _details(self) -> list[str]:
        reasons = self.reasons()
        number = {text: index for index, text in enumerate(reasons, 1)}
        lines: list[str] = []
        for title, chosen in (
            ("Unintended differences", self.unintended),
            ("Intended differences", self.intended),
        ):
            if not chosen:
                continue
            lines += ["", f"{title} ({len(chosen)}):"]
            for name, diffs in self.groups(chosen):
                lines.append(f"  {name}")
                for diff in diffs:
                    lines += _detail(diff, number.get(diff.reason) if diff.reason else None)
        if reasons:
            lines += ["", "Reasons:"]
            for index, text in enumerate(reasons, 1):
                label = f"  [R{index}] "
                lines += textwrap.wrap(
                    text, width=_WIDTH, initial_indent=label, subsequent_indent=" " * len(label)
                )
        if self.stale_entries:
            lines += ["", f"Intended entries that matched nothing ({len(self.stale_entries)}):"]
            lines += [_stale_line(e) for e in self.stale_entries]
        return lines


def _group_order(name: str) -> tuple[int, str]:
    if name.startswith("path "):
        return (0, name[len("path ") :])
    if name.startswith("schema "):
        return (2, name)
    if name == "other":
        return (3, name)
    method, _, path = name.partition(" ")
    return (1, f"{path} {_METHODS.index(method.lower()) if method.lower() in _METHODS else 9}")


def _group_category(name: str) -> str:
    if name.startswith("path "):
        return "path(s)"
    if name.startswith("schema "):
        return "schema(s)"
    return "other" if name == "other" else "operation(s)"


def _relative(diff: Difference) -> str:
    return group_of(diff.location)[1] or "(itself)"


def _change(diff: Difference) -> str:
    if diff.members_changed:
        parts = []
        if diff.added:
            parts.append("added " + ", ".join(diff.added))
        if diff.removed:
            parts.append("removed " + ", ".join(diff.removed))
        return "; ".join(parts)
    return f"ours {_or_absent(diff.ours)}, upstream {_or_absent(diff.upstream)}"


def _one_line(diff: Difference) -> list[str]:
    return _wrap(f"{diff.kind}  {_relative(diff)}: {_change(diff)}", "    ", " " * 8)


def _detail(diff: Difference, reason: int | None) -> list[str]:
    head = f"    {diff.kind}  {_relative(diff)}" + (f"  [R{reason}]" if reason else "")
    return [head, *_wrap(_change(diff), " " * 8, " " * 8)]


def _wrap(text: str, first: str, rest: str) -> list[str]:
    """Wrap at the report width; nothing is cut, so every member of a list stays visible."""
    return textwrap.wrap(
        text, width=_WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    ) or [first.rstrip()]


def _stale_line(entry: IntendedDifference) -> str:
    kind = f" [{entry.kind}]" if entry.kind else ""
    return f"  {entry.location}{kind}"


def _or_absent(value: str | None) -> str:
    return "(absent)" if value is None else value
