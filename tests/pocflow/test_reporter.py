"""The run reporter: why each task runs, progress, failure summary, CI and GitHub output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import (
    copy_sample,
    doit_env,
    edit,
    make_workspace,
    run_doit,
    run_doit_inprocess,
    verified_chain,
)

pytestmark = pytest.mark.e2e


def line_of(output: str, task: str) -> str:
    return next(
        line
        for line in output.splitlines()
        if line.startswith(f".  {task} ") or line == f".  {task}"
    )


def test_reasons_name_changed_files_and_upstream_steps(sample: Path) -> None:
    edit(sample / "PoC/geo.py", lambda s: s + "\n# edit\n")
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert line_of(result.out, "implement:2") == ".  implement:2  (changed: PoC/geo.py)"
    assert (
        line_of(result.out, "implement:4")
        == ".  implement:4  (changed: PoC/geo.py; step 2 verified again)"
    )
    assert line_of(result.out, "document:2") == ".  document:2  (its earlier phases ran again)"
    assert (
        line_of(result.out, "poc-complete") == ".  poc-complete  (steps 2, 4, 4_1 verified again)"
    )


def test_many_steps_verified_again_are_listed_first_few_in_plan_order(sample: Path) -> None:
    edit(sample / "PoC/step1_load.py", lambda s: s + "\n# edit\n")  # every step stands on it
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert (
        line_of(result.out, "poc-complete")
        == ".  poc-complete  (steps 1, 2, 3a and 3 more verified again)"
    )


def test_reasons_read_the_records_and_state_folders_from_the_settings(tmp_path: Path) -> None:
    ws = copy_sample(tmp_path / "ws")
    edit(
        ws / "pyproject.toml",
        lambda s: s.replace(
            "[tool.pocflow]\n", '[tool.pocflow]\nrecords_dir = "verified"\nstate_dir = ".state"\n'
        ),
    )
    assert run_doit(ws, "poc-complete").code == 0
    edit(ws / "PoC/geo.py", lambda s: s + "\n# edit\n")
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert (
        line_of(result.out, "implement:4")
        == ".  implement:4  (changed: PoC/geo.py; step 2 verified again)"
    )
    assert line_of(result.out, "document:2") == ".  document:2  (its earlier phases ran again)"


def test_reasons_never_verified_and_missing_output(tmp_path: Path, sample: Path) -> None:
    fresh = copy_sample(tmp_path / "fresh")
    first = run_doit(fresh, "step:1")
    assert line_of(first.out, "implement:1") == ".  implement:1  (never verified)"
    (sample / "docs/time-zone-atlas-step3a-results.md").unlink()
    again = run_doit(sample, "poc-complete")
    assert "missing docs/time-zone-atlas-step3a-results.md" in line_of(again.out, "document:3a")


def test_reasons_for_a_hand_edited_document(sample: Path) -> None:
    edit(sample / "docs/time-zone-atlas-step1-results.md", lambda s: s + "\nmine\n")
    result = run_doit(sample, "poc-complete")
    assert (
        "-- document:1  (docs/time-zone-atlas-step1-results.md edited by hand; its machine "
        "blocks were already current)"
    ) in result.out.splitlines()
    edit(
        sample / "docs/time-zone-atlas-step1-results.md",  # a machine block changed by hand
        lambda s: s.replace("| Script |", "| The script |", 1),
    )
    result = run_doit(sample, "poc-complete")
    assert (
        line_of(result.out, "document:1")
        == ".  document:1  (docs/time-zone-atlas-step1-results.md edited since written)"
    )


def test_progress_counts_verified_steps(tmp_path: Path) -> None:
    result = run_doit(copy_sample(tmp_path / "ws"), "step:3b")
    progress = re.findall(r"^   \[(\d+)/(\d+) steps verified\]$", result.out, re.M)
    assert progress == [("1", "3"), ("2", "3"), ("3", "3")]


def test_failure_ends_with_a_short_summary(sample: Path) -> None:
    edit(
        sample / "tests/test_step3a_country_index.py",
        lambda s: s.replace('assert first == "CH"', 'assert first == "DE"'),
    )
    result = run_doit(sample, "poc-complete")
    assert result.code == 1
    summary = result.out[result.out.index("pocflow: 1 failed:") :]
    assert summary.splitlines() == [
        "pocflow: 1 failed:",
        "  step 3a (Country index), test phase:",
        "      step 3a: 1 of 3 tests failed:",
        "      tests/test_step3a_country_index.py::test_index_keeps_most_populous_country_first"
        " - AssertionError: assert 'CH' == 'DE'",
        "      logs: .pocflow/runs/batch/pytest.log",
        "pocflow: next: uv run doit step:3a  # step 3a failed; fix it, then verify it again",
    ]
    # said where it failed and in the summary; not a third time in doit's end-of-run block
    # with an empty "<stdout>:" (pocflow's actions print nothing there)
    assert result.out.count("AssertionError: assert 'CH' == 'DE'") == 2, result.out
    assert "<stdout>:" not in result.out and "#" * 40 not in result.out


def test_a_failing_task_of_the_users_own_keeps_doits_report(sample: Path) -> None:
    edit(
        sample / "dodo.py",
        lambda s: (
            s
            + "\n\ndef task_lint():\n"
            + "    return {'actions': ['echo linting; echo broken >&2; exit 3'], 'verbosity': 0}\n"
        ),
    )
    result = run_doit(sample, "lint")
    assert result.code == 1
    assert "lint <stderr>:\nbroken" in result.out + result.err, result.out + result.err


def test_ci_output_has_no_terminal_control_codes(sample: Path) -> None:
    edit(sample / "PoC/step4_nearest.py", lambda s: s + "\n# edit\n")
    result = run_doit(sample, "poc-complete", env={"CI": "true"})
    assert result.code == 0
    assert "\x1b" not in result.out + result.err
    assert all(char == "\n" or char.isprintable() for char in result.out)


def test_github_step_summary_is_appended(sample: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier job output\n", encoding="utf-8")
    edit(sample / "PoC/step4_nearest.py", lambda s: s + "\n# edit\n")
    result = run_doit(sample, "poc-complete", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.code == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier job output\n## pocflow — PoC 1: Time-Zone Atlas\n")
    assert "**Result**: ✅ all steps verified — 6/6 steps verified" in text
    assert "| Step | Name | Status | Tests | This run | Time |" in text
    assert re.search(
        r"^\| 4 \| Nearest zone \(brute force\) \| ✅ Complete \| 4/4 \| "
        r"implement, test, document, state \| \d+\.\d s \|$",
        text,
        re.M,
    )
    assert "| 1 | Load the tz tables | ✅ Complete | 5/5 | up to date | — |" in text


def test_continue_after_a_failing_step_exits_1_not_2(sample: Path) -> None:
    edit(
        sample / "tests/test_step3a_country_index.py",
        lambda text: text.replace("assert ", "assert 1 == 2 and ", 1),
    )
    result = run_doit(sample, "--continue", "poc-complete")
    output = result.out + result.err
    assert result.code == 1, output  # a step failed; its dependents simply did not run
    assert "not run: it needs state:3a, which did not pass" in output
    assert "step 3a" in output


def test_a_failed_steps_summary_points_to_the_log_that_holds_its_traceback(sample: Path) -> None:
    edit(
        sample / "tests/test_step3a_country_index.py",
        lambda text: text.replace("assert ", "assert 1 == 2 and ", 1),
    )
    result = run_doit(sample, "poc-complete")
    output = result.out + result.err
    assert result.code == 1
    logs = next(line.split("logs: ", 1)[1] for line in output.splitlines() if "logs: " in line)
    log = sample / logs
    text = (
        log.read_text(encoding="utf-8")
        if log.is_file()
        else "".join(p.read_text(encoding="utf-8") for p in log.glob("*.log"))
    )
    assert "test_index_has_a_pair_per_listed_country" in text and "AssertionError" in text, logs


LIVE_SCRIPT_START = """import os as _os, time as _time
print("live: before the wait", flush=True)
for _ in range(600):
    if _os.path.exists("go"):
        break
    _time.sleep(0.1)
