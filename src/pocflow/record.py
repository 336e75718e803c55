"""The per-step record of a run: what each phase did, on which inputs, with what verdict.

Three files per step. The implement and test phases each leave a result in the local state
folder; the state phase joins them into the step's verification record, which is committed.
Documents are rendered from these records only, never from a second look at the disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pocflow._fs import atomic_write_text, read_json, stamp
from pocflow.documents import unwritable
from pocflow.errors import DocumentError
from pocflow.fingerprint import file_digest
from pocflow.layout import OUTPUTS_READ_FILE, PROVEN_DIR, PROVEN_KEPT
from pocflow.redact import mask_record

if TYPE_CHECKING:
    from pocflow.workspace import Workspace

#: 2: inputs include what the step really read (observed), outcomes read strictly
RECORD_FORMAT = 2
#: a field's metadata key: the field is kept in local run files, never in committed records
LOCAL = "local"
#: a field's metadata key: written only when it holds something (a field added to records:
#: a record written before it, read and written again, keeps its bytes)
SPARSE = "sparse"
_T = TypeVar("_T")


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class ScriptRun:
    """One script run of the implement phase."""

    path: str
    exit_code: int | None
    duration_s: float
    log: str
    timed_out: bool = False


@dataclass
class PhaseResult:
    """What every phase result says: outcome, why it failed, when, and on which inputs."""

    step_id: str
    outcome: str  # "passed" | "failed"
    message: str
    started_at: str
    finished_at: str
    duration_s: float


@dataclass
class ImplementResult(PhaseResult):
    """What the implement phase did."""

    scripts: list[ScriptRun] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    thresholds: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    manual: str = ""  # why the scripts were not run (the manifest's `manual`)
    replayed: list[str] = field(default_factory=list)  # upstream steps run for their outputs
    observed: list[str] = field(default_factory=list)  # input keys the scripts really read
    written: list[str] = field(default_factory=list)  # files the scripts wrote or removed
    #: each written file's fingerprint when the scripts ended (local: see
    #: pocflow.freshness.outputs_changed)
    written_digests: dict[str, str] = field(default_factory=dict, metadata={LOCAL: True})
    #: the outputs of other steps (declared, or written by their scripts) the scripts read
    #: and did not write, as they read them (local): when one changes — rewritten by a step
    #: that does not depend on this one, edited by hand — the scripts run again
    #: (pocflow.freshness.script_outputs_changed)
    outputs_read: dict[str, str] = field(default_factory=dict, metadata={LOCAL: True})
    #: what the scripts wrote before reading it (made or replaced whole, not updated; local)
    written_first: list[str] = field(default_factory=list, metadata={LOCAL: True})
    #: each folder the scripts wrote into ("out/"), its listing as they left it (local): a
    #: folder another step's scripts list is as this step left it only while it holds
    folders_left: dict[str, str] = field(default_factory=dict, metadata={LOCAL: True})
    #: outputs another run had left (pocflow.freshness.foreign_outputs) that the scripts
    #: updated rather than wrote anew (local): what they left holds that run's part, and is
    #: not what a record of a step reading it stands on (pocflow.freshness.left_here)
    updated_foreign: list[str] = field(default_factory=list, metadata={LOCAL: True})


@dataclass
class TestCase:
    """One test as pytest reported it."""

    __test__ = False  # not a pytest test class, despite its name

    nodeid: str
    outcome: str
    duration_s: float
    message: str = ""


@dataclass
class TestGroup:
    """The outcomes of the tests of one test file, or of one test class (``file::Class``)."""

    __test__ = False  # not a pytest test class, despite its name

    name: str
    counts: dict[str, int]


@dataclass
class TestResult(PhaseResult):
    """What the test phase found. A local run file holds every test (``tests``); a committed
    record holds their outcomes per file or class (``groups``), a digest of every test id
    and outcome, and the failing tests only (pocflow.record.summarized)."""

    __test__ = False  # not a pytest test class, despite its name

    files: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    tests: list[TestCase] = field(default_factory=list)
    groups: list[TestGroup] = field(default_factory=list)
    tests_digest: str = ""
    collection_errors: list[str] = field(default_factory=list)
    exit_code: int | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    key: str = ""  # digest of everything the result stands on (see pocflow.batch)
    observed: list[str] = field(default_factory=list)  # input keys the session really read
    config: dict[str, Any] = field(default_factory=dict)  # pytest's config file and plugins
    #: the outputs (declared, or written by a step's scripts) the tests read, fingerprinted
    #: as read: not inputs, and local (a fresh clone makes them anew), but a step whose tests
    #: read one that changed since is tested again (pocflow.observed.outputs_read)
    outputs_read: dict[str, str] = field(default_factory=dict, metadata={LOCAL: True})
    #: which outputs those are (committed: where a record is taken, each that is there must
    #: be as a run of the steps' scripts here left it — pocflow.freshness.foreign_outputs)
    reads_outputs: list[str] = field(default_factory=list)
    #: of those, the ones whose content as read no run of the steps' scripts here had left
    #: (another step's tests had changed it), fingerprinted as read (committed: where a
    #: record is taken, each must be there as read — pocflow.freshness.tests_made_reason)
    reads_test_made: dict[str, str] = field(default_factory=dict, metadata={SPARSE: True})
    #: the outputs its tests wrote themselves (local): what is kept of those as read is what
    #: they left, which says nothing of what other tests made
    tests_wrote: list[str] = field(default_factory=list, metadata={LOCAL: True})
    #: how many of its tests' teardowns failed (a fixture's finalizer: in a shared session,
    #: a session fixture's is reported on the last test, whichever step's; pocflow.batch)
    teardowns_failed: int = field(default=0, metadata={LOCAL: True})
    #: variables its tests read that another step's tests had set in the same session (its
    #: verdict may stand on those having run first: pocflow.batch has it run alone)
    read_others_env: list[str] = field(default_factory=list, metadata={LOCAL: True})
    #: outputs its tests changed after reading them: it passed on them as they were, not as
    #: they are now (pocflow.batch runs its tests once more on them)
    rewrote_read: list[str] = field(default_factory=list, metadata={LOCAL: True})
    #: a criterion its session's exit status was judged by over every test it ran (pytest-
    #: cov's fail-under, a hook that set it): met beside other steps' tests, it says nothing
    #: of these alone
    judged_as_a_whole: str = field(default="", metadata={LOCAL: True})
    #: why pytest stopped the shared session before any of its failing tests ran (``-x``:
    #: "stopping after 1 failures"): it failed there for another step's failure
    stopped_before: str = field(default="", metadata={LOCAL: True})

    @property
    def failing(self) -> list[TestCase]:
        """Tests that failed, errored or never finished."""
        return [t for t in self.tests if t.outcome in ("failed", "error", "not finished")]


@dataclass
class StepRecord:
    """The committed verification record of one step."""

    step_id: str
    name: str
    verdict: str  # "verified" | "failed"
    verified_at: str
    message: str
    implement: ImplementResult | None
    test: TestResult | None
    inputs: dict[str, str]
    environment: dict[str, str]
    results_doc: str
    first_verified_at: str = ""
    durations: dict[str, float] = field(default_factory=dict)  # seconds per phase
    settings: str = ""  # digest of the settings both phases ran with (pocflow.freshness)
    format: int = RECORD_FORMAT

    @property
    def is_verified(self) -> bool:
        """Whether the record says the step passed every phase."""
        return self.verdict == "verified"


#: what changes from one run to the next without changing what a record proves
_VOLATILE = (
    "completed_at",
    "verified_at",
    "first_verified_at",
    "durations",
    "started_at",
    "finished_at",
    "duration_s",
    "replayed",
    "exit_code",
    "key",
)


def evidence(record: StepRecord | GateRecord) -> dict[str, Any]:
    """What a record proves: itself without its times, durations and run bookkeeping."""

    def strip(data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if k not in _VOLATILE}

    proof = strip(plain(record))
    for phase, items in (("implement", "scripts"), ("test", "tests")):
        if proof.get(phase) is not None:
            proof[phase] = strip(proof[phase])
            proof[phase][items] = [strip(item) for item in proof[phase].get(items, [])]
    return proof


def plain(obj: Any, local: bool = False) -> Any:
    """A result or record as plain data for JSON: what ``dataclasses.asdict`` gives, without
    its deep copies (a record's input fingerprints are thousands of strings), and without
    the fields only a local run file keeps unless ``local``."""
    if obj is None or isinstance(obj, (str, int, float)):  # most of it: asked first
        return obj
    if is_dataclass(obj):
        names, sparse = _field_names(obj, local)
        return {
            name: plain(value, local)
            for name in names
            if (value := getattr(obj, name)) or name not in sparse
        }
    if isinstance(obj, dict):
        if all(type(value) is str for value in obj.values()):
            return dict(obj)
        return {key: plain(value, local) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(item, local) for item in obj]
    return obj


#: (dataclass, local) -> the names of the fields ``plain`` writes, and of those written only
#: when not empty
_FIELD_NAMES: dict[tuple[type, bool], tuple[tuple[str, ...], frozenset[str]]] = {}


def _field_names(obj: Any, local: bool) -> tuple[tuple[str, ...], frozenset[str]]:
    """The fields of a result or record that ``plain`` writes, and those it writes only when
    they hold something (SPARSE) (``dataclasses.fields`` builds its answer anew on each
    call: thousands of calls in a fresh clone's acceptance)."""
    found = _FIELD_NAMES.get((type(obj), local))
    if found is None:
        chosen = [f for f in fields(obj) if local or not f.metadata.get(LOCAL)]
        found = _FIELD_NAMES[(type(obj), local)] = (
            tuple(f.name for f in chosen),
            frozenset(f.name for f in chosen if f.metadata.get(SPARSE)),
        )
    return found


def to_json(obj: Any, local: bool = False) -> str:
    """Stable JSON text (sorted keys, final newline) of a record, two-space indented for the
    people who read and diff it — or, ``local``, of a local run file, compact (written for
    every phase of every step, often: json's C encoder only serves text without indent)
    — with every secret value masked."""
    data = mask_record(plain(obj, local))
    indent = None if local else 2
    text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False)
    if not text.isascii() and not _encodable(text):
        # a file name that is not UTF-8 (os.fsdecode's surrogate escapes: b"\xff" is
        # "\udcff"): JSON's escapes spell it, and it reads back as the same name
        text = json.dumps(data, indent=indent, sort_keys=True)
    return text + "\n"


def _encodable(text: str) -> bool:
    """Whether text can be written as UTF-8 (holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def proven_path(folder: Path, record: StepRecord | GateRecord) -> Path:
    """Where a run folder keeps a record by what it proves (pocflow.layout.PROVEN_DIR)."""
    proof = json.dumps(evidence(record), sort_keys=True, default=str)
    return folder / PROVEN_DIR / f"{hashlib.sha256(proof.encode()).hexdigest()[:16]}.json"


def keep_proven(folder: Path, record: StepRecord | GateRecord, text: str) -> None:
    """Keep a verified record's bytes by what it proves (the newest PROVEN_KEPT)."""
    path = proven_path(folder, record)
    write_unless_held(path, text)
    os.utime(path)  # (the newest is the one proved last)
    kept = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in kept[PROVEN_KEPT:]:
        old.unlink(missing_ok=True)


def write_record(path: Path, obj: Any) -> None:
    """Write a committed record atomically and durably."""
    try:
        atomic_write_text(path, to_json(obj))
    except IsADirectoryError:
        raise DocumentError(folder_in_place(path)) from None
    except OSError as exc:
        raise DocumentError(unwritable(path, exc)) from None


def folder_in_place(relpath: Path | str) -> str:
    """The one line for a folder where pocflow writes a step's record."""
    return f"{relpath}: a folder, where pocflow writes the step's record: move it away"


def record_place_problem(root: Path, relpath: str) -> str:
    """Why pocflow cannot write a record at relpath (a folder is there); '' when it can."""
    path = root / relpath
    return folder_in_place(relpath) if path.is_dir() and not path.is_symlink() else ""


def write_unless_held(path: Path, text: str) -> None:
    """Write a local run file atomically unless it holds that text already (its
    modification time then says when it last changed)."""
    if text_of(path) != text:
        atomic_write_text(path, text, durable=False)


def text_of(path: Path) -> str | None:
    """A file's text; None when absent, unreadable or a link."""
    try:
        return None if path.is_symlink() else path.read_text(encoding="utf-8")
    except OSError:
        return None


def write_produced(path: Path, produced: dict[str, Any]) -> None:
    """Write what a step's scripts produced (pocflow.layout.PRODUCED_FILE): its bytes stay
    the same while the files they wrote do, so a step depending on it runs again only when
    they change (a prerequisite that failed and was fixed back to the same outputs)."""
    write_unless_held(path, json.dumps(produced, sort_keys=True))
    PRODUCED_LOG.append((path, dict(produced.get("written") or {})))


#: every produced.json this process wrote, in order, with what it says was written: what a
#: run knows of the steps' script outputs stays current as scripts run
#: (pocflow.freshness.ScriptMade)
PRODUCED_LOG: list[tuple[Path, dict[str, str]]] = []


def write_run_file(path: Path, obj: Any, unless_held: bool = False) -> None:
    """Write a local run file (a phase result in the state folder) atomically; with
    ``unless_held``, only when it does not hold that already (a fresh clone's acceptance
    writes each step's test result in its implement phase, and its test phase takes the
    same: making a file costs far more than reading one)."""
    text = to_json(obj, local=True)
    if not unless_held or text_of(path) != text:
        atomic_write_text(path, text, durable=False)


def outputs_read_by_other_tests(path: Path, test: TestResult) -> bool:
    """Whether the local test result at path saw the step's tests read outputs while they
    stood on other inputs than ``test`` does (an experiment since undone): what those tests
    read says nothing of what these read."""
    local = read_test(path)
    return local is not None and bool(local.outputs_read) and local.inputs != test.inputs


def read_implement(path: Path) -> ImplementResult | None:
    """Read an implement result; None when absent or unreadable."""
    data = read_json(path)
    if data is None or not isinstance(data.get("scripts", []), list):
        return None
    data["scripts"] = [_build(ScriptRun, s) for s in data.get("scripts", [])]
    return None if None in data["scripts"] else _build(ImplementResult, data)


def read_test(path: Path) -> TestResult | None:
    """Read a test result; None when absent or unreadable."""
    data = read_json(path)
    if data is None:
        return None
    return test_result_from(data)


def outputs_read_here(path: Path) -> dict[str, str]:
    """What the step's tests read of the outputs in their latest run here: from the local
    test result at path, or, once `doit clean` removed it, from what it kept."""
    local = read_test(path)
    if local is not None:
        return dict(local.outputs_read)
    kept = read_json(path.with_name(OUTPUTS_READ_FILE))
    if not isinstance(kept, dict):
        return {}
    return {str(k): str(v) for k, v in kept.items() if isinstance(v, str)}


def read_step_record(path: Path) -> StepRecord | None:
    """Read a verification record; None when absent or unreadable.

    Kept per process while the file's size, modification time and inode are unchanged
    (PROJECT_STATE.md is refreshed after every step, from every step's record).
    """
    try:
        info = path.lstat()
    except OSError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return None  # pocflow writes records as files: a link (to anywhere) is not followed
    known = _RECORDS.get(str(path))
    now = stamp(info)
    if known is None or known[0] != now:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        known = _RECORDS[str(path)] = (now, text)
    return _read_step_record(known[1])


#: the text of each record read, by stamp: parsing a fresh copy is cheaper than copying one
_RECORDS: dict[str, tuple[tuple[int, ...], str]] = {}


def _read_step_record(text: str) -> StepRecord | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        return None
    try:
        if data.get("implement") is not None:
            implement = dict(data["implement"])
            if not isinstance(implement.get("scripts", []), list):
                return None
            implement["scripts"] = [_build(ScriptRun, s) for s in implement.get("scripts", [])]
            if None in implement["scripts"]:
                return None
            data["implement"] = _build(ImplementResult, implement)
            if data["implement"] is None:
                return None
        if data.get("test") is not None:
            data["test"] = test_result_from(data["test"])
            if data["test"] is None:
                return None
    except (TypeError, ValueError, AttributeError):
        return None  # a field of the wrong shape (a hand edit, a bad merge): not a record
    return _build(StepRecord, data)


def test_result_from(data: dict[str, Any]) -> TestResult | None:
    """A TestResult from its JSON form; None when it does not fit."""
    if not isinstance(data, dict):
        return None
    data = dict(data)
    for name, kind in (("tests", TestCase), ("groups", TestGroup)):
        items = data.get(name, [])
        if not isinstance(items, list):
            return None
        data[name] = [_build(kind, item) for item in items]
        if None in data[name]:
            return None
    return _build(TestResult, data)


#: a committed record names at most this many failing tests (its counts say how many fail),
#: each with at most this many characters of its message
FAILING_KEPT = 50
MESSAGE_KEPT = 500


def grouped_outcomes(test: TestResult) -> list[TestGroup]:
    """The outcomes per test file or test class, in the order pytest ran them: the record's
    own, else counted from its tests."""
    if test.groups or not test.tests:
        return test.groups
    groups: dict[str, TestGroup] = {}
    for case in test.tests:
        parts = case.nodeid.split("::")
        name = "::".join(parts[:2]) if len(parts) > 2 else parts[0]
        group = groups.setdefault(name, TestGroup(name, {}))
        group.counts[case.outcome] = group.counts.get(case.outcome, 0) + 1
    return list(groups.values())


def summarized(test: TestResult) -> TestResult:
    """The test result as a committed record keeps it: a few KB whatever the number of
    tests. The outcomes per file or class and a digest of every test id and outcome stand
    for the tests; only the failing ones are named. Each test's details stay in the local
    run file."""
    if test.groups or not test.tests:  # already summarized, or no test ran
        return test
    ids = hashlib.sha256()
    for case in test.tests:
        ids.update(f"{case.nodeid}\0{case.outcome}\n".encode())
    failing = [
        TestCase(c.nodeid, c.outcome, c.duration_s, c.message[:MESSAGE_KEPT])
        for c in test.failing[:FAILING_KEPT]
    ]
    return replace(test, tests=failing, groups=grouped_outcomes(test), tests_digest=ids.hexdigest())


def _build(cls: type[_T], data: Any) -> _T | None:
    """An instance of a record dataclass from its JSON form; None when it does not fit: an
    unknown or missing field (written by another version), or a field of another type
    (edited by hand, merged badly) — treated as absent, so the step is verified again."""
    if not isinstance(data, dict):
        return None
    try:
        built = cls(**data)
    except TypeError:
        return None
    return built if _fits(built) else None


def _fits(obj: Any) -> bool:
    """Whether each field holds its declared kind of value (str, int, dict, list, ...)."""
    for name, kinds in _field_kinds(type(obj)).items():
        if not isinstance(getattr(obj, name), kinds):
            return False
    return True


def _field_kinds(cls: type) -> dict[str, tuple[type, ...]]:
    """Each field's accepted runtime types, from its annotation (``X | None`` and
    ``dict[str, str]`` become (X, NoneType) and (dict,); a float field takes an int)."""
    known = _KINDS.get(cls)
    if known is not None:
        return known
    kinds: dict[str, tuple[type, ...]] = {}
    for name, hint in typing.get_type_hints(cls).items():
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        accepted: list[type] = []
        for option in options:
            origin = typing.get_origin(option) or option
            if origin is Any:
                accepted = [object]
                break
            accepted.append(type(None) if option is None else origin)
            if origin is float:
                accepted.append(int)
        kinds[name] = tuple(accepted)
    _KINDS[cls] = kinds
    return kinds


_KINDS: dict[type, dict[str, tuple[type, ...]]] = {}


def compose_record(
    step_id: str,
    name: str,
    results_doc: str,
    implement: ImplementResult | None,
    test: TestResult | None,
    previous: StepRecord | None = None,
    environment: dict[str, str] | None = None,
    settings: str = "",
) -> StepRecord:
    """Join the phases' results into the step's record; verified only if both passed.

    ``first_verified_at`` is carried over from the previous record, so the PoC's start date
    survives re-verification. When the new record proves what the previous one proved (same
    verdict, inputs, settings, environment, tests and metrics: only times differ), the
    previous record is returned unchanged, so a committed record changes only when what it
    proves changes, and the steps that depend on it are not made stale by a mere re-run.
    """
    passed = (
        implement is not None
        and implement.outcome == "passed"
        and test is not None
        and test.outcome == "passed"
    )
    message = ""
    if implement is None:
        message = "the implement phase has not run"
    elif implement.outcome != "passed":
        message = implement.message
    elif test is None:
        message = "the test phase has not run"
    elif test.outcome != "passed":
        message = test.message
    test = summarized(test) if test is not None else None
    inputs = dict(implement.inputs if implement else {})
    inputs.update(test.inputs if test else {})
    finished = [r.finished_at for r in (implement, test) if r is not None]
    verified_at = max(finished) if finished else now_iso()
    first = previous.first_verified_at if previous is not None else ""
    if not first and passed:
        first = verified_at
    durations = {
        phase: result.duration_s
        for phase, result in (("implement", implement), ("test", test))
        if result is not None
    }
    record = StepRecord(
        step_id=step_id,
        name=name,
        verdict="verified" if passed else "failed",
        verified_at=verified_at,
        message=message,
        implement=implement,
        test=test,
        inputs=inputs,
        environment=dict(environment or {}),
        results_doc=results_doc,
        first_verified_at=first,
        durations=durations,
        settings=settings,
    )
    if (
        previous is not None
        and previous.is_verified
        and record.is_verified
        and evidence(previous) == evidence(record)
    ):
        return previous
    return record


@dataclass
class GateRecord:
    """The committed record of the last passing poc-complete: every step's test counts, and
    whether they come from one session that ran all of them together (``one_session``;
    records written before the field existed always did)."""

    completed_at: str
    duration_s: float
    counts: dict[str, dict[str, int]]
    records: str = ""  # digest of every step record the suite passed on (records_digest)
    environment: dict[str, str] = field(default_factory=dict)
    one_session: bool = True
    format: int = RECORD_FORMAT


def read_gate_record(path: Path) -> GateRecord | None:
    """Read the gate's record; None when absent or unreadable."""
    data = read_json(path)
    if data is None or data.get("format") != RECORD_FORMAT:
        return None
    return _build(GateRecord, data)


def records_digest(ws: Workspace) -> str:
    """A digest of every step's verification record as it is on disk now (sha256 over each
    step's id and record bytes). Computed once per process while every record keeps its
    content fingerprint (pocflow.fingerprint: size, times and inode, else its content)."""
    paths = [(step_id, ws.root / ws.record_path(step_id)) for step_id in ws.steps]
    now = tuple(file_digest(path) for _, path in paths)
    key = (str(ws.root), ws.settings.poc)
    known = _DIGESTS.get(key)
    if known is not None and known[0] == now:
        return known[1]
    digest = hashlib.sha256()
    for step_id, path in paths:
        digest.update(
            step_id.encode()
            + b"\0"
            + (path.read_bytes() if path.is_file() and not path.is_symlink() else b"")
        )
    _DIGESTS[key] = (now, digest.hexdigest())
    return digest.hexdigest()


#: (workspace, PoC) -> (each record's content fingerprint, the records' digest)
_DIGESTS: dict[tuple[str, int], tuple[tuple[str, ...], str]] = {}


def project_records_digest(pocs: list[Workspace]) -> str:
    """records_digest of every PoC of the project (PROJECT_STATE.md shows them all)."""
    if len(pocs) == 1:
        return records_digest(pocs[0])
    # and each PoC's gate record and results doc: a line of PROJECT_STATE.md says complete
    parts = [
        records_digest(one)
        + file_digest(one.root / one.gate_record_path)
        + file_digest(one.root / one.poc_results_doc)
        for one in pocs
    ]
    return hashlib.sha256("".join(parts).encode()).hexdigest()
