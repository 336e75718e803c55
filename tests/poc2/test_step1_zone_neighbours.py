"""PoC 2, step 1: every zone's three nearest zones, from PoC 1's tz data and geometry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from poc2.step1_zone_neighbours import K, build, neighbours, read_zones


@pytest.fixture
def zones() -> list[tuple[str, str, float, float]]:
    return read_zones()


def test_every_zone_of_the_tz_data_is_read(zones: list[tuple[str, str, float, float]]) -> None:
    assert len(zones) == 312
    assert zones[[z[0] for z in zones].index("Europe/Paris")][:2] == ("Europe/Paris", "FR,MC")


def test_each_zone_gets_its_nearest_other_zones_in_order(
    zones: list[tuple[str, str, float, float]],
) -> None:
    rows = neighbours(zones)
    assert len(rows) == K * len(zones)
    paris = [(other, km) for tz, other, km, _ in rows if tz == "Europe/Paris"]
    assert [other for other, _ in paris] == ["Europe/Brussels", "Europe/London", "Europe/Zurich"]
    assert paris[0][1] == pytest.approx(261.5, abs=0.5)
    assert all(tz != other for tz, other, _, _ in rows)
    for tz in {row[0] for row in rows}:
        kms = [km for t, _, km, _ in rows if t == tz]
        assert kms == sorted(kms)


def test_neighbours_across_the_antimeridian(zones: list[tuple[str, str, float, float]]) -> None:
    fiji = [other for tz, other, _, _ in neighbours(zones) if tz == "Pacific/Fiji"]
    assert fiji[0] == "Pacific/Tongatapu"  # 178 E to 175 W: 747 km, not half the globe


def test_too_few_zones_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="need more than 3 zones"):
        neighbours([("A/B", "AB", 0.0, 0.0), ("C/D", "CD", 1.0, 1.0)])


def test_build_writes_both_tables_and_metrics(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "neighbours.sqlite")
    metrics = build(db)
    assert metrics["zones"] == 312 and metrics["pairs"] == 936
    assert 0 < metrics["median_nearest_km"] < metrics["max_nearest_km"]
    assert db.execute("SELECT count(*) FROM zone_neighbours").fetchone() == (936,)
    assert db.execute("SELECT count(DISTINCT tz) FROM zones").fetchone() == (312,)
    db.close()
