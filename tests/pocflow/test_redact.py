"""Secrets: .env values and manifest-declared secrets never appear in anything pocflow writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import run_doit

from pocflow import redact
from pocflow.documents import health_checks_span
from pocflow.errors import SettingsError

TOKEN = "tok-9f8e7d6c5b4a"  # from .env
PASSWORD = 'pa"ss\\word-with-quotes'  # from the environment, declared in the manifest


def test_dotenv_is_read_with_comments_quotes_and_export(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# a comment\n\nexport A=1\nB = 'two words'\nC=\"x=y\"\nD=plain # trailing\n",
        encoding="utf-8",
    )
    assert redact.read_dotenv(tmp_path) == {"A": "1", "B": "two words", "C": "x=y", "D": "plain"}


def test_dotenv_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nnot a variable\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"^\.env:2: expected NAME=value"):
        redact.read_dotenv(tmp_path)


def test_redact_masks_values_as_written_and_as_escaped_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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


LEAKY_SCRIPT = """
if __name__ == "__main__":
    import json, os, sys
    token, password = os.environ["ATLAS_API_TOKEN"], os.environ["ATLAS_DB_PASSWORD"]
    print("token", token, "password", password)
    print("received", len(token), len(password))
    sys.stderr.write(f"debug: {token} {password}\\n")
    metrics = json.load(open(os.environ["POCFLOW_METRICS_FILE"]))
    metrics["leak"] = token + password
    json.dump(metrics, open(os.environ["POCFLOW_METRICS_FILE"], "w"))
"""

LEAKY_TEST = """

def test_leaks_and_fails() -> None:
    import os
    print("test sees", os.environ["ATLAS_API_TOKEN"])
    assert os.environ["ATLAS_DB_PASSWORD"] == "", os.environ["ATLAS_API_TOKEN"]
