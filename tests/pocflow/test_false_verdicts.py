"""The false-verdict catalogue: every way found to get a ✅ over tests that really fail.

Each case starts from a verified copy of a small library-style PoC (a package in `src/`
reached through its `__init__`, through `conftest.py` and from a step script; a helper
folder put on `sys.path` by `conftest.py`; data files read by the library and by tests; no
pytest settings in `pyproject.toml`), breaks it the way a real project does, checks with
plain pytest in the same workspace that the step's tests really fail, and then checks that
`doit poc-complete` runs the step again and exits non-zero. Add a case for every new way.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest
from support import (
    PLAIN_WITHOUT,
    REPO,
    DoitRun,
    both,
    copy_sample,
    doit_env,
    edit,
    make_workspace,
    plain_pytest_run,
    private_copy,
    run_doit,
    write_files,
)

from pocflow.status import compute_status
from pocflow.workspace import load_workspace

pytestmark = pytest.mark.e2e

PLAN = """# PoC 1 Implementation Plan: Library PoC

## Implementation Steps

### Step 1: Scale from a script
**Goal**: the script writes a value computed by the library in src/.

### Step 2: Table through the package
**Goal**: the tests read the library's table through its package `__init__`.

### Step 3: Helpers through conftest
**Goal**: the tests use a conftest fixture and a helper folder put on sys.path.

### Step 4: Configuration and environment
**Goal**: the tests are sensitive to pytest's configuration and the environment.

### Step 5: Table again
**Goal**: a second step that uses the library's cached table.

## Production-Grade Checklist

- [x] **No mock data**: real files on disk
"""

FILES = {
    "pyproject.toml": '[project]\nname = "libpoc"\nversion = "0"\n\n[tool.pocflow]\npoc = 1\n'
    'undocumented = "warn"\n',
    "docs/poc1-implementation.md": PLAN,
    "src/mylib/__init__.py": '"""The library under test."""\nfrom mylib.core import scale, table\n',
    "src/mylib/core.py": (
        '"""Core of the library: a factor and a table read lazily from data/."""\n'
        "import functools\nfrom pathlib import Path\n\n"
        'DATA = Path(__file__).resolve().parents[2] / "data"\nFACTOR = 2\n\n\n'
        "def scale(x):\n    return x * FACTOR\n\n\n"
        "@functools.lru_cache\ndef table():\n"
        '    return (DATA / "table.txt").read_text(encoding="utf-8").split()\n'
    ),
    "data/table.txt": "alpha beta\n",
    "tests/data/expected.txt": "alpha\n",
    "tests/helpers/expect.py": "SCALED = 4\n",
    "tests/conftest.py": (
        '"""Puts the library, the scripts and the helpers on sys.path."""\n'
        "import sys\nfrom pathlib import Path\n\nimport pytest\n\n"
        "ROOT = Path(__file__).resolve().parents[1]\n"
        'for folder in ("src", "PoC", "tests/helpers"):\n'
        "    sys.path.insert(0, str(ROOT / folder))\n\n"
        "import mylib  # noqa: E402\n\n\n"
        "@pytest.fixture\ndef lib():\n    return mylib\n"
    ),
    "PoC/step1_scale.py": (
        '"""Step 1: scale a number with the library.\n\nUsage:\n'
        '    python PoC/step1_scale.py\n"""\n'
        "import sys\nfrom pathlib import Path\n\n"
        "ROOT = Path(__file__).resolve().parents[1]\n"
        'sys.path.insert(0, str(ROOT / "src"))\n'
        "from mylib import scale  # noqa: E402\n\n"
        '(ROOT / "out").mkdir(exist_ok=True)\n'
        '(ROOT / "out" / "step1.txt").write_text(str(scale(2)), encoding="utf-8")\n'
    ),
    "tests/test_step1_scale.py": (
        "from pathlib import Path\n\nimport expect\n\n\n"
        "def test_the_script_wrote_the_scaled_value():\n"
        "    out = Path(__file__).resolve().parents[1] / 'out' / 'step1.txt'\n"
        "    assert out.read_text(encoding='utf-8') == str(expect.SCALED)\n"
    ),
    "PoC/step2_table.py": (
        '"""Step 2: print the table.\n\nUsage:\n    python PoC/step2_table.py\n'
        '"""\nprint("table")\n'
    ),
    "tests/test_step2_table.py": (
        "from pathlib import Path\n\nimport mylib\n\n\n"
        "def test_the_table_holds_the_expected_word():\n"
        "    expected = (Path(__file__).parent / 'data' / 'expected.txt').read_text().strip()\n"
        "    assert expected in mylib.table()\n"
    ),
    "PoC/step3_helpers.py": (
        '"""Step 3: nothing to run.\n\nUsage:\n    python PoC/step3_helpers.py\n"""\n'
    ),
    "tests/test_step3_helpers.py": (
        "import expect\n\n\n"
        "def test_the_fixture_library_scales(lib):\n"
        "    assert lib.scale(2) == expect.SCALED\n"
    ),
    "PoC/step4_config.py": (
        '"""Step 4: nothing to run.\n\nUsage:\n    python PoC/step4_config.py\n"""\n'
    ),
    "tests/test_step4_config.py": (
        "import os\nimport warnings\n\n\n"
        "def test_a_warning_is_only_a_warning():\n"
        "    warnings.warn('deprecated', DeprecationWarning, stacklevel=1)\n\n\n"
        "def test_the_mode_is_normal():\n"
        "    assert os.environ.get('POC_MODE', 'normal') == 'normal'\n"
    ),
    "PoC/step5_table_again.py": (
        '"""Step 5: nothing to run.\n\nUsage:\n    python PoC/step5_table_again.py\n"""\n'
    ),
    "tests/test_step5_table_again.py": (
        "import mylib\n\n\n"
        "def test_the_table_has_two_words():\n"
        "    assert len(mylib.table()) == 2\n"
    ),
}


def make_library_poc(target: Path) -> Path:
    """Write the library PoC into target."""
    for rel, text in FILES.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    shutil.copy2(REPO / "dodo.py", target / "dodo.py")
    return target


@pytest.fixture(scope="module")
def verified_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library PoC after one passing `doit poc-complete` (do not modify)."""
    workspace = make_library_poc(tmp_path_factory.mktemp("library") / "ws")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    return workspace


@pytest.fixture
def library(verified_library: Path, tmp_path: Path) -> Path:
    """A private copy of the verified library PoC, state included."""
    return private_copy(verified_library, tmp_path / "ws")


#: the plain runs' bytecode, kept apart from every other run's (see fresh_bytecode_for)
PLAIN_PYCACHE = Path(tempfile.mkdtemp(prefix="plain-pycache-"))
atexit.register(shutil.rmtree, PLAIN_PYCACHE, ignore_errors=True)


def fresh_bytecode_for(folder: Path) -> Path:
    """The bytecode folder of the plain runs (PYTHONPYCACHEPREFIX), holding nothing compiled
    from the files under folder: a plain run compiles the workspace's source as it is now
    (an edit that kept a file's size and modification time cannot hide behind bytecode an
    earlier run wrote), while pytest's and the libraries' bytecode, compiled once per
    worker, is kept (compiling them made each plain run take seconds)."""
    mirrored = PLAIN_PYCACHE / folder.resolve().relative_to("/")
    shutil.rmtree(mirrored, ignore_errors=True)
    return PLAIN_PYCACHE


def plain_pytest(ws: Path, step: str, env: dict[str, str] | None = None) -> int:
    """The exit code of the plain alternative in the same workspace: the step's script with
    `python`, then `pytest` on its test file (as the `pytest` command runs it: the workspace
    folder is not put on sys.path, as `python -m pytest` would)."""
    script = next((ws / "PoC").glob(f"step{step}_*.py")).relative_to(ws)
    test = next((ws / "tests").glob(f"test_step{step}_*.py")).relative_to(ws)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "POCFLOW_"))}
    base["PYTHONPYCACHEPREFIX"] = str(fresh_bytecode_for(ws.parent))
    base.pop("PYTHONDONTWRITEBYTECODE", None)  # written to that folder only
    env = {**base, **(env or {})}
    # without a cache folder, told through the environment: the test sees the command line
    # `pytest <its file>` gives (sys.argv, config.args, the verbosity)
    # (and without Hypothesis's plugin, which no case uses: support.PLAIN_WITHOUT)
    env["PYTEST_ADDOPTS"] = " ".join(
        ["-p no:cacheprovider", *PLAIN_WITHOUT, env.get("PYTEST_ADDOPTS", "")]
    )
    for command in ([str(script)], ["-P", "-m", "pytest", str(test)]):
        done = subprocess.run(
            [sys.executable, *command],
            cwd=ws,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=300,
        )
        if done.returncode != 0:
            return done.returncode
    return 0


def poc_complete_passes(ws: Path, *args: str, env: dict[str, str] | None = None) -> DoitRun:
    """`doit [ARGS] poc-complete` on a workspace whose steps pass: it verifies them."""
    result = run_doit(ws, *args, "poc-complete", env=env)
    assert result.code == 0, result.out + result.err
    return result


def poc_complete_runs_nothing(ws: Path) -> DoitRun:
    """`doit poc-complete` again on a workspace it just verified: it passes, running nothing
    (what the first run left, or wrote, is no changed input of any step)."""
    again = run_doit(ws, "poc-complete")
    assert again.code == 0 and not again.ran_steps, again.out + again.err
    return again


def poc_complete_fails(ws: Path, step: str = "1") -> DoitRun:
    """`doit poc-complete` after a change that breaks the step: the plain alternative (its
    script, then pytest) really fails in the same workspace, and so does pocflow's run."""
    result = run_doit(ws, "poc-complete")
    assert plain_pytest(ws, step) != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    return result


def assert_run_again_and_failed(
    ws: Path, step: str, env: dict[str, str] | None = None, says: str = ""
) -> None:
    """The step's tests really fail (plain pytest), and `doit --continue poc-complete` runs
    the step again and exits non-zero, saying so."""
    assert plain_pytest(ws, step, env) != 0, "the case must really fail"
    result = run_doit(ws, "--continue", "poc-complete", env=env)
    output = result.out + result.err
    assert result.code != 0, output
    assert step in result.ran_steps, output
    assert f"step {step}" in output
    assert says in output, output


def assert_never_verified(ws: Path, step: str) -> None:
    """A step whose tests leave behind what makes them fail the next time (a name they need
    free): neither of two runs verifies it, and plain pytest after them fails."""
    results = [run_doit(ws, "poc-complete") for _ in range(2)]
    assert plain_pytest(ws, step) != 0, "the case must really fail"
    assert all(r.code != 0 for r in results), [r.out + r.err for r in results]


def replace_in(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        edit(ws / rel, lambda text: text.replace(old, new))

    return change


def write(rel: str, text: str) -> Callable[[Path], None]:
    def change(ws: Path) -> None:
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return change


def same_size_same_mtime(rel: str, old: str, new: str) -> Callable[[Path], None]:
    """Change a file's content keeping its size and putting its modification time back."""

    def change(ws: Path) -> None:
        path = ws / rel
        info = path.stat()
        text = path.read_text(encoding="utf-8")
        assert len(old) == len(new) and old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))

    return change


def compile_bytecode(folder: str) -> Callable[[Path], None]:
    """Write the folder's bytecode now (as any earlier run would have)."""

    def change(ws: Path) -> None:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ws / folder)], check=True)

    return change


#: step 1's tests gain one that finds the data through pytest's rootdir
READS_UNDER_THE_ROOTDIR = replace_in(
    "tests/test_step1_scale.py",
    "def test_the_script_wrote_the_scaled_value():\n",
    "def test_the_data_is_under_the_root(pytestconfig):\n"
    "    assert (pytestconfig.rootpath / 'data' / 'table.txt').is_file()\n\n\n"
    "def test_the_script_wrote_the_scaled_value():\n",
)


@dataclass(frozen=True)
class Case:
    """A way to break a step, and which step's tests then really fail."""

    change: Callable[[Path], None]
    step: str
    env: dict[str, str] = field(default_factory=dict)
    says: str = ""  # a piece of what pocflow must say
    prep: Callable[[Path], None] | None = None  # done and verified before the change


CASES = {
    "library in src/ used by a step script": Case(
        replace_in("src/mylib/core.py", "FACTOR = 2", "FACTOR = 3"), "1"
    ),
    "library in src/ through the package __init__": Case(
        replace_in(
            "src/mylib/__init__.py",
            "from mylib.core import scale, table",
            "from mylib.core import scale, table\ntable = lambda: ['zeta']",
        ),
        "2",
    ),
    "library in src/ through a conftest fixture": Case(
        replace_in("src/mylib/core.py", "return x * FACTOR", "return x * FACTOR + 1"), "3"
    ),
    "module on a folder conftest puts on sys.path": Case(
        replace_in("tests/helpers/expect.py", "SCALED = 4", "SCALED = 5"), "3"
    ),
    "data file a test reads (tests/data)": Case(
        replace_in("tests/data/expected.txt", "alpha", "omega"), "2"
    ),
    "data file the library reads and caches (data/)": Case(
        replace_in("data/table.txt", "alpha beta", "alpha beta gamma"), "5"
    ),
    "content changed with the modification time put back": Case(
        same_size_same_mtime("data/table.txt", "alpha", "omega"), "2"
    ),
    "pytest.ini appears": Case(write("pytest.ini", "[pytest]\nfilterwarnings = error\n"), "4"),
    "pytest 9 [tool.pytest] in pyproject.toml": Case(
        replace_in(
            "pyproject.toml",
            "[tool.pocflow]",
            '[tool.pytest]\nfilterwarnings = ["error"]\n\n[tool.pocflow]',
        ),
        "4",
    ),
    "tox.ini [pytest] section": Case(write("tox.ini", "[pytest]\nfilterwarnings = error\n"), "4"),
    "setup.cfg [tool:pytest] section": Case(
        write("setup.cfg", "[tool:pytest]\nfilterwarnings = error\n"), "4"
    ),
    "PYTEST_ADDOPTS": Case(lambda ws: None, "4", env={"PYTEST_ADDOPTS": "-W error"}),
    "an environment variable a test reads": Case(lambda ws: None, "4", env={"POC_MODE": "broken"}),
    "a failing unittest subTest after passing ones": Case(
        write(
            "tests/test_step3_helpers.py",
            "import unittest\n\n\nclass T(unittest.TestCase):\n"
            "    def test_each(self):\n"
            "        for i in range(3):\n"
            "            with self.subTest(i=i):\n"
            "                self.assertNotEqual(i, 0)\n",
        ),
        "3",
        says="1 failed subtest",
    ),
    "a failing pytest subtest": Case(
        write(
            "tests/test_step3_helpers.py",
            "def test_each(subtests):\n"
            "    for i in range(2):\n"
            "        with subtests.test(i=i):\n"
            "            assert i == 1\n",
        ),
        "3",
        says="failed subtest",
    ),
    "pytest.exit in a test": Case(
        write(
            "tests/test_step3_helpers.py",
            "import pytest\n\n\ndef test_a():\n    pytest.exit('stop here')\n\n\n"
            "def test_b():\n    assert False\n",
        ),
        "3",
        says="ended early",
    ),
    "KeyboardInterrupt raised by a test": Case(
        write(
            "tests/test_step3_helpers.py",
            "def test_a():\n    raise KeyboardInterrupt\n\n\ndef test_b():\n    assert False\n",
        ),
        "3",
        says="ended early",
    ),
    # found by trying to break it: each of these was a ✅ over failing tests once
    "a temporary folder's cleanup deleting a file named like a workspace input": Case(
        replace_in("words.txt", "alpha", "omega"),
        "2",
        prep=both(
            write("words.txt", "alpha\n"),
            write(
                "tests/test_step2_table.py",
                "from pathlib import Path\n\n\ndef test_words():\n"
                "    root = Path(__file__).resolve().parents[1]\n"
                "    assert (root / 'words.txt').read_text() == 'alpha\\n'\n",
            ),
            write(
                "tests/test_step5_table_again.py",
                "import tempfile\nfrom pathlib import Path\n\n\ndef test_scratch():\n"
                "    with tempfile.TemporaryDirectory() as scratch:\n"
                "        (Path(scratch) / 'words.txt').write_text('x')\n",
            ),
        ),
    ),
    "a data file opened r+b and only read (the mmap idiom)": Case(
        replace_in("tests/data/expected.txt", "alpha", "omega"),
        "2",
        prep=write(
            "tests/test_step2_table.py",
            "import mmap\nfrom pathlib import Path\n\nimport mylib\n\n\n"
            "def test_the_table_holds_the_expected_word():\n"
            "    with open(Path(__file__).parent / 'data' / 'expected.txt', 'r+b') as f, \\\n"
            "            mmap.mmap(f.fileno(), 0) as view:\n"
            "        assert view.read().decode().strip() in mylib.table()\n",
        ),
    ),
    "a variable read through os.environb": Case(
        lambda ws: None,
        "4",
        env={"POC_MODE": "broken"},
        prep=write(
            "tests/test_step4_config.py",
            "import os\n\n\ndef test_the_mode_is_normal():\n"
            "    assert os.environb.get(b'POC_MODE', b'normal') == b'normal'\n",
        ),
    ),
    "TZ, read by the C library": Case(
        lambda ws: None,
        "4",
        env={"TZ": "America/New_York"},
        prep=write(
            "tests/test_step4_config.py",
            "import time\n\n\ndef test_the_epoch_is_midnight_here():\n"
            "    assert time.localtime(0).tm_hour == 0\n",
        ),
    ),
    "a module that shadows the library appears earlier on sys.path": Case(
        write("PoC/mylib.py", "def table():\n    return ['zeta']\n"), "2"
    ),
    "a compiled extension appears beside the library's module": Case(
        write("src/mylib/core" + EXTENSION_SUFFIXES[0], "not a shared library\n"), "3"
    ),
    "tests/__init__.py appears": Case(
        write("tests/__init__.py", "raise RuntimeError('not importable')\n"), "3"
    ),
    "stale bytecode after a same-size edit with the modification time put back": Case(
        same_size_same_mtime("src/mylib/core.py", "FACTOR = 2", "FACTOR = 3"),
        "3",
        prep=compile_bytecode("src/mylib"),
    ),
    "a variable a library reads for a test (os.path.expandvars)": Case(
        lambda ws: None,
        "4",
        env={"POC_MODE": "broken"},
        prep=write(
            "tests/test_step4_config.py",
            "import os\n\n\ndef test_the_mode_is_normal():\n"
            "    assert os.path.expandvars('$POC_MODE') in ('$POC_MODE', 'normal')\n",
        ),
    ),
    "an interpreter variable (PYTHONINTMAXSTRDIGITS)": Case(
        lambda ws: None,
        "4",
        env={"PYTHONINTMAXSTRDIGITS": "1000"},
        prep=write(
            "tests/test_step4_config.py",
            "def test_big_numbers_print():\n    assert len(str(10 ** 3000)) == 3001\n",
        ),
    ),
    "a variable a Python child reads as it starts (PYTHONPROFILEIMPORTTIME)": Case(
        lambda ws: None,
        "4",
        env={"PYTHONPROFILEIMPORTTIME": "1"},
        prep=write(
            "tests/test_step4_config.py",
            "import subprocess\nimport sys\n\n\ndef test_a_child_writes_no_errors():\n"
            "    child = subprocess.run([sys.executable, '-c', 'pass'], capture_output=True)\n"
            "    assert child.stderr == b''\n",
        ),
    ),
    "a new workspace module shadows a standard-library module": Case(
        write("src/statistics.py", "def mean(values):\n    return 0\n"),
        "4",
        prep=write(
            "tests/test_step4_config.py",
            "import statistics\n\n\ndef test_the_mean():\n"
            "    assert statistics.mean([1, 2, 3]) == 2\n",
        ),
    ),
    "a module at the workspace root that only `python -m pytest` can import": Case(
        write(
            "tests/test_step4_config.py",
            "import poc_settings\n\n\ndef test_the_setting():\n"
            "    assert poc_settings.LIMIT == 3\n",
        ),
        "4",
        prep=write("poc_settings.py", "LIMIT = 3\n"),
    ),
    "a new workspace module shadows one the warm pytest server had loaded": Case(
        write("src/zoneinfo.py", "ZONES = ['Europe/Paris']\n"),
        "4",
        prep=write(
            "tests/test_step4_config.py",
            "import zoneinfo\n\n\ndef test_utc_is_known():\n"
            "    assert str(zoneinfo.ZoneInfo('UTC')) == 'UTC'\n",
        ),
    ),
    "a module the warm pytest server had loaded, shadowed only while a test runs": Case(
        write("PoC/vendor/zoneinfo.py", "ZONES = ['Europe/Paris']\n"),
        "4",
        prep=write(
            "tests/test_step4_config.py",
            "from pathlib import Path\n\n\ndef test_utc_is_known(monkeypatch):\n"
            "    vendor = Path(__file__).resolve().parent.parent / 'PoC' / 'vendor'\n"
            "    vendor.mkdir(exist_ok=True)\n"
            "    monkeypatch.syspath_prepend(str(vendor))\n"
            "    import zoneinfo\n\n"
            "    assert str(zoneinfo.ZoneInfo('UTC')) == 'UTC'\n",
        ),
    ),
    "a file under .github/ (not .git/) a test reads": Case(
        replace_in(".github/ci.yml", "3.11", "3.12"),
        "4",
        prep=both(
            write(".github/ci.yml", "python: 3.11\n"),
            write(
                "tests/test_step4_config.py",
                "from pathlib import Path\n\n\ndef test_ci_python():\n"
                "    root = Path(__file__).resolve().parents[1]\n"
                "    assert '3.11' in (root / '.github' / 'ci.yml').read_text()\n",
            ),
        ),
    ),
    "files read from threads": Case(
        replace_in("data/many/f113.txt", "ok", "broken"),
        "4",
        prep=both(
            *(write(f"data/many/f{i}.txt", "ok\n") for i in range(200)),
            write(
                "tests/test_step4_config.py",
                "from concurrent.futures import ThreadPoolExecutor\nfrom pathlib import Path\n"
                "\nMANY = Path(__file__).resolve().parents[1] / 'data' / 'many'\n\n\n"
                "def test_every_file_is_ok():\n"
                "    with ThreadPoolExecutor(8) as pool:\n"
                "        texts = list(pool.map(lambda i: (MANY / f'f{i}.txt').read_text(),"
                " range(200)))\n"
                "    assert all(text == 'ok\\n' for text in texts)\n",
            ),
        ),
    ),
    "PYTHONPATH shadows a module a step script imports": Case(
        lambda ws: write("shadow/statistics.py", "def mean(values):\n    return 3\n")(ws.parent),
        "1",
        env={"PYTHONPATH": "../shadow"},
        prep=write(
            "PoC/step1_scale.py",
            '"""Step 1: scale a number with the library.\n\nUsage:\n'
            '    python PoC/step1_scale.py\n"""\n'
            "import statistics\nimport sys\nfrom pathlib import Path\n\n"
            "ROOT = Path(__file__).resolve().parents[1]\n"
            'sys.path.insert(0, str(ROOT / "src"))\n'
            "from mylib import scale  # noqa: E402\n\n"
            '(ROOT / "out").mkdir(exist_ok=True)\n'
            '(ROOT / "out" / "step1.txt").write_text(str(scale(int(statistics.mean([2, 2])))),'
            ' encoding="utf-8")\n',
        ),
    ),
    "a module an import found absent appears on a folder conftest puts on sys.path": Case(
        write("tests/helpers/fastpath.py", "def scale(x):\n    return 5\n"),
        "3",
        prep=write(
            "tests/test_step3_helpers.py",
            "try:\n    import fastpath\nexcept ImportError:\n    fastpath = None\n\n\n"
            "def test_the_fast_path_agrees(lib):\n"
            "    assert fastpath is None or fastpath.scale(2) == lib.scale(2)\n",
        ),
    ),
    "a module pytest.importorskip found absent appears": Case(
        write("tests/helpers/fastpath.py", "def scale(x):\n    return 5\n"),
        "3",
        prep=write(
            "tests/test_step3_helpers.py",
            "import pytest\n\n\ndef test_the_library_scales(lib):\n"
            "    assert lib.scale(2) == 4\n\n\n"
            "def test_the_fast_path_scales():\n"
            "    fastpath = pytest.importorskip('fastpath')\n"
            "    assert fastpath.scale(2) == 4\n",
        ),
    ),
    "a file a test only checks for (Path.exists) appears": Case(
        write("data/override.txt", "on\n"),
        "2",
        prep=write(
            "tests/test_step2_table.py",
            "from pathlib import Path\n\n\ndef test_nothing_overrides_the_table():\n"
            "    root = Path(__file__).resolve().parents[1]\n"
            "    assert not (root / 'data' / 'override.txt').exists()\n",
        ),
    ),
    "a file picked because it exists, the other never opened (os.path.isfile)": Case(
        write("data/config.local.ini", "limit = 4\n"),
        "2",
        prep=both(
            write("data/config.ini", "limit = 3\n"),
            write(
                "tests/test_step2_table.py",
                "import os\nfrom pathlib import Path\n\n\ndef test_the_limit():\n"
                "    data = Path(__file__).resolve().parents[1] / 'data'\n"
                "    local = data / 'config.local.ini'\n"
                "    chosen = local if os.path.isfile(local) else data / 'config.ini'\n"
                "    assert chosen.read_text() == 'limit = 3\\n'\n",
            ),
        ),
    ),
    "a namespace package turned regular hides its other portion": Case(
        write("src/nsx/__init__.py", ""),
        "3",
        prep=both(
            write("src/nsx/alpha.py", "ALPHA = 1\n"),
            write("tests/helpers/nsx/beta.py", "BETA = 2\n"),
            write(
                "tests/test_step3_helpers.py",
                "def test_both_portions_are_found():\n"
                "    from nsx import alpha, beta\n\n"
                "    assert alpha.ALPHA + beta.BETA == 3\n",
            ),
        ),
    ),
    "a module a computed import found absent appears in a package under src/": Case(
        write("src/mylib/extra.py", "ROWS = 5\n"),
        "5",
        prep=write(
            "tests/test_step5_table_again.py",
            "import importlib\n\nimport mylib\n\n\n"
            "def test_an_extra_table_agrees():\n"
            "    try:\n        extra = importlib.import_module('mylib.' + 'extra')\n"
            "    except ImportError:\n        extra = None\n"
            "    assert extra is None or extra.ROWS == len(mylib.table())\n",
        ),
    ),
    "a module at the workspace root, searched first, hides the library in src/": Case(
        write("mylib.py", "def table():\n    return ['zeta']\n"),
        "2",
        prep=both(
            write("tests/__init__.py", ""),  # pytest puts the workspace root on sys.path
            replace_in("tests/conftest.py", "sys.path.insert(0, ", "sys.path.append("),
            replace_in(  # an import no static scan follows: only what the session did counts
                "tests/test_step2_table.py",
                "import mylib\n",
                "import importlib\n\nmylib = importlib.import_module('my' + 'lib')\n",
            ),
        ),
    ),
    "a module at the workspace root hides a standard-library module": Case(
        write("statistics.py", "def mean(values):\n    return 0\n"),
        "4",
        prep=both(
            write("tests/__init__.py", ""),
            write(
                "tests/test_step4_config.py",
                "import importlib\n\nstatistics = importlib.import_module('stat' + 'istics')"
                "\n\n\ndef test_the_mean():\n"
                "    assert statistics.mean([1, 2, 3]) == 2\n",
            ),
        ),
    ),
    "a pytest.ini appears above the workspace": Case(
        lambda ws: (ws.parent / "pytest.ini").write_text(
            "[pytest]\nusefixtures = no_such_fixture\n", encoding="utf-8"
        ),
        "3",
        says="outside the workspace",
    ),  # pytest 9 takes its settings from pytest.toml and .pytest.toml before any other file
    "pytest.toml appears": Case(
        write("pytest.toml", "[pytest]\nfilterwarnings = ['error']\n"), "4"
    ),
    ".pytest.toml appears": Case(
        write(".pytest.toml", "[pytest]\nfilterwarnings = ['error']\n"), "4"
    ),
    "a pytest.toml appears above the workspace": Case(
        lambda ws: (ws.parent / "pytest.toml").write_text(
            "[pytest]\nusefixtures = ['no_such_fixture']\n", encoding="utf-8"
        ),
        "3",
        says="outside the workspace",
    ),
    # an empty [tool.pytest] holds no settings: pytest looks on, above the workspace
    "an empty [tool.pytest] table, then a pytest.ini above the workspace": Case(
        lambda ws: (ws.parent / "pytest.ini").write_text(
            "[pytest]\nusefixtures = no_such_fixture\n", encoding="utf-8"
        ),
        "3",
        says="outside the workspace",
        prep=lambda ws: edit(ws / "pyproject.toml", lambda text: text + "\n[tool.pytest]\n"),
    ),
    # plain pytest's rootdir is the folder of the settings file it takes
    "a pytest.ini in tests/ makes plain pytest's rootdir tests/": Case(
        both(
            write("tests/pytest.ini", "[pytest]\n"),
            READS_UNDER_THE_ROOTDIR,
        ),
        "1",
        says="rootdir",
    ),
    # and so is a pyproject.toml without pytest settings, when no file has any
    "a pyproject.toml in tests/ with no pytest settings makes it plain pytest's rootdir": Case(
        both(
            write("tests/pyproject.toml", "[tool.ruff]\nline-length = 100\n"),
            READS_UNDER_THE_ROOTDIR,
        ),
        "1",
        says="rootdir",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_a_step_whose_tests_really_fail_is_run_again_and_fails(library: Path, case: Case) -> None:
    if case.prep is not None:
        case.prep(library)
        prepared = run_doit(library, "poc-complete")
        assert prepared.code == 0, prepared.out + prepared.err
    case.change(library)
    # --continue: every step the change breaks runs, not only the first
    assert_run_again_and_failed(library, case.step, case.env, case.says)


#: standard-library modules pocflow's own machinery in a watched process once used and left
#: loaded (dying with pocflow, the kernel's watch, the children's context map): a test's or
#: script's own import of the name then found them, not a workspace module of that name
#: (pytest itself has imported select and struct before any test: no test of them)
OBSERVERS_MODULES = ["ctypes", "struct", "select", "mmap"]


@pytest.mark.parametrize("name", ["ctypes", "mmap"])
def test_a_workspace_module_named_like_one_the_observer_uses_is_what_the_tests_import(
    library: Path, name: str
) -> None:
    test = (
        f"import {name}\n\n\ndef test_the_module_is_the_standard_librarys():\n"
        f"    assert not hasattr({name}, 'WORKSPACE')\n"
    )
    write("tests/test_step4_config.py", test)(library)
    assert run_doit(library, "poc-complete").code == 0
    write(f"src/{name}.py", "WORKSPACE = True\n")(library)  # (src/ is first on sys.path)
    assert_run_again_and_failed(library, "4")


@pytest.mark.parametrize("name", OBSERVERS_MODULES)
def test_a_workspace_module_named_like_one_the_observer_uses_is_what_the_script_imports(
    library: Path, name: str
) -> None:
    replace_in(
        "PoC/step1_scale.py",
        "from mylib import scale  # noqa: E402\n",
        f"from mylib import scale  # noqa: E402\nimport {name}  # noqa: E402\n"
        f"scale = getattr({name}, 'SCALE', scale)\n",
    )(library)
    assert run_doit(library, "poc-complete").code == 0
    write(f"PoC/{name}.py", "def SCALE(x):\n    return 0\n")(library)  # (the script's folder)
    assert_run_again_and_failed(library, "1")


#: a conftest that runs each test marked `twice` two times, under one node id
RUN_TWICE = """
def pytest_configure(config):
    config.addinivalue_line("markers", "twice: run the test twice")


def pytest_collection_modifyitems(items):
    items[:] = [
        again for item in items
        for again in ([item, item] if item.get_closest_marker("twice") else [item])
    ]
"""


def test_a_test_run_twice_under_one_id_that_fails_once_fails_its_step(tmp_path: Path) -> None:
    # its first run fails and its second passes: the second's report must not stand for
    # both, in a session shared with a step that fails (which explains pytest's exit 1)
    cached = (
        "import pytest\n\n_CACHE = {}\n\n\ndef load():\n    if 'v' in _CACHE:\n"
        "        return _CACHE['v']\n    _CACHE['v'] = 42\n    return 41\n\n\n"
        "@pytest.mark.twice\ndef test_load_is_stable():\n    assert load() == 42\n"
    )
    ws = make_workspace(
        tmp_path / "ws", {"1": cached, "2": "def test_other():\n    assert 1 == 2\n"}, RUN_TWICE
    )
    first = run_doit(ws, "--continue", "poc-complete")
    assert first.code != 0
    assert not compute_status(load_workspace(ws))["1"].is_verified, first.out + first.err
    write("tests/test_step2_x.py", "def test_other():\n    assert 1 == 1\n")(ws)
    assert_run_again_and_failed(ws, "1")


@pytest.mark.parametrize("keep_state", [True, False], ids=["moved", "cloned"])
def test_a_record_made_at_a_plain_path_is_not_taken_where_the_path_has_a_space(
    library: Path, tmp_path: Path, keep_state: bool
) -> None:
    """A test that builds a shell command from the workspace's path without quoting passes
    where the path is plain and fails where it has a space. Moved there (its local state
    along) or cloned there (records only), the step is verified again, and fails."""
    write(
        "tests/test_step2_table.py",
        "import subprocess\nimport sys\nfrom pathlib import Path\n\n\n"
        "def test_the_script_runs_through_a_shell():\n"
        "    root = Path(__file__).resolve().parent.parent\n"
        "    done = subprocess.run(f'{sys.executable} {root}/PoC/step2_table.py', shell=True)\n"
        "    assert done.returncode == 0\n",
    )(library)
    assert run_doit(library, "poc-complete").code == 0
    spaced = tmp_path / "a checkout" / "ws"
    shutil.copytree(library, spaced, symlinks=True)
    if not keep_state:
        shutil.rmtree(spaced / ".pocflow")
    # (moved with its state, doit's own check of the settings and environment says first)
    says = "settings or environment changed" if keep_state else "the workspace's path holds spaces"
    assert_run_again_and_failed(spaced, "2", says=says)


def test_a_new_file_in_a_folder_a_test_lists_reverifies_the_step(library: Path) -> None:
    write(
        "tests/test_step2_table.py",
        "from pathlib import Path\n\n\ndef test_the_data_folder_has_one_file():\n"
        "    assert len(list((Path(__file__).parent / 'data').iterdir())) == 1\n",
    )(library)
    assert run_doit(library, "poc-complete").code == 0
    (library / "tests/data/more.txt").write_text("x\n", encoding="utf-8")
    assert plain_pytest(library, "2") != 0
    result = run_doit(library, "poc-complete")
    assert result.code != 0
    assert "2" in result.ran_steps


def test_every_test_skipped_is_not_verified(library: Path) -> None:
    write(
        "tests/test_step3_helpers.py",
        "import pytest\n\n\n@pytest.mark.skip(reason='later')\ndef test_a():\n    pass\n",
    )(library)
    result = run_doit(library, "poc-complete")
    assert result.code != 0
    assert "none of its 1 tests passed (1 skipped)" in result.out + result.err


#: a mark's condition written as a string, which pytest evaluates itself (the test module's
#: code all the same): what it looks at decides whether a failing test runs
STRING_CONDITIONS = {
    "skipif, a file it checks for": (
        '@pytest.mark.skipif("os.path.exists(\'flag\')", reason="flagged")\n',
        lambda ws: (ws / "flag").unlink(),
        {},
    ),
    "xfail(strict), a file it checks for": (
        '@pytest.mark.xfail("os.path.exists(\'flag\')", strict=True, reason="r")\n',
        lambda ws: (ws / "flag").unlink(),
        {},
    ),
    "skipif, a variable it reads": (
        "@pytest.mark.skipif(\"os.environ.get('SKIP_A') == '1'\", reason=\"off\")\n",
        lambda ws: None,
        {"SKIP_A": "0"},
    ),
    "skipif on a test a decorator wraps (mock.patch)": (
        '@pytest.mark.skipif("os.path.exists(\'flag\')", reason="flagged")\n'
        '@mock.patch("os.getcwd", return_value="/")\n',
        lambda ws: (ws / "flag").unlink(),
        {},
    ),
}


@pytest.mark.parametrize("fresh_clone", [False, True], ids=["here", "fresh clone"])
@pytest.mark.parametrize("case", list(STRING_CONDITIONS))
def test_what_a_marks_string_condition_looks_at_is_an_input(
    tmp_path: Path, case: str, fresh_clone: bool
) -> None:
    mark, change, after = STRING_CONDITIONS[case]
    test = f"from unittest import mock\n\nimport pytest\n\n\n{mark}def test_a(*mocked):\n"
    test += "    assert False\n\n\n"
    ws = make_workspace(tmp_path / "ws", {"1": test + "def test_b():\n    assert True\n"})
    (ws / "flag").write_text("", encoding="utf-8")
    assert run_doit(ws, "poc-complete", env={"SKIP_A": "1"}).code == 0
    if fresh_clone:
        shutil.rmtree(ws / ".pocflow")
    change(ws)
    assert_run_again_and_failed(ws, "1", env={"SKIP_A": "1", **after})


@pytest.mark.parametrize(
    ("where", "paths", "says"),
    [
        ("addopts", "tests/extra_check.py", "name test paths, tests/extra_check.py"),
        ("PYTEST_ADDOPTS", "tests/extra_check.py", "name test paths, tests/extra_check.py"),
        ("addopts", "tests", "name test paths, tests"),  # (the folder pocflow names too)
        # a bare --cov last takes the paths after it: `pytest <file>` runs testpaths' tests
        ("addopts", "-ra --cov", "takes the test paths that follow it as its value"),
    ],
    ids=["addopts", "PYTEST_ADDOPTS", "the tests folder", "a bare --cov"],
)
def test_a_test_path_pytests_own_options_add_is_not_passed_over(
    tmp_path: Path, where: str, paths: str, says: str
) -> None:
    # `pytest tests/test_step1_x.py` runs tests/extra_check.py too: pytest adds its options'
    # paths to every command line
    ws = make_workspace(tmp_path / "ws", {"1": "def test_ok():\n    pass\n"})
    write_files(
        ws,
        {
            "tests/extra_check.py": "def test_extra():\n"
            '    assert open("data.txt").read() == "good"\n',
            "data.txt": "bad",
        },
    )
    env = {}
    if where == "addopts":
        option = f'\n[tool.pytest.ini_options]\naddopts = "{paths}"\ntestpaths = ["tests"]\n'
        edit(ws / "pyproject.toml", lambda text: text + option)
    else:
        env = {"PYTEST_ADDOPTS": paths}
    (ws / "tests/test_other.py").write_text("def test_other():\n    assert False\n", "utf-8")
    # the command the results doc gives (the file, then the options)
    done = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "tests/test_step1_x.py", "-p", "no:cacheprovider"],
        cwd=ws,
        env={**doit_env(), **env},
        capture_output=True,
        check=False,
    )
    assert done.returncode != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete", env=env)
    assert result.code != 0, result.out + result.err
    assert says in result.out + result.err, result.out + result.err


