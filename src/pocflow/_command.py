"""What pocflow's doit commands share: running on the workspace that doit loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from doit.cmd_base import DoitCmdBase
from doit.exceptions import InvalidDodoFile

from pocflow.errors import PocflowError
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
