"""The run reporter: why each task runs, step progress, and a summary at the end.

A doit reporter plugin (`doit.REPORTER` entry point `pocflow`, the default reporter of a
pocflow workspace). Task lines keep doit's shape (`.  name` ran, `-- name` up to date) and
add the reason in parentheses. It writes plain lines only, never terminal control codes,
so logs and CI (`CI=true`) read the same as a terminal. With `GITHUB_STEP_SUMMARY` set, a
Markdown summary of the run is appended to that file.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed, UnmetDependency
from doit.globals import Globals
from doit.reporter import ConsoleReporter
from doit.tools import config_changed

from pocflow._fs import sha256_file
from pocflow.batch import shared_log
from pocflow.errors import PocflowError, headline
from pocflow.fingerprint import PRODUCED_SUFFIX
from pocflow.freshness import Acceptance, listed_paths, reverify_forced
from pocflow.layout import (
    ALL_POCS_TASK,
    DOCUMENT,
    DOCUMENT_FILE,
    GATE_TASK,
    IMPLEMENT,
    IMPLEMENT_FILE,
    PHASES,
    PRODUCED_FILE,
    PROJECT_STATE_TASK,
    PYTEST_LOG,
    REFRESH_TASK,
    RUN_PHASES,
    STATE,
    TEST,
    VERIFIED_FILE,
    WRITE_PHASES,
    poc_prefix,
    split_step,
    split_task,
)
from pocflow.phases import judged, phase_current, records_unchanged, written_unchanged
from pocflow.record import GateRecord, read_implement
from pocflow.redact import redact
from pocflow.run import RunContext, users_tasks
from pocflow.status import NextAction, completion_problem, compute_status, next_action
from pocflow.workspace import Workspace, load_workspace, project_workspaces

_FAILURE_LINES = 4
#: what the hidden task after a step does, as the summary names it
REFRESHING = "refreshing PROJECT_STATE.md"
#: the gate's line when it takes its record of the suite and checks what else it needs
CHECKING = "checking: "


#: what this process's last run reported: tasks that failed, tasks doit did not run because a
#: task they depend on failed (doit counts those as errors: exit 2), and real errors
RUN_OUTCOMES = {"failed": 0, "unmet": 0, "errors": 0}


class PocflowReporter(ConsoleReporter):  # type: ignore[misc]
    """doit's console reporter, plus reasons, progress and a failure summary."""

    desc = "pocflow: why each task runs, steps verified so far, a summary at the end"
    #: doit's: each failure reported, as {"task": ..., "exception": ...}
    failures: list[dict[str, Any]]

    def __init__(self, outstream: Any, options: dict[str, Any]) -> None:
        RUN_OUTCOMES.update(failed=0, unmet=0, errors=0)  # a new run
        super().__init__(outstream, options)
        self.tasks: dict[str, Any] = {}
        self.steps: list[str] = []
        self.verified: set[str] = set()
        self.ran: set[str] = set()
        self.failed: dict[str, tuple[str, str]] = {}  # step id -> (phase, message)
        #: the messages of the tasks that ended in an error (a document pocflow will not
        #: rewrite, a setting it cannot read): what to fix before anything else
        self.errors: list[str] = []
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self.accepted: set[str] = set()  # steps taken from their committed records
        self.accepted_tasks: set[str] = set()
        self.unchanged_tasks: set[str] = set()  # ran, but rewrote nothing
        self._pending: dict[str, tuple[str, Path, str, str]] = {}
        self._ws: dict[int | None, Workspace | None] = {}

    def workspace(self, poc: int | None = None) -> Workspace | None:
        """The workspace of PoC ``poc`` (default: the current one) in this run, loaded once
        (its layout does not change during a run)."""
        if poc not in self._ws:
            self._ws[poc] = _workspace(poc)
        return self._ws[poc]

    def write(self, text: str) -> None:
        """Every line goes out with secret values masked."""
        self.outstream.write(redact(text))

    def initialize(self, tasks: dict[str, Any], selected_tasks: list[str]) -> None:
        """Find the steps this run will verify."""
        self.tasks = tasks
        seen = task_closure(tasks, selected_tasks)
        self.steps = [_step_key(name) for name in tasks if name in seen and _is_phase(name, STATE)]

    def execute_task(self, task: Any) -> None:
        """'.  implement:3b  (changed: PoC/step3b_x.py)', or '-- implement:3b  (accepted:
        ...)' when the step's committed record still holds. The line of a task that only
        rewrites a file waits until it ends: '-- ' if the file came out unchanged."""
        self._started[task.name] = time.monotonic()
        if not task.actions or task.name.startswith("_"):
            return
        poc, phase, step_id = split_task(task.name)
        ws = self.workspace(poc)
        decision = self._decision(ws, task.name, phase, step_id) if ws is not None else None
        accepted = _accepted_words(decision, ws, _step_key(task.name) in self.accepted)
        if isinstance(accepted, str) and accepted.startswith(CHECKING):
            # the gate takes its record of the suite, and checks the rest: it may fail
            self.write(f".  {task.title()}  ({accepted})\n")
            return
        if accepted:
            self.accepted_tasks.add(task.name)
            if isinstance(decision, Acceptance):
                self.accepted.add(_step_key(task.name))
            self.write(
                f"-- {task.title()}" + (f"  ({accepted})" if accepted is not True else "") + "\n"
            )
            return
        why = why_it_runs(task, self.tasks, ws, decision)
        line = f".  {task.title()}" + (f"  ({why})" if str(why) else "") + "\n"
        target = _written_file(task, ws)
        if target is not None:
            self._pending[task.name] = (line, target, _sha(target), why.edited)
        else:
            self.write(line)

    def _decision(
        self, ws: Workspace, task: str, phase: str, step_id: str
    ) -> Acceptance | GateRecord | None:
        """The run's decision for a task about to run, made once and kept for its action:
        whether a step's task takes the step's committed record, whether the gate takes
        the last whole-suite run. Each task is decided as it starts (under `doit -n`, another
        step's script may have written a file this step's tests read since its implement
        task was accepted)."""
        run = RunContext.of(str(ws.root))
        if phase in RUN_PHASES and step_id in ws.steps:
            return run.decide(task, lambda: judged(run, ws, task, step_id, phase))
        if phase == GATE_TASK:
            from pocflow.gate import accepted_gate

            return run.decide(task, lambda: accepted_gate(ws))
        return None

    def add_success(self, task: Any) -> None:
        """Count a verified step."""
        self._flush(task, failed=False)
        self._finish(task)
        self._count(task)
        if _is_phase(task.name, IMPLEMENT) and task.name not in self.accepted_tasks:
            poc, _, step_id = split_task(task.name)
            ws = self.workspace(poc)
            if ws is not None and step_id in ws.steps:
                result = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
                if result is not None and result.replayed:
                    self.write(
                        f"   (first replayed the scripts of step(s) "
                        f"{', '.join(result.replayed)}, accepted from their records, "
                        "for the outputs they write)\n"
                    )

    def _flush(self, task: Any, failed: bool) -> None:
        """The held line of a task that rewrites a file: '.' if it changed it (or failed)."""
        pending = self._pending.pop(task.name, None)
        if pending is None:
            return
        line, target, before, edited = pending
        if failed or _sha(target) != before:
            self.write(line)
            return
        self.unchanged_tasks.add(task.name)
        self.write(
            f"-- {task.title()}"
            + (
                f"  ({_relative(edited)} edited by hand; its machine blocks were already current)"
                if edited
                else ""
            )
            + "\n"
        )

    def skip_uptodate(self, task: Any) -> None:
        """'-- name' as doit writes it; an up-to-date state task is a verified step."""
        super().skip_uptodate(task)
        self._count(task)

    def add_failure(self, task: Any, fail: Any) -> None:
        """doit's failure report, remembered for the summary."""
        self._flush(task, failed=True)
        self._finish(task)
        super().add_failure(task, fail)
        _, phase, step_id = split_task(task.name)
        key = _step_key(task.name) if step_id and phase in PHASES else task.name
        if phase == REFRESH_TASK:  # (its step id carries its PoC: '_refresh:poc1.3b')
            key, phase = step_id, REFRESHING
        message = fail.message
        if isinstance(fail, UnmetDependency):  # (doit's message is the tasks' names alone)
            message = "not run: it needs " + message.strip() + ", which did not pass"
            RUN_OUTCOMES["unmet"] += 1
        elif isinstance(fail, TaskFailed):
            RUN_OUTCOMES["failed"] += 1
        else:
            RUN_OUTCOMES["errors"] += 1
            self.errors.append(message)
        self.failed.setdefault(key, (phase, message))

    def complete_run(self) -> None:
        """doit's end of run, then pocflow's summary (and GitHub's, when asked for). doit
        repeats each failure's message at the end, with the output its actions printed:
        for pocflow's own tasks, which print none, pocflow's summary says it instead (the
        message was printed where the task failed)."""
        self.failures = [
            r for r in self.failures if not _said_by_pocflow(r["task"], self.failure_verbosity)
        ]
        super().complete_run()
        ws = self.workspace()
        if self.failed:
            self.write(self._failure_summary(ws))
        elif self.accepted:
            again = sorted({_step_key(name) for name in self.ran if _is_phase(name, *RUN_PHASES)})
            self.write(
                f"pocflow: {len(self.accepted)} step(s) accepted from their committed "
                "records (inputs, settings and environment unchanged)"
                + (f"; verified again: {listed_paths(again)}" if again else "")
                + "\n"
            )
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file and ws is not None:
            with open(summary_file, "a", encoding="utf-8") as handle:
                handle.write(redact(self.github_summary(ws)))

    def _finish(self, task: Any) -> None:
        started = self._started.pop(task.name, None)
        if (
            started is not None
            and task.name not in self.accepted_tasks
            and task.name not in self.unchanged_tasks  # (not a union: one a task, 4000 tasks)
        ):
            self.ran.add(task.name)
            self.seconds[task.name] = time.monotonic() - started

    def _count(self, task: Any) -> None:
        if _is_phase(task.name, STATE):
            self.verified.add(_step_key(task.name))
            self.write(f"   [{len(self.verified)}/{len(self.steps)} steps verified]\n")

    def _failure_summary(self, ws: Workspace | None) -> str:
        lines = [f"pocflow: {len(self.failed)} failed:"]
        for key, (phase, message) in self.failed.items():
            poc, step_id = split_step(key)
            where = self.workspace(poc)
            step = where.steps.get(step_id) if where is not None else None
            doing = f"{phase} phase" if phase in PHASES else phase
            title = (
                f"{'' if poc is None else f'PoC {poc} '}step {step_id} ({step.name}), {doing}"
                if step is not None
                else key
            )
            body = [line for line in message.splitlines() if line.strip()]
            if len(body) > _FAILURE_LINES:  # the start, and the end: where the exception is
                body = [*body[: _FAILURE_LINES - 3], "...", *body[-2:]]
            lines.append(f"  {title}:")
            lines += [f"      {line.strip()}" for line in body]
            if where is not None and step is not None and phase in PHASES:
                lines.append(f"      logs: {_logs_of(where, step_id, phase)}")
        pocs = {split_step(key)[0] for key in self.failed}
        if ws is not None and None not in pocs and pocs:
            # only an earlier PoC's steps failed: the next command is one of that PoC's
            ws = self.workspace(min(p for p in pocs if p is not None)) or ws
        if ws is not None:
            failed_now = [sid for poc, sid in map(split_step, self.failed) if poc == ws.poc]
            action = _error_to_fix(ws, self.errors) or next_action(
                ws, compute_status(ws), failed_now
            )
            if action.command:
                lines.append(f"pocflow: next: {action.command}  # {action.why}")
        return "\n".join(lines) + "\n"

    def github_summary(self, ws: Workspace) -> str:
        """The run as Markdown, for GitHub's job summary."""
        statuses = compute_status(ws)
        verified = sum(1 for s in statuses.values() if s.is_verified)
        result = (
            "❌ failed"
            if self.failed
            else ("✅ all steps verified" if verified == len(statuses) else "⚠️ incomplete")
        )
        lines = [
            f"## pocflow — PoC {ws.settings.poc}: {ws.name}",
            "",
            f"**Result**: {result} — {verified}/{len(statuses)} steps verified",
            "",
            "| Step | Name | Status | Tests | This run | Time |",
            "|------|------|--------|-------|----------|------|",
        ]
        for sid, status in statuses.items():
            phases = [f"{p}:{sid}" for p in PHASES]
            ran = [p.split(":")[0] for p in phases if p in self.ran]
            seconds = sum(self.seconds.get(p, 0.0) for p in phases)
            done = (
                ", ".join(ran)
                if ran
                else "accepted from its record"
                if sid in self.accepted
                else "up to date"
            )
            lines.append(
                f"| {sid} | {status.name} | {status.label} | {status.tests} | "
                f"{done} | "
                f"{f'{seconds:.1f} s' if ran else '—'} |"
            )
        for key, (phase, message) in self.failed.items():
            first = headline(message, phase)
            lines.append(f"\n> ❌ **{key}** ({phase}): {first}")
        return "\n".join(lines) + "\n\n"


