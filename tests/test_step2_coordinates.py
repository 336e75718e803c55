"""Step 2: ISO 6709 coordinates decode to the right decimal degrees."""

from __future__ import annotations

import sqlite3

import pytest

from geo import parse_iso6709
from step1_load import load
from step2_coordinates import decode
from step2_validate_coordinates import problems


@pytest.mark.parametrize(("text", "expected"), [
    ("+4230+00131", (42.5, 1.5166667)),          # Andorra, minutes form
    ("-0348-03823", (-3.8, -38.3833333)),        # Fortaleza, south-west
    ("+513030-0000731", (51.5083333, -0.1252778)),  # London, seconds form
])
def test_parse_iso6709_both_forms(text: str, expected: tuple[float, float]) -> None:
    lat, lon = parse_iso6709(text)
    assert lat == pytest.approx(expected[0], abs=1e-6)
    assert lon == pytest.approx(expected[1], abs=1e-6)


@pytest.mark.parametrize("bad", ["", "4230+00131", "+4230+0013", "+42a0+00131"])
def test_parse_iso6709_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO 6709"):
        parse_iso6709(bad)


def test_decode_covers_every_zone_and_validates(db: sqlite3.Connection) -> None:
    zones = load(db)["zones"]
    counts = decode(db)
    assert counts["points"] == zones
    assert 0 < counts["with_seconds"] < zones
    assert problems(db) == []


def test_decode_without_step1_says_so(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE zones (tz TEXT, coordinates TEXT)")
    with pytest.raises(RuntimeError, match="run step 1 first"):
        decode(db)


def test_validation_flags_out_of_range_point(db: sqlite3.Connection) -> None:
    load(db)
    decode(db)
    db.execute("UPDATE zone_points SET lat = 123 WHERE tz = 'Europe/Paris'")
    assert any("Europe/Paris" in p and "out of range" in p for p in problems(db))
