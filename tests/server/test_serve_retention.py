"""``reader-mock serve --job-retention / --max-finished-jobs``: one-line errors and the help.

``tests/reliability/test_days_of_serve.py`` runs ``serve`` with both flags and sees them apply.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reader_mock.cli import main

RETENTION = "is not a number of seconds from 0 to 315360000 (ten years)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--job-retention", "-1"], f"Error: --job-retention: '-1' {RETENTION}"),
        (["--job-retention", "1h"], f"Error: --job-retention: '1h' {RETENTION}"),
        (["--job-retention", "nan"], f"Error: --job-retention: 'nan' {RETENTION}"),
        (["--job-retention", "inf"], f"Error: --job-retention: 'inf' {RETENTION}"),
        (["--job-retention", "1e9"], f"Error: --job-retention: '1e9' {RETENTION}"),
        (["--job-retention", ""], f"Error: --job-retention: '' {RETENTION}"),
        (
            ["--max-finished-jobs", "-1"],
            "Error: --max-finished-jobs: '-1' is not a whole number >= 0",
        ),
        (
            ["--max-finished-jobs", "2.5"],
            "Error: --max-finished-jobs: '2.5' is not a whole number >= 0",
        ),
        (
            ["--max-finished-jobs", "lots"],
            "Error: --max-finished-jobs: 'lots' is not a whole number >= 0",
        ),
    ],
)
def test_bad_retention_flags_are_one_line_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [message]


def test_the_help_documents_both_flags_and_their_defaults() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--job-retention SECONDS" in text and "[default: 86400, a day]" in text
    assert "--max-finished-jobs N" in text and "[default: 1000]" in text
    assert "404 not_found" in text
