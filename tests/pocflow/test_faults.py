"""Faults: a run killed at any point of any phase leaves no false verdict and no lost word.

The fault matrix delivers SIGINT (to the whole process group, as Ctrl-C in a terminal
does), SIGTERM (to doit, as a CI runner cancelling a job does) and SIGKILL (to doit, as the
kernel's OOM killer does) while step 3b's script runs, while its tests run, and in the middle
of each write that the document, state and poc-complete phases make (after the temporary file
is written, before the rename). Then it checks what must hold, and that the next plain run
ends with every step verified.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import run_doit

from pocflow.documents import find_blocks
from pocflow.status import compute_status
from pocflow.workspace import load_workspace

pytestmark = pytest.mark.e2e

FAULTY_DOIT = Path(__file__).with_name("faulty_doit.py")
SCRIPT = "PoC/step3b_country_lookup.py"
TESTS = "tests/test_step3b_country_lookup.py"
HUMAN = "A person's note that no fault may lose: ünïcödé, `code`, <!-- a comment -->."
DOCUMENTS = ["docs/time-zone-atlas-step3b-results.md", "PROJECT_STATE.md", "docs/poc1-results.md"]

_HOLD = """
if __import__("os").environ.get("FAULT_IN") == "{phase}":  # the fault tests hold here
    __import__("pathlib").Path(__import__("os").environ["FAULT_HOLD"]).write_text(
        str(__import__("os").getpid()))
    __import__("time").sleep(600)
"""

#: phase -> (where the run holds, what the hold is)
POINTS = {
    "implement": ("the step's script", {"FAULT_IN": "implement"}),
    "test": ("one of the step's tests", {"FAULT_IN": "test"}),
    "document": ("writing the results doc", {"FAULT_AT": "step3b-results.md"}),
    "state": ("writing the verification record", {"FAULT_AT": "step3b.json"}),
    "project-state": ("writing PROJECT_STATE.md", {"FAULT_AT": "PROJECT_STATE.md"}),
    "poc-complete": ("writing docs/poc1-results.md", {"FAULT_AT": "poc1-results.md"}),
}
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def _prepare(ws: Path) -> None:
    """Step 3b changed (so all its phases run), with holds, and human text everywhere."""
    with (ws / SCRIPT).open("a", encoding="utf-8") as script:
        script.write(
            "\nif __name__ == '__main__':\n"
            + "".join(
                "    " + line + "\n"
                for line in _HOLD.format(phase="implement").strip().splitlines()
            )
        )
    with (ws / TESTS).open("a", encoding="utf-8") as tests:
        tests.write(
            "\n\ndef test_holds_for_the_fault_tests() -> None:\n"
            + "".join(
                "    " + line + "\n" for line in _HOLD.format(phase="test").strip().splitlines()
            )
        )
    for rel in DOCUMENTS:
        with (ws / rel).open("a", encoding="utf-8") as doc:
            doc.write(f"\n{HUMAN}\n")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie nobody reaped has ended


def _wait_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _appears(path: Path, seconds: float = 120.0) -> bool:
    """Wait for a file a step's process writes (its pid, most often)."""
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.exists()


def _as_from_a_terminal() -> None:
    """The start of a run a test signals: SIGINT at its default, as from a terminal. (A suite
    started in the background, `nohup ... &`, ignores SIGINT, and the run would inherit that
    and never see the Ctrl-C the test sends.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_until_hold(ws: Path, hold: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    marker = ws.parent / "hold.pid"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "POCFLOW_"))}
    env.update(hold, FAULT_HOLD=str(marker))
    process = subprocess.Popen(
        [sys.executable, str(FAULTY_DOIT), "poc-complete"],
        cwd=ws,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_as_from_a_terminal,
    )
    deadline = time.monotonic() + 120
    while not (marker.is_file() and marker.read_text(encoding="utf-8")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the run never reached the hold:\n{out.decode()}\n{err.decode()}")
        time.sleep(0.02)
    return process, int(marker.read_text(encoding="utf-8"))


def _assert_intact(ws: Path) -> None:
    """No document half-written or without its person's text; no record unreadable."""
    for rel in DOCUMENTS:
        text = (ws / rel).read_text(encoding="utf-8")
        find_blocks(text, rel)  # balanced machine markers
        assert HUMAN in text, f"{rel} lost the person's text"
        assert text.rstrip().endswith(HUMAN), f"{rel} is cut short"
    for record in (ws / "steps/records").glob("*.json"):
        json.loads(record.read_text(encoding="utf-8"))


