"""Where each step stands, from its verification record and the files on disk now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pocflow.documents import undocumented_steps
from pocflow.errors import headline, located
from pocflow.fingerprint import looking_once
from pocflow.freshness import (
    Changes,
    awaiting_suite,
    changes_since,
    environment,
    environment_changes,
    foreign_outputs,
    foreign_reason,
    gone_record,
    left_by_tests_reason,
    local_failure,
    no_record_reason,
    outputs_changed,
    outputs_not_as_written,
    outputs_of_another_run,
    ran_here,
    script_outputs_changed,
    scripts_ran_since,
    tests_made_reason,
)
from pocflow.inputs import implement_inputs_of
from pocflow.layout import GATE_TASK, STEP_TASK, TOGETHER_FILE
from pocflow.record import (
    GateRecord,
    StepRecord,
    read_gate_record,
    read_step_record,
    records_digest,
)
from pocflow.workspace import Workspace, prerequisites_first, project_workspaces

#: version of the `doit status --json` document; a change that breaks readers bumps it
STATUS_FORMAT = 1

#: state -> the label PROJECT_STATE.md shows (the method's vocabulary)
LABELS = {
    "verified": "✅ Complete",
    "stale": "🔄 Changed since verified",
    "failed": "❌ Failed",
    "blocked": "⬜ Blocked",
    "never-run": "🔄 In Progress",
    "not-started": "⬜ Not Started",
}


#: state -> Mermaid style of its node in PROJECT_STATE.md's step graph
STYLES = {
    "verified": "fill:#d4edda,stroke:#28a745,color:#155724",
    "stale": "fill:#fff3cd,stroke:#d39e00,color:#856404",
    "failed": "fill:#f8d7da,stroke:#dc3545,color:#721c24",
    "blocked": "fill:#e2e3e5,stroke:#6c757d,color:#383d41",
    "never-run": "fill:#d1ecf1,stroke:#17a2b8,color:#0c5460",
    "not-started": "fill:#ffffff,stroke:#6c757d,stroke-dasharray:4 2,color:#383d41",
}


@dataclass
class StepStatus:
    """Where one step stands (its standing) and why it is not verified, if it is not."""

    step_id: str
    name: str
    standing: str  # verified, stale, failed, blocked, never-run or not-started
    record: StepRecord | None
    reasons: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    #: stale only because outputs its tests read changed since (freshness.output_changes)
    outputs_changed: bool = False
    #: stale only for what its tests stand on (a test file, a conftest.py, a data file only
    #: its tests read): its scripts' part of the record holds, and what they produced with
    #: it, so the steps depending on it are not moved (they stand on its `#implement`)
    tests_only: bool = False
    #: never-run only because its committed record is gone, verified here (freshness.gone_record)
    record_gone: bool = False

    @property
    def is_verified(self) -> bool:
        """Whether the step is verified on its current inputs."""
        return self.standing == "verified"

    @property
    def label(self) -> str:
        """The status as PROJECT_STATE.md writes it."""
        if self.standing == "blocked":
            return "⬜ Blocked by " + ", ".join(self.blocked_by)
        record = self.record
        if self.standing == "verified" and record and record.implement and record.implement.manual:
            return "✅ Complete (tests only)"
        if self.standing == "failed" and self.record is not None and self.record.test is not None:
            failing = len(self.record.test.failing)
            if failing:
                return f"❌ Failed ({failing} failing)"
        return LABELS[self.standing]

    @property
    def tests(self) -> str:
        """'passed/run' of the last recorded test run ('8/8', '3/3 (+2 skipped)'), or '—'."""
        test = self.record.test if self.record else None
        return tests_text(test.counts if test is not None else {})


def tests_text(counts: dict[str, int]) -> str:
    """A test run's counts as every report shows them: 'passed/run', with the tests that did
    not run apart, each kind by its name ('3/3 (+2 skipped)', '3/3 (+1 skipped, 1
    xfailed)'); '—' when none ran."""
    if not counts.get("total"):
        return "—"
    apart = [(counts.get(kind, 0), kind) for kind in ("skipped", "xfailed")]
    text = f"{counts.get('passed', 0)}/{counts['total'] - sum(n for n, _ in apart)}"
    named = ", ".join(f"{n} {kind}" for n, kind in apart if n)
    return text + (f" (+{named})" if named else "")


