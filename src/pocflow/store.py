"""doit's state store for pocflow workspaces: doit's own sqlite3 backend, made to survive
damage (a `doit.BACKEND` plugin named ``pocflow``).

doit keeps what it knows about each task (file fingerprints, saved values) in one sqlite3
file. If that file is damaged — truncated, overwritten with garbage, or written by another
backend or doit version — doit stops with a traceback. This backend checks the file when it
opens it and, if it is damaged, moves it aside (``doit.sqlite.damaged-<time>``), says so in
one line, and starts a new one. Losing the store never makes a verdict false: every task is
then checked again, and a step is re-verified unless its committed record still holds on
its current inputs. A single unreadable entry is treated the same way for its task only.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from doit.dependency import JSONCodec, SqliteDB
from doit.exceptions import InvalidDodoFile

from pocflow.fingerprint import hold_digests, outcome_recorded, release_digests

_HEADER = b"SQLite format 3\x00"
_ABSENT = object()  # a task with no saved state (not even a NULL one)


def state_folder_problem(folder: Path, root: Path | None = None) -> str:
    """Why pocflow cannot keep its state in folder (a file there, or above it: one line
    naming it, relative to root when given, and how to fix it), or ''."""
    for place in (folder, *folder.parents):
        if place.exists() or place.is_symlink():
            if place.is_dir():
                return ""
            shown = place.relative_to(root) if root and place.is_relative_to(root) else place
            return (
                f"{shown}: is a file, where pocflow keeps its state (doit's store, each "
                "step's run files): move it away, or set state_dir in [tool.pocflow] to a "
                "folder"
            )
    return ""


class DependencyStore(SqliteDB):  # type: ignore[misc]
    """doit's sqlite3 backend that sets a damaged file aside instead of failing."""

    desc = "doit's sqlite3 backend; a damaged file is set aside and rebuilt (pocflow)"

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None) -> None:
        blocked = state_folder_problem(Path(name).parent)
        if blocked:  # (doit opens its store before it loads the tasks)
            raise InvalidDodoFile(blocked)
        problem = damage(Path(name))
        if problem:
            aside = Path(f"{name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            Path(name).replace(aside)
            for suffix in ("-journal", "-wal", "-shm"):
                Path(name + suffix).unlink(missing_ok=True)
            sys.stderr.write(
                f"pocflow: warning: {name}: {problem}; moved it to {aside} and started a new "
                "one. Every task is checked again: steps whose committed records no longer "
                "hold are verified again.\n"
            )
        super().__init__(name, codec, module_name=module_name)
        self._warned = False
        #: every task's saved state as stored (JSON text), read in one query the first time
        #: one is asked for; None: not read yet, or the bulk read failed (then one per task)
        self._rows: dict[str, object] | None = None
        self._bulk = True
        #: each key and string value of the saved values as one string, whichever task's
        #: row it came from
        self._keys: dict[str, str] = {}
        self._decode = (
            json.JSONDecoder(object_pairs_hook=self._shared_keys).decode
            if type(codec) is JSONCodec
            else codec.decode
        )
        hold_digests()  # this store reports every outcome doit records: see below

    def set(self, task_id: str, dependency: str, value: Any) -> None:
        """Keep a value of a task; doit saves values only after a task ran (or was ignored),
        so input digests taken before may be stale (pocflow.fingerprint.outcome_recorded)."""
        outcome_recorded()
        super().set(task_id, dependency, value)

    def remove(self, task_id: str) -> None:
        """Forget a task (it failed, or its checker changed)."""
        outcome_recorded()
        if self._rows is not None:
            self._rows.pop(task_id, None)
        super().remove(task_id)

    def remove_all(self) -> None:
        """Forget every task."""
        outcome_recorded()
        self._rows = {}
        super().remove_all()

    def dump(self) -> None:
        """Save the store (doit closes it when the command ends)."""
        release_digests()
        super().dump()

    def _get_task_data(self, task_id: str) -> dict[str, Any]:
        """A task's saved state. doit asks once per task (then keeps it): the first time, every
        task's row is read in one query, which a run checking thousands of tasks needs (one
        query each cost a tenth of a no-op run at 1000 steps); each row is decoded when its
        task is asked for."""
        try:
            if self._bulk and self._rows is None:
                self._rows = self._read_rows()
            if self._rows is not None:
                raw = self._rows.pop(task_id, _ABSENT)
                data = self._decode(raw) if isinstance(raw, str) else {} if raw is _ABSENT else None
            else:
                data = super()._get_task_data(task_id)
        except (ValueError, RecursionError, sqlite3.DatabaseError):
            data = None
        if isinstance(data, dict) and _doits_shape(data):
            return data
        if not self._warned:
            sys.stderr.write(
                f"pocflow: warning: {self.name}: the saved state of {task_id} "
                "cannot be read; that task runs again\n"
            )
            self._warned = True
        return {}

    def _shared_keys(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """A decoded JSON object whose keys, and whose string values, are the strings other
        rows' objects use: the same keys (input paths, environment variables) and values
        (the digest of a shared helper, 'unset') recur in thousands of tasks, and kept once
        each, the decoded store takes less than half the memory at 1000 steps."""
        shared = self._keys
        return {
            shared.setdefault(key, key): shared.setdefault(value, value)
            if type(value) is str
            else value
            for key, value in pairs
        }

    def _read_rows(self) -> dict[str, object] | None:
        """Every task's saved state as stored (None, and one query per task from then on, when
        the table cannot be read whole: a damaged row then costs only its task)."""
        cursor = self._conn.cursor()
        cursor.row_factory = None  # plain tuples; `|| ''` keeps doit's JSON converter off
        try:
            rows = cursor.execute("select task_id, task_data || '' from doit")
            return {task_id: data for task_id, data in rows if isinstance(task_id, str)}
        except sqlite3.DatabaseError:
            self._bulk = False
            return None
        finally:
            cursor.close()


#: what doit keeps under these names in a task's saved state, and must find there
_SHAPES: dict[str, type] = {"_values_:": dict, "deps:": list, "checker:": str}


def _doits_shape(data: dict[str, Any]) -> bool:
    """Whether a task's saved state has what doit reads from it in the shape doit wrote it
    (a row edited by hand to hold a list of values made doit's up-to-date check fail with a
    traceback)."""
    return all(isinstance(data.get(name), (type(None), kind)) for name, kind in _SHAPES.items())


def is_sqlite(path: Path) -> bool:
    """Whether the file at path starts as an sqlite3 database does."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(_HEADER)) == _HEADER
    except OSError:
        return False


def damage(path: Path) -> str:
    """Why the store file at path cannot be used; '' when it can (or does not exist yet)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_HEADER))
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not header:
        return ""  # empty: sqlite3 makes a database of it
    if header != _HEADER:
        return "is not an sqlite3 database (damaged, or written by another doit backend)"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
            kinds = {
                (kind, name, table)
                for kind, name, table in conn.execute(
                    "select type, name, tbl_name from sqlite_master"
                )
            }
            if any(name == "doit" and kind != "table" for kind, name, _ in kinds):
                return "holds a doit view or index where doit keeps its table"
            if any(kind == "trigger" and table == "doit" for kind, _, table in kinds):
                return "holds a trigger on doit's table (doit writes none)"
            if ("table", "doit", "doit") in kinds:
                columns = [row[1] for row in conn.execute("PRAGMA table_info(doit)")]
                if columns != ["task_id", "task_data"]:
                    return "holds a doit table of another shape (another doit version?)"
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})"
    if check is None or check[0] != "ok":
        return f"is damaged (sqlite3 quick_check: {check[0] if check else 'no answer'})"
    return ""
