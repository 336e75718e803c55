"""Optional per-step manifests, steps/step<id>.yaml: what a file name cannot say."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pocflow.errors import ManifestError, did_you_mean, located
from pocflow.metrics import parse_threshold
from pocflow.steps import parse_step_id

#: the keys a manifest may hold; docs/reference.md explains each.
KEYS = ("title", "goal", "depends_on", "args", "env", "inputs", "outputs", "timeout",
        "thresholds")


#: keys whose values are text as written, never YAML numbers or booleans
_TEXT_KEYS = ("depends_on", "args", "env", "inputs", "outputs", "thresholds")


@dataclass(frozen=True)
class Manifest:
    """A validated manifest; every path is workspace-relative and inside the workspace."""

    path: str
    title: str = ""
    goal: str = ""
    depends_on: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    timeout: float | None = None
    thresholds: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False)


def load_manifest(root: Path, relpath: str) -> Manifest:
    """Read and validate one manifest; ManifestError names file, line and fix."""
    try:
        text = (root / relpath).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ManifestError(located(relpath, "not valid UTF-8 text; save it as UTF-8")) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ManifestError(located(relpath, f"invalid YAML: {problem}", line)) from None
    if node is None:
        return Manifest(path=relpath)
    if not isinstance(node, yaml.MappingNode):
        raise ManifestError(located(relpath, "a manifest is a mapping of keys (title, "
                                    "depends_on, inputs, ...)", node.start_mark.line + 1))
    lines = {str(k.value): k.start_mark.line + 1 for k, _v in node.value}
    data = yaml.safe_load(text)
    for key_node, value_node in node.value:
        if key_node.value in _TEXT_KEYS:
            # as written: YAML would read `4_1` as the number 41 and `yes` as True
            data[key_node.value] = _as_text(value_node)
    values: dict[str, Any] = {}
    for key, value in data.items():
        line = lines.get(str(key))
        if key not in KEYS:
            raise ManifestError(located(
                relpath, f"unknown key '{key}'{did_you_mean(str(key), KEYS)}", line))
        values[key] = _check(relpath, root, key, value, line)
    return Manifest(path=relpath, lines=lines, **values)


def _as_text(node: yaml.Node) -> Any:
    """A node with every plain scalar kept as the text written (null stays None)."""
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag.endswith(":null") else str(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_as_text(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _as_text(v) for k, v in node.value}
    return None


def _check(relpath: str, root: Path, key: str, value: Any, line: int | None) -> Any:
    """The value of key, normalised; ManifestError when it has the wrong type."""
    def fail(expected: str) -> ManifestError:
        return ManifestError(located(relpath, f"'{key}' must be {expected}, got {value!r}", line))

    if key in ("title", "goal"):
        if not isinstance(value, str):
            raise fail("text")
        return value.strip()
    if key == "timeout":
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise fail("a number of seconds above 0")
        return float(value)
    if key == "env":
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
                for k, v in value.items()):
            raise fail("a mapping of names to text values")
        return tuple(sorted((k, str(v)) for k, v in value.items()))
    if key == "depends_on":
        items = [value] if isinstance(value, str | int) else value
        if not isinstance(items, list):
            raise fail("a step id or a list of step ids")
        ids = []
        for item in items:
            step_id = parse_step_id(str(item))
            if step_id is None:
                raise ManifestError(located(relpath, f"'depends_on' names {item!r}, which is "
                                            "not a step id (e.g. 1, 3a, 4_1)", line))
            ids.append(step_id)
        return tuple(ids)
    if key == "thresholds":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("a list like ['rows >= 1000', 'p95_ms < 50']")
        bounds = []
        for text in value:
            threshold = parse_threshold(text)
            if threshold is None:
                raise ManifestError(located(relpath, f"threshold {text!r} is not "
                                            "'<metric> <op> <number>' with op one of "
                                            ">=, <=, >, <, ==, != (e.g. 'rows >= 1000')", line))
            bounds.append(threshold.text)
        return tuple(bounds)
    # args, inputs, outputs: lists of text
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise fail("a list of text values")
    texts = [str(v) for v in value]
    if key in ("inputs", "outputs"):
        return tuple(inside_workspace(root, relpath, key, text, line) for text in texts)
    return tuple(texts)


def inside_workspace(root: Path, relpath: str, key: str, item: str,
                     line: int | None) -> str:
    """Normalise a declared path; refuse one that leaves the workspace (.., absolute, symlink)."""
    candidate = Path(item)
    resolved_root = root.resolve()
    if candidate.is_absolute() or ".." in candidate.parts:
        escapes = True
    else:
        escapes = not (root / candidate).resolve().is_relative_to(resolved_root)
    if escapes:
        raise ManifestError(located(relpath, f"'{key}' path {item!r} leaves the workspace; "
                                    "use a path inside it, relative to the workspace root", line))
    return candidate.as_posix()
