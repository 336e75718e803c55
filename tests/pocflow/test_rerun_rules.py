"""What an edit runs again, and what it must not skip: steps that share an output file.

Step 1's script writes ``out/shared.json`` as ``{"a": 1}``; step 2 (which depends on it)
reads it and adds ``b = a + 1``; step 2's test checks ``b == a + 1``. Whenever step 1's
script runs again it drops what step 2 added, so step 2 must run again too, even when step
1's record proves the same as before — each case is checked against plain pytest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import PLAIN_WITHOUT, edit, make_workspace, private_copy, run_doit

pytestmark = pytest.mark.e2e

WRITER = (
    '"""Step 1: write the table.\n\nUsage:\n    python PoC/step1_x.py\n"""\n'
    "import json\nfrom pathlib import Path\n\n"
    "Path('out').mkdir(exist_ok=True)\n"
    "Path('out/shared.json').write_text(json.dumps({'a': 1}))\n"
)
EXTENDER = (
    '"""Step 2: extend the table.\n\nUsage:\n    python PoC/step2_x.py\n"""\n'
    "import json\nfrom pathlib import Path\n\n"
    "table = json.loads(Path('out/shared.json').read_text())\n"
    "table['b'] = table['a'] + 1\n"
    "Path('out/shared.json').write_text(json.dumps(table))\n"
)
TESTS = {
    "1": "import json\nfrom pathlib import Path\n\n"
    "def test_the_table_has_a():\n"
    "    assert json.loads(Path('out/shared.json').read_text())['a'] == 1\n",
    "2": "import json\nfrom pathlib import Path\n\n"
    "def test_the_table_has_b(answer):\n"
    "    table = json.loads(Path('out/shared.json').read_text())\n"
    "    assert table.get('b') == table['a'] + 1 and answer == 42\n",
}
#: what the shipped CI workflows set: the gate also runs every step's tests as one session
SUITE_SESSION = {"POCFLOW_SUITE_SESSION": "1"}

CONFTEST = "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return 42\n"


@pytest.fixture(scope="module")
def verified_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A verified workspace of two steps sharing out/shared.json (do not modify)."""
    return make_chain(tmp_path_factory.mktemp("chain") / "ws")


@pytest.fixture
def chain(verified_chain: Path, tmp_path: Path) -> Path:
    """A private copy of the verified chain, state included."""
    return private_copy(verified_chain, tmp_path / "ws")


def make_chain(root: Path) -> Path:
    workspace = make_workspace(root, TESTS, conftest=CONFTEST, depends={"2": "1"})
    (workspace / "PoC/step1_x.py").write_text(WRITER, encoding="utf-8")
    (workspace / "PoC/step2_x.py").write_text(EXTENDER, encoding="utf-8")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    return workspace


def plain_pytest(workspace: Path, step: str) -> int:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLAIN_WITHOUT]
    return subprocess.run(
        [*command, f"tests/test_step{step}_x.py"], cwd=workspace, capture_output=True, check=False
    ).returncode


def test_a_test_only_edit_runs_the_steps_tests_and_not_its_script(chain: Path) -> None:
    test = chain / "tests/test_step2_x.py"
    test.write_text(test.read_text("utf-8") + "\n\ndef test_more():\n    assert True\n", "utf-8")
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "test:2" in result.ran
    assert not [name for name in result.ran if name.startswith("implement:")]


