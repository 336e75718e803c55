"""The task graph end to end: real doit runs in temporary copies of the sample workspace."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import pytest
from support import copy_sample, edit, make_workspace, run_doit, run_doit_inprocess, write_files

pytestmark = pytest.mark.e2e

ALL_STEPS = {"1", "2", "3a", "3b", "4", "4_1"}
PHASES = ("implement", "test", "document", "state")


def test_list_shows_every_step_its_phases_and_the_gate(sample: Path) -> None:
    result = run_doit(sample, "list")
    assert result.code == 0, result.err
    names = [line.split()[0] for line in result.out.splitlines() if line.strip()]
    for step in ALL_STEPS:
        for task in (f"step:{step}", *(f"{p}:{step}" for p in PHASES)):
            assert task in names
    assert "poc-complete" in names
    # natural order: 1 < 2 < 3a < 3b < 4 < 4_1
    order = [n.split(":")[1] for n in names if n.startswith("step:")]
    assert order == ["1", "2", "3a", "3b", "4", "4_1"]
    described = {line.split()[0]: line for line in result.out.splitlines() if line.strip()}
    assert "PoC/step2_validate_coordinates.py" in described["implement:2"]


def test_second_run_runs_nothing(sample: Path) -> None:
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran == []
    assert "poc-complete" in result.skipped


def test_fresh_mtimes_same_bytes_runs_nothing(verified_sample: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(verified_sample, clone, copy_function=shutil.copy)  # new mtimes
    assert (clone / "dodo.py").stat().st_mtime != (verified_sample / "dodo.py").stat().st_mtime
    result = run_doit(clone, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran == []


def test_step_target_verifies_its_prerequisites_only(tmp_path: Path) -> None:
    workspace = copy_sample(tmp_path / "ws")
    result = run_doit(workspace, "step:3b")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"1", "3a", "3b"}
    assert "poc-complete" not in result.ran
    for step in ("1", "3a", "3b"):
        record = json.loads((workspace / f"steps/records/step{step}.json").read_text())
        assert record["verdict"] == "verified"
    assert not (workspace / "steps/records/step2.json").exists()


def test_editing_step_script_reruns_it_and_dependents_only(sample: Path) -> None:
    edit(sample / "PoC/step3a_country_index.py", lambda s: s + "\n# an edit\n")
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"3a", "3b"}
    assert "poc-complete" in result.ran
    assert "implement:1" in result.skipped


def test_editing_upstream_script_reruns_downstream_chain(sample: Path) -> None:
    edit(sample / "PoC/step2_coordinates.py", lambda s: s + "\n# an edit\n")
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"2", "4", "4_1"}


def test_editing_shared_helper_reruns_exactly_importing_steps(sample: Path) -> None:
    # geo.py is imported by steps 2, 4 and 4_1 (scripts or tests), not by 1, 3a, 3b
    edit(sample / "PoC/geo.py", lambda s: s + "\n# an edit\n")
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"2", "4", "4_1"}
    assert "implement:1" in result.skipped and "implement:3a" in result.skipped


def test_editing_test_file_reruns_test_document_state_not_implement(sample: Path) -> None:
    edit(
        sample / "tests/test_step4_1_grid_nearest.py",
        lambda s: s + "\n\ndef test_added_later() -> None:\n    assert 2 + 2 == 4\n",
    )
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert [t for t in result.ran if t not in ("project-state", "poc-complete")] == [
        "test:4_1",
        "document:4_1",
        "state:4_1",
    ]
    record = json.loads((sample / "steps/records/step4_1.json").read_text())
    assert record["test"]["counts"]["total"] == 9


def test_editing_template_rerenders_documents_only(sample: Path) -> None:
    override = sample / "assets/templates/step-results.md"
    override.parent.mkdir(parents=True)
    packaged = Path(__file__).resolve().parents[2] / "src/pocflow/templates/step-results.md"
    override.write_text(
        packaged.read_text(encoding="utf-8").replace(
            "## Test Coverage", "## Test Coverage\n\n_Counted by pocflow._"
        ),
        encoding="utf-8",
    )
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert sorted(result.ran) == sorted(f"document:{s}" for s in ALL_STEPS)
    doc = (sample / "docs/time-zone-atlas-step3a-results.md").read_text(encoding="utf-8")
    assert "_Counted by pocflow._" in doc


def test_failing_test_fails_gate_and_is_not_recorded_verified(sample: Path) -> None:
    test_file = sample / "tests/test_step3a_country_index.py"
    original = test_file.read_text(encoding="utf-8")
    edit(test_file, lambda s: s.replace('assert first == "CH"', 'assert first == "DE"'))
    result = run_doit(sample, "poc-complete")
    assert result.code == 1
    assert "test_index_keeps_most_populous_country_first" in result.out + result.err
    assert "1 of 3 tests failed" in result.out + result.err
    record = json.loads((sample / "steps/records/step3a.json").read_text())
    assert record["verdict"] == "failed"
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "| 3a | Country index | ❌ Failed (1 failing) | 2/3 |" in state
    assert "poc-complete" not in result.ran

    again = run_doit(sample, "poc-complete")  # a failure is never cached as success
    assert again.code == 1
    assert "test:3a" in again.ran

    test_file.write_text(original, encoding="utf-8")
    fixed = run_doit(sample, "poc-complete")
    assert fixed.code == 0, fixed.out + fixed.err
    assert json.loads((sample / "steps/records/step3a.json").read_text())["verdict"] == "verified"


def test_failing_script_reports_exit_code_and_stderr(sample: Path) -> None:
    edit(
        sample / "PoC/step3b_country_lookup.py",
        lambda s: s.replace(
            "def main(argv: list[str]) -> None:\n",
            "def main(argv: list[str]) -> None:\n    raise SystemExit('lookup table is gone')\n",
        ),
    )
    result = run_doit(sample, "step:3b")
    assert result.code == 1
    output = result.out + result.err
    assert "PoC/step3b_country_lookup.py exited with code 1" in output
    assert "lookup table is gone" in output
    assert "test:3b" not in result.ran


def test_gate_lists_steps_the_plan_names_without_files(sample: Path) -> None:
    edit(
        sample / "docs/poc1-implementation.md",
        lambda s: s.replace(
            "## Test Structure",
            "### Step 5: Offsets\n\n**Goal**: UTC offsets.\n\n**Depends On**: Step 1\n\n"
            "## Test Structure",
        ),
    )
    result = run_doit(sample, "poc-complete")
    assert result.code == 1
    output = result.out + result.err
    assert "PoC 1 is not complete: 1 of 7 steps not verified:" in output
    assert (
        "step 5 (Offsets): ⬜ Not Started — no files yet: add PoC/step5_<description>.py "
        "and tests/test_step5_<description>.py"
    ) in output
    assert result.ran == ["project-state", "poc-complete"]

    direct = run_doit(sample, "step:5")  # the step itself says what is missing
    assert direct.code == 1
    assert "step 5 has no script; add PoC/step5_<description>.py" in direct.out + direct.err
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    # (the failure wrote step 5's results doc, saying what is missing: the row links it)
    assert (
        "| 5 | Offsets | ⬜ Not Started | — | "
        "[time-zone-atlas-step5-results.md](docs/time-zone-atlas-step5-results.md) |"
    ) in state
    assert (sample / "docs/time-zone-atlas-step5-results.md").is_file()


def test_hand_edited_record_is_rewritten_from_the_run(sample: Path) -> None:
    record_path = sample / "steps/records/step3b.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    real = record["inputs"]["PoC/step3b_country_lookup.py"]
    record["inputs"]["PoC/step3b_country_lookup.py"] = "0" * 64  # claims other bytes
    record_path.write_text(json.dumps(record), encoding="utf-8")
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "state:3b" in result.ran and "implement:3b" not in result.ran
    repaired = json.loads(record_path.read_text(encoding="utf-8"))
    assert repaired["inputs"]["PoC/step3b_country_lookup.py"] == real


def test_inprocess_run_matches_subprocess(
    sample: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(sample / "PoC/step4_nearest.py", lambda s: s + "\n# an edit\n")
    result = run_doit_inprocess(sample, capfd, monkeypatch, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"4", "4_1"}
    assert run_doit_inprocess(sample, capfd, monkeypatch, "poc-complete").ran == []
    # the run leaves the garbage collector of its process as it found it
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_doit_clean_and_forget_keep_documents_and_records(sample: Path) -> None:
    assert run_doit(sample, "forget", "implement:4").code == 0
    forgotten = run_doit(sample, "poc-complete")
    assert forgotten.code == 0, forgotten.out + forgotten.err
    # its record still holds: accepted, not run again (`--reverify` would run it)
    assert "-- implement:4  (accepted: verified " in forgotten.out
    assert run_doit(sample, "clean").code == 0
    assert not (sample / ".pocflow/runs/step1/implement.json").exists()
    assert (sample / "docs/time-zone-atlas-step1-results.md").exists()
    assert (sample / "steps/records/step1.json").exists()
    # records taken, or (where what says out/ is what the steps' scripts made went with the
    # run files) the steps run again
    cleaned = run_doit(sample, "poc-complete")
    assert cleaned.code == 0, cleaned.out + cleaned.err


def test_broken_template_override_is_exit_2_naming_file_and_line(sample: Path) -> None:
    override = sample / "assets/templates/step-results.md"
    override.parent.mkdir(parents=True)
    override.write_text("# Step {{ step.step_id }}\n\n{% if %}\n", encoding="utf-8")
    before = (sample / "docs/time-zone-atlas-step1-results.md").read_bytes()
    result = run_doit(sample, "poc-complete")
    assert result.code == 2
    assert "assets/templates/step-results.md:3: template error" in result.out + result.err
    assert "Traceback" not in result.out + result.err
    assert (sample / "docs/time-zone-atlas-step1-results.md").read_bytes() == before


def test_manual_step_is_verified_by_its_tests_only_and_says_so(sample: Path) -> None:
    (sample / "steps/step3b.yaml").write_text(
        "manual: needs a person to read the country list\n", encoding="utf-8"
    )
    edit(
        sample / "PoC/step3b_country_lookup.py",  # it would fail if pocflow ran it
        lambda s: s.replace(
            "def main(argv: list[str]) -> None:\n",
            "def main(argv: list[str]) -> None:\n    raise SystemExit('needs a person')\n",
        ),
    )
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    doc = (sample / "docs/time-zone-atlas-step3b-results.md").read_text(encoding="utf-8")
    assert "**Status**: ✅ COMPLETE — verified by its tests only" in doc
    assert (
        "| Script | `PoC/step3b_country_lookup.py` | not run by pocflow: needs a person to "
        "read the country list |" in doc
    )
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "| 3b | Country lookup | ✅ Complete (tests only) |" in state


def test_a_phase_task_runs_what_it_depends_on_first_as_the_reference_says(sample: Path) -> None:
    from support import edit, run_doit

    edit(sample / "PoC/step1_load.py", lambda s: s + "\n# reviewed\n")
    result = run_doit(sample, "test:2")
    assert result.code == 0, result.out + result.err
    ran = result.ran
    assert {"implement:1", "test:1", "state:1", "implement:2", "test:2"} <= set(ran)
    assert ran.index("state:1") < ran.index("implement:2") < ran.index("test:2")
    assert "poc-complete" not in ran


def test_pocflow_opens_no_text_file_without_naming_its_encoding(sample: Path) -> None:
    # what PYTHONWARNDEFAULTENCODING shows: a read or write that would depend on the locale
    edit(sample / "PoC/step4_nearest.py", lambda s: s + "\n# an edit\n")
    env = {"PYTHONWARNDEFAULTENCODING": "1", "PYTHONWARNINGS": "error::EncodingWarning"}
    for command in (["poc-complete"], ["status"], ["list"]):
        result = run_doit(sample, *command, env=env)
        assert result.code == 0, result.out + result.err
        assert "EncodingWarning" not in result.err


def _users_hook() -> None:
    """An action of the user's own, defined outside pocflow."""


