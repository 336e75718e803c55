"""Content fingerprints of a step's inputs: files, folder listings, variables, pytest's config.

An input is named by a *key*:

=========================  ===========================================================
``PoC/step1_load.py``      a file: sha256 of its bytes (``missing`` when there is none)
                           and ``+x`` after it when the file is executable
``tests/data/``            a folder a step listed: sha256 of its sorted entry names (and kinds)
``$NAME``                  an environment variable: sha256 of its value, ``unset``, or
                           ``set`` for a secret (pocflow.redact)
``pyproject.toml:tool.pytest``  the pytest tables of a pyproject.toml pytest read
``plugin:NAME``            a pytest plugin pytest loaded: its installed version
``python:text-encoding``   the encoding ``open()`` uses when none is named (the locale's,
                           from LC_ALL, LC_CTYPE or LANG; UTF-8 in UTF-8 mode)
``python:path-in-workspace``  the folders of PATH inside the workspace and their listings
                           (``none``), for a step that started a program
``tests/data/:entries``    a folder workspace code listed with os.scandir: sha256 of its
                           entries' names, kinds, sizes and executable bits
=========================  ===========================================================

**Content, not clocks.** A file's digest is taken from the cache only while its size,
modification time, change time and inode all match what they were when it was hashed (as
git's index does), and only when it was hashed more than ``RACY_S`` after its last change
(a file rewritten within one tick of the file-system clock keeps its stamp). Otherwise its
content is hashed again. The cache is kept per process and, by ``doit run``, on disk in the
state folder, so a run with nothing to do reads stamps, not contents.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import importlib.machinery
import json
import locale
import os
import re
import stat
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from pocflow._fs import atomic_write_text, read_json, sha256_file, stamp
from pocflow.pytest_config import settings_file_in
from pocflow.redact import NAMES_ENV

MISSING = "missing"
#: the fingerprint of a path that is there but is not what was read there: a folder (or
#: another kind) where a file was looked for, a file where a folder was listed — not
#: MISSING, so that a path found absent and later made a folder is a change
NOT_A_FILE = "not-a-file"
NOT_A_FOLDER = "not-a-folder"
#: the fingerprints of a path with no content to read
NO_CONTENT = frozenset({MISSING, NOT_A_FILE})
#: the digest of a file that changed between the moment a step read it and the end of the
#: phase: it never matches, so the step runs again
CHANGED_DURING_RUN = "changed-during-run"
#: the start of a link's fingerprint: ``link:<where it points>:<what it leads to>``
LINK_PREFIX = "link:"
#: what an input file's fingerprint ends with when it is executable
EXECUTABLE = "+x"
#: what follows a file's digest when a SQLite write-ahead log beside it holds changes
#: (``<file>-wal``, not empty): changes committed there are the database's content while
#: the file itself keeps its bytes until a checkpoint
WAL_MARK = "+wal:"
#: seconds after its last change before a file's cached digest is trusted: more than one tick
#: of the file system's clock (Linux's coarse clock ticks every 1-10 ms; file systems that keep
#: whole seconds, and so stamps with no sub-millisecond part, get RACY_COARSE_S)
RACY_S = 0.05
RACY_COARSE_S = 2.0


def _racy_ns(now: Stamp) -> float:
    coarse = now[1] % 1_000_000 == 0 and now[2] % 1_000_000 == 0
    return (RACY_COARSE_S if coarse else RACY_S) * 1e9


CACHE_FILE = "fingerprints.json"
_ENV_RE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")
PYTEST_TABLE = ":tool.pytest"
PLUGIN_PREFIX = "plugin:"
IMPORT_PREFIX = "import:"
#: the pytest configuration above the workspace, when the workspace has none of its own
ANCESTORS_KEY = "pytest:config-above-workspace"
#: the text encoding of the interpreter: the locale's variables count by their effect, so
#: machines whose LANG differs but whose encoding is the same (en_US.UTF-8, C.UTF-8) agree
TEXT_ENCODING_KEY = "python:text-encoding"
#: the folders of PATH inside the workspace (a program a step runs by its bare name is found
#: there first): an input of a step whose code, or a library for it, looked PATH up
#: (subprocess, shutil.which), in place of PATH itself, which differs between machines
WORKSPACE_PATH_KEY = "python:path-in-workspace"
#: the end of a key for what the entries of a folder listed with os.scandir are: names,
#: kinds, sizes and whether executable (what DirEntry.stat() tells that counts)
ENTRIES_SUFFIX = "/:entries"

#: the end of a key for what a prerequisite's scripts stand on and produced, as its record
#: says ("steps/records/step1.json#implement"): its implement section without its times,
#: and its verdict.
#: A dependent stands on that, not on the record's bytes, which change with each test the
#: prerequisite gains or each time it is verified
PRODUCED_SUFFIX = "#implement"
#: what of a record's implement section a dependent stands on (not when it ran, for how
#: long, or where its logs are)
_PRODUCED_FIELDS = ("outcome", "inputs", "outputs", "written", "metrics", "manual", "observed")

Stamp = tuple[int, int, int, int]


def kind_of(key: str) -> str:
    """'file', 'folder', 'env', 'pytest-config', 'pytest-ancestors', 'plugin', 'import',
    'text-encoding', 'path-in-workspace' or 'produced'."""
    if (
        key[:1] != "$"
        and not key.endswith(("/", PYTEST_TABLE, ENTRIES_SUFFIX, PRODUCED_SUFFIX))
        and not key.startswith((PLUGIN_PREFIX, IMPORT_PREFIX, "pytest:", "python:"))
    ):
        return "file"
    if key == TEXT_ENCODING_KEY:
        return "text-encoding"
    if key == WORKSPACE_PATH_KEY:
        return "path-in-workspace"
    if key.endswith(ENTRIES_SUFFIX):
        return "entries"
    if key.endswith(PRODUCED_SUFFIX):
        return "produced"
    if key.startswith(IMPORT_PREFIX):
        return "import"
    if key == ANCESTORS_KEY:
        return "pytest-ancestors"
    if _ENV_RE.match(key):
        return "env"
    if key.startswith(PLUGIN_PREFIX):
        return "plugin"
    if key.endswith(PYTEST_TABLE):
        return "pytest-config"
    if key.endswith("/"):
        return "folder"
    return "file"


class _Cache:
    """sha256 per absolute path, with the stamp it was taken at; on disk per workspace."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Stamp, str, int]] = {}
        self.loaded: set[Path] = set()
        self.files: dict[Path, Path] = {}  # root -> its cache file
        self.dirty = False

    def attach(self, root: Path, state_dir: str) -> None:
        """Read the workspace's cache file once per process."""
        if root in self.loaded:
            return
        self.loaded.add(root)
        path = root / state_dir / CACHE_FILE
        self.files[root] = path
        data = read_json(path)
        if data is None:
            return
        prefix = f"{root}{os.sep}"
        for name, entry in data.items():
            # a file outside the workspace (an installation's RECORD) is kept by its path
            full = name if os.path.isabs(name) else prefix + name
            if (
                type(entry) is list
                and len(entry) == 6
                and all(type(v) is int for v in entry[:4])
                and type(entry[4]) is str
                and type(entry[5]) is int
            ):
                self.entries.setdefault(full, (tuple(entry[:4]), entry[4], entry[5]))

    def digest(self, path: str, info: os.stat_result) -> str:
        """The file's sha256: the cached one while its stamp is the one it was hashed at and
        it was hashed after its last change could still have been in the same clock tick."""
        known = self.entries.get(path)
        if known is not None:
            then, digest, hashed_at = known
            mtime, ctime = info.st_mtime_ns, info.st_ctime_ns
            if (
                then[0] == info.st_size
                and then[1] == mtime
                and then[2] == ctime
                and then[3] == info.st_ino
                and hashed_at - max(mtime, ctime) > _racy_ns(then)
            ):
                return digest
        now = stamp(info)
        hashed_at = time.time_ns()
        digest = sha256_file(Path(path))
        self.entries[path] = (now, digest, hashed_at)
        self.dirty = True
        return digest

    def save(self) -> None:
        """Write each workspace's entries back (best effort: it is only a cache): its own
        files by their path in it, files outside every workspace (what is installed) by their
        absolute path, so that a run that hashed nothing new writes nothing."""
        if not self.dirty:
            return
        self.dirty = False
        prefixes = tuple(str(root) + os.sep for root in self.files)
        for root, path in self.files.items():
            prefix = str(root) + os.sep
            data = {
                name[len(prefix) :] if name.startswith(prefix) else name: [*stamp, digest, hashed]
                for name, (stamp, digest, hashed) in self.entries.items()
                if name.startswith(prefix) or not name.startswith(prefixes)
            }
            with contextlib.suppress(OSError):
                if path.parent.is_dir():
                    atomic_write_text(path, json.dumps(data, separators=(",", ":")), durable=False)


