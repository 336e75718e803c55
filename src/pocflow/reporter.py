"""The run reporter: why each task runs, step progress, and a summary at the end.

A doit reporter plugin (`doit.REPORTER` entry point `pocflow`, the default reporter of a
pocflow workspace). Task lines keep doit's shape (`.  name` ran, `-- name` up to date) and
add the reason in parentheses. It writes plain lines only, never terminal control codes,
so logs and CI (`CI=true`) read the same as a terminal. With `GITHUB_STEP_SUMMARY` set, a
Markdown summary of the run is appended to that file.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from doit.globals import Globals
from doit.reporter import ConsoleReporter
from doit.tools import config_changed

from pocflow.errors import PocflowError
from pocflow.phases import written_unchanged
from pocflow.redact import redact
from pocflow.status import compute_status, next_action
from pocflow.workspace import Workspace, load_workspace

_MAX_PATHS = 3
_FAILURE_LINES = 4


class PocflowReporter(ConsoleReporter):  # type: ignore[misc]
    """doit's console reporter, plus reasons, progress and a failure summary."""

    desc = "pocflow: why each task runs, steps verified so far, a summary at the end"

    def __init__(self, outstream: Any, options: dict[str, Any]) -> None:
        super().__init__(outstream, options)
        self.tasks: dict[str, Any] = {}
        self.steps: list[str] = []
        self.verified: set[str] = set()
        self.ran: set[str] = set()
        self.failed: dict[str, tuple[str, str]] = {}  # step id -> (phase, message)
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def write(self, text: str) -> None:
        """Every line goes out with secret values masked."""
        self.outstream.write(redact(text))

    def initialize(self, tasks: dict[str, Any], selected_tasks: list[str]) -> None:
        """Find the steps this run will verify."""
        self.tasks = tasks
        seen: set[str] = set()
        queue = deque(selected_tasks)
        while queue:
            name = queue.popleft()
            if name in seen or name not in tasks:
                continue
            seen.add(name)
            queue.extend(tasks[name].task_dep)
        self.steps = [name.split(":", 1)[1] for name in tasks
                      if name.startswith("state:") and name in seen]

    def execute_task(self, task: Any) -> None:
        """'.  implement:3b  (changed: PoC/step3b_x.py)'."""
        self._started[task.name] = time.monotonic()
        if task.actions and not task.name.startswith("_"):
            reason = why_it_runs(task, self.tasks)
            self.write(f".  {task.title()}" + (f"  ({reason})" if reason else "") + "\n")

    def add_success(self, task: Any) -> None:
        """Count a verified step."""
        self._finish(task)
        self._count(task)

    def skip_uptodate(self, task: Any) -> None:
        """'-- name' as doit writes it; an up-to-date state task is a verified step."""
        super().skip_uptodate(task)
        self._count(task)

    def add_failure(self, task: Any, fail: Any) -> None:
        """doit's failure report, remembered for the summary."""
        self._finish(task)
        super().add_failure(task, fail)
        phase, _, step_id = task.name.partition(":")
        key = step_id if step_id and phase in ("implement", "test", "document", "state") \
            else task.name
        self.failed.setdefault(key, (phase, fail.message))

    def complete_run(self) -> None:
        """doit's end of run, then pocflow's summary (and GitHub's, when asked for)."""
        super().complete_run()
        ws = _workspace()
        if self.failed:
            self.write(self._failure_summary(ws))
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file and ws is not None:
            with open(summary_file, "a", encoding="utf-8") as handle:
                handle.write(redact(self.github_summary(ws)))

    def _finish(self, task: Any) -> None:
        started = self._started.pop(task.name, None)
        if started is not None:
            self.ran.add(task.name)
            self.seconds[task.name] = time.monotonic() - started

    def _count(self, task: Any) -> None:
        if task.name.startswith("state:"):
            self.verified.add(task.name.split(":", 1)[1])
            self.write(f"   [{len(self.verified)}/{len(self.steps)} steps verified]\n")

    def _failure_summary(self, ws: Workspace | None) -> str:
        lines = [f"pocflow: {len(self.failed)} failed:"]
        for key, (phase, message) in self.failed.items():
            name = ws.steps[key].name if ws is not None and key in ws.steps else ""
            title = f"step {key} ({name}), {phase} phase" if name else key
            body = [line for line in message.splitlines() if line.strip()][:_FAILURE_LINES]
            lines.append(f"  {title}:")
            lines += [f"      {line.strip()}" for line in body]
            if ws is not None and key in ws.steps:
                lines.append(f"      logs: {ws.run_dir(key)}/")
        if ws is not None:
            action = next_action(ws, compute_status(ws))
            if action.command:
                lines.append(f"pocflow: next: {action.command}  # {action.why}")
        return "\n".join(lines) + "\n"

    def github_summary(self, ws: Workspace) -> str:
        """The run as Markdown, for GitHub's job summary."""
        statuses = compute_status(ws)
        verified = sum(1 for s in statuses.values() if s.is_verified)
        result = "❌ failed" if self.failed else (
            "✅ all steps verified" if verified == len(statuses) else "⚠️ incomplete")
        lines = [f"## pocflow — PoC {ws.settings.poc}: {ws.name}", "",
                 f"**Result**: {result} — {verified}/{len(statuses)} steps verified", "",
                 "| Step | Name | Status | Tests | This run | Time |",
                 "|------|------|--------|-------|----------|------|"]
        for sid, status in statuses.items():
            phases = [f"{p}:{sid}" for p in ("implement", "test", "document", "state")]
            ran = [p.split(":")[0] for p in phases if p in self.ran]
            seconds = sum(self.seconds.get(p, 0.0) for p in phases)
            lines.append(f"| {sid} | {status.name} | {status.label} | {status.tests} | "
                         f"{', '.join(ran) if ran else 'up to date'} | "
                         f"{f'{seconds:.1f} s' if ran else '—'} |")
        for key, (phase, message) in self.failed.items():
            first = message.strip().splitlines()[0] if message.strip() else phase
            lines.append(f"\n> ❌ **{key}** ({phase}): {first}")
        return "\n".join(lines) + "\n\n"


