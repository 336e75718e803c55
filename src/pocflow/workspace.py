"""A workspace: settings, plan, manifests and step files joined into one model of the PoC."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from itertools import pairwise
from pathlib import Path

from pocflow.errors import DiscoveryError, GraphError, PlanError, SettingsError, located, shown
from pocflow.fingerprint import use_cache_file
from pocflow.layout import poc_prefix
from pocflow.manifest import Manifest, load_manifest
from pocflow.plan import Plan, PlanStep, load_plan
from pocflow.settings import POC_FOLDERS, PYPROJECT, Settings, load_settings, setting_line
from pocflow.steps import discover_steps, name_words, step_sort_key


@dataclass(frozen=True)
class Step:
    """One step of the PoC with everything known about it."""

    step_id: str
    name: str
    script: str | None
    validations: tuple[str, ...]
    tests: tuple[str, ...]
    manifest: Manifest | None
    plan_step: PlanStep | None
    depends_on: tuple[str, ...]

    @property
    def scripts(self) -> tuple[str, ...]:
        """The scripts implement runs, in order: the main one, then validations."""
        return ((self.script,) if self.script else ()) + self.validations

    @property
    def has_files(self) -> bool:
        """Whether anything of the step exists on disk yet."""
        return bool(self.scripts or self.tests or self.manifest)


@dataclass
class Workspace:
    """The whole PoC as pocflow sees it."""

    settings: Settings
    plan: Plan | None
    steps: dict[str, Step]
    name: str
    slug: str
    warnings: list[str] = field(default_factory=list)
    #: run_file's answers: (step id, name) -> path (a status reads nine per step)
    _run_files: dict[tuple[str, str], Path] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def root(self) -> Path:
        """The workspace root folder."""
        return self.settings.root

    @property
    def poc(self) -> int | None:
        """The PoC as task names address it: None for the project's current PoC."""
        return None if self.settings.is_current else self.settings.poc

    def task(self, base: str, step_id: str = "") -> str:
        """The name of one of this PoC's tasks: 'test:3b' (the current PoC), 'poc1.test:3b',
        'poc1.poc-complete' (another)."""
        return poc_prefix(self.poc) + (f"{base}:{step_id}" if step_id else base)

    def results_doc(self, step_id: str) -> str:
        """Workspace-relative path of a step's results doc."""
        return f"{self.settings.docs_dir}/{self.slug}-step{step_id}-results.md"

    def record_path(self, step_id: str) -> str:
        """Workspace-relative path of a step's committed verification record."""
        return f"{self.settings.records_dir}/step{step_id}.json"

    def run_dir(self, step_id: str) -> str:
        """Workspace-relative folder of a step's local run files (logs, reports)."""
        return self.session_dir(f"step{step_id}")

    def run_file(self, step_id: str, name: str) -> Path:
        """One of a step's local run files (pocflow.layout names them)."""
        found = self._run_files.get((step_id, name))
        if found is None:
            found = self._run_files[(step_id, name)] = self.root / self.run_dir(step_id) / name
        return found

    def session_dir(self, name: str) -> str:
        """Workspace-relative folder of one run session's files: a step's (step<id>), or a
        session of several steps' tests (pocflow.layout names them)."""
        own = self.settings.own_folder
        return "/".join(part for part in (self.settings.state_dir, "runs", own, name) if part)

    @property
    def state_lock(self) -> Path:
        """The lock that serialises writes of PROJECT_STATE.md and of the records."""
        return self.root / self.settings.state_dir / "state.lock"

    @property
    def written_elsewhere(self) -> Path:
        """The sha256 of each file pocflow last wrote outside the task that owns it (a failed
        phase's record, a health check appended to PROJECT_STATE.md): pocflow.documents."""
        return self.root / self.settings.state_dir / "written-by-pocflow.json"

    @property
    def imports_cache(self) -> Path:
        """The file that keeps parsed import statements between runs."""
        return self.root / self.settings.state_dir / "cache" / "imports.json"

    @property
    def compiled_templates(self) -> Path:
        """The folder where jinja2 keeps the templates it compiled, between runs."""
        return self.root / self.settings.state_dir / "cache" / "templates"

    @property
    def signals_cache(self) -> Path:
        """The file that keeps each scanned file's signals between runs (by content), one
        per PoC (each keeps only what its last scan looked at)."""
        return (
            self.root / self.settings.state_dir / "cache" / f"signals-poc{self.settings.poc}.json"
        )

    @property
    def gate_record_path(self) -> str:
        """Workspace-relative path of the record of the last passing poc-complete."""
        return f"{self.settings.records_dir}/poc-complete.json"

    @property
    def poc_results_doc(self) -> str:
        """Workspace-relative path of docs/pocN-results.md."""
        return f"{self.settings.docs_dir}/poc{self.settings.poc}-results.md"


