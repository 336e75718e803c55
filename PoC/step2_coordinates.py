"""Step 2: decode every zone's ISO 6709 coordinates into decimal degrees.

Usage:
    uv run python PoC/step2_coordinates.py     # needs step 1's tables in out/atlas.sqlite
"""

from __future__ import annotations

import sqlite3

from atlas import open_db, write_metrics
from geo import parse_iso6709


def decode(db: sqlite3.Connection) -> dict[str, int]:
    """Replace zone_points(tz, lat, lon) from zones.coordinates; return counts."""
    rows = db.execute("SELECT tz, coordinates FROM zones ORDER BY tz").fetchall()
    if not rows:
        raise RuntimeError("the zones table is empty: run step 1 first")
    points = [(tz, *parse_iso6709(coords)) for tz, coords in rows]
    with db:
        db.execute("DROP TABLE IF EXISTS zone_points")
        db.execute("CREATE TABLE zone_points (tz TEXT PRIMARY KEY, lat REAL NOT NULL, "
                   "lon REAL NOT NULL)")
        db.executemany("INSERT INTO zone_points VALUES (?, ?, ?)", points)
    with_seconds = sum(1 for _tz, coords in rows if len(coords) == 15)
    return {"points": len(points), "with_seconds": with_seconds}


def main() -> None:
    with open_db() as db:
        metrics = decode(db)
    write_metrics(metrics)
    print(f"decoded {metrics['points']} coordinates")


if __name__ == "__main__":
    main()
