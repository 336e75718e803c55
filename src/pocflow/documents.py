"""Documents with machine-owned blocks: render from templates, merge without losing a word.

A generated document marks each part pocflow owns with a pair of HTML comments, invisible
when the Markdown is rendered::

    <!-- pocflow:begin results -->
    ## Results
    ...
    <!-- pocflow:end results -->

Regeneration replaces the inside of these blocks only. Every byte outside them is kept as a
person left it. A block a person deleted is put back next to the blocks around it.

And what a person still has to write in a results doc: the sections that hold nothing but
the template's own text (the method's checkpoint "Results documented"; the gate wants them
written).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pocflow._fs import atomic_write_text, read_json, sha256_file, stamp
from pocflow.errors import DocumentError, located, shown
from pocflow.markdown import closes_fence

if TYPE_CHECKING:  # jinja2 is imported when a document is rendered, not when doit loads
    import jinja2

    from pocflow.workspace import Workspace

#: the packaged templates (a file of the same name in the workspace's templates_dir wins)
STEP_TEMPLATE = "step-results.md"
STATE_TEMPLATE = "project-state.md"
POC_TEMPLATE = "poc-results.md"

_HEADING_RE = re.compile(r"^## .*$", re.M)
_ANY_HEADING_RE = re.compile(r"^(?P<hashes>#{1,6})\s+\S")
_LINE_RE = re.compile(r"^.*$", re.M)
_LABEL_RE = re.compile(r"^(?:>\s*)?\*\*(?P<label>[^*]+?)\*\*\s*:")
_MARK_RE = re.compile(r"^<!-- pocflow:(?P<kind>begin|end) (?P<name>[a-z0-9-]+) -->[ \t\r]*$", re.M)


@dataclass(frozen=True)
class Block:
    """One machine-owned block: its name and where it stands in the text (markers included)."""

    name: str
    start: int
    end: int


def find_blocks(text: str, path: str) -> list[Block]:
    """The machine blocks of text in order; DocumentError on unbalanced or nested markers.
    A marker inside a code fence is a person's example, not a marker (pocflow writes none
    there)."""
    blocks: list[Block] = []
    open_name: str | None = None
    open_start = 0
    open_line = 0
    fences = _closed_fences(text) if "```" in text or "~~~" in text else []
    for match in _MARK_RE.finditer(text):
        if any(start < match.start() < end for start, end in fences):
            continue
        line = text.count("\n", 0, match.start()) + 1
        if match["kind"] == "begin":
            if open_name is not None:
                raise DocumentError(
                    located(
                        path,
                        f"block '{open_name}' (opened at line "
                        f"{open_line}) is not closed before the next "
                        f"begins; restore '<!-- pocflow:end {open_name} -->'",
                        line,
                    )
                )
            open_name, open_start, open_line = match["name"], match.start(), line
        else:
            if open_name != match["name"]:
                _not_alone(text, "begin", match["name"], path, line, end=match.start())
                raise DocumentError(
                    located(
                        path,
                        f"'<!-- pocflow:end {match['name']} -->' has "
                        "no matching begin marker; restore or remove it",
                        line,
                    )
                )
            end = match.end()
            if end < len(text) and text[end] == "\n":
                end += 1
            blocks.append(Block(match["name"], open_start, end))
            open_name = None
    if open_name is not None:
        _not_alone(text, "end", open_name, path, open_line, start=open_start)
        raise DocumentError(
            located(
                path,
                f"block '{open_name}' is never closed; restore '<!-- pocflow:end {open_name} -->'",
                open_line,
            )
        )
    seen: set[str] = set()
    for block in blocks:
        if block.name in seen:
            raise DocumentError(
                located(
                    path,
                    f"block '{block.name}' appears twice; delete one copy",
                    text.count("\n", 0, block.start) + 1,
                )
            )
        seen.add(block.name)
    return blocks


def _not_alone(
    text: str, kind: str, name: str, path: str, other: int, start: int = 0, end: int = -1
) -> None:
    """A marker the pair lacks, found with a person's text beside it on its line (which
    makes it no marker): DocumentError naming that line, not the other marker's."""
    marker = f"<!-- pocflow:{kind} {name} -->"
    stop = len(text) if end < 0 else end
    at = text.find(marker, start, stop)
    while at >= 0:  # (a marker alone on its line is a block's of that name, not this one)
        first = text.rfind("\n", 0, at) + 1
        last = text.find("\n", at)
        beside = text[first:at] + text[at + len(marker) : len(text) if last < 0 else last]
        if beside.strip():
            break
        at = text.find(marker, at + len(marker), stop)
    if at < 0:
        return
    pair = (
        f"the block's end at line {other} has no beginning"
        if kind == "begin"
        else f"the block begun at line {other} has no end"
    )
    raise DocumentError(
        located(
            path,
            f"'{marker}' is not alone on its line ({beside.strip()!r} beside it), so "
            f"{pair}; move that text to a line of its own",
            text.count("\n", 0, at) + 1,
        )
    )


