"""The poc-complete gate, called directly on verified and damaged workspaces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pocflow.gate import check_complete
from pocflow.workspace import load_workspace

pytestmark = pytest.mark.e2e


def test_check_complete_refuses_record_whose_inputs_changed(sample: Path) -> None:
    record_path = sample / "steps/records/step3b.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["inputs"]["PoC/step3b_country_lookup.py"] = "0" * 64  # verified on other bytes
    record_path.write_text(json.dumps(record), encoding="utf-8")
    problem = check_complete(load_workspace(sample), None)
    assert problem
    assert problem.splitlines() == [
        "PoC 1 is not complete: 1 of 6 steps not verified:",
        "    step 3b (Country lookup): 🔄 Changed since verified — changed since verified: "
        "PoC/step3b_country_lookup.py",
    ]


def test_check_complete_reports_failed_and_blocked_steps(sample: Path) -> None:
    record_path = sample / "steps/records/step3a.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["verdict"] = "failed"
    record["message"] = "step 3a: 1 of 3 tests failed"
    record_path.write_text(json.dumps(record), encoding="utf-8")
    problem = check_complete(load_workspace(sample), None)
    assert problem
    lines = problem.splitlines()
    assert lines[0] == "PoC 1 is not complete: 2 of 6 steps not verified:"
    assert lines[1] == "    step 3a (Country index): ❌ Failed — step 3a: 1 of 3 tests failed"
    assert lines[2] == (
        "    step 3b (Country lookup): ⬜ Blocked by 3a — waits for step 3a "
        "(failed); the record of upstream step 3a changed since"
    )


def test_check_complete_passes_on_verified_sample_and_writes_gate_record(sample: Path) -> None:
    assert check_complete(load_workspace(sample), None) == ""
    gate = json.loads((sample / "steps/records/poc-complete.json").read_text(encoding="utf-8"))
    assert sum(c["total"] for c in gate["counts"].values()) == 36


SUMMARY_PLACEHOLDER = (
    "_What did this step prove? Write it here; pocflow never rewrites this section._"
)


def _unwrite_summary(sample: Path) -> Path:
    doc = sample / "docs/time-zone-atlas-step3b-results.md"
    text = doc.read_text(encoding="utf-8")
    summary = text.split("## Summary\n", 1)[1].split("<!-- pocflow:begin results", 1)[0]
    goal = next(line for line in summary.splitlines() if line.startswith("_Goal"))
    doc.write_text(
        text.replace(summary, f"\n{goal}\n\n{SUMMARY_PLACEHOLDER}\n\n"), encoding="utf-8"
    )
    return doc


def test_a_results_doc_that_holds_only_the_templates_text_fails_the_gate(sample: Path) -> None:
    import subprocess
    import sys

    from support import run_doit

    doc = _unwrite_summary(sample)
    failed = run_doit(sample, "poc-complete")
    assert failed.code == 1
    output = failed.out + failed.err
    assert "PoC 1: 1 of 6 results docs are not written yet" in output
    assert "    docs/time-zone-atlas-step3b-results.md: Summary\n" in output
    assert "pocflow: next: write the Summary of docs/time-zone-atlas-step3b-results.md" in output
    # a matter of documents, not of verdicts: the tests pass, the steps stay verified
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=sample,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0, plain.stdout
    assert "3b" not in failed.ran_steps

    doc.write_text(
        doc.read_text(encoding="utf-8").replace(
            SUMMARY_PLACEHOLDER, "Every country with zones is reachable by name."
        ),
        encoding="utf-8",
    )
    done = run_doit(sample, "poc-complete")
    assert done.code == 0, done.out + done.err


def test_undocumented_warn_lets_the_gate_pass_and_says_what_is_missing(sample: Path) -> None:
    from support import edit, run_doit

    _unwrite_summary(sample)
    edit(
        sample / "pyproject.toml",
        lambda s: s.replace("[tool.pocflow]\n", '[tool.pocflow]\nundocumented = "warn"\n'),
    )
    done = run_doit(sample, "poc-complete")
    assert done.code == 0, done.out + done.err
    assert (
        "pocflow: warning: not documented yet: docs/time-zone-atlas-step3b-results.md: "
        "Summary" in done.err
    )


def test_unwritten_sections_know_the_templates_lines_from_what_a_person_wrote(sample: Path) -> None:
    from pocflow.documents import unwritten_sections
    from pocflow.workspace import load_workspace

    ws = load_workspace(sample)
    assert unwritten_sections(ws, "3b") == []
    doc = sample / ws.results_doc("3b")
    text = doc.read_text(encoding="utf-8")
    bugs = text.split("## Bug Fixes During Development\n", 1)[1].split("<!-- pocflow", 1)[0]
    doc.write_text(
        text.replace(
            bugs,
            "\n_Record each bug met while building this step as "
            "`### 1. <Issue Name>` with **Issue** and **Fix**._\n\n",
        ),
        encoding="utf-8",
    )
    assert unwritten_sections(ws, "3b") == ["Bug Fixes During Development"]
    doc.write_text(
        doc.read_text(encoding="utf-8").replace(
            "**Fix**._\n", "**Fix**._\n\n### 1. Names with accents\n**Issue**: ...\n"
        ),
        encoding="utf-8",
    )  # the instruction left in place, an entry below it: written
    assert unwritten_sections(ws, "3b") == []
    doc.unlink()
    assert unwritten_sections(ws, "3b") == ["Summary", "Bug Fixes During Development"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda ws: (ws / "docs/poc1-implementation.md").write_text(
                (ws / "docs/poc1-implementation.md")
                .read_text(encoding="utf-8")
                .replace("- [x] **No mock data**", "- [ ] **No mock data**", 1),
                encoding="utf-8",
            ),
            "❌ NOT COMPLETE — 1 of 4 Production-Grade Checklist item(s) not ticked after the "
            "gate passed on ",
        ),
        (
            lambda ws: (ws / "docs/poc1-implementation.md").write_text(
                (ws / "docs/poc1-implementation.md")
                .read_text(encoding="utf-8")
                .replace(
                    "## Production-Grade Checklist",
                    "### Step 5: Later\n\n**Goal**: more.\n\n## Production-Grade Checklist",
                    1,
                ),
                encoding="utf-8",
            ),
            "❌ NOT COMPLETE — step(s) 5 not verified after the gate passed on ",
        ),
    ],
    ids=["checklist item unticked", "step added"],
)
def test_a_gate_that_no_longer_passes_has_the_poc_results_doc_say_so_and_drift_agrees(
    sample: Path, change: Any, says: str
) -> None:
    """The gate fails on what the plan says now: docs/poc1-results.md, written by the gate
    that passed, no longer says ✅ COMPLETE, and `doit drift` (what the records and plan
    say) agrees with it; the command drift names then leaves it as it is."""
    from support import run_doit

    change(sample)
    failed = run_doit(sample, "poc-complete")
    assert failed.code == 1, failed.out + failed.err
    doc = (sample / "docs/poc1-results.md").read_text(encoding="utf-8")
    assert says in doc and "✅ COMPLETE" not in doc, doc
    drift = run_doit(sample, "drift")
    assert drift.code == 0, drift.out + drift.err


@pytest.mark.e2e
def test_a_step_that_failed_and_passes_again_on_the_same_records_has_the_poc_doc_complete(
    sample: Path,
) -> None:
    """A step's tests broke after the gate passed (the PoC results doc then says ❌ NOT
    COMPLETE), and were mended: `doit step:N` verifies the step on the very records the
    gate passed on, so the PoC is complete again, as `doit status` says — and so does its
    results doc, which drift agrees with (it said NOT COMPLETE until the next gate)."""
    from support import edit, run_doit

    test = sample / "tests/test_step2_coordinates.py"
    kept = test.read_text(encoding="utf-8")
    edit(test, lambda text: text + "\n\ndef test_broken():\n    assert False\n")
    assert run_doit(sample, "poc-complete").code == 1
    assert "❌ NOT COMPLETE" in (sample / "docs/poc1-results.md").read_text(encoding="utf-8")
    test.write_text(kept, encoding="utf-8")
    assert run_doit(sample, "step:2").code == 0
    status = run_doit(sample, "status")
    assert "nothing to do: PoC 1 is complete" in status.out, status.out
    doc = (sample / "docs/poc1-results.md").read_text(encoding="utf-8")
    assert "✅ COMPLETE" in doc and "NOT COMPLETE" not in doc, doc
    drift = run_doit(sample, "drift")
    assert drift.code == 0, drift.out
