"""Committed records hold what the verdict needs, a few KB whatever the number of tests; each
test's details stay in the local run files."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from support import REPO, make_workspace, plain_pytest_run, run_doit

from pocflow.freshness import note_ran_after
from pocflow.layout import IMPLEMENT, IMPLEMENT_FILE, RAN_AFTER_FILE, TEST
from pocflow.record import (
    FAILING_KEPT,
    TestCase,
    TestResult,
    grouped_outcomes,
    read_step_record,
    summarized,
    to_json,
)
from pocflow.workspace import load_workspace

#: 3,000 tests in one file, 1,000 of them in a class: a suite far larger than the record
MANY = (
    "import pytest\n\n"
    "@pytest.mark.parametrize('n', range(2000))\n"
    "def test_square_is_not_negative(n):\n"
    "    assert n * n >= {floor}\n\n"
    "class TestCube:\n"
    "    @pytest.mark.parametrize('n', range(1000))\n"
    "    def test_cube_keeps_its_sign(self, n):\n"
    "        assert n ** 3 >= 0\n"
)


def record_of(workspace: Path) -> tuple[str, dict[str, object]]:
    text = (workspace / "steps/records/step1.json").read_text(encoding="utf-8")
    return text, json.loads(text)


@pytest.mark.e2e
def test_a_record_of_thousands_of_tests_stays_small_and_the_run_file_keeps_each(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path / "ws", {"1": MANY.format(floor=0)})
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    text, record = record_of(workspace)
    # its inputs' fingerprints (files, imports, variables) make most of it, whatever the tests
    assert len(text.encode()) < 16_000, len(text.encode())
    assert "test_square_is_not_negative[" not in text and "test_cube_keeps_its_sign" not in text
    test = record["test"]
    assert isinstance(test, dict)
    assert test["counts"] == {"passed": 3000, "total": 3000}
    assert test["tests"] == []  # no failing test to name
    assert [(g["name"], g["counts"]) for g in test["groups"]] == [
        ("tests/test_step1_x.py", {"passed": 2000}),
        ("tests/test_step1_x.py::TestCube", {"passed": 1000}),
    ]
    local = json.loads((workspace / ".pocflow/runs/step1/test.json").read_text("utf-8"))
    assert len(local["tests"]) == 3000 and "duration_s" in local["tests"][0]
    doc = (workspace / "docs/small-step1-results.md").read_text(encoding="utf-8")
    assert "| `test_step1_x.py` | 2000 | ✅ 2000 passed |" in doc
    assert "| `TestCube` | 1000 | ✅ 1000 passed |" in doc
    assert "| **Total** | **3000** | **✅ 3000 passed** |" in doc


def committed_bytes(workspace: Path) -> dict[str, bytes]:
    """What a workspace commits of pocflow's: records, documents, PROJECT_STATE.md."""
    found = {
        p.relative_to(workspace).as_posix(): p.read_bytes()
        for folder in ("steps", "docs")
        for p in sorted((workspace / folder).rglob("*"))
        if p.is_file()
    }
    found["PROJECT_STATE.md"] = (workspace / "PROJECT_STATE.md").read_bytes()
    return found


