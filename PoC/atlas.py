"""Shared helpers of the Time-Zone Atlas PoC: where the data and the database live.

Usage:
    from atlas import open_db, write_metrics
    with open_db() as db:
        rows = db.execute("SELECT count(*) FROM zones").fetchone()
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "tzdb"
#: the database every step reads and writes; ATLAS_DB overrides it (tests use a temporary one)
DEFAULT_DB = ROOT / "out" / "atlas.sqlite"


def db_path() -> Path:
    """The database path: $ATLAS_DB, else out/atlas.sqlite."""
    return Path(os.environ.get("ATLAS_DB", DEFAULT_DB))


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open (creating its folder) the atlas database."""
    target = path or db_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(target)


@contextlib.contextmanager
def open_db(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """The atlas database, closed when the block ends."""
    db = connect(path)
    try:
        yield db
    finally:
        db.close()


def read_tab(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, columns) of every data line of a tzdb .tab file."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line and not line.startswith("#"):
            rows.append((number, line.split("\t")))
    return rows


def write_metrics(metrics: dict[str, object]) -> None:
    """Hand metrics to pocflow through $POCFLOW_METRICS_FILE (a no-op when run by hand)."""
    target = os.environ.get("POCFLOW_METRICS_FILE")
    if target:
        Path(target).write_text(json.dumps(metrics), encoding="utf-8")
