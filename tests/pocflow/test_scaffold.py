"""Scaffolding steps and adopting pocflow in another repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, edit, run_doit

from pocflow.cli import main as pocflow_main
from pocflow.errors import PocflowError
from pocflow.implement import usage_problem
from pocflow.scaffold import describe, new_step
from pocflow.workspace import load_workspace

STEP5 = (
    "### Step 5: UTC offsets today\n\n**Goal**: Compute each zone's UTC offset.\n\n"
    "**Depends On**: Step 2\n\n**Verification**:\n```bash\n"
    "uv run pytest tests/test_step5_utc_offsets_today.py -v\n```\n\n## Test Structure"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Decode coordinates", "decode_coordinates"),
        ("Nearest zone (brute force)", "nearest_zone_brute_force"),
        ("Café façade — über", "cafe_facade_uber"),
        ("!!!", "step"),
        (
            "a very long step name that goes on and on and on",
            "a_very_long_step_name_that_goes_on_and",
        ),
    ],
)
def test_describe(name: str, expected: str) -> None:
    assert describe(name) == expected


@pytest.mark.e2e
def test_new_step_from_plan_creates_three_files_and_the_test_fails(sample: Path) -> None:
    edit(sample / "docs/poc1-implementation.md", lambda s: s.replace("## Test Structure", STEP5, 1))
    result = new_step(load_workspace(sample), "5")
    assert result.created == [
        "PoC/step5_utc_offsets_today.py",
        "tests/test_step5_utc_offsets_today.py",
        "steps/step5.yaml",
    ]
    script = (sample / "PoC/step5_utc_offsets_today.py").read_text(encoding="utf-8")
    assert "Goal: Compute each zone's UTC offset." in script
    assert usage_problem(sample / "PoC/step5_utc_offsets_today.py") == ""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_step5_utc_offsets_today.py",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=sample,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "1 failed" in done.stdout and "step 5 has no real tests yet" in done.stdout
    manifest = (sample / "steps/step5.yaml").read_text(encoding="utf-8")
    assert "title:" not in manifest  # the plan names the step
    assert load_workspace(sample).steps["5"].manifest is not None  # a valid manifest

    verify = run_doit(sample, "step:5")
    assert verify.code == 1
    assert "step 5 is not written yet" in verify.out + verify.err


@pytest.mark.e2e
def test_new_step_never_overwrites(sample: Path) -> None:
    before = (sample / "PoC/step3b_country_lookup.py").read_bytes()
    result = new_step(load_workspace(sample), "3b")
    assert result.created == ["steps/step3b.yaml"]
    assert result.skipped == [
        "PoC/step3b_country_lookup.py exists; left as it is",
        "tests/test_step3b_country_lookup.py exists; left as it is",
    ]
    assert (sample / "PoC/step3b_country_lookup.py").read_bytes() == before


@pytest.mark.e2e
def test_new_step_from_the_command_line_needs_a_name(sample: Path) -> None:
    ws = load_workspace(sample)
    with pytest.raises(
        PocflowError,
        match=r"step 9 is not in docs/poc1-implementation.md; "
        r"give it a name: doit new 9 --name",
    ):
        new_step(ws, "9")
    result = new_step(ws, "9", name="Export GeoJSON", goal="Write zones as GeoJSON")
    assert "PoC/step9_export_geojson.py" in result.created
    assert result.warnings == [  # (doit new writes it to stderr)
        "step 9 is not in the plan (docs/poc1-implementation.md): add its section, "
        "'### Step 9: Export GeoJSON' with its **Goal**, so that the plan says what it proves"
    ]
    assert not new_step(load_workspace(sample), "2").warnings  # the plan describes step 2
    manifest = (sample / "steps/step9.yaml").read_text(encoding="utf-8")
    assert 'title: "Export GeoJSON"' in manifest and 'goal: "Write zones as GeoJSON"' in manifest
    assert load_workspace(sample).steps["9"].name == "Export GeoJSON"


@pytest.mark.e2e
def test_doit_new_and_scaffold_commands(sample: Path) -> None:
    edit(
        sample / "docs/poc1-implementation.md",
        lambda s: s.replace("## Test Structure", STEP5.replace("5", "6"), 1),
    )
    after = run_doit(sample, "new", "8", "--name", "Summary report")  # as the hints write it
    assert after.code == 0, after.err
    assert "created PoC/step8_summary_report.py" in after.out
    assert "then `uv run doit step:8`" in after.out  # the id, not a placeholder
    result = run_doit(sample, "new", "--name", "Summary report", "7")
    assert result.code == 0, result.err
    assert "created PoC/step7_summary_report.py" in result.out
    assert run_doit(sample, "new", "9", "--name").code == 3  # (a value is missing)
    scaffold = run_doit(sample, "scaffold")
    assert scaffold.code == 0, scaffold.err
    assert "created PoC/step6_utc_offsets_today.py" in scaffold.out
    assert "skipped: step 1 has its files; left as it is" in scaffold.out
    assert not (sample / "steps/step2.yaml").exists()  # no new input for a verified step
    status = run_doit(sample, "status")
    assert "changed since" not in status.out, status.out
    again = run_doit(sample, "scaffold")
    assert "created PoC/" not in again.out
    assert run_doit(sample, "new", "x").code == 3


FOREIGN_PLAN = """# PoC 2 Implementation Plan: Word Counts

