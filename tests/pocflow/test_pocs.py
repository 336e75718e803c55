"""Several PoCs in one project: PoC 2 beside PoC 1, never taken for one another.

The project's first PoC keeps the method's folders (PoC/, tests/, steps/); each later PoC
keeps its own files in a subfolder of each, named after it (PoC/poc2/step1_x.py,
tests/poc2/test_step1_x.py, steps/poc2/step1.yaml, steps/records/poc2/), so its step 1 is
never PoC 1's step 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pocflow.errors import SettingsError
from pocflow.settings import load_settings
from pocflow.workspace import load_workspace, project_workspaces


def plan(number: int, name: str, *steps: str) -> str:
    return (
        f"# PoC {number} Implementation Plan: {name}\n\n## Implementation Steps\n\n"
        + "".join(
            f"### Step {sid}: {title}\n\n**Goal**: g.\n\n"
            for sid, title in (step.split("=") for step in steps)
        )
        + "\n## Production-Grade Checklist\n\n- [x] **Real**: yes\n"
    )


def project(root: Path, files: dict[str, str], settings: str = "poc = 2\n") -> Path:
    files = {
        "pyproject.toml": f"[tool.pocflow]\n{settings}",
        "docs/poc1-implementation.md": plan(1, "Atlas", "1=Load", "2=Decode"),
        "docs/poc2-implementation.md": plan(2, "Routes", "1=Index"),
        "PoC/step1_load.py": "",
        "tests/test_step1_load.py": "",
        "PoC/step2_decode.py": "",
        **files,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_a_later_poc_never_takes_the_first_pocs_step_files(tmp_path: Path) -> None:
    ws = load_workspace(project(tmp_path, {}))
    assert ws.settings.poc == 2 and ws.settings.pocs == (1, 2)
    assert ws.name == "Routes"
    step = ws.steps["1"]
    assert step.name == "Index"
    assert (step.script, step.tests, step.manifest) == (None, (), None)  # not PoC/step1_load.py
    assert set(ws.steps) == {"1"}


def test_each_poc_has_its_own_folders_records_and_run_files(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"PoC/poc2/step1_index.py": "", "tests/poc2/test_step1_index.py": ""},
    )
    first, second = project_workspaces(root)
    assert first.steps["1"].script == "PoC/step1_load.py"
    assert second.steps["1"].script == "PoC/poc2/step1_index.py"
    assert second.steps["1"].tests == ("tests/poc2/test_step1_index.py",)
    assert first.record_path("1") == "steps/records/step1.json"
    assert second.record_path("1") == "steps/records/poc2/step1.json"
    assert first.gate_record_path != second.gate_record_path
    assert first.run_dir("1") != second.run_dir("1")
    assert (first.poc_results_doc, second.poc_results_doc) == (
        "docs/poc1-results.md",
        "docs/poc2-results.md",
    )
    assert first.results_doc("1") == "docs/atlas-step1-results.md"
    assert second.results_doc("1") == "docs/routes-step1-results.md"


def test_a_single_poc_project_keeps_its_folders_whatever_its_number(tmp_path: Path) -> None:
    root = project(tmp_path, {}, settings="poc = 3\n")  # no plan of PoC 3's own yet either
    (root / "docs/poc1-implementation.md").unlink()
    (root / "docs/poc2-implementation.md").unlink()
    settings = load_settings(root)
    assert settings.pocs == (3,)
    assert settings.scripts_dir == "PoC" and settings.records_dir == "steps/records"


def test_an_earlier_pocs_own_table_gives_its_name_slug_and_plan(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"plans/atlas.md": plan(1, "Atlas", "1=Load")},
        settings='poc = 2\nname = "Second"\n\n[tool.pocflow.poc1]\nslug = "tz"\n'
        'plan = "plans/atlas.md"\n',
    )
    (root / "docs/poc1-implementation.md").unlink()
    first = load_workspace(root, 1)
    assert first.settings.plan == "plans/atlas.md" and first.slug == "tz"
    assert first.name == "Atlas"  # the project's name is the current PoC's
    assert load_workspace(root).name == "Second"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "poc = 2\n[tool.pocflow.poc1]\nscripts_dir = 'x'\n",
            "unknown setting tool.pocflow.poc1.scripts_dir",
        ),
        ("poc = 2\n[tool.pocflow.poc1]\nname = 3\n", "tool.pocflow.poc1.name must be str"),
        ("poc = 2\n[tool.pocflow.poc1]\nslug = 'a/b'\n", "tool.pocflow.poc1.slug"),
        ("poc = 2\npoc1 = 'x'\n", "tool.pocflow.poc1 must be a table"),
    ],
)
def test_a_bad_poc_table_is_one_clear_error(tmp_path: Path, settings: str, message: str) -> None:
    with pytest.raises(SettingsError, match="pyproject.toml: " + message.replace(".", r"\.")):
        load_settings(project(tmp_path, {}, settings=settings))


def test_asking_for_a_poc_the_project_does_not_have_says_which_it_has(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="there is no PoC 5: this project's PoCs are 1, 2"):
        load_workspace(project(tmp_path, {}), 5)
