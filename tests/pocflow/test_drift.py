"""`doit drift`: committed generated parts against what pocflow would write now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import edit, make_workspace, run_doit

from pocflow.drift import find_drift
from pocflow.workspace import load_workspace

pytestmark = pytest.mark.e2e


def test_drift_clean_after_a_run(sample: Path) -> None:
    result = run_doit(sample, "drift")
    assert (result.code, result.out) == (0, "no drift: generated documents match the records\n")


def test_drift_finds_hand_edit_inside_machine_block(sample: Path) -> None:
    edit(
        sample / "docs/time-zone-atlas-step1-results.md",
        lambda s: s.replace("| zones | 312 |", "| zones | 400 |"),
    )
    result = run_doit(sample, "drift")
    assert result.code == 1
    assert (
        "drift: docs/time-zone-atlas-step1-results.md: machine block 'results' differs "
        "from what pocflow writes now" in result.out
    )


def test_a_line_written_inside_a_machine_block_is_kept_below_it_and_named(sample: Path) -> None:
    doc = sample / "docs/time-zone-atlas-step1-results.md"
    edit(doc, lambda s: s.replace("| zones | 312 |\n", "| zones | 312 |\nCounted by hand too.\n"))
    line = doc.read_text(encoding="utf-8").splitlines().index("Counted by hand too.") + 1
    assert run_doit(sample, "drift").code == 1  # the block is not what pocflow writes
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out
    assert (
        f"pocflow: warning: docs/time-zone-atlas-step1-results.md:{line}: 1 line written "
        "inside the machine block 'results' moved below it" in result.err
    )
    text = doc.read_text(encoding="utf-8")
    assert text.index("<!-- pocflow:end results -->") < text.index("Counted by hand too.")
    assert run_doit(sample, "drift").code == 0
    assert "moved below" not in run_doit(sample, "poc-complete").err  # once


def test_drift_ignores_human_edits(sample: Path) -> None:
    edit(
        sample / "docs/time-zone-atlas-step1-results.md",
        lambda s: s.replace(
            "None met while building this step.",
            "### 1. Comment lines\n**Issue**: read as zones. **Fix**: skipped.",
        ),
    )
    edit(sample / "PROJECT_STATE.md", lambda s: s + "\nA line of my own.\n")
    assert run_doit(sample, "drift").code == 0


def test_drift_finds_state_not_regenerated_after_a_change(sample: Path) -> None:
    edit(sample / "PoC/step3b_country_lookup.py", lambda s: s + "\n# changed\n")
    problems = find_drift(load_workspace(sample))
    assert problems == [
        "PROJECT_STATE.md: machine block 'step-progress' differs from what pocflow writes now",
        "PROJECT_STATE.md: machine block 'step-graph' differs from what pocflow writes now",
    ]
    assert run_doit(sample, "poc-complete").code == 0
    assert find_drift(load_workspace(sample)) == []


@pytest.mark.parametrize(
    ("damage", "message", "by_hand"),
    [
        (
            lambda s: s.replace("<!-- pocflow:end results -->\n", ""),
            "docs/time-zone-atlas-step1-results.md:",
            True,
        ),
        (
            lambda s: (
                s.replace("<!-- pocflow:begin coverage -->\n", "")
                .replace("<!-- pocflow:end coverage -->\n", "")
                .replace("## Test Coverage\n", "")
            ),
            "machine block 'coverage' is missing",
            False,
        ),
    ],
)
def test_drift_reports_damaged_documents(sample: Path, damage, message: str, by_hand: bool) -> None:  # type: ignore[no-untyped-def]
    """A broken marker is named, and its remedy is a fix by hand first: the gate drift
    names will not rewrite the document as it is (it fails on the same line). A block gone
    whole is the gate's to write again."""
    edit(sample / "docs/time-zone-atlas-step1-results.md", damage)
    result = run_doit(sample, "drift")
    assert result.code == 1
    assert message in result.out
    assert ("by hand first" in result.out) is by_hand, result.out
    gate = run_doit(sample, "all-pocs-complete")
    assert (gate.code == 0) is not by_hand, gate.out + gate.err
    if by_hand:  # the run's next step is that fix, not the gate's next piece of work
        assert "next: fix docs/time-zone-atlas-step1-results.md:" in gate.out, gate.out


def test_poc_complete_repairs_what_drift_reports(sample: Path) -> None:
    doc = sample / "docs/time-zone-atlas-step2-results.md"
    edit(doc, lambda s: s.replace("| points | 312 |", "| points | 1 |") + "\nmine\n")
    assert run_doit(sample, "drift").code == 1
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran == ["document:2"]
    assert run_doit(sample, "drift").code == 0
    assert doc.read_text(encoding="utf-8").endswith("\nmine\n")