@dataclass(frozen=True)
class Merged:
    """A merge's result: the text to write, and the lines a person wrote inside machine
    blocks that it moved below them — (block, line in the existing text, the lines)."""

    text: str
    moved: list[tuple[str, int, list[str]]]
    #: lines of pocflow's own a person changed inside a block since pocflow wrote them
    #: there, rewritten from the record: (block, line in the existing text, the line)
    repaired: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Owned:
    """What pocflow knows of the lines it wrote inside a document's machine blocks: per
    block, the shapes of the lines its template renders there (block_shapes), and the block
    as it last wrote it here (local; see write_document)."""

    shapes: Mapping[str, Sequence[re.Pattern[str]]] = field(default_factory=dict)
    written: Mapping[str, str] = field(default_factory=dict)


_FENCE_RE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$", re.M)


def _fences(text: str) -> list[tuple[re.Match[str], re.Match[str] | None]]:
    """The code fences of text, read as CommonMark reads them: (opening line, closing line
    or None when it never closes and so runs to the end). A closing fence is of the
    opening's character, at least as long, with nothing after it; a backtick fence's info
    string holds no backtick. (Indented fences count, as in a list item.)"""
    fences: list[tuple[re.Match[str], re.Match[str] | None]] = []
    opening: re.Match[str] | None = None
    for match in _FENCE_RE.finditer(text):
        if opening is None:
            if not (match["fence"][0] == "`" and "`" in match["info"]):
                opening = match
        elif closes_fence(opening["fence"], match["fence"], match["info"]):
            fences.append((opening, match))
            opening = None
    if opening is not None:
        fences.append((opening, None))
    return fences


def _closed_fences(text: str) -> list[tuple[int, int]]:
    """The spans of the code fences that open and close (markers inside one are an example
    of the format; one never closed is a stray fence line, and hides no marker)."""
    return [(opening.start(), closing.end()) for opening, closing in _fences(text) if closing]


def merge_document(existing: str | None, rendered: str, path: str) -> str:
    """The existing text with its machine blocks replaced by the rendered ones (see merge);
    every line inside a block is taken for pocflow's."""
    return merge(existing, rendered, path, Owned()).text


def merge(existing: str | None, rendered: str, path: str, owned: Owned) -> Merged:
    """The existing text with its machine blocks replaced by the rendered ones. The file's
    own shape is kept: its line endings (CRLF when every line ends so) and a byte-order mark
    at its start. A line inside a block that pocflow did not write is a person's, and is
    moved below the block instead of dropped: one added to the block as pocflow last wrote
    it here (``owned.written``), or, where pocflow has not written the document here (a
    fresh clone) or the block changed otherwise since (a pull), one that is not in the new
    block and has none of the shapes the template renders there (``owned.shapes``)."""
    if existing is None:
        return Merged(rendered, [])
    bom, crlf, text = document_shape(existing)
    moved: list[tuple[str, int, list[str]]] = []
    repaired: list[tuple[str, int, str]] = []
    merged = _merge(text, rendered, path, owned, moved, repaired)
    if crlf:
        merged = merged.replace("\n", "\r\n")
    return Merged(BOM + merged if bom else merged, moved, repaired)


BOM = "\ufeff"


def document_shape(text: str) -> tuple[bool, bool, str]:
    """(starts with a byte-order mark, every line ends with CRLF, the text without the mark
    and with LF line ends): what merging works on, and what it gives back."""
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    return bom, crlf, text.replace("\r\n", "\n") if crlf else text


def _merge(
    existing: str,
    rendered: str,
    path: str,
    owned: Owned,
    moved: list[tuple[str, int, list[str]]],
    repaired: list[tuple[str, int, str]],
) -> str:
    new_blocks = find_blocks(rendered, f"{path} (as rendered)")
    fresh = {b.name: rendered[b.start : b.end] for b in new_blocks}
    blocks = find_blocks(existing, path)
    _refuse_moved_markers(existing, blocks, rendered, new_blocks, fresh, path)
    result = replace_blocks(existing, fresh, path, owned, moved, repaired)
    for block in new_blocks:
        if block.name not in {b.name for b in find_blocks(result, path)}:
            adopted = _adopt(result, fresh[block.name], path)
            result = (
                adopted
                if adopted is not None
                else _restore(result, rendered, block, fresh[block.name], path)
            )
    return result