## Implementation Steps

### Step 1: Count words
**Goal**: Count the words of a text.

### Step 2: Top words
**Goal**: The most frequent words.
**Depends On**: Step 1

## Production-Grade Checklist

- [x] **Real data**: the project's own README
"""


def write_results(doc: Path) -> None:
    """Write a results doc's Summary and Bug Fixes, as a person does after verifying."""
    text = doc.read_text(encoding="utf-8")
    text = text.replace(
        "_What did this step prove? Write it here; pocflow never rewrites this section._",
        "It counts what the README holds.",
    )
    text = text.replace(
        "_Record each bug met while building this step as `### 1. <Issue "
        "Name>` with **Issue** and **Fix**._",
        "None met.",
    )
    doc.write_text(text, encoding="utf-8")


@pytest.mark.e2e
def test_init_in_a_foreign_repository_then_a_real_poc_complete(tmp_path: Path) -> None:
    repo = tmp_path / "other"
    (repo / "docs").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "other"\nversion = "1.0"\n', encoding="utf-8"
    )
    (repo / "docs/poc2-implementation.md").write_text(FOREIGN_PLAN, encoding="utf-8")
    (repo / "README.md").write_text("one two two three three three\n", encoding="utf-8")
    before = (repo / "pyproject.toml").read_text(encoding="utf-8")

    assert (
        pocflow_main(
            [
                "init",
                "--root",
                str(repo),
                "--poc",
                "2",
                "--scripts-dir",
                "experiments",
                "--tests-dir",
                "checks",
            ]
        )
        == 0
    )
    pyproject = (repo / "pyproject.toml").read_text(encoding="utf-8")
    assert pyproject.startswith(before)
    assert (
        '[tool.pocflow]\npoc = 2\nscripts_dir = "experiments"\ntests_dir = "checks"\n' in pyproject
    )
    assert (repo / "dodo.py").exists()
    assert {".pocflow/", ".env"} <= set((repo / ".gitignore").read_text("utf-8").splitlines())
    assert (repo / "steps/manifest.schema.json").exists()

    assert run_doit(repo, "scaffold").code == 0
    first = run_doit(repo, "poc-complete")
    assert first.code == 1 and "step 1 is not written yet" in first.out + first.err

    (repo / "experiments/step1_count_words.py").write_text(
        '"""Count words.\n\nUsage:\n    python experiments/step1_count_words.py\n"""\n'
        "import json, os\n"
        "words = open('README.md').read().split()\n"
        "json.dump({'words': len(words)}, open('counts.json', 'w'))\n",
        encoding="utf-8",
    )
    (repo / "experiments/step2_top_words.py").write_text(
        '"""Top words.\n\nUsage:\n    python experiments/step2_top_words.py\n"""\n'
        "import collections, json\n"
        "words = open('README.md').read().split()\n"
        "json.dump(collections.Counter(words).most_common(1), open('top.json', 'w'))\n",
        encoding="utf-8",
    )
    (repo / "checks/test_step1_count_words.py").write_text(
        "import json\n\ndef test_counts():\n"
        "    assert json.load(open('counts.json')) == {'words': 6}\n",
        encoding="utf-8",
    )
    (repo / "checks/test_step2_top_words.py").write_text(
        "import json\n\ndef test_top():\n"
        "    assert json.load(open('top.json')) == [['three', 3]]\n",
        encoding="utf-8",
    )
    verified = run_doit(repo, "poc-complete")  # every step verified; nothing written yet
    assert verified.code == 1
    assert "2 of 2 results docs are not written yet" in verified.out + verified.err
    assert (
        "    docs/word-counts-step2-results.md: Summary, Bug Fixes During Development"
        in verified.out + verified.err
    )
    for step in (1, 2):
        write_results(repo / f"docs/word-counts-step{step}-results.md")
    done = run_doit(repo, "poc-complete")
    assert done.code == 0, done.out + done.err
    assert (repo / "docs/poc2-results.md").exists()
    assert (repo / "docs/word-counts-step2-results.md").exists()
    assert "| 2 | Top words | ✅ Complete | 1/1 |" in (repo / "PROJECT_STATE.md").read_text(
        encoding="utf-8"
    )


