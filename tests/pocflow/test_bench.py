"""A smoke run of the benchmark harness (its figures are not checked: they are timings)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_bench_harness_runs_and_writes_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import run as bench_run
    finally:
        sys.path.remove(str(BENCH))
    page = tmp_path / "performance.md"
    page.write_text(
        "# Perf\n\n<!-- bench:begin -->\nearlier figures\n<!-- bench:end -->\n\nafter\n",
        encoding="utf-8",
    )
    assert bench_run.main(["--steps", "3", "--write", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "earlier figures" not in text and text.endswith("<!-- bench:end -->\n\nafter\n")
    assert "`uv run python bench/run.py --steps 3`" in text
    row = next(line for line in text.splitlines() if line.startswith("| 3 |"))
    assert row.count("|") == 20 and row.count("x |") == 6
    assert "| Steps | Cold (s) |" in capsys.readouterr().out
    fresh = [line for line in text.splitlines() if line.startswith("| 3 |")][1]
    assert fresh.count("|") == 10 and fresh.count("x |") == 5
    assert "Plain doit, no state (s)" in text
