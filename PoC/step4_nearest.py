"""Step 4: the zone nearest to a point, by great-circle distance over every zone.

Usage:
    uv run python PoC/step4_nearest.py           # stores the baseline for the probe points
"""

from __future__ import annotations

import sqlite3
import statistics
import time

from atlas import open_db, write_metrics
from geo import haversine_km

#: probe points: a 15-degree lattice over the globe (deterministic, covers the antimeridian)
PROBES = [(float(lat), float(lon)) for lat in range(-75, 76, 15) for lon in range(-180, 180, 15)]


def load_points(db: sqlite3.Connection) -> list[tuple[str, float, float]]:
    """Every zone's (tz, lat, lon) from step 2."""
    return db.execute("SELECT tz, lat, lon FROM zone_points ORDER BY tz").fetchall()


def nearest(points: list[tuple[str, float, float]], lat: float, lon: float) -> tuple[str, float]:
    """(tz, km) of the nearest zone; ties go to the first in tz order."""
    best = min(points, key=lambda p: (haversine_km(lat, lon, p[1], p[2]), p[0]))
    return best[0], haversine_km(lat, lon, best[1], best[2])


def baseline(db: sqlite3.Connection) -> dict[str, float]:
    """Store nearest_baseline(lat, lon, tz, km) for every probe; return timing metrics."""
    points = load_points(db)
    if not points:
        raise RuntimeError("zone_points is empty: run step 2 first")
    rows, times = [], []
    for lat, lon in PROBES:
        start = time.perf_counter()
        tz, km = nearest(points, lat, lon)
        times.append((time.perf_counter() - start) * 1000)
        rows.append((lat, lon, tz, km))
    with db:
        db.execute("DROP TABLE IF EXISTS nearest_baseline")
        db.execute("CREATE TABLE nearest_baseline (lat REAL, lon REAL, tz TEXT, km REAL, "
                   "PRIMARY KEY (lat, lon))")
        db.executemany("INSERT INTO nearest_baseline VALUES (?, ?, ?, ?)", rows)
    return {"probes": len(rows), "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(statistics.quantiles(times, n=20)[-1], 3)}


def main() -> None:
    with open_db() as db:
        metrics = baseline(db)
    write_metrics(metrics)
    print(f"{metrics['probes']} probes, median {metrics['median_ms']} ms")


if __name__ == "__main__":
    main()
