"""Secrets: values that never reach a log, a record, a document or the console.

Two sources are secret: every value in the workspace's ``.env`` file, and the environment
variables a manifest names under ``secrets:``. ``.env`` is read once per run, its variables
are passed to the scripts and tests (a variable already set in the environment wins), and
every secret value is replaced by ``[secret]`` wherever pocflow writes text. Secrets never
influence freshness: a rotated key does not re-verify a step.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pocflow.errors import SettingsError, located

DOTENV = ".env"
MASK = "[secret]"
#: names of the variables whose values are secret, for processes that did not load them
NAMES_ENV = "POCFLOW_SECRET_NAMES"
#: shorter values are not masked: masking "1" or "yes" would garble every log
MIN_LENGTH = 4
_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")

_values: set[str] = set()


def read_dotenv(root: Path) -> dict[str, str]:
    """The variables of root/.env (NAME=value lines, # comments, optional quotes)."""
    path = root / DOTENV
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise SettingsError(located(DOTENV, "not valid UTF-8 text; save it as UTF-8")) from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE_RE.match(line)
        if match is None:
            raise SettingsError(located(DOTENV, "expected NAME=value (or a # comment)", number))
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        found[name] = value
    return found


def activate(root: Path, declared: set[str]) -> None:
    """Load .env into this process's environment and mask its values and the declared ones.

    Processes started afterwards (scripts, pytest sessions, doit's workers) inherit the
    variables and the list of secret names.
    """
    dotenv = read_dotenv(root)
    for name, value in dotenv.items():
        os.environ.setdefault(name, value)
    names = set(dotenv) | declared | set(filter(None, os.environ.get(NAMES_ENV, "").split(",")))
    os.environ[NAMES_ENV] = ",".join(sorted(names))
    _values.clear()


def secret_values() -> set[str]:
    """The values to mask in this process."""
    if not _values:
        for name in filter(None, os.environ.get(NAMES_ENV, "").split(",")):
            value = os.environ.get(name, "")
            if len(value) >= MIN_LENGTH:
                _values.add(value)
    return _values


def redact(text: str) -> str:
    """text with every secret value (as written, or escaped inside JSON) replaced."""
    for form in _forms():
        text = text.replace(form, MASK)
    return text


def redact_bytes(data: bytes) -> bytes:
    """Like redact, for raw output."""
    for form in _forms():
        data = data.replace(form.encode("utf-8"), MASK.encode())
    return data


def _forms() -> list[str]:
    forms = {form for value in secret_values()
             for form in (value, json.dumps(value, ensure_ascii=False)[1:-1])}
    return sorted(forms, key=len, reverse=True)