#: states of a prerequisite that a person must act on before its dependents can be verified
_HOLDS_BACK = ("failed", "blocked", "not-started")


def compute_status(ws: Workspace) -> dict[str, StepStatus]:
    """The status of every step, in natural order.

    Staleness is transitive: a verified step whose prerequisite is stale (or was verified
    again) is stale too. A step that is not verified and whose prerequisite failed, is
    blocked or has no files is blocked.
    """
    left: dict[str, set[str]] = {}  # (freshness.left_here, worked out once when needed)
    with looking_once():  # nothing runs meanwhile: each shared input is looked at once
        statuses = {step_id: _own_status(ws, step_id, left) for step_id in ws.steps}
    for step_id in prerequisites_first(ws):
        status = statuses[step_id]
        deps = ws.steps[step_id].depends_on
        held = [d for d in deps if statuses[d].standing in _HOLDS_BACK]
        # (a prerequisite blocked by its own prerequisite that changed too is moving)
        moving = [
            d
            for d in deps
            if (statuses[d].standing in ("stale", "never-run") and not statuses[d].tests_only)
            or (statuses[d].standing == "blocked" and (statuses[d].changed or statuses[d].upstream))
        ]
        if (
            held
            and status.standing != "not-started"
            and (not status.is_verified or status.changed or status.upstream)
        ):
            status.standing = "blocked"
            status.blocked_by = held
            status.reasons.insert(
                0, "waits for " + ", ".join(f"step {d} ({statuses[d].standing})" for d in held)
            )
        elif moving and status.standing in ("verified", "stale"):
            status.standing = "stale"
            status.tests_only = False  # (its scripts stand on what moved)
            new = [d for d in moving if d not in status.upstream]  # (else said already)
            status.upstream += new
            if new:
                status.reasons.append(
                    "upstream "
                    + ", ".join(f"step {d}" for d in new)
                    + " changed since it was verified"
                )
    return statuses


def _for_its_tests_only(ws: Workspace, step_id: str, record: StepRecord, found: Changes) -> bool:
    """Whether what changed since the step's record is only what its tests stand on: files
    (changed, new, gone) that are no input of its scripts, as recorded or as the scan finds
    them now, and nothing of its settings, environment or upstream records. Its scripts do
    not run again (its implement task takes its record), so its dependents do not either
    (they stand on the record's `#implement` part: pocflow.inputs)."""
    if (
        record.implement is None
        or not found.changed
        or found.upstream
        or found.environment
        or found.settings
        or found.other_step
    ):
        return False
    scripts = set(record.implement.inputs) | set(implement_inputs_of(ws, ws.steps[step_id], None))
    return not any(key in scripts for key in found.changed)


