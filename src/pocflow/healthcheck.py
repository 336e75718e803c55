"""The small-win check: a full test run and a dated health entry in PROJECT_STATE.md.

Status rules (the entry's **Status**):

- ❌ Needs Attention: a test fails or errors in the full run; a step's test count differs
  from the count its verification recorded; a step's last verification failed; a
  hard-coded secret is found.
- ⚠️ Minor Concerns: otherwise, any step not verified (changed, never run, blocked, not
  started); an unticked Production-Grade Checklist item; mocking in step scripts or tests;
  a file in the scripts folder the plan does not name; a verified step without a results doc.
- ✅ On Track: none of the above.

Findings are counts and names taken from the run, the records and the plan; pocflow writes
no judgement of its own. Each check appends an entry; none is ever rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pocflow._fs import atomic_write_text, file_lock
from pocflow.documents import (
    HEALTH_CHECKS,
    HEALTH_ENTRY,
    health_checks_span,
    health_entries,
    note_written,
)
from pocflow.errors import headline
from pocflow.freshness import note_failure
from pocflow.inputs import written_by_pocflow
from pocflow.layout import SMALL_WIN_SESSION
from pocflow.redact import redact
from pocflow.status import StepStatus, compute_status
from pocflow.workspace import Workspace

if TYPE_CHECKING:
    from pocflow.record import TestResult
    from pocflow.signals import Signal

# The session, the signals and the rendering are imported by the functions that need them:
# the gate's up-to-date check (has_health_check) runs on every run, even one with nothing
# to do.

STATUSES = {
    "attention": "❌ Needs Attention",
    "minor": "⚠️ Minor Concerns",
    "on-track": "✅ On Track",
}


@dataclass
class HealthCheck:
    """One small-win check: its status, findings and day."""

    status: str  # a key of STATUSES
    findings: list[str]
    day: str

    def entry(self) -> str:
        """The entry in the method's shape, for PROJECT_STATE.md's Health Checks."""
        findings = "\n".join(f"- {line}" for line in self.findings)
        return (
            f"### {self.day} - Small Win Check\n\n**Status**: {STATUSES[self.status]}\n\n"
            f"**Findings**:\n{findings}\n\n**Actions Taken**: none yet\n"
        )


def small_win_check(ws: Workspace) -> HealthCheck:
    """Run the full step suite once and check the PoC against the method's criteria."""
    from pocflow.batch import selection_of
    from pocflow.testing import PytestJsonRunner

    selections = [selection_of(ws, step) for step in ws.steps.values() if step.tests]
    report_dir = ws.root / ws.session_dir(SMALL_WIN_SESSION)
    runner = PytestJsonRunner(ws.settings.test_runner, pocflows=written_by_pocflow(ws))
    suite = runner.run(ws.root, selections, report_dir) if selections else {}
    for sid, result in suite.items():  # seen failing here, on these files: no ✅ stands
        if result.outcome != "passed":
            note_failure(ws, sid, "test", result)
    return assess(
        ws,
        {sid: dict(r.counts) for sid, r in suite.items()},
        [failure_line(sid, r) for sid, r in suite.items() if r.outcome != "passed"],
    )


#: how many failing tests a small-win check's line names before it counts the rest
_NAMED = 3


def failure_line(step_id: str, result: TestResult) -> str:
    """A step's failure in the full suite, in one line: the tests that failed, by id and
    the first line of why (the session's own message where no test failed: an error in
    collection, a session that ended early)."""
    failing = result.failing
    if not failing:
        return headline(result.message, f"step {step_id}: its tests did not pass")
    named = "; ".join(
        f"{t.nodeid} - {headline(t.message)}" if t.message else t.nodeid for t in failing[:_NAMED]
    )
    more = f" and {len(failing) - _NAMED} more" if len(failing) > _NAMED else ""
    return f"step {step_id}: {len(failing)} failing: {named}{more}"


