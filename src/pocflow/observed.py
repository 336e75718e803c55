"""What a step's processes really read: the facts pocflow._observe and pocflow._session wrote,
turned into input keys per step.

The static scan (pocflow.inputs) decides what to run before anything ran; the facts say what
a run actually read, and both are the step's inputs in its record. This module reads the
facts file of one process (a script) or one pytest session (possibly shared by several
steps) and attributes each read:

- in a script process, every read belongs to the step;
- in a pytest session, a read while a test file was collected, or while one of its tests
  ran, belongs to that file's step; a read while a fixture was set up belongs to every step
  whose tests use the fixture; a read at session level (plugins, ``conftest.py``, teardown)
  belongs to every step of the session;
- a read by a module's code (a helper that loads and caches a data file) also belongs to
  every step that imported that module, in any context: a second step that gets the cached
  result without reading the file still depends on it. A read that a library's code outside
  the workspace made (linecache, zoneinfo, an installed package, a plugin's fixture or hook)
  belongs to every step of the session: the library may have kept it, and any later test
  may get it from there through any code that calls the library. A variable a module reads
  goes the same ways. More steps, never fewer.

What a step wrote is its output, not its input, and so is what its upstream steps wrote and
every step's declared ``outputs``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocflow.fingerprint import (
    ANCESTORS_KEY,
    CHANGED_DURING_RUN,
    IMPORT_PREFIX,
    MISSING,
    PLUGIN_PREFIX,
    PYTEST_TABLE,
    TEXT_ENCODING_KEY,
    WORKSPACE_PATH_KEY,
    digest_of,
    observed_digest,
)

#: the launcher that runs a script (or ``-m pytest``) with an observer installed
OBSERVER = Path(__file__).with_name("_observe.py")

#: the version of what is observed: raised whenever pocflow starts watching something more
OBSERVER_VERSION = 43
#: pocflow sets these for its children itself; their values are not the step's inputs
#: (prefixes; COVERAGE_FILE: where coverage keeps its data in pocflow's pytest sessions)
OWN_VARIABLES = ("POCFLOW_", "COVERAGE_FILE")
#: variables that change what pytest does: part of every test verdict, read or not
PYTEST_VARIABLES = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
#: variables the interpreter or the C library read, not Python code: part of every verdict
#: (time zone, the locale override, hash seed, optimisation, warnings, text encoding). LANG
#: and LC_CTYPE count by their effect on the text encoding (TEXT_ENCODING_KEY): their
#: values differ from one machine to the next where the encoding does not
PROCESS_VARIABLES = (
    "TZ",
    "LC_ALL",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSAFEPATH",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONHASHSEED",
    "PYTHONOPTIMIZE",
    "PYTHONWARNINGS",
    "PYTHONUTF8",
    "PYTHONIOENCODING",
    "PYTHONINTMAXSTRDIGITS",
    "PYTHONDEVMODE",
    "PYTHONASYNCIODEBUG",
    "PYTHONBREAKPOINT",
    "PYTHONCOERCECLOCALE",
    "PYTHONWARNDEFAULTENCODING",
    "PYTHONNODEBUGRANGES",  # a traceback's ^^^ markers
    "PYTHONVERBOSE",  # what imports print
    # what a test sees in its own process of variables Python reads as it starts (its
    # children's are _observe.STARTUP_VARIABLES): import times on stderr, tracemalloc on,
    # faulthandler on, the allocator, the debug flag, the CPU count, frozen modules
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONTRACEMALLOC",
    "PYTHONFAULTHANDLER",
    "PYTHONMALLOC",
    "PYTHONDEBUG",
    "PYTHONPLATLIBDIR",
    "PYTHON_FROZEN_MODULES",
    "PYTHON_CPU_COUNT",
    "PYTHON_GIL",
    "PYTHON_COLORS",
    # (not PYTHONDONTWRITEBYTECODE, PYTHONPYCACHEPREFIX nor PYTHONUNBUFFERED, which shells
    # and CI images commonly set: a record made on a laptop would never hold in CI; see
    # docs/guarantees.md)
)
#: what every verdict stands on besides the variables: the interpreter's text encoding
PROCESS_KEYS = (*("$" + name for name in PROCESS_VARIABLES), TEXT_ENCODING_KEY)
#: variables pytest sets for the tests it runs: what a test reads of them is pytest's doing
SET_BY_PYTEST = (
    "PYTEST_CURRENT_TEST",
    "PYTEST_VERSION",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_XDIST_TESTRUNUID",
)


def refresh_bytecode(root: Path, keys: Iterable[str]) -> None:
    """Remove the cached bytecode of every workspace module among keys whose source changed
    after its bytecode was written. Python trusts a .pyc while the source's modification time
    and size are the ones it recorded: a same-size edit with the modification time put back
    (which pocflow's content checks do catch) would otherwise run the old code. The change
    time cannot be put back."""
    for key in keys:
        if not key.endswith(".py"):
            continue
        source = root / key
        try:
            cached = Path(importlib.util.cache_from_source(str(source)))
            if source.stat().st_ctime_ns > cached.stat().st_mtime_ns:
                cached.unlink()
        except (OSError, ValueError, NotImplementedError):
            continue


#: marks the state folder among the observer's skipped folders (pocflow/_observe.py)
STATE_MARK = "@"


def observer_skips(root: Path) -> list[str]:
    """Folders of the workspace whose reads are not inputs beyond the usual ones: the state
    folder (marked ``@``: what pocflow writes there for a session, such as its selection of
    tests, is no input of a step, and what the step's own code reads there is reported as
    such: pocflow.inputs.pocflows_writes_read fails the step), and pocflow's own package,
    when the workspace holds it (as pocflow's own repository does)."""
    from pocflow.errors import PocflowError
    from pocflow.settings import load_settings

    try:
        state_dir = load_settings(root).state_dir
    except PocflowError:
        state_dir = ".pocflow"
    skips = [STATE_MARK + state_dir]
    package = Path(__file__).resolve().parent
    if package.is_relative_to(root.resolve()):
        skips.append(package.relative_to(root.resolve()).as_posix())
    return skips


#: the folder whose sitecustomize.py installs the observer in a step script's own Python
SITE = Path(__file__).with_name("_site")
OBSERVE_ENV = "POCFLOW_OBSERVE"
#: the pid the script dies with (pocflow/_site/sitecustomize.py)
DIE_WITH_ENV = "POCFLOW_DIE_WITH"


def observed_script_env(env: dict[str, str], root: Path, facts: Path) -> dict[str, str]:
    """The environment that has `python SCRIPT` observe itself from its start (through
    pocflow/_site/sitecustomize.py, which restores PYTHONPATH before the script runs)."""
    env = dict(env)
    original = env.get("PYTHONPATH")
    if original is not None:  # (unset, it is not there: set but empty is another value)
        env["POCFLOW_PYTHONPATH"] = original
    env["PYTHONPATH"] = str(SITE) + (os.pathsep + original if original else "")
    env[OBSERVE_ENV] = "\x1f".join([sys.executable, str(root), str(facts), *observer_skips(root)])
    env[DIE_WITH_ENV] = str(os.getpid())
    return env


def add_kernel_facts(
    root: Path,
    path: Path,
    seen: tuple[dict[str, None], set[str]],
    made: set[str],
    overflowed: bool,
    replaced: set[str],
    partial: bool,
) -> None:
    """Append to a script's facts file what the kernel saw opened (``seen[0]``), written
    (``seen[1]``) or made in the workspace while it ran that its Python did not (pocflow's
    side of the watch: a script is waited on). A file both read and written that way was
    read as nobody knows (changed-during-run), and written back or not, nobody knows: it
    stays an input as the run left it (pocflow.observed.settle)."""
    from pocflow._observe import kernel_report, stamp_of

    facts = read_facts(path)
    read_here = {key.split(PYTEST_TABLE)[0].rstrip("/") for key, _, _ in facts.reads}
    opened, written = seen
    report = kernel_report(
        opened,
        written,
        made,
        replaced,
        read_here.__contains__,
        {p for p, _ in facts.writes},
        lambda rel: os.path.lexists(root / rel),
    )
    lines: list[dict[str, Any]] = []
    for kind, rel, unknown in report:
        if kind == "made":
            lines.append({"w": rel, "f": rel not in read_here, "c": ""})
        elif kind == "read":
            stamp = [-1] if unknown else stamp_of(str(root / rel))
            lines.append({"r": rel, "c": "", "s": stamp, "k": 1})
        elif rel in facts.databases:  # updated by SQLite, as a script does: its output
            lines.append({"w": rel, "f": False, "c": ""})
        elif rel in read_here or rel in opened:  # read, then written back or not: unknown
            lines.append({"w": rel, "f": False, "big": True, "c": ""})
        else:  # overwritten unread: an output
            lines.append({"w": rel, "f": True, "c": ""})
    if overflowed:
        lines.append({"kernel": "overflow"})
    if partial:
        lines.append({"kernel": "partial"})
    if lines:
        with path.open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)


def observer_command(root: Path, facts: Path, extra: list[str]) -> list[str]:
    """The start of a command line that runs a module (``--module pytest``) under an observer.
    The observer is imported, not run as a script, so its bytecode is cached."""
    code = (
        f"import sys; sys.path[0] = {str(OBSERVER.parent)!r}; import _observe; "
        "_observe.main(sys.argv[1:])"
    )
    command = [sys.executable, "-c", code, "--root", str(root), "--out", str(facts), *extra]
    for skip in observer_skips(root):
        command += ["--skip", skip]
    return [*command, "--"]


@dataclass
class Facts:
    """One facts file, parsed; ``observed`` is False when no observer wrote to it (the
    process could not be observed: its reads are unknown)."""

    reads: list[tuple[str, str, str]] = field(default_factory=list)  # (key, context, by)
    #: workspace module -> the variables ("$NAME") its code read (it may keep their values)
    environ_by: dict[str, set[str]] = field(default_factory=dict)
    stamps: dict[str, list[int] | None] = field(default_factory=dict)  # key -> when first read
    written: set[str] = field(default_factory=set)  # written before anything read them
    rewritten: set[str] = field(default_factory=set)  # read first, then written
    before: dict[str, str] = field(default_factory=dict)  # rewritten -> a copy as first read
    uncopied: set[str] = field(default_factory=set)  # rewritten, too large to copy
    appended: set[str] = field(default_factory=set)  # rewritten, opened to append unread
    #: written first, made by appending where nothing was (what it holds stands on that)
    append_made: set[str] = field(default_factory=set)
    made: set[str] = field(default_factory=set)  # folders made where nothing was
    #: workspace modules the process had loaded before it was watched (as Python started:
    #: a sitecustomize, a .pth file's import): what they read is not known
    early: set[str] = field(default_factory=set)
    writes: list[tuple[str, str]] = field(default_factory=list)  # (path, context) of each
    databases: set[str] = field(default_factory=set)  # opened with sqlite3.connect
    parents: set[str] = field(default_factory=set)  # folders written into, not made by the run
    environ: dict[str, dict[str, str]] = field(default_factory=dict)  # context -> {name: digest}
    #: variables the run's code set or removed -> their digest before it first did
    environ_before: dict[str, str] = field(default_factory=dict)
    #: ("w" or "r", variable, context, digest read): the writes (when the context writing
    #: changed) and the reads (each value once per context), in the order they happened
    environ_events: list[tuple[str, str, str, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    items: list[str] | None = None
    deselected: list[str] = field(default_factory=list)
    fixtures: dict[str, set[str]] = field(default_factory=dict)  # fixture -> test files
    reports: list[dict[str, Any]] = field(default_factory=list)
    end: int | None = None
    observed: bool = False
    kernel: str = ""  # 'overflow': the kernel dropped events, what was read is not known
    python_keys: set[str] = field(default_factory=set)  # read by the process's Python
    kernel_keys: set[str] = field(default_factory=set)  # read as the kernel reported it

    @property
    def kernel_only(self) -> set[str]:
        """The keys only the kernel saw read: by a process the step started, or by any
        other process opening the file meanwhile (an editor; the kernel names none)."""
        return self.kernel_keys - self.python_keys


def early_message(step_id: str, early: Iterable[str], whose: str) -> str:
    """Why what a step's process read cannot be known: workspace modules ran as Python
    started, before pocflow watched it (pocflow.observed.Facts.early)."""
    files = ", ".join(sorted(early))
    return (
        f"step {step_id}: {files} ran as Python started for {whose} (a sitecustomize, or a "
        ".pth file's import), before pocflow could watch it, so what it read is not known; "
        "do that set-up in a conftest.py (or the step's scripts) instead"
    )


#: the facts that name a workspace path, by the key that holds it
_PATH_KEYS = ("r", "q", "d", "p", "w", "mk")


def _about(fact: dict[str, Any], paths: tuple[str, ...]) -> bool:
    """Whether a fact is about one of these workspace paths or what lies under one."""
    for key in _PATH_KEYS:
        if key in fact:
            rel = str(fact[key]).rstrip("/")
            return any(rel == path or rel.startswith(path + "/") for path in paths)
    return False


def read_facts(path: Path, pytest_session: bool = False) -> Facts:
    """Parse a facts file (a cut-off last line, from a killed process, is ignored)."""
    from pocflow._observe import FOLLOW

    facts = Facts()
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return facts
    parsed = []
    contexts: dict[str, str] = {}  # "@<n>" -> the n-th context the session entered
    for line in lines:
        try:
            fact = json.loads(line)
        except ValueError:
            continue
        if not isinstance(fact, dict):
            continue
        if "ctx" in fact:
            contexts[f"{FOLLOW}{fact.get('g')}"] = str(fact["ctx"])
            continue
        parsed.append(fact)
    # what a pytest plugin writes for itself (pytest-cov's reports): no step's input or output
    tools = tuple(str(rel) for fact in parsed for rel in fact.get("tool") or ())
    for fact in parsed:
        if tools and _about(fact, tools):
            continue
        context = fact.get("c")
        if isinstance(context, str) and context.startswith(FOLLOW):
            # a child's read: in its parent's context of the moment; unknown: every step's
            fact["c"] = contexts.get(context, "")
        _take(facts, fact, pytest_session)
    return facts


#: what the session plugin says of a pytest session as a whole (pocflow._session): coverage's
#: fail-under, why pytest stopped early, an exit status a hook set, the workspace file that
#: read every step's command line, the test module that registered plugins for all
_SESSION_WIDE = frozenset({"whole", "stopped", "exit_set", "whole_args", "session_plugins"})


def _take(facts: Facts, fact: dict[str, Any], pytest_session: bool) -> None:
    context = str(fact.get("c", ""))
    by = str(fact.get("by", ""))
    for kind in ("r", "q", "d"):
        if kind in fact:
            rel = str(fact[kind])
            key = rel.rstrip("/") + "/" if kind == "d" else rel
            if kind == "d" and rel in (".", ""):
                key = "./"
            if (
                pytest_session
                and kind == "r"
                and Path(rel).name == "pyproject.toml"
                and not (by or fact.get("k") or fact.get("t"))
            ):  # pytest (no workspace code, in the session's own thread) reads it for its
                # [tool.pytest] tables; another program, or a pool's worker, for all of it
                key = rel + PYTEST_TABLE
            facts.reads.append((key, context, by))
            _kept(facts, key, context, by, fact.get("lib"))
            (facts.kernel_keys if fact.get("k") else facts.python_keys).add(key)
            if "s" in fact:  # (the observer stamps a path at its first read only)
                facts.stamps.setdefault(key, fact["s"])
                if key.endswith(PYTEST_TABLE):  # a test reading the file later stands on it
                    facts.stamps.setdefault(rel, fact["s"])
            if kind == "q":
                facts.databases.add(key)
            return
    if "p" in fact:  # a folder the run wrote into: read as "is a folder" (no stamp)
        key = str(fact["p"])
        facts.reads.append((key, context, by))
        facts.parents.add(key)
    elif "early" in fact:  # workspace modules loaded before the process was watched
        facts.early.update(str(rel) for rel in fact["early"])
    elif "mk" in fact:  # a folder the run made where nothing was
        facts.made.add(str(fact["mk"]))
    elif "observing" in fact:
        facts.observed = True
    elif "w" in fact:
        path = str(fact["w"])
        if path not in facts.written and path not in facts.rewritten:  # its first write
            # (a process that had not read it wrote it after another read it: the facts of
            # every process are in the order things happened)
            first = fact.get("f", True) and not (
                path in facts.python_keys or path in facts.kernel_keys
            )
            (facts.written if first else facts.rewritten).add(path)
            if fact.get("a"):
                facts.appended.add(path)
            if first and fact.get("ac"):
                facts.append_made.add(path)
        if isinstance(fact.get("b"), str):
            facts.before.setdefault(path, fact["b"])
        elif fact.get("big"):
            facts.uncopied.add(path)
        facts.writes.append((path, context))
    elif "ew" in fact:
        if "v" in fact:
            facts.environ_before.setdefault(str(fact["ew"]), str(fact["v"]))
        facts.environ_events.append(("w", str(fact["ew"]), context, ""))
    elif "e" in fact:
        facts.environ_events.append(("r", str(fact["e"]), context, str(fact.get("v", ""))))
        facts.environ.setdefault(context, {})[str(fact["e"])] = str(fact.get("v", ""))
        if by:
            facts.environ_by.setdefault(by, set()).add("$" + str(fact["e"]))
        _kept(facts, "$" + str(fact["e"]), context, by, fact.get("lib"))
    elif not _SESSION_WIDE.isdisjoint(fact):
        for name in _SESSION_WIDE.intersection(fact):
            facts.config[name] = str(fact[name])
    elif "outside_code" in fact:  # (each of xdist's workers says what it loaded)
        known = facts.config.setdefault("outside_code", [])
        for path, when in fact["outside_code"]:
            if str(path) not in known:
                known.append(str(path))
                facts.stamps.setdefault(str(path), when)
    elif "skipped_by" in fact:
        facts.config.setdefault("skipped_by", [])
        facts.config["skipped_by"] += [str(f) for f in fact["skipped_by"]]
    elif "config" in fact:
        # (xdist's workers load pocflow's plugin too: what one session says spreads them)
        workers = facts.config.get("workers")
        outside = facts.config.get("outside_code")
        facts.config = dict(fact["config"])
        facts.config["workers"] = workers or facts.config.get("workers")
        if outside:
            facts.config["outside_code"] = outside
    elif "items" in fact:
        facts.items = [str(i) for i in fact["items"]]
    elif "deselected" in fact:
        facts.deselected += [str(i) for i in fact["deselected"]]
    elif "fixture" in fact:
        facts.fixtures[str(fact["fixture"])] = {str(f) for f in fact.get("files", [])}
    elif "reports" in fact:
        for nodeid, when, outcome, sub, xfail in fact["reports"]:
            facts.reports.append(
                {"report": nodeid, "when": when, "outcome": outcome, "sub": sub, "xfail": xfail}
            )
    elif "end" in fact:
        facts.end = int(fact["end"])
    elif "kernel" in fact and facts.kernel not in ("overflow", "partial"):
        facts.kernel = str(fact["kernel"])


def _kept(facts: Facts, key: str, context: str, by: str, libraries: Any) -> None:
    """A read that library code outside the workspace made (pocflow._observe.Observer.
    reader_and_libraries: linecache, zoneinfo, an installed package, a plugin's fixture or
    hook) is every step's of the session as well: the library may have kept what it read and
    hand it to any later test, through any other library that calls it, with no read the
    observer could see. (A workspace module's source, read by inspect or linecache for a
    traceback or a hypothesis example, is not: the steps that use a module import it.)"""
    if not libraries or not context or key.endswith(".py"):
        return
    if key.startswith("$"):
        facts.environ.setdefault("", {})[key[1:]] = facts.environ[context][key[1:]]
    else:
        facts.reads.append((key, "", ""))


def not_read_by_the_step(facts: Facts, pocflows: Iterable[str]) -> set[str]:
    """The files pocflow writes (``pocflows``: documents, records) that only the kernel saw
    read while the step ran, when the step started no program: then another program opened
    them meanwhile (an editor, a `cat` in another terminal, an IDE's indexer), no read of
    the step's. Read by the step's Python, or by a program it may have started (a test's
    `grep` of a results doc), they stay theirs (and no step can stand on them: see
    pocflow.inputs.pocflows_writes_read)."""
    if any(key == WORKSPACE_PATH_KEY for key, _, _ in facts.reads):
        return set()  # (the key is read whenever workspace code starts a program)
    kernel_only = facts.kernel_only
    return {path for path in pocflows if path in kernel_only}


def attribute(facts: Facts, owners: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """The keys each step read. ``owners``: step id -> its test files (for a script's facts,
    one step with no files: everything is its own)."""
    direct: dict[str, set[str]] = {}
    by_module: dict[str, set[str]] = {by: set(names) for by, names in facts.environ_by.items()}
    for key, context, by in facts.reads:
        direct.setdefault(context, set()).add(key)
        if by:
            by_module.setdefault(by, set()).add(key)
    for context, names in facts.environ.items():
        direct.setdefault(context, set()).update("$" + n for n in names)
    imports = {key for keys in direct.values() for key in keys if key.startswith(IMPORT_PREFIX)}
    result: dict[str, set[str]] = {}
    for step_id, files in owners.items():
        own = set(files)
        contexts = [c for c in direct if _concerns(c, own, facts.fixtures)]
        keys = set().union(*(direct[c] for c in contexts)) if contexts else set()
        result[step_id] = _closure(keys | _packages_of(keys, imports), by_module)
    return result


def _packages_of(keys: set[str], imports: set[str]) -> set[str]:
    """The import keys of the packages that hold the modules among keys. A package is
    imported once, with the first of its modules (the test package ``tests``, while pytest
    collects the session's first test file): every step whose modules are in it stands on
    it, whichever steps share the session."""
    packages = set()
    for key in keys:
        if key.startswith(IMPORT_PREFIX):
            name = key[len(IMPORT_PREFIX) :].split("@", 1)[0]
            while "." in name:
                name = name.rpartition(".")[0]
                packages.add(name)
    if not packages:
        return set()
    return {key for key in imports if key[len(IMPORT_PREFIX) :].split("@", 1)[0] in packages}


def writers(
    facts: Facts, owners: Mapping[str, Iterable[str]], read: Mapping[str, set[str]]
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(what each step's tests may have changed, what the session's other steps' tests may
    have): the files they opened for writing (in their collection, their tests, the fixtures
    they use, or the session itself) and the databases they connected to (SQLite's writes
    are not seen). ``owners``: step id -> its test files; ``read``: the keys each read."""
    by_context: dict[str, set[str]] = {}
    for path, context in facts.writes:
        by_context.setdefault(context, set()).add(path)
    own = {
        step_id: set().union(
            *(paths for c, paths in by_context.items() if _concerns(c, set(files), facts.fixtures)),
            read.get(step_id, set()) & facts.databases,
        )
        for step_id, files in owners.items()
    }
    session = by_context.get("", set())
    others = {
        step_id: set().union(session, *(paths for o, paths in own.items() if o != step_id))
        for step_id in owners
    }
    return own, others


def reads_what_others_set(facts: Facts, files: Iterable[str]) -> list[str]:
    """The variables the tests in these files read, in a shared session, with another value
    than the one they had before any code of the session set them, when these tests (their
    files' contexts, the fixtures they use) had not set them themselves: set by another
    step's tests (or a teardown), their verdict may stand on those having run first."""
    own = set(files)
    set_here: set[str] = set()
    found: list[str] = []
    for kind, name, context, digest in facts.environ_events:
        concerns = bool(context) and _concerns(context, own, facts.fixtures)
        if kind == "w":
            if concerns:
                set_here.add(name)
            continue
        before = facts.environ_before.get(name)
        if (
            concerns
            and before is not None
            and name not in SET_BY_PYTEST  # (pytest's own, set for every test)
            and not name.startswith(OWN_VARIABLES)
            and digest != before
            and name not in set_here
            and name not in found
        ):
            found.append(name)
    return found


def _concerns(context: str, files: set[str], fixtures: Mapping[str, set[str]]) -> bool:
    """Whether reads in this context can affect the step whose test files are given."""
    if not files or context == "":
        return True
    if context.startswith("f:"):
        return context[2:] in files
    if context.startswith("x:"):
        users = fixtures.get(context[2:])
        return users is None or bool(users & files)  # unknown users: every step
    return True


def _closure(keys: set[str], by_module: Mapping[str, set[str]]) -> set[str]:
    """keys, and everything read by the code of every module among them (transitively)."""
    found = set(keys)
    todo = [k for k in keys if k in by_module]
    while todo:
        for key in by_module[todo.pop()]:
            if key not in found:
                found.add(key)
                if key in by_module:
                    todo.append(key)
    return found


def settle(
    root: Path,
    facts: Facts,
    keys: set[str],
    not_inputs: Iterable[str],
    environ: Mapping[str, str] | None = None,
    updates_are_outputs: bool = False,
    memo: dict[str, str] | None = None,
    changed: set[str] | None = None,
    produced: Iterable[str] = (),
) -> dict[str, str]:
    """The fingerprints of the keys a step read, without what was written (by the step, or
    as anyone's output) and pocflow's own variables; each file as it was when first read.

    A file the run wrote before anything read it is an output. A file read first and opened
    for writing afterwards (``r+``, ``O_RDWR``) is an input if the run left it unchanged; if
    the run changed it, it is an output when ``updates_are_outputs`` (a step script updating
    a file in place) or when it is a database, else (a test) it stays an input fingerprinted
    `changed-during-run`: what it read is gone, so the step runs again next time.
    ``environ``: the digests the child saw, by variable name. ``memo``: digests already
    taken for this facts file (the steps of one session share most of their keys).
    ``changed``: changed_by_run of the facts, when already known (the same for every step of
    a session: a session of a thousand steps rewrites a thousand bytecode files).
    ``produced``: what other runs make (the prerequisites' outputs): a folder the run wrote
    into where one of them is needs no more than they do (a fresh clone replays them). A
    folder a script made where nothing was is no input either (``Facts.made``)."""
    memo = {} if memo is None else memo
    changed = changed_by_run(root, facts) if changed is None else changed
    updated = {path for path in changed if updates_are_outputs or path in facts.databases}
    # (a folder a script made, even where it looked first: its output; a test's stays an
    # input: it may need it absent)
    made = facts.made if updates_are_outputs else ()
    # a file a test made by appending where nothing was, then read: what it read stands on
    # that absence (run again, it appends to what is there): the absence is the input
    absent = set() if updates_are_outputs else facts.append_made
    written = facts.written - absent
    excluded = {out.rstrip("/") for out in (*not_inputs, *written, *updated, *made)}
    digests: dict[str, str] = {}
    seen_env: dict[str, str] = dict(environ or {})
    produced_folders: set[str] | None = None
    for key in sorted(keys):
        if key.startswith("$"):
            name = key[1:]
            if name.startswith(OWN_VARIABLES) or name in SET_BY_PYTEST:
                continue
            digests[key] = (
                # (a value the run's own code set is no outside input: what it was before)
                facts.environ_before.get(name)
                or seen_env.get(name)
                or observed_digest(root, key, None)
            )
            continue
        path = key.split(PYTEST_TABLE)[0] if key.endswith(PYTEST_TABLE) else key.rstrip("/")
        if within(path, excluded):
            continue
        if path in absent:
            digests[key] = MISSING
            continue
        known = memo.get(key)
        if key in facts.parents and key not in facts.stamps:  # a folder written into
            if produced_folders is None:
                produced_folders = {p.rpartition("/")[0] for p in produced if "/" in p}
            if within_any(key, produced_folders):
                continue
            if known is None:  # its own times change as the run writes there: what it is
                known = memo[key] = digest_of(root, key)
        if known is None:
            known = observed_digest(root, key, facts.stamps.get(key))
            if known == CHANGED_DURING_RUN and (
                written_back(root, facts, path) or (updates_are_outputs and path in facts.uncopied)
            ):
                # saved as it was read: what was read is there; too large to copy: what the
                # run left there (an edit to it still runs the step again)
                known = digest_of(root, key)
            memo[key] = known
        digests[key] = known
    return _fold_missing(root, digests)


#: how many paths found empty in one folder a record keeps one by one; beyond, the folder's
#: listing stands for them (a test looking for 100,000 files made a 9.5 MB record)
FOLD_MISSING_AT = 32


def _fold_missing(root: Path, digests: dict[str, str]) -> dict[str, str]:
    """The digests, with the paths found empty in a folder that has more than
    FOLD_MISSING_AT of them replaced by that folder's listing ("data/"): any of them
    appearing changes the listing (and so does any other entry coming or going)."""
    missing: dict[str, list[str]] = {}
    for key, digest in digests.items():
        if digest == MISSING and "/" in key and not key.endswith("/") and ":" not in key:
            missing.setdefault(key.rpartition("/")[0], []).append(key)
    for folder, keys in missing.items():
        if len(keys) > FOLD_MISSING_AT:
            for key in keys:
                del digests[key]
            digests[f"{folder}/"] = digest_of(root, f"{folder}/")
    return digests


def outputs_read(
    root: Path,
    facts: Facts,
    keys: set[str],
    not_inputs: Iterable[str],
    memo: dict[str, str] | None = None,
    wrote: Iterable[str] = (),
    others_wrote: Iterable[str] = (),
    concurrent: bool = False,
    rewritten: set[str] | None = None,
) -> dict[str, str]:
    """The files and folder listings among the keys a step's tests read that are outputs
    (``not_inputs``: every step's declared outputs and what steps' scripts wrote; and what
    the session wrote — another step's tests, say — which settle leaves out of the inputs),
    each fingerprinted as first read — or, when the step's own tests wrote it or changed it
    and no other step's did (``wrote``: what they opened for writing, and the databases they
    connected to; ``others_wrote``: the same of the session's other steps, and of the
    session itself), as the session left it — unless other sessions ran beside this one
    (``concurrent``: `doit -n`), whose writes this one does not see. Changed during the
    session after the step's tests read it otherwise, it is `changed-during-run`: the step's
    tests run again. They are not inputs (a record must not stand on what a fresh clone
    makes anew), but tests that read an output stand on its content: when it changes —
    edited by hand, rewritten by a step's scripts run again — the tests run again (kept in
    the local run file; see pocflow.record.TestResult.outputs_read). ``rewritten`` gets the
    keys of those the step's own tests changed after they read them: no run of theirs read
    the file as they left it (pocflow.batch runs them once more on it)."""
    memo = {} if memo is None else memo
    outputs = {out.rstrip("/") for out in (*not_inputs, *facts.written)}
    shared, touched = set(others_wrote), set(wrote)
    found: dict[str, str] = {}
    for key in sorted(keys):
        if key.startswith("$") or key.endswith(PYTEST_TABLE):
            continue  # a variable, pytest's reading of its settings
        path = key.rstrip("/")
        if not path or not within(path, outputs):
            continue
        known = memo.get(key)
        if known is None and key in facts.parents and key not in facts.stamps:
            known = memo[key] = digest_of(root, key)  # a folder as a folder: what it is
        if known is None:
            known = memo[key] = observed_digest(root, key, facts.stamps.get(key))
        own = within(path, touched) or (key.endswith("/") and _holds_one(path, touched))
        if own and not concurrent and not within(path, shared) and not _holds_one(path, shared):
            if (
                rewritten is not None
                and known == CHANGED_DURING_RUN
                # read first, then written (not made, then read); a database: connected to
                and (path in facts.rewritten or path in facts.databases)
                and path not in facts.appended  # (its content read, not only added to)
                and not written_back(root, facts, path)
            ):
                rewritten.add(key)
            known = digest_of(root, key)  # what the step's own tests left
        found[key] = known
    return found


def _holds_one(folder: str, paths: set[str]) -> bool:
    """Whether one of the paths is in the folder (its listing may have changed)."""
    return any(path.rpartition("/")[0] == folder for path in paths)


def changed_by_run(root: Path, facts: Facts) -> set[str]:
    """The files the run read first, opened for writing and really changed (not written
    back as they were: written_back). One too large to copy is not taken as changed: what
    was read may still be there, so it stays an input (as the run left it: settle) rather
    than leave the inputs as an output."""
    return {
        path
        for path in facts.rewritten
        if observed_digest(root, path, facts.stamps.get(path)) == CHANGED_DURING_RUN
        and not written_back(root, facts, path)
        and path not in facts.uncopied
    }


def changed_by_runs(root: Path, every: list[Facts]) -> set[str]:
    """changed_by_run of the runs of one phase, in order (a step's scripts): a file one run
    changed and a later one put back as the first run that rewrote it found it is not
    changed by the phase."""
    first_copy: dict[str, str] = {}
    for facts in every:
        for path, copy in facts.before.items():
            first_copy.setdefault(path, copy)
    phase = Facts(before=first_copy)
    return {
        path
        for path in set().union(*(changed_by_run(root, facts) for facts in every))
        if not written_back(root, phase, path)
    }


def written_back(root: Path, facts: Facts, path: str) -> bool:
    """Whether the run wrote back exactly what the file held when it was first rewritten
    (the observer's copy of it then, `before`), so that what was read is still there."""
    copy = facts.before.get(path)
    if copy is None:
        return False
    try:
        return Path(copy).read_bytes() == (root / path).read_bytes()
    except OSError:
        return False


def within_any(folder: str, folders: set[str]) -> bool:
    """Whether one of the folders is folder itself or inside it."""
    return folder in folders or any(f.startswith(folder + "/") for f in folders)


def folders_of(paths: Iterable[str]) -> set[str]:
    """The workspace folders holding the paths, and the folders above them ("out/", "out/a/"
    of out/a/b.txt; not the workspace's own)."""
    found = set()
    for path in paths:
        folder = path.rstrip("/").rpartition("/")[0]
        while folder and f"{folder}/" not in found:
            found.add(f"{folder}/")
            folder = folder.rpartition("/")[0]
    return found


def within(path: str, folders: set[str]) -> bool:
    """Whether path is one of the given paths, or inside one of them."""
    while path:
        if path in folders:
            return True
        path = path.rpartition("/")[0]
    return False


def child_environ(facts: Facts) -> dict[str, str]:
    """Every variable's digest as the child saw it (any context)."""
    seen: dict[str, str] = {}
    for names in facts.environ.values():
        seen.update(names)
    return seen


def pytest_keys(facts: Facts) -> list[str]:
    """The keys every pytest verdict stands on: the variables that change pytest or the
    process, and the plugins it loaded."""
    keys = ["$" + name for name in PYTEST_VARIABLES] + list(PROCESS_KEYS)
    if facts.config and not facts.config.get("own"):
        keys.append(ANCESTORS_KEY)  # no config in the workspace: pytest looks above it
    keys += [PLUGIN_PREFIX + str(name) for name, _version in facts.config.get("plugins", [])]
    # code the session loaded from beside the workspace (a conftest.py above it, a module on
    # a `pythonpath` folder outside it): by its path from the workspace ("../conftest.py")
    keys += [str(path) for path in facts.config.get("outside_code", [])]
    return keys


def merge_inputs(before: dict[str, str], observed: dict[str, str]) -> dict[str, str]:
    """The static inputs as fingerprinted before the run, with what the run really read; a
    file whose two fingerprints differ changed while the run read it."""
    merged = dict(observed)
    for key, digest in before.items():
        merged[key] = digest if observed.get(key, digest) == digest else CHANGED_DURING_RUN
    return merged
