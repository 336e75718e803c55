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
import os
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pocflow._fs import atomic_write_text, read_json

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
        self.prefix = os.path.join(str(self.root), "") if self.root is not None else ""
        self.resolved: dict[tuple[Any, ...], list[str]] = {}
        self.direct: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        self.listings: dict[str, frozenset[str]] = {}
        self.real_folders: dict[str, str] = {}
        if path is not None:
            data = read_json(path) or {}
            if data.get("format") == _CACHE_FORMAT:
                self.entries = data.get("files", {})

    @classmethod
    def shared(cls, path: Path, root: Path) -> ImportCache:
        """One cache per file and process: read from disk once, not once per phase."""
        key = str(path)
        cache = _SHARED.get(key)
        if cache is None:
            cache = _SHARED[key] = cls(path, root)
        return cache

    def statements(self, path: str) -> list[ImportStmt]:
        """The import statements of a file (an absolute path), parsed or from the cache."""
        try:
            info = os.stat(path)
        except OSError:
            return []
        key = path
        if self.root is not None and path.startswith(self.prefix):
            key = path[len(self.prefix) :].replace(os.sep, "/")  # the cache moves with the checkout
        self.used.add(key)
        stamp = [info.st_mtime_ns, info.st_size]
        entry = self.entries.get(key)
        if entry is not None and entry[0] == stamp:
            return [(module, level, tuple(names)) for module, level, names in entry[1]]
        found = _parse_imports(Path(path))
        self.entries[key] = [stamp, [[m, lv, list(n)] for m, lv, n in found]]
        self.changed = True
        return found

    def names_in(self, folder: str) -> frozenset[str]:
        """The entry names of a folder (none when it is not one), read once per run."""
        names = self.listings.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self.listings[folder] = names
        return names

    def real_folder(self, folder: str) -> str:
        """os.path.realpath of a folder, resolved once per run."""
        found = self.real_folders.get(folder)
        if found is None:
            found = self.real_folders[folder] = os.path.realpath(folder)
        return found

    def real(self, path: str) -> str:
        """os.path.realpath of a path, resolving each folder once per run."""
        folder, name = os.path.split(path)
        joined = os.path.join(self.real_folder(folder), name)
        return os.path.realpath(joined) if os.path.islink(joined) else joined

    def save(self) -> None:
        """Write back what was used, if anything changed (a best effort: it is a cache)."""
        stale = set(self.entries) - self.used
        if self.path is None or not (self.changed or stale):
            return
        for key in stale:
            del self.entries[key]
        with contextlib.suppress(OSError):
            atomic_write_text(
                self.path,
                json.dumps({"format": _CACHE_FORMAT, "files": self.entries}),
                durable=False,
            )
            self.changed = False


_CACHE_FORMAT = 1
_SHARED: dict[str, ImportCache] = {}


def forget_shared() -> None:
    """Drop the per-process caches (a new doit run may see changed files)."""
    _SHARED.clear()


def local_imports(
    root: Path, files: Iterable[str], search_roots: Iterable[str], cache: ImportCache | None = None
) -> list[str]:
    """Workspace-relative paths of every local module the files import, transitively."""
    cache = cache or ImportCache()
    base = str(root)
    roots = tuple(os.path.normpath(os.path.join(base, r)) for r in search_roots)
    seen: set[str] = set()
    start = [cache.real(os.path.normpath(os.path.join(base, f))) for f in files]
    queue = list(start)
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        direct = cache.direct.get((path, roots))
        if direct is None:  # a helper imported by many steps is resolved once
            direct = _direct_imports(path, roots, cache.statements(path), cache)
            cache.direct[(path, roots)] = direct
        for found in direct:
            if found not in seen:
                queue.append(found)
    inside = os.path.join(cache.real_folder(base), "")
    return sorted(
        {p[len(inside) :].replace(os.sep, "/") for p in seen - set(start) if p.startswith(inside)}
    )


def _parse_imports(path: Path) -> list[ImportStmt]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return []  # running or collecting the file reports the problem itself
    found: list[ImportStmt] = []
    for node in statements(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
            found.append((node.module or "", node.level, tuple(a.name for a in node.names)))
    return found


#: the fields that hold statements (an ``except`` clause's and a ``case``'s among them), in
#: the order ``ast.iter_child_nodes`` takes them
_STATEMENT_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")


def statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement of a module (with its ``except`` and ``case`` clauses), in
    ``ast.walk``'s order. Imports and function definitions are statements, so the scans for
    them walk statement blocks only, not the expressions that make most of a tree
    (``ast.walk`` took 6% of a fresh clone's run at 100 steps)."""
    queue: deque[ast.AST] = deque([tree])
    while queue:
        node = queue.popleft()
        yield node
        for name in _STATEMENT_FIELDS:
            value = getattr(node, name, None)
            if type(value) is list:
                queue.extend(value)


def _direct_imports(
    path: str, roots: tuple[str, ...], statements: list[ImportStmt], cache: ImportCache
) -> list[str]:
    found: list[str] = []
    parent = os.path.dirname(path)
    search = (parent, *roots)
    memo = cache.resolved
    for module, level, names in statements:
        parts = tuple(module.split(".")) if module else ()
        if level:
            package = parent
            for _ in range(level - 1):
                package = os.path.dirname(package)
            where: tuple[str, ...] = (package,)
        else:
            where = search
        key = (parts, where, names)
        if key not in memo:
            memo[key] = _resolve(parts, where, names, cache)
        found += memo[key]
    return found


def _resolve(
    parts: tuple[str, ...], search: tuple[str, ...], names: Iterable[str], cache: ImportCache
) -> list[str]:
    """Files that importing the dotted module (and the names taken from it) executes."""
    for base in search:
        hits = _resolve_in(base, parts, names, cache)
        if hits is not None:
            return [cache.real(hit) for hit in hits]
    return []


def _resolve_in(
    base: str, parts: tuple[str, ...], names: Iterable[str], cache: ImportCache
) -> list[str] | None:
    """The files under base, or None when the module is not there. A name is looked up in
    its folder's listing first: only a name that is there costs a look at the disk."""

    def is_file(folder: str, name: str) -> bool:
        return name in cache.names_in(folder) and os.path.isfile(os.path.join(folder, name))

    def is_dir(folder: str, name: str) -> bool:
        return name in cache.names_in(folder) and os.path.isdir(os.path.join(folder, name))

    hits: list[str] = []
    directory = base
    for index, part in enumerate(parts):
        if index == len(parts) - 1 and is_file(directory, f"{part}.py"):
            return [os.path.join(directory, f"{part}.py")]  # names taken from a module
        if not is_dir(directory, part):
            return None
        package = os.path.join(directory, part)
        if is_file(package, "__init__.py"):
            hits.append(os.path.join(package, "__init__.py"))
        directory = package
    for name in names:  # `from package import module`
        if is_file(directory, f"{name}.py"):
            hits.append(os.path.join(directory, f"{name}.py"))
        elif is_dir(directory, name) and is_file(os.path.join(directory, name), "__init__.py"):
            hits.append(os.path.join(directory, name, "__init__.py"))
    return hits