def assess(
    ws: Workspace,
    counts: dict[str, dict[str, int]],
    failures: list[str],
    known: tuple[dict[str, StepStatus], list[Signal]] | None = None,
) -> HealthCheck:
    """The check of the PoC against the method's criteria, given a full run of the step suite:
    each step's test counts in it, and the first line of each step's failure. ``known``: the
    steps' statuses and the signals, when the caller (the gate) found them on these files."""
    from pocflow.signals import find_signals

    statuses, signals = known if known is not None else (compute_status(ws), find_signals(ws))
    attention: list[str] = list(failures)
    concerns: list[str] = []
    findings: list[str] = []

    if len(ws.settings.pocs) > 1:  # one section for every PoC of the project: say which
        findings.append(f"PoC: {ws.settings.poc} ({ws.name})")
    total = sum(c.get("total", 0) for c in counts.values())
    passed = sum(c.get("passed", 0) for c in counts.values())
    recorded = {
        sid: s.record.test.counts.get("total", 0)
        for sid, s in statuses.items()
        if s.record is not None and s.record.test is not None
    }
    findings.append(
        f"Full step suite: {passed}/{total} tests passed (recorded per-step "
        f"totals: {sum(recorded.values())})"
    )
    for sid, ran in counts.items():
        if sid in recorded and recorded[sid] != ran.get("total", 0):
            attention.append(
                f"step {sid}: {ran.get('total', 0)} tests ran, its "
                f"verification recorded {recorded[sid]}"
            )
    verified = [s for s in statuses.values() if s.is_verified]
    findings.append(f"Steps verified: {len(verified)}/{len(statuses)}")
    for status in statuses.values():
        if status.is_verified:
            continue
        line = f"step {status.step_id} ({status.name}): {status.label} — " + headline(
            "; ".join(status.reasons)
        )
        (attention if status.standing == "failed" else concerns).append(line)

    checklist = ws.plan.checklist if ws.plan else []
    ticked = sum(1 for item in checklist if item.ticked)
    findings.append(f"Production-Grade Checklist: {ticked}/{len(checklist)} items ticked")
    concerns += [
        f"unticked: {item.text} ({ws.settings.plan}:{item.line})"
        for item in checklist
        if not item.ticked
    ]

    for kind, label, bucket in (
        ("mocking", "Mocking in step scripts and tests", concerns),
        ("secret", "Hard-coded secrets", attention),
        ("unplanned", "Files outside the plan", concerns),
    ):
        found = [str(s) for s in signals if s.kind == kind]
        findings.append(f"{label}: {len(found) or 'none'}")
        bucket += found
    missing_docs = [
        s.step_id for s in verified if not (ws.root / ws.results_doc(s.step_id)).exists()
    ]
    findings.append("Steps without a results doc: " + (", ".join(missing_docs) or "none"))
    concerns += [f"step {sid} has no results doc ({ws.results_doc(sid)})" for sid in missing_docs]

    verdict = "attention" if attention else ("minor" if concerns else "on-track")
    # what sessions, records and files said is masked; pocflow's own words are not (a
    # secret that is an ordinary word, "verified", must not rewrite them)
    quoted = [redact(line) for line in attention + concerns]
    return HealthCheck(verdict, findings + quoted, date.today().isoformat())


def append_health_check(ws: Workspace, check: HealthCheck, unless_same: bool = False) -> bool:
    """Append the entry at the end of PROJECT_STATE.md's Health Checks section; with
    ``unless_same``, not when the section's last entry of the same PoC says the same (same
    day, status and findings: the gates of two PoCs, run one after the other, must not add
    two entries each time). Whether it was appended."""
    from pocflow.render import refresh_project_state

    path = ws.root / ws.settings.state_file
    with file_lock(ws.state_lock):
        if not path.exists():
            refresh_project_state(ws)
        text = path.read_text(encoding="utf-8")
        entry = check.entry()  # what it quotes was masked (assess)
        span = health_checks_span(text)
        if span is None:
            at = _before_whats_next(text)
            text = (
                text[:at]
                + ("" if at == 0 or text[:at].endswith("\n\n") else "\n")
                + f"{HEALTH_CHECKS}\n\n"
                + text[at:]
            )
            span = health_checks_span(text)
            assert span is not None
        start, at = span
        before = text[:at].rstrip("\n") + "\n\n"
        entries = health_entries(text[start:at])
        if unless_same and _last_of_its_poc(entries, entry.strip()) == entry.strip():
            return False
        after = text[at:]
        atomic_write_text(path, before + entry + ("\n" + after if after else ""))
        # pocflow wrote it, outside the project-state task: not an edit by hand
        note_written(ws.written_elsewhere, path)
    return True


def _last_of_its_poc(entries: list[str], entry: str) -> str | None:
    """The last of the entries that is about the same PoC as entry (its '- PoC: 2 (...)'
    finding; entries that name no PoC are about the only one)."""
    poc = _poc_finding(entry)
    same = [old for old in entries if _poc_finding(old) == poc]
    return same[-1] if same else None


def _poc_finding(entry: str) -> str:
    return next((line for line in entry.splitlines() if line.startswith("- PoC: ")), "")


def has_health_check(ws: Workspace) -> bool:
    """Whether PROJECT_STATE.md holds a small-win check entry."""
    path = ws.root / ws.settings.state_file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return HEALTH_ENTRY.search(text) is not None


def _before_whats_next(text: str) -> int:
    match = re.search(r"^## What's Next[ \t]*$", text, re.M)
    return match.start() if match else len(text)
