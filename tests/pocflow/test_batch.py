"""Batched test phases give the verdicts of one session per step, and find interference."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support import DoitRun, make_workspace, plain_pytest_run, run_doit

pytestmark = pytest.mark.e2e

TESTS = {
    "1": "def test_a():\n    assert True\n\ndef test_b():\n    assert 1 + 1 == 2\n",
    "2": "def test_ok():\n    assert True\n\ndef test_broken():\n    assert 2 + 2 == 5\n",
    "3": "import module_that_does_not_exist\n\ndef test_never():\n    assert True\n",
    "4": "def test_uses_shared(shared):\n    assert shared == 42\n",
    "5": "import pytest\n\ndef test_uses_shared(shared):\n    assert shared == 42\n\n"
    "@pytest.mark.skip(reason='later')\ndef test_skipped():\n    pass\n",
}
CONFTEST = "import pytest\n\n@pytest.fixture\ndef shared():\n    return 42\n"


def make(root: Path, tests: dict[str, str], conftest: str = CONFTEST, settings: str = "") -> Path:
    return make_workspace(root, tests, conftest, settings)


def verdicts(root: Path, steps: list[str]) -> dict[str, tuple[str, dict[str, int], list[str]]]:
    found = {}
    for n in steps:
        data = json.loads((root / f".pocflow/runs/step{n}/test.json").read_text(encoding="utf-8"))
        failing = sorted(t["nodeid"] for t in data["tests"] if t["outcome"] in ("failed", "error"))
        found[n] = (data["outcome"], data["counts"], failing + data["collection_errors"])
    return found


@pytest.mark.parametrize(
    "reference", ["test_batch = false\n", 'test_batch = false\ntest_runner = "subprocess"\n']
)
def test_batched_verdicts_equal_one_session_per_step(tmp_path: Path, reference: str) -> None:
    batched = make(tmp_path / "batched", TESTS)
    alone = make(tmp_path / "alone", TESTS, settings=reference)
    for workspace in (batched, alone):
        result = run_doit(workspace, "--continue", "poc-complete")
        assert result.code != 0  # steps 2 and 3 fail
    assert verdicts(batched, list(TESTS)) == verdicts(alone, list(TESTS))
    outcome = verdicts(batched, list(TESTS))
    assert [outcome[n][0] for n in TESTS] == ["passed", "failed", "failed", "passed", "passed"]
    assert outcome["3"][2][0].startswith("tests/test_step3_x.py: ModuleNotFoundError")
    assert outcome["5"][1] == {"passed": 1, "skipped": 1, "total": 2}


def test_batched_verdicts_under_doit_n_2_equal_one_session_per_step(tmp_path: Path) -> None:
    parallel = make(tmp_path / "parallel", TESTS)
    alone = make(tmp_path / "alone", TESTS, settings="test_batch = false\n")
    assert run_doit(parallel, "-n", "2", "--continue", "poc-complete").code != 0
    assert run_doit(alone, "--continue", "poc-complete").code != 0
    assert verdicts(parallel, list(TESTS)) == verdicts(alone, list(TESTS))


#: each test notes the session's process and when it ran, and takes a moment
TIMED = (
    "import os, time\nfrom pathlib import Path\n\n"
    "def test_{n}_a():\n"
    "    start = time.time()\n"
    "    time.sleep(0.5)\n"
    "    with Path({log!r}).open('a') as log:\n"
    "        log.write(f'{{os.getpid()}} {{start}} {{time.time()}} {n}\\n')\n"
)


def sessions_of(workspace: Path) -> list[set[str]]:
    """The test files each shared session of the last run selected (listed before its
    steps' groups, which follow a line `--`)."""
    return [
        set((folder / "selection.txt").read_text(encoding="utf-8").split("\n--\n")[0].split())
        for folder in sorted((workspace / ".pocflow/runs").glob("batch*"))
    ]


def test_under_doit_n_2_the_ready_steps_tests_run_in_two_sessions_side_by_side(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    steps = "12345678"  # two shares of SHARE_AT_LEAST steps
    workspace = make_workspace(tmp_path / "ws", {n: TIMED.format(n=n, log=str(log)) for n in steps})
    assert run_doit(workspace, "implement").code == 0  # every step ready when the tests start
    result = run_doit(workspace, "-n", "2", "poc-complete")
    assert result.code == 0, result.out + result.err
    runs = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    assert sorted(step for *_, step in runs) == list(steps)  # every test once
    shares = sessions_of(workspace)
    assert len(shares) == 2 and not shares[0] & shares[1], shares
    assert shares[0] | shares[1] == {f"tests/test_step{n}_x.py" for n in steps}
    spans = {}
    for pid, start, end, _ in runs:
        first, last = spans.get(pid, (float(start), float(end)))
        spans[pid] = (min(first, float(start)), max(last, float(end)))
    assert len(spans) == 2, spans  # two sessions, each in a process of its own
    (a_start, a_end), (b_start, b_end) = spans.values()
    assert a_start < b_end and b_start < a_end, f"the sessions did not overlap: {spans}"
    assert gate_record(workspace)["one_session"] is False
    assert run_doit(workspace, "-n", "2", "poc-complete").ran == []


def test_under_doit_n_2_with_the_suite_session_on_one_session_runs_every_test(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    workspace = counted(tmp_path / "ws", log, settings="suite_session = true\n", waves=False)
    assert run_doit(workspace, "implement").code == 0  # every step ready when the tests start
    result = run_doit(workspace, "-n", "2", "poc-complete")
    assert result.code == 0, result.out + result.err
    runs = runs_per_test(log)
    assert len(runs) == 10 and set(runs.values()) == {1}, runs  # the gate stood on it
    assert len(sessions_of(workspace)) == 1
    assert gate_record(workspace)["one_session"] is True


def test_batch_shares_one_session_across_ready_steps(tmp_path: Path) -> None:
    workspace = make(tmp_path / "ws", {n: TESTS[n] for n in ("1", "4", "5")})
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    report = json.loads((workspace / ".pocflow/runs/batch/pytest-report.json").read_text())
    files = {t["nodeid"].split("::")[0] for t in report["tests"]}
    assert files == {"tests/test_step1_x.py", "tests/test_step4_x.py", "tests/test_step5_x.py"}
    assert not (workspace / ".pocflow/runs/poc-complete/pytest-report.json").exists()


LEAKY = {
    "1": "import os\n\ndef test_sets_state():\n    os.environ['POCFLOW_LEAK'] = 'x'\n",
    "2": "import os\n\ndef test_expects_clean_state():\n"
    "    assert 'POCFLOW_LEAK' not in os.environ\n",
}


def test_tests_that_pass_alone_but_fail_together_are_found(tmp_path: Path) -> None:
    workspace = make(tmp_path / "ws", LEAKY, conftest="")
    result = run_doit(workspace, "poc-complete")
    output = result.out + result.err
    assert (
        "pocflow: warning: step 2's tests pass alone but fail in one session with steps 1" in output
    )
    assert verdicts(workspace, ["1", "2"])["2"][0] == "passed"  # the verdict of step 2 alone
    # the gate runs every step's tests in one session on that evidence (no setting needed),
    # and fails on it, in this run and the next
    for run in (result, run_doit(workspace, "poc-complete")):
        assert run.code == 1
        assert "every step passed alone, but the full step suite run as one session failed" in (
            run.out + run.err
        )


#: each test appends its own id to a log outside the workspace: how often each one ran
COUNTED = (
    "from pathlib import Path\n\n"
    "def test_{n}_a(request):\n"
    "    with Path({log!r}).open('a') as log:\n"
    "        log.write(request.node.nodeid + '\\n')\n\n"
    "def test_{n}_b(request):\n"
    "    with Path({log!r}).open('a') as log:\n"
    "        log.write(request.node.nodeid + '\\n')\n"
)
#: steps 2 and 3 wait for step 1, step 4 for step 3: the ready steps come in three waves
WAVES = {"2": "1", "3": "1", "4": "3"}


def counted(root: Path, log: Path, settings: str = "", waves: bool = True) -> Path:
    """Five steps (in three waves of ready steps, or all ready together), whose tests count
    their runs in ``log``."""
    tests = {n: COUNTED.format(n=n, log=str(log)) for n in "12345"}
    return make_workspace(root, tests, settings=settings, depends=WAVES if waves else None)


def runs_per_test(log: Path) -> Counter[str]:
    return Counter(log.read_text(encoding="utf-8").split()) if log.exists() else Counter()


def gate_record(workspace: Path) -> dict[str, Any]:
    return json.loads((workspace / "steps/records/poc-complete.json").read_text("utf-8"))


ONE_SESSION = "The full step suite, run as one pytest session: **10 tests, 10 passed**"
EACH_STEP = (
    "Every step's tests, each passed on the files as they were when the gate passed: "
    "**10 tests, 10 passed**"
)


def test_steps_ready_together_run_every_test_once_in_one_session(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    workspace = counted(tmp_path / "ws", log, waves=False)
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    runs = runs_per_test(log)
    assert len(runs) == 10 and set(runs.values()) == {1}, runs
    assert gate_record(workspace)["one_session"] is True  # the gate stood on that session
    assert ONE_SESSION in (workspace / "docs/poc1-results.md").read_text(encoding="utf-8")


def test_with_the_suite_session_on_the_gate_runs_every_test_together_when_no_session_held_them(
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    workspace = counted(tmp_path / "ws", log, settings="suite_session = true\n")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert set(runs_per_test(log).values()) == {2}  # the waves' sessions, then the suite's
    assert gate_record(workspace)["one_session"] is True
    log.unlink()
    assert run_doit(workspace, "poc-complete").code == 0  # nothing to do: nothing runs
    assert runs_per_test(log) == Counter()


def test_by_default_a_cold_run_executes_every_test_once(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    workspace = counted(tmp_path / "ws", log)  # suite_session is off outside CI
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    runs = runs_per_test(log)
    assert len(runs) == 10 and set(runs.values()) == {1}, runs
    gate = gate_record(workspace)
    assert gate["one_session"] is False
    assert sum(c["total"] for c in gate["counts"].values()) == 10
    assert EACH_STEP in (workspace / "docs/poc1-results.md").read_text(encoding="utf-8")
    log.unlink()
    # POCFLOW_SUITE_SESSION=1 for one run (the shipped CI workflows): the local gate record
    # does not stand on one session, so the gate runs one, and only it
    suite = {"POCFLOW_SUITE_SESSION": "1"}
    result = run_doit(workspace, "poc-complete", env=suite)
    assert result.code == 0, result.out + result.err
    runs = runs_per_test(log)
    assert len(runs) == 10 and set(runs.values()) == {1}, runs
    assert gate_record(workspace)["one_session"] is True
    assert ONE_SESSION in (workspace / "docs/poc1-results.md").read_text(encoding="utf-8")
    log.unlink()
    assert run_doit(workspace, "poc-complete", env=suite).code == 0  # that record stands
    assert run_doit(workspace, "poc-complete").code == 0  # and does without the variable
    assert runs_per_test(log) == Counter()


def test_POCFLOW_SUITE_SESSION_0_leaves_the_session_out_for_one_run(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    workspace = counted(tmp_path / "ws", log, settings="suite_session = true\n")
    result = run_doit(workspace, "poc-complete", env={"POCFLOW_SUITE_SESSION": "0"})
    assert result.code == 0, result.out + result.err
    assert set(runs_per_test(log).values()) == {1}
    assert gate_record(workspace)["one_session"] is False


#: step 1's test leaves a mark in the interpreter; step 2's test wants none
MARKING = {
    "1": "import sys\n\ndef test_marks():\n    sys.poc_mark = 1\n",
    "2": "import sys\n\ndef test_wants_no_mark():\n    assert not hasattr(sys, 'poc_mark')\n",
}


def test_a_suite_session_seen_failing_here_is_run_again_whatever_the_gate_record_says(
    tmp_path: Path,
) -> None:
    workspace = make(tmp_path / "ws", MARKING, conftest="", settings="suite_session = false\n")
    for target in ("step:1", "step:2", "poc-complete"):  # no session held both steps
        assert run_doit(workspace, target).code == 0
    assert gate_record(workspace)["one_session"] is False
    failed = run_doit(workspace, "poc-complete", env={"POCFLOW_SUITE_SESSION": "1"})
    assert failed.code == 1
    assert "the full step suite run as one session failed" in failed.out + failed.err
    # the setting off again, the record edited to claim one session: the evidence stands
    path = workspace / "steps/records/poc-complete.json"
    path.write_text(path.read_text("utf-8").replace('"one_session": false', '"one_session": true'))
    again = run_doit(workspace, "poc-complete")
    assert again.code == 1, again.out + again.err
    assert "the full step suite run as one session failed" in again.out + again.err


#: step 1 writes the report; the tests of steps 2 and 3 read it and add their line, step
#: 2's refusing one from step 3 (what `pytest tests/` would find: step 3's line is there)
REPORT_HEAD = (
    "import time\nfrom pathlib import Path\n\n"
    "REPORT = Path(__file__).resolve().parents[1] / 'out' / 'report.csv'\n\n\n"
)


def report_reader(n: str, before: float, refuses_three: bool) -> str:
    return (
        REPORT_HEAD + f"def test_report_{n}():\n    time.sleep({before})\n"
        "    text = REPORT.read_text(encoding='utf-8')\n"
        "    assert text.startswith('zone,n')\n"
        + ("    assert 'checked-by,3' not in text, text\n" if refuses_three else "")
        + "    with REPORT.open('a', encoding='utf-8') as report:\n"
        f"        report.write('checked-by,{n}\\n')\n"
        "    time.sleep(4)\n"
    )


#: the test files of the two steps whose tests read and extend the report
STEP2, STEP3 = "tests/test_step2_x.py", "tests/test_step3_x.py"


def test_an_output_another_workers_session_changes_is_not_taken_as_this_sessions_own(
    tmp_path: Path,
) -> None:
    # which ready test task a worker starts first decides the shares: step 1's (or 4's…) puts
    # steps 2 and 3 in sessions side by side, the case; step 2's or 3's puts them in one
    # session. That follows doit's hash seed (seed 1: step 1's) and, under load, the two
    # workers' race for the first tasks: the run is made again until the case is made (up to
    # four times), and the verdict must be right every time
    for attempt in range(4):
        workspace, result = _report_readers_run(tmp_path / f"ws{attempt}")
        plain = subprocess.run(
            [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", STEP2],
            cwd=workspace,
            capture_output=True,
            check=False,
        )
        assert plain.returncode != 0, "the case must really fail"
        assert result.code != 0, result.out + result.err
        assert "✅ 2" not in run_doit(workspace, "status").out
        shares = sessions_of(workspace)
        if len(shares) == 2 and not any({STEP2, STEP3} <= share for share in shares):
            return  # steps 2 and 3 were in sessions side by side
    pytest.fail(f"in 4 runs, steps 2 and 3 never had sessions side by side: {shares}")


def _report_readers_run(root: Path) -> tuple[Path, DoitRun]:
    """Ten steps, every one's script run; then `doit -n 2 poc-complete`."""
    tests = {str(n): "def test_ok():\n    assert True\n" for n in range(1, 11)}
    tests["2"] = report_reader("2", 0, refuses_three=True)
    tests["3"] = report_reader("3", 1.5, refuses_three=False)
    workspace = make_workspace(root, tests)
    (workspace / "steps").mkdir(exist_ok=True)
    (workspace / "steps/step1.yaml").write_text("outputs:\n  - out/report.csv\n", "utf-8")
    (workspace / "PoC/step1_x.py").write_text(
        '"""Step 1: the report.\n\nUsage:\n    python PoC/step1_x.py\n"""\n'
        "from pathlib import Path\n\nPath('out').mkdir(exist_ok=True)\n"
        "Path('out/report.csv').write_text('zone,n\\n', encoding='utf-8')\n",
        encoding="utf-8",
    )
    assert run_doit(workspace, "implement").code == 0  # every step ready when the tests start
    return workspace, run_doit(workspace, "-n", "2", "poc-complete", env={"PYTHONHASHSEED": "1"})


def test_a_step_whose_input_a_rerun_script_changed_shares_the_session_and_its_order_is_seen(
    tmp_path: Path,
) -> None:
    # step 1's test reads data/f.txt and sets a flag; step 3's test passes only after step
    # 2's test ran without that flag. Step 2's script, edited, rewrites data/f.txt (step 4
    # writes it back). Step 1's test, whose input changed, shares the session of steps 2
    # and 3, and step 3 fails as it does alone. (Leaving out the steps doit had found
    # current made that session steps 2 and 3 alone: step 3 passed, the PoC too.)
    script = '"""Step {n}.\n\nUsage:\n    python PoC/step{n}_x.py\n"""\n'
    workspace = make_workspace(
        tmp_path / "ws",
        {
            "1": "import json\n\ndef test_x():\n    json.LOCK = True\n"
            "    assert open('data/f.txt').read() == 'ok\\n'\n",
            "2": "def test_x():\n    pass\n",
            "3": "def test_x():\n    pass\n",
            "4": "def test_x():\n    pass\n",
        },
        depends={"2": "1", "3": "1", "4": "2"},
    )
    (workspace / "data").mkdir()
    (workspace / "data/f.txt").write_text("ok\n", encoding="utf-8")
    (workspace / "PoC/step4_x.py").write_text(
        script.format(n=4) + "open('data/f.txt', 'w').write('ok\\n')\n", encoding="utf-8"
    )
    assert run_doit(workspace, "poc-complete").code == 0
    (workspace / "PoC/step2_x.py").write_text(
        script.format(n=2) + "open('data/f.txt', 'w').write('tmp\\n')\n", encoding="utf-8"
    )
    (workspace / "tests/test_step2_x.py").write_text(
        "import json\n\ndef test_x():\n    if not getattr(json, 'LOCK', False):\n"
        "        json.READY = True\n",
        encoding="utf-8",
    )
    (workspace / "tests/test_step3_x.py").write_text(
        "import json\n\ndef test_x():\n    assert getattr(json, 'READY', False)\n",
        encoding="utf-8",
    )
    plain = plain_pytest_run(workspace, "tests/test_step3_x.py")
    assert plain.returncode == 1  # step 3's test really fails on these files
    result = run_doit(workspace, "poc-complete")
    assert result.code == 1, result.out + result.err
    assert "test:3" in result.out + result.err


def test_a_step_that_passed_in_a_session_where_another_failed_records_its_own_exit_code(
    tmp_path: Path,
) -> None:
    workspace = make(tmp_path / "ws", {n: TESTS[n] for n in ("1", "2")})
    assert run_doit(workspace, "--continue", "poc-complete").code != 0
    codes = {}
    for n in ("1", "2"):
        run = json.loads((workspace / f".pocflow/runs/step{n}/test.json").read_text("utf-8"))
        codes[n] = (run["outcome"], run["exit_code"])
    assert codes == {"1": ("passed", 0), "2": ("failed", 1)}


def test_tests_a_session_stopped_before_are_not_called_failing_beside_others(
    tmp_path: Path,
) -> None:
    """`-x` in pytest's options: the shared session stops at step 1's failure, before step
    2's tests run. Step 2 runs alone and passes, as `pytest tests/test_step2_x.py` does; it
    did not fail beside step 1 (no shared state to suspect), and once step 1 is fixed the
    gate passes."""
    workspace = make(
        tmp_path / "ws",
        {"1": "def test_one():\n    assert 1 == 2\n", "2": TESTS["1"]},
        conftest="",
        settings='\n[tool.pytest.ini_options]\naddopts = "-x"\n',
    )
    result = run_doit(workspace, "--continue", "poc-complete")
    output = result.out + result.err
    assert result.code == 1, output
    assert "shared state" not in output and "fail in one session" not in output
    assert (
        "pocflow: step 2's tests did not run in the session shared with step 1: pytest "
        "stopped it first (stopping after 1 failures); they ran alone" in output
    )
    assert verdicts(workspace, ["1", "2"]) == {
        "1": ("failed", {"failed": 1, "total": 1}, ["tests/test_step1_x.py::test_one"]),
        "2": ("passed", {"passed": 2, "total": 2}, []),
    }
    (workspace / "tests/test_step1_x.py").write_text("def test_one():\n    assert 1 == 1\n")
    fixed = run_doit(workspace, "poc-complete")
    assert fixed.code == 0, fixed.out + fixed.err


#: a conftest whose hook fails the session when step 2's tests ran and a file is there (a
#: "tidy tree" check): `pytest tests/test_step2_x.py` then exits 1 with every test passing
EXIT_BY_HOOK = (
    "from pathlib import Path\n\n\n"
    "def pytest_sessionfinish(session, exitstatus):\n"
    "    if any('test_step2_' in str(i.path) for i in session.items)"
    " and Path('step2.lock').exists():\n"
    "        session.exitstatus = 1\n"
)


def test_an_exit_status_a_hook_set_is_not_put_down_to_another_steps_failure(
    tmp_path: Path,
) -> None:
    """A conftest hook sets the session's exit status to 1 for step 2's tests, whose every test
    passes, while step 1 really fails in the same session. That exit status is not step 1's
    to explain: step 2 runs alone, fails there as `pytest tests/test_step2_x.py` does, and
    stays failed once step 1 is fixed."""
    workspace = make(
        tmp_path / "ws",
        {"1": "def test_one():\n    assert 1 == 2\n", "2": TESTS["1"]},
        conftest=EXIT_BY_HOOK,
    )
    (workspace / "step2.lock").write_text("held\n")
    plain = plain_pytest_run(workspace, "tests/test_step2_x.py")
    assert plain.returncode == 1 and "2 passed" in plain.stdout, plain.stdout
    result = run_doit(workspace, "--continue", "poc-complete")
    assert result.code == 1, result.out + result.err
    assert verdicts(workspace, ["2"])["2"][0] == "failed"
    (workspace / "tests/test_step1_x.py").write_text("def test_one():\n    assert 1 == 1\n")
    fixed = run_doit(workspace, "--continue", "poc-complete")
    output = fixed.out + fixed.err
    assert fixed.code == 1, output
    assert "step 2" in output and "pytest exited with code 1" in output, output


#: a test whose process ends with status 1 once its tests are done, as Python ends it
ENDS_BADLY = {
    "an atexit check": (
        "import atexit\nimport os\n\n\ndef _check():\n"
        "    if os.path.exists('leftover.lock'):\n        os._exit(1)\n\n\n"
        "def test_leaves_a_lock():\n    atexit.register(_check)\n"
        "    open('leftover.lock', 'w').close()\n"
    ),
    "a thread not marked daemon": (
        "import os\nimport threading\n\n\ndef _late():\n"
        "    threading.main_thread().join()  # (the process is ending)\n    os._exit(1)\n\n\n"
        "def test_starts_a_worker():\n    threading.Thread(target=_late).start()\n"
    ),
}


@pytest.mark.parametrize("runner", ["fork", "subprocess"])
@pytest.mark.parametrize("how", list(ENDS_BADLY))
def test_what_ends_the_test_process_after_its_tests_counts_as_in_plain_pytest(
    tmp_path: Path, how: str, runner: str
) -> None:
    """Python waits for the threads not marked daemon and runs the atexit callbacks as the
    pytest process ends; one that ends it with status 1 makes `pytest <file>` exit 1 after
    "1 passed". pocflow's sessions end the same way: the step is not verified."""
    workspace = make(
        tmp_path / "ws",
        {"1": ENDS_BADLY[how], "2": TESTS["1"]},
        conftest="",
        settings=f'test_runner = "{runner}"\n',
    )
    plain = plain_pytest_run(workspace, "tests/test_step1_x.py")
    assert plain.returncode == 1 and "1 passed" in plain.stdout, plain.stdout
    (workspace / "leftover.lock").unlink(missing_ok=True)
    result = run_doit(workspace, "--continue", "poc-complete")
    assert result.code == 1, result.out + result.err
    assert verdicts(workspace, ["1", "2"])["1"][0] == "failed"
    assert verdicts(workspace, ["1", "2"])["2"][0] == "passed"


#: a command-line main() called without arguments: under `pytest <its file>` it parses the
#: one test file as its argument; given two, argparse exits
PARSES_ARGV = (
    "import argparse\n\nimport pytest\n\n\ndef main():\n"
    "    parser = argparse.ArgumentParser()\n    parser.add_argument('domain')\n"
    "    parser.parse_args()\n    return 1\n\n\n"
    "def test_no_domain_is_a_usage_error():\n"
    "    with pytest.raises(SystemExit):\n        main()\n"
)


@pytest.mark.parametrize("runner", ["fork", "subprocess"])
def test_a_step_in_a_shared_session_sees_the_command_line_of_its_own_files(
    tmp_path: Path, runner: str
) -> None:
    """In a session shared with step 2, step 1's test sees sys.argv (and config.args) as
    `pytest tests/test_step1_x.py` gives them, not every step's files: its main() parses the
    one file as its argument and returns, so the test fails as it does under plain pytest."""
    workspace = make(
        tmp_path / "ws",
        {
            "1": PARSES_ARGV,
            "2": "def test_args(request):\n"
            "    assert request.config.args == ['tests/test_step2_x.py']\n",
        },
        conftest="",
        settings=f'test_runner = "{runner}"\n',
    )
    result = run_doit(workspace, "--continue", "poc-complete")
    assert result.code == 1, result.out + result.err
    # each saw its own command line in the shared session: none failed there, passing alone
    assert "shared state" not in result.out + result.err
    assert verdicts(workspace, ["1", "2"]) == {
        "1": (
            "failed",
            {"failed": 1, "total": 1},
            ["tests/test_step1_x.py::test_no_domain_is_a_usage_error"],
        ),
        "2": ("passed", {"passed": 1, "total": 1}, []),
    }
    assert sessions_of(workspace) == [{"tests/test_step1_x.py", "tests/test_step2_x.py"}]


@pytest.mark.parametrize("runner", ["fork", "subprocess"])
def test_a_test_printing_what_cannot_be_encoded_fails_as_under_plain_pytest(
    tmp_path: Path, runner: str
) -> None:
    """A lone surrogate printed to the real standard output raises UnicodeEncodeError in a
    plain `pytest` process whose output is strict UTF-8 (as under a UTF-8 locale; the C
    locale escapes it); pocflow's sessions encode their output as such a process does."""
    test = (
        "def test_prints(capsys):\n"
        "    text = b'caf\\xed\\xb2\\x80'.decode('utf-8', 'surrogatepass')\n"
        "    with capsys.disabled():\n        print(text)\n"
    )
    workspace = make(
        tmp_path / "ws", {"1": test}, conftest="", settings=f'test_runner = "{runner}"\n'
    )
    locale = {"PYTHONIOENCODING": "utf-8:strict"}
    plain = plain_pytest_run(workspace, "tests/test_step1_x.py", env=locale)
    assert plain.returncode == 1 and "UnicodeEncodeError" in plain.stdout, plain.stdout
    result = run_doit(workspace, "--continue", "poc-complete", env=locale)
    assert result.code == 1, result.out + result.err
    assert verdicts(workspace, ["1"])["1"][0] == "failed"


#: a conftest that skips the slow tests unless one test file is named (a run of the suite
#: leaves them to a nightly job)
SLOW_UNLESS_ONE_FILE = (
    "import pytest\n\n\ndef pytest_collection_modifyitems(config, items):\n"
    "    if not (len(config.args) == 1 and config.args[0].endswith('.py')):\n"
    "        for item in items:\n"
    "            if 'slow' in item.keywords:\n"
    "                item.add_marker(pytest.mark.skip(reason='slow: name its file'))\n"
)
#: a step's test module that registers a plugin module for the whole session
REGISTERS_PLUGIN = (
    "pytest_plugins = ['sample_fixtures']\n\n\ndef test_limit(limit):\n    assert limit == 3\n"
)


#: skipping the slow tests when the session is large, by its items (a hook, a fixture)
SLOW_IN_A_LARGE_SESSION = {
    "a hook skipping by the session's size": (
        "import pytest\n\n\ndef pytest_collection_modifyitems(config, items):\n"
        "    if len(items) > 2:\n        for item in items:\n"
        "            if 'slow' in item.keywords:\n"
        "                item.add_marker(pytest.mark.skip(reason='slow'))\n"
    ),
    "a fixture marking a test to fail by the session's size": (
        "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef _slow_alone(request):\n"
        "    if 'slow' in request.keywords and len(request.session.items) > 2:\n"
        "        pytest.xfail('slow')\n"
    ),
    "a fixture adding an xfail mark by the session's size": (
        "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef _slow_alone(request):\n"
        "    if 'slow' in request.keywords and len(request.session.items) > 2:\n"
        "        request.node.add_marker(pytest.mark.xfail(reason='slow'))\n"
    ),
    "a hook wrapper passing a failure by the session's size": (
        "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    report = outcome.get_result()\n"
        "    if report.failed and 'slow' in item.keywords and len(item.session.items) > 2:\n"
        "        report.outcome, report.longrepr = 'passed', None\n"
    ),
    "a fixture skipping by the session's size": (
        "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef _slow_alone(request):\n"
        "    if 'slow' in request.keywords and len(request.session.items) > 2:\n"
        "        pytest.skip('slow')\n"
    ),
}


@pytest.mark.parametrize(
    "how",
    ["a hook reading config.args", "pytest_plugins in a test module", *SLOW_IN_A_LARGE_SESSION],
)
def test_a_session_wide_view_of_a_shared_session_has_each_step_run_alone(
    tmp_path: Path, how: str
) -> None:
    """What applies to every step of a shared session at once: a conftest hook that decides
    by the files named (config.args holds every step's) or by the session's size (its
    items), a fixture skipping by the session's size, or a test module's pytest_plugins (its
    fixtures serve every step's tests). Step 1's tests fail under `pytest <its file>`
    (a slow test runs and fails; a fixture is not found): pocflow runs each step alone, and
    step 1 is not verified."""
    if how != "pytest_plugins in a test module":
        tests = {
            "1": "import pytest\n\n\n@pytest.mark.slow\ndef test_big():\n    assert 1 == 2\n\n\n"
            "def test_small():\n    assert True\n",
            "2": TESTS["1"],
        }
        conftest, settings = (
            SLOW_IN_A_LARGE_SESSION.get(how, SLOW_UNLESS_ONE_FILE),
            '\n[tool.pytest.ini_options]\nmarkers = ["slow"]\n',
        )
    else:
        tests = {"1": "def test_uses(limit):\n    assert limit == 3\n", "2": REGISTERS_PLUGIN}
        conftest, settings = "", '\n[tool.pytest.ini_options]\npythonpath = ["PoC"]\n'
    workspace = make(tmp_path / "ws", tests, conftest=conftest, settings=settings)
    (workspace / "PoC/sample_fixtures.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef limit():\n    return 3\n"
    )
    plain = plain_pytest_run(workspace, "tests/test_step1_x.py")
    assert plain.returncode == 1, plain.stdout
    result = run_doit(workspace, "--continue", "poc-complete")
    assert result.code == 1, result.out + result.err
    assert len(sessions_of(workspace)) == 1  # the two steps shared one session first
    assert verdicts(workspace, ["1", "2"])["1"][0] == "failed"
    assert verdicts(workspace, ["1", "2"])["2"][0] == "passed"


def test_a_tests_own_skip_marks_keep_its_step_in_the_shared_session(tmp_path: Path) -> None:
    """A test skipped by its own marks (skip, skipif) or its own body is skipped alike under
    `pytest <its file>`: its step's verdict stands on the shared session, run once."""
    skips = (
        "import sys\n\nimport pytest\n\n\n@pytest.mark.skip(reason='later')\ndef test_a():\n"
        "    pass\n\n\n@pytest.mark.skipif(sys.version_info > (2,), reason='old')\n"
        "def test_b():\n    pass\n\n\ndef test_c():\n    pytest.skip('not here')\n\n\n"
        "def test_d():\n    assert True\n"
    )
    workspace = make(tmp_path / "ws", {"1": skips, "2": TESTS["1"]}, conftest="")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert sessions_of(workspace) == [{"tests/test_step1_x.py", "tests/test_step2_x.py"}]
    assert not (workspace / ".pocflow/runs/step1/pytest.log").exists()  # never run alone


#: a slow test's body that returns early in a large run, by what the session holds
RETURNS_EARLY = {
    "the session's items": "len(request.session.items) > 2",
    "the session's count": "request.session.testscollected > 2",
    "the early parsed arguments": "len(request.config.known_args_namespace.file_or_dir) > 1",
}


@pytest.mark.parametrize("reads", list(RETURNS_EARLY))
def test_a_test_deciding_by_what_a_shared_session_holds_has_its_step_run_alone(
    tmp_path: Path, reads: str
) -> None:
    """A test returning early when the session is large (its items, their count, the files
    parsed early): in a shared session it passes; under `pytest <its file>` it checks, and
    fails. Reading what holds every step's is noted, and the step runs alone."""
    test = (
        f"def test_big(request):\n    if {RETURNS_EARLY[reads]}:\n        return\n"
        "    assert 1 == 2\n\n\ndef test_small():\n    assert True\n"
    )
    workspace = make(tmp_path / "ws", {"1": test, "2": TESTS["1"]}, conftest="")
    result = run_doit(workspace, "--continue", "poc-complete")
    assert result.code == 1, result.out + result.err
    assert len(sessions_of(workspace)) == 1
    assert verdicts(workspace, ["1", "2"])["1"][0] == "failed"
    assert verdicts(workspace, ["1", "2"])["2"][0] == "passed"


def test_steps_that_depend_on_one_same_step_run_in_plan_order(tmp_path: Path) -> None:
    # doit released the tasks waiting for one same task in an order set by where in memory
    # they lay: sibling steps ran 1 3 2 in one run and 1 2 3 in the next, and a file they
    # both extend held something else each time
    siblings = ["2", "3a", "3b", "4", "4_1"]
    tests = {sid: "def test_it():\n    assert True\n" for sid in ["1", *siblings]}
    ws = make_workspace(tmp_path / "ws", tests, depends={sid: "1" for sid in siblings})
    for sid in ["1", *siblings]:  # each script notes that it ran, where every one can see
        (ws / f"PoC/step{sid}_x.py").write_text(
            f'"""Step {sid}.\n\nUsage:\n    python PoC/step{sid}_x.py\n"""\n'
            "import os\n\nwith open(os.environ['ORDER_LOG'], 'a') as log:\n"
            f"    log.write('{sid} ')\n",
            encoding="utf-8",
        )
    log = tmp_path / "order.log"  # (outside the workspace: no step's output)
    result = run_doit(ws, "poc-complete", env={"ORDER_LOG": str(log)})
    assert result.code == 0, result.out + result.err
    assert log.read_text(encoding="utf-8").split() == ["1", *siblings]
    assert [t for t in result.ran if t.startswith("test:")] == [
        f"test:{sid}" for sid in ["1", *siblings]
    ]
