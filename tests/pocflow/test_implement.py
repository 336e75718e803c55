"""The implement phase: real subprocesses, timeouts, logs and metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pocflow import implement
from pocflow.implement import ImplementSpec, run_implement
from pocflow.observed import DIE_WITH_ENV, observed_script_env
from pocflow.record import read_implement


def spec(root: Path, scripts: tuple[str, ...], **changes: object) -> ImplementSpec:
    values: dict[str, object] = dict(
        root=str(root),
        step_id="1",
        scripts=scripts,
        args=(),
        env=(),
        timeout=30.0,
        inputs=scripts,
        outputs=(),
        run_dir=".pocflow/runs/step1",
        result_file=".pocflow/runs/step1/implement.json",
    )
    values.update(changes)
    return ImplementSpec(**values)  # type: ignore[arg-type]


USAGE = '"""A step.\n\nUsage:\n    uv run python PoC/x.py\n"""\n'


def script(root: Path, name: str, body: str, docstring: str = USAGE) -> str:
    (root / "PoC").mkdir(exist_ok=True)
    (root / "PoC" / name).write_text(docstring + body, encoding="utf-8")
    return f"PoC/{name}"


def test_run_implement_runs_scripts_in_order_with_args_env_and_metrics(tmp_path: Path) -> None:
    main = script(
        tmp_path,
        "step1_a.py",
        "import json, os, sys\n"
        "open('order.txt', 'a').write('main ' + ' '.join(sys.argv[1:]) + '\\n')\n"
        "json.dump({'rows': 3, 'mode': os.environ['MODE']}, "
        "open(os.environ['POCFLOW_METRICS_FILE'], 'w'))\n",
    )
    check = script(tmp_path, "step1_validate_a.py", "open('order.txt', 'a').write('check\\n')\n")
    result = run_implement(spec(tmp_path, (main, check), args=("--fast",), env=(("MODE", "full"),)))
    assert result.outcome == "passed"
    assert (tmp_path / "order.txt").read_text() == "main --fast\ncheck\n"
    result = read_implement(tmp_path / ".pocflow/runs/step1/implement.json")
    assert result is not None
    assert result.metrics == {"rows": 3, "mode": "full"}
    assert [s.exit_code for s in result.scripts] == [0, 0]
    assert {main, check} <= set(result.inputs)  # and what the scripts really read
    assert {main, check} <= set(result.observed)


def test_a_script_that_could_not_be_observed_is_not_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = script(tmp_path, "step1_a.py", "print('ran')\n")
    # as if Python had ignored PYTHONPATH: the script runs, nobody watches what it reads
    monkeypatch.setattr(implement, "observed_script_env", lambda env, root, facts: env)
    result = run_implement(spec(tmp_path, (main,)))
    assert result.outcome == "failed"
    assert "pocflow could not observe PoC/step1_a.py" in result.message


def test_run_implement_failure_names_exit_code_and_stderr_tail(tmp_path: Path) -> None:
    main = script(
        tmp_path, "step1_a.py", "import sys\nprint('working')\nsys.exit('database is locked')\n"
    )
    result = run_implement(spec(tmp_path, (main,)))
    assert result.outcome == "failed"
    assert "step 1: PoC/step1_a.py exited with code 1" in result.message
    assert "database is locked" in result.message
    assert "full log: .pocflow/runs/step1/step1_a.log" in result.message
    log = (tmp_path / ".pocflow/runs/step1/step1_a.log").read_text()
    assert "working" in log and "database is locked" in log


def test_run_implement_stops_at_first_failing_script(tmp_path: Path) -> None:
    main = script(tmp_path, "step1_a.py", "raise SystemExit(3)\n")
    check = script(tmp_path, "step1_validate_a.py", "open('ran.txt', 'w')\n")
    assert run_implement(spec(tmp_path, (main, check))).outcome == "failed"
    assert not (tmp_path / "ran.txt").exists()


def test_run_implement_timeout_stops_script_and_its_children(tmp_path: Path) -> None:
    main = script(
        tmp_path,
        "step1_a.py",
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; "
        "time.sleep(60)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(60)\n",
    )
    started = time.monotonic()
    result = run_implement(spec(tmp_path, (main,), timeout=1.5))
    assert result.outcome == "failed"
    assert "did not finish within 1.5 s and was stopped" in result.message
    assert time.monotonic() - started < 30
    child = int((tmp_path / "child.pid").read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the script's child process survived the timeout")


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("{not json", "are not valid JSON"),
        ("[1, 2]", "must be one JSON object of name: value, got list"),
    ],
)
def test_run_implement_invalid_metrics_fail_clearly(
    tmp_path: Path, written: str, message: str
) -> None:
    main = script(
        tmp_path,
        "step1_a.py",
        f"import os\nopen(os.environ['POCFLOW_METRICS_FILE'], 'w').write({written!r})\n",
    )
    result = run_implement(spec(tmp_path, (main,)))
    assert result.outcome == "failed" and message in result.message


def test_run_implement_missing_declared_output(tmp_path: Path) -> None:
    main = script(tmp_path, "step1_a.py", "pass\n")
    result = run_implement(spec(tmp_path, (main,), outputs=("out/db.sqlite",)))
    assert result.outcome == "failed"
    assert "declared output(s) not written by the script: out/db.sqlite" in result.message


def test_run_implement_without_script(tmp_path: Path) -> None:
    result = run_implement(spec(tmp_path, ()))
    assert (
        result.outcome == "failed"
        and "step 1 has no script; add PoC/step1_<description>.py (or run `doit new 1`)"
        in result.message
    )
    assert (
        json.loads((tmp_path / ".pocflow/runs/step1/implement.json").read_text())["outcome"]
        == "failed"
    )


@pytest.mark.parametrize(
    ("docstring", "message"),
    [
        ("", "no module docstring; start the script with a docstring"),
        ('"""Loads the rows."""\n', "the module docstring has no usage example"),
        ("def broken(:\n", "line 1: syntax error"),
    ],
)
def test_run_implement_checkpoint_docstring_with_usage(
    tmp_path: Path, docstring: str, message: str
) -> None:
    main = script(tmp_path, "step1_a.py", "open('ran.txt', 'w')\n", docstring=docstring)
    result = run_implement(spec(tmp_path, (main,)))
    assert result.outcome == "failed"
    assert f"step 1: PoC/step1_a.py: {message}" in result.message
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.parametrize(
    "docstring",
    [
        '"""Step 1.\n\nExample:\n    python PoC/step1_a.py --fast\n"""\n',
        '"""Step 1.\n\n>>> main()\n"""\n',
        '"""Step 1.\n\nusage: python PoC/step1_a.py\n"""\n',
    ],
)
def test_run_implement_accepts_usage_forms(tmp_path: Path, docstring: str) -> None:
    main = script(tmp_path, "step1_a.py", "pass\n", docstring=docstring)
    assert run_implement(spec(tmp_path, (main,))).outcome == "passed"


def test_run_implement_manual_step_is_not_run(tmp_path: Path) -> None:
    main = script(tmp_path, "step1_a.py", "open('ran.txt', 'w')\n")
    result = run_implement(
        spec(
            tmp_path,
            (main,),
            manual="needs the payment sandbox",
            outputs=("out/never.csv",),
            thresholds=("rows >= 1",),
        )
    )
    assert result.outcome == "passed"
    assert not (tmp_path / "ran.txt").exists()
    result = read_implement(tmp_path / ".pocflow/runs/step1/implement.json")
    assert result is not None
    assert (result.manual, result.scripts, result.outcome) == (
        "needs the payment sandbox",
        [],
        "passed",
    )


def test_waiting_for_a_script_is_woken_by_its_exit_not_by_polling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Popen.wait(timeout) sleeps in steps that double up to 50 ms: a 40 ms script was seen
    # ending at 63 ms. wait_exit is woken by the exit itself (and never sleeps to poll).
    import subprocess
    import sys

    from pocflow._proc import wait_exit

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"polled with sleep({seconds})")

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    monkeypatch.setattr(time, "sleep", no_sleep)
    wait_exit(process, timeout=60)
    assert process.returncode == 0
    wait_exit(process, timeout=60)  # already reaped: returns at once


def test_waiting_for_a_script_past_its_timeout_raises_and_leaves_it_running() -> None:
    import subprocess
    import sys

    from pocflow._proc import wait_exit

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            wait_exit(process, timeout=0.3)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


def test_an_infinite_timeout_means_no_limit(tmp_path: Path) -> None:
    from pocflow.manifest import load_manifest

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps/step1.yaml").write_text("timeout: .inf\n", encoding="utf-8")
    assert load_manifest(tmp_path, "steps/step1.yaml").timeout == float("inf")
    main = script(tmp_path, "step1_a.py", "import time\ntime.sleep(0.2)\n")
    assert run_implement(spec(tmp_path, (main,), timeout=float("inf"))).outcome == "passed"


SEES = """
import ctypes, json, signal, sys
seen = ctypes.c_int(0)
ctypes.CDLL(None).prctl(2, ctypes.byref(seen), 0, 0, 0)  # PR_GET_PDEATHSIG
print(json.dumps({
    "death_signal": seen.value,
    "sigint_default": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
    "die_with_left": "POCFLOW_DIE_WITH" in __import__("os").environ,
}))
"""


def _run_as_pocflow_runs(
    root: Path,
    rel: str,
    die_with: int | None = None,
    pythonpath: str | None = None,
    ignore_sigint: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python SCRIPT` with the environment pocflow gives a step script (with PYTHONPATH as
    given), asked to die with ``die_with`` (None: not asked), SIGINT ignored when told (as in
    a worker of `doit -n`)."""
    base = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    env = observed_script_env(base, root, root / "facts.json")
    env.pop(DIE_WITH_ENV)
    if die_with is not None:
        env[DIE_WITH_ENV] = str(die_with)
    return subprocess.run(
        [sys.executable, rel],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if ignore_sigint
        else None,
    )


