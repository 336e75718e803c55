"""Golden-file tests of the packaged templates: the full render of fixed records.

Set POCFLOW_UPDATE_GOLDEN=1 to rewrite the golden files after an intended template change:
a test whose golden file it rewrote still fails in that run (the expectation it just wrote
proves nothing); review the diff, then run again without the variable.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import replace
from pathlib import Path

import pytest

from pocflow.record import (
    GateRecord,
    ImplementResult,
    ScriptRun,
    StepRecord,
    TestCase,
    TestResult,
)
from pocflow.render import render_poc_results, render_project_state, render_step_results
from pocflow.status import StepStatus
from pocflow.workspace import Workspace, load_workspace

GOLDEN = Path(__file__).parent / "golden"
PLAN = """# PoC 3 Implementation Plan: Invoice Reader

## Overview

| Attribute | Value |
|-----------|-------|
| **Proves** | Totals can be read from real scanned invoices |

## Implementation Steps

### Step 1: Scan pages
**Goal**: Turn each PDF page into an image.

### Step 2: Read totals
**Goal**: Find the total on each page.
**Depends On**: Step 1

### Step 2_1: Layout model
**Goal**: Try a layout model instead.
**Depends On**: Step 2

### Step 3: Export
**Goal**: Write a CSV.
**Depends On**: Steps 2, 2_1

## Production-Grade Checklist

