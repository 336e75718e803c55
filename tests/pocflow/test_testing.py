"""The test phase: real pytest sessions, one verdict per step, clear failure messages."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocflow import observed, testing
from pocflow.testing import PytestJsonRunner, TestSelection

PASSING = "def test_one():\n    assert True\n\ndef test_two():\n    assert 1 + 1 == 2\n"


def workspace(root: Path, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def select(step_id: str, *files: str) -> TestSelection:
    return TestSelection(step_id=step_id, files=files, inputs=files)


def test_passing_step_counts_equal_pytest(tmp_path: Path) -> None:
    root = workspace(tmp_path, {"tests/test_step1_a.py": PASSING})
    result = PytestJsonRunner().run(
        root, [select("1", "tests/test_step1_a.py")], root / ".pocflow"
    )["1"]
    assert result.outcome == "passed", result.message
    assert result.counts == {"passed": 2, "total": 2}
    assert [t.nodeid for t in result.tests] == [
        "tests/test_step1_a.py::test_one",
        "tests/test_step1_a.py::test_two",
    ]
    assert "tests/test_step1_a.py" in result.inputs
    assert "tests/test_step1_a.py" in result.observed  # what the session really read


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "step 1 has no test file; add tests/test_step1_<description>.py"),
        (
            {"tests/test_step1_a.py": "x = 1\n"},
            "step 1: no tests collected from tests/test_step1_a.py",
        ),
        (
            {"tests/test_step1_a.py": "import no_such_module\n"},
            "step 1: 1 test file(s) failed to load:\n    tests/test_step1_a.py: "
            "ModuleNotFoundError: No module named 'no_such_module'",
        ),
        ({"tests/test_step1_a.py": "def test_x(:\n"}, "failed to load"),
        (
            {"tests/test_step1_a.py": PASSING + "\ndef test_bad():\n    assert 2 == 3\n"},
            "step 1: 1 of 3 tests failed:\n    tests/test_step1_a.py::test_bad - assert 2 == 3",
        ),
        (
            {
                "tests/test_step1_a.py": "import pytest\n@pytest.fixture\ndef f():\n    raise "
                "RuntimeError('boom')\ndef test_x(f):\n    pass\n"
            },
            "tests/test_step1_a.py::test_x - RuntimeError: boom",
        ),
        (
            {
                "tests/test_step1_a.py": "import pytest\n@pytest.mark.xfail(strict=True, "
                "reason='not yet')\ndef test_x():\n    pass\n"
            },
            "tests/test_step1_a.py::test_x - [XPASS(strict)] not yet",
        ),
    ],
)
def test_failing_verdicts_say_why(tmp_path: Path, files: dict[str, str], message: str) -> None:
    root = workspace(tmp_path, files)
    selection = select("1", *files)
    result = PytestJsonRunner().run(root, [selection], root / ".pocflow")["1"]
    assert result.outcome == "failed"
    assert message in result.message


def test_one_session_splits_verdicts_per_step(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "tests/test_step4_a.py": PASSING,
            "tests/test_step4_1_b.py": "def test_bad():\n    assert False\n",
            "tests/test_step5_c.py": "import missing_module\n",
        },
    )
    results = PytestJsonRunner().run(
        root,
        [
            select("4", "tests/test_step4_a.py"),
            select("4_1", "tests/test_step4_1_b.py"),
            select("5", "tests/test_step5_c.py"),
        ],
        root / ".pocflow",
    )
    assert results["4"].outcome == "passed"
    assert results["4"].counts["total"] == 2
    assert results["4_1"].outcome == "failed" and results["4_1"].counts["failed"] == 1
    assert results["5"].outcome == "failed" and "failed to load" in results["5"].message


def test_many_failures_are_summarised(tmp_path: Path) -> None:
    body = "".join(f"def test_{i}():\n    assert False\n" for i in range(8))
    root = workspace(tmp_path, {"tests/test_step1_a.py": body})
    result = PytestJsonRunner().run(
        root, [select("1", "tests/test_step1_a.py")], root / ".pocflow"
    )["1"]
    assert "8 of 8 tests failed" in result.message
    assert "... and 3 more" in result.message


@pytest.mark.parametrize("isolation", ["fork", "subprocess"])
def test_a_session_collects_only_the_selected_files_of_its_folders(
    tmp_path: Path, isolation: str
) -> None:
    failing = "def test_no():\n    assert False\n"
    root = workspace(
        tmp_path,
        {
            "tests/conftest.py": "import pytest\n\n@pytest.fixture\ndef answer():\n    return 42\n",
            "tests/test_step1_a.py": "def test_uses_conftest(answer):\n    assert answer == 42\n",
            "tests/test_step2_b.py": failing,  # not selected: never collected
            "tests/engine/test_other.py": failing,  # a folder with nothing selected: pruned
            "tests/deep/test_step3_c.py": PASSING,
            "checks/test_step4_d.py": PASSING,
        },
    )
    runner = PytestJsonRunner(isolation)
    selections = [
        select("1", "tests/test_step1_a.py"),
        select("3", "tests/deep/test_step3_c.py"),
        select("4", "checks/test_step4_d.py"),
    ]
    results = runner.run(root, selections, root / ".pocflow")
    assert {sid: r.counts for sid, r in results.items()} == {
        "1": {"passed": 1, "total": 1},
        "3": {"passed": 2, "total": 2},
        "4": {"passed": 2, "total": 2},
    }
    log = (root / ".pocflow/pytest.log").read_text(encoding="utf-8")
    assert "5 passed" in log and "failed" not in log


@pytest.mark.parametrize("isolation", ["fork", "subprocess"])
def test_a_session_has_the_environment_of_the_moment_it_starts_not_the_servers(
    tmp_path: Path, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fork server started earlier (pocflow starts it while the scripts run): a variable
    # set since, or removed, is as a plain `pytest` started now would have it
    root = workspace(
        tmp_path,
        {
            "tests/test_step1_a.py": "import os\n\n\ndef test_env():\n"
            "    assert os.environ.get('POCFLOW_TEST_SET_LATER') == 'yes'\n"
            "    assert 'POCFLOW_TEST_REMOVED_LATER' not in os.environ\n"
        },
    )
    monkeypatch.setenv("POCFLOW_TEST_REMOVED_LATER", "1")
    testing.prestart(isolation)
    monkeypatch.setenv("POCFLOW_TEST_SET_LATER", "yes")
    monkeypatch.delenv("POCFLOW_TEST_REMOVED_LATER")
    result = PytestJsonRunner(isolation).run(
        root, [select("1", "tests/test_step1_a.py")], root / ".pocflow"
    )["1"]
    assert result.outcome == "passed", result.message


def test_covering_folders_are_the_fewest_that_hold_every_file() -> None:
    from pocflow.testing import _covering_folders

    assert _covering_folders(
        ["tests/a/test_x.py", "tests/test_y.py", "checks/test_z.py", "tests/a/b/test_w.py"]
    ) == ["checks", "tests"]
    assert _covering_folders(["test_root.py", "tests/test_y.py"]) == ["."]


@pytest.mark.parametrize("isolation", ["fork", "subprocess"])
def test_a_session_that_raises_past_pytest_fails_and_shows_why(
    tmp_path: Path, isolation: str
) -> None:
    # a hook that raises out of pytest.main: plain pytest prints the traceback and exits 1
    root = workspace(
        tmp_path,
        {
            "tests/conftest.py": "def pytest_sessionfinish(session):\n"
            "    raise RuntimeError('boom in sessionfinish')\n",
            "tests/test_step1_a.py": PASSING,
        },
    )
    result = PytestJsonRunner(isolation).run(
        root, [select("1", "tests/test_step1_a.py")], root / ".pocflow"
    )["1"]
    assert result.outcome == "failed"
    assert "ended early (pytest exit code 1)" in result.message
    assert "RuntimeError: boom in sessionfinish" in result.message  # the log's tail


def test_a_fork_child_that_crashes_is_run_again_as_a_subprocess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pocflow import _forkserver, testing

    class CrashingServer:
        def session(
            self, root: Path, args: list[str], log: Path, facts: Path, env: dict[str, str]
        ) -> int:
            log.write_text("Traceback (most recent call last):\nOSError: lost\n", encoding="utf-8")
            return _forkserver.CRASHED

    monkeypatch.setattr(testing._ForkServer, "get", classmethod(lambda cls: CrashingServer()))
    root = workspace(tmp_path, {"tests/test_step1_a.py": PASSING})
    result = PytestJsonRunner("fork").run(
        root, [select("1", "tests/test_step1_a.py")], root / ".pocflow"
    )["1"]
    assert result.outcome == "passed", result.message  # the subprocess session's verdict
    kept = (root / ".pocflow" / testing.CRASH_LOG).read_text(encoding="utf-8")
    assert "OSError: lost" in kept


def test_the_fork_child_exits_with_its_own_code_when_it_fails_outside_pytest(
    tmp_path: Path,
) -> None:
    from pocflow import _forkserver

    broken = tmp_path / "broken_plugin.py"
    broken.write_text("raise ImportError('plugin cannot load')\n", encoding="utf-8")
    log = tmp_path / "pytest.log"
    code = _forkserver.session(str(tmp_path), ["-q"], str(log), plugins=[str(broken)])
    assert code == _forkserver.CRASHED
    assert "ImportError: plugin cannot load" in log.read_text(encoding="utf-8")


def test_a_sessions_rewritten_files_are_checked_once_however_many_steps_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each test file's bytecode is read, then written: a session of a thousand steps
    # rewrites a thousand files, and checking them again for each step made a cold run
    # of a thousand steps take half again as long
    root = workspace(tmp_path, {f"tests/test_step{n}_a.py": PASSING for n in range(1, 6)})
    calls: list[int] = []
    real = observed.changed_by_run

    def counted(*args: Any) -> set[str]:
        found = real(*args)
        calls.append(len(found))
        return found

    monkeypatch.setattr(testing, "changed_by_run", counted, raising=False)
    monkeypatch.setattr(observed, "changed_by_run", counted)
    results = PytestJsonRunner().run(
        root, [select(str(n), f"tests/test_step{n}_a.py") for n in range(1, 6)], root / ".pocflow"
    )
    assert all(result.outcome == "passed" for result in results.values())
    assert len(calls) == 1


def test_a_virtual_environment_inside_the_workspace_is_no_workspace_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uv's .venv sits in the workspace: the plugins the warm server loaded from it do not
    # make its sessions unfaithful; a plugin of the workspace's own (site/) does
    import types

    from pocflow import _session

    for rel in (".venv/lib/fakeplug.py", "site/wsplug.py", "elsewhere.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("", encoding="utf-8")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    for name, rel in (("fakeplug", ".venv/lib/fakeplug.py"), ("wsplug", "site/wsplug.py")):
        module = types.ModuleType(name)
        module.__file__ = str(tmp_path / rel)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(_session, "PRELOADED", frozenset({"fakeplug", "wsplug"}))
    assert _session._shadowed(tmp_path) == ["wsplug"]


@pytest.mark.parametrize(
    ("addopts", "given"),
    [
        ("", None),
        ("-x", None),
        ("--rootdir=tests", "tests"),
        ("--rootdir tests -x", "tests"),
        ("--rootdir=a --rootdir b", "b"),
        ("--rootdir", None),
        ("'unclosed", None),
    ],
)
def test_the_rootdir_pytest_addopts_names_is_the_last_one_given(
    addopts: str, given: str | None
) -> None:
    assert testing._rootdir_given(addopts) == given


def test_a_session_with_pytests_terminal_plugin_off_says_so(tmp_path: Path) -> None:
    # pytest-json-report needs the terminal plugin: without it the session ends in an
    # internal error, which said nothing of why
    root = workspace(tmp_path, {"tests/test_step1_a.py": PASSING})
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-p no:terminal"\n', encoding="utf-8"
    )
    result = PytestJsonRunner().run(
        root, [select("1", "tests/test_step1_a.py")], root / ".pocflow"
    )["1"]
    assert result.outcome == "failed"
    assert "pytest's terminal plugin is off (-p no:terminal)" in result.message, result.message


def test_the_json_report_of_pocflows_sessions_is_pytest_json_reports_own(tmp_path: Path) -> None:
    """pocflow's session plugin makes the entry of a stage with nothing to show itself (see
    pocflow._session.pytest_json_runtest_stage): every entry, of passing, failing, skipped,
    erroring and printing tests, is what pytest-json-report makes without it."""
    import json
    import subprocess

    workspace(
        tmp_path,
        {
            "tests/test_step1_a.py": "import pytest\n\n"
            "@pytest.fixture\ndef broken():\n    raise RuntimeError('boom')\n\n"
            "def test_ok():\n    print('out')\n\n"
            "def test_no():\n    assert 1 == 2\n\n"
            "@pytest.mark.skip(reason='later')\ndef test_skip():\n    pass\n\n"
            "@pytest.mark.xfail\ndef test_xfail():\n    assert False\n\n"
            "@pytest.mark.xfail\ndef test_xpass():\n    pass\n\n"
            "def test_error(broken):\n    pass\n",
        },
    )

    def report(*plugin: str) -> list[dict[str, Any]]:
        out = tmp_path / f"report{len(plugin)}.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                *plugin,
                "--json-report",
                f"--json-report-file={out}",
                "tests",
            ],
            cwd=tmp_path,
            capture_output=True,
            check=False,
        )
        tests = json.loads(out.read_text(encoding="utf-8"))["tests"]
        for test in tests:
            for when in ("setup", "call", "teardown"):
                test.get(when, {}).pop("duration", None)
        return tests

    own = report()
    assert len(own) == 6
    assert report("-p", "pocflow._session") == own


class _Config:
    """What _select._note_read reads of pytest's config."""

    def __init__(self, root: Path) -> None:
        self.rootpath = root
        self.stash: dict[Any, Any] = {}  # (pytest's Stash answers get alike)


