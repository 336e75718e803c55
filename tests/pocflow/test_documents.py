"""Machine-owned blocks: regeneration replaces them and keeps every human byte."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from pocflow import documents
from pocflow.documents import (
    document_shape,
    find_blocks,
    merge_document,
    render,
    write_document,
)
from pocflow.errors import DocumentError

RENDERED = """<!-- pocflow:begin head -->
# Title v2
<!-- pocflow:end head -->

## Summary

_write here_

<!-- pocflow:begin table -->
| a | 2 |
<!-- pocflow:end table -->

## Next Steps
"""


def test_merge_document_first_render_is_the_whole_document() -> None:
    assert merge_document(None, RENDERED, "d.md") == RENDERED


def test_merge_document_keeps_human_text_and_replaces_blocks() -> None:
    existing = (
        RENDERED.replace("Title v2", "Title v1")
        .replace("| a | 2 |", "| a | 1 |")
        .replace("_write here_", "We proved it.\n\nWith **two** paragraphs.")
        .replace("## Next Steps\n", "## Next Steps\n\n- ship it\n")
    )
    merged = merge_document(existing, RENDERED, "d.md")
    assert "Title v2" in merged and "| a | 2 |" in merged
    assert "We proved it.\n\nWith **two** paragraphs." in merged
    assert merged.endswith("## Next Steps\n\n- ship it\n")


def test_merge_document_restores_deleted_block_in_place() -> None:
    existing = RENDERED.replace(
        "<!-- pocflow:begin table -->\n| a | 2 |\n<!-- pocflow:end table -->\n", ""
    )
    existing = existing.replace("_write here_", "mine")
    merged = merge_document(existing, RENDERED, "d.md")
    assert merged.index("mine") < merged.index("| a | 2 |") < merged.index("## Next Steps")


def test_merge_document_without_newline_at_end() -> None:
    existing = "intro\n<!-- pocflow:begin head -->\nold\n<!-- pocflow:end head -->"
    merged = merge_document(
        existing, "<!-- pocflow:begin head -->\nnew\n<!-- pocflow:end head -->\n", "d.md"
    )
    assert merged == "intro\n<!-- pocflow:begin head -->\nnew\n<!-- pocflow:end head -->"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\n<!-- pocflow:begin x -->\nb\n", r"d.md:2: block 'x' is never closed"),
        ("<!-- pocflow:end x -->\n", r"d.md:1: '<!-- pocflow:end x -->' has no matching begin"),
        (
            "<!-- pocflow:begin x -->\n<!-- pocflow:begin y -->\n",
            r"d.md:2: block 'x' \(opened at line 1\) is not closed",
        ),
        (
            "<!-- pocflow:begin x -->\n<!-- pocflow:end x -->\n"
            "<!-- pocflow:begin x -->\n<!-- pocflow:end x -->\n",
            r"d.md:3: block 'x' appears twice",
        ),
    ],
)
def test_find_blocks_unbalanced_markers_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        find_blocks(text, "d.md")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a\n<!-- pocflow:begin x --> my note\nold\n<!-- pocflow:end x -->\n",
            r"^d.md:2: '<!-- pocflow:begin x -->' is not alone on its line \('my note' beside "
            r"it\), so the block's end at line 4 has no beginning; move that text to a line "
            r"of its own",
        ),
        (  # (an earlier block of that name, whole, is not the one named)
            "<!-- pocflow:begin y -->\n<!-- pocflow:end y -->\n"
            "<!-- pocflow:begin y --> mine\n<!-- pocflow:end y -->\n",
            r"^d.md:3: '<!-- pocflow:begin y -->' is not alone on its line \('mine' beside "
            r"it\), so the block's end at line 4 has no beginning",
        ),
        (
            "<!-- pocflow:begin x -->\nold\nnote: <!-- pocflow:end x -->\n",
            r"^d.md:3: '<!-- pocflow:end x -->' is not alone on its line \('note:' beside "
            r"it\), so the block begun at line 1 has no end; move that text to a line of its "
            r"own",
        ),
    ],
)
def test_a_marker_with_text_beside_it_is_named_where_it_stands(text: str, message: str) -> None:
    """A person's words typed on a marker's line leave it no marker: the error names that
    line, not the other marker of the pair."""
    with pytest.raises(DocumentError, match=message):
        find_blocks(text, "d.md")


def test_write_document_refuses_to_rewrite_damaged_document(tmp_path: Path) -> None:
    damaged = "mine\n<!-- pocflow:begin head -->\nold\n"
    (tmp_path / "d.md").write_text(damaged, encoding="utf-8")
    with pytest.raises(DocumentError, match="never closed"):
        write_document(tmp_path, "d.md", RENDERED, {})
    assert (tmp_path / "d.md").read_text(encoding="utf-8") == damaged


def test_an_unknown_template_value_names_the_line_and_the_values_there_are(tmp_path: Path) -> None:
    (tmp_path / "assets/templates").mkdir(parents=True)
    (tmp_path / "assets/templates/step-results.md").write_text(
        "# {{ step.name }}\n\n{{ step.owner }}\n", encoding="utf-8"
    )
    with pytest.raises(DocumentError) as raised:
        render(
            tmp_path,
            "assets/templates",
            "step-results.md",
            {"step": {"name": "A", "step_id": "1"}, "metrics": []},
        )
    assert str(raised.value) == (
        "assets/templates/step-results.md:3: template uses an unknown value: 'dict object' has "
        "no attribute 'owner'; the values it gets: step (name, step_id), metrics"
    )


def test_render_broken_override_names_template_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "assets/templates").mkdir(parents=True)
    (tmp_path / "assets/templates/step-results.md").write_text(
        "# fine\n\n{% for x in %}\n", encoding="utf-8"
    )
    with pytest.raises(
        DocumentError,
        match=r"^assets/templates/step-results.md:3: template "
        r"error",
    ):
        render(tmp_path, "assets/templates", "step-results.md", {})


# --- human text survives any edit outside the machine blocks (property) -------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from support import examples  # noqa: E402

GOLDEN_DOC = (Path(__file__).parent / "golden" / "step-results.md").read_text(encoding="utf-8")
#: a later render: every machine block has new content
NEXT_RENDER = (
    GOLDEN_DOC.replace("42", "43").replace("3.50", "2.10").replace("2026-03-01", "2026-03-09")
)
_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
human_lines = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=_LINE_BREAKS),
    max_size=60,
).filter(lambda line: "<!-- pocflow:" not in line)


def human_text(text: str) -> str:
    """The document without its machine blocks: what people own."""
    for block in reversed(find_blocks(text, "doc")):
        text = text[: block.start] + text[block.end :]
    return text


def machine_blocks(text: str) -> dict[str, str]:
    return {b.name: text[b.start : b.end] for b in find_blocks(text, "doc")}


def human_slots(text: str) -> list[int]:
    """Offsets of line starts that lie outside every machine block."""
    blocks = find_blocks(text, "doc")
    starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    return [s for s in starts if not any(b.start < s < b.end for b in blocks)]


@st.composite
def human_edits(draw: st.DrawFn) -> str:
    """The golden document after random insertions and deletions of human lines."""
    text = GOLDEN_DOC
    for _ in range(draw(st.integers(0, 8))):
        slots = human_slots(text)
        at = draw(st.sampled_from(slots))
        if draw(st.booleans()):
            text = text[:at] + draw(human_lines) + "\n" + text[at:]
        else:
            end = text.find("\n", at)
            line = text[at : end + 1 if end >= 0 else len(text)]
            if line and "<!-- pocflow:" not in line:
                text = text[:at] + text[at + len(line) :]
    return text


@settings(max_examples=examples(300), deadline=None)
@given(edited=human_edits())
def test_merge_document_never_changes_human_text(edited: str) -> None:
    merged = merge_document(edited, NEXT_RENDER, "doc")
    assert human_text(merged) == human_text(edited)
    assert machine_blocks(merged) == machine_blocks(NEXT_RENDER)


@settings(max_examples=examples(200), deadline=None)
@given(edited=human_edits(), data=st.data())
def test_merge_document_restores_deleted_blocks_without_touching_human_text(
    edited: str, data: st.DataObject
) -> None:
    names = sorted(machine_blocks(edited))
    gone = data.draw(st.sets(st.sampled_from(names), min_size=1))
    damaged = edited
    for block in reversed(find_blocks(damaged, "doc")):
        if block.name in gone:
            damaged = damaged[: block.start] + damaged[block.end :]
    merged = merge_document(damaged, NEXT_RENDER, "doc")
    assert human_text(merged) == human_text(damaged)
    assert machine_blocks(merged) == machine_blocks(NEXT_RENDER)
    order = [b.name for b in find_blocks(merged, "doc")]
    assert order == [b.name for b in find_blocks(NEXT_RENDER, "doc")]


def test_merge_document_repairs_hand_edited_block_content() -> None:
    edited = GOLDEN_DOC.replace("| pages | 42 (≥ 40 ✅) |", "| pages | 99 (I changed it) |")
    assert merge_document(edited, GOLDEN_DOC, "doc") == GOLDEN_DOC


# --- a PROJECT_STATE.md written by hand, in the method's shape, is taken over in place ----

HAND_STATE = (Path(__file__).parent / "documents" / "PROJECT_STATE.hand.md").read_text(
    encoding="utf-8"
)


def sample_state_render() -> str:
    """PROJECT_STATE.md as pocflow renders it for the repository's sample PoC (PoC 1)."""
    from pocflow.render import render_project_state
    from pocflow.status import compute_status
    from pocflow.workspace import load_workspace

    ws = load_workspace(Path(__file__).resolve().parents[2], 1)
    return render_project_state(ws, compute_status(ws))


