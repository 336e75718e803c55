"""The test phase: run step tests under pytest with pytest-json-report, one verdict per step.

The phase sits behind ``TestRunner``: it takes several steps' test selections at once and
returns one ``TestResult`` per step, so the tests of many steps can share one pytest session
and still be judged step by step. Tests are attributed to a step by their file.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pocflow._forkserver import CRASHED, UNFAITHFUL
from pocflow._fs import read_json
from pocflow._observe import KERNEL_WATCHES
from pocflow._proc import (
    LiveEcho,
    bound_file,
    die_with_parent,
    follow_file,
    in_main_thread,
    live_terminal,
)
from pocflow.fingerprint import fingerprint
from pocflow.layout import PYTEST_LOG, SELECTION_FILE
from pocflow.observed import (
    Facts,
    attribute,
    changed_by_run,
    child_environ,
    early_message,
    merge_inputs,
    not_read_by_the_step,
    observer_command,
    observer_skips,
    outputs_read,
    pytest_keys,
    read_facts,
    reads_what_others_set,
    refresh_bytecode,
    settle,
    writers,
)
from pocflow.record import TestCase, TestResult, now_iso
from pocflow.redact import redact_bytes, secret_values
from pocflow.settings import kernel_watched

FAILURE_NAMES_SHOWN = 5
#: the pytest plugins pocflow loads into every session: one limits it to the selected test
#: files, the other writes down what happened (outcomes, subtests, config, contexts)
SELECT_PLUGIN = Path(__file__).with_name("_select.py")
SESSION_PLUGIN = Path(__file__).with_name("_session.py")
FACTS_FILE = "facts.jsonl"
#: the log of a forked session that crashed outside pytest, kept beside the session run again
CRASH_LOG = "pytest.crashed.log"
#: the lines of a session's log a message shows when the session ended before it finished
LOG_TAIL_LINES = 10
#: pytest's exit codes other than 0 (all passed) and 1 (some failed)
EXIT_MEANINGS = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}


@dataclass(frozen=True)
class TestSelection:
    """One step's tests, and the inputs whose fingerprints its verdict stands on."""

    __test__ = False  # not a pytest test class, despite its name

    step_id: str
    files: tuple[str, ...]
    inputs: tuple[str, ...]
    #: files that are outputs (the step's, its upstream steps', declared ones): never inputs
    not_inputs: tuple[str, ...] = ()
    #: what the step's tests read the last time they ran (their modules' bytecode is checked)
    observed_before: tuple[str, ...] = ()