def replace_blocks(
    text: str,
    blocks: Mapping[str, str],
    path: str,
    owned: Owned,
    moved: list[tuple[str, int, list[str]]] | None = None,
    repaired: list[tuple[str, int, str]] | None = None,
) -> str:
    """text with each machine block that ``blocks`` has too replaced by that one, and the
    lines a person wrote inside it moved right below it (see merge; each noted in
    ``moved``; lines of pocflow's a person changed, rewritten, in ``repaired``)."""
    result = text
    for block in reversed(find_blocks(text, path)):
        if block.name not in blocks:
            continue
        same = text[block.start : block.end] == blocks[block.name]  # (most blocks, most runs)
        persons = [] if same else _persons_lines(text, block, blocks[block.name], owned, block.name)
        if not same and repaired is not None:
            repaired[:0] = [
                (block.name, text.count("\n", 0, at) + 1, line)
                for at, line in _repaired_lines(text, block, blocks[block.name], owned)
            ]
        rest = result[block.end :]
        kept = ""
        if persons:
            line = text.count("\n", 0, persons[0][0]) + 1
            if moved is not None:
                moved.insert(0, (block.name, line, [t.strip() for _, t, _ in persons]))
            kept = "\n" + _as_written(persons) + ("\n" if rest[:1] not in ("", "\n") else "")
        result = (
            result[: block.start]
            + (blocks[block.name] + kept if kept else _fit(blocks[block.name], result, block.end))
            + rest
        )
    return result


def _refuse_moved_markers(
    existing: str,
    blocks: list[Block],
    rendered: str,
    new_blocks: list[Block],
    fresh: dict[str, str],
    path: str,
) -> None:
    """Refuse to replace a block that holds a line of a person's section — a heading or a
    bold label the template writes outside every block (``## Summary``, ``> **Current
    Stage**:``) and the block itself does not: a marker was moved over it, and replacing the
    block would drop the person's lines. DocumentError names the line."""
    human = rendered
    for block in reversed(new_blocks):
        human = human[: block.start] + human[block.end :]
    headings = {line.strip() for line in human.splitlines() if _heading_level(line)}
    labels = {_label_key(m["label"]) for line in human.splitlines() if (m := _LABEL_RE.match(line))}
    for block in blocks:
        if block.name not in fresh:
            continue
        own = fresh[block.name].splitlines()
        own_labels = {_label_key(m["label"]) for line in own if (m := _LABEL_RE.match(line))}
        offset = block.start
        for line in existing[block.start : block.end].splitlines(keepends=True):
            stripped = line.strip()
            label = _LABEL_RE.match(line)
            if (stripped in headings and stripped not in {o.strip() for o in own}) or (
                label and _label_key(label["label"]) in labels - own_labels
            ):
                raise DocumentError(
                    located(
                        path,
                        f"block '{block.name}' holds '{stripped}', a line of your own "
                        "section: was a marker moved? Put the block's markers back around what "
                        "pocflow writes (or move the line out of the block)",
                        existing.count("\n", 0, offset) + 1,
                    )
                )
            offset += len(line)


def _adopt(text: str, block_text: str, path: str) -> str | None:
    """Take over the hand-written version of a block's section, keeping the person's prose.

    A document written by hand in the method's shape has the sections pocflow owns but no
    markers. The section that starts with the block's heading (or, for a block of labelled
    lines such as ``> **Last Updated**: ...``, the line with that label) becomes the block.
    Only what the block itself renders is dropped from it: the heading, tables, lines with
    the block's bold labels, and code fences of the block's kind. Every other line is kept,
    right after the block. None when there is nothing to take over.
    """
    inner = block_text.splitlines()[1:-1]
    blocks = find_blocks(text, path)
    fenced = _fenced_lines(text)  # a "# comment" in a code fence is no heading
    outside = [
        (m.start(), m.end())
        for m in _LINE_RE.finditer(text)
        if not any(b.start <= m.start() < b.end for b in blocks) and m.start() not in fenced
    ]
    labels = {_label_key(m["label"]) for line in inner if (m := _LABEL_RE.match(line))}
    heading = next((line for line in inner if line.strip()), "")
    level = _heading_level(heading)
    if level:
        start = next((s for s, e in outside if _same_heading(text[s:e], heading)), None)
        if start is None:
            return None
        end = len(text)
        for s, e in outside:
            if s > start and (_heading_level(text[s:e]) or _MARK_RE.match(text[s:e])):
                end = s
                break
        for b in blocks:
            if start < b.start < end:
                end = b.start
    elif labels:
        spot = next(
            (
                (s, e)
                for s, e in outside
                if (m := _LABEL_RE.match(text[s:e])) and _label_key(m["label"]) in labels
            ),
            None,
        )
        if spot is None:
            return None
        start, end = spot[0], min(spot[1] + 1, len(text))
    else:
        return None
    kept = _keep_prose(text[start:end], inner)
    return text[:start] + block_text + kept + text[end:]