@pytest.mark.e2e
def test_init_touches_nothing_that_exists(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_bytes() for p in (sample / "dodo.py", sample / "pyproject.toml")}
    assert pocflow_main(["init", "--root", str(sample)]) == 0
    assert {p: p.read_bytes() for p in before} == before
    out = capsys.readouterr().out
    assert "skipped: dodo.py exists and uses pocflow" in out
    assert "skipped: pyproject.toml has [tool.pocflow] already" in out


AWKWARD = 'Join | split\nover "two" lines \\ with """ quotes'


@pytest.mark.e2e
def test_a_step_name_with_pipes_newlines_and_quotes_keeps_every_file_whole(sample: Path) -> None:
    import yaml

    result = new_step(load_workspace(sample), "9", name=AWKWARD, goal="Goal \\d | x\n2")
    script, test = result.created[:2]
    for path in (script, test):  # the docstrings still parse, and say the name on one line
        source = (sample / path).read_text(encoding="utf-8")
        compile(source, path, "exec")
    ws = load_workspace(sample)
    assert ws.steps["9"].name == 'Join | split over "two" lines \\ with """ quotes'
    assert yaml.safe_load((sample / "steps/step9.yaml").read_text(encoding="utf-8"))
    for path in result.created:  # (step 9 is not written yet: its run would fail)
        (sample / path).unlink()
    (sample / "steps/step3b.yaml").write_text(
        'title: "Country | lookup\\nin two lines"\n', encoding="utf-8"
    )
    assert load_workspace(sample).steps["3b"].manifest.title == "Country | lookup in two lines"
    edit(
        sample / "docs/poc1-implementation.md",
        lambda text: text.replace("### Step 3b — ", "### Step 3b — Country | "),
    )
    run = run_doit(sample, "poc-complete")
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    rows = [line for line in state.splitlines() if line.startswith("| ")]
    widths = {len(re.split(r"(?<!\\)\|", row)) for row in rows if "---" not in row}
    assert len(widths) <= 2, rows  # one width per table (step progress, and any other)
    assert "| 3b | Country \\| " in state, run.out


