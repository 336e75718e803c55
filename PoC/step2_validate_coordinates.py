"""Step 2 validation: every decoded point is in range and known places land where they are.

Usage:
    uv run python PoC/step2_validate_coordinates.py   # exits 1 and says why on a bad point
"""

from __future__ import annotations

import sqlite3
import sys

from atlas import open_db

#: places whose coordinates are well known (degrees, rounded to 0.1)
KNOWN = {"Europe/London": (51.5, -0.1), "America/New_York": (40.7, -74.0),
         "Australia/Sydney": (-33.9, 151.2), "Asia/Tokyo": (35.7, 139.7)}


def problems(db: sqlite3.Connection) -> list[str]:
    """Every point that is out of range, missing, or far from where it should be."""
    found = []
    zones = db.execute("SELECT count(*) FROM zones").fetchone()[0]
    points = dict((tz, (lat, lon)) for tz, lat, lon in
                  db.execute("SELECT tz, lat, lon FROM zone_points"))
    if len(points) != zones:
        found.append(f"{zones} zones but {len(points)} points")
    for tz, (lat, lon) in points.items():
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            found.append(f"{tz}: ({lat}, {lon}) is out of range")
    for tz, (lat, lon) in KNOWN.items():
        got = points.get(tz)
        if got is None or abs(got[0] - lat) > 0.1 or abs(got[1] - lon) > 0.1:
            found.append(f"{tz}: expected about ({lat}, {lon}), got {got}")
    return found


def main() -> int:
    with open_db() as db:
        found = problems(db)
    for problem in found:
        print(problem, file=sys.stderr)
    print("coordinates valid" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