def _workspace_function(root: Path, source: str, name: str) -> Any:
    """A function whose code is the workspace's (its file is under root)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, str(root / "conftest.py"), "exec"), namespace)
    return namespace[name]


def test_a_read_of_the_whole_command_line_by_workspace_code_is_noted_after_library_reads(
    tmp_path: Path,
) -> None:
    """_select keeps the frames whose callers hold no workspace code (pytest's loop reads
    the session's items from one frame, once per test): a read from workspace code after
    many from pytest's own frames is still noted, and so is one from a library generator
    that workspace code resumes after pytest's code did (a generator's callers change)."""
    from pocflow import _select

    config = _Config(tmp_path)

    def library_read() -> None:
        _select._note_read(config)

    def library_loop() -> None:
        for _ in range(3):
            library_read()  # (two frames up: the frame that reads, as in a watched list)

    library_loop()
    library_loop()
    assert not getattr(config, _select.WHOLE_COMMAND_LINE, "")
    read_from_workspace = _workspace_function(tmp_path, "def decide(read):\n    read()\n", "decide")
    read_from_workspace(library_read)
    assert getattr(config, _select.WHOLE_COMMAND_LINE).startswith("conftest.py, which read ")

    config = _Config(tmp_path)

    def library_generator() -> Iterator[None]:
        while True:
            library_read()  # the generator reads: whoever resumes it is its caller
            yield

    def resume(gen: Iterator[None]) -> None:
        next(gen)

    gen = library_generator()
    for _ in range(3):
        resume(gen)
    assert not getattr(config, _select.WHOLE_COMMAND_LINE, "")
    _workspace_function(tmp_path, "def decide(gen):\n    next(gen)\n", "decide")(gen)
    assert getattr(config, _select.WHOLE_COMMAND_LINE).startswith("conftest.py, which read ")


def test_a_test_run_several_times_under_one_id_is_what_its_worst_run_was() -> None:
    from pocflow.testing import _outcome

    def run(call: str, teardown: str = "passed") -> list[dict[str, object]]:
        return [
            {"when": "setup", "outcome": "passed"},
            {"when": "call", "outcome": call},
            {"when": "teardown", "outcome": teardown},
        ]

    assert _outcome(run("failed") + run("passed"))[0] == "failed"
    assert _outcome(run("passed") + run("failed"))[0] == "failed"
    assert _outcome(run("passed") + run("passed", teardown="failed"))[0] == "error"
    assert _outcome(run("passed") + run("passed")[:2])[0] == "not finished"  # never torn down
    assert _outcome(run("skipped") + run("passed"))[0] == "passed"
    assert _outcome(run("passed"))[0] == "passed"
    assert _outcome([])[0] == "not finished"