def test_init_writes_a_name_with_quotes_and_newlines_as_valid_toml(tmp_path: Path) -> None:
    import tomllib

    from pocflow.scaffold import InitOptions, init_workspace

    init_workspace(tmp_path, InitOptions(name=AWKWARD + "\x7f\t"))
    data = tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["tool"]["pocflow"]["name"] == AWKWARD + "\x7f\t"


@pytest.mark.parametrize("name", ["Word Counts", "", AWKWARD])
def test_init_writes_a_plan_in_the_methods_shape_to_fill_in(tmp_path: Path, name: str) -> None:
    from pocflow.plan import load_plan
    from pocflow.scaffold import InitOptions, init_workspace

    result = init_workspace(tmp_path, InitOptions(poc=3, name=name))
    assert "docs/poc3-implementation.md (a plan in the method's shape: fill it in)" in (
        result.created
    )
    plan = load_plan(tmp_path, "docs/poc3-implementation.md")
    assert plan is not None and plan.warnings == []
    assert plan.number == 3 and plan.name == (" ".join(name.split()) or "<PoC name>")
    assert list(plan.steps) == ["1", "2"] and plan.steps["2"].depends_on == ["1"]
    assert plan.checklist and not any(item.ticked for item in plan.checklist)  # to tick
    (tmp_path / "docs/poc3-implementation.md").write_text("# mine\n", encoding="utf-8")
    again = init_workspace(tmp_path, InitOptions(poc=3, name=name))
    assert not [c for c in again.created if "implementation" in c]  # never overwritten
    assert (tmp_path / "docs/poc3-implementation.md").read_text(encoding="utf-8") == "# mine\n"


def initialized(tmp_path: Path, existing: str | None) -> Path:
    """A project folder with this pyproject.toml (or none), after `pocflow init`."""
    repo = tmp_path / "lib"
    repo.mkdir()
    if existing is not None:
        (repo / "pyproject.toml").write_text(existing, encoding="utf-8")
    assert pocflow_main(["init", "--root", str(repo)]) == 0
    return repo


IMPORTING_TEST = (
    "from step1_count_words import count\n\n\ndef test_count():\n    assert count('a b') == 2\n"
)
COUNTING_SCRIPT = (
    '"""Count words.\n\nUsage:\n    python PoC/step1_count_words.py\n"""\n\n\n'
    "def count(text):\n    return len(text.split())\n"
)


@pytest.mark.e2e  # plain pytest, run in the scaffolded project
@pytest.mark.parametrize(
    "existing",
    [
        '[project]\nname = "lib"\nversion = "1.0"\n',
        '[project]\nname = "lib"\nversion = "1.0"\n\n[tool.pytest.ini_options]  # ours\n'
        'addopts = "-q"\n',
        None,  # no pyproject.toml at all
    ],
)
def test_after_init_plain_pytest_imports_the_step_scripts(
    tmp_path: Path, existing: str | None
) -> None:
    import tomllib

    repo = initialized(tmp_path, existing)
    text = (repo / "pyproject.toml").read_text(encoding="utf-8")
    if existing is not None:
        assert text.startswith(existing.split("[tool.pytest")[0])
        assert 'addopts = "-q"' in text or "addopts" not in existing
    assert tomllib.loads(text)["tool"]["pytest"]["ini_options"]["pythonpath"] == ["PoC"]
    assert (repo / ".python-version").read_text(
        encoding="utf-8"
    ).strip() == f"{sys.version_info.major}.{sys.version_info.minor}"
    (repo / "PoC/step1_count_words.py").write_text(COUNTING_SCRIPT, encoding="utf-8")
    (repo / "tests/test_step1_count_words.py").write_text(IMPORTING_TEST, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("other", "settings", "line"),
    [
        ("pytest.ini", "[pytest]\naddopts = -q\n", "pythonpath = PoC"),
        ("pytest.toml", '[pytest]\naddopts = ["-q"]\n', 'pythonpath = ["PoC"]'),
        (".pytest.toml", "", 'pythonpath = ["PoC"]'),  # pytest takes it even empty
    ],
)
@pytest.mark.parametrize("pyproject", [True, False], ids=["pyproject.toml", "none"])
def test_init_says_what_to_add_when_pytest_is_configured_elsewhere(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pyproject: bool,
    other: str,
    settings: str,
    line: str,
) -> None:
    repo = tmp_path / "lib"
    repo.mkdir()
    if pyproject:
        (repo / "pyproject.toml").write_text('[project]\nname = "lib"\n', encoding="utf-8")
    (repo / other).write_text(settings, encoding="utf-8")
    assert pocflow_main(["init", "--root", str(repo)]) == 0
    assert f"pytest is configured in {other}: add `{line}`" in capsys.readouterr().out
    assert (repo / other).read_text(encoding="utf-8") == settings
    # (no pytest table pytest would ignore: the other file wins)
    assert "tool.pytest" not in (repo / "pyproject.toml").read_text(encoding="utf-8")