def _communicate_or_show_where_it_waits(
    process: subprocess.Popen[bytes], seconds: float = 120.0
) -> tuple[bytes, bytes]:
    """The run's output once it ends; if it has not ended in time, fail with where each of
    its threads waits (faulty_doit.py dumps them on SIGUSR1) and the processes of its
    group, and leave nothing of it running for the next test."""
    try:
        return process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass
    group = subprocess.run(
        ["ps", "-ww", "-o", "pid,ppid,stat,args", "-g", str(process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGUSR1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    out, err = process.communicate()
    pytest.fail(
        f"the run did not end in {seconds:.0f} s; its processes:\n{group}\n"
        f"stdout:\n{out.decode(errors='replace')}\n"
        f"stderr (with its threads' stacks):\n{err.decode(errors='replace')}"
    )


@pytest.mark.parametrize("signame", list(SIGNALS))
@pytest.mark.parametrize("phase", list(POINTS))
def test_a_run_killed_in_any_phase_leaves_no_false_verdict_and_recovers(
    sample: Path, phase: str, signame: str
) -> None:
    _prepare(sample)
    where, hold = POINTS[phase]
    process, holder = _run_until_hold(sample, hold)
    signum = SIGNALS[signame]
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C reaches every process of the terminal's group
    else:
        process.send_signal(signum)
    _, err = _communicate_or_show_where_it_waits(process)
    stderr = err.decode("utf-8", errors="replace")

    if signum == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:  # stopped cleanly: one line, the conventional code, doit's state saved
        assert process.returncode == 128 + signum, stderr
        assert "Traceback" not in stderr
        assert f"pocflow: interrupted by {signame}" in stderr
    assert _wait_gone(holder), f"the process held in {where} outlived the run"
    _assert_intact(sample)
    status = compute_status(load_workspace(sample))
    if phase in ("implement", "test", "document", "state"):
        # its tests never passed on these inputs (or passed, but the record was not written)
        assert not status["3b"].is_verified, f"step 3b shown verified after a fault in {where}"
    assert all(s.is_verified for sid, s in status.items() if sid != "3b")

    again = run_doit(sample, "poc-complete")
    assert again.code == 0, again.out + again.err
    _assert_intact(sample)
    assert all(s.is_verified for s in compute_status(load_workspace(sample)).values())
    assert not list(sample.rglob("*.pocflow-tmp")), "a killed write left its temporary file"
    assert run_doit(sample, "poc-complete").ran == []  # and the state store agrees


def _child_pid_script(tmp: Path) -> str:
    return f'''"""A step whose script hangs, with a child process.

Usage: python PoC/step3b_country_lookup.py
"""
import pathlib
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
pathlib.Path({str(tmp / "child.pid")!r}).write_text(str(child.pid))
time.sleep(600)
'''


@pytest.mark.parametrize("setting", ["manifest", "pyproject"])
def test_a_hanging_script_is_stopped_at_its_timeout_with_its_children(
    sample: Path, setting: str
) -> None:
    (sample / SCRIPT).write_text(_child_pid_script(sample.parent), encoding="utf-8")
    if setting == "manifest":
        (sample / "steps/step3b.yaml").write_text("timeout: 1\n", encoding="utf-8")
    else:
        pyproject = sample / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text(encoding="utf-8").replace(
                "[tool.pocflow]\n", "[tool.pocflow]\ntimeout = 1\n"
            ),
            encoding="utf-8",
        )
    started = time.monotonic()
    result = run_doit(sample, "step:3b")
    assert result.code == 1
    assert time.monotonic() - started < 120
    assert (
        f"step 3b: {SCRIPT} did not finish within 1 s and was stopped; see "
        ".pocflow/runs/step3b/step3b_country_lookup.log (the timeout is set at "
        + ("steps/step3b.yaml:1)" if setting == "manifest" else "tool.pocflow.timeout")
    ) in result.out + result.err
    assert _wait_gone(int((sample.parent / "child.pid").read_text(encoding="utf-8")))
    record = json.loads((sample / "steps/records/step3b.json").read_text(encoding="utf-8"))
    assert record["verdict"] == "failed"


FLOOD = '''"""A step that prints megabytes, bytes that are not UTF-8, then fails.

Usage: python PoC/step3b_country_lookup.py
"""
import sys

out = sys.stdout.buffer
for n in range(200_000):
    out.write(b"line %d of a flood \\xff\\xfe not utf-8 \\x00\\n" % n)
out.flush()
sys.stderr.buffer.write(b"\\xc3\\x28 broken " * 100_000 + b"\\nTHE END: the real error\\n")
sys.exit(3)
'''


def test_a_script_flooding_invalid_utf8_keeps_a_bounded_log_with_its_end(sample: Path) -> None:
    from pocflow._proc import HEAD_BYTES, TAIL_BYTES

    (sample / SCRIPT).write_text(FLOOD, encoding="utf-8")
    result = run_doit(sample, "step:3b")
    assert result.code == 1
    output = result.out + result.err
    assert "Traceback" not in output
    assert f"step 3b: {SCRIPT} exited with code 3" in output
    assert "THE END: the real error" in output  # the end of the output is what is shown
    log = sample / ".pocflow/runs/step3b/step3b_country_lookup.log"
    data = log.read_bytes()
    assert len(data) < 2 * (HEAD_BYTES + TAIL_BYTES) + 1000  # ~10 MB written
    assert data.startswith(b"line 0 of a flood")
    assert b"bytes of output left out" in data
    assert data.rstrip().endswith(b"THE END: the real error")


def test_a_test_flooding_invalid_utf8_fails_cleanly_with_a_bounded_log(sample: Path) -> None:
    from pocflow._proc import HEAD_BYTES, TAIL_BYTES

    with (sample / TESTS).open("a", encoding="utf-8") as tests:
        tests.write("""

def test_floods_and_fails() -> None:
    import sys
    for n in range(100_000):
        sys.__stdout__.buffer.write(b"flood %d \\xff\\xfe\\n" % n)
    sys.__stdout__.buffer.flush()
    print("captured \\udcff", "\\xff" * 10_000)
    assert False, "the flood test failed"
""")
    result = run_doit(sample, "step:3b")
    assert result.code == 1
    output = result.out + result.err
    assert "Traceback" not in output
    assert "test_floods_and_fails - AssertionError: the flood test failed" in output
    logs = list((sample / ".pocflow/runs").rglob("pytest.log"))
    assert logs and all(p.stat().st_size < 2 * (HEAD_BYTES + TAIL_BYTES) for p in logs)
    record = json.loads((sample / "steps/records/step3b.json").read_text(encoding="utf-8"))
    assert record["verdict"] == "failed"


DETACHED = """
if __name__ == "__main__":
    import pathlib
    import subprocess
    import sys
    # a server left running on purpose, in its own session, holding this script's output
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                              start_new_session=True)
    pathlib.Path({pid_file!r}).write_text(str(server.pid))
    print("started a server")
"""


def test_a_script_leaving_a_detached_process_behind_ends_its_phase(sample: Path) -> None:
    # the detached process holds the script's stdout and stderr open: pocflow waited on the
    # pipe forever (timeouts and signals included). The script's exit ends its phase.
    pid_file = sample.parent / "server.pid"
    with (sample / SCRIPT).open("a", encoding="utf-8") as script:
        script.write(DETACHED.format(pid_file=str(pid_file)))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "doit", "step:3b"],
            cwd=sample,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        log = (sample / ".pocflow/runs/step3b/step3b_country_lookup.log").read_text()
        assert "started a server" in log
        assert "a process the script started still holds its output" in log.replace("\n", " ")
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)


