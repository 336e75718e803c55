"""Incremental CI: a fresh clone re-verifies only what changed (real `git clone`s).

The origin repository is the sample PoC verified once and committed, records and documents
included, with uv.lock (part of the environment fingerprint). Every test clones it (or a
repository made from it) into fresh folders: new file times, no local state — what a CI job
gets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import REPO, copy_sample, edit, run_doit

pytestmark = pytest.mark.e2e

ALL = {"1", "2", "3a", "3b", "4", "4_1"}
DRIVER = f"{sys.executable} -m pocflow.cli merge-driver %O %A %B %P"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "CI",
        "GIT_AUTHOR_EMAIL": "ci@example.com",
        "GIT_COMMITTER_NAME": "CI",
        "GIT_COMMITTER_EMAIL": "ci@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clone(source: Path, target: Path) -> Path:
    git(source.parent, "clone", "-q", str(source), str(target))
    git(target, "config", "merge.pocflow.driver", DRIVER)
    return target


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def changed_files(repo: Path) -> set[str]:
    return {line[3:] for line in git(repo, "status", "--porcelain").splitlines()}


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample PoC, verified and committed with its records, documents and uv.lock."""
    repo = copy_sample(
        tmp_path_factory.mktemp("origin") / "repo",
        extra=["uv.lock", ".gitignore", ".gitattributes"],
    )
    git(repo, "init", "-q", "-b", "main")
    verified = run_doit(repo, "poc-complete")
    assert verified.code == 0, verified.out + verified.err
    commit(repo, "verified")
    return repo


@pytest.fixture
def changed_step2(origin: Path, tmp_path: Path) -> Path:
    """A repository one commit ahead of origin: step 2's script changed (not verified)."""
    dev = clone(origin, tmp_path / "dev")
    edit(dev / "PoC/step2_coordinates.py", lambda s: s + "\n# a reviewed change\n")
    commit(dev, "change step 2")
    return dev


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "two-workers"])
def test_fresh_clone_with_nothing_changed_runs_nothing(
    origin: Path, tmp_path: Path, workers: list[str]
) -> None:
    # (doit -n runs without the kernel's watch of what programs read: taking a record made
    # with it rewrote every record as made without it, and none was then shown verified)
    ws = clone(origin, tmp_path / "ci")
    result = run_doit(ws, *workers, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran == []
    for step_id in ALL:
        assert f"-- implement:{step_id}  (accepted: verified " in result.out
    assert "-- poc-complete  (accepted: every step's tests passed" in result.out
    assert "6 step(s) accepted from their committed records" in result.out
    assert changed_files(ws) == set()  # not a byte of a record or document rewritten
    assert not list((ws / ".pocflow").rglob("*.log"))  # no script ran
    assert not (ws / ".pocflow/runs/batch").exists()  # no test session ran
    assert "6 of 6 steps verified" in run_doit(ws, "status").out


def test_fresh_clone_reverifies_only_the_changed_step_and_its_dependents(
    changed_step2: Path, tmp_path: Path
) -> None:
    ws = clone(changed_step2, tmp_path / "ci")
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"2", "4", "4_1"}
    assert ".  implement:2  (changed since verified: PoC/step2_coordinates.py)" in result.out
    assert "first replayed the scripts of step(s) 1, accepted from their records" in result.out
    for step_id in ("1", "3a", "3b"):
        assert f"-- implement:{step_id}  (accepted: verified " in result.out
    changed = changed_files(ws)
    assert {"steps/records/step1.json", "steps/records/step3a.json"}.isdisjoint(changed)
    assert "steps/records/step2.json" in changed


def test_restored_cache_does_the_same_minimal_work(
    origin: Path, changed_step2: Path, tmp_path: Path
) -> None:
    first = clone(origin, tmp_path / "job1")
    assert run_doit(first, "poc-complete").code == 0
    cache = first / ".pocflow"  # what a CI cache saves after a job

    same = clone(origin, tmp_path / "job2")
    shutil.copytree(cache, same / ".pocflow")
    again = run_doit(same, "poc-complete")
    assert again.code == 0 and again.ran == [], again.out + again.err

    ahead = clone(changed_step2, tmp_path / "job3")
    shutil.copytree(cache, ahead / ".pocflow")
    result = run_doit(ahead, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"2", "4", "4_1"}


