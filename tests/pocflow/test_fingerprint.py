"""Fingerprints of inputs: taken once per key inside looking_once, afresh outside it; the
observer's reading of a SQLite URI."""

from __future__ import annotations

import os
import threading
from hashlib import sha256
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import examples

from pocflow import _observe
from pocflow.fingerprint import digest_of, fingerprint, looking_once, workspace_path_digest


def test_inside_looking_once_each_key_is_looked_at_once_and_afresh_after(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("one\n", encoding="utf-8")
    before = digest_of(tmp_path, "data.txt")
    with looking_once():
        assert digest_of(tmp_path, "data.txt") == before
        data.write_text("two\n", encoding="utf-8")  # nothing may change inside: shown why
        assert fingerprint(tmp_path, ["data.txt"]) == {"data.txt": before}
        with looking_once():  # nested: the outer one holds
            assert digest_of(tmp_path, "data.txt") == before
        assert digest_of(tmp_path, "data.txt") == before
    after = digest_of(tmp_path, "data.txt")
    assert after != before
    with looking_once():
        assert digest_of(tmp_path, "data.txt") == after


def test_looking_once_ends_with_an_error_too(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("one\n", encoding="utf-8")
    try:
        with looking_once():
            before = digest_of(tmp_path, "data.txt")
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    data.write_text("two\n", encoding="utf-8")
    assert digest_of(tmp_path, "data.txt") != before


@settings(max_examples=examples(600), deadline=None)
@given(st.text(alphabet=st.sampled_from(list("%aF0g9C3A8E2 é/😀z\udcff")), max_size=30))
def test_a_sqlite_uri_path_is_decoded_as_urllib_would(text: str) -> None:
    """The observer decodes a SQLite URI's %XX escapes without importing urllib.parse (a
    cost to every observed script's start): it must agree with it."""
    assert _observe._percent_decoded(text) == unquote(text)


def test_a_real_path_found_folder_by_folder_is_the_one_realpath_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's look at every loaded module's file keeps each folder's real path
    (hundreds of files, a few dozen folders): a file that is a link, a folder that is one, a
    path through `..` after a link, a relative path, a link to nowhere all resolve as
    os.path.realpath resolves them, a second time too."""
    real = tmp_path / "libs_v1"
    (real / "pkg").mkdir(parents=True)
    (real / "pkg" / "a.py").write_text("", encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "b.py").write_text("", encoding="utf-8")
    (tmp_path / "libs").symlink_to(real)
    (real / "pkg" / "b.py").symlink_to(tmp_path / "other" / "b.py")
    (real / "pkg" / "gone.py").symlink_to(tmp_path / "nowhere.py")
    (real / "pkg" / "up").symlink_to(tmp_path / "other")
    monkeypatch.chdir(tmp_path)
    paths = [
        str(tmp_path / "libs" / "pkg" / "a.py"),
        str(tmp_path / "libs" / "pkg" / "b.py"),
        str(tmp_path / "libs" / "pkg" / "gone.py"),
        str(tmp_path / "libs" / "pkg" / "up" / ".." / "pkg" / "a.py"),
        os.path.join("libs", "pkg", "a.py"),
        "a.py",
        str(tmp_path / "libs" / "pkg" / ".."),
    ]
    folders: dict[str, str] = {}
    for _ in range(2):
        for path in paths:
            assert _observe.real_path(path, folders) == os.path.realpath(path), path
    (tmp_path / "libs").unlink()  # pointed elsewhere: a new look (a new cache) follows it
    (tmp_path / "libs").symlink_to(tmp_path / "other")
    assert _observe.real_path(paths[1], {}) == os.path.realpath(paths[1])


def test_looking_once_on_one_thread_leaves_other_threads_looking_afresh(tmp_path: Path) -> None:
    """Under `doit -n N -P thread` a status may be worked out on one thread while another
    thread's task fingerprints what a script just wrote."""
    data = tmp_path / "data.txt"
    data.write_text("old\n", encoding="utf-8")
    inside, done = threading.Event(), threading.Event()

    def status() -> None:
        with looking_once():
            digest_of(tmp_path, "data.txt")
            inside.set()
            done.wait(10)

    thread = threading.Thread(target=status)
    thread.start()
    try:
        assert inside.wait(10)
        data.write_text("new content\n", encoding="utf-8")
        seen = digest_of(tmp_path, "data.txt")
    finally:
        done.set()
        thread.join()
    assert seen == digest_of(tmp_path, "data.txt") != sha256(b"old\n").hexdigest()


def test_a_venv_on_path_is_no_part_of_the_workspaces_path_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `uv run` puts the workspace's .venv/bin first on PATH: its listing differs from one uv
    # version to another (what is installed counts by the environment's packages)
    ws = tmp_path / "ws"
    (ws / ".venv/bin").mkdir(parents=True)
    (ws / ".venv/pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (ws / "bin").mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join([str(ws / ".venv/bin"), str(ws / "bin"), "/bin"]))
    before = workspace_path_digest(ws)
    (ws / ".venv/bin/activate.nu").write_text("", encoding="utf-8")
    assert workspace_path_digest(ws) == before
    (ws / "bin/greet").write_text("", encoding="utf-8")
    assert workspace_path_digest(ws) != before
    assert before.startswith("bin@") and os.pathsep not in before
    monkeypatch.setenv("PATH", "/bin")  # `.venv/bin/doit` rather than `uv run doit`
    assert workspace_path_digest(ws) == "none"
    monkeypatch.setenv("PATH", os.pathsep.join([str(ws / ".venv/bin"), "/bin"]))
    assert workspace_path_digest(ws) == "none"


def test_files_outside_the_workspace_are_hashed_once_across_runs_and_a_rerun_writes_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digests of files outside the workspace (an installation's RECORD files) are kept
    in its cache file like its own, so a second run hashes nothing and leaves the file as it
    was; a file changed since is hashed again."""
    from pocflow import fingerprint as fp

    root, outside = tmp_path / "ws", tmp_path / "site-packages" / "RECORD"
    (root / ".pocflow").mkdir(parents=True)
    (root / "inside.py").write_text("x = 1\n")
    outside.parent.mkdir()
    outside.write_text("a,b\n")
    hashed: list[str] = []

    def counting(path: Path) -> str:
        hashed.append(str(path))
        return sha256(path.read_bytes()).hexdigest()

    monkeypatch.setattr(fp, "sha256_file", counting)
    monkeypatch.setattr(fp, "_racy_ns", lambda then: -(10**18))  # no same-tick doubt here

    def a_run() -> None:
        monkeypatch.setattr(fp, "_CACHE", fp._Cache())
        fp.use_cache_file(root, ".pocflow")
        assert fp.file_digest(root / "inside.py") == sha256(b"x = 1\n").hexdigest()
        assert fp.file_digest(outside) == sha256(outside.read_bytes()).hexdigest()
        fp.save_cache_file()

    a_run()
    assert sorted(hashed) == sorted([str(root / "inside.py"), str(outside)])
    cache = root / ".pocflow" / fp.CACHE_FILE
    written = cache.stat().st_mtime_ns, cache.read_text()
    hashed.clear()
    a_run()
    assert hashed == []
    assert (cache.stat().st_mtime_ns, cache.read_text()) == written
    outside.write_text("a,b,c\n")
    a_run()
    assert hashed == [str(outside)]
