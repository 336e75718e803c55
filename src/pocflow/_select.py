"""A pytest plugin: collect only the test files listed in the file --pocflow-select names.

pocflow runs the tests of many steps in one pytest session. Naming every test file on
pytest's command line makes collection grow with the square of their number (1000 files:
45 s, against 3 s for collecting their folder), so pocflow names the folders and this plugin
keeps pytest from collecting anything in them but the listed files (and what they need:
the folders on the way, conftest.py, __init__.py).

Self-contained (it imports nothing of pocflow): the fork server loads it from its file, a
`python -m pytest` session with `-p pocflow._select`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path, PurePath
from typing import Any

import pytest

_OPTION = "--pocflow-select"
_KEEP = ("conftest.py", "__init__.py")
#: the listed files, and every folder that holds one
_STASH = pytest.StashKey[tuple[set[Path], set[Path]]]()
#: the folders pocflow named on the command line, which the session collects
_FOLDERS = pytest.StashKey[list[str]]()
#: the listed files, as read once (when the first conftest files are loaded)
_LISTED = pytest.StashKey[list[str]]()


def _listed(config: Any, listing: str) -> list[str]:
    """The test files listed in the file at listing (read once per session)."""
    files = config.stash.get(_LISTED, None)
    if files is None:
        lines = Path(listing).read_text(encoding="utf-8").splitlines()
        end = lines.index(_GROUPS) if _GROUPS in lines else len(lines)
        files = config.stash[_LISTED] = [line for line in lines[:end] if line]
        config.stash[_STEPS] = {
            name: tuple(group.split("\t"))
            for group in lines[end + 1 :]
            if group
            for name in group.split("\t")
        }
    return list(files)


#: the line after which the listing holds each step's files (tab-separated, a step a line)
_GROUPS = "--"
#: each listed file -> the files of its step (what `pytest <the step's files>` names)
_STEPS = pytest.StashKey[dict[str, tuple[str, ...]]]()
#: test file (absolute, as pytest's path) -> its step's files, or None (_steps_files)
_OWN = pytest.StashKey[dict[str, tuple[str, ...] | None]]()


def _several_steps(config: Any) -> bool:
    """Whether the session holds the files of more than one step (a shared session)."""
    return len(set(config.stash.get(_STEPS, {}).values())) > 1


@functools.cache
def _program() -> str:
    """sys.argv[0] of the `pytest` command."""
    return os.path.join(os.path.dirname(sys.executable), "pytest")


def _show_command_line(
    config: Any, files: list[str] | tuple[str, ...], whole: bool = False
) -> None:
    """Have code see the command line `pytest <files>` gives it: sys.argv, config.args,
    config.option and config.invocation_params. ``whole``: the files of every step of a
    session shared by several, which no `pytest <a step's files>` shows: code of the
    workspace reading them then is noted (see _Watched)."""
    listed: list[str] = list(files)
    argv = [_program(), *files]
    args: tuple[str, ...] = tuple(files)
    if whole:
        listed, argv, args = _Watched(config, listed), _Watched(config, argv), _WatchedTuple(args)
        args.config = config
    sys.argv = argv
    config.args = listed
    config.option.file_or_dir = _Watched(config, list(files)) if whole else list(files)
    known = getattr(config, "known_args_namespace", None)
    if known is not None:
        known.file_or_dir = _Watched(config, list(files)) if whole else list(files)
    params = config.invocation_params
    shown = type(params)(args=tuple(files), plugins=params.plugins, dir=params.dir)
    if whole:  # (pytest's own makes a plain tuple of what it is given)
        object.__setattr__(shown, "args", args)
    config.invocation_params = shown


#: the attribute of the config where a read of what the whole shared session holds (its
#: command line, tests, their count, the failures so far) by the workspace's code, or a hook
#: of its told which test follows, is noted (the workspace file, and what it read or was
#: told): pocflow._session says so
WHOLE_COMMAND_LINE = "_pocflow_whole_command_line"
#: and where a test module of the session that registers plugins for all (pytest_plugins)
#: is noted
SESSION_PLUGINS = "_pocflow_session_plugins"
_HERE = os.path.dirname(os.path.abspath(__file__))


def _note(config: Any, why: str) -> None:
    """Note why the steps of this shared session run alone (the first reason found: one is
    enough, and pocflow._session says it)."""
    if not getattr(config, WHOLE_COMMAND_LINE, ""):
        setattr(config, WHOLE_COMMAND_LINE, why)


def _note_read(config: Any, what: str = "every step's files on the command line") -> None:
    """Note the workspace file whose code (or a library working for it) reads the whole
    session's command line: a hook deciding by how many files were named (skipping slow
    tests unless one file is) decides for every step at once, as no `pytest <a step's
    files>` would. pocflow then runs each step's tests alone."""
    if getattr(config, WHOLE_COMMAND_LINE, ""):
        return
    workspace, clean = _workspace_code(config)
    start = frame = sys._getframe(2)
    while frame is not None and clean.get(id(frame)) is not frame:
        name = frame.f_code.co_filename
        rel = workspace.get(name)
        if rel is None:
            rel = workspace[name] = _workspace_file(config, name)
        if rel:
            _note(config, f"{rel}, which read {what}")
            return
        frame = frame.f_back  # type: ignore[assignment]
    if not start.f_code.co_flags & _RESUMABLE:
        # the frame and its callers hold no workspace code: while it runs they stay as they
        # are (pytest's loop reads the session's items from one frame, once per test); kept
        # alive here, no other frame takes its id. A generator's callers change as it
        # resumes: not kept
        clean[id(start)] = start
        if len(clean) > _CLEAN_FRAMES:
            del clean[next(iter(clean))]


