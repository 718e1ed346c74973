"""The documented limits: requests per minute, concurrent jobs and credits.

- :class:`RateWindow` is a sliding window of request times. A request that finds the window full
  is refused with ``429 rate_limited`` and does not count; ``Retry-After`` is the whole number of
  seconds until the oldest counted request leaves the window (at least 1), in real seconds
  rounded up when the clock runs scaled, like the ``windowSeconds`` of the same answer.
- :func:`check_concurrency` refuses a new active job when ``max`` are already active (``429
  concurrency_limited``, no ``Retry-After``).
- :class:`CreditLedger` holds the monthly balance. It never goes below zero, refuses work it
  cannot pay for up front (``402``), and refills when the clock passes ``resetAt``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import errors
from .clock import format_timestamp, to_datetime

__all__ = ["CreditLedger", "RateWindow", "check_concurrency", "next_month_start"]


class RateWindow:
    """Requests counted in the last ``window_seconds`` of clock time, at most ``limit`` of them."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window_seconds:
            self._times.popleft()

    def count(self, now: float) -> int:
        """How many requests the window holds at ``now``."""
        self._expire(now)
        return len(self._times)

    def hit(self, now: float, real_seconds: Callable[[float], float] | None = None) -> None:
        """Count one request at ``now``, or raise ``rate_limited`` without counting it.

        ``real_seconds`` turns clock seconds into the real seconds the client waits (the clock's
        :meth:`~reader_mock.core.clock.Clock.real_seconds`); by default they are the same.
        """
        self._expire(now)
        if len(self._times) >= self.limit:
            convert = real_seconds or _same
            wait = self._times[0] + self.window_seconds - now
            raise errors.rate_limited(
                self.limit,
                _whole_seconds(convert(self.window_seconds)),
                _whole_seconds(convert(wait)),
            )
        self._times.append(now)

    def clear(self) -> None:
        """Forget every counted request."""
        self._times.clear()


def _same(seconds: float) -> float:
    return seconds


def _whole_seconds(seconds: float) -> int:
    """Rounded up to a whole second (at least 1); float noise below a microsecond is ignored."""
    return max(1, math.ceil(round(seconds, 6)))


def check_concurrency(active: int, maximum: int) -> None:
    """Raise ``concurrency_limited`` when one more active job would exceed ``maximum``."""
    if active >= maximum:
        raise errors.concurrency_limited(active, maximum)


def next_month_start(timestamp: float) -> float:
    """The first instant of the calendar month after the one ``timestamp`` falls in (UTC)."""
    moment = to_datetime(timestamp)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


class CreditLedger:
    """A workspace's credits for the current billing period."""

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.used = 0
        self.reset_at = next_month_start(now)

    @property
    def balance(self) -> int:
        """Credits left in this period."""
        return self.limit - self.used

    def roll_over(self, now: float) -> bool:
        """Start new periods until ``now`` is inside one; True when the balance was refilled."""
        refilled = False
        while now >= self.reset_at:
            self.used = 0
            self.reset_at = next_month_start(self.reset_at)
            refilled = True
        return refilled

    def require(self, amount: int) -> None:
        """Raise ``insufficient_credits`` unless ``amount`` credits are available."""
        if amount > self.balance:
            raise errors.insufficient_credits(amount, self.balance, format_timestamp(self.reset_at))

    def can_pay(self, amount: int) -> bool:
        """Whether ``amount`` credits are available."""
        return amount <= self.balance

    def charge(self, amount: int) -> int:
        """Take up to ``amount`` credits, never going below zero; returns what was taken."""
        taken = max(0, min(amount, self.balance))
        self.used += taken
        return taken

    def snapshot(self) -> dict[str, Any]:
        """The ``Credits`` object of ``GET /v1/usage/credits``."""
        return {
            "balance": self.balance,
            "limit": self.limit,
            "used": self.used,
            "tier": "free",
            "resetAt": format_timestamp(self.reset_at),
        }