def task_closure(tasks: dict[str, Any], selected: list[str]) -> set[str]:
    """The names of the selected tasks and of every task they depend on (task_dep) or have
    run first as a setup task (setup). Not
    doit's ``tasks_and_deps_iter``: it asks whether a name is in its queue (a deque, searched
    end to end) for every dependency, which is quadratic in the gate's hundreds of task_dep
    (4x this walk at 100 steps, and it runs twice in every run)."""
    seen: set[str] = set()
    queue = deque(selected)
    while queue:
        name = queue.popleft()
        if name in seen or name not in tasks:
            continue
        seen.add(name)
        queue.extend(tasks[name].task_dep)
        queue.extend(tasks[name].setup_tasks)
    return seen


class Why:
    """Why doit runs a task, in a few words; ``edited``: the file the task writes, when
    someone edited it since the task last wrote it."""

    __slots__ = ("edited", "words")

    def __init__(self, words: list[str] | None = None) -> None:
        self.words = words or []
        self.edited = ""

    def __str__(self) -> str:
        return "; ".join(dict.fromkeys(self.words))


def why_it_runs(
    task: Any,
    tasks: dict[str, Any],
    ws: Workspace | None = None,
    decision: Acceptance | GateRecord | None = None,
) -> Why:
    """Why doit runs task: the files that changed, the output that is missing; for a task
    with no local state, why the run's decision did not take the committed record."""
    manager = Globals.dep_manager
    if manager is None:
        return Why()
    _, base, step_id = split_task(task.name)
    if reverify_forced() and base in (*RUN_PHASES, GATE_TASK):
        return Why(["re-verification forced"])
    if not manager.get_values(task.name):  # no local state: what the record says
        return Why([_why_record_does_not_hold(task.name, ws, decision)])
    status = manager.get_status(task, tasks, get_log=True)
    reasons = status.reasons
    why = Why()
    words = why.words
    for path in reasons.get("missing_target", []):
        words.append(f"missing {path}")
    # (a new input has no earlier state: doit lists it as changed too; it is said new)
    added = set(reasons.get("added_file_dep", []))
    changed = [p for p in reasons.get("changed_file_dep", []) if p not in added]
    records_dir = f"{ws.settings.records_dir}/" if ws else "\0"
    state_dir = f"{ws.settings.state_dir}/" if ws else "\0"
    upstream = sorted(
        {Path(p).stem.removeprefix("step") for p in changed if p.startswith(records_dir)}
    )
    phases = [p for p in changed if p.startswith(state_dir)]
    files = [
        p for p in changed if p not in phases and Path(p).stem.removeprefix("step") not in upstream
    ]
    if base == GATE_TASK and not step_id and upstream:  # their documents changed with them
        documents = {ws.results_doc(sid) for sid in upstream if sid in ws.steps} if ws else set()
        files = [p for p in files if p not in documents]
    settings_changed = ""
    for check, _args, _kwargs in reasons.get("uptodate_false", []):
        if isinstance(check, phase_current):  # settings, or an input the last run really read
            settings, inputs = check.why(task, manager.get_values(task.name))
            settings_changed = settings_changed or settings
            phases += [key for key in inputs if key.startswith(state_dir)]
            # what a prerequisite's record says its scripts stood on and produced
            produced = [key for key in inputs if key.endswith(PRODUCED_SUFFIX)]
            upstream = sorted({*upstream, *(Path(k).stem.removeprefix("step") for k in produced)})
            files += [
                key
                for key in inputs
                if key not in files
                and key not in changed
                and key not in produced
                and not key.startswith(state_dir)
            ]
    # a prerequisite's scripts ran again: what they produced (a file_dep of the implement
    # task), or their result where they write a file this step extended (its "after" values)
    own = ws.steps.get(step_id) if ws is not None else None
    ran_files = set(phases)
    reran = (
        sorted(
            d
            for d in own.depends_on
            if {f"{ws.run_dir(d)}/{IMPLEMENT_FILE}", f"{ws.run_dir(d)}/{PRODUCED_FILE}"} & ran_files
        )
        if ws is not None and own is not None
        else []
    )
    if files:
        words.append("changed: " + listed_paths(files))
    if upstream:
        in_plan = [sid for sid in ws.steps if sid in upstream] if ws is not None else []
        listed = listed_paths(in_plan if len(in_plan) == len(upstream) else upstream)
        words.append(("step " if len(upstream) == 1 else "steps ") + listed + " verified again")
    if reran and not upstream:
        words.append(
            ("the scripts of step " if len(reran) == 1 else "the scripts of steps ")
            + ", ".join(reran)
            + " ran again"
        )
    elif phases and not files and not upstream:
        words.append("its earlier phases ran again")
    new, gained, own_added = _run_files_apart(ws, step_id, reasons.get("added_file_dep"))
    dropped, lost, own_removed = _run_files_apart(ws, step_id, reasons.get("removed_file_dep"))
    if new:
        words.append("new input: " + listed_paths(new))
    if dropped:
        words.append("input dropped: " + listed_paths(dropped))
    # pocflow's own run files: a Depends On added or taken out, a run folder moved
    words += [f"now depends on step {sid}" for sid in gained - lost]
    words += [f"no longer depends on step {sid}" for sid in lost - gained]
    if own_added or own_removed or gained & lost:
        words.append("its run folder moved")
    if settings_changed:
        words.append(settings_changed)
    for check, args, _kwargs in reasons.get("uptodate_false", []):
        if isinstance(check, config_changed) and not isinstance(check, phase_current):
            words.append("settings or template changed")
        elif check is written_unchanged and args and _rewritten_on_failure(ws, args[0]):
            words.append(f"{_relative(args[0])} says a step failed since")
        elif check is written_unchanged and args and os.path.lexists(args[0]):
            words.append(f"{_relative(args[0])} edited since written")
            why.edited = args[0]  # (a file that is gone is said missing, not edited)
        elif check is records_unchanged and ws is not None:
            words.append(_why_state_rendered_again(ws))
    if reasons.get("checker_changed"):
        words.append("dependency checker changed")
    return why


