"""Workspace settings: the [tool.pocflow] table of pyproject.toml, with defaults."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pocflow._fs import leaves, stamp
from pocflow.errors import SettingsError, did_you_mean, located, shown
from pocflow.layout import poc_number

PYPROJECT = "pyproject.toml"

#: setting name -> (type, default, one-line meaning); the reference docs list the same.
SETTINGS: dict[str, tuple[type, Any, str]] = {
    "poc": (int, 1, "the PoC number N: plan docs/pocN-implementation.md, docs/pocN-results.md"),
    "name": (str, "", "the PoC's name; default: from the plan's title"),
    "slug": (str, "", "prefix of results docs, docs/<slug>-stepN-results.md; default: from name"),
    "plan": (str, "", "the implementation plan; default: docs/poc<N>-implementation.md"),
    "scripts_dir": (str, "PoC", "where step scripts live"),
    "tests_dir": (str, "tests", "where step tests live"),
    "docs_dir": (str, "docs", "where results docs are written"),
    "manifests_dir": (str, "steps", "where optional step manifests (YAML) live"),
    "records_dir": (str, "steps/records", "where verification records are written (commit them)"),
    "state_dir": (str, ".pocflow", "local state: doit's database, logs, reports (gitignore it)"),
    "state_file": (str, "PROJECT_STATE.md", "the living state document"),
    "templates_dir": (str, "assets/templates", "templates here override the packaged ones"),
    "timeout": (float, 600.0, "seconds a step script may run before it is stopped"),
    "test_runner": (str, "auto", "how each pytest session starts: fork, subprocess or auto"),
    "test_batch": (bool, True, "run the tests of every ready step in one pytest session"),
    "suite_session": (
        bool,
        False,
        "poc-complete also runs every step's tests together in one pytest session when no "
        "session of the run held them all (tests that fail beside others, a step whose "
        "script changes what another step's tests read); the shipped CI workflows turn it "
        "on; POCFLOW_SUITE_SESSION=0 or 1 decides for one run",
    ),
    "lock_file": (
        str,
        "uv.lock",
        "the locked dependency set: its content is part of the "
        "environment a record holds in ('' for none)",
    ),
    "undocumented": (
        str,
        "fail",
        "a results doc whose Summary or Bug Fixes section still "
        "holds only the template's text: 'fail' the gate, or 'warn'",
    ),
}
TEST_RUNNERS = ("auto", "fork", "subprocess")
#: what one PoC of several may set in a table of its own, ``[tool.pocflow.poc<N>]``
POC_SETTINGS = ("name", "slug", "plan")
#: the folders where a PoC after the project's first keeps its files, in a subfolder
#: ``poc<N>`` (PoC 2's scripts in PoC/poc2/, its tests in tests/poc2/, ...): its step 1 is
#: never taken for the first PoC's
POC_FOLDERS = ("scripts_dir", "tests_dir", "manifests_dir", "records_dir")
UNDOCUMENTED = ("fail", "warn")


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one workspace; every path is relative to its root."""

    root: Path
    poc: int
    name: str
    slug: str
    plan: str
    scripts_dir: str
    tests_dir: str
    docs_dir: str
    manifests_dir: str
    records_dir: str
    state_dir: str
    state_file: str
    templates_dir: str
    timeout: float
    test_runner: str
    test_batch: bool
    suite_session: bool
    lock_file: str
    undocumented: str
    pytest_config: dict[str, Any]
    #: every PoC of the project, in order: the earlier ones (their plan is there) and the
    #: current one (``poc``)
    pocs: tuple[int, ...] = ()
    #: the project's current PoC (what ``step:<id>`` and ``poc-complete`` address)
    current_poc: int = 0

    @property
    def is_current(self) -> bool:
        """Whether these are the settings of the project's current PoC."""
        return self.poc == self.current_poc

    @property
    def later_folders(self) -> frozenset[str]:
        """The subfolders (``poc<N>``) that hold the later PoCs' files, inside the first
        PoC's folders: never part of the first PoC."""
        if not self.pocs or self.poc != self.pocs[0]:
            return frozenset()
        return frozenset(f"poc{number}" for number in self.pocs[1:])

    @property
    def own_folder(self) -> str:
        """'' for the project's first PoC; ``poc<N>`` for a later one, the subfolder of its
        scripts, tests, manifests, records and local run files."""
        return "" if not self.pocs or self.poc == self.pocs[0] else f"poc{self.poc}"


