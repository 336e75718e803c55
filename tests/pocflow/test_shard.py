"""`doit --shard K/N`: CI jobs side by side, each verifying its share; a last job gathers.

Run as the optional workflow does (docs/ci.md): each shard in a clone of its own, its
records and results docs carried to the gathering job, whose gate accepts them without
running any step's script or tests as a verification.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support import REPO, run_doit

from pocflow.shard import parse_shard, shares
from pocflow.workspace import load_workspace

pytestmark = pytest.mark.e2e

DODO = (REPO / "dodo.py").read_text(encoding="utf-8")
#: two chains (1 <- 2, 3 <- 4) and a step on its own (5): three parts of the graph
DEPENDS = {"1": [], "2": ["1"], "3": [], "4": ["3"], "5": []}
SCRIPT = (
    '"""Step {n}.\n\nUsage:\n    python PoC/step{n}_x.py\n"""\n'
    "from pathlib import Path\n\nPath('out').mkdir(exist_ok=True)\n"
    "Path('out/step{n}.txt').write_text('{n}')\n"
)
TEST = (
    "from pathlib import Path\n\n\ndef test_output():\n"
    "    assert Path('out/step{n}.txt').read_text() == '{n}'\n"
)


def make(root: Path) -> Path:
    plan = ["# PoC 1 Implementation Plan: Shards\n\n## Implementation Steps\n"]
    for n, deps in DEPENDS.items():
        plan.append(
            f"### Step {n}: S{n}\n\n**Goal**: g.\n"
            + (f"**Depends On**: Step {deps[0]}\n" if deps else "")
        )
    plan.append("## Production-Grade Checklist\n\n- [x] **Real**: yes\n")
    files = {
        "dodo.py": DODO,
        ".gitignore": ".pocflow/\nout/\n__pycache__/\n",
        "pyproject.toml": '[tool.pocflow]\npoc = 1\nundocumented = "warn"\n\n'
        '[tool.pytest.ini_options]\npythonpath = ["PoC"]\n',
        "docs/poc1-implementation.md": "\n".join(plan),
    }
    for n in DEPENDS:
        files[f"PoC/step{n}_x.py"] = SCRIPT.format(n=n)
        files[f"tests/test_step{n}_x.py"] = TEST.format(n=n)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the plan, steps and tests")
    return root


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def workflow_step(job: str, name: str) -> str:
    """The shell of a step of the shipped sharded workflow."""
    import yaml

    workflow = yaml.safe_load(
        (REPO / ".github/workflows/pocflow-sharded.yml").read_text(encoding="utf-8")
    )
    return next(
        step["run"]
        for step in workflow["jobs"][job]["steps"]
        if step.get("name", "").startswith(name)
    )


def test_shares_keep_dependent_steps_together_and_cover_every_step_once(tmp_path: Path) -> None:
    ws = load_workspace(make(tmp_path / "ws"))
    two = shares(ws, 2)
    assert sorted(sid for share in two for sid in share) == sorted(DEPENDS)
    for share in two:  # a chain is never split
        assert ("1" in share) == ("2" in share) and ("3" in share) == ("4" in share)
    assert shares(ws, 2) == two  # the same every time
    assert [len(share) for share in shares(ws, 5)].count(0) == 2  # three parts, five shards


@pytest.mark.parametrize(("text", "expected"), [("1/1", (1, 1)), ("2/3", (2, 3))])
def test_parse_shard(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


def test_a_shard_that_is_not_k_of_n_is_one_line_and_exit_3(tmp_path: Path) -> None:
    ws = make(tmp_path / "ws")
    for bad in ("3/2", "0/2", "two", "1/2/3"):
        result = run_doit(ws, "--shard", bad)
        assert result.code == 3 and "give K/N with 1 <= K <= N" in result.err, bad
        assert "Traceback" not in result.err
    picked = run_doit(ws, "--shard", "1/2", "step:1")
    assert picked.code == 3 and "--shard picks the steps itself" in picked.err


def test_shards_in_separate_clones_merge_and_the_gate_accepts_them(tmp_path: Path) -> None:
    origin = make(tmp_path / "origin")
    gathered: list[str] = []
    jobs = []
    for index in (1, 2):
        job = tmp_path / f"shard{index}"
        git(tmp_path, "clone", "-q", str(origin), str(job))
        result = run_doit(job, "--shard", f"{index}/2")
        assert result.code == 0, result.out + result.err
        assert "poc-complete" not in result.ran  # the gate runs where records are gathered
        gathered += sorted(result.ran_steps)
        jobs.append(job)
    assert sorted(gathered) == sorted(DEPENDS)  # every step verified once, by one shard

    final = tmp_path / "gate"
    git(tmp_path, "clone", "-q", str(origin), str(final))
    carried: set[str] = set()
    for job in jobs:  # what the workflow's own step keeps from each shard ...
        subprocess.run(
            ["bash", "-e", "-c", workflow_step("shard", "Keep the records")], cwd=job, check=True
        )
        for path in (p for p in (job / "shard-out").rglob("*") if p.is_file()):
            rel = path.relative_to(job / "shard-out").as_posix()
            assert rel not in carried, f"two shards changed {rel}"
            carried.add(rel)
            target = final / rel  # ... and the gate job downloads into its checkout
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    assert {f"steps/records/step{n}.json" for n in DEPENDS} <= carried
    result = run_doit(final, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == set()  # accepted from the shards' records, none verified again
    assert "poc-complete" in result.ran
    assert run_doit(final, "drift").code == 0


def test_the_sharded_workflow_runs_the_shards_then_gathers_and_gates() -> None:
    import yaml

    workflow = yaml.safe_load(
        (REPO / ".github/workflows/pocflow-sharded.yml").read_text(encoding="utf-8")
    )
    shard, gate = workflow["jobs"]["shard"], workflow["jobs"]["gate"]
    count = len(shard["strategy"]["matrix"]["shard"])
    runs = [step.get("run", "") for step in shard["steps"]]
    assert f"uv run --locked doit --shard ${{{{ matrix.shard }}}}/{count} poc-complete" in runs
    uses = {
        step["uses"].split("@")[0]: int(step["uses"].split("@v")[1])
        for job in (shard, gate)
        for step in job["steps"]
        if "uses" in step
    }
    assert uses == {
        "actions/checkout": 7,
        "astral-sh/setup-uv": 10,
        "actions/upload-artifact": 7,
        "actions/download-artifact": 8,
    }
    assert gate["needs"] == "shard"
    assert [s.get("run") for s in gate["steps"] if "run" in s] == [
        "uv run --locked doit poc-complete",
        "uv run --locked doit drift",
    ]