def _why_state_rendered_again(ws: Workspace) -> str:
    """Why PROJECT_STATE.md is rendered again though nobody edited it (records_unchanged)."""
    from pocflow.record import project_records_digest
    from pocflow.render import rendered_from

    seen = rendered_from(ws)
    shown = ws.settings.state_file
    now = project_records_digest(project_workspaces(ws.root))
    if seen is not None and seen.unverified and seen.records == now:
        which = "step " if len(seen.unverified) == 1 else "steps "
        return f"{shown} showed {which}{listed_paths(seen.unverified)} not verified"
    return f"step records changed since {shown} was written"


def _run_files_apart(
    ws: Workspace | None, step_id: str, paths: list[str] | None
) -> tuple[list[str], set[str], bool]:
    """Of a task's added or dropped file_dep: the workspace's files, the ids of the other
    steps whose run files (.pocflow/runs/...) the rest are — a prerequisite's
    `produced.json` is how a dependency shows there — and whether one is the step's own."""
    paths = list(paths or [])
    if ws is None:
        return paths, set(), False
    state_dir = f"{ws.settings.state_dir}/"
    files = [p for p in paths if not p.startswith(state_dir)]
    folders = {Path(p).parent.name for p in paths if p.startswith(state_dir)}
    steps = {f.removeprefix("step") for f in folders if f.startswith("step")}
    return files, steps - {step_id}, step_id in steps