print("live: after the wait", flush=True)
"""


def test_verbosity_2_shows_script_and_pytest_output_as_it_comes(sample: Path) -> None:
    import subprocess
    import sys

    from support import doit_env

    edit(
        sample / "PoC/step1_load.py",
        lambda s: s.replace("\nimport ", "\n" + LIVE_SCRIPT_START + "import ", 1),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "doit", "--verbosity", "2", "step:1"],
        cwd=sample,
        env=doit_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    try:
        for line in process.stdout:  # the script waits for "go" until this line is shown
            seen.append(line)
            if "live: before the wait" in line:
                (sample / "go").write_text("", encoding="utf-8")
                break
        rest, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    out = "".join(seen) + rest
    assert process.returncode == 0, out + err
    assert "  [step1_load.py] live: before the wait\n" in out
    assert "  [step1_load.py] live: after the wait\n" in out
    assert re.search(r"  \[pytest\] .*\d+ passed", out), out

    (sample / "go").unlink()
    edit(sample / "PoC/step1_load.py", lambda s: s.replace("after the wait", "after it"))
    (sample / "go").write_text("", encoding="utf-8")
    quiet = run_doit(sample, "step:1")  # doit's default verbosity: the output stays in logs
    assert quiet.code == 0, quiet.out + quiet.err
    assert "live:" not in quiet.out + quiet.err and "[pytest]" not in quiet.out


def test_after_a_failed_run_what_pocflow_wrote_is_not_called_edited(sample: Path) -> None:
    test_file = sample / "tests/test_step3b_country_lookup.py"
    original = test_file.read_text(encoding="utf-8")
    test_file.write_text(original + "\n\ndef test_broken():\n    assert False\n", encoding="utf-8")
    assert run_doit(sample, "poc-complete").code == 1  # writes the failed record, the state
    test_file.write_text(original, encoding="utf-8")
    again = run_doit(sample, "poc-complete")
    assert again.code == 0, again.out + again.err
    assert "edited since written" not in again.out and "edited by hand" not in again.out
    edit(sample / "PROJECT_STATE.md", lambda s: s + "\nMy own line.\n")
    edited = run_doit(sample, "poc-complete")  # a person's edit still is one
    assert "PROJECT_STATE.md edited by hand" in edited.out


def test_project_state_a_step_run_rendered_with_a_stale_step_is_rendered_again_not_called_edited(
    tmp_path: Path,
) -> None:
    """Step 2's test file is edited, and `doit run --reverify step:3` (a step whose record
    changes each run: it writes a new metric) refreshes PROJECT_STATE.md, which shows step 2
    changed. The edit is undone: step 2 is verified as it was, its record unchanged. The
    next `poc-complete` renders the file again, saying why, not taking pocflow's own
    rendering for a person's edit."""
    passing = "def test_a():\n    assert True\n"
    ws = make_workspace(tmp_path / "ws", {"1": passing, "2": passing, "3": passing})
    edit(
        ws / "PoC/step3_x.py",
        lambda text: (
            text
            + "import json, os, time\nfrom pathlib import Path\n\n"
            + "metrics = Path(os.environ['POCFLOW_METRICS_FILE'])\n"
            + "metrics.write_text(json.dumps({'ns': time.time_ns()}), encoding='utf-8')\n"
        ),
    )
    assert run_doit(ws, "poc-complete").code == 0
    test_file = ws / "tests/test_step2_x.py"
    test_file.write_text(passing + "# edited\n", encoding="utf-8")
    assert run_doit(ws, "run", "--reverify", "step:3").code == 0
    row = re.compile(r"^\| 2 \| S2 \| (.*?) \|", re.M)
    shown = row.search((ws / "PROJECT_STATE.md").read_text(encoding="utf-8"))
    assert shown and shown[1] == "🔄 Changed since verified"
    test_file.write_text(passing, encoding="utf-8")
    again = run_doit(ws, "poc-complete")
    assert again.code == 0 and not again.ran_steps, again.out + again.err
    assert ".  project-state  (PROJECT_STATE.md showed step 2 not verified)" in again.out, again.out
    shown = row.search((ws / "PROJECT_STATE.md").read_text(encoding="utf-8"))
    assert shown and shown[1] == "✅ Complete"
    assert run_doit(ws, "drift").code == 0  # it says what the records and files say
    assert "-- project-state" in run_doit(ws, "poc-complete").out


