"""Metrics and thresholds: parsing, checking, and the step verdicts they decide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import edit, run_doit

from pocflow.metrics import check_thresholds, describe_metric, parse_threshold, read_metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rows >= 1000", "rows >= 1000"),
        ("p95_ms<50", "p95_ms < 50"),
        (" ratio == 1.5 ", "ratio == 1.5"),
        ("errors != 0", "errors != 0"),
        ("x > -2e3", "x > -2000"),
    ],
)
def test_parse_threshold(text: str, expected: str) -> None:
    threshold = parse_threshold(text)
    assert threshold is not None and threshold.text == expected


@pytest.mark.parametrize("text", ["rows", "rows >= many", ">= 3", "rows => 3", "rows >= 1 2"])
def test_parse_threshold_rejects(text: str) -> None:
    assert parse_threshold(text) is None


def bounds(*texts: str) -> list:  # type: ignore[type-arg]
    return [parse_threshold(t) for t in texts]


def test_check_thresholds_pass() -> None:
    assert (
        check_thresholds({"rows": 1200, "p95_ms": 12.5}, bounds("rows >= 1000", "p95_ms < 50"), "1")
        == ""
    )


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"rows": 10}, "step 1: metric 'rows' = 10 is outside its threshold rows >= 1000"),
        ({}, "step 1: metric 'rows' was not written (threshold rows >= 1000)"),
        ({"rows": "many"}, "step 1: metric 'rows' = 'many' is not a number"),
        ({"rows": True}, "is not a number"),
        ({"rows": float("nan")}, "is not a number"),
    ],
)
def test_check_thresholds_fail(metrics: dict[str, object], message: str) -> None:
    assert message in check_thresholds(metrics, bounds("rows >= 1000"), "1")


def test_describe_metric_shows_verdict() -> None:
    assert describe_metric(1200, bounds("rows >= 1000")) == "1200 (≥ 1000 ✅)"
    assert describe_metric(72.5, bounds("p95_ms < 50")) == "72.5 (< 50 ❌)"
    assert describe_metric("a|b", []) == "a\\|b"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("{", "are not valid JSON"),
        ("[]", "must be one JSON object"),
        ("", "not valid JSON"),
    ],
)
def test_read_metrics_invalid(tmp_path: Path, written: str, message: str) -> None:
    (tmp_path / "m.json").write_text(written, encoding="utf-8")
    metrics, failure = read_metrics(tmp_path / "m.json", "1")
    assert metrics == {} and message in failure


@pytest.mark.e2e
def test_threshold_out_of_range_fails_step_then_passes_when_relaxed(sample: Path) -> None:
    manifest = sample / "steps/step4.yaml"
    manifest.write_text("thresholds:\n  - probes >= 1000\n  - p95_ms < 1000\n", encoding="utf-8")
    result = run_doit(sample, "step:4")
    assert result.code == 1
    assert (
        "step 4: metric 'probes' = 264 is outside its threshold probes >= 1000 "
        "(thresholds set at steps/step4.yaml:1)" in result.out + result.err
    )
    record = json.loads((sample / "steps/records/step4.json").read_text(encoding="utf-8"))
    assert record["verdict"] == "failed"

    edit(manifest, lambda s: s.replace("probes >= 1000", "probes >= 200"))
    result = run_doit(sample, "step:4")
    assert result.code == 0, result.out + result.err
    doc = (sample / "docs/time-zone-atlas-step4-results.md").read_text(encoding="utf-8")
    assert "| probes | 264 (≥ 200 ✅) |" in doc


@pytest.mark.e2e
def test_invalid_threshold_in_manifest_is_exit_3(sample: Path) -> None:
    (sample / "steps/step4.yaml").write_text("thresholds: [probes => 3]\n", encoding="utf-8")
    result = run_doit(sample, "step:4")
    assert result.code == 3
    assert (
        "steps/step4.yaml:1: threshold 'probes => 3' is not '<metric> <op> <number>'" in result.err
    )