def test_a_junit_report_the_sessions_write_is_no_steps_input(tmp_path: Path) -> None:
    # (a false ❌: every session rewrites it, and every run found it changed since read)
    ws = make_workspace(
        tmp_path / "ws", {"1": "def test_a():\n    pass\n", "2": "def test_b():\n    pass\n"}
    )
    option = '\n[tool.pytest.ini_options]\naddopts = "--junitxml out.xml"\n'
    edit(ws / "pyproject.toml", lambda text: text + option)
    (ws / "out.xml").write_text("<testsuites/>\n", encoding="utf-8")  # a plain run's
    poc_complete_passes(ws)
    poc_complete_runs_nothing(ws)


def test_a_test_a_hook_leaves_out_of_a_shared_session_is_not_passed_over(tmp_path: Path) -> None:
    # the hook drops test_a only when the session holds more than two tests: in the shared
    # session of steps 1 and 2, not in `pytest tests/test_step1_x.py`, where it fails
    hook = (
        "def pytest_collection_modifyitems(items):\n    if len(items) > 2:\n"
        '        items[:] = [i for i in items if i.name != "test_a"]\n'
    )
    tests = {
        "1": "def test_a():\n    assert False\n\n\ndef test_a2():\n    pass\n",
        "2": "def test_b():\n    pass\n",
    }
    ws = make_workspace(tmp_path / "ws", tests, conftest=hook)
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "--continue", "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "tests/test_step1_x.py::test_a - assert False" in result.out + result.err


def test_deselected_tests_are_not_verified(library: Path) -> None:
    env = {"PYTEST_ADDOPTS": "-k test_the_mode_is_normal"}
    result = run_doit(library, "--continue", "poc-complete", env=env)
    assert result.code != 0
    assert "step 4: 1 of its tests were deselected" in result.out + result.err


def test_xfail_and_xpass_are_shown_as_what_they_are(library: Path) -> None:
    write(
        "tests/test_step3_helpers.py",
        "import pytest\n\n\ndef test_ok():\n    pass\n\n\n"
        "@pytest.mark.xfail(reason='known')\ndef test_known():\n    assert False\n\n\n"
        "@pytest.mark.xfail(reason='fixed?', strict=False)\ndef test_fixed():\n    pass\n",
    )(library)
    assert run_doit(library, "poc-complete").code == 0
    record = json.loads((library / "steps/records/step3.json").read_text(encoding="utf-8"))
    assert record["test"]["counts"] == {"passed": 1, "xfailed": 1, "xpassed": 1, "total": 3}


BYPASSES = {
    "doit ignore test:<id>": [("ignore", "test:2"), ("poc-complete",)],
    "doit -s poc-complete": [("-s", "poc-complete")],
    "doit forget": [("forget",), ("poc-complete",)],
    "doit --always": [("-a", "poc-complete")],
}


@pytest.mark.parametrize("commands", BYPASSES.values(), ids=list(BYPASSES))
def test_no_doit_option_lets_the_gate_pass_over_a_failing_step(
    library: Path, commands: list[tuple[str, ...]]
) -> None:
    replace_in("tests/data/expected.txt", "alpha", "omega")(library)
    assert plain_pytest(library, "2") != 0
    results = [run_doit(library, *command) for command in commands]
    assert results[-1].code != 0, results[-1].out + results[-1].err
    assert "step 2" in results[-1].out + results[-1].err


#: a task of the user's own in the dodo file that rewrites a data file only step 2 reads
REWRITE_TASK = """

def task_rewrite_data():
    def rewrite():
        from pathlib import Path
        Path("tests/data/expected.txt").write_text("omega\\n", encoding="utf-8")
    return {"actions": [rewrite], "uptodate": [False], "verbosity": 0}
"""


def test_a_task_that_changes_inputs_after_their_steps_were_checked_does_not_pass_the_gate(
    library: Path,
) -> None:
    # doit checks step 2 (current), then runs the user's task, then the gate: the gate must
    # not take step 2's earlier check, nor a fingerprint taken before the task ran, as proof
    with (library / "dodo.py").open("a", encoding="utf-8") as dodo:
        dodo.write(REWRITE_TASK)
    assert run_doit(library, "poc-complete").code == 0
    result = run_doit(library, "test:2", "rewrite_data", "poc-complete")
    assert plain_pytest(library, "2") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "step 2" in result.out + result.err


def test_a_record_edited_by_hand_does_not_pass_over_a_failure(library: Path) -> None:
    replace_in("tests/data/expected.txt", "alpha", "omega")(library)
    assert run_doit(library, "poc-complete").code != 0
    path = library / "steps/records/step2.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["verdict"], record["message"] = "verified", ""
    record["test"]["outcome"], record["test"]["message"] = "passed", ""
    record["test"]["tests"] = [
        dict(t, outcome="passed", message="") for t in record["test"]["tests"]
    ]
    record["test"]["counts"] = {"passed": 1, "total": 1}
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    result = run_doit(library, "-s", "poc-complete")  # the gate alone: local evidence
    assert result.code != 0
    assert "failed on these very files" in result.out + result.err
    result = run_doit(library, "poc-complete")  # doit runs the failed test phase again
    assert result.code != 0
    assert "step 2" in result.out + result.err
    shutil.rmtree(library / ".pocflow")  # a fresh clone: the gate's own session finds it
    result = run_doit(library, "poc-complete")
    assert result.code != 0, result.out + result.err


def test_a_file_changed_while_the_tests_ran_is_run_again_next_time(library: Path) -> None:
    # the test reads the data, then something else rewrites it while the session goes on
    write(
        "tests/test_step2_table.py",
        "import subprocess, sys, time\nfrom pathlib import Path\n\nimport mylib\n\n"
        "DATA = Path(__file__).parent / 'data' / 'expected.txt'\n\n\n"
        "def test_the_table_holds_the_expected_word():\n"
        "    expected = DATA.read_text().strip()\n"
        "    assert expected in mylib.table()\n"
        "    if expected == 'alpha':\n"
        "        subprocess.run([sys.executable, '-c', 'import pathlib; pathlib.Path(' +\n"
        "                        repr(str(DATA)) + ').write_text(\"beta\\\\n\")'], check=True)\n"
        "        time.sleep(0.05)\n",
    )(library)
    first = run_doit(library, "poc-complete")
    assert "2" in first.ran_steps
    assert (library / "tests/data/expected.txt").read_text() == "beta\n"
    second = run_doit(library, "poc-complete")
    assert "2" in second.ran_steps, second.out  # not stuck on the old verdict
    assert second.code == 0, second.out + second.err
    third = run_doit(library, "poc-complete")
    assert "2" not in third.ran_steps, third.out


def test_an_unrelated_edit_reverifies_only_the_steps_that_read_it(library: Path) -> None:
    replace_in("tests/helpers/expect.py", "SCALED = 4", "SCALED = 4  # same value")(library)
    result = run_doit(library, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert {s for s in result.ran_steps if s in "12345"} == {"1", "3"}


def test_the_gate_stays_green_and_runs_nothing_when_nothing_changed(library: Path) -> None:
    result = run_doit(library, "poc-complete")
    assert result.code == 0
    assert not result.ran, result.out


def tzif(offset: int, abbreviation: str) -> bytes:
    """A time-zone file (TZif version 2) of one fixed UTC offset, in seconds."""
    names = abbreviation.encode() + b"\0"
    header = b"TZif2" + b"\0" * 15 + struct.pack(">6l", 0, 0, 0, 0, 1, len(names))
    block = header + struct.pack(">lbB", offset, 0, 0) + names
    return block + block + f"\n{abbreviation}{-offset // 3600}\n".encode()


#: a data file that step 1's tests have a standard-library cache read, and step 2's tests
#: then get from that cache in the same session: (files, the change that breaks step 2)
STDLIB_CACHES = {
    "linecache": (
        {
            "data/cfg.txt": "v1\n",
            "tests/test_step1_x.py": "import linecache\n\n\ndef test_one():\n"
            '    assert linecache.getline("data/cfg.txt", 1).startswith("v")\n',
            "tests/test_step2_x.py": "import linecache\n\n\ndef test_two():\n"
            '    assert linecache.getline("data/cfg.txt", 1) == "v1\\n"\n',
        },
        lambda ws: (ws / "data/cfg.txt").write_text("v2\n", encoding="utf-8"),
    ),
    "zoneinfo": (
        {
            "tests/conftest.py": "import os\nimport zoneinfo\n\n"
            'zoneinfo.reset_tzpath([os.path.abspath("data/tz")])\n',
            "tests/test_step1_x.py": "from zoneinfo import ZoneInfo\n\n\ndef test_one():\n"
            '    assert ZoneInfo("Test/Zone") is not None\n',
            "tests/test_step2_x.py": "from datetime import datetime\n"
            "from zoneinfo import ZoneInfo\n\n\ndef test_two():\n"
            '    noon = datetime(2024, 1, 1, 12, tzinfo=ZoneInfo("Test/Zone"))\n'
            "    assert noon.utcoffset().total_seconds() == 3600\n",
        },
        lambda ws: (ws / "data/tz/Test/Zone").write_bytes(tzif(9 * 3600, "NINE")),
    ),
}


@pytest.mark.parametrize("fresh_clone", [False, True], ids=["here", "fresh clone"])
@pytest.mark.parametrize("cache", list(STDLIB_CACHES))
def test_a_file_another_steps_tests_had_a_library_cache_read_is_an_input(
    tmp_path: Path, cache: str, fresh_clone: bool
) -> None:
    # steps 1 and 2 share a session: step 1's test has the library read the file and keep
    # it; step 2's test gets the kept content without reading the file at all
    files, change = STDLIB_CACHES[cache]
    ws = make_workspace(tmp_path / "ws", {"1": "", "2": ""})
    write_files(ws, files)
    (ws / "data/tz/Test").mkdir(parents=True)
    (ws / "data/tz/Test/Zone").write_bytes(tzif(3600, "ONE"))
    assert run_doit(ws, "poc-complete").code == 0
    record = json.loads((ws / "steps/records/step2.json").read_text(encoding="utf-8"))
    assert any(key.startswith("data/") for key in record["test"]["observed"]), record["test"]
    if fresh_clone:
        shutil.rmtree(ws / ".pocflow")
    change(ws)
    assert_run_again_and_failed(ws, "2")


#: what steps 1 and 2 keep of a file or variable in one shared session, so that step 2's
#: tests get it without reading it: (files in the workspace, files of a library or pytest
#: plugin outside it, the change that breaks step 2, the environment of the runs after it)
KEPT_FOR_ANOTHER_STEP = {
    "linecache's lines, reached through another library": (
        {
            "data/v.txt": "ok\n",
            "tests/test_step1_x.py": "import linecache\n\n\ndef test_one():\n"
            '    assert linecache.getline("data/v.txt", 1)\n',
            "tests/test_step2_x.py": "import warnings\n\n\ndef test_two():\n"
            '    shown = warnings.formatwarning("m", UserWarning, "data/v.txt", 1)\n'
            '    assert shown.splitlines()[1].strip() == "ok"\n',
        },
        {},
        lambda ws: (ws / "data/v.txt").write_text("no\n", encoding="utf-8"),
        {},
    ),
    "a library's cache, reached by a dotted name and no import": (
        {
            "data/v.txt": "ok\n",
            "tests/test_step1_x.py": "import kcache\n\n\ndef test_one():\n"
            '    assert kcache.load("data/v.txt")\n',
            "tests/test_step2_x.py": "import pkgutil\n\n\ndef test_two():\n"
            '    load = pkgutil.resolve_name("kcache:load")\n'
            '    assert load("data/v.txt") == "ok\\n"\n',
        },
        {
            "kcache.py": "import functools\n\n\n@functools.lru_cache(maxsize=None)\n"
            "def load(path):\n    with open(path) as handle:\n        return handle.read()\n"
        },
        lambda ws: (ws / "data/v.txt").write_text("no\n", encoding="utf-8"),
        {},
    ),
    "a library a workspace helper imports kept the file": (
        {
            "data/v.txt": "ok\n",
            "tests/helper.py": "import linecache\n\n\ndef first_line():\n"
            '    return linecache.getline("data/v.txt", 1).strip()\n',
            "tests/test_step1_x.py": "import linecache\n\nimport helper\n\n\n"
            'def test_one():\n    assert linecache.getline("data/v.txt", 1)\n',
            "tests/test_step2_x.py": "import helper\n\n\ndef test_two():\n"
            '    assert helper.first_line() == "ok"\n',
        },
        {},
        lambda ws: (ws / "data/v.txt").write_text("no\n", encoding="utf-8"),
        {},
    ),
    "a variable a shared workspace module reads as it is imported": (
        {
            "tests/appcfg.py": 'import os\n\nMODE = os.environ.get("APP_MODE", "dev")\n',
            "tests/test_step1_x.py": "import appcfg\n\n\ndef test_one():\n    assert appcfg.MODE\n",
            "tests/test_step2_x.py": "import appcfg\n\n\ndef test_two():\n"
            '    assert appcfg.MODE == "dev"\n',
        },
        {},
        lambda ws: None,
        {"APP_MODE": "prod"},
    ),
    "a plugin's session fixture a test asks for by name as it runs": (
        {
            "data/v.txt": "ok\n",
            "tests/conftest.py": 'pytest_plugins = ["settingsplugin"]\n',
            "tests/test_step1_x.py": "def test_one(settings):\n    assert settings\n",
            "tests/test_step2_x.py": "def test_two(request):\n"
            '    assert request.getfixturevalue("settings") == "ok\\n"\n',
        },
        {
            "settingsplugin.py": "import pytest\n\n\n"
            '@pytest.fixture(scope="session")\ndef settings(pytestconfig):\n'
            '    return (pytestconfig.rootpath / "data" / "v.txt").read_text()\n'
        },
        lambda ws: (ws / "data/v.txt").write_text("no\n", encoding="utf-8"),
        {},
    ),
    "a plugin's cached parameters from a data file": (
        {
            "data/cases.json": "[1, 2]\n",
            "tests/conftest.py": 'pytest_plugins = ["casesplugin"]\n',
            "tests/test_step1_x.py": "def test_one(case):\n    assert isinstance(case, int)\n",
            "tests/test_step2_x.py": "def test_two(case):\n    assert case > 0\n",
        },
        {
            "casesplugin.py": "import functools\nimport json\nimport os\n\n\n"
            "@functools.lru_cache(maxsize=None)\ndef cases(path):\n"
            "    with open(path) as handle:\n        return json.load(handle)\n\n\n"
            "def pytest_generate_tests(metafunc):\n"
            '    if "case" in metafunc.fixturenames:\n'
            '        path = os.path.join(str(metafunc.config.rootpath), "data", "cases.json")\n'
            '        metafunc.parametrize("case", cases(path))\n'
        },
        lambda ws: (ws / "data/cases.json").write_text("[1, 2, -3]\n", encoding="utf-8"),
        {},
    ),
}


@pytest.mark.parametrize("fresh_clone", [False, True], ids=["here", "fresh clone"])
@pytest.mark.parametrize("case", list(KEPT_FOR_ANOTHER_STEP))
def test_what_a_module_or_plugin_kept_for_another_steps_tests_is_an_input(
    tmp_path: Path, case: str, fresh_clone: bool
) -> None:
    files, plugin, change, after = KEPT_FOR_ANOTHER_STEP[case]
    env = {"PYTHONPATH": str(write_files(tmp_path / "site", plugin))} if plugin else {}
    ws = make_workspace(tmp_path / "ws", {"1": "", "2": ""})
    write_files(ws, files)
    assert run_doit(ws, "poc-complete", env=env).code == 0
    if fresh_clone:
        shutil.rmtree(ws / ".pocflow")
    change(ws)
    assert_run_again_and_failed(ws, "2", env={**env, **after})


def test_the_subprocess_runner_unbatched_observes_what_the_fork_server_does(tmp_path: Path) -> None:
    workspace = make_library_poc(tmp_path / "ws")
    edit(
        workspace / "pyproject.toml",
        lambda text: text + 'test_runner = "subprocess"\ntest_batch = false\n',
    )
    assert run_doit(workspace, "poc-complete").code == 0
    record = json.loads((workspace / "steps/records/step3.json").read_text(encoding="utf-8"))
    assert {"src/mylib/core.py", "tests/helpers/expect.py", "tests/conftest.py"} <= set(
        record["test"]["observed"]
    )
    replace_in("tests/helpers/expect.py", "SCALED = 4", "SCALED = 5")(workspace)
    assert plain_pytest(workspace, "3") != 0
    result = run_doit(workspace, "--continue", "poc-complete")
    assert result.code != 0
    assert {"1", "3"} <= result.ran_steps


def test_a_variable_read_by_a_library_on_a_relative_sys_path_entry_is_an_input(
    tmp_path: Path,
) -> None:
    workspace = make_library_poc(tmp_path / "ws")
    replace_in(
        "tests/conftest.py",
        'for folder in ("src", "PoC", "tests/helpers"):',
        'sys.path.insert(0, "src")  # relative: modules get relative file names\n'
        'for folder in ("PoC", "tests/helpers"):',
    )(workspace)
    replace_in(
        "src/mylib/core.py",
        "FACTOR = 2",
        'import os\n\nFACTOR = int(os.environ.get("LIB_FACTOR", "2"))',
    )(workspace)
    assert run_doit(workspace, "poc-complete").code == 0
    record = json.loads((workspace / "steps/records/step3.json").read_text(encoding="utf-8"))
    assert "$LIB_FACTOR" in record["test"]["observed"]
    env = {"LIB_FACTOR": "3"}
    assert plain_pytest(workspace, "3", env) != 0
    result = run_doit(workspace, "--continue", "poc-complete", env=env)
    assert result.code != 0
    assert "3" in result.ran_steps
    assert "changed: $LIB_FACTOR" in result.out


def verified_with_a_workspace_plugin(library: Path, plugin: str) -> dict[str, str]:
    """The library PoC verified with an editable pytest plugin of its own (site/pocplug.py,
    registered by entry point: the fork server imports it while warming up) that gives step
    3's test its expected_scale fixture; the environment that finds it."""
    env = {"PYTHONPATH": str(library / "site")}
    write(
        "site/pocplug-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: pocplug\nVersion: 1.0\n",
    )(library)
    write("site/pocplug-1.0.dist-info/entry_points.txt", "[pytest11]\npocplug = pocplug\n")(library)
    write("site/pocplug.py", plugin)(library)
    write(
        "tests/test_step3_helpers.py",
        "def test_the_fixture_library_scales(lib, "
        "expected_scale):\n    assert lib.scale(2) == expected_scale\n",
    )(library)
    verified = run_doit(library, "poc-complete", env=env)
    assert verified.code == 0, verified.out + verified.err
    return env


def test_a_pytest_plugin_loaded_before_the_session_is_an_input(library: Path) -> None:
    env = verified_with_a_workspace_plugin(
        library, "import pytest\n\n\n@pytest.fixture\ndef expected_scale():\n    return 4\n"
    )
    replace_in("site/pocplug.py", "return 4", "return 5")(library)
    assert_run_again_and_failed(library, "3", env)


def test_a_data_file_a_workspace_plugin_reads_when_imported_is_an_input(library: Path) -> None:
    # what the plugin read as the server imported it, unwatched: its settings file
    write("site/pocplug.json", '{"expected": 4}\n')(library)
    env = verified_with_a_workspace_plugin(
        library,
        "import json\nfrom pathlib import Path\n\nimport pytest\n\n"
        "SETTINGS = json.loads(Path(__file__).with_name('pocplug.json').read_text())\n\n\n"
        "@pytest.fixture\ndef expected_scale():\n    return SETTINGS['expected']\n",
    )
    write("site/pocplug.json", '{"expected": 5}\n')(library)
    assert_run_again_and_failed(library, "3", env)


#: an installed plugin's settings, taken as it is imported from the folder pytest starts in
#: (its mere look for a file, `os.path.exists`, is a documented limit: code outside the
#: workspace looking is not seen in any session)
PLUGIN_SETTINGS = {
    "a file it reads": (
        "SETTINGS = json.loads(open('pocplug.json').read())\n",
        "SETTINGS['expected']",
        {"pocplug.json": '{"expected": 4}\n'},
        {"pocplug.json": '{"expected": 5}\n'},
    ),
}


@pytest.mark.parametrize("settings", list(PLUGIN_SETTINGS), ids=list(PLUGIN_SETTINGS))
def test_a_workspace_file_a_plugin_from_outside_takes_when_imported_is_an_input(
    library: Path, settings: str
) -> None:
    # an installed plugin (outside the workspace) that looks at a file of the folder it is
    # started in as it is imported: the fork server imported it while warming up
    taken, expected, before, after = PLUGIN_SETTINGS[settings]
    outside = library.parent / "installed"
    write("pocplug-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pocplug\n")(outside)
    write("pocplug-1.0.dist-info/entry_points.txt", "[pytest11]\npocplug = pocplug\n")(outside)
    write(
        "pocplug.py",
        "import json\nimport os\n\nimport pytest\n\n" + taken + "\n\n"
        f"@pytest.fixture\ndef expected_scale():\n    return {expected}\n",
    )(outside)
    for rel, text in before.items():
        write(rel, text)(library)
    write(
        "tests/test_step3_helpers.py",
        "def test_the_fixture_library_scales(lib, "
        "expected_scale):\n    assert lib.scale(2) == expected_scale\n",
    )(library)
    env = {"PYTHONPATH": str(outside)}
    verified = run_doit(library, "poc-complete", env=env)
    assert verified.code == 0, verified.out + verified.err
    for rel, text in after.items():
        write(rel, text)(library)
    assert_run_again_and_failed(library, "3", env)


def test_a_pytest_plugin_installed_after_the_step_was_verified_is_seen(library: Path) -> None:
    # installed without a change to any lock file (`uv pip install`, `pip install`)
    env = {"PYTHONPATH": str(library / "site")}
    (library / "site").mkdir()
    verified = run_doit(library, "poc-complete", env=env)
    assert verified.code == 0, verified.out + verified.err
    write(
        "site/pocnew-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pocnew\nVersion: 1.0\n"
    )(library)
    write("site/pocnew-1.0.dist-info/entry_points.txt", "[pytest11]\npocnew = pocnew\n")(library)
    write(
        "site/pocnew.py",
        "def pytest_runtest_call(item):\n    raise AssertionError('pocnew fails every test')\n",
    )(library)
    assert_run_again_and_failed(library, "3", env, says="settings or environment changed")


WORDS_TEST = (
    "from pathlib import Path\n\n\ndef test_the_words_are_read_right():\n"
    "    words = (Path(__file__).parent / 'data' / 'words.txt').read_text().split()\n"
    "    assert words == ['café', 'crème']\n"
)


def test_a_locale_with_another_text_encoding_is_a_change(library: Path, tmp_path: Path) -> None:
    # LANG decides what open() reads when no encoding is named: its effect is an input
    localedef = shutil.which("localedef")
    locales = tmp_path / "locales"
    if localedef is not None:
        locales.mkdir()
        subprocess.run(
            [localedef, "-i", "en_US", "-f", "ISO-8859-1", str(locales / "en_US.ISO-8859-1")],
            capture_output=True,
            check=False,
        )
    if not (locales / "en_US.ISO-8859-1").is_dir():
        pytest.skip("no localedef here to build a Latin-1 locale")
    if os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE"):
        pytest.skip("LC_ALL or LC_CTYPE is set: LANG would not decide the encoding")
    write("tests/data/words.txt", "café crème\n")(library)
    write("tests/test_step4_config.py", WORDS_TEST)(library)
    env = {"LOCPATH": str(locales)}  # where the locale is; not an input itself
    verified = run_doit(library, "poc-complete", env=env)
    assert verified.code == 0, verified.out + verified.err
    latin = {**env, "LANG": "en_US.ISO-8859-1"}
    assert_run_again_and_failed(library, "4", latin, says="python:text-encoding")


def test_a_variable_that_turns_the_default_encoding_into_a_warning_is_an_input(
    library: Path,
) -> None:
    # with filterwarnings = error, PYTHONWARNDEFAULTENCODING fails a test that names none
    write("tests/data/words.txt", "café crème\n")(library)
    write("tests/test_step4_config.py", WORDS_TEST)(library)
    edit(
        library / "pyproject.toml",
        lambda text: text + '\n[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n',
    )
    verified = run_doit(library, "poc-complete")
    assert verified.code == 0, verified.out + verified.err
    env = {"PYTHONWARNDEFAULTENCODING": "1"}
    assert_run_again_and_failed(library, "4", env, says="$PYTHONWARNDEFAULTENCODING")


#: what a test sees of variables Python reads as it starts, in its own process
STARTUP_TESTS = {
    "PYTHONTRACEMALLOC": "import tracemalloc\n\n\n"
    "def test_memory_is_measured_from_a_clean_start():\n"
    "    assert not tracemalloc.is_tracing()\n",
    "PYTHONDEBUG": "import sys\n\n\ndef test_the_interpreter_runs_without_its_debug_flag():\n"
    "    assert sys.flags.debug == 0\n",
}


@pytest.mark.parametrize("variable", list(STARTUP_TESTS))
def test_a_variable_python_reads_as_it_starts_is_an_input_of_the_tests(
    library: Path, variable: str
) -> None:
    write("tests/test_step4_config.py", STARTUP_TESTS[variable])(library)
    verified = run_doit(library, "poc-complete")
    assert verified.code == 0, verified.out + verified.err
    assert_run_again_and_failed(library, "4", {variable: "1"}, says=f"${variable}")


ARCHITECTURE_TEST = (
    "import json\nimport platform\nfrom pathlib import Path\n\n\n"
    "def test_the_tuning_for_this_machine():\n"
    "    path = Path(__file__).parent / 'data' / (platform.machine() + '.json')\n"
    "    assert json.loads(path.read_text(encoding='utf-8')) == {'block': 64}\n"
)


@pytest.mark.skipif(
    shutil.which("setarch") is None or os.uname().machine != "x86_64",
    reason="needs setarch on an x86_64 machine to run as on another architecture",
)
def test_a_record_made_on_another_machine_architecture_is_not_taken(library: Path) -> None:
    # platform.machine() says which data, wheel or build a test takes: a record made on
    # x86_64 does not hold where uname says i686 (setarch), whatever sys.platform says
    write("tests/data/x86_64.json", '{"block": 64}\n')(library)
    write("tests/test_step4_config.py", ARCHITECTURE_TEST)(library)
    assert run_doit(library, "poc-complete").code == 0
    shutil.rmtree(library / ".pocflow")  # a fresh clone with the committed records
    other = ["setarch", "i686", sys.executable]
    plain = subprocess.run(
        [*other, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_step4_config.py"],
        cwd=library,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 1, plain.stdout  # the step's tests really fail there
    done = subprocess.run(
        [*other, "-m", "doit", "poc-complete"],
        cwd=library,
        env=doit_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "machine x86_64 -> i686" in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_shared_library_loaded_with_ctypes_is_an_input(library: Path, tmp_path: Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler here to build the shared library")

    def build(value: int) -> None:
        source = tmp_path / "lib.c"
        source.write_text(f"int answer(void) {{ return {value}; }}\n", encoding="utf-8")
        subprocess.run(
            [compiler, "-shared", "-fPIC", "-o", str(library / "data/libanswer.so"), str(source)],
            check=True,
        )

    build(42)
    write(
        "tests/test_step3_helpers.py",
        "import ctypes\nfrom pathlib import Path\n\n\ndef test_the_answer():\n"
        "    lib = ctypes.CDLL(str(Path(__file__).resolve().parents[1] / 'data' / "
        "'libanswer.so'))\n    assert lib.answer() == 42\n",
    )(library)
    assert run_doit(library, "poc-complete").code == 0
    build(43)
    assert_run_again_and_failed(library, "3")


def test_a_test_copying_the_environment_stays_verified(library: Path) -> None:
    # pytest sets PYTEST_CURRENT_TEST while a test runs: not an input of the step
    write(
        "tests/test_step4_config.py",
        "import os\n\n\ndef test_the_environment_has_a_path():\n"
        "    assert 'PATH' in dict(os.environ)\n",
    )(library)
    assert run_doit(library, "poc-complete").code == 0
    again = run_doit(library, "poc-complete")
    assert again.code == 0
    assert not again.ran, again.out


def test_a_failure_the_small_win_check_sees_outweighs_the_record(library: Path) -> None:
    # a read pocflow cannot observe (another program reads the file): the record holds, but
    # the small-win check's session sees the tests fail on these very files
    (library / "data/flag.txt").write_text("ok\n", encoding="utf-8")
    write(
        "tests/test_step2_table.py",
        "import subprocess\n\n\ndef test_the_flag_is_ok():\n"
        "    done = subprocess.run(['cat', 'data/flag.txt'], capture_output=True, text=True)\n"
        "    assert done.stdout == 'ok\\n'\n",
    )(library)
    assert run_doit(library, "poc-complete").code == 0
    (library / "data/flag.txt").write_text("bad\n", encoding="utf-8")
    assert plain_pytest(library, "2") != 0  # really failing

    check = run_doit(library, "small-win-check")
    assert check.code == 1 and "Needs Attention" in check.out
    gate = run_doit(library, "poc-complete")
    assert gate.code == 1, gate.out + gate.err
    assert "test:2" in gate.ran  # run again on the evidence, and failing for real
    assert "2" not in {
        sid for sid, s in compute_status(load_workspace(library)).items() if s.is_verified
    }

    (library / "data/flag.txt").write_text("ok\n", encoding="utf-8")
    fixed = run_doit(library, "poc-complete")  # never stuck: the next run verifies it
    assert fixed.code == 0, fixed.out + fixed.err


def plain_tests(ws: Path, step: str) -> int:
    """The exit code of plain pytest on the step's test file alone, on the files as they are
    (no script runs first: what a person sees who runs the step's tests)."""
    test = next((ws / "tests").glob(f"test_step{step}_*.py")).relative_to(ws)
    done = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=ws,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "POCFLOW_"))},
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        timeout=300,
    )
    return done.returncode


#: a step that declares its output and a step that reads it without depending on it
OUTPUTS = {
    "pyproject.toml": '[tool.pocflow]\npoc = 1\nundocumented = "warn"\n',
    "docs/poc1-implementation.md": "# PoC 1 Implementation Plan: Outputs\n\n"
    "## Implementation Steps\n\n### Step 1: Write\n\n**Goal**: g.\n\n"
    "### Step 2: Read\n\n**Goal**: g.\n\n"
    "## Production-Grade Checklist\n\n- [x] **Real**: yes\n",
    "steps/step1.yaml": "title: Write\noutputs:\n  - out/log.txt\n",
    "PoC/step1_write.py": '"""Step 1: add a line to the log.\n\nUsage:\n'
    '    python PoC/step1_write.py\n"""\nfrom pathlib import Path\n\n'
    'log = Path(__file__).resolve().parents[1] / "out" / "log.txt"\n'
    "log.parent.mkdir(exist_ok=True)\n"
    'old = log.read_text(encoding="utf-8") if log.exists() else ""\n'
    'log.write_text(old + "ran\\n", encoding="utf-8")\n',
    "tests/test_step1_write.py": "from pathlib import Path\n\n\n"
    "def test_the_log_says_it_ran():\n"
    "    log = Path(__file__).resolve().parents[1] / 'out' / 'log.txt'\n"
    "    assert 'ran' in log.read_text(encoding='utf-8')\n",
    "PoC/step2_read.py": '"""Step 2: nothing to run.\n\nUsage:\n'
    '    python PoC/step2_read.py\n"""\n',
    "tests/test_step2_read.py": "from pathlib import Path\n\n\n"
    "def test_the_log_has_one_line():\n"
    "    log = Path(__file__).resolve().parents[1] / 'out' / 'log.txt'\n"
    "    assert log.read_text(encoding='utf-8').splitlines() == ['ran']\n",
}


@pytest.fixture(scope="module")
def verified_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OUTPUTS workspace, verified once (do not modify)."""
    return outputs_workspace(tmp_path_factory.mktemp("outputs") / "ws", {})


@pytest.fixture
def outputs(verified_outputs: Path, tmp_path: Path) -> Path:
    """A private copy of the verified OUTPUTS workspace, state included."""
    return private_copy(verified_outputs, tmp_path / "ws")


def test_a_hand_edited_output_its_own_tests_read_is_tested_again(outputs: Path) -> None:
    (outputs / "out/log.txt").write_text("edited\n", encoding="utf-8")
    assert plain_tests(outputs, "1") != 0, "the case must really fail"
    before = run_doit(outputs, "status")  # not shown as verified before anything ran
    assert (
        "✅ 1" not in before.out
        and "out/log.txt changed since its tests read it (`uv run doit run --reverify "
        "step:1` writes it again)"
        in before.out
    )
    result = run_doit(outputs, "--continue", "poc-complete")
    output = result.out + result.err
    assert result.code != 0, output
    assert {"1", "2"} <= result.ran_steps, output
    assert "out/log.txt" in output  # why the tests ran again
    # the way out: its script writes the log anew (it runs only when the step is verified
    # again; `doit step:1` would fail again on the same files)
    assert "next: uv run doit run --reverify step:1  # step 1 failed, and out/log.txt" in output
    assert run_doit(outputs, "run", "--reverify", "step:1").code == 0


WRITES_THE_LOG = (
    '"""Step 1: write the log.\n\nUsage:\n    python PoC/step1_write.py\n"""\n'
    "from pathlib import Path\n\n"
    'log = Path(__file__).resolve().parents[1] / "out" / "log.txt"\n'
    "log.parent.mkdir(exist_ok=True)\n"
    'log.write_text("ran\\n", encoding="utf-8")\n'
)


@pytest.mark.parametrize(
    ("state", "script"),
    [
        ("an accepting run's", WRITES_THE_LOG),
        ("none", WRITES_THE_LOG),
        # a script that adds to the log: running it does not make the log its record
        # stands on out of another run's
        ("none", OUTPUTS["PoC/step1_write.py"]),
    ],
    ids=["CI cache of a fresh clone's run", "no local state", "a script that appends"],
)
def test_an_output_another_run_left_is_not_taken_for_what_the_scripts_make(
    tmp_path: Path, state: str, script: str
) -> None:
    # the log is there as another branch's run left it; the local state is a fresh clone's
    # run (a CI cache restored), or there is none: nothing here says the log is what step 1's
    # script makes, and step 2's tests read it
    ws = outputs_workspace(tmp_path / "ws", {"PoC/step1_write.py": script})
    shutil.rmtree(ws / ".pocflow")
    if state != "none":
        clone = clone_of(ws, tmp_path / "clone")
        shutil.rmtree(clone / "out")
        taken = run_doit(clone, "poc-complete")
        assert taken.code == 0 and taken.ran_steps == set(), taken.out + taken.err
        shutil.copytree(clone / ".pocflow", ws / ".pocflow", symlinks=True)
    (ws / "out/log.txt").write_text("another branch's\n", encoding="utf-8")
    assert plain_tests(ws, "2") != 0, "the case must really fail"
    before = run_doit(ws, "status").out  # not shown verified before anything ran
    assert "✅ 2" not in before and "out/log.txt there, not as a run" in before, before
    result = run_doit(ws, "poc-complete")
    # step 1 runs (its script writes the log, its tests run): pocflow and plain pytest agree
    assert "1" in result.ran_steps, result.out + result.err
    assert (
        "out/log.txt there, not as a run of the steps' scripts here left it" in result.out
        or "(changed: out/log.txt)" in result.out  # (its record was taken, then it came)
    ), result.out
    assert (result.code == 0) == (plain_tests(ws, "2") == 0), result.out + result.err
    if script == WRITES_THE_LOG:
        assert result.code == 0, result.out + result.err
        again = run_doit(ws, "poc-complete")
        assert again.code == 0 and again.ran == [], again.out + again.err


def test_an_output_replaced_after_its_record_was_taken_is_not_taken_for_what_the_scripts_make(
    tmp_path: Path,
) -> None:
    ws = outputs_workspace(tmp_path / "ws", {"PoC/step1_write.py": WRITES_THE_LOG})
    shutil.rmtree(ws / ".pocflow")
    (ws / "out/log.txt").write_text("another branch's\n", encoding="utf-8")
    assert run_doit(ws, "poc-complete").code == 0  # step 1 ran: the log is its script's
    (ws / "out/log.txt").write_text("replaced\n", encoding="utf-8")
    assert plain_tests(ws, "2") != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete")
    assert (result.code == 0) == (plain_tests(ws, "2") == 0), result.out + result.err
    assert result.code != 0, result.out + result.err


def test_a_hand_edited_output_another_steps_tests_read_is_tested_again(outputs: Path) -> None:
    (outputs / "out/log.txt").write_text("ran\nran\n", encoding="utf-8")
    assert plain_tests(outputs, "1") == 0
    assert plain_tests(outputs, "2") != 0, "the case must really fail"
    result = run_doit(outputs, "--continue", "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "2" in result.ran_steps
    assert "step 2" in result.out + result.err


def test_an_output_rewritten_by_a_reverified_step_is_tested_again_where_read(
    outputs: Path,
) -> None:
    again = run_doit(outputs, "run", "--reverify", "step:1")  # the script appends a line
    assert again.code == 0, again.out + again.err
    assert plain_tests(outputs, "2") != 0, "the case must really fail"
    result = run_doit(outputs, "--continue", "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "2" in result.ran_steps
    status = run_doit(outputs, "status")
    assert "❌ 2" in status.out, status.out


def test_outputs_read_are_not_in_committed_records(outputs: Path) -> None:
    record = json.loads((outputs / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert "outputs_read" not in record["test"]
    assert "out/log.txt" not in record["inputs"]
    local = json.loads((outputs / ".pocflow/runs/step1/test.json").read_text(encoding="utf-8"))
    assert set(local["outputs_read"]) == {"out/log.txt"}


def outputs_workspace(root: Path, changes: dict[str, str]) -> Path:
    """The OUTPUTS workspace with some files changed, verified once."""
    ws = write_files_and_dodo(root, {**OUTPUTS, **changes})
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    return ws


READ_LOG = "    log = Path(__file__).resolve().parents[1] / 'out' / 'log.txt'\n"


@pytest.mark.parametrize(
    "test_file",
    [
        # reads the output, then appends to it once (tests appending whenever they run are
        # not verified: test_tests_that_change_an_output_they_read_whenever_they_run_...)
        "from pathlib import Path\n\n\ndef test_the_log_says_it_ran():\n"
        + READ_LOG
        + "    assert 'ran' in log.read_text(encoding='utf-8')\n"
        "    if 'checked' not in log.read_text(encoding='utf-8'):\n"
        "        with log.open('a', encoding='utf-8') as out:\n"
        "            out.write('checked\\n')\n",
        # opens it for appending before reading it
        "from pathlib import Path\n\n\ndef test_the_log_says_it_ran():\n"
        + READ_LOG
        + "    log.open('a', encoding='utf-8').close()\n"
        "    assert 'ran' in log.read_text(encoding='utf-8')\n",
    ],
    ids=["read then appended once", "opened for appending first"],
)
def test_an_output_the_tests_also_write_is_tested_again_after_a_hand_edit(
    tmp_path: Path, test_file: str
) -> None:
    ws = outputs_workspace(
        tmp_path / "ws",
        {"tests/test_step1_write.py": test_file, "tests/test_step2_read.py": PASSING_TEST},
    )
    again = run_doit(ws, "poc-complete")  # what the tests left is where they stand
    assert again.code == 0 and again.ran == [], again.out + again.err
    (ws / "out/log.txt").write_text("edited\n", encoding="utf-8")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "1" in result.ran_steps


PASSING_TEST = "def test_nothing():\n    assert True\n"


CHECKS_THEN_ADDS = (
    "from pathlib import Path\n\n\ndef test_the_log_then_one_more_line():\n"
    + READ_LOG
    + "    assert {check}\n"
    "    with log.open('a', encoding='utf-8') as out:\n        out.write('checked\\n')\n"
)


@pytest.mark.parametrize(
    ("batch", "check", "fails_plain"),
    [
        ("true", "log.read_text(encoding='utf-8').splitlines() == ['ran']", True),
        ("false", "log.read_text(encoding='utf-8').splitlines() == ['ran']", True),
        # passes on the log as the script left it and once more: a second run proves
        # nothing about the third
        ("true", "len(log.read_text(encoding='utf-8').splitlines()) <= 2", False),
        # holds however many lines it adds: still no run of it reads the log as it is
        ("true", "'ran' in log.read_text(encoding='utf-8')", False),
    ],
    ids=["exactly", "exactly, one session per step", "two lines at most", "any lines"],
)
def test_tests_that_change_an_output_they_read_whenever_they_run_are_not_verified(
    tmp_path: Path, batch: str, check: str, fails_plain: bool
) -> None:
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            "pyproject.toml": OUTPUTS["pyproject.toml"] + f"test_batch = {batch}\n",
            "tests/test_step2_read.py": CHECKS_THEN_ADDS.format(check=check),
        },
    )
    result = run_doit(ws, "poc-complete")
    if fails_plain:
        assert plain_tests(ws, "2") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "out/log.txt" in result.out and "tmp_path" in result.out, result.out
    # (the step that failed, though step 1's test task did not run: doit stopped first)
    assert "next: uv run doit step:2  # step 2 failed" in result.out, result.out
    assert "❌ 2" in run_doit(ws, "status").out
    again = run_doit(ws, "poc-complete")  # and never afterwards
    assert again.code != 0, again.out + again.err
    if "2" in check:  # the third run of its tests, as a plain pytest now
        assert plain_tests(ws, "2") != 0, "the case must really fail"


@pytest.mark.parametrize(
    "change",
    [
        # a table made when missing: changed on the first run only
        "    with log.open('a', encoding='utf-8') as out:\n"
        "        if 'checked' not in log.read_text(encoding='utf-8'):\n"
        "            out.write('checked\\n')\n",
        # the same bytes written back
        "    log.write_text(log.read_text(encoding='utf-8'), encoding='utf-8')\n",
    ],
    ids=["once", "written back as it was"],
)
def test_tests_that_change_an_output_they_read_once_are_verified_on_it_as_they_left_it(
    tmp_path: Path, change: str
) -> None:
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            "tests/test_step2_read.py": "from pathlib import Path\n\n\n"
            "def test_the_log_says_it_ran():\n"
            + READ_LOG
            + "    assert 'ran' in log.read_text(encoding='utf-8')\n"
            + change,
        },
    )
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    # the project-state task, before the gate tested step 2 again, showed it stale: the
    # passing gate has PROJECT_STATE.md say what it found
    drift = run_doit(ws, "drift")
    assert drift.code == 0, drift.out + drift.err
    assert plain_tests(ws, "2") == 0
    again = run_doit(ws, "poc-complete")
    assert again.code == 0 and again.ran == [], again.out + again.err


def test_an_output_another_steps_tests_open_for_appending_is_still_watched(
    tmp_path: Path,
) -> None:
    ws = outputs_workspace(
        tmp_path / "ws",
        {
            "tests/test_step2_read.py": "import logging\nfrom pathlib import Path\n\n"
            "LOG = logging.getLogger('step2')\nLOG.addHandler(logging.FileHandler("
            "Path(__file__).resolve().parents[1] / 'out' / 'log.txt'))\n\n\n"
            "def test_logs():\n    LOG.warning('hello')\n"
        },
    )
    (ws / "out/log.txt").write_text("edited\n", encoding="utf-8")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "--continue", "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "1" in result.ran_steps


def test_a_database_output_the_tests_add_a_row_to_whenever_they_run_is_not_verified(
    tmp_path: Path,
) -> None:
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            "steps/step1.yaml": "title: Write\noutputs:\n  - out/db.sqlite\n",
            "PoC/step1_write.py": '"""Step 1: make the database.\n\nUsage:\n'
            '    python PoC/step1_write.py\n"""\nimport sqlite3\nfrom pathlib import Path\n\n'
            'db = Path(__file__).resolve().parents[1] / "out" / "db.sqlite"\n'
            "db.parent.mkdir(exist_ok=True)\ndb.unlink(missing_ok=True)\n"
            'with sqlite3.connect(db) as c:\n    c.execute("create table t(x)")\n'
            '    c.execute("insert into t values (1)")\n',
            "tests/test_step1_write.py": "import sqlite3\nfrom pathlib import Path\n\n\n"
            "def test_the_database_has_the_row():\n"
            "    db = Path(__file__).resolve().parents[1] / 'out' / 'db.sqlite'\n"
            "    with sqlite3.connect(db) as c:\n"
            "        assert c.execute('select count(*) from t where x = 1').fetchone() == (1,)\n"
            "        c.execute('insert into t values (2)')\n",
            "tests/test_step2_read.py": PASSING_TEST,
        },
    )
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "its tests change out/db.sqlite whenever they run" in result.out, result.out