def _logs_of(ws: Workspace, step_id: str, phase: str) -> str:
    """Where a failed phase's output is: the step's run folder, or, for tests that last ran
    in the shared session of several steps, that session's pytest log."""
    own = ws.run_file(step_id, PYTEST_LOG)
    shared = shared_log(ws, step_id) if phase == TEST else None
    if shared is not None and (
        not own.is_file() or shared.stat().st_mtime_ns > own.stat().st_mtime_ns
    ):
        return shared.relative_to(ws.root).as_posix()
    return f"{ws.run_dir(step_id)}/"


def _rewritten_on_failure(ws: Workspace | None, path: str) -> bool:
    """Whether pocflow itself last wrote the file, outside its task (a failed step's run
    rewrites the PoC results doc: pocflow.render.write_failed_documents)."""
    if ws is None:
        return False
    from pocflow.documents import noted_digests
    from pocflow.fingerprint import file_digest

    return noted_digests(ws.written_elsewhere).get(path) == file_digest(path)


def _why_record_does_not_hold(
    name: str, ws: Workspace | None, decision: Acceptance | GateRecord | None
) -> str:
    """Why a task with no local state runs: its step's committed record was not taken
    (the run's decision says why), or the gate's record does not match the records."""
    if split_task(name)[1] == GATE_TASK and ws is not None:
        return "the step records changed since the full suite last passed"
    if name == ALL_POCS_TASK:  # it keeps no state: it checks every PoC each time
        return "checks every PoC's gate, every run"
    if isinstance(decision, Acceptance) and decision.why_not:
        return "; ".join(decision.why_not)
    _, base, step_id = split_task(name)
    kept = {DOCUMENT: DOCUMENT_FILE, STATE: VERIFIED_FILE}.get(base)
    if ws is not None and kept and step_id in ws.steps and ws.run_file(step_id, kept).is_file():
        # it passed here once; doit keeps nothing of a task whose last run failed
        return "did not finish in its last run"
    return "never run before"