def _fenced_lines(text: str) -> dict[int, str]:
    """The offsets of the lines inside code fences (the fence lines themselves excluded),
    each with its fence's opening line (stripped)."""
    inside: dict[int, str] = {}
    if "```" not in text and "~~~" not in text:
        return inside
    for opening, closing in _fences(text):
        end = closing.start() if closing is not None else len(text)
        opener = opening.group(0).strip()
        for match in _LINE_RE.finditer(text, opening.end() + 1, end):
            if match.start() < end:
                inside[match.start()] = opener
    return inside


def _keep_prose(section: str, inner: list[str]) -> str:
    """A hand-written section without what the block renders itself: a person's table,
    code fence or line is dropped only when the block holds the very same lines (a heading,
    an unchanged table); everything else stays, whole, after the block."""
    rendered = {line.strip() for line in inner if line.strip()}
    kept: list[str] = []
    for unit in _units(section.splitlines(keepends=True)):
        if all(not line.strip() or line.strip() in rendered for line in unit) and any(
            line.strip() for line in unit
        ):
            continue  # the block says all of it itself: nothing is lost
        for line in unit:
            if not line.strip() and kept and not kept[-1].strip():
                continue  # the lines taken out leave no gap of several blank lines
            kept.append(line)
    text = "".join(kept)
    return "\n" + text.lstrip("\n") if text.strip() else ("\n" if text else "")


def _units(lines: list[str]) -> list[list[str]]:
    """Lines grouped as a reader sees them: a table (its consecutive ``|`` lines), a code
    fence (from its opening to its closing line), or one line."""
    units: list[list[str]] = []
    fence: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        if fence is not None:
            fence.append(line)
            if stripped.startswith("```"):
                units.append(fence)
                fence = None
        elif stripped.startswith("```"):
            fence = [line]
        elif stripped.startswith("|") and units and units[-1][-1].strip().startswith("|"):
            units[-1].append(line)
        else:
            units.append([line])
    if fence is not None:
        units.append(fence)
    return units


def _label_key(label: str) -> str:
    """A bold label with its numbers blanked: '**PoC 2**' is the block's '**PoC 1**' line."""
    return re.sub(r"\d+", "#", label.strip().lower())


def _heading_level(line: str) -> int:
    match = _ANY_HEADING_RE.match(line)
    return len(match["hashes"]) if match else 0


def _same_heading(line: str, heading: str) -> bool:
    """Same level and text; a document's title (level 1) matches any title."""
    level = _heading_level(line)
    if level != _heading_level(heading):
        return False
    return level == 1 or line.strip().lower() == heading.strip().lower()


def _anchors(text: str, blocks: list[Block]) -> list[tuple[str, int, int]]:
    """Blocks and the '## ' headings outside them, in order: (key, start, end)."""
    found = [(f"block:{b.name}", b.start, b.end) for b in blocks]
    for match in _HEADING_RE.finditer(text):
        if not any(b.start <= match.start() < b.end for b in blocks):
            found.append((f"heading:{match.group(0).strip()}", match.start(), match.end()))
    return sorted(found, key=lambda anchor: anchor[1])


def _restore(text: str, rendered: str, block: Block, block_text: str, path: str) -> str:
    """Put a block a person deleted back where the template has it: before the first anchor
    (block or heading) that follows it in the template, else at the end of the section of
    the last anchor that precedes it."""
    template = _anchors(rendered, find_blocks(rendered, path))
    here = _anchors(text, find_blocks(text, path))
    positions = {key: (start, end) for key, start, end in here}
    index = next(i for i, a in enumerate(template) if a[0] == f"block:{block.name}")
    at = None
    for key, _start, _end in template[index + 1 :]:
        if key in positions:
            at = positions[key][0]
            break
    if at is None:
        for key, _start, _end in reversed(template[:index]):
            if key in positions:
                later = [s for _k, s, _e in here if s > positions[key][0]]
                at = later[0] if later else len(text)
                break
    if at is None:
        at = len(text)
    # the block starts a line and ends with one: nothing outside it needs to change, except a
    # line break when it goes after a last line that has none
    insert = block_text if at == 0 or text[at - 1] == "\n" else "\n" + block_text
    return text[:at] + insert + text[at:]


def _fit(block_text: str, text: str, end: int) -> str:
    """Keep the existing text's line ending after the block (end of file without newline)."""
    if end == len(text) and not text.endswith("\n") and block_text.endswith("\n"):
        return block_text[:-1]
    return block_text


