"""Fixtures of pocflow's own tests: real workspaces in temporary folders, real doit runs.

Lanes: ``uv run pytest -m "not e2e"`` runs the unit tests in seconds; the whole suite adds
the end-to-end tests (marked ``e2e``), which run doit on real workspaces. A test that is not
marked e2e and still starts doit, or copies the sample workspace, fails and says so: the
fast lane cannot slow down unnoticed. The repeats of stress tests (marked ``stress``: the
same race run again) are left out unless asked for with ``-m stress``. In the fast lane the property
tests draw a sixth of their examples (``support.examples``); the whole suite draws them all.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import support
from doit.doit_cmd import DoitMain
from support import copy_sample, private_copy, run_doit


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The suite runs on every core unless told otherwise (`-n 0`, `-n 1`, `-p no:xdist`):
    most of its time is real doit runs, each a chain of processes waiting on each other.

    This conftest is one pytest loads before it parses the run's options (the folder is named
    in ``testpaths``), so the default reaches pytest-xdist before it decides. Not in
    ``addopts``: the repository's pytest settings are also the sample PoC's, and its sessions
    must not be spread over workers. Not in a worker, which runs its share itself.

    The workers steal each other's queued tests (``--dist worksteal``) unless told how to
    share them: a worker left with one long test no longer holds others back while the
    other waits (the whole suite 296 s against 320 s with ``--dist load``)."""
    if (
        config.pluginmanager.hasplugin("xdist")
        and not hasattr(config, "workerinput")
        and config.getoption("numprocesses", None) is None
        and not config.getoption("collectonly")
    ):
        config.option.numprocesses = "auto"
        if config.getoption("dist", "no") == "no":
            config.option.dist = "worksteal"


def pytest_configure(config: pytest.Config) -> None:
    support.FAST_LANE = "not e2e" in (config.getoption("markexpr") or "")
    config.addinivalue_line(
        "markers", "e2e: runs doit (or the sample workspace) for real; left out by -m 'not e2e'"
    )
    config.addinivalue_line(
        "markers", "stress: repeats a run to shake out races; part of the full suite, -m stress"
    )


#: test files whose tests take tens of seconds each (a real library's suite, the bench, an
#: install, the docs' commands): they start first, not last, where one would run alone
LONGEST = {"test_realworld.py", "test_bench.py", "test_install.py", "test_docs_commands.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The repeats of a stress test run only when asked for (`-m stress`): the suite runs
    each stress test once. The longest tests go first and the unit tests last (in their
    order otherwise): the workers then end together, the short tests filling the gaps."""
    if "stress" not in (config.getoption("markexpr") or ""):
        repeats = [item for item in items if item.get_closest_marker("stress")]
        if repeats:
            config.hook.pytest_deselected(items=repeats)
            items[:] = [item for item in items if not item.get_closest_marker("stress")]
    items.sort(key=_expected_length)


def _expected_length(item: pytest.Item) -> int:
    if item.path.name in LONGEST:
        return 0
    return 1 if item.get_closest_marker("e2e") else 2


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test is made: may it run doit?"""
    support.END_TO_END = item.get_closest_marker("e2e") is not None


@pytest.fixture(autouse=True)
def _doit_only_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """However a test starts doit — support's helpers, its own subprocess, doit's Python
    API — it must be marked e2e."""
    if support.END_TO_END:
        return
    start = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
        words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        names = [os.path.basename(os.fsdecode(word)) for word in words]
        if "doit" in names or "faulty_doit.py" in names or "doit" in str(args).split():
            support.end_to_end()
        start(self, args, *rest, **options)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)
    monkeypatch.setattr(DoitMain, "run", lambda *args, **kwargs: support.end_to_end())


@pytest.fixture(scope="session")
def verified_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample workspace after one full, successful `doit poc-complete` (do not modify)."""
    workspace = copy_sample(tmp_path_factory.mktemp("verified") / "ws")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    return workspace


@pytest.fixture(scope="session")
def verified_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole sample, both PoCs, after a successful `doit all-pocs-complete` (do not
    modify)."""
    workspace = copy_sample(tmp_path_factory.mktemp("project") / "ws", pocs=2)
    result = run_doit(workspace, "all-pocs-complete")
    assert result.code == 0, result.out + result.err
    return workspace


@pytest.fixture
def project(verified_project: Path, tmp_path: Path) -> Path:
    """A private copy of the verified two-PoC sample, state folder and mtimes included."""
    return private_copy(verified_project, tmp_path / "project")


@pytest.fixture
def sample(verified_sample: Path, tmp_path: Path) -> Path:
    """A private copy of the verified sample workspace, state folder and mtimes included."""
    return private_copy(verified_sample, tmp_path / "ws")
