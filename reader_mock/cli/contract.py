"""``reader-mock contract diff``: compare our ``openapi.yaml`` with an upstream document.

The comparison lives in :mod:`reader_mock.drift`, loaded only when the command runs.
"""

from __future__ import annotations

from typing import Any

import click

from .shared import InputError, format_option

__all__ = ["contract"]


@click.group()
def contract() -> None:
    """Work with the written contract (openapi.yaml, contracts/asyncapi.yaml)."""


@contract.command("diff")
@click.option(
    "--upstream",
    required=True,
    metavar="PATH_OR_URL",
    help="Upstream OpenAPI document: a JSON or YAML file, or an http(s) URL.",
)
@format_option
@click.option(
    "--ours",
    metavar="PATH",
    default=None,
    help="Our OpenAPI document. Default: the openapi.yaml shipped with reader-mock.",
)
@click.option(
    "--intended",
    metavar="PATH",
    default=None,
    help="Intended-differences file. Default: contracts/intended-differences.yaml shipped with "
    "reader-mock.",
)
@click.option(
    "--details",
    is_flag=True,
    help="List every difference, grouped by operation and schema, with its reason (text format).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for an upstream URL.",
)
def contract_diff(
    upstream: str,
    output_format: str,
    ours: str | None,
    intended: str | None,
    details: bool,
    timeout: float,
) -> None:
    """Compare our openapi.yaml with an upstream OpenAPI document.

    Prints a one-screen summary: the unintended differences, and the intended ones (listed with
    their reason in the intended-differences file) counted by kind. --details lists every
    difference grouped by operation and schema; --format json gives all of it to programs. Exits
    0 when every difference is intended, 1 when at least one is not, 2 when a document cannot be
    read.
    """
    from reader_mock.drift import (
        DriftError,
        default_intended_path,
        diff_openapi,
        load_intended_differences,
        load_openapi_source,
    )

    try:
        upstream_doc = load_openapi_source(upstream, timeout=timeout)
        if ours is None:
            ours_doc, ours_label = _bundled_openapi()
        else:
            ours_doc, ours_label = load_openapi_source(ours, timeout=timeout), ours
        allowed = load_intended_differences(intended)
    except DriftError as exc:
        raise InputError(str(exc)) from exc

    report = diff_openapi(
        ours_doc,
        upstream_doc,
        allowed,
        ours_source=ours_label,
        upstream_source=upstream,
    )
    if intended is None and not report.ok:
        # Tell people where to record a deliberate difference.
        click.echo(f"Intended differences are read from {default_intended_path()}.", err=True)
    if output_format == "json":
        click.echo(report.render_json())
    else:
        hint = (
            f"Every difference with its reason: reader-mock contract diff --upstream {upstream} "
            "--details (or --format json)."
        )
        click.echo(report.render_text(details=details, details_hint=hint), nl=False)
    click.get_current_context().exit(0 if report.ok else 1)


def _bundled_openapi() -> tuple[dict[str, Any], str]:
    """Load the project's own openapi.yaml and say where it came from."""
    from reader_mock.contract.documents import ContractError, load_openapi, openapi_path

    try:
        return load_openapi(), str(openapi_path())
    except ContractError as exc:
        raise InputError(str(exc)) from exc