def _persons_lines(
    text: str, block: Block, fresh: str, owned: Owned, name: str
) -> list[tuple[int, str, str]]:
    """The lines inside an existing block that pocflow did not write: (offset, the line
    with its ending, the code fence it is in: its opening line, or ''). See merge."""
    fences = _fenced_lines(text)
    ours = {line.strip() for line in fresh.splitlines()}
    lines = [
        (match.start(), match.group(0))
        for match in _LINE_RE.finditer(text, block.start, block.end)
        if match.group(0).strip() and not _MARK_RE.match(match.group(0))
    ]
    shapes = owned.shapes.get(name)

    def pocflows(line: str) -> bool:
        return shapes is not None and any(shape.fullmatch(line.strip()) for shape in shapes)

    written = owned.written.get(name)
    if written is None:  # not written here: by shape alone
        if shapes is None:
            return []
        candidates = [(at, line) for at, line in lines if not pocflows(line)]
    else:
        candidates = _changed_since_written(lines, written, pocflows)
    return [
        (at, line + "\n", fences.get(at, "")) for at, line in candidates if line.strip() not in ours
    ]


def _repaired_lines(text: str, block: Block, fresh: str, owned: Owned) -> list[tuple[int, str]]:
    """The lines of pocflow's own (the template's shapes) a person changed inside a block
    since pocflow wrote it here, other than by adding to them: pocflow's to rewrite from the
    record (a value edited by hand is not a result), said so rather than silently."""
    written = owned.written.get(block.name)
    shapes = owned.shapes.get(block.name)
    if written is None or not shapes:
        return []
    lines = [
        (match.start(), match.group(0))
        for match in _LINE_RE.finditer(text, block.start, block.end)
        if match.group(0).strip() and not _MARK_RE.match(match.group(0))
    ]
    ours = {line.strip() for line in fresh.splitlines()}
    changed = _changed_since_written(lines, written, lambda line: False)
    persons = {at for at, _ in _changed_since_written(lines, written, lambda line: True)}
    return [
        (at, line.strip())
        for at, line in changed
        if at not in persons
        and line.strip() not in ours
        and any(shape.fullmatch(line.strip()) for shape in shapes)
    ]


def _changed_since_written(
    lines: list[tuple[int, str]], written: str, pocflows: Callable[[str], bool]
) -> list[tuple[int, str]]:
    """The lines of a block a person wrote since pocflow wrote it as ``written``: every line
    added, whatever its shape, and a line of pocflow's a person changed by adding to it (a
    comment after a command); a line otherwise different is a person's unless it has a
    shape the template renders there (a pull brought another render's values)."""
    before = [
        line.strip() for line in written.splitlines() if line.strip() and not _MARK_RE.match(line)
    ]
    now = [line.strip() for _, line in lines]
    found: list[tuple[int, str]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=before, b=now, autojunk=False).get_opcodes():
        if tag == "insert":
            found += lines[j1:j2]
        elif tag == "replace":
            olds = before[i1:i2] if i2 - i1 == j2 - j1 else [""] * (j2 - j1)
            for old, (at, line) in zip(olds, lines[j1:j2], strict=True):
                grown = bool(old) and old in line.strip() and old != line.strip()
                if grown or not pocflows(line):
                    found.append((at, line))
    return found


def _as_written(lines: list[tuple[int, str, str]]) -> str:
    """Moved lines as a text of their own; those that were in a code fence stay code, in a
    fence like theirs."""
    out: list[str] = []
    fence = ""
    for _, line, opener in lines:
        if opener != fence:
            if fence:
                out.append("```\n")
            if opener:
                out.append(opener + "\n")
            fence = opener
        out.append(line)
    if fence:
        out.append("```\n")
    return "".join(out)


@cache
def _block_shapes(template: str) -> dict[str, tuple[re.Pattern[str], ...]]:
    shapes: dict[str, list[re.Pattern[str]]] = {}
    name = None
    for line in template.splitlines():
        mark = _MARK_RE.match(line.strip())
        if mark:
            name = mark["name"] if mark["kind"] == "begin" else None
        elif name is not None and (_TAG_RE.sub("", line).strip() or _VALUE_RE.search(line)):
            shapes.setdefault(name, []).append(_line_pattern(line.strip()))
    return {block: tuple(found) for block, found in shapes.items()}


def block_shapes(
    root: Path | None, templates_dir: str, name: str
) -> dict[str, tuple[re.Pattern[str], ...]]:
    """Per machine block of the template in use (root None: the packaged one), the shapes
    of the lines it renders there (see merge). Worked out once per template and process
    while the workspace's own template file (or its absence) is unchanged."""
    override = None if root is None else root / templates_dir / name
    try:
        seen = stamp(override.stat()) if override is not None else None
    except OSError:
        seen = None
    key = (str(override), seen, name)
    known = _SHAPES.get(key)
    if known is None:
        text = (
            template_source(root, templates_dir, name)[1]
            if root is not None
            else _packaged_template(name).read_text(encoding="utf-8")
        )
        known = _SHAPES[key] = _block_shapes(text)
    return known


