"""Step 1: the tzdb tables load completely and faithfully."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from atlas import DATA
from step1_load import load


def data_lines(name: str) -> int:
    return sum(1 for line in (DATA / name).read_text(encoding="utf-8").splitlines()
               if line and not line.startswith("#"))


def test_load_keeps_every_zone_and_country(db: sqlite3.Connection) -> None:
    counts = load(db)
    assert counts == {"zones": data_lines("zone1970.tab"), "countries": data_lines("iso3166.tab")}
    assert db.execute("SELECT count(*) FROM zones").fetchone()[0] == counts["zones"]


def test_load_reads_multi_country_zone(db: sqlite3.Connection) -> None:
    load(db)
    countries, coords = db.execute(
        "SELECT countries, coordinates FROM zones WHERE tz = 'Asia/Dubai'").fetchone()
    assert countries.split(",")[0] == "AE"
    assert coords == "+2518+05518"


def test_load_keeps_unicode_country_names(db: sqlite3.Connection) -> None:
    load(db)
    assert db.execute("SELECT name FROM countries WHERE code = 'CI'").fetchone()[0] \
        == "Côte d'Ivoire"


def test_load_twice_replaces_rather_than_duplicates(db: sqlite3.Connection) -> None:
    first = load(db)
    assert load(db) == first


def test_load_rejects_malformed_row_with_line_number(db: sqlite3.Connection,
                                                     tmp_path: Path) -> None:
    (tmp_path / "iso3166.tab").write_text("# header\nAD\tAndorra\nXYZ\n", encoding="utf-8")
    (tmp_path / "zone1970.tab").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"iso3166.tab:3"):
        load(db, tmp_path)
