"""Automated production-grade signals: what the method asks a person to check by eye.

Reported beside the gate's verdict and in the PoC results doc; they do not fail the gate
(the Production-Grade Checklist does). Secrets are located, never printed.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pocflow._fs import atomic_write_text, read_json
from pocflow.fingerprint import file_digest
from pocflow.imports import statements
from pocflow.inputs import conftests_above
from pocflow.steps import parse_step_filename
from pocflow.workspace import Workspace, files_under

#: importable modules that replace real integrations with fakes
MOCKING_MODULES = {
    "unittest.mock": "unittest.mock",
    "mock": "mock",
    "pytest_mock": "pytest-mock",
    "responses": "responses",
    "requests_mock": "requests-mock",
    "httpretty": "httpretty",
    "respx": "respx",
    "moto": "moto",
    "vcr": "vcrpy",
    "aioresponses": "aioresponses",
    "pook": "pook",
}
_SECRETS = [
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    (
        "an API secret key",
        re.compile(
            r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b|"
            r"\bsk-[A-Za-z0-9_-]{20,}\b"
        ),
    ),
    (
        "a password or key assigned in code",
        re.compile(
            r"(?i)\b[\w-]*(?:api[_-]?key|secret|passw(?:or)?d|token|access[_-]?key)[\w-]*\b"
            r"[\"']?\s*[:=]\s*[\"'](?P<value>[^\"'\s]{8,})[\"']"
        ),
    ),
]
_PLACEHOLDER = re.compile(r"(?i)example|changeme|placeholder|dummy|xxxx|your[_-]|<|\$\{|\*\*\*")
_TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".json", ".toml", ".cfg", ".ini", ".env", ".txt", ""}


@dataclass(frozen=True)
class Signal:
    """One finding: what kind, where, and what it means."""

    kind: str  # "mocking" | "secret" | "unplanned"
    path: str
    line: int | None
    text: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.text}"


def find_signals(ws: Workspace) -> list[Signal]:
    """Mocking in step scripts and tests, hard-coded secrets, files the plan does not name."""
    found: list[Signal] = []
    step_files = sorted({f for step in ws.steps.values() for f in (*step.scripts, *step.tests)})
    with _ScanCache(ws.signals_cache, ws.root) as scanned:
        for rel in step_files:
            found += scanned.signals(rel, "mocking", _mocking)
        for rel in _files_to_scan(ws):
            found += scanned.signals(rel, "secret", _secrets)
    found += _unplanned(ws)
    return found


class _ScanCache:
    """Each file's signals of one kind, kept between runs by the file's content (a run
    looks again at every step file, twice: in PROJECT_STATE.md and in the gate's report;
    parsing 2,000 files took 0.5 s at 1000 steps). A best effort: it is only a cache."""

    #: what an entry is: [content sha256, [[line, text], ...]]; another format is ignored
    FORMAT = 1

    def __init__(self, path: Path, root: Path) -> None:
        self.path, self.root = path, root
        data = read_json(path) or {}
        files = data.get("files") if data.get("format") == self.FORMAT else None
        self.entries: dict[str, Any] = files if isinstance(files, dict) else {}
        self.used: set[str] = set()
        self.changed = False

    def signals(
        self, rel: str, kind: str, scan: Callable[[Path, str], list[Signal]]
    ) -> list[Signal]:
        """The file's signals of this kind, scanned again only when its content changed."""
        key = f"{kind}:{rel}"
        self.used.add(key)
        content = file_digest(self.root / rel)
        entry = self.entries.get(key)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == content:
            with contextlib.suppress(TypeError, ValueError):
                return [Signal(kind, rel, line, text) for line, text in entry[1]]
        found = scan(self.root, rel)
        self.entries[key] = [content, [[s.line, s.text] for s in found]]
        self.changed = True
        return found

    def __enter__(self) -> _ScanCache:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None or not (self.changed or self.entries.keys() - self.used):
            return
        kept = {key: self.entries[key] for key in sorted(self.used)}
        text = json.dumps({"format": self.FORMAT, "files": kept}, separators=(",", ":"))
        with contextlib.suppress(OSError):
            atomic_write_text(self.path, text, durable=False)


