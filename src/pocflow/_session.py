"""A pytest plugin: what really happened in a session, written for pocflow to judge.

pocflow loads it into every pytest session it runs (``--pocflow-facts=FILE``). It writes,
one JSON line each:

- ``{"reports": [[nodeid, when, outcome, is_subtest, was_xfail], ...]}``: every test report,
  subtest reports included (a failing ``subTest`` fails its test, whatever
  pytest-json-report makes of it), written when the session finishes (a session that never
  gets there leaves its tests unfinished, and so failed);
- ``{"items": [...]}`` and ``{"deselected": [...]}`` once collection is done;
- ``{"config": {...}}``: the configuration file pytest chose, the plugins it loaded (name and
  version) and the files that *could* have configured it;
- ``{"fixture": "<where>::<name>", "files": [...]}``: which test files use each fixture
  (by the node id it is defined under and its name: two files may define one name);
- ``{"outside_code": [...]}``, as the session finishes: the source files of the modules it
  loaded from outside both the workspace and the Python installation (a ``conftest.py``
  above the workspace that ``--confcutdir`` let in, a plugin module on a ``pythonpath``
  folder beside it), relative to the workspace: code its verdict stands on;
- ``{"end": exitstatus}`` when the session finishes (absent: it never finished).

With pocflow's observer (``pocflow._observe``) in the process, it also switches the
observer's context, so that every read is tagged with what caused it: ``""`` (the session:
plugins, ``conftest.py``), ``"f:<file>"`` (collecting a test file, or running one of its
tests) or ``"x:<where>::<fixture>"`` (setting up a fixture).

Self-contained (it imports nothing of pocflow), like ``pocflow._select``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest


def _beside(name: str) -> Any:
    """A module of pocflow's that imports nothing of pocflow, loaded from its file beside
    this one (this plugin imports nothing of pocflow: it runs where pocflow may not be
    importable, and a test must not find pocflow's modules loaded)."""
    spec = importlib.util.spec_from_file_location(
        f"_pocflow_{name}", Path(__file__).with_name(f"{name}.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PYTEST_CONFIG = _beside("pytest_config")  # pytest's own rules for its settings files
holds_pytest_settings = _PYTEST_CONFIG.holds_pytest_settings
#: the files pytest may take its configuration from, in every folder it looks in
CONFIG_NAMES: tuple[str, ...] = _PYTEST_CONFIG.PYTEST_CONFIG_NAMES
#: files whose mere presence in a test's folder (or above) changes the session
PACKAGE_NAMES = ("conftest.py", "__init__.py")
_STASH = pytest.StashKey["_Facts"]()


class _Facts:
    def __init__(self, path: str, root: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.root = root
        #: test reports, written together when the session ends: a session that never gets
        #: there leaves its tests unfinished, and so failed, which is what they are then
        self.reports: list[list[Any]] = []
        #: code loaded from outside the workspace as the session was configured: its stamps
        self.outside: dict[str, list[int]] = {}
        #: the module files looked at then (the look as the session ends skips them: what
        #: was found of them then is what the session stands on)
        self.looked: set[str] = set()

    def emit(self, fact: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(fact, separators=(",", ":")) + "\n").encode("utf-8"))

    def rel(self, path: Any) -> str:
        try:
            return Path(str(path)).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


#: this process's session (one pytest session per process)
_SESSION: dict[str, _Facts] = {}


def _observer() -> Any:
    return getattr(sys, "_pocflow_observer", None)


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        "--pocflow-facts",
        default=None,
        metavar="FILE",
        help="write what happened in this session to FILE (for pocflow)",
    )


class _SessionRoot:
    """Gives the session the ``fspath`` the JSON report reads as the session ends (pytest's
    ``legacypath`` plugin gives every node one; a project may turn it off: `-p
    no:legacypath`), once the tests are done, and only when there is none."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Any) -> None:
        if not hasattr(session, "fspath"):
            session.fspath = str(session.path)


class _AsPytestSet(int):
    """The session's exit status as pytest set it from its tests' outcomes, until a hook sets
    another (an int of its own, so that setting the same number shows too)."""


class _ExitStatusWatch:
    """Tells pocflow when a hook set the session's exit status while the session ended (a
    conftest's `session.exitstatus = 1`): that status is no test's, and in a session shared
    by several steps, not known to be any one step's (pocflow.batch runs each alone)."""

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: Any) -> Generator[None, Any, None]:
        before = session.exitstatus
        watched = _AsPytestSet(int(before))
        session.exitstatus = watched
        yield
        if session.exitstatus is watched:
            session.exitstatus = before
            return
        facts = _facts(session.config)
        if facts is not None and int(session.exitstatus) != 0:
            facts.emit({"exit_set": int(session.exitstatus)})


@pytest.hookimpl(trylast=True)
def pytest_configure(config: Any) -> None:
    path = config.getoption("pocflow_facts")
    if not path:
        return
    config.pluginmanager.register(_SessionRoot(), "pocflow-session-root")
    config.pluginmanager.register(_ExitStatusWatch(), "pocflow-exit-status")
    config.pluginmanager.register(_RawOutcome(), "pocflow-raw-outcome")
    facts = _Facts(path, Path(str(config.rootpath)).resolve())
    # (conftests and plugins are loaded by now)
    facts.outside = _outside_code(facts.root, config, facts.looked)
    config.stash[_STASH] = facts
    _SESSION["facts"] = facts
    plugins = _plugin_distributions(config)
    inipath = config.inipath
    # pytest falls back on a pyproject.toml without pytest settings when it finds no config
    # file: a file above the workspace would then win
    own = bool(inipath) and holds_pytest_settings(Path(str(inipath)))
    facts.emit(
        {
            "config": {
                "inipath": facts.rel(inipath) if inipath else None,
                "own": own,
                "plugins": [list(p) for p in plugins],
                "candidates": _candidates(config, facts.root),
                "workers": _workers(config),
                # (pytest-json-report, which writes the session's report, needs it)
                "no_terminal": config.pluginmanager.is_blocked("terminal"),
            }
        }
    )
    observer = _observer()
    if observer is not None:  # a config file created later would change the session
        for candidate in _candidates(config, facts.root):
            observer.read(candidate)


def _plugin_distributions(config: Any) -> list[tuple[str, str]]:
    """The name and version of each distribution that registered a plugin of this session,
    sorted; each distribution's metadata read once (pluggy reads and parses it again for its
    name and for its version, and a distribution may register several plugins)."""
    found = set()
    seen: set[int] = set()
    for _plugin, facade in config.pluginmanager.list_plugin_distinfo():
        dist = getattr(facade, "_dist", facade)  # (pluggy's DistFacade wraps it)
        if id(dist) in seen:
            continue
        seen.add(id(dist))
        metadata = dist.metadata
        found.add((metadata["name"], metadata["version"]))
    return sorted(found)


def _judged_as_a_whole(config: Any) -> str:
    """A criterion this session's exit status was judged by over all its tests together,
    which a session of one step's tests alone may not meet: pytest-cov's fail-under (the
    coverage of everything the session ran); '' when there is none."""
    coverage = config.pluginmanager.getplugin("_cov")
    options = getattr(coverage, "options", None)
    fail_under = getattr(options, "cov_fail_under", None)
    if isinstance(fail_under, (int, float)) and fail_under > 0:
        return f"pytest-cov's fail-under ({fail_under:g}%)"
    return ""


#: pytest-cov's report kinds that write to a file or folder -> coverage's setting of where
_REPORT_SETTINGS = {
    "html": "html_dir",
    "xml": "xml_output",
    "json": "json_output",
    "lcov": "lcov_output",
}


def _reports(config: Any) -> list[str]:
    """Where the session writes reports about itself, which no test reads: pytest-cov's
    (_coverage_reports) and pytest's own JUnit XML (`--junitxml out.xml`, rewritten by every
    session: as a step's input it would make every run find it changed)."""
    junit = getattr(config.option, "xmlpath", None)
    return [*_coverage_reports(config), *([str(junit)] if junit else [])]


def _coverage_reports(config: Any) -> list[str]:
    """Where pytest-cov writes the reports it was asked for (`--cov-report=html`, ...):
    coverage's own output, which it reads back (an HTML report's status.json) and rewrites
    whenever it runs; no test's input or output."""
    plugin = config.pluginmanager.getplugin("_cov")
    try:
        asked = dict(getattr(plugin.options, "cov_report", None) or {})
        settings = plugin.cov_controller.cov.config
        return [
            str(given or getattr(settings, _REPORT_SETTINGS[kind]))
            for kind, given in asked.items()
            if kind in _REPORT_SETTINGS
        ]
    except Exception:  # no pytest-cov, or one of another shape: nothing of its to leave out
        return []


def _workers(config: Any) -> str:
    """How pytest-xdist spreads the session's tests over processes of its own ('' when it
    does not): '-n 2', '--dist load'. pocflow's observer watches the session's process (and
    what it forks), not the interpreters xdist starts."""
    if hasattr(config, "workerinput"):  # this session is one of xdist's workers
        return "an xdist worker"
    option = config.option
    count = getattr(option, "numprocesses", None)
    mode = getattr(option, "dist", "no")
    if getattr(option, "tx", None) or (mode not in (None, "no")) or count:
        return f"-n {count}" if count else f"--dist {mode}"
    return ""


def _candidates(config: Any, root: Path) -> list[str]:
    """Config files pytest would consider for this session, inside the workspace."""
    folders: set[Path] = set()
    for arg in config.args or ["."]:
        folder = (Path(str(config.invocation_params.dir)) / str(arg).split("::")[0]).resolve()
        if not folder.is_dir():
            folder = folder.parent
        while folder == root or root in folder.parents:
            folders.add(folder)
            folder = folder.parent
    return sorted(
        (folder / name).relative_to(root).as_posix() for folder in folders for name in CONFIG_NAMES
    )


def _facts(config: Any) -> _Facts | None:
    found: _Facts | None = config.stash.get(_STASH, None)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: Any) -> Generator[None, Any, None]:
    observer = _observer()
    if observer is None or not isinstance(collector, pytest.Module):
        yield
        return
    observer.push("f:" + _file_of(collector.nodeid))  # node ids are relative to the root
    try:
        yield
    finally:
        observer.pop()


