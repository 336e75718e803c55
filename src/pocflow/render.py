"""Every document pocflow generates, rendered from the records and statuses: a step's results
doc (the document phase), PROJECT_STATE.md, and the PoC results doc (the gate's). How a
rendering is merged into what a person wrote, and templates: pocflow.documents.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from shlex import quote
from typing import Any

from pocflow._fs import atomic_write_text, read_json
from pocflow.documents import (
    POC_TEMPLATE,
    STATE_TEMPLATE,
    STEP_TEMPLATE,
    block_shapes,
    note_written,
    render,
    write_document,
)
from pocflow.errors import PocflowError
from pocflow.layout import STATE_RENDERED_FROM, STEP_TASK, WRITTEN_BLOCKS_DIR
from pocflow.manifest import Manifest
from pocflow.metrics import describe_metric, parse_threshold
from pocflow.record import (
    GateRecord,
    StepRecord,
    TestResult,
    grouped_outcomes,
    project_records_digest,
)
from pocflow.signals import Signal, find_signals
from pocflow.status import STYLES, StepStatus, compute_status, poc_line
from pocflow.workspace import (
    Step,
    Workspace,
    load_workspace,
    prerequisites_first,
    project_workspaces,
)

STATUS_LINES = {"verified": "✅ COMPLETE", "failed": "❌ BLOCKED"}


@dataclass
class Category:
    """Tests of one class (or of one file, for tests outside classes)."""

    name: str
    total: int
    status: str


def _render(ws: Workspace, template: str, context: dict[str, Any]) -> str:
    """One of the workspace's document templates rendered (its override, else pocflow's),
    with what jinja2 compiled kept in the state folder between runs."""
    return render(ws.root, ws.settings.templates_dir, template, context, ws.compiled_templates)


def render_step_results(ws: Workspace, step: Step, record: StepRecord) -> str:
    """The rendered results doc of a step (not yet merged with what is on disk)."""
    test = record.test
    context: dict[str, Any] = {
        "step": {
            "step_id": step.step_id,
            "name": step.name,
            "goal": step.plan_step.goal
            if step.plan_step
            else (step.manifest.goal if step.manifest else ""),
        },
        "poc": {"number": ws.settings.poc, "name": ws.name},
        # the task that verifies it: step:3b, or poc1.step:3b once PoC 1 is an earlier PoC
        "task": ws.task(STEP_TASK, step.step_id),
        "record": record,
        "status_line": STATUS_LINES.get(record.verdict, "🔄 IN PROGRESS")
        + (" — verified by its tests only" if record.implement and record.implement.manual else ""),
        "manual": record.implement.manual if record.implement else "",
        "scripts": step.scripts,
        # what makes the files the step reads, in the order they must run (a fresh clone
        # accepts the prerequisites' records without running their scripts)
        "prerequisite_scripts": [
            script
            for sid in prerequisites_first(ws, list(step.depends_on))
            for script in ws.steps[sid].scripts
        ],
        # how the manifest runs each script: its env before the command, its args after
        "env_of": _per_script(ws, step, _env_prefix),
        "args_of": _per_script(ws, step, lambda m: "".join(f" {quote(a)}" for a in m.args)),
        "metrics": metric_rows(record),
        "test_files": _test_files(test),
        "coverage": coverage(test),
        "totals": _totals(test),
        "test_command_files": " ".join(step.tests) or f"tests/test_step{step.step_id}_*.py",
    }
    return _render(ws, STEP_TEMPLATE, context)


def _env_prefix(manifest: Manifest) -> str:
    """The manifest's variables before a command, as a POSIX shell takes them: NAME=value
    words, or `env` with them when a name is no shell variable name (X-Y)."""
    words = [f"{name}={quote(value)}" for name, value in manifest.env]
    if not words:
        return ""
    if all(name.isidentifier() and name.isascii() for name, _ in manifest.env):
        return " ".join(words) + " "
    return "env " + " ".join(quote(f"{name}={value}") for name, value in manifest.env) + " "


def _per_script(ws: Workspace, step: Step, part: Callable[[Manifest], str]) -> dict[str, str]:
    """A part of the command that runs each script of the step and of the steps it depends
    on, from its step's manifest (none: '')."""
    found = {}
    for one in (step, *(ws.steps[sid] for sid in prerequisites_first(ws, list(step.depends_on)))):
        for script in one.scripts:
            found[script] = part(one.manifest) if one.manifest is not None else ""
    return found


