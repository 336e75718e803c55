"""The doit task graph: four phases per step, a group task per step, and the gate.

    implement:<id> -> test:<id> -> document:<id> -> state:<id>     grouped as step:<id>
    poc-complete  <- every step's verification record (by file)

Staleness flows only through ``file_dep`` and ``uptodate`` (doit's ``task_dep`` orders tasks
but never makes one stale): each phase depends on the files the previous phase writes, and a
step that depends on another depends on that step's verification record.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile

from pocflow.checker import ContentChecker
from pocflow.documents import (
    POC_TEMPLATE,
    STATE_TEMPLATE,
    STEP_TEMPLATE,
    template_source,
)
from pocflow.errors import PocflowError, SettingsError, located
from pocflow.fingerprint import NO_CONTENT, PRODUCED_SUFFIX, file_digest
from pocflow.freshness import KERNEL_WATCH, environment, implement_settings, testing_settings
from pocflow.implement import implement_spec
from pocflow.imports import ImportCache
from pocflow.inputs import implement_inputs_of, test_inputs_of
from pocflow.layout import (
    ALL_POCS_TASK,
    DOCUMENT,
    GATE_TASK,
    IMPLEMENT,
    IMPLEMENT_FILE,
    PRODUCED_FILE,
    PROJECT_STATE_TASK,
    REFRESH_TASK,
    STATE,
    STEP_TASK,
    TEST,
    TEST_FILE,
    refresh_task,
)
from pocflow.phases import (
    all_pocs_phase,
    clean_test_result,
    document_phase,
    gate_phase,
    health_checked,
    implement_phase,
    phase_current,
    project_state_phase,
    records_hold,
    records_unchanged,
    settings_unchanged,
    state_phase,
    test_phase,
    values_only,
    written_unchanged,
)
from pocflow.redact import activate
from pocflow.run import begin, own_tasks
from pocflow.settings import load_settings, suite_session_wanted
from pocflow.store import state_folder_problem
from pocflow.testing import TestSelection
from pocflow.workspace import Step, Workspace, project_workspaces, same_named_tests

GROUPS = {
    STEP_TASK: "Verify every step: implement, test, document, state.",
    IMPLEMENT: "Run every step's script(s).",
    TEST: "Run every step's tests under pytest.",
    DOCUMENT: "Write every step's results doc.",
    STATE: "Record every step's verification and refresh PROJECT_STATE.md.",
    REFRESH_TASK: "Refresh PROJECT_STATE.md after one step (part of step:<id>).",
}


def _printable_anywhere() -> None:
    """Output a terminal cannot show (✅, an em dash under a Latin-1 or ASCII locale) is
    written escaped instead of ending the command with a traceback."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")


def doit_config(dodo_file: str | Path) -> dict[str, Any]:
    """DOIT_CONFIG for a workspace: sqlite3 state in the state folder, content checks, gate
    default."""
    root = Path(dodo_file).resolve().parent
    _printable_anywhere()
    try:
        state_dir = load_settings(root).state_dir
    except PocflowError:
        state_dir = ".pocflow"  # generate_tasks reports the settings error itself
    with contextlib.suppress(OSError):  # (a file there: generate_tasks says so)
        (root / state_dir).mkdir(parents=True, exist_ok=True)
    return {
        # doit's sqlite3 store (one file, same format on every Python build; dbm differs)
        # that sets a damaged file aside instead of failing: see pocflow.store
        "backend": "pocflow",
        "dep_file": f"{state_dir}/doit.sqlite",  # relative: the state is not tied to a checkout
        # by content: a fresh clone (new mtimes, same bytes) is up to date, and a file whose
        # modification time was put back is not (see pocflow.checker)
        "check_file_uptodate": ContentChecker,
        "default_tasks": [GATE_TASK],
        "reporter": "pocflow",  # says why each task runs; see pocflow.reporter
        "minversion": "0.37.0",
        "sort": "definition",  # `doit list` in natural step order
        "subtasks": True,  # `doit list` shows every step's phases
    }


