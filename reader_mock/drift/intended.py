"""Intended differences: the deliberate ones, each with its reason, read from a YAML file.

``contracts/intended-differences.yaml`` ships beside ``openapi.yaml``; an entry names a location
(exact or a glob) and optionally a kind, and every difference it covers is reported as intended.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from reader_mock._values import YAML_NAMES, type_name
from reader_mock._yaml import JsonLoader
from reader_mock.contract.documents import ContractError, spec_root

from .differences import DIFFERENCE_KINDS, Difference
from .errors import IntendedDifferencesError, os_reason, yaml_reason

__all__ = [
    "IntendedDifference",
    "IntendedDifferences",
    "default_intended_path",
    "load_intended_differences",
]

_INTENDED_NAME: Final = "contracts/intended-differences.yaml"


@dataclass(frozen=True)
class IntendedDifference:
    """One entry of the intended-differences file.

    ``location`` is an exact location or a glob: ``*`` matches within one dotted segment, ``**``
    matches any number of segments (``a.**`` also matches ``a`` itself), ``?`` one character.
    """

    location: str
    reason: str
    kind: str | None = None
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", _compile_location_glob(self.location))

    def matches(self, difference: Difference) -> bool:
        """Whether this entry covers ``difference``: location matches, and kind if one is given."""
        if self.kind is not None and self.kind != difference.kind:
            return False
        return self._pattern.fullmatch(difference.location) is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready mapping."""
        data: dict[str, Any] = {"location": self.location}
        if self.kind is not None:
            data["kind"] = self.kind
        data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class IntendedDifferences:
    """The list of deliberate differences, in file order (the first matching entry wins)."""

    entries: tuple[IntendedDifference, ...]
    source: str = "<memory>"

    @classmethod
    def from_data(cls, data: Any, source: str = "<memory>") -> IntendedDifferences:
        """Validate parsed YAML/JSON data (a list of entries) and build the list.

        Raises :class:`IntendedDifferencesError` naming the entry (number and location) at fault.
        """
        if data is None:
            return cls((), source)
        if not isinstance(data, list):
            found = type_name(data, YAML_NAMES)
            raise IntendedDifferencesError(
                f"{source}: expected a list of entries at the top level, got {found}"
            )
        entries = tuple(_parse_entry(item, index, source) for index, item in enumerate(data, 1))
        return cls(entries, source)

    @classmethod
    def load(cls, path: str | Path) -> IntendedDifferences:
        """Read and validate an intended-differences YAML file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise IntendedDifferencesError(f"cannot read {path}: {os_reason(exc)}") from exc
        try:
            data = yaml.load(text, Loader=JsonLoader)  # a safe loader: plain data only
        except yaml.YAMLError as exc:
            raise IntendedDifferencesError(f"{path}: invalid YAML: {yaml_reason(exc)}") from exc
        return cls.from_data(data, str(path))

    def match(self, difference: Difference) -> IntendedDifference | None:
        """Return the first entry covering ``difference``, if any."""
        for entry in self.entries:
            if entry.matches(difference):
                return entry
        return None


_ENTRY_KEYS: Final = frozenset({"location", "kind", "reason"})


def _parse_entry(item: Any, index: int, source: str) -> IntendedDifference:
    if not isinstance(item, Mapping):
        raise IntendedDifferencesError(
            f"{source}: entry {index}: expected a mapping with 'location' and 'reason', "
            f"got {type_name(item, YAML_NAMES)}"
        )
    location = item.get("location")
    label = f"entry {index}" + (f" (location {location!r})" if isinstance(location, str) else "")

    def fail(problem: str) -> IntendedDifferencesError:
        return IntendedDifferencesError(f"{source}: {label}: {problem}")

    unknown = sorted(str(key) for key in item if key not in _ENTRY_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; allowed: kind, location, reason")
    if not isinstance(location, str) or not location.strip():
        raise fail("'location' must be a non-empty string")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise fail("'reason' must be a non-empty string saying why the difference is deliberate")
    kind = item.get("kind")
    if kind is not None and (not isinstance(kind, str) or kind not in DIFFERENCE_KINDS):
        raise fail(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(DIFFERENCE_KINDS))}")
    return IntendedDifference(location=location.strip(), reason=" ".join(reason.split()), kind=kind)


def _compile_location_glob(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(".**", i) and i + 3 == len(pattern):
            # A trailing ".**" covers the node itself and everything below it.
            parts.append(r"(?:\..*)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append(r"[^.]*")
            i += 1
        elif pattern[i] == "?":
            parts.append(r"[^.]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def default_intended_path() -> Path:
    """Path of the project's ``contracts/intended-differences.yaml``, next to ``openapi.yaml``.

    It ships with the contract documents, so it is found where they are: inside an installed
    package, or at the top of a source checkout.
    """
    try:
        root = spec_root()
    except ContractError:
        root = Path(__file__).resolve().parent.parent / "_spec"
    return root / _INTENDED_NAME


def load_intended_differences(path: str | Path | None = None) -> IntendedDifferences:
    """Load the intended-differences file (the project's own one when ``path`` is None)."""
    return IntendedDifferences.load(default_intended_path() if path is None else path)
