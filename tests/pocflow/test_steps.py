"""Step ids: the file-name grammar, natural order, discovery and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocflow.errors import DiscoveryError
from pocflow.steps import discover_steps, parse_step_filename, parse_step_id, step_sort_key


@pytest.mark.parametrize(
    ("filename", "step_id", "description", "validation"),
    [
        ("step1_load.py", "1", "load", False),
        ("step3a_index.py", "3a", "index", False),
        ("step3b_rank.py", "3b", "rank", False),
        ("step4_1_grid.py", "4_1", "grid", False),
        ("step4_1.py", "4_1", "", False),
        ("step2_validate_rows.py", "2", "validate_rows", True),
        ("step2_validate.py", "2", "validate", True),
        ("step10_final_report.py", "10", "final_report", False),
        ("step4_2024_data.py", "4_2024", "data", False),
        ("step07_x.py", "7", "x", False),
    ],
)
def test_parse_step_filename_grammar(
    filename: str, step_id: str, description: str, validation: bool
) -> None:
    name = parse_step_filename(filename)
    assert name is not None
    assert (name.step_id, name.description, name.is_validation) == (
        step_id,
        description,
        validation,
    )


@pytest.mark.parametrize(
    "filename", ["stepx.py", "step_1.py", "step1.txt", "steps.py", "step3ab_x.py", "helper.py"]
)
def test_parse_step_filename_rejects_non_steps(filename: str) -> None:
    assert parse_step_filename(filename) is None


def test_parse_test_filename_does_not_swallow_alternative() -> None:
    four = parse_step_filename("test_step4_nearest.py", prefix="test_step")
    alternative = parse_step_filename("test_step4_1_grid.py", prefix="test_step")
    assert four is not None and alternative is not None
    assert (four.step_id, alternative.step_id) == ("4", "4_1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3b", "3b"),
        ("Step 3B", "3b"),
        ("step4_1", "4_1"),
        (" 10 ", "10"),
        ("03", "3"),
        ("x", None),
        ("3-b", None),
        ("", None),
    ],
)
def test_parse_step_id(text: str, expected: str | None) -> None:
    assert parse_step_id(text) == expected


def test_step_sort_key_is_natural_order() -> None:
    ids = ["10", "4_1", "3b", "1", "4", "2", "3a", "4_10", "4_2"]
    assert sorted(ids, key=step_sort_key) == ["1", "2", "3a", "3b", "4", "4_1", "4_2", "4_10", "10"]


def _touch(root: Path, *paths: str) -> None:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("", encoding="utf-8")


def test_discover_steps_matches_tests_to_steps(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "PoC/step4_nearest.py",
        "PoC/step4_1_grid.py",
        "PoC/helpers.py",
        "PoC/step2_load.py",
        "PoC/step2_validate_load.py",
        "tests/test_step4_nearest.py",
        "tests/test_step4_1_grid.py",
        "tests/test_step4_more.py",
        "steps/step4_1.yaml",
    )
    found = discover_steps(tmp_path, "PoC", "tests", "steps")
    assert list(found.steps) == ["2", "4", "4_1"]
    assert found.steps["4"].tests == ["tests/test_step4_more.py", "tests/test_step4_nearest.py"]
    assert found.steps["4_1"].tests == ["tests/test_step4_1_grid.py"]
    assert found.steps["4_1"].manifest == "steps/step4_1.yaml"
    assert found.steps["2"].validations == ["PoC/step2_validate_load.py"]
    assert found.warnings == []


def test_a_link_that_loops_hides_no_other_step_file(tmp_path: Path) -> None:
    """A link named like a step file that leads to itself is no file (as a folder of that
    name is not): left out, and every other step file is found."""
    _touch(tmp_path, "PoC/step1_a.py", "tests/test_step1_a.py", "steps/step1.yaml")
    for loop in ("PoC/step9_loop.py", "tests/test_step9_loop.py", "steps/step9.yaml"):
        (tmp_path / loop).symlink_to((tmp_path / loop).name)
    found = discover_steps(tmp_path, "PoC", "tests", "steps")
    assert list(found.steps) == ["1"]
    assert found.steps["1"].script == "PoC/step1_a.py"
    assert found.steps["1"].tests == ["tests/test_step1_a.py"]
    assert found.steps["1"].manifest == "steps/step1.yaml"


def test_discover_steps_two_main_scripts_is_an_error(tmp_path: Path) -> None:
    _touch(tmp_path, "PoC/step3_a.py", "PoC/step3_b.py")
    with pytest.raises(
        DiscoveryError,
        match=r"PoC/step3_b.py: step 3 has two main scripts, "
        r"PoC/step3_a.py and PoC/step3_b.py; keep one",
    ):
        discover_steps(tmp_path, "PoC", "tests", "steps")


def test_discover_steps_warns_about_misnamed_step_files(tmp_path: Path) -> None:
    _touch(tmp_path, "PoC/stepone.py", "PoC/Step2_sum_it.py", "tests/test_stepx.py")
    found = discover_steps(tmp_path, "PoC", "tests", "steps")
    assert found.steps == {}
    assert sorted(w.split(":")[0] for w in found.warnings) == [
        "PoC/Step2_sum_it.py",  # a capital: met, and named (it was ignored without a word)
        "PoC/stepone.py",
        "tests/test_stepx.py",
    ]


def test_a_test_file_pytest_collects_that_is_no_steps_is_named(tmp_path: Path) -> None:
    # pytest collects each of these (plain pytest fails when they fail); pocflow runs a
    # step's tests from tests/test_step<id>_<name>.py only: a person must hear of them
    _touch(
        tmp_path,
        "tests/test_step2_sum.py",
        "tests/more/test_step2_extra.py",  # a subfolder
        "tests/test_Step2_upper.py",  # another case
        "tests/step2_sum_test.py",  # pytest's other name pattern
        "tests/poc2/test_step1_x.py",  # PoC 2's own tests folder: not PoC 1's concern
        "tests/test_helpers.py",  # no step in its name: a test file of its own
        "tests/data/step2_notes.txt",
    )
    found = discover_steps(tmp_path, "PoC", "tests", "steps")
    assert list(found.steps) == ["2"]
    assert found.warnings == [
        f"{rel}: pytest collects it, but it is no step's test file "
        "(tests/test_step<id>_<name>.py): pocflow does not run it; rename or move it"
        for rel in (
            "tests/more/test_step2_extra.py",
            "tests/step2_sum_test.py",
            "tests/test_Step2_upper.py",
        )
    ]


def test_a_folder_named_like_a_manifest_is_named_not_skipped_silently(tmp_path: Path) -> None:
    _touch(tmp_path, "PoC/step1_a.py")
    (tmp_path / "steps/step1.yaml").mkdir(parents=True)
    found = discover_steps(tmp_path, "PoC", "tests", "steps")
    assert found.steps["1"].manifest is None
    assert found.warnings == [
        "steps/step1.yaml: a folder named like a step manifest; it is ignored (a manifest is "
        "a file)"
    ]
