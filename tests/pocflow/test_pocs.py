"""Several PoCs in one project: PoC 2 beside PoC 1, never taken for one another.

The project's first PoC keeps the method's folders (PoC/, tests/, steps/); each later PoC
keeps its own files in a subfolder of each, named after it (PoC/poc2/step1_x.py,
tests/poc2/test_step1_x.py, steps/poc2/step1.yaml, steps/records/poc2/), so its step 1 is
never PoC 1's step 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from support import (
    REPO,
    edit,
    make_workspace,
    plain_pytest_run,
    private_copy,
    run_doit,
    write_files,
)

from pocflow.errors import SettingsError, unknown_task
from pocflow.schema import first_violation, load_schema
from pocflow.settings import load_settings
from pocflow.workspace import load_workspace, project_workspaces


def plan(number: int, name: str, *steps: str) -> str:
    return (
        f"# PoC {number} Implementation Plan: {name}\n\n## Implementation Steps\n\n"
        + "".join(
            f"### Step {sid}: {title}\n\n**Goal**: g.\n\n"
            for sid, title in (step.split("=") for step in steps)
        )
        + "\n## Production-Grade Checklist\n\n- [x] **Real**: yes\n"
    )


def project(root: Path, files: dict[str, str], settings: str = "poc = 2\n") -> Path:
    files = {
        "pyproject.toml": f"[tool.pocflow]\n{settings}",
        "docs/poc1-implementation.md": plan(1, "Atlas", "1=Load", "2=Decode"),
        "docs/poc2-implementation.md": plan(2, "Routes", "1=Index"),
        "PoC/step1_load.py": "",
        "tests/test_step1_load.py": "",
        "PoC/step2_decode.py": "",
        **files,
    }
    return write_files(root, files)


def test_a_later_poc_never_takes_the_first_pocs_step_files(tmp_path: Path) -> None:
    ws = load_workspace(project(tmp_path, {}))
    assert ws.settings.poc == 2 and ws.settings.pocs == (1, 2)
    assert ws.name == "Routes"
    step = ws.steps["1"]
    assert step.name == "Index"
    assert (step.script, step.tests, step.manifest) == (None, (), None)  # not PoC/step1_load.py
    assert set(ws.steps) == {"1"}


def test_each_poc_has_its_own_folders_records_and_run_files(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"PoC/poc2/step1_index.py": "", "tests/poc2/test_step1_index.py": ""},
    )
    first, second = project_workspaces(root)
    assert first.steps["1"].script == "PoC/step1_load.py"
    assert second.steps["1"].script == "PoC/poc2/step1_index.py"
    assert second.steps["1"].tests == ("tests/poc2/test_step1_index.py",)
    assert first.record_path("1") == "steps/records/step1.json"
    assert second.record_path("1") == "steps/records/poc2/step1.json"
    assert first.gate_record_path != second.gate_record_path
    assert first.run_dir("1") != second.run_dir("1")
    assert (first.poc_results_doc, second.poc_results_doc) == (
        "docs/poc1-results.md",
        "docs/poc2-results.md",
    )
    assert first.results_doc("1") == "docs/atlas-step1-results.md"
    assert second.results_doc("1") == "docs/routes-step1-results.md"


def test_a_single_poc_project_keeps_its_folders_whatever_its_number(tmp_path: Path) -> None:
    root = project(tmp_path, {}, settings="poc = 3\n")  # no plan of PoC 3's own yet either
    (root / "docs/poc1-implementation.md").unlink()
    (root / "docs/poc2-implementation.md").unlink()
    settings = load_settings(root)
    assert settings.pocs == (3,)
    assert settings.scripts_dir == "PoC" and settings.records_dir == "steps/records"


def test_an_earlier_pocs_own_table_gives_its_name_slug_and_plan(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"plans/atlas.md": plan(1, "Atlas", "1=Load")},
        settings='poc = 2\nname = "Second"\n\n[tool.pocflow.poc1]\nslug = "tz"\n'
        'plan = "plans/atlas.md"\n',
    )
    (root / "docs/poc1-implementation.md").unlink()
    first = load_workspace(root, 1)
    assert first.settings.plan == "plans/atlas.md" and first.slug == "tz"
    assert first.name == "Atlas"  # the project's name is the current PoC's
    assert load_workspace(root).name == "Second"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "poc = 2\n[tool.pocflow.poc1]\nscripts_dir = 'x'\n",
            "unknown setting tool.pocflow.poc1.scripts_dir",
        ),
        (
            "poc = 2\n[tool.pocflow.poc1]\nname = 3\n",
            "tool.pocflow.poc1.name must be text in quotes",
        ),
        ("poc = 2\n[tool.pocflow.poc1]\nslug = 'a/b'\n", "tool.pocflow.poc1.slug"),
        ("poc = 2\npoc1 = 'x'\n", "tool.pocflow.poc1 must be a table"),
    ],
)
def test_a_bad_poc_table_is_one_clear_error(tmp_path: Path, settings: str, message: str) -> None:
    # (the line that sets it named: pyproject.toml:<line>:)
    with pytest.raises(SettingsError, match=r"pyproject\.toml:\d+: " + message.replace(".", r"\.")):
        load_settings(project(tmp_path, {}, settings=settings))


def test_asking_for_a_poc_the_project_does_not_have_says_which_it_has(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="there is no PoC 5: this project's PoCs are 1, 2"):
        load_workspace(project(tmp_path, {}), 5)


TWO_POCS_TASKS = [
    *(f"poc1.{phase}:{step}" for step in ("1", "2") for phase in ("step", "test")),
    "poc1.poc-complete",
    *(f"{phase}:1" for phase in ("step", "test")),
    "poc-complete",
    "all-pocs-complete",
]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("step:2", "no step '2' in the current PoC: its steps are 1 ('doit list' shows every"),
        ("poc1.test:3", "no step '3' in PoC 1: its steps are 1, 2 ('doit list' shows every"),
        ("poc2.step:1", "PoC 2 is the current PoC: its tasks have no 'poc2.' prefix ('step:1')"),
        ("poc3.step:1", "there is no PoC 3: this project's PoCs are 1, 2"),
        ("poc-compelte", "no task or file 'poc-compelte', did you mean 'poc-complete'?"),
        ("docs/nothing.md", "no task or file 'docs/nothing.md' ('doit list' shows every task)"),
    ],
)
def test_a_task_name_that_is_not_there_says_which_steps_and_pocs_are(
    name: str, message: str
) -> None:
    assert unknown_task(name, TWO_POCS_TASKS, current=2).startswith(message)


# --- end to end: real doit runs in a project of two PoCs ------------------------------------

HELPER = "def scale(x):\n    return x * 2\n"
SECOND_PLAN = (
    "# PoC 2 Implementation Plan: Routes\n\n## Implementation Steps\n\n"
    "### Step 1: Index\n\n**Goal**: g.\n\n"
    "## Production-Grade Checklist\n\n- [x] **Real**: yes\n"
)


@pytest.fixture
def two_pocs(made_two_pocs: Path, tmp_path: Path) -> Path:
    """PoC 1 verified and complete (its step 1 uses PoC/shared.py), then the project moved
    on to PoC 2, whose step 1 (PoC/poc2/step1_index.py) uses the same helper: a private
    copy, state included."""
    return private_copy(made_two_pocs, tmp_path / "ws")


@pytest.fixture(scope="module")
def made_two_pocs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two_pocs workspace, made once per module (do not modify)."""
    test = "from shared import scale\n\n\ndef test_scale():\n    assert scale(2) == 4\n"
    root = make_workspace(
        tmp_path_factory.mktemp("two-pocs") / "ws",
        {"1": test, "2": "def test_b():\n    assert True\n"},
    )
    (root / "PoC/shared.py").write_text(HELPER, encoding="utf-8")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text("utf-8") + '\n[tool.pytest.ini_options]\npythonpath = ["PoC"]\n',
        "utf-8",
    )
    assert run_doit(root, "poc-complete").code == 0
    pyproject.write_text(pyproject.read_text("utf-8").replace("poc = 1", "poc = 2"), "utf-8")
    (root / "docs/poc2-implementation.md").write_text(SECOND_PLAN, encoding="utf-8")
    (root / "PoC/poc2").mkdir()
    (root / "PoC/poc2/step1_index.py").write_text(
        '"""Step 1.\n\nUsage:\n    python PoC/poc2/step1_index.py\n"""\n'
        "import sys\nfrom pathlib import Path\n\n"
        "sys.path.insert(0, str(Path(__file__).resolve().parents[1]))\n"
        "from shared import scale\n\nprint(scale(21))\n",
        encoding="utf-8",
    )
    (root / "tests/poc2").mkdir()
    (root / "tests/poc2/test_step1_index.py").write_text(
        "from shared import scale\n\n\ndef test_index():\n    assert scale(3) == 6\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.e2e
def test_setting_the_next_poc_never_shows_the_first_pocs_step_as_its_own(two_pocs: Path) -> None:
    (two_pocs / "PoC/poc2/step1_index.py").unlink()
    (two_pocs / "tests/poc2/test_step1_index.py").unlink()
    status = run_doit(two_pocs, "status")
    assert "PoC 2 — Routes: 0 of 1 steps verified" in status.out, status.out
    assert "add PoC/poc2/step1_<description>.py" in status.out
    gate = run_doit(two_pocs, "poc-complete")
    assert gate.code == 1 and "PoC 2 is not complete" in gate.out + gate.err


@pytest.mark.e2e
def test_each_poc_is_addressed_by_its_own_task_names(two_pocs: Path) -> None:
    listing = run_doit(two_pocs, "list").out
    names = {line.split()[0] for line in listing.splitlines() if line.strip()}
    assert {"step:1", "poc-complete", "poc1.step:1", "poc1.step:2", "poc1.poc-complete"} <= names
    assert {"all-pocs-complete", "project-state"} <= names
    assert "step:2" not in names, "PoC 1's step 2 is not a step of the current PoC"
    first = run_doit(two_pocs, "poc1.step:2")
    assert first.code == 0, first.out + first.err
    assert not [name for name in first.ran if not name.startswith(("poc1.", "project-state"))]


@pytest.mark.e2e
def test_all_pocs_complete_needs_every_poc_and_says_so(two_pocs: Path) -> None:
    result = run_doit(two_pocs, "all-pocs-complete")
    assert result.code == 0, result.out + result.err
    again = run_doit(two_pocs, "all-pocs-complete")
    assert "all-pocs-complete  (checks every PoC's gate, every run)" in again.out
    assert "never run before" not in again.out  # it ran before: it keeps no state
    assert "pocflow: PoC 1 (Small) complete: docs/poc1-results.md" in result.out
    assert "pocflow: all 2 PoCs complete: on to Stage 6 (MVP)" in result.out
    assert (two_pocs / "docs/poc2-results.md").is_file()
    assert (two_pocs / "steps/records/poc2/step1.json").is_file()
    assert (two_pocs / "steps/records/step1.json").is_file()  # PoC 1's, where they were
    # a failing test of PoC 1 fails the stage, and plain pytest agrees
    test = two_pocs / "tests/test_step2_x.py"
    test.write_text("def test_b():\n    assert False\n", encoding="utf-8")
    assert plain_pytest(two_pocs, "tests/test_step2_x.py") == 1, "the case must really fail"
    broken = run_doit(two_pocs, "all-pocs-complete")
    assert broken.code == 1
    assert "poc1.test:2" in broken.ran
    assert "PoC 1 step 2 (S2), test phase" in broken.out + broken.err


@pytest.mark.e2e
def test_a_helper_shared_by_two_pocs_reverifies_the_steps_of_both(two_pocs: Path) -> None:
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    helper = two_pocs / "PoC/shared.py"
    helper.write_text(HELPER.replace("x * 2", "x * 3"), encoding="utf-8")
    for test in ("tests/test_step1_x.py", "tests/poc2/test_step1_index.py"):
        assert plain_pytest(two_pocs, test) == 1, f"{test} must really fail"
    result = run_doit(two_pocs, "--continue", "all-pocs-complete")
    assert result.code == 1
    assert {"poc1.test:1", "implement:1", "test:1"} <= set(result.ran), result.out
    assert "PoC 1 step 1 (S1), test phase" in result.out
    assert "step 1 (Index), test phase" in result.out
    assert "poc1.implement:2" not in result.ran  # step 2 of PoC 1 does not read it
    helper.write_text(HELPER, encoding="utf-8")
    fixed = run_doit(two_pocs, "all-pocs-complete")
    assert fixed.code == 0, fixed.out + fixed.err


@pytest.mark.e2e
def test_a_fresh_clone_accepts_both_pocs_records(two_pocs: Path, tmp_path: Path) -> None:
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    clone = tmp_path / "clone"
    shutil.copytree(two_pocs, clone, ignore=shutil.ignore_patterns(".pocflow", "__pycache__"))
    result = run_doit(clone, "all-pocs-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran == ["all-pocs-complete"], result.out
    for task in ("implement:1", "poc1.implement:1", "poc1.implement:2"):
        assert f"-- {task}  (accepted: verified " in result.out
    assert "-- poc1.poc-complete  (accepted: the full suite passed" in result.out


def plain_pytest(root: Path, test: str) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    return subprocess.run(command, cwd=root, capture_output=True, check=False).returncode


@pytest.mark.e2e
def test_project_state_and_status_show_every_poc(two_pocs: Path) -> None:
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    state = (two_pocs / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert (
        "| 1 | Small | [poc1-implementation.md](docs/poc1-implementation.md) | ✅ Complete "
        "(2/2 steps): [poc1-results.md](docs/poc1-results.md) |" in state
    )
    assert "| 2 | Routes | [poc2-implementation.md](" in state
    assert "| ✅ Complete (current, 1/1 steps): [poc2-results.md](" in state
    assert "**PoC 2**: Routes" in state  # the current PoC in full
    status = run_doit(two_pocs, "status")
    assert "PoC 1 — Small: complete, 2 steps verified (docs/poc1-results.md)" in status.out
    assert "PoC 2 — Routes: 1 of 1 steps verified" in status.out
    assert (
        "nothing to do: all 2 PoCs are complete (docs/poc1-results.md, docs/poc2-results.md)"
        in (status.out)
    )
    document = json.loads(run_doit(two_pocs, "status", "--json").out)
    assert first_violation(document, load_schema("status.schema.json")) is None
    assert [p["poc"]["number"] for p in document["pocs"]] == [1, 2]
    assert document["poc"]["number"] == 2 and document["summary"]["complete"]
    first = document["pocs"][0]
    assert [s["command"] for s in first["steps"]] == [
        "uv run doit poc1.step:1",
        "uv run doit poc1.step:2",
    ]
    assert first["complete_task"] == "poc1.poc-complete" and not first["current"]
    # an earlier PoC's step that breaks comes first in `next`, by its own task name
    (two_pocs / "tests/test_step2_x.py").write_text(
        "def test_b():\n    assert False\n", encoding="utf-8"
    )
    run_doit(two_pocs, "poc1.step:2")
    document = json.loads(run_doit(two_pocs, "status", "--json").out)
    assert document["next"]["command"] == "uv run doit poc1.step:2", document["next"]
    assert document["pocs"][0]["steps"][1]["state"] == "failed"
    state = (two_pocs / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "| ❌ Failed (1/2 steps)" in state
    # the current PoC stays the current PoC, with its own steps and counts
    assert "| ✅ Complete (current, 1/1 steps): [poc2-results.md](" in state
    assert "**PoC 2**: Routes" in state and "**PoC 1**" not in state


@pytest.mark.e2e
def test_next_poc_moves_on_from_a_finished_poc_and_keeps_it_verifiable(tmp_path: Path) -> None:
    root = make_workspace(
        tmp_path / "ws",
        {"1": "def test_a():\n    assert True\n"},
        settings='name = "Atlas"\nslug = "tz-atlas"\n',
    )
    not_yet = run_doit(root, "next-poc")
    assert not_yet.code == 1 and "PoC 1 is not complete" in not_yet.out
    assert run_doit(root, "poc-complete").code == 0
    no_plan = run_doit(root, "next-poc")
    assert no_plan.code == 1
    assert "there is no plan for PoC 2 at docs/poc2-implementation.md" in no_plan.out
    console = subprocess.run(  # `pocflow next-poc` is the same command
        [sys.executable, "-m", "pocflow.cli", "next-poc"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert console.returncode == 1 and "there is no plan for PoC 2" in console.stdout
    single = run_doit(root, "all-pocs-complete")  # a project of one PoC has the stage's gate
    assert single.code == 0, single.out + single.err
    assert "the project's one PoC complete: on to Stage 6 (MVP)" in single.out
    before = {
        p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".pocflow" not in p.parts
    }
    (root / "docs/poc2-implementation.md").write_text(  # a plan that cannot be read
        "# PoC 2 Implementation Plan: Routes\n\n## Implementation Steps\n\n"
        "### Step 1: A\n**Goal**: a\n**Depends On**: Step 2\n\n"
        "### Step 2: B\n**Goal**: b\n**Depends On**: Step 1\n",
        encoding="utf-8",
    )
    refused = run_doit(root, "next-poc")
    assert refused.code == 3, refused.out + refused.err
    assert (root / "pyproject.toml").read_bytes() == before[root / "pyproject.toml"]  # untouched
    (root / "docs/poc2-implementation.md").write_text(
        SECOND_PLAN.replace("### Step 1: Index", "### Step 1: Index\n\n### Step 2: Route"),
        encoding="utf-8",
    )

    moved = run_doit(root, "next-poc")
    assert moved.code == 0, moved.out + moved.err
    assert "the project is at PoC 2" in moved.out
    for created in (
        "PoC/poc2/step1_index.py",
        "tests/poc2/test_step1_index.py",
        "steps/poc2/step2.yaml",
    ):
        assert f"created {created}" in moved.out
        assert (root / created).is_file()
    settings = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert settings["pocflow"]["poc"] == 2
    assert settings["pocflow"]["poc1"] == {
        "name": "Atlas",
        "slug": "tz-atlas",
        "plan": "docs/poc1-implementation.md",  # PoC 1 stays a PoC of the project
    }
    for path, data in before.items():  # PoC 1's files, records and documents as they were
        if path.name != "pyproject.toml":
            assert path.read_bytes() == data, path
    first = load_workspace(root, 1)
    assert first.name == "Atlas" and first.results_doc("1") == "docs/tz-atlas-step1-results.md"

    status = run_doit(root, "status")
    assert "PoC 1 — Atlas: complete, 1 steps verified (docs/poc1-results.md)" in status.out
    assert "PoC 2 — Routes: 0 of 2 steps verified" in status.out
    first_again = run_doit(root, "poc1.poc-complete")
    assert first_again.code == 0, first_again.out + first_again.err
    assert first_again.ran == [], "PoC 1 stays verified: nothing of it runs again"
    # the new PoC's scaffolded tests fail until written: the stage is not complete
    stage = run_doit(root, "all-pocs-complete")
    assert stage.code == 1
    assert "implement:1" in stage.ran and "poc1.test:1" not in stage.ran
    assert ".  implement:1  (never verified)" in stage.out  # not PoC 1's step 1 in doit's state


@pytest.mark.e2e
def test_drift_and_the_merge_driver_cover_every_poc(two_pocs: Path, tmp_path: Path) -> None:
    from test_incremental_ci import clone, commit, git

    for name in (".gitattributes", ".gitignore"):
        shutil.copy2(REPO / name, two_pocs / name)
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    git(two_pocs, "init", "-q", "-b", "main")
    commit(two_pocs, "two PoCs verified")
    assert run_doit(two_pocs, "drift").code == 0

    doc = two_pocs / "docs/small-step1-results.md"  # PoC 1's, not the current PoC's
    kept = doc.read_text(encoding="utf-8")
    doc.write_text(kept.replace("✅", "❌", 1), encoding="utf-8")
    drift = run_doit(two_pocs, "drift")
    assert drift.code == 1 and "docs/small-step1-results.md: machine block" in drift.out
    # the current PoC's gate does not write an earlier PoC's documents: the stage's does
    assert "regenerate with `uv run doit all-pocs-complete`" in drift.out, drift.out
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    assert run_doit(two_pocs, "drift").code == 0
    doc.write_text(kept, encoding="utf-8")

    dev = clone(two_pocs, tmp_path / "dev")
    for branch, path in (
        ("poc1-work", "tests/test_step2_x.py"),
        ("poc2-work", "tests/poc2/test_step1_index.py"),
    ):
        git(dev, "checkout", "-q", "-b", branch, "main")
        test = dev / path
        test.write_text(
            test.read_text("utf-8") + "\n\ndef test_more():\n    assert True\n", "utf-8"
        )
        verified = run_doit(dev, "all-pocs-complete")
        assert verified.code == 0, verified.out + verified.err
        commit(dev, f"verify on {branch}")
    git(dev, "merge", "-q", "--no-edit", "poc1-work")  # both PoCs' records: no conflict
    assert git(dev, "diff", "--name-only", "--diff-filter=U") == ""
    ci = clone(dev, tmp_path / "ci")
    result = run_doit(ci, "all-pocs-complete")
    assert result.code == 0, result.out + result.err
    assert not [
        n
        for n in result.ran
        if n.startswith(("implement:", "test:", "poc1.implement:", "poc1.test:"))
    ]
    drift = run_doit(ci, "drift")
    assert drift.code == 0, drift.out + drift.err
    # each branch's gate appended a small-win check: the merge keeps both, each naming its PoC
    state = (dev / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "<<<<<<<" not in state
    assert "- PoC: 1 (Small)" in state and "- PoC: 2 (Routes)" in state


def test_the_merge_driver_keeps_the_small_win_checks_both_branches_appended(
    tmp_path: Path,
) -> None:
    from pocflow.merge import merge_driver

    def state(*entries: str) -> str:
        return (
            "# Project State\n\n## Session Log\n\nMy notes.\n\n## Health Checks\n\n"
            + "".join(
                f"### 2026-11-2{n} - Small Win Check\n\n**Status**: {s}\n\n" for n, s in entries
            )
            + "## What's Next\n\nShip it.\n"
        )

    base, ours, theirs = (tmp_path / name for name in ("base", "ours", "theirs"))
    base.write_text(state(("1", "✅ On Track")), encoding="utf-8")
    ours.write_text(state(("1", "✅ On Track"), ("8", "⚠️ Minor Concerns")), encoding="utf-8")
    theirs.write_text(state(("1", "✅ On Track"), ("9", "✅ On Track")), encoding="utf-8")
    assert merge_driver(base, ours, theirs, "PROJECT_STATE.md") == 0
    assert ours.read_text(encoding="utf-8") == state(
        ("1", "✅ On Track"), ("8", "⚠️ Minor Concerns"), ("9", "✅ On Track")
    )
    # from a base whose section has no entry yet: each branch's first check
    base.write_text(state(), encoding="utf-8")
    ours.write_text(state(("8", "⚠️ Minor Concerns")), encoding="utf-8")
    theirs.write_text(state(("9", "✅ On Track")), encoding="utf-8")
    assert merge_driver(base, ours, theirs, "PROJECT_STATE.md") == 0
    assert ours.read_text(encoding="utf-8") == state(
        ("8", "⚠️ Minor Concerns"), ("9", "✅ On Track")
    )


def test_the_merge_driver_keeps_a_line_the_other_branch_wrote_inside_a_block(
    tmp_path: Path,
) -> None:
    # a teammate's note inside the results block, committed before any run moved it out:
    # it is a person's line, merged as one (below the block), not replaced with our block
    from pocflow.merge import merge_driver

    golden = (Path(__file__).parent / "golden" / "step-results.md").read_text(encoding="utf-8")
    note = "Note: 42 pages only with the default scan settings."
    base, ours, theirs = (tmp_path / name for name in ("base", "ours", "theirs"))
    base.write_text(golden, encoding="utf-8")
    ours.write_text(
        golden.replace("| pages | 42 (≥ 40 ✅) |", "| pages | 43 (≥ 40 ✅) |").replace(
            "_What did this step prove?", "It proved the scan. _What did this step prove?"
        ),
        encoding="utf-8",
    )
    theirs.write_text(
        golden.replace("| Test run time | 1.50 s |\n", f"| Test run time | 1.50 s |\n{note}\n"),
        encoding="utf-8",
    )
    assert merge_driver(base, ours, theirs, "docs/x-step1-results.md") == 0
    merged = ours.read_text(encoding="utf-8")
    assert note in merged and "It proved the scan." in merged
    assert merged.index("<!-- pocflow:end results -->") < merged.index(note)
    assert "| pages | 43 (≥ 40 ✅) |" in merged  # our block stands


@pytest.mark.parametrize("their_edit", ["a note under the heading", "an entry edited"])
def test_the_merge_driver_loses_no_line_a_person_wrote_in_the_health_checks(
    tmp_path: Path, their_edit: str
) -> None:
    # theirs changed the section otherwise than by adding entries: its changes are merged
    # as text (a conflict where both touched the same lines), never dropped
    from pocflow.merge import merge_driver

    entry = "### 2026-11-21 - Small Win Check\n\n**Status**: ✅\n\n**Actions Taken**: none\n\n"
    base_text = f"# Project State\n\n## Health Checks\n\n{entry}## What's Next\n\nShip.\n"
    ours_text = base_text.replace("**Actions Taken**: none", "**Actions Taken**: BOB reviewed")
    if their_edit == "a note under the heading":
        theirs_text = base_text.replace(
            "## Health Checks\n\n", "## Health Checks\n\nNOTE FROM ALICE: Fridays.\n\n"
        )
    else:
        theirs_text = base_text.replace("**Status**: ✅", "**Status**: ✅ (ALICE checked)")
    base, ours, theirs = (tmp_path / name for name in ("base", "ours", "theirs"))
    for path, text in ((base, base_text), (ours, ours_text), (theirs, theirs_text)):
        path.write_text(text, encoding="utf-8")
    code = merge_driver(base, ours, theirs, "PROJECT_STATE.md")
    merged = ours.read_text(encoding="utf-8")
    assert "ALICE" in merged and "BOB" in merged, merged
    assert code == 0 or "<<<<<<<" in merged
    assert merged.count("### 2026-11-21 - Small Win Check") == 1 or "<<<<<<<" in merged


@pytest.mark.e2e
def test_the_samples_two_pocs_are_verified_by_the_readmes_main_command(tmp_path: Path) -> None:
    from support import copy_sample, edit

    # a fresh clone: both PoCs' committed records are accepted, nothing runs
    committed = ["uv.lock", "steps/records", "PROJECT_STATE.md", "docs/poc*-results.md"]
    ws = copy_sample(tmp_path / "sample", extra=committed, pocs=2)
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran == [], result.out
    assert "8 step(s) accepted from their committed records" in result.out
    for task in ("poc1.implement:3b", "poc1.implement:4_1", "implement:1", "implement:2"):
        assert f"-- {task}  (accepted: verified " in result.out
    stage = run_doit(ws, "all-pocs-complete")
    assert stage.code == 0, stage.out + stage.err
    assert "pocflow: all 2 PoCs complete: on to Stage 6 (MVP)" in stage.out
    # PoC/geo.py is PoC 1's helper, and PoC 2's step 1 reads it too
    edit(ws / "PoC/geo.py", lambda s: s + "\n# a reviewed change\n")
    again = run_doit(ws, "all-pocs-complete")
    assert again.code == 0, again.out + again.err
    assert {"poc1.implement:2", "poc1.implement:4", "poc1.implement:4_1", "implement:1"} <= set(
        again.ran
    ), again.out
    assert "implement:2" in again.ran  # PoC 2's step 2 stands on its step 1's record
    assert not {"poc1.implement:1", "poc1.implement:3a", "poc1.implement:3b"} & set(again.ran)


@pytest.mark.e2e
def test_dry_run_detailed_exit_code_and_an_ignored_stage_gate_see_every_poc(
    two_pocs: Path,
) -> None:
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    test = two_pocs / "tests/test_step2_x.py"  # PoC 1's step 2
    test.write_text(test.read_text("utf-8") + "\n\ndef test_more():\n    assert True\n", "utf-8")
    dry = run_doit(two_pocs, "--dry-run", "all-pocs-complete")
    assert dry.code == 1
    assert "  PoC 1 step 2 (S2): would be verified again" in dry.out, dry.out
    assert "and poc1.poc-complete would run" in dry.out
    detailed = run_doit(two_pocs, "--detailed-exit-code", "all-pocs-complete")
    assert detailed.code == 4, detailed.out + detailed.err  # passed, but PoC 1's step 2 ran
    # doit's `ignore` skips the stage's gate: the run still passes only if every PoC holds
    test.write_text("def test_b():\n    assert False\n", encoding="utf-8")
    assert run_doit(two_pocs, "ignore", "poc1.test:2").code == 0
    ignored = run_doit(two_pocs, "all-pocs-complete")
    assert ignored.code == 1, ignored.out + ignored.err
    assert "pocflow: poc1.poc-complete did not pass" in ignored.err
    assert "PoC 1 is not complete: 1 of 2 steps not verified" in ignored.err


def test_shards_deal_out_the_steps_of_every_poc_once(tmp_path: Path) -> None:
    from pocflow.shard import project_shares

    root = project(
        tmp_path,
        {"PoC/poc2/step1_index.py": "", "tests/poc2/test_step1_index.py": ""},
    )
    dealt = project_shares(project_workspaces(root), 2)
    every = sorted(task for share in dealt for task in share)
    assert every == ["poc1.step:1", "poc1.step:2", "step:1"]
    assert all(dealt)  # three independent steps over two shares: none is empty


@pytest.mark.e2e
def test_doit_pytest_reaches_an_earlier_pocs_step_by_its_name(two_pocs: Path) -> None:
    earlier = run_doit(two_pocs, "pytest", "poc1.1", "-q")
    assert earlier.code == 0, earlier.out + earlier.err
    assert "(`doit poc1.step:1` verifies)" in earlier.out and "1 passed" in earlier.out
    current = run_doit(two_pocs, "pytest", "1", "-q")
    assert current.code == 0 and "(`doit step:1` verifies)" in current.out
    unknown = run_doit(two_pocs, "pytest", "poc1.9")
    assert unknown.code == 3 and "step '9' is not in the plan" in unknown.err


# --- attacks on the verdicts of a project of several PoCs ----------------------------------


@pytest.mark.e2e
def test_an_earlier_pocs_plan_removed_never_hands_its_steps_to_the_next_poc(
    two_pocs: Path,
) -> None:
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    (two_pocs / "docs/poc1-implementation.md").rename(two_pocs / "docs/alpha-plan.md")
    for command in ("status", "poc-complete"):
        refused = run_doit(two_pocs, command)
        assert refused.code == 3, refused.out + refused.err
        assert "PoC/poc2: holds PoC 2's files, but no earlier PoC is there" in refused.err
    # with a table of its own (what `doit next-poc` writes), PoC 1 stays a PoC of the project
    pyproject = two_pocs / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text("utf-8") + '\n[tool.pocflow.poc1]\nplan = "docs/alpha-plan.md"\n',
        "utf-8",
    )
    assert run_doit(two_pocs, "all-pocs-complete").code == 0


@pytest.mark.e2e
def test_a_record_written_for_another_pocs_step_is_not_accepted(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", {"1": "def test_a():\n    assert True\n"})
    assert run_doit(root, "poc-complete").code == 0
    pyproject = root / "pyproject.toml"  # another PoC now, on the same files and records
    pyproject.write_text(pyproject.read_text("utf-8") + 'slug = "other"\n', "utf-8")
    status = run_doit(root, "status")
    assert "its record was written for docs/small-step1-results.md" in status.out, status.out
    assert "0 of 1 steps verified" in status.out
    result = run_doit(root, "poc-complete")
    assert "implement:1" in result.ran and "accepted" not in result.out


@pytest.mark.e2e
def test_an_ignored_earlier_poc_step_passes_no_gate(two_pocs: Path) -> None:
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    test = two_pocs / "tests/test_step2_x.py"
    test.write_text("def test_b():\n    assert False\n", encoding="utf-8")
    assert plain_pytest(two_pocs, "tests/test_step2_x.py") == 1, "the case must really fail"
    assert run_doit(two_pocs, "ignore", "poc1.implement:2").code == 0
    for gate in ("poc1.poc-complete", "poc-complete", "all-pocs-complete"):
        result = run_doit(two_pocs, gate)
        assert result.code == 1, f"{gate}: {result.out}{result.err}"
        assert "step 2 (S2)" in result.err, result.err


@pytest.mark.e2e
def test_a_poc_whose_gate_fails_is_not_shown_complete_and_cannot_move_on(
    two_pocs: Path,
) -> None:
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    (two_pocs / "docs/poc3-implementation.md").write_text(
        SECOND_PLAN.replace("PoC 2", "PoC 3"), encoding="utf-8"
    )
    plan = two_pocs / "docs/poc1-implementation.md"
    plan.write_text(plan.read_text("utf-8").replace("- [x]", "- [ ]"), "utf-8")
    assert run_doit(two_pocs, "poc1.poc-complete").code == 1
    run_doit(two_pocs, "project-state")
    state = (two_pocs / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "| 🔄 In Progress (2/2 steps)" in state
    plan = two_pocs / "docs/poc2-implementation.md"
    plan.write_text(plan.read_text("utf-8").replace("- [x]", "- [ ]"), "utf-8")
    refused = run_doit(two_pocs, "next-poc")
    assert refused.code == 1 and "PoC 2 is not complete" in refused.out
    assert "poc = 2" in (two_pocs / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.e2e
def test_test_files_of_one_name_in_two_pocs_fail_the_stage(two_pocs: Path) -> None:
    (two_pocs / "tests/poc2/test_step1_index.py").rename(two_pocs / "tests/poc2/test_step1_x.py")
    both = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    assert subprocess.run(both, cwd=two_pocs, capture_output=True, check=False).returncode != 0
    result = run_doit(two_pocs, "all-pocs-complete")
    assert result.code == 1
    assert "tests/poc2/test_step1_x.py and tests/test_step1_x.py have one name" in result.err


def test_odd_poc_table_names_are_unknown_settings_and_two_pocs_need_two_slugs(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError, match=r"unknown setting tool\.pocflow\.poc²"):
        load_settings(project(tmp_path / "a", {}, settings='poc = 2\n[tool.pocflow."poc²"]\n'))
    root = project(tmp_path / "b", {}, settings='poc = 2\nslug = "atlas"\n')
    with pytest.raises(SettingsError, match="PoC 1 and PoC 2 both name their results docs"):
        project_workspaces(root)


def test_task_and_step_names_take_a_poc_by_ascii_digits_only() -> None:
    from pocflow.layout import split_step, split_task

    assert split_task("poc1.test:3b") == (1, "test", "3b")
    assert split_task("test:3b") == (None, "test", "3b")
    assert split_task("poc1.poc-complete") == (1, "poc-complete", "")
    assert split_task("poc².step:1") == (None, "poc².step", "1")  # no PoC, no crash
    assert split_step("poc1.3b") == (1, "3b")
    assert split_step("3b") == (None, "3b")
    # not the current PoC's step 1: an unknown step, which `doit pytest` names as such
    assert split_step("poc².1") == (None, "poc².1")


def test_a_middle_pocs_folders_without_its_plan_or_table_are_refused(tmp_path: Path) -> None:
    from pocflow.errors import DiscoveryError
    from pocflow.workspace import project_workspaces

    root = write_files(
        tmp_path / "ws",
        {
            "pyproject.toml": "[tool.pocflow]\npoc = 3\n",
            "docs/poc1-implementation.md": "# PoC 1 Implementation Plan: One\n",
            "docs/poc3-implementation.md": "# PoC 3 Implementation Plan: Three\n",
            "PoC/poc2/step1_index.py": "",
            "tests/poc2/test_step1_index.py": "def test_i():\n    assert False\n",
        },
    )
    with pytest.raises(DiscoveryError, match=r"PoC/poc2: holds PoC 2's files, but .*poc2"):
        project_workspaces(root)
    # with its table back, PoC 2 is one of the project's PoCs again
    (root / "docs/poc2-implementation.md").write_text(
        "# PoC 2 Implementation Plan: Two\n", encoding="utf-8"
    )
    assert [ws.settings.poc for ws in project_workspaces(root)] == [1, 2, 3]


@pytest.mark.e2e
def test_a_later_pocs_script_rewriting_an_earlier_pocs_output_in_a_fresh_clone_is_seen(
    tmp_path: Path,
) -> None:
    reads_it = (
        "from pathlib import Path\n\n\ndef test_a():\n"
        "    assert Path('out/x.txt').read_text(encoding='utf-8').strip() == 'ok'\n"
    )
    root = make_workspace(tmp_path / "ws", {"1": reads_it})
    writes = (
        '"""Step 1.\n\nUsage:\n    python PoC/step1_x.py\n"""\n'
        "from pathlib import Path\n\nPath('out').mkdir(exist_ok=True)\n"
    )
    (root / "PoC/step1_x.py").write_text(
        writes + "Path('out/x.txt').write_text('ok\\n', encoding='utf-8')\n", encoding="utf-8"
    )
    assert run_doit(root, "poc-complete").code == 0
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text("utf-8").replace("poc = 1", "poc = 2"), "utf-8")
    write_files(
        root,
        {
            "docs/poc2-implementation.md": SECOND_PLAN,
            "PoC/poc2/step1_index.py": '"""Step 1.\n\nUsage:\n    x\n"""\nprint(1)\n',
            "tests/poc2/test_step1_index.py": "def test_index():\n    assert True\n",
        },
    )
    assert run_doit(root, "all-pocs-complete").code == 0
    # a fresh clone (no local state, no outputs: out/ is not committed), where PoC 2's script
    # now rewrites the file PoC 1's test reads
    clone = tmp_path / "clone"
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns(".pocflow", "out"))
    (clone / "PoC/poc2/step1_index.py").write_text(
        writes + "Path('out/x.txt').write_text('bad\\n', encoding='utf-8')\n", encoding="utf-8"
    )
    result = run_doit(clone, "all-pocs-complete")
    plain = plain_pytest_run(clone, "tests/test_step1_x.py")
    # pocflow's verdict is what plain pytest says of the files as the run left them
    assert (result.code == 0) == (plain.returncode == 0), result.out + result.err + plain.stdout
    assert "poc1.poc-complete  (accepted" not in result.out


@pytest.mark.e2e
def test_an_earlier_pocs_failure_points_next_at_that_pocs_step(two_pocs: Path) -> None:
    (two_pocs / "tests/test_step1_x.py").write_text(
        "def test_scale():\n    assert False\n", encoding="utf-8"
    )
    result = run_doit(two_pocs, "all-pocs-complete")
    assert result.code == 1
    assert "pocflow: next: uv run doit poc1.step:1  #" in result.out, result.out


@pytest.mark.e2e
def test_the_sample_after_doit_clean_is_verified_again_and_stays_so(project: Path) -> None:
    # the local evidence goes; the outputs in out/ stay: the steps that write them run
    # again (each rebuilds its database in place), and what they leave is theirs
    assert run_doit(project, "clean").code == 0
    first = run_doit(project, "poc-complete")
    assert first.code == 0, first.out + first.err
    again = run_doit(project, "poc-complete")
    assert again.code == 0 and again.ran_steps == set(), again.out + again.err


@pytest.mark.e2e
def test_a_step_reading_what_another_pocs_scripts_write_is_warned(two_pocs: Path) -> None:
    (two_pocs / "PoC/step1_x.py").write_text(
        '"""Step 1.\n\nUsage:\n    python PoC/step1_x.py\n"""\nfrom pathlib import Path\n\n'
        "Path('out').mkdir(exist_ok=True)\nPath('out/p1.txt').write_text('21')\n",
        encoding="utf-8",
    )
    assert run_doit(two_pocs, "poc1.step:1").code == 0
    script = two_pocs / "PoC/poc2/step1_index.py"
    script.write_text(
        script.read_text("utf-8") + "print(Path('out/p1.txt').read_text())\n", encoding="utf-8"
    )
    result = run_doit(two_pocs, "step:1")
    assert result.code == 0, result.out + result.err
    assert (
        "pocflow: warning: step 1's scripts read out/p1.txt, which the scripts of PoC 1 step 1 "
        "write: a step depends on steps of its own PoC only" in result.err
    ), result.err


@pytest.mark.e2e
def test_an_earlier_poc_whose_steps_were_verified_again_awaits_its_gate(two_pocs: Path) -> None:
    """PoC 1's step verified again under PoC 2's gate: every step of PoC 1 holds, and what
    is left is PoC 1's own gate — its row says so (not a vague 'In Progress' with all its
    steps verified), until all-pocs-complete runs it."""
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    edit(two_pocs / "PoC/step1_x.py", lambda text: text + "# tweak\n")
    assert run_doit(two_pocs, "poc-complete").code == 0
    state = (two_pocs / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "| 🔄 Awaiting its gate (2/2 steps)" in state, state
    assert run_doit(two_pocs, "all-pocs-complete").code == 0
    state = (two_pocs / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "| ✅ Complete (2/2 steps)" in state, state


@pytest.mark.e2e
def test_setting_the_current_poc_back_to_an_earlier_one_is_refused(two_pocs: Path) -> None:
    """poc = 1 in a project that moved on to PoC 2 (whose steps have records): a typo that
    would render PROJECT_STATE.md for PoC 1 as the current one. One line, the setting's
    line, and what was meant; nothing written."""
    assert run_doit(two_pocs, "poc-complete").code == 0
    edit(two_pocs / "pyproject.toml", lambda text: text.replace("poc = 2", "poc = 1"))
    state = (two_pocs / "PROJECT_STATE.md").read_bytes()
    refused = run_doit(two_pocs, "poc-complete")
    assert refused.code == 3, refused.out + refused.err
    assert "poc = 1, but PoC 2 has records already (steps/records/poc2/)" in refused.err
    assert "is it poc = 2?" in refused.err
    assert (two_pocs / "PROJECT_STATE.md").read_bytes() == state
