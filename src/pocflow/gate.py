"""The poc-complete gate: every step verified on its current inputs (and, with
``suite_session``, every step's tests green in one session)."""

from __future__ import annotations

import sys

from pocflow._fs import file_lock
from pocflow.batch import (
    failed_together,
    failed_together_now,
    passed_together,
    selection_of,
    whole_suite_this_run,
)
from pocflow.documents import note_written
from pocflow.fingerprint import differing, looking_once
from pocflow.freshness import (
    awaiting_suite,
    environment,
    note_failure,
    note_suite_outputs,
    reverify_forced,
)
from pocflow.healthcheck import STATUSES, append_health_check, assess, has_health_check
from pocflow.inputs import pocflows_writes_read, written_by_pocflow
from pocflow.layout import GATE_SESSION, OUTPUTS_SESSION, PYTEST_LOG, TEST
from pocflow.record import (
    GateRecord,
    StepRecord,
    evidence,
    keep_proven,
    now_iso,
    proven_path,
    read_gate_record,
    records_digest,
    text_of,
    write_record,
)
from pocflow.render import (
    refresh_project_state,
    rendered_from,
    write_poc_results,
    write_poc_results_again,
)
from pocflow.reuse import (
    missing_outputs,
    outputs_rewritten_by_others,
    outputs_written_by_others,
    replay_saying,
)
from pocflow.settings import suite_session_wanted
from pocflow.signals import Signal, find_signals
from pocflow.status import (
    StepStatus,
    compute_status,
    gate_not_passed,
    gate_record_holds,
    incomplete,
    poc_problem,
    undocumented,
)
from pocflow.testing import PytestJsonRunner
from pocflow.workspace import (
    Workspace,
    project_workspaces,
    same_named_tests,
)


def check_complete(ws: Workspace, accepted: GateRecord | None) -> str:
    """The gate: why the PoC is not complete (every unverified step and why, or the whole
    suite's failure); '' when it is, after writing its record and the PoC results doc.
    ``accepted``: the committed gate record this run takes (accepted_gate), if any."""
    signals = find_signals(ws)
    for signal in signals:
        sys.stderr.write(f"pocflow: signal: {signal}\n")
    # a step taken from its record whose part of a shared file a replayed prerequisite wrote
    # away (a fresh clone where a sibling changed): its scripts add it again, in plan order,
    # before any step's status is judged (the tests that read the file then run again)
    problem = replay_saying(
        ws,
        outputs_rewritten_by_others(ws),
        ": a prerequisite's replay had written their outputs anew",
    )
    if problem:
        return problem
    statuses, problem = _settled(ws)
    if problem:
        _poc_results_as_they_stand(ws, statuses)
        return problem
    problem = _reading_the_gates_output(ws, statuses)
    if problem:
        return problem
    if ws.settings.undocumented == "warn":
        for line in undocumented(ws):
            sys.stderr.write(f"pocflow: warning: not documented yet: {line.strip()}\n")
    records = {sid: s.record for sid, s in statuses.items() if s.record is not None}
    if accepted is not None:  # the suite passed on exactly these records: nothing to prove
        with file_lock(ws.state_lock):
            write_poc_results(ws, records, accepted, signals)
            _refresh_state(ws, this_poc_complete=False)  # (its line said so already)
        if not has_health_check(ws):  # the method's last checkpoint, from that suite's run
            _small_win_check(ws, accepted.counts)
        return ""
    together = whole_suite_this_run(ws)
    if together is None and (suite_session_wanted(ws.settings) or failed_together(ws)):
        together, problem = _suite_session(ws)  # every step's tests as one session, now
        if problem:
            return problem
        passed_together(ws)
        statuses, problem = _settled(ws)  # what that session's tests wrote, others read
        if problem:
            return problem
    if together is not None:
        counts, seconds = together
    else:  # each step's tests passed on the files as they are: the records say how many
        counts = {sid: dict(r.test.counts) for sid, r in records.items() if r.test is not None}
        seconds = sum(r.test.duration_s for r in records.values() if r.test is not None)
    gate = GateRecord(
        completed_at=now_iso(),
        duration_s=seconds,
        counts={sid: dict(counts.get(sid, {})) for sid in ws.steps},
        records=records_digest(ws),
        environment=environment(ws),
        one_session=together is not None,
    )
    path = ws.root / ws.gate_record_path
    previous = read_gate_record(path)
    proven = ws.root / ws.session_dir(GATE_SESSION)
    if previous is not None and evidence(previous) == evidence(gate):
        gate = previous  # the same proof: the committed record (and document) stay as they are
    else:  # proved here before (an edit undone): that record, its bytes and times
        earlier = read_gate_record(proven_path(proven, gate))
        gate = earlier if earlier is not None and evidence(earlier) == evidence(gate) else gate
    with file_lock(ws.state_lock):
        if gate is not previous:
            if previous is not None:  # proving it again (an edit undone) gives it back
                keep_proven(proven, previous, text_of(path) or "")
            write_record(path, gate)
        write_poc_results(ws, records, gate, signals)
        _refresh_state(ws)
    _small_win_check(ws, gate.counts, (statuses, signals))
    return _changed_by_the_gate(ws, records)


