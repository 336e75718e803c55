"""A warm `python -m doit` for pocflow's own suite: each run a fresh process, without the start.

Every end-to-end test runs doit in a workspace, most of them several times: about 700 runs
in the suite, each paying a Python start and the imports of doit and pocflow (a fifth of a
small cold run's CPU, nearly all of a no-op's), then the imports of what it runs (pocflow's
phases and documents, jinja2). This launcher, started once per test worker as
``python doit_launcher.py``, imports them once; for each request it forks a child that
becomes ``python -m doit ARGS`` in the request's folder — its environment, its
``sys.path[0]``, its ``sys.argv``, its standard streams — and ends as that command ends
(``sys.exit`` through the interpreter's own shutdown: atexit handlers, threads joined). So a
run is still a process of its own, with its own modules, state and exit code, as the
README's commands run.

What a fork cannot change is what the interpreter decided at start-up. support.run_doit
starts a real subprocess instead when a request's environment differs from this launcher's
in what the interpreter reads at start (PYTHON*, the locale, TZ, HOME), or when the
workspace holds a file or folder named like a module this launcher loaded (a plain
``python -m doit`` there would import the workspace's). One of them a forked run takes on
as the interpreter would have: the folders ``PYTHONPATH`` puts on ``sys.path``
(``python_path``), unless one holds a module this launcher loaded or one Python's ``site``
imports as it starts (``sitecustomize``), or is a folder of this launcher's own path.

The launcher also keeps one of pocflow's fork servers (pocflow._forkserver: pytest and its
plugins imported, a warm-up session run) and lends it to each run whose environment is the
launcher's own: pocflow would start one per run (a third of a second of CPU each, a third of
the suite's), and a server serves every session in a fresh child of its own, whoever asks.
The sessions get the run's whole environment with each request, as from a server of the
run's own. A server that may still hold a session of a run that ended (the run was killed,
or a reply is waiting) is stopped, and the next run gets a new one. Runs with another
environment, and ``POCFLOW_SUITE_SHARED_SERVER=0``, leave pocflow to start its own.

One difference stays: the runs forked from one launcher share its hash seed (each worker's
launcher has its own, drawn at its start), where real runs each draw one. A test whose
verdict depends on the seed (the order of a set across runs) is as flaky as ever across
workers and sessions, but not within one worker.

Protocol: one JSON object per line in, ``{"cwd", "args", "env", "out", "err",
"sigint_ignored"}``; per request two lines out, ``{"pid": <child>}`` then ``{"code": <exit
code>}``. It ends when its stdin closes, and with the process that started it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

#: environment variables the interpreter reads before any code runs
START_VARIABLES = ("PYTHON", "LC_", "LANG", "TZ", "HOME")


def reads_at_start(name: str) -> bool:
    return name.startswith(START_VARIABLES)


#: read at start, but taken on by a forked run as the interpreter takes it (python_path)
TAKEN_ON = frozenset({"PYTHONPATH"})
#: modules Python's ``site`` imports as it starts, from the first folder of sys.path holding one
IMPORTED_AT_START = frozenset({"sitecustomize", "usercustomize"})


def start_environment(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if reads_at_start(k) and k not in TAKEN_ON}


def python_path(env: dict[str, str], cwd: str) -> list[str]:
    """The folders ``PYTHONPATH`` puts on sys.path after its first entry, as the interpreter
    puts them as it starts in cwd: each made absolute from cwd (an empty entry is cwd
    itself), each once (``site`` removes the repeats)."""
    value = env.get("PYTHONPATH")
    folders: list[str] = []
    for entry in value.split(os.pathsep) if value else []:
        folder = os.path.abspath(os.path.join(cwd, entry))
        if folder not in folders:
            folders.append(folder)
    return folders


def path_unfaithful(env: dict[str, str], cwd: str, own_path: list[str], modules: set[str]) -> bool:
    """Whether a run forked with ``PYTHONPATH``'s folders put on its path would differ from
    a real one: a folder holds a module this launcher loaded (a real run would import that
    one), or one ``site`` imports at start, or is a folder of the launcher's own path (a
    real run would find it earlier, and not again later)."""
    for folder in python_path(env, cwd):
        if folder in own_path:
            return True
        if os.path.isdir(folder) and shadowing(Path(folder), modules | IMPORTED_AT_START):
            return True
    return False


def shadowing(workspace: Path, modules: set[str]) -> list[str]:
    """The entries of workspace that a plain `python -m doit` there would import in place of
    a module of these top-level names."""
    found = []
    for entry in os.scandir(workspace):
        name = entry.name
        stem = name.split(".", 1)[0]
        if stem in modules and (entry.is_dir() or name.endswith((".py", ".pyc", ".so", ".pth"))):
            found.append(name)
    return found


#: pocflow's modules no doit run imports: pytest's side of a session (they import pytest),
#: the command line of `pocflow`
NOT_IN_RUNS = frozenset({"_select", "_session", "cli", "__main__"})


def imported_as_runs_go(path: list[str]) -> list[str]:
    """The modules a doit run imports after the dodo, as it goes: the rest of pocflow (its
    phases, verdicts, documents) and the libraries it renders and reads manifests with. A
    run forked from this launcher finds them imported (each run imported them again: 0.2
    to 0.3 s of CPU, a quarter of a small cold run's); nothing in them reads the
    environment, the folder or ``sys.path`` as it is imported, and a workspace holding a
    module of one of their top-level names gets a real process (``shadowing``), as before."""
    import pkgutil

    own = [f"pocflow.{info.name}" for info in pkgutil.iter_modules(path)]
    return [name for name in own if name.partition(".")[2] not in NOT_IN_RUNS] + [
        "jinja2",
        "yaml",
    ]


def compile_packaged_templates() -> None:
    """Compile pocflow's packaged templates, and the patterns of the lines their machine
    blocks render, as a run does the first time it renders or merges a document (a tenth
    of a small run's CPU): a run forked from here finds them compiled (pocflow.documents
    keeps both for the process, each checked against or keyed by the template's text).
    For no workspace: from an empty folder of its own."""
    import tempfile

    from pocflow import documents

    with tempfile.TemporaryDirectory(prefix="pocflow-launcher-") as empty:
        env = documents.template_environment(Path(empty), "templates", Path(empty, "compiled"))
        for name in env.list_templates():
            env.get_template(name)
            if "/" not in name:  # (a document's template, not a scaffold file's)
                documents.block_shapes(None, "templates", name)
    documents.template_environment.cache_clear()


def _become_doit(request: dict[str, object]) -> None:
    """In the forked child: become `python -m doit ARGS` in the request's folder."""
    cwd = str(request["cwd"])
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(request["env"])  # type: ignore[arg-type]
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    for fd, key in ((1, "out"), (2, "err")):
        target = os.open(str(request[key]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    os.close(stdin)
    # as a Python started by the test process: Ctrl-C raises, unless that process ignored it
    ignored = request.get("sigint_ignored")
    signal.signal(signal.SIGINT, signal.SIG_IGN if ignored else signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv = ["-m", *request["args"]]  # type: ignore[misc]
    sys.path[0] = cwd  # this file's folder until now, as `-m` puts the current one first
    sys.path[1:1] = python_path(request["env"], cwd)  # type: ignore[arg-type]
    # what doit's import took from sys.argv (in a plain run, `-m`): its help lines name it
    from doit.doit_cmd import DoitMain

    DoitMain.BIN_NAME = os.path.split(sys.argv[0])[-1]
    importlib.invalidate_caches()


class _Lent:
    """What pocflow.testing._ForkServer holds of its server process, for a server this
    launcher started (its child, not the run's: Popen.poll would find no child to wait for
    and call it ended)."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.pid = server.pid
        self.stdin: IO[bytes] | None = server.stdin
        self.stdout: IO[bytes] | None = server.stdout

    def poll(self) -> int | None:
        return None if _running(self.pid) else 1

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        while _running(self.pid):
            select.select([], [], [], 0.01)
        return 1


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _start_server() -> subprocess.Popen[bytes]:
    """A fork server started as pocflow.testing starts one (here: in this launcher's folder)."""
    from pocflow import testing
    from pocflow._proc import die_with_parent

    return subprocess.Popen(
        [sys.executable, str(Path(testing.__file__).with_name("_forkserver.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )


def _lend(server: subprocess.Popen[bytes]) -> None:
    """In the forked child: the run's pocflow takes this server as its process's own."""
    from pocflow import testing

    lent = testing._ForkServer.__new__(testing._ForkServer)
    lent.process = _Lent(server)  # type: ignore[assignment]
    testing._ForkServer._servers[os.getpid()] = lent


def _idle(server: subprocess.Popen[bytes], code: int) -> bool:
    """Whether the server a run borrowed is as it was lent: running, no reply waiting, no
    session of its own still running, and the run ended by itself (not by a signal, which
    may have come while a session ran)."""
    if code < 0 or server.poll() is not None or server.stdout is None:
        return False
    if select.select([server.stdout], [], [], 0)[0]:
        return False
    try:
        with open(f"/proc/{server.pid}/task/{server.pid}/children", encoding="utf-8") as handle:
            return not handle.read().split()
    except OSError:
        return False


def serve(parent: int, share: bool = True) -> None:
    from pocflow._proc import die_with_parent

    die_with_parent()  # as pocflow's own pytest processes do
    if os.getppid() != parent:  # the test worker died before the kernel was asked
        os._exit(1)
    # what `python -m doit` imports before it reads the dodo: doit, pocflow and their imports
    import doit.doit_cmd  # noqa: F401

    import pocflow
    import pocflow.cmd_run

    for name in imported_as_runs_go(pocflow.__path__):
        importlib.import_module(name)
    compile_packaged_templates()
    loaded = {name.partition(".")[0] for name in sys.modules}
    print(json.dumps({"modules": sorted(loaded), "path": sys.path[1:]}), flush=True)
    own = dict(os.environ)
    server: subprocess.Popen[bytes] | None = None
    for line in sys.stdin:
        request = json.loads(line)
        lend = share and request["env"] == own
        if lend and server is None:
            server = _start_server()
        pid = os.fork()
        if pid == 0:
            _become_doit(request)
            if lend and server is not None:
                _lend(server)
            # as `python -m doit` runs it: doit's __main__ as the main module, which ends
            # with sys.exit and so through the interpreter's own shutdown
            runpy.run_module("doit", run_name="__main__", alter_sys=True)
            sys.exit(0)  # not reached: doit's __main__ exits
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if lend and server is not None and not _idle(server, code):
            server.kill()  # (its session, if any, dies with it)
            server.wait()
            server = None
        print(json.dumps({"code": code}), flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]), share=sys.argv[2:] != ["0"])
