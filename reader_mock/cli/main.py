"""The ``reader-mock`` group: its version option and its commands, one module each."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click

from .check import check
from .contract import contract
from .serve import serve
from .validate import validate

__all__ = ["main"]


def _version() -> str:
    try:
        return version("reader-mock")
    except PackageNotFoundError:
        return "unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="reader-mock")
def main() -> None:
    """reader-mock: a local mock of the Reader API and a contract test kit for its streams."""


main.add_command(serve)
main.add_command(validate)
main.add_command(contract)
main.add_command(check)
