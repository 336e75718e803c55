"""`doit small-win-check`: run every step's tests and log a health check entry."""

from __future__ import annotations

from typing import Any

from pocflow._command import WorkspaceCommand
from pocflow.healthcheck import STATUSES, HealthCheck, append_health_check, small_win_check
from pocflow.workspace import Workspace


class SmallWinCheck(WorkspaceCommand):
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "small-win-check"
    doc_purpose = "run the full step suite and append a health check to PROJECT_STATE.md"
    doc_usage = ""
    doc_description = (
        "Runs every step's tests in one pytest session and appends a dated '### <date> - "
        "Small Win Check' entry (status, findings) to the Health Checks section of "
        "PROJECT_STATE.md; never rewrites an earlier entry. Exits 1 when the status is "
        "'Needs Attention'. The rules are in docs/reference.md."
    )
    cmd_options = ()

    def _execute(self) -> int:
        def check(ws: Workspace) -> HealthCheck:
            result = small_win_check(ws)
            append_health_check(ws, result)
            return result

        result = self.on_workspace(check)
        out: Any = self.outstream
        out.write(result.entry())
        out.write(f"appended to the Health Checks of PROJECT_STATE.md: {STATUSES[result.status]}\n")
        return 1 if result.status == "attention" else 0