def test_a_prerequisites_test_only_edit_runs_no_dependent(chain: Path) -> None:
    # step 2 stands on what step 1's scripts produced, which a test of step 1 does not
    # change, though step 1's record now counts one more test
    test = chain / "tests/test_step1_x.py"
    test.write_text(test.read_text("utf-8") + "\n\ndef test_more():\n    assert True\n", "utf-8")
    record = (chain / "steps/records/step1.json").read_bytes()
    # what is said before the run is what the run does: step 1 only (status and the dry
    # run called step 2 stale and "would be verified again")
    before = run_doit(chain, "status")
    assert "🔄 1" in before.out and "✅ 2" in before.out, before.out
    dry = run_doit(chain, "--dry-run", "poc-complete")
    assert "step 1 (S1): would be verified again" in dry.out, dry.out
    assert "step 2 (S2): would be verified again" not in dry.out, dry.out
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "test:1" in result.ran and (chain / "steps/records/step1.json").read_bytes() != record
    assert not {"implement:1", "implement:2", "test:2"} & set(result.ran), result.out
    assert plain_pytest(chain, "2") == 0
    status = run_doit(chain, "status")
    assert "✅ 1" in status.out and "✅ 2" in status.out, status.out
    # and a fresh clone of it takes both records
    clone = chain.parent / "clone"
    shutil.copytree(chain, clone, ignore=shutil.ignore_patterns(".pocflow", "out"))
    taken = run_doit(clone, "poc-complete")
    assert taken.code == 0, taken.out + taken.err
    assert not [name for name in taken.ran if name.startswith("test:")], taken.out


def test_a_conftest_only_edit_runs_the_tests_and_not_the_first_steps_script(
    chain: Path,
) -> None:
    conftest = chain / "tests/conftest.py"
    conftest.write_text(conftest.read_text("utf-8").replace("42", "6 * 7"), "utf-8")
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert {"test:1", "test:2"} <= set(result.ran)
    assert "implement:1" not in result.ran
    assert plain_pytest(chain, "2") == 0


def test_a_prerequisites_script_run_again_runs_its_dependents_again(chain: Path) -> None:
    # step 1 proves the same as before (its record does not change), but its script
    # rewrote the file step 2 extended
    again = run_doit(chain, "--reverify", "step:1")
    assert again.code == 0, again.out + again.err
    assert plain_pytest(chain, "2") == 1, "the case must really fail"
    status = run_doit(chain, "status")  # between the runs: not shown as verified
    assert "the scripts of step 1 ran again here since it was verified" in status.out
    assert "PoC 1 is complete" not in status.out, status.out
    # what step 1's scripts wrote is as they left it: no hint to run them again
    assert "writes it again" not in status.out, status.out
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert {"implement:2", "test:2"} <= set(result.ran)  # its tests run on what it wrote
    assert "implement:2  (the scripts of step 1 ran again)" in result.out
    assert plain_pytest(chain, "2") == 0


def test_a_prerequisite_that_failed_and_was_fixed_back_runs_its_dependents_again(
    chain: Path,
) -> None:
    script = chain / "PoC/step1_x.py"
    verified = script.read_text(encoding="utf-8")
    script.write_text(verified + "raise SystemExit('oops')\n", encoding="utf-8")
    assert run_doit(chain, "poc-complete").code != 0
    script.write_text(verified, encoding="utf-8")
    assert plain_pytest(chain, "2") == 1, "the case must really fail"
    fixed = run_doit(chain, "poc-complete")
    assert fixed.code == 0, fixed.out + fixed.err
    assert {"implement:1", "implement:2", "test:2"} <= set(fixed.ran)
    assert plain_pytest(chain, "2") == 0


#: step 2 reads what step 1 wrote and writes a file of its own (no file shared)
READER = (
    '"""Step 2: derive from the table.\n\nUsage:\n    python PoC/step2_x.py\n"""\n'
    "import json\nfrom pathlib import Path\n\n"
    "table = json.loads(Path('out/shared.json').read_text())\n"
    "Path('out/derived.json').write_text(json.dumps({'b': table['a'] + 1}))\n"
)
DERIVED_TESTS = {
    "1": TESTS["1"],
    "2": "import json\nfrom pathlib import Path\n\n"
    "def test_b_follows_a():\n"
    "    table = json.loads(Path('out/shared.json').read_text())\n"
    "    assert json.loads(Path('out/derived.json').read_text())['b'] == table['a'] + 1\n",
}


def reader_chain(root: Path) -> Path:
    workspace = make_workspace(root, DERIVED_TESTS, depends={"2": "1"})
    (workspace / "PoC/step1_x.py").write_text(WRITER, encoding="utf-8")
    (workspace / "PoC/step2_x.py").write_text(READER, encoding="utf-8")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    return workspace