DETACHED_TEST = """

def test_starts_a_server_and_leaves_it():
    import pathlib
    import subprocess
    import sys
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                              start_new_session=True)
    pathlib.Path({pid_file!r}).write_text(str(server.pid))
    SERVERS.append(server)  # left running on purpose


SERVERS = []
"""


@pytest.mark.parametrize("runner", ["fork", "subprocess"])
def test_a_test_leaving_a_detached_process_behind_ends_its_session(
    sample: Path, runner: str
) -> None:
    pid_file = sample.parent / "server.pid"
    with (sample / TESTS).open("a", encoding="utf-8") as tests:
        tests.write(DETACHED_TEST.format(pid_file=str(pid_file)))
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            "[tool.pocflow]\n", f'[tool.pocflow]\ntest_runner = "{runner}"\n'
        ),
        encoding="utf-8",
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "doit", "poc-complete"],
            cwd=sample,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)


def test_warm_up_folders_a_killed_run_left_are_removed_by_the_next(
    sample: Path, tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: its server was killed with its folder left
    left = tmp / f"pocflow-warm-{gone.pid}-abc123"
    left.mkdir()
    (left / "conftest.py").write_text("", encoding="utf-8")
    running = tmp / f"pocflow-warm-{os.getpid()}-def456"  # a server still running keeps its
    running.mkdir()
    result = run_doit(sample, "--reverify", "poc-complete", env={"TMPDIR": str(tmp)})
    assert result.code == 0, result.out + result.err
    assert not left.exists()
    assert running.exists()
    assert sorted(p.name for p in tmp.glob("pocflow-warm-*")) == [running.name]


def _link_out(sample: Path, rel: str, text: str) -> Path:
    outside = sample.parent / "outside" / Path(rel).name
    outside.parent.mkdir(exist_ok=True)
    outside.write_text(text, encoding="utf-8")
    (sample / rel).unlink()
    (sample / rel).symlink_to(outside)
    return outside


def test_a_results_doc_linked_outside_is_neither_read_nor_written(sample: Path) -> None:
    rel = "docs/time-zone-atlas-step3b-results.md"
    outside = _link_out(sample, rel, "OUTSIDE-ONLY text of another project\n")
    result = run_doit(sample, "poc-complete")
    output = result.out + result.err
    assert result.code == 2, output
    assert f"{rel}: a symbolic link to {outside}, outside the workspace" in output
    assert "Traceback" not in output
    assert outside.read_text(encoding="utf-8") == "OUTSIDE-ONLY text of another project\n"
    assert (sample / rel).is_symlink()
    copied = [
        p
        for p in sample.rglob("*")
        if p.is_file() and not p.is_symlink() and b"OUTSIDE-ONLY" in p.read_bytes()
    ]
    assert copied == []


def test_a_record_linked_outside_is_not_followed(sample: Path) -> None:
    rel = "steps/records/step3b.json"
    text = re.sub(
        r'"first_verified_at": "[^"]*"',
        '"first_verified_at": "1999-01-01T00:00:00Z"',
        (sample / rel).read_text(encoding="utf-8"),
    )  # a valid record, marked
    outside = _link_out(sample, rel, text)
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "3b" in result.ran_steps  # its record was not taken from the link
    assert outside.read_text(encoding="utf-8") == text
    assert not (sample / rel).is_symlink()
    assert b"1999-01-01" not in (sample / rel).read_bytes()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_run_while_a_detached_process_holds_the_scripts_output(
    sample: Path, signum: int
) -> None:
    pid_file = sample.parent / "server.pid"
    with (sample / SCRIPT).open("a", encoding="utf-8") as script:
        script.write(
            DETACHED.format(pid_file=str(pid_file)) + "    import time\n    time.sleep(600)\n"
        )
    run = subprocess.Popen(
        [sys.executable, "-m", "doit", "step:3b"],
        cwd=sample,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        assert _appears(pid_file)
        time.sleep(0.5)
        os.killpg(run.pid, signum) if signum == signal.SIGINT else run.send_signal(signum)
        out, err = run.communicate(timeout=60)  # seconds, not for ever
        assert run.returncode == 128 + signum, (out + err).decode()
        assert b"Traceback" not in err
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)


def _slow_scripts(sample: Path) -> None:
    """Steps 2 and 3b sleep two minutes first: a parallel run has both in its workers."""
    for script in ("PoC/step2_coordinates.py", SCRIPT):
        path = sample / script
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                'if __name__ == "__main__":',
                'if __name__ == "__main__":\n    import time\n    time.sleep(120)',
                1,
            ),
            encoding="utf-8",
        )


