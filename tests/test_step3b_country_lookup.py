"""Step 3b: country lookups answer from the index."""

from __future__ import annotations

import sqlite3

import pytest

from step1_load import load
from step3a_country_index import build_index
from step3b_country_lookup import busiest, zones_for_country


@pytest.fixture
def indexed(db: sqlite3.Connection) -> sqlite3.Connection:
    load(db)
    build_index(db)
    return db


class TestZonesForCountry:
    def test_by_code_any_case(self, indexed: sqlite3.Connection) -> None:
        assert zones_for_country(indexed, "fr") == ["Europe/Paris"]

    def test_by_name(self, indexed: sqlite3.Connection) -> None:
        assert "America/Sao_Paulo" in zones_for_country(indexed, "brazil")

    def test_shared_zone_appears_for_each_country(self, indexed: sqlite3.Connection) -> None:
        assert "Europe/Zurich" in zones_for_country(indexed, "LI")
        assert "Europe/Zurich" in zones_for_country(indexed, "CH")

    def test_unknown_country(self, indexed: sqlite3.Connection) -> None:
        with pytest.raises(KeyError, match="Atlantis"):
            zones_for_country(indexed, "Atlantis")


class TestBusiest:
    def test_orders_by_zone_count(self, indexed: sqlite3.Connection) -> None:
        counts = [n for _name, n in busiest(indexed, 10)]
        assert counts == sorted(counts, reverse=True)

    def test_united_states_spans_many_zones(self, indexed: sqlite3.Connection) -> None:
        assert len(zones_for_country(indexed, "US")) >= 20
