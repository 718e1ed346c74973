"""Locate and load the two contract documents, and resolve references between them.

``openapi.yaml`` and ``contracts/asyncapi.yaml``, from the package's ``_spec`` folder or the
repository root; :func:`contract_registry` resolves the references between them. Where they live
and why: docs/architecture.md, "Checking requests and streams against the contract".
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from referencing import Registry

__all__ = [
    "ASYNCAPI_URI",
    "OPENAPI_URI",
    "ContractError",
    "asyncapi_path",
    "build_registry",
    "contract_registry",
    "escape_pointer_token",
    "follow_local_refs",
    "load_asyncapi",
    "load_openapi",
    "load_yaml_document",
    "openapi_path",
    "spec_root",
    "unescape_pointer_token",
]

# Fixed, never-fetched URIs (".invalid" cannot resolve). Their paths mirror the repository layout
# so that "../openapi.yaml" inside the AsyncAPI document joins to the OpenAPI document's URI.
_BASE_URI = "https://reader-mock.invalid/spec/"
OPENAPI_URI = _BASE_URI + "openapi.yaml"
ASYNCAPI_URI = _BASE_URI + "contracts/asyncapi.yaml"

_MAX_REF_HOPS = 16

_OPENAPI_NAME = "openapi.yaml"
_ASYNCAPI_NAME = "contracts/asyncapi.yaml"


class ContractError(Exception):
    """A contract document is missing, unreadable, not valid YAML, or inconsistent."""


def _candidate_roots() -> list[Path]:
    """Folders that may hold the documents, in the order they are tried."""
    # reader_mock/contract/documents.py: the package is one folder up, a source checkout's root
    # two. The package is always a folder on disk (the documents are read as files), so its
    # location needs no import machinery.
    package = Path(__file__).resolve().parents[1]
    return [package / "_spec", package.parent]


@functools.cache
def spec_root() -> Path:
    """Return the folder that holds ``openapi.yaml`` and ``contracts/asyncapi.yaml``.

    Raises:
        ContractError: neither the installed package nor the source checkout has the documents.
    """
    roots = _candidate_roots()
    for root in roots:
        if (root / _OPENAPI_NAME).is_file():
            return root
    looked = ", ".join(str(root) for root in roots)
    raise ContractError(
        f"the contract documents were not found: no {_OPENAPI_NAME} in {looked}. "
        "Install reader-mock from a wheel or run it from a source checkout."
    )


def openapi_path() -> Path:
    """Path of ``openapi.yaml``, the REST contract."""
    return spec_root() / _OPENAPI_NAME


def asyncapi_path() -> Path:
    """Path of ``contracts/asyncapi.yaml``, the streams and webhooks contract."""
    return spec_root() / _ASYNCAPI_NAME


def load_yaml_document(path: Path) -> dict[str, Any]:
    """Read one YAML document whose top level is a mapping, as JSON-compatible data.

    Mapping keys are turned into strings (YAML reads ``200:`` as an integer, but JSON pointers
    such as ``#/responses/200`` address strings), and timestamps stay strings.

    Raises:
        ContractError: the file is missing, unreadable, empty, not valid YAML or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{path}: contract document not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot read contract document: {exc}") from None
    cached = _cached_parse(path, text)
    if cached is not None:
        return cached
    # Parsing YAML is needed only when the JSON cache has no entry for this text.
    import yaml

    from reader_mock._yaml import FastJsonLoader, string_keys

    try:
        # A safe loader: no arbitrary objects are constructed.
        data = yaml.load(text, Loader=FastJsonLoader)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ContractError(f"{path}: expected a YAML mapping at the top level, found {found}")
    document = cast(dict[str, Any], string_keys(data))
    _store_parse(path, text, document)
    return document


# Parsing the REST contract as YAML takes about 60 ms even with libyaml, and JSON about 2 ms; a
# server's first request waits for it. So the parsed form of each document is kept as JSON in a
# cache folder, under the SHA-256 of the document's text: an edited document never reads a stale
# entry. READER_MOCK_CACHE_DIR chooses the folder; set it to an empty string to turn caching off.
_CACHE_ENV = "READER_MOCK_CACHE_DIR"


def _cache_file(path: Path, text: str) -> Path | None:
    configured = os.environ.get(_CACHE_ENV)
    if configured is not None:
        if not configured:
            return None
        folder = Path(configured)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "reader-mock"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return folder / f"{path.stem}-{digest}.json"


def _cached_parse(path: Path, text: str) -> dict[str, Any] | None:
    cache_file = _cache_file(path, text)
    if cache_file is None:
        return None
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent or damaged: parse the YAML and write the entry again
    return cast(dict[str, Any], data) if isinstance(data, dict) else None


def _store_parse(path: Path, text: str, document: dict[str, Any]) -> None:
    cache_file = _cache_file(path, text)
    if cache_file is None:
        return
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(document), encoding="utf-8")
        os.replace(partial, cache_file)  # atomic: a concurrent reader sees all or nothing
    except OSError:
        pass  # a read-only home folder only costs the cache


