"""What pocflow's doit commands share: running on the workspace that doit loaded."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from doit.cmd_base import DoitCmdBase
from doit.exceptions import InvalidDodoFile

from pocflow.errors import PocflowError, unknown_task
from pocflow.workspace import Workspace, load_workspace

_T = TypeVar("_T")


class WorkspaceCommand(DoitCmdBase):  # type: ignore[misc]
    """Base of pocflow's doit commands (plugins in the `doit.COMMAND` entry point group)."""

    def on_workspace(self, action: Callable[[Workspace], _T]) -> _T:
        """Run action on the workspace; a problem the user can fix is doit's exit 3."""
        try:
            return action(load_workspace(Path.cwd()))  # doit runs commands in the dodo's folder
        except PocflowError as exc:
            raise InvalidDodoFile(str(exc)) from None
        finally:
            self.dep_manager.close()


def unknown_task_line(name: str, tasks: Sequence[str]) -> str:
    """The one line for a name that is neither a task nor a file of the workspace doit
    loaded (pocflow.errors.unknown_task), with the current PoC read from its settings."""
    from pocflow.run import run_root
    from pocflow.settings import load_settings

    try:
        current: int | None = load_settings(Path(run_root() or os.getcwd())).poc
    except PocflowError:
        current = None
    return unknown_task(name, tasks, current)
