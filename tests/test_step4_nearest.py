"""Step 4: nearest zone by a full great-circle scan."""

from __future__ import annotations

import sqlite3

import pytest

from geo import haversine_km
from step1_load import load
from step2_coordinates import decode
from step4_nearest import PROBES, baseline, load_points, nearest


@pytest.fixture
def points(db: sqlite3.Connection) -> list[tuple[str, float, float]]:
    load(db)
    decode(db)
    return load_points(db)


def test_haversine_london_paris() -> None:
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.5, abs=1.0)


def test_every_zone_is_nearest_to_itself(points: list[tuple[str, float, float]]) -> None:
    for tz, lat, lon in points:
        assert nearest(points, lat, lon) == (tz, 0.0)


def test_nearest_across_the_antimeridian(points: list[tuple[str, float, float]]) -> None:
    # just west of the antimeridian, near Fiji (Pacific/Fiji is at 178.4 E)
    tz, km = nearest(points, -18.0, -179.9)
    assert tz == "Pacific/Fiji"
    assert km < 300


def test_baseline_stores_every_probe(db: sqlite3.Connection,
                                     points: list[tuple[str, float, float]]) -> None:
    metrics = baseline(db)
    assert metrics["probes"] == len(PROBES)
    assert db.execute("SELECT count(*) FROM nearest_baseline").fetchone()[0] == len(PROBES)
