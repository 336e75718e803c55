"""`doit run` in a pocflow workspace: one run at a time, and interruptions that stop cleanly.

pocflow's `run` command (a `doit.COMMAND` plugin; doit lets a plugin take the name of one
of its own commands) is doit's run command with, in a pocflow workspace (one whose
DOIT_CONFIG uses pocflow's state store):

- **one run per workspace**: a second `doit` run waits, saying so, until the first ends,
  so two runs never race on the state store, the records or the documents;
- **no litter**: temporary files of writes that a killed run left are removed (the
  files they were to replace are intact);
- **clean interruption**: SIGTERM stops the run like Ctrl-C (SIGINT) does: the running
  script or pytest session is stopped, doit saves what finished, and the run ends with one
  line and exit code 130 (SIGINT) or 143 (SIGTERM) instead of a traceback.

In any other dodo file it is doit's run command, unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit.cmd_run import Run as DoitRun

from pocflow._fs import sweep_temporaries
from pocflow.errors import PocflowError
from pocflow.settings import load_settings

#: the backend name a pocflow workspace's DOIT_CONFIG sets (see pocflow.store)
POCFLOW_BACKEND = "pocflow"
LOCK_FILE = "run.lock"


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Run(DoitRun):  # type: ignore[misc]
    """doit's run command, made safe for a shared workspace (see the module's doc)."""

    def execute(self, params: Any, args: list[str]) -> int:
        self._params = params  # doit fills in the dodo's DOIT_CONFIG before _execute
        return int(super().execute(params, args))

    @functools.wraps(DoitRun._execute)  # doit passes options by _execute's parameter names
    def _execute(self, *args: Any, **kwargs: Any) -> int:
        if self._params.get("backend") != POCFLOW_BACKEND:
            return int(super()._execute(*args, **kwargs))
        try:
            with interruptible(), run_lock(Path(self._params["dep_file"]).parent / LOCK_FILE):
                sweep_killed_writes(Path.cwd())  # doit runs commands in the dodo's folder
                return int(super()._execute(*args, **kwargs))
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            sys.stderr.write(
                f"pocflow: interrupted by {signal.Signals(signum).name}: tasks that finished "
                "are saved; the step that was running is not recorded verified. Run the same "
                "command again to continue.\n")
            return 128 + int(signum)


def sweep_killed_writes(root: Path) -> None:
    """Remove the temporary files of writes that a killed run left behind (the document
    or record they were to replace is intact: a write is a temporary file, then a rename)."""
    try:
        settings = load_settings(root)
    except PocflowError:
        return
    folders = {root / settings.docs_dir, root / settings.records_dir,
               (root / settings.state_file).parent}
    state = root / settings.state_dir
    folders |= {state, *(p for p in state.rglob("*") if p.is_dir())}
    for folder in folders:
        sweep_temporaries(folder)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGTERM raises Interrupted (a KeyboardInterrupt), as SIGINT does."""
    def stop(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the workspace's run lock; if another run holds it, say so and wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            sys.stderr.write(f"pocflow: another doit run is using this workspace ({holder}); "
                             "waiting for it to finish (Ctrl-C to stop waiting)\n")
            sys.stderr.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