def same_named_tests(pocs: list[Workspace]) -> list[str]:
    """'tests/poc2/test_step1_load.py and tests/test_step1_load.py' for each test file of a
    PoC that has the name of another PoC's: pytest run over both folders (``pytest tests/``)
    stops at collection ("import file mismatch") unless it imports by path
    (``--import-mode=importlib``)."""
    addopts = pocs[0].settings.pytest_config.get("addopts", "") if pocs else ""
    if "importlib" in (addopts if isinstance(addopts, str) else " ".join(addopts)):
        return []
    seen: dict[str, str] = {}
    clashes = []
    for ws in pocs:
        for step in ws.steps.values():
            for test in step.tests:
                name = Path(test).name
                if name in seen and seen[name] != test:
                    clashes.append(f"{test} and {seen[name]}")
                seen.setdefault(name, test)
    return clashes


def files_under(ws: Workspace, folder: str) -> list[Path]:
    """Every file under one of the PoC's folders, but those of the later PoCs' subfolders
    (the first PoC's PoC/ holds PoC 2's PoC/poc2/) and of __pycache__."""
    base = ws.root / folder
    later = ws.settings.later_folders
    return sorted(
        path
        for path in (base.rglob("*") if base.is_dir() else ())
        if path.is_file()
        and "__pycache__" not in path.parts
        and not (later and path.relative_to(base).parts[0] in later)
    )


def prerequisites_first(ws: Workspace, step_ids: list[str] | None = None) -> list[str]:
    """step_ids (default: every step) and every step they depend on, each after its
    prerequisites, otherwise in the order given (a depth-first walk: graphlib's order is
    breadth-first and would list step 4 before 3b, where reports read in plan order). The
    graph has no cycle: load_workspace refuses one."""
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(step_id: str) -> None:
        if step_id in seen:
            return
        seen.add(step_id)
        for dep in ws.steps[step_id].depends_on:
            visit(dep)
        ordered.append(step_id)

    for step_id in ws.steps if step_ids is None else step_ids:
        visit(step_id)
    return ordered


def dependents_of(ws: Workspace, step_id: str) -> list[str]:
    """Every step that depends on step_id, directly or not, in plan order."""
    below: dict[str, bool] = {step_id: True}

    def depends(other: str) -> bool:
        if other not in below:
            below[other] = False  # no cycle (load_workspace refuses one): a plain memo
            below[other] = any(depends(dep) for dep in ws.steps[other].depends_on)
        return below[other]

    return [other for other in ws.steps if other != step_id and depends(other)]


def load_workspace(root: Path, poc: int | None = None) -> Workspace:
    """Read settings, plan, manifests and step files under root, and check they agree: the
    workspace of PoC ``poc`` (default: the project's current PoC).

    The result is kept for this process and returned again while the settings, the plan,
    the manifests and the names of the step files are the same (compared by content).
    """
    root = root.resolve()
    settings = load_settings(root, poc)
    use_cache_file(root, settings.state_dir)  # file digests kept across runs
    key = _layout_key(root, settings)
    cached = _LOADED.get((root, settings.poc))
    if cached is not None and cached[0] == key:
        return cached[1]
    ws = _load(root, settings)
    _LOADED[(root, settings.poc)] = (key, ws)
    return ws


