"""What a child process really reads inside the workspace, recorded through audit hooks.

pocflow installs an ``Observer`` in every process it starts to run a step: the script
process (``pocflow/_site/sitecustomize.py`` installs it while ``python SCRIPT`` starts), a
``python -m pytest`` session (this file's launcher, ``python _observe.py --root R --out F
--module pytest -- ARGS``), and each fork-server child (which calls ``install`` itself,
after the fork: audit hooks cannot be removed). It records:

- files opened for reading (``open`` events, which include every module's source or
  bytecode as it is loaded, whatever the route: ``sys.path`` edits, package ``__init__``,
  ``conftest.py``, ``importlib``), databases opened by path (``sqlite3.connect``), and
  folders listed (``os.listdir``, ``os.scandir``, so ``glob`` and ``os.walk`` too);
- modules an ``import`` statement or ``importlib.import_module`` hands out even when they
  were loaded before (a second step's test importing a helper the first step loaded);
- which workspace module's code did each read (the innermost workspace frame), so a read
  that a helper cached for later callers is attributed to whoever imports that helper, and
  which libraries from outside the workspace were between (one of them may have kept it
  for any later caller);
- files written, renamed or removed (a step's outputs are not its inputs);
- environment variables read by code in the workspace (by name and a digest of the value;
  the names listed in ``POCFLOW_SECRET_NAMES`` only as set or unset).

Each new fact is appended at once, as one JSON line, to the output file (opened before the
hook is installed, written with ``os.write``): a process that ends with ``os._exit`` or is
killed leaves what it read so far. Reads are tagged with a *context*, which pocflow's pytest
plugin (``pocflow._session``) switches as collection and tests proceed, so a shared session
can be split per step.

Self-contained: it imports nothing of pocflow (the fork server and the launcher run where
pocflow may not be importable).
"""

import builtins
import errno
import os
import sys
from _thread import get_ident
from stat import S_ISDIR, S_ISREG

if False:  # for type checkers only: importing typing/types costs every script a few ms
    import mmap
    import types
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any
# Few and cheap imports: every step script imports this module as it starts, so whatever it
# imports is paid once per script (json, hashlib, runpy, typing and importlib.util: ~30 ms).

#: the attribute of ``sys`` under which the running observer is found (one per process)
HANDLE = "_pocflow_observer"
#: folders of the workspace whose content is never an input
SKIP_PARTS = (
    ".venv",
    ".git",
    ".pocflow",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    ".tox",
    ".nox",
)
SECRET_NAMES_ENV = "POCFLOW_SECRET_NAMES"
#: what a watched process tells the Python processes it starts (see _observe_children):
#: the observer's arguments, PYTHONPATH as it was (unset: not there), that they are its
OBSERVE_ENV = "POCFLOW_OBSERVE"
PYTHONPATH_ENV = "POCFLOW_PYTHONPATH"
CHILD_ENV = "POCFLOW_CHILD"
#: the workspace module that started the process (Observer.parent_by)
BY_ENV = "POCFLOW_STARTED_BY"
#: the working folder the process was started in, as its starter named it (a link beside
#: the workspace: the process's own look at its folder finds only where the link led)
CWD_ENV = "POCFLOW_STARTED_IN"
#: the end of the name of the context file beside a facts file (Observer._enter)
CONTEXT_SUFFIX = ".ctx"
#: the context of a process a watched one started or forked: "@<n>", the context its parent
#: numbered n and is in when it reads (see Observer._enter and _Following)
FOLLOW = "@"
#: variables that describe the machine or the session, not the run: a library reading one
#: for workspace code (tempfile, expanduser, getpass, shutil.which) does not make it an input
MACHINE_VARIABLES = frozenset(
    (
        "HOME",
        "USER",
        "LOGNAME",
        "USERNAME",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PATH",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "TERM",
        "COLUMNS",
        "LINES",
        "LANG",
        "LANGUAGE",
        "LC_CTYPE",
        "LC_MESSAGES",
        "LC_NUMERIC",
        "LC_TIME",
        "LC_COLLATE",
        "LC_MONETARY",
        "SHELL",
        "HOSTNAME",
        "DISPLAY",
        "NO_COLOR",
        "FORCE_COLOR",
        "PY_COLORS",
        "CI",
        "GITHUB_ACTIONS",
        "PYTEST_CURRENT_TEST",
        "PYTEST_VERSION",
        "PYTEST_THEME",
        "PYTEST_THEME_MODE",
        "PYTEST_DEBUG_TEMPROOT",
    )
)
#: more names that describe the machine, the session or the shell rather than the run (a
#: test copying the environment reads them all: mock.patch.dict(os.environ)), and the
#: starts of the names of whole families of them
MACHINE_NAMES = frozenset(
    (
        "VIRTUAL_ENV",
        "VIRTUAL_ENV_PROMPT",
        "MAIL",
        "HISTSIZE",
        "HISTFILESIZE",
        "HISTCONTROL",
        "HISTFILE",
        "TMUX",
        "TMUX_PANE",
        "WINDOWID",
        "TERM_PROGRAM",
        "TERM_PROGRAM_VERSION",
        "TERM_SESSION_ID",
        "COLORTERM",
        "LS_COLORS",
        "LESSOPEN",
        "LESSCLOSE",
        "MOTD_SHOWN",
    )
)
MACHINE_PREFIXES = ("SSH_", "XDG_", "DBUS_", "PYENV_", "CONDA_")
#: what a shell keeps for itself and exports: the folder it was in before the last cd, how
#: deeply shells are nested, the last command's argument. Code copying the environment
#: reads them (dict(os.environ), for a child process), and they change as people move
#: about; no program's verdict stands on them
SHELL_BOOKKEEPING = frozenset(("OLDPWD", "SHLVL", "_"))
_READ_EVENTS = frozenset(
    (
        "open",
        "os.listdir",
        "os.scandir",
        "sqlite3.connect",
        "os.remove",
        "os.mkdir",
        "os.rename",
        "os.rmdir",
        "os.truncate",
        "shutil.rmtree",
        "os.link",
        "os.symlink",
        "ctypes.dlopen",
        "subprocess.Popen",
        "os.system",
        "os.posix_spawn",
        "os.exec",
        "os.spawn",
        "os.chdir",
        "socket.bind",
    )
)
#: the audit events of a process starting a program (which may look it up on PATH, itself or
#: through a shell)
_PROGRAM_EVENTS = frozenset(
    ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn")
)
#: standard-library code that opens names relative to a folder descriptor (dir_fd), which the
#: "open" event does not carry: shutil.rmtree, os.fwalk
_DIR_FD_OPENERS = ("/shutil.py", "<frozen os>", "/os.py")
#: modules (top-level names) that read a file for their caller and keep nothing of it for a
#: later caller: a read through them is their caller's alone. Any other library code between
#: the workspace code and a read (linecache, zoneinfo, a package of the environment) may keep
#: what it read and serve it to another step's tests in the same session (Observer.read)
_KEEPS_NOTHING = frozenset(
    (
        "os",
        "posixpath",
        "ntpath",
        "genericpath",
        "pathlib",
        "io",
        "_pyio",
        "codecs",
        "encodings",
        "shutil",
        "tempfile",
        "glob",
        "fnmatch",
        "stat",
        "json",
        "csv",
        "contextlib",
        "importlib",
        "zipimport",
        "_frozen_importlib",
        "_frozen_importlib_external",
        "runpy",
        "tokenize",
        "subprocess",
        "threading",
        "zipfile",
        "tarfile",
        "gzip",
        "bz2",
        "lzma",
        "_compression",
        "sqlite3",
        "pocflow",
        "_session",
        "_forkserver",
        "_observe",
        "sitecustomize",
        "__main__",
    )
)
#: the file names pytest gives a mark's condition written as a string (_pytest.skipping)
_CONDITIONS = frozenset(("<skipif condition>", "<xfail condition>"))
#: the test runner's own modules: what called a library's code from them (a plugin's hook or
#: fixture pytest runs) is where a read's libraries end (Observer.reader_and_libraries)
_RUNNER = frozenset(("_pytest", "pytest", "pluggy"))
_WRITE_FLAGS = os.O_APPEND | os.O_CREAT | os.O_TRUNC
_MODULE_FILES = (__file__,)
#: pocflow's package folder (this file is in it), with a separator
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TEXT_OK = frozenset(
    " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
)
_PYCACHE = os.sep + "__pycache__" + os.sep

#: the files of Python code outside_code_read keeps
_CODE_SUFFIXES = (".py", ".pyw", ".pyc", ".zip", ".pyz", ".egg", ".whl")


def installed_folders() -> tuple[str, ...]:
    """The folders of the Python installation (its prefixes and site folders) and pocflow's
    own, each with a separator at its end, as given and as real paths."""
    import site

    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, _PACKAGE}
    for look in ("getsitepackages", "getusersitepackages"):
        try:
            found = getattr(site, look)()
        except AttributeError:  # (a virtualenv's old site module)
            continue
        folders.update([found] if isinstance(found, str) else found)
    return tuple(
        {
            f.rstrip(os.sep) + os.sep
            for folder in folders
            if folder
            for f in (folder, os.path.realpath(folder))
        }
    )


def real_path(path: str, folders: dict[str, str] | None = None) -> str:
    """os.path.realpath(path), the real paths of the folders looked at kept in ``folders``
    when given: hundreds of modules' files lie in a few dozen folders, each looked at once
    (a file that is itself a link is resolved whole)."""
    if folders is None:
        return os.path.realpath(path)
    head, tail = os.path.split(path)
    if not head or tail in ("", os.curdir, os.pardir):
        return os.path.realpath(path)
    real_head = folders.get(head)
    if real_head is None:
        real_head = folders[head] = os.path.realpath(head)
    real = os.path.join(real_head, tail)
    return os.path.realpath(real) if os.path.islink(real) else real