def why_it_runs(task: Any, tasks: dict[str, Any]) -> str:
    """A few words on why doit runs task: the files that changed, the output that is missing."""
    manager = Globals.dep_manager
    if manager is None:
        return ""
    if not manager.get_values(task.name):
        return "never run before" if task.name.split(":")[0] != "implement" else \
            "never verified"
    status = manager.get_status(task, tasks, get_log=True)
    reasons = status.reasons
    words: list[str] = []
    for path in reasons.get("missing_target", []):
        words.append(f"missing {path}")
    changed = list(reasons.get("changed_file_dep", []))
    upstream = sorted({Path(p).stem.removeprefix("step") for p in changed
                       if "/records/" in p or p.startswith("steps/records")})
    phases = [p for p in changed if "/runs/" in p or p.startswith(".pocflow")]
    files = [p for p in changed if p not in phases and Path(p).stem.removeprefix("step")
             not in upstream]
    if files:
        words.append("changed: " + _paths(files))
    if upstream:
        words.append(("step " if len(upstream) == 1 else "steps ") + ", ".join(upstream)
                     + " verified again")
    if phases and not files and not upstream:
        words.append("its earlier phases ran again")
    if reasons.get("added_file_dep"):
        words.append("new input: " + _paths(reasons["added_file_dep"]))
    if reasons.get("removed_file_dep"):
        words.append("input dropped: " + _paths(reasons["removed_file_dep"]))
    for check, args, _kwargs in reasons.get("uptodate_false", []):
        if isinstance(check, config_changed):
            words.append("settings or template changed")
        elif check is written_unchanged and args:
            words.append(f"{_relative(args[0])} edited since written")
    if reasons.get("checker_changed"):
        words.append("dependency checker changed")
    return "; ".join(dict.fromkeys(words))


def _paths(paths: list[str]) -> str:
    shown = ", ".join(paths[:_MAX_PATHS])
    return shown + (f" and {len(paths) - _MAX_PATHS} more" if len(paths) > _MAX_PATHS else "")


def _relative(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path


def _workspace() -> Workspace | None:
    try:
        return load_workspace(Path.cwd())  # doit runs in the dodo file's folder
    except PocflowError:
        return None
