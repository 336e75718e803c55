"""The doit actions, one per phase: each runs its phase and converts problems for doit.

A failing implement or test phase records the failure (the step's record says failed and
PROJECT_STATE.md shows it) before doit stops the run. Problems a user can fix in the
workspace (a broken template, say) become ``TaskError`` with one clear line; bugs raise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

from doit.exceptions import TaskError, TaskFailed

from pocflow.errors import PocflowError
from pocflow.gate import check_complete
from pocflow.implement import ImplementSpec, run_implement
from pocflow.results import write_step_results
from pocflow.state import current_record, record_step
from pocflow.testing import TestSelection, run_tests
from pocflow.workspace import load_workspace

#: what a doit python-action returns: nothing on success, else why not
Outcome: TypeAlias = "TaskFailed | TaskError | None"


def implement_phase(spec: ImplementSpec) -> Outcome:
    """Run the step's scripts; on failure record the step as failed."""
    failure = run_implement(spec)
    return _record_failure(spec.root, spec.step_id, failure)


def test_phase(root: str, selection: TestSelection, report_dir: str, result_file: str) -> Outcome:
    """Run the step's tests; on failure record the step as failed."""
    failure = run_tests(root, selection, report_dir, result_file)
    return _record_failure(root, selection.step_id, failure)


def document_phase(root: str, step_id: str) -> Outcome:
    """Render the step's results doc from its record of the run."""
    try:
        ws = load_workspace(Path(root))
        write_step_results(ws, ws.steps[step_id], current_record(ws, step_id))
    except PocflowError as exc:
        return TaskError(str(exc))
    return None


def state_phase(root: str, step_id: str) -> Outcome:
    """Write the step's verification record and refresh PROJECT_STATE.md."""
    try:
        return record_step(root, step_id)
    except PocflowError as exc:
        return TaskError(str(exc))


def gate_phase(root: str) -> Outcome:
    """The poc-complete gate."""
    try:
        return check_complete(root)
    except PocflowError as exc:
        return TaskError(str(exc))


def _record_failure(root: str, step_id: str, failure: TaskFailed | None) -> Outcome:
    if failure is None:
        return None
    try:
        record_step(root, step_id)
    except PocflowError as exc:
        return TaskError(f"{failure.message}\n(and the failure could not be recorded: {exc})")
    return failure
