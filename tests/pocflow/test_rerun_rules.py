"""What an edit does not run again: each rule with a workspace whose steps count their runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import make_workspace, run_doit

pytestmark = pytest.mark.e2e

#: step 1 writes a table that step 2 reads; step 2 depends on step 1
WRITER = (
    '"""Step 1: write the table.\n\nUsage:\n    python PoC/step1_x.py\n"""\n'
    "from pathlib import Path\n\n"
    "Path('out').mkdir(exist_ok=True)\n"
    "Path('out/table.txt').write_text({table!r})\n"
)
READER = (
    '"""Step 2: read the table.\n\nUsage:\n    python PoC/step2_x.py\n"""\n'
    "from pathlib import Path\n\n"
    "print(len(Path('out/table.txt').read_text().split()))\n"
)
TESTS = {
    "1": "from pathlib import Path\n\n"
    "def test_the_table_has_three_words():\n"
    "    assert len(Path('out/table.txt').read_text().split()) == 3\n",
    "2": "from pathlib import Path\n\n"
    "def test_the_table_is_there(answer):\n"
    "    assert Path('out/table.txt').exists() and answer == 42\n",
}
CONFTEST = "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return 42\n"


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """A verified workspace of two steps: 2 reads what 1 writes."""
    workspace = make_workspace(tmp_path / "ws", TESTS, conftest=CONFTEST, depends={"2": "1"})
    (workspace / "PoC/step1_x.py").write_text(WRITER.format(table="a b c"), encoding="utf-8")
    (workspace / "PoC/step2_x.py").write_text(READER, encoding="utf-8")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    return workspace


def plain_pytest(workspace: Path, step: str) -> int:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"tests/test_step{step}_x.py",
        ],
        cwd=workspace,
        capture_output=True,
        check=False,
    ).returncode


def test_a_test_only_edit_runs_the_steps_tests_and_not_its_script(chain: Path) -> None:
    test = chain / "tests/test_step1_x.py"
    test.write_text(test.read_text("utf-8") + "\n\ndef test_more():\n    assert True\n", "utf-8")
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "test:1" in result.ran
    assert "implement:1" not in result.ran and "implement:2" not in result.ran
    assert "test:2" not in result.ran  # the table step 2 reads is the same


def test_a_conftest_only_edit_runs_the_tests_and_no_script(chain: Path) -> None:
    conftest = chain / "tests/conftest.py"
    conftest.write_text(conftest.read_text("utf-8").replace("42", "6 * 7"), "utf-8")
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert {"test:1", "test:2"} <= set(result.ran)
    assert not [name for name in result.ran if name.startswith("implement:")]


def test_a_prerequisite_that_failed_and_was_fixed_back_does_not_rerun_its_dependents(
    chain: Path,
) -> None:
    script = chain / "PoC/step1_x.py"
    verified = script.read_text(encoding="utf-8")
    script.write_text(WRITER.format(table="a b"), encoding="utf-8")  # a bug: two words
    broken = run_doit(chain, "poc-complete")
    assert plain_pytest(chain, "1") == 1, "the case must really fail"
    assert broken.code != 0 and "step 1" in broken.out + broken.err
    script.write_text(verified, encoding="utf-8")  # fixed back: the table is as it was
    fixed = run_doit(chain, "poc-complete")
    assert fixed.code == 0, fixed.out + fixed.err
    assert {"implement:1", "test:1"} <= set(fixed.ran)
    assert "2" not in fixed.ran_steps, fixed.out  # what step 1 ran on is what 2 stood on
    assert plain_pytest(chain, "2") == 0


def test_a_prerequisites_test_edited_and_failing_blocks_its_dependents(chain: Path) -> None:
    test = chain / "tests/test_step1_x.py"
    test.write_text(test.read_text("utf-8").replace("== 3", "== 4"), "utf-8")
    assert plain_pytest(chain, "1") == 1, "the case must really fail"
    result = run_doit(chain, "poc-complete")
    assert result.code != 0
    status = run_doit(chain, "status")
    assert "2  S2  blocked: waits for step 1 (failed)" in status.out, status.out


def test_a_prerequisite_that_writes_something_else_reruns_its_dependents(chain: Path) -> None:
    script = chain / "PoC/step1_x.py"
    script.write_text(WRITER.format(table="c b a"), encoding="utf-8")
    result = run_doit(chain, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert {"implement:2", "test:2"} <= set(result.ran)