#: the marks by which pytest skips a test, or expects it to fail, without running its check
_SKIPPING = ("skip", "skipif", "xfail")


def _skipping_marks(item: Any) -> int:
    return sum(1 for mark in getattr(item, "own_markers", ()) if mark.name in _SKIPPING)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_collection_modifyitems(
    session: Any, config: Any, items: list[Any]
) -> Generator[None, Any, None]:
    """Which tests a collection hook marked to skip (or to fail) once it had every test of
    the session before it: in a session shared by several steps, it may have decided by
    what else the session holds (skipping slow tests in a run of many), which `pytest <a
    step's files>` would not (pocflow.batch runs their steps alone)."""
    before = [_skipping_marks(item) for item in items]
    yield
    for item in items:  # (marks added later, while the tests run: pytest_runtest_makereport)
        item.stash[_MARKS_COLLECTED] = _skipping_marks(item)
    facts = _facts(config)
    if facts is None:
        return
    marked = sorted(
        {
            _file_of(item.nodeid)
            for item, count in zip(items, before, strict=False)
            if _skipping_marks(item) > count
        }
    )
    if marked:
        facts.emit({"skipped_by": marked})


def pytest_deselected(items: list[Any]) -> None:
    if items:
        facts = _facts(items[0].config)
        if facts is not None:
            facts.emit({"deselected": [item.nodeid for item in items]})


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: Any) -> None:
    facts = _facts(session.config)
    if facts is None:
        return
    facts.emit({"items": [item.nodeid for item in session.items]})
    observer = _observer()
    if observer is not None:  # a conftest.py, __init__.py or config file appearing later
        folders = {
            "/".join(parts[:n])
            for parts in (_file_of(item.nodeid).split("/")[:-1] for item in session.items)
            for n in range(len(parts) + 1)
        }
        for folder in sorted(folders):
            for name in (*CONFIG_NAMES, *PACKAGE_NAMES):
                observer.read(f"{folder}/{name}" if folder else name)
    users: dict[str, set[str]] = {}
    for item in session.items:
        definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        for name in getattr(item, "fixturenames", ()):
            # each definition the test may set up: the one it uses and those it overrides
            for key in [_fixture_key(d) for d in definitions.get(name, ())] or [name]:
                users.setdefault(key, set()).add(_file_of(item.nodeid))
    for name, files in sorted(users.items()):
        facts.emit({"fixture": name, "files": sorted(files)})


