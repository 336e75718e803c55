"""PROJECT_STATE.md and the results docs in real runs: adoption, parallel writes, counts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import copy_sample, make_workspace, run_doit, write_files

pytestmark = pytest.mark.e2e

HAND_STATE = Path(__file__).parent / "documents" / "PROJECT_STATE.hand.md"


def test_hand_written_project_state_is_updated_in_place(tmp_path: Path) -> None:
    workspace = copy_sample(tmp_path / "ws")
    hand = HAND_STATE.read_text(encoding="utf-8")
    (workspace / "PROJECT_STATE.md").write_text(hand, encoding="utf-8")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    state = (workspace / "PROJECT_STATE.md").read_text(encoding="utf-8")
    for line in (
        "PoC 1 is half done; the loader works, the lookups do not yet.",
        "Country lookups (step 3b).",
        "| 1 | Time-Zone Atlas | ✅ | 🔄 | 18/18 |",
        "Note to self: step 2's validation script is slow on the full table.",
        "- **SQLite over CSV files**: queries are simpler and the file is the integration.",
        "### 2026-10-01 - Small Win Check",
        "**Findings**: all step tests pass (5/5).",
        "Finish step 2, then the index.",
        "> **Current Stage**: Stage 5 — PoC Execution",
    ):
        assert line in state
    assert "| 2 | Decode coordinates | ✅ Complete | 10/10 |" in state
    # a person's lines are never dropped: the hand-kept table and date stay, after the block
    # that now says the same from the records (delete them when you no longer need them)
    assert "🔄 In Progress | 8/10" in state
    assert state.index("| 2 | Decode coordinates | ✅ Complete") < state.index(
        "🔄 In Progress | 8/10"
    )
    assert state.count("## Current PoC Step Progress") == 1
    assert "> **Last Updated**: 2026-10-02" in state
    assert "```mermaid" in state


def test_project_state_is_created_in_the_method_shape(sample: Path) -> None:
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", state, re.M)
    assert headings == [
        "Quick Status",
        "Current Focus",
        "Current PoC Step Progress",
        "Key Decisions",
        "Open Questions",
        "Session Log",
        "Health Checks",
        "What's Next",
    ]
    assert re.search(r"^> \*\*Last Updated\*\*: \d{4}-\d\d-\d\d$", state, re.M)


def test_mermaid_graph_shows_steps_dependencies_and_status(sample: Path) -> None:
    (sample / "PoC/step3a_country_index.py").write_text(
        "raise SystemExit('index broken')\n", encoding="utf-8"
    )
    assert run_doit(sample, "poc-complete").code == 1
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    graph = state.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert 's3a["3a: Country index"]:::failed' in graph
    assert 's3b["3b: Country lookup"]:::blocked' in graph
    assert 's1["1: Load the tz tables"]:::verified' in graph
    for edge in ("s1 --> s2", "s1 --> s3a", "s3a --> s3b", "s2 --> s4", "s4 --> s4_1"):
        assert edge in graph
    assert "classDef failed" in graph and "classDef blocked" in graph
    assert "| 3b | Country lookup | ⬜ Blocked by 3a |" in state


def test_parallel_run_writes_the_same_documents_as_a_serial_run(tmp_path: Path) -> None:
    serial = copy_sample(tmp_path / "serial")
    parallel = copy_sample(tmp_path / "parallel")
    assert run_doit(serial, "poc-complete").code == 0
    result = run_doit(parallel, "-n", "2", "poc-complete")
    assert result.code == 0, result.out + result.err

    def table(workspace: Path) -> str:
        state = (workspace / "PROJECT_STATE.md").read_text(encoding="utf-8")
        return state.split("<!-- pocflow:begin step-progress -->")[1].split("<!-- pocflow:")[0]

    assert table(parallel) == table(serial)
    # made without the kernel's watch: a serial run verifies again with it, and then stands
    assert "recorded without the kernel's watch" in run_doit(parallel, "drift").out
    again = run_doit(parallel, "poc-complete")
    assert again.code == 0 and again.ran_steps, again.out + again.err
    assert table(parallel) == table(serial)
    assert run_doit(parallel, "drift").code == 0
    assert run_doit(parallel, "poc-complete").ran == []


def test_coverage_counts_equal_what_pytest_reports(sample: Path) -> None:
    for step, test_file in (
        ("3b", "tests/test_step3b_country_lookup.py"),
        ("2", "tests/test_step2_coordinates.py"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", test_file, "-q", "-p", "no:cacheprovider"],
            cwd=sample,
            capture_output=True,
            text=True,
            check=False,
        )
        passed = int(re.search(r"(\d+) passed", done.stdout).group(1))  # type: ignore[union-attr]
        doc = (sample / f"docs/time-zone-atlas-step{step}-results.md").read_text(encoding="utf-8")
        assert f"| **Total** | **{passed}** | **✅ {passed} passed** |" in doc
        assert f"| Tests | `{test_file}` | {passed} tests |" in doc


def test_a_windows_checkout_keeps_its_line_ends_and_drift_sees_no_change(sample: Path) -> None:
    state = sample / "PROJECT_STATE.md"
    doc = sample / "docs/time-zone-atlas-step1-results.md"
    for path in (state, doc):
        text = path.read_text(encoding="utf-8")
        path.write_bytes(
            ("\ufeff" if path == doc else "").encode() + text.replace("\n", "\r\n").encode("utf-8")
        )
    assert run_doit(sample, "drift").code == 0
    (sample / "steps/records/step3b.json").unlink()  # the next run rewrites both documents
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    for path in (state, doc):
        data = path.read_bytes()
        assert data.count(b"\r\n") == data.count(b"\n"), path.name  # every line still CRLF
        assert data.count(b"<!-- pocflow:begin step-graph -->") <= 1
    assert state.read_bytes().count(b"```mermaid") == 1
    assert doc.read_bytes().startswith("\ufeff".encode())
    assert run_doit(sample, "drift").code == 0


def test_the_results_docs_command_runs_the_script_as_its_manifest_does(tmp_path: Path) -> None:
    # the manifest's args and env are part of how the script runs: the command the results
    # doc gives must run it so, and succeed
    ws = make_workspace(tmp_path / "ws", {"1": "def test_ok():\n    assert True\n"})
    write_files(
        ws,
        {
            "steps/step1.yaml": (
                "args: [--suffix, ' words']\nenv:\n  REPORT_MODE: plain\n  X-Y: '1'\n"
            ),
            "PoC/step1_x.py": (
                '"""Step 1.\n\nUsage:\n    python PoC/step1_x.py --suffix SUFFIX\n"""\n'
                "import os\nimport sys\n\n"
                "assert os.environ['REPORT_MODE'] == 'plain'\n"
                "assert os.environ['X-Y'] == '1'\n"
                "print('3' + sys.argv[sys.argv.index('--suffix') + 1])\n"
            ),
        },
    )
    assert run_doit(ws, "poc-complete").code == 0
    doc = (ws / "docs/small-step1-results.md").read_text(encoding="utf-8")
    command = next(line for line in doc.splitlines() if "python PoC/step1_x.py" in line)
    assert command == (  # (X-Y is no shell variable name: `env` sets it)
        "env REPORT_MODE=plain X-Y=1 uv run python PoC/step1_x.py --suffix ' words'"
    )
    plain = command.replace("uv run python", sys.executable)
    done = subprocess.run(plain, shell=True, cwd=ws, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, "3 words\n"), done.stderr
