"""A step's verdict: its record composed from its phases' latest results, and written (the
state phase). A record changes only when what it proves changes."""

from __future__ import annotations

import time
from dataclasses import replace

from pocflow._fs import file_lock, read_json
from pocflow._observe import stamp_of
from pocflow.freshness import KERNEL_WATCH, environment, settings_digest
from pocflow.inputs import pocflows_writes_read
from pocflow.layout import (
    ACCEPTED_FILE,
    DOCUMENT_FILE,
    IMPLEMENT_FILE,
    PROVEN_DIR,
    TEST_FILE,
    VERIFIED_FILE,
)
from pocflow.record import (
    StepRecord,
    compose_record,
    evidence,
    keep_proven,
    proven_path,
    read_implement,
    read_step_record,
    read_test,
    text_of,
    to_json,
    write_record,
    write_unless_held,
)
from pocflow.render import refresh_project_state, write_poc_results_as_recorded
from pocflow.workspace import Workspace


def current_record(ws: Workspace, step_id: str) -> StepRecord:
    """The record of the step's latest run, composed from the phases' local results — once
    while the files it is composed from are as they were (the document and state phases
    both ask, one after the other)."""
    read = [
        *(ws.run_file(step_id, name) for name in _COMPOSED_FROM),
        ws.root / ws.run_dir(step_id) / PROVEN_DIR,
        ws.root / ws.record_path(step_id),
    ]
    env = environment(ws)
    key = (
        tuple(stamp_of(str(path)) for path in read),
        tuple(sorted(env.items())),
        settings_digest(ws, ws.steps[step_id]),
    )
    known = _CURRENT.get((str(ws.root), step_id, ws.poc))
    if known is not None and known[0] == key:
        return known[1]
    record = _composed(ws, step_id, env)
    _CURRENT[(str(ws.root), step_id, ws.poc)] = (key, record)
    return record


#: the local run files a step's current record is composed from
_COMPOSED_FROM = (IMPLEMENT_FILE, TEST_FILE, VERIFIED_FILE, DOCUMENT_FILE)
#: (workspace, step id, PoC) -> (what current_record read, as it was; the record composed)
_CURRENT: dict[tuple[str, str, int | None], tuple[object, StepRecord]] = {}


def _composed(ws: Workspace, step_id: str, env: dict[str, str]) -> StepRecord:
    implement = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
    test = read_test(ws.run_file(step_id, TEST_FILE))
    if implement is None or implement.outcome != "passed":
        test = None  # a test result from before a failed implement says nothing now
    step = ws.steps[step_id]
    previous = read_step_record(ws.root / ws.record_path(step_id))
    if previous is None or not previous.is_verified:
        # failed here since: the record as it last stood verified, so that a step fixed back
        # to what it proved then gets that record back and its dependents stay as they are
        previous = read_step_record(ws.run_file(step_id, VERIFIED_FILE)) or previous
    record = compose_record(
        step_id,
        step.name,
        ws.results_doc(step_id),
        implement,
        test,
        previous,
        env,
        settings_digest(ws, step),
    )
    if _taken_without_the_watch(ws, step_id, record, previous):
        assert previous is not None
        return previous
    if record is not previous and record.is_verified:
        # proved here before (an edit undone): that record, its bytes and times
        earlier = read_step_record(proven_path(ws.root / ws.run_dir(step_id), record))
        if earlier is not None and earlier.is_verified and evidence(earlier) == evidence(record):
            return earlier
    document = read_json(ws.run_file(step_id, DOCUMENT_FILE))
    if record is not previous and record.is_verified and document is not None:
        record.durations["document"] = float(document.get("duration_s", 0.0))
    return record


def _taken_without_the_watch(
    ws: Workspace, step_id: str, record: StepRecord, previous: StepRecord | None
) -> bool:
    """Whether the step's record, made with the kernel's watch of what programs read, was
    taken by a run without it (doit -n) and proves what it proved: nothing ran again, so the
    record stays as it is (it holds without the watch: freshness.environment_changes), not
    rewritten as made without the watch (which would have the next run with the watch
    verify it again)."""
    if (
        record is previous
        or previous is None
        or not previous.is_verified
        or previous.environment.get(KERNEL_WATCH) != "on"
        or record.environment.get(KERNEL_WATCH) != "off"
        or not ws.run_file(step_id, ACCEPTED_FILE).is_file()
    ):
        return False
    watched = {**record.environment, KERNEL_WATCH: "on"}
    return evidence(replace(record, environment=watched)) == evidence(previous)


def record_step(ws: Workspace, step_id: str, refresh: bool = True) -> StepRecord:
    """Write the step's record and return it; refresh PROJECT_STATE.md too unless told not
    to (the state phase leaves that to the project-state task, which runs once per
    invocation)."""
    start = time.monotonic()
    record = current_record(ws, step_id)
    problem = ""
    if record.is_verified:
        read = {**record.inputs, **(record.test.outputs_read if record.test else {})}
        problem = pocflows_writes_read(ws, step_id, read)
    if problem:
        record = replace(record, verdict="failed", message=problem)
    path = ws.root / ws.record_path(step_id)
    text = to_json(record)
    unchanged = text_of(path) == text
    kept = ws.run_file(step_id, VERIFIED_FILE)
    # the record as it stood verified here, or as it was proved here before (an edit undone):
    # its bytes back, times included (looked for only when the record changes)
    restored = (
        record.is_verified
        and not unchanged
        and (
            text == text_of(kept)
            or text == text_of(proven_path(ws.root / ws.run_dir(step_id), record))
        )
    )
    if record.is_verified and not unchanged and not restored:
        record.durations["state"] = round(time.monotonic() - start, 3)
        text = to_json(record)
    # the record back to the bytes the project-state task and the gate last stood on: they
    # find nothing changed, while PROJECT_STATE.md and the PoC results doc say what the
    # failure wrote
    back = restored and not unchanged
    with file_lock(ws.state_lock):
        if not unchanged:  # a record changes only when what it proves changes
            _keep_what_it_replaces(ws, step_id)
            write_record(path, record)
        if refresh or back:
            refresh_project_state(ws)  # (which notes it written by pocflow)
        if back:
            write_poc_results_as_recorded(ws)
    if record.is_verified:
        write_unless_held(kept, text)
    return record


def _keep_what_it_replaces(ws: Workspace, step_id: str) -> None:
    """Keep the verified record about to be replaced by what it proves (pocflow.layout
    PROVEN_DIR): proving that again (an edit undone) gives its bytes back. (Kept when
    replaced, not when written or taken: a fresh clone that changes nothing writes none.)"""
    path = ws.root / ws.record_path(step_id)
    old = read_step_record(path)
    text = text_of(path)
    if old is not None and old.is_verified and text is not None:
        keep_proven(ws.root / ws.run_dir(step_id), old, text)
