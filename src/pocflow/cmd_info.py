"""`doit info` in a pocflow workspace: doit's command, with one line for a name that is not
a task (doit's own ends in a KeyError traceback), and a step's status read from its phases.

doit gives a group task ('step:3b', whose only work is its phases as task_dep) the status
"run" whatever its phases' (it has no file_dep nor uptodate of its own) and exits 1: for a
verified step, `doit info step:3b` said it would run. A group's status here is its
phases': up-to-date when each of them is, else the reasons of each that would run.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from doit.cmd_info import Info as DoitInfo
from doit.exceptions import InvalidCommand

from pocflow._command import CommandEdges, unknown_task_line


class Info(CommandEdges, DoitInfo):  # type: ignore[misc]
    """doit's info command; a name that is no task says which steps or tasks there are."""

    def _execute(self, pos_args: list[str], hide_status: bool = False) -> Any:
        tasks = {task.name: task for task in self.task_list}
        if len(pos_args) == 1 and pos_args[0] not in tasks:
            raise InvalidCommand(unknown_task_line(pos_args[0], list(tasks)))
        task = tasks[pos_args[0]] if len(pos_args) == 1 else None
        if task is None or task.actions or task.file_dep or task.uptodate:
            return super()._execute(pos_args, hide_status)
        return self._group(task, tasks, hide_status)

    def _group(self, task: Any, tasks: dict[str, Any], hide_status: bool) -> int:
        """doit's info for a group task, its status that of the phases it groups."""
        phases = [name for name in task.task_dep if not name.startswith("_")]  # (doit's hidden)
        write = self.outstream.write
        write(f"\n{task.name}\n")
        if task.doc:
            write(f"\n{task.doc}\n")
        retcode = 0
        if not hide_status:
            waiting = []
            for name in phases:
                status = self.dep_manager.get_status(tasks[name], tasks, get_log=True)
                if status.status != "up-to-date":
                    reasons = self.get_reasons(status.reasons) or " * it has not run yet"
                    waiting.append(f" {name} would run:\n{_indent(reasons)}")
            # what doit cannot see yet: a prerequisite that runs first and changes what the
            # step stands on (doit compares each task with its own last run only)
            upstream = _upstream_moving(task.name)
            if upstream and not waiting:
                waiting.append(f" {task.name} would run:\n{_indent(upstream)}")
            write(f"\n{'status':11s}: {'run' if waiting else 'up-to-date'}\n")
            if waiting:
                write("\n".join(waiting) + "\n")
                retcode = 1
        write(f"\n{'task_dep':11s}: \n")
        write("".join(f" - {name}\n" for name in phases))
        return retcode

    @staticmethod
    def get_reasons(reasons: dict[str, Any]) -> str:
        """doit's reasons, with pocflow's up-to-date checks said in words rather than as the
        repr of their settings (a screenful of JSON for one changed file)."""
        from doit.tools import config_changed

        from pocflow.phases import phase_current

        said = []
        for check, args, _kwargs in reasons.get("uptodate_false") or []:
            if isinstance(check, phase_current):
                said.append(
                    " * its settings, or a file its last run read, changed since it last "
                    "ran here (or it never did)"
                )
            elif isinstance(check, config_changed):
                said.append(" * its settings or template changed since it last ran")
            else:
                name = getattr(check, "__name__", type(check).__name__)
                said.append(
                    _CHECKS[name](args)
                    if name in _CHECKS
                    else f" * {name}({', '.join(map(str, args))}) is false"
                )
        rest = DoitInfo.get_reasons(defaultdict(list, {**reasons, "uptodate_false": []}))
        return "\n".join([*said, *([rest] if rest else [])])


#: pocflow's other up-to-date checks, in words (their arguments: the dict's ``uptodate``)
_CHECKS: dict[str, Any] = {
    "written_unchanged": lambda args: (
        f" * {_shown(args[0])} is not as pocflow last wrote it (edited, reverted, or gone)"
    ),
    "records_hold": lambda args: (
        " * a step's record does not hold on the files as they are, or the gate has not "
        "passed on these records"
    ),
    "records_unchanged": lambda args: (
        " * a step's record changed (or a step came or went) since PROJECT_STATE.md was "
        "written from them"
        + (", or it was written showing a step not verified" if len(args) > 1 and args[1] else "")
    ),
}


def _shown(path: Any) -> str:
    """A path an up-to-date check was given (absolute), as the workspace names it."""
    try:
        return Path(str(path)).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _indent(text: str) -> str:
    return "\n".join(f"   {line}" for line in text.splitlines())


def _upstream_moving(name: str) -> str:
    """The status's reasons for the step of a group task when a prerequisite moved it
    (stale upstream; '' when not, or when it is no step's task)."""
    from pocflow.errors import PocflowError
    from pocflow.layout import STEP_TASK
    from pocflow.run import run_root
    from pocflow.status import compute_status
    from pocflow.workspace import project_workspaces

    try:
        pocs = project_workspaces(Path(run_root() or Path.cwd()))
    except PocflowError:
        return ""
    for ws in pocs:
        for sid in ws.steps:
            if ws.task(STEP_TASK, sid) == name:
                status = compute_status(ws)[sid]
                if not status.upstream:
                    return ""
                return "\n".join(f" * {reason}" for reason in status.reasons)
    return ""
