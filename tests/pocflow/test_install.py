"""Installing pocflow as docs/install.md says, from the wheel `uv build` makes, in fresh folders.

The commands are read from docs/install.md's console blocks and run as written, with the
built wheel as SOURCE. uv resolves pocflow's dependencies from the package index (or its
cache): with POCFLOW_OFFLINE=1 these tests are skipped where the index cannot be reached.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from support import REPO

pytestmark = pytest.mark.e2e

INSTALL = REPO / "docs" / "install.md"
PLAN = """# PoC 1 Implementation Plan: Word Counts

## Implementation Steps

### Step 1: Count words
**Goal**: Count the words of a text.

## Production-Grade Checklist

- [x] **Real data**: the project's own README
"""
SCRIPT = (
    '"""Count words.\n\nUsage:\n    python PoC/step1_count_words.py\n"""\n'
    "import json\n\n\ndef count(text):\n    return len(text.split())\n\n\n"
    "if __name__ == '__main__':\n"
    "    json.dump({'words': count(open('README.md').read())}, open('counts.json', 'w'))\n"
)
TEST = (
    "import json\n\nfrom step1_count_words import count\n\n\n"
    "def test_count():\n    assert count('a b') == 2\n\n\n"
    "def test_readme():\n    assert json.load(open('counts.json')) == {'words': 3}\n"
)


def commands_under(heading: str) -> list[str]:
    """The `$ ` lines of the console block that follows a heading of docs/install.md."""
    text = INSTALL.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None, f"docs/install.md: no console block under '{heading}'"
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def uv_environment() -> dict[str, str]:
    """This session's environment without what ties uv to this repository's project."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
        and not k.startswith("POCFLOW_")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_PYTHON"] = getattr(sys, "_base_executable", sys.executable)
    return env


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail(
            "uv is not installed: the documented install needs it (python -m pip install uv)"
        )
    return found


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        env=uv_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def run_documented(commands: list[str], cwd: Path, source: Path) -> None:
    for command in commands:
        argv = shlex.split(command.replace("SOURCE", str(source)))
        assert argv[0] == "uv", command
        done = run([uv(), *argv[1:]], cwd)
        if (
            done.returncode != 0
            and os.environ.get("POCFLOW_OFFLINE") == "1"
            and "index" in done.stderr.lower()
        ):
            pytest.skip("POCFLOW_OFFLINE=1: the package index is not reachable here")
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`uv build`: the sdist, then the wheel built from it (so the sdist must carry all)."""
    out = tmp_path_factory.mktemp("dist")
    done = run([uv(), "build", "--out-dir", str(out), str(REPO)], out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("pocflow-*.whl")
    return found


def test_the_sdist_carries_the_sources_templates_and_schemas(dist: Path) -> None:
    import tarfile

    (sdist,) = dist.glob("pocflow-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {
        "pyproject.toml",
        "README.md",
        "src/pocflow/__init__.py",
        "src/pocflow/schemas/manifest.schema.json",
        "src/pocflow/templates/step-results.md",
    } <= names


def test_the_built_wheel_carries_templates_schemas_and_entry_points(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (REPO / "src/pocflow/templates").rglob("*"):
        if template.is_file():
            assert template.relative_to(REPO / "src").as_posix() in names
    assert {"pocflow/schemas/manifest.schema.json", "pocflow/schemas/status.schema.json"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[doit.COMMAND]" in text and "[doit.BACKEND]" in text and "[doit.REPORTER]" in text


def _write_poc(project: Path) -> None:
    (project / "docs").mkdir(exist_ok=True)
    (project / "docs/poc1-implementation.md").write_text(PLAN, encoding="utf-8")
    (project / "README.md").write_text("one two three\n", encoding="utf-8")


def _finish_poc(project: Path) -> None:
    """Scaffold, write the step, and run plain pytest and the gate as the tutorial does."""
    scaffold = run([uv(), "run", "--locked", "doit", "scaffold"], project)
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    (project / "PoC/step1_count_words.py").write_text(SCRIPT, encoding="utf-8")
    (project / "tests/test_step1_count_words.py").write_text(TEST, encoding="utf-8")
    gate = run([uv(), "run", "--locked", "doit", "poc-complete"], project)
    assert gate.returncode == 1  # verified, but the results doc is not written yet
    assert (
        "docs/word-counts-step1-results.md: Summary, Bug Fixes During Development"
        in gate.stdout + gate.stderr
    )
    doc = project / "docs/word-counts-step1-results.md"
    doc.write_text(
        doc.read_text(encoding="utf-8")
        .replace(
            "_What did this step prove? Write it here; pocflow never rewrites this section._",
            "The README has three words.",
        )
        .replace(
            "_Record each bug met while building this step as `### 1. <Issue Name>` with "
            "**Issue** and **Fix**._",
            "None met.",
        ),
        encoding="utf-8",
    )
    gate = run([uv(), "run", "--locked", "doit", "poc-complete"], project)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert (project / "docs/poc1-results.md").is_file()
    plain = run([uv(), "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert plain.returncode == 0, plain.stdout + plain.stderr  # the scripts import


@pytest.mark.parametrize("source", ["wheel", "checkout"])
def test_install_in_an_empty_folder_as_documented(wheel: Path, tmp_path: Path, source: str) -> None:
    project = tmp_path / "fresh"
    project.mkdir()
    run_documented(
        commands_under("In an empty folder"), project, wheel if source == "wheel" else REPO
    )
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("pocflow") for d in pyproject["dependency-groups"]["dev"])
    assert not pyproject["project"].get("dependencies")  # a dev tool, not a runtime one
    _write_poc(project)
    _finish_poc(project)


def test_install_in_a_library_that_supports_older_pythons_as_documented(
    wheel: Path, tmp_path: Path
) -> None:
    project = tmp_path / "lib"
    (project / "src/lib").mkdir(parents=True)
    (project / "src/lib/__init__.py").write_text("VERSION = '2.0'\n", encoding="utf-8")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "lib"\nversion = "2.0"\nrequires-python = ">=3.9"\ndependencies = []\n',
        encoding="utf-8",
    )
    run_documented(commands_under("In an existing library or application"), project, wheel)
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert text.startswith('[project]\nname = "lib"\nversion = "2.0"\nrequires-python = ">=3.9"')
    pyproject = tomllib.loads(text)
    assert pyproject["project"]["dependencies"] == []
    assert any(d.startswith("pocflow") for d in pyproject["dependency-groups"]["dev"])
    _write_poc(project)
    _finish_poc(project)
