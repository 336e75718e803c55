"""Scaffolding: new steps from the plan or the command line, and pocflow in a new repository.

Nothing here overwrites a file: every file is created with exclusive mode, and a step part
that exists already (a script, a test file, a manifest) is left as it is and reported.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocflow._fs import atomic_write_text
from pocflow.documents import render
from pocflow.errors import NotReadyError, PocflowError
from pocflow.layout import GATE_TASK, PHASES, STEP_TASK, refresh_task
from pocflow.manifest import manifest_schema
from pocflow.merge import GITATTRIBUTES
from pocflow.pytest_config import PYTEST_CONFIG_NAMES, holds_pytest_settings
from pocflow.settings import PYPROJECT, SETTINGS, moved_on_pyproject, toml_string
from pocflow.status import poc_line
from pocflow.steps import name_words, parse_step_filename, parse_step_id
from pocflow.workspace import Step, Workspace, load_workspace

MAX_DESCRIPTION = 40
#: the manifest schema, copied next to the manifests so editors find it
SCHEMA_FILE = "manifest.schema.json"


@dataclass
class Scaffolded:
    """What a scaffolding command created, and what it left alone (with why)."""

    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: what the person should know about what was made (a step the plan does not describe)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Scaffolded) -> None:
        """Add another result to this one."""
        self.created += other.created
        self.skipped += other.skipped
        self.warnings += other.warnings


def describe(name: str) -> str:
    """A file-name description from a step name: 'Decode coordinates' -> 'decode_coordinates'."""
    description = ""
    for word in name_words(name):
        candidate = f"{description}_{word}" if description else word
        if len(candidate) > MAX_DESCRIPTION:
            break
        description = candidate
    return description or "step"


def new_step(ws: Workspace, step_text: str, name: str = "", goal: str = "") -> Scaffolded:
    """Create the script, a failing test file and the manifest of one step."""
    step_id = parse_step_id(step_text)
    if step_id is None:
        raise PocflowError(f"'{step_text}' is not a step id (e.g. 1, 3a, 4_1)")
    plan_step = ws.plan.steps.get(step_id) if ws.plan else None
    existing = ws.steps.get(step_id)
    name = " ".join(name.split())  # one line: it heads files, tables and docstrings
    name = (
        name
        or (plan_step.name if plan_step else "")
        or (existing.name if existing and existing.has_files else "")
    )
    if not name:
        raise PocflowError(
            f"step {step_id} is not in {ws.settings.plan}; give it a name: "
            f'doit new {step_id} --name "<what the step does>"'
        )
    goal = goal or (plan_step.goal if plan_step else "")
    settings = ws.settings
    description = _description_of(existing, name)
    script = f"{settings.scripts_dir}/step{step_id}_{description}.py"
    test = f"{settings.tests_dir}/test_step{step_id}_{description}.py"
    context = {
        "step_id": step_id,
        "name": name,
        "goal": goal,
        "from_plan": plan_step is not None,
        "depends_on": list(existing.depends_on) if existing else [],
        "verification": plan_step.verification if plan_step else "",
        "script_path": existing.script if existing and existing.script else script,
        "test_path": test,
    }
    result = Scaffolded()
    parts = [
        (existing.script if existing else None, script, "scaffold/step.py.j2"),
        (
            existing.tests[0] if existing and existing.tests else None,
            test,
            "scaffold/test_step.py.j2",
        ),
        (
            existing.manifest.path if existing and existing.manifest else None,
            f"{settings.manifests_dir}/step{step_id}.yaml",
            "scaffold/manifest.yaml.j2",
        ),
    ]
    for present, path, template in parts:
        if present is not None:
            result.skipped.append(f"{present} exists; left as it is")
            continue
        text = render(ws.root, settings.templates_dir, template, context)
        if _create(ws.root / path, text):
            result.created.append(path)
        else:
            result.skipped.append(f"{path} exists; left as it is")
    if plan_step is None and result.created:
        result.warnings.append(
            f"step {step_id} is not in the plan ({settings.plan}): add its section, "
            f"'### Step {step_id}: {name}' with its **Goal**, so that the plan says what "
            "it proves"
        )
    return result


def scaffold_plan(ws: Workspace) -> Scaffolded:
    """new_step for every step of the plan that has neither a script nor a test file yet.
    A step that has files is left as it is, manifest included: a new manifest would be a new
    input, and make a verified step stale."""
    if ws.plan is None:
        raise PocflowError(
            f"there is no plan at {ws.settings.plan}; write it first (or set tool.pocflow.plan)"
        )
    result = Scaffolded()
    for step_id in ws.plan.steps:
        existing = ws.steps.get(str(step_id))
        if existing is not None and existing.has_files:
            result.skipped.append(f"step {step_id} has its files; left as it is")
            continue
        result.extend(new_step(ws, step_id))
    return result


def _description_of(existing: Step | None, name: str) -> str:
    """The description in the step's existing file names, else one made from its name."""
    if existing is not None:
        for path in (existing.script, *existing.tests):
            if path:
                prefix = "test_step" if Path(path).name.startswith("test_") else "step"
                parsed = parse_step_filename(Path(path).name, prefix=prefix)
                if parsed and parsed.description:
                    return parsed.description
    return describe(name)


