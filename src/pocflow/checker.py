"""doit's file check, by content: a file_dep is unchanged only while its content is.

doit's own ``md5`` checker takes an unchanged modification time as proof that a file is
unchanged: a file rewritten with the same size and its modification time put back (by
``touch -r``, ``git``, a copy tool, an editor) is missed, and the step's tests never run on
it. This checker (``check_file_uptodate`` in DOIT_CONFIG) asks pocflow.fingerprint, which
reuses a digest only while size, modification time, change time and inode all match — the
change time cannot be put back — and hashes the file again otherwise.
"""

from __future__ import annotations

import os
from typing import Any

from doit.dependency import FileChangedChecker

from pocflow.fingerprint import file_digest


class ContentChecker(FileChangedChecker):  # type: ignore[misc]
    """A file_dep's state is its sha256 (as pocflow.fingerprint computes it)."""

    def __init__(self) -> None:
        super().__init__()
        self.cwd = os.getcwd()  # doit checks from the dodo file's folder, one per command
        self._paths: dict[str, str] = {}  # a file_dep as doit names it -> its absolute path

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
