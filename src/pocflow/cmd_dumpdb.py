"""`doit dumpdb` for pocflow's store: what doit keeps of each task, read from its sqlite3
file (doit's own dumpdb opens the file as a dbm database, which pocflow's store is not)."""

from __future__ import annotations

import json
import pprint
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from doit.cmd_dumpdb import DumpDB as DoitDumpDB
from doit.exceptions import InvalidCommand

from pocflow._command import ReaderMayLeave
from pocflow.store import is_sqlite


class DumpDB(DoitDumpDB):  # type: ignore[misc]
    """doit's dumpdb; pocflow's sqlite3 store (and doit's) dumped row by row, as doit dumps
    a dbm one: ``task -> {saved values}``."""

    def execute(self, opt_values: dict[str, Any], pos_args: list[str]) -> int | None:
        path = Path(opt_values["dep_file"])
        if not path.is_file():
            path = _workspace_store(path)
        if not path.is_file():
            raise InvalidCommand(
                f"{path}: no store there yet (nothing has run in this workspace); run a task "
                "first, or name the store with --db-file"
            )
        if not is_sqlite(path):
            return super().execute(opt_values, pos_args)  # type: ignore[no-any-return]
        out = ReaderMayLeave(sys.stdout)  # (`| head`: the rest goes nowhere)
        out.write("DBM type is 'sqlite3'\n")
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                rows = db.execute("SELECT task_id, task_data FROM doit ORDER BY task_id").fetchall()
        except sqlite3.Error as exc:
            raise InvalidCommand(f"{path}: cannot be read as doit's store ({exc})") from None
        if not rows:  # (doit keeps a task's state once it passed)
            out.write("no task's state kept yet: no task has passed in this workspace\n")
        for task, data in rows:
            try:
                value: Any = json.loads(data) if data is not None else None
            except (TypeError, ValueError):
                value = data
            out.write(f"{task} -> {pprint.pformat(value, indent=4, width=100)}\n")
        out.flush()
        return 0


def _workspace_store(given: Path) -> Path:
    """The store of the pocflow workspace here (its state folder's doit.sqlite: doit's
    dumpdb does not read the dodo's DOIT_CONFIG, which names it), there yet or not; the
    path given where this is no pocflow workspace."""
    from pocflow.errors import PocflowError
    from pocflow.settings import load_settings

    try:
        return Path(load_settings(Path.cwd()).state_dir) / "doit.sqlite"
    except PocflowError:
        return given