def test_merge_document_adopts_hand_written_project_state_without_loss() -> None:
    rendered = sample_state_render()
    merged = merge_document(HAND_STATE, rendered, "PROJECT_STATE.md")
    assert machine_blocks(merged) == machine_blocks(rendered)
    taken_over = {
        "## PoC Progress",
        "> **Last Updated**: 2026-10-02",
        "## Current PoC Step Progress",
        "**PoC 1**: Time-Zone Atlas",
        "**Implementation Plan**: [docs/poc1-implementation.md](docs/poc1-implementation.md)",
    }
    lines = HAND_STATE.splitlines()
    start = lines.index("| Step | Name | Status | Tests | Results Doc |")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    step_table = set(lines[start:end])
    kept = [line for line in lines if line not in taken_over and line not in step_table]
    outside = human_text(merged).splitlines()
    position = 0
    for line in (line for line in kept if line.strip()):  # every other line, in order
        position = outside.index(line, position) + 1
    assert "| 1 | Time-Zone Atlas | ✅ | 🔄 | 18/18 |" in outside  # PoC Progress table kept
    assert "Note to self: step 2's validation script is slow on the full table." in outside
    assert merged.index("<!-- pocflow:begin step-graph -->") < merged.index("## Key Decisions")
    assert "**PoC 1**: Time-Zone Atlas" not in outside  # now inside the block
    assert merge_document(merged, rendered, "PROJECT_STATE.md") == merged


