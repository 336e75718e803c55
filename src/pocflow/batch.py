"""Batched test phases: the tests of every step that is ready run in one pytest session.

doit runs `test:<id>` one step at a time. When the first of them runs, this module also
runs, in the same pytest session, the tests of every other step whose implement phase has
already passed on its current inputs and whose tests have not yet run in this doit
invocation; their results wait in the step's run folder, and when doit reaches their test
task it takes them from there — after checking that they were computed in this invocation,
on exactly the files the step has now. Verdicts stay per step: tests are attributed by file.

Batching must not change a verdict. A step whose tests fail in a shared session is run
again alone, and the alone verdict is kept; when it passes alone, the interference (its
tests fail beside another step's) is reported, and the gate's full-suite session fails on
it too. One case cannot be found this way: tests that pass only because another step's
tests ran before them in the session. `test_batch = false` runs every step in a session of
its own.
"""

from __future__ import annotations

import hashlib
import json
import sys

from pocflow._fs import atomic_write_text, file_lock, read_json, sha256_file
from pocflow.fingerprint import fingerprint, still_holds
from pocflow.imports import ImportCache
from pocflow.inputs import not_inputs_of, observed_before, test_inputs_of
from pocflow.layout import (
    BATCH_FILE,
    BATCH_SESSION,
    IMPLEMENT_FILE,
    TEST_FILE,
    TOGETHER_FILE,
)
from pocflow.record import (
    TestResult,
    plain,
    read_implement,
    read_test,
    test_result_from,
)
from pocflow.run import run_token
from pocflow.testing import PytestJsonRunner, TestSelection
from pocflow.workspace import Step, Workspace

#: the last shared session in which every test passed: the gate may stand on it
SESSION_FILE = "session.json"


def tests_for(ws: Workspace, selection: TestSelection, isolation: str, batch: bool) -> TestResult:
    """The step's test result on its current inputs, from a batch or a session of its own."""
    runner = PytestJsonRunner(isolation)
    token = run_token()
    if not batch or not token:
        return runner.run(ws.root, [selection], ws.root / ws.run_dir(selection.step_id))[
            selection.step_id
        ]
    cache = ImportCache.shared(ws.imports_cache, ws.root)
    # under `doit -n`, a worker waits for the batch another is running rather than repeat it
    with file_lock(ws.root / ws.settings.state_dir / "batch.lock"):
        stored = _stored(ws, selection.step_id, token, cache)
        if stored is not None:
            return stored
        return _run_batch(ws, selection, runner, token, cache)


def _run_batch(
    ws: Workspace,
    selection: TestSelection,
    runner: PytestJsonRunner,
    token: str,
    cache: ImportCache,
) -> TestResult:
    group = [selection] + [s for s in _ready(ws, token, cache) if s.step_id != selection.step_id]
    report_dir = ws.root / ws.session_dir(BATCH_SESSION)
    results = runner.run(ws.root, group, report_dir)
    if all(results[s.step_id].outcome == "passed" for s in group):
        atomic_write_text(
            report_dir / SESSION_FILE,
            json.dumps(
                {
                    "token": token,
                    "keys": {s.step_id: _key(ws, s.step_id, cache) for s in group},
                    "counts": {s.step_id: results[s.step_id].counts for s in group},
                    "duration_s": max(r.duration_s for r in results.values()),
                }
            ),
            durable=False,
        )
    if len(group) > 1:
        for member in group:
            if results[member.step_id].outcome == "passed":  # passed beside the others
                ws.run_file(member.step_id, TOGETHER_FILE).unlink(missing_ok=True)
        for failed in [s for s in group if results[s.step_id].outcome != "passed"]:
            alone = runner.run(ws.root, [failed], ws.root / ws.run_dir(failed.step_id))
            result = alone[failed.step_id]
            if result.outcome == "passed":
                others = [s.step_id for s in group if s.step_id != failed.step_id]
                sys.stderr.write(
                    f"pocflow: warning: step {failed.step_id}'s tests pass alone but "
                    f"fail in one session with steps {', '.join(others)} (shared state?); "
                    "poc-complete runs every step's tests in one session, and fails on it\n"
                )
                failed_together_now(ws, [failed.step_id], others, results[failed.step_id].message)
            results[failed.step_id] = result
    for member in group:
        _store(ws, member.step_id, token, _key(ws, member.step_id, cache), results[member.step_id])
    return results[selection.step_id]