@pytest.mark.parametrize(
    "action",
    [
        "echo a shell command",
        ["echo", "a", "command", "list"],
        _users_hook,
        (_users_hook, [], {}),
        (_users_hook,),
        "python-action-object",
        "cmd-action-object",
        "subclass-of-pythonaction-carrying-pocflows-callable",
    ],
    ids=[
        "string",
        "list",
        "callable",
        "tuple",
        "short-tuple",
        "PythonAction",
        "CmdAction",
        "PythonAction subclass",
    ],
)
def test_an_action_of_the_users_own_in_one_of_pocflows_tasks_is_the_users_code_in_every_form(
    action: object,
) -> None:
    from doit.action import CmdAction, PythonAction
    from doit.task import Task

    from pocflow.cmd_run import users_code
    from pocflow.phases import gate_phase
    from pocflow.run import own_tasks

    own_tasks([{"basename": "poc-complete"}])
    if action == "python-action-object":
        action = PythonAction(_users_hook)
    elif action == "cmd-action-object":
        action = CmdAction("echo an action object")
    elif action == "subclass-of-pythonaction-carrying-pocflows-callable":

        class Logged(PythonAction):  # its execute is the user's code
            pass

        action = Logged(gate_phase, ["."])
    pocflows = Task("poc-complete", [(gate_phase, ["."], {})])
    assert not users_code([pocflows], None)
    assert users_code([Task("poc-complete", [(gate_phase, ["."], {}), action])], None)
    assert users_code([Task("poc-complete", [action])], None)


