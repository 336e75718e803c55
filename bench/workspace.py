"""Synthetic pocflow workspaces for benchmarks: N steps, 5 tests each, two shared helpers."""

from __future__ import annotations

from pathlib import Path

DODO = """from pocflow import doit_config, generate_tasks

DOIT_CONFIG = doit_config(__file__)


def task_pocflow():
    yield from generate_tasks(__file__)
"""

PYPROJECT = """[tool.pocflow]
poc = 1
# synthetic steps: nobody writes their results docs
undocumented = "warn"

[tool.pytest.ini_options]
pythonpath = ["PoC"]
"""

HELPER = '''"""Shared helper {name}.

Usage:
    from {name} import scale
"""


def scale(value: int) -> int:
    return value * {factor}
'''

SCRIPT = '''"""Step {n}: synthetic work.

Usage:
    python PoC/step{n}_work.py
"""

import json
import os
{imports}

def work(limit: int) -> int:
    total = sum(i * i for i in range(limit))
    return {body}


if __name__ == "__main__":
    result = work(2000)
    target = os.environ.get("POCFLOW_METRICS_FILE")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump({{"result": result}}, handle)
'''

TEST = """from step{n}_work import work


def test_zero():
    assert work(0) == {zero}


def test_one():
    assert work(1) == {zero}


def test_small():
    assert work(3) >= 5


def test_grows():
    assert work(10) < work(20)


def test_type():
    assert isinstance(work(5), int)
"""


def helpers_of(n: int) -> list[str]:
    """The shared helpers step n imports: helper_a every 3rd step, helper_b every 5th."""
    return [name for name, every in (("helper_a", 3), ("helper_b", 5)) if n % every == 0]


def make_workspace(root: Path, steps: int) -> Path:
    """Write a workspace of `steps` independent steps under root."""
    (root / "PoC").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "dodo.py").write_text(DODO, encoding="utf-8")
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for name, factor in (("helper_a", 2), ("helper_b", 3)):
        (root / "PoC" / f"{name}.py").write_text(
            HELPER.format(name=name, factor=factor), encoding="utf-8"
        )
    plan = [
        "# PoC 1 Implementation Plan: Benchmark",
        "",
        "Shared helpers: `PoC/helper_a.py`, `PoC/helper_b.py`.",
        "",
        "## Implementation Steps",
        "",
    ]
    for n in range(1, steps + 1):
        helpers = helpers_of(n)
        body = "total"
        for helper in helpers:
            body = f"{helper}.scale({body})"
        imports = "".join(f"import {h}\n" for h in helpers)
        (root / "PoC" / f"step{n}_work.py").write_text(
            SCRIPT.format(n=n, imports=imports, body=body), encoding="utf-8"
        )
        (root / "tests" / f"test_step{n}_work.py").write_text(
            TEST.format(n=n, zero=0), encoding="utf-8"
        )
        plan += [f"### Step {n}: Work {n}", "", f"**Goal**: synthetic work {n}.", ""]
    plan += ["## Production-Grade Checklist", "", "- [x] **Synthetic**: benchmark only", ""]
    (root / "docs" / "poc1-implementation.md").write_text("\n".join(plan), encoding="utf-8")
    return root


PLAIN_DODO = '''"""A plain doit dodo file shaped like a pocflow workspace's tasks and file_deps."""

from pathlib import Path

STEPS = {steps}
HELPERS = {helpers}
Path(".plain").mkdir(exist_ok=True)
DOIT_CONFIG = {{"backend": "sqlite3", "dep_file": ".plain/doit.sqlite",
               "check_file_uptodate": "md5"}}


def touch(target):
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text("done", encoding="utf-8")


def task_implement():
    for n in range(1, STEPS + 1):
        yield {{"name": str(n), "actions": [(touch, [f".plain/i{{n}}"])],
               "file_dep": [f"PoC/step{{n}}_work.py", *HELPERS[n]],
               "targets": [f".plain/i{{n}}"]}}


def task_test():
    for n in range(1, STEPS + 1):
        yield {{"name": str(n), "actions": [(touch, [f".plain/t{{n}}"])],
               "file_dep": [f"tests/test_step{{n}}_work.py", f"PoC/step{{n}}_work.py",
                            *HELPERS[n], f".plain/i{{n}}"],
               "targets": [f".plain/t{{n}}"]}}


def task_document():
    for n in range(1, STEPS + 1):
        yield {{"name": str(n), "actions": [(touch, [f".plain/d{{n}}"])],
               "file_dep": [f".plain/i{{n}}", f".plain/t{{n}}"], "targets": [f".plain/d{{n}}"]}}


def task_state():
    for n in range(1, STEPS + 1):
        yield {{"name": str(n), "actions": [(touch, [f".plain/s{{n}}"])],
               "file_dep": [f".plain/i{{n}}", f".plain/t{{n}}"], "targets": [f".plain/s{{n}}"]}}


def task_gate():
    return {{"actions": [(touch, [".plain/gate"])],
            "file_dep": [f".plain/s{{n}}" for n in range(1, STEPS + 1)],
            "targets": [".plain/gate"]}}
'''


def make_plain_dodo(root: Path, steps: int) -> Path:
    """A plain doit dodo file beside the workspace, with the same tasks and file_deps."""
    helpers = {n: [f"PoC/{h}.py" for h in helpers_of(n)] for n in range(1, steps + 1)}
    path = root / "plain_dodo.py"
    path.write_text(PLAIN_DODO.format(steps=steps, helpers=repr(helpers)), encoding="utf-8")
    return path