def generate_tasks(dodo_file: str | Path) -> Iterator[dict[str, Any]]:
    """Yield every task dict of the workspace that holds dodo_file."""
    root = Path(dodo_file).resolve().parent
    begin(str(root))
    try:
        pocs = project_workspaces(root)
        ws = pocs[-1]  # the current PoC
        _state_folder_is_a_folder(ws)
        activate(
            ws.root,
            {
                name
                for one in pocs
                for step in one.steps.values()
                if step.manifest
                for name in step.manifest.secrets
            },
        )
        for one in pocs:
            for warning in one.warnings:
                sys.stderr.write(f"pocflow: warning: {warning}\n")
        for clash in same_named_tests(pocs):
            sys.stderr.write(
                f"pocflow: warning: {clash} have one name: `pytest tests/` stops at "
                "collection, and all-pocs-complete fails; rename one\n"
            )
        cache = ImportCache.shared(ws.imports_cache, ws.root)  # the run's checks reuse it
        tasks = list(_all_tasks(pocs, cache))
        cache.save()
        own_tasks(tasks)
    except PocflowError as exc:
        raise InvalidDodoFile(str(exc)) from None
    yield from tasks


def _state_folder_is_a_folder(ws: Workspace) -> None:
    """The state folder (doit's store, the run files) is a folder pocflow can make, else
    one line saying what is in the way (doit_config leaves it for this to say)."""
    folder = ws.root / ws.settings.state_dir
    blocked = state_folder_problem(folder, ws.root)
    if blocked:
        raise SettingsError(blocked)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            located(
                ws.settings.state_dir,
                f"pocflow cannot make its state folder here ({exc.strerror}): make it "
                "writable, or set state_dir in [tool.pocflow] to another folder",
            )
        ) from None


def _all_tasks(pocs: list[Workspace], cache: ImportCache) -> Iterator[dict[str, Any]]:
    """Every PoC's tasks (the current one's last: ``step:3b``; an earlier one's carry its
    name first: ``poc1.step:3b``), PROJECT_STATE.md's, and the gate of the whole stage."""
    ws = pocs[-1]
    templates = {
        name: _digest(template_source(ws.root, ws.settings.templates_dir, name)[1])
        for name in (STEP_TEMPLATE, STATE_TEMPLATE, POC_TEMPLATE)
    }
    for one in pocs:
        for basename, doc in GROUPS.items():
            if one.poc is None:
                yield {"basename": basename, "name": None, "doc": doc}
            elif not basename.startswith("_"):
                doc = f"PoC {one.settings.poc}: {doc}"
                yield {"basename": one.task(basename), "name": None, "doc": doc}
        refreshed = _project_state_uptodate(pocs, one, templates, whole=False)  # every step's
        # the same for every step; whether the kernel's watch is on is not a setting: a phase
        # that ran with it is current without it (see phases.phase_current)
        env_now = {k: v for k, v in environment(one).items() if k != KERNEL_WATCH}
        for step in one.steps.values():
            yield from _step_tasks(one, step, templates, cache, refreshed, env_now)
        yield _gate_task(one, templates)
    yield _project_state_task(pocs, templates)
    yield _all_pocs_task(pocs)  # a project of one PoC has it too: CI can always run it


