"""Secrets: .env values and manifest-declared secrets never appear in anything pocflow writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import run_doit

from pocflow import redact
from pocflow.errors import SettingsError

TOKEN = "tok-9f8e7d6c5b4a"  # from .env
PASSWORD = 'pa"ss\\word-with-quotes'  # from the environment, declared in the manifest


def test_dotenv_is_read_with_comments_quotes_and_export(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# a comment\n\nexport A=1\nB = 'two words'\nC=\"x=y\"\nD=plain # trailing\n",
        encoding="utf-8")
    assert redact.read_dotenv(tmp_path) == {"A": "1", "B": "two words", "C": "x=y",
                                            "D": "plain"}


def test_dotenv_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nnot a variable\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"^\.env:2: expected NAME=value"):
        redact.read_dotenv(tmp_path)


def test_redact_masks_values_as_written_and_as_escaped_in_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_ONE", PASSWORD)
    monkeypatch.setenv("SHORT", "ab")
    monkeypatch.delenv(redact.NAMES_ENV, raising=False)
    redact.activate(tmp_path, {"SECRET_ONE", "SHORT"})
    try:
        assert redact.redact(f"pw={PASSWORD}!") == "pw=[secret]!"
        assert PASSWORD not in redact.redact(json.dumps({"pw": PASSWORD}))
        assert json.loads(redact.redact(json.dumps({"pw": PASSWORD}))) == {"pw": "[secret]"}
        assert redact.redact_bytes(PASSWORD.encode()) == b"[secret]"
        assert redact.redact("ab stays: too short to mask") == "ab stays: too short to mask"
    finally:
        monkeypatch.delenv(redact.NAMES_ENV, raising=False)
        redact.activate(tmp_path, set())


LEAKY_SCRIPT = '''
if __name__ == "__main__":
    import json, os, sys
    token, password = os.environ["ATLAS_API_TOKEN"], os.environ["ATLAS_DB_PASSWORD"]
    print("token", token, "password", password)
    print("received", len(token), len(password))
    sys.stderr.write(f"debug: {token} {password}\\n")
    metrics = json.load(open(os.environ["POCFLOW_METRICS_FILE"]))
    metrics["leak"] = token + password
    json.dump(metrics, open(os.environ["POCFLOW_METRICS_FILE"], "w"))
'''

LEAKY_TEST = '''

def test_leaks_and_fails() -> None:
    import os
    print("test sees", os.environ["ATLAS_API_TOKEN"])
    assert os.environ["ATLAS_DB_PASSWORD"] == "", os.environ["ATLAS_API_TOKEN"]
'''


def _leaks(text: str) -> list[str]:
    forms = {TOKEN, PASSWORD, json.dumps(PASSWORD)[1:-1]}
    return [form for form in forms if form in text]


def test_secrets_never_reach_logs_records_documents_or_output(sample: Path) -> None:
    (sample / ".env").write_text(f"# local only\nATLAS_API_TOKEN={TOKEN}\n", encoding="utf-8")
    (sample / "steps/step3b.yaml").write_text(
        "secrets: [ATLAS_API_TOKEN, ATLAS_DB_PASSWORD]\n", encoding="utf-8")
    with (sample / "PoC/step3b_country_lookup.py").open("a", encoding="utf-8") as script:
        script.write(LEAKY_SCRIPT)
    with (sample / "tests/test_step3b_country_lookup.py").open("a", encoding="utf-8") as tests:
        tests.write(LEAKY_TEST)
    summary = sample.parent / "summary.md"
    env = {"ATLAS_DB_PASSWORD": PASSWORD, "GITHUB_STEP_SUMMARY": str(summary)}
    run = run_doit(sample, "poc-complete", env=env)
    assert run.code == 1  # the leaky test fails, on purpose
    assert "test_leaks_and_fails - AssertionError: [secret]" in run.out + run.err
    log = (sample / ".pocflow/runs/step3b/step3b_country_lookup.log").read_text(
        encoding="utf-8")
    assert f"received {len(TOKEN)} {len(PASSWORD)}" in log  # the script did get both values
    outputs = {"doit output": run.out + run.err, "step summary": summary.read_text("utf-8")}
    for command in (("status",), ("status", "--json"), ("drift",)):
        done = run_doit(sample, *command, env=env)
        outputs[" ".join(command)] = done.out + done.err
    for path in sample.rglob("*"):
        if path.is_file() and path.name != ".env" and "__pycache__" not in path.parts:
            outputs[str(path.relative_to(sample))] = path.read_bytes().decode("utf-8", "replace")
    leaked = {where: _leaks(text) for where, text in outputs.items() if _leaks(text)}
    assert leaked == {}
    assert os.environ.get("ATLAS_API_TOKEN") is None  # the test process is untouched