def _accepted_words(
    decision: Acceptance | GateRecord | None, ws: Workspace | None, step_accepted: bool
) -> str | bool:
    """How the task line says the run takes a committed record (True: its step was said
    to be accepted already); '' when the task runs."""
    if isinstance(decision, Acceptance):
        if decision.record is None:
            return ""
        if step_accepted:
            return True
        return f"accepted: verified {_when(decision.record.verified_at)}, inputs unchanged"
    if isinstance(decision, GateRecord) and ws is not None:
        what = "the full suite" if decision.one_session else "every step's tests"
        suite = f"{what} passed {_when(decision.completed_at)} on exactly these records"
        # the gate checks more than the suite: say "accepted" only when it will pass
        return f"{CHECKING}{suite}" if completion_problem(ws) else f"accepted: {suite}"
    return step_accepted


def _written_file(task: Any, ws: Workspace | None) -> Path | None:
    """The file a bookkeeping task rewrites (the results doc, the record, PROJECT_STATE.md)."""
    _, phase, step_id = split_task(task.name)
    if ws is None or phase not in (*WRITE_PHASES, PROJECT_STATE_TASK):
        return None
    if phase == PROJECT_STATE_TASK:
        return ws.root / ws.settings.state_file
    if step_id not in ws.steps:
        return None
    return ws.root / (ws.results_doc(step_id) if phase == DOCUMENT else ws.record_path(step_id))


