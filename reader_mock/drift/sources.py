"""Read an OpenAPI document to compare: a JSON or YAML file, or an ``http(s)`` URL."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import httpx
import yaml

from reader_mock._values import YAML_NAMES, type_name
from reader_mock._yaml import JsonLoader, string_keys

from .errors import DocumentLoadError, os_reason, yaml_reason

__all__ = ["load_openapi_source"]

_MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
_DEFAULT_TIMEOUT: Final = 10.0


def load_openapi_source(source: str | Path, *, timeout: float = _DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Load an OpenAPI document from a file path (JSON or YAML) or an ``http(s)://`` URL.

    Raises :class:`DocumentLoadError` with a one-line reason when the file is missing or unreadable,
    the URL cannot be fetched in ``timeout`` seconds or answers with an error status, the content is
    neither JSON nor YAML, or the parsed content is not an OpenAPI 3 document.
    """
    text = str(source)
    if isinstance(source, str) and re.match(r"(?i)https?://", source):
        body = _fetch(source, timeout)
    else:
        body = _read_file(Path(source))
    data = _parse(body, text)
    _check_openapi(data, text)
    return dict(string_keys(data))


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DocumentLoadError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise DocumentLoadError(f"{path}: is a directory, expected a file") from exc
    except UnicodeDecodeError as exc:
        raise DocumentLoadError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise DocumentLoadError(f"{path}: cannot read: {os_reason(exc)}") from exc


def _fetch(url: str, timeout: float) -> str:
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url, headers={"accept": "application/json, */*"}) as response,
        ):
            if response.status_code >= 400:
                raise DocumentLoadError(f"{url}: server answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > _MAX_DOWNLOAD_BYTES:
                    raise DocumentLoadError(
                        f"{url}: response larger than {_MAX_DOWNLOAD_BYTES // (1024 * 1024)} MiB"
                    )
                chunks.append(chunk)
            encoding = response.encoding or "utf-8"
    except httpx.TimeoutException as exc:
        raise DocumentLoadError(f"{url}: no answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise DocumentLoadError(f"{url}: cannot fetch: {str(exc) or type(exc).__name__}") from exc
    try:
        return b"".join(chunks).decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DocumentLoadError(f"{url}: response is not text in {encoding}") from exc


def _parse(body: str, source: str) -> Any:
    stripped = body.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            pass  # YAML flow style also starts with a brace; let the YAML parser have a go.
    try:
        return yaml.load(body, Loader=JsonLoader)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        raise DocumentLoadError(f"{source}: neither JSON nor YAML: {yaml_reason(exc)}") from exc


def _check_openapi(data: Any, source: str) -> None:
    if not isinstance(data, Mapping):
        raise DocumentLoadError(
            f"{source}: not an OpenAPI document (top level is {type_name(data, YAML_NAMES)}, "
            "expected a mapping)"
        )
    version = data.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        found = "no 'openapi' field" if version is None else f"'openapi: {version}'"
        raise DocumentLoadError(f"{source}: not an OpenAPI 3 document ({found})")
    for key in ("paths", "components"):
        if key in data and not isinstance(data[key], Mapping):
            raise DocumentLoadError(f"{source}: '{key}' must be a mapping")
