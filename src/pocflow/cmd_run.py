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
  line and exit code 130 (SIGINT) or 143 (SIGTERM) instead of a traceback;
- **plan order**: tasks that become ready together (the steps that depend on one same
  step, once it is done) run in the order the plan lists them, on every run (see
  _in_plan_order).

And three options for CI:

- ``--reverify`` (or ``POCFLOW_REVERIFY=1``): verify every selected step again, accepting
  no committed record and no local state (doit's ``--always`` plus no acceptance);
- ``--dry-run``: run nothing and write nothing; list the steps that would be verified again,
  and why, and whether the gate would run its suite; exit 1 if anything would run, else 0;
- ``--detailed-exit-code`` (or ``POCFLOW_DETAILED_EXIT_CODE=1``): exit 4 instead of 0 when
  the run passed but verified some step again (its scripts or tests ran); 0 then means
  every step was accepted or up to date and nothing ran.

In any other dodo file it is doit's run command, unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import os
import signal
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import doit.control
from doit.action import PythonAction
from doit.cmd_run import Run as DoitRun
from doit.dependency import JSONCodec
from doit.exceptions import InvalidCommand

from pocflow._command import CommandEdges, unknown_task_line
from pocflow._fs import sweep_temporaries
from pocflow.errors import PocflowError
from pocflow.fingerprint import differing, release_digests, save_cache_file
from pocflow.freshness import REVERIFY_ENV, installed_packages, reverify_forced
from pocflow.layout import (
    ALL_POCS_TASK,
    GATE_TASK,
    IMPLEMENT_FILE,
    PHASES,
    RUN_PHASES,
    STEP_TASK,
    TEST_FILE,
)
from pocflow.record import read_step_record, to_json
from pocflow.reporter import RUN_OUTCOMES
from pocflow.run import RunContext, run_root, users_tasks
from pocflow.settings import WORKERS_ENV, env_flag, load_settings, suite_session_wanted
from pocflow.store import DependencyStore
from pocflow.workspace import load_workspace, prerequisites_first, project_workspaces

#: the backend name a pocflow workspace's DOIT_CONFIG sets (see pocflow.store)
POCFLOW_BACKEND = "pocflow"
LOCK_FILE = "run.lock"
DETAILED_ENV = "POCFLOW_DETAILED_EXIT_CODE"
#: --detailed-exit-code: the run passed after verifying some step again
EXIT_VERIFIED_AGAIN = 4

opt_reverify = {
    "name": "reverify",
    "long": "reverify",
    "type": bool,
    "default": False,
    "help": "verify every selected step again: accept no committed record and no local "
    f"state [env {REVERIFY_ENV}=1]",
}
opt_dry_run = {
    "name": "dry_run",
    "long": "dry-run",
    "type": bool,
    "default": False,
    "help": "run nothing; list the steps that would be verified again and why; exit 1 if "
    "anything would run",
}
opt_detailed = {
    "name": "detailed_exit_code",
    "long": "detailed-exit-code",
    "type": bool,
    "default": False,
    "help": f"exit {EXIT_VERIFIED_AGAIN} (not 0) when the run passed but verified some step "
    f"again; 0 then means nothing ran [env {DETAILED_ENV}=1]",
}

opt_shard = {
    "name": "shard",
    "long": "shard",
    "type": str,
    "default": "",
    "help": "K/N: verify only the K-th of N shares of the steps (steps that depend on each "
    "other stay together), and not the gate: for CI jobs side by side whose "
    "records a last job gathers (docs/ci.md)",
}


class _InOrder(dict[Any, None]):
    """A set that gives its members back in the order they were added."""

    def add(self, member: Any) -> None:
        self[member] = None


class _PlanOrderNode(doit.control.ExecNode):  # type: ignore[misc]
    """doit's node of a task, whose dependents are released in the order they came to
    wait for it (doit keeps them in a set of objects, hashed by address: the steps that
    depend on one same step ran in a different order from run to run)."""

    def __init__(self, task: Any, parent: Any) -> None:
        super().__init__(task, parent)
        self.waiting_me = _InOrder()


@contextlib.contextmanager
def _in_plan_order() -> Iterator[None]:
    """doit's dispatcher, for this run, with nodes that release their dependents in order:
    the dispatcher walks each task's dependencies in their listed order (the gate's are the
    plan's steps), so sibling steps run in plan order, serially and as workers free up. A
    shared output the siblings extend (a table each adds to) then holds the same thing in
    every run, a fresh clone's included. (doit has no hook for the node class: its
    dispatcher names ExecNode from its module, which is swapped for the run and restored.)"""
    plain = doit.control.ExecNode
    doit.control.ExecNode = _PlanOrderNode
    try:
        yield
    finally:
        doit.control.ExecNode = plain


@contextlib.contextmanager
def _graph_kept_out_of_collections() -> Iterator[None]:
    """No garbage collection while doit loads the tasks, and the loaded graph left out of
    every collection after (``gc.freeze``, once Run._execute starts). Loading makes tens of
    thousands of long-lived objects (task dicts, doit's tasks, their checks) and no garbage;
    the collector's passes over them were a fifth of a no-op's time at 1000 steps. What the
    run itself allocates is collected as usual. Put back as it was at the end (doit may run
    in-process, in a test)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Run(CommandEdges, DoitRun):  # type: ignore[misc]
    """doit's run command, made safe for a shared workspace (see the module's doc)."""

    cmd_options = (*DoitRun.cmd_options, opt_reverify, opt_dry_run, opt_detailed, opt_shard)

    def execute(self, params: Any, args: list[str]) -> int:
        self._params = params  # doit fills in the dodo's DOIT_CONFIG before _execute
        # doit's --always means "run every selected task": for a phase that is verifying
        # it again, not accepting its record (the same as --reverify)
        if params.get("reverify") or reverify_forced() or params.get("always"):
            os.environ[REVERIFY_ENV] = "1"  # the phases (and doit's workers) see it
            params["always"] = True
        # before the tasks load: whether the kernel's watch is on is part of the environment
        # their up-to-date checks compare (pocflow.freshness.environment)
        os.environ[WORKERS_ENV] = str(params.get("num_process") or 1)
        try:
            with _graph_kept_out_of_collections():
                return int(super().execute(params, args))
        except InvalidCommand as exc:
            if exc.not_found is None or params.get("backend") != POCFLOW_BACKEND:
                raise  # (another dodo's: doit's own message)
            # a name that is no task and no file: say which steps (or PoCs) there are
            raise InvalidCommand(self._unknown(exc.not_found)) from None
        finally:
            os.environ.pop(WORKERS_ENV, None)

    def _unknown(self, name: str) -> str:
        return unknown_task_line(name, [task.name for task in getattr(self, "task_list", ())])

    @functools.wraps(DoitRun._execute)  # doit passes options by _execute's parameter names
    def _execute(self, *args: Any, **kwargs: Any) -> int:
        gc.freeze()  # the task graph is loaded: see _graph_kept_out_of_collections
        gc.enable()
        if kwargs.get("outfile") is sys.stdout:  # the reporter's: see CommandEdges
            kwargs["outfile"] = self.outstream
        # the workspace whose tasks doit loaded (doit's -d may have moved the process)
        root = Path(run_root() or Path.cwd())
        store = type(getattr(self.dep_manager, "backend", None))
        if self._params.get("backend") != POCFLOW_BACKEND or store is not DependencyStore:
            # another store (or another class a plugin gives pocflow's name): what doit skips
            # or ignores there is not pocflow's to see
            code = int(super()._execute(*args, **kwargs))
            return self._postconditions(root, code, checked=False)
        # the user's code, where the dodo has some (its own tasks, pocflow's tasks it
        # changed, a reporter of its own), runs while doit checks tasks and after the gate:
        # no input digest is held between two outcomes, and the gate's promise is checked at
        # the end
        theirs = users_code(
            self.task_list,
            self._params.get("reporter"),
            self.reporters,
            self.dep_manager,
            scaffolded=_scaffolded(self.loader),
        ) or not all(
            # files doit writes as the run ends, after the gate: its store, its output file
            _kept_apart(root, path)
            for path in (self._params["dep_file"], self._params.get("outfile"))
            if isinstance(path, str)
        )
        if theirs:
            release_digests()
        else:
            _workspace_off_the_path(root)
        if self._params.get("shard") and not self._select_shard(root, self._params["shard"]):
            self.dep_manager.close()
            return 0
        if self._params.get("dry_run"):
            try:  # (what doit keeps of each task is read from the store before it closes)
                return dry_run(root, self._selected_tasks(), self.dep_manager.get_values)
            finally:
                self.dep_manager.close()
        if kwargs.get("num_process"):
            _workers_die_with_the_run()
        os.environ[WORKERS_ENV] = str(kwargs.get("num_process") or 1)
        try:
            with interruptible(), run_lock(Path(self._params["dep_file"]).parent / LOCK_FILE):
                sweep_killed_writes(root)
                detailed = self._params.get("detailed_exit_code") or env_flag(DETAILED_ENV)
                before = phase_results(root) if detailed else {}
                try:
                    with _in_plan_order():
                        code = int(super()._execute(*args, **kwargs))
                finally:
                    save_cache_file()  # file digests, for the next run's checks
                if code == 2 and _only_failures_behind(RUN_OUTCOMES):
                    code = 1  # --continue: tasks not run after a failure are not errors
                checked = RunContext.of(str(root.resolve())).gate_checked and not theirs
                code = self._postconditions(root, code, checked)
                if code == 0 and detailed and verified_again(before):
                    return EXIT_VERIFIED_AGAIN
                return code
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            sys.stderr.write(
                f"pocflow: interrupted by {signal.Signals(signum).name}: tasks that finished "
                "are saved; the step that was running is not recorded verified. Run the same "
                "command again to continue.\n"
            )
            return 128 + int(signum)
        finally:
            os.environ.pop(WORKERS_ENV, None)

    def _postconditions(self, root: Path, code: int, checked: bool) -> int:
        """The run's exit code once what its gates promise is checked as the run ends (a
        gate ignored, run in a worker, or followed by the user's code); ``checked``: the
        current PoC's gate ran or was found up to date in this process, and nothing of the
        user's ran after it."""
        if code != 0:
            return code
        selected = self._selected_tasks()
        code = steps_postcondition(root, selected)
        if code == 0:
            code = gate_postcondition(root, selected, checked)
        if code == 0 and ALL_POCS_TASK in selected:
            code = stage_postcondition(root)
        return code

    def _select_shard(self, root: Path, text: str) -> bool:
        """Select the steps of the shard K/N instead of the gate (pocflow.shard); False
        when the share has no step (nothing to do)."""
        from pocflow.shard import parse_shard, project_shares

        selected: list[str] = list(getattr(self, "sel_tasks", None) or [])
        if any(name != GATE_TASK for name in selected):
            raise InvalidCommand(
                "--shard picks the steps itself: give no task, or "
                "poc-complete (`doit --shard 2/3 poc-complete`)"
            )
        try:
            index, count = parse_shard(text)
            share = project_shares(project_workspaces(root), count)[index - 1]
        except PocflowError as exc:
            raise InvalidCommand(str(exc)) from None
        sys.stderr.write(
            f"pocflow: shard {index}/{count}: "
            + (
                f"step(s) {', '.join(t.replace('step:', '') for t in share)}"
                if share
                else "no step"
            )
            + "; the gate runs in the job that gathers every shard's records\n"
        )
        self.sel_tasks = share
        return bool(share)

    def _selected_tasks(self) -> set[str]:
        """The names of the selected tasks and of every task they depend on, the selection
        read as doit reads it (task names, targets, sub-task patterns): a name that is none
        of them raises doit's InvalidCommand, as a run of it would."""
        from doit.control import TaskControl

        from pocflow.reporter import task_closure

        control = getattr(self, "control", None)  # (doit's run made one: the run's own)
        if control is None:
            control = TaskControl(self.task_list)
            control.process(self.sel_tasks)
        return task_closure(
            {task.name: task for task in self.task_list}, list(control.selected_tasks)
        )


