"""pocflow on a real library's own test suite, fetched from the package index when it runs.

    uv run python bench/realworld.py                 # check, and print the figures
    uv run python bench/realworld.py --keep DIR      # leave the workspace in DIR

It downloads the source distribution of `packaging` (a library nobody here wrote, in a
`src/` layout, with data files its tests read), checks its sha256 against the index, and
turns it into a pocflow workspace: each of seven test modules of the library becomes a
step's test file (`tests/test_step1_elffile.py`, ...), each step gets a small script that
imports what its tests import, and `tests/conftest.py` puts `src/` on `sys.path` (the
library is reached only that way). Then it checks, and prints:

1. per-step test counts in pocflow's records equal plain pytest's, test file by test file;
2. after a one-line edit of `src/packaging/_elffile.py`, `doit poc-complete` verifies again
   exactly the steps whose scripts or tests import that module — the oracle is a fresh
   interpreter per step that imports the step's test module and script and looks in
   `sys.modules`, a different mechanism from pocflow's audit hooks;
3. after a change to a data file one test module reads (`tests/metadata/
   everything.metadata`), exactly that step is verified again;
4. a fresh clone (the committed files, no local state) accepts every step and runs nothing;
5. the figures: the cold run against the plain alternative (every step script, then one
   `pytest tests/`), the no-op, the fresh clone against the no-op, the edit against running
   the importers' scripts and tests directly plus the no-op, and the largest record.

Exit 0 when every check holds. pocflow's own suite runs it (test_realworld.py).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT, VERSION = "packaging", "24.2"
SDIST = f"{PROJECT}-{VERSION}.tar.gz"
#: the sdist's sha256, as published; the download must match it
SHA256 = "c228a6dc5e932d346bc5739379109d49e8853dd8223571c7c5b55260edc0b97f"
INDEX = "https://pypi.org/simple/{}/"
#: step id, description, the library's test module, what the step's script imports
STEPS = [
    ("1", "elffile", "test_elffile.py", "packaging._elffile"),
    ("2", "licenses", "test_licenses.py", "packaging.licenses"),
    ("3", "markers", "test_markers.py", "packaging.markers"),
    ("4", "metadata", "test_metadata.py", "packaging.metadata"),
    ("5", "requirements", "test_requirements.py", "packaging.requirements"),
    ("6", "structures", "test_structures.py", "packaging._structures"),
    ("7", "utils", "test_utils.py", "packaging.utils"),
]
#: --quick leaves out the largest module (5,286 tests): what pocflow's own suite runs
QUICK_SKIP = ("5",)
EDITED_MODULE = "packaging._elffile"
EDITED_FILE = "src/packaging/_elffile.py"
DATA_FILE = "tests/metadata/everything.metadata"
DATA_STEP = "4"
ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("PYTEST_", "POCFLOW_", "GITHUB_")) and k not in ("CI",)
} | {k: os.environ[k] for k in ("POCFLOW_SUITE_SESSION",) if k in os.environ}


def fetch_sdist(cache: Path) -> Path:
    """The library's sdist, downloaded (once per cache folder) and checked."""
    target = cache / SDIST
    if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != SHA256:
        request = urllib.request.Request(
            INDEX.format(PROJECT), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = json.load(answer)["files"]
        url = next(f["url"] for f in files if f["filename"] == SDIST)
        with urllib.request.urlopen(url, timeout=120) as answer:
            data = answer.read()
        if hashlib.sha256(data).hexdigest() != SHA256:
            raise SystemExit(f"realworld: {SDIST} does not have the published sha256")
        cache.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


Step = tuple[str, str, str, str]


def steps_for(quick: bool) -> list[Step]:
    """The steps of a run: all, or without the largest module."""
    return [step for step in STEPS if not (quick and step[0] in QUICK_SKIP)]


def make_workspace(sdist: Path, target: Path, steps: list[Step]) -> Path:
    """A pocflow workspace from the library's sources and tests."""
    with tarfile.open(sdist) as archive:
        archive.extractall(target / "_sdist", filter="data")
    source = target / "_sdist" / f"{PROJECT}-{VERSION}"
    shutil.copytree(source / "src", target / "src")
    tests = target / "tests"
    tests.mkdir()
    for folder in ("manylinux", "musllinux", "metadata"):
        shutil.copytree(source / "tests" / folder, tests / folder)
    (tests / "conftest.py").write_text(
        '"""The library is reached through src/, put on sys.path here."""\n'
        "import sys\nfrom pathlib import Path\n\n"
        'sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))\n',
        encoding="utf-8",
    )
    scripts = target / "PoC"
    scripts.mkdir()
    plan = ["# PoC 1 Implementation Plan: packaging's own tests", "", "## Implementation Steps", ""]
    for sid, name, module, imported in steps:
        shutil.copy2(source / "tests" / module, tests / f"test_step{sid}_{name}.py")
        (scripts / f"step{sid}_{name}.py").write_text(
            f'"""Step {sid}: import {imported} from src/.\n\nUsage:\n'
            f'    python PoC/step{sid}_{name}.py\n"""\n'
            "import sys\nfrom pathlib import Path\n\n"
            'sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))\n'
            f"import {imported}  # noqa: E402\n\nprint({imported}.__name__)\n",
            encoding="utf-8",
        )
        plan += [f"### Step {sid}: {name}", f"**Goal**: {module} passes.", ""]
    plan += [
        "## Production-Grade Checklist",
        "",
        "- [x] **No mock data**: the library's own test suite",
        "",
    ]
    (target / "docs").mkdir()
    (target / "docs" / "poc1-implementation.md").write_text("\n".join(plan), encoding="utf-8")
    (target / "pyproject.toml").write_text(
        '[project]\nname = "realworld"\nversion = "0"\n\n[tool.pocflow]\npoc = 1\n'
        '# a benchmark: nobody writes its results docs\nundocumented = "warn"\n',
        encoding="utf-8",
    )
    shutil.copy2(REPO / "dodo.py", target / "dodo.py")
    shutil.rmtree(target / "_sdist")
    return target


@dataclass
class Run:
    code: int
    seconds: float
    out: str
    ran: set[str] = field(default_factory=set)


def doit(ws: Path, *args: str) -> Run:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "doit", *args],
        cwd=ws,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    ran = {m[2] for m in re.finditer(r"^\.\s+(implement|test):(\S+)", done.stdout, re.M)}
    return Run(done.returncode, seconds, done.stdout + done.stderr, ran)


