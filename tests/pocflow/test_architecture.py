"""The shape of the code: no import cycles, and doit spoken only at the edge."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pocflow"

#: the adapter: task dicts and their actions, the reporter, commands, the dependency store
DOIT_EDGE = {"tasks", "phases", "reporter", "store", "checker", "_command"}


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(pocflow modules, other top-level packages) a module imports, lazily or not."""
    ours, others = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "pocflow":
                ours |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
            else:
                others.add(parts[0])
        elif isinstance(node, ast.Import):
            others |= {alias.name.split(".")[0] for alias in node.names}
    return ours, others


def test_no_module_imports_itself_back_even_lazily() -> None:
    graph = {path.stem: imports_of(path)[0] - {path.stem} for path in PACKAGE.glob("*.py")}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_only_the_adapter_speaks_doit() -> None:
    speaking = {path.stem for path in PACKAGE.glob("*.py") if "doit" in imports_of(path)[1]}
    commands = {name for name in speaking if name.startswith("cmd_")}
    assert speaking - commands == DOIT_EDGE
