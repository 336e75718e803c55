"""Step identity: the file-name grammar, natural order, and discovery of step files.

Grammar (the method's naming convention)::

    PoC/step<N>[<letter>][_<M>][_<description>].py      the step's script
    PoC/step<N>[<letter>][_<M>]_validate[_<x>].py        a validation script of that step
    tests/test_step<N>[<letter>][_<M>][_<description>].py  the step's tests
    steps/step<N>[<letter>][_<M>].yaml                   the step's optional manifest

``step4_1_x.py`` is step ``4_1`` (an alternative approach to step 4, a step of its own), so
``test_step4_*.py`` never matches ``test_step4_1_*.py``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from pocflow.errors import DiscoveryError, located

_ID = r"(?P<num>\d+)(?P<sub>[a-z])?(?:_(?P<alt>\d+)(?=_|$))?"
_ID_RE = re.compile(rf"^{_ID}$")
_STEM_RE = re.compile(rf"^{_ID}(?:_(?P<rest>.+))?$")
_VALIDATE_RE = re.compile(r"^validate(?:_|$)")


def parse_step_id(text: str) -> str | None:
    """The canonical step id of text ('3b', '4_1', 'step 3B'), or None if it is not one."""
    cleaned = text.strip().lower()
    cleaned = re.sub(r"^step\s*", "", cleaned)
    match = _ID_RE.match(cleaned)
    return _canonical(match) if match else None


def step_sort_key(step_id: str) -> tuple[int, str, int]:
    """Natural order: 1 < 2 < 3a < 3b < 4 < 4_1 < 10."""
    match = _ID_RE.match(step_id)
    if not match:
        raise ValueError(f"not a step id: {step_id!r}")
    alt = match["alt"]
    return int(match["num"]), match["sub"] or "", int(alt) if alt is not None else -1


def _canonical(match: re.Match[str]) -> str:
    step_id = str(int(match["num"])) + (match["sub"] or "")
    if match["alt"] is not None:
        step_id += f"_{int(match['alt'])}"
    return step_id


@dataclass(frozen=True)
class StepName:
    """What a step file's name says: its step id, description, and whether it validates."""

    step_id: str
    description: str
    is_validation: bool


def parse_step_filename(filename: str, prefix: str = "step") -> StepName | None:
    """Parse 'step3b_rank.py' (or 'test_step3b_rank.py' with prefix 'test_step')."""
    if not filename.endswith(".py") or not filename.startswith(prefix):
        return None
    match = _STEM_RE.match(filename[len(prefix) : -3])
    if not match:
        return None
    rest = match["rest"] or ""
    return StepName(_canonical(match), rest, bool(_VALIDATE_RE.match(rest)))


@dataclass
class StepFiles:
    """The files found on disk for one step (paths relative to the workspace root)."""

    step_id: str
    script: str | None = None
    validations: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    manifest: str | None = None
    description: str = ""


@dataclass
class Discovery:
    """Every step found on disk, in natural order, and the warnings met on the way."""

    steps: dict[str, StepFiles]
    warnings: list[str]


