"""``reader-mock check URL``: check a live server against openapi.yaml and contracts/asyncapi.yaml.

Progress goes to stderr one line per step, the report to stdout; ``--junit FILE`` also writes one
JUnit test case per check. Exit status: 0 the server conforms, 1 it does not, 2 the check could not
run (nothing listening, a refused key, bad options); never a traceback.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import click

from .shared import InputError

__all__ = ["check"]


def _seconds(context: click.Context, parameter: click.Parameter, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise click.BadParameter(f"expected a number of seconds > 0, got {value:g}")
    return value


def _url(context: click.Context, parameter: click.Parameter, value: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"expected http://host[:port], got {value!r}")
    return value.rstrip("/")


@click.command("check")
@click.argument("url", callback=_url)
@click.option(
    "--api-key",
    required=True,
    envvar="READER_API_KEY",
    metavar="KEY",
    help="A key the server accepts (or the READER_API_KEY environment variable).",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write a JUnit XML report with one test case per check.",
)
@click.option(
    "--ping-interval",
    type=float,
    default=30.0,
    show_default=True,
    callback=_seconds,
    metavar="SECONDS",
    help="Real seconds the workspace stream may stay without a keep-alive comment "
    "(a mock served with --speed 20 pings every 1.5 s).",
)
@click.option(
    "--job-timeout",
    type=float,
    default=60.0,
    show_default=True,
    callback=_seconds,
    metavar="SECONDS",
    help="Real seconds the created job may take to reach 'done' on its stream.",
)
@click.option(
    "--connect-timeout",
    type=float,
    default=10.0,
    show_default=True,
    callback=_seconds,
    metavar="SECONDS",
    help="Real seconds the server has to answer the first request; past them the check cannot "
    "run (exit status 2).",
)
@click.option(
    "--max-examples",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Examples Schemathesis generates per operation and phase "
    "(default: 25, from the project's Schemathesis settings); fewer make a quicker REST check.",
)
@click.option(
    "--only",
    type=click.Choice(["rest", "streams"]),
    default=None,
    help="Run only the REST checks (Schemathesis) or only the stream checks.",
)
def check(
    url: str,
    api_key: str,
    junit_path: Path | None,
    ping_interval: float,
    job_timeout: float,
    connect_timeout: float,
    max_examples: int | None,
    only: str | None,
) -> None:
    """Check the server at URL against the Reader API contract.

    REST: Schemathesis on every operation of openapi.yaml (positive and negative data, the
    links between operations). Streams: the per-job stream of a job it creates (every frame
    decoded and validated, a progress snapshot first, done last, the connection closed right
    after) and the workspace stream, read for a bounded time (event names, jobId in every
    payload, the job's outcome, a keep-alive comment within --ping-interval). Exits 0 when the
    server conforms, 1 when it does not, 2 when the check cannot run.
    """
    from reader_mock.checking import (
        CheckOptions,
        CheckUnavailable,
        StreamLimits,
        junit_xml,
        run_check,
        text_report,
    )

    parts = ("rest", "streams") if only is None else (only,)
    options = CheckOptions(
        url=url,
        api_key=api_key,
        parts=parts,  # type: ignore[arg-type]
        limits=StreamLimits(ping_interval=ping_interval, job_timeout=job_timeout),
        max_examples=max_examples,
        connect_timeout=connect_timeout,
    )
    started = time.monotonic()

    def progress(line: str) -> None:
        click.echo(f"[{time.monotonic() - started:6.1f}s] {line}", err=True)

    try:
        cases = run_check(options, progress)
    except CheckUnavailable as exc:
        raise InputError(f"the check could not run: {exc}") from None
    click.echo(text_report(cases))
    if junit_path is not None:
        try:
            junit_path.write_bytes(junit_xml(cases))
        except OSError as exc:
            raise InputError(f"cannot write {junit_path}: {exc.strerror or exc}") from None
    click.get_current_context().exit(0 if all(case.ok for case in cases) else 1)
