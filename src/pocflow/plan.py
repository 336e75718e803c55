"""Reading the implementation plan, docs/pocN-implementation.md, leniently.

Real plans drift from the template; whatever cannot be read becomes a warning with its line
number, never an exception. Only a file that is not text at all is an error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pocflow.errors import PlanError, located
from pocflow.markdown import closes_fence
from pocflow.steps import parse_step_id

_DASH = r"[:\-–—]"
_TITLE_RE = re.compile(rf"^#\s+PoC\s*(?P<num>\d+)\b[^:\-–—]*(?:{_DASH}\s*(?P<name>.+))?$", re.I)
_SECTION_RE = re.compile(r"^##\s+(?P<title>.+?)\s*#*\s*$")
_SUBSECTION_RE = re.compile(r"^###\s+(?P<title>.+?)\s*#*\s*$")
_STEP_HEADING_RE = re.compile(
    rf"^Step\s+(?P<id>[0-9A-Za-z_]+)\s*(?:\([^)]*\)\s*)?(?:{_DASH}+\s*(?P<name>.*))?$", re.I
)
#: a heading that means a step ('Step' and a word after it: '### Step 2.5: Halfway' is a
#: step whose id cannot be read, and so is '### Step1: Load' or '### Step-1: Load', 'Step'
#: and a number run together); '### Notes', '### Steps overview' are the plan's text
_RUN_TOGETHER_RE = re.compile(r"^Step(?:[-#_.]\s*)?(?=\d)", re.I)
_STEPLIKE_RE = re.compile(rf"^Step\s+\S|{_RUN_TOGETHER_RE.pattern}", re.I)
_FENCE_RE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
#: a sub-step under its step, one level down ('#### Step 4a: <Name>'); other level-4
#: headings are a step's own text
_SUB_STEP_RE = re.compile(r"^####\s+(?P<title>Step(?:\s|[-#_.]?\d).+?)\s*#*\s*$", re.I)
_FIELD_RE = re.compile(
    r"^\*\*(?P<label>[^*]+?)\s*:?\s*\*\*\s*:?\s*(?P<value>.*)$|"
    r"^(?P<plain>goal|depends on|output|verification|code|tasks)\s*:\s*"
    r"(?P<plain_value>.*)$",
    re.I,
)
_CHECKBOX_RE = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\[(?P<mark>[ xX])\]\s+(?P<text>.*)$")
_BOLD_LABEL_RE = re.compile(r"^\*\*(?P<label>[^*]+?)\s*:?\s*\*\*\s*:?\s*(?P<rest>.*)$")
_TABLE_ROW_RE = re.compile(r"^\|(?P<cells>.*)\|\s*$")
_ID_TOKEN_RE = re.compile(r"\b(\d+[a-z]?(?:_\d+)?)\b", re.I)
#: another PoC's step ('PoC 1 Step 2', 'PoC 1's step 2', 'PoC 1'): no step of this PoC
_OTHER_POC_RE = re.compile(r"\bPoC\s*\d+(?:'s)?(?:\s*[,:/-]?\s*Steps?\s+\w+)?", re.I)
#: a number with a dot ('Step 2.5'): no step id, and not two of them
_DOTTED_RE = re.compile(r"\b\d+(?:\.\d+)+\b")

Warn = Callable[[str, int], None]


@dataclass
class PlanStep:
    """One step as the plan describes it."""

    step_id: str
    name: str
    line: int
    goal: str = ""
    depends_on: list[str] = field(default_factory=list)
    verification: str = ""
    #: the line of its **Depends On** (0: none)
    depends_line: int = 0


@dataclass
class ChecklistItem:
    """One item of the Production-Grade Checklist."""

    label: str
    text: str
    ticked: bool
    line: int


@dataclass
class Plan:
    """What could be read from a plan, and warnings for what could not."""

    path: str
    number: int | None = None  # the PoC number its title gives
    title_line: int = 0
    name: str = ""
    overview: dict[str, str] = field(default_factory=dict)
    steps: dict[str, PlanStep] = field(default_factory=dict)
    checklist: list[ChecklistItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: step headings whose id could not be read: (line, heading)
    unread_steps: list[tuple[int, str]] = field(default_factory=list)

    @property
    def proves(self) -> str:
        """The Overview table's **Proves** value, if any."""
        return self.overview.get("Proves", "")


def load_plan(root: Path, relpath: str) -> Plan | None:
    """Parse the plan at root/relpath; None when there is no plan file."""
    path = root / relpath
    if not path.is_file():
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")  # (a byte-order mark is no text)
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise PlanError(
            located(relpath, "the plan is not valid UTF-8 text; save it as UTF-8", line)
        ) from None
    return parse_plan(text, relpath)


