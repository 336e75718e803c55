"""`doit new <id>`: create one step's script, failing test file and manifest."""

from __future__ import annotations

import sys
from typing import Any

from doit.exceptions import InvalidCommand

from pocflow._command import WorkspaceCommand
from pocflow.errors import did_you_mean
from pocflow.scaffold import Scaffolded, new_step
from pocflow.steps import parse_step_id

opt_name = {
    "name": "name",
    "short": "",
    "long": "name",
    "type": str,
    "default": "",
    "help": "the step's name (default: from the plan)",
}
opt_goal = {
    "name": "goal",
    "short": "",
    "long": "goal",
    "type": str,
    "default": "",
    "help": "the step's goal (default: from the plan)",
}


class New(WorkspaceCommand):
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "new"
    doc_purpose = "create a step: its script, a failing test file and its manifest"
    doc_usage = "[--name NAME] [--goal GOAL] <step id>"
    doc_description = (
        "Creates PoC/step<id>_<description>.py (a docstring with a usage example), "
        "tests/test_step<id>_<description>.py (a test that fails until real tests replace "
        "it) and steps/step<id>.yaml. Name and goal come from the plan when it describes the "
        "step. A file that exists is never overwritten."
    )
    cmd_options = (opt_name, opt_goal)

    def _execute(self, pos_args: list[str], name: str, goal: str) -> int:
        step_text, name, goal = _step_and_options(pos_args, name, goal)
        result = self.on_workspace(lambda ws: new_step(ws, step_text, name=name, goal=goal))
        report(self.outstream, result)
        for warning in result.warnings:
            sys.stderr.write(f"pocflow: warning: {warning}\n")
        if result.created:
            self.outstream.write(
                "next: write the script, replace the failing test with real "
                f"tests, then `uv run doit step:{parse_step_id(step_text)}`\n"
            )
        return 0


def _step_and_options(args: list[str], name: str, goal: str) -> tuple[str, str, str]:
    """The step id and the --name/--goal options, in either order: doit parses a command's
    options only before its first argument (`doit new 3b --name "x"` hands them on as
    arguments)."""
    rest: list[str] = []
    values = {"name": name, "goal": goal}
    index = 0
    while index < len(args):
        arg = args[index]
        key, eq, value = arg.partition("=")
        if key in ("--name", "--goal"):
            if not eq:
                if index + 1 >= len(args):
                    raise InvalidCommand(f'doit new: {key} needs a value: `doit new 5 {key} "..."`')
                index += 1
                value = args[index]
            values[key[2:]] = value
        elif arg.startswith("-") and len(arg) > 1:
            meant = did_you_mean(key, ["--name", "--goal"])
            raise InvalidCommand(
                f"doit new: {key} is not an option of doit new{meant} "
                '(`doit new 5 --name "UTC offsets" --goal "..."`)'
            )
        else:
            rest.append(arg)
        index += 1
    if len(rest) != 1:
        raise InvalidCommand(
            'doit new takes one step id: `doit new 3b` or `doit new 5 --name "UTC offsets"`'
        )
    return rest[0], values["name"], values["goal"]


def report(out: Any, result: Scaffolded) -> None:
    """Print what was created and what was left alone."""
    for path in result.created:
        out.write(f"created {path}\n")
    for line in result.skipped:
        out.write(f"skipped: {line}\n")
    if not result.created:
        out.write("nothing created: every file exists already\n")