def direct(ws: Path, step_ids: list[str]) -> float:
    """The plain alternative for these steps: each one's script, then one pytest session
    over their test files (no report: what a person would run); seconds."""
    start = time.perf_counter()
    for sid in step_ids:
        for script in sorted((ws / "PoC").glob(f"step{sid}_*.py")):
            subprocess.run(
                [sys.executable, str(script)], cwd=ws, env=ENV, check=True, capture_output=True
            )
    tests = [
        str(p.relative_to(ws))
        for sid in step_ids
        for p in (ws / "tests").glob(f"test_step{sid}_*.py")
    ]
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ws,
        env=ENV,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def plain(ws: Path) -> tuple[float, dict[str, int]]:
    """Every step script, then one `pytest tests/` (timed, as a person runs it), and passed
    tests per file (from a second session with pytest-json-report, not timed)."""
    start = time.perf_counter()
    for script in sorted((ws / "PoC").glob("step*.py")):
        subprocess.run(
            [sys.executable, str(script)], cwd=ws, env=ENV, check=True, capture_output=True
        )
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ws,
        env=ENV,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    report = ws / "plain-report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--json-report",
            f"--json-report-file={report}",
            "tests",
        ],
        cwd=ws,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"realworld: plain pytest failed:\n{done.stdout[-3000:]}")
    counts: dict[str, int] = {}
    for test in json.loads(report.read_text(encoding="utf-8"))["tests"]:
        name = test["nodeid"].split("::")[0]
        counts[name] = counts.get(name, 0) + (test["outcome"] == "passed")
    report.unlink()
    return seconds, counts