def parse_plan(text: str, relpath: str = "plan") -> Plan:
    """Parse plan text; never raises on content."""
    plan = Plan(path=relpath)
    lines = text.removeprefix("\ufeff").splitlines()
    section = ""
    step: PlanStep | None = None
    pending_block: str | None = None  # which field the next fenced block belongs to
    in_fence = False
    opened = ""  # the opening fence's backticks or tildes
    fence_lines: list[str] = []
    fence_owner: str | None = None
    indented: list[str] = []

    def warn(message: str, line: int) -> None:
        plan.warnings.append(located(relpath, message, line))

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        stripped = line.strip()
        fence = _FENCE_RE.match(stripped)
        if fence and (not in_fence or closes_fence(opened, fence["fence"], fence["info"])):
            if in_fence:
                _store_block(step, fence_owner, "\n".join(fence_lines))
                in_fence, fence_lines, fence_owner = False, [], None
            else:
                opened = fence["fence"]
                in_fence, fence_owner, pending_block = True, pending_block, None
            continue
        if in_fence:
            fence_lines.append(raw)
            continue
        if plan.number is None and line.startswith("# "):
            match = _TITLE_RE.match(line)
            if match:
                plan.number, plan.title_line = int(match["num"]), number
                plan.name = (match["name"] or "").strip()
            else:
                warn("title is not '# PoC N Implementation Plan: <Name>'", number)
            continue
        match = _SECTION_RE.match(line) or _SUBSECTION_RE.match(line)
        if match and pending_block and indented:
            _store_block(step, pending_block, "\n".join(indented))
        if match:
            indented.clear()
        match = _SECTION_RE.match(line)
        if match:
            section = match["title"].lower()
            step, pending_block = None, None
            if _STEP_HEADING_RE.match(match["title"]):
                warn(
                    f"'## {match['title']}' is a level-2 heading: a step is described under "
                    f"'### {match['title']}' (three #), or pocflow does not see it",
                    number,
                )
            continue
        sub_step = _SUB_STEP_RE.match(line)
        if sub_step and not (
            _STEP_HEADING_RE.match(sub_step["title"]) or _RUN_TOGETHER_RE.match(sub_step["title"])
        ):
            continue  # '#### Step 1 details': the step's own text, not a sub-step
        match = _SUBSECTION_RE.match(line) or sub_step
        if match:
            step, pending_block = None, None
            title = match["title"]
            if _STEPLIKE_RE.match(title):
                step = _start_step(plan, title, number, warn)
                # a step heading after another section (no '## Implementation Steps'): the
                # lines below it are the step's, not that section's (an Overview table's)
                section = "implementation steps"
            elif _misspelt_step(title):
                warn(
                    f"heading '### {title}' is not read as a step (a step's heading is "
                    "'### Step <id>: <Name>'): its step is not in the plan",
                    number,
                )
                plan.unread_steps.append((number, title))  # (no gate passes over it)
            continue
        if "checklist" in section:
            _read_checklist_line(plan, stripped, number)
            continue
        if section == "overview":
            _read_overview_row(plan, stripped)
            continue
        if step is not None:
            if pending_block and (raw.startswith(("    ", "\t")) or not stripped):
                indented.append(raw[4:] if raw.startswith("    ") else raw[1:])
                continue  # an indented code block under **Code** / **Verification**
            if pending_block and indented:
                _store_block(step, pending_block, "\n".join(indented))
                indented.clear()
            pending_block = _read_field(step, stripped, number, warn, pending_block)

    if pending_block and indented:
        _store_block(step, pending_block, "\n".join(indented))
    if in_fence:
        warn("a code block is never closed (missing ```)", len(lines))
    if not plan.steps:
        warn(
            "no steps found (expected '### Step 1: <Name>' headings under "
            "'## Implementation Steps')",
            max(len(lines), 1),
        )
    if plan.number is None and not any(line.startswith("# ") for line in lines):
        warn(
            "no title line '# PoC N Implementation Plan: <Name>': the PoC, and its "
            "documents' names, take 'PoC N' instead of its name",
            1,
        )
    for pstep in plan.steps.values():
        if not pstep.goal:
            warn(f"step {pstep.step_id} has no **Goal**", pstep.line)
    return plan


_WORD_AND_ID_RE = re.compile(r"^(?P<word>[A-Za-z]+)\s+(?P<id>[0-9][0-9A-Za-z_]*)\b")


def _misspelt_step(title: str) -> bool:
    """Whether a heading that is no step's looks like a step's with its word misspelt
    ('Setp 2: Sum it', 'Stpe 3a'): a word close to 'Step', then what could be an id."""
    match = _WORD_AND_ID_RE.match(title)
    if match is None:
        return False
    return bool(difflib.get_close_matches(match["word"].lower(), ["step"], n=1, cutoff=0.7))