def test_a_listing_of_a_folder_output_is_watched(tmp_path: Path) -> None:
    ws = outputs_workspace(
        tmp_path / "ws",
        {
            "steps/step1.yaml": "title: Write\noutputs:\n  - out/\n",
            "tests/test_step1_write.py": "import os\nfrom pathlib import Path\n\n\n"
            "def test_the_folder_holds_the_log_only():\n"
            "    out = Path(__file__).resolve().parents[1] / 'out'\n"
            "    assert sorted(os.listdir(out)) == ['log.txt']\n",
            "tests/test_step2_read.py": PASSING_TEST,
        },
    )
    (ws / "out/extra.txt").write_text("x\n", encoding="utf-8")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "1" in result.ran_steps


@pytest.mark.parametrize("suite_session", ["0", "1"])
def test_a_dependents_later_write_to_a_shared_output_has_the_gate_test_the_reader_again(
    tmp_path: Path, suite_session: str
) -> None:
    # step 2 extends step 1's log; step 1's tests forbid a second 'two': once step 2 wrote
    # again, the gate tests step 1 again on the log as it is (with the suite session on, as
    # in CI, in that session), and neither its record nor step 1's ✅ stands
    plan = OUTPUTS["docs/poc1-implementation.md"].replace(
        "### Step 2: Read\n\n**Goal**: g.\n",
        "### Step 2: Read\n\n**Goal**: g.\n\n**Depends On**: Step 1\n",
    )
    ws = outputs_workspace(
        tmp_path / "ws",
        {
            "docs/poc1-implementation.md": plan,
            "PoC/step2_read.py": '"""Step 2: add to the log.\n\nUsage:\n'
            '    python PoC/step2_read.py\n"""\nfrom pathlib import Path\n\n'
            'log = Path(__file__).resolve().parents[1] / "out" / "log.txt"\n'
            'log.write_text(log.read_text(encoding="utf-8") + "two\\n", encoding="utf-8")\n',
            "tests/test_step2_read.py": "from pathlib import Path\n\n\ndef test_two():\n"
            + READ_LOG
            + "    assert 'two' in log.read_text(encoding='utf-8')\n",
            "tests/test_step1_write.py": "from pathlib import Path\n\n\ndef test_one_two():\n"
            + READ_LOG
            + "    lines = log.read_text(encoding='utf-8').splitlines()\n"
            "    assert 'ran' in lines and lines.count('two') <= 1\n",
        },
    )
    env = {"POCFLOW_SUITE_SESSION": suite_session}
    assert run_doit(ws, "run", "--reverify", "step:1", env=env).code == 0
    result = run_doit(ws, "poc-complete", env=env)  # step 2 runs again: a second 'two'
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    status = run_doit(ws, "status", env=env)
    assert "is complete" not in status.out, status.out  # the gate's session failed on it
    assert "✅ 1" not in status.out, status.out


def test_an_output_read_after_doit_forget_is_still_watched(tmp_path: Path) -> None:
    ws = outputs_workspace(tmp_path / "ws", {"tests/test_step2_read.py": PASSING_TEST})
    assert run_doit(ws, "forget", "test:1").code == 0
    assert run_doit(ws, "poc-complete").code == 0  # takes the record: nothing changed
    (ws / "out/log.txt").write_text("edited\n", encoding="utf-8")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    assert "✅ 1" not in run_doit(ws, "status").out
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err


@pytest.mark.parametrize("clean", [("clean", "test:1"), ("clean",)], ids=["test:1", "all"])
def test_an_output_read_after_doit_clean_is_still_watched(
    tmp_path: Path, clean: tuple[str, ...]
) -> None:
    ws = outputs_workspace(tmp_path / "ws", {"tests/test_step2_read.py": PASSING_TEST})
    (ws / "out/log.txt").write_text("edited\n", encoding="utf-8")
    assert run_doit(ws, *clean).code == 0  # the local test result goes, the output stays
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete")
    # the tests run again and fail, or (everything cleaned: no run of step 1's script here
    # made the log) its script runs first and makes it anew: pocflow and plain pytest agree
    assert (result.code == 0) == (plain_tests(ws, "1") == 0), result.out + result.err
    assert result.code != 0 or "1" in result.ran_steps, result.out


def test_an_output_an_undone_experiment_wrote_is_written_again(tmp_path: Path) -> None:
    write_once = OUTPUTS["PoC/step1_write.py"].replace(
        'log.write_text(old + "ran\\n", encoding="utf-8")',
        'log.write_text("ran\\n", encoding="utf-8")',
    )
    ws = outputs_workspace(
        tmp_path / "ws",
        {"PoC/step1_write.py": write_once, "tests/test_step2_read.py": PASSING_TEST},
    )
    kept = {
        rel: (ws / rel).read_bytes()
        for rel in ("PoC/step1_write.py", "tests/test_step1_write.py", "steps/records/step1.json")
    }
    # an experiment: the script writes something else, and its test expects it
    edit(ws / "PoC/step1_write.py", lambda text: text.replace('"ran\\n"', '"v2\\n"'))
    edit(ws / "tests/test_step1_write.py", lambda text: text.replace("'ran' in", "'v2' in"))
    assert run_doit(ws, "poc-complete").code == 0
    for rel, data in kept.items():  # undone, as `git checkout -- .` does
        (ws / rel).write_bytes(data)
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "implement:1" in result.ran, result.out  # its output is written anew
    assert plain_tests(ws, "1") == 0


def test_an_output_another_steps_tests_change_in_a_shared_session_is_read_again(
    tmp_path: Path,
) -> None:
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            "tests/test_step1_write.py": "from pathlib import Path\n\n\ndef test_exactly():\n"
            + READ_LOG
            + "    assert log.read_text(encoding='utf-8') == 'ran\\n'\n",
            "tests/test_step2_read.py": "from pathlib import Path\n\n\ndef test_appends():\n"
            + READ_LOG
            + "    with log.open('a', encoding='utf-8') as out:\n        out.write('checked\\n')\n",
        },
    )
    first = run_doit(ws, "poc-complete")
    second = run_doit(ws, "poc-complete")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    assert second.code != 0, first.out + second.out + second.err


def write_files_and_dodo(root: Path, files: dict[str, str]) -> Path:
    """A workspace of these files, with the repository's dodo.py."""
    from support import write_files

    ws = write_files(root, files)
    shutil.copy2(REPO / "dodo.py", ws / "dodo.py")
    return ws


def log_test(name: str, body: str) -> str:
    """A test of step 1's out/log.txt (``log`` is its path)."""
    return f"from pathlib import Path\n\n\ndef test_{name}():\n" + READ_LOG + body


def test_outputs_two_steps_tests_read_and_rewrite_never_pass_as_verified(tmp_path: Path) -> None:
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            "tests/test_step1_write.py": log_test(
                "one",
                "    assert 'two' not in log.read_text(encoding='utf-8')\n"
                "    log.write_text('ran\\none\\n', encoding='utf-8')\n",
            ),
            "tests/test_step2_read.py": log_test(
                "two",
                "    assert 'ran' in log.read_text(encoding='utf-8')\n"
                "    log.write_text('ran\\ntwo\\n', encoding='utf-8')\n",
            ),
        },
    )
    run_doit(ws, "poc-complete")
    second = run_doit(ws, "poc-complete")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    assert second.code != 0, second.out + second.err


def test_tests_of_two_steps_appending_to_the_output_both_read_are_told_to_use_a_copy(
    tmp_path: Path,
) -> None:
    # plain pytest passes in any order; what each step's tests read differs from run to
    # run, so no run proves them on the file as it is: the gate says why
    appends = "    assert 'ran' in log.read_text(encoding='utf-8')\n" + (
        "    with log.open('a', encoding='utf-8') as out:\n        out.write('checked\\n')\n"
    )
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            "pyproject.toml": OUTPUTS["pyproject.toml"] + "test_batch = false\n",
            "tests/test_step1_write.py": log_test("one", appends),
            "tests/test_step2_read.py": log_test("two", appends),
        },
    )
    first = run_doit(ws, "poc-complete")
    assert first.code != 0
    assert "write to a copy (pytest's tmp_path)" in first.out + first.err, first.out


DB_TEST = (
    "import sqlite3\nfrom pathlib import Path\n\n\ndef test_{name}():\n"
    "    db = Path(__file__).resolve().parents[1] / 'out' / 'db.sqlite'\n"
    "    with sqlite3.connect(db) as c:\n{body}"
)
DB_STEP = {
    "steps/step1.yaml": "title: Write\noutputs:\n  - out/db.sqlite\n",
    "PoC/step1_write.py": '"""Step 1: make the database.\n\nUsage:\n'
    '    python PoC/step1_write.py\n"""\nimport sqlite3\nfrom pathlib import Path\n\n'
    'db = Path(__file__).resolve().parents[1] / "out" / "db.sqlite"\n'
    "db.parent.mkdir(exist_ok=True)\ndb.unlink(missing_ok=True)\n"
    'with sqlite3.connect(db) as c:\n    c.execute("create table t(x)")\n'
    '    c.execute("insert into t values (1)")\n',
}


def test_a_database_another_steps_tests_insert_into_is_read_again(tmp_path: Path) -> None:
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            **DB_STEP,
            "tests/test_step1_write.py": DB_TEST.format(
                name="one_row",
                body="        assert c.execute('select count(*) from t').fetchone() == (1,)\n",
            ),
            "tests/test_step2_read.py": DB_TEST.format(
                name="audit",
                body="        assert c.execute('select count(*) from t where x = 1').fetchone()"
                "[0] >= 1\n        c.execute('insert into t values (2)')\n",
            ),
        },
    )
    run_doit(ws, "poc-complete")
    second = run_doit(ws, "poc-complete")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    assert second.code != 0, second.out + second.err


def test_an_output_another_steps_tests_append_to_settles_after_one_run(tmp_path: Path) -> None:
    ws = write_files_and_dodo(
        tmp_path / "ws",
        {
            **OUTPUTS,
            "tests/test_step2_read.py": log_test(
                "appends",
                "    assert 'ran' in log.read_text(encoding='utf-8')\n"
                "    if 'checked' not in log.read_text(encoding='utf-8'):\n"
                "        with log.open('a', encoding='utf-8') as out:\n"
                "            out.write('checked\\n')\n",
            ),
        },
    )
    poc_complete_passes(ws)
    assert "✅ 1" in run_doit(ws, "status").out  # the gate tested it on what is there
    second = run_doit(ws, "poc-complete")
    assert second.code == 0 and second.ran == [], second.out + second.err
    assert plain_tests(ws, "1") == 0


def test_a_deleted_output_says_how_to_write_it_again(outputs: Path) -> None:
    shutil.rmtree(outputs / "out")
    status = run_doit(outputs, "status")
    assert "out/log.txt gone since its tests read it (`uv run doit run --reverify step:1`" in (
        status.out
    )
    assert run_doit(outputs, "run", "--reverify", "step:1").code == 0
    result = run_doit(outputs, "poc-complete")
    assert result.code == 0, result.out + result.err


#: step 1's test reads the data file out/current.txt names; step 2 (depending on step 1)
#: points it at another one, or writes that other one itself
POINTED = (
    "from pathlib import Path\n\nROOT = Path(__file__).resolve().parents[1]\n\n\n"
    "def test_the_current_data_is_valid():\n"
    "    name = (ROOT / 'out' / 'current.txt').read_text(encoding='utf-8').strip()\n"
    "    rows = (ROOT / name).read_text(encoding='utf-8').splitlines()\n"
    "    assert rows[0] == 'id,value' and len(rows) > 1\n"
)
POINT_AT = (
    '"""Step {n}: point at {target}.\n\nUsage:\n    python PoC/step{n}_x.py\n"""\n'
    "from pathlib import Path\n\nOUT = Path(__file__).resolve().parents[1] / 'out'\n"
    "OUT.mkdir(exist_ok=True)\n{extra}"
    "(OUT / 'current.txt').write_text('{target}\\n', encoding='utf-8')\n"
)


def pointed_workspace(root: Path, second: str) -> Path:
    ws = make_workspace(
        root, {"1": POINTED, "2": "def test_ok():\n    assert True\n"}, depends={"2": "1"}
    )
    write_files(
        ws,
        {
            "PoC/step1_x.py": POINT_AT.format(n=1, target="data/a.csv", extra=""),
            "PoC/step2_x.py": second,
            "data/a.csv": "id,value\n1,2\n",
            "data/b.csv": "id,value\n1,3\n",
        },
    )
    return ws


@pytest.mark.parametrize(
    "second, change",
    [
        (  # step 2 points at a data file: a person edits it
            POINT_AT.format(n=2, target="data/b.csv", extra=""),
            lambda ws: (ws / "data/b.csv").write_text("oops\n", encoding="utf-8"),
        ),
        (  # step 2 writes the file it points at: its script changes what it writes
            POINT_AT.format(
                n=2,
                target="out/b.csv",
                extra="(OUT / 'b.csv').write_text('id,value\\n1,3\\n', encoding='utf-8')\n",
            ),
            lambda ws: replace_in("PoC/step2_x.py", "id,value\\n1,3", "1,3")(ws),
        ),
    ],
    ids=["a data file", "an output of the dependent"],
)
def test_what_the_gate_read_testing_a_step_again_stays_watched(
    tmp_path: Path, second: str, change: Callable[[Path], None]
) -> None:
    # the gate tests step 1 again on what step 2 pointed it at: what that session read is
    # evidence the gate stands on, so a change to it is a change
    ws = pointed_workspace(tmp_path / "ws", second)
    first = run_doit(ws, "poc-complete")
    assert first.code == 0, first.out + first.err
    assert "tested step(s) 1 again" in first.err
    change(ws)
    result = run_doit(ws, "poc-complete")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "✅ 1" not in run_doit(ws, "status").out


def test_an_undone_experiment_on_a_test_does_not_leave_its_outputs_read_in_place(
    tmp_path: Path,
) -> None:
    # step 1's test reads out/a.json; an experiment has it read out/b.json instead, and is
    # verified; undone, the committed record is taken again — but what the experiment read
    # must not stand for what the test reads now
    reads = (
        "import json\nfrom pathlib import Path\n\n"
        "OUT = Path(__file__).resolve().parents[1] / 'out'\n\n\n"
        "def test_the_rows():\n"
        "    assert json.loads((OUT / 'a.json').read_text(encoding='utf-8'))['rows'] == 3\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": reads, "2": "def test_ok():\n    assert True\n"})
    write_files(
        ws,
        {
            "PoC/step1_x.py": '"""Step 1: write the rows.\n\nUsage:\n'
            '    python PoC/step1_x.py\n"""\n'
            "import json\nfrom pathlib import Path\n\n"
            "OUT = Path(__file__).resolve().parents[1] / 'out'\nOUT.mkdir(exist_ok=True)\n"
            "for name in ('a.json', 'b.json'):\n"
            "    (OUT / name).write_text(json.dumps({'rows': 3}), encoding='utf-8')\n"
        },
    )
    assert run_doit(ws, "poc-complete").code == 0
    committed = {  # what `git checkout -- .` brings back: the files, records and documents
        path: path.read_bytes()
        for folder in ("tests", "steps", "docs")
        for path in (ws / folder).rglob("*")
        if path.is_file()
    }
    test = ws / "tests/test_step1_x.py"
    test.write_text(reads.replace("'a.json'", "'b.json'"), encoding="utf-8")  # the experiment
    assert run_doit(ws, "poc-complete").code == 0
    for path, content in committed.items():  # undone: the committed record holds again
        path.write_bytes(content)
    again = run_doit(ws, "poc-complete")
    assert again.code == 0, again.out + again.err
    (ws / "out/a.json").write_text('{"rows": 2}', encoding="utf-8")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "✅ 1" not in run_doit(ws, "status").out