def test_a_prerequisite_that_failed_and_was_fixed_back_to_the_same_outputs_runs_no_dependent(
    tmp_path: Path,
) -> None:
    chain = reader_chain(tmp_path / "ws")
    script = chain / "PoC/step1_x.py"
    verified = script.read_text(encoding="utf-8")
    script.write_text(verified + "raise SystemExit('oops')\n", encoding="utf-8")
    assert run_doit(chain, "poc-complete").code != 0
    script.write_text(verified, encoding="utf-8")
    fixed = run_doit(chain, "poc-complete")
    assert fixed.code == 0, fixed.out + fixed.err
    assert "implement:1" in fixed.ran
    # step 2 stands on what step 1 produced, which is the same: neither its script nor its
    # tests run again, and plain pytest agrees it still passes
    assert not {"implement:2", "test:2"} & set(fixed.ran), fixed.out
    assert plain_pytest(chain, "2") == 0
    status = run_doit(chain, "status")
    assert "✅ 1" in status.out and "✅ 2" in status.out, status.out
    # step 1's record is back as it was, and what PROJECT_STATE.md says agrees with it
    assert run_doit(chain, "drift").code == 0


def test_a_prerequisite_producing_other_outputs_runs_its_dependents(tmp_path: Path) -> None:
    chain = reader_chain(tmp_path / "ws")
    script = chain / "PoC/step1_x.py"
    script.write_text(
        script.read_text("utf-8").replace("{'a': 1}", "{'a': 1, 'unit': 'm'}"), "utf-8"
    )
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert {"implement:1", "implement:2", "test:2"} <= set(result.ran)
    assert "; step 1 verified again)" in next(
        line for line in result.out.splitlines() if line.startswith(".  implement:2  (")
    ), result.out  # (and what of its output step 2's scripts read changed: named first)
    assert plain_pytest(chain, "2") == 0


@pytest.mark.parametrize("suite_session", ["0", "1"])
def test_a_prerequisites_test_that_runs_its_script_runs_the_dependents_and_the_gate_sees_it(
    tmp_path: Path, suite_session: str
) -> None:
    chain = make_chain(tmp_path / "ws")
    test = chain / "tests/test_step1_x.py"
    test.write_text(
        test.read_text("utf-8")
        + "\n\ndef test_the_script_runs():\n"
        + "    import runpy\n    runpy.run_path('PoC/step1_x.py')\n",
        "utf-8",
    )
    env = {"POCFLOW_SUITE_SESSION": suite_session}  # "1": as the shipped CI workflows run
    result = run_doit(chain, "poc-complete", env=env)
    assert {"test:1", "test:2"} <= set(result.ran), result.out  # what step 2 read changed
    # step 1's tests rewrite what step 2's read (in the same session, or the gate tests step
    # 1 again on what step 2 wrote, which writes the file anew under step 2's tests)
    assert plain_pytest(chain, "2") != 0, "the case must really fail"
    assert result.code == 1
    said = result.out + result.err
    assert "step 2 (S2), test phase" in said or "temporary copy" in said, said
    assert "✅ 2" not in run_doit(chain, "status", env=env).out


def test_a_dependents_script_run_again_has_its_tests_run_again_too(tmp_path: Path) -> None:
    # step 2's script appends: run twice, its output is not what its tests want
    appender = EXTENDER.replace(
        "table['b'] = table['a'] + 1\n", "table['b'] = table.get('b', 0) + table['a'] + 1\n"
    )
    workspace = make_workspace(tmp_path / "ws", TESTS, conftest=CONFTEST, depends={"2": "1"})
    (workspace / "PoC/step1_x.py").write_text(WRITER, encoding="utf-8")
    (workspace / "PoC/step2_x.py").write_text(appender, encoding="utf-8")
    assert run_doit(workspace, "poc-complete").code == 0
    # step 1 writes the table anew, step 2 adds to it twice: b == 2 after one run
    assert run_doit(workspace, "--reverify", "step:1").code == 0
    result = run_doit(workspace, "poc-complete")
    assert {"implement:2", "test:2"} <= set(result.ran), result.out
    assert (result.code == 0) == (plain_pytest(workspace, "2") == 0)


