"""The state phase: write the step's verification record and refresh PROJECT_STATE.md."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path, PurePosixPath

from doit.exceptions import TaskFailed

from pocflow._fs import file_lock
from pocflow.documents import render, write_document
from pocflow.record import (
    StepRecord,
    compose_record,
    read_implement,
    read_test,
    write_record,
)
from pocflow.status import compute_status
from pocflow.workspace import Workspace, load_workspace

STATE_TEMPLATE = "project-state.md"


def current_record(ws: Workspace, step_id: str) -> StepRecord:
    """The record of the step's latest run, composed from the phases' local results."""
    run_dir = ws.root / ws.run_dir(step_id)
    implement = read_implement(run_dir / "implement.json")
    test = read_test(run_dir / "test.json")
    if implement is None or implement.outcome != "passed":
        test = None  # a test result from before a failed implement says nothing now
    step = ws.steps[step_id]
    return compose_record(step_id, step.name, ws.results_doc(step_id), implement, test)


def record_step(root: str, step_id: str) -> TaskFailed | None:
    """doit action of the state phase (and of a failing phase): record, then refresh."""
    ws = load_workspace(Path(root))
    record = current_record(ws, step_id)
    with file_lock(ws.root / ws.settings.state_dir / "state.lock"):
        write_record(ws.root / ws.record_path(step_id), record)
        refresh_project_state(ws)
    if not record.is_verified:
        return TaskFailed(record.message)
    return None


def refresh_project_state(ws: Workspace) -> None:
    """Rewrite the machine blocks of PROJECT_STATE.md (creating it in the method's shape)."""
    statuses = compute_status(ws)
    state_file = ws.settings.state_file
    base = PurePosixPath(state_file).parent
    rows = []
    for status in statuses.values():
        doc = ws.results_doc(status.step_id)
        link = os.path.relpath(doc, base) if str(base) != "." else doc
        exists = (ws.root / doc).exists()
        rows.append({"step_id": status.step_id, "name": status.name, "label": status.label,
                     "tests": status.tests,
                     "doc": f"[{PurePosixPath(doc).name}]({link})" if exists else "—"})
    plan = ws.settings.plan
    plan_link = (os.path.relpath(plan, base) if str(base) != "." else plan) \
        if (ws.root / plan).exists() else ""
    context = {
        "today": date.today().isoformat(),
        "poc": {"number": ws.settings.poc, "name": ws.name, "plan": plan,
                "plan_link": plan_link},
        "rows": rows,
        "verified": sum(1 for s in statuses.values() if s.is_verified),
    }
    write_document(ws.root, state_file, render(ws.root, ws.settings.templates_dir,
                                               STATE_TEMPLATE, context))
