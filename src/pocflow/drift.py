"""Drift: committed generated documents that differ from what pocflow would write now.

Every generated part is a pure function of the committed records, the plan and the files on
disk, so it can be rendered again without running anything and compared with what is
committed. A machine block edited by hand, or not regenerated after a change, is drift.
"""

from __future__ import annotations

from pocflow.documents import document_shape, find_blocks, merge_document, read_document
from pocflow.errors import DocumentError
from pocflow.record import StepRecord, read_gate_record
from pocflow.render import render_poc_results, render_project_state, render_step_results
from pocflow.status import StepStatus, compute_status
from pocflow.steps import parse_step_id
from pocflow.workspace import Workspace, project_workspaces


def expected_documents(ws: Workspace) -> dict[str, str]:
    """Workspace-relative path -> the document as pocflow would render it now: the current
    PoC's PROJECT_STATE.md, and every PoC's results docs and pocN-results.md."""
    statuses = compute_status(ws)
    expected = {ws.settings.state_file: render_project_state(ws, statuses)}
    for one in project_workspaces(ws.root):
        expected.update(_poc_documents(one, statuses if one.poc is None else compute_status(one)))
    return expected


def _poc_documents(ws: Workspace, statuses: dict[str, StepStatus]) -> dict[str, str]:
    """One PoC's results docs and pocN-results.md, as pocflow would render them now."""
    expected: dict[str, str] = {}
    records: dict[str, StepRecord] = {}
    for step_id, status in statuses.items():
        record = status.record
        if record is not None:  # a failed step's doc says so too (❌ BLOCKED)
            records[step_id] = record
            expected[ws.results_doc(step_id)] = render_step_results(ws, ws.steps[step_id], record)
    gate = read_gate_record(ws.root / ws.gate_record_path)
    if gate is not None and any(r.is_verified for r in records.values()):
        expected[ws.poc_results_doc] = render_poc_results(ws, records, gate)
    return expected


class ByHand(str):
    """A difference no regeneration mends: a document pocflow will not rewrite as it is (a
    marker broken, not UTF-8) until a person fixes the line it names, or a record of a step
    the PoC no longer has, for a person to remove."""


def find_drift(ws: Workspace) -> list[str]:
    """One line per document (and machine block) that differs from what pocflow writes now."""
    problems = []
    for relpath, rendered in expected_documents(ws).items():
        try:
            raw = read_document(ws.root, relpath)
            if raw is None:
                problems.append(f"{relpath}: not written yet")
                continue
            existing = raw.decode("utf-8")
            if merge_document(existing, rendered, relpath) == existing:
                continue
            body = document_shape(existing)[2]  # (CRLF and a byte-order mark are its shape)
            have = {b.name: body[b.start : b.end] for b in find_blocks(body, relpath)}
        except UnicodeDecodeError:
            problems.append(ByHand(f"{relpath}: not valid UTF-8; save it as UTF-8"))
            continue
        except DocumentError as exc:
            problems.append(ByHand(str(exc)))
            continue
        for block in find_blocks(rendered, relpath):
            text = rendered[block.start : block.end]
            if block.name not in have:
                problems.append(f"{relpath}: machine block '{block.name}' is missing")
            elif have[block.name].rstrip("\n") != text.rstrip("\n"):
                problems.append(
                    f"{relpath}: machine block '{block.name}' differs from what pocflow writes now"
                )
    for one in project_workspaces(ws.root):
        problems += orphan_records(one) + records_gone(one)
    return problems


def records_gone(ws: Workspace) -> list[str]:
    """One line per step verified here whose committed record is gone (deleted, or not
    checked out): the documents then differ because the record does, not by an edit."""
    from pocflow.freshness import gone_record
    from pocflow.layout import GATE_TASK

    return [
        f"{ws.record_path(sid)}: gone, while step {sid} was verified here: `uv run doit "
        f"{ws.task(GATE_TASK)}` writes it again; commit it"
        for sid in ws.steps
        if gone_record(ws, sid) is not None
    ]


def orphan_records(ws: Workspace) -> list[str]:
    """One line per committed record of a step the PoC no longer has (its files and its
    plan section removed): it and its results doc stay in the repository, saying what no
    step proves any more."""
    folder = ws.root / ws.settings.records_dir
    found: list[str] = []
    for path in sorted(folder.glob("step*.json")) if folder.is_dir() else []:
        step_id = parse_step_id(path.stem[len("step") :])
        if step_id is None or step_id in ws.steps or path.name != f"step{step_id}.json":
            continue
        doc = ws.results_doc(step_id)
        also = f" and {doc}" if (ws.root / doc).exists() else ""
        found.append(
            ByHand(
                f"{ws.record_path(step_id)}: the record of step {step_id}, which the PoC no "
                f"longer has (no files, not in the plan); remove it{also} (git rm), or bring "
                "the step back"
            )
        )
    return found


def other_environment(ws: Workspace) -> list[str]:
    """How this machine's environment differs from the one the committed records were made
    with (``python 3.11 -> 3.12``, the locked dependency set): then every step shows as
    changed, and its documents differ for that reason, not because a person edited them."""
    from pocflow.freshness import environment, environment_changes

    current = environment(ws)
    changes: list[str] = []
    for status in compute_status(ws).values():
        if status.record is not None:
            changes += [
                change
                for change in environment_changes(status.record.environment, current)
                if change not in changes
            ]
    return changes
