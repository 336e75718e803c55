"""Step 3a: build the zone <-> country index from the zones' country lists.

Usage:
    uv run python PoC/step3a_country_index.py   # needs step 1's tables
"""

from __future__ import annotations

import sqlite3

from atlas import open_db, write_metrics


def build_index(db: sqlite3.Connection) -> dict[str, int]:
    """Replace zone_countries(tz, code, position); every code must be a known country."""
    known = {code for (code,) in db.execute("SELECT code FROM countries")}
    pairs = []
    for tz, codes in db.execute("SELECT tz, countries FROM zones ORDER BY tz"):
        for position, code in enumerate(codes.split(",")):
            if code not in known:
                raise ValueError(f"zone {tz} names unknown country code {code!r}")
            pairs.append((tz, code, position))
    with db:
        db.execute("DROP TABLE IF EXISTS zone_countries")
        db.execute("CREATE TABLE zone_countries (tz TEXT NOT NULL, code TEXT NOT NULL, "
                   "position INTEGER NOT NULL, PRIMARY KEY (tz, code))")
        db.executemany("INSERT INTO zone_countries VALUES (?, ?, ?)", pairs)
    shared = db.execute("SELECT count(*) FROM (SELECT tz FROM zone_countries GROUP BY tz "
                        "HAVING count(*) > 1)").fetchone()[0]
    covered = db.execute("SELECT count(DISTINCT code) FROM zone_countries").fetchone()[0]
    return {"pairs": len(pairs), "multi_country_zones": shared, "countries_covered": covered}


def main() -> None:
    with open_db() as db:
        metrics = build_index(db)
    write_metrics(metrics)
    print(f"indexed {metrics['pairs']} zone-country pairs")


if __name__ == "__main__":
    main()