#: the attribute of the config where _note_read keeps, per code file name, what it found
_WORKSPACE_CODE = "_pocflow_workspace_code"


#: generator, coroutine and async generator code (inspect's CO_ flags)
_RESUMABLE = 0x20 | 0x80 | 0x200
#: how many frames _note_read keeps that hold no workspace code below them
_CLEAN_FRAMES = 32


def _workspace_code(config: Any) -> tuple[dict[str, str], dict[int, Any]]:
    """(code file name -> its path in the workspace where it is the workspace's code, else
    '' (worked out once per name); frames running now whose callers hold no workspace code,
    by id): pytest's loop reads the session's items a few times per test, from under twenty
    frames of its own."""
    known: tuple[dict[str, str], dict[int, Any]] | None = getattr(config, _WORKSPACE_CODE, None)
    if known is None:
        known = ({}, {})
        setattr(config, _WORKSPACE_CODE, known)
    return known


def _workspace_file(config: Any, name: str) -> str:
    root = str(config.rootpath) + os.sep
    outside = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, _HERE})
    if name.startswith(root) and not name.startswith(outside) and "site-packages" not in name:
        return name[len(root) :]
    return ""


def _watching(method: str) -> Any:
    def read(self: Any, *args: Any) -> Any:
        _note_read(self.config)
        return getattr(super(type(self), self), method)(*args)

    read.__name__ = method
    return read


_READS = ("__getitem__", "__iter__", "__len__", "__contains__", "__eq__", "__reversed__")


class _Watched(list):  # type: ignore[type-arg]
    """A list of a shared session's command line: reading it is noted (_note_read)."""

    def __init__(self, config: Any, items: list[str]) -> None:
        super().__init__(items)
        self.config = config

    for _name in (*_READS, "index", "count", "copy", "__add__", "__repr__"):
        locals()[_name] = _watching(_name)
    __hash__ = None


class _WatchedDict(dict):  # type: ignore[type-arg]
    """The terminal reporter's reports by outcome, in a session shared by several steps:
    every step's, where `pytest <a step's files>` holds the step's own."""

    def __init__(self, config: Any, items: dict[Any, Any]) -> None:
        super().__init__(items)
        self.config = config

    # (not setdefault: pytest's reporter files each report with it, six times a test)
    for _name in (*_READS, "get", "keys", "values", "items", "copy", "__repr__"):
        locals()[_name] = _watching(_name)
    __hash__ = None


class _WatchedTuple(tuple):  # type: ignore[type-arg]
    """The arguments of invocation_params, watched the same way."""

    config: Any = None

    for _name in (*_READS, "index", "count", "__add__", "__repr__"):
        locals()[_name] = _watching(_name)
    __hash__ = tuple.__hash__