def write_step_results(ws: Workspace, step: Step, record: StepRecord) -> None:
    """Render and merge the step's results doc into docs/."""
    write_rendered(
        ws, ws.results_doc(step.step_id), STEP_TEMPLATE, render_step_results(ws, step, record)
    )


def write_rendered(ws: Workspace, relpath: str, template: str, rendered: str) -> None:
    """Merge what a template rendered into the document at relpath: its machine blocks are
    replaced, and lines a person wrote inside them are moved out (documents.merge)."""
    write_document(
        ws.root,
        relpath,
        rendered,
        block_shapes(ws.root, ws.settings.templates_dir, template),
        ws.root / ws.settings.state_dir / WRITTEN_BLOCKS_DIR / f"{relpath}.json",
    )


def write_poc_results(
    ws: Workspace,
    records: dict[str, StepRecord],
    gate: GateRecord,
    signals: list[Signal] | None = None,
) -> None:
    """Render and merge docs/pocN-results.md."""
    write_rendered(
        ws, ws.poc_results_doc, POC_TEMPLATE, render_poc_results(ws, records, gate, signals)
    )


def write_failed_documents(ws: Workspace, step: Step, record: StepRecord) -> list[Path]:
    """A step just failed: its results doc says so (❌ BLOCKED), and so does the PoC's
    results doc if the gate wrote one (❌ NOT COMPLETE) — the phases after the failed one,
    the document phase among them, do not run. The documents written."""
    written = []
    try:
        write_step_results(ws, step, record)
        written.append(ws.root / ws.results_doc(step.step_id))
    except PocflowError as exc:  # a template of the workspace's that wants a test result
        sys.stderr.write(f"pocflow: warning: {ws.results_doc(step.step_id)} not updated: {exc}\n")
    poc_results = write_poc_results_as_recorded(ws)
    return written if poc_results is None else [*written, poc_results]


def write_poc_results_as_recorded(ws: Workspace) -> Path | None:
    """write_poc_results_again from the step records as they are on disk."""
    from pocflow.record import read_step_record

    records = {
        sid: found
        for sid in ws.steps
        if (found := read_step_record(ws.root / ws.record_path(sid))) is not None
    }
    return write_poc_results_again(ws, records)


def write_poc_results_again(ws: Workspace, records: dict[str, StepRecord]) -> Path | None:
    """The PoC results doc an earlier gate wrote, rendered again from these records and the
    plan as they are now (after a failure: ❌ NOT COMPLETE and why); the file written, None
    when no gate wrote one."""
    from pocflow.record import read_gate_record

    gate = read_gate_record(ws.root / ws.gate_record_path)
    path = ws.root / ws.poc_results_doc
    if gate is None or not path.is_file():
        return None
    write_poc_results(ws, records, gate)
    return path


def metric_rows(record: StepRecord) -> list[tuple[str, str]]:
    """(name, value cell) of every metric, with its thresholds' verdicts."""
    implement = record.implement
    if implement is None:
        return []
    bounds = [t for t in map(parse_threshold, implement.thresholds) if t is not None]
    return [
        (name, describe_metric(value, [b for b in bounds if b.metric == name]))
        for name, value in sorted(implement.metrics.items())
    ]


def coverage(test: TestResult | None) -> list[Category]:
    """Test counts per category: the test class, else the test file."""
    if test is None:
        return []
    categories: dict[str, Counter[str]] = {}
    for group in grouped_outcomes(test):
        parts = group.name.split("::")
        name = f"`{parts[1]}`" if len(parts) > 1 else f"`{Path(parts[0]).name}`"
        categories.setdefault(name, Counter()).update(group.counts)
    return [
        Category(name, counts.total(), outcome_summary(counts))
        for name, counts in categories.items()
    ]


def outcome_summary(counts: Counter[str]) -> str:
    """'✅ 5 passed' or '❌ 1 failed, 4 passed' (with skipped/xfailed counts); no test run is
    no ✅ (a step whose scripts failed before its tests: its results doc says so)."""
    bad = counts.get("failed", 0) + counts.get("error", 0) + counts.get("xpassed", 0)
    order = ("failed", "error", "xpassed", "passed", "skipped", "xfailed")
    text = ", ".join(f"{counts[o]} {o}" for o in order if counts.get(o))
    if not text:
        return "⬜ no tests run"
    return ("❌ " if bad else "✅ ") + text


def _totals(test: TestResult | None) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    for group in grouped_outcomes(test) if test else []:
        counts.update(group.counts)
    return {"total": counts.total(), "status": outcome_summary(counts)}


