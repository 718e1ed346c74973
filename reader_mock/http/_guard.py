"""Keep web pages from driving the control API.

A page on any site can make a browser send a "simple" cross-origin request (a ``POST`` with a
``text/plain`` body, no preflight), and with DNS rebinding a page can even reach the mock under a
name of its own. So every request under ``/_mock/`` passes three checks, in this order:

1. **Host**: when the mock listens on a loopback address, the ``Host`` header must name a loopback
   host (``localhost``, ``*.localhost``, ``127.x.x.x``, ``[::1]``) or the address itself; a server
   started on another address (``--host``) accepts any ``Host``. Otherwise ``403``.
2. **Origin**: a request that carries ``Origin`` (every cross-origin browser request does) must
   come from an allowed origin: the loopback origins and ``--cors-origin`` ones. Otherwise ``403``.
3. **Content-Type**: a request with a body must say ``application/json`` (or ``+json``), which a
   browser never sends cross-origin without a preflight. Otherwise ``415``.

Allowed origins also get CORS headers and preflight answers, so browser tools can drive the clock.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from werkzeug.datastructures import Headers

from ..core import errors
from ..core.errors import ApiError
from ._cors import CorsPolicy

__all__ = ["CONTROL_ALLOWED_HEADERS", "check_control_request", "is_loopback_host"]

CONTROL_ALLOWED_HEADERS: Final = "content-type, x-mock-token"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _host_name(host: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:80`` -> ``::1``, ``a.b:1`` -> ``a.b``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, _, _port = host.partition(":")
    return name.rstrip(".")


def is_loopback_host(name: str) -> bool:
    """Whether a host name or address is this machine's loopback (a name no page can rebind)."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def check_control_request(
    method: str,
    headers: Headers,
    server_address: str | None,
    cors: CorsPolicy,
) -> ApiError | None:
    """The refusal a control-API request gets from the checks above, or ``None``.

    ``server_address`` is the address the connection reached (ASGI ``scope["server"]``).
    """
    if server_address is not None and is_loopback_host(server_address.strip("[]")):
        name = _host_name(headers.get("Host", ""))
        if not (is_loopback_host(name) or name == server_address.strip("[]").lower()):
            return errors.invalid_request(
                "The control API answers only requests addressed to a loopback host (Host header)",
                status=403,
            )
    origin = headers.get("Origin")
    if origin is not None and not cors.allows(origin):
        return errors.invalid_request(
            "The control API refuses requests from this origin; allow it with --cors-origin",
            status=403,
        )
    has_body = headers.get("Transfer-Encoding") is not None or headers.get(
        "Content-Length", "0"
    ).strip() not in ("", "0")
    if method in _BODY_METHODS and has_body and not _is_json(headers.get("Content-Type", "")):
        return errors.invalid_request(
            "The control API reads JSON bodies only: send Content-Type: application/json",
            status=415,
        )
    return None