def _steps_files(config: Any, path: str) -> Any:
    """The files of the step a test file is of (None: of no step), looked up once per file
    (each test of a module asks)."""
    known: dict[str, Any] = config.stash.setdefault(_OWN, {})
    if path not in known:
        root = Path(str(config.rootpath))
        try:
            rel = Path(path).relative_to(root).as_posix()
        except ValueError:
            known[path] = None
        else:
            known[path] = config.stash.get(_STEPS, {}).get(rel)
    return known[path]


@contextlib.contextmanager
def _as_its_steps_own(config: Any, path: Any) -> Iterator[None]:
    """While a file's module is collected or its tests run, in a session of several steps'
    files: the command line shows that step's files only, as `pytest <its files>` does (a
    command-line main() a test calls parses sys.argv)."""
    own = _steps_files(config, str(path))
    if own is None or not _several_steps(config):
        yield
        return
    _show_command_line(config, own)
    config.stash[_CURRENT] = own
    try:
        yield
    finally:
        config.stash[_CURRENT] = None
        _show_command_line(config, config.stash[_LISTED], whole=True)


#: the files of the step whose test module is being collected or whose test runs (None
#: between them), in a session shared by several steps
_CURRENT = pytest.StashKey[Any]()


def _watch_cache(config: Any) -> None:
    """pytest's cache (``config.cache``, the ``cache`` fixture) is one folder for the whole
    shared session, fresh each session: a value one step's tests keep there (``cache.set``,
    a folder of ``cache.mkdir``) and another step's read is no value `pytest <its files>`
    has (a fresh clone has no cache). Such a read is noted (pocflow runs each step alone)."""
    cache = getattr(config, "cache", None)
    if cache is None:
        return
    # a value's path (or a folder's) -> the files of each step that kept it there; by the
    # path the cache keeps it at ("k/" and "k" are one file)
    kept: dict[tuple[str, str], set[Any]] = {}
    get, set_, mkdir = cache.get, cache.set, cache.mkdir

    def place(kind: str, key: str) -> tuple[str, str]:
        return kind, PurePath(str(key)).as_posix()

    def read(where: tuple[str, str]) -> None:
        reader = config.stash.get(_CURRENT, None)
        keepers = kept.get(where, set()) - {reader, None}
        if reader is not None and keepers:
            _note(
                config,
                f"{reader[0]}, which read {where[1]!r} from pytest's cache, where "
                f"{sorted(keepers)[0][0]} kept it in the same session",
            )

    def keep(where: tuple[str, str]) -> None:
        kept.setdefault(where, set()).add(config.stash.get(_CURRENT, None))

    def kept_get(key: str, default: Any) -> Any:
        read(place("v", key))
        return get(key, default)

    def kept_set(key: str, value: Any) -> None:
        keep(place("v", key))
        set_(key, value)

    def kept_mkdir(name: str) -> Any:
        read(place("d", name))
        keep(place("d", name))
        return mkdir(name)

    cache.get, cache.set, cache.mkdir = kept_get, kept_set, kept_mkdir


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: Any) -> Generator[None, Any, None]:
    if not isinstance(collector, pytest.Module):
        yield
        return
    with _as_its_steps_own(collector.config, collector.path):
        yield
    # a test module's pytest_plugins registers them for the whole session: in one shared
    # by several steps, the others' tests get their fixtures and hooks too, which
    # `pytest <their files>` does not load (pocflow runs each step's tests alone)
    module = getattr(collector, "_obj", None)
    config = collector.config
    if (
        getattr(module, "pytest_plugins", None)
        and _several_steps(config)
        and not getattr(config, SESSION_PLUGINS, "")
    ):
        setattr(config, SESSION_PLUGINS, collector.nodeid)


class _WatchedCount(int):
    """The session's count of collected tests, in a session shared by several steps:
    comparing or reading it from the workspace's code is noted (_note_read)."""

    config: Any = None


for _name in (
    "__gt__",
    "__lt__",
    "__ge__",
    "__le__",
    "__eq__",
    "__ne__",
    "__int__",
    "__index__",
    "__bool__",
    "__str__",
    "__repr__",
    "__format__",
    "__float__",
    "__sub__",
    "__rsub__",
    "__add__",
    "__radd__",
    "__mod__",
    "__floordiv__",
):
    setattr(_WatchedCount, _name, _watching(_name))
