"""Two runs at once in one workspace: the second waits; nothing is corrupted, ever."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import edit, parse_run, run_doit

from pocflow.documents import find_blocks
from pocflow.status import compute_status
from pocflow.workspace import load_workspace

pytestmark = pytest.mark.e2e

NOTE = "A person's note, kept through every concurrent run."


def _start(ws: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "POCFLOW_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "doit", *args],
        cwd=ws,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(
    "attempt", [0, *(pytest.param(n, marks=pytest.mark.stress) for n in range(1, 6))]
)
def test_two_simultaneous_runs_both_end_right_and_corrupt_nothing(
    sample: Path, attempt: int
) -> None:
    edit(sample / "PoC/step1_load.py", lambda s: s + f"\n# change {attempt}\n")  # all re-run
    with (sample / "PROJECT_STATE.md").open("a", encoding="utf-8") as state:
        state.write(f"\n{NOTE}\n")
    first, second = _start(sample, "poc-complete"), _start(sample, "poc-complete")
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    runs = [parse_run(p.returncode, *out) for p, out in zip((first, second), outputs, strict=True)]
    for run in runs:
        assert run.code == 0, run.out + run.err
        assert "Traceback" not in run.err
    # one of them verified everything; the other waited, then found it all done
    assert sorted(len(r.ran_steps) for r in runs) == [0, 6]
    assert any("another doit run is using this workspace" in r.err for r in runs)
    for record in (sample / "steps/records").glob("*.json"):
        json.loads(record.read_text(encoding="utf-8"))
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    find_blocks(state, "PROJECT_STATE.md")
    assert state.count(NOTE) == 1
    assert all(s.is_verified for s in compute_status(load_workspace(sample)).values())
    assert run_doit(sample, "poc-complete").ran == []


def test_a_run_waits_for_the_lock_and_says_so(sample: Path) -> None:
    lock = sample / ".pocflow/run.lock"
    with lock.open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        handle.write("pid 4242")
        handle.flush()
        waiting = _start(sample, "poc-complete")
        time.sleep(3)
        assert waiting.poll() is None  # still waiting
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, out + err
    assert (
        "pocflow: another doit run is using this workspace (pid 4242); waiting for it to "
        "finish (Ctrl-C to stop waiting)"
    ) in err