class _Reporter:
    """A reporter class of the user's own."""


@pytest.mark.parametrize(
    "change",
    [
        "str subclass in an action's arguments",
        "str subclass in a check's arguments",
        "a check's state changed",
        "params",
        "made by a task creator",
        "a reporter class",
        "a reporter a plugin names",
        "a file checker",
        "a codec",
    ],
)
def test_the_users_code_is_found_wherever_the_dodo_can_give_it_to_doit(change: str) -> None:
    from types import SimpleNamespace

    from doit.dependency import JSONCodec, MD5Checker
    from doit.loader import DelayedLoader
    from doit.reporter import ConsoleReporter
    from doit.task import Task

    from pocflow.checker import ContentChecker
    from pocflow.cmd_run import users_code
    from pocflow.phases import gate_phase, phase_current
    from pocflow.reporter import PocflowReporter
    from pocflow.run import own_tasks

    class Sneaky(str):
        pass

    own_tasks([{"basename": "poc-complete"}])
    check = phase_current({"environment": {"python": "3.11"}}, "/ws", "1", "test")
    action = (gate_phase, ["/ws", None], {})
    task = Task("poc-complete", [action], uptodate=[check, (gate_phase, ["/ws"], {})])
    reporters = {"pocflow": PocflowReporter, "console": ConsoleReporter, "mine": _Reporter}
    store = SimpleNamespace(checker=ContentChecker(), backend=SimpleNamespace(codec=JSONCodec()))
    assert not users_code([task], "pocflow", reporters, store)
    assert not users_code([task], "console", reporters, store)
    assert not users_code(
        [task],
        PocflowReporter,
        reporters,
        SimpleNamespace(checker=MD5Checker(), backend=store.backend),
    )
    reporter: object = "pocflow"
    if change == "str subclass in an action's arguments":
        task = Task("poc-complete", [(gate_phase, [Sneaky("/ws"), None], {})])
    elif change == "str subclass in a check's arguments":
        task = Task("poc-complete", [action], uptodate=[(gate_phase, [Sneaky("/ws")], {})])
    elif change == "a check's state changed":
        check.root = Sneaky("/ws")
    elif change == "params":
        task = Task("poc-complete", [action], params=[{"name": "x", "default": "", "type": Sneaky}])
    elif change == "made by a task creator":
        task.loader = DelayedLoader(lambda: None)
    elif change == "a reporter class":
        reporter = _Reporter
    elif change == "a reporter a plugin names":
        reporter = "mine"
    elif change == "a file checker":
        store.checker = type("Checker", (ContentChecker,), {})()
    else:
        store.backend.codec = type("Codec", (JSONCodec,), {})()
    assert users_code([task], reporter, reporters, store)


def test_a_workspace_module_named_like_one_pocflow_imports_is_not_imported_by_pocflow(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": "def test_x():\n    assert True\n"})
    # doit puts the workspace first on sys.path to import the dodo: pocflow renders with
    # jinja2 later, in the same process
    write_files(ws, {"jinja2.py": "import pathlib\npathlib.Path('IMPORTED').write_text('')\n"})
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert not (ws / "IMPORTED").exists()
    assert (ws / "docs/poc1-results.md").is_file()
