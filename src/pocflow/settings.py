"""Workspace settings: the [tool.pocflow] table of pyproject.toml, with defaults."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pocflow._fs import leaves, stamp
from pocflow.errors import SettingsError, did_you_mean, located, shown

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
        True,
        "poc-complete also runs every step's tests together in one pytest session when no "
        "session of the run held them all (tests that fail beside others, a step whose "
        "script changes what another step's tests read); POCFLOW_SUITE_SESSION=0 or 1 "
        "decides for one run",
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


def load_settings(root: Path) -> Settings:
    """Read [tool.pocflow] (and pytest's settings) from root/pyproject.toml.

    Kept for this process while pyproject.toml's size, modification time and inode stay
    the same (a run loads the workspace once per task)."""
    try:
        info = (root / PYPROJECT).stat()
        now: tuple[int, ...] = stamp(info)
    except OSError:
        now = ()
    known = _SETTINGS.get(root)
    if known is not None and known[0] == now:
        return known[1]
    settings = _load_settings(root)
    _SETTINGS[root] = (now, settings)
    return settings


_SETTINGS: dict[Path, tuple[tuple[int, ...], Settings]] = {}


def _load_settings(root: Path) -> Settings:
    pyproject = root / PYPROJECT
    data: dict[str, Any] = {}
    if pyproject.exists():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(located(PYPROJECT, f"not valid TOML: {exc}")) from None
    tool = data.get("tool", {})
    table = tool.get("pocflow", {})
    if not isinstance(table, dict):
        raise SettingsError(located(PYPROJECT, "[tool.pocflow] must be a table"))
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in SETTINGS:
            hint = did_you_mean(key, SETTINGS)
            raise SettingsError(located(PYPROJECT, f"unknown setting tool.pocflow.{key}{hint}"))
        kind = SETTINGS[key][0]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise SettingsError(
                located(
                    PYPROJECT, f"tool.pocflow.{key} must be {kind.__name__}, got {shown(value)}"
                )
            )
        values[key] = value
    for key, (_kind, default, _doc) in SETTINGS.items():
        values.setdefault(key, default)
    if values["poc"] < 0:
        raise SettingsError(located(PYPROJECT, "tool.pocflow.poc must be 0 or more"))
    if not values["timeout"] > 0:  # also refuses nan, which compares false with anything
        raise SettingsError(
            located(
                PYPROJECT,
                f"tool.pocflow.timeout must be a number of "
                f"seconds above 0 (inf: no limit), got {values['timeout']}",
            )
        )
    if not _plain_name(values["slug"]) or len(values["slug"]) > 60:
        raise SettingsError(
            located(
                PYPROJECT,
                f"tool.pocflow.slug = {shown(values['slug'])} must "
                "be a plain name of at most 60 characters (no / or \\, "
                "not . or ..): it names files in the docs folder",
            )
        )
    if values["test_runner"] not in TEST_RUNNERS:
        raise SettingsError(
            located(
                PYPROJECT,
                f"tool.pocflow.test_runner must be one of "
                f"{', '.join(TEST_RUNNERS)}, got {values['test_runner']!r}",
            )
        )
    if values["undocumented"] not in UNDOCUMENTED:
        raise SettingsError(
            located(
                PYPROJECT,
                f"tool.pocflow.undocumented must be one of "
                f"{', '.join(UNDOCUMENTED)}, got "
                f"{shown(values['undocumented'])}",
            )
        )
    if not values["plan"]:
        values["plan"] = f"{values['docs_dir']}/poc{values['poc']}-implementation.md"
    for key in (
        name
        for name in SETTINGS
        if name.endswith("_dir")
        or name in ("plan", "state_file")
        or (name == "lock_file" and values[name])
    ):
        values[key] = _inside(root, key, values[key])
    pytest_config = tool.get("pytest", {}).get("ini_options", {})
    names = {f.name for f in fields(Settings)}
    return Settings(
        root=root,
        pytest_config=dict(pytest_config),
        **{k: v for k, v in values.items() if k in names},
    )


def _plain_name(name: str) -> bool:
    """Whether a setting that becomes part of a file name stays one name ('' = default)."""
    return (
        not any(c in name for c in '/\\\0\n\r\t:*?"<>|')
        and name not in (".", "..")
        and name == name.strip()
    )


def _inside(root: Path, key: str, value: str) -> str:
    """Normalise a workspace-relative path; refuse one that leaves the workspace, by name
    or through a symlink (pocflow writes only inside the workspace)."""
    how = leaves(root, value)
    if how == "by name":
        raise SettingsError(
            located(
                PYPROJECT,
                f"tool.pocflow.{key} = {value!r} must be a path inside the "
                "workspace, relative to pyproject.toml",
            )
        )
    if how:
        raise SettingsError(
            located(
                PYPROJECT,
                f"tool.pocflow.{key} = {value!r} leads outside the workspace "
                f"({how}); pocflow writes only inside the "
                "workspace: make it a real folder, or set another path",
            )
        )
    return Path(value).as_posix().rstrip("/") or "."
