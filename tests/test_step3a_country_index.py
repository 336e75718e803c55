"""Step 3a: the zone <-> country index."""

from __future__ import annotations

import sqlite3

import pytest

from step1_load import load
from step3a_country_index import build_index


def test_index_has_a_pair_per_listed_country(db: sqlite3.Connection) -> None:
    load(db)
    listed = sum(len(c.split(",")) for (c,) in db.execute("SELECT countries FROM zones"))
    assert build_index(db)["pairs"] == listed


def test_index_keeps_most_populous_country_first(db: sqlite3.Connection) -> None:
    load(db)
    build_index(db)
    first = db.execute("SELECT code FROM zone_countries WHERE tz = 'Europe/Zurich' "
                       "AND position = 0").fetchone()[0]
    assert first == "CH"


def test_index_rejects_unknown_country(db: sqlite3.Connection) -> None:
    load(db)
    db.execute("UPDATE zones SET countries = 'ZZ' WHERE tz = 'Europe/Paris'")
    with pytest.raises(ValueError, match="'ZZ'"):
        build_index(db)