def _sha(path: Path) -> str:
    return sha256_file(path) if path.is_file() else ""


def _when(stamp: str) -> str:
    """'2026-11-26T04:53:10Z' as '2026-11-26 04:53 UTC'."""
    return stamp.replace("T", " ")[:16] + " UTC" if "T" in stamp else stamp


def _relative(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path


def _workspace(poc: int | None = None) -> Workspace | None:
    try:
        return load_workspace(Path.cwd(), poc)  # doit runs in the dodo file's folder
    except PocflowError:
        return None


def _is_phase(name: str, *phases: str) -> bool:
    """Whether the task is one of these phases of a step (of any PoC)."""
    _, base, step_id = split_task(name)
    return bool(step_id) and base in phases


def _step_key(name: str) -> str:
    """The step a phase task belongs to, as the run's summary names it: '3b' (the current
    PoC), 'poc1.3b' (another)."""
    poc, _, step_id = split_task(name)
    return poc_prefix(poc) + step_id


#: where an error message says what to fix: "PROJECT_STATE.md:44: ..." or "pyproject.toml: ..."
_LOCATED_RE = re.compile(r"^(?P<where>[^\s:]+(?::\d+)?): ")


def _error_to_fix(ws: Workspace, errors: list[str]) -> NextAction | None:
    """What to do after a run that ended in an error: fix what the first one names (a file
    of the workspace, at its line), then run the gate again — not the next step's work,
    which the error stands in the way of. None when no task ended in an error."""
    if not errors:
        return None
    first = next((line.strip() for line in errors[0].splitlines() if line.strip()), "")
    located = _LOCATED_RE.match(first)
    where = located["where"] if located else ""
    if where and not (ws.root / where.partition(":")[0]).exists():
        where = ""  # (not a file of the workspace: a task's name, a phrase)
    return NextAction(
        f"fix {where} as said above" if where else "fix what the error above says",
        f"then: uv run doit {ws.task(GATE_TASK)}",
    )


def _said_by_pocflow(task: Any, failure_verbosity: int) -> bool:
    """Whether a failed task is one of pocflow's own whose actions printed nothing that
    doit's end-of-run block would repeat (its captured output; its errors only where doit
    shows them there, as doit's ConsoleReporter decides): its failure is in pocflow's
    summary, and a warning it wrote to stderr was shown as it was written. The user's own
    tasks keep doit's report."""
    if users_tasks([task.name]):
        return False
    show_err = task.verbosity < 1 or failure_verbosity > 0
    show_out = task.verbosity < 2 or failure_verbosity == 2
    return not any(
        (show_out and getattr(action, "out", "")) or (show_err and getattr(action, "err", ""))
        for action in task.actions
    )