def discover_steps(root: Path, scripts_dir: str, tests_dir: str, manifests_dir: str) -> Discovery:
    """Find step scripts, validation scripts, tests and manifests under root."""
    found: dict[str, StepFiles] = {}
    warnings: list[str] = []

    def files_of(step_id: str) -> StepFiles:
        return found.setdefault(step_id, StepFiles(step_id))

    for path in _listing(root, scripts_dir, "step*.py", any_case=True):
        rel = f"{scripts_dir}/{path.name}"
        name = parse_step_filename(path.name)
        if name is None:
            warnings.append(
                located(
                    rel,
                    "looks like a step script but is not named "
                    "step<N>[a-z][_<M>]_<description>.py; it is ignored",
                )
            )
            continue
        entry = files_of(name.step_id)
        if name.is_validation:
            entry.validations.append(rel)
        elif entry.script is not None:
            raise DiscoveryError(
                located(
                    rel,
                    f"step {name.step_id} has two main scripts, {entry.script} and {rel}; "
                    "keep one (rename the other, or name a check step<id>_validate_<x>.py)",
                )
            )
        else:
            entry.script = rel
            entry.description = name.description

    for path in _listing(root, tests_dir, "test_step*.py"):
        rel = f"{tests_dir}/{path.name}"
        name = parse_step_filename(path.name, prefix="test_step")
        if name is None:
            warnings.append(
                located(
                    rel,
                    "looks like a step test but is not named "
                    "test_step<N>[a-z][_<M>]_<description>.py; it is ignored",
                )
            )
            continue
        files_of(name.step_id).tests.append(rel)

    for rel in _uncollected_tests(root, tests_dir):
        warnings.append(
            located(
                rel,
                f"pytest collects it, but it is no step's test file ({tests_dir}/test_step"
                "<id>_<name>.py): pocflow does not run it; rename or move it",
            )
        )

    for pattern in ("step*.yaml", "step*.yml"):
        for rel in _folders_named(root, manifests_dir, pattern):
            warnings.append(
                located(
                    rel, "a folder named like a step manifest; it is ignored (a manifest is a file)"
                )
            )
        for path in _listing(root, manifests_dir, pattern):
            rel = f"{manifests_dir}/{path.name}"
            step_id = parse_step_id(path.name.rsplit(".", 1)[0])
            if step_id is None:
                warnings.append(
                    located(
                        rel,
                        "not a step manifest name (expected "
                        "step<id>.yaml, e.g. step3b.yaml); it is ignored",
                    )
                )
                continue
            entry = files_of(step_id)
            if entry.manifest is not None:
                raise DiscoveryError(
                    located(
                        rel, f"step {step_id} already has the manifest {entry.manifest}; keep one"
                    )
                )
            entry.manifest = rel

    ordered = {k: found[k] for k in sorted(found, key=step_sort_key)}
    for entry in ordered.values():
        entry.validations.sort()
        entry.tests.sort()
    return Discovery(ordered, warnings)


#: a test file pytest collects by its default patterns, with a step's id in its name
_STEP_TEST_RE = re.compile(r"^(?:test_.*step_?\d.*|.*step_?\d.*_test)\.py$", re.I)
#: a later PoC's own folder inside this one's (``doit next-poc``)
_OWN_FOLDER_RE = re.compile(r"^poc\d+$")


def _uncollected_tests(root: Path, tests_dir: str) -> list[str]:
    """Test files pytest would collect, with a step in their name, that are no step's: in
    the tests folder, not named test_step<...>.py to the letter (test_Step2_x.py,
    step2_x_test.py), or one folder down (tests/more/test_step2_x.py). A later PoC's own
    folder (tests/poc2/) is its own. (One level down only: a listing per subfolder.)"""
    base = root / tests_dir
    found = []
    try:
        with os.scandir(base) as entries:
            top = sorted((e.name, _is_file(e), e.is_dir(follow_symlinks=False)) for e in entries)
    except OSError:
        return []
    for name, is_file, is_dir in top:
        if is_file and _STEP_TEST_RE.match(name) and not fnmatchcase(name, "test_step*.py"):
            found.append(f"{tests_dir}/{name}")
        elif is_dir and not name.startswith((".", "_")) and not _OWN_FOLDER_RE.match(name):
            found += [
                f"{tests_dir}/{name}/{path.name}"
                for path in _listing(root, f"{tests_dir}/{name}", "*.py")
                if _STEP_TEST_RE.match(path.name)
            ]
    return sorted(found)


def _folders_named(root: Path, directory: str, pattern: str) -> list[str]:
    """The folders of the folder whose names match the pattern (workspace-relative)."""
    try:
        with os.scandir(root / directory) as entries:
            names = [e.name for e in entries if fnmatchcase(e.name, pattern) and e.is_dir()]
    except OSError:
        return []
    return [f"{directory}/{name}" for name in sorted(names)]


def _listing(root: Path, directory: str, pattern: str, any_case: bool = False) -> list[Path]:
    """The files of the folder whose names match the pattern (``any_case``: in any case,
    so that `Step2_x.py` is met and named as misnamed), sorted (one listing: the folder's
    entries say which are files without a look at each, as glob's would)."""
    base = root / directory
    fold = str.lower if any_case else str
    try:
        with os.scandir(base) as entries:
            names = [e.name for e in entries if fnmatchcase(fold(e.name), pattern) and _is_file(e)]
    except OSError:  # no such folder (or not one): no step files there
        return []
    return [base / name for name in sorted(names)]


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Whether the entry is a file, or a link to one (a link that loops, or one the system
    may not follow, is not: as with Path.is_file, the rest of the folder still counts)."""
    try:
        return entry.is_file()
    except OSError:
        return False


def name_words(text: str) -> list[str]:
    """The words of a name as file names may carry them: accents dropped, lower case,
    letters and digits only ('Décodage: the Atlas' -> ['decodage', 'the', 'atlas'])."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", ascii_text.lower())
