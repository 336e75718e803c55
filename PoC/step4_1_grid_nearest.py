"""Step 4_1: nearest zone with a 10-degree grid index (an alternative to step 4's scan).

Usage:
    uv run python PoC/step4_1_grid_nearest.py    # compares with step 4's stored baseline
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections import defaultdict

from atlas import open_db, write_metrics
from geo import EARTH_RADIUS_KM, haversine_km

#: side of a grid cube, in units of the Earth's radius (the unit sphere spans [-1, 1]^3)
CELL = 0.2
Point = tuple[str, float, float]


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """The point on the unit sphere; straight-line (chord) distance grows with arc distance."""
    p, q = math.radians(lat), math.radians(lon)
    return math.cos(p) * math.cos(q), math.cos(p) * math.sin(q), math.sin(p)


class GridIndex:
    """Zones bucketed into cubes of 3-D space, searched shell by shell outward.

    Working in 3-D avoids the trouble of latitude/longitude grids (meridians meet at the
    poles, longitudes wrap at the antimeridian): any point in a cube more than ``ring`` cubes
    away is at least ``ring * CELL`` away in a straight line, hence on the sphere too.
    """

    def __init__(self, points: list[Point]) -> None:
        self.cells: dict[tuple[int, int, int], list[Point]] = defaultdict(list)
        for point in points:
            self.cells[self.cell(unit_vector(point[1], point[2]))].append(point)

    @staticmethod
    def cell(vector: tuple[float, float, float]) -> tuple[int, int, int]:
        """The cube holding a unit vector."""
        x, y, z = (int((v + 1) // CELL) for v in vector)
        return x, y, z

    def nearest(self, lat: float, lon: float) -> tuple[str, float]:
        """(tz, km) of the nearest zone; the same answer as step 4's full scan."""
        here = unit_vector(lat, lon)
        cx, cy, cz = self.cell(here)
        best: tuple[float, str] | None = None
        for ring in range(0, int(2 / CELL) + 2):
            for dx in range(-ring, ring + 1):
                for dy in range(-ring, ring + 1):
                    for dz in range(-ring, ring + 1):
                        if max(abs(dx), abs(dy), abs(dz)) != ring:
                            continue
                        for tz, plat, plon in self.cells.get((cx + dx, cy + dy, cz + dz), ()):
                            candidate = (haversine_km(lat, lon, plat, plon), tz)
                            if best is None or candidate < best:
                                best = candidate
            if best is not None:
                chord = 2 * math.sin(best[0] / EARTH_RADIUS_KM / 2)
                if chord <= ring * CELL:
                    break
        assert best is not None, "the index is empty"
        return best[1], best[0]


def compare(db: sqlite3.Connection) -> dict[str, float]:
    """Agreement with step 4's baseline, and the speed-up over a full scan."""
    points = db.execute("SELECT tz, lat, lon FROM zone_points ORDER BY tz").fetchall()
    probes = db.execute("SELECT lat, lon, tz FROM nearest_baseline").fetchall()
    if not probes:
        raise RuntimeError("nearest_baseline is empty: run step 4 first")
    index = GridIndex(points)
    start = time.perf_counter()
    answers = [index.nearest(lat, lon)[0] for lat, lon, _tz in probes]
    grid_s = time.perf_counter() - start
    start = time.perf_counter()
    for lat, lon, _tz in probes:
        min(points, key=lambda p: (haversine_km(lat, lon, p[1], p[2]), p[0]))
    scan_s = time.perf_counter() - start
    agree = sum(1 for answer, (_lat, _lon, tz) in zip(answers, probes, strict=True)
                if answer == tz)
    return {"probes": len(probes), "agreement_pct": round(100 * agree / len(probes), 2),
            "speedup": round(scan_s / grid_s, 1)}


def main() -> None:
    with open_db() as db:
        metrics = compare(db)
    write_metrics(metrics)
    print(f"agreement {metrics['agreement_pct']}%, {metrics['speedup']}x faster than a scan")


if __name__ == "__main__":
    main()