def project_workspaces(root: Path) -> list[Workspace]:
    """The workspace of every PoC of the project at root, in order (the current one last)."""
    current = load_settings(root.resolve())
    pocs = [load_workspace(root, number) for number in current.pocs]
    slugs: dict[str, int] = {}
    for ws in pocs:
        other = slugs.setdefault(ws.slug, ws.settings.poc)
        if other != ws.settings.poc:
            raise SettingsError(
                located(
                    "pyproject.toml",
                    f"PoC {other} and PoC {ws.settings.poc} both name their results docs "
                    f"docs/{ws.slug}-step<id>-results.md: give one another slug "
                    f"([tool.pocflow.poc{other}] or [tool.pocflow] slug = ...)",
                )
            )
    return pocs


_LOADED: dict[tuple[Path, int], tuple[str, Workspace]] = {}


def _layout_key(root: Path, settings: Settings) -> str:
    """A digest of everything a Workspace is read from."""
    digest = hashlib.sha256(repr(settings).encode())
    plan = root / settings.plan
    if plan.is_file():
        digest.update(plan.read_bytes())
    for folder in (settings.scripts_dir, settings.tests_dir, settings.manifests_dir):
        base = root / folder
        names = sorted(os.listdir(base)) if base.is_dir() else []
        digest.update(f"\0{folder}\0{chr(0).join(names)}".encode())
        if folder == settings.manifests_dir:
            for name in names:
                if name.startswith("step") and name.endswith((".yaml", ".yml")):
                    try:
                        digest.update((base / name).read_bytes())
                    except OSError:  # a folder, or a link that loops: not a manifest
                        digest.update(b"\0?")
    return digest.hexdigest()


def _load(root: Path, settings: Settings) -> Workspace:
    _refuse_folders_of_a_missing_poc(root, settings)
    plan = load_plan(root, settings.plan)
    if plan is None:
        _refuse_a_plan_gone(root, settings)
    _refuse_missing_folders(root, settings)
    found = discover_steps(root, settings.scripts_dir, settings.tests_dir, settings.manifests_dir)
    warnings = list(found.warnings) + (plan.warnings if plan else [])
    if plan is not None and plan.number is not None and plan.number != settings.poc:
        warnings.append(
            located(
                settings.plan,
                f"the plan's title says PoC {plan.number}, but tool.pocflow.poc is "
                f"{settings.poc}: set poc = {plan.number}, or point plan at PoC "
                f"{settings.poc}'s plan",
                plan.title_line,
            )
        )
    plan_steps = plan.steps if plan else {}

    steps: dict[str, Step] = {}
    for step_id in sorted(set(found.steps) | set(plan_steps), key=step_sort_key):
        files = found.steps.get(step_id)
        pstep = plan_steps.get(step_id)
        manifest = load_manifest(root, files.manifest) if files and files.manifest else None
        if files is not None and files.script is None and pstep is None:
            _refuse_orphan(settings, step_id, files.validations, files.tests, files.manifest)
        if files is not None and files.validations and files.script is None:
            raise DiscoveryError(
                located(
                    files.validations[0],
                    f"validation script of step {step_id}, which has no "
                    f"main script; add {settings.scripts_dir}/step{step_id}_<description>.py",
                )
            )
        depends = list(pstep.depends_on) if pstep else []
        if manifest is not None:
            if (
                pstep is not None
                and manifest.depends_on
                and set(manifest.depends_on) != set(pstep.depends_on)
            ):
                warnings.append(
                    located(
                        manifest.path,
                        f"depends_on {list(manifest.depends_on)} differs from the "
                        f"plan's Depends On {pstep.depends_on} (line {pstep.line}); "
                        "pocflow uses both",
                        manifest.lines.get("depends_on"),
                    )
                )
            depends += [d for d in manifest.depends_on if d not in depends]
            if pstep is not None:
                warnings += _disagreements(manifest, pstep, plan.path if plan else "")
        steps[step_id] = Step(
            step_id=step_id,
            name=_step_name(pstep, manifest, files.description if files else "")
            or f"Step {step_id}",  # (a script named with no description: step3.py)
            script=files.script if files else None,
            validations=tuple(files.validations) if files else (),
            tests=tuple(files.tests) if files else (),
            manifest=manifest,
            plan_step=pstep,
            depends_on=tuple(sorted(depends, key=step_sort_key)),
        )
    _check_graph(steps, plan)
    if plan is not None:
        warnings += _verification_beyond_steps(root, settings, plan, steps)
    # one line: it heads documents and fills table cells
    name = (
        " ".join((settings.name or (plan.name if plan and plan.name else "")).split())
        or f"PoC {settings.poc}"
    )
    slug = settings.slug or _slugify(name) or f"poc{settings.poc}"
    return Workspace(
        settings=settings, plan=plan, steps=steps, name=name, slug=slug, warnings=warnings
    )