_SHAPES: dict[tuple[str, object, str], dict[str, tuple[re.Pattern[str], ...]]] = {}


def write_document(
    root: Path,
    relpath: str,
    rendered: str,
    shapes: Mapping[str, Sequence[re.Pattern[str]]],
    kept: Path | None = None,
) -> None:
    """Merge rendered into the document at relpath (creating it) and write it atomically.

    What pocflow renders comes from records and run files, whose free text is masked when
    they are written (pocflow.redact.mask_record); the document is not masked as a whole,
    which would garble its paths and words when a secret is an ordinary word. A person's own
    text is kept as it is."""
    path = root / relpath
    raw = read_document(root, relpath)
    existing = None
    if raw is not None:
        try:
            existing = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentError(
                located(relpath, "not valid UTF-8; pocflow will not rewrite it (save it as UTF-8)")
            ) from None
    written = read_json(kept) if kept is not None else None
    blocks = {k: v for k, v in (written or {}).items() if isinstance(v, str)}
    merged = merge(existing, rendered, relpath, Owned(shapes, blocks))
    for block, line, text in merged.repaired:
        sys.stderr.write(
            "pocflow: warning: "
            + located(
                relpath,
                f"a line of pocflow's in the machine block '{block}' is not what pocflow "
                f"last wrote here, edited by hand or brought by git ({shown(text, 120)}); "
                "rewritten from the record (write notes below the "
                "block's end marker, where they are yours)",
                line,
            )
            + "\n"
        )
    for block, line, lines in merged.moved:
        count = f"{len(lines)} line{'' if len(lines) == 1 else 's'}"
        sys.stderr.write(
            "pocflow: warning: "
            + located(
                relpath,
                f"{count} written inside the machine block '{block}' moved below it, where "
                f"{'it is' if len(lines) == 1 else 'they are'} yours (pocflow rewrites what "
                "is between its markers)",
                line,
            )
            + "\n"
        )
    if merged.text != existing:
        try:
            atomic_write_text(path, merged.text)
        except OSError as exc:
            raise DocumentError(unwritable(relpath, exc)) from None
    if kept is not None:  # the blocks as written here: what a person adds to one is theirs
        fresh = {b.name: rendered[b.start : b.end] for b in find_blocks(rendered, relpath)}
        if fresh != blocks:
            atomic_write_text(kept, json.dumps(fresh, sort_keys=True), durable=False)


def unwritable(relpath: Path | str, exc: OSError) -> str:
    """The one line for a document or record pocflow cannot write."""
    reason = exc.strerror or type(exc).__name__
    return (
        f"{relpath}: cannot be written ({reason}); make it and its folder writable, then "
        "run the same command again"
    )


def note_written(registry: Path, *paths: Path) -> None:
    """Keep the sha256 of files pocflow just wrote outside the tasks that own them (in
    Workspace.written_elsewhere), so that those tasks' up-to-date checks do not take them for
    edits by hand. Paths that are not files are left out. (Hold the state lock.)"""
    import json

    noted = noted_digests(registry)
    noted.update({str(path): sha256_file(path) for path in paths if path.is_file()})
    registry.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(registry, json.dumps(noted, indent=1, sort_keys=True) + "\n", durable=False)


def noted_digests(registry: Path) -> dict[str, str]:
    """What note_written kept (nothing when the file is absent, damaged or a link)."""
    from pocflow._fs import read_json

    data = read_json(registry) or {}
    return {k: v for k, v in data.items() if isinstance(v, str)}


def read_document(root: Path, relpath: str) -> bytes | None:
    """A generated document's bytes as they are on disk; None when there is none. A document
    that is a symbolic link leading outside the workspace is neither read nor written through
    (its target's content would be copied into the workspace): DocumentError."""
    path = root / relpath
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root.resolve()):
            raise DocumentError(
                located(
                    relpath,
                    f"a symbolic link to {target}, outside the workspace; pocflow neither "
                    "reads nor writes through it: put the file itself here (or remove the link)",
                )
            )
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise DocumentError(
            located(relpath, "a folder, where pocflow writes a document: move it away")
        ) from None


#: the templates this process compiled, each by jinja2's key of its name and file -> (its
#: text's checksum, its code): every environment of the process finds a template compiled
#: once in any of them (the same packaged template, for each workspace a process renders
#: for, or in a process forked from one that compiled it)
_COMPILED: dict[str, tuple[str, Any]] = {}