def _own_status(ws: Workspace, step_id: str, left: dict[str, set[str]]) -> StepStatus:
    """The status of a step from its own record and files only (``left``: the outputs as
    runs here left them, filled in by the first step that needs them)."""
    step = ws.steps[step_id]
    settings = ws.settings
    record = read_step_record(ws.root / ws.record_path(step_id))
    status = StepStatus(step_id, step.name, "verified", record)
    if not step.has_files:
        status.standing = "not-started"
        status.reasons.append(
            f"no files yet: add {settings.scripts_dir}/step{step_id}_"
            f"<description>.py and {settings.tests_dir}/test_step{step_id}_"
            "<description>.py (or run `doit new " + step_id + "`)"
        )
        return status
    if not step.tests:
        status.reasons.append(
            f"no test file: add {settings.tests_dir}/test_step{step_id}_"
            "<description>.py with at least one test"
        )
    if record is None:
        status.standing = "never-run"
        status.record_gone = gone_record(ws, step_id) is not None
        status.reasons.insert(0, no_record_reason(ws, step_id))
    elif not record.is_verified:
        status.standing = "failed"
        failing = record.test.failing if record.test else []
        status.failing = [t.nodeid + (f" - {t.message}" if t.message else "") for t in failing]
        if status.failing:
            status.reasons.insert(
                0, f"{len(failing)} failing test(s): " + "; ".join(status.failing)
            )
        else:
            status.reasons.insert(
                0,
                headline(record.message, "the last verification failed"),
            )
    else:
        found = changes_since(ws, step, record)
        status.changed, status.upstream = found.changed, found.upstream
        if not found.holds:
            status.standing = "stale"
            status.tests_only = _for_its_tests_only(ws, step_id, record, found)
        status.reasons += found.reasons()
        failure = local_failure(ws, step_id) if found.holds else ""
        if failure:
            status.standing = "failed"
            status.reasons.insert(0, failure)
        elif found.holds:  # a script it stands on ran here since: what it read may differ
            ran = scripts_ran_since(ws, step, tests=True)
            if ran:
                status.standing = "stale"
                status.reasons.append(
                    f"the scripts of step {ran} ran again here since it was verified"
                )
            outputs = outputs_changed(ws, step_id)
            if outputs:
                status.outputs_changed = status.standing == "verified"
                status.standing = "stale"
                status.reasons.append(outputs)
            read = script_outputs_changed(ws, step_id)
            if read:
                status.standing = "stale"
                status.reasons.append(read)
            other_run = outputs_of_another_run(ws, step_id)
            if other_run:
                status.outputs_changed = False
                status.standing = "stale"
                status.reasons.append(other_run)
            # (a step whose scripts and tests ran here stands on that run, not its record)
            taken = not ran_here(ws, step_id)
            foreign = foreign_reason(foreign_outputs(ws, step_id, record, left)) if taken else ""
            foreign = foreign or (
                (left_by_tests_reason(ws, record) or tests_made_reason(ws, record)) if taken else ""
            )
            if foreign:
                status.outputs_changed = False
                status.standing = "stale"
                status.reasons.append(foreign)
    return status


@dataclass(frozen=True)
class NextAction:
    """The command to run next, and why."""

    command: str
    why: str


def _stale(status: StepStatus) -> str:
    """Why a step that is not failed needs verifying, after its name: never verified, its
    own files changed, or what else made it stale ('is stale: the record of upstream step 1
    changed since', 'is stale: the scripts of step 1 ran again here since it was
    verified')."""
    if status.standing == "never-run":
        return (
            f"is not recorded: {status.reasons[0]}" if status.record_gone else "was never verified"
        )
    if not status.changed and status.reasons:  # (the first reason: the line stays short)
        return f"is stale: {status.reasons[0]}"
    return "changed since it was verified"


