"""`doit drift`: fail when a committed generated document differs from what pocflow writes."""

from __future__ import annotations

from typing import Any

from pocflow._command import WorkspaceCommand
from pocflow.drift import ByHand, find_drift, other_environment
from pocflow.layout import ALL_POCS_TASK, GATE_TASK
from pocflow.workspace import project_workspaces


class Drift(WorkspaceCommand):
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "drift"
    doc_purpose = "check that generated documents match what pocflow would write now"
    doc_usage = ""
    doc_description = (
        "Renders every results doc, PROJECT_STATE.md and the PoC results doc again from the "
        "committed records, without running anything, and compares their machine blocks with "
        "the files. Exits 1 and lists each difference (a block edited by hand, a document not "
        "regenerated after a change, the record of a step the PoC no longer has); exits 0 "
        "when everything matches."
    )
    cmd_options = ()

    def _execute(self) -> int:
        problems = self.on_workspace(find_drift)
        out: Any = self.outstream
        if problems:
            changes = self.on_workspace(other_environment)
            if changes:  # not an edit: this machine is not the one the records were made on
                out.write(
                    f"drift: the committed records were made with another environment "
                    f"({'; '.join(changes)}): every step shows as changed here. Use the "
                    "records' environment (uv reads .python-version; `uv sync "
                    "--locked`), or verify again and commit the new records\n"
                )
        for problem in problems:
            out.write(f"drift: {problem}\n")
        if problems:
            # an earlier PoC's documents are written by its own gate, not the current one's
            several = self.on_workspace(lambda ws: len(project_workspaces(ws.root)) > 1)
            gate = ALL_POCS_TASK if several else GATE_TASK
            by_hand = sum(isinstance(problem, ByHand) for problem in problems)
            first = (
                f"mend the {by_hand} named file(s) by hand first, as said (no regeneration "
                "mends them), then "
                if by_hand
                else ""
            )
            out.write(
                f"{len(problems)} difference(s); {first}regenerate with `uv run doit {gate}` "
                "(or the step's document/state tasks) and commit the result\n"
            )
            return 1
        out.write("no drift: generated documents match the records\n")
        return 0