def users_code(
    tasks: list[Any],
    reporter: Any,
    reporters: dict[str, Any] | None = None,
    dep_manager: Any = None,
    scaffolded: bool = False,
) -> bool:
    """Whether this run holds code of the user's own that pocflow cannot watch: a task
    pocflow did not make; one of pocflow's tasks the dodo changed (an action, up-to-date
    check, title, setup, teardown, parameter or task creator that is not pocflow's, or
    pocflow's own callable given an argument that is not plain data: a ``str`` subclass
    runs code wherever it is read); a reporter that is not doit's or pocflow's (a class,
    or a name a plugin gives); a file checker or codec of doit's store that is not doit's
    or pocflow's. ``scaffolded``: the tasks come from the dodo pocflow writes, as
    ``generate_tasks`` made them (their fields are not looked at one by one: that look costs
    a no-op at 1000 steps 8%)."""
    if users_tasks(task.name for task in tasks):
        return True
    chosen = (reporters or {}).get(reporter) if isinstance(reporter, str) else reporter
    if reporter is not None and chosen not in _known_reporters():
        return True
    if dep_manager is not None and (
        type(dep_manager.checker) not in _known_checkers()
        or type(dep_manager.backend.codec) is not JSONCodec
    ):
        return True
    if scaffolded:
        return False
    seen: set[int] = set()
    return any(_changed(task, seen) for task in tasks)


