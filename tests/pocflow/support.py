"""Helpers of pocflow's own tests: copy the sample workspace, run the real doit, read runs."""

from __future__ import annotations

import atexit
import functools
import json
import locale
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import doit_launcher
import pytest
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

REPO = Path(__file__).resolve().parents[2]
#: what makes the sample workspace: every file a user of the sample PoC would have
#: what a person made: the plan, scripts, tests, manifests, data, and the results docs whose
#: Summary and Bug Fixes they wrote (the gate wants them written)
SAMPLE = [
    "dodo.py",
    "pyproject.toml",
    "PoC",
    "data",
    "docs/poc1-implementation.md",
    "docs/time-zone-atlas-step*-results.md",
    "tests/conftest.py",
    "tests/test_step*.py",
    "steps/*.yaml",
]
_LINE_RE = re.compile(r"^(\.|--|!!)\s+(\S+)(?:\s+\(.*\))?\s*$")


@dataclass
class DoitRun:
    """One doit run: exit code, output, and which tasks ran or were up to date."""

    code: int
    out: str
    err: str
    ran: list[str]
    skipped: list[str]

    @property
    def ran_steps(self) -> set[str]:
        """Step ids any of whose phases ran."""
        return {name.split(":", 1)[1] for name in self.ran if ":" in name}


def parse_run(code: int, out: str, err: str) -> DoitRun:
    ran, skipped = [], []
    for line in out.splitlines():
        match = _LINE_RE.match(line)
        if match:
            (ran if match[1] == "." else skipped).append(match[2])
    return DoitRun(code, out, err, ran, skipped)


#: whether the running test is marked e2e (set by conftest.py before its fixtures)
END_TO_END = True
#: whether this session is the fast lane (-m "not e2e"; set by conftest.py)
FAST_LANE = False