HAND_RESULTS = """# Step 1: Scan pages - Results

**Date**: 2026-02-01
**Status**: 🔄 IN PROGRESS
**PoC**: PoC 3

## Summary

Scanning works on every invoice we have.

## Results

| Metric | Value |
|--------|-------|
| pages | 12 |

Measured on my laptop.

## Bug Fixes During Development

### 1. Rotated pages
**Issue**: pages scanned sideways
**Fix**: detect orientation first

## Commands

```bash
python PoC/step1_scan.py
```

## Next Steps

Try the layout model.
"""


def test_merge_document_adopts_hand_written_results_doc() -> None:
    merged = merge_document(HAND_RESULTS, GOLDEN_DOC, "docs/x-step1-results.md")
    assert machine_blocks(merged) == machine_blocks(GOLDEN_DOC)
    outside = human_text(merged)
    for kept in (
        "Scanning works on every invoice we have.",
        "Measured on my laptop.",
        "### 1. Rotated pages\n**Issue**: pages scanned sideways\n**Fix**: detect "
        "orientation first",
        "Try the layout model.",
    ):
        assert kept in outside
    # what the blocks now say differently is the person's too: kept whole, after the block
    # (a table with its header, a fence with its markers); only identical lines are dropped
    for kept in (
        "| Metric | Value |\n|--------|-------|\n| pages | 12 |",
        "**Status**: 🔄 IN PROGRESS",
        "```bash\npython PoC/step1_scan.py\n```",
    ):
        assert kept in outside
    assert merged.count("## Results") == 1 and merged.count("# Step 1:") == 1
    assert merge_document(merged, GOLDEN_DOC, "docs/x-step1-results.md") == merged