def _workspace_off_the_path(root: Path) -> None:
    """Take the workspace's folder (which doit put first on ``sys.path`` to import the dodo,
    as ``python -m`` puts the current folder) off the path, in a run with no code of the
    user's: pocflow's own imports from then on (jinja2 as it renders, the standard library)
    must not find a step's module of the same name (a workspace's ``jinja2.py`` ran inside
    the document phase). What is installed is worked out first, with the path as it was."""
    installed_packages()
    here = {os.path.realpath(root), os.path.realpath(os.curdir)}
    sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or os.curdir) not in here]


def _kept_apart(root: Path, dep_file: str) -> bool:
    """Whether a file doit writes as the run ends (after the gate: its store, the output
    file of ``-o``) is in pocflow's state folder, where no step's reads are inputs; anywhere
    else a step's tests may read it, so the gate's promise is checked once it is written."""
    try:
        state = (root / load_settings(root).state_dir).resolve()
    except PocflowError:
        return False
    return Path(os.path.abspath(dep_file)).resolve().is_relative_to(state)


def _scaffolded(loader: Any) -> bool:
    """Whether doit loaded the tasks with its own loader from the dodo pocflow writes
    (pocflow.scaffold.DODO: ``yield from generate_tasks(__file__)`` and nothing else)."""
    from doit.cmd_base import DodoTaskLoader

    from pocflow.scaffold import is_scaffolded_dodo

    namespace = getattr(loader, "namespace", None)
    return (
        type(loader) is DodoTaskLoader and type(namespace) is dict and is_scaffolded_dodo(namespace)
    )