def _test_files(test: TestResult | None) -> list[tuple[str, int]]:
    if test is None:
        return []
    groups = grouped_outcomes(test)
    return [
        (f, sum(sum(g.counts.values()) for g in groups if g.name.split("::", 1)[0] == f))
        for f in test.files
    ]


# PROJECT_STATE.md


def refresh_project_state(ws: Workspace) -> str:
    """Rewrite the machine blocks of PROJECT_STATE.md (creating it in the method's shape),
    which show the project's current PoC in full whichever PoC's step asks (a step of an
    earlier PoC that fails refreshes it too); the digest of the records it was rendered
    from (project_records_digest).

    What it was rendered from is noted (RenderedFrom), and so is the file (note_written):
    whichever task or phase wrote it last, the project-state task is current while the
    records are those and every step it showed was verified (what that task itself would
    render), and the file is not taken for a person's edit. (Hold the state lock.)"""
    current = ws if ws.poc is None else load_workspace(ws.root)
    pocs = project_workspaces(current.root)
    statuses = compute_status(current)
    others = {one.settings.poc: compute_status(one) for one in pocs if one.poc is not None}
    path = current.root / current.settings.state_file
    write_rendered(
        current,
        current.settings.state_file,
        STATE_TEMPLATE,
        render_project_state(current, statuses, others),
    )
    records = project_records_digest(pocs)
    unverified = [
        f"{poc}:{sid}" if poc is not None else sid
        for poc, shown in ((None, statuses), *others.items())
        for sid, status in shown.items()
        if status.standing not in ("verified", "not-started")
    ]
    rendered = {"records": records, "unverified": unverified}
    atomic_write_text(_rendered_from_file(current), json.dumps(rendered) + "\n", durable=False)
    note_written(current.written_elsewhere, path)
    return records


@dataclass(frozen=True)
class RenderedFrom:
    """What PROJECT_STATE.md was last rendered from: the records' digest, and the steps it
    showed not verified (``PoC:step`` for an earlier PoC's)."""

    records: str
    unverified: list[str]


def rendered_from(ws: Workspace) -> RenderedFrom | None:
    """What PROJECT_STATE.md was last rendered from (None when not known)."""
    data = read_json(_rendered_from_file(ws))
    if not isinstance(data, dict) or not isinstance(data.get("records"), str):
        return None
    unverified = data.get("unverified")
    return RenderedFrom(
        data["records"], [str(s) for s in unverified] if isinstance(unverified, list) else []
    )


def _rendered_from_file(ws: Workspace) -> Path:
    return ws.root / ws.settings.state_dir / STATE_RENDERED_FROM


def render_project_state(
    ws: Workspace,
    statuses: dict[str, StepStatus],
    others: dict[int, dict[str, StepStatus]] | None = None,
) -> str:
    """PROJECT_STATE.md as pocflow would write it (not yet merged with what is on disk);
    ``others``: the statuses of the project's earlier PoCs, when already worked out."""
    base = PurePosixPath(ws.settings.state_file).parent
    rows = []
    for status in statuses.values():
        doc = ws.results_doc(status.step_id)
        rows.append(
            {
                "step_id": status.step_id,
                "name": status.name,
                "label": status.label,
                "tests": status.tests,
                "state": status.standing,
                "node": "s" + status.step_id,
                "title": _mermaid_text(status.name),
                "depends_on": ["s" + d for d in ws.steps[status.step_id].depends_on],
                "doc": f"[{PurePosixPath(doc).name}]({_link(doc, base)})"
                if (ws.root / doc).exists()
                else "—",
            }
        )
    plan = ws.settings.plan
    stamps = [s.record.verified_at for s in statuses.values() if s.record is not None]
    context = {
        "last_updated": max(stamps)[:10] if stamps else "—",
        "poc": {
            "number": ws.settings.poc,
            "name": ws.name,
            "plan": plan,
            "plan_link": _link(plan, base) if (ws.root / plan).exists() else "",
        },
        "rows": rows,
        "pocs": _pocs(ws, statuses, base, others or {}),
        "verified": sum(1 for s in statuses.values() if s.is_verified),
        "classes": [
            (state.replace("-", "_"), STYLES[state])
            for state in STYLES
            if any(row["state"] == state for row in rows)
        ],
    }
    return _render(ws, STATE_TEMPLATE, context)


