"""Batched test phases: the tests of every step that is ready run in one pytest session.

doit runs `test:<id>` one step at a time. When the first of them runs, this module also
runs, in the same pytest session, the tests of every other step whose implement phase has
already passed on its current inputs and whose tests have not yet run in this doit
invocation; their results wait in the step's run folder, and when doit reaches their test
task it takes them from there — after checking that they were computed in this invocation,
on exactly the files the step has now. Verdicts stay per step: tests are attributed by file.

Batching must not change a verdict. A step whose tests fail in a shared session is run
again alone, and the alone verdict is kept; when it passes alone, the interference (its
tests fail beside another step's) is reported, the gate's full-suite session fails on it
too, and the steps that passed in that session run alone as well (a session fixture whose
teardown fails is reported on the session's last test, whichever step's it is). One case
cannot be found this way: tests that pass only because another step's tests ran before them
in the session. `test_batch = false` runs every step in a session of its own.
"""

from __future__ import annotations

import hashlib
import json
import sys
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path

from pocflow._fs import atomic_write_text, file_lock, read_json, sha256_file
from pocflow.fingerprint import fingerprint, looking_once, still_holds
from pocflow.imports import ImportCache
from pocflow.inputs import not_inputs_of, observed_before, test_inputs_of, written_by_pocflow
from pocflow.layout import (
    BATCH_FILE,
    BATCH_SESSION,
    IMPLEMENT_FILE,
    PYTEST_LOG,
    SELECTION_FILE,
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
from pocflow.settings import run_workers, suite_session_wanted
from pocflow.testing import PytestJsonRunner, TestSelection
from pocflow.workspace import Step, Workspace

#: the last shared session in which every test passed: the gate may stand on it
SESSION_FILE = "session.json"
#: under `doit -n`, the ready steps' tests are shared among the workers' sessions only when
#: each session gets this many steps: fewer do not pay for a session's start
SHARE_AT_LEAST = 4
#: which session of this invocation is running which step's tests (in the state folder)
CLAIMS_FILE = "batch-claims.json"


def tests_for(ws: Workspace, selection: TestSelection, isolation: str, batch: bool) -> TestResult:
    """The step's test result on its current inputs, from a batch or a session of its own."""
    # under `doit -n`, other workers' sessions may run beside this one
    runner = PytestJsonRunner(isolation, run_workers() > 1, written_by_pocflow(ws))
    token = run_token()
    sid = selection.step_id
    if not batch or not token:
        alone = runner.run(ws.root, [selection], ws.root / ws.run_dir(sid))[sid]
        return confirmed(ws, runner, selection, alone)
    cache = ImportCache.shared(ws.imports_cache, ws.root)
    shared = ws.root / ws.settings.state_dir / "batch.lock"
    if run_workers() > 1:  # the scripts other workers are running first: more steps ready
        with file_lock(_scripts_lock(ws)):
            pass
    with ExitStack() as running:
        with file_lock(shared):
            stored = _stored(ws, sid, token, cache)
            if stored is not None:
                return stored
            holder = _claims(ws, token).get(sid)
            # under `doit -n`, a worker reaching a step another worker's session holds runs
            # the ready steps no session holds meanwhile, then takes that step's result
            group, session = _take_share(ws, None if holder else selection, token, cache)
            if group:  # its lock before the shared one is let go: see the waiting below
                running.enter_context(file_lock(_session_lock(ws, session)))
        if group:
            try:
                results = _run_batch(ws, group, session, runner, token, cache)
            finally:
                with file_lock(shared):
                    _release(ws, session, token)
            if holder is None:
                return results[sid]
    assert holder is not None
    with file_lock(_session_lock(ws, holder)):  # that session has ended
        pass
    with file_lock(shared):
        stored = _stored(ws, sid, token, cache)
    if stored is not None:
        return stored
    # that session kept no result for it (interrupted, or the step's files changed since)
    alone = runner.run(ws.root, [selection], ws.root / ws.run_dir(sid))[sid]
    return confirmed(ws, runner, selection, alone)


def confirmed(
    ws: Workspace, runner: PytestJsonRunner, selection: TestSelection, result: TestResult
) -> TestResult:
    """A step's passing result, or — when its tests changed an output after reading it
    (TestResult.rewrote_read: they passed on it as it was, and a plain pytest right after
    reads it as they left it) — the result of its tests run once more, alone, on the
    outputs as they are now: tests that changed it once (a table made when missing) pass
    there and leave it as they read it. Tests that change it whenever they run are proved
    by no run on the file as it is (a count that allows two more rows passes twice): the
    step fails, and says to have them write to a copy."""
    if result.outcome != "passed" or not result.rewrote_read:
        return result
    sid = selection.step_id
    again = runner.run(ws.root, [selection], ws.root / ws.run_dir(sid))[sid]
    return told_why(again, result.rewrote_read)


def told_why(result: TestResult, rewrote: list[str]) -> TestResult:
    """A result of tests run again on outputs they had changed after reading them: when it
    failed, or changed them again, it fails and says why and what to do."""
    if not rewrote:
        return result
    if result.outcome == "passed" and not result.rewrote_read:
        return result
    files = ", ".join(rewrote)
    them = "it" if len(rewrote) == 1 else "them"
    if result.outcome == "passed":
        result.outcome = "failed"
        result.message = (
            f"step {result.step_id}: its tests change {files} whenever they run, after "
            f"reading {them}: no run of theirs proves them on {them} as {them} now "
            f"{'is' if len(rewrote) == 1 else 'are'}"
        )
    else:
        result.message += (
            f"\n    its tests changed {files} after reading {them}, and fail when run again "
            f"on {them} as they left {them}"
        )
    result.message += "; have them write to a copy (pytest's tmp_path), not to the output"
    return result


def scripts_running(ws: Workspace) -> AbstractContextManager[None]:
    """Held while a step's scripts run under `doit -n`: a test phase starting meanwhile
    waits for them, and its batch then holds those steps' tests too (doit hands out the
    test phases while the last scripts still run)."""
    return file_lock(_scripts_lock(ws), shared=True) if run_workers() > 1 else nullcontext()


def _scripts_lock(ws: Workspace) -> Path:
    return ws.root / ws.settings.state_dir / "scripts.lock"


def _take_share(
    ws: Workspace, selection: TestSelection | None, token: str, cache: ImportCache
) -> tuple[list[TestSelection], str]:
    """The steps whose tests a new batch runs — this one (if given) and the other ready
    steps no running batch holds; under `doit -n N`, a share of them, so that the workers'
    sessions run side by side — and the session it runs them in, noted as theirs
    (CLAIMS_FILE). Not shared when the gate wants one session of every step's tests
    (suite_session)."""
    claims = _claims(ws, token)
    own = [selection] if selection is not None else []
    others = [
        s
        for s in _ready(ws, token, cache)
        if s.step_id not in claims and all(s.step_id != o.step_id for o in own)
    ]
    running = set(claims.values())
    free = run_workers() - len(running)
    if (
        free > 1
        and len(own + others) >= free * SHARE_AT_LEAST
        and not suite_session_wanted(ws.settings)
    ):
        # doit hands the next steps to the other workers: leave every free-th to them
        size = -(-len(own + others) // free) - len(own)
        others = others[free - 1 :: free][:size]
    group = own + others
    session = next(
        name
        for name in (BATCH_SESSION, *(f"{BATCH_SESSION}-{n}" for n in range(2, len(running) + 2)))
        if name not in running
    )
    if group:
        claims.update({s.step_id: session for s in group})
        _write_claims(ws, token, claims)
    return group, session


def _claims(ws: Workspace, token: str) -> dict[str, str]:
    """step id -> the session of this invocation that is running its tests."""
    data = read_json(ws.root / ws.settings.state_dir / CLAIMS_FILE)
    if data is None or data.get("token") != token or not isinstance(data.get("claims"), dict):
        return {}
    return {str(k): str(v) for k, v in data["claims"].items()}


def _write_claims(ws: Workspace, token: str, claims: dict[str, str]) -> None:
    atomic_write_text(
        ws.root / ws.settings.state_dir / CLAIMS_FILE,
        json.dumps({"token": token, "claims": claims}),
        durable=False,
    )


def _release(ws: Workspace, session: str, token: str) -> None:
    """The session ended: its steps are no longer held (their results are stored, or not)."""
    claims = _claims(ws, token)
    _write_claims(ws, token, {k: v for k, v in claims.items() if v != session})


def _session_lock(ws: Workspace, session: str) -> Path:
    return ws.root / ws.session_dir(session) / "running.lock"


def shared_log(ws: Workspace, step_id: str) -> Path | None:
    """The pytest log of the latest shared session that ran the step's tests (under
    `doit -n`, the workers' sessions run side by side, each in a folder of its own)."""
    first = ws.root / ws.session_dir(BATCH_SESSION)
    wanted = set(ws.steps[step_id].tests)
    logs = []
    for folder in first.parent.glob(f"{BATCH_SESSION}*"):
        if folder.name != BATCH_SESSION and not folder.name.startswith(f"{BATCH_SESSION}-"):
            continue
        log = folder / PYTEST_LOG
        try:
            listed = (folder / SELECTION_FILE).read_text(encoding="utf-8").split()
            written = log.stat().st_mtime_ns
        except OSError:
            continue
        if wanted.intersection(listed):
            logs.append((written, log))
    return max(logs)[1] if logs else None


def _run_batch(
    ws: Workspace,
    group: list[TestSelection],
    session: str,
    runner: PytestJsonRunner,
    token: str,
    cache: ImportCache,
) -> dict[str, TestResult]:
    """Run the group's tests in one session (a step failing there again alone), keep each
    step's result for its test phase: every result."""
    report_dir = ws.root / ws.session_dir(session)
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
        passed = [s for s in group if results[s.step_id].outcome == "passed"]
        for member in passed:  # passed beside the others
            ws.run_file(member.step_id, TOGETHER_FILE).unlink(missing_ok=True)
        interfered = False
        for failed in [s for s in group if results[s.step_id].outcome != "passed"]:
            alone = runner.run(ws.root, [failed], ws.root / ws.run_dir(failed.step_id))
            result = alone[failed.step_id]
            # a teardown that failed there may be another step's fixture's (see below)
            interfered |= results[failed.step_id].teardowns_failed > result.teardowns_failed
            if result.outcome == "passed" and results[failed.step_id].stopped_before:
                others = [s.step_id for s in group if s.step_id != failed.step_id]
                steps = f"step{'s' * (len(others) > 1)} {', '.join(others)}"
                sys.stderr.write(
                    f"pocflow: step {failed.step_id}'s tests did not run in the session shared "
                    f"with {steps}: pytest stopped it first "
                    f"({results[failed.step_id].stopped_before}); they ran alone\n"
                )
            elif result.outcome == "passed":
                interfered = True
                others = [s.step_id for s in group if s.step_id != failed.step_id]
                sys.stderr.write(
                    f"pocflow: warning: step {failed.step_id}'s tests pass alone but "
                    f"fail in one session with steps {', '.join(others)} (shared state?); "
                    "poc-complete runs every step's tests in one session, and fails on it\n"
                )
                failed_together_now(ws, [failed.step_id], others, results[failed.step_id].message)
            results[failed.step_id] = result
        # what failed there came from another step's tests (a fixture they share torn down
        # at the session's end, its error reported on the last test, even one that fails
        # anyway; state left behind): which one is not known, so the steps that passed
        # there run alone too. So does a step whose tests read a variable another step's
        # tests set there (it may pass only after them), and every step of a session whose
        # exit status was judged over all its tests (coverage's fail-under: met together,
        # it may not be by one step's tests, as plain `pytest <its file>` runs them)
        for member in passed:
            first = results[member.step_id]
            if interfered or first.read_others_env or first.judged_as_a_whole:
                alone = runner.run(ws.root, [member], ws.root / ws.run_dir(member.step_id))
                # on the outputs as the session left them: the run again of tests that
                # changed one they read (see confirmed)
                results[member.step_id] = told_why(alone[member.step_id], first.rewrote_read)
    for member in group:
        results[member.step_id] = confirmed(ws, runner, member, results[member.step_id])
    for member in group:
        _store(ws, member.step_id, token, _key(ws, member.step_id, cache), results[member.step_id])
    return results


def _ready(ws: Workspace, token: str, cache: ImportCache) -> list[TestSelection]:
    """Steps whose implement phase passed on their current inputs and whose tests did not
    run yet in this invocation."""
    with looking_once():  # nothing runs meanwhile: each shared input is looked at once
        return [
            selection_of(ws, ws.steps[step_id], cache, observed=True)
            for step_id in ws.steps
            if _untested(ws, step_id, token, cache)
        ]


def _untested(ws: Workspace, step_id: str, token: str, cache: ImportCache) -> bool:
    """Whether the step is ready (see _ready)."""
    if not ws.steps[step_id].tests:
        return False
    stored = read_json(ws.run_file(step_id, BATCH_FILE))
    if stored is not None and stored.get("token") == token:
        return False  # a session of this invocation ran them
    implement = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
    if (
        implement is None
        or implement.outcome != "passed"
        or fingerprint(ws.root, list(implement.inputs)) != implement.inputs
    ):
        return False
    tested = read_test(ws.run_file(step_id, TEST_FILE))
    # not when its tests already passed or failed on exactly these files
    return not (
        tested is not None
        and _key(ws, step_id, cache) == tested.key
        and still_holds(ws.root, tested.inputs)
    )


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