def _fixture_key(fixturedef: Any) -> str:
    """A fixture by where it is defined and its name (two test files may each define a
    fixture of the same name: their users are not each other's)."""
    return f"{getattr(fixturedef, 'baseid', '')}::{fixturedef.argname}"


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


# A test's setup and call run in its file's context; its teardown (which may finalize fixtures
# of any scope) in the session's. Plain hooks, not wrappers: they run for every test.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    observer = _observer()
    if observer is not None:
        observer.switch("f:" + _file_of(nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: Any) -> None:
    observer = _observer()
    if observer is not None:
        observer.switch("")
    # before the test's fixtures are torn down: a sys.path a test changed only while it ran
    # (monkeypatch.syspath_prepend) may have given a preloaded module's name to a workspace
    # file, which `import NAME` in a plain session would have taken
    if PRELOADED and sys.path != _PATH_LOOKED_AT:
        _PATH_LOOKED_AT[:] = sys.path
        _note_shadowed()


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    observer = _observer()
    if observer is not None:
        observer.switch("")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, Any, None]:
    observer = _observer()
    if observer is None:
        yield
        return
    observer.push("x:" + _fixture_key(fixturedef))
    try:
        yield
    finally:
        observer.pop()


#: how many skip, skipif and xfail marks a test had once collected
_MARKS_COLLECTED = pytest.StashKey[int]()
#: the outcome of each phase of a test as pytest's runner reported it, before any wrapper
_RAW_OUTCOME = pytest.StashKey[dict[str, str]]()