def next_action(
    ws: Workspace, statuses: dict[str, StepStatus], failed_now: Iterable[str] = ()
) -> NextAction:
    """What to run next: the plan's heading that is not read as a step, else the first of
    the steps that just failed (``failed_now``: in the run whose summary says so), else the
    first step that needs work, else the gate, else nothing."""
    if ws.plan is not None and ws.plan.unread_steps:  # first: its step is in no plan
        line, title = ws.plan.unread_steps[0]
        return NextAction(
            f"fix the heading at {ws.settings.plan}:{line}",
            f"the plan's heading '### {title}' is not read as a step; a step's heading is "
            f"'### Step <id>: <Name>' (then: uv run doit {ws.task(GATE_TASK)})",
        )
    failed_now = set(failed_now)
    first = [s for s in statuses.values() if s.step_id in failed_now and s.standing == "failed"]
    for status in [*first[:1], *statuses.values()]:
        sid = status.step_id
        if status.standing == "not-started":
            return NextAction(
                f"uv run doit new {sid}", f"step {sid} has no files yet; scaffold it, then write it"
            )
        step = f"step {sid}" if ws.poc is None else f"PoC {ws.settings.poc} step {sid}"
        if status.standing == "failed":
            changed = outputs_not_as_written(ws, sid)
            if changed:  # its scripts run only when verified again: they write them anew
                return NextAction(
                    f"uv run doit run --reverify {ws.task(STEP_TASK, sid)}",
                    f"{step} failed, and {', '.join(changed)} changed since its scripts "
                    "wrote it: verifying it again runs them first",
                )
            return NextAction(
                f"uv run doit {ws.task(STEP_TASK, sid)}",
                f"{step} failed; fix it, then verify it again",
            )
        if status.standing in ("stale", "never-run"):
            return NextAction(f"uv run doit {ws.task(STEP_TASK, sid)}", f"{step} {_stale(status)}")
    if statuses and all(s.is_verified for s in statuses.values()) and ws.plan is None:
        return NextAction(
            f"write the plan at {ws.settings.plan}",
            "every step is verified; the gate needs the PoC's plan (its steps and its "
            "Production-Grade Checklist)",
        )
    if statuses and all(s.is_verified for s in statuses.values()) and ws.plan is not None:
        unticked = [item for item in ws.plan.checklist if not item.ticked]
        if unticked:
            item = unticked[0]
            return NextAction(
                f"tick '{item.text}' in {ws.settings.plan}:{item.line}",
                f"every step is verified; {len(unticked)} Production-Grade "
                "Checklist item(s) are not ticked, and the gate needs them all",
            )
        if ws.settings.undocumented == "fail":
            undocumented = undocumented_steps(ws)
            if undocumented:
                sid, sections = undocumented[0]
                return NextAction(
                    f"write the {' and '.join(sections)} of {ws.results_doc(sid)}",
                    "every step is verified; the gate needs each results doc "
                    f"written (then: uv run doit {ws.task(GATE_TASK)})",
                )
    gate = read_gate_record(ws.root / ws.gate_record_path)
    newest = max((s.record.verified_at for s in statuses.values() if s.record), default="")
    if statuses and (gate is None or gate.completed_at < newest):
        return NextAction(
            f"uv run doit {ws.task(GATE_TASK)}",
            "every step is verified; the gate has not passed since",
        )
    together = [sid for sid in ws.steps if ws.run_file(sid, TOGETHER_FILE).is_file()]
    if statuses and together:
        return NextAction(
            f"uv run doit {ws.task(GATE_TASK)}",
            f"step(s) {', '.join(together)} failed beside other steps' tests in the last "
            "shared session; the gate runs them together again",
        )
    awaiting = awaiting_suite(ws)
    if statuses and awaiting:
        return NextAction(
            f"uv run doit {ws.task(GATE_TASK)}",
            f"an output the tests of step(s) {', '.join(awaiting)} read was rewritten since "
            "by a step depending on them; the gate tests them again on it",
        )
    if not statuses and ws.plan is None:
        return NextAction(
            f"write the plan at {ws.settings.plan}",
            f"PoC {ws.settings.poc} has no plan and no steps yet (`pocflow init` and "
            "`doit next-poc` write one in the method's shape to fill in)",
        )
    if not statuses:
        return NextAction(
            'uv run doit new 1 --name "<what step 1 does>"',
            f"PoC {ws.settings.poc} has no steps yet",
        )
    return NextAction(
        "", f"nothing to do: PoC {ws.settings.poc} is complete ({ws.poc_results_doc})"
    )


def status_document(ws: Workspace, statuses: dict[str, StepStatus]) -> dict[str, Any]:
    """The JSON document of `doit status --json` (schema: pocflow/schemas/status.schema.json)."""
    action = next_action(ws, statuses)
    steps = []
    for status in statuses.values():
        record = status.record
        test = record.test if record else None
        steps.append(
            {
                "id": status.step_id,
                "name": status.name,
                "state": status.standing,
                "label": status.label,
                "reasons": list(status.reasons),
                "changed": list(status.changed),
                "upstream": list(status.upstream),
                "blocked_by": list(status.blocked_by),
                "failing_tests": list(status.failing),
                "tests": None
                if test is None
                else {
                    key: test.counts.get(key, 0)
                    for key in ("passed", "failed", "error", "skipped", "xfailed", "total")
                },
                "verified_at": record.verified_at if record else None,
                "durations": dict(record.durations) if record else {},
                "results_doc": ws.results_doc(status.step_id),
                "command": f"uv run doit {ws.task(STEP_TASK, status.step_id)}",
            }
        )
    verified = sum(1 for s in statuses.values() if s.is_verified)
    return {
        "format": STATUS_FORMAT,
        "poc": {"number": ws.settings.poc, "name": ws.name, "plan": ws.settings.plan},
        "summary": {
            "verified": verified,
            "total": len(statuses),
            "complete": bool(statuses) and not action.command,
        },
        "steps": steps,
        "next": {"command": action.command, "why": action.why},
    }


