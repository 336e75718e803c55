"""Static discovery of the local modules a file imports."""

from __future__ import annotations

import ast
from pathlib import Path

from pocflow.imports import _parse_imports, local_imports
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


#: a module with an import in every kind of statement block Python has
EVERY_BLOCK = """
import top
from . import sibling
def f():
    import in_function
    class Inner:
        from pkg.deep import name
    return lambda: __import__("not_a_statement")
class C:
    import in_class
    async def g(self):
        async with x:
            import in_async_with
        async for _ in y:
            import in_async_for
        else:
            import in_async_for_else
if cond:
    import in_if
elif other:
    import in_elif
else:
    import in_else
for _ in z:
    import in_for
else:
    import in_for_else
while w:
    import in_while
else:
    import in_while_else
with ctx:
    import in_with
try:
    import in_try
except ImportError:
    import in_except
else:
    import in_try_else
finally:
    import in_finally
try:
    pass
except* ValueError:
    import in_except_star
match v:
    case 1:
        import in_case
    case _:
        from ..up import in_default_case
"""


def test_the_import_scan_finds_the_imports_of_every_kind_of_block_as_a_full_walk_does(
    tmp_path: Path,
) -> None:
    source = tmp_path / "every.py"
    source.write_text(EVERY_BLOCK, encoding="utf-8")
    walked: list[tuple[str, int, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(EVERY_BLOCK)):  # every node, expressions included
        if isinstance(node, ast.Import):
            walked += [(alias.name, 0, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            walked.append((node.module or "", node.level, tuple(a.name for a in node.names)))
    assert len(walked) == 23  # every import statement of the source: not the __import__ call
    assert _parse_imports(source) == walked