def test_a_parallel_run_killed_with_sigkill_leaves_no_worker_holding_the_workspace(
    sample: Path,
) -> None:
    _slow_scripts(sample)
    run = subprocess.Popen(
        [sys.executable, "-m", "doit", "-n", "2", "poc-complete"],
        cwd=sample,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(8)  # the workers are running the slow scripts
    run.kill()
    run.wait()
    started = time.monotonic()
    # a run needs the run lock: no orphaned worker may still hold it
    done = subprocess.run(
        [sys.executable, "-m", "doit", "step:1"],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "another doit run is using this workspace" not in done.stderr
    assert time.monotonic() - started < 60


def test_a_subprocess_pytest_session_dies_with_a_run_killed_with_sigkill(sample: Path) -> None:
    pid_file = sample.parent / "session.pid"
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            "[tool.pocflow]\n", '[tool.pocflow]\ntest_runner = "subprocess"\n'
        ),
        encoding="utf-8",
    )
    with (sample / TESTS).open("a", encoding="utf-8") as tests:
        tests.write(
            f"\n\ndef test_slow():\n    import os, pathlib, time\n"
            f"    pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
            f"    time.sleep(120)\n"
        )
    run = subprocess.Popen(
        [sys.executable, "-m", "doit", "step:3b"],
        cwd=sample,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _appears(pid_file)
        run.kill()
        run.wait()
        assert _wait_gone(int(pid_file.read_text(encoding="utf-8")), 15)
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)


