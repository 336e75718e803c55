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


def test_the_plain_alternative_runs_doit_without_pocflows_plugins(tmp_path: Path) -> None:
    """The plain dodo's runs must not carry pocflow's import and run command: doit loads
    every installed plugin, pocflow's included, unless bench/plain_doit.py leaves them out."""
    import subprocess

    (tmp_path / "dodo.py").write_text(
        "import sys\n"
        "def task_modules():\n"
        "    def write():\n"
        "        loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'pocflow')\n"
        "        open('loaded.txt', 'w').write(repr(loaded))\n"
        "    return {'actions': [write], 'verbosity': 0}\n",
        encoding="utf-8",
    )
    plain = subprocess.run(
        [sys.executable, str(BENCH / "plain_doit.py"), "-f", "dodo.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr
    assert (tmp_path / "loaded.txt").read_text(encoding="utf-8") == "[]"
    # and what it leaves out is real: `python -m doit` in this venv loads pocflow
    subprocess.run(
        [sys.executable, "-m", "doit", "-f", "dodo.py"], cwd=tmp_path, capture_output=True
    )
    assert "pocflow" in (tmp_path / "loaded.txt").read_text(encoding="utf-8")