_CACHE = _Cache()


def use_cache_file(root: Path, state_dir: str) -> None:
    """Read the digests an earlier run kept in the workspace's state folder."""
    _CACHE.attach(root, state_dir)


def save_cache_file() -> None:
    """Keep this process's digests for the next run (only `doit run` does, holding the run
    lock: `doit status` and the other commands write nothing)."""
    _CACHE.save()


def file_digest(path: Path | str, info: os.stat_result | None = None) -> str:
    """sha256 of a file, through the cache; MISSING when there is nothing there, NOT_A_FILE
    when what is there is not a regular file. ``info``: its stat result, when the caller has
    just taken it."""
    name = str(path)
    try:
        info = info or os.stat(name)
    except OSError:
        return MISSING
    if not stat.S_ISREG(info.st_mode):
        return NOT_A_FILE
    try:
        return _CACHE.digest(name, info)
    except OSError:
        return MISSING


def _content_and_mode(path: str) -> str:
    """An input file's fingerprint: file_digest, marked EXECUTABLE when any execute bit is
    set (a test running the file, or checking os.access(path, os.X_OK), fails without it,
    and a checkout that keeps no modes loses it), and followed by its write-ahead log's
    digest when it is a SQLite database whose log holds changes (WAL_MARK)."""
    try:
        info = os.stat(path)
    except OSError:
        return MISSING
    digest = file_digest(path, info)
    if digest in NO_CONTENT:
        return digest
    if info.st_mode & 0o111:
        digest += EXECUTABLE
    log = f"{path}-wal"
    try:
        logged = os.stat(log).st_size > 0
    except OSError:
        logged = False
    return f"{digest}{WAL_MARK}{file_digest(log)[:16]}" if logged else digest