def test_the_shipped_workflow_pins_python_uses_current_actions_and_the_lock() -> None:
    import yaml

    workflow = yaml.safe_load((REPO / ".github/workflows/pocflow.yml").read_text("utf-8"))
    assert set(workflow) >= {"name", True, "jobs"}  # (YAML reads the key `on` as True)
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    current = {
        "actions/checkout": 7,
        "astral-sh/setup-uv": 10,
        "actions/cache/restore": 5,
        "actions/cache/save": 5,
    }  # the majors on GitHub's Node 24 runtime, or later
    for step in steps:
        if "uses" in step:
            action, _, version = step["uses"].partition("@")
            assert action in current, action
            assert int(version.lstrip("v").split(".")[0]) >= current[action], step["uses"]
        for line in step.get("run", "").splitlines():
            if "uv run" in line:
                assert "uv run --locked" in line, line
    python = (REPO / ".python-version").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"3\.\d+", python)  # uv (and so the workflow) runs this version
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == python  # the records' one


@pytest.mark.e2e
def test_a_multi_line_poc_name_and_a_metric_name_with_a_pipe_keep_documents_whole(
    sample: Path,
) -> None:
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            "[tool.pocflow]\n",
            # a new name is a new slug: new results docs, which nobody writes here
            '[tool.pocflow]\nname = "Atlas\\n<!-- pocflow:end step-progress -->\\nInjected"\n'
            'undocumented = "warn"\n',
        ),
        encoding="utf-8",
    )
    with (sample / "PoC/step3b_country_lookup.py").open("a", encoding="utf-8") as script:
        script.write(
            "\nif __name__ == '__main__':\n    import json, os\n"
            "    path = os.environ['POCFLOW_METRICS_FILE']\n"
            "    metrics = json.load(open(path)) if os.path.getsize(path) else {}\n"
            "    metrics['p50|p95 ms'] = '3 | 9'\n"
            "    json.dump(metrics, open(path, 'w'))\n"
        )
    for _ in range(2):
        result = run_doit(sample, "--reverify", "poc-complete")
        assert result.code == 0, result.out + result.err
    doc = sample / "docs/atlas-pocflow-end-step-progress-injected-step3b-results.md"
    text = doc.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "p50" in line)
    assert len(re.split(r"(?<!\\)\|", row)) == 4, row  # two cells
    assert (
        "Atlas <!-- pocflow:end step-progress --> Injected"
        not in (sample / "PROJECT_STATE.md").read_text(encoding="utf-8").splitlines()
    )
    assert run_doit(sample, "drift").code == 0


BARE_DODO = """from pocflow import doit_config, generate_tasks

DOIT_CONFIG = doit_config(__file__)


def task_pocflow():
    yield from generate_tasks(__file__)
"""