def project_status_document(current: Workspace) -> dict[str, Any]:
    """`doit status --json` of a project: the current PoC's document, with ``pocs``: every
    PoC's (the earlier ones first), and ``next`` the first thing any PoC needs."""
    documents = []
    for ws in project_workspaces(current.root):
        document = status_document(ws, compute_status(ws))
        del document["format"]
        documents.append(
            {
                **document,
                "current": ws.poc is None,
                "results_doc": ws.poc_results_doc,
                "complete_task": ws.task(GATE_TASK),
            }
        )
    mine = documents[-1]
    document = {
        "format": STATUS_FORMAT,
        **{key: mine[key] for key in ("poc", "summary", "steps", "next")},
    }
    if len(documents) > 1:
        document["pocs"] = documents
        waiting = [d for d in documents[:-1] if d["next"]["command"]]
        if waiting:
            document["next"] = waiting[0]["next"]
        elif not mine["next"]["command"] and all(d["summary"]["complete"] for d in documents):
            document["next"] = {
                "command": "",
                "why": f"nothing to do: all {len(documents)} PoCs are complete "
                f"({', '.join(d['results_doc'] for d in documents)}); the next PoC: write "
                f"its plan, then `uv run doit next-poc`; or on to Stage 6 (MVP)",
            }
    return document


def gate_record_holds(ws: Workspace) -> GateRecord | None:
    """The PoC's committed gate record, if it stands on exactly the step records there are
    now, in this environment."""
    gate = read_gate_record(ws.root / ws.gate_record_path)
    if (
        gate is None
        or not gate.records
        or gate.records != records_digest(ws)
        or environment_changes(gate.environment, environment(ws))
    ):
        return None
    return gate


def poc_line(ws: Workspace, statuses: dict[str, StepStatus] | None = None) -> dict[str, Any]:
    """One PoC of a project in one line of PROJECT_STATE.md: complete when every step is
    verified on the files as they are, its gate passed on exactly their records and its
    pocN-results.md is written."""
    statuses = compute_status(ws) if statuses is None else statuses
    missing = incomplete(ws, statuses)  # (what the gate checks, as poc_problem has it)
    complete = not missing and not _gate_due(ws)
    failed = any(s.standing == "failed" for s in statuses.values())
    counts: dict[str, int] = {}
    for status in statuses.values():
        test = status.record.test if status.record is not None else None
        for kind, count in (test.counts if test is not None else {}).items():
            counts[kind] = counts.get(kind, 0) + count
    if complete:
        label = "✅ Complete"
    elif failed:
        label = "❌ Failed"
    elif missing:
        label = "🔄 In Progress"
    else:  # what the gate checks holds: the gate is what is left to do
        label = "🔄 Awaiting its gate"
    return {
        "tests": tests_text(counts),
        "number": ws.settings.poc,
        "name": ws.name,
        "current": ws.poc is None,
        "complete": complete,
        "verified": sum(1 for s in statuses.values() if s.is_verified),
        "total": len(statuses),
        "label": label,
    }


def poc_problem(ws: Workspace, statuses: dict[str, StepStatus] | None = None) -> str:
    """Why the PoC is not complete as its committed gate record stands: what the gate checks
    (every step verified, the checklist, the results docs), its gate passed on exactly these
    records, its pocN-results.md written; '' when it is complete."""
    return incomplete(ws, statuses) or _gate_due(ws)


def _gate_due(ws: Workspace) -> str:
    """Why the PoC's gate is what is left to do: it has not passed on the records there are
    now, or its pocN-results.md is not written; '' when neither."""
    if gate_record_holds(ws) is None:
        return gate_not_passed(ws)
    if not (ws.root / ws.poc_results_doc).is_file():
        return (
            f"PoC {ws.settings.poc}: {ws.poc_results_doc} is not written: run "
            f"`uv run doit {ws.task(GATE_TASK)}`"
        )
    return ""


def gate_not_passed(ws: Workspace) -> str:
    """The PoC's gate has not passed on the records there are now, and how to run it."""
    return (
        f"PoC {ws.settings.poc}: its gate has not passed on the step records there are now: "
        f"run `uv run doit {ws.task(GATE_TASK)}`"
    )