class TestRunner(Protocol):
    """Runs the tests of one or more steps; returns a verdict per step."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    def run(
        self, root: Path, selections: Sequence[TestSelection], report_dir: Path
    ) -> dict[str, TestResult]:
        """Run every selection's files; one result per selection's step id."""


class PytestJsonRunner:
    """One pytest session over all the selections given, its JSON report split per step by file.

    ``isolation`` says how the session is started. ``"fork"`` asks a warm fork server
    (pocflow._forkserver, one per process, in which pytest and its plugins were imported
    once) to fork a child for it: a step's session then costs what its tests cost, not a
    Python and pytest start-up, and it still runs in a fresh process of its own, so one
    step's tests never see another's. ``"subprocess"`` starts `python -m pytest`.
    ``"auto"`` is ``"fork"`` on Linux, else ``"subprocess"``. Either way the session's
    sys.path is the `pytest` command's: the workspace folder is not on it unless the
    project's settings or conftest.py files put it there (`python -m pytest` would).
    """

    def __init__(
        self, isolation: str = "auto", concurrent: bool = False, pocflows: Iterable[str] = ()
    ) -> None:
        self.isolation = isolation
        #: the files pocflow writes: read only as the kernel reports it, not the steps' reads
        #: (pocflow.observed.not_read_by_the_step)
        self.pocflows = frozenset(pocflows)
        #: other sessions may run beside this one's (`doit -n`): what it sees of a file its
        #: own tests wrote is not only theirs (pocflow.observed.outputs_read)
        self.concurrent = concurrent

    def run(
        self, root: Path, selections: Sequence[TestSelection], report_dir: Path
    ) -> dict[str, TestResult]:
        """Run every selection's files in one pytest session."""
        started, start = now_iso(), time.monotonic()
        inputs = {s.step_id: fingerprint(root, list(s.inputs)) for s in selections}
        files = sorted({f for s in selections for f in s.files})
        report: dict[str, Any] = {}
        facts = Facts()
        exit_code: int | None = None
        output = ""
        if files:
            refresh_bytecode(root, {k for s in selections for k in (*s.inputs, *s.observed_before)})
            report_dir.mkdir(parents=True, exist_ok=True)
            report_file = report_dir / "pytest-report.json"
            report_file.unlink(missing_ok=True)
            facts_file = report_dir / FACTS_FILE
            facts_file.unlink(missing_ok=True)
            log = report_dir / PYTEST_LOG
            listing = report_dir / SELECTION_FILE
            for made in (log, listing):  # written anew, never through a link put there
                made.unlink(missing_ok=True)
            listing.write_text(selection_listing(files, selections), encoding="utf-8")
            cache_dir = tempfile.mkdtemp(prefix="pocflow-pytest-cache-")
            # the folders, not the files: see pocflow._select
            args = [
                *_covering_folders(files),
                f"--pocflow-select={listing}",
                f"--pocflow-facts={facts_file}",
                # (not -q: a test asking for the verbosity gets what plain pytest gives)
                # pytest's cache (the `cache` fixture, --lf): an empty one each session, as
                # in a fresh clone, outside the workspace (what a test keeps there is no
                # input any run could stand on)
                "-o",
                f"cache_dir={cache_dir}",
                "--continue-on-collection-errors",
                "--json-report",
                f"--json-report-file={report_file}",
                "--json-report-omit",
                "log",
                "streams",
                "keywords",
                "warnings",
                f"--rootdir={root}",
            ]
            session = _forked_session if uses_fork(self.isolation) else _subprocess_session
            terminal = live_terminal()  # doit --verbosity 2: show the session as it runs
            done = threading.Event()
            follower = (
                follow_file(log, LiveEcho(terminal, "  [pytest] "), done)
                if terminal is not None
                else None
            )
            try:
                # coverage's data (pytest-cov in addopts) beside pytest's cache: a file the
                # session reads and rewrites whenever it runs is no input of any test
                own = {"COVERAGE_FILE": os.path.join(cache_dir, ".coverage")}
                exit_code = session(root, args, log, facts_file, own)
            finally:  # an interrupted session's log is masked too
                shutil.rmtree(cache_dir, ignore_errors=True)
                done.set()
                if follower is not None:
                    follower.join(timeout=5)
                bound_file(log)  # bounded and masked, like every log
            if secret_values() and report_file.is_file():
                report_file.write_bytes(redact_bytes(report_file.read_bytes()))
            output = log.read_bytes()[-20000:].decode("utf-8", errors="replace")
            report = read_json(report_file) or {}
            facts = read_facts(facts_file, pytest_session=True)
        duration = round(time.monotonic() - start, 3)
        shares = _shares(report, selections)
        owners = {s.step_id: s.files for s in selections}
        read = attribute(facts, owners)
        wrote, others_wrote = writers(facts, owners, read)
        seen_env = child_environ(facts)
        common = pytest_keys(facts)
        results = {}
        grouped = SessionFacts.of(facts)
        memo: dict[str, str] = {}
        changed = changed_by_run(root, facts)  # once for the session, not once a step
        outside = not_read_by_the_step(facts, self.pocflows)
        elsewhere = rootdir_elsewhere(root)
        for selection in selections:
            sid = selection.step_id
            keys = (read.get(sid, set()) | set(common)) - outside
            observed = settle(
                root,
                facts,
                keys,
                selection.not_inputs,
                seen_env,
                memo=memo,
                changed=changed,
                produced=selection.not_inputs,
            )
            result = judge(
                selection,
                shares[sid],
                grouped,
                exit_code,
                output,
                started,
                duration,
                merge_inputs(inputs[sid], observed),
            )
            if elsewhere and result.outcome == "passed":
                result.outcome, result.message = "failed", f"step {sid}: {elsewhere}"
            result.observed = sorted(observed)
            rewritten: set[str] = set()
            result.outputs_read = outputs_read(
                root,
                facts,
                keys,
                selection.not_inputs,
                memo,
                wrote[sid],
                others_wrote[sid],
                concurrent=self.concurrent,
                rewritten=rewritten,
            )
            result.rewrote_read = sorted(rewritten)
            result.tests_wrote = sorted(wrote[sid])
            result.reads_outputs = sorted(result.outputs_read)
            if len(selections) > 1:
                result.read_others_env = reads_what_others_set(facts, selection.files)
                result.judged_as_a_whole = _judged_as_a_whole(facts) or _skipped_by_others(
                    facts, selection.files
                )
                result.stopped_before = _stopped_before(result, facts)
            result.config = {
                "inipath": facts.config.get("inipath"),
                "plugins": [f"{n}=={v}" for n, v in facts.config.get("plugins", [])],
            }
            results[sid] = result
        unplaced = exit_code == 1 and files and all(r.outcome == "passed" for r in results.values())
        whole = str(facts.config.get("whole") or "")
        for result in results.values() if unplaced else ():
            result.outcome, result.exit_code = "failed", exit_code
            result.message = (
                f"step {result.step_id}: pytest exited with code 1 but reported no "
                "failing test of the session's steps; see "
                f"{_display(root, report_dir / 'pytest.log')}"
            )
            if whole and len(selections) == 1:
                result.message = (
                    f"step {result.step_id}: its tests pass, but {whole} is not met by them "
                    f"alone (as plain `pytest {' '.join(result.files)}` runs them); see "
                    f"{_display(root, report_dir / 'pytest.log')}; give the threshold to "
                    "the whole suite's run only (CI's `pytest --cov-fail-under=N`), not in "
                    "addopts"
                )
        return results


