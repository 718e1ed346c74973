"""The REST reads: the ``GET`` operations that change nothing and take no body, each with the
function that builds its answer. The app's routes and the read endpoint in front of the app
(``_read_asgi.py``) both answer from here."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple

from werkzeug.sansio.utils import get_host

from ..core.service import DEFAULT_LIMIT, Paginated, Service
from ._responses import ok_body, page_body, paginated_body

__all__ = ["READS", "Read", "ReadArgs", "base_url", "page_args"]


class ReadArgs(NamedTuple):
    """What a read's answer depends on, beyond the service."""

    api_key: str | None
    ident: str
    """The id in the path, ``""`` for a collection."""
    skip: int
    limit: int
    base_url: Callable[[], str]
    """The mock's address as the client reached it, for pagination links (worked out only by the
    reads that give links)."""


class Read(NamedTuple):
    """One read operation: its contract id, its route, and how to build its ``200`` answer."""

    operation_id: str
    endpoint: str
    """The app's name of the route."""
    rule: str
    """The route, with the id as its one variable when it has one."""
    answer: Callable[[Service, ReadArgs], bytes]
    paged: bool = False
    """Takes ``skip`` and ``limit``."""


def _job(service: Service, args: ReadArgs) -> bytes:
    job = service.jobs.get_json(
        args.api_key, args.ident, skip=args.skip, limit=args.limit, base_url=args.base_url()
    )
    return page_body(job)


def _listed(lister: Callable[..., Paginated], args: ReadArgs) -> bytes:
    """A page of a paginated collection."""
    found = lister(args.api_key, skip=args.skip, limit=args.limit, base_url=args.base_url())
    return paginated_body(found)


def _webhooks(service: Service, args: ReadArgs) -> bytes:
    return _listed(service.webhooks.list, args)


def _credits(service: Service, args: ReadArgs) -> bytes:
    return ok_body(service.usage.credits(args.api_key))


def _usage_history(service: Service, args: ReadArgs) -> bytes:
    return _listed(service.usage.history, args)


def _api_keys(service: Service, args: ReadArgs) -> bytes:
    return ok_body(service.keys.list(args.api_key))


def _queue_status(service: Service, args: ReadArgs) -> bytes:
    return ok_body(service.jobs.queue_status(args.api_key))


def _sessions(service: Service, args: ReadArgs) -> bytes:
    return ok_body(service.sessions.list(args.api_key))


def _session(service: Service, args: ReadArgs) -> bytes:
    return ok_body(service.sessions.get(args.api_key, args.ident))


READS: Final = (
    Read("getJob", "get_job", "/v1/jobs/<job_id>", _job, paged=True),
    Read("listWebhooks", "list_webhooks", "/v1/webhooks", _webhooks, paged=True),
    Read("getCredits", "get_credits", "/v1/usage/credits", _credits),
    Read("listUsageHistory", "list_usage_history", "/v1/usage/history", _usage_history, True),
    Read("listApiKeys", "list_api_keys", "/v1/api-keys", _api_keys),
    Read("getQueueStatus", "get_queue_status", "/v1/queue/status", _queue_status),
    Read("listSessions", "list_sessions", "/v1/sessions", _sessions),
    Read("getSession", "get_session", "/v1/sessions/<session_id>", _session),
)


def page_args(query: Mapping[str, list[str]]) -> tuple[int, int]:
    """``skip`` and ``limit`` of a checked query (the first value of each), with their
    defaults."""
    skip, limit = query.get("skip"), query.get("limit")
    return int(skip[0]) if skip else 0, int(limit[0]) if limit else DEFAULT_LIMIT


_HOST: Final = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_BASE_URLS: dict[tuple[str, str | None, object], str] = {}
"""Base URLs by scheme, ``Host`` header and server address: clients send the same few."""
_MAX_BASE_URLS: Final = 256


def base_url(scheme: str, host: str | None, server: tuple[str, int | None] | None) -> str:
    """The mock's own address as the client reached it (``scheme``, the ``Host`` header, the
    server's address), for pagination links: the ``Host`` as the app reads it when it is a host
    name or address with an optional port, else the server's address. Worked out once per
    scheme, ``Host`` and server address."""
    key = (scheme, host, server)
    found = _BASE_URLS.get(key)
    if found is None:
        named = get_host(scheme, host, server)
        if not _HOST.match(named):
            address, port = server or ("127.0.0.1", None)
            named = f"[{address}]" if ":" in str(address) else str(address)
            if port:
                named += f":{port}"
        found = f"{scheme}://{named}"
        if len(_BASE_URLS) >= _MAX_BASE_URLS:
            _BASE_URLS.clear()
        _BASE_URLS[key] = found
    return found
