"""A damaged state store is set aside with one line, and never makes a verdict false."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from doit.dependency import JSONCodec
from support import edit, run_doit

from pocflow.fingerprint import release_digests
from pocflow.status import compute_status
from pocflow.store import DependencyStore, damage
from pocflow.workspace import load_workspace

STORE = ".pocflow/doit.sqlite"


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xffnot a database at all\n" * 100)


def _json_backend(path: Path) -> None:  # what doit's json backend writes
    path.write_text(json.dumps({"implement:1": {"deps:": []}}), encoding="utf-8")


def _other_shape(path: Path) -> None:  # a doit table, but not the one this doit writes
    path.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("create table doit (id integer, task text, data blob)")
        conn.execute("insert into doit values (1, 'implement:1', x'00')")
    conn.close()


def _bad_rows(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("update doit set task_data = 'not json {' where task_id = 'implement:1'")
        conn.execute("update doit set task_data = '[1, 2]' where task_id = 'test:2'")
    conn.close()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "garbage": _garbage,
    "another-backend": _json_backend,
    "another-shape": _other_shape,
    "unreadable-entries": _bad_rows,
}


@pytest.mark.e2e
@pytest.mark.parametrize("kind", list(DAMAGES))
def test_a_damaged_store_is_set_aside_and_every_verdict_stays_true(sample: Path, kind: str) -> None:
    # step 3b's tests now fail: a store that forgot the run must not hide that
    edit(
        sample / "tests/test_step3b_country_lookup.py",
        lambda s: s.replace('== ["Europe/Paris"]', '== ["Europe/Lyon"]'),
    )
    DAMAGES[kind](sample / STORE)
    result = run_doit(sample, "poc-complete")
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.out + result.err
    warning = [line for line in result.err.splitlines() if line.startswith("pocflow: warning")]
    assert len(warning) == 1 and STORE in warning[0], result.err
    status = compute_status(load_workspace(sample))
    assert status["3b"].standing == "failed"
    # the others' records still hold: accepted, not run; verified, or stale only because
    # 3b's run replayed the steps before it (step 1, and those extending its database),
    # which wrote away the part of a step extending the same file (the gate, which never
    # ran, adds it again) — and so their dependents
    assert result.ran_steps == {"3b"}
    for sid, one in status.items():
        if sid != "3b" and not one.is_verified:
            assert one.standing == "stale", (sid, one.reasons)
            why = ("the scripts of step ", "upstream step")
            assert one.reasons[0].startswith(why), (sid, one.reasons)
            assert "ran again here" in one.reasons[0] or "changed since" in one.reasons[0]

    edit(
        sample / "tests/test_step3b_country_lookup.py",
        lambda s: s.replace('== ["Europe/Lyon"]', '== ["Europe/Paris"]'),
    )
    fixed = run_doit(sample, "poc-complete")
    assert fixed.code == 0, fixed.out + fixed.err
    assert "pocflow: warning" not in fixed.err  # the new store is sound
    assert run_doit(sample, "poc-complete").ran == []


def test_damage_says_what_is_wrong_and_accepts_a_sound_or_missing_store(tmp_path: Path) -> None:
    store = tmp_path / "doit.sqlite"
    assert damage(store) == ""
    store.write_bytes(b"")
    assert damage(store) == ""
    with sqlite3.connect(store) as conn:
        conn.execute("create table doit (task_id text not null primary key, task_data json)")
    conn.close()
    assert damage(store) == ""
    _garbage(store)
    assert "is not an sqlite3 database" in damage(store)


@pytest.fixture
def opened() -> Iterator[None]:
    """Opening pocflow's store holds digests for the process (as a doit run does): let go."""
    yield
    release_digests()


def _store_of(path: Path, rows: dict[str, Any]) -> DependencyStore:
    """A store holding rows (task -> saved values, or raw text to store as it is), reopened."""
    first = DependencyStore(str(path), JSONCodec())
    for task, values in rows.items():
        if isinstance(values, dict):
            for name, value in values.items():
                first.set(task, name, value)
    first.dump()
    first._conn.close()
    with sqlite3.connect(path) as conn:
        for task, values in rows.items():
            if not isinstance(values, dict):
                conn.execute("insert into doit values (?, ?)", (task, values))
    conn.close()
    return DependencyStore(str(path), JSONCodec())


