"""PoC 2, step 2: neighbouring zones that share no country."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from poc2.step1_zone_neighbours import build
from poc2.step2_cross_border import cross_border


@pytest.fixture
def built(tmp_path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(tmp_path / "neighbours.sqlite")
    build(db)
    yield db
    db.close()


def test_pairs_that_share_a_country_are_not_cross_border(built: sqlite3.Connection) -> None:
    metrics = cross_border(built)
    assert 0 < metrics["cross_border"] < metrics["pairs"] == 936
    pairs = set(built.execute("SELECT tz, neighbour FROM cross_border"))
    assert ("Europe/Paris", "Europe/Brussels") in pairs  # FR,MC and BE,LU,NL
    assert ("America/New_York", "America/Toronto") in pairs  # US and CA,BS
    assert ("Europe/Paris", "Europe/Zurich") in pairs  # FR,MC and CH,DE,LI
    # neighbours within one country: Russia's zones
    assert ("Europe/Moscow", "Europe/Ulyanovsk") not in pairs
    assert ("Europe/Volgograd", "Europe/Saratov") not in pairs
    neighbour_pairs = set(built.execute("SELECT tz, neighbour FROM zone_neighbours"))
    assert ("Europe/Moscow", "Europe/Ulyanovsk") in neighbour_pairs


def test_the_share_is_the_fraction_of_pairs(built: sqlite3.Connection) -> None:
    metrics = cross_border(built)
    assert metrics["share"] == round(metrics["cross_border"] / metrics["pairs"], 3)


def test_without_step1_it_says_so(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "empty.sqlite")
    db.execute("CREATE TABLE zones (tz TEXT, countries TEXT, lat REAL, lon REAL)")
    db.execute("CREATE TABLE zone_neighbours (tz TEXT, neighbour TEXT, km REAL, rank INTEGER)")
    with pytest.raises(RuntimeError, match="run step 1 first"):
        cross_border(db)
    db.close()