#: step 1's test writes a report (no script writes it, no manifest declares it); step 2's
#: test reads it
EXPORTS = (
    "from pathlib import Path\n\nROOT = Path(__file__).resolve().parents[1]\n\n\n"
    "def test_export_report():\n"
    "    (ROOT / 'out').mkdir(exist_ok=True)\n"
    "    (ROOT / 'out' / 'report.csv').write_text('id,value\\n1,2\\n', encoding='utf-8')\n"
)
READS_REPORT = (
    "from pathlib import Path\n\nROOT = Path(__file__).resolve().parents[1]\n\n\n"
    "def test_report_header():\n"
    "    report = (ROOT / 'out' / 'report.csv').read_text(encoding='utf-8')\n"
    "    assert report.splitlines()[0] == 'id,value'\n"
)


@pytest.mark.parametrize(
    "change",
    [
        replace_in("tests/test_step1_x.py", "id,value", "key,value"),
        write("out/report.csv", "key,value\n1,2\n"),
    ],
    ids=["the writing test changes", "edited by hand"],
)
def test_a_file_another_steps_tests_wrote_is_watched_by_the_tests_reading_it(
    tmp_path: Path, change: Callable[[Path], None]
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": EXPORTS, "2": READS_REPORT})
    first = run_doit(ws, "poc-complete")  # both steps ready together: one session
    assert first.code == 0, first.out + first.err
    change(ws)
    result = run_doit(ws, "poc-complete")
    assert plain_tests(ws, "2") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "✅ 2" not in run_doit(ws, "status").out


def test_a_database_opened_by_uri_in_a_folder_whose_name_has_a_space_is_watched(
    tmp_path: Path,
) -> None:
    counts = (
        "import sqlite3\nfrom pathlib import Path\n\n"
        "DB = Path(__file__).resolve().parents[1] / 'data' / 'atlas.db'\n\n\n"
        "def test_two_zones():\n"
        "    con = sqlite3.connect(DB.as_uri() + '?mode=ro', uri=True)\n"  # file:///…%20…
        "    (n,) = con.execute('select count(*) from zones').fetchone()\n"
        "    con.close()\n"
        "    assert n == 2\n"
    )
    ws = make_workspace(tmp_path / "my poc", {"1": counts})
    (ws / "data").mkdir()
    with closing(sqlite3.connect(ws / "data/atlas.db")) as con, con:
        con.execute("create table zones(name)")
        con.executemany("insert into zones values (?)", [("a",), ("b",)])
    assert run_doit(ws, "poc-complete").code == 0
    with closing(sqlite3.connect(ws / "data/atlas.db")) as con, con:
        con.execute("insert into zones values ('c')")
    assert_run_again_and_failed(ws, "1")


#: a library of two functions, each step's tests covering one (three of its four lines)
COVERED = "def double(x):\n    return 2 * x\n\n\ndef triple(x):\n    return 3 * x\n"


def covered_workspace(root: Path, addopts: str, more: str = "") -> Path:
    """Two independent steps, each testing one function of mylib, with pytest-cov in
    pytest's addopts (as an existing library has it); ``more``: pyproject.toml's end."""
    ws = make_workspace(
        root,
        {
            "1": "from mylib import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
            "2": "from mylib import triple\n\n\ndef test_triple():\n    assert triple(2) == 6\n",
        },
        settings=f'\n[tool.pytest.ini_options]\npythonpath = ["."]\naddopts = "{addopts}"\n' + more,
    )
    write_files(ws, {"mylib/__init__.py": COVERED})
    return ws


def test_a_coverage_threshold_in_pyproject_is_an_input(tmp_path: Path) -> None:
    ws = covered_workspace(
        tmp_path / "ws", "--cov=mylib", "\n[tool.coverage.report]\nfail_under = 50\n"
    )
    poc_complete_passes(ws)
    pyproject = ws / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("fail_under = 50", "fail_under = 90"), encoding="utf-8")
    assert_run_again_and_failed(ws, "1", says="fail-under (90%)")


@pytest.mark.parametrize("report", ["html", "xml", "json"])
def test_a_coverage_report_written_into_the_workspace_is_no_input(
    tmp_path: Path, report: str
) -> None:
    # an HTML report reads its status.json back and rewrites it whenever it runs: every
    # step was "changed since its tests ran, by this run: htmlcov/status.json"
    ws = covered_workspace(tmp_path / "ws", f"--cov=mylib --cov-report={report}")
    poc_complete_passes(ws)
    again = poc_complete_passes(ws)
    assert again.ran == [], again.out
    assert (
        ws / {"html": "htmlcov", "xml": "coverage.xml", "json": "coverage.json"}[report]
    ).exists()


def test_coverage_in_addopts_verifies_and_leaves_no_data_in_the_workspace(
    tmp_path: Path,
) -> None:
    # coverage's data file (.coverage and its parallel parts), read and rewritten by every
    # session, made each step "changed since its tests read them" on every run
    ws = covered_workspace(tmp_path / "ws", "--cov=mylib")
    poc_complete_passes(ws)
    again = poc_complete_passes(ws)
    assert again.ran == [], again.out
    assert not list(ws.glob(".coverage*")), sorted(p.name for p in ws.iterdir())
    assert plain_tests(ws, "1") == 0


def test_a_coverage_threshold_the_steps_meet_only_together_verifies_neither(
    tmp_path: Path,
) -> None:
    # together 100% of mylib, each alone 75%: plain `pytest <its file>` fails on the threshold
    ws = covered_workspace(tmp_path / "ws", "--cov=mylib --cov-fail-under=80")
    result = run_doit(ws, "--continue", "poc-complete")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "pytest-cov's fail-under (80%) is not met by them alone" in result.out, result.out
    status = run_doit(ws, "status").out
    assert "✅ 1" not in status and "✅ 2" not in status, status


@pytest.mark.parametrize("given", ["--rootdir=tests", "-p no:randomly --rootdir tests"])
def test_a_rootdir_pytest_addopts_gives_is_not_overridden_by_pocflows_own(
    tmp_path: Path, given: str
) -> None:
    rooted = (
        "def test_rooted_at_the_workspace(pytestconfig):\n"
        "    assert (pytestconfig.rootpath / 'tests' / 'test_step1_x.py').is_file()\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": rooted})
    env = {"PYTEST_ADDOPTS": given}
    assert plain_pytest(ws, "1", env) != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete", env=env)
    assert result.code != 0, result.out + result.err
    assert "PYTEST_ADDOPTS gives --rootdir=tests" in result.out, result.out
    # the workspace itself as the rootdir is what pocflow's sessions use: that verifies
    assert run_doit(ws, "poc-complete", env={"PYTEST_ADDOPTS": "--rootdir=."}).code == 0


#: a writer that commits to a database in write-ahead-log mode and ends without closing it:
#: the change is in <db>-wal only, the database file itself keeps its bytes
COMMIT_TO_THE_LOG_ONLY = (
    "import os, sqlite3, sys\n"
    "con = sqlite3.connect(sys.argv[1])\n"
    "con.execute('pragma wal_autocheckpoint=0')\n"
    "con.execute('delete from zones where rowid > 1')\n"
    "con.commit()\n"
    "os._exit(0)\n"
)


@pytest.mark.parametrize("db", ["data/atlas.db", "out/atlas.db"], ids=["input", "output"])
def test_a_database_changed_only_in_its_write_ahead_log_is_a_change(
    tmp_path: Path, db: str
) -> None:
    counts = (
        "import sqlite3\nfrom contextlib import closing\n\n\n"
        "def test_two_zones():\n"
        f"    with closing(sqlite3.connect({db!r})) as con:\n"
        "        assert con.execute('select count(*) from zones').fetchone() == (2,)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": counts})
    make = (
        "import os, sqlite3\n"
        f"os.makedirs(os.path.dirname({db!r}), exist_ok=True)\n"
        f"con = sqlite3.connect({db!r})\n"
        "con.execute('pragma journal_mode=wal')\n"
        "con.execute('create table if not exists zones(name)')\n"
        "con.execute('delete from zones')\n"
        "con.executemany('insert into zones values (?)', [('a',), ('b',)])\n"
        "con.commit()\n"
        "con.close()\n"
    )
    if db.startswith("out/"):  # the step's script makes it
        usage = '"""Step 1: make the database.\n\nUsage:\n    python PoC/step1_x.py\n"""\n'
        (ws / "PoC/step1_x.py").write_text(usage + make, encoding="utf-8")
    else:  # a data file of the workspace
        subprocess.run([sys.executable, "-c", make], cwd=ws, check=True)
    assert run_doit(ws, "poc-complete").code == 0
    before = (ws / db).read_bytes()
    subprocess.run([sys.executable, "-c", COMMIT_TO_THE_LOG_ONLY, db], cwd=ws, check=True)
    assert (ws / db).read_bytes() == before, "the change must be in the log only"
    assert (ws / f"{db}-wal").stat().st_size > 0
    # pocflow first: plain pytest closing the database moves the log into the file
    result = run_doit(ws, "--continue", "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "1" in result.ran_steps, result.out
    assert plain_tests(ws, "1") != 0, "the case must really fail"


@pytest.mark.parametrize("how", ["attach", "link"])
def test_a_database_a_test_only_reads_through_attach_or_a_link_is_verified_and_watched(
    tmp_path: Path, how: str
) -> None:
    # SQLite opens the file to read and write whatever it does: the kernel reported it
    # closed after writing, and the step was "changed during run" on every run
    connect = (
        "    con = sqlite3.connect(':memory:')\n"
        "    con.execute(\"attach 'store/real.db' as s\")\n"
        "    (n,) = con.execute('select count(*) from s.zones').fetchone()\n"
        if how == "attach"
        else "    con = sqlite3.connect('data/atlas.db')\n"
        "    (n,) = con.execute('select count(*) from zones').fetchone()\n"
    )
    counts = (
        "import sqlite3\n\n\ndef test_two_zones():\n" + connect + "    con.close()\n"
        "    assert n == 2\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": counts})
    (ws / "store").mkdir()
    (ws / "data").mkdir()
    (ws / "data/atlas.db").symlink_to("../store/real.db")
    with closing(sqlite3.connect(ws / "store/real.db")) as con, con:
        con.execute("create table zones(name)")
        con.executemany("insert into zones values (?)", [("a",), ("b",)])
    assert run_doit(ws, "poc-complete").code == 0
    again = run_doit(ws, "poc-complete")
    assert again.code == 0 and again.ran == [], again.out
    with closing(sqlite3.connect(ws / "store/real.db")) as con, con:
        con.execute("insert into zones values ('c')")
    assert_run_again_and_failed(ws, "1")


#: a child process (no observer of its own: isolated, empty environment) that checks a file,
#: rewrites it through a memory map (no write the kernel reports) and sets its modification
#: time back
REWRITE_THROUGH_A_MAP = (
    "import mmap, os\n"
    "fd = os.open('data/flag.txt', os.O_RDWR)\n"
    "st = os.fstat(fd)\n"
    "m = mmap.mmap(fd, 0, access=mmap.ACCESS_WRITE)\n"
    "ok = m[:4] == b'AAAA'\n"
    "m[:4] = b'BBBB'\n"
    "m.flush(); m.close(); os.close(fd)\n"
    "os.utime('data/flag.txt', ns=(st.st_atime_ns, st.st_mtime_ns))\n"
    "raise SystemExit(0 if ok else 1)\n"
)


def test_a_file_a_child_rewrites_through_a_memory_map_and_dates_back_is_written(
    tmp_path: Path,
) -> None:
    test = (
        "import subprocess, sys\n\n"
        f"CHILD = {REWRITE_THROUGH_A_MAP!r}\n\n\n"
        "def test_the_flag_is_a():\n"
        "    assert subprocess.run([sys.executable, '-I', '-c', CHILD], env={}).returncode == 0\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/flag.txt": "AAAA\n"})
    result = run_doit(ws, "poc-complete")
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    again = run_doit(ws, "poc-complete")
    assert result.code != 0 or again.code != 0, result.out + again.out
    assert "✅ 1" not in run_doit(ws, "status").out