def _has_records(root: Path, settings: Settings) -> bool:
    """Whether the PoC's steps have records (it was verified here or in a clone)."""
    records = root / settings.records_dir
    return records.is_dir() and any(
        entry.name.startswith("step") and entry.name.endswith(".json")
        for entry in records.iterdir()
    )


def _refuse_missing_folders(root: Path, settings: Settings) -> None:
    """Stop before anything runs when the scripts' or tests' folder the settings name is
    not there while the PoC's steps have records: a mistyped setting (`Poc` for `PoC`)
    would have every step run with no script, or no test, and be called changed."""
    missing = [
        key for key in ("scripts_dir", "tests_dir") if not (root / getattr(settings, key)).is_dir()
    ]
    if not missing or not _has_records(root, settings):  # (the cheap look first: every load)
        return
    for key in missing:
        folder = getattr(settings, key)
        parent = (root / folder).parent
        near = (
            [p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
            if parent.is_dir()
            else []
        )
        name = Path(folder).name
        meant = [n for n in near if n.lower() == name.lower()] or difflib.get_close_matches(
            name, near, n=1, cutoff=0.7
        )
        hint = f" (is it {Path(folder).with_name(meant[0])!s}/?)" if meant else ""
        raise SettingsError(
            f"{key} = {folder!r}: there is no such folder, but the PoC's steps have records: "
            f"set {key} in [tool.pocflow] to the folder that holds them{hint}"
        )


def _refuse_a_plan_gone(root: Path, settings: Settings) -> None:
    """Stop before anything runs when the plan is not where the settings say, but was: its
    path is a folder, or the PoC's steps have records (made with a plan). Run on, every step
    would be verified again under another name, with new results docs, its Depends On
    dropped, and only the gate would say there is no plan. (A new PoC, no record yet, has
    no plan to lose.)"""
    where = root / settings.plan
    if where.is_dir():
        raise PlanError(
            f"the plan setting ({settings.plan}) names a folder: name the plan's file "
            f"(as {settings.plan.rstrip('/')}/poc{settings.poc}-implementation.md)"
        )
    if not _has_records(root, settings):
        return
    folder = where.parent
    others = (
        sorted(p.name for p in folder.iterdir() if p.suffix == ".md" and p.is_file())
        if folder.is_dir()
        else []
    )
    meant = [
        f"{settings.plan.rpartition('/')[0]}/{name}".lstrip("/")
        for name in difflib.get_close_matches(where.name, others, n=1, cutoff=0.8)
        + [n for n in others if "implementation" in n or "plan" in n.lower()]
    ]
    hint = f" (is it {meant[0]}?)" if meant else ""
    # where the plan is set: the PoC's own table, else [tool.pocflow] (or by default)
    line, table = setting_line(root, f"poc{settings.poc}.plan"), f"tool.pocflow.poc{settings.poc}"
    if line is None:
        line, table = setting_line(root, "plan"), "tool.pocflow"
    at = f" ({PYPROJECT}:{line})" if line is not None else ""
    raise PlanError(
        f"{settings.plan}: there is no plan here, but the PoC's steps have records, made "
        f"with one: put the plan back, or set plan in [{table}]{at} to where it is now{hint}"
    )


def _refuse_folders_of_a_missing_poc(root: Path, settings: Settings) -> None:
    """A project's first PoC keeps its files in the plain folders, each later PoC N in
    ``poc<N>`` folders (``doit next-poc`` makes them). When the first PoC is PoC N > 1 and a
    ``poc<N>`` folder exists, the earlier PoC's plan and table are gone: PoC N would take
    the earlier PoC's files and records for its own. When a ``poc<N>`` folder of a PoC
    between the first and the current one exists and that PoC is none of the project's
    (its plan and table are gone), its steps would drop out of the stage gate."""
    if settings.poc > 1 and not settings.own_folder:
        for key in POC_FOLDERS:
            folder = f"{getattr(settings, key)}/poc{settings.poc}"
            if (root / folder).is_dir():
                earlier = settings.poc - 1
                raise DiscoveryError(
                    located(
                        folder,
                        f"holds PoC {settings.poc}'s files, but no earlier PoC is there: "
                        f"{settings.docs_dir}/poc{earlier}-implementation.md and "
                        f"[tool.pocflow.poc{earlier}] are both missing, so PoC {settings.poc} "
                        f"would take PoC {earlier}'s files in {settings.scripts_dir}/ for its "
                        f"own. Put PoC {earlier}'s plan back (or add [tool.pocflow.poc"
                        f"{earlier}] with its plan), or move these files to the plain folders",
                    )
                )
    if not settings.pocs or not settings.is_current:
        return
    for number in range(settings.pocs[0] + 1, settings.poc):
        if number in settings.pocs:
            continue
        for key in POC_FOLDERS:
            base = getattr(settings, key).removesuffix(f"/{settings.own_folder}")
            folder = f"{base}/poc{number}"
            if (root / folder).is_dir():
                raise DiscoveryError(
                    located(
                        folder,
                        f"holds PoC {number}'s files, but {settings.docs_dir}/poc{number}-"
                        f"implementation.md and [tool.pocflow.poc{number}] are both missing: "
                        f"PoC {number}'s steps would be no part of the project, and "
                        f"all-pocs-complete would pass without them. Put PoC {number}'s plan "
                        f"back (or add [tool.pocflow.poc{number}] with its plan), or remove "
                        "its folders",
                    )
                )


def _verification_beyond_steps(
    root: Path, settings: Settings, plan: Plan, steps: dict[str, Step]
) -> list[str]:
    """Warnings for test files a step's **Verification** command runs that are no step's
    test files: the method's checkpoint runs them, pocflow does not."""
    owned = {test for step in steps.values() for test in step.tests}
    found = []
    for step_id, pstep in plan.steps.items():
        named = _TEST_PATH_RE.findall(pstep.verification)
        paths = sorted(
            {
                path.relative_to(root).as_posix()
                for pattern in named
                if pattern.startswith(settings.tests_dir.rstrip("/") + "/")
                for path in root.glob(pattern)
                if path.is_file()
            }
        )
        for rel in paths:
            if rel not in owned:
                found.append(
                    located(
                        plan.path,
                        f"step {step_id}'s Verification runs {rel}, which is no step's test "
                        "file: pocflow does not run it; name it "
                        f"test_step{step_id}_<name>.py to make it the step's",
                        pstep.line,
                    )
                )
    return found


#: a Python file a command names (a test file, or a glob of them)
_TEST_PATH_RE = re.compile(r"(?<![\w/.-])([\w./*?-]+\.py)\b")


def _disagreements(manifest: Manifest, pstep: PlanStep, plan_path: str) -> list[str]:
    """Warnings where a manifest and the plan say different things about a step."""
    found = []
    for key, mine, theirs in (
        ("title", manifest.title, pstep.name),
        ("goal", manifest.goal, pstep.goal),
    ):
        if mine and theirs and mine.strip() != theirs.strip():
            found.append(
                located(
                    manifest.path,
                    f"{key} {shown(mine)} differs from the "
                    f"plan's {shown(theirs)} ({plan_path}:{pstep.line}); the "
                    "plan's is used",
                    manifest.lines.get(key),
                )
            )
    return found


def _refuse_orphan(
    settings: Settings, step_id: str, validations: list[str], tests: list[str], manifest: str | None
) -> None:
    """Files for a step that has no script and that the plan does not name."""
    if validations:
        return  # reported as a validation script without a main script
    where = tests[0] if tests else manifest
    kind = "test file" if tests else "manifest"
    raise DiscoveryError(
        located(
            where or settings.scripts_dir,
            f"{kind} for unknown step {step_id}: there is no {settings.scripts_dir}/step{step_id}_"
            f"<description>.py and the plan has no '### Step {step_id}'; add the script or the "
            "plan entry, or rename the file",
        )
    )


def _step_name(pstep: PlanStep | None, manifest: Manifest | None, description: str) -> str:
    if pstep is not None and pstep.name:
        return pstep.name
    if manifest is not None and manifest.title:
        return manifest.title
    return description.replace("_", " ").strip().capitalize()


def _check_graph(steps: dict[str, Step], plan: Plan | None) -> None:
    """Every dependency names a known step, and there is no cycle."""
    for step in steps.values():
        for dep in step.depends_on:
            if dep not in steps:
                raise GraphError(
                    _dependency_site(step, dep, plan)
                    + f"step {step.step_id} depends on step {dep}, which does not "
                    "exist; fix the step id or add the step"
                )
            if dep == step.step_id:
                raise GraphError(
                    _dependency_site(step, dep, plan) + f"step {step.step_id} depends on itself"
                )
    try:
        TopologicalSorter({sid: step.depends_on for sid, step in steps.items()}).prepare()
    except CycleError as exc:
        # graphlib lists each step before the one that depends on it: read it backwards
        cycle = list(reversed(exc.args[1]))
        sites = [
            _dependency_site(steps[step], dep, plan).rstrip(": ") for step, dep in pairwise(cycle)
        ]
        # a manifest's depends_on first: the plan's order is the one people read
        sites.sort(key=lambda site: plan is not None and site.startswith(plan.path))
        known = [site for site in dict.fromkeys(sites) if site]
        raise GraphError(
            (f"{known[0]}: " if known else "")
            + "dependency cycle: "
            + " -> ".join(cycle)
            + (f" (declared at {', '.join(known)})" if len(known) > 1 else "")
            + "; remove one of these dependencies"
        ) from None


def _dependency_site(step: Step, dep: str, plan: Plan | None) -> str:
    """'file:line: ' where the dependency on dep is declared."""
    if step.manifest is not None and dep in step.manifest.depends_on:
        return located(step.manifest.path, "", step.manifest.lines.get("depends_on"))
    if step.plan_step is not None and plan is not None:
        return located(plan.path, "", step.plan_step.depends_line or step.plan_step.line)
    return ""


def _slugify(text: str) -> str:
    """A file-name prefix from the PoC's name: lower-case words joined by '-', at most
    SLUG_MAX characters (a results doc's name must fit every file system's limit)."""
    return "-".join(name_words(text))[:SLUG_MAX].rstrip("-")


#: the longest slug made from a name (and allowed as a setting)
SLUG_MAX = 60
