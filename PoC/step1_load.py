"""Step 1: load the tzdb zone and country tables into SQLite.

Usage:
    uv run python PoC/step1_load.py            # writes out/atlas.sqlite
    ATLAS_DB=/tmp/a.sqlite uv run python PoC/step1_load.py
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from atlas import DATA, open_db, read_tab, write_metrics


def load(db: sqlite3.Connection, data: Path = DATA) -> dict[str, int]:
    """Replace the countries and zones tables from data/; return row counts."""
    countries = []
    for number, cols in read_tab(data / "iso3166.tab"):
        if len(cols) != 2 or len(cols[0]) != 2:
            raise ValueError(f"iso3166.tab:{number}: expected 'CC<TAB>name', got {cols!r}")
        countries.append((cols[0], cols[1]))
    zones = []
    for number, cols in read_tab(data / "zone1970.tab"):
        if len(cols) not in (3, 4):
            raise ValueError(f"zone1970.tab:{number}: expected 3 or 4 columns, got {len(cols)}")
        comment = cols[3] if len(cols) == 4 else ""
        zones.append((cols[2], cols[0], cols[1], comment))
    with db:
        db.execute("DROP TABLE IF EXISTS countries")
        db.execute("DROP TABLE IF EXISTS zones")
        db.execute("CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT NOT NULL)")
        db.execute("CREATE TABLE zones (tz TEXT PRIMARY KEY, countries TEXT NOT NULL, "
                   "coordinates TEXT NOT NULL, comment TEXT NOT NULL)")
        db.executemany("INSERT INTO countries VALUES (?, ?)", countries)
        db.executemany("INSERT INTO zones VALUES (?, ?, ?, ?)", zones)
    return {"countries": len(countries), "zones": len(zones)}


def main() -> None:
    with open_db() as db:
        metrics = load(db)
    write_metrics(metrics)
    print(f"loaded {metrics['zones']} zones and {metrics['countries']} countries")


if __name__ == "__main__":
    main()