def _started_as_pocflow_starts(root: Path, parent: int) -> subprocess.CompletedProcess[str]:
    """The script that says what it saw, started to die with ``parent``, SIGINT ignored."""
    return _run_as_pocflow_runs(root, script(root, "sees.py", SEES), parent, ignore_sigint=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_step_script_asks_to_die_with_pocflow_from_its_own_start(tmp_path: Path) -> None:
    done = _started_as_pocflow_starts(tmp_path, os.getpid())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "death_signal": signal.SIGKILL,
        "sigint_default": True,  # Ctrl-C is a KeyboardInterrupt, as in a plain Python
        "die_with_left": False,  # and nothing of it reaches what the script starts
    }


def test_a_step_script_whose_pocflow_died_before_it_started_ends_at_once(tmp_path: Path) -> None:
    # the parent it was started to die with is gone (it is another pid's child now)
    done = _started_as_pocflow_starts(tmp_path, os.getpid() + 1_000_000)
    assert done.returncode == 1
    assert done.stdout == ""


def test_a_step_script_imports_ctypes_afresh_as_a_plain_python_does(tmp_path: Path) -> None:
    # dying with pocflow used ctypes before the script started: the script does not find it
    # loaded, and its own import of it works
    body = (
        "import sys\nprint('ctypes' in sys.modules)\nimport ctypes\nprint(ctypes.c_int(3).value)\n"
    )
    done = _run_as_pocflow_runs(tmp_path, script(tmp_path, "modules.py", body), os.getpid())
    assert (done.returncode, done.stdout) == (0, "False\n3\n"), done.stderr