def _step_tasks(
    ws: Workspace,
    step: Step,
    templates: dict[str, str],
    cache: ImportCache,
    refreshed: list[Any],
    env_now: dict[str, str],
) -> Iterator[dict[str, Any]]:
    sid = step.step_id
    root = str(ws.root)
    run_dir = ws.run_dir(sid)
    implement_json, test_json = f"{run_dir}/{IMPLEMENT_FILE}", f"{run_dir}/{TEST_FILE}"
    noted = str(ws.written_elsewhere)  # pocflow may have written the record outside its task
    implement_inputs = implement_inputs_of(ws, step, cache)
    test_inputs = test_inputs_of(ws, step, cache)
    label = f"step {sid} ({step.name})"

    if ws.poc is not None:
        label = f"PoC {ws.settings.poc} {label}"
    refresh = refresh_task(ws.poc, sid)
    yield {
        "basename": ws.task(STEP_TASK),
        "name": sid,
        "doc": f"Verify {label}: implement, test, document, state.",
        "actions": None,
        "task_dep": [
            ws.task(IMPLEMENT, sid),
            ws.task(TEST, sid),
            ws.task(DOCUMENT, sid),
            ws.task(STATE, sid),
            refresh,
        ],
    }
    spec = implement_spec(ws, step, implement_inputs)
    results_doc = ws.results_doc(sid)
    yield {
        "basename": ws.task(IMPLEMENT),
        "name": sid,
        "doc": f"Run {label}: " + (", ".join(step.scripts) or "no script yet") + ".",
        "actions": [(implement_phase, [spec, ws.settings.test_runner]), values_only],
        # and what its prerequisites' scripts produced here: when they ran again and wrote
        # other files (or other content), the step runs again even if their records did not
        # change; fixed back to the same outputs, it does not (a file this step extended and
        # they wrote anew: the "after" values, pocflow.phases.phase_current)
        "file_dep": [
            *(key for key in implement_inputs if not key.endswith(PRODUCED_SUFFIX)),
            *(f"{ws.run_dir(dep)}/{PRODUCED_FILE}" for dep in step.depends_on if dep in ws.steps),
        ],
        # after each prerequisite is verified and recorded: its record's implement section
        # is an input (checked by phase_current, not as a file: PRODUCED_SUFFIX)
        "task_dep": [ws.task(STATE, dep) for dep in step.depends_on if dep in ws.steps],
        "targets": [implement_json, f"{run_dir}/{PRODUCED_FILE}"],
        # settings and environment: a change re-runs the step even with doit's state intact
        # settings, environment, and what the scripts really read (pocflow.observed)
        "uptodate": [
            phase_current(
                # and the results doc its record is for: another PoC's step of the same id
                # (the slug changed) is verified anew
                {**implement_settings(ws, step), "environment": env_now, "doc": results_doc},
                root,
                sid,
                IMPLEMENT,
                ws.poc,
            )
        ],
        "clean": True,
    }
    selection = TestSelection(step_id=sid, files=step.tests, inputs=tuple(test_inputs))
    yield {
        "basename": ws.task(TEST),
        "name": sid,
        "doc": f"Test {label}: " + (", ".join(step.tests) or "no test file yet") + ".",
        "actions": [
            (
                test_phase,
                [
                    root,
                    selection,
                    test_json,
                    ws.settings.test_runner,
                    ws.settings.test_batch,
                    ws.poc,
                ],
            ),
            values_only,
        ],
        "file_dep": [*test_inputs, implement_json],
        "targets": [test_json],
        "uptodate": [
            phase_current(
                {**testing_settings(ws, step), "environment": env_now, "doc": results_doc},
                root,
                sid,
                TEST,
                ws.poc,
            )
        ],
        "clean": [(clean_test_result, [str(ws.root / test_json)])],
    }
    yield {
        "basename": ws.task(DOCUMENT),
        "name": sid,
        "doc": f"Write the results doc of {label}: {ws.results_doc(sid)}.",
        "actions": [(document_phase, [root, sid, ws.poc])],
        "file_dep": [implement_json, test_json],
        "targets": [ws.results_doc(sid)],
        "uptodate": [
            settings_unchanged(
                {
                    "template": templates[STEP_TEMPLATE],
                    "name": step.name,
                    "poc": ws.name,
                    "goal": step.plan_step.goal if step.plan_step else "",
                }
            ),
            (written_unchanged, [str(ws.root / ws.results_doc(sid)), noted]),
        ],
    }
    yield {
        "basename": ws.task(STATE),
        "name": sid,
        "doc": f"Record {label} in {ws.record_path(sid)} and {ws.settings.state_file}.",
        "actions": [(state_phase, [root, sid, ws.poc])],
        "file_dep": [implement_json, test_json],
        "task_dep": [ws.task(DOCUMENT, sid)],
        "targets": [ws.record_path(sid)],
        "uptodate": [
            settings_unchanged({"template": templates[STATE_TEMPLATE], "name": step.name}),
            (written_unchanged, [str(ws.root / ws.record_path(sid)), noted]),
        ],
    }
    yield {  # `doit step:<id>` refreshes PROJECT_STATE.md without verifying other steps
        "basename": REFRESH_TASK,
        "name": refresh.partition(":")[2],
        "doc": f"Refresh {ws.settings.state_file} after {label}.",
        "actions": [(project_state_phase, [root])],
        "task_dep": [ws.task(STATE, sid)],
        "uptodate": refreshed,
    }


