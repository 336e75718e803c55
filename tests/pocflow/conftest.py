"""Fixtures of pocflow's own tests: real workspaces in temporary folders, real doit runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import copy_sample, run_doit


@pytest.fixture(scope="session")
def verified_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample workspace after one full, successful `doit poc-complete` (do not modify)."""
    workspace = copy_sample(tmp_path_factory.mktemp("verified") / "ws")
    result = run_doit(workspace, "poc-complete")
    assert result.code == 0, result.out + result.err
    return workspace


@pytest.fixture
def sample(verified_sample: Path, tmp_path: Path) -> Path:
    """A private copy of the verified sample workspace, state folder and mtimes included."""
    target = tmp_path / "ws"
    shutil.copytree(verified_sample, target, symlinks=True)
    return target
