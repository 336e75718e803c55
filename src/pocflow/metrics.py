"""Step metrics: the JSON object a script writes, and the thresholds a manifest sets on it.

A step script may write one JSON object of ``name: value`` to the file named by
``$POCFLOW_METRICS_FILE``. A manifest may bound any numeric metric::

    thresholds:
      - rows >= 1000
      - p95_ms < 50

A metric outside its threshold, a missing or non-numeric metric that has a threshold, and a
metrics file that is not one JSON object each fail the step's implement phase.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the environment variable that holds the path where a step script may write its metrics
METRICS_ENV = "POCFLOW_METRICS_FILE"

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_SYMBOLS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠"}
_THRESHOLD_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.-]*)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<limit>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Threshold:
    """One bound on a metric: ``metric op limit``."""

    metric: str
    op: str
    limit: float

    @property
    def text(self) -> str:
        """The threshold as written, normalised: 'p95_ms < 50'."""
        return f"{self.metric} {self.op} {self.limit:g}"

    def holds(self, value: float) -> bool:
        """Whether value is within the threshold."""
        return _OPS[self.op](value, self.limit)


def parse_threshold(text: str) -> Threshold | None:
    """'rows >= 1000' as a Threshold; None when text is not of that form."""
    match = _THRESHOLD_RE.match(text)
    if not match:
        return None
    return Threshold(match["metric"], match["op"], float(match["limit"]))


def read_metrics(path: Path, step_id: str) -> tuple[dict[str, Any], str]:
    """(metrics, failure message) from the file a script wrote; ({}, '') when it wrote none."""
    if not path.exists():
        return {}, ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, (
            f"step {step_id}: the metrics written to ${METRICS_ENV} are not valid "
            f'JSON ({exc}); write one JSON object, e.g. {{"rows": 1200}}'
        )
    if not isinstance(data, dict):
        return {}, (
            f"step {step_id}: the metrics written to ${METRICS_ENV} must be one "
            f"JSON object of name: value, got {type(data).__name__}"
        )
    return data, ""


def check_thresholds(metrics: dict[str, Any], thresholds: list[Threshold], step_id: str) -> str:
    """A failure message naming every metric outside its threshold; '' when all hold."""
    problems = []
    for threshold in thresholds:
        value: Any = metrics.get(threshold.metric)
        if threshold.metric not in metrics:
            problems.append(
                f"metric '{threshold.metric}' was not written (threshold {threshold.text})"
            )
        elif not _is_number(value):
            problems.append(
                f"metric '{threshold.metric}' = {value!r} is not a number "
                f"(threshold {threshold.text})"
            )
        elif not threshold.holds(float(value)):
            problems.append(
                f"metric '{threshold.metric}' = {value} is outside its threshold {threshold.text}"
            )
    if not problems:
        return ""
    return f"step {step_id}: " + "; ".join(problems)


def describe_metric(value: Any, thresholds: list[Threshold]) -> str:
    """The Value cell of the Results table: '1200 (≥ 1000 ✅)'."""
    text = _format(value)
    for threshold in thresholds:
        ok = _is_number(value) and threshold.holds(float(value))
        text += f" ({_SYMBOLS[threshold.op]} {threshold.limit:g} {'✅' if ok else '❌'})"
    return text


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _format(value: Any) -> str:
    if isinstance(value, str):
        return value.replace("|", "\\|").replace("\n", " ")
    return json.dumps(value, ensure_ascii=False).replace("|", "\\|")
