"""Typed reading of request bodies, collecting ``invalid_request`` issues.

The HTTP layer checks every body against ``openapi.yaml`` before the core sees it; the core still
reads each field it uses through :class:`BodyReader`, so a direct caller (a test, the control API)
gets the same documented ``invalid_request`` for input it cannot use, never a crash. Issue paths
and codes follow the contract's conventions (dotted paths, ``invalid_type``, ``too_small``...).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, NoReturn, TypeVar
from urllib.parse import urlsplit

from reader_mock._values import json_type

from . import errors

__all__ = ["BodyReader", "is_absolute_url"]

T = TypeVar("T")

# RFC 3986, appendix A. A path character is unreserved, a sub-delimiter, ":" or "@", or a
# percent-encoded octet; a query or fragment may also hold "/" and "?".
_PCT: Final = r"%[0-9A-Fa-f]{2}"
_PCHAR: Final = rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|{_PCT})"
_URI: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):"
    rf"(?://(?P<authority>[^/?#]*)(?:/{_PCHAR}*)*|(?:{_PCHAR}|/)*)"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"
    rf"(?:#(?:{_PCHAR}|[/?])*)?"
)
_USERINFO: Final = re.compile(rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|{_PCT})*")
_REG_NAME: Final = re.compile(rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|{_PCT})*")
_IP_FUTURE: Final = re.compile(r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")
_PORT: Final = re.compile(r":[0-9]*")


def _is_ip_literal(inside: str) -> bool:
    """The text between the brackets of an RFC 3986 ``IP-literal`` (no zone identifiers)."""
    if _IP_FUTURE.fullmatch(inside):
        return True
    if "%" in inside:  # the standard library would take a zone identifier
        return False
    try:
        ipaddress.IPv6Address(inside)
    except ValueError:
        return False
    return True


def _is_authority(authority: str) -> bool:
    """``[ userinfo "@" ] host [ ":" port ]`` of RFC 3986 (the host may be empty)."""
    userinfo, at, host_port = authority.rpartition("@")
    if at and not _USERINFO.fullmatch(userinfo):
        return False
    if host_port.startswith("["):
        inside, bracket, port = host_port[1:].partition("]")
        if not bracket or not _is_ip_literal(inside):
            return False
    else:
        host, colon, digits = host_port.partition(":")
        if not _REG_NAME.fullmatch(host):
            return False
        port = colon + digits
    return port == "" or _PORT.fullmatch(port) is not None


def is_absolute_url(value: str) -> bool:
    """An absolute URI as RFC 3986 defines it; ``http``/``https`` URLs also need a host.

    The check is strict (ASCII only, valid percent-encodings, no spaces or other characters the
    grammar leaves out), the same as the ``uri`` format of JSON Schema validators, so that what
    the mock accepts is also a ``uri`` to any client validating the responses it echoes.
    """
    match = _URI.fullmatch(value)
    if match is None:
        return False
    authority = match["authority"]
    if authority is not None and not _is_authority(authority):
        return False
    if match["scheme"].lower() in {"http", "https"}:
        try:
            return bool(urlsplit(value).hostname)
        except ValueError:
            return False
    return True


class BodyReader:
    """Reads fields of one JSON object; every problem becomes an issue."""

    def __init__(self, body: object, *, prefix: str = "", message: str = "Invalid request body"):
        self.issues: list[dict[str, str]] = []
        self._prefix = prefix
        self._message = message
        if isinstance(body, Mapping):
            self.body: Mapping[str, Any] = body
        else:
            self.body = {}
            self.add(prefix, "invalid_type", f"Expected object, got {json_type(body)}")

    def path(self, name: str) -> str:
        """The dotted path of field ``name``."""
        return f"{self._prefix}.{name}" if self._prefix else name

    def add(self, path: str, code: str, message: str) -> None:
        """Record one issue."""
        self.issues.append(errors.issue(path, code, message))

    def has(self, name: str) -> bool:
        """Whether the field is present (JSON null counts as present)."""
        return name in self.body

    def fail(self) -> NoReturn:
        """Raise ``invalid_request`` with the issues found so far."""
        raise errors.invalid_request(self._message, self.issues)

    def check(self) -> None:
        """Raise ``invalid_request`` if any issue was found."""
        if self.issues:
            self.fail()

    def _typed(self, name: str, kinds: type | tuple[type, ...], label: str) -> Any:
        value = self.body.get(name)
        if value is None and name not in self.body:
            return None
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            self.add(self.path(name), "invalid_type", f"Expected {label}, got boolean")
            return None
        if not isinstance(value, kinds):
            self.add(self.path(name), "invalid_type", f"Expected {label}, got {json_type(value)}")
            return None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """A boolean field."""
        value = self._typed(name, bool, "boolean")
        return default if value is None else bool(value)

    def integer(
        self,
        name: str,
        default: int | None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer field within ``minimum``..``maximum``."""
        value = self._typed(name, (int, float), "integer")
        if value is None:
            return default
        if isinstance(value, float):
            if not value.is_integer():
                self.add(self.path(name), "invalid_type", "Expected integer, got number")
                return default
            value = int(value)
        if minimum is not None and value < minimum:
            self.add(
                self.path(name),
                "too_small",
                f"Number must be greater than or equal to {minimum}",
            )
            return default
        if maximum is not None and value > maximum:
            self.add(self.path(name), "too_big", f"Number must be less than or equal to {maximum}")
            return default
        return int(value)

    def string(
        self, name: str, default: str | None, *, min_length: int = 0, max_length: int | None = None
    ) -> str | None:
        """A string field with a length range."""
        value = self._typed(name, str, "string")
        if value is None:
            return default
        if len(value) < min_length:
            self.add(
                self.path(name),
                "too_small",
                f"String must contain at least {min_length} character(s)",
            )
            return default
        if max_length is not None and len(value) > max_length:
            self.add(
                self.path(name),
                "too_big",
                f"String must contain at most {max_length} character(s)",
            )
            return default
        return str(value)

    def choice(self, name: str, default: T, allowed: Sequence[T]) -> T:
        """A string field that must be one of ``allowed``."""
        value = self._typed(name, str, "string")
        if value is None:
            return default
        if value not in allowed:
            expected = " | ".join(f"'{option}'" for option in allowed)
            self.add(
                self.path(name),
                "invalid_enum_value",
                f"Invalid enum value. Expected {expected}, received '{value}'",
            )
            return default
        return value  # type: ignore[no-any-return]

    def string_list(
        self,
        name: str,
        *,
        min_items: int = 0,
        max_items: int | None = None,
        allowed: Sequence[str] | None = None,
        url: bool = False,
    ) -> list[str] | None:
        """An array of strings (optionally URLs, or members of ``allowed``)."""
        value = self._typed(name, (list, tuple), "array")
        if value is None:
            return None
        if len(value) < min_items:
            self.add(
                self.path(name),
                "too_small",
                f"Array must contain at least {min_items} element(s)",
            )
            return None
        if max_items is not None and len(value) > max_items:
            self.add(
                self.path(name),
                "too_big",
                f"Array must contain at most {max_items} element(s)",
            )
            return None
        items: list[str] = []
        before = len(self.issues)
        for index, item in enumerate(value):
            path = f"{self.path(name)}.{index}"
            if not isinstance(item, str):
                self.add(path, "invalid_type", f"Expected string, got {json_type(item)}")
            elif url and not is_absolute_url(item):
                self.add(path, "invalid_string", "Invalid url")
            elif allowed is not None and item not in allowed:
                expected = " | ".join(f"'{option}'" for option in allowed)
                self.add(
                    path,
                    "invalid_enum_value",
                    f"Invalid enum value. Expected {expected}, received '{item}'",
                )
            else:
                items.append(item)
        return items if len(self.issues) == before else None

    def url(self, name: str, *, web_only: bool = False) -> str | None:
        """An absolute URL field; with ``web_only`` it must be ``http`` or ``https``."""
        value = self._typed(name, str, "string")
        if value is None:
            return None
        if not is_absolute_url(value) or (
            web_only and urlsplit(value).scheme.lower() not in {"http", "https"}
        ):
            self.add(self.path(name), "invalid_string", "Invalid url")
            return None
        return str(value)

    def mapping(self, name: str) -> Mapping[str, Any] | None:
        """An object field."""
        value = self._typed(name, Mapping, "object")
        return None if value is None else value
