"""Production-grade signals and the checklist gate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import edit, run_doit

from pocflow import signals
from pocflow.signals import find_signals
from pocflow.workspace import load_workspace

PLAN = """# PoC 1 Implementation Plan: Demo

## Implementation Steps

### Step 1: Fetch
**Goal**: fetch. Uses `PoC/client.py`.

## Production-Grade Checklist
- [x] **Real integration**: yes
"""


def workspace(root: Path, files: dict[str, str]) -> Path:
    base = {
        "docs/poc1-implementation.md": PLAN,
        "PoC/step1_fetch.py": '"""F.\n\nUsage: x\n"""\n',
        "PoC/client.py": "",
    }
    for rel, text in {**base, **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("source", "library"),
    [
        ("from unittest.mock import patch\n", "unittest.mock"),
        ("from unittest import mock\n", "unittest.mock"),
        ("import mock\n", "mock"),
        ("import responses\n", "responses"),
        ("import requests_mock as rm\n", "requests-mock"),
        ("from moto import mock_aws\n", "moto"),
    ],
)
def test_find_signals_mocking_imports(tmp_path: Path, source: str, library: str) -> None:
    ws = load_workspace(workspace(tmp_path, {"tests/test_step1_fetch.py": source}))
    assert [str(s) for s in find_signals(ws)] == [
        f"tests/test_step1_fetch.py:1: imports {library}; the method asks for real "
        "integrations, not mocks"
    ]


def test_find_signals_mocker_fixture(tmp_path: Path) -> None:
    ws = load_workspace(
        workspace(tmp_path, {"tests/test_step1_fetch.py": "def test_x(mocker):\n    pass\n"})
    )
    assert [s.kind for s in find_signals(ws)] == ["mocking"]


NESTED_MOCKING = """\
import json
if True:
    class TestFetch:
        def test_fetch(self, mocker):
            pass
def helper():
    try:
        import json
    except ImportError:
        from unittest import mock
    return [lambda: __import__("responses")]
match 1:
    case 1:
        async def test_later(mocker):
            pass
