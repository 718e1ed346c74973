"""Request log lines: one line per request with method, path, status and duration.

The server runner calls :func:`log_request` when access logging is on; ``reader-mock serve``
routes the ``reader_mock.access`` logger to stderr with :func:`log_to_stderr`. Library users who
want the lines attach their own handler to that logger instead.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["ACCESS_LOGGER_NAME", "log_request", "log_to_stderr", "stop_logging"]

ACCESS_LOGGER_NAME = "reader_mock.access"

_access_logger = logging.getLogger(ACCESS_LOGGER_NAME)


def log_request(
    method: str, path: str, status: int | None, elapsed: float, *, note: str = ""
) -> None:
    """Log one request: ``GET /v1/jobs 200 3.1 ms``.

    ``status`` is None when the application ended without starting a response. ``note`` marks
    event streams, which get a line when they open (their end may be hours away) and one when
    they close.
    """
    if not _access_logger.isEnabledFor(logging.INFO):
        return
    shown_status = "-" if status is None else str(status)
    suffix = f" ({note})" if note else ""
    _access_logger.info("%s %s %s %.1f ms%s", method, path, shown_status, elapsed * 1000, suffix)


def log_to_stderr(stream: TextIO | None = None) -> logging.Handler:
    """Send request lines to ``stream`` (stderr by default), prefixed with the local time.

    Returns the handler so that a caller can remove it again.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    _access_logger.addHandler(handler)
    _access_logger.setLevel(logging.INFO)
    # The lines are the whole output; the root logger must not print them a second time.
    _access_logger.propagate = False
    return handler


def stop_logging(handler: logging.Handler) -> None:
    """Undo :func:`log_to_stderr`: detach ``handler`` and flush it."""
    handler.flush()
    _access_logger.removeHandler(handler)
    if not _access_logger.handlers:
        _access_logger.propagate = True
        _access_logger.setLevel(logging.NOTSET)
