"""`doit info` in a pocflow workspace: doit's command, with one line for a name that is not
a task (doit's own ends in a KeyError traceback)."""

from __future__ import annotations

from typing import Any

from doit.cmd_info import Info as DoitInfo
from doit.exceptions import InvalidCommand

from pocflow._command import unknown_task_line


class Info(DoitInfo):  # type: ignore[misc]
    """doit's info command; a name that is no task says which steps or tasks there are."""

    def _execute(self, pos_args: list[str], hide_status: bool = False) -> Any:
        names = [task.name for task in self.task_list]
        if len(pos_args) == 1 and pos_args[0] not in names:
            raise InvalidCommand(unknown_task_line(pos_args[0], names))
        return super()._execute(pos_args, hide_status)
