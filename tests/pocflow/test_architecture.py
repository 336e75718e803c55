"""The shape of the code: five layers, each importing only its own and those below it (no
import cycles), and doit spoken only at the edge. docs/design.md draws the same map."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pocflow"

#: the adapter: task dicts and their actions, the reporter, commands, the dependency store
DOIT_EDGE = {"tasks", "phases", "reporter", "store", "checker", "_command"}

#: the layers, bottom up, and their modules (docs/design.md, "The map")
LAYERS = {
    "model": """_fs errors layout redact _proc schema metrics pytest_config markdown fingerprint
        settings steps plan
        manifest workspace documents record imports""",
    "evidence": "_observe _session _select observed inputs freshness status signals",
    "render": "render drift merge",
    "run": """_forkserver testing implement batch reuse run shard healthcheck gate verdict
        scaffold""",
    "plugin": """__init__ tasks phases reporter store checker _command cli cmd_drift cmd_new
        cmd_dumpdb cmd_info cmd_next_poc cmd_pytest cmd_run cmd_scaffold cmd_small_win_check
        cmd_status""",
}
LAYER_OF = {module: n for n, names in enumerate(LAYERS.values()) for module in names.split()}


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


def test_every_module_has_a_layer_and_imports_only_its_own_and_those_below() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    assert modules == set(LAYER_OF), "add the module to LAYERS here and to docs/design.md"
    names = list(LAYERS)
    upward = [
        f"{module} ({names[LAYER_OF[module]]}) imports {dep} ({names[LAYER_OF[dep]]})"
        for module in sorted(modules)
        for dep in sorted(imports_of(PACKAGE / f"{module}.py")[0])
        if dep in LAYER_OF and LAYER_OF[dep] > LAYER_OF[module]
    ]
    assert upward == []


def test_the_design_map_names_every_module_in_its_layer() -> None:
    design = (PACKAGE.parents[1] / "docs" / "design.md").read_text(encoding="utf-8")
    for layer, names in LAYERS.items():
        row = next(line for line in design.splitlines() if line.startswith(f"| **{layer}** |"))
        assert sorted(name for name in names.split() if name != "__init__") == sorted(
            re.findall(r"`([\w]+)\.py`", row)
        ), layer


def test_only_the_adapter_speaks_doit() -> None:
    speaking = {path.stem for path in PACKAGE.glob("*.py") if "doit" in imports_of(path)[1]}
    commands = {name for name in speaking if name.startswith("cmd_")}
    assert speaking - commands == DOIT_EDGE