def _pocs(
    ws: Workspace,
    statuses: dict[str, StepStatus],
    base: PurePosixPath,
    others: dict[int, dict[str, StepStatus]],
) -> list[Any]:
    """In a project of several PoCs, a line per PoC (none for a project of one)."""
    pocs = project_workspaces(ws.root)
    if len(pocs) == 1:
        return []
    lines = []
    for one in pocs:
        line = poc_line(one, statuses if one.poc is None else others.get(one.settings.poc))
        doc, plan = one.poc_results_doc, one.settings.plan
        line["doc"] = (
            f"[{PurePosixPath(doc).name}]({_link(doc, base)})" if (ws.root / doc).exists() else ""
        )
        line["plan_link"] = (
            f"[{PurePosixPath(plan).name}]({_link(plan, base)})"
            if (ws.root / plan).exists()
            else "none yet"
        )
        lines.append(line)
    return lines


def _link(path: str, base: PurePosixPath) -> str:
    """path as a Markdown link target relative to the folder of the linking document."""
    return os.path.relpath(path, base) if str(base) != "." else path


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("\n", " ")


# The PoC results doc


def _poc_status_line(ws: Workspace, records: dict[str, StepRecord], gate: GateRecord) -> str:
    """✅ COMPLETE, or why the PoC is no longer complete as the records and the plan say
    since its gate passed: a step failed, a step came that has no record yet, a checklist
    item was unticked (the gate does not pass; drift renders the same). A step with no
    record is one added since (or whose record was deleted): not verified."""
    since = f"after the gate passed on {gate.completed_at[:10]}"
    failed = [sid for sid in ws.steps if sid in records and not records[sid].is_verified]
    if failed:
        return f"❌ NOT COMPLETE — step(s) {', '.join(failed)} failed {since}"
    new = [sid for sid in ws.steps if sid not in records]
    if new:
        return f"❌ NOT COMPLETE — step(s) {', '.join(new)} not verified {since}"
    checklist = ws.plan.checklist if ws.plan else []
    unticked = [item for item in checklist if not item.ticked]
    if unticked:
        return (
            f"❌ NOT COMPLETE — {len(unticked)} of {len(checklist)} Production-Grade "
            f"Checklist item(s) not ticked {since}"
        )
    return "✅ COMPLETE"


def render_poc_results(
    ws: Workspace,
    records: dict[str, StepRecord],
    gate: GateRecord,
    signals: list[Signal] | None = None,
) -> str:
    """The rendered docs/pocN-results.md (not yet merged with what is on disk); ``signals``
    when the caller has found them already (finding them reads every script and test)."""
    base = PurePosixPath(ws.poc_results_doc).parent
    steps = []
    for step_id, step in ws.steps.items():
        doc = PurePosixPath(ws.results_doc(step_id))
        steps.append(
            {
                "step_id": step_id,
                "name": step.name,
                "scripts": ", ".join(f"`{s}`" for s in step.scripts) or "—",
                "doc_name": doc.name,
                "doc_link": str(doc.relative_to(base)) if doc.is_relative_to(base) else str(doc),
            }
        )
    per_step = []
    totals = {"passed": 0, "total": 0, "skipped": 0, "xfailed": 0}
    # in the plan's order: a gate record read back holds its counts by sorted keys ("10"
    # before "2"), and the document must read the same whichever wrote it
    in_order = [*(sid for sid in ws.steps if sid in gate.counts), *sorted(gate.counts)]
    for step_id in dict.fromkeys(in_order):
        counts = gate.counts[step_id]
        per_step.append(
            {
                "step_id": step_id,
                "total": counts.get("total", 0),
                "passed": counts.get("passed", 0),
                "skipped": counts.get("skipped", 0) + counts.get("xfailed", 0),
                "failed": counts.get("failed", 0) + counts.get("error", 0),
            }
        )
        for key in totals:
            totals[key] += counts.get(key, 0)
    metrics = [
        {"step_id": sid, "name": name, "value": value}
        for sid, record in records.items()
        for name, value in metric_rows(record)
    ]
    starts = sorted(r.first_verified_at or r.verified_at for r in records.values())
    plan = ws.plan
    context: dict[str, Any] = {
        "poc": {"number": ws.settings.poc, "name": ws.name, "proves": plan.proves if plan else ""},
        "status_line": _poc_status_line(ws, records, gate),
        "started": starts[0][:10] if starts else "—",
        "completed": gate.completed_at[:10],
        "steps": steps,
        "suite": {
            **totals,
            "duration_s": gate.duration_s,
            "one_session": gate.one_session,
            "per_step": per_step,
        },
        "metrics": metrics,
        "checklist": plan.checklist if plan else [],
        "signals": [str(signal) for signal in (find_signals(ws) if signals is None else signals)],
        "plan": ws.settings.plan,
    }
    return _render(ws, POC_TEMPLATE, context)