def test_a_rewritten_file_keeps_its_permission_bits_and_a_new_one_follows_the_umask(
    tmp_path: Path,
) -> None:
    import os
    import stat

    from pocflow._fs import atomic_write_text

    kept = tmp_path / "PROJECT_STATE.md"
    kept.write_text("old\n", encoding="utf-8")
    kept.chmod(0o664)
    atomic_write_text(kept, "new\n")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o664  # not the temporary file's 0600
    previous = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "records" / "step1.json", "{}\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "records" / "step1.json").stat().st_mode) == 0o640


# --- a person's words survive markers deleted, duplicated or moved, CRLF and a BOM ---------

MARKER_RE = re.compile(r"^<!-- pocflow:(begin|end) [a-z0-9-]+ -->\s*$")


def persons_lines(text: str) -> list[str]:
    """The non-blank lines a person owns: outside every machine block, markers excluded."""
    body = document_shape(text)[2]
    return [
        line.strip()
        for line in human_text(body).splitlines()
        if line.strip() and not MARKER_RE.match(line)
    ]


@st.composite
def marker_edits(draw: st.DrawFn) -> str:
    """The golden document after human edits, then marker lines deleted, duplicated or moved,
    then maybe CRLF line ends and a byte-order mark."""
    text = draw(human_edits())
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 3))):
        markers = [i for i, line in enumerate(lines) if MARKER_RE.match(line)]
        if not markers:
            break
        at = draw(st.sampled_from(markers))
        action = draw(st.sampled_from(["delete", "duplicate", "move"]))
        line = lines.pop(at)
        if action == "duplicate":
            lines.insert(at, line)
            lines.insert(draw(st.integers(0, len(lines))), line)
        elif action == "move":
            lines.insert(draw(st.integers(0, len(lines))), line)
    text = "".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


@settings(max_examples=examples(300), deadline=None)
@given(edited=marker_edits())
def test_after_any_edit_every_persons_line_stays_or_the_merge_refuses_with_file_and_line(
    edited: str,
) -> None:
    try:
        merged = merge_document(edited, NEXT_RENDER, "doc")
    except DocumentError as exc:
        assert re.match(r"^doc:\d+: ", str(exc)), str(exc)  # refused: nothing is written
        return
    lines = {line.strip() for line in document_shape(merged)[2].splitlines()}
    assert [line for line in persons_lines(edited) if line not in lines] == []
    assert merged.startswith("\ufeff") == edited.startswith("\ufeff")
    assert ("\r\n" in merged) == ("\r\n" in edited)
    assert merge_document(merged, NEXT_RENDER, "doc") == merged  # and it is stable


def test_deleted_markers_around_a_persons_own_table_lose_none_of_its_lines() -> None:
    rendered = sample_state_render()
    mine = (
        "| Step | Name | Status |\n|---|---|---|\n| 1 | Load | done by hand |\n\n"
        "**Verified**: by Ada on 2026-11-01, on her laptop\n"
    )
    start = rendered.index("<!-- pocflow:begin step-progress -->")
    end = rendered.index("<!-- pocflow:end step-progress -->\n") + len(
        "<!-- pocflow:end step-progress -->\n"
    )
    edited = rendered[:start] + "## Current PoC Step Progress\n\n" + mine + rendered[end:]
    merged = merge_document(edited, rendered, "PROJECT_STATE.md")
    for line in mine.splitlines():
        assert line in merged.splitlines(), line
    assert machine_blocks(merged) == machine_blocks(rendered)


