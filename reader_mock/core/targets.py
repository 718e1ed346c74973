"""Rules about scrape target URLs: which are blocked, and which hosts fail on purpose.

The mock never resolves names and never fetches anything. A target is blocked (``403
url_blocked``) when its scheme is not ``http``/``https``, when its host is an address literal in a
private, loopback, link-local or unique-local range, or when it is ``localhost`` or a name under
it. Tests ask for failures through reserved hosts: ``fail.example`` (the fetch fails upstream),
``timeout.example`` (the fetch runs past ``timeoutMs``), each with any subdomain, and any name
under the reserved ``.invalid`` top-level domain (the name does not resolve).
"""

from __future__ import annotations

import enum
import ipaddress
import re
import socket
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "REASON_PRIVATE",
    "REASON_SCHEME",
    "Failure",
    "blocked_reason",
    "failure_for",
    "failure_message",
    "host_of",
]

REASON_PRIVATE: Final = "Resolves to private IP"
REASON_SCHEME: Final = "Unsupported URL scheme"

_V4_BLOCKED: Final = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
    )
)
_V6_BLOCKED: Final = tuple(
    ipaddress.IPv6Network(net) for net in ("::1/128", "fc00::/7", "fe80::/10")
)
# Host names that a browser would read as an IPv4 address in legacy notation (127.1, 0x7f.1).
_LEGACY_V4: Final = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}\.?$")


class Failure(enum.Enum):
    """A deliberate failure asked for through a reserved host."""

    UPSTREAM = "upstream"
    TIMEOUT = "timeout"
    #: The host name does not resolve (RFC 2606 reserves ``.invalid`` for exactly that).
    UNRESOLVED = "unresolved"


def host_of(url: str) -> str | None:
    """The lower-case host of ``url`` without brackets or a trailing dot, or ``None``."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.rstrip(".").lower()


def _blocked_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return _blocked_address(mapped)
        return any(address in net for net in _V6_BLOCKED)
    return any(address in net for net in _V4_BLOCKED)


def _address_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_V4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def blocked_reason(url: str) -> str | None:
    """Why ``url`` may not be scraped, or ``None`` when it may."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return REASON_SCHEME
    if scheme not in {"http", "https"}:
        return REASON_SCHEME
    host = host_of(url)
    if host is None:
        # A web URL without a host never reaches this point through the contract; refuse it
        # rather than invent a page for it.
        return REASON_SCHEME
    if host == "localhost" or host.endswith(".localhost"):
        return REASON_PRIVATE
    address = _address_of(host)
    if address is not None and _blocked_address(address):
        return REASON_PRIVATE
    return None


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def failure_for(url: str) -> Failure | None:
    """The deliberate failure a reserved host asks for, or ``None`` for an ordinary host."""
    host = host_of(url)
    if host is None:
        return None
    if _under(host, "fail.example"):
        return Failure.UPSTREAM
    if _under(host, "timeout.example"):
        return Failure.TIMEOUT
    if _under(host, "invalid"):
        return Failure.UNRESOLVED
    return None


def failure_message(url: str, failure: Failure, timeout_ms: int) -> str:
    """The ``error`` text of a failed attempt, as a result entry and usage history show it."""
    if failure is Failure.TIMEOUT:
        return f"Scrape of {url} exceeded {timeout_ms}ms timeout"
    if failure is Failure.UNRESOLVED:
        return f"Failed to fetch {url}: host not found"
    return f"Failed to fetch {url}: upstream error"
