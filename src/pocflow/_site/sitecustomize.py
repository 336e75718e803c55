"""pocflow's observer for a step script, installed while Python starts.

pocflow runs a step's script as ``python SCRIPT ARGS`` — Python's own way, nothing in
between — with this folder first on ``PYTHONPATH`` and ``POCFLOW_OBSERVE`` set. Python
imports this module while it starts (``site``); it puts ``PYTHONPATH`` back as it was, takes
this folder off ``sys.path``, asks the kernel to end the script with pocflow (see
``_die_with_parent``), installs pocflow's observer (``pocflow/_observe.py``) and then runs the
``sitecustomize`` this one hides, if there is one. A Python process a watched one starts
(a test's ``subprocess`` child, a ``spawn`` worker) finds the same settings in its
environment (see ``_observe._observe_children``) and observes itself the same way, its reads in the
context its parent is in when they happen. Outside a run of pocflow
(``POCFLOW_OBSERVE`` unset, or another Python) it does nothing but that last step.
"""

from __future__ import annotations  # (parsed by whatever Python a test starts)

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _die_with_parent(parent: str | None) -> None:
    """Have the kernel SIGKILL this script when pocflow (its parent, of this pid) dies, and
    start from Python's own handling of Ctrl-C (a worker of ``doit -n`` ignores it, and an
    ignored signal stays ignored across exec).

    Done here, in the script's own start, rather than between fork and exec in pocflow: a
    ``preexec_fn`` makes Python fork the whole pocflow process for each script instead of
    spawning it (4 ms a script at 30 MB, 14 ms at 200 MB: a tenth of a cold run). The script
    is already its parent's child here; had pocflow died before the kernel was asked, the
    parent is no longer that pid, and the script ends at once. Nothing is imported by name
    from the script's path, and nothing imported stays (see ``_kill_with_parent``)."""
    if parent is None or not parent.isdigit():
        return
    import _signal  # type: ignore[import-not-found]  # built in, loaded before site: never the script's

    if _signal.getsignal(_signal.SIGINT) == _signal.SIG_IGN:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    if sys.platform.startswith("linux"):
        _kill_with_parent(_signal.SIGKILL)
    if os.getppid() != int(parent):
        os._exit(1)


def _kill_with_parent(signum: int) -> None:
    """prctl(PR_SET_PDEATHSIG) through _ctypes, the C half of ctypes, imported from the
    standard library's own folders (an ``_ctypes`` on the script's PYTHONPATH is not it),
    and then forgotten: the script finds in ``sys.modules`` what a plain Python has loaded.
    (Not ctypes itself: importing its Python half, and ``struct`` with it, took 5 ms of
    every script's start, a third of what pocflow adds to a script.)"""
    before = set(sys.modules)
    path = sys.path[:]
    stdlib = os.path.dirname(os.__file__)
    sys.path[:] = [stdlib, os.path.join(stdlib, "lib-dynload")]
    try:
        import _ctypes

        class _CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]  # (ctypes.c_int)
            _type_ = "i"

        class _CFunction(_ctypes.CFuncPtr):  # (a C function of libc)
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = _CInt

        libc = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # type: ignore[arg-type]  # (the program)
        _CFunction(_ctypes.dlsym(libc, "prctl"))(1, signum, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # no ctypes here: the script runs, as it would have elsewhere
        pass
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - before:
            del sys.modules[name]


def _observe() -> None:
    spec = os.environ.pop("POCFLOW_OBSERVE", None)
    original = os.environ.pop("POCFLOW_PYTHONPATH", None)  # None: PYTHONPATH was not set
    child = os.environ.pop("POCFLOW_CHILD", None)  # set: a watched process started this one
    by = os.environ.pop("POCFLOW_STARTED_BY", "")  # the workspace module that started it
    started_in = os.environ.pop("POCFLOW_STARTED_IN", None)  # its folder, as named there
    _die_with_parent(os.environ.pop("POCFLOW_DIE_WITH", None))
    if spec is None:
        return
    # pocflow started the script unbuffered (its log keeps the order of its output): what
    # the script starts gets the variable as it was
    unbuffered = os.environ.pop("POCFLOW_PYTHONUNBUFFERED", None)
    if child is None:
        if unbuffered is not None:
            os.environ["PYTHONUNBUFFERED"] = unbuffered
        else:
            os.environ.pop("PYTHONUNBUFFERED", None)
    if original is not None:
        os.environ["PYTHONPATH"] = original
    else:
        os.environ.pop("PYTHONPATH", None)
    executable, root, out, *skip = spec.split("\x1f")
    if os.path.realpath(executable) != os.path.realpath(sys.executable):
        return  # another interpreter than the one pocflow started
    sys.path.insert(0, os.path.dirname(_HERE))
    try:
        import _observe  # type: ignore[import-not-found]
    finally:
        del sys.path[0]
    observer = _observe.install(root, out, tuple(skip), child=child is not None)
    if child is not None:
        _observe.child_started(observer, out, by, started_in)


def _chain() -> None:
    """Run the sitecustomize module this one hides, as Python would have."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if getattr(finder, "__name__", "") != "PathFinder" or find_spec is None:
            continue
        spec = find_spec("sitecustomize", [p for p in sys.path if p != _HERE])
        if spec is not None and spec.loader is not None:
            module = type(sys)("sitecustomize")
            module.__file__ = spec.origin
            module.__spec__ = spec
            sys.modules["sitecustomize"] = module
            spec.loader.exec_module(module)
        return


sys.path[:] = [p for p in sys.path if p != _HERE]
_observe()
_chain()
