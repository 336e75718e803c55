"""`doit next-poc`: the method's "Return to Stage 4b for next PoC", in one command."""

from __future__ import annotations

from pathlib import Path

from doit.exceptions import InvalidDodoFile

from pocflow._command import WorkspaceCommand
from pocflow.cmd_new import report
from pocflow.errors import NotReadyError, PocflowError
from pocflow.scaffold import move_on
from pocflow.workspace import load_workspace


class NextPoc(WorkspaceCommand):
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "next-poc"
    doc_purpose = "move on to the next PoC: keep this one verifiable, scaffold the next"
    doc_usage = ""
    doc_description = (
        "Needs the current PoC complete (`doit poc-complete` passed on its records, "
        "docs/pocN-results.md written) and the next PoC's plan written "
        "(docs/poc<N+1>-implementation.md). Sets poc = N+1 in [tool.pocflow] (moving the "
        "finished PoC's own name, slug and plan to [tool.pocflow.poc<N>]), and scaffolds the "
        "next PoC's steps in their own folders (PoC/poc<N+1>/, tests/poc<N+1>/, "
        "steps/poc<N+1>/). The finished PoC's files, records and documents stay as they are; "
        "its tasks are then poc<N>.step:<id>, poc<N>.poc-complete."
    )
    cmd_options = ()

    def _execute(self) -> int:
        try:
            moved = move_on(load_workspace(Path.cwd()))  # doit runs commands in the dodo's folder
            for name in moved.renamed:  # these names are the new PoC's now
                self.dep_manager.remove(name)
        except NotReadyError as exc:  # the user's next step, not a fault of the files
            self.outstream.write(f"pocflow: {exc}\n")
            return 1
        except PocflowError as exc:
            raise InvalidDodoFile(str(exc)) from None
        finally:
            self.dep_manager.close()
        out = self.outstream
        out.write(
            f"pocflow: PoC {moved.left} is complete and stays verifiable as "
            f"poc{moved.left}.step:<id>, poc{moved.left}.poc-complete; the project is at "
            f"PoC {moved.following} (pyproject.toml: poc = {moved.following})\n"
        )
        report(out, moved.scaffolded)
        out.write(
            f"next: write PoC {moved.following}'s step scripts and real tests, then "
            "`uv run doit step:1`; `uv run doit all-pocs-complete` checks every PoC\n"
        )
        return 0


def from_the_console() -> int:
    """`pocflow next-poc`: doit's command, run on the dodo.py of the current folder."""
    from doit.cmd_base import DodoTaskLoader
    from doit.doit_cmd import DoitMain

    return int(DoitMain(DodoTaskLoader()).run(["next-poc"]))