@pytest.mark.e2e
def test_verifying_again_with_the_same_result_changes_no_committed_byte(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", {"1": MANY.format(floor=0), "2": MANY})
    (workspace / "tests/test_step2_x.py").write_text(MANY.format(floor=0), encoding="utf-8")
    assert run_doit(workspace, "poc-complete").code == 0
    committed = committed_bytes(workspace)
    again = run_doit(workspace, "--reverify", "poc-complete")  # every script and test again
    assert again.code == 0 and again.ran_steps == {"1", "2"}, again.out + again.err
    for rel, data in committed.items():
        assert (workspace / rel).read_bytes() == data, f"{rel} changed"


@pytest.mark.e2e
def test_an_edit_undone_brings_back_the_committed_bytes(tmp_path: Path) -> None:
    # an edit re-verifies with other inputs (new records), undoing it re-verifies with the
    # first inputs again: what that proves is what the committed records proved, so they,
    # the documents and the gate's record are as committed, byte for byte
    workspace = make_workspace(
        tmp_path / "ws",
        {"1": "from helper import VALUE\n\n\ndef test_value():\n    assert VALUE == 1\n"},
    )
    (workspace / "tests/helper.py").write_text("VALUE = 1\n", encoding="utf-8")
    assert run_doit(workspace, "poc-complete").code == 0
    committed = committed_bytes(workspace)
    (workspace / "tests/helper.py").write_text("VALUE = 1  # checked\n", encoding="utf-8")
    edited = run_doit(workspace, "poc-complete")
    assert edited.code == 0 and edited.ran_steps == {"1"}, edited.out + edited.err
    assert (workspace / "steps/records/step1.json").read_bytes() != committed[
        "steps/records/step1.json"
    ]
    (workspace / "tests/helper.py").write_text("VALUE = 1\n", encoding="utf-8")
    undone = run_doit(workspace, "poc-complete")
    assert undone.code == 0 and undone.ran_steps == {"1"}, undone.out + undone.err
    for rel, data in committed.items():
        assert (workspace / rel).read_bytes() == data, f"{rel} changed"


@pytest.mark.e2e
def test_a_failing_record_names_its_failing_tests_and_plain_pytest_agrees(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", {"1": MANY.format(floor=10)})
    result = run_doit(workspace, "step:1")
    assert result.code != 0
    plain = plain_pytest_run(workspace, "tests/test_step1_x.py")
    assert plain.returncode == 1 and "4 failed, 2996 passed" in plain.stdout
    assert "step 1: 4 of 3000 tests failed" in result.out + result.err
    local = json.loads((workspace / ".pocflow/runs/step1/test.json").read_text("utf-8"))
    assert local["counts"]["failed"] == 4


def test_a_summary_keeps_the_counts_and_names_at_most_the_first_failing_tests() -> None:
    cases = [
        TestCase(f"tests/test_step1_x.py::test_n[{n}]", "failed", 0.01, "x" * 10_000)
        for n in range(FAILING_KEPT + 20)
    ] + [TestCase("tests/test_step1_x.py::TestA::test_ok", "passed", 0.01)]
    result = TestResult(
        step_id="1",
        outcome="failed",
        message="",
        started_at="",
        finished_at="",
        duration_s=1.0,
        files=["tests/test_step1_x.py"],
        counts={"failed": FAILING_KEPT + 20, "passed": 1, "total": FAILING_KEPT + 21},
        tests=cases,
    )
    kept = summarized(result)
    assert len(kept.tests) == FAILING_KEPT and kept.tests[0].nodeid == cases[0].nodeid
    assert all(len(case.message) <= 500 for case in kept.tests)
    assert kept.counts == result.counts
    assert [(g.name, g.counts) for g in kept.groups] == [
        ("tests/test_step1_x.py", {"failed": FAILING_KEPT + 20}),
        ("tests/test_step1_x.py::TestA", {"passed": 1}),
    ]
    assert summarized(kept) is kept  # summarizing a record again changes nothing
    assert grouped_outcomes(kept) == grouped_outcomes(result)
    other = [*cases[:-1], TestCase("tests/test_step1_x.py::TestA::test_b", "passed", 0.01)]
    renamed = TestResult(**{**result.__dict__, "tests": other})
    assert summarized(renamed).tests_digest != kept.tests_digest  # another test, same counts


@pytest.mark.e2e
def test_a_run_file_another_version_wrote_is_one_clear_error_then_verified_anew(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path / "ws", {"1": "def test_ok():\n    assert True\n"})
    assert run_doit(workspace, "poc-complete").code == 0
    run_file = workspace / ".pocflow/runs/step1/implement.json"
    data = json.loads(run_file.read_text(encoding="utf-8"))
    run_file.write_text(json.dumps({**data, "from_a_later_version": 1}), encoding="utf-8")
    (workspace / "docs/small-step1-results.md").unlink()  # its document phase must run
    first = run_doit(workspace, "poc-complete")
    output = first.out + first.err
    assert first.code == 2, output
    assert "step 1: .pocflow/runs/step1/implement.json could not be read" in output, output
    assert "Traceback" not in output
    again = run_doit(workspace, "poc-complete")
    assert again.code == 0, again.out + again.err
    assert "-- implement:1  (accepted: verified" in again.out  # its record still holds
    assert (workspace / "docs/small-step1-results.md").is_file()
    assert run_doit(workspace, "drift").code == 0


def test_noting_again_what_a_step_ran_after_rewrites_no_run_file(tmp_path: Path) -> None:
    # a step taken from its record notes both its phases at once, then its test phase
    # notes the same again: a fresh clone of 1000 steps wrote a thousand files for nothing
    root = make_workspace(tmp_path, {"1": "", "2": ""}, depends={"2": "1"})
    ws = load_workspace(root)
    note_ran_after(ws, "2", IMPLEMENT, TEST)
    noted = ws.run_file("2", RAN_AFTER_FILE)
    first = noted.stat()
    note_ran_after(ws, "2", TEST)
    assert noted.stat().st_ino == first.st_ino  # not written anew (a rename makes a new file)
    assert set(json.loads(noted.read_text(encoding="utf-8"))) == {
        "prerequisites",
        "prerequisite_runs",
        "tests",
    }
    ws.run_file("2", IMPLEMENT_FILE).write_text("{}", encoding="utf-8")  # it ran again
    note_ran_after(ws, "2", TEST)
    assert noted.stat().st_ino != first.st_ino


@pytest.mark.e2e
def test_a_step_verified_alone_has_the_record_it_has_in_a_shared_session(tmp_path: Path) -> None:
    # tests/ is a package: pytest imports it once, while it collects the first test file of
    # the session; which step's file that is must not change what the others' records say
    # and a module of PoC/ (pytest's `pythonpath`) looks at its folder once, as the first
    # test that imports it does: a look every importer stands on, whichever came first
    passes = "import helper\n\n\ndef test_it():\n    assert helper.ONE == 1\n"
    workspace = make_workspace(tmp_path / "ws", {"1": passes, "2": passes, "3": passes})
    (workspace / "tests/__init__.py").write_text("", encoding="utf-8")
    (workspace / "PoC/helper.py").write_text(  # and looks at its folder as it is imported
        "import os\n\nONE = 1 if os.path.isdir(os.path.dirname(__file__)) else 0\n",
        encoding="utf-8",
    )
    with (workspace / "pyproject.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[tool.pytest.ini_options]\npythonpath = ["PoC"]\n')
    # (bytecode written: the first import of a fresh clone makes PoC/__pycache__/)
    env = {"PYTHONDONTWRITEBYTECODE": ""}
    assert run_doit(workspace, "poc-complete", env=env).code == 0
    committed = committed_bytes(workspace)
    shutil.rmtree(workspace / "PoC/__pycache__")
    alone = run_doit(workspace, "--reverify", "step:2", env=env)  # in a session of its own
    assert alone.code == 0 and alone.ran_steps == {"2"}, alone.out + alone.err
    record = "steps/records/step2.json"
    assert (workspace / record).read_bytes() == committed[record]


@pytest.mark.parametrize(
    ("path", "held"),
    [
        ("/home/a/poc-1/ws_2.x", ""),
        ("/srv/ci@host/+build,=%/ws", ""),
        ("/tmp/a checkout/ws", "spaces"),
        ("/tmp/café/ws", "non-ASCII"),
        ("/tmp/it's/ws", "shell characters"),
        ("/tmp/résumé $x/ws", "spaces, non-ASCII, shell characters"),
    ],
)
def test_a_workspace_path_is_described_by_what_may_trip_code_that_builds_commands(
    path: str, held: str
) -> None:
    from pocflow.freshness import path_characters

    assert path_characters(path) == held


def test_a_committed_record_written_before_a_field_was_added_keeps_its_bytes() -> None:
    # the sample's records were written before `reads_test_made`: read and written again,
    # nothing in them changes (a fresh clone's gate would see the records changed)
    for path in sorted((REPO / "steps/records").rglob("step*.json")):
        text = path.read_text(encoding="utf-8")
        record = read_step_record(path)
        assert record is not None and record.test is not None, path
        assert to_json(record) == text, path
    made = replace(record.test, reads_test_made={"out/d.json": "0123456789abcdef"})
    assert '"reads_test_made"' in to_json(replace(record, test=made))  # (written when held)


def test_the_files_steps_scripts_write_are_looked_for_once_a_run_though_none_writes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which files the steps' scripts write is worked out once a run, from each step's
    `produced.json`, even when no script writes any: looked for again at each step, every
    step looked at every other's (100 steps: 10,000 reads of a cold run)."""
    from pocflow import freshness
    from pocflow.record import ImplementResult

    test = "def test_one():\n    assert True\n"
    ws = load_workspace(make_workspace(tmp_path, {str(n): test for n in range(1, 6)}))
    looked: list[str] = []
    produced_here = freshness.produced_here

    def counted(workspace: object, step_id: str) -> dict[str, str]:
        looked.append(step_id)
        return produced_here(workspace, step_id)  # type: ignore[arg-type]

    monkeypatch.setattr(freshness, "produced_here", counted)
    by_poc: dict[int | None, freshness.FileWriters] = {}
    for sid in ws.steps:
        result = ImplementResult(sid, "passed", "", "", "", 0.0, observed=["data/in.txt"])
        assert freshness.undeclared_reads(ws, sid, result, by_poc) == ""
    assert sorted(looked) == sorted(ws.steps), looked  # each step's once
