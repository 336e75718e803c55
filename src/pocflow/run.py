"""One doit invocation in one workspace: the context that pocflow's task loader, actions,
up-to-date checks, reporter and run command share, the way pytest hands its ``config``
around.

doit calls actions and checks with the plain arguments of their task dicts (a workspace root
string: task dicts stay picklable for ``doit -n``), so a run is found by that root:
``RunContext.of(root)``. ``begin`` starts one when doit loads the tasks; code that runs
without a task load (a test calling an action directly) gets a fresh one on first use.

Decisions are made once per task and then read, never made again: whether a step's task
takes the step's committed record instead of running (``decide``, by the reporter as it
announces the task; ``take``, by the task's action, which makes the decision itself only
when nobody made it). A decision is made right before its task runs, because a record's
standing depends on the records that earlier tasks of the run wrote. Under ``doit -n`` the
actions run in worker processes, which doit starts on a task before its reporter hears of
it: there the action decides in its worker, and the reporter's line rests on its own
evaluation of the same files.

What a child process must be told goes through the environment: doit's ``-n`` workers get
the run's token (``POCFLOW_RUN``: they share the batch session of the ready steps' tests
through files that name the run) and ``--reverify`` (``POCFLOW_REVERIFY``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pocflow.workspace import Workspace, load_workspace, project_workspaces

if TYPE_CHECKING:
    from pocflow.freshness import FileWriters, ScriptMade

#: the environment variable that names one doit invocation (set when tasks are loaded)
RUN_ENV = "POCFLOW_RUN"

T = TypeVar("T")


class RunContext:
    """What one doit invocation in one workspace knows while it runs. (A plain class, not a
    dataclass: it is made on every run, even one with nothing to do.)"""

    __slots__ = (
        "_decisions",
        "_project",
        "_workspaces",
        "acted",
        "awaiting_suite",
        "current",
        "gate_checked",
        "installed_anew",
        "made",
        "root",
        "writers",
    )

    def __init__(self, root: str) -> None:
        self.root = root
        #: doit found these (PoC, step id, phase) current, on the fingerprints of all they
        #: stand on
        self.current: set[tuple[int | None, str, str]] = set()
        #: some pocflow phase action ran in this process
        self.acted = False
        #: a test phase was found current though an output its tests read changed since:
        #: a step depending on it rewrote the file (the gate does not take its record as
        #: proof then; pocflow.freshness.output_changes)
        self.awaiting_suite = False
        #: tasks whose phase last ran here with other packages installed than now: they run
        #: again, and do not take their step's record
        self.installed_anew: set[str] = set()
        #: the current PoC's gate was found up to date, or ran and passed, in this process
        self.gate_checked = False
        #: decisions made for tasks about to run, not yet taken by their actions
        self._decisions: dict[str, object] = {}
        #: per PoC, each file the steps' scripts write -> the steps that write it (made when
        #: first needed, kept up to date as scripts run: pocflow.freshness.undeclared_reads)
        self.writers: dict[int | None, FileWriters] = {}
        #: per PoC, each file the steps' scripts wrote -> the contents their latest runs left
        #: (pocflow.freshness.ScriptMade)
        self.made: dict[int | None, ScriptMade] = {}
        self._workspaces: dict[int | None, Workspace] = {}
        self._project: list[Workspace] | None = None

    @classmethod
    def of(cls, root: str) -> RunContext:
        """The run in the workspace at root (a new one when none has begun there)."""
        run = _RUNS.get(root)
        if run is None:
            run = _RUNS[root] = cls(root)
        return run

    def workspace(self, poc: int | None = None) -> Workspace:
        """The run's workspace of PoC ``poc`` (default: the current one), loaded once: the
        task graph doit runs was built from it, and the up-to-date checks ask for it hundreds
        of times a run (load_workspace compares the plan, the step folders' listings and the
        manifests each time it is asked)."""
        ws = self._workspaces.get(poc)
        if ws is None:
            ws = self._workspaces[poc] = load_workspace(Path(self.root), poc)
        return ws

    def workspaces(self) -> list[Workspace]:
        """The workspace of every PoC of the project (the current one last), loaded once."""
        if self._project is None:
            self._project = project_workspaces(Path(self.root))
            for ws in self._project:
                self._workspaces.setdefault(ws.poc, ws)
        return self._project

    def decide(self, task: str, decision: Callable[[], T]) -> T:
        """The decision for a task about to run: made now, and kept for its action."""
        made = decision()
        self._decisions[task] = made
        return made

    def take(self, task: str, decision: Callable[[], T]) -> T:
        """The decision made for this task as it was announced, else made now."""
        if task in self._decisions:
            return self._decisions.pop(task)  # type: ignore[return-value]
        return decision()


_RUNS: dict[str, RunContext] = {}
#: the names of the tasks pocflow made in this invocation; every other task is the user's own
_OWN_TASKS: set[str] = set()
#: the folder of the dodo file whose tasks this invocation loaded (set by begin)
_BEGUN: list[str] = []


def own_tasks(tasks: Iterable[dict[str, Any]]) -> None:
    """Note the tasks pocflow made (doit task dicts; a sub-task's group by its basename)."""
    for task in tasks:
        basename, name = task["basename"], task.get("name")
        _OWN_TASKS.add(basename)
        if name is not None:
            _OWN_TASKS.add(f"{basename}:{name}")


def users_tasks(names: Iterable[str]) -> list[str]:
    """The names among these of tasks pocflow did not make in this invocation: the user's
    own, whose up-to-date checks, titles, task creators, actions and teardowns are the
    user's code."""
    return [name for name in names if name not in _OWN_TASKS]


def begin(root: str) -> RunContext:
    """A doit invocation starts in the workspace at root (its tasks are being loaded): a new
    run, a new token for its worker processes, and no cache of the last run's scans."""
    from pocflow.imports import forget_shared
    from pocflow.inputs import forget as forget_inputs

    os.environ[RUN_ENV] = uuid.uuid4().hex
    forget_shared()
    forget_inputs()
    _RUNS.clear()
    _OWN_TASKS.clear()
    _BEGUN[:] = [root]
    run = _RUNS[root] = RunContext(root)
    return run


def run_root() -> str | None:
    """The workspace whose tasks this invocation loaded (its dodo file's folder), if any:
    doit's ``-d`` may have put the process in another folder."""
    return _BEGUN[0] if _BEGUN else None


def run_token() -> str:
    """The token of this invocation ('' outside one): its worker processes see it too."""
    return os.environ.get(RUN_ENV, "")
