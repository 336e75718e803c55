"""The test phase: run step tests under pytest with pytest-json-report, one verdict per step.

The phase sits behind ``TestRunner``: it takes several steps' test selections at once and
returns one ``TestResult`` per step, so the tests of many steps can share one pytest session
and still be judged step by step. Tests are attributed to a step by their file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from doit.exceptions import TaskFailed

from pocflow.record import TestCase, TestResult, fingerprint, now_iso, write_record

FAILURE_NAMES_SHOWN = 5
_PASSING = ("passed", "skipped", "xfailed")


@dataclass(frozen=True)
class TestSelection:
    """One step's tests, and the inputs whose fingerprints its verdict stands on."""

    __test__ = False  # not a pytest test class, despite its name

    step_id: str
    files: tuple[str, ...]
    inputs: tuple[str, ...]


class TestRunner(Protocol):
    """Runs the tests of one or more steps; returns a verdict per step."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    def run(self, root: Path, selections: Sequence[TestSelection],
            report_dir: Path) -> dict[str, TestResult]:
        """Run every selection's files; one result per selection's step id."""


class PytestJsonRunner:
    """One pytest session over all selections, its JSON report split per step by file."""

    def run(self, root: Path, selections: Sequence[TestSelection],
            report_dir: Path) -> dict[str, TestResult]:
        """Run every selection's files in one pytest subprocess."""
        started, start = now_iso(), time.monotonic()
        inputs = {s.step_id: fingerprint(root, list(s.inputs)) for s in selections}
        files = sorted({f for s in selections for f in s.files})
        results: dict[str, TestResult] = {}
        if not files:
            report: dict[str, Any] = {}
            exit_code: int | None = None
            stderr = ""
        else:
            report_dir.mkdir(parents=True, exist_ok=True)
            report_file = report_dir / "pytest-report.json"
            report_file.unlink(missing_ok=True)
            command = [
                sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider",
                "--continue-on-collection-errors", "--json-report",
                f"--json-report-file={report_file}",
                "--json-report-omit", "log", "streams", "keywords", "warnings",
                f"--rootdir={root}",
            ]
            with (report_dir / "pytest.log").open("wb") as log:
                done = subprocess.run(command, cwd=root, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.PIPE, check=False)
                log.write(done.stderr)
            exit_code = done.returncode
            stderr = done.stderr.decode("utf-8", errors="replace")
            report = _load_report(report_file)
        duration = round(time.monotonic() - start, 3)
        for selection in selections:
            results[selection.step_id] = judge(selection, report, exit_code, stderr,
                                               started, duration, inputs[selection.step_id])
        return results


def judge(selection: TestSelection, report: dict[str, Any], exit_code: int | None,
          stderr: str, started: str, duration: float, inputs: dict[str, str]) -> TestResult:
    """The verdict of one step from its share of a pytest JSON report."""
    own = set(selection.files)
    cases = [_case(t) for t in report.get("tests", []) if _file_of(t["nodeid"]) in own]
    errors = [f"{c['nodeid']}: {_error_line(c.get('longrepr', ''))}"
              for c in report.get("collectors", [])
              if c.get("outcome") == "failed" and _file_of(c["nodeid"]) in own]
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    counts["total"] = len(cases)
    result = TestResult(
        step_id=selection.step_id, outcome="passed", message="", started_at=started,
        finished_at=now_iso(), duration_s=duration, files=list(selection.files),
        counts=counts, tests=cases, collection_errors=errors, exit_code=exit_code, inputs=inputs)
    sid = selection.step_id
    if not selection.files:
        result.message = (f"step {sid} has no test file; add tests/test_step{sid}_"
                          "<description>.py with at least one test")
    elif not report:
        tail = "\n".join(stderr.strip().splitlines()[-10:])
        result.message = (f"step {sid}: pytest ended with code {exit_code} and wrote no report"
                          + (f":\n{tail}" if tail else ""))
    elif errors:
        result.message = (f"step {sid}: {len(errors)} test file(s) failed to load:\n"
                          + "\n".join(f"    {e}" for e in errors))
    elif not cases:
        result.message = (f"step {sid}: no tests collected from {', '.join(selection.files)}; "
                          "a step is verified only by tests that run")
    elif result.failing:
        shown = "\n".join(f"    {t.nodeid}" + (f" - {t.message}" if t.message else "")
                          for t in result.failing[:FAILURE_NAMES_SHOWN])
        more = len(result.failing) - FAILURE_NAMES_SHOWN
        result.message = (f"step {sid}: {len(result.failing)} of {len(cases)} tests failed:\n"
                          + shown + (f"\n    ... and {more} more" if more > 0 else ""))
    if result.message:
        result.outcome = "failed"
    return result


def run_tests(root: str, selection: TestSelection, report_dir: str,
              result_file: str) -> TaskFailed | None:
    """doit action: the test phase of one step."""
    base = Path(root)
    result = PytestJsonRunner().run(base, [selection], base / report_dir)[selection.step_id]
    write_record(base / result_file, result)
    return TaskFailed(result.message) if result.outcome != "passed" else None


def _case(test: dict[str, Any]) -> TestCase:
    duration = sum(float(test.get(p, {}).get("duration", 0.0))
                   for p in ("setup", "call", "teardown"))
    message = ""
    if test["outcome"] not in _PASSING:
        for phase in ("setup", "call", "teardown"):
            crash = test.get(phase, {}).get("crash") or {}
            if test.get(phase, {}).get("outcome") == "failed":
                message = _first_line(crash.get("message", ""))
                break
    return TestCase(nodeid=test["nodeid"], outcome=test["outcome"],
                    duration_s=round(duration, 4), message=message)


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _error_line(longrepr: str) -> str:
    """The exception line of a collection error ('E   ModuleNotFoundError: ...')."""
    flagged = [line[1:].strip() for line in str(longrepr).splitlines() if line.startswith("E ")]
    return flagged[-1][:200] if flagged else _first_line(longrepr)


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def _load_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