def plain_step_fails(ws: Path, sid: str) -> bool:
    """Whether plain pytest fails on the step's test file."""
    test = next((ws / "tests").glob(f"test_step{sid}_*.py"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=ws,
        env=ENV,
        capture_output=True,
        check=False,
    )
    return done.returncode != 0


def importers(ws: Path, module: str, steps: list[Step]) -> set[str]:
    """The oracle: the steps whose script or test module imports module, found by importing
    each in a fresh interpreter and looking in sys.modules."""
    found = set()
    for sid, name, _module, _imported in steps:
        for path in (f"PoC/step{sid}_{name}.py", f"tests/test_step{sid}_{name}.py"):
            code = (
                "import runpy, sys; sys.path[:0] = ['src', 'tests']; "
                f"runpy.run_path({path!r}, run_name='probe'); "
                f"sys.exit(0 if {module!r} in sys.modules else 1)"
            )
            done = subprocess.run(
                [sys.executable, "-c", code], cwd=ws, env=ENV, capture_output=True, check=False
            )
            if done.returncode == 0:
                found.add(sid)
    return found


def check(ws: Path, steps: list[Step]) -> dict[str, object]:
    """Run every check; the figures and a list of what failed."""
    problems: list[str] = []
    plain_s, plain_counts = plain(ws)
    shutil.rmtree(ws / "out", ignore_errors=True)
    cold = doit(ws, "poc-complete")
    if cold.code != 0:
        raise SystemExit(f"realworld: the cold run failed:\n{cold.out[-3000:]}")
    counts = {}
    for sid, name, _module, _imported in steps:
        record = json.loads((ws / f"steps/records/step{sid}.json").read_text(encoding="utf-8"))
        counts[sid] = record["test"]["counts"].get("passed", 0)
        expected = plain_counts.get(f"tests/test_step{sid}_{name}.py", -1)
        if counts[sid] != expected:
            problems.append(
                f"step {sid}: pocflow counted {counts[sid]} passed, plain pytest {expected}"
            )
    noop = doit(ws, "poc-complete")
    if noop.ran or noop.code != 0:
        problems.append(f"the no-op run ran {sorted(noop.ran)} (exit {noop.code})")
    record_kib = max(p.stat().st_size for p in (ws / "steps/records").glob("step*.json")) / 1024

    # what a CI job gets: the committed files, no local state
    clone = ws.parent / f"{ws.name}-clone"
    shutil.copytree(ws, clone, ignore=shutil.ignore_patterns(".pocflow", "__pycache__", "out"))
    fresh = doit(clone, "poc-complete")
    if fresh.ran or fresh.code != 0:
        problems.append(f"a fresh clone ran {sorted(fresh.ran)} (exit {fresh.code})")
    shutil.rmtree(clone)

    oracle = importers(ws, EDITED_MODULE, steps)
    edited = ws / EDITED_FILE
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    after_edit = doit(ws, "poc-complete")
    if after_edit.code != 0 or after_edit.ran != oracle:
        problems.append(
            f"after editing {EDITED_FILE}: pocflow verified steps "
            f"{sorted(after_edit.ran)} again, the importers are {sorted(oracle)}"
        )
    edit_direct = direct(ws, sorted(oracle))

    # a data file its tests read: a change that breaks them, then the file put back
    data = ws / DATA_FILE
    original = data.read_bytes()
    data.write_bytes(original + b"\n")
    plain_fails = plain_step_fails(ws, DATA_STEP)
    after_data = doit(ws, "--continue", "poc-complete")
    if after_data.ran != {DATA_STEP} or (after_data.code != 0) != plain_fails:
        problems.append(
            f"after changing {DATA_FILE}: pocflow verified steps "
            f"{sorted(after_data.ran)} again (exit {after_data.code}), expected "
            f"[{DATA_STEP}] (plain pytest {'fails' if plain_fails else 'passes'})"
        )
    data.write_bytes(original)
    restored = doit(ws, "poc-complete")
    if restored.ran != {DATA_STEP} or restored.code != 0:
        problems.append(
            f"after putting {DATA_FILE} back: pocflow verified steps "
            f"{sorted(restored.ran)} again (exit {restored.code}), expected "
            f"[{DATA_STEP}] and a pass"
        )
    return {
        "library": f"{PROJECT} {VERSION}",
        "tests": sum(counts.values()),
        "per_step": counts,
        "cold_s": round(cold.seconds, 2),
        "plain_s": round(plain_s, 2),
        "cold_ratio": round(cold.seconds / plain_s, 2),
        "noop_s": round(noop.seconds, 2),
        "fresh_clone_s": round(fresh.seconds, 2),
        "fresh_clone_ratio": round(fresh.seconds / noop.seconds, 2),
        "record_kib": round(record_kib, 1),
        "edit_module": EDITED_FILE,
        "edit_steps": sorted(after_edit.ran),
        "importers": sorted(oracle),
        "edit_s": round(after_edit.seconds, 2),
        "edit_direct_s": round(edit_direct + noop.seconds, 2),
        "edit_ratio": round(after_edit.seconds / (edit_direct + noop.seconds), 2),
        "data_steps": sorted(after_data.ran),
        "data_caught": after_data.code != 0 and plain_fails,
        "problems": problems,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the workspace here and keep it")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "pocflow-realworld",
        help="where the downloaded sdist is kept",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"leave out step(s) {', '.join(QUICK_SKIP)} (the largest module)",
    )
    args = parser.parse_args()
    sdist = fetch_sdist(args.cache)
    with tempfile.TemporaryDirectory(prefix="pocflow-realworld-") as tmp:
        ws = args.keep or Path(tmp) / "ws"
        ws.mkdir(parents=True, exist_ok=True)
        steps = steps_for(args.quick)
        result = check(make_workspace(sdist, ws, steps), steps)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        out = io.StringIO()
        out.write(
            f"{result['library']}: {result['tests']} tests in {len(steps)} steps "
            f"{result['per_step']}\n"
        )
        out.write(
            f"cold {result['cold_s']} s vs plain {result['plain_s']} s "
            f"({result['cold_ratio']}x); no-op {result['noop_s']} s; fresh clone "
            f"{result['fresh_clone_s']} s ({result['fresh_clone_ratio']}x the no-op); "
            f"largest record {result['record_kib']} KiB\n"
        )
        out.write(
            f"edit {result['edit_module']}: verified again {result['edit_steps']} "
            f"(importers {result['importers']}) in {result['edit_s']} s, against "
            f"{result['edit_direct_s']} s for their scripts and tests directly plus the no-op "
            f"({result['edit_ratio']}x)\n"
        )
        out.write(
            f"edit {DATA_FILE}: verified again {result['data_steps']}"
            f"{' (its tests fail, as with plain pytest)' if result['data_caught'] else ''}"
            "\n"
        )
        for problem in result["problems"]:  # type: ignore[attr-defined]
            out.write(f"PROBLEM: {problem}\n")
        print(out.getvalue(), end="")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
