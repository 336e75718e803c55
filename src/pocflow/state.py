"""The state phase: write the step's verification record and refresh PROJECT_STATE.md."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import PurePosixPath

from pocflow._fs import file_lock, read_json
from pocflow.documents import STATE_TEMPLATE, render, write_document
from pocflow.fingerprint import file_digest
from pocflow.freshness import environment, settings_digest
from pocflow.layout import DOCUMENT_FILE, IMPLEMENT_FILE, TEST_FILE
from pocflow.record import (
    StepRecord,
    compose_record,
    read_implement,
    read_step_record,
    read_test,
    to_json,
    write_record,
)
from pocflow.status import STYLES, StepStatus, compute_status
from pocflow.workspace import Workspace


def current_record(ws: Workspace, step_id: str) -> StepRecord:
    """The record of the step's latest run, composed from the phases' local results."""
    implement = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
    test = read_test(ws.run_file(step_id, TEST_FILE))
    if implement is None or implement.outcome != "passed":
        test = None  # a test result from before a failed implement says nothing now
    step = ws.steps[step_id]
    previous = read_step_record(ws.root / ws.record_path(step_id))
    record = compose_record(
        step_id,
        step.name,
        ws.results_doc(step_id),
        implement,
        test,
        previous,
        environment(ws),
        settings_digest(ws, step),
    )
    document = read_json(ws.run_file(step_id, DOCUMENT_FILE))
    if record is not previous and record.is_verified and document is not None:
        record.durations["document"] = float(document.get("duration_s", 0.0))
    return record


def record_step(ws: Workspace, step_id: str, refresh: bool = True) -> StepRecord:
    """Write the step's record and return it; refresh PROJECT_STATE.md too unless told not
    to (the state phase leaves that to the project-state task, which runs once per
    invocation)."""
    start = time.monotonic()
    record = current_record(ws, step_id)
    path = ws.root / ws.record_path(step_id)
    unchanged = (
        path.is_file()
        and not path.is_symlink()
        and path.read_text(encoding="utf-8") == to_json(record)
    )
    if record.is_verified and not unchanged:
        record.durations["state"] = round(time.monotonic() - start, 3)
    with file_lock(ws.state_lock):
        if not unchanged:  # a record changes only when what it proves changes
            write_record(path, record)
        if refresh:
            refresh_project_state(ws)
    return record


def records_digest(ws: Workspace) -> str:
    """A digest of every step's verification record as it is on disk now (sha256 over each
    step's id and record bytes). Computed once per process while every record keeps its
    content fingerprint (pocflow.fingerprint: size, times and inode, else its content)."""
    paths = [(step_id, ws.root / ws.record_path(step_id)) for step_id in ws.steps]
    now = tuple(file_digest(path) for _, path in paths)
    known = _RECORDS.get(str(ws.root))
    if known is not None and known[0] == now:
        return known[1]
    digest = hashlib.sha256()
    for step_id, path in paths:
        digest.update(
            step_id.encode()
            + b"\0"
            + (path.read_bytes() if path.is_file() and not path.is_symlink() else b"")
        )
    _RECORDS[str(ws.root)] = (now, digest.hexdigest())
    return digest.hexdigest()


#: workspace -> (each record's content fingerprint, the records' digest)
_RECORDS: dict[str, tuple[tuple[str, ...], str]] = {}


def refresh_project_state(ws: Workspace) -> None:
    """Rewrite the machine blocks of PROJECT_STATE.md (creating it in the method's shape)."""
    write_document(ws.root, ws.settings.state_file, render_project_state(ws, compute_status(ws)))


def render_project_state(ws: Workspace, statuses: dict[str, StepStatus]) -> str:
    """PROJECT_STATE.md as pocflow would write it (not yet merged with what is on disk)."""
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
                "state": status.state,
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
        "verified": sum(1 for s in statuses.values() if s.is_verified),
        "classes": [
            (state.replace("-", "_"), STYLES[state])
            for state in STYLES
            if any(row["state"] == state for row in rows)
        ],
    }
    return render(ws.root, ws.settings.templates_dir, STATE_TEMPLATE, context)


def _link(path: str, base: PurePosixPath) -> str:
    """path as a Markdown link target relative to the folder of the linking document."""
    return os.path.relpath(path, base) if str(base) != "." else path


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("\n", " ")
