"""Static, transitive discovery of the local modules a Python file imports.

Only files inside the workspace count; the standard library and installed packages do not.
A module is searched the way Python would find it when the file runs: next to the importing
file, then in the extra search roots (pytest's ``pythonpath``, the workspace root).
Imports done dynamically (``importlib.import_module(name)``) cannot be seen; declare such
files as ``inputs`` in the step's manifest.
"""

from __future__ import annotations

import ast
import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pocflow._fs import atomic_write_text

#: an import statement as parsed: (dotted module, relative level, names imported from it)
ImportStmt = tuple[str, int, tuple[str, ...]]


class ImportCache:
    """Parsed import statements per file, kept between runs (keyed by size and mtime).

    Parsing is the costly part of the scan; resolving the names against the disk is cheap,
    so only the parse is cached and every resolution is done again.
    """

    def __init__(self, path: Path | None = None, root: Path | None = None) -> None:
        self.path = path
        self.root = root.resolve() if root is not None else None
        self.entries: dict[str, list[Any]] = {}
        self.used: set[str] = set()
        self.changed = False
        # per run of doit (the files do not change while its tasks are loaded)
        self.resolved: dict[tuple[Any, ...], list[Path]] = {}
        self.direct: dict[tuple[Path, tuple[Path, ...]], list[Path]] = {}
        if path is not None:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("format") == _CACHE_FORMAT:
                    self.entries = data.get("files", {})
            except (OSError, ValueError):
                self.entries = {}

    @classmethod
    def shared(cls, path: Path, root: Path) -> ImportCache:
        """One cache per file and process: read from disk once, not once per phase."""
        key = str(path)
        cache = _SHARED.get(key)
        if cache is None:
            cache = _SHARED[key] = cls(path, root)
        return cache

    def statements(self, path: Path) -> list[ImportStmt]:
        """The import statements of a file, parsed or from the cache."""
        try:
            info = path.stat()
        except OSError:
            return []
        key = str(path)
        if self.root is not None and path.is_relative_to(self.root):
            key = path.relative_to(self.root).as_posix()  # the cache moves with the checkout
        self.used.add(key)
        stamp = [info.st_mtime_ns, info.st_size]
        entry = self.entries.get(key)
        if entry is not None and entry[0] == stamp:
            return [(module, level, tuple(names)) for module, level, names in entry[1]]
        found = _parse_imports(path)
        self.entries[key] = [stamp, [[m, lv, list(n)] for m, lv, n in found]]
        self.changed = True
        return found

    def save(self) -> None:
        """Write back what was used, if anything changed (a best effort: it is a cache)."""
        stale = set(self.entries) - self.used
        if self.path is None or not (self.changed or stale):
            return
        for key in stale:
            del self.entries[key]
        with contextlib.suppress(OSError):
            atomic_write_text(self.path, json.dumps({"format": _CACHE_FORMAT,
                                                     "files": self.entries}), durable=False)
            self.changed = False


_CACHE_FORMAT = 1
_SHARED: dict[str, ImportCache] = {}


def forget_shared() -> None:
    """Drop the per-process caches (a new doit run may see changed files)."""
    _SHARED.clear()


def local_imports(root: Path, files: Iterable[str], search_roots: Iterable[str],
                  cache: ImportCache | None = None) -> list[str]:
    """Workspace-relative paths of every local module the files import, transitively."""
    cache = cache or ImportCache()
    roots = tuple(root / r for r in search_roots)
    seen: set[Path] = set()
    start = [(root / f).resolve() for f in files]
    queue = list(start)
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        direct = cache.direct.get((path, roots))
        if direct is None:  # a helper imported by many steps is resolved once
            direct = _direct_imports(path, list(roots), cache.statements(path), cache.resolved)
            cache.direct[(path, roots)] = direct
        for found in direct:
            if found not in seen:
                queue.append(found)
    base = root.resolve()
    result = {p.relative_to(base).as_posix() for p in seen - set(start) if p.is_relative_to(base)}
    return sorted(result)


def _parse_imports(path: Path) -> list[ImportStmt]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return []  # running or collecting the file reports the problem itself
    found: list[ImportStmt] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
            found.append((node.module or "", node.level, tuple(a.name for a in node.names)))
    return found


def _direct_imports(path: Path, roots: list[Path], statements: list[ImportStmt],
                    memo: dict[tuple[Any, ...], list[Path]]) -> list[Path]:
    found: list[Path] = []
    search = (path.parent, *roots)
    for module, level, names in statements:
        parts = tuple(module.split(".")) if module else ()
        if level:
            package = path.parent
            for _ in range(level - 1):
                package = package.parent
            where: tuple[Path, ...] = (package,)
        else:
            where = search
        key = (parts, where, names)
        if key not in memo:
            memo[key] = _resolve(list(parts), list(where), names=names)
        found += memo[key]
    return found


def _resolve(parts: list[str], search: list[Path], names: Iterable[str] = ()) -> list[Path]:
    """Files that importing the dotted module (and the names taken from it) executes."""
    for base in search:
        hits = _resolve_in(base, parts, names)
        if hits is not None:
            return [hit.resolve() for hit in hits]
    return []


def _resolve_in(base: Path, parts: list[str], names: Iterable[str]) -> list[Path] | None:
    """The files under base, or None when the module is not there."""
    hits: list[Path] = []
    directory = base
    for index, part in enumerate(parts):
        module_file = directory / f"{part}.py"
        if index == len(parts) - 1 and module_file.is_file():
            return [module_file]  # names taken from a module are its attributes
        package = directory / part
        if not package.is_dir():
            return None
        if (package / "__init__.py").is_file():
            hits.append(package / "__init__.py")
        directory = package
    for name in names:  # `from package import module`
        if (directory / f"{name}.py").is_file():
            hits.append(directory / f"{name}.py")
        elif (directory / name / "__init__.py").is_file():
            hits.append(directory / name / "__init__.py")
    return hits
