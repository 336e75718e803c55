"""Reading implementation plans leniently."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocflow.errors import GraphError, PlanError
from pocflow.plan import load_plan, parse_plan
from pocflow.workspace import load_workspace

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent


def test_parse_sample_plan_reads_every_field() -> None:
    plan = load_plan(REPO, "docs/poc1-implementation.md")
    assert plan is not None
    assert (plan.number, plan.name) == (1, "Time-Zone Atlas")
    assert list(plan.steps) == ["1", "2", "3a", "3b", "4", "4_1"]
    assert plan.steps["3b"].name == "Country lookup"  # heading with an em dash
    assert plan.steps["3b"].depends_on == ["3a"]
    assert plan.steps["4_1"].depends_on == ["4"]
    assert plan.steps["1"].depends_on == []
    assert plan.steps["2"].verification == "uv run pytest tests/test_step2_coordinates.py -v"
    assert plan.proves.startswith("The IANA tz database")
    assert [item.label for item in plan.checklist][:2] == ["No mock data", "Real integration"]
    assert all(item.ticked for item in plan.checklist)
    assert plan.warnings == []


def test_parse_messy_plan_reads_what_it_can_and_warns_with_lines() -> None:
    path = HERE / "plans" / "messy.md"
    plan = parse_plan(path.read_text(encoding="utf-8"), "messy.md")
    assert (plan.number, plan.name) == (2, "Invoice OCR")
    assert list(plan.steps) == ["1", "2", "3a", "4_1", "9"]
    assert plan.steps["1"].goal == "read one PDF"
    assert plan.steps["2"].name == "Extract totals"
    assert plan.steps["2"].goal == "extract the total"
    assert plan.steps["2"].depends_on == ["1"]
    assert plan.steps["2"].verification == "uv run pytest tests/test_step2_*.py -v"
    assert plan.steps["3a"].depends_on == ["1", "2"]
    assert plan.steps["4_1"].depends_on == []
    assert [(i.label, i.ticked) for i in plan.checklist] == [
        ("No mock data", True),
        ("Error handling", False),
        ("plain item without bold label", True),
    ]
    text = "\n".join(plan.warnings)
    assert "messy.md:28: cannot read a step id in heading '### Step three: Export'" in text
    assert "messy.md:33: cannot read step ids in **Depends On**" in text
    assert "messy.md:25: step 3a has no **Goal**" in text


@pytest.mark.parametrize("text", ["", "just prose\n", "# Something else\n\n## Overview\n"])
def test_parse_plan_without_steps_warns(text: str) -> None:
    plan = parse_plan(text, "p.md")
    assert plan.steps == {}
    assert any("no steps found" in w for w in plan.warnings)


def test_parse_plan_duplicate_step_keeps_first() -> None:
    plan = parse_plan(
        "## Implementation Steps\n### Step 1: A\n**Goal**: a\n### Step 1: B\n**Goal**: b\n", "p.md"
    )
    assert plan.steps["1"].name == "A"
    assert any("p.md:4: step 1 is described twice" in w for w in plan.warnings)
    assert plan.unread_steps == [(4, "Step 1: B")]  # (the gate does not pass over it)


def test_parse_plan_unclosed_fence_warns() -> None:
    plan = parse_plan("## Implementation Steps\n### Step 1: A\n**Goal**: a\n```\ncode\n", "p.md")
    assert any("never closed" in w for w in plan.warnings)


def test_load_plan_missing_is_none(tmp_path: Path) -> None:
    assert load_plan(tmp_path, "docs/poc1-implementation.md") is None


def test_load_plan_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "plan.md").write_bytes(b"# PoC 1 Implementation Plan: X\n\n\xff\xfe bad\n")
    with pytest.raises(PlanError, match=r"^plan.md:3: the plan is not valid UTF-8"):
        load_plan(tmp_path, "plan.md")


def test_parse_agent_written_plan_with_indented_code_and_plain_labels() -> None:
    plan = parse_plan((HERE / "plans" / "agent.md").read_text(encoding="utf-8"), "agent.md")
    assert (plan.number, plan.name) == (4, "Event Ingest")
    assert plan.overview["Production-Grade Because"].startswith("real PostgreSQL 15")
    assert list(plan.steps) == ["1", "2", "2_1"]
    assert plan.steps["1"].name == "Schema"
    assert plan.steps["1"].depends_on == []
    assert plan.steps["1"].verification == "uv run pytest tests/test_step1_schema.py -v"
    assert (plan.steps["2"].goal, plan.steps["2"].depends_on) == ("batch insert events", ["1"])
    assert plan.steps["2_1"].depends_on == ["1", "2"]
    assert [(i.label, i.ticked) for i in plan.checklist] == [
        ("No mock data", True),
        ("Real integration", False),
    ]
    assert plan.warnings == []


def test_a_step_under_a_level_two_heading_is_named_with_its_line() -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        "### Step 1: A\n**Goal**: a\n\n## Step 2: Forgotten\n**Goal**: b\n",
        "p.md",
    )
    assert list(plan.steps) == ["1"]
    assert (
        "p.md:8: '## Step 2: Forgotten' is a level-2 heading: a step is described under "
        "'### Step 2: Forgotten' (three #), or pocflow does not see it" in plan.warnings
    )


def test_steps_without_an_implementation_steps_heading_keep_their_goals_and_dependencies() -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: Word Stats\n\n## Overview\n\n"
        "| Item | Value |\n|---|---|\n| Goal | count words |\n\n"
        "### Step 1: Load words\n\n**Goal**: Read the words.\n\n"
        "### Step 2: Count words\n\n**Goal**: Count them.\n**Depends On**: Step 1\n\n"
        "## Production-Grade Checklist\n\n- [x] **Real data**: yes\n",
        "docs/plan.md",
    )
    assert plan.warnings == []
    assert plan.steps["1"].goal == "Read the words."
    assert plan.steps["2"].goal == "Count them."
    assert plan.steps["2"].depends_on == ["1"]
    assert [item.ticked for item in plan.checklist] == [True]


def test_a_plan_of_another_poc_than_the_setting_is_named_with_its_title_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "poc2-implementation.md").write_text(
        "\n# PoC 1 Implementation Plan: Atlas\n\n## Implementation Steps\n\n"
        "### Step 1: Load\n**Goal**: load\n",
        encoding="utf-8",
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pocflow]\npoc = 2\nplan = "docs/poc2-implementation.md"\n', encoding="utf-8"
    )
    ws = load_workspace(tmp_path)
    assert ws.warnings == [
        "docs/poc2-implementation.md:2: the plan's title says PoC 1, but tool.pocflow.poc is 2: "
        "set poc = 1, or point plan at PoC 2's plan"
    ]


def test_a_plan_saved_with_a_byte_order_mark_keeps_its_title(tmp_path: Path) -> None:
    # Windows editors save one: the title, and so every document's name, must not change
    text = (Path(__file__).parents[2] / "docs/poc1-implementation.md").read_text(encoding="utf-8")
    (tmp_path / "plan.md").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    plain = parse_plan(text, "plan.md")
    marked = load_plan(tmp_path, "plan.md")
    assert marked is not None
    assert (marked.number, marked.name) == (plain.number, plain.name) != (None, "")
    assert marked.warnings == plain.warnings
    assert list(marked.steps) == list(plain.steps)


def test_a_plan_without_a_title_line_says_what_the_poc_is_named_instead() -> None:
    plan = parse_plan("## Implementation Steps\n\n### Step 1: A\n**Goal**: a\n", "p.md")
    assert plan.number is None
    assert plan.warnings == [
        "p.md:1: no title line '# PoC N Implementation Plan: <Name>': the PoC, and its "
        "documents' names, take 'PoC N' instead of its name"
    ]


def test_a_dotted_step_id_in_depends_on_is_named_not_split_in_two() -> None:
    text = (
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        "### Step 1: A\n**Goal**: a\n\n### Step 4: B\n**Goal**: b\n"
        "**Depends On**: Step 2.5, Step 1\n"
    )
    plan = parse_plan(text, "p.md")
    assert plan.steps["4"].depends_on == ["1"]
    assert plan.warnings == [
        "p.md:10: **Depends On** names step '2.5': a step id has no dot (3a, 4_1); it is left out"
    ]


def test_a_step_heading_with_a_note_in_brackets_is_read() -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        "### Step 3 (optional): Cache\n**Goal**: c\n",
        "p.md",
    )
    assert plan.steps["3"].name == "Cache"
    assert plan.unread_steps == []


def test_a_step_heading_whose_id_cannot_be_read_is_kept_for_the_gate() -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        "### Step 1: A\n**Goal**: a\n\n### Step 2.5: Halfway\n**Goal**: h\n",
        "p.md",
    )
    assert list(plan.steps) == ["1"]
    assert plan.unread_steps == [(8, "Step 2.5: Halfway")]


def test_a_sub_step_one_heading_level_down_is_a_step_and_other_headings_are_not() -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        "### Step 4: Parent\n**Goal**: p\n\n#### Notes\nsome text\n\n"
        "#### Step 4a: First half\n**Goal**: a\n**Depends On**: Step 4\n",
        "p.md",
    )
    assert list(plan.steps) == ["4", "4a"]
    assert plan.steps["4a"].depends_on == ["4"]
    assert plan.warnings == [] and plan.unread_steps == []


@pytest.mark.parametrize(
    "heading",
    [
        "### Notes",
        "### Summary",
        "### Steps overview",
        "### Step-by-step notes",
        "#### Step 1 details",
        "#### Notes on step 1",
    ],
)
def test_a_heading_that_is_no_step_is_the_plans_text_not_an_unreadable_step(
    heading: str,
) -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        f"### Step 1: A\n**Goal**: a\n\n{heading}\n\nsome text\n\n"
        "### Step 2: B\n**Goal**: b\n**Depends On**: Step 1\n",
        "p.md",
    )
    assert list(plan.steps) == ["1", "2"]
    assert plan.steps["2"].depends_on == ["1"]
    assert plan.unread_steps == [] and plan.warnings == [], plan.warnings


@pytest.mark.parametrize(
    "heading",
    ["### Step 2.5: Halfway", "### Step 2 Top words", "### Step One: Load", "### Step 1/3: Load"],
)
def test_a_step_heading_whose_id_cannot_be_read_is_reported(heading: str) -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        f"### Step 1: A\n**Goal**: a\n\n{heading}\n**Goal**: h\n",
        "p.md",
    )
    assert plan.unread_steps == [(8, heading.removeprefix("### "))]


def test_a_fence_in_the_plan_closes_only_on_its_own_kind_of_line() -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        "### Step 1: A\n**Goal**: a\n**Verification**:\n~~~\n```bash\nuv run pytest\n~~~\n\n"
        "### Step 2: B\n**Goal**: b\n**Depends On**: Step 1\n",
        "p.md",
    )
    assert list(plan.steps) == ["1", "2"] and plan.steps["2"].depends_on == ["1"]
    assert "```bash" in plan.steps["1"].verification


@pytest.mark.parametrize(
    ("heading", "warned"),
    [("Setp 2: Sum it", True), ("Stpe 3a: X", True), ("Notes", False), ("Stage 2: X", False)],
)
def test_a_misspelt_step_heading_is_named(heading: str, warned: bool) -> None:
    plan = parse_plan(
        f"## Implementation Steps\n### Step 1: A\n**Goal**: a\n### {heading}\n**Goal**: b\n",
        "p.md",
    )
    assert list(plan.steps) == ["1"]
    said = [w for w in plan.warnings if "is not read as a step" in w]
    assert bool(said) == warned, plan.warnings
    assert bool(plan.unread_steps) == warned  # (the gate does not pass over it)
    if warned:
        assert said[0].startswith(f"p.md:4: heading '### {heading}'")


@pytest.mark.parametrize(
    ("label", "meant"),
    [("Depend On", "Depends On"), ("Gaol", "Goal"), ("Verifcation", "Verification")],
)
def test_a_misspelt_step_label_is_named_with_the_label_it_means(label: str, meant: str) -> None:
    plan = parse_plan(
        "## Implementation Steps\n### Step 1: A\n**Goal**: a\n"
        f"### Step 2: B\n**Goal**: b\n**{label}**: Step 1\n",
        "p.md",
    )
    assert f"p.md:6: **{label}** is not read (did you mean **{meant}**?)" in "\n".join(
        plan.warnings
    ), plan.warnings


def test_the_methods_other_step_labels_and_a_persons_own_are_no_warning() -> None:
    plan = parse_plan(
        "## Implementation Steps\n### Step 1: A\n**Goal**: a\n**Tasks**:\n- x\n"
        "**Output**: `out/a.txt`\n**Why Needed**: b\n**Note**: c\n**Depends on**: none\n",
        "p.md",
    )
    assert not [w for w in plan.warnings if "is not read" in w], plan.warnings


def test_a_dependency_on_no_step_names_the_line_of_its_depends_on(tmp_path: Path) -> None:
    from support import make_workspace

    ws = make_workspace(tmp_path / "ws", {"1": "", "2": ""}, depends={"2": "3"})
    with pytest.raises(GraphError) as raised:
        load_workspace(ws)
    plan = (ws / "docs/poc1-implementation.md").read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(plan, 1) if text.startswith("**Depends On**"))
    assert str(raised.value).startswith(f"docs/poc1-implementation.md:{line}: step 2 depends on")


@pytest.mark.parametrize(
    ("heading", "fix"),
    [
        ("### Step1: Load", "write it '### Step 1: Load'"),
        ("### Step-2: Sum", "write it '### Step 2: Sum'"),
        ("### STEP3a - Split", "write it '### Step 3a - Split'"),
        ("### Step2 Population stats", "expected '### Step 3b: <Name>'"),
        ("#### Step4a: Half", "write it '### Step 4a: Half'"),
    ],
)
def test_a_step_heading_with_step_and_its_id_run_together_is_reported_not_skipped(
    heading: str, fix: str
) -> None:
    plan = parse_plan(
        "# PoC 1 Implementation Plan: X\n\n## Implementation Steps\n\n"
        f"### Step 1a: A\n**Goal**: a\n\n{heading}\n**Goal**: h\n**Depends On**: Step 1a\n",
        "p.md",
    )
    title = heading.lstrip("#").strip()
    assert plan.unread_steps == [(8, title)]  # (the gate does not pass over it)
    assert plan.warnings == [f"p.md:8: cannot read a step id in heading '### {title}' ({fix})"]
    assert plan.steps["1a"].depends_on == []  # (its Depends On is not step 1a's)


@pytest.mark.parametrize("value", ["PoC 1 Step 1", "PoC 1's step 2, Step 1", "PoC1 Step 3a"])
def test_a_dependency_on_another_pocs_step_is_named_and_left_out(value: str) -> None:
    plan = parse_plan(
        "# PoC 2 Implementation Plan: X\n\n## Implementation Steps\n\n"
        f"### Step 1: A\n**Goal**: a\n\n### Step 2: B\n**Goal**: b\n**Depends On**: {value}\n",
        "p.md",
    )
    kept = ["1"] if value.endswith(", Step 1") else []
    assert plan.steps["2"].depends_on == kept
    assert any("a step depends on steps of its own PoC only" in w for w in plan.warnings)


def test_checklist_items_of_every_list_marker_are_read() -> None:
    # Markdown's task lists take `+` bullets and numbered items too: those were passed
    # over, and the gate passed with them unticked
    plan = parse_plan(
        "# PoC 1 Implementation Plan: P\n\n## Implementation Steps\n\n### Step 1: One\n\n"
        "## Production-Grade Checklist\n\n"
        "- [x] **Dash**: yes\n* [x] **Star**: yes\n+ [ ] **Plus**: no\n"
        "1. [ ] **Dot**: no\n2) [X] **Paren**: yes\n   10. [ ] **Nested**: no\n"
        "-[ ] **Not an item**: no space after the marker\n"
    )
    assert [(i.label, i.ticked) for i in plan.checklist] == [
        ("Dash", True),
        ("Star", True),
        ("Plus", False),
        ("Dot", False),
        ("Paren", True),
        ("Nested", False),
    ]
