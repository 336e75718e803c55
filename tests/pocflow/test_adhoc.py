"""`doit pytest <id> [pytest options]`: ad-hoc runs of one step's tests that record nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support import edit, run_doit

from pocflow.status import compute_status
from pocflow.workspace import load_workspace

pytestmark = pytest.mark.e2e


def _recorded(ws: Path) -> dict[str, str]:
    """Every file pocflow writes a verdict into, by content."""
    files = [
        *ws.glob("steps/records/*.json"),
        ws / "PROJECT_STATE.md",
        *ws.glob("docs/*.md"),
        *ws.glob(".pocflow/runs/**/*.json"),
    ]
    return {
        str(p.relative_to(ws)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if p.is_file()
    }


def test_pytest_options_reach_the_steps_tests_and_nothing_is_recorded(sample: Path) -> None:
    before = _recorded(sample)
    picked = run_doit(sample, "pytest", "3b", "-k", "not lookup_all", "-q", "--co")
    assert picked.code == 0, picked.out + picked.err
    assert "no verdict is recorded" in picked.out
    assert "tests/test_step3b_country_lookup.py::" in picked.out  # only step 3b's tests
    assert "test_step3a" not in picked.out
    assert _recorded(sample) == before


def test_a_failing_ad_hoc_run_exits_as_pytest_does_and_changes_no_verdict(sample: Path) -> None:
    edit(
        sample / "tests/test_step2_coordinates.py",
        lambda s: s + "\n\ndef test_ad_hoc_breaks():\n    assert False\n",
    )
    before = _recorded(sample)
    failed = run_doit(sample, "pytest", "2", "-x", "-q", "-p", "no:cacheprovider")
    assert failed.code == 1, failed.out + failed.err  # pytest's exit status: tests failed
    assert "1 failed" in failed.out
    assert _recorded(sample) == before
    # the step is not verified (its test file changed), and only `doit step:2` can say so
    assert compute_status(load_workspace(sample))["2"].standing == "stale"


def test_ad_hoc_run_of_an_unknown_step_or_without_an_id_is_one_line(sample: Path) -> None:
    unknown = run_doit(sample, "pytest", "9z", "-x")
    assert unknown.code == 3
    assert unknown.err.strip().splitlines() == [
        "ERROR: step '9z' is not in the plan (its steps: 1, 2, 3a, 3b, 4, 4_1)"
    ]
    bare = run_doit(sample, "pytest")
    assert bare.code == 3 and "takes a step id" in bare.err and "Traceback" not in bare.err
