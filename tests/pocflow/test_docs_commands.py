"""The commands the README and the tutorial show, run as written, read from the documents.

The commands of each document's console and shell blocks are read from it and run in order
on a copy of the verified sample — what a reader has in front of them. `uv run X` runs X
with this interpreter (the suite itself runs under `uv run`). No command may be refused
(doit's exit 3: an option or argument it does not take) or end in a traceback; the ones the
document presents as passing must exit 0. docs/install.md's commands are run by
test_install.py (they need an empty folder or a library, not the sample).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, doit_env

pytestmark = pytest.mark.e2e

#: commands the tutorial shows for your own repository, not for the sample (test_install.py
#: and test_scaffold.py run those in fresh folders; test_pocs.py runs `doit next-poc`: the
#: sample has moved on to its last PoC already)
ELSEWHERE = ("pocflow init", "$EDITOR", "doit scaffold ", "doit step:1 ", "doit next-poc")
#: a traceback through pocflow or doit (a step script's own, quoted in a failure, is fine)
OWN_TRACEBACK = re.compile(r'File "[^"]*(?:/pocflow/|/doit/)[^"]*", line')


def shown_commands(document: str) -> list[str]:
    """The commands of a document's console (`$ ...`) and shell blocks, in order."""
    text = (REPO / document).read_text(encoding="utf-8")
    commands = []
    for kind, body in re.findall(r"```(console|bash|sh)\n(.*?)```", text, re.S):
        for line in body.splitlines():
            if kind == "console" and line.startswith("$ "):
                commands.append(line[2:])
            elif kind != "console" and line.strip() and not line.startswith("#"):
                commands.append(line)
    return [c for c in commands if not any(part in c for part in ELSEWHERE)]


def run_shown(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command, comments=True)
    if words[:2] == ["uv", "run"]:
        words = words[2:]
        words = (
            [sys.executable, "-m", *words]
            if words[0] in ("doit", "pytest")
            else [str(Path(sys.executable).parent / words[0]), *words[1:]]
        )
    elif words[0] == "python":
        words = [sys.executable, *words[1:]]
    elif words[0] == "echo":  # a shell line: `echo "# tweak" >> PoC/...`
        words = ["bash", "-c", command]
    return subprocess.run(
        words, cwd=cwd, env=doit_env(), capture_output=True, text=True, check=False, timeout=600
    )


def test_the_documents_show_commands() -> None:
    assert (
        "uv run doit poc-complete    # verify the bundled sample PoC end to end"
        in shown_commands("README.md")
    )  # the quick start is read as written
    assert len(shown_commands("README.md")) >= 12 and len(shown_commands("docs/tutorial.md")) >= 6


def test_every_command_of_the_readme_runs_as_shown(project: Path) -> None:
    new_step = False  # from `doit new` on, the tour has a step whose test fails until written
    ran = []
    for command in shown_commands("README.md"):
        done = run_shown(command, project)
        output = done.stdout + done.stderr
        assert not OWN_TRACEBACK.search(output), f"{command}\n{output}"
        assert done.returncode in (0, 1), f"{command} exited {done.returncode}\n{output}"
        new_step = new_step or "doit new" in command
        assert done.returncode == 0 or new_step, f"{command}\n{output}"
        ran.append(command.split("#")[0].strip())
    assert ran[-1] == "uv run doit forget poc1.step:3b"  # the whole tour ran


@pytest.mark.parametrize("document", ["docs/tutorial.md"])
def test_every_command_of_the_tutorial_runs_as_shown(project: Path, document: str) -> None:
    for command in shown_commands(document):
        done = run_shown(command, project)
        assert done.returncode == 0 and not OWN_TRACEBACK.search(done.stderr), (
            f"{command} exited {done.returncode}\n{done.stdout}{done.stderr}"
        )


def reference_commands() -> list[str]:
    """The command column of the reference's tables of pocflow's own commands."""
    text = (REPO / "docs/reference.md").read_text(encoding="utf-8")
    return re.findall(
        r"^\| `((?:doit (?:drift|status|pytest|small-win-check|new|scaffold|next-poc)|"
        r"pocflow \S+)[^`]*)` \|",
        text,
        re.M,
    )


def test_every_command_the_reference_lists_exists_with_the_options_it_shows(sample: Path) -> None:
    commands = reference_commands()
    assert len(commands) == 11, commands  # seven doit commands, four pocflow ones
    for shown in commands:
        tool, name = shown.split()[:2]
        argv = (
            [sys.executable, "-m", "doit", "help", name]
            if tool == "doit"
            else [str(Path(sys.executable).parent / "pocflow"), name, "--help"]
        )
        done = subprocess.run(
            argv, cwd=sample, capture_output=True, text=True, check=False, timeout=120
        )
        assert done.returncode == 0, f"{shown}: {done.stdout}{done.stderr}"
        for option in re.findall(r"--[a-z][a-z-]+", shown):
            assert option in done.stdout, f"{shown}: {option} is not among its options"


def test_every_run_option_the_reference_lists_is_an_option_of_doit_run(sample: Path) -> None:
    text = (REPO / "docs/reference.md").read_text(encoding="utf-8")
    options = re.findall(r"^\| `(--[a-z][a-z-]+)", text, re.M)
    assert {"--reverify", "--dry-run", "--detailed-exit-code", "--shard"} <= set(options)
    done = subprocess.run(
        [sys.executable, "-m", "doit", "help", "run"],
        cwd=sample,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    for option in options:
        assert option in done.stdout, f"{option} is not an option of doit run"
