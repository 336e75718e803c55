"""Machine-owned blocks: regeneration replaces them and keeps every human byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocflow.documents import find_blocks, merge_document, render, write_document
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
    existing = RENDERED.replace("Title v2", "Title v1").replace("| a | 2 |", "| a | 1 |") \
        .replace("_write here_", "We proved it.\n\nWith **two** paragraphs.") \
        .replace("## Next Steps\n", "## Next Steps\n\n- ship it\n")
    merged = merge_document(existing, RENDERED, "d.md")
    assert "Title v2" in merged and "| a | 2 |" in merged
    assert "We proved it.\n\nWith **two** paragraphs." in merged
    assert merged.endswith("## Next Steps\n\n- ship it\n")


def test_merge_document_restores_deleted_block_in_place() -> None:
    existing = RENDERED.replace("<!-- pocflow:begin table -->\n| a | 2 |\n"
                                "<!-- pocflow:end table -->\n", "")
    existing = existing.replace("_write here_", "mine")
    merged = merge_document(existing, RENDERED, "d.md")
    assert merged.index("mine") < merged.index("| a | 2 |") < merged.index("## Next Steps")


def test_merge_document_without_newline_at_end() -> None:
    existing = "intro\n<!-- pocflow:begin head -->\nold\n<!-- pocflow:end head -->"
    merged = merge_document(existing, "<!-- pocflow:begin head -->\nnew\n"
                                      "<!-- pocflow:end head -->\n", "d.md")
    assert merged == "intro\n<!-- pocflow:begin head -->\nnew\n<!-- pocflow:end head -->"


@pytest.mark.parametrize(("text", "message"), [
    ("a\n<!-- pocflow:begin x -->\nb\n", r"d.md:2: block 'x' is never closed"),
    ("<!-- pocflow:end x -->\n", r"d.md:1: '<!-- pocflow:end x -->' has no matching begin"),
    ("<!-- pocflow:begin x -->\n<!-- pocflow:begin y -->\n",
     r"d.md:2: block 'x' \(opened at line 1\) is not closed"),
    ("<!-- pocflow:begin x -->\n<!-- pocflow:end x -->\n"
     "<!-- pocflow:begin x -->\n<!-- pocflow:end x -->\n", r"d.md: block 'x' appears twice"),
])
def test_find_blocks_unbalanced_markers_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        find_blocks(text, "d.md")


def test_write_document_refuses_to_rewrite_damaged_document(tmp_path: Path) -> None:
    damaged = "mine\n<!-- pocflow:begin head -->\nold\n"
    (tmp_path / "d.md").write_text(damaged, encoding="utf-8")
    with pytest.raises(DocumentError, match="never closed"):
        write_document(tmp_path, "d.md", RENDERED)
    assert (tmp_path / "d.md").read_text(encoding="utf-8") == damaged


def test_render_broken_override_names_template_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "assets/templates").mkdir(parents=True)
    (tmp_path / "assets/templates/step-results.md").write_text(
        "# fine\n\n{% for x in %}\n", encoding="utf-8")
    with pytest.raises(DocumentError, match=r"^assets/templates/step-results.md:3: template "
                                            r"error"):
        render(tmp_path, "assets/templates", "step-results.md", {})
