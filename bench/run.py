"""pocflow's benchmark: pocflow against the plain alternative, measured in the same run.

    uv run python bench/run.py                  # 10 and 100 steps (a few minutes)
    uv run python bench/run.py --steps 10 100 1000 --write docs/performance.md

For each size it generates a synthetic workspace (bench/workspace.py) and measures, on the
same workspace and machine, one after the other:

- cold: `doit poc-complete` on a fresh copy, against running every step script once plus
  one `pytest tests/`;
- no-op: a second `doit poc-complete`, against a plain doit dodo file with the same tasks
  and file dependencies (its own second run), run by doit without pocflow's plugins
  (bench/plain_doit.py); each the median of 5 runs taken in turns;
- one edited step script, and one edited shared helper: `doit poc-complete`, against
  running just those steps' scripts and their test files directly (plus the no-op cost);
- -n 2: a cold parallel run;
- incremental CI: a copy of the verified workspace without `.pocflow/` (a fresh clone with
  committed records), unchanged (the median of 3 copies) and with one step edited, against
  the plain cold run;
- peak memory (largest process) of the pocflow runs.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workspace import helpers_of, make_plain_dodo, make_workspace

PYTHON = sys.executable
#: how many times the short runs are measured (their median is reported)
NOOP_RUNS, FRESH_RUNS = 5, 3
TIME = shutil.which("time") and Path("/usr/bin/time").exists()
#: every command runs as users run it: Python keeps the bytecode of what it compiles (a shell
#: with PYTHONDONTWRITEBYTECODE would make each run compile pocflow, doit and pytest anew)
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("CI", "GITHUB_STEP_SUMMARY", "PYTHONDONTWRITEBYTECODE")
}


@dataclass
class Measure:
    """Seconds and peak memory (MiB, largest process) of one command."""

    seconds: float
    peak_mib: float
    code: int


def run(command: list[str], cwd: Path) -> Measure:
    """Run a command, timing it; `/usr/bin/time` reports its peak memory where present."""
    prefix = ["/usr/bin/time", "-f", "%M"] if TIME else []
    # the workspace copies just made are written back first: not during the timed run
    if hasattr(os, "sync"):
        os.sync()
    start = time.perf_counter()
    done = subprocess.run(
        prefix + command, cwd=cwd, env=ENV, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    peak = 0.0
    if TIME:
        lines = done.stderr.strip().splitlines()
        if lines and lines[-1].strip().isdigit():
            peak = int(lines[-1]) / 1024
    return Measure(seconds, peak, done.returncode)


def doit(cwd: Path, *args: str) -> Measure:
    result = run([PYTHON, "-m", "doit", *args], cwd)
    if result.code != 0:
        raise SystemExit(f"doit {' '.join(args)} failed in {cwd} (exit {result.code})")
    return result


#: doit with pocflow's plugins left out (bench/plain_doit.py): the plain dodo's runs
PLAIN_DOIT = str(Path(__file__).resolve().parent / "plain_doit.py")


def plain_doit(cwd: Path) -> Measure:
    """The plain dodo file's run, as doit runs it where pocflow is not installed."""
    result = run([PYTHON, PLAIN_DOIT, "-f", "plain_dodo.py"], cwd)
    if result.code != 0:
        raise SystemExit(f"plain doit failed in {cwd} (exit {result.code})")
    return result