def _create(path: Path, text: str) -> bool:
    """Write a new file; False (and nothing written) when it exists. A file where its
    folder must be, a folder where it must be: one line naming it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        if path.parent.is_dir() and not path.is_dir():
            return False
        raise PocflowError(_in_place(path)) from None
    except (IsADirectoryError, NotADirectoryError):
        raise PocflowError(_in_place(path)) from None
    return True


def _in_place(path: Path) -> str:
    """The one line for a file that cannot be written: a folder where it must be, or a file
    where one of its folders must be."""
    shown = os.path.relpath(path) if path.is_absolute() else str(path)
    return (
        f"{shown}: cannot be written: a folder is where the file goes, or a file where its "
        "folder goes; move it away, then run the same command again"
    )


DODO = '''"""doit entry point of this workspace: pocflow turns every PoC step into a task graph."""

from pocflow import doit_config, generate_tasks

DOIT_CONFIG = doit_config(__file__)


def task_pocflow():  # type: ignore[no-untyped-def]
    """pocflow's tasks: step:<id>, its phases, and poc-complete."""
    yield from generate_tasks(__file__)
'''


def is_scaffolded_dodo(namespace: dict[str, Any]) -> bool:
    """Whether a loaded dodo module is the dodo pocflow writes (DODO) as it ran: its names,
    what they are, and its task creator's code (docstrings aside) — what the module holds,
    not its source file, which a stale bytecode file or a dodo rewriting itself as it is
    imported would belie. Then every task doit loads from it is as ``generate_tasks`` made
    it."""
    import pocflow

    names = {name for name in namespace if not (name.startswith("__") and name.endswith("__"))}
    if names != _SCAFFOLDED_NAMES:
        return False
    creator, config = namespace["task_pocflow"], namespace["DOIT_CONFIG"]
    if (
        namespace["doit_config"] is not pocflow.doit_config
        or namespace["generate_tasks"] is not pocflow.generate_tasks
        or type(creator) is not types.FunctionType
        or (creator.__defaults__, creator.__kwdefaults__, creator.__closure__) != (None,) * 3
        or _code_shape(creator.__code__) not in _SCAFFOLDED_CODE
        or creator.__globals__.get("generate_tasks") is not pocflow.generate_tasks
        or type(config) is not dict
    ):
        return False
    path = creator.__globals__.get("__file__")
    return type(path) is str and config == pocflow.doit_config(path)


def _code_shape(code: types.CodeType) -> tuple[Any, ...]:
    """What a function's code does: its bytecode and the names and constants it uses, its
    docstring left out."""
    consts = code.co_consts
    if consts and isinstance(consts[0], str):
        consts = consts[1:]
    return (code.co_code, code.co_names, code.co_varnames, consts, code.co_flags)


def _creator_shapes() -> set[tuple[Any, ...]]:
    """The shapes of DODO's task creator, with its docstring and without (the bytecode
    differs: a docstring is the function's first constant)."""
    docstring = '    """pocflow\'s tasks: step:<id>, its phases, and poc-complete."""\n'
    shapes = set()
    for text in (DODO, DODO.replace(docstring, "")):
        module = compile(text, "dodo.py", "exec", dont_inherit=True)
        shapes.add(_code_shape(next(c for c in module.co_consts if isinstance(c, types.CodeType))))
    return shapes


_SCAFFOLDED_NAMES = {"doit_config", "generate_tasks", "DOIT_CONFIG", "task_pocflow"}
_SCAFFOLDED_CODE = _creator_shapes()


@dataclass(frozen=True)
class InitOptions:
    """The settings `pocflow init` writes into [tool.pocflow]."""

    poc: int = 1
    name: str = ""
    scripts_dir: str = "PoC"
    tests_dir: str = "tests"
    docs_dir: str = "docs"


def init_workspace(root: Path, options: InitOptions) -> Scaffolded:
    """Make root a pocflow workspace: dodo.py, [tool.pocflow], the step folders.

    Creates what is missing and touches nothing that exists, except that it appends a
    [tool.pocflow] table to a pyproject.toml that has none (every byte before it stays).
    """
    result = Scaffolded()
    problem = _in_the_way(root, options)
    if problem:  # refused before anything is written
        raise PocflowError(problem)
    if (root / "pyproject.toml").is_file():  # refused before anything is written
        try:
            _parsed("pyproject.toml", (root / "pyproject.toml").read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise PocflowError(
                f"pyproject.toml: not UTF-8 text (byte {exc.start}); save it as UTF-8, then "
                "run pocflow init again"
            ) from None
    dodo = root / "dodo.py"
    if _create(dodo, DODO):
        result.created.append("dodo.py")
    elif "pocflow" in dodo.read_text(encoding="utf-8", errors="replace"):
        result.skipped.append("dodo.py exists and uses pocflow; left as it is")
    else:
        result.skipped.append(
            "dodo.py exists and does not use pocflow; left as it is. Add:\n"
            + "\n".join("    " + line for line in DODO.splitlines()[2:])
        )
    result.extend(_settings(root, options))
    for folder in _init_folders(options):
        if not (root / folder).exists():
            (root / folder).mkdir(parents=True)
            result.created.append(f"{folder}/")
    plan = _plan_path(options)
    name = " ".join(options.name.split())  # (one line: it is the plan's title)
    context = {"poc": options.poc, "name": name, "docs_dir": options.docs_dir}
    text = render(root, SETTINGS["templates_dir"][1], "scaffold/plan.md.j2", context)
    if _create(root / plan, text):
        result.created.append(f"{plan} (a plan in the method's shape: fill it in)")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if _create(root / ".python-version", version + "\n"):  # uv and CI read it: records hold
        result.created.append(f".python-version ({version})")  # for one Python version
    schema = json.dumps(manifest_schema(), indent=2, ensure_ascii=False) + "\n"
    if _create(root / "steps" / SCHEMA_FILE, schema):
        result.created.append(f"steps/{SCHEMA_FILE}")
    ignore = root / ".gitignore"
    if _create(
        ignore,
        "# pocflow's local state: doit's database, logs, pytest reports\n"
        ".pocflow/\n# secrets the steps read (pocflow masks their values)\n.env\n",
    ):
        result.created.append(".gitignore")
    else:
        present = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
        missing = [line for line in (".pocflow/", ".env") if line not in present]
        if missing:
            result.skipped.append(
                ".gitignore exists; add "
                + " and ".join(f"the line `{line}`" for line in missing)
                + " to it (pocflow's local state "
                "and secrets)"
            )
    attributes = "\n".join(
        line.format(
            records_dir="steps/records", state_file="PROJECT_STATE.md", docs_dir=options.docs_dir
        )
        for line in GITATTRIBUTES
    )
    if _create(
        root / ".gitattributes",
        "# merge driver for pocflow's records and generated "
        f"documents (docs/ci.md)\n{attributes}\n",
    ):
        result.created.append(".gitattributes")
    elif "merge=pocflow" not in (root / ".gitattributes").read_text(
        encoding="utf-8", errors="replace"
    ):
        result.skipped.append(
            ".gitattributes exists; add these lines to it for clean merges "
            "of records and generated documents:\n" + attributes
        )
    return result


#: the files pocflow init writes (where none is)
_INIT_FILES = (
    "dodo.py",
    "pyproject.toml",
    ".python-version",
    f"steps/{SCHEMA_FILE}",
    ".gitignore",
    ".gitattributes",
)


def _plan_path(options: InitOptions) -> str:
    """Where pocflow init writes the PoC's plan (where none is)."""
    return f"{options.docs_dir}/poc{options.poc}-implementation.md"


def _init_folders(options: InitOptions) -> tuple[str, ...]:
    """The folders pocflow init makes (where none is)."""
    return (options.scripts_dir, options.tests_dir, options.docs_dir, "steps")


_MOVE_IT = "move it away, then run pocflow init again"


def _in_the_way(root: Path, options: InitOptions) -> str:
    """Why init cannot make root a workspace as it is: root, or a file it writes, is a
    folder where it must be a file, or the reverse ('' when nothing is in the way)."""
    if root.exists() and not root.is_dir():
        return f"{root}: a file, not a folder; give --root the repository's folder"
    for name in (*_INIT_FILES, _plan_path(options)):
        if (root / name).is_dir():
            return f"{name}: a folder, where pocflow init writes a file; {_MOVE_IT}"
    for name in _init_folders(options):
        path = root / name
        if path.exists() and not path.is_dir():
            return f"{name}: a file, where pocflow init makes a folder; {_MOVE_IT}"
    return ""


def _settings(root: Path, options: InitOptions) -> Scaffolded:
    result = Scaffolded()
    lines = ["[tool.pocflow]", f"poc = {options.poc}"]
    if options.name:
        lines.append(f"name = {toml_string(options.name)}")
    for key in ("scripts_dir", "tests_dir", "docs_dir"):
        value = getattr(options, key)
        if value != getattr(InitOptions, key):
            lines.append(f"{key} = {toml_string(value)}")
    table = "\n".join(lines) + "\n"
    pyproject = root / "pyproject.toml"
    elsewhere = _pytest_configured_elsewhere(root)
    pytest_table = (
        f"[tool.pytest.ini_options]\npythonpath = [{toml_string(options.scripts_dir)}]\n\n"
        if elsewhere is None
        else ""  # (pytest would ignore it: the other file wins)
    )
    # pocflow's table last: a setting typed at the end of the file is pocflow's
    if _create(pyproject, pytest_table + table):
        result.created.append("pyproject.toml")
        if elsewhere is not None:
            result.skipped.append(_configured_in(elsewhere, options.scripts_dir))
        return result
    text = pyproject.read_bytes().decode("utf-8")  # (its line ends as they are)
    if re.search(r"^\[tool\.pocflow\]", text, re.M):
        result.skipped.append("pyproject.toml has [tool.pocflow] already; left as it is")
        return result
    _parsed("pyproject.toml", text)  # a file TOML tools cannot read is left as it is
    newline = "\r\n" if "\r\n" in text else "\n"
    new = _with_table(text, table, newline)
    if _parsed("pyproject.toml", new, quiet=True).get("tool", {}).get("pocflow") is None:
        result.skipped.append(  # (an inline `tool = {...}` table: one more would break it)
            "pyproject.toml defines its [tool] tables in a way another cannot be added to; "
            "add this by hand:\n" + "\n".join("    " + line for line in table.splitlines())
        )
        return result
    # pytest's table first, pocflow's last: a setting typed at the end is pocflow's
    pytest_part = _pytest_pythonpath(root, options.scripts_dir)
    text = pyproject.read_bytes().decode("utf-8")  # (with pytest's table, if it added one)
    atomic_write_text(pyproject, _with_table(text, table, newline))
    result.created.append("pyproject.toml: [tool.pocflow]")
    result.extend(pytest_part)
    return result


def _with_table(text: str, table: str, newline: str) -> str:
    """The file's text with table appended after one blank line, in its line ends."""
    separator = "" if text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    return text + (separator + table).replace("\n", newline)


def _parsed(name: str, text: str, quiet: bool = False) -> dict[str, Any]:
    """The TOML document text (a byte-order mark ignored); one that does not parse is
    refused in one line naming the file and line (or, ``quiet``, read as empty)."""
    import tomllib

    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        if quiet:
            return {}
        where = re.search(r"\(at line (\d+)", str(exc))
        line = f":{where.group(1)}" if where else ""
        reason = str(exc).split(" (at line")[0]
        raise PocflowError(
            f"{name}{line}: not valid TOML ({reason}); fix it, then run pocflow init again"
        ) from None


def _pytest_configured_elsewhere(root: Path) -> str | None:
    """The file other than pyproject.toml pytest takes its settings from, if any (pytest.toml
    and pytest.ini win over pyproject.toml's; a table init added to pyproject.toml would
    win over tox.ini's and setup.cfg's)."""
    for name in PYTEST_CONFIG_NAMES:
        other = root / name
        if name != "pyproject.toml" and other.is_file() and holds_pytest_settings(other):
            return name
    return None


def _configured_in(name: str, scripts_dir: str) -> str:
    """What to add by hand to the file pytest takes its settings from (in its syntax)."""
    value = f"[{toml_string(scripts_dir)}]" if name.endswith(".toml") else scripts_dir
    return (
        f"pytest is configured in {name}: add `pythonpath = {value}` to pytest's "
        "settings there, so that plain pytest can import the step scripts"
    )


def _pytest_pythonpath(root: Path, scripts_dir: str) -> Scaffolded:
    """Let plain pytest import the step scripts (tests do ``from step1_load import ...``):
    add the scripts folder to pytest's ``pythonpath`` in the pyproject.toml that pocflow
    just extended — into its pytest table, or as a new one — unless pytest is configured
    elsewhere or already has a pythonpath, where it says what to add by hand."""
    import tomllib

    result = Scaffolded()
    pyproject = root / "pyproject.toml"
    text = pyproject.read_bytes().decode("utf-8")  # (its line ends as they are)
    wanted = f"pythonpath = [{toml_string(scripts_dir)}]"
    by_hand = (
        f"add {wanted} to pytest's settings there, so that plain pytest can import the step scripts"
    )
    elsewhere = _pytest_configured_elsewhere(root)
    if elsewhere is not None:
        result.skipped.append(_configured_in(elsewhere, scripts_dir))
        return result
    tool = _parsed("pyproject.toml", text).get("tool", {})
    pytest_tables = tool.get("pytest", {}) if isinstance(tool, dict) else {}
    options = pytest_tables.get("ini_options") if isinstance(pytest_tables, dict) else None
    if isinstance(pytest_tables, dict) and set(pytest_tables) - {"ini_options"}:
        result.skipped.append(f"pyproject.toml has a [tool.pytest] table: {by_hand}")
        return result
    if isinstance(options, dict) and "pythonpath" in options:
        paths = options["pythonpath"]
        paths = paths.split() if isinstance(paths, str) else list(paths)
        if scripts_dir not in paths:
            result.skipped.append(
                f"pyproject.toml: pytest's pythonpath lacks "
                f"{toml_string(scripts_dir)}; add it, so that plain pytest "
                "can import the step scripts"
            )
        return result
    newline = "\r\n" if "\r\n" in text else "\n"
    header = re.search(r"^\[tool\.pytest\.ini_options\][ \t]*(#[^\r\n]*)?\r?$", text, re.M)
    if header is not None:  # the table's first key, right under its header
        at = header.end() + (1 if text[header.end() : header.end() + 1] == "\n" else 0)
        new = text[:at] + ("" if at > header.end() else newline) + wanted + newline + text[at:]
    else:
        new = (
            text
            + ("" if text.endswith("\n") else newline)
            + f"{newline}[tool.pytest.ini_options]{newline}{wanted}{newline}"
        )
    tomllib.loads(new.removeprefix("\ufeff"))  # still valid TOML (or a bug of pocflow's)
    atomic_write_text(pyproject, new)
    result.created.append(f"pyproject.toml: pytest's pythonpath = [{toml_string(scripts_dir)}]")
    return result


@dataclass
class MovedOn:
    """What `doit next-poc` did: the PoC it left and the one it moved to, the tasks whose
    names now mean the new PoC's, and the new PoC's files."""

    left: int
    following: int
    renamed: list[str] = field(default_factory=list)
    scaffolded: Scaffolded = field(default_factory=Scaffolded)


def move_on(ws: Workspace) -> MovedOn:
    """Move the project on from its current PoC (complete: every step verified, its gate
    passed on exactly their records, its pocN-results.md written) to the next one, whose
    plan is written (the method's Stage 4b): pyproject.toml says ``poc = <next>`` and keeps
    the finished PoC's own name, slug and plan in its table; the finished PoC's files,
    records and documents stay where they are, verifiable as ``poc<N>.…`` tasks; the next
    PoC's steps are scaffolded from its plan in their own ``poc<next>`` folders.
    PocflowError, with nothing written, when the project cannot move on yet."""
    current = ws.settings.poc
    line = poc_line(ws)
    if not line["complete"]:
        raise NotReadyError(
            f"PoC {current} is not complete ({line['verified']} of {line['total']} steps "
            f"verified, the gate passed on them and {ws.poc_results_doc} written): run "
            "`uv run doit poc-complete` until it passes, then move on"
        )
    following = current + 1
    plan = f"{ws.settings.docs_dir}/poc{following}-implementation.md"
    if not (ws.root / plan).is_file():
        raise NotReadyError(
            f"there is no plan for PoC {following} at {plan}: write it first (the method's "
            "Stage 4b), then run `uv run doit next-poc` again"
        )
    pyproject = ws.root / PYPROJECT
    text = pyproject.read_text(encoding="utf-8")
    atomic_write_text(pyproject, moved_on_pyproject(text, current, following, ws.settings.plan))
    try:  # the next PoC's plan and settings as the project will read them from now on
        following_ws = load_workspace(ws.root)
    except PocflowError:
        atomic_write_text(pyproject, text)  # put back: nothing written
        raise
    moved = MovedOn(left=current, following=following)
    moved.renamed = [
        *(ws.task(phase, sid) for sid in ws.steps for phase in (*PHASES, STEP_TASK)),
        *(refresh_task(ws.poc, sid) for sid in ws.steps),
        ws.task(GATE_TASK),
    ]
    moved.scaffolded = scaffold_plan(following_ws)
    return moved
