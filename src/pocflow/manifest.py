"""Optional per-step manifests, steps/step<id>.yaml: what a file name cannot say.

The keys and their types are defined once, by the JSON Schema shipped with the package
(``pocflow/schemas/manifest.schema.json``), which editors can use to complete and check
manifests; this module validates against it and adds what a schema cannot know: step ids,
paths that must stay inside the workspace, thresholds that must parse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocflow._fs import leaves
from pocflow.errors import ManifestError, did_you_mean, located, shown
from pocflow.metrics import parse_threshold
from pocflow.schema import first_violation, load_schema
from pocflow.steps import parse_step_id

SCHEMA_FILE = "manifest.schema.json"


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of step manifests."""
    return load_schema(SCHEMA_FILE)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest; every path is workspace-relative and inside the workspace."""

    path: str
    title: str = ""
    goal: str = ""
    depends_on: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    timeout: float | None = None
    thresholds: tuple[str, ...] = ()
    manual: str = ""
    lines: dict[str, int] = field(default_factory=dict, compare=False)


def load_manifest(root: Path, relpath: str) -> Manifest:
    """Read and validate one manifest; ManifestError names file, line and fix."""
    import yaml  # only workspaces with manifests pay for it

    try:
        text = (root / relpath).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ManifestError(located(relpath, "not valid UTF-8 text; save it as UTF-8")) from None
    if len(text) > MAX_MANIFEST_CHARS:
        raise ManifestError(
            located(
                relpath,
                f"{len(text):,} characters; a manifest is at most "
                f"{MAX_MANIFEST_CHARS:,}: put data in files it names",
            )
        )
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:  # YAML's parser descends once per level of nesting
        raise ManifestError(located(relpath, "values nested more than 100 deep")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ManifestError(located(relpath, f"invalid YAML: {problem}", line)) from None
    if node is None:
        return Manifest(path=relpath)
    _refuse_alias_bombs(relpath, node)
    _refuse_repeated_keys(relpath, node)
    if not isinstance(node, yaml.MappingNode):
        raise ManifestError(
            located(
                relpath,
                "a manifest is a mapping of keys (title, depends_on, inputs, ...)",
                node.start_mark.line + 1,
            )
        )
    schema = manifest_schema()["properties"]
    lines: dict[str, int] = {}
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise ManifestError(
                located(
                    relpath,
                    "a key is a word (title, depends_on, ...), not a list or a mapping",
                    line,
                )
            )
        key = str(key_node.value)
        lines[key] = line
        if key not in schema:
            raise ManifestError(
                located(relpath, f"unknown key '{key}'{did_you_mean(key, schema)}", line)
            )
        # text as written: YAML would read `4_1` as the number 41 and `yes` as True
        value = (
            _as_text(value_node)
            if _wants_text(schema[key])
            else yaml.safe_load(yaml.serialize(value_node))
        )
        problem = _violation(value, schema[key])
        if problem is not None:
            raise ManifestError(located(relpath, _explain(key, value, problem, schema[key]), line))
        values[key] = _normalise(root, relpath, key, value, line)
    return Manifest(path=relpath, lines=lines, **values)


#: a manifest holds a few keys; more text than this is a mistake (or an attack)
MAX_MANIFEST_CHARS = 64 * 1024
#: values a manifest may hold once YAML's aliases are expanded ("billion laughs": nine
#: lines of anchors and aliases expand to 10^9 values)
MAX_MANIFEST_VALUES = 10_000


def _refuse_alias_bombs(relpath: str, root: Any) -> None:
    """Count the values the node graph holds with every alias expanded — without expanding
    it (each shared node is counted once, then reused) — and refuse more than the limit."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if depth > 100:
            raise ManifestError(
                located(relpath, "values nested more than 100 deep", node.start_mark.line + 1)
            )
        sizes[id(node)] = MAX_MANIFEST_VALUES + 1  # a node inside itself: too many
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        else:
            total = 1
        sizes[id(node)] = total = min(total, MAX_MANIFEST_VALUES + 1)
        return total

    if size(root, 0) > MAX_MANIFEST_VALUES:
        raise ManifestError(
            located(
                relpath,
                f"its aliases expand to more than "
                f"{MAX_MANIFEST_VALUES:,} values; write the values out "
                "instead of repeating anchors (*name)",
            )
        )


