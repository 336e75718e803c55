"""pocflow on a real library's own test suite, fetched from the package index (bench/realworld.py).

The library (`packaging`, a `src/` layout with data files its tests read) is downloaded when
the test runs, never copied into this repository. Set POCFLOW_OFFLINE=1 to leave the test out
where the package index cannot be reached; anywhere else a failed download fails the test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import realworld

pytestmark = pytest.mark.e2e


def test_a_real_librarys_suite_counts_and_reverifies_exactly_what_changed(tmp_path: Path) -> None:
    if os.environ.get("POCFLOW_OFFLINE") == "1":
        pytest.skip("POCFLOW_OFFLINE=1: the package index is not reachable here")
    try:
        sdist = realworld.fetch_sdist(tmp_path / "cache")
    except OSError as exc:
        pytest.fail(
            f"could not download {realworld.SDIST} from the package index ({exc}); "
            "set POCFLOW_OFFLINE=1 to leave this test out"
        )
    steps = realworld.steps_for(quick=True)
    result = realworld.check(realworld.make_workspace(sdist, tmp_path / "ws", steps), steps)
    assert result["problems"] == [], result
    assert result["edit_steps"] == result["importers"] and result["edit_steps"]
    assert result["data_steps"] == [realworld.DATA_STEP] and result["data_caught"]
    assert result["tests"] > 2000  # type: ignore[operator]
    # its inputs (the modules a step imports) make most of it, not its 2,000+ tests
    assert result["record_kib"] < 40  # type: ignore[operator]
