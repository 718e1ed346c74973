"""What the browser tests share besides their fixtures."""

from __future__ import annotations

from typing import Final

APP_HOST: Final = "app.test"
"""A host name the browser resolves to 127.0.0.1: pages served under it have their own origin."""
