"""`doit scaffold`: create every missing step of the plan at once."""

from __future__ import annotations

from pocflow._command import WorkspaceCommand
from pocflow.cmd_new import report
from pocflow.scaffold import scaffold_plan


class Scaffold(WorkspaceCommand):
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "scaffold"
    doc_purpose = "create every step of the plan that has no files yet"
    doc_usage = ""
    doc_description = (
        "For each step of the plan, creates what is missing of its script, failing test file "
        "and manifest, as `doit new` does. Existing files are never touched."
    )
    cmd_options = ()

    def _execute(self) -> int:
        result = self.on_workspace(scaffold_plan)
        report(self.outstream, result)
        if result.created:
            self.outstream.write(
                "next: write each script, replace each failing test with real "
                "tests, then `uv run doit poc-complete`\n"
            )
        return 0