@pytest.mark.parametrize(
    ("text", "scaffolded"),
    [
        (BARE_DODO, True),  # docstrings and comments aside, the same code
        (BARE_DODO + "# a comment\n", True),
        (BARE_DODO + "\nDOIT_CONFIG['verbosity'] = 2\n", False),
        (BARE_DODO.replace("generate_tasks(__file__)", "generate_tasks('other/dodo.py')"), False),
        (BARE_DODO + "\n\ndef task_mine():\n    return {'actions': ['true']}\n", False),
        (
            BARE_DODO.replace("yield from generate_tasks(__file__)", "")
            + "    for t in generate_tasks(__file__):\n        yield t\n",
            False,
        ),
        (BARE_DODO + "\nimport os\n", False),
        # what ran is looked at, not the file: a dodo that rewrites itself as it is imported
        (
            BARE_DODO.replace("yield from generate_tasks(__file__)", "")
            + "    for t in generate_tasks(__file__):\n        yield t\n"
            + f"\n\n__import__('pathlib').Path(__file__).write_text({BARE_DODO!r})\n",
            False,
        ),
    ],
    ids=["bare", "comment", "config", "other file", "own task", "own loop", "import", "rewrites"],
)
def test_only_the_dodo_pocflow_writes_counts_as_scaffolded(
    tmp_path: Path, text: str, scaffolded: bool
) -> None:
    import importlib.util
    import inspect

    from pocflow.scaffold import DODO, is_scaffolded_dodo

    def loaded(name: str, source: str) -> dict[str, object]:
        path = tmp_path / name / "dodo.py"
        path.parent.mkdir()
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"dodo_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return dict(inspect.getmembers(module))  # what doit's loader gives

    assert is_scaffolded_dodo(loaded("written", DODO))
    assert is_scaffolded_dodo(loaded("case", text)) is scaffolded


@pytest.mark.parametrize(
    ("existing", "said"),
    [
        ('[project\nname = "lib"\n', "pyproject.toml:1: not valid TOML"),
        ('[tool.x]\na = "unterminated\n', "pyproject.toml:2: not valid TOML"),
    ],
)
def test_init_refuses_a_pyproject_it_cannot_read_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], existing: str, said: str
) -> None:
    from pocflow.cli import main

    (tmp_path / "pyproject.toml").write_text(existing, encoding="utf-8")
    assert main(["init", "--root", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == existing


@pytest.mark.parametrize(
    ("folder", "file", "said"),
    [
        ("dodo.py", "", "dodo.py: a folder, where pocflow init writes a file"),
        ("steps/manifest.schema.json", "", "steps/manifest.schema.json: a folder, where"),
        ("", "PoC", "PoC: a file, where pocflow init makes a folder"),
        ("", "docs", "docs: a file, where pocflow init makes a folder"),
    ],
)
def test_init_refuses_a_folder_where_it_writes_a_file_and_the_reverse_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], folder: str, file: str, said: str
) -> None:
    from pocflow.cli import main

    if folder:
        (tmp_path / folder).mkdir(parents=True)
    if file:
        (tmp_path / file).write_text("x\n", encoding="utf-8")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert main(["init", "--root", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_init_refuses_a_root_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pocflow.cli import main

    (tmp_path / "afile").write_text("x\n", encoding="utf-8")
    assert main(["init", "--root", str(tmp_path / "afile")]) == 3
    err = capsys.readouterr().err
    assert "afile: a file, not a folder" in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["init", "--poc", "0"], "--poc must be 1 or more"),
        (["init", "--poc", "two"], "invalid int value: 'two'"),
        (["init", "--scripts-dir", "/abs"], "folders must be inside the repository"),
        (["nothing"], "invalid choice: 'nothing'"),
    ],
)
def test_a_bad_pocflow_command_line_is_exit_3_as_doits_are_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    from pocflow.cli import main

    with pytest.raises(SystemExit) as ended:
        main([*args, "--root", str(tmp_path)] if args[0] == "init" else args)
    assert ended.value.code == 3
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_init_leaves_an_inline_tool_table_valid_and_says_what_to_add(tmp_path: Path) -> None:
    import tomllib

    from pocflow.scaffold import InitOptions, init_workspace

    existing = 'tool = {pytest = {ini_options = {addopts = "-q"}}}\n'
    (tmp_path / "pyproject.toml").write_text(existing, encoding="utf-8")
    result = init_workspace(tmp_path, InitOptions())
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == existing
    assert any("[tool.pocflow]" in line for line in result.skipped)
    tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))