@pytest.mark.parametrize("shape", ["crlf", "bom", "both"])
def test_a_windows_checkout_or_a_byte_order_mark_keeps_its_shape_and_its_blocks(shape: str) -> None:
    edited = GOLDEN_DOC.replace("## Next Steps", "A person's line.\n\n## Next Steps")
    if shape in ("crlf", "both"):
        edited = edited.replace("\n", "\r\n")
    if shape in ("bom", "both"):
        edited = "\ufeff" + edited
    merged = merge_document(edited, NEXT_RENDER, "doc")
    assert merged.startswith("\ufeff") == (shape != "crlf")
    assert ("\r\n" in merged) == (shape != "bom")
    if "\r\n" in merged:
        assert "\n" not in merged.replace("\r\n", "")  # every line, not some
    body = document_shape(merged)[2]
    assert machine_blocks(body) == machine_blocks(NEXT_RENDER)  # replaced, not nested
    assert body.count("```mermaid") == NEXT_RENDER.count("```mermaid")
    assert "A person's line." in body
    assert merge_document(merged, NEXT_RENDER, "doc") == merged


def test_taking_over_a_section_with_a_code_fence_keeps_the_fence_whole() -> None:
    edited = (
        GOLDEN_DOC.replace("<!-- pocflow:begin commands -->\n", "")
        .replace("<!-- pocflow:end commands -->\n", "")
        .replace(
            "uv run pytest tests/test_step1_scan.py -v\n",
            "uv run pytest tests/test_step1_scan.py -v\n# mine: the slow ones\n"
            "uv run pytest -m slow\n",
        )
    )
    merged = merge_document(edited, NEXT_RENDER, "doc")
    assert "# mine: the slow ones\nuv run pytest -m slow\n" in merged
    fences = [line for line in merged.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0, fences  # every fence closed: the rest is not code
    after = merged[merged.index("# mine: the slow ones") :]
    assert after.index("```") < after.index("## Next Steps")
    assert machine_blocks(merged) == machine_blocks(NEXT_RENDER)


def test_a_marker_moved_over_a_persons_section_is_refused_with_its_line() -> None:
    # the results block's begin marker moved above "## Summary": replacing the block would
    # drop the person's Summary; the merge refuses, naming the line, and writes nothing
    lines = GOLDEN_DOC.splitlines(keepends=True)
    begin = next(
        i for i, line in enumerate(lines) if line.startswith("<!-- pocflow:begin results -->")
    )
    summary = next(i for i, line in enumerate(lines) if line.startswith("## Summary"))
    assert summary < begin
    marker = lines.pop(begin)
    lines.insert(summary, marker)
    lines.insert(summary + 2, "My own words about the summary.\n")
    edited = "".join(lines)
    with pytest.raises(
        DocumentError,
        match=rf"^doc:{summary + 2}: block 'results' holds "
        r"'## Summary', a line of your own section",
    ):
        merge_document(edited, NEXT_RENDER, "doc")


# --- lines a person wrote inside a machine block are moved below it, never dropped -------

from pocflow.documents import STEP_TEMPLATE, Owned, block_shapes, merge  # noqa: E402

STEP_SHAPES = block_shapes(None, "", STEP_TEMPLATE)
BY_SHAPE = Owned(STEP_SHAPES)  # what pocflow knows where it has not written the document


def inside_block(text: str, name: str, after: str, line: str) -> str:
    """text with line inserted inside block name, after its line that starts with after."""
    block = next(b for b in find_blocks(text, "doc") if b.name == name)
    at = text.index("\n", text.index(after, block.start)) + 1
    assert at < block.end
    return text[:at] + line + "\n" + text[at:]


def test_a_line_written_inside_a_block_is_moved_below_it_and_named() -> None:
    edited = inside_block(GOLDEN_DOC, "results", "| pages |", "Measured on my laptop, not CI.")
    done = merge(edited, NEXT_RENDER, "doc", BY_SHAPE)
    assert machine_blocks(done.text) == machine_blocks(NEXT_RENDER)
    assert "Measured on my laptop, not CI." in human_text(done.text)
    after_block = done.text[done.text.index("<!-- pocflow:end results -->") :]
    assert after_block.index("Measured on my laptop") < after_block.index("## Output Artifacts")
    line = edited.splitlines().index("Measured on my laptop, not CI.") + 1
    assert done.moved == [("results", line, ["Measured on my laptop, not CI."])]
    again = merge(done.text, NEXT_RENDER, "doc", BY_SHAPE)  # stable: nothing more moves
    assert again.text == done.text and again.moved == []


def test_what_pocflow_wrote_in_a_block_before_is_replaced_not_kept() -> None:
    # the old render's rows (42 pages, 3.50 s, the old date) have the template's shapes
    done = merge(GOLDEN_DOC, NEXT_RENDER, "doc", BY_SHAPE)
    assert done.text == NEXT_RENDER and done.moved == []
    # a value edited by hand in pocflow's own row is pocflow's to repair
    edited = GOLDEN_DOC.replace("| pages | 42 (≥ 40 ✅) |", "| pages | 99 (I changed it) |")
    assert merge(edited, NEXT_RENDER, "doc", BY_SHAPE).text == NEXT_RENDER


def test_a_row_of_pocflows_edited_by_hand_is_rewritten_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pocflow wrote the document here; a person then changed a value in one of its rows
    kept = tmp_path / "r.blocks.json"
    write_document(tmp_path, "r.md", GOLDEN_DOC, STEP_SHAPES, kept)
    capsys.readouterr()
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    edited = text.replace("| pages | 42 (≥ 40 ✅) |", "| pages | 99 (I changed it) |")
    assert edited != text
    (tmp_path / "r.md").write_text(edited, encoding="utf-8")
    write_document(tmp_path, "r.md", NEXT_RENDER, STEP_SHAPES, kept)
    assert (tmp_path / "r.md").read_text(encoding="utf-8") == NEXT_RENDER
    line = edited.splitlines().index("| pages | 99 (I changed it) |") + 1
    err = capsys.readouterr().err
    assert (
        f"pocflow: warning: r.md:{line}: a line of pocflow's in the machine block 'results' "
        "is not what pocflow last wrote here, edited by hand or brought by git "
        "('| pages | 99 (I changed it) |'); rewritten from the record"
    ) in err, err


def test_a_comment_written_inside_a_code_fence_of_a_block_stays_code() -> None:
    edited = inside_block(GOLDEN_DOC, "commands", "uv run doit step:1", "# also: make data")
    done = merge(edited, NEXT_RENDER, "doc", BY_SHAPE)
    assert "```bash\n# also: make data\n```\n" in human_text(done.text)  # not a heading
    assert machine_blocks(done.text) == machine_blocks(NEXT_RENDER)


def test_writing_a_document_says_which_lines_it_moved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = inside_block(GOLDEN_DOC, "coverage", "| **Total**", "Two tests are flaky on ARM.")
    (tmp_path / "r.md").write_text(edited, encoding="utf-8")
    write_document(tmp_path, "r.md", NEXT_RENDER, STEP_SHAPES)
    line = edited.splitlines().index("Two tests are flaky on ARM.") + 1
    assert "Two tests are flaky on ARM." in human_text((tmp_path / "r.md").read_text())
    err = capsys.readouterr().err
    assert err == (
        f"pocflow: warning: r.md:{line}: 1 line written inside the machine block 'coverage' "
        "moved below it, where it is yours (pocflow rewrites what is between its markers)\n"
    )


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data())
def test_every_line_written_inside_a_block_survives_unless_it_has_pocflows_shape(
    data: st.DataObject,
) -> None:
    text = GOLDEN_DOC
    written = []
    for _ in range(data.draw(st.integers(1, 5))):
        try:
            blocks = find_blocks(text, "doc")
        except DocumentError:  # a fence line written earlier hides a marker: merge refuses it
            break
        block = data.draw(st.sampled_from(blocks))
        starts = [i + 1 for i in range(block.start, block.end - 1) if text[i] == "\n"]
        at = data.draw(st.sampled_from(starts))
        line = data.draw(human_lines)
        written.append((block.name, line))
        text = text[:at] + line + "\n" + text[at:]
    try:
        done = merge(text, NEXT_RENDER, "doc", BY_SHAPE)
    except DocumentError as exc:  # a line of a person's section ("## Summary"): refused
        assert re.match(r"^doc:\d+: ", str(exc)), str(exc)
        return
    assert machine_blocks(done.text) == machine_blocks(NEXT_RENDER)
    fresh = machine_blocks(NEXT_RENDER)
    kept = {line.strip() for line in human_text(done.text).splitlines()}
    for name, line in written:
        pocflows = line.strip() in {x.strip() for x in fresh[name].splitlines()} or any(
            shape.fullmatch(line.strip()) for shape in STEP_SHAPES[name]
        )
        assert pocflows or line.strip() in kept, (name, line)
    assert merge(done.text, NEXT_RENDER, "doc", BY_SHAPE).text == done.text