class _RawOutcome:
    """Keeps the outcome pytest's runner gave each phase of a test, before the hook wrappers
    (a conftest's among them) see the report (the innermost wrapper)."""

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Generator[None, Any, None]:
        outcome = yield
        with contextlib.suppress(Exception):
            item.stash.setdefault(_RAW_OUTCOME, {})[call.when] = outcome.get_result().outcome


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Generator[None, Any, None]:
    """A test whose outcome code outside its own module decided: skipped by a fixture as it
    was set up (pytest reports such a skip at the test's own line), by a skip raised
    elsewhere or a mark added while the tests run, or a failure a hook's wrapper turned into
    another outcome. In a session shared by several steps, that code may decide by what else
    the session holds (skipping slow tests in a large run), which `pytest <its file>` would
    not (pocflow.batch runs the step alone). A skip of the test's own marks or its own body
    is its own."""
    outcome = yield
    facts = _facts(item.config)
    if facts is not None and _decided_elsewhere(item, call.when, outcome.get_result()):
        facts.emit({"skipped_by": [_file_of(item.nodeid)]})


def _decided_elsewhere(item: Any, when: str, report: Any) -> bool:
    """Whether code outside the test's own module decided this phase's outcome (see
    pytest_runtest_makereport)."""
    raw = item.stash.get(_RAW_OUTCOME, {}).get(when)
    if raw == "failed" and report.outcome != "failed" and not hasattr(report, "wasxfail"):
        return True  # a failure a wrapper made another outcome
    if not report.skipped:
        return False
    if _skipping_marks(item) > item.stash.get(_MARKS_COLLECTED, _skipping_marks(item)):
        return True  # a mark added as it ran
    if hasattr(report, "wasxfail"):  # expected to fail: by its own xfail marks, or not
        return when == "setup" and not any(True for _ in item.iter_markers(name="xfail"))
    own = Path(str(item.path)).resolve()
    where = report.longrepr[0] if isinstance(report.longrepr, tuple) else ""
    elsewhere = bool(where) and Path(str(item.config.rootpath), str(where)).resolve() != own
    return (when == "setup" and not _skipped_by_mark(item)) or elsewhere


