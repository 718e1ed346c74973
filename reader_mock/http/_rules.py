"""URL rules that compile their URL builder on first use.

Werkzeug compiles two Python functions per rule, to build URLs for ``url_for``, as each rule is
added: most of the time it takes to build the app, spent on every start. The mock matches URLs
but seldom builds them, so each rule compiles its builders when first asked to build.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart.routing import QuartRule

__all__ = ["LazyBuilderRule"]


class LazyBuilderRule(QuartRule):
    """A :class:`~quart.routing.QuartRule` whose URL builders are compiled on first use."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compile_builder = super()._compile_builder
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: LazyBuilderRule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(compile_builder(append_unknown))
            return compiled[0](rule, *args, **kwargs)

        return build
