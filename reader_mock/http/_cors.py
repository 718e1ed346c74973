"""CORS for browser clients of the ``/v1`` API.

Origins on ``localhost``, ``127.0.0.1`` and ``[::1]`` (any port, ``http`` or ``https``) are
allowed by default, others through ``Settings.cors_origins``, each read by :func:`parse_origin`
(``"*"`` allows every origin, ``"null"`` the opaque origin of sandboxed pages and ``file:``).
Preflights allow the request headers browser clients send (the key, idempotency key,
``Last-Event-ID`` for resuming a stream, ``Cache-Control``); responses expose ``x-request-id`` and
``Retry-After``. A refused origin gets no CORS headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from quart import Response

__all__ = [
    "ALLOWED_HEADERS",
    "EXPOSED_HEADERS",
    "CorsPolicy",
    "parse_origin",
    "same_origin",
]

ALLOWED_HEADERS: Final = "x-api-key, x-idempotency-key, content-type, last-event-id, cache-control"
EXPOSED_HEADERS: Final = "x-request-id, Retry-After"
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_PREFLIGHT_MAX_AGE: Final = "600"
_ANY: Final = "*"
_NULL: Final = "null"


def parse_origin(text: str) -> str:
    """``text`` as a browser writes it in ``Origin``: ``scheme://host[:port]``, lower case, without
    the default port; ``*`` and ``null`` as they are.

    Raises:
        ValueError: ``text`` is not an origin (a path, a query, user info, another scheme...),
            with a sentence saying why.
    """
    if text in (_ANY, _NULL):
        return text
    given = text.strip()
    if given != text or not given:
        raise ValueError(f"CORS origin {text!r}: expected scheme://host[:port] without spaces")
    try:
        parts = urlsplit(given.removesuffix("/"))
        port = parts.port
    except ValueError:
        raise ValueError(
            f"CORS origin {text!r}: the port is not a number from 0 to 65535"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(
            f"CORS origin {text!r}: expected http:// or https:// followed by a host, "
            "such as https://app.example.com or http://localhost:5173"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"CORS origin {text!r}: an origin has no user name or password")
    if parts.path or parts.query or parts.fragment or given.endswith(("?", "#")):
        raise ValueError(f"CORS origin {text!r}: an origin has no path, query or fragment")
    host = parts.hostname
    if not host:
        raise ValueError(f"CORS origin {text!r}: the host is missing")
    if ":" in host:
        host = f"[{host}]"
    elif not all(label and _host_label(label) for label in host.split(".")):
        raise ValueError(f"CORS origin {text!r}: {host!r} is not a host name")
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _host_label(label: str) -> bool:
    return label.isascii() and all(char.isalnum() or char in "-_" for char in label)


def same_origin(origin: str | None, scheme: str, host: str) -> bool:
    """Whether ``origin`` (an ``Origin`` header) is the server's own: ``scheme`` and the
    ``Host`` header ``host`` it was reached at, as a page it served sends them."""
    if not origin or origin == _NULL:
        return False
    try:
        return parse_origin(origin) == parse_origin(f"{scheme}://{host}")
    except ValueError:
        return False


class CorsPolicy:
    """Decides which origins may call the API from a browser.

    Raises:
        ValueError: one of ``extra_origins`` is not an origin (see :func:`parse_origin`).
    """

    def __init__(self, extra_origins: Iterable[str]) -> None:
        extra = {parse_origin(origin) for origin in extra_origins}
        self._any = _ANY in extra
        self._extra = frozenset(extra - {_ANY})

    def allows(self, origin: str | None) -> bool:
        """Whether ``origin`` (the ``Origin`` request header) may read responses."""
        if not origin:
            return False
        if origin == _NULL:
            return _NULL in self._extra
        if self._any:
            return True
        try:
            normal = parse_origin(origin)
        except ValueError:
            return False
        if normal in self._extra:
            return True
        host = urlsplit(normal).hostname
        return host in _LOCAL_HOSTS

    def grants(self, origin: str | None) -> list[tuple[bytes, str]]:
        """The CORS headers (lower-case names) of an actual answer to ``origin``; none for a
        refused origin. ``Vary: Origin`` goes on every answer besides."""
        if not self.allows(origin):
            return []
        return [
            (b"access-control-allow-origin", origin or ""),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
        ]

    def decorate(self, response: Response, origin: str | None) -> None:
        """Add the CORS headers of an actual (non-preflight) response."""
        _vary_on_origin(response)
        if not self.allows(origin):
            return
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS

    def preflight(
        self, origin: str | None, methods: Iterable[str], headers: str = ALLOWED_HEADERS
    ) -> Response:
        """The ``204`` answer to a preflight, allowing ``headers``; without CORS headers for a
        refused origin.

        ``methods`` are the path's methods; for a path that does not exist they are the API's
        usual ones, so that the real answer (``404``, ``405``) reaches the page.
        """
        response = Response("", status=204)
        _vary_on_origin(response)
        if self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(methods))
            response.headers["Access-Control-Allow-Headers"] = headers
            response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
        return response


def _vary_on_origin(response: Response) -> None:
    """Add ``Origin`` to ``Vary``: the answer differs by origin. (Read with ``getlist``: a missing
    name looked up with ``get`` costs Werkzeug an exception, on every response.)"""
    present = response.headers.getlist("Vary")
    if not present:
        response.headers.add("Vary", "Origin")
    elif not any(
        item.strip().lower() == "origin" for value in present for item in value.split(",")
    ):
        response.headers["Vary"] = ", ".join([*present, "Origin"])