def incomplete(ws: Workspace, statuses: dict[str, StepStatus] | None = None) -> str:
    """Why the PoC is not complete now (a step not verified on the files as they are, no
    steps, the checklist not ticked); '' when every step holds."""
    statuses = compute_status(ws) if statuses is None else statuses
    problem = unverified(ws, statuses)
    if problem:
        return problem
    if not statuses:
        return (
            f"PoC {ws.settings.poc} has no steps: add {ws.settings.scripts_dir}/"
            f"step1_<description>.py or '### Step 1: <Name>' to {ws.settings.plan}"
        )
    return completion_problem(ws)


def unverified(ws: Workspace, statuses: dict[str, StepStatus] | None = None) -> str:
    """Why some step of the PoC is not verified on the files as they are (every such step
    and why); '' when each one holds."""
    statuses = compute_status(ws) if statuses is None else statuses
    missing = [s for s in statuses.values() if not s.is_verified]
    return not_complete_message(ws, missing, len(statuses)) if missing else ""


def not_complete_message(ws: Workspace, missing: list[StepStatus], total: int) -> str:
    """'PoC 1 is not complete: 2 of 7 steps are not verified:' and a line per step."""
    lines = [
        f"PoC {ws.settings.poc} is not complete: {len(missing)} of {total} steps not verified:"
    ]
    for status in missing:
        reason = headline("; ".join(status.reasons), status.standing)
        lines.append(f"    step {status.step_id} ({status.name}): {status.label} — {reason}")
    return "\n".join(lines)


def completion_problem(ws: Workspace) -> str:
    """Why a PoC whose every step is verified does not pass yet: the plan's checklist, the
    results docs nobody wrote; '' when nothing stands in the way."""
    return (
        unread_steps_problem(ws)
        or checklist_problem(ws)
        or (undocumented_problem(ws) if ws.settings.undocumented == "fail" else "")
    )


def unread_steps_problem(ws: Workspace) -> str:
    """Why a PoC whose plan has a step heading pocflow does not read is not complete (an id
    it cannot read, 'Step' misspelt, a step described twice): that step is neither verified
    nor known; '' when every heading was read."""
    unread = ws.plan.unread_steps if ws.plan is not None else []
    if not unread:
        return ""
    line, title = unread[0]
    return (
        f"{located(ws.settings.plan, '', line)}the plan's step heading '### {title}' is not "
        f"read as a step ({len(unread)} such heading(s)): a step of the plan that is not "
        "known cannot be verified; write each step's heading once, as '### Step 3b: <Name>' "
        "(ids: 1, 3a, 4_1)"
    )


def undocumented(ws: Workspace) -> list[str]:
    """'    docs/x-step1-results.md: Summary, Bug Fixes During Development' for each step
    whose results doc still holds only the template's text there (the method's checkpoint
    "Results documented")."""
    return [
        f"    {ws.results_doc(step_id)}: {', '.join(sections)}"
        for step_id, sections in undocumented_steps(ws)
    ]


def undocumented_problem(ws: Workspace) -> str:
    """The gate's failure for results docs nobody wrote; '' when every one is written."""
    lines = undocumented(ws)
    if not lines:
        return ""
    return "\n".join(
        [
            f"PoC {ws.settings.poc}: {len(lines)} of {len(ws.steps)} results docs are "
            'not written yet (the method\'s "Results documented"): write what the '
            "step proved, and the bugs met while building it ('None met.' if none), "
            "in:",
            *lines,
            '    (or set undocumented = "warn" in [tool.pocflow] to be told only)',
        ]
    )


def checklist_problem(ws: Workspace) -> str:
    """Why the plan's Production-Grade Checklist does not let the PoC pass; '' if it does."""
    plan = ws.plan
    where = ws.settings.plan
    if plan is None:
        return (
            f"PoC {ws.settings.poc}: there is no plan at {where}; the method executes a "
            "plan, and its Production-Grade Checklist must be ticked"
        )
    if not plan.checklist:
        return (
            f"PoC {ws.settings.poc}: {where} has no '## Production-Grade Checklist'; add "
            "one ('- [x] **No mock data**: ...') and tick what holds"
        )
    unticked = [item for item in plan.checklist if not item.ticked]
    if not unticked:
        return ""
    return "\n".join(
        [
            f"PoC {ws.settings.poc}: {len(unticked)} of {len(plan.checklist)} "
            f"Production-Grade Checklist items are not ticked in {where}:"
        ]
        + [f"    {where}:{item.line}: - [ ] {item.text}" for item in unticked]
    )