_WatchedCount.__hash__ = int.__hash__  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: Any) -> None:
    """In a session shared by several steps, the session's tests, their count and the count
    of failed tests hold every step's, which no `pytest <a step's files>` holds: the
    workspace's code reading them (a test returning early in a large run, a hook deciding by
    the failures so far) is noted as for the command line (pocflow runs each step alone);
    and so is a hook of the workspace's told which test follows (see _told_the_next_test)."""
    config = session.config
    if not _several_steps(config):
        return
    if not isinstance(session.items, _Watched):
        session.items = _Watched(config, list(session.items))
    count = _WatchedCount(session.testscollected)
    count.config = config
    session.testscollected = count
    _watch_failures(session)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if isinstance(getattr(reporter, "stats", None), dict):  # (each outcome's reports so far)
        reporter.stats = _WatchedDict(config, reporter.stats)
    _note_told_the_next_test(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: Any) -> None:
    """The session's tests are watched from the end of collection on (a collection hook
    counting them, in a session shared by several steps)."""
    if _several_steps(session.config):
        session.items = _Watched(session.config, list(session.items))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: Any) -> None:
    """And a hook told which test follows that a plugin registered while the tests ran."""
    if _several_steps(session.config):
        _note_told_the_next_test(session.config)


def _note_told_the_next_test(config: Any) -> None:
    told = _told_the_next_test(config)
    if told:
        _note(config, told)


#: what pytest tells the hooks of each test of which test follows it
_NEXT_ITEM_HOOKS = ("pytest_runtest_protocol", "pytest_runtest_teardown")


def _told_the_next_test(config: Any) -> str:
    """The workspace's hook (of a conftest.py, or a module it loads) that takes ``nextitem``,
    the test that follows ('' when none does): in a session shared by several steps a
    step's last test is followed by another step's first, where `pytest <its files>` tells
    it that none follows (a teardown hook checking for the last test of the run)."""
    for hook in _NEXT_ITEM_HOOKS:
        for impl in getattr(config.hook, hook).get_hookimpls():
            if "nextitem" not in impl.argnames:
                continue
            rel = next(filter(None, (_workspace_file(config, f) for f in _files_of(impl))), "")
            if rel:
                return (
                    f"{rel}, whose {hook} is told which test follows (another step's, after "
                    "a step's last test)"
                )
    return ""


def _files_of(impl: Any) -> list[str]:
    """The files of a hook implementation's code and of what registered it: its function's,
    and the module it is of (a conftest.py importing a library's hook function), or the
    module of the class of the object registered (a plugin a conftest made)."""
    files = []
    code = getattr(impl.function, "__code__", None)
    if code is not None:
        files.append(code.co_filename)
    plugin = impl.plugin
    module = plugin if isinstance(plugin, type(sys)) else sys.modules.get(type(plugin).__module__)
    path = getattr(module, "__file__", None)
    if isinstance(path, str):
        files.append(path)
    return files


def _watch_failures(session: Any) -> None:
    """Make the session's count of failed tests a watched value: pytest counts every
    step's failures there, `pytest <a step's files>` only the step's own."""
    kind = type(session)
    watched = _WATCHED_SESSIONS.get(kind)
    if watched is None:
        watched = _WATCHED_SESSIONS[kind] = type(
            kind.__name__, (kind,), {"testsfailed": property(_failures, _set_failures)}
        )
    failed = session.__dict__.pop("testsfailed", 0)
    session.__class__ = watched
    session.__dict__[_FAILED] = failed


_WATCHED_SESSIONS: dict[type, type] = {}
_FAILED = "_pocflow_testsfailed"


def _failures(session: Any) -> Any:
    _note_read(session.config, "the count of every step's failed tests (session.testsfailed)")
    return session.__dict__[_FAILED]