def test_a_persons_line_with_pocflows_shape_is_kept_where_pocflow_wrote_the_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a command of one's own in the commands block has the shape of pocflow's
    # ("uv run python ..."): told apart by the block as pocflow last wrote it here
    kept = tmp_path / "state/blocks/r.md.json"
    write_document(tmp_path, "r.md", GOLDEN_DOC, STEP_SHAPES, kept)
    path = tmp_path / "r.md"
    mine = [
        "# warm the cache first when it is cold (takes 5 min)",
        "uv run python PoC/warm_cache.py --all",
        "uv run pytest tests/test_step1_scan.py -k slow -v",
    ]
    path.write_text(
        inside_block(path.read_text(encoding="utf-8"), "commands", "```bash", "\n".join(mine)),
        encoding="utf-8",
    )
    write_document(tmp_path, "r.md", NEXT_RENDER, STEP_SHAPES, kept)
    text = path.read_text(encoding="utf-8")
    assert machine_blocks(text) == machine_blocks(NEXT_RENDER)
    assert "```bash\n" + "\n".join(mine) + "\n```\n" in human_text(text)
    assert "3 lines written inside the machine block 'commands' moved below it" in (
        capsys.readouterr().err
    )
    # and what pocflow wrote before (its old values) is still replaced, not kept
    write_document(tmp_path, "r.md", GOLDEN_DOC, STEP_SHAPES, kept)
    assert machine_blocks(path.read_text(encoding="utf-8")) == machine_blocks(GOLDEN_DOC)
    assert capsys.readouterr().err == ""