def code_apart(
    path: str, apart: tuple[str, ...], folders: dict[str, str] | None = None
) -> tuple[str, list[int]] | None:
    """The real path of the file of code at path and its stamp (as stamp_of), when it is a
    regular file in none of the folders ``apart`` (each ending in a separator: the
    installation's, the workspace) and no source's bytecode cache; else None. ``folders``:
    as real_path's."""
    real = real_path(path, folders)
    if real.startswith(apart) or _PYCACHE in real:
        return None
    try:
        info = os.stat(real)
    except OSError:
        return None
    if not S_ISREG(info.st_mode):
        return None
    return real, [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def code_reached(
    path: str, apart: tuple[str, ...], folders: dict[str, str] | None = None
) -> list[tuple[str, list[int]]]:
    """code_apart of path, and where the path reached it through a link (a folder beside the
    workspace that links to one version of the code: pointed elsewhere, the file it led to
    is unchanged), each with its stamp; [] when it is no code apart. ``folders``: as
    real_path's."""
    found = code_apart(path, apart, folders)
    if found is None:
        return []
    reached = os.path.normpath(path)
    if reached == found[0] or reached.startswith(apart):
        return [found]
    return [found, (reached, found[1])]


#: the input a lookup of PATH stands for (pocflow.fingerprint.WORKSPACE_PATH_KEY)
WORKSPACE_PATH_KEY = "python:path-in-workspace"
#: what a folder key ends with when what its entries' stat() tells counts (``data/:entries``:
#: pocflow.fingerprint.ENTRIES_SUFFIX)
ENTRIES_SUFFIX = ":entries"
#: how many audit events the observer handles between two looks at what the kernel saw
KERNEL_LOOK_EVERY = 2048
#: the most folders a kernel watch takes (beyond, or past the kernel's per-user limit, it
#: says so, and no step it watched is verified)
KERNEL_WATCHES = 65536
#: frames between a caller and os.environ.__getitem__ (3.11 freezes os and _collections_abc)
_PLUMBING = (
    "/os.py",
    "<frozen os>",
    "/_collections_abc.py",
    "<frozen _collections_abc>",
    "/_observe.py",
)


def _fd_path(fd: int) -> str | None:
    """The path of an open folder descriptor (Linux's /proc; elsewhere unknown)."""
    try:
        return _READLINK(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _at(path: object, dir_fd: object) -> str | None:
    """The path a call names: path itself, or, relative and given a folder descriptor (the
    audit events say -1 for none), joined to the folder it is open on; None when it is no
    path, or that folder is not known."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None
    name = os.fsdecode(path)
    if isinstance(dir_fd, int) and dir_fd >= 0 and name[:1] != os.sep:
        base = _fd_path(dir_fd)
        return os.path.join(base, name) if base is not None else None
    return name


#: os.readlink as Python has it, before the observer wraps it
_READLINK = os.readlink
#: where a path names what a process has open (a folder descriptor, its working folder):
#: /proc/self/fd/5/a.txt is a.txt in the folder descriptor 5 is open on
_PROC_ALIASES = ("/proc/", "/dev/fd/")


def _through_proc(full: str) -> str:
    """The path a /proc/self/fd/N/..., /proc/self/cwd/... or /dev/fd/N/... path leads to now
    (the last part left as named: a link there is the link)."""
    folder, name = os.path.split(full)
    if folder.endswith("/fd") and name.isdigit():
        return os.path.realpath(full)  # a file's descriptor: the file
    return os.path.join(os.path.realpath(folder), name)


#: os.stat as Python has it, before the observer wraps it (see Observer.looked_at)
_STAT = os.stat


#: the largest file the observer copies before a run rewrites it (see Observer.wrote)
KEEP_BEFORE = 64 << 20


def stamp_of(path: str) -> list[int] | None:
    """[size, mtime_ns, ctime_ns, inode] of a file; None when there is none."""
    try:
        info = _STAT(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


class KernelWatch:
    """What any process opens or writes in the workspace's folders, as Linux's inotify
    reports it: the reads no audit hook sees (a C library opening a file by its path —
    polars, lxml, the C library's time-zone file —, a Python process the step starts,
    a program that is not Python). The folders are those of the workspace when the watch
    starts, but for the ones never watched (SKIP_PARTS, the skipped, ``__pycache__``), and
    the folders links among them lead to, inside the workspace or not: a file is reported
    under every workspace name it has that way (``cur/v.txt`` as well as ``v1/v.txt``: a
    link pointed elsewhere is a change). Another process opening a file there meanwhile (an
    editor) is counted too: more, never fewer. Needs ctypes and Linux; ``fd`` is -1 where it
    cannot run."""

    def __init__(self, root: str, skip: tuple[str, ...] = ()) -> None:
        """``skip``: folders of the workspace not to watch, relative, beyond SKIP_PARTS."""
        self.root = os.path.realpath(root)
        prefix = self.root + os.sep
        skip = tuple(
            prefix + part.lstrip("@").rstrip("/") + os.sep for part in (*SKIP_PARTS, *skip)
        )
        self.folders: dict[int, list[str]] = {}  # watch -> the folder's workspace names
        self.fd = -1
        self.poller: Any = None  # (select.poll, once fd is open)
        self.overflowed = False
        self.partial = False  # some folder could not be watched
        self.made: set[str] = set()
        self.replaced: set[str] = set()
        self.prefix, self.skip = prefix, skip
        self.since = _watch_clock()
        try:
            ctypes = _stdlib_private("ctypes")

            libc = ctypes.CDLL(None, use_errno=True)
            self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if self.fd < 0:
                return
            select = _stdlib_private("select")
            self.poller = select.poll()
            self.poller.register(self.fd, select.POLLIN)
            self.add = libc.inotify_add_watch
            self.errno = ctypes.get_errno
            self.walk(self.root)
        except Exception:
            self.close()

    def walk(self, top: str) -> None:
        """Watch top and the folders under it (following links, once per real folder);
        again when a watch starts, and for a folder made meanwhile."""
        if _unwatched(top, self.skip):
            return
        walked: set[str] = set()  # real folders walked (a link back up would loop)
        for folder, subfolders, _files in os.walk(top, followlinks=True):
            real = os.path.realpath(folder)
            if real in walked:
                subfolders[:] = []
                self._name(folder)  # another name of a folder watched
                continue
            walked.add(real)
            subfolders[:] = [
                name for name in subfolders if not _unwatched(os.path.join(folder, name), self.skip)
            ]
            self._name(folder)

    def _name(self, folder: str) -> None:
        """Watch a folder (one watch per real folder) under one more of its workspace names."""
        if len(self.folders) >= KERNEL_WATCHES:
            self.partial = True
            return
        wd = self.add(self.fd, os.fsencode(folder), _KERNEL_EVENTS)
        if wd < 0:
            if self.errno() not in (errno.ENOENT, errno.ENOTDIR):
                self.partial = True  # the kernel's limit of watches
            # (else removed, or replaced by a file, since it was seen: a folder made and
            # removed during the run holds nothing that was there before it)
            return
        rel = folder[len(self.prefix) :] if folder != self.root else ""
        names = self.folders.setdefault(wd, [])
        if rel not in names:
            names.append(rel)

    def quiet(self) -> bool:
        """Whether the kernel has reported nothing since the last drain: one poll, where a
        drain is a call chain (the observer looks before every read it records and at every
        switch of context: a dozen looks per test, nearly all finding nothing)."""
        return self.fd < 0 or not self.poller.poll(0)

    def drain(self) -> tuple[dict[str, None], set[str]]:
        """(the files opened, the files written or made) since the last drain, in order of
        first opening; ``overflowed`` is set when the kernel dropped events, and ``made``
        holds the files made meanwhile (created, or moved in)."""
        opened: dict[str, None] = {}
        written: set[str] = set()
        self.made = set()
        self.replaced = set()
        if self.fd < 0:
            return opened, written
        order = sys.byteorder
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                break
            i = 0
            while i + 16 <= len(data):
                wd = int.from_bytes(data[i : i + 4], order, signed=True)
                mask = int.from_bytes(data[i + 4 : i + 8], order)
                size = int.from_bytes(data[i + 12 : i + 16], order)
                name = data[i + 16 : i + 16 + size].rstrip(b"\0")
                i += 16 + size
                if mask & _IN_Q_OVERFLOW:
                    self.overflowed = True
                    continue
                names = self.folders.get(wd)
                if names is None or not name:
                    continue
                text = os.fsdecode(name)
                if mask & _IN_ISDIR:
                    if mask & (_IN_CREATE | _IN_MOVED_TO) and names:  # a folder made: watched
                        folder = f"{names[0]}/{text}" if names[0] else text
                        self.walk(self.prefix + folder)
                    continue
                for folder in names:
                    rel = f"{folder}/{text}" if folder else text
                    if mask & _IN_OPEN:
                        opened.setdefault(rel)
                    if mask & _IN_WRITTEN and (
                        mask & _IN_CHANGED or self._changed_since_watched(rel)
                    ):
                        written.add(rel)
                    if mask & _IN_CREATE:
                        self.made.add(rel)
                    if mask & _IN_REPLACED:
                        self.replaced.add(rel)
        return opened, written

    def _changed_since_watched(self, rel: str) -> bool:
        """Whether a file only closed after being opened to write (no write reported: a
        database SQLite opens read-write to read it; or written through a memory map, which
        the kernel reports no write for) was changed while watched: its change time (which,
        unlike its modification time, no one can set back) is not older than the watch
        (less a margin for the file system's coarse clock)."""
        try:
            return os.stat(self.prefix + rel).st_ctime_ns >= self.since - _CLOCK_MARGIN_NS
        except OSError:
            return True  # gone: what it was is not known

    def start(self) -> None:
        """Keep taking what the kernel reports from now on in a thread of this process, for
        a process being waited on (a step script): its queue holds 16,384 events. What it
        reported before is dropped. (One watch serves every script of a process: closing
        one costs the kernel about 20 ms.)"""
        self.walk(self.root)  # folders made since the last run
        self.drain()
        self.since = _watch_clock()
        self.overflowed = False
        self.taken: tuple[dict[str, None], set[str]] = ({}, set())
        self.taken_made: set[str] = set()
        self.taken_replaced: set[str] = set()
        self.stopping = False
        self.wake = os.pipe()  # stop() writes to it: the thread is not left to time out
        threading = _stdlib_module("threading")
        self.thread = threading.Thread(target=self._keep_taking, daemon=True)
        self.thread.start()

    def _keep_taking(self) -> None:
        select = _stdlib_private("select")
        while not self.stopping and self.fd >= 0:
            try:
                select.select([self.fd, self.wake[0]], [], [])
            except (OSError, ValueError):
                return
            self._take()

    def _take(self) -> None:
        opened, written = self.drain()
        self.taken[0].update(opened)
        self.taken[1].update(written)
        self.taken_made.update(self.made)
        self.taken_replaced.update(self.replaced)

    def stop(self) -> tuple[dict[str, None], set[str]]:
        """What the kernel reported since start (``overflowed`` says if it dropped any;
        ``taken_made``, the files made meanwhile)."""
        self.stopping = True
        os.write(self.wake[1], b"x")
        self.thread.join()
        for end in self.wake:
            os.close(end)
        self._take()
        return self.taken

    def close(self) -> None:
        if self.fd >= 0:
            try:  # noqa: SIM105 (contextlib: one import more for every script)
                os.close(self.fd)
            except OSError:
                pass
        self.fd = -1


_IN_MODIFY, _IN_CLOSE_WRITE, _IN_OPEN = 0x2, 0x8, 0x20
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_Q_OVERFLOW, _IN_ISDIR = 0x4000, 0x40000000
#: replaced or removed: whether what was there was read first is not known
_IN_REPLACED = _IN_MOVED_TO | _IN_MOVED_FROM | _IN_DELETE
_IN_WRITTEN = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
#: written for certain: a file only closed after being opened to write may be unchanged
_IN_CHANGED = _IN_WRITTEN & ~_IN_CLOSE_WRITE
#: how much older than the watch a file's change time may be and still be one of the
#: watch's (file systems stamp files with a clock that ticks every few milliseconds)
_CLOCK_MARGIN_NS = 50_000_000


def _watch_clock() -> int:
    return int(_stdlib_module("time").time_ns())


_KERNEL_EVENTS = _IN_OPEN | _IN_WRITTEN | _IN_REPLACED


def kernel_report(
    opened: "Iterable[str]",
    written: set[str],
    made: set[str],
    replaced: set[str],
    read_here: "Callable[[str], bool]",
    written_here: set[str],
    exists: "Callable[[str], bool]",
) -> "Iterator[tuple[str, str, bool]]":
    """What the kernel reported opened, written and made in the workspace (a KernelWatch's)
    that the process's Python did not do itself (``read_here``, ``written_here``), as facts
    to add, in this order:

    - ``("made", rel, False)``: made new (not over something) by another process, still
      there: written before anything read it;
    - ``("read", rel, unknown)``: opened; ``unknown`` when it was also written or replaced by
      processes the kernel names no order for: what was read is not known;
    - ``("written", rel, False)``: written over, still there: whether it was put back as it
      was is not known (no copy was taken before).

    A file made and removed meanwhile (a database's journal, a temporary file) is none of
    them. The session's observer and pocflow's side of a script's watch both use this."""
    new = made - replaced
    for rel in sorted(new & written - written_here):
        if exists(rel):
            yield "made", rel, False
    for rel in opened:
        if rel in new or read_here(rel) or (rel in made and not exists(rel)):
            continue
        yield "read", rel, rel in written or rel in replaced
    for rel in sorted(written - new - written_here):
        if exists(rel):
            yield "written", rel, False


def _unwatched(folder: str, skip: tuple[str, ...]) -> bool:
    """Whether a folder is one no watch takes: bytecode, or one of the skipped (absolute,
    with a separator)."""
    return os.path.basename(folder) == "__pycache__" or (folder + os.sep).startswith(skip)


def _stdlib_module(name: str) -> "Any":
    """A module of the standard library, imported from its own folders (a workspace file of
    the same name on the path is not it) if it is not loaded yet."""
    if name in sys.modules:
        return sys.modules[name]
    path = sys.path[:]
    stdlib = os.path.dirname(os.__file__)
    sys.path[:] = [stdlib, os.path.join(stdlib, "lib-dynload")]
    try:
        return __import__(name)
    finally:
        sys.path[:] = path


def _stdlib_private(name: str) -> "Any":
    """A module of the standard library for the observer's own use, imported from its own
    folders, and then forgotten with all its import loaded: the code observed finds in
    ``sys.modules`` what it would have found unobserved, so its own ``import select`` takes
    a workspace's ``select.py`` where a plain run does. (Loaded already: that one.)"""
    if name in sys.modules:
        return sys.modules[name]
    before = set(sys.modules)
    try:
        return _stdlib_module(name)
    finally:
        for added in set(sys.modules) - before:
            del sys.modules[added]


class Observer:
    """Records reads, writes, imports and environment reads inside one workspace."""

    def __init__(self, root: str, out: str, skip: tuple[str, ...] = ()) -> None:
        self.given_root = root
        self.root = os.path.realpath(root)
        self.prefix = self.root + os.sep
        given = os.path.abspath(root) + os.sep
        self.aliases = (given,) if given != self.prefix else ()
        # folders, so with a separator: ".git" must not swallow ".github"; the one marked
        # "@" is pocflow's state folder (not an input either, but read by the step's own code
        # it is reported: see state_read)
        state = next((part[1:] for part in skip if part[:1] == "@"), ".pocflow")
        skip = tuple(part.lstrip("@") for part in skip)
        self.skip = tuple(self.prefix + part.rstrip("/") + os.sep for part in (*SKIP_PARTS, *skip))
        self.state = self.prefix + state.rstrip("/") + os.sep
        self.skip_rel = tuple(part[len(self.prefix) :] for part in self.skip)
        self.state_name = os.path.basename(state.rstrip("/"))
        # the file a step script hands its metrics to pocflow in (pocflow.metrics): the
        # script's own to read back, in the state folder
        metrics = os.environ.get("POCFLOW_METRICS_FILE")
        self.metrics = os.path.normpath(os.path.abspath(metrics)) if metrics else ""
        self.fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.out = out
        self.kept = 0  # copies of files as they were before a rewrite (see wrote)
        self.context = ""
        self.stack: list[str] = []
        self.seen: set[tuple[str, ...]] = set()
        self.busy: set[int] = set()  # threads inside the observer (a hook may release the GIL)
        self.main_thread = get_ident()  # installed as the process starts
        self.places: dict[tuple[str, str], str | None] = {}  # (cwd, path) -> rel or None
        self.workspace_files: dict[str, str] = {}  # code file name -> see workspace_file
        self.open_base: dict[int, object] = {}  # thread -> os.open's path, dir_fd resolved
        self.linked: list[tuple[str, str]] = []  # (source, context) of hard links made
        #: what the kernel sees opened in the workspace's folders (install(kernel=True))
        self.kernel: KernelWatch | None = None
        self.events = 0  # audit events handled, while the kernel is watched
        self.looking = False  # taking what the kernel reported (see _from_kernel)
        self.py_reads: set[tuple[str, str]] = set()  # (rel, context) this process read
        self.py_written: set[str] = set()  # what this process wrote
        self.children = False  # Python processes it starts observe themselves (see install)
        #: the context file, mapped: the number of the context this process is in, for the
        #: processes that follow it (CONTEXT_SUFFIX; see _enter), and the numbers given
        self.context_map: mmap.mmap | None = None
        self.context_ids: dict[str, int] = {}
        #: the workspace module that started this process (its reads are that module's too)
        self.parent_by = ""
        self.site = ""  # pocflow's _site folder, once the processes it starts observe themselves
        self.last_writes: dict[str, str] = {}  # variable -> the context that last wrote it
        #: code read from outside both the workspace and the Python installation (a helper
        #: on a folder beside the workspace, a zip of modules there): its real path -> its
        #: stamp as first read (pocflow._session reports it; see outside_code_read)
        self.outside_code: dict[str, list[int]] = {}
        self.outside_seen: set[str] = set()
        self.installed = installed_folders()
        #: a process a watched one started: all it does is for the workspace (child_started)
        self.child = False
        #: its working folder as named (by its starter, by os.chdir) where that is a link:
        #: a process working in a link beside the workspace reaches the code there through
        #: it, and the kernel's look at the folder gives only where the link led
        self.cwd_named: str | None = None
        #: each such folder's real path -> the path it was named by (with separators)
        self.named_folders: dict[str, str] = {}
        secret = os.environ.get(SECRET_NAMES_ENV, "")
        self.secret_names = set(filter(None, secret.split(",")))

    # -- writing facts ---------------------------------------------------------------
    def emit(self, fact: dict[str, object]) -> None:
        """Append one fact as a JSON line."""
        os.write(self.fd, (_json(fact) + "\n").encode("ascii"))

    def push(self, context: str) -> None:
        """Reads from now on belong to context (until pop)."""
        self.from_kernel()
        self.stack.append(self.context)
        self._enter(context)

    def pop(self) -> None:
        """Back to the enclosing context."""
        self.from_kernel()
        self._enter(self.stack.pop() if self.stack else "")

    def switch(self, context: str) -> None:
        """Reads from now on belong to context."""
        self.from_kernel()
        self.read_linked()
        self._enter(context)

    def _enter(self, context: str) -> None:
        """Reads belong to context from now on. Where processes this one started observe
        themselves, their reads are in the context this one is in when they read: its
        number is in the context file they map (see _Following), and a fact says, once per
        context, which context a number is."""
        if self.children and context != self.context and self.context_map is not None:
            number = self.context_ids.get(context)
            if number is None:
                number = self.context_ids[context] = len(self.context_ids)
                self.emit({"ctx": context, "g": number})
            self.context_map[:8] = number.to_bytes(8, "little")
        self.context = context

    def pass_pythonpath(self, value: str | None) -> None:
        """What a Python process started from now on gets: pocflow's _site folder first on
        ``PYTHONPATH`` (its sitecustomize observes the process), and the process's own
        ``PYTHONPATH`` (value; None: unset) to put back before its code runs. Again each time
        this process's code sets or removes ``PYTHONPATH`` (a test's monkeypatch.setenv)."""
        if not self.site:
            return
        if value is None:
            _UNSETENV(PYTHONPATH_ENV)
        else:
            _PUTENV(PYTHONPATH_ENV, value)
        _PUTENV("PYTHONPATH", self.site + (os.pathsep + value if value else ""))

    def follow(self, out: str = "") -> None:
        """This process works for the one that started or forked it: its reads are in
        whatever context that one is in when they happen (see _Following), and it enters
        no context of its own. ``out``: the facts file, for a process started anew (a
        forked one shares its parent's mapping of the context file)."""
        if self.context_map is None and out:
            try:
                mmap = _stdlib_private("mmap")  # (a workspace's mmap.py is not it)
                with open(out + CONTEXT_SUFFIX, "rb") as handle:
                    self.context_map = mmap.mmap(handle.fileno(), 8, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                pass  # no context file: its reads are every step's
        self.stack = []
        self.children = False
        self.__class__ = _Following

    def guarded(self, work: "Callable[..., None]", *args: object) -> None:
        """Do work in this thread unless the observer is at work in it already (what it opens
        and looks at itself is not the process's doing); what work raises is swallowed:
        observing never breaks the process observed."""
        thread = get_ident()
        if thread in self.busy:
            return
        self.busy.add(thread)
        try:
            work(*args)
        except Exception:
            pass
        finally:
            self.busy.discard(thread)

    def read_linked(self) -> None:
        """Read the files hard-linked since the last look (os.link(src, dst): what dst holds
        is src's content, read by whatever name), each in the context that linked it."""
        if self.linked:
            self.guarded(self._read_linked)

    def _read_linked(self) -> None:
        pending, self.linked = self.linked, []
        current = self.context
        try:
            for rel, context in pending:
                self.context = context
                self.read(rel)
        finally:
            self.context = current

    def from_kernel(self) -> None:
        """Take what the kernel saw opened or written in the workspace's folders since the
        last look that this process's Python did not open itself (a C library, a process
        the test started): read, or written, in the current context."""
        if self.kernel is not None and not self.kernel.quiet():
            self.guarded(self._from_kernel)  # (a copy taken before a rewrite: not a read)

    def _from_kernel(self) -> None:
        kernel = self.kernel
        if kernel is None or self.looking or kernel.quiet():
            return
        self.looking = True  # (wrote, below, looks first too)
        try:
            opened, written = kernel.drain()
            report = kernel_report(
                opened,
                written,
                kernel.made,
                kernel.replaced,
                lambda rel: (rel, self.context) in self.py_reads,
                self.py_written,
                lambda rel: os.path.lexists(self.prefix + rel),
            )
            for kind, rel, unknown in report:
                if rel.startswith(self.skip_rel) or "__pycache__" in rel.split("/"):
                    continue  # (bytecode, and its folders: made by imports, no one's input)
                if kind == "made":
                    self.wrote(rel)
                elif kind == "read":  # (unknown: a stamp that never matches)
                    self.read(rel, kernel=True, unknown=unknown)
                elif ("q", rel) not in self.seen:  # (a database: pocflow.observed's rules)
                    self.wrote(rel, copy=False)  # reported after the fact: no copy
            if kernel.overflowed and ("overflow",) not in self.seen:
                self.seen.add(("overflow",))
                self.emit({"kernel": "overflow"})
            if kernel.partial and ("partial",) not in self.seen:
                self.seen.add(("partial",))
                self.emit({"kernel": "partial"})
        finally:
            self.looking = False

    # -- paths -------------------------------------------------------------------------
    def inside(self, path: object) -> str | None:
        """The workspace-relative form of path, or None when it is not an input candidate."""
        if isinstance(path, int):
            return None
        if not isinstance(path, str):
            try:
                path = os.fsdecode(path)  # type: ignore[arg-type]
            except TypeError:
                return None
        assert isinstance(path, str)
        cwd = os.getcwd() if path[:1] != os.sep else ""
        known = self.places.get((cwd, path), False)
        if known is not False:
            return known  # type: ignore[return-value]
        full = os.path.join(cwd, path) if cwd else path
        if full.startswith(_PROC_ALIASES):  # where it leads depends on the moment: no cache
            return self._place(_through_proc(os.path.normpath(full)))
        # `..` after a symbolic link climbs out of where the link points, not out of the
        # link's folder, as normpath would have it
        full = os.path.realpath(full) if ".." in full.split(os.sep) else os.path.normpath(full)
        rel = self._place(full)
        self.places[(cwd, path)] = rel
        return rel

    def searched(self, entry: object) -> str | None:
        """A folder of the import system's path as a workspace folder ("." for the workspace's
        own: a module file put there is found before those of the folders after it), or None
        when it is outside."""
        if not isinstance(entry, str):
            return None
        if self.is_workspace(entry or "."):
            return "."
        folder = self.inside(entry or ".")
        return None if folder is None else folder or "."

    def searched_apart(self, entry: object) -> str | None:
        """A folder of the import system's path outside both the workspace and the Python
        installation (a `pythonpath` folder beside the workspace), by its path from the
        workspace ("../shared"); None for any other."""
        if not isinstance(entry, str):
            return None
        full = os.path.abspath(entry or os.curdir)  # ('': the working folder)
        if (full + os.sep).startswith(self.installed):
            return None
        full = self.as_named(full + os.sep).rstrip(os.sep)  # (a link, as reached)
        return self.from_workspace(full)  # (one not there yet too: made, it is searched)

    def from_workspace(self, full: str) -> str:
        """A path outside the workspace by its path from it ("../shared/x.py"), as inputs
        outside it are keyed."""
        return os.path.relpath(full, self.prefix).replace(os.sep, "/")

    def is_workspace(self, path: object) -> bool:
        """Whether path is the workspace's folder itself (which ``inside`` leaves out: it is
        no file; ``searched`` names it "." where the import system searches it)."""
        try:
            full = os.path.abspath(os.fsdecode(path))  # type: ignore[arg-type]
        except TypeError:
            return False
        return full + os.sep in (self.prefix, *self.aliases) or os.path.realpath(full) == self.root

    def _place(self, full: str) -> str | None:
        if not full.startswith(self.prefix):
            alias = next((a for a in self.aliases if full.startswith(a)), None)
            if alias is None:
                return None
            full = self.prefix + full[len(alias) :]
        if full.endswith(".pyc") and _PYCACHE in full:  # a module loaded from its bytecode
            folder, name = full.split(_PYCACHE, 1)
            full = folder + os.sep + name.split(".", 1)[0] + ".py"
        if full.startswith(self.skip) or _PYCACHE in full or full.endswith(_PYCACHE[:-1]):
            return None  # (a bytecode folder, made by the first import in a fresh clone)
        return full[len(self.prefix) :]

    def outside_code_read(self, path: object) -> None:
        """Keep a file of Python code read from outside both the workspace and the Python
        installation (and pocflow): a module's source, a sourceless .pyc, a zip of modules
        (not the bytecode cache of a source). Whatever then becomes of the module (taken
        out of sys.modules, loaded by file location without a name there), what it was
        read from is code the session's verdict stands on."""
        try:
            text = os.fsdecode(path)  # type: ignore[arg-type]
        except TypeError:
            return
        if not text.endswith(_CODE_SUFFIXES) or text in self.outside_seen:
            return
        self.outside_seen.add(text)
        full = text if text[:1] == os.sep else os.path.join(os.getcwd(), text)
        if full.startswith(self.installed):
            return
        full = self.as_named(full)
        for real, when in code_reached(full, (*self.installed, self.prefix)):
            if real in self.outside_code:
                continue
            self.outside_code[real] = when
            # said as it is read (a session also says what it loaded as it finishes)
            self.emit({"outside_code": [[self.from_workspace(real), when]]})

    def state_read(self, path: object, kind: str = "r") -> None:
        """Workspace code read (kind 'r'), listed ('d') or looked for something in pocflow's
        state folder, which ``inside`` leaves out: what pocflow writes there changes as it
        verifies steps, so the read is reported under its workspace-relative name and the
        step that made it is not verified (pocflow.inputs.pocflows_writes_read)."""
        try:
            text = os.fsdecode(path)  # type: ignore[arg-type]
        except TypeError:
            return
        relative = text[:1] != os.sep
        if self.state_name not in text and not (relative and self.state_name in os.getcwd()):
            return
        full = os.path.normpath(os.path.join(os.getcwd(), text) if relative else text)
        if not (full + os.sep).startswith(self.state) or full == self.metrics:
            return
        if not self.for_workspace():
            return
        if self.by_pocflow():
            return  # pocflow's own code, called by the step's (its metrics file, say)
        self.read(full[len(self.prefix) :], kind)

    def by_pocflow(self) -> bool:
        """Whether pocflow's own code is doing what is being done, called by workspace code
        (the innermost frame of pocflow's package or of the workspace is pocflow's)."""
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(_PACKAGE) and name not in _MODULE_FILES:
                return True
            if name.startswith(self.prefix) and not name.startswith(self.skip):
                return False
            frame = frame.f_back  # type: ignore[assignment]
        return False

    def workspace_code(self, name: str) -> bool:
        """Whether a frame's file (frame_file) is workspace code: inside the workspace, not in
        a skipped folder, and not this observer (a workspace that is pocflow's own repository
        holds it)."""
        return (
            name.startswith(self.prefix)
            and not name.startswith(self.skip)
            and name not in _MODULE_FILES
        )

    def workspace_file(self, frame: "types.FrameType") -> str:
        """frame_file of a frame running workspace code (workspace_code), else ''. Worked out
        once per code file name: the observer walks the stack on each read and each
        environment read, and pytest's own frames are most of every walk (a name frame_file
        maps by the frame, a doctest's or a mark condition's, is worked out each time)."""
        code_name = frame.f_code.co_filename
        known = self.workspace_files.get(code_name)
        if known is None:
            name = self.frame_file(frame)
            known = name if self.workspace_code(name) else ""
            if code_name not in _CONDITIONS and not code_name.startswith("<doctest "):
                self.workspace_files[code_name] = known
        return known

    def reader(self, depth: int = 2) -> str:
        """The workspace file of the innermost frame running workspace code ('' if none),
        looking from ``depth`` frames up (the observer's own frames below it)."""
        frame = sys._getframe(depth)
        while frame is not None:
            name = self.workspace_file(frame)
            if name:
                return name[len(self.prefix) :]
            frame = frame.f_back  # type: ignore[assignment]
        return ""

    def reader_and_libraries(
        self, frame: "types.FrameType | None" = None
    ) -> "tuple[str, tuple[str, ...]]":
        """(``reader()`` of a read being recorded, looking up from ``frame``, by default the
        caller of ``read``; the library modules, by top-level name, whose code between that
        workspace code — or the test runner, when a plugin's fixture or hook read it — and
        the read may keep what it read for a later caller: see _KEEPS_NOTHING). A step's
        tests that get a file's content from such a library's cache, in a session where
        another step's tests made it read the file, stand on the file as well
        (pocflow.observed.attribute). Libraries only the test runner called, not a plugin
        (pytest formatting a traceback through linecache), are none."""
        if frame is None:
            frame = sys._getframe(2)
        libraries: list[str] = []
        outermost = ""
        collecting = True
        while frame is not None:
            name = self.workspace_file(frame)
            if name:
                return name[len(self.prefix) :], tuple(sorted(set(libraries)))
            if collecting and frame.f_code.co_filename not in _MODULE_FILES:
                module = frame.f_globals.get("__name__")
                top = module.partition(".")[0] if isinstance(module, str) else ""
                if top in _RUNNER:
                    collecting = False
                elif top and top not in _KEEPS_NOTHING:
                    libraries.append(top)
                    outermost = top
            frame = frame.f_back
        if outermost and outermost not in sys.stdlib_module_names:
            return "", tuple(sorted(set(libraries)))
        return "", ()

    def frame_file(self, frame: "types.FrameType") -> str:
        """The file a frame's code comes from, absolute: a doctest's examples (code named
        ``<doctest module.name[0]>``) are their module's, and so is a mark's condition written
        as a string (``skipif("os.path.exists('flag')")``, which pytest compiles as
        ``<skipif condition>`` and evaluates in the test module's globals)."""
        name = frame.f_code.co_filename
        if name in _CONDITIONS:  # the item's file: a decorator (mock.patch, hypothesis's
            # given) gives the item's function another module's globals
            item = frame.f_back.f_locals.get("item") if frame.f_back is not None else None
            path = getattr(item, "path", None)
            if path is not None:
                return self.code_file(str(path))
        if name.startswith("<doctest ") or name in _CONDITIONS:
            module_file = frame.f_globals.get("__file__")
            if isinstance(module_file, str):
                name = module_file
        return self.code_file(name)

    def for_workspace(self) -> bool:
        """Whether what is being done is done for workspace code: a workspace frame is on the
        stack, or the thread is one the process started after the observer (a pool's worker
        runs a test's calls with no frame of the test's above them)."""
        return self.child or bool(self.reader(3)) or get_ident() != self.main_thread

    def caller(self) -> "types.FrameType":
        """The frame that raised the audit event being handled."""
        frame = sys._getframe(1)
        while frame.f_code.co_filename in _MODULE_FILES and frame.f_back is not None:
            frame = frame.f_back
        return frame

    def code_file(self, name: str) -> str:
        """A code object's file name, absolute (a module found through a relative sys.path
        entry, such as sys.path.insert(0, "src"), has a relative one)."""
        if name[:1] in (os.sep, "<"):
            return name
        known = self.places.get(("code", name))
        if known is None:
            known = self.places[("code", name)] = os.path.normpath(os.path.join(os.getcwd(), name))
        return known

    # -- recording ---------------------------------------------------------------------
    def read(self, rel: str, kind: str = "r", kernel: bool = False, unknown: bool = False) -> None:
        """A read of rel (kind 'r' file, 'd' folder listing, 'q' database); ``kernel``: seen
        by the kernel only (marked "k")."""
        if not kernel and self.kernel is not None:
            self._from_kernel()  # what other processes did before this read comes first
        by, libraries = ("", ()) if kernel else self.reader_and_libraries()
        by = by or self.parent_by
        # a thread the process started (a pool's worker running a test's call, with no frame
        # of the test's above it) reads for the workspace, not for the test framework
        worker = not kernel and get_ident() != self.main_thread
        key = (kind, rel, self.context, by, "t" if worker else "", *libraries)
        self.py_reads.add((rel, self.context))
        if key in self.seen:
            return
        self.seen.add(key)
        fact: dict[str, object] = {kind: rel, "c": self.context}
        if by and by != rel:
            fact["by"] = by
        if libraries:
            fact["lib"] = libraries
        if ("s", rel) not in self.seen:  # the file as it was when first read
            self.seen.add(("s", rel))
            fact["s"] = [-1] if unknown else stamp_of(self.prefix + rel)
        if kernel:
            fact["k"] = 1
        elif worker:
            fact["t"] = 1
        self.emit(fact)

    def looked_at(self, path: object) -> None:
        """Workspace code asked what is at path, or whether anything is (os.stat, which
        Path.exists, Path.is_file, os.path.isfile and the like call), and found a file or
        nothing: what is there is an input, as if it had been read — a file a test only
        checks for, or one it picks because it exists without opening the other, changes the
        verdict when it appears."""
        thread = get_ident()
        if thread in self.busy:
            return
        self.busy.add(thread)
        try:
            rel = self.inside(path)
            if rel and self.for_workspace():
                self.read(rel)
            elif rel is None and not isinstance(path, int):
                self.state_read(path)
        except Exception:
            pass
        finally:
            self.busy.discard(thread)

    def path_lookup(self) -> None:
        """A program may have been looked up on PATH (started by name, or through a shell):
        the folders of PATH inside the workspace, and what is in them, count
        (pocflow.fingerprint.WORKSPACE_PATH_KEY), not PATH itself."""
        key = ("path", self.context)
        if key not in self.seen:
            self.seen.add(key)
            self.emit({"r": WORKSPACE_PATH_KEY, "c": self.context})

    def _needs_absent(self) -> bool:
        """Whether what the audit event makes (a folder, a link, a folder renamed into
        place) fails if something is there, as the test asked for it: called by workspace
        code itself, by Path.mkdir or os.makedirs without exist_ok, or by pathlib's
        symlink_to, hardlink_to, rename or replace (with exist_ok, or from other library
        code — tempfile tries names until one is free — something there is no failure)."""
        frame = self.caller()
        if self._own_code(self.frame_file(frame)):
            return True
        if frame.f_code.co_name in ("mkdir", "makedirs"):
            return frame.f_locals.get("exist_ok") is False
        return frame.f_globals.get("__name__") == "pathlib" and frame.f_code.co_name in (
            "symlink_to",
            "hardlink_to",
            "rename",
            "replace",
        )

    def _needs_absent_read(self, rel: str) -> None:
        """Read that nothing is at rel when what is being made there fails where something
        is, as a test asked for it (see _needs_absent): the absence is the test's input."""
        if self.context and self._needs_absent():
            self.read(rel)

    def made_where_nothing_is(self, path: object) -> None:
        """Workspace code made a name that must be free (os.mkfifo, os.mknod): that nothing
        was there is an input of a test, and the name is written."""
        self.guarded(self._made_where_nothing_is, path)

    def _made_where_nothing_is(self, path: object) -> None:
        rel = self.inside(path)
        if rel and self.for_workspace():
            self._needs_absent_read(rel)
            self.wrote(rel)

    def _direct(self) -> bool:
        """Whether the audit event being handled was raised by workspace code itself (its
        frame calls the function), not by a library working for it."""
        return self._own_code(self.frame_file(self.caller()))

    def named_cwd(self) -> str:
        """This process's working folder as named (through a link) where it was, else its
        real path."""
        real = os.getcwd()
        named = self.cwd_named
        return named if named is not None and os.path.realpath(named) == real else real

    def now_in(self, named: str) -> None:
        """The process works in the folder named so (it started there, or is changing into
        it: os.chdir's event comes first): where that is a link, what it reaches there is
        reached through it."""
        self.cwd_named = named
        real = os.path.realpath(named)
        if real != named:
            self.named_folders[real.rstrip(os.sep) + os.sep] = named.rstrip(os.sep) + os.sep

    def folder_named(self, path: object) -> str | None:
        """A folder given to os.chdir or as a child's working folder, as named from here
        (relative to this process's folder as named); None for a descriptor (no name)."""
        try:
            return os.path.normpath(os.path.join(self.named_cwd(), os.fsdecode(path)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    def changed_folder(self, path: object) -> None:
        """os.chdir(path): the folder it works in now, as named — and as the Python
        processes it starts are told, however they are started (a forkserver of
        multiprocessing is started with no event to tell it then)."""
        named = self.folder_named(path)
        if named is None:  # (a descriptor: its real folder it is)
            self.cwd_named = None
            _UNSETENV(CWD_ENV)
            return
        self.now_in(named)
        _PUTENV(CWD_ENV, named)

    def as_named(self, full: str) -> str:
        """An absolute path as reached through the folder it was named by (a link this
        process works in, or worked in), else as it is."""
        for real, named in self.named_folders.items():
            if full.startswith(real):
                return named + full[len(real) :]
        return full

    def tell_started_in(self, cwd: object) -> None:
        """Tell the process being started the working folder it is given, as named here
        (CWD_ENV; none given: this one's, as named)."""
        named = self.folder_named("" if cwd is None else cwd)
        if named is None:
            _UNSETENV(CWD_ENV)
        else:
            _PUTENV(CWD_ENV, named)

    def _given_code(self, frame: object) -> bool:
        """Whether a frame runs the code a watched process gave this one to run (``python
        -c CODE``, a script on its stdin): the workspace's own, like _own_code's."""
        code = getattr(frame, "f_code", None)
        return self.child and getattr(code, "co_filename", "")[:1] == "<"

    def _own_code(self, name: str) -> bool:
        """Whether code from this file is the workspace's own: a workspace file, or, in a
        process a watched one started, the code it was given to run (``python -c``)."""
        if self.child and name[:1] == "<":
            return True
        return name.startswith(self.prefix) and not name.startswith(self.skip)

    def found_folder(self, path: object) -> None:
        """Workspace code looked at path and found a folder (os.path.isdir, Path.is_dir,
        `mkdir(exist_ok=True)` of one that is there): that a folder is there is an input, as
        for one the run writes into (an empty folder git does not keep, one removed) —
        unless the run made it."""
        self.guarded(self._found_folder, path)

    def _found_folder(self, path: object) -> None:
        rel = self.inside(path)
        if rel and self.for_workspace():
            self.folder_input(rel)

    def folder_input(self, rel: str) -> None:
        """That rel is a folder is an input of the current context (once), unless the run
        made it."""
        if ("m", rel) not in self.seen and ("p", rel, self.context) not in self.seen:
            self.seen.add(("p", rel, self.context))
            fact: dict[str, object] = {"p": rel, "c": self.context}
            by = self.reader() or self.parent_by
            if by and by != rel:  # (a module's look at import: every importer's, as a read)
                fact["by"] = by
            self.emit(fact)

    def wrote(self, rel: str, keeps: bool = False, copy: bool = True) -> None:
        """rel was written, created, renamed or removed (once per context: which step's tests
        wrote it). Written before anything read it, it is an output ("f": first); read first,
        the run read what was there before ("f": false), and a copy of it as it is now,
        before the write ("b", beside the facts file; up to KEEP_BEFORE bytes), tells whether
        the run wrote back what it read (a script saving a file unchanged keeps it an input).
        ``copy``: False for a write reported after the fact (by the kernel): no copy, so a
        file read first stays ``changed-during-run`` for a test."""
        if copy:  # a write of this process's: what the kernel saw before it comes first
            self.py_written.add(rel)
            if self.kernel is not None:
                self._from_kernel()
        if ("w", rel, self.context) not in self.seen:
            self.seen.add(("w", rel, self.context))
            parent = rel.rpartition("/")[0]
            if parent:
                # written into a folder that was there, which the run did not make: that it is
                # a folder is an input (a fresh clone lacks an empty one git does not keep)
                self.folder_input(parent)
            first = ("s", rel) not in self.seen
            fact: dict[str, object] = {"w": rel, "f": first, "c": self.context}
            if first and keeps and _is_file(self.prefix + rel):
                # opened to append, or without truncating: what was there stays ("a": its
                # content was not read, a logging handler's file, say)
                first = False
                fact.update(f=False, a=True)
            elif first and keeps:
                # made by appending where nothing was ("ac"): what it holds then stands on
                # that absence, for whatever reads it after (pocflow.observed.settle)
                fact["ac"] = True
            if not first and not copy and ("q", rel) not in self.seen:
                fact["big"] = True  # whether it was written back is not known (a database
                # SQLite updates is, as Python's writes to it are not seen: changed)
            if not first and copy and ("b", rel) not in self.seen:
                self.seen.add(("b", rel))
                kept = self.keep(self.prefix + rel)
                if kept:
                    fact["b"] = kept
                elif kept is None:
                    fact["big"] = True  # not copied: whether it was written back is unknown
            self.emit(fact)

    def keep(self, path: str) -> str:
        """Copy a regular file of at most KEEP_BEFORE bytes beside the facts file (os calls
        only: nothing the workspace could shadow is imported); its name, '' when there is
        no regular file, None when it is too large to copy."""
        try:
            info = _STAT(path)
            if not S_ISREG(info.st_mode):
                return ""
            if info.st_size > KEEP_BEFORE:
                return None  # type: ignore[return-value]
            name = f"{self.out}.before-{self.kept}"
            self.kept += 1
            source = os.open(path, os.O_RDONLY)
            try:
                target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    while chunk := os.read(source, 1 << 20):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(target, view) :]
                finally:
                    os.close(target)
            finally:
                os.close(source)
            return name
        except OSError:
            return ""

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        """The audit hook's work, for the events it keeps (see ``install``)."""
        thread = get_ident()
        if thread in self.busy:
            return
        self.busy.add(thread)
        try:
            if self.linked:
                self._read_linked()
            self._event(event, args)
            if self.kernel is not None:
                self.events += 1
                if self.events % KERNEL_LOOK_EVERY == 0:  # its queue holds 16,384 events
                    self._from_kernel()
        except Exception:
            pass
        finally:
            self.busy.discard(thread)

    def _event(self, event: str, args: tuple[object, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            if self.open_base and mode is None:  # os.open(name, dir_fd=...): the name in it
                path = self.open_base.get(get_ident(), path)
                if path is None:
                    return
            opener = self.caller().f_code.co_filename if mode is None else ""
            if (
                opener
                and isinstance(path, (str, bytes))
                and os.fsdecode(path)[:1] != os.sep
                and opener.endswith(_DIR_FD_OPENERS)
                and not opener.startswith(self.prefix)
            ):
                return  # os.open(name, dir_fd=...) inside rmtree/fwalk: not this folder's name
            if isinstance(mode, str):
                reads, writes = "r" in mode or "+" in mode, any(c in mode for c in "wax+")
            elif isinstance(flags, int):
                access = flags & 3
                reads = access != os.O_WRONLY
                writes = access != os.O_RDONLY or bool(flags & _WRITE_FLAGS)
            else:
                reads, writes = True, False
            rel = self.inside(path)
            if rel is None:
                if reads and isinstance(path, (str, bytes)):
                    self.state_read(path)
                    self.outside_code_read(path)
                return
            if mode is None and _is_folder(self.prefix + rel):
                return  # os.open of a folder (for dir_fd, fsync): what is in it is not read
            if isinstance(mode, str):
                exclusive = "x" in mode
            else:
                exclusive = isinstance(flags, int) and flags & _EXCLUSIVE == _EXCLUSIVE
            if reads and not (flags & os.O_TRUNC if isinstance(flags, int) else False):
                self.read(rel)  # "r+", os.O_RDWR: what was there is read (then maybe written)
            elif exclusive and not _bytecode(path):
                self.read(rel)  # made only if absent: the absence is read (an input)
            if writes and not _bytecode(path):
                if isinstance(mode, str):
                    keeps = "w" not in mode and "x" not in mode
                else:
                    keeps = isinstance(flags, int) and not flags & (os.O_TRUNC | os.O_EXCL)
                self.wrote(rel, keeps)
        elif event in ("os.listdir", "os.scandir"):
            # a folder is an input when workspace code lists it, not when the import system
            # fills its cache or pytest walks the folders it collects
            folder = args[0] if args and args[0] is not None else "."
            path = _fd_path(folder) if isinstance(folder, int) else folder
            rel = self.inside(path)
            if rel is None and self.is_workspace(path):
                rel = "."  # the workspace's own folder (`os.listdir()`, `Path.cwd().glob`)
            if rel is not None:  # the kernel's report of this open is this listing's
                self.py_reads.add((rel, self.context))
            if self.caller().f_code.co_filename.startswith("<frozen importlib"):
                return
            if rel is not None and self.for_workspace():
                self.read(rel or ".", "d")
                if event == "os.scandir" and self._direct():
                    # its entries' stat() (C code, unseen) tells sizes and modes: those count
                    self.read(f"{rel.rstrip('/') or '.'}/{ENTRIES_SUFFIX}")
            elif rel is None and path is not None:
                self.state_read(path, "d")
        elif event in _PROGRAM_EVENTS:
            if self.children:  # what it reads is read by the module that starts it, too
                _PUTENV(BY_ENV, self.reader(3) or self.parent_by)
            if self.site:  # (the Python it starts observes itself) where it starts, as named
                self.tell_started_in(args[2] if event == "subprocess.Popen" else None)
            if self.for_workspace():
                self.path_lookup()  # by name, or by a shell that may look names up
                if event == "subprocess.Popen" and args[2] is not None:
                    self._found_folder(args[2])  # its working folder
        elif event == "os.chdir":
            self._found_folder(args[0])
            if self.site:  # (where the processes it starts work, as named)
                self.changed_folder(args[0])
        elif event == "os.mkdir":  # made, or made sure of: files written there need it not
            name = _at(args[0], args[2])
            rel = self.inside(name) if name else None
            if rel:
                if self.context and ("m", rel) not in self.seen and self._needs_absent():
                    self.read(rel)  # a test's os.mkdir fails where it is: that it is not
                self.seen.add(("m", rel))
                if ("mk", rel) not in self.seen and not os.path.lexists(self.prefix + rel):
                    # made here (where a check found nothing, say: `if not isdir: makedirs`,
                    # diskcache.Cache): a script's output (pocflow.observed.settle)
                    self.seen.add(("mk", rel))
                    self.emit({"mk": rel, "c": self.context})
        elif event == "socket.bind":  # a Unix socket's name in the workspace: made if free
            address = args[1] if len(args) > 1 else None
            if isinstance(address, (str, bytes)) and address[:1] not in ("", "\0", b"\0"):
                self._made_where_nothing_is(address)
        elif event == "ctypes.dlopen":  # a shared library loaded into the process
            rel = self.inside(args[0]) if args and args[0] else None
            if rel is not None:
                self.read(rel)
        elif event == "sqlite3.connect":
            database = args[0]
            if isinstance(database, (str, bytes, os.PathLike)):
                text = os.fsdecode(database)
                if text.startswith("file:"):
                    text = _uri_path(text)
                rel = self.inside(text) if text and text != ":memory:" else None
                if rel is not None:
                    if os.path.exists(self.prefix + rel):
                        self.seen.add(("q", rel))
                        self.read(rel, "q")
                    else:
                        self._needs_absent_read(rel)  # a test's new database: tables made anew
                        self.wrote(rel)
                elif text and text != ":memory:":
                    self.state_read(text, "q")
        else:  # os.remove, os.rmdir, os.rename (os.replace), os.link, os.symlink, ...
            if event == "os.rename":
                source = _at(args[0], args[2])
                rel = self.inside(source) if source else None
                if (
                    rel is not None
                    and not _bytecode(source)
                    and _is_file(self.prefix + rel)
                    and self.for_workspace()
                ):
                    # its content is read through the new name (a file claimed by a rename,
                    # read, and renamed back stands on what it held)
                    self.read(rel)
            if event == "os.link":
                source = _at(args[0], args[2])  # its content is read through the new name
                rel = self.inside(source) if source else None
                if rel and self.for_workspace():
                    self.linked.append((rel, self.context))  # read once linked (its stamp
                    # then: linking changes its change time)
            made = None  # a name that must be free: a link's, a folder's renamed into place
            if event in ("os.rename", "os.link"):
                targets = (
                    [(args[0], args[2]), (args[1], args[3])]
                    if event == "os.rename"
                    else [(args[1], args[3])]
                )
                if event == "os.link" or _is_folder(_at(args[0], args[2])):
                    made = targets[-1]  # (a file renamed onto a file replaces it)
            elif event == "os.symlink":
                targets = [(args[1], args[2])]
                made = targets[0]
            else:  # (path, dir_fd) or (path, length)
                targets = [(args[0], args[1] if event != "os.truncate" else None)]
            # os.truncate(path, n) keeps the first n bytes: what was there stays, in part
            keeps = event == "os.truncate" and isinstance(args[1], int) and args[1] > 0
            for value, dir_fd in targets:
                name = _at(value, dir_fd)
                if name is None:
                    continue
                rel = self.inside(name)
                if rel is not None and not _bytecode(name):
                    if (value, dir_fd) == made:  # it fails where something is
                        self._needs_absent_read(rel)
                    self.wrote(rel, keeps)

    def imported(self, module: object, importer: object) -> None:
        """A module handed out by an import statement (loaded now or before)."""
        thread = get_ident()
        if thread in self.busy:
            return
        self.busy.add(thread)
        try:
            name = getattr(module, "__file__", None)
            rel = self.inside(name) if isinstance(name, str) else None
            if rel is not None:
                by = ""
                if isinstance(importer, dict):
                    own = importer.get("__file__")
                    by_rel = self.inside(own) if isinstance(own, str) else None
                    by = by_rel or ""
                key = ("i", rel, self.context, by)
                if key not in self.seen:
                    self.seen.add(key)
                    fact: dict[str, object] = {"r": rel, "c": self.context}
                    if by and by != rel:
                        fact["by"] = by
                    if ("s", rel) not in self.seen:
                        self.seen.add(("s", rel))
                        fact["s"] = stamp_of(self.prefix + rel)
                    self.emit(fact)
                    self.resolved(module, rel, fact.get("by"))
            elif isinstance(name, str) and isinstance(importer, dict):
                own = importer.get("__file__")
                importer_rel = self.inside(own) if isinstance(own, str) else None
                if importer_rel is not None:  # workspace code imported a module from outside
                    self.shadowable(module, name, importer_rel)
            elif name is None and isinstance(importer, dict):
                self.namespace(module, importer)
        except Exception:
            pass
        finally:
            self.busy.discard(thread)

    def resolved(self, module: object, rel: str, by: object) -> None:
        """Where the import system found a workspace module, among the folders it searched
        first ("import:NAME@DIR:DIR..."): a module file that appears earlier on the path (a
        compiled extension beside a .py, a .py or .pyc in a folder searched before) would be
        imported instead."""
        name = getattr(module, "__name__", None)
        if not isinstance(name, str) or ("m", name, self.context) in self.seen:
            return
        self.seen.add(("m", name, self.context))
        parent = name.rpartition(".")[0]
        path = sys.path if not parent else getattr(sys.modules.get(parent), "__path__", None)
        found = rel.rpartition("/")[0]
        if rel.endswith("/__init__.py") or "/__init__." in rel:
            found = found.rpartition("/")[0]  # a package is found as a folder of its parent
        dirs: list[str] = []
        for entry in path or ():
            folder = self.searched(entry)
            if folder is None:
                continue
            dirs.append(folder)
            if folder == (found or "."):
                break
        else:
            return  # not found along the path (loaded from a file by name): nothing to resolve
        fact: dict[str, object] = {"r": f"import:{name}@{':'.join(dirs)}", "c": self.context}
        if by:
            fact["by"] = by
        self.emit(fact)

    def namespace(self, module: object, importer: dict[str, object]) -> None:
        """A namespace package (no file of its own) with a portion in the workspace, that
        workspace code imported ("import:NAME@DIRS", a package found nowhere there now): an
        `__init__.py` added to one portion makes it a regular package that hides the others."""
        name = getattr(module, "__name__", None)
        portions = getattr(module, "__path__", None)
        own = importer.get("__file__")
        by = self.inside(own) if isinstance(own, str) else None
        if (
            by is None
            or not isinstance(name, str)
            or ("m", name, self.context) in self.seen
            or not any(isinstance(p, str) and self.inside(p) is not None for p in portions or ())
        ):
            return
        self.seen.add(("m", name, self.context))
        self.searched_in_vain(name, by)

    def searched_in_vain(self, name: str, by: str) -> None:
        """Emit an "import:NAME@DIRS" key over every workspace folder the import system
        searched for the module (sys.path, or its parent package's __path__), where it found
        no module file or regular package of that name — and every folder beside the
        workspace it searched (searched_apart): a module that appears there is found."""
        parent = name.rpartition(".")[0]
        path = sys.path if not parent else getattr(sys.modules.get(parent), "__path__", None)
        dirs: list[str] = []
        for entry in path or ():
            folder = self.searched(entry)
            if folder is None:  # a folder beside the workspace: a module put there is found
                folder = self.searched_apart(entry)
            if folder is not None and folder not in dirs:
                dirs.append(folder)
        if dirs:
            fact: dict[str, object] = {"r": f"import:{name}@{':'.join(dirs)}", "c": self.context}
            if by:
                fact["by"] = by
            self.emit(fact)

    def shadowable(self, module: object, path: str, by: str) -> None:
        """A module from outside the workspace that workspace code imports by a name a file in
        a workspace folder searched first would take ("import:NAME@DIRS", found nowhere
        there now): a new src/statistics.py must not go unnoticed."""
        name = getattr(module, "__name__", None)
        if not isinstance(name, str) or "." in name or ("m", name, self.context) in self.seen:
            return
        self.seen.add(("m", name, self.context))
        dirs: list[str] = []
        for entry in sys.path:
            if not isinstance(entry, str):
                continue
            if path.startswith(os.path.join(os.path.abspath(entry or "."), "")):
                break
            folder = self.searched(entry)
            if folder is not None:
                dirs.append(folder)
        if dirs:
            self.emit({"r": f"import:{name}@{':'.join(dirs)}", "c": self.context, "by": by})

    def absent(self, name: object, frame: object) -> None:
        """A module workspace code asked for — itself, or through one call such as
        ``pytest.importorskip`` — and the import system did not find ("import:NAME@DIRS",
        found nowhere there now): a `try: import x` that falls back, a computed
        import_module or a skipped test takes another path once a file of that name appears
        in a workspace folder it searched. ``frame``: the importing code's frame."""
        thread = get_ident()
        if thread in self.busy or not isinstance(name, str):
            return
        self.busy.add(thread)
        try:
            by = None
            for _ in range(2):  # the importer, or its caller
                own = getattr(frame, "f_globals", {}).get("__file__")
                by = self.inside(own) if isinstance(own, str) else None
                if by is None and self._given_code(frame):
                    by = self.parent_by  # (the workspace module that started this process)
                if by is not None:
                    break
                frame = getattr(frame, "f_back", None)
            if by is None or ("m", name, self.context) in self.seen:
                return  # not workspace code's import, or known already
            self.seen.add(("m", name, self.context))
            self.searched_in_vain(name, by)
        except Exception:
            pass
        finally:
            self.busy.discard(thread)

    def environ_read(self, name: str, value: str | None) -> None:
        """An environment variable read by workspace code, or by a library on its behalf
        (os.path.expandvars, string.Template): any workspace frame on the stack counts,
        except for the variables that describe the machine rather than the run (HOME,
        TMPDIR, PATH, ...), which count only when workspace code reads them itself — and
        the shell's own bookkeeping (SHELL_BOOKKEEPING), which never does."""
        thread = get_ident()
        if thread in self.busy or name in SHELL_BOOKKEEPING:
            return
        self.busy.add(thread)
        try:
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename.endswith(_PLUMBING):
                frame = frame.f_back  # type: ignore[assignment]
            if frame is None:
                return
            direct = self._own_code(self.frame_file(frame))
            worker = get_ident() != self.main_thread
            if direct or (
                (
                    # (a machine's variable the run's own code set: its value is the run's)
                    ("w", name) in self.seen
                    or (
                        name not in MACHINE_VARIABLES
                        and name not in MACHINE_NAMES
                        and not name.startswith(MACHINE_PREFIXES)
                    )
                )
                and (worker or self.on_behalf(frame))
            ):
                self.environ_fact(name, value, frame)
            elif name == "PATH" and (worker or self.on_behalf(frame)):
                self.path_lookup()  # a program looked up by name (shutil.which, os.execvp)
        except Exception:
            pass
        finally:
            self.busy.discard(thread)

    def on_behalf(self, frame: "types.FrameType | None") -> bool:
        """Whether workspace code is further up the stack (a library working for it); in a
        process a watched one started, all its code works for the workspace."""
        if self.child:
            return True
        while frame is not None:
            if self.workspace_file(frame):
                return True
            frame = frame.f_back
        return False

    def environ_fact(
        self, name: str, value: str | None, frame: "types.FrameType | None" = None
    ) -> None:
        """Record name as read, with a digest of its value (never the value): again when
        the value read differs (a test of another step may have set it since). ``frame``:
        the code that read it, whose workspace module and libraries are named, as for a
        file (a module that keeps what it read at import stands on it for its importers)."""
        digest = environ_digest(value, secret=name in self.secret_names)
        by, libraries = self.reader_and_libraries(frame) if frame is not None else ("", ())
        key = ("e", name, self.context, digest, by, *libraries)
        if key in self.seen:
            return
        self.seen.add(key)
        fact: dict[str, object] = {"e": name, "c": self.context, "v": digest}
        if by:
            fact["by"] = by
        if libraries:
            fact["lib"] = libraries
        self.emit(fact)

    def environ_written(self, name: str, value: str | bool | None = False) -> None:
        """The process's code set or removed the variable, in the current context (written
        down when the context that writes it changes: a test's tests in a shared session
        reading what another step's test set stand on that step; pocflow.observed). The first
        time, with the value it had until then (None: unset): a read of it, here or in a
        process started after, stands on that."""
        context = self.context
        if value is False and self.last_writes.get(name) == context:
            return
        self.last_writes[name] = context
        fact: dict[str, object] = {"ew": name, "c": context}
        if value is not False:
            fact["v"] = environ_digest(value, secret=name in self.secret_names)  # type: ignore[arg-type]
        self.emit(fact)

    # -- installing ----------------------------------------------------------------------
    def install(self) -> None:
        """Start observing this process (for good: audit hooks cannot be removed)."""
        setattr(sys, HANDLE, self)
        _stdlib_module("atexit").register(self.read_linked)
        keep, work = _READ_EVENTS, self.hook

        def hook(event: str, args: tuple[object, ...]) -> None:
            # called for every audit event of the process (id(), attribute reads, ...):
            # a plain function with one set lookup costs a quarter of a bound method's call
            if event in keep:
                work(event, args)

        sys.addaudithook(hook)
        original_import = builtins.__import__
        observer = self
        statements: set[tuple[object, ...]] = set()
        wrapped: list[object] = []  # importlib.import_module, once importlib is loaded

        def wrap_import_module() -> None:
            # importlib is wrapped when something loads it (pytest does at once; a plain
            # script may never: importing it here would cost every script its import)
            importlib = sys.modules.get("importlib")
            original_import_module = getattr(importlib, "import_module", None)
            if original_import_module is None or wrapped:
                return  # not loaded, or still being loaded: later

            def observed_import_module(name: str, package: str | None = None) -> object:
                __tracebackhide__ = True  # (pytest leaves the frame out of tracebacks)
                try:
                    module = original_import_module(name, package)
                except ModuleNotFoundError as missing:
                    observer.absent(missing.name, sys._getframe(1))
                    raise
                observer.imported(module, sys._getframe(1).f_globals)
                return module

            wrapped.append(original_import_module)
            setattr(importlib, "import_module", observed_import_module)  # noqa: B010
            setattr(importlib, "__import__", observed_import)  # noqa: B010

        probing: list[object] = []  # importlib.util.find_spec, once importlib.util is loaded

        def wrap_find_spec() -> None:
            # a probe that imports nothing (`find_spec(name) is not None`) is a look-up too
            util = sys.modules.get("importlib.util")
            original_find_spec = getattr(util, "find_spec", None)
            if original_find_spec is None or probing:
                return

            def observed_find_spec(name: str, package: str | None = None) -> object:
                __tracebackhide__ = True  # (pytest leaves the frame out of tracebacks)
                try:
                    spec = original_find_spec(name, package)
                except ModuleNotFoundError as missing:  # its package is not there
                    observer.absent(missing.name, sys._getframe(1))
                    raise
                if spec is None:
                    absolute = util.resolve_name(name, package) if name[:1] == "." else name  # type: ignore[union-attr]
                    observer.absent(absolute, sys._getframe(1))
                return spec

            probing.append(original_find_spec)
            setattr(util, "find_spec", observed_find_spec)  # noqa: B010

        def observed_import(
            name: str,
            globals: object = None,
            locals: object = None,
            fromlist: object = (),
            level: int = 0,
        ) -> object:
            __tracebackhide__ = True  # (pytest leaves the frame out of tracebacks)
            try:
                module = original_import(name, globals, locals, fromlist, level)  # type: ignore[arg-type]
            except ModuleNotFoundError as missing:
                observer.absent(missing.name, sys._getframe(1))
                raise
            if not wrapped:
                wrap_import_module()
            if not probing:
                wrap_find_spec()
            if get_ident() not in observer.busy:
                # the same statement again (an import inside a function called often)
                importer = globals.get("__name__") if isinstance(globals, dict) else None
                once = (
                    importer,
                    name,
                    level,
                    tuple(fromlist) if fromlist else (),  # type: ignore[arg-type]
                    observer.context,
                )
                if once in statements:
                    return module
                statements.add(once)
                if fromlist:
                    observer.imported(module, globals)
                    for item in fromlist:  # type: ignore[attr-defined]
                        value = getattr(module, item, None) if isinstance(item, str) else None
                        if isinstance(value, _MODULE):
                            observer.imported(value, globals)
                        elif (  # `from pkg import name`: no such submodule (the statement
                            # then fails, or finds a later attribute)
                            value is None
                            and isinstance(item, str)
                            and item != "*"
                            and hasattr(module, "__path__")
                            and not hasattr(module, item)
                        ):
                            observer.absent(f"{module.__name__}.{item}", sys._getframe(1))
                else:
                    target = sys.modules.get(name if level == 0 else "", module)
                    observer.imported(target if target is not None else module, globals)
                if level == 0 and "." in name:  # its packages too: a namespace one among them
                    parts = name.split(".")
                    for end in range(1, len(parts)):
                        parent = sys.modules.get(".".join(parts[:end]))
                        if parent is not None:
                            observer.imported(parent, globals)
            return module

        builtins.__import__ = observed_import  # type: ignore[assignment]
        wrap_import_module()
        wrap_find_spec()
        _watch_environ(self)
        _watch_lookups(self)
        _watch_locale(self)


#: the variables the C library takes a locale category from, after LC_ALL and before LANG
_LOCALE_VARIABLES = (
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
)


def _watch_locale(observer: Observer) -> None:
    """Wrap the locale module's setlocale: ``setlocale(category, "")`` takes the locale from
    LC_ALL, the category's LC_* variable or LANG, which the C library reads (no audit event,
    and os.environ is not asked): when workspace code asks for it, those variables are
    inputs. locale.py takes _locale's function when it is imported; when it was before, its
    copy is wrapped too."""
    import _locale

    categories = {
        getattr(_locale, name): name for name in _LOCALE_VARIABLES if hasattr(_locale, name)
    }
    original = _locale.setlocale

    def setlocale(category: int, locale: object = None) -> str:
        if locale == "":
            names = (categories[category],) if category in categories else _LOCALE_VARIABLES
            thread = get_ident()
            if thread not in observer.busy and observer.for_workspace():
                observer.busy.add(thread)  # (its reads of os.environ are the observer's)
                try:
                    for name in ("LC_ALL", *names, "LANG"):
                        observer.environ_fact(name, os.environ.get(name))
                finally:
                    observer.busy.discard(thread)
        return original(category, locale)  # type: ignore[arg-type]

    _locale.setlocale = setlocale
    module = sys.modules.get("locale")
    if module is not None and getattr(module, "_setlocale", None) is original:
        module._setlocale = setlocale  # type: ignore[attr-defined]


def _watch_lookups(observer: Observer) -> None:
    """Wrap os.stat, os.lstat and os.access: no audit event tells that a path was looked at
    without being opened (Path.exists, os.path.isfile, os.path.lexists, a literal glob,
    os.access(path, os.F_OK)). A folder looked at is an input as a folder (that it is one,
    not what is in it: that counts when workspace code lists it or opens a file there).
    Each wrapper takes its original's place in os.supports_* too: shutil picks its ways by
    them. And os.mkfifo and os.mknod, which raise no audit event either: the name they make
    must be free (Observer.made_where_nothing_is)."""

    def where(path: object, dir_fd: object) -> object:
        return (
            _at(path, dir_fd)
            if isinstance(dir_fd, int) and isinstance(path, (str, bytes))
            else path
        )

    def looking(original: "Callable[..., Any]") -> "Callable[..., Any]":
        def observed(path: object, *args: object, **kwargs: object) -> "Any":
            try:
                found = original(path, *args, **kwargs)
            except BaseException:
                observer.looked_at(where(path, kwargs.get("dir_fd")))
                raise
            place = where(path, kwargs.get("dir_fd"))
            if isinstance(found, os.stat_result):
                folder = S_ISDIR(found.st_mode)
            elif isinstance(found, (str, bytes)):  # os.readlink: what a link says, to anywhere
                folder = False
            else:  # os.access: True or False, nothing about what is there
                folder = bool(found) and _is_folder(place)
            if folder:
                observer.found_folder(place)
            else:
                observer.looked_at(place)
            return found

        return observed

    def opening(original: "Callable[..., Any]") -> "Callable[..., Any]":
        def observed_open(path: object, *args: object, **kwargs: object) -> "Any":
            __tracebackhide__ = True  # (pytest leaves the frame out of tracebacks)
            dir_fd = kwargs.get("dir_fd")
            if dir_fd is None:
                return original(path, *args, **kwargs)
            thread = get_ident()
            observer.open_base[thread] = where(path, dir_fd)  # (the open event's path)
            try:
                return original(path, *args, **kwargs)
            finally:
                observer.open_base.pop(thread, None)

        return observed_open

    def making(original: "Callable[..., Any]") -> "Callable[..., Any]":
        def observed_make(path: object, *args: object, **kwargs: object) -> "Any":
            __tracebackhide__ = True  # (pytest leaves the frame out of tracebacks)
            observer.made_where_nothing_is(where(path, kwargs.get("dir_fd")))
            return original(path, *args, **kwargs)

        return observed_make

    for name in ("mkfifo", "mknod"):  # no audit event: C code makes the name
        if hasattr(os, name):
            original = getattr(os, name)
            maker = making(original)
            if original in os.supports_dir_fd:
                os.supports_dir_fd.add(maker)
            setattr(os, name, maker)
    opener = opening(os.open)
    if os.open in os.supports_dir_fd:
        os.supports_dir_fd.add(opener)
    os.open = opener
    for name in ("stat", "lstat", "access", "readlink"):
        original = getattr(os, name)
        wrapper = looking(original)
        for supports in (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks):
            if original in supports:
                supports.add(wrapper)
        setattr(os, name, wrapper)


#: an exclusive create (open(p, 'x'), Path.touch(exist_ok=False)): fails if p is there
_EXCLUSIVE = os.O_CREAT | os.O_EXCL


def _bytecode(path: object) -> bool:
    """Whether path is a module's bytecode in its __pycache__ folder (which ``inside`` takes
    for its source: reading it is reading the module, writing it is not writing the source)."""
    try:
        name = os.fsdecode(path)  # type: ignore[arg-type]
    except TypeError:
        return False
    return name.endswith(".pyc") and "__pycache__" in name


def _is_file(path: str) -> bool:
    try:
        return S_ISREG(_STAT(path).st_mode)
    except (OSError, TypeError, ValueError):
        return False


def _is_folder(path: object) -> bool:
    try:
        return S_ISDIR(_STAT(path).st_mode)  # type: ignore[arg-type]
    except (OSError, TypeError, ValueError):
        return False


def environ_digest(value: str | None, secret: bool = False) -> str:
    """What a record keeps of an environment variable's value (as pocflow.fingerprint's
    environ_digest: sha256 of the value, 'unset', or 'set' for a secret)."""
    if value is None:
        return "unset"
    if secret:
        return "set"  # a rotated secret does not re-verify a step, and no digest of it is kept
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # no OpenSSL start-up
    except ImportError:  # pragma: no cover - other implementations
        from hashlib import sha256
    return str(sha256(value.encode("utf-8", "surrogateescape")).hexdigest())


_MODULE = type(sys)


def _json(value: object) -> str:
    """JSON text of the facts' values (dicts, lists, strings, ints, bools, None), in ASCII."""
    if isinstance(value, str):
        if _TEXT_OK.issuperset(value):
            return '"' + value + '"'
        return '"' + "".join(c if c in _TEXT_OK else _escape(c) for c in value) + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(_json(k) + ":" + _json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return _json(str(value))


def _escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # outside the basic plane: a surrogate pair, as JSON spells it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _watch_environ(observer: Observer) -> None:
    """Make os.environ and os.environb report the names workspace code reads (os.getenv and
    os.getenvb go through them). The method is replaced on their class: a subclass would
    cost every step script a millisecond of type machinery (MutableMapping is an ABC)."""
    environ_class = type(os.environ)
    original = environ_class.__getitem__

    def __getitem__(self: object, key: str | bytes) -> str | bytes:
        name = os.fsdecode(key) if isinstance(key, bytes) else key
        try:
            value = original(self, key)  # type: ignore[arg-type]
        except KeyError:
            observer.environ_read(name, None)
            raise
        observer.environ_read(name, os.fsdecode(value) if isinstance(value, bytes) else value)
        return value

    environ_class.__getitem__ = __getitem__  # type: ignore[assignment, method-assign]
    original_set, original_del = environ_class.__setitem__, environ_class.__delitem__

    def before_write(self: object, key: str | bytes) -> None:
        # the value the process was given, before its own code first changed it: what a
        # read of the variable stands on (a test's monkeypatch.setenv is no outside input)
        name = os.fsdecode(key)
        if ("w", name) not in observer.seen:
            observer.seen.add(("w", name))
            try:
                value = original(self, key)  # type: ignore[arg-type]
            except KeyError:
                value = None
            observer.environ_written(name, os.fsdecode(value) if value is not None else None)
        elif name not in MACHINE_VARIABLES:
            observer.environ_written(name)  # written again: in which context, in order

    def after_write(key: str | bytes, value: str | bytes | None) -> None:
        if key in _PYTHONPATH_KEYS:  # the processes started from now on get it, and pocflow's
            observer.pass_pythonpath(os.fsdecode(value) if value is not None else None)

    def __setitem__(self: object, key: str | bytes, value: str | bytes) -> None:
        before_write(self, key)
        original_set(self, key, value)  # type: ignore[arg-type]
        after_write(key, value)

    def __delitem__(self: object, key: str | bytes) -> None:
        before_write(self, key)
        original_del(self, key)  # type: ignore[arg-type]
        after_write(key, None)

    environ_class.__setitem__ = __setitem__  # type: ignore[method-assign]
    environ_class.__delitem__ = __delitem__  # type: ignore[method-assign]

    # and the C library's environment changed directly, without os.environ knowing
    def putenv(key: str | bytes, value: str | bytes) -> None:
        before_write(os.environ, key)
        _PUTENV(key, value)
        after_write(key, value)

    def unsetenv(key: str | bytes) -> None:
        before_write(os.environ, key)
        _UNSETENV(key)
        after_write(key, None)

    os.putenv, os.unsetenv = putenv, unsetenv  # type: ignore[assignment]


_PYTHONPATH_KEYS = ("PYTHONPATH", b"PYTHONPATH")
#: the C library's own, for pocflow's settings (os.putenv and os.unsetenv are wrapped)
_PUTENV, _UNSETENV = os.putenv, os.unsetenv


def _uri_path(uri: str) -> str:
    """The file a SQLite URI names (``file:`` then a path, or ``file://host/path`` with an
    empty or ``localhost`` host; ``%XX`` escapes decoded, as SQLite does; the query left
    out)."""
    text = uri[5:].split("?", 1)[0].split("#", 1)[0]
    if text.startswith("//"):
        host, _, rest = text[2:].partition("/")
        if host not in ("", "localhost"):
            return ""
        text = "/" + rest
    return _percent_decoded(text)


_HEX = frozenset("0123456789abcdefABCDEF")


def _percent_decoded(text: str) -> str:
    """``%XX`` escapes decoded as UTF-8 bytes, as urllib.parse.unquote does (not imported:
    it costs every observed script a few milliseconds to start). Escaped bytes in a row
    decode together; text between them is kept as it is."""
    if "%" not in text:
        return text
    first, *rest = text.split("%")
    out, pending = [first], bytearray()
    for piece in rest:
        if len(piece) >= 2 and piece[0] in _HEX and piece[1] in _HEX:
            pending.append(int(piece[:2], 16))
            piece = piece[2:]
        else:
            piece = "%" + piece
        if piece:
            out += [pending.decode("utf-8", "replace"), piece]
            pending.clear()
    out.append(pending.decode("utf-8", "replace"))
    return "".join(out)


def install(
    root: str, out: str, skip: tuple[str, ...] = (), kernel: bool = False, child: bool = False
) -> Observer:
    """Observe this process from now on; facts go to the file at out. Modules of the
    workspace the process had loaded before (a fork server's warm-up imports the pytest
    plugins installed from the workspace, say) are read at the session's level."""
    observer = Observer(root, out, skip)
    observer.emit({"observing": os.getpid()})  # absent: the process was never observed
    if kernel:  # before anything runs: what a C library or a child opens counts too
        watch = KernelWatch(root, skip)
        if watch.fd >= 0:
            observer.kernel = watch
        else:
            observer.emit({"kernel": "unwatched"})
    observer.install()
    own = os.path.dirname(os.path.abspath(__file__)) + os.sep  # pocflow's own modules
    early = set()
    for module in list(sys.modules.values()):
        observer.imported(module, None)
        origin = getattr(module, "__file__", None)
        if isinstance(origin, str) and not os.path.abspath(origin).startswith(own):
            rel = observer.inside(origin)
            if rel:
                early.add(rel)
    if early:  # workspace code that ran before the watch (sitecustomize, a .pth's import)
        observer.emit({"early": sorted(early)})
    _observe_children(observer, out, skip)
    if not child:
        _write_contexts(observer, out)
    return observer


def _observe_children(observer: Observer, out: str, skip: tuple[str, ...]) -> None:
    """Have the Python processes this one starts with its environment observe themselves
    from their start, into the same facts (``subprocess`` without ``env=``, a ``spawn`` or
    ``forkserver`` worker of ``multiprocessing``), and the processes it forks go on
    observing: what they look at, list and read of the environment counts, as for this
    process. Their reads are in FOLLOW, the context this process is in when they read: a
    worker or a server started by one test may serve another later. Through
    pocflow/_site/sitecustomize.py on ``PYTHONPATH``, which puts ``PYTHONPATH`` back as it
    was (set or not) before their own code runs. Set in the C library's environment only
    (``os.putenv``): ``os.environ`` here stays as it was, so this process's code sees what a
    plain run sees, and a child given ``env=`` gets exactly that."""
    observer.site = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_site")
    observer.pass_pythonpath(os.environ.get("PYTHONPATH"))
    _PUTENV(OBSERVE_ENV, "\x1f".join([sys.executable, observer.given_root, out, *skip]))
    _PUTENV(CHILD_ENV, "1")
    _UNSETENV(BY_ENV)
    observer.children = True
    os.register_at_fork(after_in_child=observer.follow)


def _write_contexts(observer: Observer, out: str) -> None:
    """The context file of a process whose children follow it, mapped: the number of the
    context it is in (0, the first: a fact says which)."""
    mmap = _stdlib_private("mmap")  # (a workspace's mmap.py is not it)
    with open(out + CONTEXT_SUFFIX, "w+b") as handle:
        handle.write(bytes(8))
        handle.flush()
        observer.context_map = mmap.mmap(handle.fileno(), 8)
    observer.context_ids[observer.context] = 0
    observer.emit({"ctx": observer.context, "g": 0})


def child_started(observer: Observer, out: str, by: str, started_in: str | None = None) -> None:
    """This process is one a watched process started (sitecustomize): all it does is for
    the workspace, its reads are in the context its parent is in when they happen, and
    they are reads of the workspace module that started it (``by``) too. ``started_in``:
    its working folder as its starter named it (CWD_ENV)."""
    observer.child = True
    observer.parent_by = by
    if started_in and os.path.realpath(started_in) == os.getcwd():  # (not an old one's)
        observer.now_in(started_in)
    observer.follow(out)
    thread = get_ident()
    observer.busy.add(thread)  # (its reads of os.environ are the observer's)
    try:
        for name in STARTUP_VARIABLES:  # what this Python read as it started
            observer.environ_fact(name, os.environ.get(name))
    finally:
        observer.busy.discard(thread)


#: what Python reads of the environment as it starts, before any code of the step runs in
#: it: a Python process a step starts stands on them (the order of its output on a shared
#: pipe, what it writes to stderr), so they are read, in its parent's context of the moment
#: (pocflow.observed's PROCESS_VARIABLES are every verdict's: the step's own process)
STARTUP_VARIABLES = (
    "PYTHONUNBUFFERED",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "PYTHONFAULTHANDLER",
    "PYTHONTRACEMALLOC",
    "PYTHONMALLOC",
    "PYTHONMALLOCSTATS",
    "PYTHONINSPECT",
    "PYTHONDEBUG",
    "PYTHONCASEOK",
    "PYTHONPLATLIBDIR",
    "PYTHONEXECUTABLE",
    "PYTHON_FROZEN_MODULES",
    "PYTHONPERFSUPPORT",
    "PYTHON_PERF_JIT_SUPPORT",
    "PYTHON_CPU_COUNT",
    "PYTHON_GIL",
    "PYTHON_COLORS",
)


class _Following(Observer):
    """The observer of a process a watched one started or forked: it has no context of its
    own. Its reads are in "@<n>", the context its parent numbered n (the number is in the
    parent's context file, CONTEXT_SUFFIX, mapped and read at each use; a {"ctx", "g": n}
    fact says which context that is: pocflow.observed.read_facts), or "@" when it cannot
    tell (every step's)."""

    @property
    def context(self) -> str:
        mapped = self.context_map
        if mapped is None:
            return FOLLOW
        return f"{FOLLOW}{int.from_bytes(mapped[:8], 'little')}"

    @context.setter
    def context(self, value: str) -> None:
        pass  # (no context of its own)


def current() -> Observer | None:
    """The observer of this process, if pocflow installed one."""
    found = getattr(sys, HANDLE, None)
    return found if isinstance(found, Observer) else None


def main(argv: list[str]) -> None:
    """``_observe.py --root R --out F [--skip P]... --module M -- ARGS...``: run a module like
    ``python -m M ARGS`` under an observer (pocflow's ``python -m pytest`` sessions; step
    scripts are observed through ``pocflow/_site/sitecustomize.py`` instead)."""
    root = out = module = ""
    skip: list[str] = []
    kernel = False
    while argv and argv[0] != "--":
        if argv[0] == "--kernel":
            kernel, argv = True, argv[1:]
            continue
        flag, value, argv = argv[0], argv[1], argv[2:]
        if flag == "--root":
            root = value
        elif flag == "--out":
            out = value
        elif flag == "--skip":
            skip.append(value)
        elif flag == "--module":
            module = value
    observer = install(root, out, tuple(skip), kernel)
    import runpy

    sys.argv = [module, *argv[1:]]
    # as the `pytest` command has it (the documented way to run a step's tests): the folder
    # of the command, not the session's, so a test passes only on what it imports for real
    sys.path[0] = os.path.dirname(sys.executable)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        observer.from_kernel()


if __name__ == "__main__":
    main(sys.argv[1:])