def _set_failures(session: Any, value: Any) -> None:
    session.__dict__[_FAILED] = value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any) -> Generator[None, Any, None]:
    with _as_its_steps_own(item.config, item.path):
        yield


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        _OPTION,
        default=None,
        metavar="FILE",
        help="collect only the test files listed in FILE (one path per line, "
        "relative to the root folder)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    """From here on, code sees the command line the `pytest` command would have given it
    (its program, then the listed test files), not pocflow's options: a test calling a
    command-line main() without arguments parses sys.argv, and must get what it gets
    under plain pytest."""
    listing = next((a.split("=", 1)[1] for a in args if a.startswith(_OPTION + "=")), None)
    if listing:
        files = _listed(early_config, listing)
        argv = [_program(), *files]
        sys.argv = _Watched(early_config, argv) if _several_steps(early_config) else argv
        # and the first conftest files are those of the files, as for `pytest <files>`: of a
        # folder, pytest would also load those of its test* subfolders (pytest's own hook
        # reads these arguments after this one)
        early_config.known_args_namespace.file_or_dir = list(files)


def pytest_configure(config: Any) -> None:
    """Keep the listed files (and the folders on their way) for pytest_ignore_collect, and
    from here on show the arguments the `pytest` command would have given (the files, as in
    sys.argv) in config.args, config.option and config.invocation_params: hooks that run
    while pytest collects read them too. The folders pocflow named are kept to collect."""
    listing = config.getoption("pocflow_select")
    if not listing:
        return
    root = Path(str(config.rootpath))
    named = _listed(config, listing)
    source = getattr(config, "args_source", None)  # (pytest 7.3 and later)
    if source is not None and source != pytest.Config.ArgsSource.ARGS:
        # an option of addopts took pocflow's folders as its value (a bare `--cov` last):
        # `pytest <a step's test file>` would lose its file the same way and run what
        # testpaths (or the current folder) holds
        raise pytest.UsageError(
            "an option in pytest's addopts (or PYTEST_ADDOPTS) takes the test paths that "
            "follow it as its value (a bare `--cov` at its end does), so `pytest <a step's "
            "test file>` runs other tests than the file's; give it its value (`--cov=src`)"
        )
    added = list((Counter(config.args) - Counter(config.invocation_params.args)).elements())
    if added:
        # paths pytest's own options add (addopts, PYTEST_ADDOPTS) to every command line:
        # `pytest <a step's test file>` runs them too, and pocflow cannot tell whose verdict
        # they are (a session of one step's files would leave them out unseen)
        raise pytest.UsageError(
            f"pytest's addopts (or PYTEST_ADDOPTS) name test paths, {' '.join(added)}: "
            "pytest adds them to every command line, so no step's tests can be verified "
            "alone; move their tests into a step's test file, or take the paths out of "
            "addopts (a plain `pytest tests/` still finds them)"
        )
    files = {root / line for line in named}
    folders = {folder for path in files for folder in path.parents}
    config.stash[_STASH] = (files, folders)
    config.stash[_FOLDERS] = list(config.args)
    _show_command_line(config, named, whole=_several_steps(config))
    if _several_steps(config):
        _watch_cache(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: Any) -> bool | None:
    """Collect the folders pocflow named, filtered to the listed files, rather than the
    files themselves (see the module's doc: naming a thousand files makes pytest's
    collection seven times slower)."""
    folders = session.config.stash.get(_FOLDERS, None)
    if folders is None:
        return None
    # the listed files count as named on the command line, as `pytest <file>` names them:
    # pytest's file-name patterns (python_files) do not drop them (no hook says which paths
    # were named, so the session's own question is answered for them)
    files = session.config.stash[_STASH][0]
    named = session.isinitpath

    def isinitpath(path: Any, *, with_parents: bool = False) -> bool:
        return Path(path) in files or bool(named(path, with_parents=with_parents))

    session.isinitpath = isinitpath
    session.perform_collect(folders)
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Path, config: Any) -> bool | None:
    """Collect the listed files and the folders on their way whatever ignore settings say
    (`collect_ignore`, `--ignore`, norecursedirs: named on the command line, pytest takes
    them all the same), their conftest.py and __init__.py, and nothing else."""
    keep = config.stash.get(_STASH, None)
    if keep is None:
        return None
    files, folders = keep
    if collection_path in files or collection_path in folders:
        return False
    if collection_path.name in _KEEP:
        return None
    return True
