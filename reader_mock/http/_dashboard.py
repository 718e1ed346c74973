"""``GET /_mock/``: the live dashboard, one static page from the package (no build, no CDN).

The page is plain HTML and JavaScript: it reads the workspace stream with ``fetch`` and a
``ReadableStream`` (an ``EventSource`` cannot send the key), and polls the control API for the
clock, the journal, the scripted timelines and the faults. It is read from the package on first
request, so serving the API costs nothing until someone opens it.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Final

from quart import Quart, Response

__all__ = ["DASHBOARD_PATHS", "register_dashboard"]

DASHBOARD_PATHS: Final = frozenset({"/_mock", "/_mock/"})
"""The page's paths: the one control path that needs no token (the page holds no data)."""


@cache
def _page() -> bytes:
    return files(__package__).joinpath("static", "dashboard.html").read_bytes()


def register_dashboard(app: Quart) -> None:
    """Serve the dashboard at ``/_mock/`` (and ``/_mock``) on ``app``."""

    @app.get("/_mock/", strict_slashes=False)
    async def dashboard() -> Response:
        response = Response(_page(), content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src 'self' data:"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