@cache
def template_environment(
    root: Path, templates_dir: str, compiled: Path | None = None
) -> jinja2.Environment:
    """Templates from the workspace's templates_dir first, then the packaged defaults.

    One environment per workspace and process: jinja2 compiles each template once and
    recompiles it when its file changes. Sandboxed: a template is text to fill in, and
    reaching Python from one (``self.__init__.__globals__``) or changing the values it is
    given fails the render, with the template's line (a gate that rendered the PoC results
    doc after its check ran a workspace template's code unwatched). ``compiled``: the folder
    where jinja2 keeps what it compiled between runs (its bytecode cache, keyed by each
    template's text and the Python version): compiling the three templates is a tenth of a
    run that verifies one step.
    """
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Kept(jinja2.FileSystemBytecodeCache):
        """What was compiled, kept for the process (_COMPILED) and in the folder. A kept
        file that cannot be read (damaged, cut short) is compiled again; one that cannot be
        written (a read-only folder) is not kept."""

        def load_bytecode(self, bucket: Any) -> None:
            held = _COMPILED.get(bucket.key)
            if held is not None and held[0] == bucket.checksum:
                bucket.code = held[1]
                return
            try:
                super().load_bytecode(bucket)
            except Exception:
                bucket.reset()
            if bucket.code is not None:
                _COMPILED[bucket.key] = (bucket.checksum, bucket.code)

        def dump_bytecode(self, bucket: Any) -> None:
            _COMPILED[bucket.key] = (bucket.checksum, bucket.code)
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    kept = None
    if compiled is not None:
        with contextlib.suppress(OSError):  # (not kept where the folder cannot be made)
            compiled.mkdir(parents=True, exist_ok=True)
            kept = Kept(str(compiled))
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(root / templates_dir),
                jinja2.PackageLoader("pocflow", "templates"),
            ]
        ),
        bytecode_cache=kept,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cell"] = table_cell
    env.filters["docstring"] = docstring_text
    return env


def docstring_text(value: object) -> str:
    """Text inside a generated module's docstring: on one line, backslashes and triple
    quotes escaped (a name like ``a\\b "\"\"" c`` would end or break the docstring)."""
    return " ".join(str(value).split()).replace("\\", "\\\\").replace('"""', '\\"""')


def table_cell(value: object) -> str:
    """Text for one cell of a Markdown table (the ``cell`` filter of every template): on one
    line, its pipes escaped — a step named "A | B" would otherwise add a column."""
    return re.sub(r"(?<!\\)\|", r"\\|", " ".join(str(value).split()))


def _packaged_template(name: str) -> Any:
    """A template pocflow ships (an importlib.resources Traversable)."""
    return resources.files("pocflow").joinpath(f"templates/{name}")


def template_source(root: Path, templates_dir: str, name: str) -> tuple[str, str]:
    """(where the template in use comes from, its text): the override or the packaged one."""
    override = root / templates_dir / name
    if override.is_file():
        return f"{templates_dir}/{name}", override.read_text(encoding="utf-8")
    packaged = _packaged_template(name)
    if not packaged.is_file():
        raise DocumentError(
            f"template {name} not found in {templates_dir}/ nor in pocflow's packaged templates"
        )
    return f"pocflow:{name}", packaged.read_text(encoding="utf-8")


