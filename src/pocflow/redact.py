"""Secrets: values that never reach a log, a record, a document or the console.

Secret are the environment variables a manifest names under ``secrets:``, and the variables
of the workspace's ``.env`` file whose name says they hold one (``*_KEY``, ``*TOKEN*``,
``*SECRET*``, ``*PASSWORD*``, ``*PASSWD*``, ``*PASS``, ``*PASSPHRASE*``, ``*CREDENTIAL*``,
``*PRIVATE*``, ``*AUTH*`` as a word, ``*COOKIE*``, ``*_DSN``, ``DATABASE_URL``; see
``is_secret_name``) or whose value is a URL with a password (``scheme://user:pw@host``).
``.env`` is read once per run and its variables are passed to the scripts and tests (a
variable already set in the environment wins); ``DATA_DIR=data`` is not a secret, and
masking it would garble every path.

Every secret value of 4 characters or more is replaced by ``[secret]`` wherever pocflow
writes text: as written, escaped inside JSON (``\u00e4`` for ``ä`` too), and where output
was cut (the end of a kept head, the start of a kept tail, a line pytest cut with
``...``): no cut keeps 4 or more of a secret's leading characters. A record's evidence —
its paths, digests and counts — is never masked (``mask_record`` masks its free text only:
messages, metrics, a test's parameters): masking a path, a digest or a verdict would change
what the record stands on or says. Secrets never influence freshness: a
rotated key does not re-verify a step.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from pocflow.errors import SettingsError, located

DOTENV = ".env"
MASK = "[secret]"
#: names of the variables whose values are secret, for processes that did not load them
NAMES_ENV = "POCFLOW_SECRET_NAMES"
#: shorter values are not masked: masking "1" or "yes" would garble every log
MIN_LENGTH = 4
_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")

_values: set[str] = set()
#: a word of a variable's name that says its value is a secret
_SECRET_NAME_RE = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|COOKIE|APIKEY"
    r"|(^|_)(KEY|PASS|PWD|DSN)$|(^|_)AUTH(_|$)|^DATABASE_URL$)"
)
#: a URL that carries a password: scheme://user:password@host
_CREDENTIAL_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@")


def is_secret_name(name: str) -> bool:
    """Whether a .env variable's name says it holds a secret (API_KEY, GITHUB_TOKEN,
    DB_PASSWORD, ...)."""
    return _SECRET_NAME_RE.search(name.upper()) is not None


def is_secret_value(value: str) -> bool:
    """Whether a .env value is a secret whatever its name: a URL with a password."""
    return _CREDENTIAL_URL_RE.match(value) is not None


def read_dotenv(root: Path) -> dict[str, str]:
    """The variables of root/.env (NAME=value lines, # comments, optional quotes)."""
    path = root / DOTENV
    if not path.is_file():
        return {}  # none, or a folder: a virtualenv named .env is common
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
        quoted = re.match(r"""^(["'])(.*)\1(?:\s+#.*)?$""", value)
        if quoted:  # "value", or "value" # a comment
            value = quoted.group(2)
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
    secret = {
        name for name, value in dotenv.items() if is_secret_name(name) or is_secret_value(value)
    }
    names = secret | declared | set(filter(None, os.environ.get(NAMES_ENV, "").split(",")))
    os.environ[NAMES_ENV] = ",".join(sorted(names))
    _values.clear()


def secret_values() -> set[str]:
    """The values to mask in this process (with the password of a URL that carries one)."""
    if not _values:
        for name in filter(None, os.environ.get(NAMES_ENV, "").split(",")):
            value = os.environ.get(name, "")
            if len(value) >= MIN_LENGTH:
                _values.add(value)
            if is_secret_value(value):
                with contextlib.suppress(ValueError):
                    password = urllib.parse.urlsplit(value).password
                    if password and len(password) >= MIN_LENGTH:
                        _values.add(password)
    return _values


def redact(text: str) -> str:
    """text with every secret value (as written, or escaped inside JSON) replaced, and the
    leading characters of one that a cut line ends with (``sk-li...``)."""
    forms = _forms()
    for form in forms:
        text = text.replace(form, MASK)
    for form in forms:
        if form[:MIN_LENGTH] in text:
            for cut in range(len(form) - 1, MIN_LENGTH - 1, -1):
                for ellipsis in ("...", "\u2026"):
                    text = text.replace(form[:cut] + ellipsis, MASK + ellipsis)
    return text


def redact_bytes(data: bytes) -> bytes:
    """Like redact, for raw output."""
    return (
        redact(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        if _forms()
        else data
    )


def redact_cut(data: bytes, head: bool) -> bytes:
    """Mask the piece of a secret where output was cut: 4 or more of its leading characters
    at the end of a kept head (``head``), or of its last characters at the start of a kept
    tail."""
    for form in (f.encode("utf-8") for f in _forms()):
        for cut in range(len(form) - 1, MIN_LENGTH - 1, -1):
            if head and data.endswith(form[:cut]):
                return data[:-cut] + MASK.encode()
            if not head and data.startswith(form[-cut:]):
                return MASK.encode() + data[cut:]
    return data


def mask_record(data: Any) -> Any:
    """A record or phase result as plain data with every secret masked in its free text —
    messages, collection errors, metrics, a test's parameters — and nowhere else: keys,
    verdicts, outcomes, paths, digests and counts are evidence, and a secret that happens to
    be an ordinary word ("verified", "test") must not change them. With no secret to mask,
    the data as it is (a record holds thousands of strings: no walk for nothing)."""
    return _masked(data) if _forms() else data


def _masked(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: (
                _mask_all(value)
                if key in FREE_TEXT
                else _mask_nodeid(value)
                if key == "nodeid" and isinstance(value, str)
                else _masked(value)
            )
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_masked(item) for item in data]
    return data


#: the fields of records and results that hold free text (what a script or a test said)
FREE_TEXT = frozenset({"message", "collection_errors", "metrics"})


def _mask_all(data: Any) -> Any:
    """Free text: every string in it masked, mapping keys too (a metric's name)."""
    if isinstance(data, dict):
        return {
            (redact(key) if isinstance(key, str) else key): _mask_all(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_mask_all(item) for item in data]
    return redact(data) if isinstance(data, str) else data


def _mask_nodeid(nodeid: str) -> str:
    """A test's id: its file and name are evidence; its parameters (``[...]``) free text."""
    path, bracket, params = nodeid.partition("[")
    return path + bracket + redact(params) if bracket else nodeid


def _forms() -> list[str]:
    """Every way a secret is written where pocflow looks: as it is, escaped in JSON (both
    ways), in Python's repr (pytest's assertion messages), URL-encoded. (None without
    secrets: every line a run prints passes here.)"""
    if not secret_values():
        return []
    forms = {
        form
        for value in secret_values()
        for form in (
            value,
            json.dumps(value, ensure_ascii=False)[1:-1],
            json.dumps(value)[1:-1],
            repr(value)[1:-1],
            repr(value.encode("utf-8", "surrogateescape"))[2:-1],
            urllib.parse.quote(value, safe=""),
            urllib.parse.quote_plus(value),
        )
    }
    return sorted(forms, key=len, reverse=True)
