"""doit's file check, by content: a file_dep is unchanged only while its content is.

doit's own ``md5`` checker takes an unchanged modification time as proof that a file is
unchanged: a file rewritten with the same size and its modification time put back (by
``touch -r``, ``git``, a copy tool, an editor) is missed, and the step's tests never run on
it. This checker (``check_file_uptodate`` in DOIT_CONFIG) asks pocflow.fingerprint, which
reuses a digest only while size, modification time, change time and inode all match — the
change time cannot be put back — and hashes the file again otherwise.

doit looks at a file_dep (and a target) once for each task that names it: a step's
``implement.json`` by three of its tasks. Between two task outcomes nothing runs, so each
path is looked at once per stretch (pocflow.fingerprint.quiet_window) and the answer shared
— in a serial run only: under ``doit -n`` tasks run in other processes meanwhile.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from doit.dependency import FileChangedChecker

from pocflow.fingerprint import file_digest, quiet_window
from pocflow.run import run_workers


class ContentChecker(FileChangedChecker):  # type: ignore[misc]
    """A file_dep's state is its sha256 (as pocflow.fingerprint computes it)."""

    def __init__(self) -> None:
        super().__init__()
        self.cwd = os.getcwd()  # doit checks from the dodo file's folder, one per command
        self._paths: dict[str, str] = {}  # a file_dep as doit names it -> its absolute path
        #: what each path's os.stat gave in the current quiet window (its error, if any)
        self._stats: dict[str, os.stat_result | OSError] = {}
        self._window: int | None = None

    def exists(self, file_path: str) -> bool:
        """Whether the path leads to something (os.path.exists), looked at once a window."""
        return not isinstance(self._stat(file_path), OSError)

    def info(self, file_path: str) -> os.stat_result:
        """The file's os.stat (CheckerError when it fails), looked at once a window."""
        found = self._stat(file_path)
        if isinstance(found, OSError):
            raise OSError(found.errno, found.strerror, found.filename)
        return found

    def _stat(self, file_path: str) -> os.stat_result | OSError:
        # under `doit -n`, tasks run in other processes while this one checks: no window
        window = quiet_window() if run_workers() == 1 else None
        if window is None or window != self._window:
            self._stats.clear()
            self._window = window
        path = self._absolute(file_path)
        found = self._stats.get(path) if window is not None else None
        if found is None:
            try:
                found = os.stat(path)
            except OSError as exc:
                found = exc
            except ValueError:  # a NUL in the path: nothing there, as os.path.exists says
                found = OSError(errno.EINVAL, "invalid path", path)
            if window is not None:
                self._stats[path] = found
        return found

    def check_modified(self, file_path: str, file_stat: os.stat_result, state: Any) -> bool:
        """Whether the file's content differs from the state doit saved."""
        if not isinstance(state, (list, tuple)) or len(state) != 1:
            return True  # saved by another checker: check again
        return bool(file_digest(self._absolute(file_path), file_stat) != state[0])

    def get_state(self, dep: str, current_state: Any) -> Any:
        """The state to save (None: the saved one is still right)."""
        state = [file_digest(self._absolute(dep))]
        return None if current_state == state else state

    def _absolute(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            found = self._paths[path] = (
                path if os.path.isabs(path) else os.path.normpath(os.path.join(self.cwd, path))
            )
        return found
