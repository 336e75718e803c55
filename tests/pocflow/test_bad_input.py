"""Bad input: one clear line naming the file (and line), the right exit code, nothing lost.

One table, one row per kind of mistake a person or an agent makes in a workspace. Each row
changes a verified copy of the sample PoC, runs the real `doit poc-complete` (or the command
the row names), and checks the exit code (3: refused before anything ran; 1: a step failed;
2: a task could not do its work), the message, that there is no traceback, and that no
file changed but the ones the row allows (the failing step's record and PROJECT_STATE.md,
which say that it failed). Add a row for every new mistake found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import both, make_workspace, run_doit

pytestmark = pytest.mark.e2e

SCRIPT_3B = "PoC/step3b_country_lookup.py"
TESTS_3B = "tests/test_step3b_country_lookup.py"
#: what a failure of step 3b rewrites: its record, PROJECT_STATE.md, and the documents that
#: said ✅ (its results doc: ❌ BLOCKED; the PoC's: ❌ NOT COMPLETE)
FAILED_3B = (
    "steps/records/step3b.json",
    "PROJECT_STATE.md",
    "docs/time-zone-atlas-step3b-results.md",
    "docs/poc1-results.md",
)


@dataclass(frozen=True)
class Case:
    """One bad input: what to do to the workspace, and what the run must say."""

    change: Callable[[Path], None]
    code: int
    message: str
    may_change: tuple[str, ...] = ()
    command: tuple[str, ...] = ("poc-complete",)
    absent: tuple[str, ...] = field(default=())  # files that must not come to exist


def write(rel: str, text: str | bytes) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    return change


def folder_instead(rel: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        (ws / rel).unlink()
        (ws / rel).mkdir()

    return change


def replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        text = (ws / rel).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        (ws / rel).write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


def append(rel: str, text: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        with (ws / rel).open("a", encoding="utf-8") as handle:
            handle.write(text)

    return change


def remove(rel: str) -> Callable[[Path], None]:
    return lambda ws: (ws / rel).unlink()


def symlink(rel: str, target: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        outside = ws.parent / target
        outside.mkdir(exist_ok=True)
        (outside / "secret.csv").write_text("a,b\n", encoding="utf-8")
        (ws / rel).symlink_to(outside, target_is_directory=True)

    return change


_DOC = '"""Step 5 with an awkward name.\n\nUsage: python PoC/<this file>\n"""\n'
WEIRD = "step5_a b'c\"d $(touch PWNED);`touch PWNED2`&ü"

#: nine lines of YAML that expand to 3 x 9^9 values
DEEP = "args: " + "[" * 500 + "]" * 500 + "\n"

BILLION_LAUGHS = (
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "title: [*i, *i, *i]\n"
)

CASES: dict[str, Case] = {
    "a step the current PoC does not have": Case(
        lambda ws: None,
        3,
        "ERROR: no step '9' in the current PoC: its steps are 1, 2, 3a, 3b, 4, 4_1 "
        "('doit list' shows every task)",
        command=("step:9",),
    ),
    "the current PoC named with a prefix": Case(
        lambda ws: None,
        3,
        "ERROR: PoC 1 is the current PoC: its tasks have no 'poc1.' prefix ('test:4')",
        command=("poc1.test:4",),
    ),
    "a PoC the project does not have": Case(
        lambda ws: None,
        3,
        "ERROR: there is no PoC 7: this project's PoCs are 1",
        command=("poc7.step:1",),
    ),
    "the plan moved where the settings do not say": Case(
        lambda ws: (ws / "docs/poc1-implementation.md").rename(ws / "docs/atlas-plan.md"),
        3,
        "ERROR: docs/poc1-implementation.md: there is no plan here, but the PoC's steps have "
        "records, made with one: put the plan back, or set plan in [tool.pocflow] "
        "(pyproject.toml:58) to where it is now (is it docs/atlas-plan.md?)",
    ),
    "the plan's name mistyped in a PoC's own table": Case(
        replace(
            "pyproject.toml",
            "[tool.pocflow]\n",
            '[tool.pocflow.poc1]\nplan = "docs/poc1-implementaton.md"\n\n[tool.pocflow]\n',
        ),
        3,
        "or set plan in [tool.pocflow.poc1] (pyproject.toml:57) to where it is now (is it "
        "docs/poc1-implementation.md?)",
        may_change=("pyproject.toml",),
    ),
    "the plan's name mistyped in the settings": Case(
        replace("pyproject.toml", "docs/poc1-implementation.md", "docs/poc1-implementaton.md"),
        3,
        "(is it docs/poc1-implementation.md?)",
    ),
    "the plan setting naming a folder": Case(
        replace("pyproject.toml", 'plan = "docs/poc1-implementation.md"', 'plan = "docs"'),
        3,
        "ERROR: the plan setting (docs) names a folder: name the plan's file (as "
        "docs/poc1-implementation.md)",
    ),
    "a file where the state folder goes": Case(
        lambda ws: (shutil.rmtree(ws / ".pocflow"), (ws / ".pocflow").write_text("x\n")),
        3,
        "ERROR: .pocflow: is a file, where pocflow keeps its state (doit's store, each "
        "step's run files): move it away, or set state_dir in [tool.pocflow] to a folder",
    ),
    "a file where the records folder goes": Case(
        lambda ws: (shutil.rmtree(ws / "steps/records"), (ws / "steps/records").write_text("x\n")),
        3,
        "ERROR: steps/records: is a file, where pocflow keeps a folder (records_dir = "
        "'steps/records', the default): move it away, or set records_dir in [tool.pocflow] "
        "to a folder",
    ),
    "the state document's setting naming a folder": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", '[tool.pocflow]\nstate_file = "steps"\n'),
        3,
        "steps: is a folder, where pocflow writes the state document (state_file = 'steps'): "
        "set state_file in [tool.pocflow] to a file's path (PROJECT_STATE.md, the default)",
        may_change=("pyproject.toml",),
    ),
    "a state_dir through a file": Case(
        replace(
            "pyproject.toml",
            "[tool.pocflow]\n",
            '[tool.pocflow]\nstate_dir = "PROJECT_STATE.md/st"\n',
        ),
        3,
        "ERROR: PROJECT_STATE.md: is a file, where pocflow keeps its state",
        may_change=("pyproject.toml",),
    ),
    "the current PoC's number mistyped (9 for 2)": Case(
        replace("pyproject.toml", "poc = 1", "poc = 9"),
        3,
        "poc = 9, but this project's PoCs are 1 and PoC 9 has no plan of its own: is it "
        "poc = 2? (`uv run doit next-poc` moves the project on to its next PoC)",
        may_change=("pyproject.toml",),
    ),
    "a mistyped command": Case(
        lambda ws: None,
        3,
        "ERROR: no task, file or command 'stauts', did you mean the command 'status'? "
        "('doit help' lists the commands)",
        command=("stauts",),
    ),
    "the scripts' folder mistyped in the settings": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", '[tool.pocflow]\nscripts_dir = "Poc"\n'),
        3,
        "ERROR: scripts_dir = 'Poc': there is no such folder, but the PoC's steps have "
        "records: set scripts_dir in [tool.pocflow] to the folder that holds them (is it PoC/?)",
        may_change=("pyproject.toml",),
    ),
    "a dry run of a task that is not there": Case(
        lambda ws: None,
        3,
        "ERROR: no task or file 'poc-complte', did you mean 'poc-complete'?",
        command=("--dry-run", "poc-complte"),
    ),
    "status given a task name": Case(
        lambda ws: None,
        3,
        "ERROR: doit status takes no task names (step:9)",
        command=("status", "step:9"),
    ),
    "doit new with a mistyped option after the step id": Case(
        lambda ws: None,
        3,
        "ERROR: doit new: --nam is not an option of doit new, did you mean '--name'? "
        '(`doit new 5 --name "UTC offsets" --goal "..."`)',
        command=("new", "7", "--nam", "Export"),
    ),
    "info on a task that is not there": Case(
        lambda ws: None,
        3,
        "ERROR: no step '9' in the current PoC: its steps are 1, 2, 3a, 3b, 4, 4_1",
        command=("info", "step:9"),
    ),
    "a misspelt task": Case(
        lambda ws: None,
        3,
        "ERROR: no task or file 'stepp:1', did you mean 'step:1'? ('doit list' shows every task)",
        command=("stepp:1",),
    ),
    "malformed YAML manifest": Case(
        write("steps/step3b.yaml", "title: [unclosed\ngoal: x\n"),
        3,
        "ERROR: steps/step3b.yaml:2: invalid YAML",
    ),
    "mistyped manifest key": Case(
        write("steps/step3b.yaml", "title: ok\ndepend_on: 3a\n"),
        3,
        "ERROR: steps/step3b.yaml:2: unknown key 'depend_on', did you mean 'depends_on'?",
    ),
    "wrong value type": Case(
        write("steps/step3b.yaml", "timeout: soon\n"),
        3,
        "ERROR: steps/step3b.yaml:1: 'timeout' must be",
    ),
    "manifest for a step with no files": Case(
        write("steps/step9.yaml", "title: Nothing yet\n"),
        3,
        "ERROR: steps/step9.yaml: manifest for unknown step 9: there is no "
        "PoC/step9_<description>.py and the plan has no '### Step 9'",
    ),
    "duplicate step ids": Case(
        write("PoC/step3a_again.py", ""),
        3,
        "ERROR: PoC/step3a_country_index.py: step 3a has two main scripts",
    ),
    "test file for an unknown step": Case(
        write("tests/test_step9_orphan.py", "def test_x() -> None:\n    pass\n"),
        3,
        "ERROR: tests/test_step9_orphan.py: test file for unknown step 9",
    ),
    "step with no test file": Case(
        remove(TESTS_3B),
        1,
        "step 3b has no test file; add tests/test_step3b_<description>.py",
        may_change=FAILED_3B,
    ),
    "test file with zero tests": Case(
        write(TESTS_3B, '"""No tests here yet."""\n'),
        1,
        f"step 3b: no tests collected from {TESTS_3B}",
        may_change=FAILED_3B,
    ),
    "test file that fails to import": Case(
        replace(TESTS_3B, "import pytest\n", "import pytest\nimport no_such_module\n"),
        1,
        f"{TESTS_3B}: ModuleNotFoundError: No module named 'no_such_module'",
        may_change=FAILED_3B,
    ),
    "test file with a syntax error": Case(
        replace(TESTS_3B, "import pytest\n", "import pytest\n\ndef broken(:\n    pass\n"),
        1,
        f"{TESTS_3B}:9: SyntaxError: ",
        may_change=FAILED_3B,
    ),
    "script with a syntax error": Case(
        replace(
            SCRIPT_3B,
            "def ",
            "def def ",
        ),
        1,
        f"step 3b: {SCRIPT_3B}: line",
        may_change=FAILED_3B,
    ),
    "script that exits non-zero": Case(
        replace(
            SCRIPT_3B,
            '\nif __name__ == "__main__":',
            "\nraise SystemExit('no atlas here')\nif __name__ == \"__main__\":",
        ),
        1,
        f"step 3b: {SCRIPT_3B} exited with code 1:\n    no atlas here",
        may_change=FAILED_3B,
    ),
    "dependency cycle": Case(
        write("steps/step2.yaml", "depends_on: [4_1]\n"),
        3,
        "ERROR: steps/step2.yaml:1: dependency cycle: 2 -> 4_1 -> 4 -> 2 (declared at "
        "steps/step2.yaml:1, docs/poc1-implementation.md:",
    ),
    "depends_on a missing step": Case(
        write("steps/step3b.yaml", "depends_on: [7]\n"),
        3,
        "ERROR: steps/step3b.yaml:1: step 3b depends on step 7",
    ),
    "declared input that does not exist": Case(
        write("steps/step3b.yaml", "inputs: [data/missing.csv]\n"),
        3,
        "ERROR: steps/step3b.yaml:1: declared input 'data/missing.csv' does not exist",
    ),
    "declared glob that matches nothing": Case(
        write("steps/step3b.yaml", "inputs: ['data/*.parquet']\n"),
        3,
        "ERROR: steps/step3b.yaml:1: declared input 'data/*.parquet' does not exist",
    ),
    "input path with ..": Case(
        write("steps/step3b.yaml", "inputs: [../outside.csv]\n"),
        3,
        "ERROR: steps/step3b.yaml:1: 'inputs' path '../outside.csv' leaves the workspace",
    ),
    "absolute output path": Case(
        write("steps/step3b.yaml", "outputs: [/tmp/pocflow-out.db]\n"),
        3,
        "ERROR: steps/step3b.yaml:1: 'outputs' path '/tmp/pocflow-out.db' leaves the workspace",
    ),
    "input through a symlink out": Case(
        both(
            symlink("data/elsewhere", "elsewhere"),
            write("steps/step3b.yaml", "inputs: [data/elsewhere/secret.csv]\n"),
        ),
        3,
        "ERROR: steps/step3b.yaml:1: 'inputs' path 'data/elsewhere/secret.csv' leaves the "
        "workspace",
    ),
    "docs folder is a symlink out": Case(
        both(
            symlink("docs/generated", "outside-docs"),
            replace(
                "pyproject.toml",
                "[tool.pocflow]\n",
                '[tool.pocflow]\ndocs_dir = "docs/generated"\n',
            ),
        ),
        3,
        "tool.pocflow.docs_dir = 'docs/generated' leads outside the workspace",
    ),
    "a folder where a step's record goes": Case(
        folder_instead("steps/records/step3b.json"),
        2,
        "steps/records/step3b.json: a folder, where pocflow writes the step's record: move it away",
        may_change=("PROJECT_STATE.md",),
    ),
    "a folder where PROJECT_STATE.md goes": Case(
        folder_instead("PROJECT_STATE.md"),
        2,
        "step 1 (Load the tz tables), refreshing PROJECT_STATE.md:\n"
        "      PROJECT_STATE.md: a folder, where pocflow writes a document: move it away",
        command=("step:1",),
    ),
    "a plan step heading whose id cannot be read": Case(
        replace(
            "docs/poc1-implementation.md",
            "## Production-Grade Checklist",
            "### Step 4.5: Halfway\n**Goal**: between 4 and 5\n\n## Production-Grade Checklist",
        ),
        1,
        "the plan's step heading '### Step 4.5: Halfway' is not read as a step",
        may_change=("PROJECT_STATE.md", "docs/poc1-results.md"),
    ),
    "a plan step heading with its word misspelt": Case(
        replace(
            "docs/poc1-implementation.md",
            "## Production-Grade Checklist",
            "### Setp 5: Export\n**Goal**: a last step\n\n## Production-Grade Checklist",
        ),
        1,
        "the plan's step heading '### Setp 5: Export' is not read as a step",
        may_change=("PROJECT_STATE.md", "docs/poc1-results.md"),
    ),
    "state folder outside by name": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", '[tool.pocflow]\nstate_dir = "../st"\n'),
        3,
        "tool.pocflow.state_dir = '../st' must be a path inside",
    ),
    "YAML alias bomb in a manifest (billion laughs)": Case(
        write("steps/step3b.yaml", BILLION_LAUGHS),
        3,
        "ERROR: steps/step3b.yaml: its aliases expand to more than 10,000 values",
    ),
    "values nested 500 deep in a manifest": Case(
        write("steps/step3b.yaml", DEEP),
        3,
        "ERROR: steps/step3b.yaml: values nested more than 100 deep",
    ),
    "a '**' glob inside a name": Case(
        write("steps/step3b.yaml", "inputs: ['data/***']\n"),
        3,
        "ERROR: steps/step3b.yaml:1: declared input 'data/***' is not a glob pocflow can read",
    ),
    "a slug longer than a file name may be": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", f'[tool.pocflow]\nslug = "{"x" * 300}"\n'),
        3,
        "must be a plain name of at most 60 characters",
    ),
    "a slug that is only a space, or holds characters Windows refuses": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", '[tool.pocflow]\nslug = "a:b*?"\n'),
        3,
        "tool.pocflow.slug = 'a:b*?' must be a plain name",
    ),
    "a manifest key that is a list": Case(
        write("steps/step3b.yaml", "? [a, b]\n: 1\n"),
        3,
        "ERROR: steps/step3b.yaml:1: a key is a word (title, depends_on, ...), not a list",
    ),
    "a manifest anchor inside itself": Case(
        write("steps/step3b.yaml", "args: &a [x, *a]\n"),
        3,
        "ERROR: steps/step3b.yaml: its aliases expand to more than 10,000 values",
    ),
    "a huge manifest value": Case(
        write("steps/step3b.yaml", "timeout: [" + ", ".join(["1"] * 9000) + "]\n"),
        3,
        "ERROR: steps/step3b.yaml:1: 'timeout' must be a number of seconds above 0 (.inf: no "
        "limit), got [1, 1, 1",
    ),
    "timeout .nan in a manifest": Case(
        write("steps/step3b.yaml", "timeout: .nan\n"),
        3,
        "ERROR: steps/step3b.yaml:1: 'timeout' must be a number of seconds above 0 (.inf: no "
        "limit), got .nan",
    ),
    "timeout 0 in a manifest": Case(
        write("steps/step3b.yaml", "timeout: 0\n"),
        3,
        "ERROR: steps/step3b.yaml:1: 'timeout' must be a number of seconds above 0",
    ),
    "timeout = nan in the settings": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", "[tool.pocflow]\ntimeout = nan\n"),
        3,
        "tool.pocflow.timeout must be a number of seconds above 0 (inf: no limit), got nan",
    ),
    "timeout = -1 in the settings": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", "[tool.pocflow]\ntimeout = -1\n"),
        3,
        "tool.pocflow.timeout must be a number of seconds above 0",
    ),
    "slug that leaves the docs folder": Case(
        replace("pyproject.toml", "[tool.pocflow]\n", '[tool.pocflow]\nslug = "../../outside/x"\n'),
        3,
        "tool.pocflow.slug = '../../outside/x' must be a plain name",
        absent=("../outside",),
    ),
    "invalid metrics JSON": Case(
        append(
            SCRIPT_3B,
            "\nif __name__ == '__main__':\n    import os\n    open(os.environ["
            "'POCFLOW_METRICS_FILE'], 'w').write('{not json')\n",
        ),
        1,
        "step 3b: the metrics written to $POCFLOW_METRICS_FILE are not valid JSON",
        may_change=FAILED_3B,
    ),
    "broken template": Case(
        write("assets/templates/step-results.md", "# Step {{ step.step_id }}\n\n{% if %}\n"),
        2,
        "assets/templates/step-results.md:3: template error",
    ),
    "plan that is not UTF-8": Case(
        lambda ws: (ws / "docs/poc1-implementation.md").write_bytes(
            (ws / "docs/poc1-implementation.md").read_bytes() + b"\n\xff\xfe caf\xe9\n"
        ),
        3,
        "ERROR: docs/poc1-implementation.md",
    ),
    "PROJECT_STATE.md with unbalanced machine markers": Case(
        replace("PROJECT_STATE.md", "<!-- pocflow:end step-progress -->", ""),
        2,
        "PROJECT_STATE.md:",
    ),
    ".env that is not NAME=value": Case(
        write(".env", "# keys\nAPI_KEY=abc123\nthis line is wrong\n"),
        3,
        "ERROR: .env:3: expected NAME=value",
    ),
    "secret declared but not set": Case(
        write("steps/step3b.yaml", "secrets: [ATLAS_API_TOKEN]\n"),
        1,
        "step 3b: secret ATLAS_API_TOKEN not set; add ATLAS_API_TOKEN=<value> to .env",
        may_change=FAILED_3B,
    ),
    "file names with spaces, quotes, unicode and shell metacharacters": Case(
        both(
            both(
                write(f"PoC/{WEIRD}.py", _DOC + "print('ran')\n"),
                write(f"tests/test_{WEIRD}.py", "def test_it() -> None:\n    assert True\n"),
            ),
            # the new step's results doc is nobody's to write here
            replace(
                "pyproject.toml", "[tool.pocflow]\n", '[tool.pocflow]\nundocumented = "warn"\n'
            ),
        ),
        0,
        f"pocflow: signal: PoC/{WEIRD}.py: step 5 is not in the plan",  # and it runs
        may_change=(
            "steps/records/step5.json",
            "PROJECT_STATE.md",
            "docs/time-zone-atlas-step5-results.md",
            "docs/poc1-results.md",
            "steps/records/poc-complete.json",
        ),
        absent=("PWNED", "PWNED2", "PoC/PWNED", "tests/PWNED"),
    ),
}


def _snapshot(ws: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(ws)): p.read_bytes()
        for p in ws.rglob("*")
        if p.is_file() and ".pocflow" not in p.parts and "__pycache__" not in p.parts
    }


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_one_clear_line_right_code_and_changes_nothing_else(
    sample: Path, case: Case
) -> None:
    case.change(sample)
    before = _snapshot(sample)
    result = run_doit(sample, *case.command)
    output = result.out + result.err
    assert result.code == case.code, output
    assert case.message in output, output
    assert "Traceback" not in output
    if case.code == 3:
        assert result.ran == []
        first = [line for line in result.err.splitlines() if line.startswith("ERROR:")]
        assert len(first) == 1, result.err  # one line
        assert len(first[0]) < 400, first[0]  # a line, not the value that caused it
    after = _snapshot(sample)
    changed = {rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)}
    assert changed <= set(case.may_change), changed
    for rel in case.absent:
        assert not (sample / rel).exists(), f"{rel} exists: a name was run by a shell"
    assert not any(os.path.lexists(sample.parent / name) for name in ("PWNED", "PWNED2"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.update(inputs=["a list, not a mapping"]),
        lambda r: r["test"].update(counts=None),
        lambda r: r["implement"].update(scripts="not a list"),
        lambda r: r["test"].update(tests=[["not", "a", "test"]]),
        lambda r: r.update(verdict=["verified"]),
    ],
    ids=["inputs a list", "counts null", "scripts a string", "a test a list", "verdict a list"],
)
def test_a_record_with_a_field_of_the_wrong_shape_is_verified_again_without_a_traceback(
    sample: Path, damage: Callable[[dict], None]
) -> None:
    import json

    path = sample / "steps/records/step3b.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    damage(record)
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    for command in (("status",), ("drift",), ("poc-complete",)):
        result = run_doit(sample, *command)
        assert "Traceback" not in result.out + result.err, command
    assert result.code == 0, result.out + result.err
    assert "3b" in result.ran_steps


def test_a_damaged_record_is_named_as_such(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": "def test_x():\n    assert True\n"})
    assert run_doit(ws, "poc-complete").code == 0
    clone = tmp_path / "clone"
    shutil.copytree(ws, clone, ignore=shutil.ignore_patterns(".pocflow"))
    record = clone / "steps/records/step1.json"
    record.write_text(record.read_text(encoding="utf-8")[:40], encoding="utf-8")
    result = run_doit(clone, "poc-complete")
    assert result.code == 0, result.out + result.err  # verified again, from its tests
    assert "steps/records/step1.json is not a record pocflow can read" in result.out


@pytest.mark.e2e
def test_a_docs_folder_that_cannot_be_written_is_one_line_not_a_traceback(sample: Path) -> None:
    docs = sample / "docs"
    if subprocess.run(["chattr", "+i", str(docs)], capture_output=True).returncode != 0:
        pytest.skip("chattr cannot make a folder immutable here")
    try:
        # the step's results doc must be written anew
        (sample / "PoC/step1_load.py").write_text(
            (sample / "PoC/step1_load.py").read_text(encoding="utf-8") + "\n# edit\n",
            encoding="utf-8",
        )
        result = run_doit(sample, "step:1")
    finally:
        subprocess.run(["chattr", "-i", str(docs)], check=True)
    output = result.out + result.err
    assert result.code == 2, output
    assert "Traceback" not in output
    assert (
        "docs/time-zone-atlas-step1-results.md: cannot be written (Operation not permitted); "
        "make it and its folder writable, then run the same command again"
    ) in output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--reverfy", "poc-complete"),
            "ERROR: doit run: option --reverfy not recognized, did you mean '--reverify'? "
            "('doit help run' lists its options)",
        ),
        (
            ("poc-complete", "--reverify"),
            "ERROR: --reverify after a task name is read as an option of that task, and "
            "pocflow's tasks take none: put doit's options first ('doit --reverify <tasks>')",
        ),
        (
            ("status", "--jsn"),
            "ERROR: doit status: option --jsn not recognized, did you mean '--json'? "
            "('doit help status' lists its options)",
        ),
        (
            ("--shard",),
            "ERROR: doit run: option --shard requires argument ('doit help run' lists its options)",
        ),
    ],
)
@pytest.mark.e2e
def test_a_mistyped_option_is_one_line_naming_it_and_the_one_meant(
    tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    pass\n"})
    result = run_doit(ws, *args)
    assert (result.code, result.err.strip()) == (3, line)


@pytest.mark.e2e
def test_doit_run_from_a_folder_inside_the_workspace_names_the_workspace_and_k(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    pass\n"})
    for args in (("poc-complete",), ("status",)):
        result = run_doit(ws / "PoC", *args)
        assert (result.code, result.err.strip()) == (
            3,
            f"ERROR: no dodo.py in {ws / 'PoC'}: it is in {ws}; run doit there, or add -k to "
            "look for it in the folders above ('doit -k poc-complete')",
        )
    found = run_doit(ws / "PoC", "-k", "status")
    assert found.code == 0 and found.out.startswith("PoC 1 — Small: 0 of 1 steps verified")


def test_dumpdb_shows_what_doit_keeps_in_pocflows_store(sample: Path, tmp_path: Path) -> None:
    # doit's own dumpdb opened the sqlite3 store as a dbm database: a dbm.error traceback
    dumped = run_doit(sample, "dumpdb")
    assert dumped.code == 0 and "Traceback" not in dumped.err, dumped.out + dumped.err
    assert "DBM type is 'sqlite3'" in dumped.out and "implement:1 -> {" in dumped.out
    empty = make_workspace(tmp_path / "new", {"1": "def test_a():\n    assert True\n"})
    nothing = run_doit(empty, "dumpdb")
    assert nothing.code == 3 and "Traceback" not in nothing.err, nothing.err
    assert "no store there yet (nothing has run in this workspace)" in nothing.err
    assert nothing.err.startswith("ERROR: .pocflow/doit.sqlite: "), nothing.err  # its own


def test_a_conftest_that_fails_to_import_is_shown_without_pocflows_frames(
    tmp_path: Path,
) -> None:
    # pocflow's observer wraps the import system: its frames were in pytest's traceback of
    # the user's conftest.py, between theirs
    ws = make_workspace(
        tmp_path / "ws",
        {"1": "def test_a():\n    assert True\n"},
        conftest="import nonexistent_module_xyz\n",
    )
    result = run_doit(ws, "step:1")
    output = result.out + result.err
    assert result.code == 1, output
    assert "tests/conftest.py:1: in <module>" in output
    assert "ModuleNotFoundError: No module named 'nonexistent_module_xyz'" in output
    assert "_observe.py" not in output and "pocflow" not in output.split("pocflow: 1 failed")[0]
