"""Problems a user can fix, each carrying one clear line of text."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path


class PocflowError(Exception):
    """Base class for every problem in a workspace that its user can fix."""


class SettingsError(PocflowError):
    """The [tool.pocflow] table of pyproject.toml is invalid."""


class DiscoveryError(PocflowError):
    """Step files are ambiguous or inconsistent."""


class PlanError(PocflowError):
    """The implementation plan cannot be read at all."""


class ManifestError(PocflowError):
    """A step manifest in steps/ is invalid."""


class DocumentError(PocflowError):
    """A document or template cannot be rendered or merged safely."""


class GraphError(PocflowError):
    """The dependencies between steps are inconsistent (cycle, unknown step)."""


class NotReadyError(PocflowError):
    """The project is not where a command needs it (a PoC not complete yet, a plan not
    written): the user's next step, said in one line (exit 1, not a fault of the files)."""


def located(path: Path | str, message: str, line: int | None = None) -> str:
    """Format a message that names a file and, where known, a line."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return f"{where}: {message}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ", did you mean 'x'?" suffix when a close match exists, else ''."""
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f", did you mean '{match[0]}'?" if match else ""


def shown(value: object, limit: int = 60) -> str:
    """A value as an error line quotes it (its repr), cut to ``limit`` characters: the line
    stays one line however long the value a person wrote."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def headline(message: str, default: str = "") -> str:
    """A failure message's first line, for a line of its own (a status, a table row): when
    that line introduces what follows ('... exited with code 1:', then a script's stderr),
    with the last line of what follows (the exception a traceback ends on)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return default
    first = lines[0]
    if first.endswith(":") and len(lines) > 1:
        return f"{first} {lines[-1]}"
    return first


_A_STEP_TASK = re.compile(
    r"(?:poc(?P<poc>[0-9]+)\.)?(?:step|implement|test|document|state):(?P<id>.+)"
)
_POC_HEAD = re.compile(r"poc(?P<poc>[0-9]+)\.")


def unknown_task(name: str, tasks: Sequence[str], current: int | None) -> str:
    """The line for a task name doit found neither as a task nor as a file: for a step's
    task, the steps (or PoCs) there are; else the closest task name. ``tasks``: every task
    name in the graph's order; ``current``: the current PoC's number, where known."""
    listing = "('doit list' shows every task)"
    step = _A_STEP_TASK.fullmatch(name)
    if step is None:
        return f"no task or file {name!r}{did_you_mean(name, tasks)} {listing}"
    poc = int(step["poc"]) if step["poc"] is not None else None
    prefix = "" if poc is None or poc == current else f"poc{poc}."
    steps = [task.split(":", 1)[1] for task in tasks if task.startswith(f"{prefix}step:")]
    if poc is not None and poc == current:
        bare = name.split(".", 1)[1]
        return f"PoC {poc} is the current PoC: its tasks have no 'poc{poc}.' prefix ({bare!r})"
    if not steps and poc is not None:
        pocs = sorted({int(m["poc"]) for m in map(_POC_HEAD.match, tasks) if m})
        pocs = sorted({*pocs, *([current] if current is not None else [])})
        return f"there is no PoC {poc}: this project's PoCs are {', '.join(map(str, pocs))}"
    whose = "the current PoC" if poc is None else f"PoC {poc}"
    if not steps:
        return f"{whose} has no steps: its plan lists none {listing}"
    return f"no step {step['id']!r} in {whose}: its steps are {', '.join(steps)} {listing}"