"""


def test_mocking_is_found_in_every_kind_of_block_and_not_in_expressions(tmp_path: Path) -> None:
    ws = load_workspace(workspace(tmp_path, {"tests/test_step1_fetch.py": NESTED_MOCKING}))
    assert [(s.line, s.text.split(";")[0]) for s in find_signals(ws)] == [
        (4, "uses the pytest-mock `mocker` fixture"),
        (14, "uses the pytest-mock `mocker` fixture"),
        (10, "imports unittest.mock"),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import \uff4d\uff4f\uff43\uff4b\n".encode(),  # fullwidth letters: Python reads mock
        b"# coding: utf-7\nimport +AG0-ock\n",  # mock, in UTF-7
    ],
    ids=["fullwidth", "utf-7"],
)
def test_a_mocking_import_spelled_in_other_characters_is_found(
    tmp_path: Path, source: bytes
) -> None:
    root = workspace(tmp_path, {})
    (root / "tests").mkdir()
    (root / "tests/test_step1_fetch.py").write_bytes(source)
    found = find_signals(load_workspace(root))
    assert [(s.path, s.line, s.text.split(";")[0]) for s in found] == [
        ("tests/test_step1_fetch.py", 1 + source.count(b"coding"), "imports mock")
    ]


SECRET_VALUE = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzz"


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("KEY = 'AKIA" + "ABCDEFGHIJKLMNOP'\n", "an AWS access key id"),
        ("-----BEGIN RSA PRIVATE KEY-----\n", "a private key"),
        ("token = 'ghp_" + "a" * 36 + "'\n", "a GitHub token"),
        (f"api_key = '{SECRET_VALUE}'\n", "a password or key assigned in code"),
        (f'{{"db_password": "{SECRET_VALUE}"}}\n', "a password or key assigned in code"),
    ],
)
def test_find_signals_secrets_located_never_printed(tmp_path: Path, source: str, kind: str) -> None:
    ws = load_workspace(workspace(tmp_path, {"PoC/client.py": source}))
    signals = find_signals(ws)
    assert [str(s) for s in signals] == [
        f"PoC/client.py:1: looks like {kind} written into the file; read it from the "
        "environment instead, and rotate it if it was ever committed"
    ]
    assert SECRET_VALUE not in str(signals[0]) and "AKIA" not in str(signals[0])


@pytest.mark.parametrize("conftest", ["conftest.py", "tests/conftest.py"])
def test_a_secret_in_any_conftest_pytest_loads_is_found(tmp_path: Path, conftest: str) -> None:
    files = {
        "tests/test_step1_fetch.py": "def test_x():\n    pass\n",
        conftest: f"api_key = '{SECRET_VALUE}'\n",
    }
    signals = find_signals(load_workspace(workspace(tmp_path, files)))
    assert [s.path for s in signals] == [conftest]


@pytest.mark.parametrize(
    "source",
    [
        "api_key = os.environ['API_KEY']\n",
        "password = 'changeme-please'\n",
        "token = '<your token here>'\n",
        "api_key = 'short'\n",
    ],
)
def test_find_signals_ignores_environment_and_placeholders(tmp_path: Path, source: str) -> None:
    assert find_signals(load_workspace(workspace(tmp_path, {"PoC/client.py": source}))) == []


def test_find_signals_files_the_plan_does_not_name(tmp_path: Path) -> None:
    ws = load_workspace(
        workspace(
            tmp_path, {"PoC/scratch.py": "", "PoC/notes.txt": "", "tests/test_step1_fetch.py": ""}
        )
    )
    assert [str(s) for s in find_signals(ws)] == [
        "PoC/notes.txt: the plan (docs/poc1-implementation.md) does not mention this file; "
        "say there what it is for, or remove it",
        "PoC/scratch.py: the plan (docs/poc1-implementation.md) does not mention this file; "
        "say there what it is for, or remove it",
    ]


def test_signals_are_kept_by_content_and_found_again_when_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test = tmp_path / "tests" / "test_step1_fetch.py"
    ws = load_workspace(workspace(tmp_path, {"tests/test_step1_fetch.py": "import mock\n"}))
    first = [str(s) for s in find_signals(ws)]
    assert first == [
        "tests/test_step1_fetch.py:1: imports mock; the method asks for real integrations, "
        "not mocks"
    ]
    assert ws.signals_cache.is_file()
    with monkeypatch.context() as patched:  # unchanged files are not parsed again
        patched.setattr(signals, "_mocking", lambda root, rel: pytest.fail(f"parsed {rel}"))
        patched.setattr(signals, "_secrets", lambda root, rel: pytest.fail(f"read {rel}"))
        assert [str(s) for s in find_signals(ws)] == first
    # the same size and modification time, another library: found by content
    info = test.stat()
    test.write_text("import pook\n", encoding="utf-8")
    os.utime(test, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert [s.text for s in find_signals(ws)] == [
        "imports pook; the method asks for real integrations, not mocks"
    ]
    test.write_text("import json\n", encoding="utf-8")
    assert find_signals(ws) == []


@pytest.mark.parametrize("cache", ["not json", '{"format": 1, "files": {"mocking:x": 3}}', "[]"])
def test_an_unreadable_signals_cache_is_scanned_again(tmp_path: Path, cache: str) -> None:
    ws = load_workspace(workspace(tmp_path, {"tests/test_step1_fetch.py": "import mock\n"}))
    ws.signals_cache.parent.mkdir(parents=True)
    ws.signals_cache.write_text(cache, encoding="utf-8")
    assert [s.kind for s in find_signals(ws)] == ["mocking"]
    key = "mocking:tests/test_step1_fetch.py"
    broken = '{"format": 1, "files": {"' + key + '": ["' + "0" * 64 + '", [[1, "x"]]]}}'
    ws.signals_cache.write_text(broken, encoding="utf-8")  # another content's entry
    assert next(s.text for s in find_signals(ws)).startswith("imports mock")


def test_find_signals_sample_is_clean() -> None:
    assert find_signals(load_workspace(Path(__file__).resolve().parents[2])) == []


@pytest.mark.e2e
def test_gate_fails_on_unticked_checklist_and_lists_items(sample: Path) -> None:
    edit(
        sample / "docs/poc1-implementation.md",
        lambda s: s.replace("- [x] **Runs offline**", "- [ ] **Runs offline**").replace(
            "- [x] **Edge cases**", "- [ ] **Edge cases**"
        ),
    )
    result = run_doit(sample, "poc-complete")
    assert result.code == 1
    output = result.out + result.err
    # the gate takes its record of the suite and checks the rest: not said up to date
    assert ".  poc-complete  (checking: " in result.out, result.out
    assert "-- poc-complete" not in result.out
    assert (
        "PoC 1: 2 of 4 Production-Grade Checklist items are not ticked in "
        "docs/poc1-implementation.md:" in output
    )
    plan_lines = (sample / "docs/poc1-implementation.md").read_text(encoding="utf-8").splitlines()
    line = 1 + next(i for i, text in enumerate(plan_lines) if "**Edge cases**" in text)
    assert (
        f"docs/poc1-implementation.md:{line}: - [ ] **Edge cases**: both coordinate forms" in output
    )


@pytest.mark.e2e
def test_gate_reports_signals_in_output_and_results_doc(sample: Path) -> None:
    edit(
        sample / "tests/test_step1_load.py",
        lambda s: s.replace("import pytest\n", "import pytest\nfrom unittest import mock\n", 1),
    )
    (sample / "PoC/scratch.py").write_text("", encoding="utf-8")
    result = run_doit(sample, "poc-complete")
    assert result.code == 0, result.out + result.err
    for line in (
        "pocflow: signal: tests/test_step1_load.py:",
        "imports unittest.mock",
        "pocflow: signal: PoC/scratch.py: the plan",
    ):
        assert line in result.err
    doc = (sample / "docs/poc1-results.md").read_text(encoding="utf-8")
    assert "- ⚠️ PoC/scratch.py: the plan (docs/poc1-implementation.md) does not mention" in doc
