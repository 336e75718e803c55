"""Step 4_1: the grid index gives exactly the full scan's answers."""

from __future__ import annotations

import random
import sqlite3

import pytest

from step1_load import load
from step2_coordinates import decode
from step4_1_grid_nearest import GridIndex, compare
from step4_nearest import baseline, load_points, nearest


@pytest.fixture
def prepared(db: sqlite3.Connection) -> sqlite3.Connection:
    load(db)
    decode(db)
    return db


def test_grid_agrees_with_scan_on_random_points(prepared: sqlite3.Connection) -> None:
    points = load_points(prepared)
    index = GridIndex(points)
    rng = random.Random(1970)
    for _ in range(500):
        lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
        assert index.nearest(lat, lon)[0] == nearest(points, lat, lon)[0]


@pytest.mark.parametrize(("lat", "lon"), [(90.0, 0.0), (-90.0, 0.0), (0.0, 180.0),
                                          (0.0, -180.0), (89.9, 179.9)])
def test_grid_agrees_at_poles_and_antimeridian(prepared: sqlite3.Connection,
                                               lat: float, lon: float) -> None:
    points = load_points(prepared)
    assert GridIndex(points).nearest(lat, lon)[0] == nearest(points, lat, lon)[0]


def test_compare_with_baseline_is_total_agreement(prepared: sqlite3.Connection) -> None:
    baseline(prepared)
    assert compare(prepared)["agreement_pct"] == 100.0


def test_compare_without_baseline_says_so(prepared: sqlite3.Connection) -> None:
    prepared.execute("CREATE TABLE nearest_baseline (lat REAL, lon REAL, tz TEXT, km REAL)")
    with pytest.raises(RuntimeError, match="run step 4 first"):
        compare(prepared)