def _known_reporters() -> tuple[type, ...]:
    from doit import reporter

    from pocflow.reporter import PocflowReporter

    return (
        PocflowReporter,
        reporter.ConsoleReporter,
        reporter.ExecutedOnlyReporter,
        reporter.JsonReporter,
        reporter.ZeroReporter,
        reporter.ErrorOnlyReporter,
    )


def _known_checkers() -> tuple[type, ...]:
    from doit.dependency import CHECKERS

    from pocflow.checker import ContentChecker

    return (ContentChecker, *CHECKERS.values())


def _changed(task: Any, seen: set[int]) -> bool:
    """Whether the dodo put code of its own into one of pocflow's tasks (``seen``: see
    ``_plain``)."""
    if task.teardown or task.custom_title or task.setup_tasks or task.params or task.pos_arg:
        return True
    if task.getargs or not _strings(
        (task.name,), task.file_dep, task.targets, task.task_dep, task.calc_dep
    ):
        return True  # a str subclass as a name or a dependency runs code as doit compares it
    if task.loader is not None:  # made by a task creator (``create_after``): the dodo's
        return True
    for action in _action_specs(task):
        code, arguments = _callable_of(action)
        if not _pocflows(code) or not all(_plain(given, seen) for given in arguments):
            return True
    for check, args, kwargs in task.uptodate:
        if isinstance(check, bool) or check is None:
            continue
        if not _pocflows(check) or not (_plain(args, seen) and _plain(kwargs, seen)):
            return True
        if not isinstance(check, types.FunctionType) and not _plain(vars(check), seen):
            return True  # one of pocflow's checks whose state the dodo changed
    return False


