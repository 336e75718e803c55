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


@pytest.mark.e2e
def test_a_test_marked_e2e_may_run_doit() -> None:
    assert support.END_TO_END
