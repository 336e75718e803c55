"""`doit scaffold`: create every missing step of the plan at once."""

from __future__ import annotations

from pathlib import Path

from doit.cmd_base import DoitCmdBase
from doit.exceptions import InvalidDodoFile

from pocflow.cmd_new import report
from pocflow.errors import PocflowError
from pocflow.scaffold import scaffold_plan
from pocflow.workspace import load_workspace


class Scaffold(DoitCmdBase):  # type: ignore[misc]
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "scaffold"
    doc_purpose = "create every step of the plan that has no files yet"
    doc_usage = ""
    doc_description = (
        "For each step of the plan, creates what is missing of its script, failing test file "
        "and manifest, as `doit new` does. Existing files are never touched.")
    cmd_options = ()

    def _execute(self) -> int:
        try:
            result = scaffold_plan(load_workspace(Path.cwd()))
        except PocflowError as exc:
            raise InvalidDodoFile(str(exc)) from None
        finally:
            self.dep_manager.close()
        report(self.outstream, result)
        if result.created:
            self.outstream.write("next: write each script, replace each failing test with real "
                                 "tests, then `uv run doit poc-complete`\n")
        return 0