def _skipped_by_mark(item: Any) -> bool:
    """Whether the test has skip or skipif marks, which pytest's skipping plugin raises
    from at setup (marks a collection hook added are told apart where they are added:
    pytest_collection_modifyitems)."""
    return any(True for _ in item.iter_markers(name="skip")) or any(
        True for _ in item.iter_markers(name="skipif")
    )


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_json_runtest_stage(report: Any) -> dict[str, Any] | None:
    """pytest-json-report's entry for a test's stage with nothing to show (no longrepr):
    the one its own hook makes, without asking for ``report.longreprtext`` — which builds
    a terminal writer, reading four environment variables through the observer, for each
    of a test's three stages only to find nothing. A stage with something to show is
    left to pytest-json-report."""
    if report.longrepr is not None:
        return None
    stage: dict[str, Any] = {"duration": report.duration, "outcome": report.outcome}
    details = getattr(report, "_json_report_extra", {}).get(report.when, {})
    for key in ("stdout", "stderr", "log"):
        if details.get(key):
            stage[key] = details[key]
    return stage


def pytest_runtest_logreport(report: Any) -> None:
    facts = _SESSION.get("facts")
    if facts is not None:
        facts.reports.append(
            [
                report.nodeid,
                report.when,
                report.outcome,
                type(report).__name__ == "SubtestReport",
                hasattr(report, "wasxfail"),
            ]
        )


#: set by pocflow._forkserver in its child: the modules the warm server had loaded (the
#: child has them) that a plain pytest would import only when asked
PRELOADED: frozenset[str] = frozenset()
#: those of them that a workspace file would have been instead, or that are workspace files
#: themselves, found at the session's end
SHADOWED: list[str] = []


