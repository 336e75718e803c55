"""What each phase of a step depends on: the files whose content decides its verdict."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from pocflow._observe import SKIP_PARTS
from pocflow.errors import ManifestError, located
from pocflow.fingerprint import PRODUCED_SUFFIX
from pocflow.imports import ImportCache, local_imports
from pocflow.layout import ACCEPTED_FILE, IMPLEMENT_FILE, REPLAY_FILE, TEST_FILE
from pocflow.record import (
    ImplementResult,
    TestResult,
    read_implement,
    read_step_record,
    read_test,
)
from pocflow.workspace import Step, Workspace, prerequisites_first

#: the static inputs of each step, per loaded workspace, for one doit invocation (doit reads
#: the task dicts' file_dep once too); forget() starts afresh
_MEMO: dict[tuple[int, str, str], tuple[Workspace, list[str]]] = {}


def forget() -> None:
    """A new doit invocation: scan again."""
    _MEMO.clear()
    _WRITTEN.clear()


def _memo(
    kind: str,
    compute: Callable[[Workspace, Step, ImportCache | None], list[str]],
) -> Callable[[Workspace, Step, ImportCache | None], list[str]]:
    def memoized(ws: Workspace, step: Step, cache: ImportCache | None = None) -> list[str]:
        key = (id(ws), step.step_id, kind)
        found = _MEMO.get(key)
        if found is None or found[0] is not ws:  # (the workspace object is kept: ids stay)
            found = _MEMO[key] = (ws, compute(ws, step, cache))
        return list(found[1])

    memoized.__doc__ = compute.__doc__
    return memoized


def _implement_inputs_of(
    ws: Workspace,
    step: Step,
    cache: ImportCache | None = None,
) -> list[str]:
    """What the implement phase's result stands on: scripts, their imports, manifest, inputs."""
    inputs = list(step.scripts)
    inputs += local_imports(ws.root, step.scripts, (), cache)
    if step.manifest is not None:
        inputs.append(step.manifest.path)
        written: set[str] | None = None
        for path in step.manifest.inputs:
            try:
                found = declared_files(ws.root, path)
            except ValueError as exc:
                raise ManifestError(
                    located(step.manifest.path, str(exc), step.manifest.lines.get("inputs"))
                ) from None
            if found is None:
                raise ManifestError(
                    located(
                        step.manifest.path,
                        f"declared input '{path}' does "
                        "not exist; create it or remove it from 'inputs'",
                        step.manifest.lines.get("inputs"),
                    )
                )
            if found != [path]:  # a folder or a glob: not what the steps or pocflow write
                if written is None:
                    written = {
                        *not_inputs_of(ws, step),
                        *written_by(ws, step.step_id),
                        *_generated(ws),
                    }
                found = [
                    file
                    for file in found
                    if file not in written
                    and not file.startswith(
                        (ws.settings.records_dir + "/", ws.settings.state_dir + "/")
                    )
                ]
            inputs += found
    # what each prerequisite's scripts stood on and produced, as its record says: not the
    # record's bytes, which a test the prerequisite gains changes
    inputs += [ws.record_path(dep) + PRODUCED_SUFFIX for dep in step.depends_on]
    return sorted(set(inputs))


def _test_inputs_of(ws: Workspace, step: Step, cache: ImportCache | None = None) -> list[str]:
    """What the test phase's verdict stands on: tests, their imports, every conftest above."""
    roots = [*_pythonpath(ws), "."]
    inputs = list(step.tests) + local_imports(ws.root, step.tests, roots, cache)
    return sorted({*inputs, *conftests_above(ws.root, step.tests)})


def conftests_above(root: Path, tests: Iterable[str]) -> list[str]:
    """The conftest.py files pytest loads for these test files: in each one's folder and
    every folder above it, up to the workspace root's own."""
    found: set[str] = set()
    seen: set[str] = set()
    for test in tests:
        folder = test.rpartition("/")[0]
        while folder not in seen:  # each folder looked at once, however many tests
            seen.add(folder)
            conftest = f"{folder}/conftest.py" if folder else "conftest.py"
            if os.path.isfile(os.path.join(root, conftest)):
                found.add(conftest)
            if not folder:
                break
            folder = folder.rpartition("/")[0]
    return sorted(found)


#: folders a declared folder's or glob's files are never taken from: those whose reads are
#: never observed inputs either (pocflow._observe), and other version-control folders
SKIPPED_FOLDERS = frozenset({*SKIP_PARTS, ".hg", ".svn", "node_modules"})


def declared_files(root: Path, declared: str) -> list[str] | None:
    """The files a manifest's ``inputs`` entry names: the file itself; every file under a
    folder (recursively); every file a glob (``data/*.csv``, ``data/**/*.json``) matches.
    Folders in SKIPPED_FOLDERS and links that lead outside the workspace are left out. None
    when the entry names nothing (no such file or folder; a glob that matches nothing)."""
    target = root / declared
    if any(c in declared for c in "*?["):
        try:
            candidates = list(root.glob(declared))
        except ValueError as exc:  # e.g. '**' inside a name: data/***
            raise ValueError(
                f"declared input '{declared}' is not a glob pocflow can read "
                f"({exc}); use '**' as a whole part: data/**/*.csv"
            ) from None
        if not candidates:
            return None
    elif target.is_dir():
        candidates = [target]
    elif target.exists():
        return [declared]
    else:
        return None
    files: set[str] = set()
    inside = root.resolve()
    for candidate in candidates:
        walked = (
            [candidate]
            if candidate.is_file()
            else [p for p in candidate.rglob("*") if p.is_file()]
            if candidate.is_dir()
            else []
        )
        for path in walked:
            rel = path.relative_to(root)
            if SKIPPED_FOLDERS.intersection(rel.parts[:-1]) or not path.resolve().is_relative_to(
                inside
            ):
                continue
            files.add(rel.as_posix())
    return sorted(files)


implement_inputs_of = _memo("implement", _implement_inputs_of)
test_inputs_of = _memo("test", _test_inputs_of)


def _pythonpath(ws: Workspace) -> list[str]:
    value = ws.settings.pytest_config.get("pythonpath", [])
    entries = value.split() if isinstance(value, str) else list(value)
    return [str(e) for e in entries]


def not_inputs_of(ws: Workspace, step: Step, own_writes: bool = False) -> tuple[str, ...]:
    """Files whose content is never one of the step's observed inputs: every step's declared
    outputs, and what the scripts of the steps it depends on wrote (the step depends on
    their records instead); with ``own_writes``, what its own scripts wrote too (for its
    tests)."""
    found = {
        out
        for other in ws.steps.values()
        if other.manifest is not None
        for out in other.manifest.outputs
    }
    upstream = prerequisites_first(ws, list(step.depends_on))
    for step_id in [*upstream, *([step.step_id] if own_writes else [])]:
        found.update(written_by(ws, step_id))
    return tuple(sorted(found))


def _generated(ws: Workspace) -> list[str]:
    """The documents pocflow writes: results docs, PROJECT_STATE.md, the PoC results doc."""
    return [*(ws.results_doc(sid) for sid in ws.steps), ws.settings.state_file, ws.poc_results_doc]


def pocflows_writes_read(
    ws: Workspace, step_id: str, read: dict[str, str], links: bool = True
) -> str:
    """Why a step's verdict cannot stand on what it read (its inputs and the outputs its
    tests read, with their digests then): the first file pocflow writes once the step's tests
    ran, or may write then, that it read — by name, or through a link with ``links`` — or the
    first listing it took of a folder where pocflow writes such a file that is not as it was.
    The files: results docs, PROJECT_STATE.md, the PoC results doc, the gate's record, a
    record of a step that is not among its prerequisites (theirs are written before its
    scripts run: its scripts stand on them), anything in the state folder. What the step
    read changes under it; '' when none does."""
    from pocflow.fingerprint import CHANGED_DURING_RUN, digest_of, kind_of

    written, folders = _written_by_pocflow(ws)
    root = str(ws.root)
    state = ws.settings.state_dir.rstrip("/") + "/"
    for key in sorted(read):
        target = key
        if links and kind_of(key) == "file" and os.path.islink(os.path.join(root, key)):
            real = os.path.realpath(os.path.join(root, key))
            target = os.path.relpath(real, os.path.realpath(root)).replace(os.sep, "/")
        if (target.rstrip("/") + "/").startswith(state):
            return (
                f"step {step_id}: its tests or scripts read {key}, which pocflow writes as it "
                f"verifies steps ({state} is its state folder): what they read changes under "
                "them; test the step's own outputs instead"
            )
        if target in written and not _prerequisites_record(ws, step_id, target):
            return (
                f"step {step_id}: its tests or scripts read {key}, which pocflow writes as it "
                "verifies steps: what they read changes under them; test the step's own "
                "outputs instead"
            )
        listed = key in folders and read[key] != CHANGED_DURING_RUN
        if listed and digest_of(ws.root, key) != read[key]:
            return (
                f"step {step_id}: its tests or scripts listed {key}, where pocflow writes as it "
                "verifies steps, and the listing changed since: verify the step again (it "
                "holds once pocflow's files are there), or list only the step's own outputs"
            )
    return ""


def _written_by_pocflow(ws: Workspace) -> tuple[frozenset[str], frozenset[str]]:
    """The files pocflow writes as it verifies steps (every step's record among them) and
    the folders they are in ('./' for the workspace's own), worked out once per run."""
    found = _WRITTEN.get(id(ws))
    if found is None or found[0] is not ws:  # (the workspace object is kept: ids stay)
        files = frozenset(
            {*_generated(ws), ws.gate_record_path, *(ws.record_path(sid) for sid in ws.steps)}
        )
        folders = frozenset(p.rpartition("/")[0] + "/" if "/" in p else "./" for p in files)
        found = _WRITTEN[id(ws)] = (ws, (files, folders))
    return found[1]


_WRITTEN: dict[int, tuple[Workspace, tuple[frozenset[str], frozenset[str]]]] = {}


def written_by_pocflow(ws: Workspace) -> frozenset[str]:
    """The files pocflow writes as it verifies steps: results docs, PROJECT_STATE.md, the PoC
    results doc, the gate's record, every step's record."""
    return _written_by_pocflow(ws)[0]


def _prerequisites_record(ws: Workspace, step_id: str, path: str) -> bool:
    """Whether path is the record of one of the step's prerequisites (written before its
    scripts run: they stand on it)."""
    deps = prerequisites_first(ws, list(ws.steps[step_id].depends_on))
    return any(ws.record_path(dep) == path for dep in deps)


def local_result(ws: Workspace, step_id: str, phase: str) -> ImplementResult | TestResult | None:
    """The latest result of the step's implement or test phase in this workspace."""
    if phase == "implement":
        return read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
    return read_test(ws.run_file(step_id, TEST_FILE))


def runs_here(ws: Workspace, step_id: str) -> list[ImplementResult]:
    """The passed runs of the step's scripts in this workspace, replayed or for real (a
    result taken from its record is not a run)."""
    names = [REPLAY_FILE]
    if not ws.run_file(step_id, ACCEPTED_FILE).is_file():
        names.append(IMPLEMENT_FILE)
    results = [read_implement(ws.run_file(step_id, name)) for name in names]
    return [r for r in results if r is not None and r.outcome == "passed"]


def written_by(ws: Workspace, step_id: str) -> list[str]:
    """What the step's scripts wrote in their latest run here, else in its record's."""
    local = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
    if local is not None and local.outcome == "passed":
        return local.written
    record = read_step_record(ws.root / ws.record_path(step_id))
    return record.implement.written if record is not None and record.implement else []


def observed_before(ws: Workspace, step_id: str, phase: str) -> tuple[str, ...]:
    """What the step's phase really read the last time it ran here (else per its record)."""
    local = local_result(ws, step_id, phase)
    if local is None:
        record = read_step_record(ws.root / ws.record_path(step_id))
        local = (record.implement if phase == "implement" else record.test) if record else None
    return tuple(local.observed) if local is not None else ()