def _strings(*groups: Any) -> bool:
    """Whether every item of each group is exactly a ``str``."""
    return all(set(map(type, group)) <= _STR for group in groups)


_STR = {str}


def _action_specs(task: Any) -> list[Any]:
    """A task's actions as the dodo gave them. doit's ``Task.actions`` makes an action object
    of each on first use, which a no-op never needs: asked of every task, that cost 3% of a
    no-op at 1000 steps. (``_actions`` is doit's own attribute, read only here.)"""
    specs = getattr(task, "_actions", None)
    return list(specs) if isinstance(specs, (list, tuple)) else list(task.actions)


def _callable_of(action: Any) -> tuple[Any, tuple[Any, ...]]:
    """The Python callable of an action as doit takes it (a callable, a ``(callable, args,
    kwargs)`` tuple, an object of doit's ``PythonAction`` itself) and what it is given (its
    args and kwargs, the objects the task holds); no callable for a command (a string or a
    list) or any other action object (a class of the dodo's: its ``execute`` is the user's
    code, whatever callable it carries)."""
    if isinstance(action, tuple):
        return (action[0], action[1:]) if action else (None, ())
    if isinstance(action, (str, list)):
        return None, ()
    if type(action) is PythonAction:
        return action.py_callable, (action.args, action.kwargs)
    return (None, ()) if hasattr(action, "execute") else (action, ())


def _pocflows(code: Any) -> bool:
    """Whether a callable (a function, or an object called: its class's) is pocflow's own."""
    module = getattr(code, "__module__", None) if callable(code) else None
    return isinstance(module, str) and (module == "pocflow" or module.startswith("pocflow."))


#: the types of plain data: what pocflow's own actions and checks are given
_LEAVES = frozenset({str, int, float, bool, type(None)})
_SEQUENCES = frozenset({list, tuple, set, frozenset})


