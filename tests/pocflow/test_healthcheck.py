"""The small-win check: its entry, its rules, and that it only ever appends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import edit, run_doit

pytestmark = pytest.mark.e2e


def health_section(workspace: Path) -> str:
    state = (workspace / "PROJECT_STATE.md").read_text(encoding="utf-8")
    return state.split("## Health Checks", 1)[1].split("## What's Next", 1)[0]


def test_small_win_check_on_track_entry(sample: Path) -> None:
    before = health_section(sample)
    result = run_doit(sample, "small-win-check")
    assert result.code == 0, result.out + result.err
    section = health_section(sample)[len(before.rstrip("\n")) :]
    assert "- Full step suite: 36/36 tests passed (recorded per-step totals: 36)" in section
    lines = [line for line in section.splitlines() if line]
    assert lines[0].endswith(" - Small Win Check") and lines[0].startswith("### 20")
    assert lines[1] == "**Status**: ✅ On Track"
    assert lines[2] == "**Findings**:"
    assert lines[-1] == "**Actions Taken**: none yet"
    assert "- Steps verified: 6/6" in lines and "- Hard-coded secrets: none" in lines


def test_small_win_check_twice_appends_never_rewrites(sample: Path) -> None:
    assert run_doit(sample, "small-win-check").code == 0
    first = health_section(sample)
    edit(sample / "PoC/geo.py", lambda s: s + "\n# edit\n")
    assert run_doit(sample, "small-win-check").code == 0
    second = health_section(sample)
    assert second.startswith(first.rstrip("\n"))
    assert second.count("- Small Win Check") == first.count("- Small Win Check") + 1
    assert "**Status**: ⚠️ Minor Concerns" in second[len(first.rstrip("\n")) :]


def test_small_win_check_keeps_human_text(sample: Path) -> None:
    edit(
        sample / "PROJECT_STATE.md",
        lambda s: s.replace(
            "## Health Checks\n", "## Health Checks\n\nOlder checks are in the wiki.\n"
        ),
    )
    assert run_doit(sample, "small-win-check").code == 0
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "## Health Checks\n\nOlder checks are in the wiki.\n\n### " in state
    assert state.index("Small Win Check") < state.index("## What's Next")


def test_small_win_check_needs_attention_on_failing_test(sample: Path) -> None:
    edit(
        sample / "tests/test_step3a_country_index.py",
        lambda s: s.replace('assert first == "CH"', 'assert first == "DE"'),
    )
    result = run_doit(sample, "small-win-check")
    assert result.code == 1
    section = health_section(sample)
    assert "**Status**: ❌ Needs Attention" in section
    # the entry names the test and why (it ended in "failed:", and named nothing)
    assert (
        "- step 3a: 1 failing: tests/test_step3a_country_index.py::"
        "test_index_keeps_most_populous_country_first - AssertionError: assert 'CH' == 'DE'\n"
    ) in section


def test_small_win_check_needs_attention_when_counts_differ_from_records(sample: Path) -> None:
    path = sample / "steps/records/step1.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["test"]["counts"]["total"] = 7
    path.write_text(json.dumps(record), encoding="utf-8")
    assert run_doit(sample, "small-win-check").code == 1
    assert "- step 1: 5 tests ran, its verification recorded 7" in health_section(sample)


def test_small_win_check_minor_concerns(sample: Path) -> None:
    edit(
        sample / "docs/poc1-implementation.md",
        lambda s: s.replace("- [x] **Runs offline**", "- [ ] **Runs offline**"),
    )
    (sample / "PoC/scratch.py").write_text("", encoding="utf-8")
    assert run_doit(sample, "small-win-check").code == 0
    section = health_section(sample)
    assert "**Status**: ⚠️ Minor Concerns" in section
    assert "- Production-Grade Checklist: 3/4 items ticked" in section
    assert "- unticked: **Runs offline**: no network access anywhere" in section
    assert "- Files outside the plan: 1" in section


def test_a_small_win_check_is_not_taken_for_an_edit_by_hand(sample: Path) -> None:
    assert run_doit(sample, "small-win-check").code == 0
    after = run_doit(sample, "poc-complete")
    assert after.code == 0, after.out + after.err
    assert "edited by hand" not in after.out and "project-state" not in after.ran
    edit(
        sample / "PROJECT_STATE.md",
        lambda s: s.replace(
            "## Session Log\n", "## Session Log\n\n- 2026-11-29: wrote the atlas.\n"
        ),
    )
    edited = run_doit(sample, "poc-complete")  # a person's edit is still seen as one
    assert "PROJECT_STATE.md edited by hand" in edited.out


def test_the_gate_runs_the_small_win_check_on_the_records_its_suite_ran_on(sample: Path) -> None:
    edit(
        sample / "PROJECT_STATE.md",  # the last check was made on another day
        lambda s: re.sub(
            r"^### \S+ - Small Win Check", "### 2026-01-05 - Small Win Check", s, flags=re.M
        ),
    )
    entries = health_section(sample).count("- Small Win Check")
    edit(sample / "PoC/step4_1_grid_nearest.py", lambda s: s + "\n# reviewed\n")
    changed = run_doit(sample, "poc-complete")  # step 4_1 verified again: the suite runs
    assert changed.code == 0, changed.out + changed.err
    assert (
        "small-win check appended to the Health Checks of PROJECT_STATE.md: ✅ On Track"
        in changed.err
    )
    section = health_section(sample)
    assert section.count("- Small Win Check") == entries + 1
    assert section.rstrip().endswith("**Actions Taken**: none yet")
    edit(sample / "PoC/step4_1_grid_nearest.py", lambda s: s + "# again\n")
    same = run_doit(sample, "poc-complete")  # the same findings the same day: not twice
    assert same.code == 0 and health_section(sample) == section


def test_the_gate_adds_a_small_win_check_where_none_was_run(sample: Path) -> None:
    edit(
        sample / "PROJECT_STATE.md", lambda s: s.replace(health_section(sample), "\n\n")
    )  # a workspace whose PoC never had one
    done = run_doit(sample, "poc-complete")
    assert done.code == 0, done.out + done.err
    assert "small-win check appended" in done.err
    assert health_section(sample).count("- Small Win Check") == 1
    assert "- Full step suite: 36/36 tests passed" in health_section(sample)


def test_the_gates_of_two_pocs_add_no_entry_the_last_of_the_same_poc_already_says(
    project: Path,
) -> None:
    scripts = [project / "PoC/step4_1_grid_nearest.py", project / "PoC/poc2/step2_cross_border.py"]
    for script in scripts:
        edit(script, lambda s: s + "\n# reviewed\n")
    first = run_doit(project, "all-pocs-complete")  # both gates run, one after the other
    assert first.code == 0, first.out + first.err
    section = health_section(project)
    for script in scripts:
        edit(script, lambda s: s + "# again\n")
    again = run_doit(project, "all-pocs-complete")  # each PoC's findings as its last entry's
    assert again.code == 0, again.out + again.err
    assert "small-win check appended" not in again.err
    assert health_section(project) == section