def test_logs_in_the_state_folder_are_never_written_through_a_link(sample: Path) -> None:
    victim = sample.parent / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    for rel in (
        ".pocflow/runs/batch/pytest.log",
        ".pocflow/runs/batch/selection.txt",
        ".pocflow/runs/step3b/step3b_country_lookup.log",
    ):
        path = sample / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.symlink_to(victim)
    result = run_doit(sample, "--reverify", "poc-complete")
    assert result.code == 0, result.out + result.err
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_an_interrupted_sessions_log_is_masked_too(sample: Path) -> None:
    (sample / ".env").write_text("API_KEY=sk-live-abcdef123456\n", encoding="utf-8")
    with (sample / TESTS).open("a", encoding="utf-8") as tests:
        tests.write(
            "\n\ndef test_slow_and_chatty(capsys):\n    import os, time\n"
            "    with capsys.disabled():\n"
            "        print('key is', os.environ['API_KEY'], flush=True)\n"
            "    time.sleep(60)\n"
        )
    run = subprocess.Popen(
        [sys.executable, "-m", "doit", "step:3b"],
        cwd=sample,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = sample / ".pocflow/runs/batch/pytest.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.is_file() and b"key is" in log.read_bytes()):
        time.sleep(0.2)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=60) == 143
    logs = [p for p in (sample / ".pocflow").rglob("*") if p.is_file()]
    assert not [p for p in logs if b"sk-live-abcdef123456" in p.read_bytes()]


def test_ctrl_c_ends_a_parallel_run_quietly_and_leaves_nothing_running(sample: Path) -> None:
    _slow_scripts(sample)
    run = subprocess.Popen(
        [sys.executable, "-m", "doit", "-n", "2", "poc-complete"],
        cwd=sample,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        time.sleep(8)
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the whole process group
        out, err = run.communicate(timeout=60)
        assert run.returncode == 130, (out + err).decode()
        assert b"Traceback" not in err, err.decode()
        done = subprocess.run(
            [sys.executable, "-m", "doit", "step:1"],
            cwd=sample,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0
        assert "another doit run is using this workspace" not in done.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)


STUBBORN = '''"""A step whose script and its child ignore SIGTERM.

Usage: python PoC/step3b_country_lookup.py
"""
import pathlib
import signal
import subprocess
import sys
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
pathlib.Path({pid_file!r}).write_text(str(child.pid))
time.sleep(600)
'''


def test_a_second_signal_during_the_grace_still_stops_every_process(sample: Path) -> None:
    pid_file = sample.parent / "child.pid"
    (sample / SCRIPT).write_text(STUBBORN.format(pid_file=str(pid_file)), encoding="utf-8")
    run = subprocess.Popen(
        [sys.executable, "-m", "doit", "step:3b"],
        cwd=sample,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        assert _appears(pid_file)
        run.send_signal(signal.SIGTERM)
        time.sleep(1)  # within the 5 s grace the script is given
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=60)
        assert run.returncode in (130, 143)
        assert _wait_gone(int(pid_file.read_text(encoding="utf-8")), 10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)


def test_the_sweep_removes_killed_writes_everywhere_pocflow_writes_and_nothing_else(
    tmp_path: Path,
) -> None:
    from pocflow._fs import TEMP_SUFFIX
    from pocflow.cmd_run import sweep_killed_writes

    (tmp_path / "pyproject.toml").write_text("[tool.pocflow]\npoc = 1\n", encoding="utf-8")
    left = [
        tmp_path / "docs" / f".poc1-step1-results.md.x1{TEMP_SUFFIX}",
        tmp_path / "steps" / "records" / f".step1.json.x2{TEMP_SUFFIX}",
        tmp_path / f".PROJECT_STATE.md.x3{TEMP_SUFFIX}",
        tmp_path / ".pocflow" / f".fingerprints.json.x4{TEMP_SUFFIX}",
        tmp_path / ".pocflow" / "runs" / "step1" / f".test.json.x5{TEMP_SUFFIX}",
    ]
    kept = [
        tmp_path / "docs" / "notes.md",
        tmp_path / "docs" / f"draft{TEMP_SUFFIX}",
        tmp_path / "PoC" / f".step1_a.py.x6{TEMP_SUFFIX}",  # not a folder pocflow writes
        tmp_path / ".pocflow" / "runs" / "step1" / ".hidden",
    ]
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    kept.append(outside / f".elsewhere.x7{TEMP_SUFFIX}")
    for path in left + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial", encoding="utf-8")
    (tmp_path / ".pocflow" / "runs" / "linked").symlink_to(outside)  # never followed

    sweep_killed_writes(tmp_path)

    assert [p for p in left if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []
