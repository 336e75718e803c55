"""Whether a verification record still holds: same inputs, same settings, same environment.

A step's record (committed, in ``steps/records/``) holds when every file its verdict stands
on has the recorded fingerprint, the settings that decide how it runs are the same, and the
environment that matters (Python version, implementation, platform, the locked dependency
set) is the same. That one rule decides everything that trusts a record: ``doit status``,
the gate, PROJECT_STATE.md, and a run that accepts a record instead of running the step
again — on a fresh clone with no local state, a step whose record holds is not re-run.

``--reverify`` on ``doit run`` (or ``POCFLOW_REVERIFY=1``) turns acceptance off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocflow._fs import atomic_write_text, read_json, stamp
from pocflow.errors import headline
from pocflow.fingerprint import (
    CHANGED_DURING_RUN,
    MISSING,
    NO_CONTENT,
    PRODUCED_SUFFIX,
    digest_of,
    file_digest,
    fingerprint,
    held_digest,
    kind_of,
    still_holds,
)
from pocflow.imports import ImportCache
from pocflow.inputs import (
    implement_inputs_of,
    local_result,
    runs_here,
    test_inputs_of,
    written_by,
)
from pocflow.layout import (
    ACCEPTED_FILE,
    FAILED_FILE,
    GATE_SESSION,
    IMPLEMENT,
    IMPLEMENT_FILE,
    PRODUCED_FILE,
    RAN_AFTER_FILE,
    REPLAY_FILE,
    SUITE_OUTPUTS_FILE,
    TEST,
    TEST_FILE,
    VERIFIED_FILE,
)
from pocflow.observed import OBSERVER_VERSION, within
from pocflow.record import (
    PRODUCED_LOG,
    ImplementResult,
    StepRecord,
    TestResult,
    outputs_read_by_other_tests,
    outputs_read_here,
    read_implement,
    read_step_record,
    read_test,
    record_place_problem,
)
from pocflow.settings import env_flag, kernel_watched
from pocflow.steps import step_sort_key
from pocflow.workspace import (
    Step,
    Workspace,
    dependents_of,
    prerequisites_first,
    project_workspaces,
)

#: set to 1 to re-verify every step instead of accepting records that still hold
REVERIFY_ENV = "POCFLOW_REVERIFY"


def reverify_forced() -> bool:
    """Whether this run must not accept committed records."""
    return env_flag(REVERIFY_ENV)


#: the environment key that says whether the kernel's watch was on (see environment)
KERNEL_WATCH = "kernel_watch"


def environment(ws: Workspace) -> dict[str, str]:
    """The environment a verdict depends on. Python is compared by minor version (3.11):
    a patch release does not re-verify a PoC; a new minor version, implementation,
    platform, machine architecture or locked dependency set does."""
    lock = ws.settings.lock_file
    digest = lock_digest(ws.root / lock) if lock else MISSING
    location = path_characters(str(ws.root))
    return {
        # what the checkout's own path holds that code building commands or names from it
        # may trip on (a shell command left unquoted): only when it holds any, so that a
        # record made at /home/a/poc is taken at /ci/b/poc
        **({LOCATION: location} if location else {}),
        "python": ".".join(platform.python_version_tuple()[:2]),
        "implementation": sys.implementation.name,
        "platform": sys.platform,
        # the architecture: which wheels, builds and per-machine data a test takes
        "machine": platform.machine(),
        "dependencies": f"{lock}:{digest}" if digest != "missing" else "",
        # what is installed, whatever the lock file says (`uv pip install`, pip, a system
        # Python): a record made with another version of a library is not this one's
        "packages": installed_versions(str(ws.root)),
        # what pocflow watches while a step runs: a record made by an observer that watched
        # less is verified again (pocflow.observed)
        "observer": str(OBSERVER_VERSION),
        # whether the kernel's watch saw what programs read (off under `doit -n`, and off
        # Linux): a record made without it is not taken where it is on (environment_changes)
        KERNEL_WATCH: "on" if kernel_watched() else "off",
    }


@functools.cache
def installed_packages() -> str:
    """A digest of what is installed where this process imports from: the names of the
    distributions' metadata folders (``pocnew-1.0.dist-info``: name and version) and of the
    ``.pth`` files in every folder of sys.path, with the content of those files and of each
    folder's RECORD and entry_points.txt; a sitecustomize.py or usercustomize.py there; the
    names of the modules in each such folder outside the workspace. A package installed,
    upgraded, installed again at the same version with other files or removed without a
    change to the lock file (``uv pip install``, ``--reinstall``), a ``.pth`` file pointed
    elsewhere, entry points changed in place: each changes it, and so does a pytest plugin
    that every session would now load. Local only (a machine's installation is not a
    record's): the phases compare it with their last run here. Worked out once a process."""
    names: list[str] = []
    here = os.getcwd()
    for entry in dict.fromkeys(sys.path):
        folder = os.path.abspath(entry or ".")
        try:
            with os.scandir(folder) as found:
                listing = list(found)
        except OSError:
            continue
        names += [_installed(entry, e) for e in listing if e.name.endswith(_METADATA)]
        # what Python runs at start wherever it is found (a sitecustomize.py added to
        # site-packages), and, in a folder packages are installed into outside the
        # workspace, the names of the modules there (one put there without an installer's
        # metadata, which a test's `try: import` finds). (Not every folder's: how doit was
        # started — `uv run doit`, `python -m doit` — puts other folders first.)
        names += [
            f"{entry}/{e.name} {file_digest(e.path)[:16]}" for e in listing if e.name in _AT_START
        ]
        outside = folder != here and not folder.startswith(here + os.sep)
        if outside and any(e.name.endswith(_DISTRIBUTIONS) for e in listing):
            modules = sorted(e.name for e in listing if e.name != "__pycache__")
            names.append(f"{entry}: " + " ".join(modules))
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


#: the modules Python imports at start from wherever sys.path finds them
_AT_START = ("sitecustomize.py", "usercustomize.py")


@functools.cache
def installed_versions(root: str) -> str:
    """A digest of the distributions importable here, by name and version (from the names
    of their metadata folders: ``tinyver-1.0.dist-info``) and how each was installed when
    not from an index (its ``direct_url.json``: editable or built from a folder — the
    workspace's own, by its place in the workspace at root, or one elsewhere —, from an
    archive, by its hash, or from version control, by its commit), pocflow's own left out
    (the observer version says what a new pocflow changes). The same on every machine that
    installed the same versions the same way, wherever it put them; worked out once a
    process for a workspace."""
    found: set[str] = set()
    for entry in dict.fromkeys(sys.path):
        try:
            with os.scandir(entry or ".") as listing:
                metadata = [(e.name, e.path) for e in listing if e.name.endswith(_DISTRIBUTIONS)]
        except OSError:
            continue
        for name, path in metadata:
            stem = name.rsplit(".", 1)[0]
            project, _, version = stem.partition("-")
            project = re.sub(r"[-_.]+", "-", project).lower()
            if project != "pocflow":
                found.add(f"{project}=={version.split('-')[0]}{_installed_from(path, root)}")
    return hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()[:16]


def _installed_from(metadata: str, root: str) -> str:
    """How a distribution was installed, as its ``direct_url.json`` (PEP 610) says, in
    words that are the same on every machine ('' from an index, or when it says nothing)."""
    try:
        with open(os.path.join(metadata, "direct_url.json"), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return ""
    if not isinstance(data, dict):
        return ""
    url = str(data.get("url", ""))
    if isinstance(data.get("dir_info"), dict):
        editable = bool(data["dir_info"].get("editable"))
        place = "elsewhere"
        if url.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            folder = os.path.realpath(unquote(urlsplit(url).path))
            workspace = os.path.realpath(root)
            if folder == workspace or folder.startswith(workspace + os.sep):
                place = "workspace:" + (os.path.relpath(folder, workspace).replace(os.sep, "/"))
        if editable:  # its modules are the folder's files (in the workspace: inputs)
            return f" editable@{place}"
        # built and installed: what it installed, by the hashes its RECORD lists
        return f" folder@{place}:{_installed_files(metadata)}"
    if isinstance(data.get("archive_info"), dict):
        info = data["archive_info"]
        hashes = info.get("hashes") if isinstance(info.get("hashes"), dict) else {}
        digest = hashes.get("sha256") or str(info.get("hash", "")).removeprefix("sha256=")
        return f" archive@{digest or _installed_files(metadata)}"
    if isinstance(data.get("vcs_info"), dict):
        return f" vcs@{data['vcs_info'].get('commit_id', '')}"
    return ""


_DISTRIBUTIONS = (".dist-info", ".egg-info")


def _installed(folder: str, entry: os.DirEntry[str]) -> str:
    """One metadata entry of installed_packages: its path and the content of what a
    reinstall or an in-place edit rewrites (a .pth file; a metadata folder's RECORD, which
    holds every installed file's hash, and entry_points.txt) — by content, not by time: uv
    reinstalls the workspace's own editable package whenever pyproject.toml is touched,
    byte for byte the same (digests cached by stamp: nothing read twice)."""
    if not entry.is_dir():
        return f"{folder}/{entry.name} {file_digest(entry.path)[:16]}"
    record = os.path.join(entry.path, "RECORD")
    points = os.path.join(entry.path, "entry_points.txt")
    return f"{folder}/{entry.name} {_record_digest(record)} {file_digest(points)[:16]}"


def _installed_files(metadata: str) -> str:
    """What a distribution installed, the same wherever it was installed: a digest of the
    files its RECORD lists with their hashes, its own metadata folder's left out (the
    installer's name, its notes), and the scripts it put outside its folder."""
    try:
        with open(os.path.join(metadata, "RECORD"), encoding="utf-8", errors="replace") as f:
            own = os.path.basename(metadata) + "/"
            # (and the scripts in bin/, whose first line names this machine's Python)
            lines = sorted(
                line.strip() for line in f if line.strip() and not line.startswith((own, "../"))
            )
    except OSError:
        return ""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def _record_digest(path: str) -> str:
    """A metadata folder's RECORD (every installed file's hash), without the lines of an
    installer's own notes that change on every reinstall of the same files (uv's
    ``uv_cache.json`` holds the time of the build): kept by the RECORD's content digest."""
    digest = file_digest(path)
    folder = os.path.dirname(path)
    if not any(os.path.exists(os.path.join(folder, name)) for name in _VOLATILE_METADATA):
        return digest[:16]  # (nothing to leave out: no file read)
    known = _RECORDS.get(digest)
    if known is None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = [
                    line
                    for line in handle
                    if line.split(",", 1)[0].rsplit("/", 1)[-1] not in _VOLATILE_METADATA
                ]
        except OSError:
            lines = []
        known = _RECORDS[digest] = hashlib.sha256("".join(lines).encode()).hexdigest()[:16]
    return known


#: the files an installer rewrites on every install of the same files
_VOLATILE_METADATA = frozenset(("uv_cache.json",))
#: RECORD content digest -> its digest without the volatile lines
_RECORDS: dict[str, str] = {}


_METADATA = (".dist-info", ".egg-info", ".egg-link", ".pth")


#: a source in a lock file that names a folder or file by an absolute path (``uv add
#: /home/alice/pocflow`` writes ``source = { directory = "/home/alice/pocflow" }``): where a
#: checkout lies is not part of the dependency set
_ABSOLUTE_SOURCE = re.compile(
    r'\b(directory|path|editable|virtual) = "(?:/|[A-Za-z]:[\\/]|\\\\)([^"]*)"'
)


def lock_digest(path: Path) -> str:
    """sha256 of the lock file, or MISSING. In a lock file that names path sources by
    absolute paths, only each path's last part counts: a teammate whose checkout of a local
    dependency lies elsewhere has the same dependency set. (A lock file without such paths
    keeps the plain sha256 of its bytes.)"""
    digest = file_digest(path)
    if digest in NO_CONTENT or digest in _LOCKS:
        return _LOCKS.get(digest, digest)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return digest
    if _ABSOLUTE_SOURCE.search(text):
        kept = _ABSOLUTE_SOURCE.sub(_last_part, text)
        _LOCKS[digest] = hashlib.sha256(kept.encode("utf-8")).hexdigest()
    else:
        _LOCKS[digest] = digest
    return _LOCKS[digest]


#: the lock digest of each lock file content seen (by the file's sha256)
_LOCKS: dict[str, str] = {}


def _last_part(match: re.Match[str]) -> str:
    last = re.split(r"[\\/]", match.group(2).rstrip("/\\"))[-1]
    return f'{match.group(1)} = "<absolute>/{last}"'


def implement_settings(ws: Workspace, step: Step) -> dict[str, Any]:
    """What besides files decides how the step's scripts run."""
    manifest = step.manifest
    return {
        "args": list(manifest.args) if manifest else [],
        "env": dict(manifest.env) if manifest else {},
        "timeout": manifest.timeout if manifest and manifest.timeout else ws.settings.timeout,
        "scripts": list(step.scripts),
        "thresholds": list(manifest.thresholds) if manifest else [],
        "manual": manifest.manual if manifest else "",
        "secrets": list(manifest.secrets) if manifest else [],
    }


def testing_settings(ws: Workspace, step: Step) -> dict[str, Any]:
    """What besides files decides how the step's tests run."""
    return {"pytest": ws.settings.pytest_config, "tests": list(step.tests)}


def settings_digest(ws: Workspace, step: Step, record: StepRecord | None = None) -> str:
    """One digest of both phases' settings, kept in the record; with ``record``, as if the
    step's scripts and test files were those the record ran (a file added or gone is said
    as such, not as settings changed: changes_since)."""
    implement, testing = implement_settings(ws, step), testing_settings(ws, step)
    if record is not None:
        if record.implement is not None:
            implement["scripts"] = [run.path for run in record.implement.scripts]
        if record.test is not None:
            testing["tests"] = list(record.test.files)
    text = json.dumps([implement, testing], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def inputs_of(ws: Workspace, step: Step, cache: ImportCache | None = None) -> list[str]:
    """Every file the step's verdict stands on."""
    cache = cache or ImportCache.shared(ws.imports_cache, ws.root)
    return sorted(set(implement_inputs_of(ws, step, cache)) | set(test_inputs_of(ws, step, cache)))


@dataclass
class Changes:
    """How the files and settings of a step differ from its record; empty when it holds."""

    changed: list[str] = field(default_factory=list)  # files, other than upstream records
    kinds: dict[str, str] = field(default_factory=dict)  # path -> changed|deleted|new|dropped|moved
    upstream: list[str] = field(default_factory=list)  # steps whose record changed
    environment: list[str] = field(default_factory=list)  # 'python 3.11 -> 3.12', ...
    settings: bool = False
    #: the results doc the record was written for, when it is not this step's: the record
    #: is another PoC's step of the same id (or the PoC's slug changed)
    other_step: str = ""

    @property
    def holds(self) -> bool:
        """Whether the record still holds."""
        return not (
            self.changed or self.upstream or self.environment or self.settings or self.other_step
        )

    def reasons(self) -> list[str]:
        """The differences, as status reasons."""
        reasons = []
        for kind, words in (
            ("changed", "changed since verified"),
            ("deleted", "deleted since verified"),
            ("new", "new inputs since verified"),
            ("dropped", "no longer inputs"),
            ("moved", "an import now finds another file"),
        ):
            paths = [p for p in self.changed if self.kinds.get(p, "changed") == kind]
            if paths:
                reasons.append(f"{words}: " + ", ".join(paths))
        if self.upstream:
            steps = ", ".join(f"step {d}" for d in self.upstream)
            reasons.append(
                f"the record of upstream {steps} changed since"
                if len(self.upstream) == 1
                else f"the records of upstream {steps} changed since"
            )
        if self.environment:
            reasons.append("environment changed since verified: " + "; ".join(self.environment))
        if self.other_step:
            reasons.append(
                f"its record was written for {self.other_step}, not for this step's results "
                "doc: another PoC's step of the same id (or the PoC's slug changed)"
            )
        if self.settings:
            reasons.append(
                "its settings changed since verified (manifest args, env, timeout, "
                "thresholds, or pytest settings)"
            )
        return reasons


def changes_since(
    ws: Workspace, step: Step, record: StepRecord, cache: ImportCache | None = None
) -> Changes:
    """How the step now differs from what its record was verified on."""
    found = Changes()
    # the inputs the static scan finds now, and what the verified run really read
    now = fingerprint(ws.root, [*inputs_of(ws, step, cache), *observed_keys(record)])
    records = {ws.record_path(d) + PRODUCED_SUFFIX: d for d in step.depends_on}
    for path in sorted(now.keys() | record.inputs.keys()):
        if now.get(path) != record.inputs.get(path):
            if path in records:
                found.upstream.append(records[path])
                continue
            found.changed.append(path)
            if path not in record.inputs:
                found.kinds[path] = "new"
            elif now.get(path) == MISSING:
                found.kinds[path] = "deleted"
            elif path not in now:
                found.kinds[path] = "dropped"
            elif kind_of(path) == "import":
                found.kinds[path] = "moved"
    # a module that is gone is reported as its file, not also as where imports find it
    found.changed = [
        p
        for p in found.changed
        if kind_of(p) != "import" or record.inputs.get(p) not in found.changed
    ]
    found.environment = environment_changes(record.environment, environment(ws))
    found.settings = record.settings != settings_digest(ws, step)
    if found.settings and found.changed:  # files came or went: said as such, if that is all
        found.settings = record.settings != settings_digest(ws, step, record)
    if record.results_doc and record.results_doc != ws.results_doc(step.step_id):
        found.other_step = record.results_doc
    return found


def observed_keys(record: StepRecord) -> list[str]:
    """The inputs the record's runs really read (pocflow.observed)."""
    return [
        *(record.implement.observed if record.implement else []),
        *(record.test.observed if record.test else []),
    ]


#: the key of environment() that says what the workspace's path holds besides plain names
LOCATION = "location"
_SHELL_CHARACTERS = frozenset("'\"$`!*?[]{}()<>|&;#~\\")


def path_characters(path: str) -> str:
    """What a path holds that a plain one does not, as words ('spaces, non-ASCII'); ''
    for letters, digits and ``._-+@,=:%/`` alone."""
    kinds = []
    if any(c.isspace() for c in path):
        kinds.append("spaces")
    if not path.isascii():
        kinds.append("non-ASCII")
    if any(c in _SHELL_CHARACTERS for c in path):
        kinds.append("shell characters")
    return ", ".join(kinds)


def environment_changes(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """How the current environment differs from a record's, one phrase per difference
    ('python 3.11 -> 3.12', 'the locked dependency set changed')."""
    return [
        _environment_change(key, recorded.get(key, ""), current.get(key, ""))
        for key in sorted(current.keys() | recorded.keys())
        if recorded.get(key, "") != current.get(key, "")
        # a record made with the kernel's watch holds where it is off: it saw more
        and not (key == KERNEL_WATCH and recorded.get(key) != "off")
    ]


def _environment_change(key: str, was: str, now: str) -> str:
    if key == LOCATION:
        return (
            f"the workspace's path holds {now or 'nothing but plain names'} "
            f"(verified where it held {was or 'nothing but plain names'})"
        )
    if key == "packages":
        return (
            "the installed packages changed" if was else "recorded without the installed packages"
        )
    if key == KERNEL_WATCH:
        return (
            "recorded without the kernel's watch of what programs read (doit -n, or not "
            "on Linux): verified again with it"
        )
    if key == "dependencies":
        return (
            "the locked dependency set changed"
            if was and now
            else "the lock file " + ("appeared" if now else "is gone")
        )
    return f"{key} {was or '?'} -> {now or '?'}"


def note_failure(
    ws: Workspace, step_id: str, phase: str, result: ImplementResult | TestResult | None = None
) -> None:
    """Keep the evidence that the step's phase just failed here, on which inputs (the
    phase's result file's, or ``result``: a session that ran the step's tests for another
    purpose, such as the small-win check)."""
    if result is None:
        result = local_result(ws, step_id, phase)
    if result is not None and result.outcome != "passed":
        first = headline(result.message, f"its {phase} failed")  # (the failing test named)
        evidence = {
            "phase": phase,
            "message": first,
            "inputs": result.inputs,
            "files": _step_files(ws, step_id),
        }
        atomic_write_text(ws.run_file(step_id, FAILED_FILE), json.dumps(evidence), durable=False)


def _step_files(ws: Workspace, step_id: str) -> list[str]:
    """The step's scripts and test files as they are found now (a file gone is in no
    input of the run that failed on its absence)."""
    step = ws.steps.get(step_id)
    return sorted((*step.scripts, *step.tests)) if step is not None else []


def clear_failure(ws: Workspace, step_id: str) -> None:
    """The step's phase passed (or its record was accepted): no failure stands here."""
    ws.run_file(step_id, FAILED_FILE).unlink(missing_ok=True)


def failure_evidence(ws: Workspace, step_id: str) -> dict[str, Any] | None:
    """What note_failure kept of the step's latest failure here ({phase, message, inputs}),
    or None (read only when there is such a file: doit's up-to-date checks ask per phase)."""
    path = ws.run_file(step_id, FAILED_FILE)
    return read_json(path) if path.exists() else None


def local_failure(ws: Workspace, step_id: str) -> str:
    """Why the step's latest run in this workspace failed, if it failed on exactly the files
    there are now, its scripts and test files the same ones ('' otherwise). Such evidence
    outweighs any record: a verified record restored from git, or merged, or edited, does
    not hide a failure seen here."""
    evidence = failure_evidence(ws, step_id)
    files = _step_files(ws, step_id)
    if (
        evidence is None
        or not isinstance(evidence.get("inputs"), dict)
        or not evidence["inputs"]
        or not still_holds(ws.root, evidence["inputs"])
        or evidence.get("files", files) != files
    ):
        return ""
    return f"its latest run here failed on these very files: {evidence.get('message', '')}"


class Acceptance:
    """Whether a run may take a step's committed record instead of running the step."""

    __slots__ = ("record", "why_not")

    def __init__(self, record: StepRecord | None, why_not: tuple[str, ...] = ()) -> None:
        self.record = record  # the record it takes; None: the step runs
        self.why_not = why_not  # why the step runs


def note_ran_after(ws: Workspace, step_id: str, *phases: str) -> None:
    """Note what these phases of the step just ran after (or took their record after): for
    its scripts, what each prerequisite's scripts produced (PRODUCED_FILE) and their result;
    for its tests, its own implement result."""
    path = ws.run_file(step_id, RAN_AFTER_FILE)
    before = read_json(path)  # None when absent or unreadable: then written anew
    noted = dict(before or {})
    if IMPLEMENT in phases:
        deps = [dep for dep in ws.steps[step_id].depends_on if dep in ws.steps]
        noted["prerequisites"] = {dep: file_digest(ws.run_file(dep, PRODUCED_FILE)) for dep in deps}
        noted["prerequisite_runs"] = {dep: _runs_digest(ws, dep) for dep in deps}
    if TEST in phases:
        noted["tests"] = file_digest(ws.run_file(step_id, IMPLEMENT_FILE))
    if noted != before:  # (a record taken notes it for both phases: written once)
        atomic_write_text(path, json.dumps(noted, sort_keys=True), durable=False)


def scripts_ran_since(ws: Workspace, step: Step, tests: bool = False, replays: bool = True) -> str:
    """The step whose scripts really ran here (not taken from its record) since this step
    last stood on what they wrote: a prerequisite whose scripts produced other files since
    this step's scripts last ran or took their record here, or ran at all — replayed too —
    when they write a file this step's scripts extended (steps sharing an output: a fresh
    clone where a changed sibling replayed the prerequisite it shares, which wrote the file
    anew without this step's part); with ``tests``, the step itself, since its tests last
    did (a step's tests must run on what its scripts wrote). '' when none did. Without
    ``replays``, runs for real only (a step whose record is taken replays its own scripts
    after such a replay instead: pocflow.phases.implement_phase). A
    prerequisite that failed and was fixed back to the same outputs is not one. Compared by
    content (a copied or restored folder keeps it); by modification time where nothing was
    noted yet."""
    own = step.step_id
    noted = read_json(ws.run_file(own, RAN_AFTER_FILE)) or {}
    runs, produced = noted.get("prerequisite_runs"), noted.get("prerequisites")
    than = ws.run_file(own, IMPLEMENT_FILE)
    sharing: list[str] | None = None
    for dep in step.depends_on:
        if dep not in ws.steps:
            continue
        then = runs.get(dep, "") if isinstance(runs, dict) else None
        if not _ran_since(ws, dep, then, than, replays=replays):
            continue  # its scripts did not run since: nothing of theirs can differ
        if sharing is None:
            sharing = sharing_prerequisites(ws, step)
        if dep in sharing:
            return dep
        made = produced.get(dep, "") if isinstance(produced, dict) else None
        if _ran_since(ws, dep, then, than) and _ran_since(ws, dep, made, than, PRODUCED_FILE):
            return dep
    if tests and _ran_since(ws, own, noted.get("tests"), ws.run_file(own, TEST_FILE)):
        return own
    return ""


def sharing_prerequisites(ws: Workspace, step: Step) -> list[str]:
    """The prerequisites whose scripts write a file the step's scripts wrote too (declared,
    or written in their latest run here): run again, even to the same outputs, they write
    it anew and the step's part is gone, so the step's scripts run again after any run of
    theirs — the others' only when what they produced changed."""
    own = set(written_by(ws, step.step_id))
    found = []
    for dep in step.depends_on:
        if dep not in ws.steps or not own:
            continue
        manifest = ws.steps[dep].manifest
        theirs = {out.rstrip("/") for out in (manifest.outputs if manifest else ())}
        theirs.update(written_by(ws, dep))
        if any(within(path, theirs) for path in own):
            found.append(dep)
    return found


def output_changes(ws: Workspace, step_id: str) -> tuple[list[str], list[str]]:
    """The outputs the step's tests read in their latest run here (declared, or written by
    a step's scripts) whose content changed since: (changed — edited by hand, rewritten by
    scripts run again: its tests must run again; rewritten by a later run of a step that
    depends on this one — a database each step extends — which only a whole-suite session
    can check). What the last passing whole-suite session read for the same test result
    is no change."""
    outputs_read, key = _outputs_read(ws.run_file(step_id, TEST_FILE))
    if not outputs_read:
        return [], []
    changed: list[str] = []
    later: list[str] = []
    runs: list[ImplementResult] | None = None
    suite: dict[str, str] | None = None
    for path, digest in sorted(outputs_read.items()):
        now = digest_of(ws.root, path)
        if now == digest:
            continue
        if suite is None:
            suite = _suite_outputs(ws, step_id, key)
            runs = [run for other in dependents_of(ws, step_id) for run in runs_here(ws, other)]
        if now == suite.get(path):
            continue
        if any(run.written_digests.get(path) == now for run in runs or ()):
            later.append(path)
        else:
            changed.append(path)
    return changed, later


def outputs_not_as_written(ws: Workspace, step_id: str) -> list[str]:
    """The files the step's scripts wrote in their latest run here that are there, but as no
    run of the steps' scripts here left them (edited by hand, rewritten by a step's tests),
    or as a run of scripts that changed since left them (an earlier version of a step's
    script, since put back); not extended by a later step's current scripts, as the plan's
    order does. For a step that failed: verifying it again runs its scripts first, where
    running its tests again alone would fail the same way."""
    local = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
    if local is None or local.outcome != "passed" or not local.written_digests:
        return []
    changed = {
        path: now
        for path, digest in sorted(local.written_digests.items())
        if digest not in NO_CONTENT and (now := digest_of(ws.root, path)) not in (digest, MISSING)
    }
    odd = not_as_left(ws, changed, scripts_only=True)
    return sorted(
        {
            *odd,
            *(p for p in changed if p not in odd and _left_by_changed_scripts(ws, p, changed[p])),
        }
    )


def _left_by_changed_scripts(ws: Workspace, path: str, digest: str) -> bool:
    """Whether the file is as the latest run here of some step's scripts left it, and those
    scripts (or what they read) changed since that run: what an earlier version wrote."""
    runs = (read_implement(ws.run_file(sid, IMPLEMENT_FILE)) for sid in ws.steps)
    return any(
        run is not None
        and run.written_digests.get(path) == digest
        and not still_holds(ws.root, run.inputs)
        for run in runs
    )


def ran_here(ws: Workspace, step_id: str) -> bool:
    """Whether the step's scripts last ran here for real, not its record taken: its verdict
    stands on that run (and its tests' evidence), not on its record alone."""
    return (
        ws.run_file(step_id, IMPLEMENT_FILE).is_file()
        and not ws.run_file(step_id, ACCEPTED_FILE).is_file()
    )


def foreign_reason(foreign: list[str]) -> str:
    """Why a record is not taken over these outputs ('' for none: see foreign_outputs)."""
    if not foreign:
        return ""
    them = "them" if len(foreign) > 1 else "it"
    return (
        f"{listed_paths(foreign)} there, not as a run of the steps' scripts here left {them} "
        f"(another run's?): its tests run on {them}"
    )


def foreign_outputs(
    ws: Workspace, step_id: str, record: StepRecord, left: dict[str, set[str]] | None = None
) -> list[str]:
    """The files among what the step's scripts write and what its tests read of the outputs
    (per its record) that are there but not as a run of the steps' scripts here (or of
    their tests) left them: another branch's run left one, a CI cache of a fresh clone's
    run was restored over it, the local state was deleted. The record stands on what the
    scripts make, not on those: it is not taken. (What is not there yet is made by the
    first run that needs it: see pocflow.reuse.replay.) ``left``: where to keep left_here
    for the next step's question (worked out here when empty and needed)."""
    step = ws.steps[step_id]
    paths = {
        *(out for out in (step.manifest.outputs if step.manifest else ()) if out[-1:] != "/"),
        *(record.implement.written if record.implement else ()),
        *(record.test.reads_outputs if record.test else ()),
    }
    present = {}
    for path in sorted(paths):
        if kind_of(path) != "file":
            continue
        now = digest_of(ws.root, path)
        if now not in NO_CONTENT:
            present[path] = now
    return not_as_left(ws, present, left)


def not_as_left(
    ws: Workspace,
    present: dict[str, str],
    left: dict[str, set[str]] | None = None,
    scripts_only: bool = False,
) -> list[str]:
    """Of these files (path -> its digest now), those no run here left as they are
    (left_here). ``left``: where to keep left_here for the next question (worked out here
    when empty and needed)."""
    if not present:
        return []
    if left is None:
        left = left_here(ws, scripts_only)
    elif not left:
        left.update(left_here(ws, scripts_only))
        left.setdefault("", set())  # (worked out, whatever it holds)
    return [path for path, now in present.items() if now not in left.get(path, ())]


def left_here(ws: Workspace, scripts_only: bool = False) -> dict[str, set[str]]:
    """Each output file -> the contents (digests) runs here left it with: the latest run of
    each step's scripts (for real, or replayed), of any PoC of the project, and (unless
    ``scripts_only``) the latest run of each step's tests (what they wrote, or read as it
    was)."""
    pocs = project_workspaces(ws.root) if len(ws.settings.pocs) > 1 else [ws]
    left: dict[str, set[str]] = {}
    for one in pocs:
        for sid in one.steps:
            # (a record taken keeps what the run it took over left: reuse.accept)
            runs = [read_implement(one.run_file(sid, n)) for n in (REPLAY_FILE, IMPLEMENT_FILE)]
            for run in (r for r in runs if r is not None and r.outcome == "passed"):
                for path, digest in run.written_digests.items():
                    if path not in run.updated_foreign:
                        left.setdefault(path, set()).add(digest)
            if scripts_only:
                continue
            read, _ = _outputs_read(one.run_file(sid, TEST_FILE))
            for path, digest in read.items():
                left.setdefault(path, set()).add(digest)
    return left


def outputs_changed(ws: Workspace, step_id: str) -> str:
    """Why the step's tests must run again for the outputs they read ('' when they need
    not): see output_changes."""
    changed, _ = output_changes(ws, step_id)
    if not changed:
        return ""
    them = "them" if len(changed) > 1 else "it"
    now = {path: digest_of(ws.root, path) for path in changed}
    gone = all(digest == MISSING for digest in now.values())
    # a file gone, or as no run of the steps' scripts here left it (edited by hand): its
    # writer's scripts write it again; one a run left as it is (a prerequisite verified
    # again) needs only this step's tests
    odd = [p for p, d in now.items() if d == MISSING] + not_as_left(
        ws, {p: d for p, d in now.items() if d != MISSING}, scripts_only=True
    )
    writers = sorted({sid for path in odd for sid in _writers_of(ws, path)})
    again = (
        f" (`uv run doit run --reverify {' '.join(f'step:{w}' for w in writers)}` writes "
        f"{them} again)"
        if writers
        else ""
    )
    return (
        f"{listed_paths(changed)} {'gone' if gone else 'changed'} since its tests "
        f"read {them}{again}"
    )


#: how many paths a message names before it says how many more there are
PATHS_SHOWN = 3


def listed_paths(paths: Iterable[str]) -> str:
    """'a, b, c and 2 more': the first few paths, and how many more (the workspace's own
    folder, a listing key '' or '/', as './')."""
    paths = [path if path.strip("/") else "./" for path in paths]
    shown = ", ".join(paths[:PATHS_SHOWN])
    return shown + (f" and {len(paths) - PATHS_SHOWN} more" if len(paths) > PATHS_SHOWN else "")


def left_by_tests_reason(ws: Workspace, record: StepRecord) -> str:
    """Why a record is not taken over the outputs its tests read that are not there and that
    no step's scripts write — a file another step's tests left, or an earlier run of the
    scripts: where they were there, the tests passed on them; where they are not (a fresh
    clone), no replay brings them back, and the record is no evidence of how the tests do
    without them. '' when there are none."""
    reads = record.test.reads_outputs if record.test is not None else []
    missing = [path for path in reads if digest_of(ws.root, path) == MISSING]
    gone = [path for path in missing if not _writers_of(ws, path)]
    if not gone:
        return ""
    them = "them" if len(gone) > 1 else "it"
    return (
        f"{listed_paths(gone)}, which its tests read, not there, and no step's scripts write "
        f"{them} (tests, or an earlier run, left {them}): its tests run without {them}"
    )


class FileWriters(dict[str, set[str]]):
    """Each file the steps' scripts write -> those steps (script_writers), and whether it
    was filled in: steps whose scripts write nothing leave it empty, and it is filled once
    all the same (looked for afresh at each step, it cost every step's look at every
    other's)."""

    filled = False


def script_writers(ws: Workspace, writers: FileWriters, records: bool = False) -> FileWriters:
    """Each file the steps' scripts write -> those steps, from what each step's latest run
    here produced (a small file each) and its declared outputs; with ``records``, for a
    step that has not run here, what its record says it wrote. Filled in once per run
    (``writers``: the run's, not filled until then)."""
    if writers.filled:
        return writers
    writers.filled = True
    for sid, step in ws.steps.items():
        paths = list(produced_here(ws, sid))
        if records and not paths:
            paths = written_by(ws, sid)
        declared = [o.rstrip("/") for o in (step.manifest.outputs if step.manifest else ())]
        for path in (*paths, *declared):
            writers.setdefault(path, set()).add(sid)
    return writers


class ScriptMade:
    """Each file the steps' scripts wrote -> the contents their latest runs here (for real or
    replayed) left it with: read once per run from each step's small `produced.json`, then
    kept current with every one this process writes as scripts run (PRODUCED_LOG)."""

    def __init__(self) -> None:
        self.made: dict[str, set[str]] = {}
        self.applied = -1  # how much of PRODUCED_LOG is in (-1: not read yet)

    def of(self, ws: Workspace) -> dict[str, set[str]]:
        """The files and contents, as of now."""
        if self.applied < 0:
            self.applied = len(PRODUCED_LOG)
            for sid in ws.steps:
                self._add(produced_here(ws, sid))
        runs = str(ws.root / ws.settings.state_dir)
        for path, written in PRODUCED_LOG[self.applied :]:
            if str(path).startswith(runs):
                self._add(written)
        self.applied = len(PRODUCED_LOG)
        return self.made

    def _add(self, written: dict[str, str]) -> None:
        for path, digest in written.items():
            self.made.setdefault(path, set()).add(digest)


def produced_here(ws: Workspace, step_id: str) -> dict[str, str]:
    """What the step's latest run of its scripts here wrote, each file and its fingerprint
    (its `produced.json`; empty when there is none, or it is not what pocflow writes)."""
    produced = read_json(ws.run_file(step_id, PRODUCED_FILE)) or {}
    written = produced.get("written")
    if not isinstance(written, dict):
        return {}
    return {p: d for p, d in written.items() if isinstance(p, str) and isinstance(d, str)}


def tests_made(ws: Workspace, result: TestResult, made: dict[str, set[str]]) -> dict[str, str]:
    """The outputs the tests read as no run of the steps' scripts here left them (another
    step's tests changed them first), fingerprinted as read, as a record keeps them. Not
    those its own tests wrote (what is kept of those is what they left, not what they
    read), and only what every step's `produced.json` read afresh confirms (a worker of
    `doit -n` does not see what another wrote)."""
    own = {*result.tests_wrote, *result.rewrote_read}
    found = {
        path: digest
        for path, digest in sorted(result.outputs_read.items())
        if kind_of(path) == "file"
        and path not in own
        and digest not in NO_CONTENT
        and digest not in made.get(path, ())
    }
    if found:
        afresh = ScriptMade().of(ws)
        found = {path: d for path, d in found.items() if d not in afresh.get(path, ())}
    return {path: held_digest(digest) for path, digest in found.items()}


def tests_made_reason(ws: Workspace, record: StepRecord) -> str:
    """Why a record is not taken over what its tests read as other tests had made it: that
    content is not there (a fresh clone has what the scripts make, not what tests make of
    it). '' when it is, or when they read none."""
    made = record.test.reads_test_made if record.test is not None else {}
    gone = [path for path, then in made.items() if held_digest(digest_of(ws.root, path)) != then]
    if not gone:
        return ""
    them, are = ("them", "they are") if len(gone) > 1 else ("it", "it is")
    return (
        f"{listed_paths(gone)} not as its tests read {them}, as tests had made {them} of what "
        f"the scripts wrote: its tests run on {them} as {are}"
    )


def left_by_tests_here(
    ws: Workspace, step_id: str, result: TestResult, writers: FileWriters
) -> str:
    """Why a step whose tests passed here will not pass in a fresh clone: they read outputs
    that no step's scripts write (another step's tests left them, or an earlier version of
    the scripts), which a clone does not have. '' when there are none."""
    written = set(script_writers(ws, writers))
    orphans = [path for path in result.reads_outputs if not within(path, written)]
    if orphans:  # steps taken from their records have no produced.json: the prerequisites'
        deps = prerequisites_first(ws, list(ws.steps[step_id].depends_on))
        written.update(path for dep in deps for path in written_by(ws, dep))
        orphans = [path for path in orphans if not within(path, written)]
    orphans = [path for path in orphans if not _writers_of(ws, path)]  # (rare: every step's)
    if not orphans:
        return ""
    them = "them" if len(orphans) > 1 else "it"
    return (
        f"step {step_id}'s tests read {listed_paths(orphans)}, which no step's scripts write "
        f"(tests, or an earlier run of the scripts, left {them}): a fresh clone does not have "
        f"{them}, and the step's tests run there without {them}; have a step's script write "
        f"{them}, or keep {them} as data"
    )


def undeclared_reads(
    ws: Workspace,
    step_id: str,
    result: ImplementResult,
    by_poc: dict[int | None, FileWriters],
) -> str:
    """Why the plan should say the step depends on another: its scripts read a file that
    the scripts of a step it does not depend on write, in its PoC or another (in plan order
    here, it may pass; in a fresh clone, that step's record is taken and the file is not
    there). '' when none. ``by_poc``: the run's map, per PoC, of each file the steps' scripts
    write -> those steps, filled in when first needed and kept up to date with this result."""
    writers = by_poc.setdefault(ws.poc, FileWriters())
    script_writers(ws, writers, records=result.outcome != "passed")
    for path in result.written:
        writers.setdefault(path, set()).add(step_id)
    ahead = {step_id, *prerequisites_first(ws, list(ws.steps[step_id].depends_on))}
    found = {
        path: sorted(writers[path] - ahead, key=step_sort_key)
        for path in result.observed
        if path in writers and writers[path] - ahead
    }
    if not found:
        return _read_from_another_poc(ws, step_id, result, by_poc)
    writer = next(iter(found.values()))[0]
    return (
        f"step {step_id}'s scripts read {listed_paths(found)}, which step {writer}'s scripts "
        f"write, and step {step_id} does not depend on step {writer}: add '**Depends On**: "
        f"Step {writer}' to step {step_id} in {ws.settings.plan}"
    )


def _read_from_another_poc(
    ws: Workspace,
    step_id: str,
    result: ImplementResult,
    by_poc: dict[int | None, FileWriters],
) -> str:
    """Why a step's scripts should not read what another PoC's scripts write: no Depends
    On crosses PoCs, and a fresh clone takes that PoC's records without writing it."""
    if len(ws.settings.pocs) < 2:
        return ""
    for other in project_workspaces(ws.root):
        if other.settings.poc == ws.settings.poc:
            continue
        writers = script_writers(other, by_poc.setdefault(other.poc, FileWriters()))
        found = sorted(path for path in result.observed if path in writers)
        if found:
            writer = sorted(writers[found[0]], key=step_sort_key)[0]
            return (
                f"step {step_id}'s scripts read {listed_paths(found)}, which the scripts of "
                f"PoC {other.settings.poc} step {writer} write: a step depends on steps of its "
                f"own PoC only, and a fresh clone takes PoC {other.settings.poc}'s records "
                "without writing it; keep what this PoC needs as data, or write it in one of "
                "its own steps"
            )
    return ""


def _writers_of(ws: Workspace, path: str) -> list[str]:
    """The steps whose scripts write the file: it is a declared output of theirs, or their
    latest run here wrote it."""
    found = []
    for sid, step in ws.steps.items():
        declared = {out.rstrip("/") for out in (step.manifest.outputs if step.manifest else ())}
        if within(path, declared) or path in written_by(ws, sid):
            found.append(sid)
    return found


def script_outputs_changed(ws: Workspace, step_id: str) -> str:
    """Why the step's scripts must run again for the outputs of other steps they read in
    their latest run here (ImplementResult.outputs_read): one changed since, and not as
    running the plan in order leaves it — edited by hand, rewritten by a step before this
    one (a prerequisite left out of the plan's Depends On), or replaced whole by a step
    after it. A step depending on this one, or a later step updating the file (a database
    each step extends), changes it as the plan's order does: no reason (else the steps
    would run each other again without end). '' when there is none."""
    own = ws.run_file(step_id, IMPLEMENT_FILE)
    local = read_implement(own)
    if local is None or not local.outputs_read:
        return ""
    changed = []
    for path, digest in sorted(local.outputs_read.items()):
        if digest_of(ws.root, path) != digest and not _changed_in_order(ws, step_id, path, own):
            changed.append(path)
    if not changed:
        return ""
    writers = sorted({sid for path in changed for sid in _writers_of(ws, path.rstrip("/"))})
    by = f" (written by step {', '.join(writers)})" if writers else ""
    them = "them" if len(changed) > 1 else "it"
    return f"{listed_paths(changed)} changed since its scripts read {them}{by}"


def _changed_in_order(ws: Workspace, step_id: str, path: str, than: Path) -> bool:
    """Whether what is at path now is what a step the plan runs after step_id left there,
    keeping what was there: its scripts' latest run here came after step_id's (``than``: its
    implement result) and left path as it is now (a folder: its listing), and it depends
    on step_id, or comes later in the plan and updated the file rather than writing it
    anew. A hand edit since, or a step that only declares the path among its outputs, is
    not."""
    key = path.rstrip("/")
    now = digest_of(ws.root, path)
    order = list(ws.steps)
    later: set[str] | None = None
    for sid in _writers_of(ws, key):
        if sid == step_id or not _newer(ws.run_file(sid, IMPLEMENT_FILE), than):
            continue
        writer = read_implement(ws.run_file(sid, IMPLEMENT_FILE))
        if writer is None:
            continue
        left = writer.folders_left if path.endswith("/") else writer.written_digests
        if left.get(path) != now:
            continue  # what is there now is not what its run left
        if later is None:
            later = set(dependents_of(ws, step_id))
        if sid in later:
            return True
        if order.index(sid) > order.index(step_id) and not within(key, set(writer.written_first)):
            return True
    return False


def outputs_of_another_run(ws: Workspace, step_id: str) -> str:
    """Why what the step's scripts wrote here is not what its record stands on: their
    latest run here (for real, not the record taken) was on other files than there are now
    — an experiment undone with `git checkout` — and what it wrote is still there; ''
    when not. The record is not taken then: the scripts run again and write it anew."""
    if ws.run_file(step_id, ACCEPTED_FILE).is_file():
        return ""
    local = read_implement(ws.run_file(step_id, IMPLEMENT_FILE))
    if local is None or not local.written or still_holds(ws.root, local.inputs):
        return ""
    there = [path for path in local.written if (ws.root / path).exists()]
    if not there:
        return ""
    return f"{listed_paths(there)} written here by its scripts run on other files"


def awaiting_suite(ws: Workspace) -> list[str]:
    """The steps whose tests read an output that a step depending on them rewrote since:
    the gate tests them again rather than stand on its record (pocflow.gate.gate_holds,
    pocflow.gate._test_again_for_outputs)."""
    return [sid for sid in ws.steps if output_changes(ws, sid)[1]]


def note_suite_outputs(ws: Workspace, suite: dict[str, TestResult]) -> None:
    """Keep what each step's tests read of the outputs in a session the gate ran (its
    whole-suite session, or its session of the steps whose outputs changed), for the steps
    whose tests passed there: evidence that they pass on those outputs too (steps sharing a
    file: the session ran after every step wrote its part) — as long as everything else
    they read there is as it was (a data file an output names: see _suite_outputs)."""
    path = ws.root / ws.session_dir(GATE_SESSION) / SUITE_OUTPUTS_FILE
    noted = read_json(path) or {}
    for sid, result in suite.items():
        local = read_test(ws.run_file(sid, TEST_FILE))
        noted.pop(sid, None)
        read = {k: v for k, v in result.outputs_read.items() if v != CHANGED_DURING_RUN}
        if result.outcome == "passed" and local is not None and read:
            noted[sid] = {"key": local.key, "outputs": read, "inputs": dict(result.inputs)}
    atomic_write_text(path, json.dumps(noted, sort_keys=True), durable=False)


def _outputs_read(path: Path) -> tuple[dict[str, str], str]:
    """(outputs_read, key) of a local test result, kept per process while the file's
    stamp is the same: every status of every step asks (a run file lists every test)."""
    try:
        now = stamp(path.stat())
    except OSError:
        return outputs_read_here(path), ""  # what `doit clean` kept of it
    known = _OUTPUTS_READ.get(str(path))
    if known is None or known[0] != now:
        local = read_test(path)
        found = (local.outputs_read, local.key) if local is not None else ({}, "")
        known = _OUTPUTS_READ[str(path)] = (now, found)
    return known[1]


#: each local test result's outputs_read and key, by the file's stamp
_OUTPUTS_READ: dict[str, tuple[tuple[int, ...], tuple[dict[str, str], str]]] = {}


def _suite_outputs(ws: Workspace, step_id: str, key: str) -> dict[str, str]:
    """What the step's tests read of the outputs in the last session of the gate's that
    passed them, when that session stood on the same test result of the step as now
    (``key``: the result's) and everything it read — outputs, and the files they led the
    tests to — is still as it was then: what it proved holds only on those ({} else)."""
    noted = read_json(ws.root / ws.session_dir(GATE_SESSION) / SUITE_OUTPUTS_FILE) or {}
    entry = noted.get(step_id)
    if not isinstance(entry, dict) or entry.get("key") != key or not key:
        return {}
    outputs, inputs = entry.get("outputs"), entry.get("inputs")
    if not isinstance(outputs, dict) or not isinstance(inputs, dict):
        return {}  # noted before the inputs were: proves nothing now
    return outputs if still_holds(ws.root, {**inputs, **outputs}) else {}


def _ran_since(
    ws: Workspace,
    step_id: str,
    noted: object,
    than: Path,
    name: str = IMPLEMENT_FILE,
    replays: bool = False,
) -> bool:
    """Whether the step's scripts really ran here (with ``replays``, or were replayed: see
    pocflow.reuse.replay) since ``noted`` (the content of their run file ``name`` then:
    _runs_digest for IMPLEMENT_FILE) or, where nothing was noted, since ``than`` was
    written."""
    path, replay = ws.run_file(step_id, name), ws.run_file(step_id, REPLAY_FILE)
    replayed = replays and replay.is_file()
    real = path.is_file() and not ws.run_file(step_id, ACCEPTED_FILE).is_file()
    if not (real or replayed):
        return False
    if isinstance(noted, str):
        if name != IMPLEMENT_FILE:
            return noted != file_digest(path)
        if replays:
            return noted != _runs_digest(ws, step_id)
        return real and noted.partition("+")[0] != file_digest(path)
    return (real and _newer(path, than)) or (replayed and _newer(replay, than))


def _runs_digest(ws: Workspace, step_id: str) -> str:
    """What the step's latest runs of its scripts here were: its implement result (a real
    run, or its record taken), and '+' its latest replay's where there is one."""
    runs = file_digest(ws.run_file(step_id, IMPLEMENT_FILE))
    replay = ws.run_file(step_id, REPLAY_FILE)
    return f"{runs}+{file_digest(replay)}" if replay.is_file() else runs


def _newer(path: Path, than: Path) -> bool:
    try:
        return path.stat().st_mtime_ns > than.stat().st_mtime_ns
    except OSError:
        return True


def no_record_reason(ws: Workspace, step_id: str) -> str:
    """Why a step has no record to take: never verified, or a file there that is no record
    (truncated, edited, of another format)."""
    path = ws.record_path(step_id)
    folder = record_place_problem(ws.root, path)
    if folder:
        return folder
    if os.path.lexists(ws.root / path):
        return f"{path} is not a record pocflow can read; verifying the step again"
    kept = gone_record(ws, step_id)
    if kept is not None:
        return (
            f"its record {path} is gone (verified here {kept.verified_at[:10]}): the next run "
            "writes it again, verifying the step again where what it stood on changed"
        )
    return "never verified"


def gone_record(ws: Workspace, step_id: str) -> StepRecord | None:
    """The record the step was last verified with here, when its committed record is gone
    (deleted, or not checked out): the next run writes it again. None when the record is
    there, or the step was not verified here."""
    if (ws.root / ws.record_path(step_id)).exists():
        return None
    kept = read_step_record(ws.run_file(step_id, VERIFIED_FILE))
    step = ws.steps.get(step_id)
    if kept is None or not kept.is_verified or step is None:
        return None
    # the step of this id that was verified here, not another one given its id since (the
    # old step removed from the plan, a new one added under the same number)
    return kept if kept.name == step.name else None


def acceptance(
    ws: Workspace,
    step_id: str,
    cache: ImportCache | None = None,
    phase: str = IMPLEMENT,
    installed_anew: bool = False,
) -> Acceptance:
    """The step's committed record is taken (by the task of this phase) when it says
    verified and still holds, no run here failed on the same files, no script it stands on
    ran here since, the packages installed are those the phase last ran with here (else
    ``installed_anew``), and re-verification is not forced; else why not."""
    if reverify_forced():
        return Acceptance(None, ("re-verification forced",))
    if installed_anew:
        return Acceptance(None, ("the installed packages changed since it last ran here",))
    failure = local_failure(ws, step_id)
    if failure:
        return Acceptance(None, (failure,))
    record = read_step_record(ws.root / ws.record_path(step_id))
    if record is None:
        return Acceptance(None, (no_record_reason(ws, step_id),))
    if not record.is_verified:
        scripts = record.implement is not None and record.implement.outcome != "passed"
        return Acceptance(None, (f"{'its scripts ' if scripts else ''}failed when last verified",))
    if record.implement is None or record.test is None:
        return Acceptance(None, ("never verified",))
    changed = (
        outputs_changed(ws, step_id)
        if phase == TEST
        else outputs_of_another_run(ws, step_id) or script_outputs_changed(ws, step_id)
    )
    if changed:
        return Acceptance(None, (changed,))
    if phase == TEST and outputs_read_by_other_tests(ws.run_file(step_id, TEST_FILE), record.test):
        return Acceptance(
            None,
            ("its tests last ran here on other files: they run to see which outputs they read",),
        )
    foreign = foreign_reason(foreign_outputs(ws, step_id, record))
    if foreign:
        return Acceptance(None, (foreign,))
    left_by_tests = left_by_tests_reason(ws, record) or tests_made_reason(ws, record)
    if left_by_tests:
        return Acceptance(None, (left_by_tests,))
    ran = scripts_ran_since(ws, ws.steps[step_id], tests=phase == TEST, replays=False)
    if ran:
        return Acceptance(
            None,
            (
                "its scripts ran again here since its tests"
                if ran == step_id
                else f"the scripts of step {ran} ran again here since",
            ),
        )
    found = changes_since(ws, ws.steps[step_id], record, cache)
    return Acceptance(record) if found.holds else Acceptance(None, tuple(found.reasons()))
