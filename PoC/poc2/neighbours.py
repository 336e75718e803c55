"""Shared helper of the Zone Neighbours PoC: its database, beside PoC 1's atlas.

Usage:
    from poc2.neighbours import open_neighbours
    with open_neighbours() as db:
        db.execute("SELECT count(*) FROM zone_neighbours").fetchone()
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

# PoC 2 stands on PoC 1's helpers (PoC/atlas.py, PoC/geo.py) and data (data/tzdb/)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas import ROOT

#: PoC 2's database; NEIGHBOURS_DB overrides it (tests use a temporary one)
DEFAULT_DB = ROOT / "out" / "neighbours.sqlite"


@contextlib.contextmanager
def open_neighbours(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """PoC 2's database ($NEIGHBOURS_DB, else out/neighbours.sqlite), closed at the end."""
    target = path or Path(os.environ.get("NEIGHBOURS_DB", DEFAULT_DB))
    target.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(target)
    try:
        yield db
    finally:
        db.close()