def examples(full: int) -> int:
    """How many examples a property test draws: all of them in the whole suite, a sixth in
    the fast lane (which still finds what breaks often, in seconds)."""
    return max(full // 6, 20) if FAST_LANE else full


def end_to_end() -> None:
    """Fail a test that runs doit or copies the sample without the e2e mark."""
    if not END_TO_END:
        pytest.fail(
            "this test runs doit or copies the sample workspace: mark it "
            "@pytest.mark.e2e, or the fast lane (-m 'not e2e') is slow"
        )


def copy_sample(target: Path, extra: Iterable[str] = (), pocs: int = 1) -> Path:
    """Copy the sample workspace (only its user files, no state) into target.

    The repository's sample is a project of two PoCs (PoC 2 current). Most tests need one
    PoC: with ``pocs=1`` the copy is PoC 1 alone, as it was before the project moved on —
    PoC 2's files left out, ``poc = 1`` in pyproject.toml, and the commands of its results
    docs named as a current PoC's (``step:3b``, not ``poc1.step:3b``). ``pocs=2`` copies the
    whole project."""
    end_to_end()
    target.mkdir(parents=True, exist_ok=True)
    patterns = [*SAMPLE, *(SECOND_POC if pocs == 2 else ()), *extra]
    for pattern in patterns:
        for source in sorted(REPO.glob(pattern)):
            destination = target / source.relative_to(REPO)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(
                    source,
                    destination,
                    ignore=shutil.ignore_patterns(
                        "__pycache__", "*.pyc", *(("poc2",) if pocs == 1 else ())
                    ),
                )
            else:
                shutil.copy2(source, destination)
    if pocs == 1:
        _only_the_first_poc(target)
    return target


#: the files of the sample's PoC 2 (the whole project: ``copy_sample(..., pocs=2)``)
SECOND_POC = [
    "docs/poc2-implementation.md",
    "docs/zone-neighbours-step*-results.md",
    "tests/poc2",
    "steps/poc2",
]


def _only_the_first_poc(target: Path) -> None:
    """The copied sample as a project of PoC 1 alone (see copy_sample)."""
    pyproject = target / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    moved = "[tool.pocflow]\npoc = 2\n\n[tool.pocflow.poc1]\n"
    assert moved in text, "the sample's [tool.pocflow] changed: update copy_sample"
    pyproject.write_text(text.replace(moved, "[tool.pocflow]\npoc = 1\n"), encoding="utf-8")
    for doc in (target / "docs").glob("*-step*-results.md"):
        text = doc.read_text(encoding="utf-8")
        doc.write_text(text.replace("uv run doit poc1.", "uv run doit "), encoding="utf-8")


STEP_SCRIPT = '"""Step {n}.\n\nUsage:\n    python PoC/step{n}_x.py\n"""\nprint("step {n}")\n'


def make_workspace(
    root: Path,
    tests: dict[str, str],
    conftest: str = "",
    settings: str = "",
    depends: dict[str, str] | None = None,
) -> Path:
    """A small workspace: a step per entry of ``tests`` (step id -> its test file), each
    with a script that prints a line; ``depends``: step id -> the step it depends on."""
    depends = depends or {}
    plan = "# PoC 1 Implementation Plan: Small\n\n## Implementation Steps\n\n" + "".join(
        f"### Step {n}: S{n}\n\n**Goal**: g.\n\n"
        + (f"**Depends On**: Step {depends[n]}\n\n" if n in depends else "")
        for n in tests
    )
    files = {
        "dodo.py": (REPO / "dodo.py").read_text(encoding="utf-8"),
        "pyproject.toml": f'[tool.pocflow]\npoc = 1\nundocumented = "warn"\n{settings}',
        "tests/conftest.py": conftest,
        "docs/poc1-implementation.md": plan
        + "\n## Production-Grade Checklist\n\n- [x] **Real**: yes\n",
    }
    for n, body in tests.items():
        files[f"PoC/step{n}_x.py"] = STEP_SCRIPT.format(n=n)
        files[f"tests/test_step{n}_x.py"] = body
    return write_files(root, files)


def verified_chain(root: Path) -> Path:
    """A workspace of two steps, step 2 depending on step 1, each with one passing test,
    after a passing `doit poc-complete`."""
    test = "def test_one():\n    assert True\n"
    ws = make_workspace(root, {"1": test, "2": test}, depends={"2": "1"})
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    return ws


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write each file (workspace-relative path -> text) under root, folders included."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def doit_env() -> dict[str, str]:
    """This session's environment without what changes pocflow's or pytest's behaviour (the
    suite's own PYTEST_* and POCFLOW_* variables, a CI's GITHUB_* and CI)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "POCFLOW_", "GITHUB_")) and k != "CI"
    }


def run_doit(workspace: Path, *args: str, env: dict[str, str] | None = None) -> DoitRun:
    """Run the real doit command in a process of its own inside workspace (extra env added):
    forked from this worker's warm launcher when it fits (see doit_launcher.py), else a
    plain `python -m doit` subprocess."""
    end_to_end()
    env = {**doit_env(), **(env or {})}
    if POCFLOW_SUITE_LAUNCHER:
        launched = _LAUNCHER.run(workspace, list(args), env)
        if launched is not None:
            return parse_run(*launched)
    return parse_run(*plain_doit(workspace, list(args), env))


#: a plain pytest run's options that leave out Hypothesis's plugin: Hypothesis is in this
#: venv for pocflow's own property tests, no test workspace uses it, and its plugin imports
#: all of Hypothesis as each session's terminal summary is written (0.15 s of a plain run's
#: 0.45 s here, over 400 plain runs in the suite); it changes no outcome of a test that
#: does not use Hypothesis
PLAIN_WITHOUT = ["-p", "no:hypothesispytest"]


def plain_pytest_run(
    workspace: Path, *files: str, env: dict[str, str] | None = None, cache: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m pytest -q -p no:cacheprovider FILES` in workspace, as a person checks a
    step's tests by hand (``env``: added to this process's environment; ``cache``: with
    pytest's cache on, as in a fresh clone, none kept yet); its output as text (bytes it
    cannot decode replaced)."""
    if cache:
        shutil.rmtree(workspace / ".pytest_cache", ignore_errors=True)
    no_cache = [] if cache else ["-p", "no:cacheprovider"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *no_cache, *PLAIN_WITHOUT, *files],
        cwd=workspace,
        capture_output=True,
        text=True,
        errors="replace",
        env={**os.environ, **env} if env is not None else None,
        check=False,
    )