DEATH_SIGNAL_AFTER_EXEC = """
import os, sys
# PR_SET_PDEATHSIG survives exec: ask an isolated Python (the real ctypes, not lib's)
os.execv(sys.executable, [sys.executable, "-I", "-c",
    "import ctypes; v = ctypes.c_int(0); "
    "ctypes.CDLL(None).prctl(2, ctypes.byref(v), 0, 0, 0); print(v.value)"])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_module_named_like_the_standard_librarys_on_the_scripts_path_does_not_stop_it_dying(
    tmp_path: Path,
) -> None:
    for name in ("ctypes", "_ctypes", "signal", "struct"):
        (tmp_path / "lib").mkdir(exist_ok=True)
        (tmp_path / "lib" / f"{name}.py").write_text("WIDTH = 8\n", encoding="utf-8")
    rel = script(tmp_path, "dies.py", DEATH_SIGNAL_AFTER_EXEC)
    done = _run_as_pocflow_runs(tmp_path, rel, os.getpid(), pythonpath="lib")
    assert (done.returncode, done.stdout.strip()) == (0, str(int(signal.SIGKILL))), done.stderr


MODULES_AND_PATH = """
import json, os, sys
print(json.dumps({"modules": sorted(sys.modules), "pythonpath": os.environ.get("PYTHONPATH")}))
"""


def test_dying_with_pocflow_loads_no_module_the_script_could_have_found_itself(
    tmp_path: Path,
) -> None:
    # what the observed script finds loaded is the same with or without dying with pocflow:
    # a module of the script's folder named like one of the standard library's (enum.py) is
    # the one its `import enum` gets, as in a plain Python
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "signal.py").write_text("def smooth():\n    pass\n", encoding="utf-8")
    rel = script(tmp_path, "which.py", MODULES_AND_PATH)
    seen = []
    for die_with in (None, os.getpid()):
        done = _run_as_pocflow_runs(tmp_path, rel, die_with, pythonpath="lib")
        assert done.returncode == 0 and "Error" not in done.stderr, done.stderr
        seen.append(json.loads(done.stdout))
    assert seen[1] == seen[0]
    assert seen[1]["pythonpath"] == "lib"
    enum = script(tmp_path, "enum.py", 'SOURCE = "local"\n')
    shadow = script(
        tmp_path, "shadow.py", "import enum\nprint(getattr(enum, 'SOURCE', 'stdlib'))\n"
    )
    assert enum == "PoC/enum.py"
    done = _run_as_pocflow_runs(tmp_path, shadow, os.getpid())
    assert done.stdout.strip() == "local", done.stderr


@pytest.mark.parametrize("value", [None, "", "x"])
def test_what_a_script_starts_gets_pythonunbuffered_as_the_user_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """The script's own output is unbuffered (its log keeps its order), but a Python child it
    starts finds PYTHONUNBUFFERED as in pocflow's environment, as under plain `python SCRIPT`:
    a worker that prints without flushing is not made to look ready when it is not."""
    if value is None:
        monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    else:
        monkeypatch.setenv("PYTHONUNBUFFERED", value)
    main = script(
        tmp_path,
        "step1_a.py",
        "import os, subprocess, sys\n"
        "print('first')\n"
        "sys.stderr.write('second\\n')\n"
        "child = subprocess.run([sys.executable, '-c', "
        "'import os; print(repr(os.environ.get(\"PYTHONUNBUFFERED\")))'], "
        "capture_output=True, text=True)\n"
        "open('child.txt', 'w').write(child.stdout + repr(os.environ.get('PYTHONUNBUFFERED')))\n",
    )
    assert run_implement(spec(tmp_path, (main,))).outcome == "passed"
    assert (tmp_path / "child.txt").read_text() == f"{value!r}\n{value!r}"
    log = (tmp_path / ".pocflow/runs/step1/step1_a.log").read_text()
    assert log.index("first") < log.index("second")
