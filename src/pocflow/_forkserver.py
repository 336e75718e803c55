"""A warm pytest launcher: one fresh pytest session per request, each in a forked child.

Started by pocflow.testing as `python <this file>` (so that importing it imports nothing
of pocflow), it imports pytest and the plugins pytest loads automatically once, freezes
its heap, and then, for each request read from stdin, forks a child that runs one pytest
session in the request's folder and exits. The child starts from this small, clean process,
never from the caller's, so no test module of one session is ever loaded in another.

Protocol: one JSON object per line in, ``{"cwd": ..., "args": [...], "log": ...}``; one per
line out, ``{"code": <pytest exit code>}``, or ``CRASHED`` when the child failed outside
pytest's own handling (its traceback is in the log), or ``UNFAITHFUL`` when a module the
server had loaded would have been a workspace file in a plain session, or is one (what it
read as it was imported, unwatched, counts). The server ends when its stdin closes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

WARM_PREFIX = "pocflow-warm-"
#: a child's exit code when something raised outside pytest's own handling (before pytest
#: started, or out of pytest.main: a hook of the session's end, say); not one of pytest's
CRASHED = 70
#: a child's exit code when its session was not what a plain one is: a module the server had
#: loaded while warming up would have been taken from a workspace file instead, or is a
#: workspace file (the session plugin's SHADOWED); pocflow runs the session again in a fresh
#: process, watched from its start
UNFAITHFUL = 71
#: the modules this server loaded while warming up beyond those `import pytest` loads (which
#: a plain pytest has loaded too before any workspace folder is on sys.path)
PRELOADED: frozenset[str] = frozenset()
#: the files this server opened while warming up, outside Python's own folders (a plugin
#: pytest autoloads reading a file of the folder it was started in, as it is imported): a
#: session in a folder holding one would start from a read no watch saw, and is UNFAITHFUL
WARM_READS: tuple[str, ...] = ()
#: whether the audit hook notes what is opened (only while warming up: a hook cannot be
#: removed, the children's returns at once)
_NOTING = False
_OPENED: set[str] = set()


def _note_open(event: str, args: tuple[Any, ...]) -> None:
    if _NOTING and event == "open" and args:
        _note(args[0])


def _note(path: Any) -> None:
    if isinstance(path, (str, bytes, os.PathLike)):  # (not a descriptor)
        with contextlib.suppress(Exception):  # a hook must never raise
            _OPENED.add(os.path.abspath(os.fsdecode(path)))


def _warm_reads(opened: set[str]) -> tuple[str, ...]:
    """What of ``opened`` lies outside Python's own folders and the warm-up's own, and is no
    folder of ``sys.path`` (which the search for installed plugins lists and looks at: an
    editable install's folder in the workspace is looked at by every pytest)."""
    own = (
        *(folder.rstrip(os.sep) + os.sep for folder in {sys.prefix, sys.base_prefix}),
        os.path.join(tempfile.gettempdir(), WARM_PREFIX),
    )
    searched = {os.path.abspath(entry or os.curdir) for entry in sys.path}
    return tuple(
        sorted(
            path
            for path in opened
            if not path.startswith(own) and path != os.devnull and path not in searched
        )
    )


def _read_while_warming(cwd: str) -> bool:
    """Whether this server read a file in ``cwd`` (or below) while warming up."""
    inside = cwd.rstrip(os.sep) + os.sep
    return any(path.startswith(inside) for path in WARM_READS)


def warm_up() -> None:
    """Import pytest and every plugin it autoloads, outside any workspace (in an empty
    temporary folder named after this process; folders that servers killed before they could
    remove theirs are removed first)."""
    import pytest

    sweep_warm_folders(Path(tempfile.gettempdir()))
    with (
        tempfile.TemporaryDirectory(prefix=f"{WARM_PREFIX}{os.getpid()}-") as empty,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        pytest.main(
            [
                "--collect-only",
                "-qq",
                "-p",
                "no:cacheprovider",
                "-c",
                os.devnull,
                f"--rootdir={empty}",
                empty,
            ],
            plugins=[_CollectionUnnoted()],
        )


class _CollectionUnnoted:
    """Ends the noting of looks as the warm-up's collection starts (before pytest's own
    collection hook): by then every plugin is imported, and what pytest's collection looks
    at (every entry of each folder above the empty one, for a virtual environment or a
    package) is the warm-up's own."""

    def __init__(self) -> None:
        import pytest

        @pytest.hookimpl(tryfirst=True)
        def pytest_collection(session: Any) -> None:
            global _NOTING
            _NOTING = False

        self.pytest_collection = pytest_collection


def sweep_warm_folders(tmp: Path) -> None:
    """Remove the warm-up folders of servers that are no longer running."""
    import shutil

    for folder in tmp.glob(f"{WARM_PREFIX}*"):
        pid = folder.name[len(WARM_PREFIX) :].partition("-")[0]
        if not pid.isdigit() or not folder.is_dir() or folder.is_symlink():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # gone: its folder is litter
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OverflowError):  # another user's, running
            continue


def session(
    cwd: str,
    args: list[str],
    log: str,
    plugins: list[str] | None = None,
    observe: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """Fork a child that runs one pytest session (with the plugins at these file paths),
    observed by pocflow._observe when ``observe`` says where; its exit code."""
    if _read_while_warming(cwd):
        return UNFAITHFUL  # (before any fork: the plain session is watched from its start)
    pid = os.fork()
    if pid == 0:
        code = CRASHED
        try:
            _die_with_server()
            os.chdir(cwd)
            if env is not None:  # the session's whole environment, not the server's
                os.environ.clear()
                os.environ.update(env)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            # the child's lifetime is the process's: these streams close with it. They encode
            # as a fresh `pytest` process's would (the encoding and error handler Python chose
            # for this server's, started the same way): a test printing what cannot be
            # encoded fails here as it does there
            encoding, errors = _stream_settings()
            sys.stdout = open(1, "w", encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
            sys.stderr = open(  # noqa: SIM115
                2, "w", encoding=encoding, errors="backslashreplace", closefd=False
            )
            sys.argv = ["pytest", *args]
            observer = None
            if observe:  # after the fork: an audit hook cannot be removed
                observer = _load(str(Path(__file__).with_name("_observe.py"))).install(
                    observe["root"],
                    observe["out"],
                    tuple(observe.get("skip", ())),
                    bool(observe.get("kernel")),
                )
            import pytest

            loaded = [_load(path) for path in plugins or []]
            for plugin in loaded:
                if hasattr(plugin, "PRELOADED"):
                    plugin.PRELOADED = PRELOADED
            code = int(pytest.main(args, plugins=loaded))
            _end_as_python_does()
            if observer is not None:
                observer.from_kernel()
            if any(getattr(plugin, "SHADOWED", None) for plugin in loaded):
                code = UNFAITHFUL
        except BaseException:  # anything at all must end the child
            code = CRASHED
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _stream_settings() -> tuple[str, str]:
    """The encoding and error handler Python gave this process's standard output as it
    started (UTF-8 and strict; surrogateescape in the C locale)."""
    stream = sys.__stdout__
    encoding = getattr(stream, "encoding", None) or "utf-8"
    errors = getattr(stream, "errors", None) or "strict"
    return encoding, errors


def _end_as_python_does() -> None:
    """What the interpreter does as a plain `pytest` process ends, before the child leaves
    with os._exit: wait for the threads not marked daemon (a test's worker still running),
    then run the atexit callbacks (a test's own check at exit). One that ends the process
    ends it here with its status, as it would `pytest <file>`; one that never ends keeps the
    session from ending, as it would."""
    import atexit
    import threading

    threading._shutdown()  # type: ignore[attr-defined]  # (what Py_FinalizeEx calls first)
    atexit._run_exitfuncs()


def _load(path: str) -> Any:
    """A plugin module from its file (pocflow's plugins import nothing of pocflow)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _die_with_server() -> None:
    """SIGKILL this session when the server dies (Linux): an interrupted pocflow leaves
    no pytest session running. (Inline: this file runs without pocflow importable.) Through
    _ctypes, the C half of ctypes, then forgotten: the session finds loaded what a plain
    pytest has (importing ctypes took 5 ms of each session, and left it loaded, so a
    test's ``import ctypes`` found it before a workspace's ``ctypes.py``)."""
    if not sys.platform.startswith("linux"):
        return
    loaded = "_ctypes" in sys.modules
    try:
        import _ctypes

        class _CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]  # (ctypes.c_int)
            _type_ = "i"

        class _CFunction(_ctypes.CFuncPtr):  # (a C function of libc)
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = _CInt

        libc = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # type: ignore[arg-type]  # (the program)
        _CFunction(_ctypes.dlsym(libc, "prctl"))(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # (no _ctypes: the session runs, as it would have elsewhere)
        pass
    finally:
        if not loaded:
            sys.modules.pop("_ctypes", None)


def serve() -> None:
    """Answer requests on stdin until it closes."""
    global PRELOADED, WARM_READS, _NOTING
    # as the `pytest` command has it: its own folder, neither the session's nor this file's
    sys.path[0] = os.path.dirname(sys.executable)
    sys.addaudithook(_note_open)
    _NOTING = True  # (until the warm-up's collection starts: _CollectionUnnoted)
    try:
        import pytest  # noqa: F401

        before = set(sys.modules)
        warm_up()
    finally:
        _NOTING = False
    PRELOADED = frozenset(name for name in sys.modules if "." not in name) - before
    WARM_READS = _warm_reads(_OPENED)
    _OPENED.clear()
    gc.freeze()  # children must not walk (and so copy) the warm heap when they collect
    replies = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        code = session(
            request["cwd"],
            request["args"],
            request["log"],
            request.get("plugins"),
            request.get("observe"),
            request.get("env"),
        )
        replies.write(json.dumps({"code": code}) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
