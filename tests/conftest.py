"""Fixtures of the sample PoC's step tests: a fresh SQLite database per test."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """An empty atlas database in the test's temporary folder."""
    connection = sqlite3.connect(tmp_path / "atlas.sqlite")
    yield connection
    connection.close()
