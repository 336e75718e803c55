"""`doit info` in a pocflow workspace: doit's command, with one line for a name that is not
a task (doit's own ends in a KeyError traceback), and a step's status read from its phases.

doit gives a group task ('step:3b', whose only work is its phases as task_dep) the status
"run" whatever its phases' (it has no file_dep nor uptodate of its own) and exits 1: for a
verified step, `doit info step:3b` said it would run. A group's status here is its
phases': up-to-date when each of them is, else the reasons of each that would run.
"""

from __future__ import annotations

from collections import defaultdict
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
                said.append(f" * {name}({', '.join(map(str, args))}) is false")
        rest = DoitInfo.get_reasons(defaultdict(list, {**reasons, "uptodate_false": []}))
        return "\n".join([*said, *([rest] if rest else [])])


def _indent(text: str) -> str:
    return "\n".join(f"   {line}" for line in text.splitlines())