def _shadowed(root: Path) -> list[str]:
    """The preloaded modules the session cannot stand on: a workspace file itself (a plugin
    of the workspace's, registered by entry point: what it read as the server imported it,
    unwatched, is the tests' read — its settings file), or a module from outside whose name
    the session's sys.path now gives to a workspace file (in a plain session, `import NAME`
    would have taken that file: a src/zoneinfo.py). One look per name, through the import
    system's own finder."""
    from importlib.machinery import PathFinder

    real_path = _observing_names()["real_path"]
    folders: dict[str, str] = {}  # (each folder's real path looked up once in this look)

    def within(path: str, folder: str) -> bool:
        return str(real_path(path, folders)).startswith(os.path.join(folder, ""))

    workspace = str(root)
    # a virtual environment inside the workspace (uv's .venv) is no workspace code
    installed = {os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    found = []
    for name in sorted(PRELOADED):
        origin = getattr(sys.modules.get(name), "__file__", None)
        if not isinstance(origin, str):
            continue
        if within(origin, workspace):
            if not any(within(origin, folder) for folder in installed):
                found.append(name)
            continue
        try:
            spec = PathFinder.find_spec(name, sys.path)
        except (ImportError, ValueError, OSError):
            continue
        there = getattr(spec, "origin", None)
        if isinstance(there, str) and within(there, workspace):
            found.append(name)
    return found


#: the sys.path the preloaded modules were last looked up on (see pytest_runtest_teardown)
_PATH_LOOKED_AT: list[str] = []


def _note_shadowed() -> None:
    SHADOWED.extend(name for name in _shadowed(Path.cwd().resolve()) if name not in SHADOWED)


def _outside_code(root: Path, config: Any, looked: set[str]) -> dict[str, list[int]]:
    """The source files of the modules loaded in this process (and pytest's plugins: two
    conftest.py files are both "conftest", and sys.modules keeps one) that lie outside the
    workspace (root) and outside the Python installation and are not pocflow's
    (pocflow._observe.code_apart), each by its path from the workspace ("../conftest.py")
    -> its stamp now: a conftest.py above the workspace, a module on a folder beside it that
    pytest's `pythonpath` or a test put on sys.path, a library installed editable from a
    folder beside it. The files in ``looked`` are skipped, and those looked at added."""
    installed_folders, code_reached = _observing()
    apart = (*installed_folders(), str(root) + os.sep)
    found: dict[str, list[int]] = {}
    folders: dict[str, str] = {}  # (each folder's real path looked up once in this look)
    for module in [*sys.modules.values(), *config.pluginmanager.get_plugins()]:
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.endswith(".py") and file not in looked:
            looked.add(file)
            for path, when in code_reached(file, apart, folders):
                found[Path(os.path.relpath(path, root)).as_posix()] = when
    return found


def _observing() -> tuple[Any, Any]:
    """pocflow._observe's installed_folders and code_reached (what is code apart from the
    workspace is said once, there)."""
    names = _observing_names()
    return names["installed_folders"], names["code_reached"]


def _observing_names() -> dict[str, Any]:
    """pocflow._observe's names: the running observer's (its module may be the process's
    __main__, which running pytest as a module replaces), else loaded from its file beside
    this one."""
    observer = _observer()
    names: dict[str, Any]
    if observer is not None:
        names = type(observer).outside_code_read.__globals__
    else:
        if "module" not in _OBSERVING:
            _OBSERVING["module"] = _beside("_observe")
        names = vars(_OBSERVING["module"])
    return names


_OBSERVING: dict[str, Any] = {}


def _outside_code_read(root: Path) -> dict[str, list[int]]:
    """What pocflow's observer saw read of Python code from outside the workspace and the
    Python installation (a module then dropped from sys.modules, one loaded by file location,
    a zip of modules, a sourceless .pyc: pocflow._observe.Observer.outside_code_read), by
    its path from the workspace -> its stamp as first read."""
    observer = _observer()
    found = getattr(observer, "outside_code", None) or {}
    return {Path(os.path.relpath(real, root)).as_posix(): when for real, when in found.items()}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    if PRELOADED:
        _note_shadowed()
    observer = _observer()
    if observer is not None:
        observer.from_kernel()
    facts = _facts(session.config)
    if facts is not None:
        whole = _judged_as_a_whole(session.config)
        if whole:
            facts.emit({"whole": whole})
        # pytest stopped before running every test (-x, --maxfail): a step of a shared
        # session whose tests came after ran none (pocflow.batch runs them alone)
        stopped = session.shouldfail or session.shouldstop
        if stopped:
            facts.emit({"stopped": str(stopped)})
        # what pocflow._select noted of a session shared by several steps: the workspace's
        # code read what the whole session holds (every step's files on the command line,
        # tests, failures) or was told which test follows, or a test module registered
        # plugins for all (pocflow.batch runs each step's tests alone)
        for fact, attribute in (
            ("whole_args", "_pocflow_whole_command_line"),
            ("session_plugins", "_pocflow_session_plugins"),
        ):
            noted = getattr(session.config, attribute, "")
            if noted:
                facts.emit({fact: str(noted)})
        reports = [facts.rel(path) for path in _reports(session.config)]
        if reports:
            facts.emit({"tool": reports})
        # (as the session started for those loaded by then: one changed since was read
        # otherwise than it is now, and is no proof)
        outside = {
            **_outside_code(facts.root, session.config, facts.looked),
            **facts.outside,
            **_outside_code_read(facts.root),
        }
        if outside:
            facts.emit({"outside_code": sorted(outside.items())})
        facts.emit({"reports": facts.reports})
        facts.emit({"end": int(exitstatus)})