#: what a file that imports a mocking library or takes the ``mocker`` fixture holds, byte for
#: byte, when it is ASCII and declares no encoding: the first part of the module's name
#: (``from unittest import mock``, ``import moto.core``) or the fixture's name
_MOCKING_NEEDLES = (*sorted({key.split(".")[0].encode() for key in MOCKING_MODULES}), b"mocker")


def _mocking(root: Path, rel: str) -> list[Signal]:
    try:
        source = (root / rel).read_bytes()
    except OSError:
        return []
    # nothing to find: no parse (most files; a fresh clone scans them all). Not ASCII, or
    # an encoding declared: a name may be spelled otherwise (fullwidth letters, UTF-7)
    ascii_only = source.isascii() and b"coding" not in source
    if ascii_only and not any(needle in source for needle in _MOCKING_NEEDLES):
        return []
    try:
        tree = ast.parse(source, filename=rel)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in statements(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
            and any(a.arg == "mocker" for a in node.args.args)
        ):
            found.append(
                Signal(
                    "mocking",
                    rel,
                    node.lineno,
                    "uses the pytest-mock `mocker` "
                    "fixture; the method asks for real integrations, not mocks",
                )
            )
            continue
        for name in names:
            library = _mocking_library(name)
            if library:
                found.append(
                    Signal(
                        "mocking",
                        rel,
                        getattr(node, "lineno", None),
                        f"imports {library}; the method asks for real integrations, not mocks",
                    )
                )
                break
    return found


def _mocking_library(module: str) -> str:
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        library = MOCKING_MODULES.get(".".join(parts[:size]))
        if library:
            return library
    return ""


def _files_to_scan(ws: Workspace) -> list[str]:
    """The step scripts' folder, every step's tests and the conftests above them, manifests."""
    settings = ws.settings
    tests = [test for step in ws.steps.values() for test in step.tests]
    files = {*tests, *conftests_above(ws.root, tests)}
    files.update(step.manifest.path for step in ws.steps.values() if step.manifest is not None)
    for path in files_under(ws, settings.scripts_dir):
        if path.suffix in _TEXT_SUFFIXES:
            files.add(path.relative_to(ws.root).as_posix())
    return sorted(files)


def _secrets(root: Path, rel: str) -> list[Signal]:
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in _SECRETS:
            match = pattern.search(line)
            if not match:
                continue
            value = match.groupdict().get("value") or match.group(0)
            if _PLACEHOLDER.search(value) or "environ" in line or "getenv" in line:
                continue
            found.append(
                Signal(
                    "secret",
                    rel,
                    number,
                    f"looks like {kind} written into "
                    "the file; read it from the environment instead, and rotate it "
                    "if it was ever committed",
                )
            )
            break
    return found


def _unplanned(ws: Workspace) -> list[Signal]:
    if ws.plan is None:
        return []
    plan_text = (ws.root / ws.settings.plan).read_text(encoding="utf-8", errors="replace")
    base = ws.root / ws.settings.scripts_dir
    found = []
    for path in files_under(ws, ws.settings.scripts_dir):
        rel = path.relative_to(ws.root).as_posix()
        name = parse_step_filename(path.name)
        if name is not None and path.parent == base:
            if name.step_id not in ws.plan.steps:
                found.append(
                    Signal(
                        "unplanned",
                        rel,
                        None,
                        f"step {name.step_id} is not in "
                        f"the plan ({ws.settings.plan}); add it there or remove "
                        "the file",
                    )
                )
        elif path.name not in plan_text:
            found.append(
                Signal(
                    "unplanned",
                    rel,
                    None,
                    f"the plan ({ws.settings.plan}) does "
                    "not mention this file; say there what it is for, or remove it",
                )
            )
    return found