#: what a flag in the environment reads as true, and as false
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """Whether the environment variable is set to a true value (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


#: decides ``suite_session`` for one run: 1 (the shipped CI workflows set it) or 0
SUITE_SESSION_ENV = "POCFLOW_SUITE_SESSION"


def suite_session_wanted(settings: Settings) -> bool:
    """Whether the gate stands only on a session that ran every step's tests together
    (``suite_session``; POCFLOW_SUITE_SESSION=0 or 1 decides for one run)."""
    value = os.environ.get(SUITE_SESSION_ENV, "").strip().lower()
    return value in _TRUE or (value not in _FALSE and settings.suite_session)


def load_settings(root: Path, poc: int | None = None) -> Settings:
    """Read [tool.pocflow] (and pytest's settings) from root/pyproject.toml: the settings of
    PoC ``poc`` (default: the current one, ``tool.pocflow.poc``).

    The parsed table is kept for this process while pyproject.toml's size, modification
    time and inode stay the same (a run loads the workspace once per task); the current
    PoC's number is checked against the project's PoCs as it is read, before it is kept."""
    try:
        info = (root / PYPROJECT).stat()
        now: tuple[int, ...] = stamp(info)
    except OSError:
        now = ()
    known = _SETTINGS.get(root)
    if known is None or known[0] != now:
        loaded = _load_project(root)
        _refuse_a_gap(root, loaded, _project_pocs(root, loaded))
        _refuse_a_step_back(root, loaded, loaded.values["poc"])
        known = _SETTINGS[root] = (now, loaded)
    project = known[1]
    pocs = _project_pocs(root, project)
    number = project.values["poc"] if poc is None else poc
    if number not in pocs:
        raise SettingsError(
            located(
                PYPROJECT,
                f"there is no PoC {number}: this project's PoCs are "
                f"{', '.join(map(str, pocs))} (PoC <N> has docs/poc<N>-implementation.md, "
                "or a [tool.pocflow.poc<N>] table)",
            )
        )
    return _for_poc(root, project, number, pocs)


def _refuse_a_step_back(root: Path, project: _Project, current: int) -> None:
    """A current PoC before one that has records already (``poc = 1`` in a project that
    moved on to PoC 2) is a mistyped ``poc``: refused, before a gate renders
    PROJECT_STATE.md for the earlier PoC as the current one."""
    later = current + 1
    records = root / project.values["records_dir"] / f"poc{later}"
    if records.is_dir() and any(records.glob("*.json")):
        raise SettingsError(
            located(
                PYPROJECT,
                f"poc = {current}, but PoC {later} has records already "
                f"({project.values['records_dir']}/poc{later}/): the project moved on to it; "
                f"is it poc = {later}? (an earlier PoC's steps run as "
                f"`doit poc{current}.step:<id>`)",
                setting_line(root, "poc"),
            )
        )


def _refuse_a_gap(root: Path, project: _Project, pocs: tuple[int, ...]) -> None:
    """A current PoC that skips numbers after the earlier ones and has no plan yet is a
    mistyped ``poc`` (9 for 2): refused, before a gate renders PROJECT_STATE.md for it."""
    current = pocs[-1]
    if len(pocs) < 2 or current == pocs[-2] + 1:
        return
    plan = _plan_of(project, current, current)
    earlier = {_plan_of(project, number, current) for number in pocs[:-1]}
    if (root / plan).is_file() and plan not in earlier:
        return  # (a plan written for it: a PoC numbered so on purpose)
    raise SettingsError(
        located(
            PYPROJECT,
            f"poc = {current}, but this project's PoCs are {', '.join(map(str, pocs[:-1]))} "
            f"and PoC {current} has no plan of its own: is it poc = {pocs[-2] + 1}? "
            "(`uv run doit next-poc` moves the project on to its next PoC)",
            setting_line(root, "poc"),
        )
    )


@dataclass(frozen=True)
class _Project:
    """The parsed [tool.pocflow] table: the project's values, the tables of single PoCs."""

    values: dict[str, Any]
    tables: dict[int, dict[str, str]]
    pytest_config: dict[str, Any]


_SETTINGS: dict[Path, tuple[tuple[int, ...], _Project]] = {}


def _project_pocs(root: Path, project: _Project) -> tuple[int, ...]:
    """Every PoC of the project at root, in order: the current one, and each earlier one
    whose plan is there (``docs/poc<N>-implementation.md`` or its table's ``plan``) or that
    has a ``[tool.pocflow.poc<N>]`` table."""
    current = project.values["poc"]
    earlier = [
        number
        for number in range(current)
        if number in project.tables or (root / _plan_of(project, number, current)).is_file()
    ]
    return (*earlier, current)


def _plan_of(project: _Project, number: int, current: int) -> str:
    own = project.tables.get(number, {}).get("plan")
    if own:
        return own
    if number == current and project.values["plan"]:
        return str(project.values["plan"])
    return f"{project.values['docs_dir']}/poc{number}-implementation.md"


def _for_poc(root: Path, project: _Project, number: int, pocs: tuple[int, ...]) -> Settings:
    """The settings of one PoC: the project's, with its own name, slug and plan, and (for a
    PoC after the first) its own subfolder of each of POC_FOLDERS."""
    values = dict(project.values)
    current = values["poc"]
    if number != current:
        values.update(name="", slug="")
    values.update(project.tables.get(number, {}))
    values["plan"] = _plan_of(project, number, current)
    values["poc"] = number
    if number != pocs[0]:
        for key in POC_FOLDERS:
            values[key] = f"{values[key]}/poc{number}".removeprefix("./")
    names = {f.name for f in fields(Settings)} - {"root", "pytest_config", "pocs", "current_poc"}
    return Settings(
        root=root,
        pytest_config=dict(project.pytest_config),
        pocs=pocs,
        current_poc=current,
        **{k: v for k, v in values.items() if k in names},
    )


def _load_project(root: Path) -> _Project:
    pyproject = root / PYPROJECT
    data: dict[str, Any] = {}
    text = ""
    if pyproject.exists():
        try:
            text = pyproject.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(located(PYPROJECT, f"not valid TOML: {exc}")) from None
    _LOADING[:] = text.splitlines()
    try:
        return _checked_project(root, data)
    finally:
        _LOADING.clear()


#: the lines of the pyproject.toml being checked (a setting's error names its line)
_LOADING: list[str] = []


def _bad(key: str, message: str) -> SettingsError:
    """A settings error at the line of pyproject.toml that sets ``key`` (under
    tool.pocflow: 'timeout', 'poc1.plan'), where there is one."""
    return SettingsError(located(PYPROJECT, message, _line_of(key)))


def setting_line(root: Path, key: str) -> int | None:
    """The line of the workspace's pyproject.toml that sets tool.pocflow.<key> ('plan',
    'poc2.plan'), if one does."""
    try:
        _LOADING[:] = (root / PYPROJECT).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return _line_of(key)
    finally:
        _LOADING.clear()


def _line_of(key: str) -> int | None:
    """The line of the pyproject.toml being checked that sets tool.pocflow.<key> (as a key
    of its table, a dotted key, or the header of its own table)."""
    wanted, table = f"tool.pocflow.{key}", ""
    for number, line in enumerate(_LOADING, 1):
        header = _header(line)
        if header is not None:
            table = header
            if header == wanted:
                return number
            continue
        name = line.split("=", 1)[0].strip().replace(" ", "").replace('"', "")
        if "=" in line and f"{table}.{name}".lstrip(".") == wanted:
            return number
    return None


def _checked_project(root: Path, data: dict[str, Any]) -> _Project:
    tool = data.get("tool", {})
    table = tool.get("pocflow", {})
    if not isinstance(table, dict):
        raise SettingsError(located(PYPROJECT, "[tool.pocflow] must be a table"))
    values: dict[str, Any] = {}
    tables: dict[int, dict[str, str]] = {}
    for key, value in table.items():
        number = poc_number(key)
        if number is not None:
            tables[number] = _poc_table(root, key, value)
            continue
        if key not in SETTINGS:
            hint = did_you_mean(key, SETTINGS)
            raise _bad(key, f"unknown setting tool.pocflow.{key}{hint}")
        kind = SETTINGS[key][0]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise _bad(
                key,
                f"tool.pocflow.{key} must be {_KINDS[kind]}, got {shown(value)}"
                + (" (write inf without quotes: no limit)" if value == "inf" else ""),
            )
        values[key] = value
    if values.get("lock_file") and not (root / values["lock_file"]).is_file():
        raise _bad(
            "lock_file",
            f"tool.pocflow.lock_file = {shown(values['lock_file'])}: no such file; name "
            "the project's lock file, or '' for none",
        )
    for key, (_kind, default, _doc) in SETTINGS.items():
        values.setdefault(key, default)
    _check_values(values)
    if values["plan"]:
        values["plan"] = _inside(root, "plan", values["plan"])
    for key in (
        name
        for name in SETTINGS
        if name.endswith("_dir") or name == "state_file" or (name == "lock_file" and values[name])
    ):
        values[key] = _inside(root, key, values[key])
        if key.endswith("_dir") and key != "state_dir":  # (the state folder: its own check)
            _no_file_in_the_way(root, key, values[key], values[key] == SETTINGS[key][1])
    chosen = values["state_file"] != SETTINGS["state_file"][1]  # (the default's:
    # a folder in the way of PROJECT_STATE.md, to move away, as the document's writer says)
    if chosen and (root / values["state_file"]).is_dir():
        raise _bad(
            "state_file",
            f"{values['state_file']}: is a folder, where pocflow writes the state document "
            f"(state_file = {values['state_file']!r}): set state_file in [tool.pocflow] to "
            "a file's path (PROJECT_STATE.md, the default)",
        )
    pytest_config = tool.get("pytest", {}).get("ini_options", {})
    return _Project(values=values, tables=tables, pytest_config=dict(pytest_config))


def _poc_table(root: Path, key: str, table: Any) -> dict[str, str]:
    """[tool.pocflow.poc<N>]: what PoC N sets for itself (POC_SETTINGS), checked."""
    if not isinstance(table, dict):
        raise _bad(
            key,
            f"tool.pocflow.{key} must be a table ([tool.pocflow.{key}] with "
            f"{', '.join(POC_SETTINGS)})",
        )
    own: dict[str, str] = {}
    for name, value in table.items():
        if name not in POC_SETTINGS:
            raise _bad(
                f"{key}.{name}",
                f"unknown setting tool.pocflow.{key}.{name}{did_you_mean(name, POC_SETTINGS)}"
                f" (a PoC's table sets {', '.join(POC_SETTINGS)})",
            )
        if not isinstance(value, str):
            raise _bad(
                f"{key}.{name}",
                f"tool.pocflow.{key}.{name} must be {_KINDS[str]}, got {shown(value)}",
            )
        own[name] = value
    _check_values({**own, "slug": own.get("slug", "")}, where=f"tool.pocflow.{key}")
    if own.get("plan"):
        own["plan"] = _inside(root, f"{key}.plan", own["plan"])
    return own


#: a setting's type, in a person's words (with TOML's)
_KINDS = {
    int: "a whole number (int)",
    float: "a number (float)",
    str: "text in quotes (str)",
    bool: "true or false (bool)",
}


def _check_values(values: dict[str, Any], where: str = "tool.pocflow") -> None:
    """Refuse values a setting's type allows and its meaning does not."""
    table = where.removeprefix("tool.pocflow").lstrip(".")

    def bad(key: str, message: str) -> SettingsError:
        return _bad(f"{table}.{key}".lstrip("."), message)

    if values.get("state_dir") in ("", ".", "./"):
        raise bad(
            "state_dir",
            f"{where}.state_dir = {shown(values['state_dir'])}: pocflow's local state "
            "(doit's database, logs, run files) needs a folder of its own, such as "
            "'.pocflow'",
        )
    if values.get("poc", 1) < 1:
        raise bad("poc", f"{where}.poc must be 1 or more: PoCs are numbered from 1")
    if "timeout" in values and not values["timeout"] > 0:  # also refuses nan
        raise bad(
            "timeout",
            f"{where}.timeout must be a number of "
            f"seconds above 0 (inf: no limit), got {values['timeout']}",
        )
    if not _plain_name(values["slug"]) or len(values["slug"]) > 60:
        raise bad(
            "slug",
            f"{where}.slug = {shown(values['slug'])} must "
            "be a plain name of at most 60 characters (no / or \\, "
            "not . or ..): it names files in the docs folder",
        )
    if "test_runner" in values and values["test_runner"] not in TEST_RUNNERS:
        raise bad(
            "test_runner",
            f"{where}.test_runner must be one of "
            f"{', '.join(TEST_RUNNERS)}, got {values['test_runner']!r}",
        )
    if "undocumented" in values and values["undocumented"] not in UNDOCUMENTED:
        raise bad(
            "undocumented",
            f"{where}.undocumented must be one of "
            f"{', '.join(UNDOCUMENTED)}, got "
            f"{shown(values['undocumented'])}",
        )


def _plain_name(name: str) -> bool:
    """Whether a setting that becomes part of a file name stays one name ('' = default)."""
    return (
        not any(c in name for c in '/\\\0\n\r\t:*?"<>|')
        and name not in (".", "..")
        and name == name.strip()
    )


def _no_file_in_the_way(root: Path, key: str, value: str, default: bool) -> None:
    """Refuse a folder setting where a file (not a folder) stands at its path or above it
    in the workspace: pocflow could write nothing there."""
    parts = Path(value).parts
    for end in range(1, len(parts) + 1):
        here = Path(*parts[:end])
        if (root / here).exists() and not (root / here).is_dir():
            said = ", the default" if default else ""
            raise SettingsError(
                f"{here.as_posix()}: is a file, where pocflow keeps a folder ({key} = "
                f"{value!r}{said}): move it away, or set {key} in [tool.pocflow] to a folder"
            )


def _inside(root: Path, key: str, value: str) -> str:
    """Normalise a workspace-relative path; refuse one that leaves the workspace, by name
    or through a symlink (pocflow writes only inside the workspace)."""
    how = leaves(root, value)
    if how == "by name":
        raise _bad(
            key,
            f"tool.pocflow.{key} = {value!r} must be a path inside the "
            "workspace, relative to pyproject.toml",
        )
    if how:
        raise _bad(
            key,
            f"tool.pocflow.{key} = {value!r} leads outside the workspace "
            f"({how}); pocflow writes only inside the "
            "workspace: make it a real folder, or set another path",
        )
    return Path(value).as_posix().rstrip("/") or "."


def moved_on_pyproject(text: str, current: int, following: int, plan: str) -> str:
    """pyproject.toml's text with the project moved on from PoC ``current`` to PoC
    ``following``: ``poc = <following>`` in [tool.pocflow], and a new
    ``[tool.pocflow.poc<N>]`` table for the PoC left, with its own ``name``, ``slug`` and
    ``plan`` (moved from [tool.pocflow] when set there; ``plan`` always, its path now):
    its documents keep their names, and it stays a PoC of the project whatever happens to
    its plan file. Every other line is kept as it is.
    SettingsError when the table is not written as plain ``key = value`` lines (the result
    is read back and compared)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _header(line) == "tool.pocflow"), None)
    if start is None:
        raise SettingsError(
            located(PYPROJECT, "there is no [tool.pocflow] table to move on from; add one")
        )
    end = next(
        (i for i in range(start + 1, len(lines)) if _header(lines[i]) is not None), len(lines)
    )
    body, moved, poc_set = [], [], False
    for line in lines[start + 1 : end]:
        key = line.split("=", 1)[0].strip() if "=" in line else ""
        if key == "poc":
            body.append(f"poc = {following}\n")
            poc_set = True
        elif key in POC_SETTINGS:
            moved.append(line if line.endswith("\n") else line + "\n")
        else:
            body.append(line)
    if not poc_set:
        body.insert(0, f"poc = {following}\n")
    if not any(line.split("=", 1)[0].strip() == "plan" for line in moved):
        moved.append(f"plan = {toml_string(plan)}\n")
    while body and not body[-1].strip():  # the table's blank lines go after the new one
        body.pop()
    table = [f"\n[tool.pocflow.poc{current}]\n", *moved]
    rest = lines[end:]
    result = "".join([*lines[: start + 1], *body, *table, "\n" if rest else "", *rest])
    before = _load_toml(text).get("tool", {}).get("pocflow", {})
    after = _load_toml(result).get("tool", {}).get("pocflow", {})
    expected = {k: v for k, v in before.items() if k not in POC_SETTINGS}
    expected["poc"] = following
    own = {k: v for k, v in before.items() if k in POC_SETTINGS}
    expected[f"poc{current}"] = {"plan": plan, **before.get(f"poc{current}", {}), **own}
    if after != expected:
        raise SettingsError(
            located(
                PYPROJECT,
                "[tool.pocflow] is not written as plain 'key = value' lines, so pocflow "
                f"will not rewrite it: set poc = {following} there by hand"
                + (
                    f" and move {', '.join(sorted(own))} to a [tool.pocflow.poc{current}] table"
                    if own
                    else ""
                ),
            )
        )
    return result


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes (\\", \\\\, \\n, \\uXXXX) are TOML's."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _header(line: str) -> str | None:
    """The table a TOML header line opens ('tool.pocflow' for '[tool.pocflow]'), else None."""
    stripped = line.split("#", 1)[0].strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return stripped.strip("[]").strip().replace(" ", "").replace('"', "")
    return None


def _load_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(located(PYPROJECT, f"not valid TOML: {exc}")) from None


#: how many processes doit runs the tasks of this invocation in (`doit -n N`), for its
#: worker processes: the batched test phases share the ready steps' tests among them
WORKERS_ENV = "POCFLOW_WORKERS"


def kernel_watched() -> bool:
    """Whether the observed processes also take what the kernel sees opened in the
    workspace's folders (Linux's inotify: what a C library or a child process reads). Not
    under `doit -n`: the kernel says which file, not which process, and steps run side by
    side would take each other's reads."""
    return sys.platform.startswith("linux") and run_workers() == 1


def run_workers() -> int:
    """How many processes run this invocation's tasks (1 outside `doit -n`)."""
    try:
        return max(1, int(os.environ.get(WORKERS_ENV, "1")))
    except ValueError:
        return 1