def _changed_by_the_gate(ws: Workspace, records: dict[str, StepRecord]) -> str:
    """Why the gate cannot stand on a step that what it just wrote (its record, the PoC
    results doc, PROJECT_STATE.md) changed: a test that listed their folder, or read one
    through a link, saw them otherwise ('' when no step's inputs changed). Looked at with
    fresh digests, once the gate has written."""
    lines = []
    with looking_once():  # a shared input is looked at once for every record
        changed_by_step = {sid: differing(ws.root, r.inputs) for sid, r in records.items()}
    for sid, changed in changed_by_step.items():
        if changed:
            lines.append(
                f"step {sid}: what the gate wrote changed what its tests read: "
                f"{', '.join(changed[:5])}; test the step's own outputs instead"
            )
    return "\n".join(lines)


def _reading_the_gates_output(ws: Workspace, statuses: dict[str, StepStatus]) -> str:
    """Why the gate cannot stand on steps whose tests read what pocflow writes (its record,
    the PoC results doc and PROJECT_STATE.md once it has checked them: written, those files
    differ from what the tests read, and nothing checks them again in this run). '' when no
    step's does. (A record committed before the state phase refused such steps.)"""
    # by name and by listing: links and the outputs the tests read are the state phase's to
    # look at, as the step is recorded (reading every step's local result here cost 0.8 s at
    # 1000 steps); what the gate writes is looked at again once written (_changed_by_the_gate)
    lines = [
        pocflows_writes_read(ws, sid, status.record.inputs, links=False)
        for sid, status in statuses.items()
        if status.record is not None
    ]
    return "\n".join(line for line in lines if line)


def _poc_results_as_they_stand(ws: Workspace, statuses: dict[str, StepStatus]) -> None:
    """The gate does not pass: the PoC results doc an earlier gate wrote says what the
    records and the plan say now (❌ NOT COMPLETE for a step added or a checklist item
    unticked since, as for a step that failed), not the ✅ of that gate."""
    records = {sid: s.record for sid, s in statuses.items() if s.record is not None}
    with file_lock(ws.state_lock):  # pocflow wrote it, outside its task
        written = write_poc_results_again(ws, records)
        if written is not None:
            note_written(ws.written_elsewhere, written)


def _settled(ws: Workspace) -> tuple[dict[str, StepStatus], str]:
    """Every step's status, after testing again the steps stale only because an output
    their tests read changed since; and why the PoC is not complete ('' when it is). A step
    still stale for that reason reads what other steps' tests write: said so."""
    statuses = compute_status(ws)
    if _test_again_for_outputs(ws, statuses):
        statuses = compute_status(ws)
    problem = incomplete(ws, statuses)
    shared = [sid for sid, status in statuses.items() if status.outputs_changed]
    if problem and shared:
        problem += (
            f"\nstep(s) {', '.join(shared)}: their tests read outputs that tests write "
            "(theirs, or other steps', in the same session), so what they read differs from "
            "run to run: have tests write to a temporary copy (pytest's tmp_path)"
        )
    return statuses, problem


def _test_again_for_outputs(ws: Workspace, statuses: dict[str, StepStatus]) -> list[str]:
    """Run again, in one session, the tests of the steps that are stale only because an
    output their tests read changed since — in this run, by another step's tests in the
    same session, say — and of the steps whose tests read an output that a step depending
    on them rewrote since (freshness.awaiting_suite: their ✅ must hold on the file as it is
    now), and keep what they read (freshness.note_suite_outputs; a failure as the step's:
    freshness.note_failure). The step ids tested."""
    awaiting = set(awaiting_suite(ws))
    stale = [
        sid
        for sid, status in statuses.items()
        if status.outputs_changed or (sid in awaiting and status.is_verified)
    ]
    if not stale:
        return []
    selections = [selection_of(ws, ws.steps[sid]) for sid in stale]
    report_dir = ws.root / ws.session_dir(OUTPUTS_SESSION)
    runner = PytestJsonRunner(ws.settings.test_runner, pocflows=written_by_pocflow(ws))
    results = runner.run(ws.root, selections, report_dir)
    note_suite_outputs(ws, results)
    for sid, result in results.items():
        note_failure(ws, sid, TEST, result)
        if result.outcome != "passed":
            log = f"{ws.session_dir(OUTPUTS_SESSION)}/{PYTEST_LOG}"
            sys.stderr.write(f"pocflow: {result.message}\n  log: {log}\n")
    sys.stderr.write(
        f"pocflow: tested step(s) {', '.join(stale)} again: an output their tests read "
        "changed since they ran\n"
    )
    return stale


