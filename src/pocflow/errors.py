"""Problems a user can fix, each carrying one clear line of text."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
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