def changed_sibling_clone(tmp_path: Path, exact: bool = False, changed: str = "3") -> Path:
    """Steps 2 and 3 both extend what step 1 writes; verified in an origin, then a fresh
    clone of it (no local state, no outputs) with a reviewed change to the script of step
    ``changed``. ``exact``: step 3's test checks the whole table (step 2's part too)."""
    third = EXTENDER.replace("Step 2", "Step 3").replace("step2", "step3")
    third = third.replace("table['b'] = table['a'] + 1", "table['c'] = table['a'] + 2")
    check = (
        "    assert table == {'a': 1, 'b': 2, 'c': 3}\n"
        if exact
        else "    assert table.get('c') == table['a'] + 2\n"
    )
    tests = {
        **TESTS,
        "3": "import json\nfrom pathlib import Path\n\n"
        "def test_the_table_has_c():\n"
        "    table = json.loads(Path('out/shared.json').read_text())\n" + check,
    }
    origin = make_workspace(
        tmp_path / "origin", tests, conftest=CONFTEST, depends={"2": "1", "3": "1"}
    )
    (origin / "PoC/step1_x.py").write_text(WRITER, encoding="utf-8")
    (origin / "PoC/step2_x.py").write_text(EXTENDER, encoding="utf-8")
    (origin / "PoC/step3_x.py").write_text(third, encoding="utf-8")
    verified = run_doit(origin, "poc-complete")
    assert verified.code == 0, verified.out + verified.err
    clone = tmp_path / "clone"  # what git gives a CI job: no local state, no outputs
    shutil.copytree(origin, clone, ignore=shutil.ignore_patterns(".pocflow", "out"))
    script = clone / f"PoC/step{changed}_x.py"
    script.write_text(script.read_text("utf-8") + "# a reviewed change\n", "utf-8")
    return clone