def _project_state_task(pocs: list[Workspace], templates: dict[str, str]) -> dict[str, Any]:
    ws = pocs[-1]
    state_file = ws.settings.state_file
    return {
        "basename": PROJECT_STATE_TASK,
        "doc": f"Refresh {state_file} from every step's verification record.",
        "actions": [(project_state_phase, [str(ws.root)])],
        "task_dep": [
            one.task(STATE, sid)
            for one in pocs
            for sid, step in one.steps.items()
            if step.has_files
        ],
        "uptodate": _project_state_uptodate(pocs, ws, templates, whole=True),
    }


def _all_pocs_task(pocs: list[Workspace]) -> dict[str, Any]:
    """The gate of the stage: every PoC's gate, then a check that each one holds."""
    ws = pocs[-1]
    return {
        "basename": ALL_POCS_TASK,
        "doc": "The gate of the stage: every PoC complete ("
        + ", ".join(one.task(GATE_TASK) for one in pocs)
        + "), each pocN-results.md written — the way to Stage 6 (MVP).",
        "actions": [(all_pocs_phase, [str(ws.root)])],
        "task_dep": [one.task(GATE_TASK) for one in pocs],
        "verbosity": 2,
    }


def _project_state_uptodate(
    pocs: list[Workspace], ws: Workspace, templates: dict[str, str], whole: bool
) -> list[Any]:
    """PROJECT_STATE.md is current: same template and plans (the line of each PoC says
    whether its checklist is ticked), as written, same records; and (``whole``: the
    project-state task's, which runs once every step passed) every step it showed verified
    (a step's refresh shows the others as they stand)."""
    return [
        settings_unchanged(
            {
                "template": templates[STATE_TEMPLATE],
                "plan": _plan_digest(ws),
                "plans": [_plan_digest(one) for one in pocs if one is not ws],
                "steps": list(ws.steps),
            }
        ),
        (written_unchanged, [str(ws.root / ws.settings.state_file), str(ws.written_elsewhere)]),
        (records_unchanged, [str(ws.root), whole]),
    ]


def _gate_task(ws: Workspace, templates: dict[str, str]) -> dict[str, Any]:
    # A step the plan names but that has no file yet cannot be verified: leaving its record
    # out of file_dep lets the gate run and list it with every other unverified step.
    records = [ws.record_path(sid) for sid, step in ws.steps.items() if step.has_files]
    return {
        "basename": ws.task(GATE_TASK),
        "doc": f"The gate: every step of PoC {ws.settings.poc} verified on the files as they "
        f"are, {ws.poc_results_doc} written.",
        "actions": [(gate_phase, [str(ws.root), ws.poc])],
        # and the results docs: a Summary written (or emptied) is checked again
        "file_dep": [
            *records,
            *(ws.results_doc(sid) for sid, step in ws.steps.items() if step.has_files),
        ],
        # every step's scripts first, where its prerequisites allow: then the first test
        # phase finds the most steps ready, and their tests share one session (pocflow.batch)
        "task_dep": [
            *(ws.task(IMPLEMENT, sid) for sid, step in ws.steps.items() if step.has_files),
            # PROJECT_STATE.md first (it stands on every PoC's steps): not for an earlier
            # PoC, whose gate must not wait for the current PoC's steps
            *([PROJECT_STATE_TASK] if ws.poc is None else []),
        ],
        "targets": [ws.poc_results_doc, ws.gate_record_path],
        "uptodate": [
            settings_unchanged(
                {
                    "template": templates[POC_TEMPLATE],
                    "plan": _plan_digest(ws),
                    "steps": list(ws.steps),
                    "undocumented": ws.settings.undocumented,
                    "suite_session": suite_session_wanted(ws.settings),
                }
            ),
            # (not the note of a failure's rewrite: the gate writes it back once it passes)
            (written_unchanged, [str(ws.root / ws.poc_results_doc)]),
            (records_hold, [str(ws.root), ws.poc]),
            (health_checked, [str(ws.root), ws.poc]),
        ],
    }


def _plan_digest(ws: Workspace) -> str:
    """sha256 of the plan's bytes ('' without a plan), through the fingerprint cache: every
    state task and the gate stand on it."""
    digest = file_digest(ws.root / ws.settings.plan)
    return "" if digest in NO_CONTENT else digest


def _digest(text: str) -> str:
    return hashlib.sha256(json.dumps(text).encode("utf-8")).hexdigest()