def _refresh_state(ws: Workspace, this_poc_complete: bool = True) -> None:
    """PROJECT_STATE.md says what the passing gate found, where the project-state task
    (which runs before the gate) could not: in a project of several PoCs, this PoC's line
    says complete now (``this_poc_complete``: its gate record was written); a step it
    showed not verified — stale only for an output its tests read, which the gate tested
    again — is shown verified. (Hold the state lock.)"""
    seen = rendered_from(ws)  # (the state folder is the project's, whichever PoC's gate)
    if (this_poc_complete and len(ws.settings.pocs) > 1) or (seen and seen.unverified):
        refresh_project_state(ws)  # (the current PoC's, noted as written by pocflow)


def _suite_session(
    ws: Workspace,
) -> tuple[tuple[dict[str, dict[str, int]], float] | None, str]:
    """Every step's tests in one pytest session: (counts per step, seconds), or why not."""
    problem = replay_saying(ws, missing_outputs(ws), " for the outputs their tests may read")
    if problem:
        return None, problem
    selections = [selection_of(ws, step, inputs=False) for step in ws.steps.values()]
    report_dir = ws.root / ws.session_dir(GATE_SESSION)
    runner = PytestJsonRunner(ws.settings.test_runner, pocflows=written_by_pocflow(ws))
    suite = runner.run(ws.root, selections, report_dir)
    note_suite_outputs(ws, suite)
    failed = [r for r in suite.values() if r.outcome != "passed"]
    if failed:
        failed_together_now(ws, [r.step_id for r in failed])
        return None, (
            f"PoC {ws.settings.poc}: every step passed alone, but the full step suite run "
            "as one session failed (tests that depend on each other's state?):\n"
            + "\n".join(r.message for r in failed)
            + f"\nfull log: {ws.session_dir(GATE_SESSION)}/{PYTEST_LOG}"
        )
    return (
        {sid: dict(r.counts) for sid, r in suite.items()},
        max(r.duration_s for r in suite.values()),
    ), ""


def _small_win_check(
    ws: Workspace,
    counts: dict[str, dict[str, int]],
    known: tuple[dict[str, StepStatus], list[Signal]] | None = None,
) -> None:
    """The method's "`/small-win-check` run", from the full suite session the gate stands on:
    its entry in PROJECT_STATE.md's Health Checks (not again when the last one says the
    same). ``known``: the statuses and signals the gate found (see assess)."""
    check = assess(ws, counts, [], known)
    if append_health_check(ws, check, unless_same=True):
        sys.stderr.write(
            f"pocflow: small-win check appended to the Health Checks of "
            f"{ws.settings.state_file}: {STATUSES[check.status]}\n"
        )


def accepted_gate(ws: Workspace) -> GateRecord | None:
    """The committed gate record, if the gate passed on exactly the step records there are
    now, in this environment (and re-verification is not forced); when the suite session is
    wanted, only a record that stands on one."""
    return None if reverify_forced() else gate_holds(ws)


def gate_holds(ws: Workspace) -> GateRecord | None:
    """The committed gate record, if it stands on exactly the step records there are now,
    in this environment (with ``suite_session``, only one that stands on one session)."""
    gate = gate_record_holds(ws)
    suite = suite_session_wanted(ws.settings)
    if (
        gate is None
        or failed_together(ws)  # seen here failing together since: it runs again
        or (not gate.one_session and suite)
        # a step depending on another rewrote a file that one's tests read: the gate tests
        # that one again (with the suite session, as part of every step's tests)
        or awaiting_suite(ws)
        # another PoC's scripts rewrote a file a step's tests read, and its own scripts did
        # not run here (a fresh clone): its record holds, the file is not what it made
        or outputs_written_by_others(ws)
    ):
        return None
    return gate


def stage_problem(current: Workspace) -> tuple[str, list[str]]:
    """Why the stage (every PoC of the project) is not complete: ('', a line per PoC) when
    each PoC's steps hold, its gate passed on exactly their records and its
    pocN-results.md is written."""
    done: list[str] = []
    problems: list[str] = []
    pocs = project_workspaces(current.root)
    for ws in pocs:
        problem = poc_problem(ws)
        if not problem and gate_holds(ws) is None:  # seen failing together, or one session
            problem = gate_not_passed(ws)
        if problem:
            problems.append(problem)
        else:
            done.append(
                f"pocflow: PoC {ws.settings.poc} ({ws.name}) complete: {ws.poc_results_doc}"
            )
    clashes = [
        f"{clash} have one name: pytest run over both folders stops at collection; rename "
        "one (the method's test_step<N>_<description>.py, with another description)"
        for clash in same_named_tests(pocs)
    ]
    if problems or clashes:
        head = (
            f"{len(problems)} of {len(pocs)} PoCs not complete (the way to Stage 6 needs "
            "every one):"
            if problems
            else "every PoC is complete, but their tests cannot run as one suite:"
        )
        return "\n".join([head, *problems, *clashes]), []
    every = f"all {len(pocs)} PoCs" if len(pocs) > 1 else "the project's one PoC"
    return "", [*done, f"pocflow: {every} complete: on to Stage 6 (MVP)"]