def _refuse_repeated_keys(relpath: str, node: Any) -> None:
    """A key written twice in one mapping: YAML keeps the last silently, so a list of inputs
    written above would be lost without a word. (Nodes shared through aliases are looked at
    once.)"""
    import yaml

    seen: set[int] = set()
    todo = [node]
    while todo:
        one = todo.pop()
        if id(one) in seen:
            continue
        seen.add(id(one))
        if isinstance(one, yaml.SequenceNode):
            todo.extend(one.value)
        elif isinstance(one, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in one.value:
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    if key_node.value in first:
                        raise ManifestError(
                            located(
                                relpath,
                                f"'{key_node.value}' appears twice (also at line "
                                f"{first[key_node.value]}); YAML would keep only the last: "
                                "keep one",
                                line,
                            )
                        )
                    first[key_node.value] = line
                todo.append(value_node)


def _wants_text(spec: dict[str, Any]) -> bool:
    """Whether a key holds text (or lists/mappings of text) rather than numbers."""
    types = spec.get("type")
    kinds = set(types) if isinstance(types, list) else {types}
    return "number" not in kinds and (
        "string" in kinds
        or spec.get("items", {}).get("type") == "string"
        or spec.get("additionalProperties", {}).get("type") == "string"
    )


def _as_text(node: Any) -> Any:
    """A node with every plain scalar kept as the text written (null stays None)."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return None if node.tag.endswith(":null") else str(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_as_text(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _as_text(v) for k, v in node.value}
    return None


def _violation(value: Any, spec: dict[str, Any]) -> Any | None:
    """None when value fits the schema spec; else the offending value (or item)."""
    found = first_violation(value, spec)
    return None if found is None else found[1]


def _explain(key: str, value: Any, offending: Any, spec: dict[str, Any]) -> str:
    if key == "depends_on" and isinstance(offending, str):
        return f"'depends_on' names {offending!r}, which is not a step id (e.g. 1, 3a, 4_1)"
    if key == "thresholds" and offending is not value and isinstance(offending, str):
        return (
            f"threshold {offending!r} is not '<metric> <op> <number>' with op one of "
            ">=, <=, >, <, ==, != (e.g. 'rows >= 1000')"
        )
    return f"'{key}' must be {spec.get('x-expected', 'as the schema says')}, got {shown(value)}"


def _normalise(root: Path, relpath: str, key: str, value: Any, line: int) -> Any:
    if key == "depends_on":
        items = [value] if isinstance(value, str) else value
        return tuple(str(parse_step_id(item)) for item in items)
    if key == "env":
        empty = sorted(name for name, text in value.items() if text is None)
        if empty:
            raise ManifestError(
                located(
                    relpath,
                    f"'env' variable {empty[0]} has no value; write {empty[0]}: \"\" for an "
                    "empty one",
                    line,
                )
            )
        return tuple(sorted((name, str(text)) for name, text in value.items()))
    if key == "timeout":
        if math.isnan(value):
            raise ManifestError(
                located(
                    relpath,
                    "'timeout' must be a number of seconds above 0 (.inf: no limit), got .nan",
                    line,
                )
            )
        return float(value)
    if key == "thresholds":
        return tuple(
            str(threshold.text)
            for text in value
            if (threshold := parse_threshold(text)) is not None
        )
    if key in ("inputs", "outputs"):
        return tuple(inside_workspace(root, relpath, key, item, line) for item in value)
    if key in ("args", "secrets"):
        if None in value:
            raise ManifestError(
                located(
                    relpath,
                    f"'{key}' item {value.index(None) + 1} is empty (null); write '' for an "
                    "empty one",
                    line,
                )
            )
        return tuple(value)
    if key == "title":  # a step's name is one line (tables, headings, docstrings)
        return " ".join(value.split())
    return value.strip()


def inside_workspace(root: Path, relpath: str, key: str, item: str, line: int | None) -> str:
    """Normalise a declared path; refuse one that leaves the workspace (.., absolute, symlink)."""
    if leaves(root, item):
        raise ManifestError(
            located(
                relpath,
                f"'{key}' path {item!r} leaves the workspace; "
                "use a path inside it, relative to the workspace root",
                line,
            )
        )
    return Path(item).as_posix()