def render(
    root: Path,
    templates_dir: str,
    name: str,
    context: Mapping[str, Any],
    compiled: Path | None = None,
) -> str:
    """Render a template; DocumentError names the template file and line on any error.
    ``compiled``: see template_environment."""
    import jinja2

    env = template_environment(root, templates_dir, compiled)

    def origin() -> str:  # (read on an error only: rendering is every results doc's)
        return template_source(root, templates_dir, name)[0]

    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        origin()  # DocumentError: not in the templates folder, nor pocflow's own
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise DocumentError(
            located(origin(), f"template error: {exc.message}", exc.lineno)
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise DocumentError(
            located(
                origin(),
                f"template does what a template may not ({exc}): it fills in the values it "
                "is given, it does not reach Python or change them",
                _template_line(exc, name),
            )
        ) from None
    except jinja2.UndefinedError as exc:
        raise DocumentError(
            located(
                origin(),
                f"template uses an unknown value: {exc.message}; "
                f"the values it gets: {_values_of(context)}",
                _template_line(exc, name),
            )
        ) from None


def _template_line(exc: BaseException, name: str) -> int | None:
    """The template line an error was raised at (jinja2 maps its frames to the template)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).name == Path(name).name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _values_of(context: Mapping[str, Any]) -> str:
    """The names a template can use, with the keys of those that are mappings."""
    names = []
    for key, value in context.items():
        inner = sorted(value) if isinstance(value, Mapping) else []
        names.append(f"{key} ({', '.join(inner)})" if inner else key)
    return ", ".join(names)


# What a person still has to write in a results doc


#: the sections of a results doc a person writes, which the gate wants written
WRITTEN_SECTIONS = ("Summary", "Bug Fixes During Development")


def unwritten_sections(
    ws: Workspace, step_id: str, patterns: dict[str, list[re.Pattern[str]]] | None = None
) -> list[str]:
    """The sections of the step's results doc (WRITTEN_SECTIONS) that hold nothing but the
    template's own text — its instructions, the goal line — or nothing at all. A missing
    results doc has none written. ('No bugs met.' is something written.) ``patterns``: the
    template's (_template_patterns), when the caller looks at many docs."""
    path = ws.root / ws.results_doc(step_id)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return list(WRITTEN_SECTIONS)
    patterns = patterns or _template_patterns(ws)
    return [
        heading
        for heading in WRITTEN_SECTIONS
        if all(
            any(p.fullmatch(line) for p in patterns[heading]) for line in _section(text, heading)
        )
    ]


def undocumented_steps(ws: Workspace) -> list[tuple[str, list[str]]]:
    """(step id, its unwritten sections) of each step with files whose results doc is not
    written yet, in step order."""
    found = []
    patterns = _template_patterns(ws)  # the template read once, not once per step
    for step_id, step in ws.steps.items():
        sections = unwritten_sections(ws, step_id, patterns) if step.has_files else []
        if sections:
            found.append((step_id, sections))
    return found


def _template_patterns(ws: Workspace) -> dict[str, list[re.Pattern[str]]]:
    """The workspace's results-doc template's own lines, per written section."""
    return _template_lines(template_source(ws.root, ws.settings.templates_dir, STEP_TEMPLATE)[1])


@cache
def _template_lines(template: str) -> dict[str, list[re.Pattern[str]]]:
    """Per written section, the template's own lines as patterns (compiled once per
    template, not once per results doc)."""
    return {
        heading: [
            _line_pattern(line)
            for line in _section(template, heading)
            if re.sub(r"\{\{.*?\}\}", "", line).strip()
        ]  # not a bare value
        for heading in WRITTEN_SECTIONS
    }


def _section(text: str, heading: str) -> list[str]:
    """The non-blank lines of a '## heading' section, up to the next heading or machine
    block (template statements left out)."""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip() == heading
            continue
        if line.startswith("<!-- pocflow:begin "):
            inside = False
        if inside and line.strip() and not line.lstrip().startswith("{%"):
            lines.append(line.strip())
    return lines


_TAG_RE = re.compile(r"\{\{.*?\}\}|\{%-?\s*(?P<word>\w+).*?-?%\}|\{#.*?#\}")
_VALUE_RE = re.compile(r"\{\{.*?\}\}")


def _line_pattern(line: str) -> re.Pattern[str]:
    """A template line as a pattern of every line it can render: a {{ value }} is any text,
    an inline {% if %}…{% else %}…{% endif %} (or {% for %}) either branch or neither."""
    out: list[str] = []
    depth = pos = 0
    for tag in _TAG_RE.finditer(line):
        out.append(re.escape(line[pos : tag.start()]))
        pos = tag.end()
        word = tag["word"]
        if tag.group(0).startswith("{{"):
            out.append(".*")
        elif word in ("if", "for"):
            out.append("(?:")
            depth += 1
        elif word in ("elif", "else") and depth:
            out.append("|")
        elif word in ("endif", "endfor") and depth:
            out.append(")?")
            depth -= 1
    out.append(re.escape(line[pos:]) + ")?" * depth)
    return re.compile("".join(out))


# PROJECT_STATE.md's Health Checks: a log of small-win check entries (pocflow.healthcheck
# appends them; pocflow.merge keeps both branches' when merging).
#: the heading of the section
HEALTH_CHECKS = "## Health Checks"
_HEALTH_CHECKS_RE = re.compile(rf"^{re.escape(HEALTH_CHECKS)}[ \t]*$", re.M)
#: the heading of one small-win check entry
HEALTH_ENTRY = re.compile(r"^### .* - Small Win Check[ \t]*$", re.M)
_SECTION_END = re.compile(r"^#{1,2} |^<!-- pocflow:begin ", re.M)


def health_checks_span(text: str) -> tuple[int, int] | None:
    """Where the Health Checks section's body is in text (after its heading, up to the next
    heading of level 1 or 2 or machine block); None without the section."""
    heading = _HEALTH_CHECKS_RE.search(text)
    if heading is None:
        return None
    following = _SECTION_END.search(text, heading.end())
    return heading.end(), following.start() if following else len(text)


def health_entries(section: str) -> list[str]:
    """The small-win check entries of a Health Checks section, each stripped, in order."""
    starts = [m.start() for m in HEALTH_ENTRY.finditer(section)]
    ends = [*starts[1:], len(section)] if starts else []
    return [section[a:b].strip() for a, b in zip(starts, ends, strict=True)]
