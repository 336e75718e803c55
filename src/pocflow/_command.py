"""What pocflow's doit commands share: running on the workspace that doit loaded."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from doit.cmd_base import DoitCmdBase
from doit.cmdparse import CmdParseError
from doit.exceptions import InvalidDodoFile

from pocflow.errors import PocflowError, did_you_mean, unknown_task
from pocflow.workspace import Workspace, load_workspace

_T = TypeVar("_T")


class CommandEdges:
    """What each of pocflow's doit commands does at its edges: a mistyped option or a
    folder with no dodo file is one line (doit's own error for '--reverfy' is a dump of
    every option object it knows), and output to a reader that went away ('| head') is
    dropped rather than ending the run in a traceback halfway through its steps."""

    outstream: Any

    def parse_execute(self, in_args: list[str]) -> Any:
        self.outstream = ReaderMayLeave(self.outstream)
        try:
            return super().parse_execute(in_args)  # type: ignore[misc]
        except InvalidDodoFile as exc:
            raise InvalidDodoFile(dodo_not_found_line(str(exc))) from None
        except CmdParseError as exc:
            options = [opt for opt in self.get_options() if opt.long]  # type: ignore[attr-defined]
            raise CmdParseError(
                option_line(str(exc), self.name, [f"--{o.long}" for o in options])  # type: ignore[attr-defined]
            ) from None


class ReaderMayLeave:
    """An output stream whose reader may close it (a pipe into `head`): once a write or
    flush finds the pipe broken, what follows goes nowhere, and the standard output too,
    so that the interpreter's last flush does not complain either."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _gone(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass  # (no standard output to replace)
        finally:
            os.close(devnull)
        self._stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115


_NO_DODO_RE = re.compile(r"^Could not find dodo file '(?P<path>[^']+)'")


def dodo_not_found_line(message: str) -> str:
    """doit's error for a folder with no dodo file, as one line; run from a folder inside a
    workspace, it names the workspace and doit's -k (seek the dodo file upwards)."""
    match = _NO_DODO_RE.match(message)
    if match is None:
        return message
    path = Path(match["path"])
    for parent in path.parent.parents:
        if (parent / path.name).is_file():
            return (
                f"no {path.name} in {path.parent}: it is in {parent}; run doit there, or "
                f"add -k to look for it in the folders above ('doit -k poc-complete')"
            )
    return (
        f"no {path.name} in {path.parent} nor any folder above it: run doit in a pocflow "
        "workspace ('pocflow init' makes one)"
    )


_GETOPT_RE = re.compile(r"^Error parsing (?P<what>\w+): (?P<error>.*?) \(parsing options:")
_OPTION_RE = re.compile(r"^option (?P<option>-{1,2}[^\s=]+)")


def option_line(message: str, command: str, known: Sequence[str]) -> str:
    """doit's error for an option it could not parse, as one line: which option, the one it
    may mean, and where the options are listed (an option after a task name is read as that
    task's own, which pocflow's tasks have none of)."""
    match = _GETOPT_RE.match(message)
    if match is None:
        return message
    error = match["error"]
    given = _OPTION_RE.match(error)
    option = given["option"] if given else ""
    if match["what"] == "Task" and option in known:
        return (
            f"{option} after a task name is read as an option of that task, and pocflow's "
            f"tasks take none: put doit's options first ('doit {option} <tasks>')"
        )
    suffix = did_you_mean(option, known) if option and "not recognized" in error else ""
    return f"doit {command}: {error}{suffix} ('doit help {command}' lists its options)"


class WorkspaceCommand(CommandEdges, DoitCmdBase):  # type: ignore[misc]
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
    command = _closest(name, command_names()) if ":" not in name else None
    task = _closest(name, tasks)
    if command is not None and (task is None or command[0] >= task[0]):
        # `doit stauts`: doit takes a word that is no command for a task to run
        return (
            f"no task, file or command {name!r}, did you mean the command {command[1]!r}? "
            "('doit help' lists the commands)"
        )
    return unknown_task(name, tasks, current)


def _closest(word: str, choices: Sequence[str]) -> tuple[float, str] | None:
    """The choice closest to word (as did_you_mean finds it), with how close; None when
    none is close."""
    import difflib

    match = difflib.get_close_matches(word, list(choices), n=1)
    if not match:
        return None
    return difflib.SequenceMatcher(None, word, match[0]).ratio(), match[0]


def command_names() -> list[str]:
    """doit's commands and those plugins add (pocflow's among them)."""
    from importlib.metadata import entry_points

    from doit.doit_cmd import DoitMain

    names = [cls.get_name() for cls in DoitMain.DOIT_CMDS]
    return [*names, *(point.name for point in entry_points(group="doit.COMMAND"))]