def test_project_state_a_step_run_rendered_with_every_step_verified_is_not_rendered_again(
    sample: Path,
) -> None:
    """A refresh by `doit step:N` that found every step verified wrote what the
    project-state task would write: the next `poc-complete` runs nothing."""
    edit(sample / "tests/test_step4_1_grid_nearest.py", lambda s: s + "\n# a comment\n")
    step = run_doit(sample, "step:4_1")
    assert step.code == 0 and step.ran_steps == {"4_1"}, step.out + step.err
    again = run_doit(sample, "poc-complete")
    assert again.code == 0, again.out + again.err
    assert "-- project-state" in again.out, again.out  # up to date


def test_a_fresh_clone_decides_each_steps_acceptance_once_for_reporter_and_actions(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter announces '-- implement:1 (accepted: ...)' and the action takes the very
    decision it printed: the committed record is judged once per task, not once per reader."""
    import pocflow.freshness
    import pocflow.phases

    shutil.rmtree(sample / ".pocflow")  # a fresh clone: committed records, no local state,
    shutil.rmtree(sample / "out")  # and none of the outputs git ignores
    real = pocflow.freshness.acceptance
    judged: list[str] = []

    def counting(ws: Any, step_id: str, *args: Any, **kwargs: Any) -> Any:
        judged.append(step_id)
        return real(ws, step_id, *args, **kwargs)

    monkeypatch.setattr(pocflow.freshness, "acceptance", counting)
    monkeypatch.setattr(pocflow.phases, "acceptance", counting)  # judged, for both
    result = run_doit_inprocess(sample, capfd, monkeypatch, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.out.count("(accepted: verified") == 6
    assert sorted(judged) == sorted(["1", "2", "3a", "3b", "4", "4_1"] * 2)  # implement, test


def test_a_phase_that_failed_last_time_is_not_said_never_to_have_run(sample: Path) -> None:
    template = sample / "assets/templates/step-results.md"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.write_text("{% if %}\n", encoding="utf-8")  # a template that cannot render
    edit(sample / "PoC/step1_load.py", lambda s: s + "\n# edit\n")
    failed = run_doit(sample, "step:1")
    assert failed.code != 0 and "document:1" in failed.out + failed.err
    template.unlink()
    again = run_doit(sample, "step:1")
    assert again.code == 0, again.out + again.err
    line = line_of(again.out, "document:1")
    assert "never run before" not in line
    assert "did not finish in its last run" in line


def test_a_new_input_is_said_new_not_changed(sample: Path) -> None:
    (sample / "PoC/extra.py").write_text("VALUE = 1\n", encoding="utf-8")
    edit(
        sample / "PoC/step1_load.py",
        lambda s: s.replace(
            "import sqlite3\n", "import sqlite3\n\nimport extra  # noqa: F401\n", 1
        ),
    )
    result = run_doit(sample, "step:1")
    assert result.code == 0, result.out + result.err
    line = line_of(result.out, "implement:1")
    assert "new input: PoC/extra.py" in line, line
    assert "changed: PoC/step1_load.py" in line and "changed: PoC/extra.py" not in line, line
    assert line.count("PoC/extra.py") == 1, line


def test_a_test_phase_after_its_scripts_failed_says_so(tmp_path: Path) -> None:
    # the tests never ran: "failed when last verified" alone would say they failed
    ws = make_workspace(tmp_path / "ws", {"1": "def test_a():\n    assert True\n"})
    script = ws / "PoC/step1_x.py"
    script.write_text(script.read_text(encoding="utf-8") + "raise SystemExit(3)\n", "utf-8")
    assert run_doit(ws, "poc-complete").code != 0
    edit(script, lambda text: text.replace("raise SystemExit(3)\n", ""))
    fixed = run_doit(ws, "poc-complete")
    assert fixed.code == 0, fixed.out + fixed.err
    assert "test:1  (its scripts failed when last verified)" in fixed.out, fixed.out


@pytest.mark.e2e
@pytest.mark.parametrize("args", [("poc-complete",), ("status",), ("info", "step:2")])
def test_a_reader_that_closes_the_output_early_ends_no_run_halfway(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    test = "def test_one():\n    assert True\n"
    ws = make_workspace(tmp_path / "ws", {"1": test, "2": test}, depends={"2": "1"})
    reader = subprocess.Popen(
        [sys.executable, "-m", "doit", *args],
        cwd=ws,
        env=doit_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # as `| head -0` does: every line written finds no reader
    with reader, reader.stderr:
        errors = reader.stderr.read().decode()
        code = reader.wait(timeout=300)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    if args == ("poc-complete",):  # every step verified all the same
        assert code == 0, errors
        assert run_doit(ws, "poc-complete").ran == []


@pytest.mark.e2e
def test_a_deleted_record_is_said_missing_once_and_its_dependent_stale_once(
    tmp_path: Path,
) -> None:
    ws = verified_chain(tmp_path / "ws")
    (ws / "steps/records/step1.json").unlink()
    reasons = run_doit(ws, "status", "--json").out
    step2 = next(s for s in json.loads(reasons)["steps"] if s["id"] == "2")
    assert len([r for r in step2["reasons"] if "upstream step 1" in r]) == 1, step2["reasons"]
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    line = next(x for x in result.out.splitlines() if "state:1" in x)
    assert "missing steps/records/step1.json" in line and "edited since" not in line, line


@pytest.mark.e2e
def test_a_dependency_added_in_the_plan_is_said_as_one_not_as_a_run_file(tmp_path: Path) -> None:
    test = "def test_one():\n    assert True\n"
    ws = make_workspace(tmp_path / "ws", {"1": test, "2": test})
    assert run_doit(ws, "poc-complete").code == 0
    edit(
        ws / "docs/poc1-implementation.md",
        lambda text: text.replace(
            "### Step 2: S2\n\n", "### Step 2: S2\n\n**Depends On**: Step 1\n\n"
        ),
    )
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    line = next(x for x in result.out.splitlines() if "implement:2" in x)
    assert "now depends on step 1" in line and ".pocflow" not in line, line


@pytest.mark.e2e
def test_a_step_run_again_over_its_failure_here_names_the_failing_test_in_its_reason(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    assert True\n"})
    assert run_doit(ws, "poc-complete").code == 0
    edit(ws / "tests/test_step1_x.py", lambda text: text.replace("True", "False"))
    assert run_doit(ws, "step:1").code == 1
    again = run_doit(ws, "poc-complete")
    line = next(x for x in again.out.splitlines() if x.startswith(".  test:1"))
    assert "failed on these very files" in line, again.out
    assert line.endswith("tests/test_step1_x.py::test_one - assert False)"), line