def _start_step(plan: Plan, title: str, number: int, warn: Warn) -> PlanStep | None:
    match = _STEP_HEADING_RE.match(title)
    step_id = parse_step_id(match["id"]) if match else None
    if match is None or step_id is None:
        warn(f"cannot read a step id in heading '### {title}' ({_heading_fix(title)})", number)
        plan.unread_steps.append((number, title))
        return None
    if step_id in plan.steps:
        warn(
            f"step {step_id} is described twice (first at line "
            f"{plan.steps[step_id].line}); the first is kept",
            number,
        )
        plan.unread_steps.append((number, title))  # (no gate passes over it)
        return None
    name = (match["name"] or "").strip()
    step = PlanStep(step_id=step_id, name=name, line=number)
    plan.steps[step_id] = step
    return step


def _heading_fix(title: str) -> str:
    """How to write an unreadable step heading: 'write it '### Step 1: Load'' where 'Step'
    and its id were run together, else the form a heading takes."""
    if _RUN_TOGETHER_RE.match(title):
        spaced = _RUN_TOGETHER_RE.sub("Step ", title, count=1)
        match = _STEP_HEADING_RE.match(spaced)
        if match and parse_step_id(match["id"]):
            return f"write it '### {spaced}'"
    return "expected '### Step 3b: <Name>'"


def _read_field(
    step: PlanStep, stripped: str, number: int, warn: Warn, pending: str | None
) -> str | None:
    """Read one line inside a step block; return the field the next code block belongs to
    (a **Code** block is read past, a **Verification** block kept)."""
    match = _FIELD_RE.match(stripped)
    if not match:
        return pending
    label = (match["label"] or match["plain"]).strip().lower()
    value = (match["value"] if match["label"] else match["plain_value"]).strip()
    if label == "goal":
        step.goal = value
    elif label.startswith("depends on") or label == "depends":
        step.depends_on = _parse_depends(value, number, warn)
        step.depends_line = number
    elif label in ("code", "verification"):
        if not _is_inline_code(value):
            return label
        if label == "verification":
            step.verification = value.strip("`")
    elif match["label"]:
        meant = difflib.get_close_matches(label, STEP_LABELS, n=1, cutoff=0.75)
        if meant:
            spelt = meant[0].title()
            warn(
                f"**{match['label'].strip()}** is not read (did you mean **{spelt}**?); "
                f"spell it **{spelt}**",
                number,
            )
    return None


#: the labels of a step block that pocflow reads (a bold label close to one of them,
#: '**Depend On**', '**Gaol**', is a warning: what it says would be lost without a word)
STEP_LABELS = ("goal", "depends on", "code", "verification")


def _is_inline_code(value: str) -> bool:
    return len(value) > 1 and value.startswith("`") and value.endswith("`")


def _parse_depends(value: str, number: int, warn: Warn) -> list[str]:
    text = value.strip().strip(".")
    if not text or text.lower() in ("none", "-", "—", "n/a", "nothing"):
        return []
    for dotted in _DOTTED_RE.findall(text):
        warn(
            f"**Depends On** names step '{dotted}': a step id has no dot (3a, 4_1); it is left out",
            number,
        )
    text = _DOTTED_RE.sub(" ", text)
    for other in _OTHER_POC_RE.finditer(text):
        warn(
            f"**Depends On** names {other[0].strip()!r}: a step depends on steps of its own "
            "PoC only (an earlier PoC is complete: read what it produced as data); it is "
            "left out",
            number,
        )
    text = _OTHER_POC_RE.sub(" ", text)
    ids: list[str] = []
    for token in _ID_TOKEN_RE.findall(text):
        step_id = parse_step_id(token)
        if step_id is not None and step_id not in ids:
            ids.append(step_id)
    if not ids:
        warn(
            f"cannot read step ids in **Depends On**: {value!r} (expected e.g. 'Step 1' or "
            "'Steps 2, 3a')",
            number,
        )
    return ids


def _store_block(step: PlanStep | None, owner: str | None, body: str) -> None:
    if step is not None and owner == "verification":
        step.verification = body.strip()


def _read_checklist_line(plan: Plan, stripped: str, number: int) -> None:
    match = _CHECKBOX_RE.match(stripped)
    if not match:
        return
    text = match["text"].strip()
    label_match = _BOLD_LABEL_RE.match(text)
    label = label_match["label"].strip() if label_match else text
    plan.checklist.append(
        ChecklistItem(label=label, text=text, ticked=match["mark"] in "xX", line=number)
    )


def _read_overview_row(plan: Plan, stripped: str) -> None:
    match = _TABLE_ROW_RE.match(stripped)
    if not match:
        return
    cells = [c.strip() for c in match["cells"].split("|")]
    if len(cells) < 2 or set(cells[0]) <= set("-: "):
        return
    key = cells[0].strip("* ")
    if key.lower() == "attribute":
        return
    plan.overview[key] = cells[1].strip()