def test_a_store_read_in_one_query_gives_each_task_its_own_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], opened: None
) -> None:
    rows: dict[str, Any] = {
        f"test:{n}": {"inputs": {"tests/conftest.py": "ab", f"tests/test_{n}.py": str(n)}}
        for n in range(300)
    }
    rows["implement:1"] = "not json {"
    rows["implement:2"] = None  # a NULL row
    store = _store_of(tmp_path / "doit.sqlite", rows)
    assert store.get("test:7", "inputs") == {"tests/conftest.py": "ab", "tests/test_7.py": "7"}
    assert store.get("test:299", "inputs")["tests/test_299.py"] == "299"
    assert store.get("test:never", "inputs") is None
    assert capsys.readouterr().err == ""
    # a row that cannot be read costs its task only, with one warning for the run
    assert store.get("implement:1", "result:") is None
    assert store.get("implement:2", "result:") is None
    assert store.get("test:8", "inputs")["tests/test_8.py"] == "8"
    assert capsys.readouterr().err.count("pocflow: warning") == 1
    # what is forgotten stays forgotten, and what is set is read back
    store.remove("test:9")
    assert store.get("test:9", "inputs") is None
    store.set("test:9", "inputs", {"x": "1"})
    assert store.get("test:9", "inputs") == {"x": "1"}
    store.remove_all()
    assert store.get("test:10", "inputs") is None


def test_keys_repeated_across_tasks_are_kept_once(tmp_path: Path, opened: None) -> None:
    rows = {f"test:{n}": {"inputs": {"tests/conftest.py": str(n)}} for n in range(3)}
    store = _store_of(tmp_path / "doit.sqlite", rows)
    keys = [next(iter(store.get(task, "inputs"))) for task in rows]
    assert keys[0] == "tests/conftest.py"
    assert keys[0] is keys[1] is keys[2]


def test_a_view_or_a_trigger_where_doit_keeps_its_table_is_damage(tmp_path: Path) -> None:
    store = tmp_path / "doit.sqlite"
    with sqlite3.connect(store) as conn:
        conn.execute("create table other (task_id text, task_data json)")
        conn.execute("create view doit as select * from other")
    conn.close()
    assert "view" in damage(store)
    store.unlink()
    with sqlite3.connect(store) as conn:
        conn.execute("create table doit (task_id text not null primary key, task_data json)")
        conn.execute("create trigger no before insert on doit begin select raise(abort, 'no'); end")
    conn.close()
    assert "trigger" in damage(store)


def test_a_row_doit_could_not_read_the_way_it_wrote_it_costs_its_task_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], opened: None
) -> None:
    rows: dict[str, Any] = {
        "test:1": {"inputs": {"a": "1"}},
        "test:deep": "[" * 100_000 + "]" * 100_000,
        "test:listed": json.dumps({"_values_:": ["inputs"], "deps:": []}),
        "test:deps": json.dumps({"deps:": "tests/", "_values_:": {}}),
    }
    store = _store_of(tmp_path / "doit.sqlite", rows)
    for task in ("test:deep", "test:listed", "test:deps"):
        assert store._get_task_data(task) == {}
    assert store.get("test:1", "inputs") == {"a": "1"}
    assert capsys.readouterr().err.count("pocflow: warning") == 1


def test_a_tasks_settings_digest_is_doits_own_and_worked_out_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import doit.tools
    from doit.tools import config_changed

    from pocflow.phases import settings_unchanged

    settings = {"template": "abc123", "name": "Load the data"}
    saved = config_changed(dict(settings))._calc_digest()  # what doit itself saves
    encoded = []
    real_dumps = doit.tools.json.dumps
    monkeypatch.setattr(
        doit.tools.json, "dumps", lambda *a, **k: encoded.append(1) or real_dumps(*a, **k)
    )
    check = settings_unchanged(dict(settings))
    assert all(check(None, {"_config_changed": saved}) for _ in range(3))
    assert len(encoded) == 1  # encoded and hashed once, not on every check
    assert not check(None, {"_config_changed": "another digest"})
    assert not check(None, {})  # never ran: doit's own answer
    other = settings_unchanged({**settings, "template": "def456"})
    assert not other(None, {"_config_changed": saved})
