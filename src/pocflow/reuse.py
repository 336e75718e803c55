"""Reusing verified work instead of repeating it.

**Accepting a record.** When a step's committed record still holds (pocflow.freshness), its
implement and test phases do not run the scripts and tests again: they take their results
from the record (a fresh clone in CI has no local state, so doit would otherwise re-run
every step). The run says so: ``-- implement:3b  (accepted: verified 2026-11-26 ...)``.

**Replaying upstream scripts.** A step that does run may read what the scripts of the steps
it depends on wrote (a database, a file), which a fresh clone does not have when those steps
were accepted. Before its scripts run, the scripts of every step it depends on (transitively)
that have not run in this workspace on their current inputs are run again, prerequisites
first — without their tests, and without touching their records: their verification stands,
only their outputs are reproduced. Before it runs the full suite, the gate does the same for
the steps whose outputs this workspace does not hold: a declared output or a file their
scripts wrote when verified is missing, or such a file was written here by another step's
scripts while theirs did not run here (a shared file, rewritten by a replayed prerequisite,
lacks their part). Replaying every accepted step would cost a job as much as a cold run.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from pocflow._fs import read_json
from pocflow.fingerprint import NO_CONTENT, fingerprint, still_holds
from pocflow.freshness import note_ran_after
from pocflow.implement import implement_spec, run_implement
from pocflow.imports import ImportCache
from pocflow.inputs import implement_inputs_of, not_inputs_of, runs_here, written_by
from pocflow.layout import (
    ACCEPTED_FILE,
    IMPLEMENT,
    IMPLEMENT_FILE,
    PRODUCED_FILE,
    REPLAY_FILE,
    TEST_FILE,
    VERIFIED_FILE,
)
from pocflow.record import (
    ImplementResult,
    StepRecord,
    TestResult,
    outputs_read_by_other_tests,
    outputs_read_here,
    read_implement,
    text_of,
    write_produced,
    write_run_file,
    write_unless_held,
)
from pocflow.workspace import Step, Workspace, prerequisites_first


def accept(ws: Workspace, record: StepRecord) -> None:
    """Take the step's phase results from its record (it still holds) — its test result
    only while the local one is of the same tests (else its test phase runs them, to see
    which outputs they read: pocflow.freshness.acceptance)."""
    test_file = ws.run_file(record.step_id, TEST_FILE)
    implement_file = ws.run_file(record.step_id, IMPLEMENT_FILE)
    write_run_file(implement_file, keeping_scripts_outputs_read(implement_file, record.implement))
    if record.test is not None and not outputs_read_by_other_tests(test_file, record.test):
        write_run_file(test_file, keeping_outputs_read(ws.root, test_file, record.test))
    write_run_file(ws.run_file(record.step_id, ACCEPTED_FILE), {"verified_at": record.verified_at})
    text = text_of(ws.root / ws.record_path(record.step_id))
    if text is not None:
        write_unless_held(ws.run_file(record.step_id, VERIFIED_FILE), text)
    produced = ws.run_file(record.step_id, PRODUCED_FILE)
    kept = read_json(produced)
    written = kept.get("written") if kept is not None else None
    if not isinstance(written, dict) or not still_holds(ws.root, written):
        # what its scripts produced here is not there as they left it: the record stands in
        write_produced(produced, {"accepted": record.verified_at})


def outputs_of(ws: Workspace, step_id: str) -> list[str]:
    """The files a step's scripts write: its declared outputs, and what they wrote in their
    latest run here (else when verified)."""
    step = ws.steps[step_id]
    return [*(step.manifest.outputs if step.manifest else ()), *written_by(ws, step_id)]


def keeping_scripts_outputs_read(
    path: Path, implement: ImplementResult | None
) -> ImplementResult | None:
    """A record's implement result, with the outputs of other steps its scripts read in
    their latest run here (the local result at path) when that run stood on the same
    inputs, and what it left of the files it wrote: taking the record does not make that
    evidence go away (pocflow.freshness.script_outputs_changed, left_here)."""
    local = read_implement(path)
    if implement is None or local is None or local.outcome != "passed":
        return implement
    if local.inputs != implement.inputs:
        return implement
    # and what that run left of the files it wrote: the outputs there are its
    # (pocflow.freshness.left_here)
    return replace(
        implement,
        outputs_read=dict(local.outputs_read),
        written_digests=dict(local.written_digests),
        updated_foreign=list(local.updated_foreign),
    )


def keeping_outputs_read(root: Path, path: Path, test: TestResult) -> TestResult:
    """A record's test result, with what the step's tests read of the outputs in their
    latest run here (the local result at path, or what `doit clean` kept of it): taking
    the record does not make that evidence go away (pocflow.freshness.output_changes).
    Where there is none, the outputs its record says they read that are there, as they are
    now (as runs here left them: else the record is not taken,
    pocflow.freshness.foreign_outputs): one changing after this has them run."""
    read = outputs_read_here(path)
    if not read and test.reads_outputs:
        now = fingerprint(root, test.reads_outputs)
        read = {key: digest for key, digest in now.items() if digest not in NO_CONTENT}
    return replace(test, outputs_read=read) if read else test


def forget_acceptance(ws: Workspace, step_id: str) -> None:
    """The step is run for real this time."""
    ws.run_file(step_id, ACCEPTED_FILE).unlink(missing_ok=True)


def was_accepted(ws: Workspace, step_id: str) -> bool:
    """Whether the step's current local results were taken from its record."""
    return ws.run_file(step_id, ACCEPTED_FILE).is_file()


