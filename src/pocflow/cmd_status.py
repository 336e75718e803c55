"""`doit status`: where every step stands and why, without running anything."""

from __future__ import annotations

import json
from typing import Any

from doit.exceptions import InvalidCommand

from pocflow._command import WorkspaceCommand
from pocflow.layout import PHASES
from pocflow.status import project_status_document, tests_text

opt_json = {
    "name": "as_json",
    "short": "",
    "long": "json",
    "type": bool,
    "default": False,
    "help": "print the status as JSON (schema: pocflow/schemas/status.schema.json)",
}
opt_slowest = {
    "name": "slowest",
    "short": "",
    "long": "slowest",
    "type": int,
    "default": 0,
    "help": "also list the N slowest steps of their last verification",
}

ICONS = {
    "verified": "✅",
    "stale": "🔄",
    "failed": "❌",
    "blocked": "⬜",
    "never-run": "🔄",
    "not-started": "⬜",
}


class Status(WorkspaceCommand):
    """doit command plugin, registered under the `doit.COMMAND` entry point group."""

    name = "status"
    doc_purpose = "show each step's state and why it is not verified; run nothing"
    doc_usage = "[--json] [--slowest N]"
    doc_description = (
        "One line per step in natural order: verified, stale (with the changed files, or the "
        "prerequisite that changed), failed (with the failing tests), blocked (by which "
        "step), never run, or not started. Ends with the next command to run. Reads the "
        "verification records and the files; runs nothing and writes nothing."
    )
    cmd_options = (opt_json, opt_slowest)

    def execute(self, params: Any, args: list[str]) -> int:
        if args:  # (doit would drop them: `doit status step:9` showed everything, exit 0)
            raise InvalidCommand(
                f"doit status takes no task names ({' '.join(args)}): it shows every step of "
                "every PoC; `doit --dry-run <task>` says what a run of a task would do"
            )
        return int(super().execute(params, args))

    def _execute(self, as_json: bool, slowest: int) -> int:
        document = self.on_workspace(project_status_document)
        out: Any = self.outstream
        if as_json:
            out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        else:
            out.write(format_status(document, slowest))
        return 0


def format_status(document: dict[str, Any], slowest: int = 0) -> str:
    """The status document as lines for a person: an earlier PoC in one line when it is
    complete (else with its steps that are not verified), the current PoC in full."""
    lines = []
    for earlier in document.get("pocs", [])[:-1]:
        poc, summary = earlier["poc"], earlier["summary"]
        if summary["complete"]:
            lines.append(
                f"PoC {poc['number']} — {poc['name']}: complete, {summary['total']} steps "
                f"verified ({earlier['results_doc']})"
            )
            continue
        lines.append(
            f"PoC {poc['number']} — {poc['name']}: {summary['verified']} of "
            f"{summary['total']} steps verified"
            + ("" if summary["verified"] < summary["total"] else "; its gate has not passed since")
        )
        lines += [
            f"  {ICONS[step['state']]} {step['id']}  {step['name'][:32]}  {step['state']}: "
            + "; ".join(step["reasons"])
            for step in earlier["steps"]
            if step["state"] != "verified"
        ]
    poc, summary = document["poc"], document["summary"]
    lines.append(
        f"PoC {poc['number']} — {poc['name']}: {summary['verified']} of "
        f"{summary['total']} steps verified"
    )
    width = max((len(step["id"]) for step in document["steps"]), default=1)
    name_width = min(max((len(step["name"]) for step in document["steps"]), default=4), 32)
    for step in document["steps"]:
        head = f"  {ICONS[step['state']]} {step['id']:<{width}}  {step['name'][:32]:<{name_width}}"
        if step["state"] == "verified":
            tests = step["tests"] or {}
            detail = f"verified {str(step['verified_at'])[:10]}"
            if tests.get("total"):
                detail += f" ({tests_text(tests)} tests)"
        else:
            detail = f"{step['state']}: " + "; ".join(step["reasons"])
        lines.append(f"{head}  {detail}")
    if slowest:
        timed = sorted(document["steps"], key=lambda s: -sum(s["durations"].values()))
        lines.append("slowest steps (last verification):")
        for step in [s for s in timed if s["durations"]][:slowest]:
            parts = ", ".join(
                f"{phase} {step['durations'][phase]:.2f} s"
                for phase in PHASES  # in the order they run
                if phase in step["durations"]
            )
            lines.append(
                f"  {step['id']:<{width}}  {sum(step['durations'].values()):.2f} s ({parts})"
            )
    action = document["next"]
    lines.append(
        f"next: {action['command']}  # {action['why']}" if action["command"] else action["why"]
    )
    return "\n".join(lines) + "\n"
