"""The files pytest takes its settings from, by pytest's own rules (pytest 9's
``_pytest.config.findpaths``): which names it looks for in a folder, in what order, and
whether a file of that name holds settings (a file that does not is passed over, and pytest
looks on, upwards). Standard library only, and nothing of pocflow: pocflow's pytest plugin
(which loads it from its file) and its doit process both ask.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

#: the names pytest looks for in each folder, in the order it tries them (``pytest.toml``
#: and ``.pytest.toml`` since pytest 9; an older pytest passes them over)
PYTEST_CONFIG_NAMES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)

#: the section an ini-format file must have for pytest to take its settings from it
_INI_SECTIONS = {"tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}


def holds_pytest_settings(path: Path) -> bool:
    """Whether pytest takes its settings from this file when it finds it: a pytest.toml or
    pytest.ini always (even empty), a pyproject.toml with a ``[tool.pytest.ini_options]``
    table or settings in ``[tool.pytest]`` (an empty ``[tool.pytest]`` is not enough), a
    tox.ini with ``[pytest]``, a setup.cfg with ``[tool:pytest]``. A file that cannot be
    parsed counts: pytest stops there, with an error."""
    if path.name in ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini"):
        return True
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if path.name == "pyproject.toml":
        try:
            tool = tomllib.loads(text).get("tool", {})
        except tomllib.TOMLDecodeError:
            return True
        table = tool.get("pytest") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            return False
        return bool(table)
    section = _INI_SECTIONS.get(path.name)
    return section is not None and any(line.strip() == section for line in text.splitlines())


def settings_file_in(folder: Path) -> Path | None:
    """The file of folder pytest would take its settings from, if any."""
    for name in PYTEST_CONFIG_NAMES:
        candidate = folder / name
        if candidate.is_file() and holds_pytest_settings(candidate):
            return candidate
    return None
