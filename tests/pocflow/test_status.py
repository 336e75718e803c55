"""`doit status`: every state, with concrete reasons, as text and as documented JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import copy_sample, edit, make_workspace, run_doit, verified_chain

from pocflow.schema import first_violation, load_schema
from pocflow.status import compute_status
from pocflow.status import tests_text as counts_text
from pocflow.workspace import load_workspace


def status_json(workspace: Path) -> dict[str, Any]:
    result = run_doit(workspace, "status", "--json")
    assert result.code == 0, result.err
    document: dict[str, Any] = json.loads(result.out)
    assert first_violation(document, load_schema("status.schema.json")) is None
    return document


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in document["steps"]}


@pytest.mark.e2e
def test_status_all_verified(sample: Path) -> None:
    result = run_doit(sample, "status")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "PoC 1 — Time-Zone Atlas: 6 of 6 steps verified"
    assert [line.split()[1] for line in lines[1:7]] == ["1", "2", "3a", "3b", "4", "4_1"]
    assert all(line.lstrip().startswith("✅") for line in lines[1:7])
    assert lines[-1] == "nothing to do: PoC 1 is complete (docs/poc1-results.md)"
    document = status_json(sample)
    assert document["summary"] == {"verified": 6, "total": 6, "complete": True}
    assert by_id(document)["3b"]["tests"]["total"] == 6
    assert set(by_id(document)["1"]["durations"]) == {"implement", "test", "document", "state"}


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["status", "list"])
def test_a_terminal_that_cannot_show_every_character_gets_escapes_not_a_traceback(
    sample: Path, command: str
) -> None:
    result = run_doit(sample, command, env={"PYTHONIOENCODING": "ascii"})
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert "\\u2014" in result.out  # the em dash, escaped


@pytest.mark.e2e
def test_status_stale_is_transitive_and_names_changed_paths(sample: Path) -> None:
    edit(sample / "data/tzdb/zone1970.tab", lambda s: s + "# a comment line\n")
    steps = by_id(status_json(sample))
    assert steps["1"]["state"] == "stale"
    assert steps["1"]["changed"] == ["data/tzdb/zone1970.tab"]
    assert steps["1"]["reasons"] == ["changed since verified: data/tzdb/zone1970.tab"]
    for step_id, upstream in (("2", "1"), ("3a", "1"), ("3b", "3a"), ("4", "2"), ("4_1", "4")):
        assert steps[step_id]["state"] == "stale"
        # the later steps' tests load the tables themselves: they read the file too
        assert steps[step_id]["changed"] in ([], ["data/tzdb/zone1970.tab"])
        assert steps[step_id]["upstream"] == [upstream]
        assert (
            f"upstream step {upstream} changed since it was verified" in steps[step_id]["reasons"]
        )
    text = run_doit(sample, "status").out
    assert "next: uv run doit step:1  # step 1 changed since it was verified" in text


@pytest.mark.e2e
def test_status_runs_nothing_and_writes_nothing(sample: Path) -> None:
    edit(sample / "PoC/geo.py", lambda s: s + "\n# edit\n")
    assert run_doit(sample, "list").code == 0  # let doit refresh its import-scan cache first
    watched = [p for p in sample.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in watched}
    assert run_doit(sample, "status").code == 0
    assert run_doit(sample, "status", "--json").code == 0
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in watched}
    assert after == before
    assert sorted(
        p for p in sample.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ) == sorted(watched)


@pytest.mark.e2e
def test_status_failed_names_failing_tests_and_blocks_dependents(sample: Path) -> None:
    edit(
        sample / "tests/test_step3a_country_index.py",
        lambda s: s.replace('assert first == "CH"', 'assert first == "DE"'),
    )
    assert run_doit(sample, "poc-complete").code == 1
    steps = by_id(status_json(sample))
    assert steps["3a"]["state"] == "failed"
    assert steps["3a"]["failing_tests"] == [
        "tests/test_step3a_country_index.py::test_index_keeps_most_populous_country_first - "
        "AssertionError: assert 'CH' == 'DE'"
    ]
    assert steps["3b"]["state"] == "blocked" and steps["3b"]["blocked_by"] == ["3a"]
    assert steps["3b"]["reasons"][0] == "waits for step 3a (failed)"
    text = run_doit(sample, "status").out
    assert "next: uv run doit step:3a  # step 3a failed; fix it, then verify it again" in text


@pytest.mark.e2e
def test_status_metric_out_of_threshold(sample: Path) -> None:
    (sample / "steps/step4.yaml").write_text("thresholds: [probes >= 1000]\n", encoding="utf-8")
    assert run_doit(sample, "step:4").code == 1
    step = by_id(status_json(sample))["4"]
    assert step["state"] == "failed"
    assert step["reasons"] == [
        "step 4: metric 'probes' = 264 is outside its threshold probes >= 1000 "
        "(thresholds set at steps/step4.yaml:1)"
    ]


@pytest.mark.e2e
def test_status_missing_test_file(sample: Path) -> None:
    (sample / "tests/test_step3b_country_lookup.py").unlink()
    step = by_id(status_json(sample))["3b"]
    assert step["state"] == "stale"
    assert "deleted since verified: tests/test_step3b_country_lookup.py" in step["reasons"]
    assert (
        "no test file: add tests/test_step3b_<description>.py with at least one test"
        in step["reasons"]
    )


@pytest.mark.e2e
def test_status_never_run_and_not_started(tmp_path: Path) -> None:
    workspace = copy_sample(tmp_path / "ws")
    edit(
        workspace / "docs/poc1-implementation.md",
        lambda s: s.replace(
            "## Test Structure",
            "### Step 5: Offsets\n\n**Goal**: UTC offsets.\n\n## Test Structure",
        ),
    )
    document = status_json(workspace)
    steps = by_id(document)
    assert {s["state"] for s in steps.values() if s["id"] != "5"} == {"never-run"}
    assert steps["1"]["reasons"] == ["never verified"]
    assert steps["1"]["tests"] is None and steps["1"]["verified_at"] is None
    assert steps["5"]["state"] == "not-started"
    assert steps["5"]["reasons"][0].startswith("no files yet: add PoC/step5_<description>.py")
    assert document["next"] == {"command": "uv run doit step:1", "why": "step 1 was never verified"}


@pytest.mark.e2e
def test_status_next_is_the_gate_when_steps_are_verified_but_gate_is_not(sample: Path) -> None:
    (sample / "steps/records/poc-complete.json").unlink()
    document = status_json(sample)
    assert document["next"]["command"] == "uv run doit poc-complete"
    assert document["summary"]["complete"] is False


@pytest.mark.e2e
def test_status_slowest(sample: Path) -> None:
    out = run_doit(sample, "status", "--slowest", "2").out
    lines = out.splitlines()
    index = lines.index("slowest steps (last verification):")
    slow = lines[index + 1 : index + 3]
    assert len(slow) == 2 and all("implement" in line and "test" in line for line in slow)


def test_status_schema_documents_every_field() -> None:
    schema = load_schema("status.schema.json")
    step = schema["properties"]["steps"]["items"]
    assert set(step["required"]) == set(step["properties"])
    # every field is always there, but ``pocs``: only in a project of several PoCs
    assert set(schema["properties"]) - set(schema["required"]) == {"pocs"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "bad",
    [{"format": 2}, {"steps": [{"id": "x"}]}, {"summary": {"verified": -1}}],
)
def test_status_schema_rejects_malformed_documents(sample: Path, bad: dict[str, Any]) -> None:
    from pocflow.status import status_document

    ws = load_workspace(sample)
    document = status_document(ws, compute_status(ws))
    for key, value in bad.items():
        document[key] = (
            value
            if not isinstance(value, dict)
            or key not in document
            or not isinstance(document[key], dict)
            else {**document[key], **value}
        )
    assert first_violation(document, load_schema("status.schema.json")) is not None


@pytest.mark.e2e
def test_status_counts_tests_the_way_project_state_does(sample: Path) -> None:
    with (sample / "tests/test_step3b_country_lookup.py").open("a", encoding="utf-8") as tests:
        tests.write(
            "\n\nimport pytest\n\n\n@pytest.mark.skip(reason='later')\n"
            "def test_not_yet() -> None:\n    pass\n"
        )
    assert run_doit(sample, "poc-complete").code == 0
    line = next(
        line for line in run_doit(sample, "status").out.splitlines() if line.split()[1:2] == ["3b"]
    )
    assert "(6/6 (+1 skipped) tests)" in line, line
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "| 6/6 (+1 skipped) |" in state


@pytest.mark.e2e
def test_an_unticked_checklist_item_is_named_as_the_next_thing_to_do(sample: Path) -> None:
    plan = sample / "docs/poc1-implementation.md"
    lines = plan.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "## Production-Grade Checklist" in line)
    at = next(i for i in range(start, len(lines)) if lines[i].startswith("- [x]"))
    lines[at] = lines[at].replace("- [x]", "- [ ]", 1)
    plan.write_text("".join(lines), encoding="utf-8")
    item = lines[at][len("- [ ] ") :].strip()
    document = status_json(sample)
    assert document["next"]["command"] == f"tick '{item}' in docs/poc1-implementation.md:{at + 1}"
    result = run_doit(sample, "poc-complete")
    assert result.code == 1
    assert "accepted:" not in result.out  # the gate does not pass: nothing says it does
    assert f"pocflow: next: tick '{item}'" in result.out


@pytest.mark.e2e
def test_a_plan_removed_after_its_steps_were_verified_stops_every_command(
    sample: Path,
) -> None:
    # run on, every step was verified again under another name (its results docs written
    # anew without their text, its Depends On dropped) before the gate said "no plan"
    (sample / "docs/poc1-implementation.md").unlink()
    for command in ("poc-complete", "status"):
        result = run_doit(sample, command)
        assert result.code == 3 and result.ran == [], result.out + result.err
        assert (
            "ERROR: docs/poc1-implementation.md: there is no plan here, but the PoC's steps "
            "have records, made with one: put the plan back" in result.err
        )


@pytest.mark.parametrize(
    ("counts", "text"),
    [
        ({}, "—"),
        ({"total": 8, "passed": 8}, "8/8"),
        ({"total": 5, "passed": 3, "skipped": 2}, "3/3 (+2 skipped)"),
        ({"total": 3, "passed": 2, "xfailed": 1}, "2/2 (+1 xfailed)"),
        ({"total": 6, "passed": 3, "skipped": 2, "xfailed": 1}, "3/3 (+2 skipped, 1 xfailed)"),
    ],
)
def test_tests_that_did_not_run_are_named_by_their_kind(counts: dict[str, int], text: str) -> None:
    assert counts_text(counts) == text


def test_status_slowest_lists_phases_in_the_order_they_run() -> None:
    from pocflow.cmd_status import format_status

    step = {
        "id": "1",
        "name": "load",
        "state": "verified",
        "verified_at": "2026-12-01T00:00:00Z",
        "tests": {"total": 1, "passed": 1},
        "reasons": [],
        "durations": {"document": 0.01, "implement": 2.0, "state": 0.02, "test": 1.5},
    }
    document = {
        "steps": [step],
        "next": {"command": "", "why": "done"},
        "poc": {"number": 1, "name": "sample"},
        "summary": {"complete": True, "verified": 1, "total": 1},
    }
    text = format_status(document, slowest=1)
    line = text.splitlines()[text.splitlines().index("slowest steps (last verification):") + 1]
    assert line.split("(", 1)[1] == "implement 2.00 s, test 1.50 s, document 0.01 s, state 0.02 s)"


def test_a_failure_shown_on_one_line_ends_on_what_went_wrong_not_on_a_colon() -> None:
    from pocflow.errors import headline

    message = (
        "step 5: PoC/step5_x.py exited with code 1:\n"
        "  Traceback (most recent call last):\n"
        '    File "PoC/step5_x.py", line 3, in <module>\n'
        "  ValueError: no rows\n"
    )
    assert headline(message) == ("step 5: PoC/step5_x.py exited with code 1: ValueError: no rows")
    assert headline("step 2: 1 of 3 tests failed\nmore") == "step 2: 1 of 3 tests failed"
    assert headline("", "its tests failed") == "its tests failed"


@pytest.mark.e2e
def test_info_on_a_step_gives_the_status_of_its_phases_not_of_the_group(sample: Path) -> None:
    verified = run_doit(sample, "info", "step:3b")
    assert verified.code == 0, verified.out + verified.err
    assert "status     : up-to-date" in verified.out
    assert "_refresh" not in verified.out  # (a hidden task is no phase of the step)
    edit(sample / "tests/test_step3b_country_lookup.py", lambda text: text + "\n# edited\n")
    changed = run_doit(sample, "info", "step:3b")
    assert changed.code == 1, changed.out + changed.err
    assert "status     : run" in changed.out
    assert "test:3b" in changed.out and "test_step3b_country_lookup.py" in changed.out
    assert "config_changed(" not in changed.out  # (in words, not a repr of the settings)


@pytest.mark.e2e
def test_info_says_what_status_says_of_a_step_whose_prerequisite_changed(
    tmp_path: Path,
) -> None:
    # doit compares each task with its own last run only: step 2's phases were up to date
    # while step 1, which runs first, had changed; and the gate's reason was
    # `records_hold(/tmp/..., None) is false`
    ws = verified_chain(tmp_path / "ws")
    edit(ws / "PoC/step1_x.py", lambda text: text + "print('more')\n")
    step2 = run_doit(ws, "info", "step:2")
    assert step2.code == 1 and "status     : run" in step2.out, step2.out
    assert "upstream step 1 changed since it was verified" in step2.out
    gate = run_doit(ws, "info", "poc-complete")
    assert gate.code == 1 and "is false" not in gate.out, gate.out
    assert "a step's record does not hold on the files as they are" in gate.out


@pytest.mark.e2e
def test_status_next_says_a_step_is_stale_because_of_upstream_not_that_it_changed(
    tmp_path: Path,
) -> None:
    ws = verified_chain(tmp_path / "ws")
    edit(ws / "PoC/step1_x.py", lambda text: text + "\n# reviewed\n")
    assert run_doit(ws, "step:1").code == 0  # step 1's scripts ran again
    result = run_doit(ws, "status")
    last = result.out.splitlines()[-1]
    assert last.startswith("next: uv run doit step:2  # step 2 is stale: "), result.out
    assert "upstream step 1" in last and "step 2 changed" not in last, last


@pytest.mark.e2e
def test_a_step_whose_prerequisite_changed_and_is_blocked_is_not_shown_verified(
    tmp_path: Path,
) -> None:
    test = "def test_one():\n    assert True\n"
    ws = make_workspace(
        tmp_path / "ws", {"1": test, "2": test, "3": test}, depends={"2": "1", "3": "2"}
    )
    assert run_doit(ws, "poc-complete").code == 0
    edit(ws / "tests/test_step1_x.py", lambda text: text.replace("True", "False"))
    assert run_doit(ws, "step:1").code == 1  # step 1 failed
    edit(ws / "PoC/step2_x.py", lambda text: text + "\n# reviewed\n")
    document = json.loads(run_doit(ws, "status", "--json").out)
    states = {step["id"]: step["state"] for step in document["steps"]}
    assert states == {"1": "failed", "2": "blocked", "3": "stale"}, states


@pytest.mark.e2e
def test_a_new_test_file_is_said_as_a_new_input_not_as_settings_changed(tmp_path: Path) -> None:
    ws = verified_chain(tmp_path / "ws")
    test = "def test_one():\n    assert True\n"
    (ws / "tests/test_step1_more.py").write_text(test, encoding="utf-8")
    status = run_doit(ws, "status").out
    assert "🔄 1  S1  stale: new inputs since verified: tests/test_step1_more.py\n" in status
    assert "settings changed" not in status and "✅ 2" in status, status
    # a real change of settings beside it is still said
    edit(
        ws / "pyproject.toml",
        lambda text: text + "\n[tool.pytest.ini_options]\nxfail_strict = true\n",
    )
    assert "its settings changed since verified" in run_doit(ws, "status").out


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["test", "script"])
def test_a_failure_on_a_missing_file_is_not_said_to_stand_once_the_file_is_back(
    tmp_path: Path, kind: str
) -> None:
    """A step failed because its test file (or script) was gone; the file and the verified
    record are then put back (`git reset --hard`). The failure seen here was on other files
    than there are now: `doit status` must not say it failed "on these very files"."""
    ws = verified_chain(tmp_path / "ws")
    gone = ws / ("tests/test_step2_x.py" if kind == "test" else "PoC/step2_x.py")
    record = ws / "steps" / "records" / "step2.json"
    kept, kept_record = gone.read_bytes(), record.read_bytes()
    gone.unlink()
    assert run_doit(ws, "poc-complete").code != 0
    gone.write_bytes(kept)
    record.write_bytes(kept_record)
    status = run_doit(ws, "status")
    assert "these very files" not in status.out, status.out
    again = run_doit(ws, "poc-complete")
    assert again.code == 0, again.out + again.err
    assert "✅ 2" in run_doit(ws, "status").out


@pytest.mark.e2e
def test_a_misspelt_step_heading_is_named_as_the_next_thing_to_do(tmp_path: Path) -> None:
    """A step heading mistyped in the plan ('### Stpe 2'): the gate fails on it, and what to
    do next is to fix that line, not to run the gate that just failed again (nor to verify
    step 2 without its Depends On)."""
    ws = verified_chain(tmp_path / "ws")
    edit(ws / "docs/poc1-implementation.md", lambda t: t.replace("### Step 2:", "### Stpe 2:"))
    result = run_doit(ws, "poc-complete")
    assert result.code == 1, result.out
    fix = "next: fix the heading at docs/poc1-implementation.md:9"
    assert f"pocflow: {fix}" in result.out, result.out
    assert fix in run_doit(ws, "status").out
    # the gate warned as it ran (on stderr): doit's end-of-run block, empty, is left out
    assert "<stdout>:" not in result.out and "#" * 40 not in result.out, result.out


@pytest.mark.e2e
def test_a_poc_with_no_plan_and_no_steps_is_told_to_write_its_plan(tmp_path: Path) -> None:
    """The project moved on to PoC 2 by hand (poc = 2), with no plan for it yet: the next
    thing is its plan, not a step the plan does not name."""
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    assert True\n"})
    assert run_doit(ws, "poc-complete").code == 0
    edit(ws / "pyproject.toml", lambda text: text.replace("poc = 1", "poc = 2"))
    status = run_doit(ws, "status")
    assert "next: write the plan at docs/poc2-implementation.md" in status.out, status.out


@pytest.mark.e2e
def test_a_new_step_given_a_removed_steps_id_is_not_said_verified_here(tmp_path: Path) -> None:
    """Step 2 removed (its record with it) and a new step 2 written under another name: what
    was verified here was the old step, so neither status nor drift says the new one was."""
    ws = verified_chain(tmp_path / "ws")
    (ws / "steps/records/step2.json").unlink()
    edit(ws / "docs/poc1-implementation.md", lambda t: t.replace("Step 2: S2", "Step 2: Export"))
    for command in ("status", "drift"):
        said = run_doit(ws, command).out
        assert "verified here" not in said, f"{command}: {said}"
    # the step renamed back is the one verified here: its record is written again
    edit(ws / "docs/poc1-implementation.md", lambda t: t.replace("Step 2: Export", "Step 2: S2"))
    assert "verified here" in run_doit(ws, "status").out
