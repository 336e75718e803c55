"""Step 1: every zone's three nearest zones, from PoC 1's tz data and geometry.

Usage:
    uv run python PoC/poc2/step1_zone_neighbours.py     # writes out/neighbours.sqlite
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas import DATA, read_tab, write_metrics
from geo import haversine_km, parse_iso6709
from poc2.neighbours import open_neighbours

#: how many nearest zones each zone keeps
K = 3


def read_zones(data: Path = DATA) -> list[tuple[str, str, float, float]]:
    """(tz, country codes, lat, lon) of every zone of zone1970.tab."""
    zones = []
    for number, cols in read_tab(data / "zone1970.tab"):
        if len(cols) not in (3, 4):
            raise ValueError(f"zone1970.tab:{number}: expected 3 or 4 columns, got {len(cols)}")
        lat, lon = parse_iso6709(cols[1])
        zones.append((cols[2], cols[0], lat, lon))
    return zones


def neighbours(
    zones: list[tuple[str, str, float, float]], k: int = K
) -> list[tuple[str, str, float, int]]:
    """(tz, neighbour, km, rank) of each zone's k nearest other zones (ties: tz order)."""
    if len(zones) <= k:
        raise ValueError(f"need more than {k} zones to find {k} neighbours, got {len(zones)}")
    rows = []
    for tz, _, lat, lon in zones:
        others = sorted(
            (round(haversine_km(lat, lon, olat, olon), 3), other)
            for other, _, olat, olon in zones
            if other != tz
        )
        rows += [(tz, other, km, rank) for rank, (km, other) in enumerate(others[:k], start=1)]
    return rows


def build(db: sqlite3.Connection, data: Path = DATA) -> dict[str, float]:
    """Replace the zones and zone_neighbours tables; return metrics."""
    zones = read_zones(data)
    rows = neighbours(zones)
    with db:
        db.execute("DROP TABLE IF EXISTS zones")
        db.execute("DROP TABLE IF EXISTS zone_neighbours")
        db.execute("CREATE TABLE zones (tz TEXT PRIMARY KEY, countries TEXT NOT NULL, "
                   "lat REAL NOT NULL, lon REAL NOT NULL)")
        db.execute("CREATE TABLE zone_neighbours (tz TEXT NOT NULL, neighbour TEXT NOT NULL, "
                   "km REAL NOT NULL, rank INTEGER NOT NULL, PRIMARY KEY (tz, rank))")
        db.executemany("INSERT INTO zones VALUES (?, ?, ?, ?)", zones)
        db.executemany("INSERT INTO zone_neighbours VALUES (?, ?, ?, ?)", rows)
    nearest = [km for _, _, km, rank in rows if rank == 1]
    return {"zones": len(zones), "pairs": len(rows),
            "median_nearest_km": round(statistics.median(nearest), 1),
            "max_nearest_km": round(max(nearest), 1)}


def main() -> None:
    with open_neighbours() as db:
        metrics = build(db)
    write_metrics(metrics)
    print(f"{metrics['zones']} zones, {metrics['pairs']} neighbour pairs")


if __name__ == "__main__":
    main()