@pytest.mark.parametrize("env", [SUITE_SESSION, {}], ids=["suite-session", "steps-alone"])
def test_a_fresh_clone_with_a_changed_sibling_reproduces_every_accepted_steps_output(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # in a fresh clone with step 3 changed, step 3's run replays step 1 (which writes the
    # file anew): step 2, accepted from its record, must have its part reproduced before
    # any session reads the file
    clone = changed_sibling_clone(tmp_path)
    result = run_doit(clone, "poc-complete", env=env)  # (SUITE_SESSION: as CI runs)
    assert result.code == 0, result.out + result.err
    assert {"implement:3", "test:3"} <= set(result.ran)
    assert "implement:2" not in result.ran, "step 2 is accepted from its record"
    for step in ("1", "2", "3"):  # what the gate stood on holds under plain pytest
        assert plain_pytest(clone, step) == 0, f"step {step}"
    again = run_doit(clone, "poc-complete", env=env)
    assert again.code == 0 and again.ran == [], again.out + again.err


@pytest.mark.parametrize("env", [SUITE_SESSION, {}], ids=["suite-session", "steps-alone"])
def test_a_changed_step_runs_on_the_shared_file_as_plan_order_leaves_it_in_a_fresh_clone(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # the origin ran step 3 on a table step 2 had extended first (plan order); in the clone
    # step 3's run replayed step 1 alone, its test saw no 'b', and CI failed what the
    # origin passed: the earlier sibling's part is added again before step 3 runs
    clone = changed_sibling_clone(tmp_path, exact=True)
    result = run_doit(clone, "poc-complete", env=env)
    assert result.code == 0, result.out + result.err
    assert "implement:2" not in result.ran, "step 2 is replayed, not verified again"
    for step in ("1", "2", "3"):
        assert plain_pytest(clone, step) == 0, f"step {step}"


def test_a_sibling_whose_shared_output_a_replay_rewrote_is_not_shown_verified(
    tmp_path: Path,
) -> None:
    # `doit step:2` in the fresh clone replays step 1, which writes the shared file anew,
    # and step 2 adds its part: step 3 (after it in the plan) lost its own, and its tests
    # now fail under plain pytest, so neither the status nor `doit step:3` may say it holds
    clone = changed_sibling_clone(tmp_path, changed="2")
    ran = run_doit(clone, "step:2")
    assert ran.code == 0, ran.out + ran.err
    assert plain_pytest(clone, "3") != 0, "the replay took step 3's part of the file"
    status = run_doit(clone, "status")
    assert "✅ 3" not in status.out, status.out
    assert "stale" in status.out and "step 1 ran again here" in status.out, status.out
    step3 = run_doit(clone, "step:3")  # its scripts add its part again (replayed)
    assert step3.code == 0 and plain_pytest(clone, "3") == 0, step3.out + step3.err
    assert "replayed the scripts of step(s) 3" in step3.err, step3.out + step3.err
    assert "✅ 3" in run_doit(clone, "status").out


def test_a_step_run_alone_in_a_fresh_clone_adds_back_the_earlier_siblings_parts(
    tmp_path: Path,
) -> None:
    # `doit step:3` replays step 1 and, before step 3 runs, step 2 (before it in the plan),
    # whose part the replay wrote away: every step's tests pass under plain pytest after it
    clone = changed_sibling_clone(tmp_path, exact=True)
    ran = run_doit(clone, "step:3")
    assert ran.code == 0, ran.out + ran.err
    assert "first replayed the scripts of step(s) 1, 2" in ran.out, ran.out
    for step in ("1", "2", "3"):
        assert plain_pytest(clone, step) == 0, f"step {step}"
    assert "3 of 3 steps verified" in run_doit(clone, "status").out


@pytest.mark.parametrize("look", ["open", "exists"])
def test_a_test_reading_the_workspaces_pyproject_is_verified_and_stays_so(
    tmp_path: Path, look: str
) -> None:
    # pytest reads pyproject.toml first (for its settings), under a key of its own: the
    # test's read of the same file had no stamp, and the file counted as changed during the
    # run, on every run
    reads = (
        "import tomllib\n\n\ndef test_the_project_settings():\n"
        "    with open('pyproject.toml', 'rb') as f:\n"
        "        assert 'pocflow' in tomllib.load(f)['tool']\n"
        if look == "open"
        else "import os\n\n\ndef test_the_project_settings():\n"
        "    assert os.path.exists('pyproject.toml')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": reads})
    first = run_doit(ws, "poc-complete")
    assert first.code == 0, first.out + first.err
    again = run_doit(ws, "poc-complete")
    assert again.code == 0 and again.ran == [], again.out
    (ws / "pyproject.toml").write_text(
        (ws / "pyproject.toml").read_text(encoding="utf-8") + "# edited\n", encoding="utf-8"
    )
    edited = run_doit(ws, "poc-complete")
    assert "test:1" in edited.ran, edited.out


def test_a_project_that_turns_pytests_legacypath_plugin_off_is_verified(tmp_path: Path) -> None:
    # `-p no:legacypath` (as packaging's settings have it) took away session.fspath, which
    # the JSON report of pocflow's sessions read as the session ended: no step verified
    ws = make_workspace(
        tmp_path / "ws",
        {"1": "def test_one():\n    assert True\n"},
        settings='\n[tool.pytest.ini_options]\naddopts = ["-p", "no:legacypath"]\n',
    )
    first = run_doit(ws, "poc-complete")
    assert first.code == 0, first.out + first.err


#: step 1's tests leave a file behind that step 2's tests read: no step's scripts write it
SCRATCH_TESTS = {
    "1": "from pathlib import Path\n\n\ndef test_leaves_a_scratch_file():\n"
    "    Path('out').mkdir(exist_ok=True)\n"
    "    Path('out/scratch.txt').write_text('ready')\n",
    "2": "from pathlib import Path\n\n\ndef test_reads_the_scratch_file():\n"
    "    assert Path('out/scratch.txt').read_text() == 'ready'\n",
}


def test_a_file_another_steps_tests_left_is_no_ground_for_taking_a_record_where_it_is_gone(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", SCRATCH_TESTS)  # (2 does not depend on 1)
    assert run_doit(ws, "poc-complete").code == 0  # here the file is there
    clone = tmp_path / "clone"  # what CI gets: no local state, no outputs
    shutil.copytree(ws, clone, ignore=shutil.ignore_patterns(".pocflow", "out"))
    for step in ("1", "2"):
        subprocess.run([sys.executable, f"PoC/step{step}_x.py"], cwd=clone, check=True)
    assert plain_pytest(clone, "2") != 0, "the case must really fail"
    status = run_doit(clone, "status")  # not shown as verified before anything ran
    assert "✅ 2" not in status.out, status.out
    result = run_doit(clone, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "test:2" in result.ran, result.out
    assert "out/scratch.txt" in result.out + result.err, result.out + result.err


def test_a_failed_step_whose_output_another_steps_old_script_changed_is_told_to_run_its_scripts(
    tmp_path: Path,
) -> None:
    tests = {
        "1": "import json\nfrom pathlib import Path\n\n"
        "def test_the_table_has_no_c():\n"
        "    assert 'c' not in json.loads(Path('out/shared.json').read_text())\n",
        "2": TESTS["2"],
    }
    ws = make_workspace(tmp_path / "ws", tests, conftest=CONFTEST, depends={"2": "1"})
    (ws / "PoC/step1_x.py").write_text(WRITER, encoding="utf-8")
    (ws / "PoC/step2_x.py").write_text(EXTENDER, encoding="utf-8")
    assert run_doit(ws, "poc-complete").code == 0
    extender = ws / "PoC/step2_x.py"
    extender.write_text(EXTENDER.replace("table['b']", "table['c'] = 0\ntable['b']"), "utf-8")
    assert run_doit(ws, "poc-complete").code != 0  # step 1's tests fail on what step 2 wrote
    extender.write_text(EXTENDER, encoding="utf-8")  # step 2's script put back
    again = run_doit(ws, "poc-complete")
    assert again.code != 0 and plain_pytest(ws, "1") != 0, "the case must really fail"
    # its tests alone fail the same way every time: its scripts must write the file anew
    said = again.out + again.err
    assert "next: uv run doit run --reverify step:1  # step 1 failed" in said, said
    fixed = run_doit(ws, "run", "--reverify", "step:1")
    assert fixed.code == 0, fixed.out + fixed.err
    assert run_doit(ws, "poc-complete").code == 0
    assert plain_pytest(ws, "1") == 0 and plain_pytest(ws, "2") == 0


#: step 2 reads what step 1's script writes, and the plan does not say it depends on step 1
UNDECLARED_READER = (
    '"""Step 2: read the table.\n\nUsage:\n    python PoC/step2_x.py\n"""\n'
    "import json\nfrom pathlib import Path\n\n"
    "table = json.loads(Path('out/shared.json').read_text())\n"
    "Path('out/derived.json').write_text(json.dumps({'b': table['a'] + 1}))\n"
)


def test_a_step_reading_what_a_step_it_does_not_depend_on_writes_is_told_to_say_so(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", DERIVED_TESTS)  # no Depends On
    (ws / "PoC/step1_x.py").write_text(WRITER, encoding="utf-8")
    (ws / "PoC/step2_x.py").write_text(UNDECLARED_READER, encoding="utf-8")
    hint = (
        "step 2's scripts read out/shared.json, which step 1's scripts write, and step 2 "
        "does not depend on step 1: add '**Depends On**: Step 1' to step 2 in "
        "docs/poc1-implementation.md"
    )
    passed = run_doit(ws, "poc-complete")  # in plan order here, so it passes: a warning
    assert passed.code == 0, passed.out + passed.err
    assert f"pocflow: warning: {hint}" in passed.err, passed.err
    (ws / "out/shared.json").unlink()  # as in a fresh clone: step 1 taken, nothing written
    (ws / "PoC/step2_x.py").write_text(UNDECLARED_READER + "\n# edited\n", encoding="utf-8")
    failed = run_doit(ws, "step:2")  # its script fails: the failure says why
    assert failed.code != 0 and hint in failed.out + failed.err, failed.out + failed.err


def test_tests_that_read_a_file_no_script_writes_are_warned_a_fresh_clone_lacks_it(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", SCRATCH_TESTS)
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert (
        "pocflow: warning: step 2's tests read out/scratch.txt, which no step's scripts write"
        in result.err
    ), result.err
    assert "step 1's tests read" not in result.err  # (its tests wrote it: they read no output)


#: step 1's script writes out/d.json; step 1's test adds a key that step 2's test needs
MADE_BY_TESTS = {
    "1": "import json\nfrom pathlib import Path\n\n\ndef test_a_and_mark():\n"
    "    data = json.loads(Path('out/d.json').read_text())\n    assert data['a'] == 1\n"
    "    data['t'] = 1\n    Path('out/d.json').write_text(json.dumps(data))\n",
    "2": "import json\nfrom pathlib import Path\n\n\ndef test_marked():\n"
    "    assert json.loads(Path('out/d.json').read_text()).get('t') == 1\n",
}
D_WRITER = (
    '"""Step 1: write d.\n\nUsage:\n    python PoC/step1_x.py\n"""\n'
    "import json\nfrom pathlib import Path\n\n"
    "Path('out').mkdir(exist_ok=True)\nPath('out/d.json').write_text(json.dumps({'a': 1}))\n"
)


def test_a_record_standing_on_what_other_tests_made_of_an_output_is_not_taken_without_it(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", MADE_BY_TESTS, depends={"2": "1"})
    (ws / "PoC/step1_x.py").write_text(D_WRITER, encoding="utf-8")
    assert run_doit(ws, "poc-complete").code == 0  # here the file is as step 1's tests left it
    clone = tmp_path / "clone"  # what CI gets: no local state, no outputs
    shutil.copytree(ws, clone, ignore=shutil.ignore_patterns(".pocflow", "out"))
    plain = tmp_path / "plain"
    shutil.copytree(clone, plain)
    for step in ("1", "2"):
        subprocess.run([sys.executable, f"PoC/step{step}_x.py"], cwd=plain, check=True)
    assert plain_pytest(plain, "2") != 0, "the case must really fail"
    status = run_doit(clone, "status")  # its record is no evidence there: not shown ✅
    assert "✅ 2" not in status.out, status.out
    result = run_doit(clone, "poc-complete")
    assert "test:2" in result.ran, result.out  # its tests ran on the clone's files
    assert "as tests had made it of what the scripts wrote" in result.out, result.out
    # green only where plain pytest agrees on the clone's files as that run left them
    assert result.code != 0 or plain_pytest(clone, "2") == 0, result.out + result.err


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_outputs_the_scripts_made_are_not_kept_as_made_by_tests(
    tmp_path: Path, workers: list[str]
) -> None:
    # step 2's test reads what its script made and writes it back marked: what it read was
    # the script's (under -n 2 too, where each worker sees the other's scripts only on disk)
    tests = {
        **DERIVED_TESTS,
        "2": DERIVED_TESTS["2"] + "\n\ndef test_and_mark():\n"
        "    derived = json.loads(Path('out/derived.json').read_text())\n"
        "    derived['checked'] = True\n"
        "    Path('out/derived.json').write_text(json.dumps(derived))\n",
    }
    ws = make_workspace(tmp_path / "ws", tests, depends={"2": "1"})
    (ws / "PoC/step1_x.py").write_text(WRITER, encoding="utf-8")
    (ws / "PoC/step2_x.py").write_text(READER, encoding="utf-8")
    result = run_doit(ws, *workers, "poc-complete")
    assert result.code == 0, result.out + result.err
    for step in ("1", "2"):
        record = json.loads((ws / f"steps/records/step{step}.json").read_text("utf-8"))
        assert not record["test"].get("reads_test_made"), (step, record["test"])


def test_an_edit_of_pocflows_own_table_runs_no_test(tmp_path: Path) -> None:
    """pytest reads pyproject.toml for its [tool.pytest] tables: [tool.pocflow] edited
    re-verifies no test."""
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    assert True\n"})
    first = run_doit(ws, "poc-complete")
    assert first.code == 0, first.out + first.err
    edit(ws / "pyproject.toml", lambda text: text.replace('"warn"', '"warn"\n# a note'))
    again = run_doit(ws, "poc-complete")
    assert again.code == 0 and "test:1" not in again.ran, again.out + again.err
