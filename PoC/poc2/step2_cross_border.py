"""Step 2: neighbouring zones that no country shares (the zone boundary is a border).

Usage:
    uv run python PoC/poc2/step2_cross_border.py       # reads and extends out/neighbours.sqlite
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas import write_metrics
from poc2.neighbours import open_neighbours


def cross_border(db: sqlite3.Connection) -> dict[str, float]:
    """Replace cross_border(tz, neighbour, km) with the neighbour pairs whose zones share no
    country code; return metrics."""
    countries = dict(db.execute("SELECT tz, countries FROM zones"))
    pairs = db.execute("SELECT tz, neighbour, km FROM zone_neighbours ORDER BY tz, rank").fetchall()
    if not pairs:
        raise RuntimeError("zone_neighbours is empty: run step 1 first")
    rows = [(tz, other, km) for tz, other, km in pairs
            if not set(countries[tz].split(",")) & set(countries[other].split(","))]
    with db:
        db.execute("DROP TABLE IF EXISTS cross_border")
        db.execute("CREATE TABLE cross_border (tz TEXT NOT NULL, neighbour TEXT NOT NULL, "
                   "km REAL NOT NULL, PRIMARY KEY (tz, neighbour))")
        db.executemany("INSERT INTO cross_border VALUES (?, ?, ?)", rows)
    return {"pairs": len(pairs), "cross_border": len(rows),
            "share": round(len(rows) / len(pairs), 3)}


def main() -> None:
    with open_neighbours() as db:
        metrics = cross_border(db)
    write_metrics(metrics)
    print(f"{metrics['cross_border']} of {metrics['pairs']} neighbour pairs cross a border")


if __name__ == "__main__":
    main()