def selection_listing(files: list[str], selections: Sequence[TestSelection]) -> str:
    """What pocflow._select reads: the session's test files, one per line, then (after a
    line ``--``) each step's files, tab-separated, one step per line: what each step's
    tests are shown of the command line (`pytest <its files>`)."""
    groups = ["\t".join(s.files) for s in selections if s.files]
    return "\n".join([*files, GROUPS_MARK, *groups]) + "\n"


#: the line of a selection listing after which each step's files follow (pocflow._select
#: spells it too: it imports nothing of pocflow)
GROUPS_MARK = "--"


def _display(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _covering_folders(files: list[str]) -> list[str]:
    """The fewest folders that hold every file (none inside another)."""
    folders = sorted({str(Path(f).parent) for f in files}, key=lambda f: (f.count("/"), f))
    chosen: list[str] = []
    for folder in folders:
        if not any(folder == c or c == "." or folder.startswith(c + "/") for c in chosen):
            chosen.append(folder)
    return chosen


def _shares(report: dict[str, Any], selections: Sequence[TestSelection]) -> dict[str, Any]:
    """Each step's share of the report: its files' tests and collectors (one pass over the
    report, not one per step)."""
    owner = {f: s.step_id for s in selections for f in s.files}
    shares: dict[str, dict[str, Any]] = {
        s.step_id: {**report, "tests": [], "collectors": []} if report else {} for s in selections
    }
    for key in ("tests", "collectors") if report else ():
        for entry in report.get(key, []):
            step_id = owner.get(_file_of(entry["nodeid"]))
            if step_id is not None:
                shares[step_id][key].append(entry)
    return shares


def uses_fork(isolation: str) -> bool:
    """Whether a session with this isolation setting goes to the fork server."""
    if isolation == "subprocess" or not hasattr(os, "fork"):
        return False
    return isolation == "fork" or sys.platform.startswith("linux")


def _subprocess_session(
    root: Path, args: list[str], log: Path, facts: Path, env: dict[str, str]
) -> int:
    kernel = ["--kernel"] if kernel_watched() else []
    command = observer_command(root, facts, ["--module", "pytest", *kernel])
    with log.open("wb") as handle:
        done = subprocess.run(
            [*command, "-p", "pocflow._select", "-p", "pocflow._session", *args],
            cwd=root,
            env={**os.environ, **env},
            preexec_fn=die_with_parent,  # (SIGKILL of pocflow)
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return done.returncode


class _ForkServer:
    """The client side of pocflow._forkserver: one server per process that asks for one."""

    _servers: ClassVar[dict[int, _ForkServer]] = {}

    def __init__(self) -> None:
        # tied to the main thread's life only: doit's thread workers come and go
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_forkserver.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent if in_main_thread() else None,
        )

    @classmethod
    def get(cls) -> _ForkServer:
        """This process's server, started on first use (doit's -n workers get their own)."""
        server = cls._servers.get(os.getpid())
        if server is None or server.process.poll() is not None:
            server = cls._servers[os.getpid()] = cls()
        return server

    def session(
        self, root: Path, args: list[str], log: Path, facts: Path, env: dict[str, str]
    ) -> int | None:
        """Run one session; None when the server is gone (the caller falls back)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request = (
            json.dumps(
                {
                    "cwd": str(root),
                    "args": args,
                    "log": str(log),
                    # the whole environment of the session, as a plain `pytest` started now
                    # from this process would have it (not the one the server started with)
                    "env": {**os.environ, **env},
                    "plugins": [str(SELECT_PLUGIN), str(SESSION_PLUGIN)],
                    "observe": {
                        "root": str(root),
                        "out": str(facts),
                        "skip": observer_skips(root),
                        "kernel": kernel_watched(),
                    },
                }
            )
            + "\n"
        )
        try:
            self.process.stdin.write(request.encode("utf-8"))
            self.process.stdin.flush()
            reply = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            return None
        except BaseException:  # interrupted: the session (which dies with the server) too
            self.process.kill()
            self.process.wait()
            raise
        if not reply:
            return None
        return int(json.loads(reply)["code"])


def prestart(isolation: str) -> None:
    """Start this process's fork server early, so that it warms up while scripts run."""
    if uses_fork(isolation):
        _ForkServer.get()


def _forked_session(
    root: Path, args: list[str], log: Path, facts: Path, env: dict[str, str]
) -> int:
    """A session in the fork server; in a plain subprocess when the server is gone, its
    child failed outside pytest (the child's log kept as CRASH_LOG), or a module the server
    had loaded would have been a workspace file in a plain session (UNFAITHFUL): the verdict
    is then the plain session's, which shows the failure again if it was the session's own."""
    code = _ForkServer.get().session(root, args, log, facts, env)
    if code == CRASHED:
        log.replace(log.with_name(CRASH_LOG))
        facts.unlink(missing_ok=True)
    elif code == UNFAITHFUL:  # a module it had loaded would be a workspace file here
        facts.unlink(missing_ok=True)
    elif code is not None:
        return code
    return _subprocess_session(root, args, log, facts, env)


@dataclass
class SessionFacts:
    """What the session's plugin wrote, grouped by test file (one pass, not one per step)."""

    facts: Facts
    items: dict[str, list[str]]  # test file -> collected node ids
    reports: dict[str, dict[str, list[dict[str, Any]]]]  # file -> node id -> reports
    deselected: dict[str, list[str]]

    @classmethod
    def of(cls, facts: Facts) -> SessionFacts:
        items: dict[str, list[str]] = {}
        for nodeid in facts.items or []:
            items.setdefault(_file_of(nodeid), []).append(nodeid)
        reports: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for fact in facts.reports:
            nodeid = str(fact["report"])
            reports.setdefault(_file_of(nodeid), {}).setdefault(nodeid, []).append(fact)
        deselected: dict[str, list[str]] = {}
        for nodeid in facts.deselected:
            deselected.setdefault(_file_of(nodeid), []).append(nodeid)
        return cls(facts, items, reports, deselected)


def judge(
    selection: TestSelection,
    report: dict[str, Any],
    session: Facts | SessionFacts,
    exit_code: int | None,
    output: str,
    started: str,
    duration: float,
    inputs: dict[str, str],
) -> TestResult:
    """The verdict of one step, read strictly: from what pytest reported of each of the
    step's tests (subtests included), pytest's exit code and its JSON report.

    The step passes only when every test collected for it has a final outcome, none failed
    (no subtest either), at least one passed, none was deselected, and pytest exited 0 (or
    1, in a session shared with steps whose tests did fail)."""
    grouped = session if isinstance(session, SessionFacts) else SessionFacts.of(session)
    facts = grouped.facts
    own = set(selection.files)
    cases_seen = [_case(t) for t in report.get("tests", []) if _file_of(t["nodeid"]) in own]
    messages = {case.nodeid: case.message for case in cases_seen}
    durations = {case.nodeid: case.duration_s for case in cases_seen}
    collected = [i for f in selection.files for i in grouped.items.get(f, [])]
    reports: dict[str, list[dict[str, Any]]] = {}
    for f in selection.files:
        reports.update(grouped.reports.get(f, {}))
    cases, subtests = [], {"passed": 0, "failed": 0}
    torn = 0
    for nodeid in collected + [n for n in reports if n not in collected]:
        outcome, sub = _outcome(reports.get(nodeid, []))
        torn += any(
            r.get("when") == "teardown" and r.get("outcome") == "failed" and not r.get("sub")
            for r in reports.get(nodeid, [])
        )
        for key in subtests:
            subtests[key] += sub[key]
        cases.append(
            TestCase(
                nodeid=nodeid,
                outcome=outcome,
                duration_s=durations.get(nodeid, 0.0),
                message=messages.get(nodeid, "") or _sub_message(sub),
            )
        )
    errors = [
        _collection_error(c["nodeid"], str(c.get("longrepr", "")))
        for c in report.get("collectors", [])
        if c.get("outcome") == "failed" and _file_of(c["nodeid"]) in own
    ]
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    counts["total"] = len(cases)
    if subtests["passed"] or subtests["failed"]:
        counts["subtests passed"] = subtests["passed"]
        counts["subtests failed"] = subtests["failed"]
    deselected = [i for f in selection.files for i in grouped.deselected.get(f, [])]
    if deselected:
        counts["deselected"] = len(deselected)
    result = TestResult(
        step_id=selection.step_id,
        outcome="passed",
        message="",
        started_at=started,
        finished_at=now_iso(),
        duration_s=duration,
        files=list(selection.files),
        counts=counts,
        tests=cases,
        collection_errors=errors,
        exit_code=exit_code,
        inputs=inputs,
        teardowns_failed=torn,
    )
    result.message = _problem(
        selection, result, facts, report, exit_code, output, deselected
    ) or _left_out(selection, report, grouped, collected, deselected)
    if result.message:
        result.outcome = "failed"
    elif exit_code == 1:  # another step of the session failed: this step's part passed
        result.exit_code = 0
    return result


def _left_out(
    selection: TestSelection,
    report: dict[str, Any],
    grouped: SessionFacts,
    collected: list[str],
    deselected: list[str],
) -> str:
    """Why a step's part of a session shared with other steps' files does not stand: tests
    collected from its files that the session neither ran nor deselected — a hook that
    changes what runs (`pytest_collection_modifyitems`) by what else the session holds, which
    `pytest <its file>` would run. '' when every collected test ran or was deselected, or
    the session held the step's files alone (then it is what plain pytest does)."""
    own = set(selection.files)
    if not set(grouped.items) - own:
        return ""
    collectors = report.get("collectors", [])
    parents = {str(c.get("nodeid")) for c in collectors}
    found = {
        str(child.get("nodeid"))
        for c in collectors
        if c.get("outcome") == "passed" and _file_of(str(c.get("nodeid"))) in own
        for child in c.get("result", [])
        if "::" in str(child.get("nodeid")) and str(child.get("nodeid")) not in parents
    }
    dropped = sorted(found - set(collected) - set(deselected))
    if not dropped:
        return ""
    return (
        f"step {selection.step_id}: {len(dropped)} test(s) collected from its files were left "
        f"out of the session shared with other steps' tests, neither run nor deselected "
        f"({dropped[0]}): a hook changes what runs by what the session holds; it runs alone"
    )


def rootdir_elsewhere(root: Path) -> str:
    """Why pocflow's sessions, rooted at the workspace (their own --rootdir, given last),
    would not run the tests as plain `pytest` does: PYTEST_ADDOPTS names another rootdir;
    '' when it names none or the workspace."""
    given = _rootdir_given(os.environ.get("PYTEST_ADDOPTS", ""))
    if given is None or (root / given).resolve() == root.resolve():
        return ""
    return (
        f"PYTEST_ADDOPTS gives --rootdir={given}, so plain `pytest` roots its session "
        "there, while pocflow's sessions are rooted at the workspace; leave --rootdir out "
        "of PYTEST_ADDOPTS (or give the workspace)"
    )


def _rootdir_given(addopts: str) -> str | None:
    """The --rootdir that options as PYTEST_ADDOPTS gives them name (the last one), if any."""
    try:
        words = shlex.split(addopts)
    except ValueError:
        return None  # pytest itself refuses them: the session says so
    given = None
    for word, following in itertools.pairwise([*words, ""]):
        if word.startswith("--rootdir="):
            given = word.partition("=")[2]
        elif word == "--rootdir" and following:
            given = following
    return given


def _judged_as_a_whole(facts: Facts) -> str:
    """What a shared session's exit status was judged by over all its tests, which may not
    hold of one step's tests alone: pytest-cov's fail-under, or a hook that set it."""
    if facts.config.get("whole"):
        return str(facts.config["whole"])
    if facts.config.get("exit_set"):
        return f"a hook that set the session's exit status ({facts.config['exit_set']})"
    if facts.config.get("whole_args"):
        return str(facts.config["whole_args"])  # (the file, and what it read or was told)
    if facts.config.get("session_plugins"):
        return f"the plugins {facts.config['session_plugins']} registers for the whole session"
    return ""


def _skipped_by_others(facts: Facts, files: Sequence[str]) -> str:
    """Which of the step's files had tests skipped (or marked to fail) by code outside their
    own module in a shared session: a conftest hook or fixture that may decide by what else
    the session holds; '' when none."""
    skipped = set(facts.config.get("skipped_by") or ())
    hit = [f for f in files if f in skipped]
    return f"tests of {hit[0]} whose outcome code outside it decided" if hit else ""


def _stopped_before(result: TestResult, facts: Facts) -> str:
    """Why pytest stopped the session before the step's tests ran, when that is the only
    thing wrong with them there (none failed, none failed to be collected); else ''."""
    stopped = str(facts.config.get("stopped") or "")
    if not stopped or result.outcome == "passed" or result.collection_errors:
        return ""
    return "" if any(c.outcome in ("failed", "error") for c in result.tests) else stopped


def _problem(
    selection: TestSelection,
    result: TestResult,
    facts: Facts,
    report: dict[str, Any],
    exit_code: int | None,
    output: str,
    deselected: list[str],
) -> str:
    """Why the step's tests do not pass; '' when they do."""
    sid = selection.step_id
    cases = result.tests
    unfinished = [c for c in cases if c.outcome == "not finished"]
    ended = f"pytest exit code {exit_code}" + (
        f", {EXIT_MEANINGS[exit_code]}" if exit_code in EXIT_MEANINGS else ""
    )
    if not selection.files:
        return (
            f"step {sid} has no test file; add tests/test_step{sid}_"
            "<description>.py with at least one test"
        )
    tail = "\n".join(output.strip().splitlines()[-LOG_TAIL_LINES:])
    if facts.config.get("no_terminal"):
        return (
            f"step {sid}: pytest's terminal plugin is off (-p no:terminal), and pocflow's "
            "sessions need it to report each test (pytest-json-report); leave it on in "
            "pytest's settings"
        )
    if facts.items is None and not report:
        return f"step {sid}: pytest ended ({ended}) before it collected any test" + (
            f":\n{tail}" if tail else ""
        )
    inipath = str(facts.config.get("inipath") or "")
    if inipath.startswith("/"):
        return (
            f"step {sid}: pytest took its configuration from {inipath}, outside the "
            "workspace; put the settings in the workspace (pytest.ini, or [tool.pytest] in "
            "pyproject.toml) so that a run here and a run elsewhere agree"
        )
    if "/" in inipath:
        # plain pytest roots its session at the folder of the settings file it takes
        # (config.rootpath, and node ids, paths and plugins that start from it), pocflow's
        # sessions at the workspace: the two runs would differ where a test looks there
        folder = inipath.rpartition("/")[0]
        return (
            f"step {sid}: pytest takes its settings from {inipath}, so plain `pytest` runs "
            f"these tests with {folder}/ as its rootdir, while pocflow's sessions are rooted "
            "at the workspace; keep pytest's settings at the workspace root (pyproject.toml "
            "[tool.pytest.ini_options], pytest.ini or pytest.toml there)"
        )
    if facts.early:
        return early_message(sid, facts.early, "the tests")
    if facts.kernel == "partial":
        return (
            f"step {sid}: the workspace has more folders than the kernel lets pocflow watch "
            f"(pocflow takes at most {KERNEL_WATCHES:,}; see /proc/sys/fs/inotify/"
            "max_user_watches), so what the tests read is not known; move data the steps "
            "do not read out of the workspace, or raise the limit"
        )
    if facts.kernel == "overflow":
        return (
            f"step {sid}: more files were opened in the workspace at once than the kernel "
            "could report (its inotify queue overflowed), so what the tests read is not "
            "known; split the step's tests, or have them open fewer files at a time"
        )
    workers = str(facts.config.get("workers") or "")
    if workers:
        return (
            f"step {sid}: pytest-xdist ran the tests in worker processes ({workers}), where "
            "pocflow cannot see what they read; take -n/--dist out of pytest's addopts for "
            "pocflow's sessions (pocflow batches the steps' tests itself), or run them with "
            "PYTEST_ADDOPTS='-p no:xdist'"
        )
    if facts.items is None or facts.end is None:
        return (
            f"step {sid}: the pytest session ended early ({ended}) and said nothing "
            "of the step's tests" + (f":\n{tail}" if tail else "")
        )
    if result.collection_errors:
        return (
            f"step {sid}: {len(result.collection_errors)} test file(s) failed to load:\n"
            + "\n".join(f"    {e}" for e in result.collection_errors)
        )
    if unfinished:
        shown = "\n".join(f"    {c.nodeid}" for c in unfinished[:FAILURE_NAMES_SHOWN])
        more = len(unfinished) - FAILURE_NAMES_SHOWN
        return (
            f"step {sid}: the session ended early ({ended}) before {len(unfinished)} of "
            f"its {len(cases)} tests finished:\n"
            + shown
            + (f"\n    ... and {more} more" if more > 0 else "")
        )
    if result.failing:
        shown = "\n".join(
            f"    {t.nodeid}" + (f" - {t.message}" if t.message else "")
            for t in result.failing[:FAILURE_NAMES_SHOWN]
        )
        more = len(result.failing) - FAILURE_NAMES_SHOWN
        return (
            f"step {sid}: {len(result.failing)} of {len(cases)} tests failed:\n"
            + shown
            + (f"\n    ... and {more} more" if more > 0 else "")
        )
    if deselected:
        return (
            f"step {sid}: {len(deselected)} of its tests were deselected (-k/-m in "
            "pytest's addopts or PYTEST_ADDOPTS?), e.g. "
            + deselected[0]
            + "; a step is verified on all its tests"
        )
    if not cases:
        return (
            f"step {sid}: no tests collected from {', '.join(selection.files)}; "
            "a step is verified only by tests that run"
        )
    if exit_code not in (0, 1):
        return f"step {sid}: pytest ended with {ended}; a step is verified only by a clean session"
    if not any(c.outcome in ("passed", "xpassed") for c in cases):
        kinds = ", ".join(
            f"{n} {k}"
            for k, n in sorted(result.counts.items())
            if k in ("skipped", "xfailed") and n
        )
        return (
            f"step {sid}: none of its {len(cases)} tests passed ({kinds}); a step is "
            "verified only by tests that run and pass"
        )
    return ""


#: a test's outcomes from the one that says least for it to the one that says most against
#: it: a test run more than once under one node id (a hook that repeats items, a rerun
#: plugin's tries) is what its worst run was
_SEVERITY = ("skipped", "xfailed", "passed", "xpassed", "failed", "error", "not finished")


def _outcome(reports: list[dict[str, Any]]) -> tuple[str, dict[str, int]]:
    """A test's final outcome from its reports (subtests counted), 'not finished' when its
    teardown was never reported; for a test run several times under one id (each run
    starting with its setup report), the worst of its runs'."""
    sub = {"passed": 0, "failed": 0}
    runs: list[list[dict[str, Any]]] = []
    for fact in reports:
        if fact.get("sub"):
            if fact.get("outcome") in sub:
                sub[str(fact["outcome"])] += 1
        elif fact.get("when") == "setup" or not runs:
            runs.append([fact])
        else:
            runs[-1].append(fact)
    outcomes = [_run_outcome(run, sub) for run in runs] or [_run_outcome([], sub)]
    return max(outcomes, key=_SEVERITY.index), sub


def _run_outcome(reports: list[dict[str, Any]], sub: dict[str, int]) -> str:
    """The outcome of one run of a test from its phases' reports (its subtests': ``sub``)."""
    phases = {str(fact.get("when")): fact for fact in reports}
    setup, call, teardown = (phases.get(w) for w in ("setup", "call", "teardown"))
    if teardown is None:
        return "not finished"
    if setup is None or setup["outcome"] == "failed":
        outcome = "error"
    elif setup["outcome"] == "skipped":
        outcome = "xfailed" if setup.get("xfail") else "skipped"
    elif call is None:
        return "not finished"
    elif call["outcome"] == "failed":
        outcome = "failed"
    elif call["outcome"] == "skipped":
        outcome = "xfailed" if call.get("xfail") else "skipped"
    else:
        outcome = "xpassed" if call.get("xfail") else "passed"
    if sub["failed"] and outcome not in ("error",):
        outcome = "failed"
    if teardown["outcome"] == "failed" and outcome not in ("failed",):
        outcome = "error"
    return outcome


def _sub_message(sub: dict[str, int]) -> str:
    return f"{sub['failed']} failed subtest(s)" if sub["failed"] else ""


def _case(test: dict[str, Any]) -> TestCase:
    duration = sum(
        float(test.get(p, {}).get("duration", 0.0)) for p in ("setup", "call", "teardown")
    )
    message = ""
    for phase in ("setup", "call", "teardown"):
        report = test.get(phase, {})
        crash = report.get("crash") or {}
        if report.get("outcome") == "failed":
            # (a strict xfail that passed has no crash, only its text: "[XPASS(strict)] …")
            message = _first_line(crash.get("message") or str(report.get("longrepr") or ""))
            break
    return TestCase(
        nodeid=test["nodeid"],
        outcome=test["outcome"],
        duration_s=round(duration, 4),
        message=message,
    )


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _collection_error(nodeid: str, longrepr: str) -> str:
    """A test file that failed to load, in one line: the file (and the line, where Python
    names one in that file: a syntax error) and the exception."""
    where = nodeid
    for match in re.finditer(r'File "([^"]+)", line (\d+)', longrepr):
        if match.group(1).replace(os.sep, "/").endswith("/" + nodeid) or match.group(1) == nodeid:
            where = f"{nodeid}:{match.group(2)}"
    return f"{where}: {_error_line(longrepr)}"


def _error_line(longrepr: str) -> str:
    """The exception line of a collection error ('E   ModuleNotFoundError: ...')."""
    flagged = [line[1:].strip() for line in str(longrepr).splitlines() if line.startswith("E ")]
    return flagged[-1][:200] if flagged else _first_line(longrepr)


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""
