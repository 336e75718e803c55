"""The suite's lanes: the fast one (-m "not e2e") cannot take an end-to-end test in."""

from __future__ import annotations

from pathlib import Path

import pytest
import support


def test_an_unmarked_test_that_runs_doit_fails_and_says_to_mark_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(support, "END_TO_END", False)
    for start in (
        lambda: support.run_doit(tmp_path, "list"),
        lambda: support.copy_sample(tmp_path / "ws"),
    ):
        with pytest.raises(pytest.fail.Exception, match=r"mark it @pytest.mark.e2e"):
            start()
    assert not (tmp_path / "ws").exists()


def test_an_unmarked_test_that_starts_doit_itself_fails_and_says_to_mark_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    from doit.doit_cmd import DoitMain

    for start in (
        lambda: subprocess.run([sys.executable, "-m", "doit", "list"], cwd=tmp_path, check=False),
        lambda: subprocess.run("doit list", shell=True, cwd=tmp_path, check=False),
        lambda: DoitMain().run(["list"]),
    ):
        with pytest.raises(pytest.fail.Exception, match=r"mark it @pytest.mark.e2e"):
            start()
    done = subprocess.run([sys.executable, "-c", "print('not doit')"], capture_output=True)
    assert done.stdout.strip() == b"not doit"  # other processes start as ever


@pytest.mark.e2e
def test_a_test_marked_e2e_may_run_doit() -> None:
    assert support.END_TO_END
