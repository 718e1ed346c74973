"""Lazy re-exports for a package's face: each name is imported from its home on first use.

A package that re-exports from heavy modules keeps its own import cheap this way, so that
importing one light submodule (or the package for one name) does not load the rest.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, modules: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` for the names of ``modules``.

    Args:
        package: the package's ``__name__``.
        modules: each submodule (relative to ``package``: ``core.clock``) -> the public names
            defined there.
    """
    namespace = sys.modules[package].__dict__
    homes = {name: f"{package}.{module}" for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
