"""What the commands share: the input error and the report-format option."""

from __future__ import annotations

import click

__all__ = ["InputError", "format_option"]


class InputError(click.ClickException):
    """A usage or input problem: one line on stderr and exit status 2."""

    exit_code = 2


format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format.",
)
"""``--format text|json``, passed to the command as ``output_format``."""