def replay(
    ws: Workspace,
    step_ids: list[str],
    cache: ImportCache | None = None,
    anew: bool = False,
) -> tuple[list[str], str]:
    """Run the scripts of those of step_ids (and of the steps they depend on) whose outputs
    this workspace lacks, prerequisites first; with ``anew``, those of step_ids whatever
    this workspace holds (what they add to a file was written away). (replayed step ids, ''
    or why one failed)."""
    cache = cache or ImportCache.shared(ws.imports_cache, ws.root)
    replayed: list[str] = []
    for step_id in prerequisites_first(ws, step_ids):
        step = ws.steps[step_id]
        if not step.scripts or (
            not (anew and step_id in step_ids) and _materialized(ws, step, cache)
        ):
            continue
        inputs = implement_inputs_of(ws, step, cache)
        spec = replace(
            implement_spec(ws, step, inputs),
            result_file=f"{ws.run_dir(step_id)}/{REPLAY_FILE}",
            not_inputs=not_inputs_of(ws, step),
        )
        result = run_implement(spec)
        if result.outcome != "passed":
            return replayed, (
                f"step {step_id} was accepted from its record, but replaying "
                f"its scripts to reproduce their outputs failed: {result.message}"
            )
        note_ran_after(ws, step_id, IMPLEMENT)  # a replay is a run of its scripts
        replayed.append(step_id)
    return replayed, ""


def replay_saying(ws: Workspace, step_ids: list[str], why: str, anew: bool = False) -> str:
    """Replay the scripts of those steps taken from their records that need it (replay;
    ``anew``: of these steps whatever there is), saying so with why; why one failed, or ''."""
    replayed, problem = replay(ws, step_ids, anew=anew)
    if replayed and not problem:
        sys.stderr.write(
            f"pocflow: replayed the scripts of step(s) {', '.join(replayed)} "
            f"(accepted from their records){why}\n"
        )
    return problem


def missing_outputs(ws: Workspace) -> list[str]:
    """Steps (run by pocflow) whose outputs this workspace does not hold: some of them are
    not on disk (the declared ones, and what their scripts wrote when they were verified —
    a fresh clone, or a job that gathered other jobs' records, has the records and not those
    files), or a file they write was written here by another step's scripts (of any PoC of
    the project) while theirs did not run here (a fresh clone where a changed step replayed
    a shared prerequisite: the file is there, without this step's part of it). ``replay``
    skips those that did run."""
    return _lacking_outputs(ws, missing_too=True)


def outputs_rewritten_by_others(ws: Workspace) -> list[str]:
    """Steps whose scripts did not run here (their records taken), a file of whose outputs
    another step's scripts wrote here: a fresh clone where a changed step replayed a shared
    prerequisite, which wrote the file anew without their part of it."""
    return _lacking_outputs(ws, missing_too=False)


def outputs_written_by_others(ws: Workspace) -> list[str]:
    """Steps whose scripts did not run here, a file of whose outputs the scripts of a step of
    another PoC of the project wrote here: their records hold, but the file their tests read
    is not what their scripts make (a fresh clone where a later PoC's changed script rewrote
    it). Within one PoC, the step that wrote it has a changed record, and the gate runs."""
    if len(_project(ws)) < 2:
        return []
    return _lacking_outputs(ws, missing_too=False, other_pocs_only=True)


def _project(ws: Workspace) -> list[Workspace]:
    from pocflow.run import RunContext

    return RunContext.of(str(ws.root)).workspaces()


def _lacking_outputs(ws: Workspace, missing_too: bool, other_pocs_only: bool = False) -> list[str]:
    ran_here: set[str] = set()
    # a file -> the (PoC, step id) whose scripts wrote it here
    writers: dict[str, set[tuple[int | None, str]]] = {}
    pocs = _project(ws)
    for one in pocs if any(one.poc == ws.poc for one in pocs) else [ws]:
        own = one.poc == ws.poc
        for sid in one.steps:
            runs = runs_here(one, sid)
            if own and runs:
                ran_here.add(sid)
            if own and other_pocs_only:
                continue
            for result in runs:
                for path in result.written:
                    writers.setdefault(path, set()).add((one.poc, sid))
    found = []
    for sid, step in ws.steps.items():
        if not step.scripts or (step.manifest is not None and step.manifest.manual):
            continue
        outputs = outputs_of(ws, sid)
        if (missing_too and any(not (ws.root / out).exists() for out in outputs)) or (
            sid not in ran_here
            and any(writers.get(out, set()) - {(ws.poc, sid)} for out in outputs)
        ):
            found.append(sid)
    return found


def upstream_of(ws: Workspace, step_id: str) -> list[str]:
    """Every step the step depends on, transitively, prerequisites first."""
    return prerequisites_first(ws, list(ws.steps[step_id].depends_on))


def _materialized(ws: Workspace, step: Step, cache: ImportCache) -> bool:
    """Whether the step's scripts ran (for real, or replayed) in this workspace on its
    current inputs, and their declared outputs are there. A manual step never runs."""
    if step.manifest is not None and step.manifest.manual:
        return True
    static = None
    for result in runs_here(ws, step.step_id):
        if static is None:
            static = set(implement_inputs_of(ws, step, cache))
        # run on the inputs the scan finds now, and on what it really read, unchanged
        if static <= result.inputs.keys() and still_holds(ws.root, result.inputs):
            return all(Path(ws.root / out).exists() for out in result.outputs)
    return False
