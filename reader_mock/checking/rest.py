"""The REST checks: Schemathesis against the server, with the project's own configuration.

Schemathesis runs as a child process (its command line), so its threads, output and state stay
out of the caller's, and the run is bounded by a timeout. ``schemathesis.toml`` next to this
module holds the per-operation settings; the API key is added as the document's security scheme.
Its JUnit report gives one case per operation and phase, with each failure's check and request.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Final

from reader_mock.contract import openapi_path

from .report import CheckCase, Problem

__all__ = ["RestUnavailable", "cases_from_junit", "check_rest", "schemathesis_config"]

HOOKS_MODULE: Final = "reader_mock.checking.schemathesis_hooks"
_AUTH: Final = "\n[auth.openapi.ApiKeyAuth]\napi_key = {key}\n"
_LINE_LIMIT: Final = 600
_CASE: Final = re.compile(r"^(?=\d+\. Test Case ID:)", re.MULTILINE)
_CASE_ID: Final = re.compile(r"Test Case ID: (\S+)")
_STATUS: Final = re.compile(r"^\[\d{3}\] ")


class RestUnavailable(Exception):
    """Schemathesis could not run (it is not installed, or it stopped without a report)."""


def schemathesis_config(api_key: str) -> str:
    """The settings file's text with ``api_key`` as the credentials of the security scheme."""
    text = files(__package__).joinpath("schemathesis.toml").read_text(encoding="utf-8")
    return text + _AUTH.format(key=json.dumps(api_key))


def check_rest(
    url: str,
    api_key: str,
    *,
    timeout: float,
    max_examples: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[CheckCase]:
    """Run Schemathesis on every operation of ``openapi.yaml`` at ``url``; one case per test.
    ``max_examples`` replaces the settings file's examples per operation and phase.

    Raises:
        RestUnavailable: Schemathesis is not installed, timed out, or wrote no report.
    """
    try:
        import schemathesis  # noqa: F401 - only whether it is there
    except ImportError:
        raise RestUnavailable(
            "Schemathesis is not installed: pip install 'reader-mock[check]' "
            "(or check the streams alone with --only streams)"
        ) from None
    with tempfile.TemporaryDirectory(prefix="reader-mock-check-") as folder:
        config = Path(folder) / "schemathesis.toml"
        config.write_text(schemathesis_config(api_key), encoding="utf-8")
        junit = Path(folder) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            str(openapi_path()),
            "--url",
            url,
            "--report",
            "junit",
            "--report-junit-path",
            str(junit),
            "--generation-database",
            "none",
            "--no-color",
        ]
        if max_examples is not None:
            command += ["--max-examples", str(max_examples)]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS_MODULE}
        progress("rest: Schemathesis is running every operation of openapi.yaml")
        try:
            run = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise RestUnavailable(f"Schemathesis did not finish within {timeout:g} s") from None
        if not junit.exists():
            tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
            raise RestUnavailable("Schemathesis stopped without a report: " + " | ".join(tail))
        return cases_from_junit(junit.read_bytes())


def cases_from_junit(report: bytes) -> list[CheckCase]:
    """One case per ``testcase`` of Schemathesis' JUnit report."""
    root = ET.fromstring(report)
    cases = []
    for element in root.iter("testcase"):
        name = element.get("name", "?")
        case = CheckCase("rest", name, seconds=float(element.get("time") or 0))
        for kind in ("failure", "error"):
            for problem in element.findall(kind):
                case.problems.extend(_problems(name, problem))
        skipped = element.find("skipped")
        if skipped is not None and not case.problems:
            case.skipped = skipped.get("message") or "skipped by Schemathesis"
        cases.append(case)
    return cases


def _problems(name: str, element: ET.Element) -> list[Problem]:
    """Problems of one failure: per test case, each failing check (a ``- ST...`` line) with its
    details, the response and the command that reproduces the request."""
    text = (element.text or "").strip() or element.get("message") or ""
    found: list[Problem] = []
    for block in _CASE.split(text):
        case_id = _CASE_ID.search(block)
        where = f"{name}, test case {case_id.group(1)}" if case_id else name
        lines = [line.rstrip() for line in block.splitlines()]
        headings = [i for i, line in enumerate(lines) if line.startswith("- ")]
        reply = next((line.strip() for line in lines if _STATUS.match(line)), "")
        curl = next((line.strip() for line in lines if line.strip().startswith("curl ")), "")
        for index, start in enumerate(headings):
            end = headings[index + 1] if index + 1 < len(headings) else len(lines)
            detail = [line.strip() for line in lines[start + 1 : end] if line.strip()]
            detail = detail[: detail.index(reply)] if reply in detail else detail
            parts = [" ".join(detail), f"response {reply}".rstrip(":") if reply else "", curl]
            message = "; ".join(part for part in parts if part)[:_LINE_LIMIT]
            found.append(Problem(lines[start][2:].strip(), where, message))
    if not found:
        found.append(Problem(element.get("message") or element.tag, name, text[:_LINE_LIMIT]))
    return found