def test_drift_tells_records_made_with_another_python_from_an_edit(sample: Path) -> None:
    import sys

    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    for record in (sample / "steps/records").glob("step*.json"):
        data = json.loads(record.read_text(encoding="utf-8"))
        data["environment"]["python"] = "3.10"  # as a runner with another Python sees it
        record.write_text(json.dumps(data, indent=2), encoding="utf-8")
    result = run_doit(sample, "drift")
    assert result.code == 1
    assert (
        "drift: the committed records were made with another environment "
        f"(python 3.10 -> {here}): every step shows as changed here"
    ) in result.out
    clean = run_doit(sample, "--reverify", "poc-complete")
    assert clean.code == 0
    edited = sample / "docs/time-zone-atlas-step1-results.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("✅", "❌", 1), "utf-8")
    result = run_doit(sample, "drift")
    assert result.code == 1 and "another environment" not in result.out


def test_drift_names_the_record_and_results_doc_a_removed_step_left(sample: Path) -> None:
    # step 4_1 removed: its script, tests and plan section gone, its record and doc kept
    for path in [
        *(sample / "PoC").glob("step4_1_*.py"),
        *(sample / "tests").glob("test_step4_1_*"),
    ]:
        path.unlink()
    plan = sample / "docs/poc1-implementation.md"
    text = plan.read_text(encoding="utf-8")
    start = text.index("### Step 4_1")
    plan.write_text(text[:start] + text[text.index("## ", start + 4) :], encoding="utf-8")
    result = run_doit(sample, "drift")
    assert result.code == 1, result.out + result.err
    assert (
        "drift: steps/records/step4_1.json: the record of step 4_1, which the PoC no longer "
        "has (no files, not in the plan); remove it and "
        "docs/time-zone-atlas-step4_1-results.md (git rm), or bring the step back"
    ) in result.out
    # no gate mends it: the closing line says it is the person's to do first
    assert "mend the 1 named file(s) by hand first" in result.out, result.out


@pytest.mark.e2e
def test_a_step_removed_after_it_failed_leaves_no_row_behind(sample: Path) -> None:
    # its failure wrote PROJECT_STATE.md outside the project-state task (with its row);
    # the step's files removed, the task stood on what it last wrote itself (the same
    # steps), said up to date, and `doit drift` failed from then on
    new = run_doit(sample, "new", "9", "--name", "Extra")
    assert new.code == 0, new.out + new.err
    failed = run_doit(sample, "poc-complete")  # its script is not written yet
    assert failed.code == 1 and "| 9 | Extra |" in (sample / "PROJECT_STATE.md").read_text()
    for rel in ("PoC/step9_extra.py", "tests/test_step9_extra.py", "steps/step9.yaml"):
        (sample / rel).unlink()
    (sample / "steps/records/step9.json").unlink()
    for doc in (sample / "docs").glob("*-step9-results.md"):
        doc.unlink()
    again = run_doit(sample, "poc-complete")
    assert again.code == 0, again.out + again.err
    assert "| 9 | Extra |" not in (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    drift = run_doit(sample, "drift")
    assert drift.code == 0, drift.out + drift.err


@pytest.mark.e2e
def test_a_deleted_record_is_named_by_status_and_drift_and_written_again(sample: Path) -> None:
    # status said "never verified" and drift blamed PROJECT_STATE.md alone
    (sample / "steps/records/step2.json").unlink()
    status = run_doit(sample, "status").out
    assert "its record steps/records/step2.json is gone (verified here" in status, status
    assert "step 2 was never verified" not in status
    drift = run_doit(sample, "drift")
    assert drift.code == 1
    assert "steps/records/step2.json: gone, while step 2 was verified here" in drift.out
    again = run_doit(sample, "poc-complete")
    assert again.code == 0 and not {"implement:2", "test:2"} & set(again.ran), again.out
    assert (sample / "steps/records/step2.json").is_file()
    assert run_doit(sample, "drift").code == 0


def test_a_first_run_that_fails_links_the_results_doc_it_wrote_and_drift_passes(
    tmp_path: Path,
) -> None:
    """The failure writes the step's results doc (❌ BLOCKED) and PROJECT_STATE.md; the
    row links the document written in the same breath, as a second run would."""
    ws = make_workspace(tmp_path / "ws", {"1": "def test_a():\n    assert 1 == 2\n"})
    assert run_doit(ws, "poc-complete").code == 1
    doc = ws / "docs/small-step1-results.md"
    assert doc.is_file()
    row = next(
        line
        for line in (ws / "PROJECT_STATE.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| 1 |")
    )
    assert "[small-step1-results.md](docs/small-step1-results.md)" in row, row
    drift = run_doit(ws, "drift")
    assert drift.code == 0, drift.out + drift.err
