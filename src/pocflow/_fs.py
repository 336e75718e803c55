"""File-system primitives: atomic writes, content hashes, cross-process locks."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """Write text to path through a temporary file and a rename, so readers never see half.

    ``durable``: flush the file to disk before the rename (records and documents). Local run
    files skip it: a power cut can at worst leave one unreadable, and it is then recomputed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, mode)  # mkstemp makes it 0600: keep the file's own bits
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _mode_for(path: Path) -> int:
    """The permission bits a rewritten file keeps (its own), or a new file gets (0666 less
    the umask, as open() would give it)."""
    try:
        info = os.lstat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it back at once
    os.umask(mask)
    return mask


#: the end of the name of a temporary file atomic_write_text has not yet renamed
TEMP_SUFFIX = ".pocflow-tmp"


def sweep_temporaries(folder: Path, below: bool = False) -> list[Path]:
    """Remove the temporary files that killed writes left in folder (and in every folder
    below it with ``below``; links to folders are not followed).

    Only safe while no write can be under way: the run lock is held."""
    removed = []
    pending = [str(folder)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                            removed.append(Path(entry.path))
                    elif below and entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except (FileNotFoundError, NotADirectoryError):
            continue
    return removed


def stamp(info: os.stat_result) -> tuple[int, int, int, int]:
    """(size, mtime_ns, ctime_ns, inode) of a stat result: a file whose stamp is unchanged
    has not been written since (but see pocflow.fingerprint on racy stamps)."""
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive (or ``shared``) advisory lock on path (created if missing) for the
    block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def leaves(root: Path, relative: str) -> str:
    """How a path meant to be relative to ``root`` leaves it: ``"by name"`` (absolute, or
    climbing out with ``..``), ``"through a symlink, to <target>"``; '' when it stays inside."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        return "by name"
    resolved = (root / candidate).resolve()
    return "" if resolved.is_relative_to(root.resolve()) else f"through a symlink, to {resolved}"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file pocflow wrote; None when absent, unreadable or a link (a
    record or run file that is a symbolic link is not followed)."""
    try:
        if path.is_symlink():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