def test_init_appends_to_a_crlf_pyproject_with_its_line_ends(tmp_path: Path) -> None:
    import tomllib

    from pocflow.scaffold import InitOptions, init_workspace

    existing = '\ufeff[project]\r\nname = "lib"\r\nversion = "1.0"\r\n'
    (tmp_path / "pyproject.toml").write_bytes(existing.encode("utf-8"))
    init_workspace(tmp_path, InitOptions())
    data = (tmp_path / "pyproject.toml").read_bytes()
    assert data.startswith(existing.encode("utf-8"))
    appended = data[len(existing.encode("utf-8")) :]
    assert b"[tool.pocflow]" in appended and b"\n" not in appended.replace(b"\r\n", b"")
    assert tomllib.loads(data.decode("utf-8").removeprefix("\ufeff"))["tool"]["pocflow"]


def test_init_refuses_a_pyproject_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pocflow.cli import main

    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "caf\xe9"\n')
    assert main(["init", "--root", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "pyproject.toml: not UTF-8 text" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


@pytest.mark.parametrize(
    "existing",
    [
        '[project]\nname = "lib"\nversion = "1.0"\n',
        '[project]\nname = "lib"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n',
        None,
    ],
    ids=["a project's pyproject.toml", "one with pytest's table", "none"],
)
def test_init_leaves_pocflows_table_last_so_a_setting_typed_at_the_end_is_pocflows(
    tmp_path: Path, existing: str | None
) -> None:
    import tomllib

    pyproject = initialized(tmp_path, existing) / "pyproject.toml"
    pyproject.write_text(pyproject.read_text("utf-8") + 'undocumented = "warn"\n', "utf-8")
    tool = tomllib.loads(pyproject.read_text("utf-8"))["tool"]
    assert tool["pocflow"]["undocumented"] == "warn"
    assert tool["pytest"]["ini_options"]["pythonpath"] == ["PoC"]


def test_scaffolding_over_a_file_where_the_scripts_folder_goes_is_one_line(
    tmp_path: Path,
) -> None:
    from pocflow.scaffold import scaffold_plan

    assert pocflow_main(["init", "--root", str(tmp_path)]) == 0
    (tmp_path / "docs/poc1-implementation.md").write_text(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n### Step 1: A\n\n"
        "**Goal**: g.\n",
        encoding="utf-8",
    )
    (tmp_path / "PoC").rmdir()
    (tmp_path / "PoC").write_text("x\n", encoding="utf-8")  # made after init
    # (named as the workspace loads, before anything is written)
    with pytest.raises(PocflowError, match=r"^PoC: is a file, where pocflow keeps a folder"):
        scaffold_plan(load_workspace(tmp_path))


def test_init_says_it_made_a_root_that_was_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--root` naming a folder that is not there (a typo, or a new project) makes it, and
    says so first; an existing one is not said to be made."""
    new = tmp_path / "new" / "project"
    assert pocflow_main(["init", "--root", str(new)]) == 0
    assert capsys.readouterr().out.startswith(f"created {new}/ (the repository's folder")
    assert (new / "dodo.py").is_file()
    there = tmp_path / "there"
    there.mkdir()
    assert pocflow_main(["init", "--root", str(there)]) == 0
    assert "the repository's folder" not in capsys.readouterr().out