def _plain(value: Any, seen: set[int]) -> bool:
    """Whether a value is plain data (strings, numbers, containers of them, and objects of
    pocflow's own classes made of them) that runs no code of the user's when read. ``seen``:
    the containers looked at so far (every task shares some, such as the environment its
    checks compare; a False ends the whole look). Only ever given what a task holds, never
    a container made for the look: alive through it, so an id is no other object's."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind in _LEAVES or id(item) in seen:
            continue
        if kind in _SEQUENCES:
            if not set(map(type, item)) <= _LEAVES:  # a list of strings: one pass of C
                pending.extend(item)
        elif kind is dict:
            if not set(map(type, item)) <= _LEAVES:
                return False
            if not set(map(type, item.values())) <= _LEAVES:
                pending.extend(item.values())
        elif _pocflows(kind) and isinstance(getattr(item, "__dict__", None), dict):
            pending.append(vars(item))  # a spec, a selection, a check's state
        else:
            return False
        seen.add(id(item))
    return True


def _only_failures_behind(outcomes: dict[str, int]) -> bool:
    """Whether a run doit ends with exit 2 had failures and, besides them, only tasks doit
    did not run because a task they need failed (``--continue``): a failing step (exit 1),
    not a task that could not do its work (exit 2)."""
    return outcomes["failed"] > 0 and outcomes["errors"] == 0


def _workers_die_with_the_run() -> None:
    """doit's parallel workers (``-n``) are forked from this process: they die with it (a
    SIGKILLed run left them holding the run lock for ever) and leave Ctrl-C to it
    (pocflow._proc.forked_worker). The hook runs in every child forked from here; pytest
    sessions exec'd from one reset what it set (pocflow._proc.die_with_parent), and step
    scripts from their own start (pocflow/_site/sitecustomize.py)."""
    if not _HOOKED:
        from pocflow._proc import forked_worker

        os.register_at_fork(after_in_child=forked_worker)
        _HOOKED.append(True)


_HOOKED: list[bool] = []


def stage_postcondition(root: Path) -> int:
    """0 if every PoC of the project is complete now, else 1 with why (all-pocs-complete was
    selected, and doit may have skipped it: ``doit ignore``)."""
    from pocflow.gate import stage_problem

    try:
        problem, _ = stage_problem(load_workspace(root))
    except PocflowError as exc:
        problem = str(exc)
    if not problem:
        return 0
    sys.stderr.write(f"pocflow: all-pocs-complete did not pass:\n{problem}\n")
    return 1


def steps_postcondition(root: Path, selected: set[str]) -> int:
    """0 if every step whose ``step:<id>`` task the run selected still stands on what its
    record says it read, else 1 with why. pocflow writes after a step's tests: its results
    doc, its record, PROJECT_STATE.md — a test that listed their folder, or read one through
    a link, saw them otherwise (the state phase refuses a step that read one by name)."""
    problems = []
    try:
        for ws in project_workspaces(root):
            for step_id in ws.steps:
                if ws.task(STEP_TASK, step_id) not in selected:
                    continue
                record = read_step_record(ws.root / ws.record_path(step_id))
                if record is None or not record.is_verified:
                    continue
                changed = differing(ws.root, record.inputs)
                if changed:
                    problems.append(
                        f"step {step_id}: changed since its tests ran, by this run: "
                        f"{', '.join(changed[:5])} (run `doit step:{step_id}` again)"
                    )
    except PocflowError as exc:
        problems = [str(exc)]
    for problem in problems:
        sys.stderr.write(f"pocflow: {problem}\n")
    return 1 if problems else 0


def gate_postcondition(root: Path, selected: set[str], current_checked: bool) -> int:
    """0 if every PoC whose gate the run selected is complete now, else 1 with why. doit
    may skip a gate without running it (``doit ignore`` on a step's task ignores every task
    after it, the gate included): a run that selected a gate passes only if what the gate
    promises holds when it ends. The current PoC's gate also stands on every earlier PoC's
    steps (PROJECT_STATE.md, before it, shows them all)."""
    from pocflow.status import incomplete, unverified

    problems = []
    try:
        pocs = project_workspaces(root)
        current = pocs[-1]
        for ws in pocs:
            gate = ws.task(GATE_TASK)
            if ws.poc is None and GATE_TASK in selected and current_checked:
                continue  # it ran (or was found up to date) in this process
            if gate in selected:
                problem = incomplete(ws)
            elif GATE_TASK in selected and ws is not current:
                problem = unverified(ws)
            else:
                continue
            if problem:
                problems.append((gate, problem))
    except PocflowError as exc:
        problems = [(GATE_TASK, str(exc))]
    for gate, problem in problems:
        sys.stderr.write(
            f"pocflow: {gate} did not pass (was a task ignored or skipped?):\n{problem}\n"
        )
    return 1 if problems else 0


def phase_results(root: Path) -> dict[Path, tuple[tuple[int, int], str]]:
    """Every step's implement and test result file (of every PoC): its (mtime_ns, size),
    and the text the step's committed record has for that phase (what accepting the record
    writes)."""
    try:
        pocs = project_workspaces(root)
    except PocflowError:
        return {}
    found = {}
    for ws in pocs:
        for step_id in ws.steps:
            record = read_step_record(root / ws.record_path(step_id))
            for name, result in (
                (IMPLEMENT_FILE, record and record.implement),
                (TEST_FILE, record and record.test),
            ):
                path = ws.run_file(step_id, name)
                try:
                    info = path.stat()
                    stamp = (info.st_mtime_ns, info.st_size)
                except OSError:
                    stamp = (0, 0)
                found[path] = (stamp, to_json(result, local=True) if result else "")
    return found


def verified_again(before: dict[Path, tuple[tuple[int, int], str]]) -> bool:
    """Whether some step's scripts or tests ran since `before` was taken: a result file was
    written that is not the copy of the record accepting it would have written."""
    for path, (stamp, copy) in before.items():
        try:
            info = path.stat()
        except OSError:
            continue
        if (info.st_mtime_ns, info.st_size) != stamp and path.read_text(encoding="utf-8") != copy:
            return True
    return False


def dry_run(
    root: Path, selected: set[str], values_of: Callable[[str], dict[str, Any]] | None = None
) -> int:
    """Say what a run of the selected tasks would do (the steps of every PoC they reach);
    1 if it would run anything. ``values_of``: what doit keeps of a task's last run here
    (a phase that last ran here with other packages installed runs again)."""
    from dataclasses import replace

    from pocflow.batch import failed_together
    from pocflow.gate import accepted_gate
    from pocflow.phases import installed_anew
    from pocflow.status import compute_status

    out = sys.stdout
    plans = []
    try:
        for ws in project_workspaces(root):
            statuses = compute_status(ws)
            gate_selected = ws.task(GATE_TASK) in selected
            steps = prerequisites_first(  # a step runs after what it depends on, when needed
                ws,
                [
                    sid
                    for sid in ws.steps
                    if gate_selected or any(ws.task(phase, sid) in selected for phase in PHASES)
                ],
            )
            for sid in steps:  # as the run's phases judge it: see phases.judged
                if (
                    statuses[sid].is_verified
                    and values_of is not None
                    and any(installed_anew(values_of(ws.task(phase, sid))) for phase in RUN_PHASES)
                ):
                    statuses[sid] = replace(
                        statuses[sid],
                        standing="stale",
                        reasons=["the installed packages changed since it last ran here"],
                    )
            again = [statuses[sid] for sid in steps if not statuses[sid].is_verified]
            gate_runs = gate_selected and (bool(again) or accepted_gate(ws) is None)
            plans.append((ws, statuses, steps, again, gate_runs))
    except PocflowError as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return 3
    out.write("pocflow: dry run: nothing was run or written\n")
    total = sum(len(steps) for _, _, steps, _, _ in plans)
    verified_again = sum(len(again) for _, _, _, again, _ in plans)
    gates = []
    for ws, statuses, steps, again, gate_runs in plans:
        which = "" if ws.poc is None else f"PoC {ws.settings.poc} "
        for status in again:
            action = {
                "not-started": "cannot run (no files yet)",
                "failed": "would run again",
                "blocked": "would wait for its prerequisites",
            }.get(status.standing, "would be verified again")
            why = "; ".join(status.reasons) or status.standing
            out.write(f"  {which}step {status.step_id} ({status.name}): {action}: {why}\n")
        held = [sid for sid in steps if statuses[sid].is_verified]
        if held:
            out.write(f"  {which}accepted as verified, their records hold: {', '.join(held)}\n")
        if gate_runs:
            gates.append(ws.task(GATE_TASK))
            suite = suite_session_wanted(ws.settings) or bool(failed_together(ws))
            out.write(
                f"  {ws.task(GATE_TASK)}: would "
                + ("run the full step suite" if suite else "check every step's record")
                + ("" if again else " (the step records changed since it last passed)")
                + "\n"
            )
    if verified_again or gates:
        out.write(
            f"pocflow: {verified_again} of {total} step(s) would be verified again"
            + (
                ", and the gate would run"
                if gates == [GATE_TASK]
                else f", and {' and '.join(gates)} would run"
                if gates
                else ""
            )
            + "\n"
        )
        return 1
    out.write("pocflow: nothing would run: every selected step's record holds\n")
    return 0


def sweep_killed_writes(root: Path) -> None:
    """Remove the temporary files of writes that a killed run left behind (the document
    or record they were to replace is intact: a write is a temporary file, then a rename)."""
    try:
        settings = load_settings(root)
    except PocflowError:
        return
    for folder in {
        root / settings.docs_dir,
        root / settings.records_dir,
        (root / settings.state_file).parent,
    }:
        sweep_temporaries(folder)
    sweep_temporaries(root / settings.state_dir, below=True)


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
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            sys.stderr.write(
                f"pocflow: another doit run is using this workspace ({holder}); "
                "waiting for it to finish (Ctrl-C to stop waiting)\n"
            )
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