def test_changed_environment_reverifies_everything(origin: Path, tmp_path: Path) -> None:
    dev = clone(origin, tmp_path / "dev")
    edit(dev / "uv.lock", lambda s: s + "\n# a dependency upgrade\n")
    commit(dev, "upgrade a dependency")
    ws = clone(dev, tmp_path / "ci")
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == ALL
    assert "environment changed since verified: the locked dependency set changed" in result.out

    cached = clone(dev, tmp_path / "ci-cached")  # a restored cache does not hide it either
    job = clone(origin, tmp_path / "job")
    assert run_doit(job, "poc-complete").code == 0
    shutil.copytree(job / ".pocflow", cached / ".pocflow")
    assert run_doit(cached, "poc-complete").ran_steps == ALL


@pytest.mark.parametrize(
    "how", ["flag", "environment variable", "flag with a restored cache", "doit's --always"]
)
def test_force_reverifies_everything(origin: Path, tmp_path: Path, how: str) -> None:
    ws = clone(origin, tmp_path / "ci")
    if how in ("flag with a restored cache", "doit's --always"):
        assert run_doit(ws, "poc-complete").ran == []
    if how == "environment variable":
        result = run_doit(ws, "poc-complete", env={"POCFLOW_REVERIFY": "1"})
    elif how == "doit's --always":  # doit's meaning: every selected task runs
        result = run_doit(ws, "-a", "poc-complete")
    else:
        result = run_doit(ws, "--reverify", "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == ALL
    assert "accepted" not in result.out
    assert ".  poc-complete  (re-verification forced)" in result.out


def _verify_on_branch(repo: Path, branch: str, change: tuple[str, str]) -> None:
    """Verify a change on a new branch from main, as its own developer would: in a checkout
    of their own (no local state of another branch's runs)."""
    git(repo, "checkout", "-q", "-b", branch, "main")
    shutil.rmtree(repo / ".pocflow", ignore_errors=True)
    shutil.rmtree(repo / "out", ignore_errors=True)  # (its outputs: another branch's)
    path, line = change
    edit(repo / path, lambda s: s + line)
    result = run_doit(repo, "poc-complete")
    assert result.code == 0, result.out + result.err
    commit(repo, f"verify on {branch}")


def test_branches_verifying_different_steps_merge_cleanly(origin: Path, tmp_path: Path) -> None:
    dev = clone(origin, tmp_path / "dev")
    with (dev / "PROJECT_STATE.md").open("a", encoding="utf-8") as state:
        state.write("\nA note both branches keep.\n")
    commit(dev, "a note")
    _verify_on_branch(dev, "step2-work", ("PoC/step2_coordinates.py", "\n# step 2 work\n"))
    _verify_on_branch(dev, "step3b-work", ("PoC/step3b_country_lookup.py", "\n# 3b work\n"))
    plain = tmp_path / "plain"  # the same merge without the driver: the derived files clash
    shutil.copytree(dev, plain)
    git(plain, "config", "--unset", "merge.pocflow.driver")
    clash = subprocess.run(
        ["git", "merge", "--no-edit", "step2-work"],
        cwd=plain,
        capture_output=True,
        text=True,
        check=False,
    )
    assert clash.returncode != 0 and "steps/records/poc-complete.json" in clash.stdout
    git(dev, "merge", "-q", "--no-edit", "step2-work")  # exit 0: no conflict anywhere
    assert git(dev, "diff", "--name-only", "--diff-filter=U") == ""
    assert "A note both branches keep." in (dev / "PROJECT_STATE.md").read_text("utf-8")

    ws = clone(dev, tmp_path / "ci")
    dry = run_doit(ws, "--dry-run", "poc-complete")
    assert "accepted as verified, their records hold: 1, 2, 3a, 3b, 4, 4_1" in dry.out, dry.out
    # as the shipped workflow runs it: the gate also runs every step's tests as one
    result = run_doit(ws, "poc-complete", env={"POCFLOW_SUITE_SESSION": "1"})
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == set()  # each branch's verification stands
    assert ".  poc-complete" in result.out  # only the merged whole is checked again
    # no script ran, so before its suite the gate reproduced the database step 1 makes
    # (and the steps that write into it, as the kernel reports SQLite's writes)
    assert "pocflow: replayed the scripts of step(s) 1" in result.out + result.err
    assert (ws / "out/atlas.sqlite").is_file()


def test_a_merge_that_changes_a_steps_inputs_makes_it_stale(origin: Path, tmp_path: Path) -> None:
    dev = clone(origin, tmp_path / "dev")
    _verify_on_branch(dev, "script", ("PoC/step3b_country_lookup.py", "\n# script work\n"))
    _verify_on_branch(
        dev,
        "tests",
        (
            "tests/test_step3b_country_lookup.py",
            "\n\ndef test_one_more() -> None:\n    assert True\n",
        ),
    )
    git(dev, "merge", "-q", "--no-edit", "script")  # the records of 3b differ: ours is kept
    status = run_doit(dev, "status", "--json")
    assert '"state": "stale"' in status.out
    result = run_doit(dev, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == {"3b"}


def test_dry_run_lists_what_would_rerun_and_why_and_fails(
    changed_step2: Path, origin: Path, tmp_path: Path
) -> None:
    ws = clone(changed_step2, tmp_path / "ci")
    # as the shipped workflow runs it: the gate also runs every step's tests as one session
    dry = run_doit(ws, "--dry-run", "poc-complete", env={"POCFLOW_SUITE_SESSION": "1"})
    assert dry.code == 1
    assert dry.out.splitlines() == [
        "pocflow: dry run: nothing was run or written",
        "  step 2 (Decode coordinates): would be verified again: changed since verified: "
        "PoC/step2_coordinates.py",
        "  step 4 (Nearest zone (brute force)): would be verified again: changed since "
        "verified: PoC/step2_coordinates.py; upstream step 2 changed since it was verified",
        "  step 4_1 (Nearest zone with a grid index): would be verified again: changed since "
        "verified: PoC/step2_coordinates.py; upstream step 4 changed since it was verified",
        "  accepted as verified, their records hold: 1, 3a, 3b",
        "  poc-complete: would run the full step suite",
        "pocflow: 3 of 6 step(s) would be verified again, and the gate would run",
    ]
    assert changed_files(ws) == set()
    assert not (ws / ".pocflow/runs").exists()
    step = run_doit(ws, "--dry-run", "step:3b")
    assert step.code == 0 and "nothing would run" in step.out
    step = run_doit(ws, "--dry-run", "step:4")  # with the prerequisite it would re-verify
    assert step.code == 1
    assert [line.split(":")[0] for line in step.out.splitlines()[1:3]] == [
        "  step 2 (Decode coordinates)",
        "  step 4 (Nearest zone (brute force))",
    ]
    assert "  accepted as verified, their records hold: 1" in step.out

    clean = clone(origin, tmp_path / "clean")
    assert run_doit(clean, "--dry-run", "poc-complete").code == 0
    # after a run, what doit keeps of each task is read whole (no "cannot be read")
    assert run_doit(clean, "poc-complete").code == 0
    after = run_doit(clean, "--dry-run", "poc-complete")
    assert after.code == 0 and "cannot be read" not in after.err, after.out + after.err


def test_detailed_exit_code_tells_nothing_ran_from_reran(
    changed_step2: Path, origin: Path, tmp_path: Path
) -> None:
    unchanged = clone(origin, tmp_path / "a")
    assert run_doit(unchanged, "--detailed-exit-code", "poc-complete").code == 0
    ahead = clone(changed_step2, tmp_path / "b")
    assert run_doit(ahead, "poc-complete", env={"POCFLOW_DETAILED_EXIT_CODE": "1"}).code == 4
    assert run_doit(ahead, "--detailed-exit-code", "poc-complete").code == 0  # now up to date
    edit(
        ahead / "tests/test_step4_nearest.py",
        lambda s: s + "\n\ndef test_no() -> None:\n    assert False\n",
    )
    assert run_doit(ahead, "--detailed-exit-code", "poc-complete").code == 1


def test_the_github_workflow_caches_state_and_runs_the_gate_and_drift() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/pocflow.yml").read_text("utf-8"))
    steps = workflow["jobs"]["verify"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert any(u.startswith("astral-sh/setup-uv@") for u in uses)
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore@"))
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save@"))
    assert restore["with"]["path"] == save["with"]["path"] == ".pocflow"
    assert "hashFiles('steps/records/**'" in restore["with"]["key"]
    assert save["if"].startswith("always()")  # a failed run's state is worth keeping too
    assert save["with"]["key"] == restore["with"]["key"]
    # drift first: the committed documents against the committed records, before a run
    # regenerates them from whatever it verified again
    assert runs.index("uv run --locked doit drift") < runs.index(
        "uv run --locked doit --detailed-exit-code poc-complete"
    )


LOCAL_SOURCE = """
[[package]]
name = "shared-lib"
version = "0.1.0"
source = {{ directory = "{path}" }}
"""


def test_lock_digest_leaves_out_where_a_local_dependency_lies(tmp_path: Path) -> None:
    from pocflow.fingerprint import file_digest
    from pocflow.freshness import lock_digest

    plain = tmp_path / "plain.lock"
    plain.write_text('version = 1\nsource = { editable = "." }\n', encoding="utf-8")
    assert lock_digest(plain) == file_digest(plain)  # records made before keep holding
    alice, bob, other = (tmp_path / name for name in ("alice.lock", "bob.lock", "other.lock"))
    alice.write_text(LOCAL_SOURCE.format(path="/home/alice/src/shared-lib"), encoding="utf-8")
    bob.write_text(LOCAL_SOURCE.format(path="/srv/ci/work/shared-lib/"), encoding="utf-8")
    other.write_text(LOCAL_SOURCE.format(path="/home/alice/src/another-lib"), encoding="utf-8")
    assert lock_digest(alice) == lock_digest(bob)
    assert lock_digest(alice) != lock_digest(other)  # another dependency is another set
    assert lock_digest(tmp_path / "absent.lock") == "missing"


def test_a_teammate_whose_local_dependency_lies_elsewhere_reverifies_nothing(
    origin: Path, tmp_path: Path
) -> None:
    dev = clone(origin, tmp_path / "dev")
    edit(dev / "uv.lock", lambda s: s + LOCAL_SOURCE.format(path="/home/alice/shared-lib"))
    assert run_doit(dev, "poc-complete").code == 0  # a new dependency set: verified again
    commit(dev, "depend on a local library")
    mate = clone(dev, tmp_path / "mate")
    edit(
        mate / "uv.lock",
        lambda s: s.replace("/home/alice/shared-lib", "/Users/bob/code/shared-lib"),
    )
    result = run_doit(mate, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert result.ran_steps == set()
    assert run_doit(mate, "drift").code == 0


def test_a_results_docs_commands_run_in_order_on_a_fresh_clone(
    origin: Path, tmp_path: Path
) -> None:
    ws = clone(origin, tmp_path / "fresh")
    doc = (ws / "docs/time-zone-atlas-step3b-results.md").read_text(encoding="utf-8")
    block = doc.split("## Commands\n", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    scripts = [
        line.split("uv run python ", 1)[1]
        for line in block.splitlines()
        if line.startswith("uv run python ")
    ]
    assert scripts[:-1] == ["PoC/step1_load.py", "PoC/step3a_country_index.py"]

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, script],
            cwd=ws,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    assert run(scripts[-1]).returncode != 0  # alone, what it reads is not there yet
    for script in scripts:  # as the document says: prerequisites first
        done = run(script)
        assert done.returncode == 0, script + "\n" + done.stdout + done.stderr


def test_how_each_package_was_installed_is_part_of_what_a_record_stands_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a fresh clone where the project's own package, installed editable from the workspace,
    # was replaced by a build of the same version from elsewhere is not the verified one
    import json

    from pocflow.freshness import installed_versions

    def digest(root: Path, direct_url: dict[str, object] | None, module: str = "m1") -> str:
        site = tmp_path / f"site-{len(list(tmp_path.iterdir()))}"
        meta = site / "demo-1.0.dist-info"
        meta.mkdir(parents=True)
        (meta / "METADATA").write_text("Name: demo\nVersion: 1.0\n", encoding="utf-8")
        (meta / "RECORD").write_text(
            f"demo/__init__.py,sha256={module},10\n../../../bin/demo,sha256={site.name},9\n"
            "demo-1.0.dist-info/INSTALLER,sha256=x,2\ndemo-1.0.dist-info/RECORD,,\n",
            encoding="utf-8",
        )
        if direct_url is not None:
            (meta / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
        monkeypatch.setattr(sys, "path", [str(site)])
        installed_versions.cache_clear()
        try:
            return installed_versions(str(root))
        finally:
            installed_versions.cache_clear()

    here, clone = tmp_path / "ws", tmp_path / "ci/clone"
    here.mkdir()
    clone.mkdir(parents=True)

    def editable(at: Path) -> dict[str, object]:
        return {"url": at.resolve().as_uri(), "dir_info": {"editable": True}}

    verified = digest(here, editable(here))
    assert digest(clone, editable(clone)) == verified  # the same install, elsewhere
    assert digest(clone, None) != verified  # from the index
    assert digest(clone, editable(tmp_path / "other")) != verified  # another checkout
    archive = {"url": "file:///dl/demo-1.0.tar.gz", "archive_info": {"hash": "sha256=ab"}}
    assert digest(clone, archive) != verified  # built from an archive
    # built from a folder outside the workspace: by what it installed
    built = {"url": (tmp_path / "lib").as_uri(), "dir_info": {}}
    from_folder = digest(here, built)
    assert digest(clone, built) == from_folder  # the same files (bin/ scripts apart)
    assert digest(clone, built, module="m2") != from_folder  # the same version, other files


def test_a_reinstall_of_the_same_files_is_not_a_change_of_what_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uv reinstalls the workspace's own editable package whenever pyproject.toml is touched,
    # and its uv_cache.json (in RECORD) holds the time of that build: nothing else changed
    from pocflow.freshness import installed_packages

    meta = tmp_path / "site/demo-1.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "uv_cache.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site")])
    monkeypatch.chdir(tmp_path)

    def installed(built: str, module: str) -> str:
        (meta / "RECORD").write_text(
            f"demo/__init__.py,sha256={module},10\n"
            f"demo-1.0.dist-info/uv_cache.json,sha256={built},194\n"
            "demo-1.0.dist-info/RECORD,,\n",
            encoding="utf-8",
        )
        installed_packages.cache_clear()
        try:
            return installed_packages()
        finally:
            installed_packages.cache_clear()

    first = installed("aaaa", "m1")
    assert installed("bbbb", "m1") == first  # built again: the same files
    assert installed("bbbb", "m2") != first  # a module's content changed


@pytest.mark.e2e
def test_dry_run_says_a_step_runs_again_where_other_packages_are_installed_than_it_ran_with(
    origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the phases take a step's record only when what is installed is what they last ran
    # with here (phases.judged): the dry run judges as the run does
    from pocflow.cmd_run import dry_run

    ws = clone(origin, tmp_path / "ci")
    assert run_doit(ws, "poc-complete").code == 0
    capsys.readouterr()
    assert dry_run(ws, {"poc-complete"}, lambda task: {}) == 0
    assert "nothing would run" in capsys.readouterr().out

    def ran_with_others(task: str) -> dict[str, object]:
        return {"packages": "another installation"} if task == "implement:2" else {}

    assert dry_run(ws, {"poc-complete"}, ran_with_others) == 1
    out = capsys.readouterr().out
    assert "step 2 (Decode coordinates): would be verified again: the installed packages " in out
