"""Static, transitive discovery of the local modules a Python file imports.

Only files inside the workspace count; the standard library and installed packages do not.
A module is searched the way Python would find it when the file runs: next to the importing
file, then in the extra search roots (pytest's ``pythonpath``, the workspace root).
Imports done dynamically (``importlib.import_module(name)``) cannot be seen; declare such
files as ``inputs`` in the step's manifest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def local_imports(root: Path, files: Iterable[str], search_roots: Iterable[str]) -> list[str]:
    """Workspace-relative paths of every local module the files import, transitively."""
    roots = [root / r for r in search_roots]
    seen: set[Path] = set()
    start = [(root / f).resolve() for f in files]
    queue = list(start)
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for found in _direct_imports(path, roots):
            if found not in seen:
                queue.append(found)
    base = root.resolve()
    result = {p.relative_to(base).as_posix() for p in seen - set(start) if p.is_relative_to(base)}
    return sorted(result)


def _direct_imports(path: Path, roots: list[Path]) -> list[Path]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return []  # running or collecting the file reports the problem itself
    found: list[Path] = []
    search = [path.parent, *roots]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found += _resolve(alias.name.split("."), search)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = path.parent
                for _ in range(node.level - 1):
                    package = package.parent
                parts = node.module.split(".") if node.module else []
                found += _resolve(parts, [package], names=[a.name for a in node.names])
            elif node.module:
                found += _resolve(node.module.split("."), search,
                                  names=[a.name for a in node.names])
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
