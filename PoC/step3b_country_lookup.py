"""Step 3b: answer "which zones does this country use?" from step 3a's index.

Usage:
    uv run python PoC/step3b_country_lookup.py            # prints the busiest countries
    uv run python PoC/step3b_country_lookup.py Brazil     # zones of one country
"""

from __future__ import annotations

import sqlite3
import sys

from atlas import open_db, write_metrics


def zones_for_country(db: sqlite3.Connection, country: str) -> list[str]:
    """Zones of a country, by ISO code or name (any case), most relevant first."""
    row = db.execute("SELECT code FROM countries WHERE upper(code) = upper(?) "
                     "OR lower(name) = lower(?)", (country, country)).fetchone()
    if row is None:
        raise KeyError(f"unknown country: {country!r}")
    return [tz for (tz,) in db.execute(
        "SELECT tz FROM zone_countries WHERE code = ? ORDER BY position, tz", (row[0],))]


def busiest(db: sqlite3.Connection, limit: int = 5) -> list[tuple[str, int]]:
    """The countries that span the most zones."""
    return db.execute(
        "SELECT c.name, count(*) AS n FROM zone_countries z JOIN countries c ON c.code = z.code "
        "GROUP BY c.code ORDER BY n DESC, c.name LIMIT ?", (limit,)).fetchall()


def main(argv: list[str]) -> None:
    with open_db() as db:
        if argv:
            print("\n".join(zones_for_country(db, " ".join(argv))))
            return
        top = busiest(db)
        total = db.execute("SELECT count(DISTINCT code) FROM zone_countries").fetchone()[0]
    for name, count in top:
        print(f"{name}: {count} zones")
    write_metrics({"countries_with_zones": total, "most_zones": top[0][1],
                   "most_zones_country": top[0][0]})


if __name__ == "__main__":
    main(sys.argv[1:])