- [x] **No mock data**: 40 real invoices
- [ ] **Error handling**: unreadable pages are reported
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    files = {
        "pyproject.toml": "[tool.pocflow]\npoc = 3\n",
        "docs/poc3-implementation.md": PLAN,
        "PoC/step1_scan.py": "",
        "PoC/step1_validate_pages.py": "",
        "PoC/step2_totals.py": "",
        "PoC/step2_1_layout.py": "",
        "tests/test_step1_scan.py": "",
        "tests/test_step2_totals.py": "",
        "tests/test_step2_1_layout.py": "",
        "steps/step1.yaml": "outputs: [out/pages]\nthresholds: ['pages >= 40']\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    return load_workspace(tmp_path)


def step1_record() -> StepRecord:
    implement = ImplementResult(
        step_id="1",
        outcome="passed",
        message="",
        started_at="2026-03-01T09:00:00Z",
        finished_at="2026-03-01T09:00:04Z",
        duration_s=4.25,
        scripts=[
            ScriptRun("PoC/step1_scan.py", 0, 3.5, ".pocflow/runs/step1/step1_scan.log"),
            ScriptRun(
                "PoC/step1_validate_pages.py",
                0,
                0.75,
                ".pocflow/runs/step1/step1_validate_pages.log",
            ),
        ],
        metrics={"pages": 42, "dpi": 300, "engine": "tesseract | 5"},
        thresholds=["pages >= 40"],
        outputs=["out/pages"],
        inputs={},
    )
    cases = [
        TestCase("tests/test_step1_scan.py::TestScan::test_one_page", "passed", 0.1),
        TestCase("tests/test_step1_scan.py::TestScan::test_rotated", "passed", 0.2),
        TestCase("tests/test_step1_scan.py::TestScan::test_huge", "skipped", 0.0),
        TestCase("tests/test_step1_scan.py::test_empty_pdf", "passed", 0.05),
        TestCase("tests/test_step1_scan.py::test_known_bug", "xfailed", 0.01),
    ]
    test = TestResult(
        step_id="1",
        outcome="passed",
        message="",
        started_at="2026-03-01T09:00:05Z",
        finished_at="2026-03-01T09:00:06Z",
        duration_s=1.5,
        files=["tests/test_step1_scan.py"],
        counts={"passed": 3, "skipped": 1, "xfailed": 1, "total": 5},
        tests=cases,
    )
    return StepRecord(
        step_id="1",
        name="Scan pages",
        verdict="verified",
        verified_at="2026-03-01T09:00:06Z",
        message="",
        implement=implement,
        test=test,
        inputs={},
        environment={"python": "3.11.7"},
        results_doc="docs/invoice-reader-step1-results.md",
        first_verified_at="2026-02-27T16:30:00Z",
    )


def check_golden(name: str, text: str, folder: Path = GOLDEN) -> None:
    """The render equals the golden file. With POCFLOW_UPDATE_GOLDEN set, a differing golden
    file is rewritten and the test still fails: no run passes on what it wrote itself."""
    golden = folder / name
    expected = golden.read_text(encoding="utf-8") if golden.exists() else None
    if text != expected and os.environ.get("POCFLOW_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
        pytest.fail(
            f"{golden} rewritten: review the diff, then run again without POCFLOW_UPDATE_GOLDEN"
        )
    assert text == expected


def test_rewriting_a_golden_file_does_not_pass_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "doc.md").write_text("old\n", encoding="utf-8")
    monkeypatch.setenv("POCFLOW_UPDATE_GOLDEN", "1")
    with pytest.raises(pytest.fail.Exception, match="rewritten"):
        check_golden("doc.md", "new\n", tmp_path)
    assert (tmp_path / "doc.md").read_text(encoding="utf-8") == "new\n"
    check_golden("doc.md", "new\n", tmp_path)  # the next run compares with what was written
    monkeypatch.delenv("POCFLOW_UPDATE_GOLDEN")
    with pytest.raises(AssertionError):
        check_golden("doc.md", "newer\n", tmp_path)


def test_step_results_template_golden(workspace: Workspace) -> None:
    check_golden(
        "step-results.md", render_step_results(workspace, workspace.steps["1"], step1_record())
    )


def test_project_state_template_golden(workspace: Workspace) -> None:
    record = step1_record()
    failing = TestResult(
        step_id="2",
        outcome="failed",
        message="step 2: 1 of 4 tests failed",
        started_at="2026-03-02T10:00:00Z",
        finished_at="2026-03-02T10:00:01Z",
        duration_s=1.0,
        files=["tests/test_step2_totals.py"],
        counts={"passed": 3, "failed": 1, "total": 4},
        tests=[TestCase("tests/test_step2_totals.py::test_sum", "failed", 0.1, "assert 3 == 4")],
    )
    failed = StepRecord(
        step_id="2",
        name="Read totals",
        verdict="failed",
        verified_at="2026-03-02T10:00:01Z",
        message=failing.message,
        implement=None,
        test=failing,
        inputs={},
        environment={},
        results_doc="docs/invoice-reader-step2-results.md",
    )
    statuses = {
        "1": StepStatus("1", "Scan pages", "verified", record),
        "2": StepStatus("2", "Read totals", "failed", failed),
        "2_1": StepStatus("2_1", "Layout model", "blocked", None, blocked_by=["2"]),
        "3": StepStatus("3", "Export", "not-started", None, blocked_by=[]),
    }
    check_golden("project-state.md", render_project_state(workspace, statuses))


def test_poc_results_template_golden(workspace: Workspace) -> None:
    gate = GateRecord(
        completed_at="2026-03-05T12:00:00Z",
        duration_s=2.5,
        counts={
            "1": {"passed": 3, "skipped": 1, "xfailed": 1, "total": 5},
            "2": {"passed": 4, "total": 4},
        },
    )
    # every step verified, as when a gate passes (only step 1's record has metrics)
    records = {sid: replace(step1_record(), implement=None) for sid in workspace.steps}
    records["1"] = step1_record()
    check_golden("poc-results.md", render_poc_results(workspace, records, gate))


def test_poc_results_lists_the_steps_in_plan_order_whatever_order_the_gate_record_holds(
    workspace: Workspace,
) -> None:
    # a gate record read back from JSON holds its counts by sorted keys: "10" before "2"
    plan_order = list(workspace.steps)
    gate = GateRecord(
        completed_at="2026-03-05T12:00:00Z",
        duration_s=2.5,
        counts={sid: {"passed": 1, "total": 1} for sid in reversed(plan_order)},
    )
    text = render_poc_results(workspace, {"1": step1_record()}, gate)
    lines = text.splitlines()
    table = lines[lines.index("| Step | Tests | Passed | Skipped | Failed |") + 2 :]
    rows = [
        line.split("|")[1].strip()
        for line in itertools.takewhile(lambda line: line.startswith("|"), table)
    ]
    assert rows[: len(plan_order)] == plan_order, text


def test_every_markdown_table_in_the_docs_renders_as_one_table() -> None:
    # a blank line ends a table (the rows after it are a paragraph), and a row cut by a line
    # break is two broken rows
    import re

    from support import REPO

    problems = []
    for doc in [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]:
        lines = doc.read_text(encoding="utf-8").splitlines()
        in_fence, in_table = False, False
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith("```"):
                in_fence = not in_fence
            if in_fence:
                continue
            if line.startswith("|"):
                if not line.rstrip().endswith("|"):
                    problems.append(f"{doc.name}:{number}: a row that does not end with |")
                in_table = True
            elif (
                in_table
                and not line.strip()
                and number < len(lines)
                and lines[number].startswith("|")
                and not re.match(
                    r"^\|[-:| ]+\|$", lines[number + 1] if number + 1 < len(lines) else ""
                )
            ):
                problems.append(f"{doc.name}:{number}: a blank line inside a table")
            else:
                in_table = in_table and line.startswith("|")
    assert problems == []