def _ready(ws: Workspace, token: str, cache: ImportCache) -> list[TestSelection]:
    """Steps whose implement phase passed on their current inputs and whose tests did not
    run yet in this invocation."""
    ready = []
    for step_id, step in ws.steps.items():
        if not step.tests:
            continue
        implement = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
        if (
            implement is None
            or implement.outcome != "passed"
            or fingerprint(ws.root, list(implement.inputs)) != implement.inputs
        ):
            continue
        stored = read_json(ws.run_file(step_id, BATCH_FILE))
        if stored is not None and stored.get("token") == token:
            continue
        tested = read_test(ws.run_file(step_id, TEST_FILE))
        if (
            tested is not None
            and _key(ws, step_id, cache) == tested.key
            and still_holds(ws.root, tested.inputs)
        ):
            continue  # its tests already passed or failed on exactly these files
        ready.append(selection_of(ws, step, cache, observed=True))
    return ready


def selection_of(
    ws: Workspace,
    step: Step,
    cache: ImportCache | None = None,
    *,
    inputs: bool = True,
    observed: bool = False,
) -> TestSelection:
    """A session's selection of the step's tests: with the inputs its verdict stands on
    (unless the session proves no record), never its outputs as inputs, and with what its
    tests read last time (for a test phase: their bytecode is checked)."""
    return TestSelection(
        step_id=step.step_id,
        files=step.tests,
        inputs=tuple(test_inputs_of(ws, step, cache)) if inputs else (),
        not_inputs=not_inputs_of(ws, step, own_writes=True),
        observed_before=observed_before(ws, step.step_id, "test") if observed else (),
    )


def _key(ws: Workspace, step_id: str, cache: ImportCache) -> str:
    """What a test result of the step stands on: its test inputs, its implement result and
    pytest's settings."""
    step = ws.steps[step_id]
    implement = ws.run_file(step_id, IMPLEMENT_FILE)
    digest = hashlib.sha256(
        json.dumps(
            [
                fingerprint(ws.root, test_inputs_of(ws, step, cache)),
                sha256_file(implement) if implement.is_file() else "",
                ws.settings.pytest_config,
            ],
            sort_keys=True,
            default=str,
        ).encode()
    )
    return digest.hexdigest()


def _stored(ws: Workspace, step_id: str, token: str, cache: ImportCache) -> TestResult | None:
    data = read_json(ws.run_file(step_id, BATCH_FILE))
    if data is None or data.get("token") != token or data.get("key") != _key(ws, step_id, cache):
        return None
    result = test_result_from(data.get("result", {}))
    if result is None or not still_holds(ws.root, {**result.inputs, **result.outputs_read}):
        return None
    return result


def _store(ws: Workspace, step_id: str, token: str, key: str, result: TestResult) -> None:
    path = ws.run_file(step_id, BATCH_FILE)
    data = {"token": token, "key": key, "result": plain(result, local=True)}
    atomic_write_text(path, json.dumps(data), durable=False)


def batch_key(ws: Workspace, step_id: str) -> str:
    """The key of a step's current test inputs (written into test.json)."""
    return _key(ws, step_id, ImportCache.shared(ws.imports_cache, ws.root))


def whole_suite_this_run(ws: Workspace) -> tuple[dict[str, dict[str, int]], float] | None:
    """(counts per step, seconds) of a session in this doit invocation that ran every step's
    tests together, on exactly the current files, and passed; None when there was none."""
    token = run_token()
    data = read_json(ws.root / ws.session_dir(BATCH_SESSION) / SESSION_FILE)
    if not token or data is None or data.get("token") != token:
        return None
    keys = data.get("keys", {})
    wanted = {sid for sid, step in ws.steps.items() if step.tests}
    if set(keys) != wanted:
        return None
    cache = ImportCache.shared(ws.imports_cache, ws.root)
    if any(_key(ws, sid, cache) != key for sid, key in keys.items()):
        return None
    for sid in keys:  # what each step's tests really read is as it was then
        tested = read_test(ws.run_file(sid, TEST_FILE))
        if tested is None or not still_holds(ws.root, tested.inputs):
            return None
    return data.get("counts", {}), float(data.get("duration_s", 0.0))


def failed_together(ws: Workspace) -> list[str]:
    """The steps whose tests passed alone but failed beside other steps' in their latest
    shared session here (cleared when they pass in one)."""
    return [sid for sid in ws.steps if ws.run_file(sid, TOGETHER_FILE).is_file()]


def failed_together_now(
    ws: Workspace, step_ids: list[str], others: list[str] | None = None, message: str = ""
) -> None:
    """These steps' tests failed beside other steps' (``others``; None: every step, in the
    gate's session): until they pass in one session, the gate runs every step's tests
    together whatever its setting and record say."""
    for sid in step_ids:
        atomic_write_text(
            ws.run_file(sid, TOGETHER_FILE),
            json.dumps({"with": "every step" if others is None else others, "message": message}),
            durable=False,
        )


def passed_together(ws: Workspace) -> None:
    """Every step's tests passed in one session: no step fails beside the others now."""
    for sid in ws.steps:
        ws.run_file(sid, TOGETHER_FILE).unlink(missing_ok=True)