def test_a_line_added_beside_a_line_edited_in_the_same_block_is_kept_and_so_is_the_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "state/blocks/r.md.json"
    write_document(tmp_path, "r.md", GOLDEN_DOC, STEP_SHAPES, kept)
    path = tmp_path / "r.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("uv run doit step:1\n", "uv run doit step:1   # add --reverify\n", 1)
    text = text.replace("# run its tests\n", "# run its tests\nuv run python tools/plot.py\n", 1)
    path.write_text(text, encoding="utf-8")
    write_document(tmp_path, "r.md", NEXT_RENDER, STEP_SHAPES, kept)
    merged = path.read_text(encoding="utf-8")
    assert machine_blocks(merged) == machine_blocks(NEXT_RENDER)
    outside = human_text(merged)
    assert "uv run doit step:1   # add --reverify" in outside
    assert "uv run python tools/plot.py" in outside
    assert "2 lines written inside the machine block 'commands'" in capsys.readouterr().err


def test_markers_shown_in_a_persons_code_fence_are_an_example_not_a_block() -> None:
    example = (
        "```markdown\n<!-- pocflow:begin results -->\n## Results\n"
        "<!-- pocflow:end results -->\n```\n"
    )
    edited = GOLDEN_DOC.replace(
        "_What did this step prove?", example + "\n_What did this step prove?"
    )
    merged = merge_document(edited, NEXT_RENDER, "doc")
    assert example in merged  # untouched
    assert machine_blocks(merged) == machine_blocks(NEXT_RENDER)
    assert merged.count("| pages | 43 (≥ 40 ✅) |") == 1


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        # a fence line with an info string does not close a bare fence: it is code
        ("```\na\n```bash\nb\n```\nc\n", ["a", "```bash", "b"], ["c"]),
        # nor does a fence of the other character
        ("~~~\n```\nx\n~~~\ny\n", ["```", "x"], ["y"]),
        # a longer opening needs a closing at least as long
        ("````\n```\nz\n````\nw\n", ["```", "z"], ["w"]),
        # a fence inside a list item, indented
        ("- item\n\n    ```\n    # code\n    ```\n# heading\n", ["    # code"], ["# heading"]),
        # one never closed runs to the end, as in CommonMark
        ("text\n```\nopen\n", ["open"], ["text"]),
    ],
)
def test_code_fences_are_read_one_way_everywhere(
    text: str, inside: list[str], outside: list[str]
) -> None:
    from pocflow.documents import _fenced_lines

    fenced = {text[offset:].split("\n", 1)[0] for offset in _fenced_lines(text)}
    assert set(inside) <= fenced, fenced
    assert not set(outside) & fenced, fenced