def test_a_file_read_through_a_linked_folder_and_dot_dot_is_the_one_the_system_read(
    tmp_path: Path,
) -> None:
    # src/atlas links to PoC/atlas; the package reads <its folder>/../data/zones.txt, which
    # the system resolves from where the link points: PoC/data/zones.txt
    reads = (
        "from atlas import zones\n\n\ndef test_zones():\n"
        "    assert zones() == ['Europe/Paris', 'Asia/Tokyo']\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        {"1": reads},
        settings='\n[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    )
    write_files(
        ws,
        {
            "PoC/atlas/__init__.py": "import os\n\n"
            "DATA = os.path.join(os.path.dirname(__file__), '..', 'data', 'zones.txt')\n\n\n"
            "def zones():\n    with open(DATA, encoding='utf-8') as f:\n"
            "        return f.read().split()\n",
            "PoC/data/zones.txt": "Europe/Paris\nAsia/Tokyo\n",
        },
    )
    (ws / "src").mkdir()
    (ws / "src/atlas").symlink_to("../PoC/atlas")
    assert run_doit(ws, "poc-complete").code == 0
    (ws / "PoC/data/zones.txt").write_text("Europe/Paris\n", encoding="utf-8")
    assert_run_again_and_failed(ws, "1")


def counting_data_files(count: int) -> str:
    """A test that lists tests/data, keeps the files and counts them."""
    return (
        "from pathlib import Path\n\nDATA = Path(__file__).parent / 'data'\n\n\n"
        f"def test_{count}_data_files():\n"
        f"    assert len([p for p in DATA.iterdir() if p.is_file()]) == {count}\n"
    )


def test_an_empty_folder_replaced_by_a_file_of_its_name_in_a_listed_folder_is_a_change(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": counting_data_files(1)})
    (ws / "tests/data/later").mkdir(parents=True)
    (ws / "tests/data/zones.txt").write_text("UTC\n", encoding="utf-8")
    assert run_doit(ws, "poc-complete").code == 0
    (ws / "tests/data/later").rmdir()
    (ws / "tests/data/later").write_text("", encoding="utf-8")  # same names, another kind
    assert_run_again_and_failed(ws, "1")


@pytest.mark.parametrize(
    "test, change",
    [
        (  # a file looked for and not found; a folder made there
            "from pathlib import Path\n\nROOT = Path(__file__).resolve().parents[1]\n\n\n"
            "def test_the_default_holds():\n"
            "    try:\n"
            "        text = (ROOT / 'out' / 'override').read_text(encoding='utf-8')\n"
            "    except FileNotFoundError:\n"
            "        text = 'default'\n"
            "    assert text == 'default'\n",
            lambda ws: (ws / "out/override").mkdir(parents=True),
        ),
        (  # a folder listed and not found; a file made there
            "import os\nfrom pathlib import Path\n\n"
            "ROOT = Path(__file__).resolve().parents[1]\n\n\n"
            "def test_no_plugins():\n"
            "    try:\n"
            "        names = os.listdir(ROOT / 'data' / 'plugins')\n"
            "    except FileNotFoundError:\n"
            "        names = []\n"
            "    assert names == []\n",
            lambda ws: write("data/plugins", "")(ws),
        ),
    ],
    ids=["a folder where a file was not found", "a file where a folder was not found"],
)
def test_a_path_found_absent_that_appears_as_another_kind_is_a_change(
    tmp_path: Path, test: str, change: Callable[[Path], None]
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": test})
    (ws / "data").mkdir(exist_ok=True)
    assert run_doit(ws, "poc-complete").code == 0
    change(ws)
    assert_run_again_and_failed(ws, "1")


def test_a_file_replaced_by_a_dangling_link_of_its_name_in_a_listed_folder_is_a_change(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": counting_data_files(2)})
    (ws / "tests/data").mkdir(parents=True)
    for name in ("zones.txt", "later.txt"):
        (ws / "tests/data" / name).write_text("UTC\n", encoding="utf-8")
    assert run_doit(ws, "poc-complete").code == 0
    (ws / "tests/data/later.txt").unlink()
    (ws / "tests/data/later.txt").symlink_to("gone.txt")  # same names, another kind
    assert_run_again_and_failed(ws, "1")


@pytest.mark.parametrize(
    "variable, test",
    [
        (
            "PYTHONVERBOSE",
            "import subprocess\nimport sys\n\n\ndef test_an_import_prints_nothing():\n"
            "    done = subprocess.run([sys.executable, '-c', 'import json'],"
            " capture_output=True, text=True)\n"
            "    assert done.stderr == ''\n",
        ),
    ],
)
def test_an_interpreter_variable_that_changes_what_a_test_sees_is_an_input(
    tmp_path: Path, variable: str, test: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert run_doit(ws, "poc-complete").code == 0
    assert_run_again_and_failed(ws, "1", {variable: "1"})


def test_entry_points_changed_in_place_in_an_installed_package_are_seen(tmp_path: Path) -> None:
    # an installed distribution's entry_points.txt rewritten, name and version the same
    finds = (
        "from importlib.metadata import entry_points\n\n\n"
        "def test_one_thing_is_registered():\n"
        "    assert [e.name for e in entry_points(group='poc.things')] == ['a']\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": finds})
    site = tmp_path / "site"
    write_files(
        site,
        {
            "pocthings-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pocthings\n"
            "Version: 1.0\n",
            "pocthings-1.0.dist-info/entry_points.txt": "[poc.things]\na = json\n",
        },
    )
    env = {"PYTHONPATH": str(site)}
    assert run_doit(ws, "poc-complete", env=env).code == 0
    (site / "pocthings-1.0.dist-info/entry_points.txt").write_text(
        "[poc.things]\nb = json\n", encoding="utf-8"
    )
    assert_run_again_and_failed(ws, "1", env)


def test_a_package_installed_again_byte_for_byte_re_verifies_nothing(tmp_path: Path) -> None:
    # uv reinstalls the workspace's own editable package whenever pyproject.toml is touched:
    # new times, the same files; a RECORD that lists other files is a change
    ws = make_workspace(tmp_path / "ws", {"1": PASSES})
    site = tmp_path / "site"
    record = "pocthings/__init__.py,sha256=abc,10\n"
    files = {
        "pocthings-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pocthings\n"
        "Version: 1.0\n",
        "pocthings-1.0.dist-info/RECORD": record,
        "_editable_impl_pocthings.pth": str(ws / "src") + "\n",
    }
    write_files(site, files)
    env = {"PYTHONPATH": str(site)}
    poc_complete_passes(ws, env=env)
    time.sleep(0.01)
    shutil.rmtree(site)
    write_files(site, files)  # installed again: new times, the same bytes
    again = poc_complete_passes(ws, env=env)
    assert not again.ran_steps, again.out
    (site / "pocthings-1.0.dist-info/RECORD").write_text(
        record.replace("abc", "def"), encoding="utf-8"
    )
    changed = poc_complete_passes(ws, env=env)
    assert changed.ran_steps == {"1"}, changed.out


@pytest.mark.parametrize(
    ("test", "added"),
    [
        (
            "try:\n    import fastadd\nexcept ImportError:\n    fastadd = None\n\n\n"
            "def test_add():\n    assert (fastadd.add if fastadd else lambda a, b: a + b)(1, 2) "
            "== 3\n",
            {"fastadd.py": "def add(a, b):\n    return a - b\n"},
        ),
        (
            "from decimal import Decimal\n\n\ndef test_third():\n"
            "    assert str(Decimal(1) / Decimal(3)).startswith('0.33333333')\n",
            {"sitecustomize.py": "import decimal\n\ndecimal.getcontext().prec = 4\n"},
        ),
    ],
    ids=["a module without metadata", "sitecustomize.py"],
)
def test_a_module_put_where_python_imports_from_outside_the_workspace_is_a_change(
    tmp_path: Path, test: str, added: dict[str, str]
) -> None:
    # no installer wrote metadata for it: the folder's module names, and what Python runs
    # at start, are part of what is installed
    ws = make_workspace(tmp_path / "ws", {"1": test})
    site = tmp_path / "site"  # a folder packages are installed into
    write_files(site, {"other-1.0.dist-info/METADATA": "Name: other\nVersion: 1.0\n"})
    env = {"PYTHONPATH": str(site)}
    poc_complete_passes(ws, env=env)
    write_files(site, added)
    assert_run_again_and_failed(ws, "1", env)


#: a conftest putting lib/ and src/ on sys.path (lib/ searched first)
ON_PATH = (
    "import sys\nfrom pathlib import Path\n\nROOT = Path(__file__).resolve().parents[1]\n"
    "for folder in ('src', 'lib'):\n    sys.path.insert(0, str(ROOT / folder))\n"
)
LOOKS = (
    "import glob\nimport os\nfrom pathlib import Path\n\n"
    "ROOT = Path(__file__).resolve().parents[1]\n"
)
TRIED = "try:\n    import fastpath\n    HAVE = True\nexcept ImportError:\n    HAVE = False\n"

#: found by an attack on the observer's absent modules, namespace packages and os.stat: a
#: one-step workspace (its files), then a change after which step 1's tests really fail
LOOKED_FOR = {
    "a folder named like an absent module (a namespace portion) appears": (
        {"tests/test_step1_x.py": TRIED + "\n\ndef test_no_fastpath():\n    assert not HAVE\n"},
        {"tests/fastpath/data.txt": "x\n"},
    ),
    "a namespace package imported by its dotted name turned regular": (
        {
            "tests/conftest.py": ON_PATH,
            "src/ns/a.py": "A = 1\n",
            "lib/ns/b.py": "B = 2\n",
            "tests/test_step1_x.py": "import ns.a\nimport ns.b\n\n\n"
            "def test_both():\n    assert ns.a.A + ns.b.B == 3\n",
        },
        {"src/ns/__init__.py": ""},
    ),
    "a new portion of a namespace package, searched first, shadows a module": (
        {
            "tests/conftest.py": ON_PATH,
            "src/ns/a.py": "A = 1\n",
            "tests/test_step1_x.py": "import ns.a\n\n\ndef test_a():\n    assert ns.a.A == 1\n",
        },
        {"lib/ns/a.py": "A = 2\n"},
    ),
    "a submodule `from pkg import name` found absent appears": (
        {
            "tests/conftest.py": ON_PATH,
            "src/pkg/__init__.py": "",
            "tests/test_step1_x.py": "try:\n    from pkg import fast\nexcept ImportError:\n"
            "    fast = None\n\n\ndef test_no_fast():\n    assert fast is None\n",
        },
        {"src/pkg/fast.py": "X = 1\n"},
    ),
    "a submodule `from . import name` found absent appears": (
        {
            "tests/conftest.py": ON_PATH,
            "src/pkg/__init__.py": "",
            "src/pkg/core.py": (
                "try:\n    from . import fast\nexcept ImportError:\n    fast = None\n"
            ),
            "tests/test_step1_x.py": "from pkg import core\n\n\n"
            "def test_no_fast():\n    assert core.fast is None\n",
        },
        {"src/pkg/fast.py": "X = 1\n"},
    ),
    "a module importlib.__import__ found absent appears": (
        {
            "tests/test_step1_x.py": "import importlib\n\ntry:\n"
            "    importlib.__import__('fastpath')\n    HAVE = True\nexcept ImportError:\n"
            "    HAVE = False\n\n\ndef test_no_fastpath():\n    assert not HAVE\n"
        },
        {"tests/fastpath.py": "X = 1\n"},
    ),
    "a module importlib.util.find_spec found absent appears": (
        {
            "tests/test_step1_x.py": "import importlib.util\n\n"
            "HAVE = importlib.util.find_spec('fastpath') is not None\n\n\n"
            "def test_no_fastpath():\n    assert not HAVE\n"
        },
        {"tests/fastpath.py": "X = 1\n"},
    ),
    "a submodule importlib.util.find_spec found absent appears": (
        {
            "tests/conftest.py": ON_PATH,
            "src/pkg/__init__.py": "",
            "tests/test_step1_x.py": "import importlib.util\n\n"
            "HAVE = importlib.util.find_spec('pkg.fast') is not None\n\n\n"
            "def test_no_fast():\n    assert not HAVE\n",
        },
        {"src/pkg/fast.py": "X = 1\n"},
    ),
    "a file checked for with os.path.lexists appears": (
        {
            "tests/test_step1_x.py": LOOKS + "\n\ndef test_no_override():\n"
            "    assert not os.path.lexists(ROOT / 'data' / 'override.txt')\n"
        },
        {"data/override.txt": "x\n"},
    ),
    "a file a literal glob looks for appears": (
        {
            "tests/test_step1_x.py": LOOKS + "\n\ndef test_no_override():\n"
            "    assert glob.glob(str(ROOT / 'data' / 'override.txt')) == []\n"
        },
        {"data/override.txt": "x\n"},
    ),
    "a file checked for with os.access appears": (
        {
            "tests/test_step1_x.py": LOOKS + "\n\ndef test_no_override():\n"
            "    assert not os.access(ROOT / 'data' / 'override.txt', os.F_OK)\n"
        },
        {"data/override.txt": "x\n"},
    ),
}


@pytest.mark.parametrize("files, change", LOOKED_FOR.values(), ids=list(LOOKED_FOR))
def test_what_workspace_code_looked_for_and_did_not_find_is_watched(
    tmp_path: Path, files: dict[str, str], change: dict[str, str]
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": "def test_placeholder():\n    pass\n"})
    write_files(ws, {"data/table.txt": "a\n", **files})
    poc_complete_passes(ws)
    write_files(ws, change)
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "--continue", "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "1" in result.ran_steps, result.out


SCRIPT_HEAD = '"""Step 1.\n\nUsage:\n    python PoC/step1_x.py\n"""\n' + LOOKS


@pytest.mark.parametrize(
    "script",
    [
        "OUT = ROOT / 'out'\nOUT.mkdir(exist_ok=True)\nfor n in ('link', 'link2'):\n"
        "    (OUT / n).unlink(missing_ok=True)\n"
        "os.symlink('../data/table.txt', OUT / 'link')\n"
        "import shutil\n\nshutil.copy2(OUT / 'link', OUT / 'link2', follow_symlinks=False)\n",
        "OUT = ROOT / 'out'\n(OUT / 'tmp' / 'x').mkdir(parents=True, exist_ok=True)\n"
        "import shutil\n\nassert shutil.rmtree.avoids_symlink_attacks\n"
        "fd = os.open(OUT, os.O_RDONLY)\nshutil.rmtree('tmp', dir_fd=fd)\n",
    ],
    ids=["shutil.copy2 of a link, not followed", "shutil.rmtree with dir_fd"],
)
def test_a_script_using_what_os_supports_runs_as_it_does_plainly(
    tmp_path: Path, script: str
) -> None:
    """The observer's os.stat must be the os.stat that os.supports_* name: shutil picks its
    ways by them."""
    ws = make_workspace(tmp_path / "ws", {"1": "def test_ok():\n    assert True\n"})
    write_files(ws, {"data/table.txt": "a\n", "PoC/step1_x.py": SCRIPT_HEAD + script})
    plain = subprocess.run([sys.executable, "PoC/step1_x.py"], cwd=ws, check=False)
    assert plain.returncode == 0
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err


def test_a_path_looked_at_in_another_folder_by_dir_fd_is_not_the_workspaces(
    tmp_path: Path,
) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": LOOKS + "\n\ndef test_stat_in_tmp(tmp_path):\n"
            "    (tmp_path / 'data.txt').write_text('mine')\n"
            "    fd = os.open(tmp_path, os.O_RDONLY)\n"
            "    assert os.stat('data.txt', dir_fd=fd).st_size == 4\n"
        },
    )
    write_files(ws, {"data.txt": "workspace\n"})
    assert run_doit(ws, "poc-complete").code == 0
    write_files(ws, {"data.txt": "workspace, edited\n"})
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "test:1" not in result.ran, result.out


def test_many_paths_found_empty_in_one_folder_are_watched_as_its_listing(tmp_path: Path) -> None:
    """A test looking for 200 files that are not there: the record keeps the folder's listing,
    not 200 keys (100,000 made a 9.5 MB record), and any of them appearing is a change."""
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": LOOKS + "\n\ndef test_none_of_them_is_there():\n"
            "    assert not any((ROOT / 'data' / f'n{i}.txt').exists() for i in range(200))\n"
        },
    )
    write_files(ws, {"data/table.txt": "a\n"})
    assert run_doit(ws, "poc-complete").code == 0
    record = json.loads((ws / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert "data/" in record["inputs"]
    assert not [key for key in record["inputs"] if key.startswith("data/n")]
    write_files(ws, {"data/n7.txt": "here\n"})
    assert plain_tests(ws, "1") != 0, "the case must really fail"
    result = run_doit(ws, "--continue", "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "1" in result.ran_steps, result.out


#: a user's own task whose up-to-date check, once told to, rewrites a file while doit checks
#: tasks (doit records no outcome for a check: nothing says a file may have changed)
REWRITTEN_BY_A_CHECK = """

def _rewrite_while_checked():
    import pathlib

    told = pathlib.Path("REWRITE")
    if told.exists():
        told.unlink()
        pathlib.Path({path!r}).write_text({text!r}, encoding="utf-8")
    return True


def task_mine():
    return {{"actions": ["echo mine"], "uptodate": [_rewrite_while_checked]}}
"""


@pytest.mark.parametrize(
    "shared, test, rewritten",
    [
        # a helper both steps' tests import (a file_dep of both test tasks)
        (
            "tests/helper.py",
            "from helper import VALUE\n\n\ndef test_{n}():\n    assert VALUE == 1\n",
            "VALUE = 22\n",
        ),
        # a data file both steps' tests read (an input pocflow saw them read)
        (
            "data/value.txt",
            "from pathlib import Path\n\n\ndef test_{n}():\n"
            "    assert Path('data/value.txt').read_text() == '1'\n",
            "22",
        ),
    ],
    ids=["imported helper", "data file read"],
)
def test_a_file_a_users_up_to_date_check_rewrites_between_two_steps_checks_is_seen(
    tmp_path: Path, shared: str, test: str, rewritten: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": test.format(n="one"), "2": test.format(n="two")})
    write_files(ws, {shared: "VALUE = 1\n" if shared.endswith(".py") else "1"})
    with (ws / "dodo.py").open("a", encoding="utf-8") as dodo:
        dodo.write(REWRITTEN_BY_A_CHECK.format(path=shared, text=rewritten))
    assert run_doit(ws, "poc-complete").code == 0
    assert run_doit(ws, "mine").code == 0
    (ws / "REWRITE").write_text("", encoding="utf-8")
    # step 1's test task is checked first, then the user's task (which rewrites the file),
    # then step 2's and the gate
    result = run_doit(ws, "test:1", "mine", "poc-complete")
    assert not (ws / "REWRITE").exists(), "the check must have run"
    assert plain_pytest(ws, "2") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "✅ 2" not in run_doit(ws, "status").out


#: a step's test reading data/value.txt (a workspace of value_workspace writes it '1')
VALUE_TEST = (
    "from pathlib import Path\n\n\ndef test_x():\n"
    "    assert Path('data/value.txt').read_text() == '1'\n"
)
#: user code that, once told to (a file named REWRITE), rewrites data/value.txt
REWRITE_WHEN_TOLD = """

def _rewrite(*_args):
    import pathlib

    told = pathlib.Path("REWRITE")
    if told.exists():
        told.unlink()
        pathlib.Path("data/value.txt").write_text("22", encoding="utf-8")
    return True
"""


def value_workspace(root: Path, dodo_code: str, steps: str = "12") -> Path:
    """A verified workspace whose steps' tests read data/value.txt, with dodo_code added to
    its dodo.py."""
    ws = make_workspace(root, dict.fromkeys(steps, VALUE_TEST))
    write_files(ws, {"data/value.txt": "1"})
    with (ws / "dodo.py").open("a", encoding="utf-8") as dodo:
        dodo.write(dodo_code)
    assert run_doit(ws, "poc-complete").code == 0
    return ws


#: a user's own tasks that rewrite a file the step's test reads: one in its action, one in
#: its teardown (which doit runs after every task, the gate included)
BROKEN_AFTER_THE_GATE = """

def _break():
    import pathlib

    pathlib.Path("data/value.txt").write_text("22", encoding="utf-8")


def task_after():
    return {"actions": [_break]}


def task_tidy():
    return {"actions": ["echo tidy"], "teardown": [_break]}
"""


@pytest.mark.parametrize("task", ["after", "tidy"], ids=["an action", "a teardown"])
def test_a_users_task_that_breaks_a_step_after_the_gate_passed_fails_the_run(
    tmp_path: Path, task: str
) -> None:
    ws = value_workspace(tmp_path / "ws", BROKEN_AFTER_THE_GATE, steps="1")
    result = run_doit(ws, "poc-complete", task)
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "poc-complete did not pass" in result.err


#: user code in the dodo that, once told to (a file named REWRITE), rewrites the file the
#: steps' tests read — from each place doit runs the user's code
USERS_CODE = (
    REWRITE_WHEN_TOLD
    + """

import time

from doit import create_after


def _title(task):
    _rewrite()
    return task.name


def _slowly():
    time.sleep(2)
    _rewrite()


def task_checked():
    return {"actions": ["echo checked"], "uptodate": [_rewrite]}


def task_titled():
    return {"actions": ["echo titled"], "uptodate": [True], "title": _title}


@create_after(executed="poc-complete")
def task_created_after_the_gate():
    _rewrite()
    return {"actions": None}


@create_after(executed="test:1")
def task_created_between_checks():
    _rewrite()
    return {"actions": None, "task_dep": ["poc-complete"]}


def task_after():
    return {"actions": [_rewrite]}


def task_slow():
    return {"actions": [_slowly]}


def task_quick():
    return {"actions": ["sleep 0.5"]}


def task_ship():
    return {"actions": [_rewrite], "setup": ["poc-complete"]}
"""
)


@pytest.mark.parametrize(
    "command",
    [
        ("poc-complete", "checked"),  # an up-to-date check after the gate
        ("poc-complete", "titled"),  # a title, written as the task is found up to date
        ("poc-complete", "created_after_the_gate"),  # a task creator after the gate
        ("created_between_checks", "poc-complete"),  # a task creator between two checks
        ("-r", "console", "poc-complete", "after"),  # an action, under another reporter
        ("-n", "2", "slow", "quick", "poc-complete"),  # an action that ends after the gate
        ("ship",),  # an action after the gate it has as a setup task
    ],
    ids=[
        "up-to-date check after the gate",
        "title",
        "task creator after the gate",
        "task creator between two steps' checks",
        "action under another reporter",
        "parallel action ending after the gate",
        "action after the gate as its setup task",
    ],
)
def test_no_code_of_the_users_own_dodo_makes_a_run_pass_over_a_step_it_broke(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    ws = value_workspace(tmp_path / "ws", USERS_CODE)
    assert run_doit(ws, *command).code == 0  # the user's tasks have run once, changing nothing
    (ws / "REWRITE").write_text("", encoding="utf-8")
    result = run_doit(ws, *command)
    assert not (ws / "REWRITE").exists(), "the user's code must have run"
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


#: the user's code inside what pocflow gives doit: an up-to-date check added to the gate's
#: task, a reporter of the dodo's own (both rewrite the file step 1's test reads, once told to)
CHANGED_GATE = (
    REWRITE_WHEN_TOLD
    + """

def task_pocflow():  # noqa: F811
    for task in generate_tasks(__file__):
        if task.get("basename") == "poc-complete":
            task["uptodate"] = [*task["uptodate"], _rewrite]
        yield task
"""
)
OWN_REPORTER = (
    REWRITE_WHEN_TOLD
    + """

from doit.reporter import ConsoleReporter


class Reporter(ConsoleReporter):
    def complete_run(self):
        _rewrite()
        super().complete_run()


DOIT_CONFIG = {**DOIT_CONFIG, "reporter": Reporter}
"""
)

#: the user's code inside an action object of doit's own class, carrying pocflow's gate action
ACTION_OBJECT = (
    REWRITE_WHEN_TOLD
    + """

from doit.action import PythonAction


class _AndRewrite(PythonAction):
    def execute(self, out=None, err=None):
        result = super().execute(out, err)
        _rewrite()
        return result


def task_pocflow():  # noqa: F811
    for task in generate_tasks(__file__):
        if task.get("basename") == "poc-complete":
            task["actions"] = [_AndRewrite(*action) for action in task["actions"]]
        yield task
"""
)

#: the user's code in doit's file check (a checker class of the dodo's): run as the gate's
#: results docs are checked, after the steps' tasks were
OWN_CHECKER = (
    REWRITE_WHEN_TOLD
    + """

from pocflow.checker import ContentChecker as _Checker


class ContentChecker(_Checker):
    def check_modified(self, file_path, file_stat, state):
        if file_path.endswith("-results.md"):
            _rewrite()
        return super().check_modified(file_path, file_stat, state)


DOIT_CONFIG = {**DOIT_CONFIG, "check_file_uptodate": ContentChecker}
"""
)
#: a reporter the dodo names by a string a plugin of the workspace's pyproject.toml gives
PLUGIN_REPORTER = """

DOIT_CONFIG = {**DOIT_CONFIG, "reporter": "mine"}
"""
PLUGIN_REPORTER_FILES = {
    "myrep.py": REWRITE_WHEN_TOLD
    + """

from pocflow.reporter import PocflowReporter


class Mine(PocflowReporter):
    def complete_run(self):
        _rewrite()
        super().complete_run()
""",
}
#: pocflow's own up-to-date check of the gate, given an argument whose str() is the user's
STR_SUBCLASS_ARGUMENT = (
    REWRITE_WHEN_TOLD
    + """

class _Root(str):
    def __str__(self):
        _rewrite()
        return str.__str__(self)

    def __fspath__(self):
        _rewrite()
        return str.__str__(self)


def task_pocflow():  # noqa: F811
    for task in generate_tasks(__file__):
        if task.get("basename") == "poc-complete":
            task["uptodate"] = [
                (u[0], [_Root(u[1][0]), *u[1][1:]], *u[2:]) if isinstance(u, tuple) else u
                for u in task["uptodate"]
            ]
        yield task
"""
)

#: a str subclass as one of the gate's file_dep, whose hash doit takes as it checks the gate
STR_SUBCLASS_DEPENDENCY = (
    REWRITE_WHEN_TOLD
    + """

import sys as _sys


class _Dep(str):
    def __hash__(self):
        if "dependency" in _sys._getframe(1).f_code.co_filename:
            _rewrite()
        return str.__hash__(self)

    __eq__ = str.__eq__


def task_pocflow():  # noqa: F811
    for task in generate_tasks(__file__):
        if task.get("basename") == "poc-complete":
            task["file_dep"] = [*task.get("file_dep", []), _Dep("pyproject.toml")]
        yield task
"""
)
#: a str subclass as the gate's name, equal to pocflow's, hashed as doit reads its state
STR_SUBCLASS_NAME = (
    REWRITE_WHEN_TOLD
    + """

import sys as _sys


class _Name(str):
    def __hash__(self):
        caller = _sys._getframe(1)
        if caller.f_code.co_name == "get" and caller.f_locals.get("dependency") == "checker:":
            _rewrite()
        return str.__hash__(self)

    __eq__ = str.__eq__


def task_pocflow():  # noqa: F811
    for task in generate_tasks(__file__):
        if task.get("basename") == "poc-complete":
            task["basename"] = _Name(task["basename"])
        yield task
"""
)


@pytest.mark.parametrize(
    "how",
    [
        "changed gate",
        "own reporter",
        "another backend",
        "action object",
        "own file checker",
        "reporter named by a plugin",
        "str subclass argument",
        "str subclass dependency",
        "str subclass name",
    ],
)
def test_nothing_the_dodo_or_doits_options_change_makes_a_run_pass_over_a_broken_step(
    tmp_path: Path, how: str
) -> None:
    # step 2's test reads nothing: the step ignored (another backend) is the only one broken
    ws = make_workspace(tmp_path / "ws", {"1": VALUE_TEST, "2": "def test_y():\n    assert True\n"})
    write_files(ws, {"data/value.txt": "1"})
    code = {
        "changed gate": CHANGED_GATE,
        "own reporter": OWN_REPORTER,
        "action object": ACTION_OBJECT,
        "own file checker": OWN_CHECKER,
        "reporter named by a plugin": PLUGIN_REPORTER,
        "str subclass argument": STR_SUBCLASS_ARGUMENT,
        "str subclass dependency": STR_SUBCLASS_DEPENDENCY,
        "str subclass name": STR_SUBCLASS_NAME,
    }.get(how, "")
    if how == "reporter named by a plugin":
        write_files(ws, PLUGIN_REPORTER_FILES)
        with (ws / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
            pyproject.write('\n[tool.doit.plugins.reporter]\nmine = "myrep:Mine"\n')
    with (ws / "dodo.py").open("a", encoding="utf-8") as dodo:
        dodo.write(code)
    assert run_doit(ws, "poc-complete").code == 0
    command: tuple[str, ...] = ("poc-complete",)
    if how != "another backend":  # the user's code breaks the step
        (ws / "REWRITE").write_text("", encoding="utf-8")
        if how == "action object":  # once the gate's action runs: step 2 edited, to make it
            with (ws / "tests/test_step2_x.py").open("a", encoding="utf-8") as test:
                test.write("# edited\n")
    else:  # a broken step whose test task is ignored, and the gate skipped with it
        (ws / "data/value.txt").write_text("22", encoding="utf-8")
        assert run_doit(ws, "ignore", "test:1").code == 0
        command = ("run", "--backend", "sqlite3", "poc-complete")
    result = run_doit(ws, *command)
    assert not (ws / "REWRITE").exists()
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


@pytest.mark.parametrize(
    "read",
    ["docs/poc1-results.md", "steps/records/poc-complete.json"],
    ids=["PoC results doc", "gate record"],
)
def test_a_step_whose_tests_read_what_the_gate_writes_is_not_verified(
    tmp_path: Path, read: str
) -> None:
    test = f"from pathlib import Path\n\n\ndef test_x():\n    assert not Path({read!r}).exists()\n"
    ws = make_workspace(tmp_path / "ws", {"1": test})
    result = run_doit(ws, "poc-complete")
    assert plain_pytest(ws, "1") != 0 or not (ws / read).exists(), "the case must really fail"
    assert result.code == 1, result.out + result.err
    assert (
        f"step 1: its tests or scripts read {read}, which pocflow writes" in result.out + result.err
    )


def test_a_step_whose_tests_read_doits_store_put_among_the_workspaces_files_fails_the_run(
    tmp_path: Path,
) -> None:
    test = (
        "from pathlib import Path\n\n\n"
        "def test_x():\n"
        "    store = Path('data/state.db')\n"
        "    assert not store.exists() or b'poc-complete' not in store.read_bytes()\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    with (ws / "dodo.py").open("a", encoding="utf-8") as dodo:
        dodo.write('\nDOIT_CONFIG = {**DOIT_CONFIG, "dep_file": "data/state.db"}\n')
    (ws / "data").mkdir(exist_ok=True)
    poc_complete_fails(ws)


@pytest.mark.parametrize("template", ["poc-results.md", "step-results.md"])
def test_a_workspace_template_cannot_run_code_inside_pocflows_tasks(
    tmp_path: Path, template: str
) -> None:
    from importlib import resources

    ws = make_workspace(tmp_path / "ws", {"1": VALUE_TEST})
    packaged = resources.files("pocflow").joinpath(f"templates/{template}").read_text("utf-8")
    escape = (
        "{%- set _x = self.__init__.__globals__.__builtins__.open('data/value.txt', 'w')"
        ".write('22') %}\n"
    )
    write_files(ws, {"data/value.txt": "1", f"assets/templates/{template}": packaged + escape})
    result = run_doit(ws, "poc-complete")
    assert (ws / "data/value.txt").read_text(encoding="utf-8") == "1", "the template ran code"
    assert result.code != 0, result.out + result.err
    assert f"assets/templates/{template}" in result.out + result.err
    assert "does what a template may not" in result.out + result.err


@pytest.mark.parametrize("where", ["command line", "pyproject.toml"])
def test_a_step_whose_tests_read_doits_output_file_fails_the_run(
    tmp_path: Path, where: str
) -> None:
    test = (
        "from pathlib import Path\n\n\n"
        "def test_x():\n    assert Path('out.txt').read_text() == ''\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    command: tuple[str, ...] = ("poc-complete",)
    if where == "command line":
        command = ("-o", "out.txt", "poc-complete")
    else:
        with (ws / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
            pyproject.write('\n[tool.doit]\noutfile = "out.txt"\n')
    result = run_doit(ws, *command)
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


#: tests that read what pocflow writes once a step's tests ran, and fail on what it writes
READS_POCFLOWS_OUTPUT = {
    "PROJECT_STATE.md, the gate's small-win check": (
        "poc-complete",
        "    assert 'Small Win Check' not in Path('PROJECT_STATE.md').read_text()\n",
    ),
    "PROJECT_STATE.md, step:1": (
        "step:1",
        "    state = Path('PROJECT_STATE.md')\n"
        "    assert not state.exists() or '✅' not in state.read_text()\n",
    ),
    "its own results doc, step:1": (
        "step:1",
        "    doc = Path('docs/small-step1-results.md')\n"
        "    assert not doc.exists() or 'COMPLETE' not in doc.read_text()\n",
    ),
    "its own record, step:1": (
        "step:1",
        "    record = Path('steps/records/step1.json')\n"
        "    assert not record.exists() or 'verified' not in record.read_text()\n",
    ),
    "pocflow's state folder, a run file, step:1": (
        "step:1",
        "    run = Path('.pocflow/runs/step1/test.json')\n"
        "    assert not run.exists() or 'passed' not in run.read_text()\n",
    ),
    "pocflow's state folder, a listing, poc-complete": (
        "poc-complete",
        "    assert 'fingerprints.json' not in os.listdir('.pocflow')\n",
    ),
    "pocflow's state folder, doit's store through sqlite3, step:1": (
        "step:1",
        "    import sqlite3\n"
        "    con = sqlite3.connect('.pocflow/doit.sqlite')\n"
        "    try:\n"
        "        names = [r[0] for r in con.execute('select name from sqlite_master')]\n"
        "        keys = [r[0] for r in con.execute('select task_id from doit')] "
        "if 'doit' in names else []\n"
        "    finally:\n"
        "        con.close()\n"
        "    assert not any(k.startswith('test:1') for k in keys), keys\n",
    ),
}


@pytest.mark.parametrize("case", READS_POCFLOWS_OUTPUT)
def test_a_step_whose_tests_read_what_pocflow_writes_after_them_is_not_verified(
    tmp_path: Path, case: str
) -> None:
    task, body = READS_POCFLOWS_OUTPUT[case]
    test = "import os\nfrom pathlib import Path\n\n\ndef test_x():\n" + body
    ws = make_workspace(tmp_path / "ws", {"1": test})
    results = [run_doit(ws, task) for _ in range(3)]  # first runs: a file not there yet
    assert plain_pytest(ws, "1") != 0 or results[-1].code != 0, "the case must really fail"
    assert all(result.code != 0 for result in results), [r.out + r.err for r in results]
    # said when its tests pass on what they read (later, they fail on what pocflow wrote)
    assert any("which pocflow writes" in r.out + r.err for r in results)


def test_a_dodo_that_puts_pocflows_own_text_back_as_it_is_imported_is_still_the_users_code(
    tmp_path: Path,
) -> None:
    ws = value_workspace(tmp_path / "ws", "")
    plain = (ws / "dodo.py").read_text(encoding="utf-8")
    padded = plain + "#\n" * 80
    assert run_doit(ws, "poc-complete").code == 0
    users = (
        plain
        + REWRITE_WHEN_TOLD
        + """

def task_pocflow():  # noqa: F811
    for task in generate_tasks(__file__):
        if task.get("basename") == "poc-complete":
            task["teardown"] = [_rewrite]
        yield task
"""
        # (comment lines: doit reads the creator's line number in the file as it is now)
        + f"\n__import__('pathlib').Path(__file__).write_text({padded!r})\n"
    )
    (ws / "dodo.py").write_text(users, encoding="utf-8")
    with (ws / "tests/test_step2_x.py").open("a", encoding="utf-8") as test:
        test.write("# edited: the gate runs, then its teardown\n")
    (ws / "REWRITE").write_text("", encoding="utf-8")
    result = run_doit(ws, "poc-complete")
    assert (ws / "dodo.py").read_text(encoding="utf-8").startswith(plain)
    assert not (ws / "REWRITE").exists(), "the user's code must have run"
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


@pytest.mark.parametrize(
    "listing",
    [
        "sorted(p.name for p in Path.cwd().glob('*.csv'))",
        "sorted(n for n in os.listdir() if n.endswith('.csv'))",
        "sorted(n for n in os.listdir('.') if n.endswith('.csv'))",
    ],
    ids=["Path.cwd().glob", "os.listdir()", "os.listdir('.')"],
)
def test_a_listing_of_the_workspaces_own_folder_is_an_input(tmp_path: Path, listing: str) -> None:
    test = (
        "import os\nfrom pathlib import Path\n\n\n"
        f"def test_no_stray_csv_at_the_root():\n    assert {listing} == []\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    # the first run fails: pocflow writes PROJECT_STATE.md after the step's tests listed the
    # folder ("changed since verified: ./"); the second verifies the step on the listing now
    first = run_doit(ws, "poc-complete")
    assert first.code == 1 and "changed since verified: ./" in first.out + first.err
    assert run_doit(ws, "poc-complete").code == 0
    (ws / "extra.csv").write_text("a,b\n", encoding="utf-8")
    poc_complete_fails(ws)


#: tests that see what pocflow writes after them other than by its name: through a link, or
#: in a listing of its folder (the task to run, links to make, the test's body)
SEES_POCFLOWS_OUTPUT = {
    "a link to the gate's record, poc-complete": (
        "poc-complete",
        {"gate_link.json": "steps/records/poc-complete.json"},
        "    assert not Path('gate_link.json').exists()\n",
    ),
    "a link to PROJECT_STATE.md, step:1": (
        "step:1",
        {"state_link.md": "PROJECT_STATE.md"},
        "    p = Path('state_link.md')\n"
        "    assert not p.exists() or 'Complete' not in p.read_text()\n",
    ),
    "a listing of docs/, step:1": (
        "step:1",
        {},
        "    assert 'small-step1-results.md' not in os.listdir('docs')\n",
    ),
}


@pytest.mark.parametrize("case", SEES_POCFLOWS_OUTPUT)
def test_a_step_whose_tests_see_what_pocflow_writes_after_them_does_not_pass(
    tmp_path: Path, case: str
) -> None:
    task, links, body = SEES_POCFLOWS_OUTPUT[case]
    test = "import os\nfrom pathlib import Path\n\n\ndef test_x():\n" + body
    ws = make_workspace(tmp_path / "ws", {"1": test})
    for link, target in links.items():
        (ws / link).symlink_to(target)
    result = run_doit(ws, task)
    assert result.code != 0, result.out + result.err
    # the test fails on what pocflow wrote, or pocflow refused the step before writing it
    refused = "which pocflow writes" in result.out + result.err
    assert refused or plain_pytest(ws, "1") != 0, "the case must really fail"


DOCTEST = '''import os


def f():
    """
    >>> sorted(os.listdir('data'))
    ['a.txt']
    >>> os.path.exists('data/flag.txt')
    False
    >>> os.environ.get('MYVAR', 'none')
    'none'
    """
'''
POOL = (
    "import os\nfrom concurrent.futures import ThreadPoolExecutor\n\n\n"
    "def test_x():\n    with ThreadPoolExecutor(1) as pool:\n"
)
#: what a test reads with no frame of the test's on the stack: in a pool's worker thread, or
#: in a doctest's examples (test file, change after verifying, the variable to set)
UNFRAMED_READS = {
    "listing in a worker thread": (
        POOL + "        assert sorted(pool.submit(os.listdir, 'data').result()) == ['a.txt']\n",
        "data/b.txt",
        None,
    ),
    "existence check in a worker thread": (
        POOL + "        assert not pool.submit(os.path.exists, 'data/flag.txt').result()\n",
        "data/flag.txt",
        None,
    ),
    "variable in a worker thread": (
        POOL + "        assert pool.submit(os.getenv, 'MYVAR', 'none').result() == 'none'\n",
        None,
        "MYVAR",
    ),
    "listing in a doctest": (DOCTEST, "data/b.txt", None),
    "existence check in a doctest": (DOCTEST, "data/flag.txt", None),
    "variable in a doctest": (DOCTEST, None, "MYVAR"),
}


@pytest.mark.parametrize("case", UNFRAMED_READS)
def test_what_a_test_reads_with_no_frame_of_its_own_on_the_stack_is_an_input(
    tmp_path: Path, case: str
) -> None:
    test, added, variable = UNFRAMED_READS[case]
    settings = (
        '[tool.pytest.ini_options]\naddopts = "--doctest-modules"\n' if "doctest" in case else ""
    )
    ws = make_workspace(tmp_path / "ws", {"1": test}, settings=settings)
    write_files(ws, {"data/a.txt": "a"})
    assert run_doit(ws, "poc-complete").code == 0
    env = {variable: "1"} if variable else None
    if added:
        (ws / added).write_text("b", encoding="utf-8")
    result = run_doit(ws, "poc-complete", env=env)
    assert plain_pytest(ws, "1", env=env) != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


def test_a_prerequisite_whose_tests_list_docs_is_not_verified_in_a_dependents_run(
    tmp_path: Path,
) -> None:
    step1 = (
        "import os\n\n\ndef test_x():\n"
        "    assert not any('step1' in n for n in os.listdir('docs'))\n"
    )
    ws = make_workspace(
        tmp_path / "ws", {"1": step1, "2": "def test_y():\n    assert True\n"}, depends={"2": "1"}
    )
    result = run_doit(ws, "step:2")
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "listed docs/" in result.out + result.err


#: a step's script writes PROJECT_STATE.md (so it is the step's output, not its input) and its
#: test reads it: pocflow rewrites it after the test (the task to run, the test's assertion)
SCRIPT_WRITES_POCFLOWS_FILE = {
    "step:1": "    assert 'verified' not in Path('PROJECT_STATE.md').read_text().lower()\n",
    "poc-complete": "    assert 'Small Win Check' not in Path('PROJECT_STATE.md').read_text()\n",
}


@pytest.mark.parametrize("task", SCRIPT_WRITES_POCFLOWS_FILE)
def test_a_step_whose_script_writes_a_file_pocflow_writes_and_whose_tests_read_it_is_not_verified(
    tmp_path: Path, task: str
) -> None:
    test = "from pathlib import Path\n\n\ndef test_x():\n" + SCRIPT_WRITES_POCFLOWS_FILE[task]
    ws = make_workspace(tmp_path / "ws", {"1": test})
    script = next((ws / "PoC").glob("step1_*.py"))
    script.write_text(
        script.read_text(encoding="utf-8")
        + "\nfrom pathlib import Path\n\np = Path('PROJECT_STATE.md')\n"
        "if not p.exists():\n    p.write_text('# state\\n')\n",
        encoding="utf-8",
    )
    result = run_doit(ws, task)
    # (the step recorded failed, PROJECT_STATE.md says so and the test passes again: what
    # matters is that the run did not pass on a file pocflow rewrote under its test)
    assert result.code != 0, result.out + result.err
    assert "read PROJECT_STATE.md, which pocflow writes" in result.out + result.err


#: a step script that reads its settings file and saves it back as it read it (tidied), then
#: computes its output from it
SAVES_ITS_INPUT_BACK = """import json
from pathlib import Path

config = Path("data/config.json")
settings = json.loads(config.read_text())
config.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\\n")
Path("out").mkdir(exist_ok=True)
Path("out/double.txt").write_text(str(2 * settings["n"]))
"""


@pytest.mark.parametrize("task", ["step:1", "poc-complete"])
def test_a_file_a_script_reads_and_saves_back_unchanged_stays_its_input(
    tmp_path: Path, task: str
) -> None:
    test = (
        "from pathlib import Path\n\n\n"
        "def test_x():\n    assert Path('out/double.txt').read_text() == '84'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    script = next((ws / "PoC").glob("step1_*.py"))
    script.write_text(script.read_text(encoding="utf-8") + "\n" + SAVES_ITS_INPUT_BACK, "utf-8")
    write_files(ws, {"data/config.json": '{\n  "n": 42\n}\n'})
    assert run_doit(ws, "poc-complete").code == 0
    (ws / "data/config.json").write_text('{\n  "n": 43\n}\n', encoding="utf-8")
    result = run_doit(ws, task)
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


NUMBER_TEST = (
    "from pathlib import Path\n\n\n"
    "def test_x():\n    assert Path('out/n.txt').read_text() == '42'\n"
)
#: a step script (and its files) that reads data/config.txt, leaves it as it found it, and
#: writes its first line to out/n.txt; the edit is 42 -> 43 in that file
LEAVES_ITS_INPUT_AS_IT_WAS = {
    "saved back, larger than the copy kept": (
        "config = Path('data/config.txt')\ntext = config.read_text()\nconfig.write_text(text)\n",
        {"data/config.txt": "42\n" + "x" * (65 << 20) + "\n"},
    ),
    "opened to append, nothing written": (
        "open('data/config.txt', 'a').close()\ntext = Path('data/config.txt').read_text()\n",
        {"data/config.txt": "42\n"},
    ),
    "removed and written again by a relative path": (
        "config = Path('data/config.txt')\ntext = config.read_text()\nconfig.unlink()\n"
        "config.write_text(text)\n",
        {"data/config.txt": "42\n"},
    ),
    "truncated to its own length": (
        "import os\nos.truncate('data/config.txt', 3)\n"
        "text = Path('data/config.txt').read_text()\n",
        {"data/config.txt": "42\n"},
    ),
    "changed by one script, put back by the next": (
        "config = Path('data/config.txt')\ntext = config.read_text()\n"
        "config.write_text(text + 'locked\\n')\n",
        {
            "data/config.txt": "42\n",
            "PoC/step1_validate_unlock.py": '"""Put the settings back.\\n\\nUsage: python x\\n"""\n'
            "from pathlib import Path\n\nconfig = Path('data/config.txt')\n"
            "lines = config.read_text().splitlines()\nconfig.write_text(lines[0] + '\\n')\n",
        },
    ),
}


@pytest.mark.parametrize("case", LEAVES_ITS_INPUT_AS_IT_WAS)
def test_a_file_a_script_leaves_as_it_found_it_stays_its_input(tmp_path: Path, case: str) -> None:
    body, files = LEAVES_ITS_INPUT_AS_IT_WAS[case]
    ws = make_workspace(tmp_path / "ws", {"1": NUMBER_TEST})
    script = next((ws / "PoC").glob("step1_*.py"))
    script.write_text(
        script.read_text(encoding="utf-8")
        + "\nfrom pathlib import Path\n\n"
        + body
        + "Path('out').mkdir(exist_ok=True)\nPath('out/n.txt').write_text(text.splitlines()[0])\n",
        encoding="utf-8",
    )
    write_files(ws, files)
    assert run_doit(ws, "poc-complete").code == 0
    config = ws / "data/config.txt"
    config.write_text("43" + config.read_text(encoding="utf-8")[2:], encoding="utf-8")
    poc_complete_fails(ws)


def test_a_test_that_opens_its_input_to_append_keeps_it_an_input_on_a_fresh_clone(
    tmp_path: Path,
) -> None:
    test = (
        "from pathlib import Path\n\n\ndef test_x():\n"
        "    open('data/config.txt', 'a').close()\n"
        "    assert Path('data/config.txt').read_text().strip() == '42'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/config.txt": "42\n"})
    assert run_doit(ws, "poc-complete").code == 0
    clone = tmp_path / "clone"
    shutil.copytree(ws, clone, symlinks=True, ignore=shutil.ignore_patterns(".pocflow"))
    (clone / "data/config.txt").write_text("43\n", encoding="utf-8")
    poc_complete_fails(clone)


#: where a link points, as a test checks it (files to make, the link and its target, the
#: test's assertion, the other target the link is then pointed at)
LINK_CHECKS = {
    "readlink of a link to a file": (
        {"data/v1.txt": "one", "data/v2.txt": "two"},
        "v1.txt",
        "os.readlink('data/current') == 'v1.txt'",
        "v2.txt",
    ),
    "readlink of a link to a folder": (
        {"data/v1/a": "1", "data/v2/a": "2"},
        "v1",
        "os.readlink('data/current') == 'v1'",
        "v2",
    ),
    "realpath of a link to a folder": (
        {"data/v1/a": "1", "data/v2/a": "2"},
        "v1",
        "os.path.realpath('data/current').endswith('/v1')",
        "v2",
    ),
    "readlink, both targets the same bytes": (
        {"data/v1.txt": "same", "data/v2.txt": "same"},
        "v1.txt",
        "os.readlink('data/current') == 'v1.txt'",
        "v2.txt",
    ),
    "readlink of a dangling link": (
        {},
        "v1.txt",
        "os.readlink('data/current') == 'v1.txt'",
        "v9.txt",
    ),
}


@pytest.mark.parametrize("case", LINK_CHECKS)
def test_where_a_link_points_is_an_input(tmp_path: Path, case: str) -> None:
    files, first, assertion, then = LINK_CHECKS[case]
    test = f"import os\n\n\ndef test_x():\n    assert {assertion}\n"
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/keep": "", **files})
    (ws / "data/current").symlink_to(first)
    assert run_doit(ws, "poc-complete").code == 0
    (ws / "data/current").unlink()
    (ws / "data/current").symlink_to(then)
    poc_complete_fails(ws)


def test_a_test_that_appends_to_a_large_input_is_not_verified_on_what_it_left(
    tmp_path: Path,
) -> None:
    test = (
        "from pathlib import Path\n\n\ndef test_x():\n"
        "    big = Path('data/big.txt')\n    assert big.read_bytes()[-4:] == b'end\\n'\n"
        "    with big.open('a') as f:\n        f.write('more\\n')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/big.txt": "x" * (65 << 20) + "\nend\n"})
    assert_never_verified(ws, "1")


@pytest.mark.parametrize("runner", ["subprocess", "fork"])
def test_tests_that_pytest_xdist_runs_in_its_own_workers_are_not_verified(
    tmp_path: Path, runner: str
) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        {"1": VALUE_TEST, "2": "def test_y():\n    assert True\n"},
        settings=f'test_runner = "{runner}"\n\n[tool.pytest.ini_options]\naddopts = "-n 2"\n',
    )
    write_files(ws, {"data/value.txt": "1"})
    first = run_doit(ws, "poc-complete")
    (ws / "data/value.txt").write_text("22", encoding="utf-8")
    result = run_doit(ws, "poc-complete")
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert first.code != 0 and result.code != 0, result.out + result.err
    assert "pytest-xdist ran the tests in worker processes (-n 2)" in first.out + first.err


def test_a_failing_teardown_of_a_session_fixture_fails_the_step_that_uses_it(
    tmp_path: Path,
) -> None:
    conftest = (
        "import pytest\n\n\n"
        '@pytest.fixture(scope="session")\n'
        "def resource():\n"
        "    yield 1\n"
        '    raise RuntimeError("cleanup failed")\n'
    )
    uses = "def test_uses(resource):\n    assert resource == 1\n"
    ws = make_workspace(
        tmp_path / "ws", {"1": uses, "2": "def test_ok():\n    assert True\n"}, conftest=conftest
    )
    results = [run_doit(ws, "poc-complete"), run_doit(ws, "step:1")]
    assert plain_pytest(ws, "1") != 0, "the case must really fail"
    assert all(result.code != 0 for result in results), [r.out + r.err for r in results]
    record = json.loads((ws / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert record["verdict"] != "verified"


WRITES_INTO_SCRATCH = (
    "from pathlib import Path\n\n\ndef test_x():\n"
    "    note = Path('scratch/t.txt')\n"
    "    note.write_text('abc')\n"
    "    assert note.read_text() == 'abc'\n"
    "    note.unlink()\n"
)


@pytest.mark.parametrize("where", ["removed here", "a clone without the empty folder"])
def test_a_folder_a_step_writes_into_without_making_it_is_an_input(
    tmp_path: Path, where: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": WRITES_INTO_SCRATCH})
    (ws / "scratch").mkdir()
    assert run_doit(ws, "poc-complete").code == 0
    if where == "removed here":
        (ws / "scratch").rmdir()
    else:  # git keeps no empty folder
        clone = tmp_path / "clone"
        shutil.copytree(ws, clone, symlinks=True, ignore=shutil.ignore_patterns(".pocflow"))
        (clone / "scratch").rmdir()
        ws = clone
    poc_complete_fails(ws)


def test_a_folder_the_step_makes_before_writing_into_it_is_no_input(tmp_path: Path) -> None:
    test = "import os\n\n" + WRITES_INTO_SCRATCH.replace(
        "def test_x():\n", "def test_x():\n    os.makedirs('scratch', exist_ok=True)\n"
    ).replace("from pathlib", "from pathlib")
    ws = make_workspace(tmp_path / "ws", {"1": test})
    (ws / "scratch").mkdir()
    assert run_doit(ws, "poc-complete").code == 0
    record = json.loads((ws / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert "scratch" not in record["inputs"]
    (ws / "scratch").rmdir()
    result = run_doit(ws, "poc-complete")
    assert result.code == 0 and "1" not in result.ran_steps, result.out + result.err


SETS_PRECISION = (
    "import decimal\nimport pathlib\n\n"
    "_PREC = int((pathlib.Path(__file__).resolve().parents[1] / 'config' / 'prec.txt')"
    ".read_text())\n"
    "decimal.DefaultContext.prec = _PREC\ndecimal.setcontext(decimal.Context(prec=_PREC))\n"
)


def test_workspace_code_python_runs_as_it_starts_leaves_the_tests_unverified(
    tmp_path: Path,
) -> None:
    # a sitecustomize on the path (an editable install's .pth, PYTHONPATH) runs before any
    # watch of pocflow's can start in a pytest session: what it reads is nobody's input
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "from decimal import Decimal\n\n\ndef test_third():\n"
            "    assert str(Decimal(1) / Decimal(3)) == '0.33333'\n"
        },
    )
    write_files(ws, {"src/sitecustomize.py": SETS_PRECISION, "config/prec.txt": "5\n"})
    env = {"PYTHONPATH": str(ws / "src")}
    result = run_doit(ws, "poc-complete", env=env)
    assert result.code != 0, result.out + result.err
    assert "src/sitecustomize.py ran as Python started for the tests" in result.out, result.out
    assert "✅ 1" not in run_doit(ws, "status", env=env).out


MAKES_OUT_IF_MISSING = (
    '"""Step 1.\n\nUsage:\n    python PoC/step1_x.py\n"""\nimport os\n\n'
    "if not os.path.isdir('out'):\n    os.makedirs('out')\n"
    "with open('out/a.txt', 'w', encoding='utf-8') as f:\n    f.write('hello\\n')\n"
)


def test_a_folder_a_script_makes_when_missing_is_its_output(tmp_path: Path) -> None:
    # (diskcache.Cache(folder) does the same): the script's outputs, on a cold run and in a
    # fresh clone that lacks them, not an input found changed when the gate checks
    ws = make_workspace(
        tmp_path / "ws", {"1": "def test_a():\n    assert open('out/a.txt').read() == 'hello\\n'\n"}
    )
    write_files(ws, {"PoC/step1_x.py": MAKES_OUT_IF_MISSING})
    poc_complete_passes(ws)
    record = json.loads((ws / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert "out" not in record["implement"]["inputs"], record["implement"]["inputs"]
    clone = clone_of(ws, tmp_path / "clone")
    shutil.rmtree(clone / "out")
    taken = poc_complete_passes(clone)
    assert not taken.ran_steps, taken.out
    # and verified again where the folder is missing, the record proves the same
    assert not (clone / "out").exists()
    poc_complete_passes(clone, "--reverify")
    again = json.loads((clone / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert again["implement"]["written"] == record["implement"]["written"] == ["out/a.txt"]
    assert again["implement"]["inputs"] == record["implement"]["inputs"]


def _library(site: Path, version: str) -> None:
    """A library installed in site (a folder on PYTHONPATH, outside the workspace), at a
    version: its module and its metadata folder, as an installer leaves them."""
    shutil.rmtree(site, ignore_errors=True)
    write_files(
        site,
        {
            "tinyver.py": f"VERSION = {version!r}\n",
            f"tinyver-{version}.dist-info/METADATA": (
                f"Metadata-Version: 2.1\nName: tinyver\nVersion: {version}\n"
            ),
        },
    )


def test_a_fresh_clone_does_not_accept_a_record_made_with_another_version_of_a_library(
    tmp_path: Path,
) -> None:
    test = "import tinyver\n\n\ndef test_x():\n    assert tinyver.VERSION == '1.0'\n"
    ws = make_workspace(tmp_path / "ws", {"1": test})
    site = tmp_path / "site"
    env = {"PYTHONPATH": str(site)}
    _library(site, "1.0")
    assert run_doit(ws, "poc-complete", env=env).code == 0
    clone = tmp_path / "clone"
    shutil.copytree(ws, clone, symlinks=True, ignore=shutil.ignore_patterns(".pocflow"))
    _library(site, "0.9")  # installed without a lock file that says so (`uv pip install`)
    result = run_doit(clone, "poc-complete", env=env)
    assert plain_pytest(clone, "1", env) != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "the installed packages changed" in result.out + result.err


def test_a_failing_teardown_a_failing_step_absorbs_leaves_no_step_verified(tmp_path: Path) -> None:
    conftest = (
        "import pytest\n\n\n"
        '@pytest.fixture(scope="session")\n'
        "def resource():\n"
        "    yield 1\n"
        '    raise RuntimeError("cleanup failed")\n'
    )
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "def test_uses(resource):\n    assert resource == 1\n",
            "2": "def test_ok():\n    assert True\n",
            "3": "def test_broken():\n    assert 1 == 2\n",  # a real failure, last to run
        },
        conftest=conftest,
    )
    first = run_doit(ws, "--continue", "poc-complete")
    assert first.code != 0
    (ws / "tests/test_step3_x.py").write_text("def test_broken():\n    assert 2 == 2\n")
    poc_complete_fails(ws)


ZONEINFO = Path("/usr/share/zoneinfo")
#: reads no audit hook sees: by the C library, by a process a test or script starts (files
#: to write, the test, the script's body or "", the change that breaks the step)
UNHOOKED_READS = {
    "a time-zone file the C library reads": (
        {"data/tz/Local": "Europe/Paris"},
        "import os, time\n\n\ndef test_local_hour():\n"
        "    os.environ['TZ'] = ':' + os.path.join(os.getcwd(), 'data/tz/Local')  # no stat\n"
        "    time.tzset()\n"
        "    assert time.localtime(0).tm_hour == 1\n",
        "",
        ("data/tz/Local", "Asia/Tokyo"),
    ),
    "a file a Python process the test starts reads": (
        {"data/value.txt": "1"},
        "import subprocess, sys\n\n\ndef test_x():\n"
        "    code = \"print(open('data/value.txt').read())\"\n"
        "    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)\n"
        "    assert done.stdout.strip() == '1'\n",
        "",
        ("data/value.txt", "22"),
    ),
    "a file a program the script runs reads": (
        {"data/value.txt": "1"},
        "from pathlib import Path\n\n\ndef test_x():\n"
        "    assert Path('out.txt').read_text() == '1'\n",
        "import subprocess\n\nsubprocess.run(['cp', 'data/value.txt', 'out.txt'], check=True)\n",
        ("data/value.txt", "22"),
    ),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
@pytest.mark.parametrize("case", UNHOOKED_READS)
def test_what_a_step_reads_outside_pythons_hooks_is_an_input(tmp_path: Path, case: str) -> None:
    files, test, script, (changed, to) = UNHOOKED_READS[case]
    if any(rel.startswith("data/tz/") for rel in files) and not ZONEINFO.is_dir():
        pytest.skip("no system time-zone files here")
    ws = make_workspace(tmp_path / "ws", {"1": test})
    for rel, text in files.items():
        target = ws / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.startswith("data/tz/"):
            shutil.copyfile(ZONEINFO / text, target)
        else:
            target.write_text(text, encoding="utf-8")
    if script:
        with (ws / "PoC/step1_x.py").open("a", encoding="utf-8") as body:
            body.write(script)
    poc_complete_passes(ws)
    record = json.loads((ws / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert changed in record["inputs"], sorted(record["inputs"])
    if changed.startswith("data/tz/"):
        shutil.copyfile(ZONEINFO / to, ws / changed)
    else:
        (ws / changed).write_text(to, encoding="utf-8")
    result = poc_complete_fails(ws)
    assert f"changed: {changed}" in result.out, result.out


def _relink(ws: Path) -> None:
    (ws / "cur").unlink()
    (ws / "cur").symlink_to("v2")


#: what a process that is not the step's Python reads through a link, or reads and writes
#: back: (the test, the script's body or "", the files, links to make, the change)
UNHOOKED_SUBTLETIES: dict[
    str, tuple[str, str, dict[str, str], dict[str, str], Callable[[Path], object]]
] = {
    "a link to a folder inside, pointed elsewhere": (
        "import subprocess\n\n\ndef test_x():\n"
        "    out = subprocess.run(['cat', 'cur/v.txt'], capture_output=True, text=True)\n"
        "    assert out.stdout.strip() == '1'\n",
        "",
        {"v1/v.txt": "1", "v2/v.txt": "2"},
        {"cur": "v1"},
        _relink,
    ),
    "a link to a folder outside": (
        "import subprocess\n\n\ndef test_x():\n"
        "    out = subprocess.run(['cat', 'ext/v.txt'], capture_output=True, text=True)\n"
        "    assert out.stdout.strip() == '1'\n",
        "",
        {"../outside/v.txt": "1"},
        {"ext": "../outside"},
        lambda ws: (ws.parent / "outside/v.txt").write_text("2", encoding="utf-8"),
    ),
    "a test's child reads, the test writes it back": (
        "import subprocess\nfrom pathlib import Path\n\n\ndef test_x():\n"
        "    out = subprocess.run(['cat', 'data/v.txt'], capture_output=True, text=True)\n"
        "    assert out.stdout.strip() == '1'\n"
        "    Path('data/v.txt').write_text(out.stdout)\n",
        "",
        {"data/v.txt": "1\n"},
        {},
        lambda ws: (ws / "data/v.txt").write_text("2\n", encoding="utf-8"),
    ),
    "a test's child reads and writes it back": (
        "import subprocess\n\n\ndef test_x():\n"
        "    code = 'v=$(cat data/v.txt); echo $v > data/v.txt; echo $v'\n"
        "    out = subprocess.run(['sh', '-c', code], capture_output=True, text=True)\n"
        "    assert out.stdout.strip() == '1'\n",
        "",
        {"data/v.txt": "1\n"},
        {},
        lambda ws: (ws / "data/v.txt").write_text("2\n", encoding="utf-8"),
    ),
    "a test's child replaces it by a rename (sed -i)": (
        "import subprocess\n\n\ndef test_x():\n"
        "    subprocess.run(['sed', '-i', 's/ *$//', 'data/v.txt'], check=True)\n"
        "    out = subprocess.run(['cat', 'data/v.txt'], capture_output=True, text=True)\n"
        "    assert out.stdout.strip() == '1'\n",
        "",
        {"data/v.txt": "1\n"},
        {},
        lambda ws: (ws / "data/v.txt").write_text("2\n", encoding="utf-8"),
    ),
    "a script's child replaces it by a rename (sed -i)": (
        "from pathlib import Path\n\n\ndef test_x():\n"
        "    assert Path('out.txt').read_text().strip() == '1'\n",
        "import subprocess\n\nsubprocess.run(['sed', '-i', 's/ *$//', 'data/v.txt'], check=True)\n"
        "subprocess.run(['cp', 'data/v.txt', 'out.txt'], check=True)\n",
        {"data/v.txt": "1\n"},
        {},
        lambda ws: (ws / "data/v.txt").write_text("2\n", encoding="utf-8"),
    ),
    "a script's child reads and writes it back": (
        "from pathlib import Path\n\n\ndef test_x():\n"
        "    assert Path('out.txt').read_text().strip() == '1'\n",
        "import subprocess\n\nsubprocess.run(['sh', '-c', "
        "'v=$(cat data/v.txt); echo $v > data/v.txt; echo $v > out.txt'], check=True)\n",
        {"data/v.txt": "1\n"},
        {},
        lambda ws: (ws / "data/v.txt").write_text("2\n", encoding="utf-8"),
    ),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
@pytest.mark.parametrize("case", UNHOOKED_SUBTLETIES)
def test_what_another_process_reads_through_a_link_or_writes_back_stays_an_input(
    tmp_path: Path, case: str
) -> None:
    test, script, files, links, change = UNHOOKED_SUBTLETIES[case]
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, files)
    for link, target in links.items():
        (ws / link).symlink_to(target)
    if script:
        with (ws / "PoC/step1_x.py").open("a", encoding="utf-8") as body:
            body.write(script)
    first = run_doit(ws, "poc-complete")
    if case in (
        "a test's child reads and writes it back",
        "a test's child replaces it by a rename (sed -i)",
    ):
        # in which order is not known: what it read is changed-during-run, every time
        assert first.code != 0 and "changed since verified: data/v.txt" in first.out
    else:
        assert first.code == 0, first.out + first.err
    change(ws)
    poc_complete_fails(ws)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_what_a_child_reads_in_a_folder_an_earlier_step_made_in_the_same_run_is_an_input(
    tmp_path: Path,
) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "def test_x():\n    assert True\n",
            "2": "from pathlib import Path\n\n\ndef test_x():\n"
            "    assert Path('out2.txt').read_text().strip() == '1'\n",
        },
    )
    with (ws / "PoC/step1_x.py").open("a", encoding="utf-8") as body:
        body.write(
            "from pathlib import Path\n\nPath('gen').mkdir(exist_ok=True)\n"
            "if not Path('gen/cfg.txt').exists():\n    Path('gen/cfg.txt').write_text('1')\n"
        )
    with (ws / "PoC/step2_x.py").open("a", encoding="utf-8") as body:
        body.write(
            "import subprocess\n\nsubprocess.run(['cp', 'gen/cfg.txt', 'out2.txt'], check=True)\n"
        )
    poc_complete_passes(ws)
    (ws / "gen/cfg.txt").write_text("2", encoding="utf-8")
    result = run_doit(ws, "poc-complete")
    assert plain_pytest(ws, "2") != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


def test_bytecode_written_during_a_run_is_no_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the sample's scripts import PoC/atlas.py: the first script makes PoC/__pycache__, which
    # the kernel watch takes as a folder made meanwhile, and the next ones read the bytecode
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # as users' runs do
    ws = copy_sample(tmp_path / "sample")
    for folder in ws.rglob("__pycache__"):
        shutil.rmtree(folder)
    poc_complete_passes(ws, "--reverify")
    assert (ws / "PoC/__pycache__").is_dir()
    for record in (ws / "steps/records").glob("step*.json"):
        inputs = json.loads(record.read_text(encoding="utf-8"))["inputs"]
        assert not [key for key in inputs if "__pycache__" in key], record.name
    poc_complete_runs_nothing(ws)


def test_a_run_that_finds_a_step_failing_leaves_no_document_saying_complete(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": VALUE_TEST, "2": "def test_y():\n    assert True\n"})
    write_files(ws, {"data/value.txt": "1"})
    assert run_doit(ws, "poc-complete").code == 0
    (ws / "data/value.txt").write_text("22", encoding="utf-8")
    poc_complete_fails(ws)
    step_doc = (ws / "docs/small-step1-results.md").read_text(encoding="utf-8")
    assert "✅ COMPLETE" not in step_doc and "❌ BLOCKED" in step_doc
    poc_doc = (ws / "docs/poc1-results.md").read_text(encoding="utf-8")
    assert "✅ COMPLETE" not in poc_doc and "❌ NOT COMPLETE" in poc_doc
    assert "step(s) 1 failed after the gate passed on 20" in poc_doc  # (a whole sentence)
    drift = run_doit(ws, "drift")  # the documents say what the records do
    assert drift.code == 0, drift.out + drift.err
    # a script failing before its tests: no ✅ left in the step's results doc
    edit(ws / "PoC/step2_x.py", lambda text: text + "raise SystemExit(3)\n")
    assert plain_pytest(ws, "2") != 0
    assert run_doit(ws, "--continue", "poc-complete").code != 0
    step_doc = (ws / "docs/small-step2-results.md").read_text(encoding="utf-8")
    assert "❌ BLOCKED" in step_doc and "✅" not in step_doc, step_doc


def test_a_test_that_needs_a_file_absent_and_then_makes_it_is_not_verified(
    tmp_path: Path,
) -> None:
    # the absence it looked for is an input: once it made the file, that input changed, and
    # plain pytest fails from then on (so does a test that copies into a new file: whether
    # the absence mattered is not known, and such a step is never verified)
    test = (
        "from pathlib import Path\n\n\ndef test_first_run_marker():\n"
        "    p = Path('out2/marker.txt')\n"
        "    assert not p.exists(), 'marker already there'\n"
        "    p.parent.mkdir(exist_ok=True)\n"
        "    p.write_text('made\\n')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert_never_verified(ws, "1")


EXCLUSIVE_CREATES = {
    "open(p, 'x')": "    with open('out2/marker.txt', 'x') as f:\n        f.write('made')\n",
    "os.open with O_EXCL": (
        "    fd = os.open('out2/marker.txt', os.O_WRONLY | os.O_CREAT | os.O_EXCL)\n"
        "    os.close(fd)\n"
    ),
    "Path.touch(exist_ok=False)": "    Path('out2/marker.txt').touch(exist_ok=False)\n",
}


@pytest.mark.parametrize("create", EXCLUSIVE_CREATES, ids=list(EXCLUSIVE_CREATES))
def test_a_test_that_creates_a_file_exclusively_is_not_verified(
    tmp_path: Path, create: str
) -> None:
    # an exclusive create fails when the file is there: that it was absent is an input,
    # and once the test made it, plain pytest fails from then on
    test = (
        "import os\nfrom pathlib import Path\n\n\ndef test_first_run_marker():\n"
        "    Path('out2').mkdir(exist_ok=True)\n" + EXCLUSIVE_CREATES[create]
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert_never_verified(ws, "1")


#: a test that makes a file by appending to it (or touching it) where nothing was, then
#: reads it: what it read stands on that absence (found by an attack session)
APPEND_CREATES = {
    "open(p, 'a')": (
        "    with open('count.txt', 'a') as f:\n        f.write('x\\n')\n"
        "    assert Path('count.txt').read_text() == 'x\\n'\n"
    ),
    "Path.touch()": (
        "    Path('state.txt').touch()\n    assert Path('state.txt').read_text() == ''\n"
        "    Path('state.txt').write_text('used')\n"
    ),
}


@pytest.mark.parametrize("create", APPEND_CREATES, ids=list(APPEND_CREATES))
def test_a_test_that_appends_a_file_into_being_and_reads_it_is_not_verified(
    tmp_path: Path, create: str
) -> None:
    test = "import os\nfrom pathlib import Path\n\n\ndef test_counts():\n" + APPEND_CREATES[create]
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert_never_verified(ws, "1")
    assert "✅ 1" not in run_doit(ws, "status").out


def test_a_log_file_a_test_appends_into_being_and_never_reads_leaves_it_verified(
    tmp_path: Path,
) -> None:
    # (what a logging handler does: the file's absence decides nothing the test saw)
    test = (
        "import logging\n\n\ndef test_logs():\n    handler = logging.FileHandler('run.log')\n"
        "    log = logging.getLogger('step1')\n    log.addHandler(handler)\n"
        "    log.warning('ran')\n    handler.close()\n    log.removeHandler(handler)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    assert "✅ 1" in run_doit(ws, "status").out


def test_a_test_that_creates_a_file_exclusively_and_removes_it_is_verified(
    tmp_path: Path,
) -> None:
    # a temporary file made exclusively in the workspace and removed (tempfile's way): the
    # absence holds again after the run, so the step verifies and stays accepted
    test = (
        "import os\nimport tempfile\nfrom pathlib import Path\n\n\ndef test_scratch():\n"
        "    Path('out2').mkdir(exist_ok=True)\n"
        "    with open('out2/marker.txt', 'x') as f:\n        f.write('made')\n"
        "    os.remove('out2/marker.txt')\n"
        "    fd, name = tempfile.mkstemp(dir='out2')\n"
        "    os.close(fd)\n"
        "    os.remove(name)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    assert plain_pytest(ws, "1") == 0
    poc_complete_runs_nothing(ws)


# -- round I/J: facts about a file that are not its bytes, descriptors, the environment C reads


def clone_of(ws: Path, target: Path) -> Path:
    """What a fresh clone holds: the workspace's files without its local state."""
    shutil.copytree(ws, target, symlinks=True, ignore=shutil.ignore_patterns(".pocflow"))
    return target


RUNS_A_TOOL = (
    "import subprocess\n\n\ndef test_the_tool_runs():\n"
    "    out = subprocess.run(['tools/hello.sh'], capture_output=True, text=True, check=True)\n"
    "    assert out.stdout == 'hello\\n'\n"
)
CHECKS_EXECUTABLE = (
    "import os\n\n\ndef test_the_tool_is_executable():\n"
    "    assert os.access('tools/hello.sh', os.X_OK)\n"
)


@pytest.mark.parametrize("test", [RUNS_A_TOOL, CHECKS_EXECUTABLE], ids=["runs it", "os.access"])
@pytest.mark.parametrize("where", ["here", "in a clone"])
def test_a_file_that_lost_its_executable_bit_is_a_change(
    tmp_path: Path, test: str, where: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"tools/hello.sh": "#!/bin/sh\necho hello\n"})
    (ws / "tools/hello.sh").chmod(0o755)
    poc_complete_passes(ws)
    if where == "in a clone":  # a checkout that keeps no modes (core.fileMode=false)
        ws = clone_of(ws, tmp_path / "clone")
    (ws / "tools/hello.sh").chmod(0o644)
    poc_complete_fails(ws)


@pytest.mark.parametrize("where", ["here", "in a clone"])
def test_a_folder_a_test_checks_for_is_an_input(tmp_path: Path, where: str) -> None:
    # an empty folder (git keeps none) checked with isdir, and one removed with its files
    test = (
        "import os\nfrom pathlib import Path\n\n\ndef test_folders():\n"
        "    assert os.path.isdir('uploads')\n"
        "    assert Path('assets').is_dir()\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"assets/logo.txt": "logo"})
    (ws / "uploads").mkdir()
    poc_complete_passes(ws)
    if where == "in a clone":
        ws = clone_of(ws, tmp_path / "clone")
        (ws / "uploads").rmdir()  # git made no empty folder
    else:
        shutil.rmtree(ws / "assets")
    poc_complete_fails(ws)


def test_a_test_making_sure_of_a_folder_stays_verified(tmp_path: Path) -> None:
    # mkdir(exist_ok=True) of a folder that is there looks at it: the step stays accepted
    test = (
        "from pathlib import Path\n\n\ndef test_out():\n"
        "    Path('work').mkdir(exist_ok=True)\n"
        "    assert Path('work').is_dir()\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    (ws / "work").mkdir()
    poc_complete_passes(ws)
    poc_complete_runs_nothing(ws)


DIR_FD_READS = {
    "os.open(name, dir_fd=)": (
        "    d = os.open('d1', os.O_RDONLY)\n"
        "    f = os.open('a.txt', os.O_RDONLY, dir_fd=d)\n"
        "    assert os.read(f, 100) == b'good'\n"
    ),
    "/proc/self/fd/N/name": (
        "    d = os.open('d1', os.O_RDONLY)\n"
        "    assert Path(f'/proc/self/fd/{d}/a.txt').read_text() == 'good'\n"
    ),
}


@pytest.mark.parametrize("read", DIR_FD_READS, ids=list(DIR_FD_READS))
def test_a_read_relative_to_a_folder_descriptor_is_an_input_of_that_file(
    tmp_path: Path, read: str
) -> None:
    # verified under -n (no kernel watch): the audit hook alone names the file
    test = "import os\nfrom pathlib import Path\n\n\ndef test_x():\n" + DIR_FD_READS[read]
    ws = make_workspace(tmp_path / "ws", {"1": test, "2": "def test_y():\n    pass\n"})
    write_files(ws, {"d1/a.txt": "good"})
    poc_complete_passes(ws, "-n", "2")
    (ws / "d1/a.txt").write_text("bad!", encoding="utf-8")
    poc_complete_fails(ws)


def test_a_path_found_absent_through_a_folder_descriptor_is_an_input(tmp_path: Path) -> None:
    test = (
        "import os\n\n\ndef test_x():\n"
        "    d = os.open('d1', os.O_RDONLY)\n"
        "    assert not os.path.exists(f'/proc/self/fd/{d}/b.txt')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"d1/a.txt": "good"})
    poc_complete_passes(ws)
    (ws / "d1/b.txt").write_text("x", encoding="utf-8")
    poc_complete_fails(ws)


def test_the_locale_setlocale_takes_from_the_environment_is_an_input(tmp_path: Path) -> None:
    # setlocale(cat, "") reads LANG and LC_* through the C library, not os.environ
    test = (
        "import locale\n\n\ndef test_numbers_locale():\n"
        "    try:\n"
        "        assert locale.setlocale(locale.LC_NUMERIC, '') == 'C.UTF-8'\n"
        "    finally:\n"
        "        locale.setlocale(locale.LC_NUMERIC, 'C')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    utf8 = {"LANG": "C.UTF-8", "LC_NUMERIC": "C.UTF-8", "LC_ALL": ""}
    poc_complete_passes(ws, env=utf8)
    plain = {**utf8, "LC_NUMERIC": "C"}
    assert plain_pytest(ws, "1", plain) != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete", env=plain)
    assert result.code != 0, result.out + result.err


def test_a_workspace_folder_on_path_a_test_runs_a_program_from_is_an_input(
    tmp_path: Path,
) -> None:
    # direnv's `PATH_add bin`: verified with the workspace's bin/ on PATH, run without it
    test = (
        "import subprocess\n\n\ndef test_greet_tool():\n"
        "    out = subprocess.run(['greet'], capture_output=True, text=True)\n"
        "    assert out.stdout == 'hi\\n'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"bin/greet": "#!/bin/sh\necho hi\n"})
    (ws / "bin/greet").chmod(0o755)
    with_bin = {"PATH": f"{ws / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    poc_complete_passes(ws, env=with_bin)
    poc_complete_fails(ws)


def test_what_a_listed_entry_s_stat_says_is_an_input(tmp_path: Path) -> None:
    # os.DirEntry.stat() is C code: neither os.stat nor an audit event sees it
    test = (
        "import os\n\n\ndef test_no_fixture_is_empty():\n"
        "    with os.scandir('fixtures') as it:\n"
        "        assert all(e.stat().st_size > 0 for e in it)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"fixtures/a.json": "{}", "fixtures/b.json": "[]"})
    poc_complete_passes(ws)
    (ws / "fixtures/b.json").write_text("", encoding="utf-8")
    poc_complete_fails(ws)


# -- round L: what a step's scripts read of other steps' outputs


def script(n: str, body: str) -> str:
    """A step script (docstring with its usage, as the method wants) running body."""
    usage = f"Usage:\n    python PoC/step{n}_x.py\n"
    return f'"""Step {n}.\n\n{usage}"""\nfrom pathlib import Path\n\n{body}'


WRITES_A = "Path('out').mkdir(exist_ok=True)\nPath('out/a.txt').write_text({text!r})\n"
UPPERS_A = "Path('out/b.txt').write_text(Path('out/a.txt').read_text().upper())\n"
TESTS_B = (
    "from pathlib import Path\n\n\ndef test_two():\n"
    "    assert Path('out/b.txt').read_text() == 'HELLO'\n"
)
PASSES = "def test_one():\n    assert True\n"


def test_a_script_reading_another_steps_declared_output_runs_again_when_it_changes(
    tmp_path: Path,
) -> None:
    # step 2's script reads step 1's declared output but the plan says no Depends On
    ws = make_workspace(tmp_path / "ws", {"1": PASSES, "2": TESTS_B})
    write_files(
        ws,
        {
            "PoC/step1_x.py": script("1", WRITES_A.format(text="hello")),
            "PoC/step2_x.py": script("2", UPPERS_A),
            "steps/step1.yaml": "outputs:\n  - out/a.txt\n",
        },
    )
    poc_complete_passes(ws)
    (ws / "PoC/step1_x.py").write_text(script("1", WRITES_A.format(text="bye")), encoding="utf-8")
    runs = [run_doit(ws, "poc-complete") for _ in range(2)]
    assert plain_pytest(ws, "2") != 0, "the case must really fail"  # (its script, then pytest)
    assert all(r.code != 0 for r in runs), [r.out + r.err for r in runs]
    assert "implement:2  (changed: out/a.txt)" in runs[0].out, runs[0].out


def test_a_prerequisites_output_another_step_rewrote_reruns_the_script_that_read_it(
    tmp_path: Path,
) -> None:
    # step 3 (no relation to step 2) writes the same file step 2's script read from step 1
    ws = make_workspace(
        tmp_path / "ws", {"1": PASSES, "2": TESTS_B, "3": PASSES}, depends={"2": "1"}
    )
    write_files(
        ws,
        {
            "PoC/step1_x.py": script("1", WRITES_A.format(text="hello")),
            "PoC/step2_x.py": script("2", UPPERS_A),
            "PoC/step3_x.py": script("3", WRITES_A.format(text="third")),
        },
    )
    first = run_doit(ws, "step:2")
    assert first.code == 0, first.out + first.err
    result = run_doit(ws, "poc-complete")  # step 3 runs after step 2 read out/a.txt
    assert plain_pytest(ws, "2") != 0, "the case must really fail"  # (its script, then pytest)
    assert result.code != 0, result.out + result.err
    again = run_doit(ws, "poc-complete")
    assert again.code != 0, again.out + again.err


def test_an_output_a_later_dependent_step_extends_does_not_rerun_the_step_that_read_it(
    tmp_path: Path,
) -> None:
    # running the plan in order leaves out/a.txt as step 3 extended it: no reason for step
    # 2's scripts, which read it before, to run again (nor to run every time)
    test_b = (
        "from pathlib import Path\n\n\ndef test_two():\n    assert Path('out/b.txt').exists()\n"
    )
    ws = make_workspace(
        tmp_path / "ws", {"1": PASSES, "2": test_b, "3": PASSES}, depends={"2": "1", "3": "2"}
    )
    extend = "with open('out/a.txt', 'a') as f:\n    f.write('+3')\n"
    write_files(
        ws,
        {
            "PoC/step1_x.py": script("1", WRITES_A.format(text="hello")),
            "PoC/step2_x.py": script("2", UPPERS_A),
            "PoC/step3_x.py": script("3", extend),
        },
    )
    poc_complete_passes(ws)
    poc_complete_runs_nothing(ws)


# -- round K: what the rules of round I/J still missed


GREET = "#!/bin/sh\necho hi\n"


@pytest.mark.parametrize(
    "call",
    [
        "subprocess.run('greet', shell=True, capture_output=True, text=True).stdout",
        "os.popen('greet').read()",
    ],
    ids=["shell=True", "os.popen"],
)
def test_a_program_a_shell_finds_on_a_workspace_path_folder_is_an_input(
    tmp_path: Path, call: str
) -> None:
    test = f"import os\nimport subprocess\n\n\ndef test_greet():\n    assert {call} == 'hi\\n'\n"
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"bin/greet": GREET})
    (ws / "bin/greet").chmod(0o755)
    with_bin = {"PATH": f"{ws / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    poc_complete_passes(ws, env=with_bin)
    poc_complete_fails(ws)


def test_a_program_appearing_in_an_earlier_workspace_path_folder_is_a_change(
    tmp_path: Path,
) -> None:
    test = (
        "import subprocess\n\n\ndef test_greet():\n"
        "    out = subprocess.run(['greet'], capture_output=True, text=True)\n"
        "    assert out.stdout == 'hi\\n'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"tools/greet": GREET, "bin/keep.txt": ""})
    (ws / "tools/greet").chmod(0o755)
    path = {"PATH": os.pathsep.join([str(ws / "bin"), str(ws / "tools"), os.environ["PATH"]])}
    poc_complete_passes(ws, env=path)
    write_files(ws, {"bin/greet": "#!/bin/sh\necho bye\n"})
    (ws / "bin/greet").chmod(0o755)
    assert plain_pytest(ws, "1", path) != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete", env=path)
    assert result.code != 0, result.out + result.err


def test_what_entries_listed_through_a_folder_descriptor_tell_is_an_input(tmp_path: Path) -> None:
    test = (
        "import os\n\n\ndef test_no_fixture_is_empty():\n"
        "    fd = os.open('fixtures', os.O_RDONLY)\n"
        "    with os.scandir(fd) as it:\n"
        "        assert all(e.stat().st_size > 0 for e in it)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"fixtures/a.json": "{}", "fixtures/b.json": "[]"})
    poc_complete_passes(ws)
    (ws / "fixtures/b.json").write_text("", encoding="utf-8")
    poc_complete_fails(ws)


@pytest.mark.parametrize(
    "use",
    ["subprocess.run(['true'], cwd='uploads', check=True)", "os.chdir('uploads')"],
    ids=["cwd=", "os.chdir"],
)
def test_a_folder_a_test_works_in_is_an_input(tmp_path: Path, use: str) -> None:
    test = (
        "import os\nimport subprocess\n\n\ndef test_work_there():\n"
        f"    here = os.getcwd()\n    try:\n        {use}\n    finally:\n        os.chdir(here)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    (ws / "uploads").mkdir()
    poc_complete_passes(ws)
    clone = clone_of(ws, tmp_path / "clone")
    (clone / "uploads").rmdir()  # git made no empty folder
    poc_complete_fails(clone)


def test_entries_os_scandir_gives_workspace_code_are_the_real_ones(tmp_path: Path) -> None:
    # what the observer does must not change what code sees (plain pytest passes this)
    test = (
        "import os\n\n\ndef test_entries():\n"
        "    with os.scandir('fixtures') as it:\n"
        "        entries = list(it)\n"
        "    assert all(type(e) is os.DirEntry for e in entries)\n"
        "    assert [e.name for e in entries] == ['a.json']\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"fixtures/a.json": "{}"})
    poc_complete_passes(ws)
    assert plain_pytest(ws, "1") == 0


def test_a_file_a_program_makes_and_a_test_reads_then_removes_stays_verified(
    tmp_path: Path,
) -> None:
    # the program's write reaches the observer after the fact: it is still the test's output
    test = (
        "import os\n\n\ndef test_greeting():\n"
        "    os.system('echo hi > greeting.txt')\n"
        "    with open('greeting.txt') as f:\n        out = f.read()\n"
        "    os.remove('greeting.txt')\n"
        "    assert out == 'hi\\n'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    poc_complete_runs_nothing(ws)


def test_folders_a_script_makes_and_removes_at_once_leave_it_verifiable(tmp_path: Path) -> None:
    # the watch of a folder made meanwhile may come after it is gone: not a folder missed
    body = (
        "import shutil\n\n"
        "for n in range(1000):\n"
        "    Path(f'out/tmp{n}/x').mkdir(parents=True)\n"
        "    shutil.rmtree(f'out/tmp{n}')\n"
        "Path('out/done.txt').write_text('done')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": PASSES})
    write_files(ws, {"PoC/step1_x.py": script("1", body)})
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err


# -- round M: the excuses for a change the plan's order makes, abused


def chain_of_three(ws: Path, third: str, third_depends_on: str, files: dict[str, str]) -> Path:
    """Step 1 writes out/a.txt ('hello'), step 2 (after 1) makes out/b.txt of it in upper
    case and tests it, step 3 (after ``third_depends_on``) runs ``third``."""
    make_workspace(
        ws,
        {"1": PASSES, "2": TESTS_B, "3": PASSES},
        depends={"2": "1", "3": third_depends_on},
    )
    write_files(
        ws,
        {
            "PoC/step1_x.py": script("1", WRITES_A.format(text="hello")),
            "PoC/step2_x.py": script("2", UPPERS_A),
            "PoC/step3_x.py": script("3", third),
            **files,
        },
    )
    return ws


def test_a_hand_edit_of_what_a_script_read_is_no_later_steps_doing(tmp_path: Path) -> None:
    # step 3 declares the whole folder its output, but did not write out/a.txt
    ws = chain_of_three(
        tmp_path / "ws",
        "Path('out/c.txt').write_text('c')\n",
        "2",
        {"steps/step3.yaml": "outputs:\n  - out/\n"},
    )
    poc_complete_passes(ws)
    (ws / "out/a.txt").write_text("bye", encoding="utf-8")
    poc_complete_fails(ws, "2")


def test_a_hand_edit_of_a_folder_a_script_listed_is_no_later_steps_doing(tmp_path: Path) -> None:
    # step 2's script lists out/; step 3 (after it) writes a file of its own into out/: that
    # it wrote there does not make out/ as it is now what step 3 left
    ws = chain_of_three(
        tmp_path / "ws",
        "Path('out/c.log').write_text('log')\n",
        "2",
        {
            "steps/step3.yaml": "outputs:\n  - out/\n",
            "PoC/step2_x.py": script(
                "2",
                "import os\n\nPath('res').mkdir(exist_ok=True)\n"
                "names = sorted(n for n in os.listdir('out') if n.endswith('.txt'))\n"
                "Path('res/list.txt').write_text(','.join(names))\n",
            ),
            "tests/test_step2_x.py": (
                "from pathlib import Path\n\n\ndef test_two():\n"
                "    assert Path('res/list.txt').read_text() == 'a.txt'\n"
            ),
        },
    )
    poc_complete_passes(ws)
    (ws / "out/z.txt").write_text("z", encoding="utf-8")
    poc_complete_fails(ws, "2")


def test_a_hand_edit_after_a_later_step_updated_the_file_reruns_the_reader(
    tmp_path: Path,
) -> None:
    extend = "Path('out/a.txt').write_text(Path('out/a.txt').read_text() + '!')\n"
    ws = chain_of_three(tmp_path / "ws", extend, "1", {})
    (ws / "tests/test_step2_x.py").write_text(
        TESTS_B.replace("== 'HELLO'", ".startswith('HELLO')"), encoding="utf-8"
    )
    assert run_doit(ws, "step:2").code == 0
    poc_complete_passes(ws)
    (ws / "out/a.txt").write_text("bye", encoding="utf-8")
    poc_complete_fails(ws, "2")


def test_a_file_a_test_hard_links_elsewhere_and_reads_there_is_an_input(tmp_path: Path) -> None:
    # os.link(src, dst): what dst holds is src's content, whatever name it is read by
    test = (
        "import os\n\n\ndef test_snapshot(tmp_path):\n"
        "    os.link('data/v.txt', tmp_path / 'v.txt')\n"
        "    assert (tmp_path / 'v.txt').read_text() == '1'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/v.txt": "1"})
    poc_complete_passes(ws)
    (ws / "data/v.txt").unlink()
    (ws / "data/v.txt").write_text("2", encoding="utf-8")
    poc_complete_fails(ws)


@pytest.mark.parametrize(
    "make",
    ["os.mkdir('made')", "Path('made').mkdir()", "os.makedirs('made')"],
    ids=["os.mkdir", "Path.mkdir", "os.makedirs"],
)
def test_a_test_that_makes_a_folder_it_needs_absent_and_leaves_it_is_not_verified(
    tmp_path: Path, make: str
) -> None:
    # the folder analogue of an exclusive create: plain pytest fails from the second run on
    test = (
        "import os\nfrom pathlib import Path\n\n\ndef test_make():\n"
        f"    {make}\n    Path('made/a.txt').write_text('x')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert_never_verified(ws, "1")


MADE_ONLY_WHERE_NOTHING_IS = {
    "os.symlink": "    os.symlink('../data/seed.txt', 'work/link.txt')\n",
    "Path.symlink_to": "    Path('work/link').symlink_to('../data')\n",
    "os.link": "    os.link('data/seed.txt', 'work/hard.txt')\n",
    "Path.hardlink_to": "    Path('work/hard.txt').hardlink_to('data/seed.txt')\n",
    "os.rename of a folder": (
        "    Path('work/tmp').mkdir(exist_ok=True)\n"
        "    Path('work/tmp/f').write_text('x')\n"
        "    os.rename('work/tmp', 'work/final')\n"
    ),
    "os.mkfifo": "    os.mkfifo('work/fifo')\n",
    "a Unix socket bound": (
        "    import socket\n\n    s = socket.socket(socket.AF_UNIX)\n"
        "    s.bind('work/app.sock')\n    s.close()\n"
    ),
    "a new SQLite database": (
        "    import sqlite3\n\n    con = sqlite3.connect('work/scratch.db')\n"
        "    con.execute('CREATE TABLE items (id INTEGER)')\n    con.commit()\n    con.close()\n"
    ),
}


@pytest.mark.parametrize("make", MADE_ONLY_WHERE_NOTHING_IS, ids=list(MADE_ONLY_WHERE_NOTHING_IS))
def test_a_test_that_makes_a_link_or_a_name_it_needs_free_and_leaves_it_is_not_verified(
    tmp_path: Path, make: str
) -> None:
    # a link, a folder renamed into place, a named pipe: each fails where something is, so
    # plain pytest fails from the second run on; that nothing was there is an input
    test = (
        "import os\nfrom pathlib import Path\n\n\ndef test_make():\n"
        + MADE_ONLY_WHERE_NOTHING_IS[make]
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/seed.txt": "seed", "work/.keep": ""})
    assert_never_verified(ws, "1")


def test_a_test_that_links_renames_into_place_and_cleans_up_is_verified(tmp_path: Path) -> None:
    # the free names are free again after the run, and a file renamed onto a file (the
    # atomic-write idiom) needs nothing absent: the step verifies and stays accepted
    test = (
        "import os\nfrom pathlib import Path\n\n\ndef test_make():\n"
        "    os.symlink('../data/seed.txt', 'work/link.txt')\n"
        "    assert Path('work/link.txt').read_text() == 'seed'\n"
        "    os.remove('work/link.txt')\n"
        "    Path('work/new.txt').write_text('v2')\n"
        "    os.replace('work/new.txt', 'work/current.txt')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/seed.txt": "seed", "work/current.txt": "v1"})
    poc_complete_passes(ws)
    assert plain_pytest(ws, "1") == 0
    poc_complete_runs_nothing(ws)


def test_a_test_that_makes_a_folder_tolerating_it_there_settles(tmp_path: Path) -> None:
    # try/except FileExistsError: the first run saw the folder absent and made it (not
    # verified); from then on the folder is there, as the test allows, and the step verifies
    test = (
        "import os\nfrom pathlib import Path\n\n\ndef test_make():\n"
        "    try:\n        os.mkdir('made')\n    except FileExistsError:\n        pass\n"
        "    Path('made/a.txt').write_text('x')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    run_doit(ws, "poc-complete")
    second = run_doit(ws, "poc-complete")
    assert second.code == 0, second.out + second.err
    third = run_doit(ws, "poc-complete")
    assert third.code == 0 and not third.ran_steps, third.out + third.err
    assert plain_pytest(ws, "1") == 0


def test_a_test_reading_pocflows_documents_through_a_program_it_starts_is_not_verified(
    tmp_path: Path,
) -> None:
    # `grep` of a results doc's Summary, which a person edits: only the kernel sees the read,
    # as it sees an editor's; the step started a program, so the read may be its own
    test = (
        "import subprocess\n\n\ndef test_summary_says_ok():\n"
        "    doc = 'docs/small-step1-results.md'\n"
        "    out = subprocess.run(['grep', '-c', 'LATENCY OK', doc], capture_output=True,"
        " text=True)\n"
        "    assert out.stdout.strip() == '1', out\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": PASSES, "2": test}, depends={"2": "1"})
    assert run_doit(ws, "step:1").code == 0
    doc = ws / "docs/small-step1-results.md"
    edit(doc, lambda s: s.replace("_What did this step prove?", "LATENCY OK: 3 ms.\n\n_What"))
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "read docs/small-step1-results.md, which pocflow writes" in result.out + result.err
    edit(doc, lambda s: s.replace("LATENCY OK: 3 ms.", "Latency not measured yet."))
    assert plain_pytest(ws, "2") != 0
    assert run_doit(ws, "poc-complete").code != 0


def test_a_test_sees_the_command_line_the_pytest_command_gives_it(tmp_path: Path) -> None:
    # a command-line main() called without arguments parses sys.argv: under plain pytest it
    # gets the test file; pocflow's own options made argparse exit, and the test passed
    test = (
        "import argparse\n\nimport pytest\n\n\ndef main():\n"
        "    parser = argparse.ArgumentParser()\n    parser.add_argument('domain')\n"
        "    parser.parse_args()\n    return 1\n\n\n"
        "def test_no_domain_is_a_usage_error():\n"
        "    with pytest.raises(SystemExit):\n        main()\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_fails(ws)


@pytest.mark.parametrize(
    "asks",
    [
        "request.config.args",
        "request.config.invocation_params.args",
        "[str(request.config.get_verbosity())]",
    ],
)
def test_a_test_sees_the_arguments_and_verbosity_plain_pytest_gives_it(
    tmp_path: Path, asks: str
) -> None:
    # "exhaustive when this file is named on the command line": pocflow named folders and
    # its own options, and ran quietly (-q)
    test = (
        "def test_values(request):\n"
        f"    args = {asks}\n"
        "    thorough = any(a.endswith('test_step1_x.py') or a == '0' for a in args)\n"
        "    values = range(1000) if thorough else range(10)\n"
        "    assert all(v < 500 for v in values)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_fails(ws)


@pytest.mark.parametrize(
    "loop",
    ["", "def pytest_runtestloop(session):\n    print('the loop starts')\n\n\n"],
    ids=["", "with-a-conftest-loop"],
)
def test_a_teardown_hook_told_which_test_follows_sends_the_steps_to_run_alone(
    tmp_path: Path, loop: str
) -> None:
    # the next test (nextitem) a teardown hook is told is the first of the step that
    # follows in a shared session; `pytest <a step's files>` says none follows, and a hook
    # checking for the last test of the run failed there only (a conftest's own loop,
    # leaving pytest's to run the tests, changes nothing)
    conftest = loop + (
        "def pytest_runtest_teardown(item, nextitem):\n"
        "    if nextitem is None and item.name == 'test_a':\n"
        "        raise RuntimeError('the last test of the run')\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        {"1": "def test_a():\n    pass\n", "2": "def test_b():\n    pass\n"},
        conftest=conftest,
    )
    result = poc_complete_fails(ws)
    assert "last test of the run" in result.out + result.err


#: conftest.py files under which `pytest <a step's file>` fails where a session shared with
#: the other step passed: (the failing step, the conftest)
WHOLE_SESSION_HOOKS = {
    "collection-finish-counts-items": (
        "2",
        "import pytest\n\nSIZE = []\n\n\ndef pytest_collection_finish(session):\n"
        "    SIZE.append(len(session.items))\n\n\n@pytest.fixture\ndef many():\n"
        "    return SIZE[0] > 1\n",
    ),
    "collection-reads-file-or-dir": (
        "2",
        "import pytest\n\nNAMED = []\n\n\n"
        "def pytest_collection_modifyitems(config, items):\n"
        "    NAMED.extend(config.getoption('file_or_dir'))\n\n\n"
        "@pytest.fixture\ndef many():\n    return len(NAMED) > 1\n",
    ),
    "collection-reads-invocation-args": (
        "2",
        "import pytest\n\nNAMED = []\n\n\n"
        "def pytest_collection_modifyitems(config, items):\n"
        "    NAMED.extend(config.invocation_params.args)\n\n\n"
        "@pytest.fixture\ndef many():\n    return len(NAMED) > 1\n",
    ),
    "session-end-fails-a-small-run": (
        "1",
        "import pytest\n\n\ndef pytest_sessionfinish(session, exitstatus):\n"
        "    if len(session.items) < 2:\n        session.exitstatus = 1\n",
    ),
    "plugin-registered-later-told-next": (
        "1",
        "import pytest\n\n\nclass LastTest:\n"
        "    def pytest_runtest_teardown(self, item, nextitem):\n"
        "        if nextitem is None and item.name == 'test_a':\n"
        "            raise RuntimeError('the last test of the run')\n\n\n"
        "@pytest.fixture(scope='session', autouse=True)\ndef _check(pytestconfig):\n"
        "    if not pytestconfig.pluginmanager.has_plugin('lasttest'):\n"
        "        pytestconfig.pluginmanager.register(LastTest(), 'lasttest')\n",
    ),
    "library-hook-told-next": (
        "1",
        "import sys\n\nsys.path.insert(0, {ext!r})\n"
        "from lasttest import pytest_runtest_teardown  # noqa: E402, F401\n",
    ),
}


@pytest.mark.parametrize("case", WHOLE_SESSION_HOOKS)
def test_a_hook_deciding_by_what_the_whole_session_holds_sends_the_steps_to_run_alone(
    tmp_path: Path, case: str
) -> None:
    # what pytest gives hooks of a shared session holds every step's: the tests collected,
    # the files named, the test that follows a step's last (to a plugin a fixture
    # registered, or a library's hook a conftest imported)
    failing, conftest = WHOLE_SESSION_HOOKS[case]
    ext = tmp_path / "ext"  # (a library outside the workspace)
    write_files(
        ext,
        {
            "lasttest.py": "def pytest_runtest_teardown(item, nextitem):\n"
            "    if nextitem is None and item.name == 'test_a':\n"
            "        raise RuntimeError('the last test of the run')\n"
        },
    )
    tests = {"1": "def test_a():\n    pass\n", "2": "def test_b():\n    pass\n"}
    if failing == "2":
        tests["2"] = "def test_b(many):\n    assert many\n"
    ws = make_workspace(tmp_path / "ws", tests, conftest=conftest.format(ext=str(ext)))
    poc_complete_fails(ws, failing)


@pytest.mark.parametrize(
    "failures",
    [
        "item.session.testsfailed",
        "item.config.pluginmanager.get_plugin('terminalreporter').stats.get('failed')",
    ],
    ids=["session.testsfailed", "terminalreporter.stats"],
)
def test_a_hook_deciding_by_the_failures_so_far_sends_the_steps_to_run_alone(
    tmp_path: Path, failures: str
) -> None:
    # the session's failures (its count, the terminal reporter's reports by outcome) were
    # every step's of a shared session: step 2's test passed only because step 1's had
    # failed, and once step 1 was mended only step 1 ran again, while `pytest <step 2's
    # file>` fails
    conftest = (
        "import pytest\n\n\ndef pytest_runtest_setup(item):\n"
        f"    if not {failures} and item.name == 'test_b':\n"
        "        pytest.fail('no failure before it')\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        {"1": "def test_a():\n    assert False\n", "2": "def test_b():\n    pass\n"},
        conftest=conftest,
    )
    first = run_doit(ws, "--continue", "poc-complete")
    assert first.code != 0
    (ws / "tests/test_step1_x.py").write_text("def test_a():\n    pass\n", encoding="utf-8")
    poc_complete_fails(ws, "2")


@pytest.mark.parametrize(
    "keep, read",
    [
        ("cache.set('pf/k', 1)", "assert cache.get('pf/k', None) == 1"),
        ("cache.set('pf/k', 1)", "assert cache.get('pf/k/', None) == 1"),
        (
            "cache.set('pf/k', 'one')",
            "assert cache.get('pf/k', None) == 'one'\n\n\n"
            "def pytest_generate_tests(metafunc):\n    metafunc.config.cache.set('pf/k', 'init')",
        ),
        ("(cache.mkdir('pf') / 'k').write_text('1')", "assert (cache.mkdir('pf') / 'k').exists()"),
    ],
    ids=["cache.set", "another-spelling", "kept-by-both", "cache.mkdir"],
)
def test_what_another_steps_tests_kept_in_pytests_cache_sends_the_steps_to_run_alone(
    tmp_path: Path, keep: str, read: str
) -> None:
    # pytest's cache is one folder for a whole shared session (fresh each session, outside
    # the workspace): step 2's test found what step 1's kept there, which `pytest <its
    # file>` in a fresh clone does not
    ws = make_workspace(
        tmp_path / "ws",
        {"1": f"def test_a(cache):\n    {keep}\n", "2": f"def test_b(cache):\n    {read}\n"},
    )
    result = run_doit(ws, "--continue", "poc-complete")
    plain = plain_pytest_run(ws, "tests/test_step2_x.py", cache=True)
    assert plain.returncode == 1 and "1 failed" in plain.stdout, "the case must really fail"
    assert result.code != 0, result.out + result.err
    assert "test_b" in result.out + result.err


SESSION_DB = (
    "import sqlite3\n\nimport pytest\n\n\n@pytest.fixture(scope='session')\ndef db():\n"
    "    con = sqlite3.connect(':memory:')\n"
    "    con.execute('create table users (name text primary key)')\n"
    "    yield con\n    con.close()\n\n\n"
    "@pytest.fixture(scope='session', params=['csv', 'json'])\ndef fmt(request):\n"
    "    return request.param\n"
)


def test_a_session_fixture_lives_through_a_steps_tests_when_pytest_puts_another_steps_between(
    tmp_path: Path,
) -> None:
    # pytest groups the tests of several modules by a parametrized session fixture's value
    # (step 1 [csv], step 2 [csv], step 1 [json], ...): step 1's session database must be
    # the one `pytest <its file>` keeps for both, where inserting again fails
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "def test_import(db, fmt):\n    db.execute(\"insert into users values ('a')\")\n",
            "2": "def test_export(fmt):\n    assert fmt in ('csv', 'json')\n",
        },
        conftest=SESSION_DB,
    )
    poc_complete_fails(ws)


def test_a_session_fixture_lives_through_a_steps_files_named_around_another_steps(
    tmp_path: Path,
) -> None:
    # tests/test_step1.py, tests/test_step1_2_x.py, tests/test_step1_x.py: step 1's files
    # sort around step 1_2's, and its session fixture is the one `pytest <its files>` keeps
    conftest = (
        "import pytest\n\n\n@pytest.fixture(scope='session')\ndef registry():\n    return []\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "def test_later(registry):\n    assert registry == [], registry\n",
            "1_2": "def test_b():\n    pass\n",
        },
        conftest=conftest,
    )
    write_files(ws, {"tests/test_step1.py": "def test_first(registry):\n    registry.append(1)\n"})
    result = run_doit(ws, "poc-complete")
    plain = plain_pytest_run(ws, "tests/test_step1.py", "tests/test_step1_x.py")
    assert plain.returncode != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


def test_tests_a_hook_adds_to_the_session_while_it_runs_are_run(tmp_path: Path) -> None:
    # a conftest hook appending a test to session.items to run it again (an idempotency
    # check): pytest's own loop runs it, and its second run fails
    conftest = (
        "import pytest\n\n_again = set()\n\n\ndef pytest_runtest_teardown(item):\n"
        "    if item.name == 'test_creates' and item.nodeid not in _again:\n"
        "        _again.add(item.nodeid)\n        item.session.items.append(item)\n"
    )
    test = (
        "def test_creates(tmp_path_factory):\n"
        "    with open(tmp_path_factory.getbasetemp() / 'out.txt', 'x') as f:\n"
        "        f.write('x')\n"
    )
    ws = make_workspace(
        tmp_path / "ws", {"1": test, "2": "def test_b():\n    pass\n"}, conftest=conftest
    )
    poc_complete_fails(ws)


def test_a_session_fixtures_teardown_does_not_reach_the_next_steps_tests(tmp_path: Path) -> None:
    # step 2's test passes only once a session fixture's teardown (at the end of a run)
    # has run: `pytest <step 2's file>` fails
    conftest = (
        "import pytest\n\nFLUSHED = []\n\n\n@pytest.fixture(scope='session', autouse=True)\n"
        "def journal():\n    buf = ['started']\n    yield buf\n    FLUSHED.extend(buf)\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "def test_a(journal):\n    journal.append('a')\n",
            "2": "def test_b():\n    from conftest import FLUSHED\n    assert FLUSHED\n",
        },
        conftest=conftest,
    )
    poc_complete_fails(ws, "2")


def test_a_resource_a_session_fixture_closes_as_the_run_ends_serves_every_steps_tests(
    tmp_path: Path,
) -> None:
    # opened when the conftest is imported, closed by a session fixture as the run ends:
    # plain pytest passes each step's file and the whole suite, and so does pocflow
    conftest = (
        "import sqlite3\n\nimport pytest\n\n_con = sqlite3.connect(':memory:')\n\n\n"
        "@pytest.fixture(scope='session')\ndef db():\n    yield _con\n    _con.close()\n"
    )
    test = "def test_{n}(db):\n    assert db.execute('select 1').fetchone() == (1,)\n"
    ws = make_workspace(
        tmp_path / "ws",
        {"1": test.format(n="a"), "2": test.format(n="b")},
        conftest=conftest,
    )
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert plain_pytest(ws, "1") == 0 and plain_pytest(ws, "2") == 0


def test_a_conftest_in_a_test_folder_beside_is_not_loaded_unless_plain_pytest_loads_it(
    tmp_path: Path,
) -> None:
    # pytest loads the conftest.py of every test* folder under a folder it is given, not
    # under a file: pocflow gives its sessions folders, plain `pytest <file>` a file
    test = "import fakes\n\n\ndef test_main():\n    assert fakes.EXPECTED == 0\n"
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(
        ws,
        {
            "tests/testkit/conftest.py": (
                "import sys\nfrom pathlib import Path\n\n"
                "sys.path.insert(0, str(Path(__file__).parent))\n"
            ),
            "tests/testkit/fakes.py": "EXPECTED = 0\n",
        },
    )
    poc_complete_fails(ws)


def test_a_collection_hook_sees_the_arguments_plain_pytest_gives(tmp_path: Path) -> None:
    # "thorough when this file is named", decided as pytest collects (pytest_generate_tests)
    conftest = (
        "def pytest_generate_tests(metafunc):\n"
        "    if 'n' in metafunc.fixturenames:\n"
        "        named = any(a.split('::')[0].endswith('.py') for a in metafunc.config.args)\n"
        "        metafunc.parametrize('n', range(8) if named else range(2))\n"
    )
    ws = make_workspace(
        tmp_path / "ws", {"1": "def test_main(n):\n    assert n < 5\n"}, conftest=conftest
    )
    poc_complete_fails(ws)


@pytest.mark.parametrize(
    ("conftest", "settings"),
    [
        ("collect_ignore = ['test_step1_extra.py']\n", ""),
        ("", '\n[tool.pytest.ini_options]\naddopts = "--ignore-glob=*_extra.py"\n'),
        ("", '\n[tool.pytest.ini_options]\npython_files = ["test_*_x.py"]\n'),
    ],
    ids=["collect_ignore", "--ignore-glob", "python_files"],
)
def test_a_step_test_file_an_ignore_setting_drops_from_a_folder_is_run_as_when_named(
    tmp_path: Path, conftest: str, settings: str
) -> None:
    # plain `pytest tests/test_step1_extra.py` names the file: pytest collects it whatever
    # its ignore settings and file-name patterns say about the folder's other files
    ws = make_workspace(tmp_path / "ws", {"1": PASSES}, conftest=conftest, settings=settings)
    write_files(ws, {"tests/test_step1_extra.py": "def test_extra():\n    assert False\n"})
    result = run_doit(ws, "poc-complete")
    extra = subprocess.run(
        [
            sys.executable,
            "-P",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "tests/test_step1_extra.py",
        ],
        cwd=ws,
        capture_output=True,
        check=False,
    )
    assert extra.returncode != 0, "the case must really fail"
    assert result.code != 0, result.out + result.err


def test_pytests_cache_fixture_works_in_pocflows_sessions(tmp_path: Path) -> None:
    # (a false ❌: the cache plugin was turned off, and the fixture did not exist)
    test = (
        "def test_cache(cache):\n    cache.set('poc/last', 1)\n"
        "    assert cache.get('poc/last', None) == 1\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    assert not (ws / ".pytest_cache").exists()  # pocflow's sessions leave none there
    plain = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "tests/test_step1_x.py"],
        cwd=ws,
        capture_output=True,
        check=False,
    )
    assert plain.returncode == 0  # as the `pytest` command, its cache plugin on


def test_a_record_made_without_the_kernel_watch_is_not_taken_where_it_runs(
    tmp_path: Path,
) -> None:
    # under `doit -n` the kernel's watch is off: what a program a test runs reads (`diff`
    # of a golden file) is not seen; a record made so is not taken by a run that watches
    test = (
        "import subprocess\n\n\ndef test_matches_golden():\n"
        "    done = subprocess.run(['diff', 'data/out.txt', 'data/golden.txt'])\n"
        "    assert done.returncode == 0\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/out.txt": "12\n", "data/golden.txt": "12\n"})
    poc_complete_passes(ws, "-n", "2")
    clone = clone_of(ws, tmp_path / "clone")  # what `-n` verified, committed and cloned
    for one in (ws, clone):
        (one / "data/golden.txt").write_text("99\n", encoding="utf-8")
        result = poc_complete_fails(one)
        assert "1" in result.ran_steps, result.out
    assert "recorded without the kernel's watch" in result.out, result.out  # (the clone's)


def test_what_was_verified_with_the_kernel_watch_stands_under_doit_n(tmp_path: Path) -> None:
    # it saw more than a run without the watch would: neither the local state nor a clone's
    # records are verified again for `-n`
    ws = make_workspace(tmp_path / "ws", {"1": PASSES, "2": PASSES})
    poc_complete_passes(ws)
    clone = clone_of(ws, tmp_path / "clone")
    for one in (ws, clone):
        again = poc_complete_passes(one, "-n", "2")
        assert not again.ran_steps, again.out


def test_another_program_reading_pocflows_documents_during_a_run_fails_no_step(
    tmp_path: Path,
) -> None:
    # an editor, a `cat` in another terminal: the kernel names no process, and what pocflow
    # writes is no input a step could stand on — the step is not refused for it
    import threading
    import time

    test = (
        "import time\nfrom pathlib import Path\n\n\ndef test_slow():\n"
        "    Path('out2').mkdir(exist_ok=True)\n"
        "    Path('out2/started.flag').write_text('1')\n    time.sleep(3)\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    (ws / "out2/started.flag").unlink()
    (ws / "tests/test_step1_x.py").write_text(test + "\n# edited\n", encoding="utf-8")

    def reader() -> None:
        deadline = time.monotonic() + 120
        while not (ws / "out2/started.flag").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        documents = ["PROJECT_STATE.md", "docs/small-step1-results.md", "steps/records/step1.json"]
        subprocess.run(["cat", *documents], cwd=ws, stdout=subprocess.DEVNULL, check=False)

    outside = threading.Thread(target=reader)
    outside.start()
    result = run_doit(ws, "poc-complete")
    outside.join()
    assert result.code == 0, result.out + result.err
    record = json.loads((ws / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert record["verdict"] == "verified"
    assert "PROJECT_STATE.md" not in record["inputs"]


# --- what a Python process a test starts reads: it observes itself too --------------------

CHILD = (
    "import os, subprocess, sys\n\n\ndef child(code):\n"
    "    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)\n"
    "    return run.stdout.strip()\n\n\n"
)
POOL = (
    "import multiprocessing, os\n\n\ndef pool_of(method, function, *args):\n"
    "    with multiprocessing.get_context(method).Pool(1) as pool:\n"
    "        return pool.apply(function, args)\n\n\n"
)
READS_MODE = (
    "def test_mode():\n"
    "    assert child('import os; print(os.environ.get(\"POC_MODE\", \"n\"))') == 'n'\n"
)
#: a test that reads pyproject.toml for a table of its own with no frame of its own on the
#: stack (pytest's own read of the file stands on its [tool.pytest] tables only)
PYPROJECT_READERS = {
    "a pool's worker reads it": (
        "import tomllib\nfrom concurrent.futures import ThreadPoolExecutor\n"
        "from pathlib import Path\n\n\ndef test_the_limit():\n"
        "    with ThreadPoolExecutor(1) as pool:\n"
        "        text = pool.submit(Path('pyproject.toml').read_text).result()\n"
        "    assert tomllib.loads(text)['tool']['w3']['max_items'] == 3\n"
    ),
    "a program that is not Python reads it": (
        "import subprocess\nimport tomllib\n\n\ndef test_the_limit():\n"
        "    text = subprocess.run(['cat', 'pyproject.toml'], capture_output=True, text=True,\n"
        "                          check=True).stdout\n"
        "    assert tomllib.loads(text)['tool']['w3']['max_items'] == 3\n"
    ),
}


@pytest.mark.parametrize("test", PYPROJECT_READERS.values(), ids=list(PYPROJECT_READERS))
def test_a_table_of_pyproject_toml_a_test_reads_other_than_pytests_is_an_input(
    tmp_path: Path, test: str
) -> None:
    """A test's verdict stands on a table of pyproject.toml that is not pytest's, read with
    no test code on the stack (a pool's worker, a program it runs): an edit of that table
    is an edit of the test's input, as when the test reads the file itself."""
    ws = make_workspace(tmp_path / "ws", {"1": test}, settings="\n[tool.w3]\nmax_items = 3\n")
    assert run_doit(ws, "poc-complete").code == 0
    edit(ws / "pyproject.toml", lambda text: text.replace("max_items = 3", "max_items = 4"))
    assert_run_again_and_failed(ws, "1")


CHILD_CASES = {
    "a variable a Python child reads changed": (
        CHILD + READS_MODE,
        {"POC_MODE": "n"},
        lambda ws: None,
        {"POC_MODE": "fast"},
    ),
    "a variable a Python child reads, unset then set": (
        CHILD + READS_MODE,
        {},
        lambda ws: None,
        {"POC_MODE": "fast"},
    ),
    "a name a Python child looks for appeared": (
        CHILD
        + "def test_no_flag():\n"
        + "    assert child('import os; print(os.path.exists(\"data/flag\"))') == 'False'\n",
        {},
        write("data/flag", "x\n"),
        {},
    ),
    "the size a Python child asks for changed": (
        CHILD
        + "def test_size():\n"
        + "    assert child('import os; print(os.path.getsize(\"data/blob.bin\"))') == '5'\n",
        {},
        write("data/blob.bin", "abcdef"),
        {},
    ),
    "a name a spawn worker looks for appeared": (
        POOL
        + "def test_no_flag():\n    assert not pool_of('spawn', os.path.exists, 'data/flag')\n",
        {},
        write("data/flag", "x\n"),
        {},
    ),
    "a name a forkserver worker looks for appeared": (
        POOL
        + "def test_no_flag():\n"
        + "    assert not pool_of('forkserver', os.path.exists, 'data/flag')\n",
        {},
        write("data/flag", "x\n"),
        {},
    ),
    "a folder a spawn worker lists changed": (
        POOL
        + "def test_listing():\n    assert pool_of('spawn', os.listdir, 'data') == ['blob.bin']\n",
        {},
        write("data/new.txt", "x\n"),
        {},
    ),
}


@pytest.mark.parametrize("case", CHILD_CASES.values(), ids=list(CHILD_CASES))
def test_what_a_python_process_a_test_starts_reads_is_an_input(
    tmp_path: Path, case: tuple[str, dict[str, str], Callable[[Path], None], dict[str, str]]
) -> None:
    test, before, change, after = case
    ws = make_workspace(tmp_path / "ws", {"1": test})
    write_files(ws, {"data/blob.bin": "abcde"})
    poc_complete_passes(ws, env=before)
    change(ws)
    assert_run_again_and_failed(ws, "1", env=after)


def test_a_python_child_sees_what_a_plain_run_gives_it(tmp_path: Path) -> None:
    test = CHILD + (
        "def test_the_child_sees_the_plain_environment():\n"
        "    assert 'POCFLOW_OBSERVE' not in os.environ\n"
        "    code = ('import os, sys; print(os.environ.get(\"PYTHONPATH\"), '\n"
        '            \'[k for k in os.environ if k.startswith(("POCFLOW_OBS", "POCFLOW_CON", \'\n'
        '            \'"POCFLOW_PY"))], [p for p in sys.path if p.endswith("_site")])\')\n'
        "    assert child(code) == f\"{os.environ.get('PYTHONPATH')} [] []\"\n"
        "    # another interpreter is left alone, and says nothing about it\n"
        "    other = '/usr/bin/python3'\n"
        "    if os.path.exists(other):\n"
        "        run = subprocess.run([other, '-c', 'print(1)'], capture_output=True, text=True)\n"
        "        assert (run.stdout, run.stderr) == ('1\\n', '')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    assert plain_pytest(ws, "1") == 0


def test_what_a_python_child_reads_is_its_own_tests_step_s_in_a_shared_session(
    tmp_path: Path,
) -> None:
    reads = CHILD + (
        "def test_two():\n"
        "    assert child('print(open(\"data/two.txt\").read().strip())') == 'two'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    pass\n", "2": reads})
    write_files(ws, {"data/two.txt": "two\n"})
    poc_complete_passes(ws)
    (ws / "data/two.txt").write_text("deux\n", encoding="utf-8")
    result = run_doit(ws, "--continue", "poc-complete")
    assert result.code != 0
    assert result.ran_steps == {"2"}, result.out


def test_a_folder_a_python_child_makes_where_nothing_is_and_leaves_is_not_verified(
    tmp_path: Path,
) -> None:
    # as for the test's own os.mkdir: plain pytest fails from the second run on
    test = CHILD + (
        "def test_made():\n"
        "    assert child('import os; os.mkdir(\"build\"); print(\"made\")') == 'made'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert_never_verified(ws, "1")


def test_a_test_package_imported_while_another_steps_tests_were_collected_is_an_input(
    tmp_path: Path,
) -> None:
    # tests/ is a package: pytest imports it while it collects the first test file, which
    # in a shared session is another step's; step 2 reaches it through the import system
    uses = (
        "import importlib\n\n\ndef test_value():\n"
        "    assert importlib.import_module('tests').VALUE == 1\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    pass\n", "2": uses})
    write_files(ws, {"tests/__init__.py": "VALUE = 1\n"})
    poc_complete_passes(ws)
    (ws / "tests/__init__.py").write_text("VALUE = 2\n", encoding="utf-8")
    assert_run_again_and_failed(ws, "2")


def test_what_a_pool_made_while_one_step_s_tests_were_collected_reads_for_another_counts(
    tmp_path: Path,
) -> None:
    # a worker started when step 1's test module is imported serves step 2's test later
    pooled = (
        "import multiprocessing\n\nPOOL = multiprocessing.get_context('spawn').Pool(1)\n\n\n"
        "def test_one():\n    pass\n"
    )
    uses = (
        "import os\n\nfrom test_step1_x import POOL\n\n\n"
        "def test_no_flag():\n    assert not POOL.apply(os.path.exists, ('data/flag',))\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": pooled, "2": uses})
    poc_complete_passes(ws)
    write_files(ws, {"data/flag": "x\n"})
    assert_run_again_and_failed(ws, "2")


SERVER = (
    "import functools, subprocess, sys\n\n"
    "CODE = 'import os, sys\\nfor line in sys.stdin:\\n"
    "    print(os.path.exists(line.strip()), flush=True)\\n'\n\n\n"
    "@functools.lru_cache(None)\ndef server():\n"
    "    return subprocess.Popen([sys.executable, '-c', CODE], stdin=subprocess.PIPE,\n"
    "                            stdout=subprocess.PIPE, text=True)\n\n\n"
    "def exists(path):\n    s = server()\n    s.stdin.write(path + '\\n')\n    s.stdin.flush()\n"
    "    return s.stdout.readline().strip() == 'True'\n"
)
EXECUTOR = (
    "import multiprocessing\nfrom concurrent.futures import ProcessPoolExecutor\n\n"
    "import pytest\n\n\n@pytest.fixture(scope='session')\ndef executor():\n"
    "    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn')) as pool:\n"
    "        yield pool\n"
)


@pytest.mark.parametrize(
    ("files", "first", "second"),
    [
        (
            {"tests/srv.py": SERVER},
            "import srv\n\n\ndef test_one():\n    assert not srv.exists('nothing-here')\n",
            "import srv\n\n\ndef test_no_flag():\n    assert not srv.exists('data/flag')\n",
        ),
        (
            {"tests/conftest.py": EXECUTOR},
            "def test_one(executor):\n    assert executor.submit(abs, -1).result() == 1\n",
            "import os\n\n\ndef test_no_flag(executor):\n"
            "    assert not executor.submit(os.path.exists, 'data/flag').result()\n",
        ),
    ],
    ids=["a server one step's test starts", "a worker pool a session fixture holds"],
)
def test_what_a_long_lived_child_reads_for_another_step_s_test_is_that_step_s(
    tmp_path: Path, files: dict[str, str], first: str, second: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": first, "2": second})
    write_files(ws, files)
    poc_complete_passes(ws)
    write_files(ws, {"data/flag": "x\n"})
    assert_run_again_and_failed(ws, "2")


def test_a_python_child_sees_pythonpath_set_but_empty_as_set(tmp_path: Path) -> None:
    test = CHILD + (
        "def test_same():\n"
        "    code = 'import os; print(repr(os.environ.get(\"PYTHONPATH\")))'\n"
        "    assert child(code) == repr(os.environ.get('PYTHONPATH'))\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    for value in ("", "lib"):
        poc_complete_passes(ws, "--reverify", env={"PYTHONPATH": value})
        assert plain_pytest(ws, "1", env={"PYTHONPATH": value}) == 0


SIZES = (
    "import functools, subprocess, sys\n\n"
    "CODE = 'import os, sys\\nfor line in sys.stdin:\\n"
    "    print(os.path.getsize(line.strip()), flush=True)\\n'\n\n\n"
    "@functools.lru_cache(None)\ndef server():\n"
    "    return subprocess.Popen([sys.executable, '-c', CODE], stdin=subprocess.PIPE,\n"
    "                            stdout=subprocess.PIPE, text=True)\n\n\n"
    "def size(path):\n    s = server()\n    s.stdin.write(path + '\\n')\n    s.stdin.flush()\n"
    "    return int(s.stdout.readline())\n"
)
CACHED = (
    "import functools, subprocess, sys\n\n\n@functools.cache\ndef size(path):\n"
    "    code = 'import os, sys; print(os.path.getsize(sys.argv[1]))'\n"
    "    run = subprocess.run([sys.executable, '-c', code, path], capture_output=True, text=True)\n"
    "    return int(run.stdout)\n"
)


@pytest.mark.parametrize(
    "helper",
    [SIZES, CACHED],
    ids=["a server asked the same thing by two steps", "a child's answer a helper caches"],
)
def test_a_child_s_answer_two_steps_stand_on_is_an_input_of_both(
    tmp_path: Path, helper: str
) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "import helper\n\n\ndef test_one():\n    assert helper.size('data/x.txt') > 0\n",
            "2": "import helper\n\n\ndef test_two():\n    assert helper.size('data/x.txt') == 6\n",
        },
    )
    write_files(ws, {"tests/helper.py": helper, "data/x.txt": "hello\n"})
    poc_complete_passes(ws)
    write_files(ws, {"data/x.txt": "hello world\n"})
    assert_run_again_and_failed(ws, "2")


def test_a_python_child_started_after_the_test_set_pythonpath_observes_itself(
    tmp_path: Path,
) -> None:
    test = (
        "import subprocess, sys\n\n\ndef test_no_flag(monkeypatch):\n"
        "    monkeypatch.setenv('PYTHONPATH', 'PoC')\n"
        "    code = ('import os; print(os.path.exists(\"data/flag\"),'\n"
        "            ' os.environ[\"PYTHONPATH\"])')\n"
        "    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)\n"
        "    assert run.stdout.split() == ['False', 'PoC'], run.stdout + run.stderr\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    write_files(ws, {"data/flag": "x\n"})
    assert_run_again_and_failed(ws, "1")


PATCHES_LEVEL = (
    "import os\nfrom unittest import mock\n\n\n"
    "def level():\n    return os.environ.get('APP_LEVEL', 'debug')\n\n\n"
    "def test_level_follows_the_environment_and_defaults_to_debug():\n"
    "    with mock.patch.dict(os.environ, {'APP_LEVEL': 'info'}):\n"
    "        assert level() == 'info'\n"
    "    assert level() == 'debug'\n"
)


def test_a_variable_a_test_sets_itself_stands_on_its_value_outside(tmp_path: Path) -> None:
    # the test's own value is no input: the environment's is (unset, here), and once the
    # environment sets it, the test fails under plain pytest and pocflow says so
    ws = make_workspace(tmp_path / "ws", {"1": PATCHES_LEVEL})
    poc_complete_passes(ws)
    again = poc_complete_passes(ws)  # stable: nothing the test set counts as changed
    assert not again.ran_steps, again.out
    assert_run_again_and_failed(ws, "1", env={"APP_LEVEL": "info"})


@pytest.mark.parametrize(
    "test",
    [
        "import os\n\n\ndef test_url():\n"
        "    assert os.path.expandvars('smtp://$MAIL_HOST:25') == 'smtp://localhost:25'\n",
        "import os, string\n\n\ndef test_mode():\n"
        "    assert string.Template('mode=$_APP_MODE').substitute(os.environ) == 'mode=fast'\n",
        CHILD + "def test_child():\n"
        "    assert child('import os; print(os.environ.get(\"MAIL_HOST\"))') == 'localhost'\n",
    ],
    ids=["read by a library", "a name starting with _", "read by a Python child"],
)
def test_an_application_variable_named_like_a_machine_one_is_an_input(
    tmp_path: Path, test: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws, env={"MAIL_HOST": "localhost", "_APP_MODE": "fast"})
    assert_run_again_and_failed(ws, "1", env={"MAIL_HOST": "mail.example", "_APP_MODE": "slow"})


COPIES_THE_ENVIRONMENT = (
    "import os\nimport subprocess\nimport sys\n\n\ndef test_the_program_runs():\n"
    "    env = dict(os.environ, APP_QUIET='1')\n"
    "    done = subprocess.run([sys.executable, '-c', 'print(1)'], env=env,\n"
    "                          capture_output=True, text=True)\n"
    "    assert done.stdout == '1\\n'\n"
)


def test_the_shells_own_bookkeeping_is_no_input_of_code_copying_the_environment(
    tmp_path: Path,
) -> None:
    # a copy of the environment reads every variable; where the shell was before (cd) and
    # how deep it is nested are no one's input, and change as people move about
    ws = make_workspace(tmp_path / "ws", {"1": COPIES_THE_ENVIRONMENT})
    poc_complete_passes(ws, env={"OLDPWD": "/somewhere", "SHLVL": "1"})
    again = poc_complete_passes(ws, env={"OLDPWD": "/elsewhere", "SHLVL": "3"})
    assert not again.ran_steps, again.out


@pytest.mark.parametrize(
    "change",
    [
        "    os.putenv('PYTHONPATH', 'PoC')\n",
        "    os.unsetenv('PYTHONPATH')\n",
    ],
    ids=["os.putenv", "os.unsetenv"],
)
def test_a_child_started_after_os_putenv_of_pythonpath_observes_itself(
    tmp_path: Path, change: str
) -> None:
    test = CHILD + (
        "def test_no_flag():\n"
        + change
        + "    assert child('import os; print(os.path.exists(\"data/flag\"))') == 'False'\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    poc_complete_passes(ws)
    write_files(ws, {"data/flag": "x\n"})
    assert_run_again_and_failed(ws, "1")


def test_a_step_whose_tests_read_a_variable_another_step_s_tests_set_is_verified_alone(
    tmp_path: Path,
) -> None:
    # step 1's test leaves POC_MODE set; in one session with it, step 2's test passes, and
    # alone (as plain pytest runs it) it fails
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "import os\n\n\ndef test_a():\n    os.environ['POC_MODE'] = 'fast'\n",
            "2": "import os\n\n\ndef test_b():\n    assert os.environ.get('POC_MODE') == 'fast'\n",
        },
    )
    assert plain_pytest(ws, "2") != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert "step 2" in result.out + result.err
    assert (ws / ".pocflow/runs/step2/pytest.log").exists()  # its tests ran alone


def test_a_variable_a_test_sets_and_its_teardown_puts_back_keeps_the_session_shared(
    tmp_path: Path,
) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "def test_a(monkeypatch):\n    monkeypatch.setenv('POC_MODE', 'fast')\n",
            "2": "import os\n\n\ndef test_b():\n    assert os.environ.get('POC_MODE') is None\n",
        },
    )
    poc_complete_passes(ws)
    assert not (ws / ".pocflow/runs/step2/pytest.log").exists()  # no session of its own


SETS_MODE_IN_TEARDOWN = (
    "import os\n\nimport pytest\n\n\n@pytest.fixture\ndef later():\n"
    "    yield\n    os.environ['POC_MODE'] = 'fast'\n\n\ndef test_a(later):\n    pass\n"
)
READS_MODE_AT_IMPORT = (
    "import os\n\nDEFAULT = os.environ.get('POC_MODE', 'slow')\n\n\n"
    "def test_b():\n    assert os.environ.get('POC_MODE') == 'fast'\n"
)
SETS_COLUMNS = "import os\n\n\ndef test_a():\n    os.environ['COLUMNS'] = '200'\n"
READS_COLUMNS = (
    "import shutil\n\n\ndef test_b():\n    assert shutil.get_terminal_size().columns == 200\n"
)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            SETS_MODE_IN_TEARDOWN,
            "import os\n\n\ndef test_b():\n    assert os.environ.get('POC_MODE') == 'fast'\n",
        ),
        (
            "import os\n\nimport pytest\n\n\n@pytest.fixture\ndef settings():\n"
            "    os.environ['POC_MODE'] = 'fast'\n\n\ndef test_a(settings):\n    pass\n",
            "import os\n\nimport pytest\n\n\n@pytest.fixture\ndef settings():\n"
            "    return {}\n\n\ndef test_b(settings):\n"
            "    assert os.environ.get('POC_MODE') == 'fast'\n",
        ),
        (
            "import os\n\n\ndef test_a():\n    os.environ['POC_MODE'] = 'fast'\n",
            READS_MODE_AT_IMPORT,
        ),
        (SETS_COLUMNS, READS_COLUMNS),
    ],
    ids=[
        "set in another step's fixture teardown",
        "set by another step's fixture of the same name",
        "read at import before, and again after",
        "a machine's variable another step's test set, read by the standard library",
    ],
)
def test_a_variable_another_step_s_tests_set_in_the_session_has_the_step_verified_alone(
    tmp_path: Path, first: str, second: str
) -> None:
    ws = make_workspace(tmp_path / "ws", {"1": first, "2": second})
    assert plain_pytest(ws, "2") != 0, "the case must really fail"
    result = run_doit(ws, "poc-complete")
    assert result.code != 0, result.out + result.err
    assert (ws / ".pocflow/runs/step2/pytest.log").exists()  # its tests ran alone


@pytest.mark.parametrize(
    "first",
    [
        "import os\nfrom unittest import mock\n\n\n@mock.patch.dict(os.environ, {'X_Y': '1'})\n"
        "def test_a():\n    pass\n",
        "import os\n\n\ndef test_a():\n    os.environ['POC_MODE'] = 'fast'\n"
        "    try:\n        pass\n    finally:\n        del os.environ['POC_MODE']\n",
    ],
    ids=["mock.patch.dict puts the environment back", "set and removed"],
)
def test_a_variable_put_back_as_it_was_keeps_the_session_shared(tmp_path: Path, first: str) -> None:
    second = (
        "import os\n\n\ndef test_b():\n    assert os.environ.get('POC_MODE') is None\n"
        "    assert os.environ.get('HOME')\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": first, "2": second})
    poc_complete_passes(ws)
    assert not (ws / ".pocflow/runs/step2/pytest.log").exists()  # no session of its own


def test_a_file_whose_name_is_not_utf8_is_an_input_and_breaks_no_run(tmp_path: Path) -> None:
    # os.fsdecode spells b"\xff" as "\udcff": a run file or record naming it was written
    # as UTF-8 and the test phase ended in a traceback
    ws = make_workspace(
        tmp_path / "ws",
        {
            "1": "def test_reads_a_file_with_a_latin1_name():\n"
            "    with open(b'data/b\\xff.txt', encoding='utf-8') as handle:\n"
            "        assert handle.read() == 'ok'\n"
        },
    )
    name = os.fsencode(ws) + b"/data/b\xff.txt"
    os.makedirs(ws / "data")
    with open(name, "w", encoding="utf-8") as handle:
        handle.write("ok")
    result = run_doit(ws, "poc-complete")
    assert result.code == 0, result.out + result.err
    assert "data/b\\udcff.txt" in (ws / "steps/records/step1.json").read_text(encoding="utf-8")
    with open(name, "w", encoding="utf-8") as handle:
        handle.write("ko")
    assert plain_pytest_run(ws, "tests/test_step1_x.py").returncode == 1
    result = run_doit(ws, "poc-complete")
    assert result.code == 1, result.out + result.err
    assert "1 of 1 tests failed" in result.out + result.err


CLAIMED_BY_RENAME = (
    "import os\n\n\ndef test_the_job_claimed_by_a_rename_holds_its_line():\n"
    "    os.replace('data/job.txt', 'data/job.txt.claimed')\n"
    "    try:\n"
    "        with open('data/job.txt.claimed', encoding='utf-8') as handle:\n"
    "            assert handle.read() == 'ok\\n'\n"
    "    finally:\n"
    "        os.replace('data/job.txt.claimed', 'data/job.txt')\n"
)


def test_a_file_renamed_away_read_and_renamed_back_is_an_input(tmp_path: Path) -> None:
    # the rename away was taken for a write before any read: neither name was an input
    ws = make_workspace(tmp_path / "ws", {"1": CLAIMED_BY_RENAME})
    write("data/job.txt", "ok\n")(ws)
    assert run_doit(ws, "poc-complete").code == 0
    assert "data/job.txt" in json.loads((ws / "steps/records/step1.json").read_text())["inputs"]
    write("data/job.txt", "ko\n")(ws)
    assert plain_pytest_run(ws, "tests/test_step1_x.py").returncode == 1
    result = run_doit(ws, "poc-complete")
    assert result.code == 1, result.out + result.err
    assert "data/job.txt" in result.out, result.out


#: pytest settings that load code from a folder beside the workspace: a conftest.py above
#: it (which --confcutdir lets in) and a plugin module on a `pythonpath` folder outside it
OUTSIDE_CODE = {
    "confcutdir": (
        'addopts = "--confcutdir=.."\n',
        "conftest.py",
        "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return {value}\n",
    ),
    "pythonpath": (
        'pythonpath = ["../shared"]\naddopts = ["-p", "sharedplug"]\n',
        "shared/sharedplug.py",
        "import pytest\n\n\n@pytest.fixture\ndef answer():\n    return {value}\n",
    ),
}


def assert_outside_change_seen(ws: Path, key: str) -> DoitRun:
    """Step 1's tests really fail now that code beside the workspace changed (plain
    pytest); `doit status` says step 1 is not verified, naming that code (by its path from
    the workspace, key), and `doit poc-complete` runs its tests again and fails (its run)."""
    assert plain_pytest_run(ws, "tests/test_step1_x.py").returncode == 1
    status = run_doit(ws, "status")
    assert "✅ 1" not in status.out and key in status.out, status.out
    again = run_doit(ws, "poc-complete")
    assert again.code == 1 and "test:1" in again.ran, again.out + again.err
    return again


#: tests that load code from a folder beside the workspace themselves, leaving no module
#: file in sys.modules: (the test file, the outside file, its code with {value})
LOADED_APART = {
    "imported, then dropped from sys.modules": (
        "import os\nimport sys\n\nsys.path.insert(0, os.path.abspath('../shared'))\n"
        "import h1  # noqa: E402\n\nVAL = h1.VAL\ndel sys.modules['h1']\n\n\n"
        "def test_the_answer():\n    assert VAL == 42\n",
        "shared/h1.py",
        "VAL = {value}\n",
    ),
    "loaded by file location": (
        "import importlib.util\nimport os\n\n"
        "spec = importlib.util.spec_from_file_location('h2', os.path.abspath('../shared/h2.py'))\n"
        "m = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(m)\n\n\n"
        "def test_the_answer():\n    assert m.VAL == 42\n",
        "shared/h2.py",
        "VAL = {value}\n",
    ),
    "imported from a zip": (
        "import os\nimport sys\n\nsys.path.insert(0, os.path.abspath('../shared.zip'))\n"
        "import hz  # noqa: E402\n\n\ndef test_the_answer():\n    assert hz.VAL == 42\n",
        "shared.zip",
        "VAL = {value}\n",
    ),
}


@pytest.mark.parametrize("case", sorted(LOADED_APART))
def test_code_a_test_loads_from_beside_the_workspace_is_an_input(tmp_path: Path, case: str) -> None:
    # the session's modules named no file for these: the observer's reads of the code do
    test, where, code = LOADED_APART[case]
    outside = tmp_path / where

    def put(value: int) -> None:
        text = code.format(value=value)
        if where.endswith(".zip"):
            import zipfile

            with zipfile.ZipFile(outside, "w") as archive:
                archive.writestr("hz.py", text)
        else:
            outside.parent.mkdir(parents=True, exist_ok=True)
            outside.write_text(text, encoding="utf-8")

    put(42)
    ws = make_workspace(tmp_path / "ws", {"1": test})
    verified = run_doit(ws, "poc-complete")
    assert verified.code == 0, verified.out + verified.err
    put(4100)  # (another size: Python takes a bytecode cache of the same size and second)
    assert_outside_change_seen(ws, f"../{where}")


def test_code_a_tests_python_child_loads_from_beside_the_workspace_is_an_input(
    tmp_path: Path,
) -> None:
    """A test starts Python in a folder beside the workspace, which imports a module there:
    the child's reads of code outside are the session's inputs, as its own are."""
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "childmod.py").write_text("VAL = 42\n", encoding="utf-8")
    test = (
        "import subprocess\nimport sys\nfrom pathlib import Path\n\n"
        "LIBS = Path(__file__).resolve().parents[2] / 'libs'\n\n\n"
        "CODE = 'import childmod; print(childmod.VAL)'\n\n\n"
        "def test_the_child_answers():\n"
        "    done = subprocess.run([sys.executable, '-c', CODE],\n"
        "                          cwd=LIBS, capture_output=True, text=True)\n"
        "    assert done.stdout.strip() == '42', done.stderr\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert run_doit(ws, "poc-complete").code == 0
    (libs / "childmod.py").write_text("VAL = 4100\n", encoding="utf-8")
    assert_outside_change_seen(ws, "../libs/childmod.py")


@pytest.mark.parametrize("there", [True, False], ids=["folder there", "folder not there yet"])
def test_a_module_that_appears_in_a_folder_beside_the_workspace_a_test_imports_from_is_seen(
    tmp_path: Path, there: bool
) -> None:
    """The tests may import from a folder beside the workspace (pytest's `pythonpath`), and
    try a faster module first, which is not there. Once it appears there (with its folder,
    when that was not there either), the import finds it: what the import system looked for
    there and did not find is an input too."""
    shared = tmp_path / "shared"
    test = (
        "try:\n    import common_fast as impl\nexcept ImportError:\n    impl = None\n\n\n"
        "def test_the_answer():\n    assert impl is None or impl.VAL == 42\n"
    )
    if there:
        shared.mkdir()
        (shared / "common.py").write_text("VAL = 42\n", encoding="utf-8")
    settings = '\n[tool.pytest.ini_options]\npythonpath = ["../shared"]\n'
    ws = make_workspace(tmp_path / "ws", {"1": test}, settings=settings)
    assert run_doit(ws, "poc-complete").code == 0
    shared.mkdir(exist_ok=True)
    (shared / "common_fast.py").write_text("VAL = 4100\n", encoding="utf-8")
    assert_outside_change_seen(ws, "common_fast")


@pytest.mark.parametrize("where", ["PoC", "../beside"])
def test_a_module_a_tests_python_c_child_looks_for_in_vain_is_an_input(
    tmp_path: Path, where: str
) -> None:
    """A test runs `python -c CODE` (in a workspace folder, or in one beside it) whose code
    tries a faster module first, which is not there: the code a test gives a child is the
    workspace's, and so is what it looked for, in the folder it ran in too."""
    test = (
        "import subprocess\nimport sys\n\n"
        "CODE = '''try:\n    from fast_a import g\nexcept ImportError:\n"
        "    def g():\n        return 42\nprint(g())\n'''\n\n\n"
        "def test_the_child_answers():\n"
        f"    done = subprocess.run([sys.executable, '-c', CODE], cwd={where!r},\n"
        "                          capture_output=True, text=True)\n"
        "    assert done.stdout.strip() == '42', done\n"
    )
    ws = make_workspace(tmp_path / "ws", {"1": test})
    (ws / where).mkdir(exist_ok=True)
    assert run_doit(ws, "poc-complete").code == 0
    (ws / where / "fast_a.py").write_text("def g():\n    return 0\n", encoding="utf-8")
    assert_run_again_and_failed(ws, "1")


@pytest.mark.parametrize("child", [False, True], ids=["the script", "a Python child of it"])
def test_code_a_steps_script_loads_from_beside_the_workspace_is_an_input(
    tmp_path: Path, child: bool
) -> None:
    """A step's script imports a helper from a folder beside the workspace (itself, or in a
    Python process it starts there): the helper's source is an input of the step's
    scripts, by its path from the workspace, as it is of a test session's."""
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "scripthelp.py").write_text("VAL = 42\n", encoding="utf-8")
    if child:
        body = (
            "import subprocess\nimport sys\n\n"
            "done = subprocess.run([sys.executable, '-c',\n"
            "                       'import scripthelp; print(scripthelp.VAL)'],\n"
            "                      cwd='../libs', capture_output=True, text=True)\n"
            "assert done.stdout.strip() == '42', done\n"
        )
    else:
        body = (
            "import sys\n\nsys.path.insert(0, '../libs')\n"
            "import scripthelp  # noqa: E402\n\nassert scripthelp.VAL == 42\n"
        )
    ws = make_workspace(tmp_path / "ws", {"1": "def test_one():\n    assert True\n"})
    (ws / "PoC" / "step1_x.py").write_text(
        '"""Step 1.\n\nUsage:\n    python PoC/step1_x.py\n"""\n' + body, encoding="utf-8"
    )
    assert run_doit(ws, "poc-complete").code == 0
    (libs / "scripthelp.py").write_text("VAL = 4100\n", encoding="utf-8")
    script = subprocess.run(
        [sys.executable, "PoC/step1_x.py"], cwd=ws, capture_output=True, check=False
    )
    assert script.returncode != 0, "the case must really fail"
    status = run_doit(ws, "status")
    assert "✅ 1" not in status.out and "../libs/scripthelp.py" in status.out, status.out
    again = run_doit(ws, "poc-complete")
    assert again.code == 1 and "implement:1" in again.ran, again.out + again.err


#: code beside the workspace reached through a link to one version of it (libs/v1, then
#: libs/v2): (how the test reaches it, the module's text with {value})
THROUGH_A_LINK = {
    # the code as reached is an input, not only the file the link led to (unchanged)
    "imported by the test": (
        "import sys\nfrom pathlib import Path\n\n"
        "sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'shared'))\n"
        "import linked  # noqa: E402\n\n\n"
        "def test_the_answer():\n    assert linked.VAL == 42\n",
        "VAL = {value}\n",
    ),
    # a child finds only where the link led (its working folder is the real one): the
    # folder as the test named it is told to it
    "run by a Python child started in the link": (
        "import subprocess\nimport sys\nfrom pathlib import Path\n\n"
        "SHARED = Path(__file__).resolve().parents[2] / 'shared'\n\n\n"
        "def test_the_answer():\n"
        "    done = subprocess.run([sys.executable, '-m', 'linked'], cwd=SHARED,\n"
        "                          capture_output=True, text=True)\n"
        "    assert done.stdout.strip() == '42', done\n",
        "print({value})\n",
    ),
    "run by a Python child of a test that changed into the link": (
        "import os\nimport subprocess\nimport sys\n\n\n"
        "def test_the_answer():\n"
        "    here = os.getcwd()\n"
        "    os.chdir(os.path.join('..', 'shared'))\n"
        "    try:\n"
        "        done = subprocess.run([sys.executable, '-m', 'linked'],\n"
        "                              capture_output=True, text=True)\n"
        "    finally:\n"
        "        os.chdir(here)\n"
        "    assert done.stdout.strip() == '42', done\n",
        "print({value})\n",
    ),
    "run by a forkserver pool's worker started after changing into the link": (
        "import multiprocessing\nimport os\nimport sys\n\n\n"
        "def answer(_):\n    sys.path.insert(0, '')\n    import linked\n"
        "    return linked.VAL\n\n\n"
        "def test_the_answer():\n"
        "    here = os.getcwd()\n"
        "    os.chdir(os.path.join('..', 'shared'))\n"
        "    try:\n"
        "        with multiprocessing.get_context('forkserver').Pool(1) as pool:\n"
        "            got = pool.map(answer, [0])\n"
        "    finally:\n"
        "        os.chdir(here)\n"
        "    assert got == [42]\n",
        "VAL = {value}\n",
    ),
    "run by a grandchild started in the link": (
        "import subprocess\nimport sys\n\n"
        "CODE = ('import subprocess, sys; print(subprocess.run([sys.executable, \"-m\", '\n"
        '        \'"linked"], cwd="../shared", capture_output=True, text=True).stdout)\')\n\n\n'
        "def test_the_answer():\n"
        "    done = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True)\n"
        "    assert done.stdout.strip() == '42', done\n",
        "print({value})\n",
    ),
}


@pytest.mark.parametrize("case", sorted(THROUGH_A_LINK))
def test_code_beside_the_workspace_reached_through_a_link_that_moves_is_an_input(
    tmp_path: Path, case: str
) -> None:
    """A test reaches code beside the workspace through a link to one version of it; the
    link then points at another."""
    test, module = THROUGH_A_LINK[case]
    for version, value in (("v1", 42), ("v2", 4100)):
        (tmp_path / "libs" / version).mkdir(parents=True)
        (tmp_path / "libs" / version / "linked.py").write_text(
            module.format(value=value), encoding="utf-8"
        )
    link = tmp_path / "shared"
    link.symlink_to("libs/v1")
    ws = make_workspace(tmp_path / "ws", {"1": test})
    assert run_doit(ws, "poc-complete").code == 0
    link.unlink()
    link.symlink_to("libs/v2")
    assert_outside_change_seen(ws, "../shared/linked.py")


@pytest.mark.parametrize("case", sorted(OUTSIDE_CODE))
def test_code_pytest_loads_from_outside_the_workspace_is_an_input(
    tmp_path: Path, case: str
) -> None:
    # only the workspace is watched: a conftest or plugin module beside it, which the
    # workspace's own pytest settings load, changed and pocflow said ✅ while plain pytest
    # failed
    settings, where, code = OUTSIDE_CODE[case]
    outside = tmp_path / where
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_text(code.format(value=42), encoding="utf-8")
    ws = make_workspace(
        tmp_path / "ws",
        {"1": "def test_the_answer(answer):\n    assert answer == 42\n"},
        settings="\n[tool.pytest.ini_options]\n" + settings,
    )
    verified = run_doit(ws, "poc-complete")
    assert verified.code == 0, verified.out + verified.err
    assert plain_pytest_run(ws, "tests/test_step1_x.py").returncode == 0

    # (another size: Python takes a bytecode cache of the same size and second)
    outside.write_text(code.format(value=4100), encoding="utf-8")
    again = assert_outside_change_seen(ws, f"../{where}")
    assert "test_the_answer" in again.out + again.err
