"""The mock's Quart class: Quart, with its per-call wrapping of handlers looked up once, and
called without a frame of its own.

Quart calls ``ensure_async`` on every route function and every before- and after-request hook
of every request, and each call asks ``inspect`` again whether the function is a coroutine
function: a few Python calls per function, per request, for an answer that never changes. And
the event streams are served inside ``asgi_app`` (``StreamEndpoint``): an idle stream holds every
coroutine frame above it for as long as it is open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from quart import Quart

from .._types import Receive, Scope, Send

__all__ = ["MockQuart"]

_MAX_KNOWN: Final = 512
"""Functions remembered at most (then the memory starts again): an app has a few dozen, and a
function made per request (``after_this_request``) must not pile up."""


class MockQuart(Quart):
    """A :class:`~quart.Quart` app that remembers what ``ensure_async`` made of each function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._async_of: dict[Callable[..., Any], Callable[..., Awaitable[Any]]] = {}

    def __call__(  # type: ignore[override]
        self, scope: Scope, receive: Receive, send: Send
    ) -> Awaitable[None]:
        """``asgi_app``'s coroutine itself, handed to the server: no frame of ours above it."""
        return self.asgi_app(scope, receive, send)  # type: ignore[arg-type]

    def ensure_async(self, func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """``func`` itself when it is a coroutine function, else a wrapper running it in a
        thread; worked out once per function (hashable ones; others every time, as Quart)."""
        try:
            found = self._async_of.get(func)
        except TypeError:  # an unhashable callable
            return super().ensure_async(func)
        if found is None:
            if len(self._async_of) >= _MAX_KNOWN:
                self._async_of.clear()
            found = self._async_of[func] = super().ensure_async(func)
        return found
