"""The outcome of ``reader-mock check``: one case per check, its problems, a text and a JUnit form.

A :class:`Problem` names the rule that was broken, where (an event name, a field, a frame, a
request) and what happened, so a person can find it without rerunning anything.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Final

__all__ = ["CheckCase", "Problem", "junit_xml", "text_report"]

_SUITE: Final = "reader-mock check"


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: ``rule`` (``unknown-event``, ``keep-alive``...), ``where`` (the frame,
    event name, field or request) and ``message``, a sentence for people."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return (
            f"[{self.rule}] {self.where}: {self.message}"
            if self.where
            else (f"[{self.rule}] {self.message}")
        )


@dataclass(slots=True)
class CheckCase:
    """One check: passed when it has no problems; ``skipped`` says why it could not run."""

    group: str
    name: str
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        return "passed" if self.ok else "failed"


def text_report(cases: list[CheckCase]) -> str:
    """The console report: every failed case with each problem on its own line, then a summary."""
    lines: list[str] = []
    for case in cases:
        if case.skipped is not None:
            lines.append(f"SKIPPED {case.group}: {case.name} ({case.skipped})")
        elif not case.ok:
            lines.append(f"FAILED  {case.group}: {case.name}")
            lines.extend(f"    {problem}" for problem in case.problems)
    failed = sum(1 for case in cases if case.status == "failed")
    skipped = sum(1 for case in cases if case.status == "skipped")
    passed = len(cases) - failed - skipped
    verdict = "the server conforms" if failed == 0 else "the server does not conform"
    lines.append(
        f"{len(cases)} checks: {passed} passed, {failed} failed, {skipped} skipped: {verdict}"
    )
    return "\n".join(lines)


def junit_xml(cases: list[CheckCase]) -> bytes:
    """A JUnit XML document with one ``testcase`` per check, grouped in one ``testsuite``."""
    failures = sum(1 for case in cases if case.status == "failed")
    skipped = sum(1 for case in cases if case.status == "skipped")
    total = sum(case.seconds for case in cases)
    suites = ET.Element("testsuites", name=_SUITE)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_SUITE,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{total:.3f}",
    )
    for case in cases:
        element = ET.SubElement(
            suite, "testcase", classname=case.group, name=case.name, time=f"{case.seconds:.3f}"
        )
        if case.skipped is not None:
            ET.SubElement(element, "skipped", message=case.skipped)
        elif case.problems:
            first = case.problems[0]
            failure = ET.SubElement(element, "failure", message=_clean(str(first)), type=first.rule)
            failure.text = _clean("\n".join(str(problem) for problem in case.problems))
    suites.set("tests", str(len(cases)))
    suites.set("failures", str(failures))
    document: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return document


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (a server may send anything)."""
    return "".join(
        char if char in "\t\n\r" or (char >= " " and char not in "\ufffe\uffff") else "\ufffd"
        for char in text
    )