@functools.cache
def load_openapi() -> dict[str, Any]:
    """Return the parsed ``openapi.yaml`` (cached: treat it as read-only, copy before changing)."""
    return load_yaml_document(openapi_path())


@functools.cache
def load_asyncapi() -> dict[str, Any]:
    """Return the parsed ``contracts/asyncapi.yaml`` (cached: treat it as read-only)."""
    return load_yaml_document(asyncapi_path())


def build_registry(openapi: Mapping[str, Any], asyncapi: Mapping[str, Any]) -> Registry[Any]:
    """Build a registry holding both documents under :data:`OPENAPI_URI` and :data:`ASYNCAPI_URI`.

    Both are registered as JSON Schema 2020-12 resources, the dialect of OpenAPI 3.1 schemas, so
    a validator can start from ``{"$ref": OPENAPI_URI + "#/components/schemas/Name"}``. Use this
    with modified copies of the documents; :func:`contract_registry` covers the shipped ones.
    """
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources: list[tuple[str, Resource[Any]]] = [
        (OPENAPI_URI, DRAFT202012.create_resource(openapi)),
        (ASYNCAPI_URI, DRAFT202012.create_resource(asyncapi)),
    ]
    return Registry().with_resources(resources)


@functools.cache
def contract_registry() -> Registry[Any]:
    """The registry of the shipped documents (cached)."""
    return build_registry(load_openapi(), load_asyncapi())


def escape_pointer_token(key: str) -> str:
    """One mapping key as a JSON pointer token (``/`` becomes ``~1``, ``~`` becomes ``~0``)."""
    return key.replace("~", "~0").replace("/", "~1")


def unescape_pointer_token(token: str) -> str:
    """The mapping key a JSON pointer token stands for."""
    return token.replace("~1", "/").replace("~0", "~")


def follow_local_refs(
    document: Mapping[str, Any], node: Any, pointer: str, *, name: str
) -> tuple[str, Mapping[str, Any]]:
    """Follow ``$ref``s inside ``document`` from ``node``, found at ``pointer``.

    Returns the pointer of the object the chain ends at, and the object. ``name`` names the
    document in errors (``openapi.yaml``).

    Raises:
        ContractError: a node is not an object, a reference leaves the document or does not
            resolve, or the chain is too long.
    """
    for _ in range(_MAX_REF_HOPS):
        if not isinstance(node, Mapping):
            raise ContractError(f"{name}: {pointer} is not an object")
        ref = node.get("$ref")
        if ref is None:
            return pointer, node
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ContractError(
                f"{name}: {pointer} refers to {ref!r}; references must point inside the document"
            )
        pointer = ref[1:]
        node = document
        for token in pointer.split("/")[1:]:
            key = unescape_pointer_token(token)
            if not isinstance(node, Mapping) or key not in node:
                raise ContractError(f"{name}: reference {ref!r} does not resolve")
            node = node[key]
    raise ContractError(f"{name}: too many chained references at {pointer}")
