"""A warm `python -m doit` for pocflow's own suite: each run a fresh process, without the start.

Every end-to-end test runs doit in a workspace, most of them several times: about 700 runs
in the suite, each paying a Python start and the imports of doit and pocflow (a fifth of a
small cold run's CPU, nearly all of a no-op's). This launcher, started once per test worker
as ``python doit_launcher.py``, imports them once; for each request it forks a child that
becomes ``python -m doit ARGS`` in the request's folder — its environment, its
``sys.path[0]``, its ``sys.argv``, its standard streams — and ends as that command ends
(``sys.exit`` through the interpreter's own shutdown: atexit handlers, threads joined). So a
run is still a process of its own, with its own modules, state and exit code, as the
README's commands run.

What a fork cannot change is what the interpreter decided at start-up. ``fits`` tells
support.run_doit to start a real subprocess instead when a request's environment differs
from this launcher's in what the interpreter reads at start (PYTHON*, the locale, TZ, HOME),
or when the workspace holds a file or folder named like a module this launcher loaded
(a plain ``python -m doit`` there would import the workspace's).

One difference stays: the runs forked from one launcher share its hash seed (each worker's
launcher has its own, drawn at its start), where real runs each draw one. A test whose
verdict depends on the seed (the order of a set across runs) is as flaky as ever across
workers and sessions, but not within one worker.

Protocol: one JSON object per line in, ``{"cwd", "args", "env", "out", "err",
"sigint_ignored"}``; per request two lines out, ``{"pid": <child>}`` then ``{"code": <exit
code>}``. It ends when its stdin closes, and with the process that started it.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import signal
import sys
from pathlib import Path

#: environment variables the interpreter reads before any code runs
START_VARIABLES = ("PYTHON", "LC_", "LANG", "TZ", "HOME")


def reads_at_start(name: str) -> bool:
    return name.startswith(START_VARIABLES)


def start_environment(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if reads_at_start(k)}


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
    # what doit's import took from sys.argv (in a plain run, `-m`): its help lines name it
    from doit.doit_cmd import DoitMain

    DoitMain.BIN_NAME = os.path.split(sys.argv[0])[-1]
    importlib.invalidate_caches()


def serve(parent: int) -> None:
    from pocflow._proc import die_with_parent

    die_with_parent()  # as pocflow's own pytest processes do
    if os.getppid() != parent:  # the test worker died before the kernel was asked
        os._exit(1)
    # what `python -m doit` imports before it reads the dodo: doit, pocflow and their imports
    import doit.doit_cmd  # noqa: F401

    import pocflow
    import pocflow.cmd_run  # noqa: F401

    loaded = {name.partition(".")[0] for name in sys.modules}
    print(json.dumps({"modules": sorted(loaded)}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_doit(request)
            # as `python -m doit` runs it: doit's __main__ as the main module, which ends
            # with sys.exit and so through the interpreter's own shutdown
            runpy.run_module("doit", run_name="__main__", alter_sys=True)
            sys.exit(0)  # not reached: doit's __main__ exits
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
