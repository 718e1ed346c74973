"""``run_check``: every check of a server that claims to speak the Reader API, in order.

First a request that must reach the server (nothing listening, or a key the server refuses, means
the check cannot run: :class:`CheckUnavailable`), then the stream checks, then Schemathesis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

import httpx

from .report import CheckCase
from .streams import StreamLimits, check_streams

__all__ = ["CheckOptions", "CheckUnavailable", "run_check"]

Part = Literal["rest", "streams"]
_CONNECT_TIMEOUT: Final = 10.0
"""Real seconds the server has to answer the first request, by default."""


class CheckUnavailable(Exception):
    """The check could not run: nothing answers, the key is refused, or a tool is missing."""


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What to check and how long to wait.

    Attributes:
        url: the server's base URL (``http://host:port``, without ``/v1``).
        api_key: a key the server accepts.
        parts: ``rest``, ``streams`` or both.
        limits: the stream checks' waits.
        rest_timeout: seconds Schemathesis may run.
        connect_timeout: seconds the server has to answer the first request (and to connect or
            answer any later one); past them the check cannot run.
        max_examples: examples per operation and phase (``None``: the settings file's 25).
    """

    url: str
    api_key: str
    parts: tuple[Part, ...] = ("streams", "rest")
    limits: StreamLimits = field(default_factory=StreamLimits)
    rest_timeout: float = 600.0
    connect_timeout: float = _CONNECT_TIMEOUT
    max_examples: int | None = None


def run_check(
    options: CheckOptions, progress: Callable[[str], None] = lambda line: None
) -> list[CheckCase]:
    """Run the checks; every case, passed, failed or skipped.

    Raises:
        CheckUnavailable: the server cannot be reached or refuses the key, or Schemathesis is
            missing or stopped without a report.
    """
    progress(f"reaching {options.url}")
    cases = asyncio.run(_streams(options, progress))
    _done(cases, progress)
    if "rest" in options.parts:
        from .rest import RestUnavailable, check_rest

        try:
            rest = check_rest(
                options.url,
                options.api_key,
                timeout=options.rest_timeout,
                max_examples=options.max_examples,
                progress=progress,
            )
        except RestUnavailable as exc:
            raise CheckUnavailable(str(exc)) from None
        _done(rest, progress)
        cases += rest
    return cases


def _done(cases: list[CheckCase], progress: Callable[[str], None]) -> None:
    """One progress line per finished case."""
    for case in cases:
        progress(f"{case.status:7} {case.group}: {case.name}")


async def _streams(options: CheckOptions, progress: Callable[[str], None]) -> list[CheckCase]:
    # Every read is bounded: the stream checks stop on their own deadlines first; this bounds
    # the rest (a server that accepts a request and never answers it).
    limits = options.limits
    connect = options.connect_timeout
    read = max(limits.job_timeout, limits.ping_deadline) + connect
    timeout = httpx.Timeout(connect, read=read)
    headers = {"x-api-key": options.api_key, "accept": "application/json"}
    async with httpx.AsyncClient(base_url=options.url, headers=headers, timeout=timeout) as client:
        await _reachable(client, options.url, connect)
        if "streams" not in options.parts:
            return []
        return await check_streams(client, options.limits, progress)


async def _reachable(client: httpx.AsyncClient, url: str, seconds: float) -> None:
    """Raise :class:`CheckUnavailable` unless the server answers within ``seconds`` and accepts
    the key."""
    try:
        async with asyncio.timeout(seconds):
            response = await client.get("/v1/usage/credits")
    except (httpx.HTTPError, TimeoutError) as exc:
        if isinstance(exc, httpx.ConnectError):
            reason = "nothing is listening"
        elif isinstance(exc, TimeoutError | httpx.TimeoutException):
            reason = f"no answer within {seconds:g} s"
        else:
            reason = repr(exc)
        raise CheckUnavailable(f"cannot reach {url}: {reason}") from None
    if response.status_code in (401, 403):
        raise CheckUnavailable(
            f"{url} refused the API key ({response.status_code}); "
            "give one it accepts with --api-key"
        )