"""


def _leaks(text: str) -> list[str]:
    forms = {TOKEN, PASSWORD, json.dumps(PASSWORD)[1:-1]}
    return [form for form in forms if form in text]


@pytest.mark.e2e
def test_secrets_never_reach_logs_records_documents_or_output(sample: Path) -> None:
    (sample / ".env").write_text(f"# local only\nATLAS_API_TOKEN={TOKEN}\n", encoding="utf-8")
    (sample / "steps/step3b.yaml").write_text(
        "secrets: [ATLAS_API_TOKEN, ATLAS_DB_PASSWORD]\n", encoding="utf-8"
    )
    with (sample / "PoC/step3b_country_lookup.py").open("a", encoding="utf-8") as script:
        script.write(LEAKY_SCRIPT)
    with (sample / "tests/test_step3b_country_lookup.py").open("a", encoding="utf-8") as tests:
        tests.write(LEAKY_TEST)
    summary = sample.parent / "summary.md"
    env = {"ATLAS_DB_PASSWORD": PASSWORD, "GITHUB_STEP_SUMMARY": str(summary)}
    run = run_doit(sample, "poc-complete", env=env)
    assert run.code == 1  # the leaky test fails, on purpose
    assert "test_leaks_and_fails - AssertionError: [secret]" in run.out + run.err
    log = (sample / ".pocflow/runs/step3b/step3b_country_lookup.log").read_text(encoding="utf-8")
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


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("API_KEY", "abc123456", True),
        ("OPENAI_API_KEY", "sk-12345", True),
        ("GITHUB_TOKEN", "ghp_12345", True),
        ("DB_PASSWORD", "hunter22", True),
        ("SMTP_PASS", "hunter22", True),
        ("AWS_SECRET_ACCESS_KEY", "x" * 20, True),
        ("GOOGLE_APPLICATION_CREDENTIALS", "creds.json", True),
        ("BASIC_AUTH", "user:pw", True),
        ("SENTRY_DSN", "https://k@o.ingest", True),
        ("DATABASE_URL", "sqlite:///x.db", True),
        ("DB_URL", "postgres://me:hunter22@db/x", True),  # a URL with a password, whatever its name
        ("DATA_DIR", "data", False),
        ("LOG_LEVEL", "debug", False),
        ("AUTHOR", "Ada", False),
        ("KEYBOARD", "qwerty", False),
        ("DB_URL", "postgres://db/x", False),
    ],
)
def test_dotenv_variables_are_secret_when_their_name_or_value_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, secret: bool
) -> None:
    (tmp_path / ".env").write_text(f"{name}={value}\n", encoding="utf-8")
    monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(redact.NAMES_ENV, raising=False)
    try:
        redact.activate(tmp_path, set())
        assert (redact.redact(f"x {value} y") == "x [secret] y") is secret
    finally:
        monkeypatch.delenv(redact.NAMES_ENV, raising=False)
        monkeypatch.delenv(name, raising=False)
        redact.activate(tmp_path / "none", set())


def test_every_written_form_of_a_secret_is_masked_and_no_cut_keeps_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pocflow._proc import HEAD_BYTES, BoundedOutput

    monkeypatch.setenv("DB_PASSWORD", "pässwörd-ünïcode")
    monkeypatch.setenv("API_KEY", "sk-live-4f9a8b7c6d5e")
    monkeypatch.delenv(redact.NAMES_ENV, raising=False)
    try:
        redact.activate(tmp_path, {"DB_PASSWORD", "API_KEY"})
        escaped = json.dumps({"pw": "pässwörd-ünïcode"})  # \u00e4 ... (pytest's raw reports)
        assert "pssw" not in redact.redact(escaped).replace("\\u00e4", "")
        assert redact.redact(escaped) == '{"pw": "[secret]"}'
        assert redact.redact("E  key=sk-li...") == "E  key=[secret]..."  # pytest cut the line
        assert redact.redact("key=sk-live-4f9\u2026") == "key=[secret]\u2026"
        for offset in range(1, 20):  # the 64 KiB head boundary falls inside the secret
            sink = BoundedOutput()
            filler = b"x" * (HEAD_BYTES - offset)
            sink.feed(filler + b"sk-live-4f9a8b7c6d5e\n" + b"y" * (3 * 1024 * 1024))
            kept = sink.value()
            assert b"sk-l" not in kept, offset
        sink = BoundedOutput(head=16, tail=64)  # the kept tail starts inside the secret
        sink.feed(b"z" * 200 + b"sk-live-4f9a8b7c6d5e" + b"w" * 60)
        assert b"7c6d5e" not in sink.value()
    finally:
        monkeypatch.delenv(redact.NAMES_ENV, raising=False)
        redact.activate(tmp_path / "none", set())


def test_masking_never_changes_a_records_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pocflow.record import TestCase, TestResult, to_json

    monkeypatch.setenv("DB_PASSWORD", "data")  # secrets whose text is in paths and digests
    monkeypatch.setenv("API_KEY", "da7a0000")
    monkeypatch.delenv(redact.NAMES_ENV, raising=False)
    try:
        redact.activate(tmp_path, {"DB_PASSWORD", "API_KEY"})
        result = TestResult(
            step_id="1",
            outcome="failed",
            message="password data rejected",
            started_at="",
            finished_at="",
            duration_s=0.0,
            files=["tests/data/t.py"],
            tests=[
                TestCase(
                    nodeid="tests/data/t.py::test_x",
                    outcome="failed",
                    duration_s=0.0,
                    message="got data",
                )
            ],
            inputs={"data/table.csv": "da7a" + "0" * 60},
            observed=["data/table.csv"],
        )
        written = json.loads(to_json(result))
        assert written["inputs"] == {"data/table.csv": "da7a" + "0" * 60}
        assert written["observed"] == ["data/table.csv"] and written["files"] == result.files
        assert written["message"] == "password [secret] rejected"
        assert written["tests"][0]["message"] == "got [secret]"
    finally:
        monkeypatch.delenv(redact.NAMES_ENV, raising=False)
        redact.activate(tmp_path / "none", set())


@pytest.mark.e2e
def test_a_dotenv_setting_that_is_no_secret_masks_nothing_and_the_poc_stays_verified(
    sample: Path,
) -> None:
    # DATA_DIR=data masked every "data" in records ("[secret]/tzdb/..."): never verified again
    (sample / ".env").write_text("DATA_DIR=data\nATLAS_API_TOKEN=tok-1234567\n", encoding="utf-8")
    first = run_doit(sample, "--reverify", "poc-complete")
    assert first.code == 0, first.out + first.err
    record = json.loads((sample / "steps/records/step1.json").read_text(encoding="utf-8"))
    assert "data/tzdb/zone1970.tab" in record["inputs"]
    assert "[secret]" not in json.dumps(record)
    again = run_doit(sample, "poc-complete")
    assert again.code == 0 and again.ran == [], again.out


@pytest.mark.e2e
@pytest.mark.parametrize("word", ["verified", "test", "country", "docs"])
def test_a_secret_that_is_an_ordinary_word_changes_no_verdict_key_or_path(
    sample: Path, word: str
) -> None:
    (sample / ".env").write_text(f"DB_PASSWORD={word}\n", encoding="utf-8")
    # no entry in Health Checks yet: the gate's small-win check appends one whatever the day
    state_file = sample / "PROJECT_STATE.md"
    text = state_file.read_text(encoding="utf-8")
    span = health_checks_span(text)
    assert span is not None
    state_file.write_text(text[: span[0]] + "\n\n" + text[span[1] :], encoding="utf-8")
    first = run_doit(sample, "--reverify", "poc-complete")
    assert first.code == 0, first.out + first.err
    record = json.loads((sample / "steps/records/step3b.json").read_text(encoding="utf-8"))
    assert record["verdict"] == "verified" and "test" in record
    assert "PoC/step3b_country_lookup.py" in record["inputs"]
    state = (sample / "PROJECT_STATE.md").read_text(encoding="utf-8")
    assert "- Steps verified: 6/6" in state  # the entry the gate appended
    assert "[secret]" not in state
    again = run_doit(sample, "poc-complete")
    assert again.code == 0 and again.ran == [], again.out
    assert run_doit(sample, "drift").code == 0


def test_quoted_url_and_url_encoded_forms_of_a_secret_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.parse

    (tmp_path / ".env").write_text(
        "API_KEY='Zq\\'7\"mX9pLw2'\nDATABASE_URL=postgres://app:Hunter2Secret@db/atlas\n"
        'SIGNING_KEY="sk-live-xyz12345" # the production key\n',
        encoding="utf-8",
    )
    for name in ("API_KEY", "DATABASE_URL", "SIGNING_KEY", redact.NAMES_ENV):
        monkeypatch.delenv(name, raising=False)
    try:
        redact.activate(tmp_path, set())
        assert os.environ["SIGNING_KEY"] == "sk-live-xyz12345"  # no quotes, no comment
        key = os.environ["API_KEY"]
        for text in (
            repr(key),
            urllib.parse.quote(key, safe=""),
            urllib.parse.quote_plus(key),
            "password=Hunter2Secret",
            json.dumps(key),
        ):
            assert "mX9pLw2" not in redact.redact(text) and "Hunter2Secret" not in redact.redact(
                text
            ), text
    finally:
        for name in ("API_KEY", "DATABASE_URL", "SIGNING_KEY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(redact.NAMES_ENV, raising=False)
        redact.activate(tmp_path / "none", set())
