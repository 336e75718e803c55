"""The document phase: render a step's results doc from its record of the run."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pocflow.documents import STEP_TEMPLATE, render, template_source, write_document
from pocflow.metrics import describe_metric, parse_threshold
from pocflow.record import StepRecord, TestResult
from pocflow.workspace import Step, Workspace, prerequisites_first

STATUS_LINES = {"verified": "✅ COMPLETE", "failed": "❌ BLOCKED"}


@dataclass
class Category:
    """Tests of one class (or of one file, for tests outside classes)."""

    name: str
    total: int
    status: str


def render_step_results(ws: Workspace, step: Step, record: StepRecord) -> str:
    """The rendered results doc of a step (not yet merged with what is on disk)."""
    test = record.test
    context: dict[str, Any] = {
        "step": {
            "step_id": step.step_id,
            "name": step.name,
            "goal": step.plan_step.goal
            if step.plan_step
            else (step.manifest.goal if step.manifest else ""),
        },
        "poc": {"number": ws.settings.poc, "name": ws.name},
        "record": record,
        "status_line": STATUS_LINES.get(record.verdict, "🔄 IN PROGRESS")
        + (" — verified by its tests only" if record.implement and record.implement.manual else ""),
        "manual": record.implement.manual if record.implement else "",
        "scripts": step.scripts,
        # what makes the files the step reads, in the order they must run (a fresh clone
        # accepts the prerequisites' records without running their scripts)
        "prerequisite_scripts": [
            script
            for sid in prerequisites_first(ws, list(step.depends_on))
            for script in ws.steps[sid].scripts
        ],
        "metrics": metric_rows(record),
        "test_files": _test_files(test),
        "coverage": coverage(test),
        "totals": _totals(test),
        "test_command_files": " ".join(step.tests) or f"tests/test_step{step.step_id}_*.py",
    }
    return render(ws.root, ws.settings.templates_dir, STEP_TEMPLATE, context)


def write_step_results(ws: Workspace, step: Step, record: StepRecord) -> None:
    """Render and merge the step's results doc into docs/."""
    write_document(ws.root, ws.results_doc(step.step_id), render_step_results(ws, step, record))


def metric_rows(record: StepRecord) -> list[tuple[str, str]]:
    """(name, value cell) of every metric, with its thresholds' verdicts."""
    implement = record.implement
    if implement is None:
        return []
    bounds = [t for t in map(parse_threshold, implement.thresholds) if t is not None]
    return [
        (name, describe_metric(value, [b for b in bounds if b.metric == name]))
        for name, value in sorted(implement.metrics.items())
    ]


def coverage(test: TestResult | None) -> list[Category]:
    """Test counts per category: the test class, else the test file."""
    if test is None:
        return []
    groups: dict[str, list[str]] = {}
    for case in test.tests:
        parts = case.nodeid.split("::")
        name = f"`{parts[1]}`" if len(parts) > 2 else f"`{Path(parts[0]).name}`"
        groups.setdefault(name, []).append(case.outcome)
    return [
        Category(name, len(outcomes), outcome_summary(outcomes))
        for name, outcomes in groups.items()
    ]


def outcome_summary(outcomes: list[str]) -> str:
    """'✅ 5 passed' or '❌ 1 failed, 4 passed' (with skipped/xfailed counts)."""
    counts = Counter(outcomes)
    bad = counts.get("failed", 0) + counts.get("error", 0) + counts.get("xpassed", 0)
    order = ("failed", "error", "xpassed", "passed", "skipped", "xfailed")
    text = ", ".join(f"{counts[o]} {o}" for o in order if counts.get(o))
    return ("❌ " if bad else "✅ ") + (text or "no tests")


def _totals(test: TestResult | None) -> dict[str, Any]:
    outcomes = [c.outcome for c in test.tests] if test else []
    return {"total": len(outcomes), "status": outcome_summary(outcomes)}


def _test_files(test: TestResult | None) -> list[tuple[str, int]]:
    if test is None:
        return []
    return [(f, sum(1 for c in test.tests if c.nodeid.split("::", 1)[0] == f)) for f in test.files]


#: the sections of a results doc a person writes, which the gate wants written
WRITTEN_SECTIONS = ("Summary", "Bug Fixes During Development")


def unwritten_sections(ws: Workspace, step_id: str) -> list[str]:
    """The sections of the step's results doc (WRITTEN_SECTIONS) that hold nothing but the
    template's own text — its instructions, the goal line — or nothing at all. A missing
    results doc has none written. ('No bugs met.' is something written.)"""
    path = ws.root / ws.results_doc(step_id)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return list(WRITTEN_SECTIONS)
    patterns = _template_lines(
        template_source(ws.root, ws.settings.templates_dir, STEP_TEMPLATE)[1]
    )
    return [
        heading
        for heading in WRITTEN_SECTIONS
        if all(
            any(p.fullmatch(line) for p in patterns[heading]) for line in _section(text, heading)
        )
    ]


def undocumented_steps(ws: Workspace) -> list[tuple[str, list[str]]]:
    """(step id, its unwritten sections) of each step with files whose results doc is not
    written yet, in step order."""
    found = []
    for step_id, step in ws.steps.items():
        sections = unwritten_sections(ws, step_id) if step.has_files else []
        if sections:
            found.append((step_id, sections))
    return found


@cache
def _template_lines(template: str) -> dict[str, list[re.Pattern[str]]]:
    """Per written section, the template's own lines as patterns (compiled once per
    template, not once per results doc)."""
    return {
        heading: [
            _line_pattern(line)
            for line in _section(template, heading)
            if re.sub(r"\{\{.*?\}\}", "", line).strip()
        ]  # not a bare value
        for heading in WRITTEN_SECTIONS
    }


def _section(text: str, heading: str) -> list[str]:
    """The non-blank lines of a '## heading' section, up to the next heading or machine
    block (template statements left out)."""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip() == heading
            continue
        if line.startswith("<!-- pocflow:begin "):
            inside = False
        if inside and line.strip() and not line.lstrip().startswith("{%"):
            lines.append(line.strip())
    return lines


def _line_pattern(line: str) -> re.Pattern[str]:
    """A template line as a pattern: each {{ value }} stands for any text."""
    parts = re.split(r"\{\{.*?\}\}", line)
    return re.compile(".*".join(re.escape(part) for part in parts))