def plain_alternative(cwd: Path, steps: list[int], tests: list[str] | None = None) -> float:
    """Run the given step scripts once each, then one pytest session over their tests."""
    if hasattr(os, "sync"):
        os.sync()  # as for pocflow's runs (see run)
    start = time.perf_counter()
    for n in steps:
        subprocess.run(
            [PYTHON, f"PoC/step{n}_work.py"], cwd=cwd, env=ENV, check=True, capture_output=True
        )
    subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(tests or ["tests/"])],
        cwd=cwd,
        env=ENV,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def touch_edit(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")


def bench(steps: int, base: Path) -> dict[str, float]:
    """Every measurement for one workspace size."""
    template = make_workspace(base / f"ws{steps}", steps)
    figures: dict[str, float] = {"steps": steps}

    plain = base / f"plain{steps}"
    shutil.copytree(template, plain)
    figures["plain_cold_s"] = plain_alternative(plain, list(range(1, steps + 1)))

    ws = base / f"pocflow{steps}"
    shutil.copytree(template, ws)
    cold = doit(ws, "poc-complete")
    figures["cold_s"], figures["cold_peak_mib"] = cold.seconds, cold.peak_mib
    records = [p.stat().st_size for p in (ws / "steps" / "records").glob("step*.json")]
    figures["record_kib"] = max(records) / 1024

    # what a CI job gets: the committed files (records included), no local state
    clone = base / f"clone{steps}"
    shutil.copytree(ws, clone, ignore=shutil.ignore_patterns(".pocflow", "__pycache__"))
    changed = base / f"clone-changed{steps}"
    shutil.copytree(clone, changed)
    fresh = []  # the median of FRESH_RUNS, each on its own copy
    for n in range(FRESH_RUNS):
        copy = base / f"clone{steps}-{n}"
        shutil.copytree(clone, copy)
        fresh.append(doit(copy, "poc-complete").seconds)
    figures["fresh_clone_s"] = statistics.median(fresh)
    touch_edit(changed / "PoC" / f"step{steps // 2 or 1}_work.py")
    figures["fresh_edit_s"] = doit(changed, "poc-complete").seconds

    # the no-ops take a second or less: each is the median of NOOP_RUNS, taken in turns
    # with the plain dodo's (a single run is at the mercy of whatever else the machine does)
    make_plain_dodo(ws, steps)
    plain_doit(ws)
    noops, plain_noops = [], []
    for _ in range(NOOP_RUNS):
        noops.append(doit(ws, "poc-complete"))
        plain_noops.append(plain_doit(ws))
    figures["noop_s"] = statistics.median(m.seconds for m in noops)
    figures["noop_peak_mib"] = max(m.peak_mib for m in noops)
    figures["plain_noop_s"] = statistics.median(m.seconds for m in plain_noops)
    # the floor of a fresh clone that runs doit's tasks: the plain dodo with no state of its
    # own, every task run once (doit saves each one's state as it ends)
    plain_fresh = []
    for _ in range(FRESH_RUNS):
        shutil.rmtree(ws / ".plain")
        plain_fresh.append(plain_doit(ws).seconds)
    figures["plain_fresh_s"] = statistics.median(plain_fresh)

    edited = steps // 2 or 1
    touch_edit(ws / "PoC" / f"step{edited}_work.py")
    figures["edit_step_only_s"] = doit(ws, f"step:{edited}").seconds
    touch_edit(ws / "PoC" / f"step{edited}_work.py")
    figures["edit_step_s"] = doit(ws, "poc-complete").seconds
    figures["direct_step_s"] = plain_alternative(ws, [edited], [f"tests/test_step{edited}_work.py"])

    users = [n for n in range(1, steps + 1) if "helper_a" in helpers_of(n)]
    if users:
        touch_edit(ws / "PoC" / "helper_a.py")
        figures["edit_helper_s"] = doit(ws, "poc-complete").seconds
        figures["helper_steps"] = len(users)
        figures["direct_helper_s"] = plain_alternative(
            ws, users, [f"tests/test_step{n}_work.py" for n in users]
        )

    parallel = base / f"parallel{steps}"
    shutil.copytree(template, parallel)
    figures["cold_n2_s"] = doit(parallel, "-n", "2", "poc-complete").seconds
    return figures


def table(results: list[dict[str, float]]) -> str:
    """The figures as a Markdown table, with the ratios the targets are stated in."""
    rows = [
        "| Steps | Cold (s) | Plain cold (s) | Cold ratio | Cold -n 2 (s) | No-op (s) | "
        "Plain doit no-op (s) | No-op ratio | Edit step: `step:N` (s) | "
        "Edit step: `poc-complete` (s) | Direct + no-op (s) | Edit ratio (`step:N`) | "
        "Edit ratio (`poc-complete`) | Edit helper (s) | Direct + no-op (s) | Helper ratio | "
        "Cold -n 2 speed-up | Peak MiB (cold / no-op) | Largest record (KiB) |",
        "|" + "---|" * 19,
    ]
    for r in results:
        step_base = r["direct_step_s"] + r["noop_s"]
        helper = ("—", "—", "—")
        if "edit_helper_s" in r:
            helper_base = r["direct_helper_s"] + r["noop_s"]
            helper = (
                f"{r['edit_helper_s']:.2f} ({int(r['helper_steps'])} steps)",
                f"{helper_base:.2f}",
                f"{r['edit_helper_s'] / helper_base:.2f}x",
            )
        rows.append(
            f"| {int(r['steps'])} | {r['cold_s']:.2f} | {r['plain_cold_s']:.2f} | "
            f"{r['cold_s'] / r['plain_cold_s']:.2f}x | {r['cold_n2_s']:.2f} | "
            f"{r['noop_s']:.2f} | {r['plain_noop_s']:.2f} | "
            f"{r['noop_s'] / r['plain_noop_s']:.2f}x | {r['edit_step_only_s']:.2f} | "
            f"{r['edit_step_s']:.2f} | {step_base:.2f} | "
            f"{r['edit_step_only_s'] / step_base:.2f}x | {r['edit_step_s'] / step_base:.2f}x | "
            f"{helper[0]} | {helper[1]} | {helper[2]} | {r['cold_s'] / r['cold_n2_s']:.2f}x | "
            f"{r['cold_peak_mib']:.0f} / {r['noop_peak_mib']:.0f} | {r['record_kib']:.1f} |"
        )
    rows += [
        "",
        "Incremental CI: a fresh copy with the committed records and no local state "
        "(`.pocflow/` left out), against what a job without pocflow runs (every script, "
        "then `pytest tests/`: the plain cold figure above).",
        "",
        "The plain doit dodo run with no state of its own (every task run once, as doit runs "
        "a fresh clone's) is the floor a fresh clone cannot go under while doit runs its "
        "tasks.",
        "",
        "| Steps | Fresh clone, nothing changed (s) | Ratio to the local no-op | "
        "Plain doit, no state (s) | Its ratio to its no-op | Ratio to plain doit, no state | "
        "Ratio to plain cold | Fresh clone, one step changed (s) | Ratio to plain cold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {int(r['steps'])} | {r['fresh_clone_s']:.2f} | "
            f"{r['fresh_clone_s'] / r['noop_s']:.2f}x | {r['plain_fresh_s']:.2f} | "
            f"{r['plain_fresh_s'] / r['plain_noop_s']:.2f}x | "
            f"{r['fresh_clone_s'] / r['plain_fresh_s']:.2f}x | "
            f"{r['fresh_clone_s'] / r['plain_cold_s']:.2f}x | {r['fresh_edit_s']:.2f} | "
            f"{r['fresh_edit_s'] / r['plain_cold_s']:.2f}x |"
        )
    return "\n".join(rows) + "\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 100])
    parser.add_argument(
        "--write",
        type=Path,
        help="also write the table into this Markdown "
        "file, between its 'bench:begin' and 'bench:end' markers",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pocflow-bench-") as tmp:
        results = []
        for steps in args.steps:
            results.append(bench(steps, Path(tmp)))
            print(f"{steps} steps measured", file=sys.stderr)
    command = "uv run python bench/run.py --steps " + " ".join(map(str, args.steps))
    report = (
        f"Measured {datetime.date.today().isoformat()} on {machine()}, with\n"
        f"`{command}`.\n\n" + table(results)
    )
    print(report)
    if args.write:
        text = args.write.read_text(encoding="utf-8")
        begin, end = "<!-- bench:begin -->\n", "<!-- bench:end -->"
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        args.write.write_text(head + begin + report + end + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
