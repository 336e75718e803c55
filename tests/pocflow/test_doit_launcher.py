"""The suite's warm doit launcher (doit_launcher.py): a launched run is `python -m doit` in
its folder, and a run it could not make faithfully starts a real process instead."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import support
from support import doit_env, write_files

#: a dodo whose one task prints what a run's process is: its folder, arguments, sys.path,
#: Ctrl-C handling, environment, standard input, main module and (when asked) hash
PROBE_DODO = """\
import os, signal, sys

def probe():
    print("cwd", os.getcwd())
    print("argv", sys.argv[1:], os.path.basename(sys.argv[0]))
    print("path0", sys.path[0])
    print("path", sys.path)
    print("sigint", signal.getsignal(signal.SIGINT))
    print("var", os.environ.get("PROBE_VARIABLE"), "PROBE_GONE" in os.environ)
    print("stdin", repr(sys.stdin.read()))
    if os.environ.get("PROBE_HASH"):
        print("hash", hash("pocflow"))
    print("main", os.path.basename(sys.modules["__main__"].__file__))
    print("stderr line", file=sys.stderr)
    code = int(os.environ.get("PROBE_EXIT", "0"))
    if code:
        sys.exit(code)

def task_probe():
    return {"actions": [probe], "verbosity": 2}
"""


def launched_and_plain(
    workspace: Path, args: list[str], env: dict[str, str]
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    launched = support._LAUNCHER.run(workspace, args, env)
    assert launched is not None, "the launcher should take this run"
    return launched, support.plain_doit(workspace, args, env)


@pytest.mark.e2e
def test_a_launched_run_is_python_m_doit_in_its_folder(tmp_path: Path) -> None:
    workspace = write_files(tmp_path / "ws", {"dodo.py": PROBE_DODO})
    seed = "1" if doit_env().get("PYTHONHASHSEED") == "0" else "0"  # not the launcher's
    env = {**doit_env(), "PROBE_VARIABLE": "seen", "PYTHONHASHSEED": seed, "PROBE_HASH": "1"}
    support._LAUNCHER.run(workspace, ["list"], doit_env())  # started with the suite's own
    # the hash seed is read at start: this run is a real process, and says so by its hash
    hashed = support.run_doit(workspace, "probe", env=env)
    plain = subprocess.run(
        [sys.executable, "-c", "print(hash('pocflow'))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"hash {plain.stdout.strip()}" in hashed.out
    env = {**doit_env(), "PROBE_VARIABLE": "seen"}  # the launcher's own interpreter variables
    launched, plain_run = launched_and_plain(workspace, ["probe"], env)
    assert launched == plain_run
    assert launched[0] == 0
    assert f"cwd {workspace}" in launched[1]
    assert f"path0 {workspace}" in launched[1]
    assert "argv ['probe'] __main__.py" in launched[1]
    assert "var seen False" in launched[1]
    assert "stdin ''" in launched[1]
    assert "main __main__.py" in launched[1]


@pytest.mark.e2e
def test_a_launched_runs_exit_code_and_failures_are_the_commands(tmp_path: Path) -> None:
    workspace = write_files(tmp_path / "ws", {"dodo.py": PROBE_DODO})
    for env, args in (
        ({"PROBE_EXIT": "3"}, ["probe"]),  # the task's SystemExit: doit's own verdict
        ({}, ["no-such-task"]),  # doit's error before any task runs
    ):
        launched, plain = launched_and_plain(workspace, args, {**doit_env(), **env})
        assert launched == plain
        assert launched[0] != 0
    broken = write_files(tmp_path / "broken", {"dodo.py": "raise ValueError('dodo broken')\n"})
    launched, plain = launched_and_plain(broken, ["list"], doit_env())
    assert launched[0] == plain[0] == 3
    assert "dodo broken" in launched[2] and "dodo broken" in plain[2]


@pytest.mark.e2e
def test_a_workspace_file_named_like_a_module_the_launcher_loaded_starts_a_real_process(
    tmp_path: Path,
) -> None:
    # a plain `python -m doit` here imports this json.py when doit imports json
    workspace = write_files(
        tmp_path / "ws", {"dodo.py": PROBE_DODO, "json.py": "from _json import *\n"}
    )
    assert support._LAUNCHER.run(workspace, ["list"], doit_env()) is None
    result = support.run_doit(workspace, "list")
    assert result.code != 0  # as plainly: doit cannot start with this json
    assert support.plain_doit(workspace, ["list"], doit_env())[0] == result.code
    assert "json" in support._LAUNCHER.modules


def test_what_the_interpreter_reads_at_start_is_told_apart() -> None:
    import doit_launcher

    env = {"PYTHONPATH": "x", "LANG": "C", "LC_ALL": "C", "TZ": "UTC", "HOME": "/h", "PATH": "/"}
    # (PYTHONPATH: a forked run puts its folders on its path, as the interpreter does)
    assert doit_launcher.start_environment(env) == {
        k: v for k, v in env.items() if k not in ("PATH", "PYTHONPATH")
    }


@pytest.mark.e2e
def test_a_launched_run_ignores_ctrl_c_when_the_test_process_does(tmp_path: Path) -> None:
    workspace = write_files(tmp_path / "ws", {"dodo.py": PROBE_DODO})
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        launched, plain = launched_and_plain(workspace, ["probe"], doit_env())
    finally:
        signal.signal(signal.SIGINT, before)
    assert launched == plain
    assert "default_int_handler" not in launched[1]


@pytest.mark.e2e
def test_a_launched_run_has_the_folders_pythonpath_puts_on_a_real_runs_path(
    tmp_path: Path,
) -> None:
    workspace = write_files(tmp_path / "ws", {"dodo.py": PROBE_DODO, "lib/x.py": ""})
    outside = write_files(tmp_path / "outside", {"helper.py": ""})
    for value in (
        "lib",  # relative: from the run's folder
        f"lib::{outside}:{tmp_path / 'missing'}:lib",  # the folder itself, one absent, twice
        f"{outside}/../outside",
    ):
        launched, plain = launched_and_plain(
            workspace, ["probe"], {**doit_env(), "PYTHONPATH": value}
        )
        assert launched == plain, value
        assert str(outside) in launched[1] or value == "lib"
    # and without PYTHONPATH, none of them (the launcher's own path has no suite's PYTHONPATH)
    launched, plain = launched_and_plain(workspace, ["probe"], doit_env())
    assert launched == plain
    assert str(workspace / "lib") not in launched[1]


@pytest.mark.e2e
@pytest.mark.parametrize("module", ["sitecustomize.py", "json.py", "doit/__init__.py"])
def test_a_pythonpath_folder_with_a_module_read_at_start_starts_a_real_process(
    tmp_path: Path, module: str
) -> None:
    # site imports sitecustomize from it as Python starts; json and doit: the launcher's own
    workspace = write_files(tmp_path / "ws", {"dodo.py": PROBE_DODO})
    site = write_files(tmp_path / "site", {module: "import sys\n"})
    env = {**doit_env(), "PYTHONPATH": str(site)}
    assert support._LAUNCHER.run(workspace, ["probe"], env) is None


@pytest.mark.e2e
def test_a_pythonpath_naming_a_folder_of_the_launchers_own_path_starts_a_real_process(
    tmp_path: Path,
) -> None:
    workspace = write_files(tmp_path / "ws", {"dodo.py": PROBE_DODO})
    support._LAUNCHER.run(workspace, ["list"], doit_env())  # started
    env = {**doit_env(), "PYTHONPATH": support._LAUNCHER.path[-1]}
    assert support._LAUNCHER.run(workspace, ["probe"], env) is None