def plain_doit(workspace: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `python -m doit ARGS` started as a subprocess in
    workspace, with exactly this environment."""
    done = subprocess.run(
        [sys.executable, "-m", "doit", *args],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",  # a run under another locale writes in its encoding
        check=False,
        timeout=DOIT_TIMEOUT,
    )
    return done.returncode, done.stdout, done.stderr


#: how long a doit run of a test may take (seconds)
DOIT_TIMEOUT = 600
#: whether run_doit may fork its runs from a warm launcher (POCFLOW_SUITE_LAUNCHER=0: never)
POCFLOW_SUITE_LAUNCHER = os.environ.get("POCFLOW_SUITE_LAUNCHER", "1") != "0"
#: whether the launcher lends its runs a warm fork server (POCFLOW_SUITE_SHARED_SERVER=0:
#: never; see doit_launcher.py)
POCFLOW_SUITE_SHARED_SERVER = os.environ.get("POCFLOW_SUITE_SHARED_SERVER", "1") != "0"


class Launcher:
    """This worker's doit launcher (doit_launcher.py), started at its first use."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.modules: set[str] = set()
        self.path: list[str] = []  # the launcher's sys.path after its first entry
        self.start_env: dict[str, str] = {}
        self.folder = Path()
        self.runs = 0

    def run(
        self, workspace: Path, args: list[str], env: dict[str, str]
    ) -> tuple[int, str, str] | None:
        """Exit code, stdout and stderr of `python -m doit ARGS` in workspace, or None when
        only a real subprocess would be faithful."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        assert self.process is not None and self.process.stdin and self.process.stdout
        if doit_launcher.start_environment(env) != self.start_env:
            return None
        if doit_launcher.shadowing(workspace, self.modules):
            return None
        if doit_launcher.path_unfaithful(env, str(workspace), self.path, self.modules):
            return None
        # files of this run's own: a process an earlier run left behind may still write
        self.runs += 1
        out, err = self.folder / f"{self.runs}.out", self.folder / f"{self.runs}.err"
        request = {
            "cwd": str(workspace),
            "args": args,
            "env": env,
            "out": str(out),
            "err": str(err),
            "sigint_ignored": signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
        }
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        pid = json.loads(self._reply())["pid"]
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(DOIT_TIMEOUT, stop)
        timer.start()
        try:
            code = json.loads(self._reply())["code"]
        finally:
            timer.cancel()
        if timed_out.is_set():  # as subprocess.run says it
            raise subprocess.TimeoutExpired([sys.executable, "-m", "doit", *args], DOIT_TIMEOUT)
        read = functools.partial(
            Path.read_text, encoding=locale.getpreferredencoding(False), errors="replace"
        )
        try:
            return code, read(out), read(err)
        finally:
            out.unlink()
            err.unlink()

    def _reply(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process = None  # started again at the next run
            raise RuntimeError("the doit launcher ended (see its error above)")
        return line

    def _start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="doit-launcher-"))
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        # its sys.path without the suite's PYTHONPATH: each run puts on its own
        env = {k: v for k, v in doit_env().items() if k not in doit_launcher.TAKEN_ON}
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("doit_launcher.py")),
                str(os.getpid()),
                "1" if POCFLOW_SUITE_SHARED_SERVER else "0",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.folder,
            env=env,
            text=True,
        )
        atexit.register(self._stop)
        assert self.process.stdout is not None
        ready = json.loads(self.process.stdout.readline())
        self.modules, self.path = set(ready["modules"]), ready["path"]
        self.start_env = doit_launcher.start_environment(env)

    def _stop(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


_LAUNCHER = Launcher()


def run_doit_inprocess(
    workspace: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *tasks: str
) -> DoitRun:
    """Run `doit run TASKS` through its Python API in this process, inside workspace."""
    monkeypatch.chdir(workspace)
    namespace = runpy.run_path(str(workspace / "dodo.py"))
    # doit's run reporter writes to the sys.stdout of import time unless given a file
    report = workspace / ".pocflow" / "inprocess-run.txt"
    code = DoitMain(ModuleTaskLoader(namespace)).run(["run", f"--output-file={report}", *tasks])
    captured = capfd.readouterr()
    return parse_run(code, report.read_text(encoding="utf-8") + captured.out, captured.err)


def private_copy(verified: Path, target: Path) -> Path:
    """A test's own copy of a workspace a fixture verified once: its state folder, links and
    modification times included, so that a run in the copy finds it as verified."""
    shutil.copytree(verified, target, symlinks=True)
    return target


def edit(path: Path, change: Callable[[str], str]) -> None:
    """Change a file's text (and make sure its bytes really changed)."""
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, f"edit of {path} changed nothing"
    path.write_text(after, encoding="utf-8")


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    """One change made of several, in order."""

    def change(ws: Path) -> None:
        for one in changes:
            one(ws)

    return change