def folder_digest(path: Path) -> str:
    """sha256 of a folder's sorted entry names, each marked with its kind (_kind_mark): an
    empty folder replaced by a file of the same name, or a file by a dangling link, is a
    change for a test that keeps only the files it lists; MISSING when there is nothing
    there, NOT_A_FOLDER when what is there is not a folder."""
    try:
        with os.scandir(path) as entries:
            names = sorted(entry.name + _kind_mark(entry) for entry in entries)
    except NotADirectoryError:
        return NOT_A_FOLDER
    except OSError:
        return MISSING
    return hashlib.sha256("\n".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def _kind_mark(entry: os.DirEntry[str]) -> str:
    """What a listing adds to an entry's name: "/" for a folder (or a link to one), "" for a
    file (or a link to one), "?" for anything else (a dangling link, a pipe, a socket)."""
    if entry.is_dir():
        return "/"
    return "" if entry.is_file() else "?"


def environ_digest(value: str | None, secret: bool = False) -> str:
    """What a record keeps of an environment variable's value (never the value)."""
    if value is None:
        return "unset"
    if secret:
        return "set"  # a rotated secret does not re-verify a step; no digest of it is kept
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def secret_names() -> set[str]:
    """Names whose values are secret (pocflow.redact puts them in the environment)."""
    return set(filter(None, os.environ.get(NAMES_ENV, "").split(",")))


def pytest_table_digest(path: Path) -> str:
    """sha256 of the [tool.pytest] tables of a pyproject.toml (what pytest takes from it),
    and of its [tool.coverage] tables where it has some (what coverage, under pytest-cov,
    takes from it: a fail_under there decides a session's exit status)."""
    content = file_digest(path)
    if content in NO_CONTENT:
        return content
    known = _TABLES.get(content)
    if known is None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError:
            return MISSING
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return "unreadable"
        tool = data.get("tool")
        table = tool.get("pytest", {}) if isinstance(tool, dict) else {}
        coverage = tool.get("coverage") if isinstance(tool, dict) else None
        taken = table if coverage is None else {"pytest": table, "coverage": coverage}
        known = _TABLES[content] = hashlib.sha256(
            json.dumps(taken, sort_keys=True, default=str).encode()
        ).hexdigest()
    return known


#: the pytest tables' digest of each pyproject.toml content seen (by the file's sha256)
_TABLES: dict[str, str] = {}


_VERSIONS: dict[str, str] = {}
#: variable -> (value, digest) last computed
_ENVIRON: dict[str, tuple[str | None, str]] = {}


def plugin_digest(name: str) -> str:
    """The installed version of a distribution (a pytest plugin), or MISSING. Read from its
    ``<name>-<version>.dist-info`` folder's name where there is one (parsing its METADATA
    costs the import of Python's whole e-mail parser), else from its metadata."""
    if name not in _VERSIONS:
        try:
            found = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            _VERSIONS[name] = MISSING
        else:
            folder = getattr(found, "_path", None)
            stem = (
                folder.name[: -len(".dist-info")]
                if isinstance(folder, Path) and folder.name.endswith(".dist-info")
                else ""
            )
            version = stem.rpartition("-")[2] if "-" in stem else ""
            _VERSIONS[name] = version or found.version
    return _VERSIONS[name]


def digest_of(root: Path, key: str) -> str:
    """The current fingerprint of one input key (taken once per key inside looking_once)."""
    look: dict[tuple[Path, str], str] | None = getattr(_LOOK, "digests", None)
    if look is None:
        return _digest_now(root, key)
    found = look.get((root, key))
    if found is None:
        found = look[(root, key)] = _digest_now(root, key)
    return found


#: the digests taken inside looking_once, per thread: (workspace, key) -> digest (doit's
#: thread workers, `-P thread`, take digests of what scripts wrote meanwhile)
_LOOK = threading.local()


@contextlib.contextmanager
def looking_once() -> Iterator[None]:
    """Fingerprint each input key at most once inside: for a computation that starts no
    process and writes no input, such as every step's status (an interpreter variable, a
    pytest plugin, a config file, a shared helper are inputs of every step: 4,052 keys
    stand for 51,599 inputs at 1000 steps). Nested, the outer one holds; other threads
    look afresh."""
    if getattr(_LOOK, "digests", None) is not None:
        yield
        return
    _LOOK.digests = {}
    try:
        yield
    finally:
        _LOOK.digests = None


def _digest_now(root: Path, key: str) -> str:
    kind = kind_of(key)
    if kind == "file":
        path = f"{root}{os.sep}{key}"
        if os.path.islink(path):  # what the link says as well as what it leads to
            return f"{LINK_PREFIX}{os.readlink(path)}:{_content_and_mode(path)}"
        return _content_and_mode(path)
    if kind == "folder":
        return folder_digest(root / key.rstrip("/") if key != "./" else root)
    if kind == "env":
        name = key[1:]
        value = os.environ.get(name)
        known = _ENVIRON.get(name)
        if known is None or known[0] != value:
            known = _ENVIRON[name] = (
                value,
                environ_digest(value, secret=value is not None and name in secret_names()),
            )
        return known[1]
    if kind == "pytest-config":
        return pytest_table_digest(root / key[: -len(PYTEST_TABLE)])
    if kind == "import":
        return import_digest(root, key)
    if kind == "pytest-ancestors":
        return ancestors_config_digest(root)
    if kind == "path-in-workspace":
        return workspace_path_digest(root)
    if kind == "entries":
        folder = key[: -len(ENTRIES_SUFFIX)]
        return entries_digest(root / folder if folder else root)
    if kind == "produced":
        return produced_digest(root / key[: -len(PRODUCED_SUFFIX)])
    if kind == "text-encoding":
        # what open() uses when no encoding is named
        return codecs.lookup("utf-8" if sys.flags.utf8_mode else locale.getencoding()).name
    return plugin_digest(key[len(PLUGIN_PREFIX) :])


def produced_digest(record: Path) -> str:
    """What a step's record says its scripts stood on and produced, and whether the step
    holds (PRODUCED_SUFFIX): MISSING without a record, the file's own digest when it holds
    no implement section. Worked out once per content of the record (its digest, through
    the cache of file digests): every dependent's check asks it."""
    if record.is_symlink():
        return _produced_digest(record)
    content = file_digest(record)
    if content in NO_CONTENT:
        return _produced_digest(record)
    known = _PRODUCED.get(content)
    if known is None:
        known = _PRODUCED[content] = _produced_digest(record)
    return known


#: the content digest of a record -> its produced_digest (what a record holds is fixed by
#: its bytes)
_PRODUCED: dict[str, str] = {}


def _produced_digest(record: Path) -> str:
    data = read_json(record)
    if data is None:
        return MISSING if not record.exists() else _content_and_mode(str(record))
    section = data.get("implement") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return _content_and_mode(str(record))
    scripts = [
        [run.get("path"), run.get("exit_code"), run.get("timed_out", False)]
        for run in section.get("scripts") or []
        if isinstance(run, dict)
    ]
    kept = {name: section.get(name) for name in _PRODUCED_FIELDS}
    # and whether the step holds: a dependent of a step whose tests fail waits for it
    kept |= {"scripts": scripts, "verdict": data.get("verdict")}
    text = json.dumps(kept, sort_keys=True, ensure_ascii=True)
    return "produced:" + hashlib.sha256(text.encode()).hexdigest()


def workspace_path_digest(root: Path) -> str:
    """The folders of this process's PATH inside the workspace, in order, relative to it (a
    relative entry is taken from the workspace, where steps run), each with the digest of
    its listing (a program appearing in an earlier one is found first), or 'none'. A
    virtual environment's (`.venv/bin`, which `uv run` puts first and `.venv/bin/doit` does
    not) is left out: what is installed there counts by the environment's packages."""
    base = os.path.realpath(root)
    inside = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        folder = os.path.realpath(os.path.join(base, entry))
        if folder == base or folder.startswith(base + os.sep):
            rel = os.path.relpath(folder, base)
            if os.path.isfile(os.path.join(os.path.dirname(folder), "pyvenv.cfg")):
                continue  # a virtual environment's: its packages count (the environment's)
            inside.append(f"{rel}@{folder_digest(Path(folder))[:16]}")
    return os.pathsep.join(inside) if inside else "none"


def entries_digest(path: Path) -> str:
    """sha256 of a folder's entries as os.scandir's DirEntry.stat() tells them: each name
    with its kind (_kind_mark), and for a file its size and whether it is executable;
    MISSING, NOT_A_FOLDER as for folder_digest."""
    lines = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                line = entry.name + _kind_mark(entry)
                if entry.is_file():
                    info = entry.stat()
                    line += f" {info.st_size}" + (EXECUTABLE if info.st_mode & 0o111 else "")
                lines.append(line)
    except NotADirectoryError:
        return NOT_A_FOLDER
    except OSError:
        return MISSING
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8", "surrogateescape")).hexdigest()


def ancestors_config_digest(root: Path) -> str:
    """'none', or the path and sha256 of the first file in a folder above the workspace that
    pytest would take its configuration from (pytest looks upwards when the workspace has
    none), by pytest's own rules (pocflow.pytest_config)."""
    for folder in Path(root).resolve().parents:
        found = settings_file_in(folder)
        if found is None:
            continue
        try:
            text = found.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return f"{found}:{hashlib.sha256(text.encode()).hexdigest()}"
    return "none"


#: the file suffixes of modules, in the order the import system tries them in a folder
_MODULE_SUFFIXES = (
    *importlib.machinery.EXTENSION_SUFFIXES,
    *importlib.machinery.SOURCE_SUFFIXES,
    *importlib.machinery.BYTECODE_SUFFIXES,
)
#: import key -> (modification times of its folders, the module file found)
_IMPORTS: dict[str, tuple[tuple[int, ...], str]] = {}


def import_digest(root: Path, key: str) -> str:
    """Which file `import NAME` finds in the folders of an "import:NAME@DIR:DIR" key, in the
    import system's order (a package's __init__, then a compiled extension, a .py, a .pyc,
    folder by folder); when none, the folders of that name it would join into a namespace
    package ("src/ns/:lib/ns/"); 'missing' when there are none either. Kept while the
    folders' modification times (which change when entries come and go) are the same."""
    name, _, folders = key[len(IMPORT_PREFIX) :].partition("@")
    leaf = name.rpartition(".")[2]
    dirs = folders.split(":") if folders else []
    base = f"{root}{os.sep}"
    times = []
    for folder in dirs:
        try:
            times.append(os.stat(base + folder).st_mtime_ns)
        except OSError:
            times.append(-1)
    memo = f"{root}\0{key}"
    known = _IMPORTS.get(memo)
    if known is not None and known[0] == tuple(times):
        return known[1]
    found = MISSING
    for folder, mtime in zip(dirs, times, strict=True):
        hit = _module_in(base + folder, mtime, leaf)
        if hit is not None:
            found = os.path.normpath(os.path.join(folder, hit)).replace(os.sep, "/")
            break
    else:  # no module, no regular package: the folders of that name make a namespace package
        portions = [
            f"{os.path.normpath(os.path.join(folder, leaf))}/".replace(os.sep, "/")
            for folder in dirs
            if os.path.isdir(os.path.join(base + folder, leaf))
        ]
        found = ":".join(portions) or MISSING
    _IMPORTS[memo] = (tuple(times), found)
    return found


def _module_in(folder: str, mtime: int, leaf: str) -> str | None:
    """The file `import LEAF` takes from one folder, as a path inside it (the folder's listing
    is read once per process while its modification time stays), or None."""
    known = _LISTINGS.get(folder)
    if known is None or known[0] != mtime:
        try:
            names = frozenset(os.listdir(folder))
        except OSError:
            names = frozenset()
        known = _LISTINGS[folder] = (mtime, names)
    names = known[1]
    candidates = []
    if leaf in names:  # a package: its __init__
        candidates = [f"{leaf}{os.sep}__init__{s}" for s in _MODULE_SUFFIXES]
    candidates += [leaf + s for s in _MODULE_SUFFIXES if leaf + s in names]
    return next((c for c in candidates if os.path.isfile(os.path.join(folder, c))), None)


#: folder -> (its modification time, the names in it)
_LISTINGS: dict[str, tuple[int, frozenset[str]]] = {}


def fingerprint(root: Path, keys: list[str]) -> dict[str, str]:
    """The current fingerprint of each input key."""
    return {key: digest_of(root, key) for key in sorted(set(keys))}


def differing(root: Path, digests: dict[str, str]) -> list[str]:
    """The input keys whose fingerprint now differs from the one given, sorted (each key
    looked at once however many records it is asked for: see looking_once)."""
    with looking_once():
        return [key for key, digest in sorted(digests.items()) if digest_of(root, key) != digest]


def still_holds(root: Path, digests: dict[str, str]) -> bool:
    """Whether every input still has the fingerprint recorded for it."""
    return all(digest_of(root, key) == digest for key, digest in digests.items())


class _Held:
    """Digests taken since doit last recorded a task's outcome: workspace -> key -> digest.

    While doit only checks pocflow's tasks, nothing changes a file, so each input is
    fingerprinted once however many phases stand on it (an interpreter variable, a pytest
    plugin, a config file: every step's phases stand on them). Held only while pocflow's
    state store is doit's backend (pocflow.store): it reports every outcome doit records —
    which doit does after a task ran, failed or was ignored, in the main process for parallel
    runs too, before any task that depends on it is checked — and only in a run of pocflow's
    tasks alone (pocflow.cmd_run releases them when the dodo has tasks of its own: their
    up-to-date checks, titles and task creators are the user's code, which doit runs while it
    checks tasks, with no outcome recorded)."""

    def __init__(self) -> None:
        self.digests: dict[str, dict[str, str]] | None = None  # None: not holding
        self.quiet = False  # holding, and doit has recorded no outcome yet

    def start(self) -> None:
        self.digests, self.quiet = {}, True

    def stop(self) -> None:
        self.digests, self.quiet = None, False

    def forget(self) -> None:
        self.quiet = False
        if self.digests is not None:
            self.digests.clear()


_HELD = _Held()
#: pocflow's state store opened (hold digests between outcomes) / closed (do not: the next
#: command may use another backend) / doit recorded an outcome (take every digest afresh)
hold_digests, release_digests, outcome_recorded = _HELD.start, _HELD.stop, _HELD.forget


def nothing_ran() -> bool:
    """Whether, in this invocation, doit has recorded no task's outcome yet (no task of
    pocflow's nor of the user's own dodo ran, failed or was ignored) — known only while
    pocflow's state store is doit's backend; False otherwise."""
    return _HELD.quiet


def held_digest(digest: str) -> str:
    """A fingerprint as doit's saved values keep it: a sha256 (64 hex digits) cut to its
    first 16 (64 bits: no accidental collision among a workspace's files, and none made on
    purpose short of 2^64 tries); any other fingerprint (missing, unset, a version, a path)
    as it is."""
    if len(digest) == 64 and _HEX.fullmatch(digest):
        return digest[:16]
    return digest


_HEX = re.compile(r"[0-9a-f]{64}")


def still_holds_now(root: Path, digests: dict[str, str]) -> bool:
    """Whether every input still has the fingerprint doit keeps for it (held_digest), taking
    each input's fingerprint at most once between two task outcomes (doit's up-to-date
    checks: pocflow.phases.phase_current)."""
    if _HELD.digests is None:
        return all(held_digest(digest_of(root, key)) == digest for key, digest in digests.items())
    held = _HELD.digests.setdefault(str(root), {})
    for key, digest in digests.items():
        now = held.get(key)
        if now is None:
            now = held[key] = held_digest(digest_of(root, key))
        if now != digest:
            return False
    return True


def observed_digest(root: Path, key: str, stamp_then: list[int] | None) -> str:
    """The fingerprint of an input a step read, provided it is still as it was when read
    (same size, times and inode); else CHANGED_DURING_RUN."""
    if kind_of(key) in ("file", "folder"):
        path = root / key.rstrip("/") if key not in ("./", ".") else root
        try:
            info = path.stat()
        except OSError:
            now = None
        else:
            now = list(stamp(info))
        if now != (list(stamp_then) if stamp_then is not None else None):
            return CHANGED_DURING_RUN
    return digest_of(root, key)
