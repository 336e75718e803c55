"""Step manifests: what they may say, and one clear line for each mistake."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

import pytest

from pocflow.errors import ManifestError
from pocflow.manifest import Manifest, load_manifest, manifest_schema


def write(root: Path, text: str) -> str:
    (root / "steps").mkdir(exist_ok=True)
    (root / "steps" / "step1.yaml").write_text(text, encoding="utf-8")
    return "steps/step1.yaml"


def test_load_manifest_reads_every_key(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    rel = write(
        tmp_path,
        "title: Load\ngoal: load it\ndepends_on: [Step 2, 3a]\n"
        "args: [--fast, 3]\nenv: {MODE: full, N: 2}\ninputs: [data/x.csv]\n"
        "outputs: [out/db.sqlite]\ntimeout: 30\n",
    )
    manifest = load_manifest(tmp_path, rel)
    assert manifest.title == "Load"
    assert manifest.depends_on == ("2", "3a")
    assert manifest.args == ("--fast", "3")
    assert manifest.env == (("MODE", "full"), ("N", "2"))
    assert manifest.inputs == ("data/x.csv",)
    assert manifest.outputs == ("out/db.sqlite",)
    assert manifest.timeout == 30.0
    assert manifest.lines["timeout"] == 8


def test_load_manifest_keeps_ids_and_args_as_written(tmp_path: Path) -> None:
    rel = write(tmp_path, "depends_on: [4_1, 3a]\nargs: [yes, 1_000, '007']\nenv: {ON: yes}\n")
    manifest = load_manifest(tmp_path, rel)
    assert manifest.depends_on == ("4_1", "3a")
    assert manifest.args == ("yes", "1_000", "007")
    assert manifest.env == (("ON", "yes"),)


def test_load_manifest_empty_file_is_empty_manifest(tmp_path: Path) -> None:
    assert load_manifest(tmp_path, write(tmp_path, "# nothing yet\n")).depends_on == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: [unclosed\n", r"steps/step1.yaml:2: invalid YAML"),
        ("- a list\n", r"steps/step1.yaml:1: a manifest is a mapping"),
        (
            "title: x\ndepend_on: [1]\n",
            r"steps/step1.yaml:2: unknown key 'depend_on', did you mean 'depends_on'\?",
        ),
        ("timeout: soon\n", r"steps/step1.yaml:1: 'timeout' must be a number of seconds above 0"),
        ("timeout: -1\n", r"'timeout' must be a number of seconds above 0"),
        ("timeout: true\n", r"'timeout' must be a number"),
        ("args: --fast\n", r"steps/step1.yaml:1: 'args' must be a list of text values"),
        ("env: [A]\n", r"'env' must be a mapping of names to text values"),
        ("depends_on: [one]\n", r"'depends_on' names 'one', which is not a step id"),
        ("title: [a, b]\n", r"'title' must be text, got \['a', 'b'\]"),
        (
            "inputs: [../outside.csv]\n",
            r"steps/step1.yaml:1: 'inputs' path '../outside.csv' "
            r"leaves the workspace",
        ),
        ("outputs: [/etc/passwd]\n", r"'outputs' path '/etc/passwd' leaves the workspace"),
        (
            "inputs: [a.csv]\ntitle: x\ninputs: [b.csv]\n",
            r"steps/step1.yaml:3: 'inputs' appears twice \(also at line 1\); YAML would "
            r"keep only the last: keep one",
        ),
        ("args: [a, null]\n", r"steps/step1.yaml:1: 'args' item 2 is empty \(null\); write ''"),
        (
            "env:\n  TZ: UTC\n  TZ: Europe/Paris\n",
            r"steps/step1.yaml:3: 'TZ' appears twice \(also at line 2\)",
        ),
    ],
)
def test_load_manifest_errors_name_file_line_and_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ManifestError, match=message):
        load_manifest(tmp_path, write(tmp_path, text))


def test_load_manifest_refuses_symlink_out_of_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    os.symlink(tmp_path, workspace / "escape")
    with pytest.raises(ManifestError, match="'inputs' path 'escape/x' leaves the workspace"):
        load_manifest(workspace, write(workspace, "inputs: [escape/x]\n"))


def test_load_manifest_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "step1.yaml").write_bytes(b"title: \xff\n")
    with pytest.raises(ManifestError, match="not valid UTF-8"):
        load_manifest(tmp_path, "steps/step1.yaml")


def test_manifest_schema_is_valid_json_schema_shape_and_lists_every_key() -> None:
    schema = json.loads(
        (
            Path(__file__).resolve().parents[2] / "src/pocflow/schemas/manifest.schema.json"
        ).read_text(encoding="utf-8")
    )
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {f.name for f in fields(Manifest)} - {"path", "lines"}
    for key, spec in schema["properties"].items():
        assert spec.get("description"), key
        assert spec.get("x-expected"), key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("manual: ''\n", r"'manual' must be the reason, as text"),
        ("manual: [x]\n", r"'manual' must be the reason, as text"),
        ("thresholds: rows >= 3\n", r"'thresholds' must be a list like"),
        ("depends_on: {a: 1}\n", r"'depends_on' must be a step id or a list of step ids"),
        ("inputs: ['']\n", r"'inputs' must be a list of paths inside the workspace"),
        ("env:\n  X:\n", r"step1.yaml:1: 'env' variable X has no value; write X: \"\""),
    ],
)
def test_load_manifest_schema_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        load_manifest(tmp_path, write(tmp_path, text))


def test_load_manifest_manual_reason(tmp_path: Path) -> None:
    manifest = load_manifest(tmp_path, write(tmp_path, "manual: needs the Stripe sandbox\n"))
    assert manifest.manual == "needs the Stripe sandbox"


def test_repository_schema_copy_matches_the_packaged_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pocflow.cli import main

    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    copy = Path(__file__).resolve().parents[2] / "steps" / "manifest.schema.json"
    assert copy.read_text(encoding="utf-8") == printed
    assert json.loads(printed) == manifest_schema()


@pytest.mark.e2e
@pytest.mark.parametrize("declared", ["data/tzdb/", "data/tzdb/*.tab", "data/**/*.tab"])
def test_a_declared_folder_or_glob_stands_for_the_files_under_it(
    sample: Path, declared: str
) -> None:
    from support import run_doit

    manifest = sample / "steps/step1.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            "  - data/tzdb/zone1970.tab\n  - data/tzdb/iso3166.tab\n", f"  - '{declared}'\n"
        ),
        encoding="utf-8",
    )
    first = run_doit(sample, "step:1")
    assert first.code == 0, first.out + first.err
    cache = sample / "data/tzdb/__pycache__"
    cache.mkdir()
    (cache / "x.tab").write_text("not an input\n", encoding="utf-8")
    assert "1" not in run_doit(sample, "step:1").ran_steps
    with (sample / "data/tzdb/zone1970.tab").open("a", encoding="utf-8") as data:
        data.write("# a comment line\n")
    edited = run_doit(sample, "step:1")
    assert "1" in edited.ran_steps, edited.out
    (sample / "data/tzdb/extra.tab").write_text("# new\n", encoding="utf-8")
    added = run_doit(sample, "step:1")
    assert "1" in added.ran_steps, added.out
    assert "Traceback" not in added.out + added.err


@pytest.mark.e2e
def test_a_step_writing_into_its_own_declared_input_folder_stays_verified(sample: Path) -> None:
    from support import run_doit

    manifest = sample / "steps/step1.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            "  - data/tzdb/zone1970.tab\n  - data/tzdb/iso3166.tab\n", "  - data/\n"
        ),
        encoding="utf-8",
    )
    with (sample / "PoC/step1_load.py").open("a", encoding="utf-8") as script:
        script.write(
            "\nif __name__ == '__main__':\n    import pathlib, time\n"
            "    cache = pathlib.Path('data/cache')\n    cache.mkdir(exist_ok=True)\n"
            "    (cache / 'stamp.txt').write_text(str(time.time_ns()))\n"
        )
    assert run_doit(sample, "poc-complete").code == 0
    again = run_doit(sample, "poc-complete")
    assert again.code == 0, again.out + again.err
    assert "1" not in again.ran_steps, again.out


@pytest.mark.e2e
def test_a_state_folder_of_another_name_is_no_input(sample: Path) -> None:
    import shutil

    from support import run_doit

    pyproject = sample / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            "[tool.pocflow]\n", '[tool.pocflow]\nstate_dir = "localstate"\n'
        ),
        encoding="utf-8",
    )
    shutil.rmtree(sample / ".pocflow")
    first = run_doit(sample, "--reverify", "poc-complete")
    assert first.code == 0, first.out + first.err
    again = run_doit(sample, "poc-complete")
    assert again.code == 0, again.out + again.err
    assert again.ran == [], again.out


@pytest.mark.e2e
def test_a_virtualenv_named_env_is_not_read_as_a_dotenv_file(sample: Path) -> None:
    from support import run_doit

    (sample / ".env/bin").mkdir(parents=True)
    (sample / ".env/pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    for command in (("status",), ("poc-complete",)):
        result = run_doit(sample, *command)
        assert result.code == 0, result.out + result.err
        assert "Traceback" not in result.err


@pytest.mark.e2e
@pytest.mark.parametrize("declared", ["docs/", ".", "**"])
def test_a_declared_folder_holding_what_pocflow_writes_makes_no_cycle(
    sample: Path, declared: str
) -> None:
    from support import run_doit

    (sample / "steps/step3b.yaml").write_text(f"inputs: ['{declared}']\n", encoding="utf-8")
    first = run_doit(sample, "poc-complete")
    assert first.code == 0, first.out + first.err
    assert "Cyclic" not in first.out + first.err
    again = run_doit(sample, "poc-complete")
    assert again.code == 0 and "3b" not in again.ran_steps, again.out
