"""The drift check's errors, and the one-line reasons they give."""

from __future__ import annotations

import yaml

__all__ = [
    "DocumentLoadError",
    "DriftError",
    "IntendedDifferencesError",
    "os_reason",
    "yaml_reason",
]


class DriftError(ValueError):
    """Base class of every error the drift check reports to its caller."""


class DocumentLoadError(DriftError):
    """An OpenAPI document could not be read, fetched or parsed, or is not an OpenAPI document."""


class IntendedDifferencesError(DriftError):
    """The intended-differences file is unreadable or one of its entries is malformed."""


def os_reason(exc: BaseException) -> str:
    """Why a file could not be read, in a few words (``No such file or directory``)."""
    return getattr(exc, "strerror", None) or type(exc).__name__


def yaml_reason(exc: yaml.YAMLError) -> str:
    """What the YAML parser refused, and where (``... (line 3, column 5)``)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)
