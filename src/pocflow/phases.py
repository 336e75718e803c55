"""The doit actions, one per phase: each runs its phase and converts problems for doit.

A failing implement or test phase records the failure (the step's record says failed and
PROJECT_STATE.md shows it) before doit stops the run. Problems a user can fix in the
workspace (a broken template, say) become ``TaskError`` with one clear line; bugs raise.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from doit.exceptions import TaskError, TaskFailed
from doit.tools import config_changed

from pocflow._fs import atomic_write_text, file_lock, sha256_file
from pocflow.batch import scripts_running
from pocflow.errors import PocflowError
from pocflow.freshness import Acceptance, acceptance, installed_packages
from pocflow.implement import ImplementSpec, run_implement
from pocflow.layout import (
    DOCUMENT_FILE,
    GATE_TASK,
    IMPLEMENT,
    IMPLEMENT_FILE,
    OUTPUTS_READ_FILE,
    RUN_PHASES,
    TEST,
    TEST_FILE,
)
from pocflow.record import read_step_record, read_test, record_place_problem, write_run_file
from pocflow.run import RunContext
from pocflow.settings import kernel_watched
from pocflow.testing import TestSelection, prestart
from pocflow.workspace import Workspace

# The modules of the later phases are imported by the actions that need them, so that a
# run with nothing to do (doit loads every task first) does not pay for them.

#: what a doit python-action returns: why it failed, or on success the values doit saves
#: (the sha256 of the file it wrote, which `written_unchanged` compares on the next run)
Outcome: TypeAlias = "TaskFailed | TaskError | dict[str, Any] | None"


def implement_phase(spec: ImplementSpec, isolation: str = "auto") -> Outcome:
    """Accept the step's record if it still holds; else run the step's scripts (after
    replaying the upstream scripts whose outputs are missing); on failure record it failed."""
    run = _acting(spec.root)
    from pocflow.fingerprint import fingerprint
    from pocflow.freshness import (
        clear_failure,
        foreign_outputs,
        note_ran_after,
        scripts_ran_since,
        sharing_prerequisites,
        undeclared_reads,
    )
    from pocflow.inputs import not_inputs_of, observed_before, written_by_pocflow
    from pocflow.reuse import (
        accept,
        forget_acceptance,
        outputs_of,
        outputs_rewritten_by_others,
        replay,
        replay_saying,
        upstream_of,
    )

    try:
        ws = run.workspace(spec.poc)
        problem = record_place_problem(ws.root, ws.record_path(spec.step_id))
        if problem:  # found before the scripts and tests run, not after
            return TaskError(problem)
        task = ws.task(IMPLEMENT, spec.step_id)
        record = run.take(task, lambda: judged(run, ws, task, spec.step_id)).record
        if record is not None:
            # (asked before its record is taken: taking it writes its run files)
            replayed_since = scripts_ran_since(ws, ws.steps[spec.step_id])
            accept(ws, record)
            clear_failure(ws, spec.step_id)
            if replayed_since:
                # a prerequisite whose file its scripts extend was replayed since (a fresh
                # clone where a sibling changed): they add their part again, in plan order
                problem = replay_saying(
                    ws,
                    [spec.step_id],
                    ": a prerequisite's replay had written its outputs anew",
                    anew=True,
                )
                if problem:
                    return TaskFailed(problem)
            note_ran_after(ws, spec.step_id, IMPLEMENT, TEST)
            # and its outputs as taken (as runs here left them, or not there): one that
            # appears or changes after this, not as a run here leaves it, has the record
            # judged again (phase_current)
            return {
                **_stands_on(ws.root / spec.result_file),
                "found": held_inputs(fingerprint(ws.root, outputs_of(ws, spec.step_id))),
            }
        forget_acceptance(ws, spec.step_id)
        prestart(isolation)  # the test phase's pytest warms up while the scripts run
        replayed, problem = ([], "") if spec.manual else replay(ws, upstream_of(ws, spec.step_id))
        if replayed and not problem:
            # what the replay wrote anew without the parts of steps the plan runs before
            # this one (siblings extending the same file, their records taken): added again,
            # so that its scripts run on the file as plan order leaves it, as they did when
            # verified
            order = list(ws.steps)
            before = [
                sid
                for sid in outputs_rewritten_by_others(ws)
                if order.index(sid) < order.index(spec.step_id)
            ]
            if before:
                more, problem = replay(ws, before, anew=True)
                replayed += more
        committed = read_step_record(ws.root / ws.record_path(spec.step_id))
        spec = replace(
            spec,
            not_inputs=not_inputs_of(ws, ws.steps[spec.step_id]),
            pocflows=tuple(written_by_pocflow(ws)),
            observed_before=observed_before(ws, spec.step_id, IMPLEMENT),
            foreign=tuple(foreign_outputs(ws, spec.step_id, committed) if committed else ()),
        )
    except PocflowError as exc:
        return TaskError(str(exc))
    with scripts_running(ws):
        result = run_implement(spec, replayed, problem)
    note_ran_after(ws, spec.step_id, IMPLEMENT)
    # a file of a step the plan does not say it depends on: passed, a warning (a fresh clone
    # takes that step's record and has no such file); failed, the likely why
    undeclared = undeclared_reads(ws, spec.step_id, result, run.writers)
    if undeclared and result.outcome == "passed":
        sys.stderr.write(f"pocflow: warning: {undeclared}\n")
    elif undeclared:
        result = replace(result, message=f"{result.message}\n{undeclared}")
    # a prerequisite writing a file its scripts extended: any run of its scripts (even to
    # the same outputs) writes the file anew, and this step's scripts run again
    results_of = [
        f"{ws.run_dir(dep)}/{IMPLEMENT_FILE}"
        for dep in sharing_prerequisites(ws, ws.steps[spec.step_id])
    ]
    return _record_failure(ws, spec.step_id, result.message, IMPLEMENT) or {
        **_stands_on(Path(spec.root) / spec.result_file),
        "after": held_inputs(fingerprint(ws.root, results_of)),
    }


def test_phase(
    root: str,
    selection: TestSelection,
    result_file: str,
    isolation: str = "auto",
    batch: bool = True,
    poc: int | None = None,
) -> Outcome:
    """Run (or take from this run's batch) the step's tests; on failure record it failed."""
    run = _acting(root)
    from pocflow.batch import batch_key, tests_for
    from pocflow.freshness import (
        FileWriters,
        ScriptMade,
        left_by_tests_here,
        note_ran_after,
        tests_made,
    )
    from pocflow.inputs import not_inputs_of, observed_before
    from pocflow.reuse import keeping_outputs_read, replay_saying, was_accepted

    ws = run.workspace(poc)
    task = ws.task(TEST, selection.step_id)
    record = run.take(task, lambda: judged(run, ws, task, selection.step_id, TEST)).record
    if record is not None and record.test is not None:  # its record still holds
        taken = keeping_outputs_read(ws.root, ws.root / result_file, record.test)
        write_run_file(ws.root / result_file, taken, unless_held=True)  # the implement phase's
        note_ran_after(ws, selection.step_id, TEST)
        return {
            "inputs": held_inputs(taken.inputs),
            "outputs": held_inputs(taken.outputs_read),
            **_ran_here(),
        }
    if was_accepted(ws, selection.step_id):
        # its scripts' record was taken, its tests' is not (a prerequisite it shares a file
        # with was replayed since, say): its tests run on what its scripts make, not on
        # what is there without them
        problem = replay_saying(ws, [selection.step_id], " before its tests run")
        if problem:  # (its scripts fail where their record says they passed)
            return TaskFailed(problem)
    selection = replace(
        selection,
        not_inputs=not_inputs_of(ws, ws.steps[selection.step_id], own_writes=True),
        observed_before=observed_before(ws, selection.step_id, TEST),
    )
    result = tests_for(ws, selection, isolation, batch)
    result.key = batch_key(ws, selection.step_id)
    if result.outputs_read:  # what its tests read as other tests had made it, for its record
        made = run.made.setdefault(ws.poc, ScriptMade()).of(ws)
        result.reads_test_made = tests_made(ws, result, made)
    write_run_file(ws.root / result_file, result)
    note_ran_after(ws, selection.step_id, TEST)
    message = result.message if result.outcome != "passed" else ""
    if not message and result.reads_outputs:  # passes here; would it in a fresh clone?
        orphans = left_by_tests_here(
            ws, selection.step_id, result, run.writers.setdefault(ws.poc, FileWriters())
        )
        if orphans:
            sys.stderr.write(f"pocflow: warning: {orphans}\n")
    # and the outputs its tests read, as they read them (local, like doit's state)
    return _record_failure(ws, selection.step_id, message, TEST) or {
        "inputs": held_inputs(result.inputs),
        "outputs": held_inputs(result.outputs_read),
        **_ran_here(),
    }


def document_phase(root: str, step_id: str, poc: int | None = None) -> Outcome:
    """Render the step's results doc from its record of the run."""
    run = _acting(root)
    from pocflow.render import write_step_results
    from pocflow.reuse import was_accepted
    from pocflow.verdict import current_record

    start = time.monotonic()
    try:
        ws = run.workspace(poc)
        record = current_record(ws, step_id)
        # doit holds the phases as done, and one's result cannot be read
        unreadable = (
            IMPLEMENT_FILE if record.implement is None else TEST_FILE if record.test is None else ""
        )
        if unreadable:
            ws.run_file(step_id, unreadable).unlink(missing_ok=True)
            return TaskError(
                f"step {step_id}: {ws.run_dir(step_id)}/{unreadable} could not be read "
                "(written by another version of pocflow, or edited?); removed: run the same "
                "command again and the step is verified anew"
            )
        write_step_results(ws, ws.steps[step_id], record)
    except PocflowError as exc:
        return TaskError(str(exc))
    if not was_accepted(ws, step_id):  # a record taken keeps the durations it has
        write_run_file(
            ws.run_file(step_id, DOCUMENT_FILE),
            {"duration_s": round(time.monotonic() - start, 3)},
        )
    return _written(ws.root / ws.results_doc(step_id))


def state_phase(root: str, step_id: str, poc: int | None = None) -> Outcome:
    """Write the step's verification record."""
    run = _acting(root)
    from pocflow.verdict import record_step

    try:
        ws = run.workspace(poc)
        record = record_step(ws, step_id, refresh=False)
    except PocflowError as exc:
        return TaskError(str(exc))
    if not record.is_verified:
        return TaskFailed(record.message)
    return _written(ws.root / ws.record_path(step_id))


def project_state_phase(root: str) -> Outcome:
    """Refresh PROJECT_STATE.md from every step's record."""
    run = _acting(root)
    from pocflow.render import refresh_project_state

    try:
        ws = run.workspace()
        with file_lock(ws.state_lock):
            records = refresh_project_state(ws)
    except PocflowError as exc:
        return TaskError(str(exc))
    return {**_written(ws.root / ws.settings.state_file), "records": records}


Check = TypeVar("Check", bound=Callable[..., Any])


def signed(check: Check) -> Check:
    """An uptodate check whose signature is worked out once. doit reads each check's
    signature on every status check of every task (to pass ``task`` and ``values``):
    6,000 ``inspect.signature`` calls in a no-op at 1000 steps, now attribute reads."""
    setattr(check, "__signature__", inspect.signature(check))  # noqa: B010
    return check


class settings_unchanged(config_changed):  # type: ignore[misc]
    """doit's ``config_changed``, with its signature and its digest worked out once (see
    ``signed``): doit's own encodes the settings as JSON and hashes them on every check, and
    a task's settings are fixed when its dict is made (4,000 checks in a no-op at 1000
    steps)."""

    __signature__ = inspect.signature(lambda task, values: None)

    _digest: str | None = None

    def _calc_digest(self) -> str:
        if self._digest is None:
            self._digest = super()._calc_digest()
        return self._digest


@signed
def records_unchanged(task: Any, values: dict[str, Any], root: str, whole: bool = False) -> bool:
    """doit uptodate check: no verification record changed (and no step came or went)
    since PROJECT_STATE.md was last rendered from them, by this task or by pocflow outside
    it (another step's refresh, a failed phase, the gate: pocflow.render.rendered_from);
    with ``whole``, and that rendering showed every step verified, as this task, run once
    every step passed, renders it. (A step removed after its failure had its row kept for
    good when only the task's own rendering counted; a step's refresh that showed the steps
    depending on it stale was taken for the project-state task's.)"""
    from pocflow.record import project_records_digest
    from pocflow.render import rendered_from

    run = RunContext.of(root)
    now = project_records_digest(run.workspaces())
    seen = rendered_from(run.workspace())
    if seen is None:  # not known: what this task rendered last
        return values.get("records") == now
    return seen.records == now and not (whole and seen.unverified)


def gate_phase(root: str, poc: int | None = None) -> Outcome:
    """The poc-complete gate."""
    from pocflow.gate import accepted_gate, check_complete

    run = RunContext.of(root)
    try:
        ws = run.workspace(poc)
        problem = check_complete(ws, run.take(ws.task(GATE_TASK), lambda: accepted_gate(ws)))
    except PocflowError as exc:
        return TaskError(str(exc))
    if problem:
        return TaskFailed(problem)
    run.gate_checked = run.gate_checked or poc is None
    from pocflow.record import records_digest

    return {**_written(ws.root / ws.poc_results_doc), "records": records_digest(ws)}


def all_pocs_phase(root: str) -> Outcome:
    """The gate of the stage: every PoC of the project complete (each one's gate ran before
    this, or was up to date); says so, PoC by PoC."""
    from pocflow.gate import stage_problem

    try:
        problem, lines = stage_problem(RunContext.of(root).workspace())
    except PocflowError as exc:
        return TaskError(str(exc))
    if problem:
        return TaskFailed(problem)
    sys.stdout.write("\n".join(lines) + "\n")
    return None


class phase_current(settings_unchanged):
    """doit uptodate check of an implement or test task: its settings are the ones it last
    ran with (doit's ``config_changed``), and every input its last result stands on — what
    the static scan found and what the run really read — still has the fingerprint it had
    then. (The action hands the fingerprints to doit, which keeps them with the task's
    values: no file is read. One check, not two: doit inspects each one's signature.)"""

    def __init__(
        self, config: dict[str, Any], root: str, step_id: str, phase: str, poc: int | None = None
    ) -> None:
        super().__init__(config)
        self.root, self.step_id, self.phase, self.poc = root, step_id, phase, poc

    def __call__(self, task: Any, values: dict[str, Any]) -> bool:
        from pocflow.fingerprint import still_holds_now

        inputs = values.get("inputs")
        current = (
            bool(super().__call__(task, values))
            and self._same_installation(task, values)
            and isinstance(inputs, dict)
            and still_holds_now(Path(self.root), inputs)
            and not self._failed_here()
            and not _watched_less(values)
            and not self._outputs_changed(values.get("outputs"))
            and still_holds_now(Path(self.root), values.get("after") or {})
            and self._outputs_as_taken(values.get("found"))
        )
        if current:
            RunContext.of(self.root).current.add((self.poc, self.step_id, self.phase))
        return current

    def _same_installation(self, task: Any, values: dict[str, Any]) -> bool:
        """Whether what is installed is what the phase last ran with here; when not, its
        action runs it again rather than take the step's record (see ``judged``)."""
        if not installed_anew(values):
            return True
        RunContext.of(self.root).installed_anew.add(task.name)
        return False

    def _outputs_as_taken(self, found: Any) -> bool:
        """Whether the outputs of a step whose record was taken are as they were then, or
        as a run here left them since (a replay for another step's scripts)."""
        from pocflow.fingerprint import NO_CONTENT, digest_of, held_digest, still_holds_now

        if not found or still_holds_now(Path(self.root), found):
            return True
        from pocflow.freshness import not_as_left

        root = Path(self.root)
        moved = {
            path: now
            for path, then in found.items()
            if (now := digest_of(root, path)) not in NO_CONTENT and held_digest(now) != then
        }
        return not not_as_left(RunContext.of(self.root).workspace(self.poc), moved)

    def _failed_here(self) -> bool:
        """Whether a run here saw this phase of the step fail since doit saved its success
        (a small-win check's session): the phase runs again rather than stand on it."""
        from pocflow.freshness import failure_evidence

        evidence = failure_evidence(RunContext.of(self.root).workspace(self.poc), self.step_id)
        return evidence is not None and evidence.get("phase") == self.phase

    def _outputs_changed(self, outputs: Any) -> bool:
        """Whether an output the tests (or the scripts) read changed since (a quick look at
        the fingerprints doit keeps; when one differs, pocflow.freshness decides)."""
        from pocflow.fingerprint import still_holds_now

        if not outputs or still_holds_now(Path(self.root), outputs):
            return False
        from pocflow.freshness import output_changes, script_outputs_changed

        run = RunContext.of(self.root)
        if self.phase == IMPLEMENT:  # outputs of other steps the scripts read
            return bool(script_outputs_changed(run.workspace(self.poc), self.step_id))
        changed, later = output_changes(run.workspace(self.poc), self.step_id)
        if later:  # rewritten by a step depending on this one: the gate checks it
            run.awaiting_suite = True
        return bool(changed)

    def why(self, task: Any, values: dict[str, Any]) -> tuple[str, list[str]]:
        """Why the check failed: (what of its settings and environment changed, '' if
        nothing; the inputs whose fingerprint did)."""
        from pocflow.fingerprint import digest_of, held_digest

        def differing(held: Any) -> list[str]:
            if not isinstance(held, dict):
                return []
            root = Path(self.root)
            return [k for k, d in sorted(held.items()) if held_digest(digest_of(root, k)) != d]

        settings = (
            "settings or environment changed"
            if not super().__call__(task, values)
            else "the installed packages changed since it last ran here"
            if installed_anew(values)
            else "it last ran here without the kernel's watch"
            if _watched_less(values)
            else ""
        )
        changed = differing(values.get("inputs")) + differing(values.get("after"))
        if not self._outputs_as_taken(values.get("found")):  # its record taken over them
            changed += differing(values.get("found"))
        outputs = values.get("outputs")
        if isinstance(outputs, dict) and self._outputs_changed(outputs):
            changed += differing(outputs)  # digests cached by stamp: nothing hashed again
        return settings, changed


def installed_anew(values: dict[str, Any]) -> bool:
    """Whether what is installed (pocflow.freshness.installed_packages) differs from what a
    phase last ran with here, as doit keeps it with the task's values (none kept: no)."""
    held = values.get("packages")
    return held is not None and held != installed_packages()


def judged(
    run: RunContext, ws: Workspace, task: str, step_id: str, phase: str = IMPLEMENT
) -> Acceptance:
    """Whether a step's task takes its committed record in this run: the record's own
    judgement, except where what is installed changed since the phase last ran here (a
    record names the lock file, not what a machine installed beside it)."""
    return acceptance(ws, step_id, phase=phase, installed_anew=task in run.installed_anew)


def values_only() -> None:
    """The last action of the implement and test tasks. doit keeps the dict a python-action
    returns twice — as the task's values and as its result — and reads both on every run;
    the result of the task's last action is what doit keeps as its result, and this one has
    none. (pocflow uses the values: the fingerprints the phase stands on.)"""


def clean_test_result(path: str) -> None:
    """`doit clean` of a step's test task: remove its local result, keeping what its tests
    read of the outputs (outputs_read_here): the next run may take the step's record, and
    an output changed since must still have those tests run again."""
    result = Path(path)
    local = read_test(result)
    if local is not None and local.outputs_read:
        atomic_write_text(
            result.with_name(OUTPUTS_READ_FILE), json.dumps(local.outputs_read), durable=False
        )
    result.unlink(missing_ok=True)


def held_inputs(inputs: dict[str, str]) -> dict[str, str]:
    """A result's input fingerprints as doit keeps them for the phase's up-to-date check:
    sha256 digests cut to their first 64 bits (pocflow.fingerprint.held_digest). doit reads
    every task's saved values on every run; full digests made three quarters of them."""
    from pocflow.fingerprint import held_digest

    return {key: held_digest(digest) for key, digest in inputs.items()}


def _stands_on(result_file: Path) -> dict[str, Any]:
    """What doit keeps of a passed phase: the fingerprints its result stands on."""
    from pocflow._fs import read_json

    result = read_json(result_file)
    inputs = result.get("inputs") if result is not None else None
    outputs = result.get("outputs_read") if result is not None else None
    return {
        "inputs": held_inputs(inputs) if isinstance(inputs, dict) else {},
        "outputs": held_inputs(outputs) if isinstance(outputs, dict) else {},
        **_ran_here(),
    }


def _ran_here() -> dict[str, Any]:
    """What doit keeps of how a phase ran here: what was installed (local), and whether the
    kernel's watch was on (off under `doit -n`: a phase that ran without it is not current
    in a run with it, which sees more of what programs read)."""
    return {"packages": installed_packages(), "watched": kernel_watched()}


def _watched_less(values: dict[str, Any]) -> bool:
    """Whether the phase last ran here without the kernel's watch, which is on now."""
    return values.get("watched") is False and kernel_watched()


@signed
def records_hold(task: Any, values: dict[str, Any], root: str, poc: int | None = None) -> bool:
    """doit uptodate check of the gate: every step's record says verified and still holds on
    the files as they are now. Whatever doit ran or skipped before (``-s``, ``ignore``, an
    interrupted run), a gate over a step that no longer holds runs, and fails."""
    from pocflow.fingerprint import nothing_ran
    from pocflow.record import records_digest

    run = RunContext.of(root)
    ws = run.workspace(poc)
    if values.get("records") != records_digest(ws):
        return False  # a record changed since the gate last passed: it runs (and checks) anyway
    if (
        not run.acted
        and not run.awaiting_suite
        and nothing_ran()
        and all(
            (poc, sid, phase) in run.current
            for sid, step in ws.steps.items()
            for phase in RUN_PHASES
            if step.has_files
        )
        and all(step.has_files for step in ws.steps.values())
    ):
        # a run in which nothing ran (no pocflow phase, no task of the user's own dodo): doit
        # found every step's phases current a moment ago, each on the fingerprints of all it
        # stands on, so every record holds as it was
        run.gate_checked = run.gate_checked or poc is None
        return True
    from pocflow.status import compute_status

    statuses = compute_status(ws)
    holds = all(status.is_verified for status in statuses.values()) and not _awaits_suite(ws)
    run.gate_checked = run.gate_checked or (holds and poc is None)
    return holds


def _awaits_suite(ws: Workspace) -> bool:
    """Whether the gate must test again the steps whose tests read an output that a step
    depending on them rewrote since (pocflow.freshness.output_changes)."""
    from pocflow.freshness import awaiting_suite

    return bool(awaiting_suite(ws))


@signed
def health_checked(task: Any, values: dict[str, Any], root: str, poc: int | None = None) -> bool:
    """doit uptodate check of the gate: PROJECT_STATE.md holds a small-win check (the method's
    last checkpoint); when none is there the gate runs, and adds one from its suite's run."""
    from pocflow.healthcheck import has_health_check

    return has_health_check(RunContext.of(root).workspace(poc))


def _acting(root: str) -> RunContext:
    """The run of the workspace at root, in which a phase action now runs."""
    run = RunContext.of(root)
    run.acted = True
    return run


@signed
def written_unchanged(task: Any, values: dict[str, Any], path: str, noted: str = "") -> bool:
    """doit uptodate check: the file is as the task last wrote it (nobody edited or reverted
    it), or as pocflow wrote it since outside the task (``noted``: the registry of
    pocflow.documents.note_written). Any other change, even to a person's own sections,
    re-runs the task, which merges its machine blocks back and keeps the rest."""
    from pocflow.fingerprint import NO_CONTENT, file_digest

    digest = file_digest(path)  # its content's sha256, hashed again only if it was touched
    if digest in NO_CONTENT:
        return False
    if values.get("sha256") == digest:
        return True
    if noted:
        from pocflow.documents import noted_digests

        return noted_digests(Path(noted)).get(path) == digest
    return False


def _written(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path)}


def _record_failure(ws: Workspace, step_id: str, message: str, phase: str) -> Outcome:
    """Record the phase's outcome: on failure (``message`` says why), the step's record and
    the local evidence, and fail the task."""
    from pocflow.freshness import clear_failure, note_failure
    from pocflow.verdict import record_step

    if not message:
        clear_failure(ws, step_id)
        return None
    try:
        note_failure(ws, step_id, phase)
        record = record_step(ws, step_id, refresh=False)
        from pocflow.documents import note_written
        from pocflow.render import refresh_project_state, write_failed_documents

        with file_lock(ws.state_lock):  # pocflow wrote them, outside their tasks
            written = write_failed_documents(ws, ws.steps[step_id], record)
            refresh_project_state(ws)  # after the results doc, which its row links (noted)
            note_written(ws.written_elsewhere, ws.root / ws.record_path(step_id), *written)
    except PocflowError as exc:
        return TaskError(f"{message}\n(and the failure could not be recorded: {exc})")
    return TaskFailed(message)
