"""What a process read, attributed to the steps that stand on it (pocflow.observed)."""

from __future__ import annotations

import json
from pathlib import Path

from test_implement import script, spec

from pocflow.implement import run_implement
from pocflow.observed import Facts, attribute, read_facts


def facts_of(tmp_path: Path, *facts: dict[str, object]) -> Facts:
    path = tmp_path / "session.facts.jsonl"
    path.write_text("".join(json.dumps(fact) + "\n" for fact in facts), encoding="utf-8")
    return read_facts(path, pytest_session=True)


def test_a_file_a_library_read_for_one_steps_tests_belongs_to_every_step_of_the_session(
    tmp_path: Path,
) -> None:
    one, two, three = "tests/test_step1_a.py", "tests/test_step2_b.py", "tests/test_step3_c.py"
    facts = facts_of(
        tmp_path,
        # step 1's test had linecache read the file: any later test may get its lines from
        # linecache's cache, through any code that calls it (warnings.formatwarning, say)
        {"r": "data/cfg.txt", "c": f"f:{one}", "by": one, "lib": ["linecache"]},
        # read by the test itself, or through pathlib, which keeps nothing: its reader's alone
        {"r": "data/own.txt", "c": f"f:{three}", "by": three},
        # a workspace module's source read by inspect (a traceback, a hypothesis example):
        # the steps that use the module import it
        {"r": one, "c": f"f:{one}", "by": one, "lib": ["hypothesis", "inspect", "linecache"]},
    )
    read = attribute(facts, {"1": [one], "2": [two], "3": [three]})
    assert all("data/cfg.txt" in read[step] for step in "123")
    assert "data/own.txt" in read["3"]
    assert "data/own.txt" not in read["1"] | read["2"]
    assert one not in read["2"] | read["3"]


def test_the_observer_names_the_library_between_workspace_code_and_a_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    for name in ("cached.txt", "plain.txt", "direct.txt"):
        (tmp_path / "data" / name).write_text("x\n", encoding="utf-8")
    main = script(
        tmp_path,
        "step1_a.py",
        "import linecache\nfrom pathlib import Path\n\n"
        "linecache.getline('data/cached.txt', 1)\n"
        "Path('data/plain.txt').read_text()\n"
        "open('data/direct.txt').read()\n",
    )
    assert run_implement(spec(tmp_path, (main,))).outcome == "passed"
    path = tmp_path / ".pocflow/runs/step1/step1_a.facts.jsonl"
    facts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    libraries = {f["r"]: f.get("lib") for f in facts if str(f.get("r", "")).startswith("data/")}
    assert libraries == {  # pathlib and open keep nothing
        "data/cached.txt": ["linecache"],
        "data/plain.txt": None,
        "data/direct.txt": None,
    }


def test_what_a_plugin_read_with_no_workspace_code_running_is_every_steps(
    tmp_path: Path,
) -> None:
    one, two = "tests/test_step1_a.py", "tests/test_step2_b.py"
    facts = facts_of(
        tmp_path,
        # a plugin's session fixture (or hook) pytest ran while step 1's file was at work
        {"r": "data/v.txt", "c": f"f:{one}", "lib": ["settingsplugin"]},
        {"e": "APP_MODE", "c": f"f:{one}", "v": "digest", "lib": ["settingsplugin"]},
        # a workspace module's read as it is imported: its importers' (and not others')
        {"e": "LEVEL", "c": f"f:{one}", "v": "digest", "by": "tests/appcfg.py"},
        {"r": "tests/appcfg.py", "c": f"f:{two}", "by": two},
    )
    read = attribute(facts, {"1": [one], "2": [two], "3": ["tests/test_step3_c.py"]})
    assert {"data/v.txt", "$APP_MODE"} <= read["2"] & read["3"]
    assert "$LEVEL" in read["2"]
    assert "$LEVEL" not in read["3"]
