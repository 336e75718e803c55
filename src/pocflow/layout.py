"""The names pocflow gives: the phases of a step and their doit tasks, and the files of a
step's local run folder (``Workspace.run_dir``). Each is defined here once."""

from __future__ import annotations

import re

#: the phases of a step, in order; each is the doit task ``<phase>:<step id>``
IMPLEMENT, TEST, DOCUMENT, STATE = PHASES = ("implement", "test", "document", "state")
#: the phases that run the step's own code: their results stand on fingerprinted inputs
RUN_PHASES = (IMPLEMENT, TEST)
#: the phases that write what the run proved (its results doc, its record)
WRITE_PHASES = (DOCUMENT, STATE)
#: the group task of one step, ``step:<step id>``
STEP_TASK = "step"
#: the task that refreshes PROJECT_STATE.md once per invocation
PROJECT_STATE_TASK = "project-state"
#: the hidden task of ``step:<id>`` that refreshes PROJECT_STATE.md after that step alone
REFRESH_TASK = "_refresh"
#: the gate of the PoC
GATE_TASK = "poc-complete"

# The files of a step's run folder (local, never committed).
#: the implement phase's result (pocflow.record.ImplementResult)
IMPLEMENT_FILE = "implement.json"
#: what the step's scripts produced, for the steps that depend on it: each file they wrote
#: and its fingerprint when they ended (or the record taken); it changes only when that does
PRODUCED_FILE = "produced.json"
#: the step's record as it last stood verified here (its committed bytes): a step that
#: failed and was fixed back to what it proved gets it back, byte for byte
VERIFIED_FILE = "verified.json"
#: every record the step (or the gate) was verified with here, one file per thing proved
#: (named by a digest of its evidence): re-verifying what an earlier record proved — an edit
#: undone — writes that record's bytes back, and no committed byte changes
PROVEN_DIR = "proven"
#: the machine blocks of each generated document as pocflow last wrote them here (in the
#: state folder, one file per document): a line a person adds to a block is told from one
#: pocflow wrote by them, whatever its shape (pocflow.documents.merge)
WRITTEN_BLOCKS_DIR = "blocks"
#: how many of them are kept, the newest
PROVEN_KEPT = 16
#: the test phase's result (pocflow.record.TestResult)
TEST_FILE = "test.json"
#: what the step's tests read of the outputs (TestResult.outputs_read), kept by `doit clean`
#: as it removes the test phase's result: the only copy, and local (a record that still
#: holds is taken, and the tests that read an output changed since must run again)
OUTPUTS_READ_FILE = "outputs-read.json"
#: how long writing the step's results doc took
DOCUMENT_FILE = "document.json"
#: evidence that the step's latest implement or test run here failed
FAILED_FILE = "failed.json"
#: the step's results were taken from its committed record this time
ACCEPTED_FILE = "accepted.json"
#: the result of replaying the step's scripts for their outputs
REPLAY_FILE = "replay.json"
#: which batch session ran the step's tests, and on what inputs
BATCH_FILE = "batch.json"
#: evidence that the step's tests passed alone but failed in one session with other steps'
#: tests (the gate then runs every step's tests in one session, which fails on it)
TOGETHER_FILE = "together.json"
#: the content digests of the implement results the step's scripts ran after: its
#: prerequisites' (``prerequisites``) and, for its tests, its own (``tests``)
RAN_AFTER_FILE = "ran-after.json"
#: in the state folder: the records (every PoC's steps, their ids, their records' bytes)
#: PROJECT_STATE.md was last rendered from, by its task or by a failure outside it
STATE_RENDERED_FROM = "project-state-from.json"
#: the metrics the step's script wrote (POCFLOW_METRICS_FILE)
METRICS_FILE = "metrics.json"
#: the log of the pytest session that ran the step's tests
PYTEST_LOG = "pytest.log"
#: the test files a session selected, one a line
SELECTION_FILE = "selection.txt"

# The folders of the run sessions that are not one step's (``Workspace.session_dir``).
#: the batch session of the ready steps' tests
BATCH_SESSION = "batch"
#: the gate's whole-suite session
GATE_SESSION = GATE_TASK
#: the session of `doit small-win-check`
SMALL_WIN_SESSION = "small-win-check"
#: the gate's session of the steps whose tests read an output that changed since they ran
OUTPUTS_SESSION = "outputs-changed"
#: in the gate's session folder: the outputs each step's tests read in its last passing
#: whole-suite session, and the test result they stand beside (pocflow.freshness)
SUITE_OUTPUTS_FILE = "outputs-read.json"

# The task names of a PoC other than the project's current one carry its name first:
# ``poc1.step:3b``, ``poc1.poc-complete`` (the current PoC keeps ``step:3b``, ``poc-complete``).
#: the gate of the whole stage: every PoC of the project complete
ALL_POCS_TASK = "all-pocs-complete"


def poc_prefix(poc: int | None) -> str:
    """'' for the current PoC (None); 'poc1.' for PoC 1 when it is not the current one."""
    return "" if poc is None else f"poc{poc}."


def poc_number(name: str) -> int | None:
    """N of 'poc<N>' (ASCII digits only), else None: the name of PoC N's table in
    [tool.pocflow] and the head of its task names."""
    match = re.fullmatch(r"poc([0-9]+)", name)
    return int(match.group(1)) if match else None


def split_task(name: str) -> tuple[int | None, str, str]:
    """A task name's PoC (None: the current one), base and step id: 'poc1.test:3b' ->
    (1, 'test', '3b'); 'test:3b' -> (None, 'test', '3b'); 'poc-complete' -> (None,
    'poc-complete', '')."""
    head, dot, rest = name.partition(".")
    poc = poc_number(head) if dot else None
    if poc is not None:
        name = rest
    base, _, step_id = name.partition(":")
    return poc, base, step_id


def split_step(key: str) -> tuple[int | None, str]:
    """A step as the run's summary and `doit pytest` name it: '3b' -> (None, '3b') (the
    current PoC), 'poc1.3b' -> (1, '3b')."""
    head, dot, rest = key.partition(".")
    poc = poc_number(head) if dot else None
    return (None, key) if poc is None else (poc, rest)


def refresh_task(poc: int | None, step_id: str) -> str:
    """The hidden task that refreshes PROJECT_STATE.md after one step: '_refresh:3b' (the
    current PoC), '_refresh:poc1.3b' (another; its name is hidden only with '_' first)."""
    return f"{REFRESH_TASK}:{poc_prefix(poc)}{step_id}"
