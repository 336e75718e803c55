"""Joining settings, plan, manifests and files: inconsistencies are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocflow.errors import DiscoveryError, GraphError, SettingsError
from pocflow.workspace import dependents_of, load_workspace, prerequisites_first

PLAN = """# PoC 1 Implementation Plan: Demo

## Implementation Steps

### Step 1: First
**Goal**: one

### Step 2: Second
**Goal**: two
**Depends On**: Step 1
"""


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_load_workspace_joins_plan_and_files(tmp_path: Path) -> None:
    ws = load_workspace(
        make(
            tmp_path,
            {
                "docs/poc1-implementation.md": PLAN,
                "PoC/step1_first.py": "",
                "PoC/step3_extra.py": "",
                "tests/test_step1_first.py": "",
                "steps/step3.yaml": "depends_on: 2\ntitle: Third\n",
            },
        )
    )
    assert list(ws.steps) == ["1", "2", "3"]
    assert (ws.name, ws.slug) == ("Demo", "demo")
    assert ws.steps["1"].name == "First" and ws.steps["3"].name == "Third"
    assert ws.steps["2"].depends_on == ("1",) and not ws.steps["2"].has_files
    assert ws.steps["3"].depends_on == ("2",)
    assert ws.results_doc("3") == "docs/demo-step3-results.md"


def test_dependents_and_prerequisites_follow_depends_on_both_ways(tmp_path: Path) -> None:
    ws = load_workspace(
        make(
            tmp_path,
            {
                "docs/poc1-implementation.md": PLAN,
                "PoC/step1_first.py": "",
                "PoC/step2_second.py": "",
                "PoC/step3_extra.py": "",
                "PoC/step4_apart.py": "",
                "steps/step3.yaml": "depends_on: 2\ntitle: Third\n",
            },
        )
    )
    assert dependents_of(ws, "1") == ["2", "3"]
    assert dependents_of(ws, "2") == ["3"]
    assert dependents_of(ws, "3") == dependents_of(ws, "4") == []
    assert prerequisites_first(ws, ["3"]) == ["1", "2", "3"]


def test_load_workspace_without_plan_names_steps_from_files(tmp_path: Path) -> None:
    ws = load_workspace(make(tmp_path, {"PoC/step1_load_rows.py": "", "PoC/step3.py": ""}))
    assert ws.steps["1"].name == "Load rows"
    assert ws.steps["3"].name == "Step 3"  # a script with no description still has a name
    assert (ws.name, ws.slug) == ("PoC 1", "poc-1")


def test_a_folder_or_a_looping_link_named_like_a_manifest_is_no_manifest(tmp_path: Path) -> None:
    make(tmp_path, {"PoC/step1_load_rows.py": ""})
    (tmp_path / "steps" / "step8.yaml").mkdir(parents=True)
    (tmp_path / "steps" / "step9.yaml").symlink_to("step9.yaml")
    ws = load_workspace(tmp_path)
    assert list(ws.steps) == ["1"]
    assert ws.steps["1"].manifest is None


@pytest.mark.parametrize(
    ("files", "error", "message"),
    [
        (
            {"tests/test_step7_x.py": ""},
            DiscoveryError,
            r"tests/test_step7_x.py: test file for unknown step 7",
        ),
        (
            {"steps/step7.yaml": "title: x\n"},
            DiscoveryError,
            r"steps/step7.yaml: manifest for unknown step 7",
        ),
        (
            {"PoC/step7_validate_x.py": ""},
            DiscoveryError,
            r"PoC/step7_validate_x.py: validation script of step 7, which has no main script",
        ),
        (
            {"PoC/step1_a.py": "", "steps/step1.yaml": "depends_on: [9]\n"},
            GraphError,
            r"steps/step1.yaml:1: step 1 depends on step 9, which does not exist",
        ),
        (
            {
                "PoC/step1_a.py": "",
                "PoC/step2_b.py": "",
                "steps/step1.yaml": "depends_on: [2]\n",
                "steps/step2.yaml": "depends_on: [1]\n",
            },
            GraphError,
            r"dependency cycle: 1 -> 2 -> 1",
        ),
        (
            {"PoC/step1_a.py": "", "steps/step1.yaml": "depends_on: [1]\n"},
            GraphError,
            r"step 1 depends on itself",
        ),
        (
            {"pyproject.toml": "[tool.pocflow]\ntimout = 3\n"},
            SettingsError,
            r"pyproject.toml:\d+: unknown setting tool.pocflow.timout, did you mean 'timeout'\?",
        ),
        (
            {"pyproject.toml": "[tool.pocflow]\npoc = 'one'\n"},
            SettingsError,
            r"tool.pocflow.poc must be a whole number \(int\)",
        ),
        (
            {"pyproject.toml": "[tool.pocflow]\ndocs_dir = '../elsewhere'\n"},
            SettingsError,
            r"must be a path inside the workspace",
        ),
        ({"pyproject.toml": "[tool.pocflow\n"}, SettingsError, r"pyproject.toml: not valid TOML"),
        (
            {"pyproject.toml": "[tool.pocflow]\nlock_file = 'nope.lock'\n"},
            SettingsError,
            r"pyproject.toml:\d+: tool.pocflow.lock_file = 'nope.lock': no such file; name the "
            r"project's lock file, or '' for none",
        ),
        (
            {"pyproject.toml": "[tool.pocflow]\nstate_dir = '.'\n"},
            SettingsError,
            r"tool.pocflow.state_dir = '.': pocflow's local state .* needs a folder of its own",
        ),
        (
            {"pyproject.toml": "[tool.pocflow]\ntimeout = 'inf'\n"},
            SettingsError,
            r"tool.pocflow.timeout must be a number \(float\), got 'inf' \(write inf without",
        ),
        (
            {"pyproject.toml": "[tool.pocflow]\npoc = 0\n"},
            SettingsError,
            r"pyproject.toml:\d+: tool.pocflow.poc must be 1 or more: PoCs are numbered from 1",
        ),
        (
            {"pyproject.toml": "[tool.pocflow]\nundocumented = 'maybe'\n"},
            SettingsError,
            r"pyproject.toml:\d+: tool.pocflow.undocumented must be one of fail, warn, got 'maybe'",
        ),
    ],
)
def test_load_workspace_inconsistencies(
    tmp_path: Path, files: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        load_workspace(make(tmp_path, files))


def test_load_workspace_plan_cycle_names_plan_line(tmp_path: Path) -> None:
    plan = PLAN.replace("**Goal**: one", "**Goal**: one\n**Depends On**: Step 2")
    with pytest.raises(GraphError, match=r"docs/poc1-implementation.md:\d+: dependency cycle"):
        load_workspace(make(tmp_path, {"docs/poc1-implementation.md": plan}))


def test_load_workspace_warns_when_plan_and_manifest_disagree(tmp_path: Path) -> None:
    ws = load_workspace(
        make(
            tmp_path,
            {
                "docs/poc1-implementation.md": PLAN + "\n### Step 3: Third\n**Goal**: x\n",
                "PoC/step3_x.py": "",
                "steps/step3.yaml": "depends_on: [2]\n",
            },
        )
    )
    assert ws.steps["3"].depends_on == ("2",)
    assert any(
        "steps/step3.yaml:1: depends_on ['2'] differs from the plan" in w for w in ws.warnings
    )


def test_load_workspace_warns_when_title_or_goal_differ_from_plan(tmp_path: Path) -> None:
    ws = load_workspace(
        make(
            tmp_path,
            {
                "docs/poc1-implementation.md": PLAN,
                "PoC/step1_x.py": "",
                "steps/step1.yaml": "title: Premier\ngoal: one\n",
            },
        )
    )
    assert ws.steps["1"].name == "First"
    assert ws.warnings == [
        "steps/step1.yaml:1: title 'Premier' differs from the plan's "
        "'First' (docs/poc1-implementation.md:5); the plan's is used"
    ]


def test_a_name_gives_the_same_words_to_the_results_docs_and_to_step_files(
    tmp_path: Path,
) -> None:
    from pocflow.scaffold import describe

    plan = "# PoC 1 Implementation Plan: Décodage du Café\n\n### Step 1: Load\n**Goal**: g\n"
    ws = load_workspace(make(tmp_path, {"docs/poc1-implementation.md": plan}))
    assert ws.slug == "decodage-du-cafe"
    assert describe("Décodage du Café") == "decodage_du_cafe"


def test_a_test_file_a_steps_verification_runs_that_is_no_steps_is_named(tmp_path: Path) -> None:
    # the method's checkpoint runs the plan's Verification command; pocflow runs the step's
    # test files: one named there that is no step's is said, not silently left out
    plan = PLAN.replace(
        "**Goal**: one",
        "**Goal**: one\n**Verification**: `uv run pytest tests/test_step1_*.py "
        "tests/test_helpers.py -v`",
    )
    workspace = make(
        tmp_path,
        {
            "docs/poc1-implementation.md": plan,
            "tests/test_helpers.py": "def test_h():\n    assert True\n",
        },
    )
    ws = load_workspace(workspace)
    assert [w for w in ws.warnings if "Verification" in w] == [
        "docs/poc1-implementation.md:5: step 1's Verification runs tests/test_helpers.py, "
        "which is no step's test file: pocflow does not run it; name it "
        "test_step1_<name>.py to make it the step's"
    ]


@pytest.mark.parametrize(
    ("pyproject", "line"),
    [
        ('[project]\nname = "x"\n\n[tool.pocflow]\npoc = 1\ntimeout = "soon"\n', 6),
        ('[tool.pocflow]\npoc = 1\n\n[tool.pocflow.poc1]\nplann = "x.md"\n', 5),
        ('[tool.pocflow]\npoc = 1\n"undocumented" = "maybe"\n', 3),
        ('[tool]\npocflow.poc = 1\npocflow.state_dir = "."\n', 3),
    ],
    ids=["a key", "a PoC's table", "a quoted key", "a dotted key"],
)
def test_a_settings_error_names_the_line_that_sets_it(
    tmp_path: Path, pyproject: str, line: int
) -> None:
    with pytest.raises(SettingsError, match=rf"^pyproject\.toml:{line}: "):
        load_workspace(make(tmp_path, {"pyproject.toml": pyproject}))
