"""`doit pytest <id> [pytest options]`: one step's tests, ad hoc, with pytest's own options.

For the work between two verifications: `-k` to run some tests, `-x` to stop at the first
failure, `--lf` to run what failed last time, `--pdb`. pytest runs as a plain session on the
step's test files, in the workspace root, with the terminal as its own; pocflow records
nothing — no verdict, no record, no document — so what such a run shows never becomes a ✅.
`doit step:<id>` verifies.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from doit.exceptions import InvalidCommand

from pocflow._command import WorkspaceCommand
from pocflow.errors import PocflowError
from pocflow.layout import STEP_TASK, split_step
from pocflow.workspace import Workspace, load_workspace


class Pytest(WorkspaceCommand):
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "pytest"
    doc_purpose = "run one step's tests with pytest options of your own; records nothing"
    doc_usage = "<id> [pytest options]"
    doc_description = (
        "Runs pytest (`python -P -m pytest`, as the `pytest` command) on the step's test "
        "files, in the workspace root, with the options that follow the id "
        "(`doit pytest 3b -k lookup -x`, `doit pytest 3b --lf`). "
        "Exits with pytest's exit status. Records no verdict and writes no record or "
        "document: `doit step:<id>` verifies."
    )
    cmd_options = ()

    def _execute(self, pos_args: list[str]) -> int:
        if not pos_args or pos_args[0].startswith("-"):
            raise InvalidCommand(
                "doit pytest takes a step id, then pytest's options: `doit pytest 3b -k lookup`"
            )
        # an earlier PoC's step by the name its tasks carry: `doit pytest poc1.3b`
        (poc, step_id), options = split_step(pos_args[0]), pos_args[1:]
        ws: Workspace = self.on_workspace(
            lambda current: _checked(
                current if poc is None else load_workspace(current.root, poc), step_id
            )
        )
        files = list(ws.steps[step_id].tests)
        out: Any = self.outstream
        out.write(
            f"pocflow: step {step_id}'s tests with your options "
            f"({' '.join(options) or 'none'}); no verdict is recorded "
            f"(`doit {ws.task(STEP_TASK, step_id)}` verifies)\n"
        )
        out.flush()
        done = subprocess.run(
            [sys.executable, "-P", "-m", "pytest", *files, *options], cwd=ws.root, check=False
        )
        return done.returncode


def _checked(ws: Workspace, step_id: str) -> Workspace:
    step = ws.steps.get(step_id)
    if step is None:
        known = ", ".join(ws.steps) or "none"
        raise PocflowError(f"step '{step_id}' is not in the plan (its steps: {known})")
    if not step.tests:
        raise PocflowError(
            f"step {step_id} has no test file yet: "
            f"`doit scaffold` or `doit new {step_id}` writes one"
        )
    return ws