def test_compiled_templates_kept_between_runs_follow_an_edited_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jinja2's compiled templates are kept in the state folder between runs (each run is
    a new process: the environment is made anew); an edited template — with its old
    modification time put back — renders as edited, and a damaged kept file is compiled
    again; where it cannot be written, none is kept."""
    from pocflow.documents import render, template_environment

    template = tmp_path / "templates" / "note.md.j2"
    template.parent.mkdir()
    compiled = tmp_path / ".pocflow" / "cache" / "templates"

    def run(text: str | None = None) -> str:
        template_environment.cache_clear()  # (a new run: a new process)
        monkeypatch.setattr(documents, "_COMPILED", {})
        if text is not None:
            stat = template.stat() if template.exists() else None
            template.write_text(text, encoding="utf-8")
            if stat is not None:
                os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        return render(tmp_path, "templates", "note.md.j2", {"v": 1}, compiled)

    assert run("A {{ v }}") == "A 1"
    kept = list(compiled.iterdir())
    assert len(kept) == 1
    assert run() == "A 1"
    assert run("B {{ v }}") == "B 1"
    for path in compiled.iterdir():
        path.write_bytes(path.read_bytes()[:20])
    assert run() == "B 1"
    import jinja2.bccache

    def unwritable(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(jinja2.bccache.tempfile, "NamedTemporaryFile", unwritable)
    assert run("C {{ v }}") == "C 1"  # (a folder it cannot write in: not kept)


def test_a_template_compiled_for_one_workspace_is_not_compiled_again_in_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A packaged template one environment compiled is found compiled by the next one of
    the process (another workspace's, or a run forked from a process that compiled it),
    whatever folder keeps its files; a workspace's own template of the same name is its
    own, and renders as edited."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from pocflow.documents import render, template_environment

    monkeypatch.setattr(documents, "_COMPILED", {})
    compiled: list[str] = []
    compile_once = ImmutableSandboxedEnvironment.compile

    def counted(self: Any, source: Any, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        compiled.append(str(name))
        return compile_once(self, source, name, *args, **kwargs)

    monkeypatch.setattr(ImmutableSandboxedEnvironment, "compile", counted)
    context = {"v": 1, "poc": 2, "docs_dir": "docs", "name": "N"}
    one, two, own = tmp_path / "one", tmp_path / "two", tmp_path / "own"
    for root in (one, two, own):
        (root / "templates").mkdir(parents=True)
    (own / "templates" / "note.md").write_text("own {{ v }}", encoding="utf-8")
    (one / "templates" / "note.md").write_text("one {{ v }}", encoding="utf-8")

    def run(root: Path) -> str:
        template_environment.cache_clear()
        return render(root, "templates", "scaffold/plan.md.j2", context, root / ".pocflow")

    first = run(one)
    assert compiled == ["scaffold/plan.md.j2"]
    assert run(two) == first
    assert compiled == ["scaffold/plan.md.j2"]  # (not compiled again)
    assert render(own, "templates", "note.md", context, own / ".pocflow") == "own 1"
    assert render(one, "templates", "note.md", context, one / ".pocflow") == "one 1"
    (own / "templates" / "note.md").write_text("edited {{ v }}", encoding="utf-8")
    template_environment.cache_clear()
    assert render(own, "templates", "note.md", context, own / ".pocflow") == "edited 1"
