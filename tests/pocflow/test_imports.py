"""Static discovery of the local modules a file imports."""

from __future__ import annotations

from pathlib import Path

from pocflow.imports import local_imports
from pocflow.inputs import conftests_above


def make(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def test_local_imports_are_transitive_and_local_only(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "PoC/step1_a.py": "import os\nimport helper\nfrom yaml import safe_load\n",
            "PoC/helper.py": "from deeper import x\n",
            "PoC/deeper.py": "x = 1\n",
            "PoC/unused.py": "",
        },
    )
    assert local_imports(tmp_path, ["PoC/step1_a.py"], ()) == ["PoC/deeper.py", "PoC/helper.py"]


def test_local_imports_packages_and_relative_imports(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "tests/test_step1_a.py": "from lib.sub import thing\nimport lib.other as o\n",
            "lib/__init__.py": "",
            "lib/sub/__init__.py": "from . import thing\nfrom ..other import y\n",
            "lib/sub/thing.py": "",
            "lib/other.py": "y = 2\n",
        },
    )
    assert local_imports(tmp_path, ["tests/test_step1_a.py"], ["."]) == [
        "lib/__init__.py",
        "lib/other.py",
        "lib/sub/__init__.py",
        "lib/sub/thing.py",
    ]


def test_local_imports_searches_extra_roots(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "tests/test_step1_a.py": "import step1_a\n",
            "PoC/step1_a.py": "import h\n",
            "PoC/h.py": "",
        },
    )
    assert local_imports(tmp_path, ["tests/test_step1_a.py"], ["PoC"]) == [
        "PoC/h.py",
        "PoC/step1_a.py",
    ]


def test_local_imports_survives_syntax_errors_and_cycles(tmp_path: Path) -> None:
    make(
        tmp_path,
        {"a.py": "import b\n", "b.py": "import a\nimport broken\n", "broken.py": "def (:\n"},
    )
    assert local_imports(tmp_path, ["a.py"], ()) == ["b.py", "broken.py"]


def test_the_conftests_above_a_test_are_every_one_pytest_loads_for_it(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "conftest.py": "",
            "tests/conftest.py": "",
            "tests/deep/inner/conftest.py": "",
            "tests/other/conftest.py": "",
            "elsewhere/conftest.py": "",
        },
    )
    tests = ["tests/deep/inner/test_a.py", "tests/deep/test_b.py", "tests/test_c.py"]
    assert conftests_above(tmp_path, tests) == [
        "conftest.py",
        "tests/conftest.py",
        "tests/deep/inner/conftest.py",
    ]
    assert conftests_above(tmp_path, ["test_top.py"]) == ["conftest.py"]
    assert conftests_above(tmp_path / "tests", ["test_c.py"]) == ["conftest.py"]
