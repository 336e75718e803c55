"""A git merge driver for the files pocflow writes, so that branches merge cleanly.

Each step's record is a file of its own, so two branches that verify different steps never
touch the same record. What they do both touch is what pocflow derives from all the records:
PROJECT_STATE.md, docs/pocN-results.md, the gate record. Their machine blocks are rewritten
from the records on the next run anyway, so the driver takes ours for them and merges only
the text people wrote, with git's own three-way merge (a conflict is left only where two
people changed the same lines). A record changed on both sides keeps ours: the merged
inputs decide on the next run whether it still holds (pocflow.freshness), never the merge.

Set it up once per clone (git never takes drivers from the repository itself):

    git config merge.pocflow.name "pocflow: regenerate machine blocks, merge human text"
    git config merge.pocflow.driver "uv run pocflow merge-driver %O %A %B %P"

with the paths marked in .gitattributes (`pocflow init` writes them):

    steps/records/**/*.json merge=pocflow
    PROJECT_STATE.md merge=pocflow
    docs/*-results.md merge=pocflow
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from pocflow.documents import (
    HEALTH_ENTRY,
    POC_TEMPLATE,
    STATE_TEMPLATE,
    STEP_TEMPLATE,
    Owned,
    block_shapes,
    find_blocks,
    health_checks_span,
    health_entries,
    replace_blocks,
)
from pocflow.errors import DocumentError

GITATTRIBUTES = (
    "{records_dir}/**/*.json merge=pocflow",  # and a later PoC's, in records_dir/poc<N>/
    "{state_file} merge=pocflow",
    "{docs_dir}/*-results.md merge=pocflow",
)
DRIVER = "uv run pocflow merge-driver %O %A %B %P"


def merge_driver(base: Path, ours: Path, theirs: Path, name: str) -> int:
    """Merge theirs into ours (in place); 0 when clean, 1 when conflicts are left."""
    if name.endswith(".json"):
        return 0  # ours stands until the next run judges it against the merged inputs
    texts = [
        path.read_bytes().decode("utf-8", errors="surrogateescape") for path in (base, ours, theirs)
    ]
    texts[0], texts[2] = _health_checks_from_both(*texts)
    try:
        machine = {b.name: texts[1][b.start : b.end] for b in find_blocks(texts[1], name)}
        before = {b.name: texts[0][b.start : b.end] for b in find_blocks(texts[0], name)}
        aligned = [
            replace_blocks(texts[0], machine, name, Owned()),
            # what the other side wrote inside a block (a teammate's note, not yet moved out
            # by a run) goes below it, to be merged as a person's text
            replace_blocks(texts[2], machine, name, Owned(_shapes_of(name), before)),
        ]
    except DocumentError:
        aligned = [texts[0], texts[2]]  # damaged markers: a plain text merge
    with tempfile.TemporaryDirectory(prefix="pocflow-merge-") as folder:
        paths = []
        for label, text in zip(("base", "theirs"), aligned, strict=True):
            path = Path(folder) / label
            path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
            paths.append(str(path))
        done = subprocess.run(
            ["git", "merge-file", "-L", "ours", "-L", "base", "-L", "theirs", str(ours), *paths],
            check=False,
        )
    return 0 if done.returncode == 0 else 1


def _shapes_of(name: str) -> dict[str, tuple[re.Pattern[str], ...]]:
    """The shapes of the lines the packaged template of the document at name renders in
    each block (documents.block_shapes): a results doc's, the PoC's, PROJECT_STATE.md's."""
    base = name.rsplit("/", 1)[-1]
    template = (
        POC_TEMPLATE
        if re.fullmatch(r"poc\d+-results\.md", base)
        else STEP_TEMPLATE
        if base.endswith("-results.md")
        else STATE_TEMPLATE
    )
    return block_shapes(None, "", template)


def _health_checks_from_both(base: str, ours: str, theirs: str) -> tuple[str, str]:
    """(base, theirs) made to merge the Health Checks sections as the log they are: every
    entry ours has, then each entry theirs added (two branches that each ran a gate both
    appended one; a plain merge would set them against each other) — when theirs did
    nothing else there; else as they are, for git's merge of the text."""
    spans = [health_checks_span(text) for text in (base, ours, theirs)]
    if any(span is None for span in spans):
        return base, theirs
    (bs, be), (os_, oe), (ts, te) = spans  # type: ignore[misc]
    if not _only_appended(base[bs:be], theirs[ts:te]):
        return base, theirs  # a person's change there: merged as text, never dropped
    known = set(health_entries(base[bs:be])) | set(health_entries(ours[os_:oe]))
    added = [entry for entry in health_entries(theirs[ts:te]) if entry not in known]
    section = ours[os_:oe]
    merged = (
        section.rstrip("\n") + "\n\n" + "\n\n".join(added) + ("\n\n" if oe < len(ours) else "\n")
        if added
        else section
    )
    return base[:bs] + section + base[be:], theirs[:ts] + merged + theirs[te:]


def _only_appended(base: str, theirs: str) -> bool:
    """Whether a Health Checks section theirs differs from base's only by entries added:
    the text before the first entry the same, and every entry of base's still there as it
    was."""
    first = HEALTH_ENTRY.search(base)
    their_first = HEALTH_ENTRY.search(theirs)
    before = base[: first.start()] if first else base
    their_before = theirs[: their_first.start()] if their_first else theirs
    return before.strip() == their_before.strip() and set(health_entries(base)) <= set(
        health_entries(theirs)
    )
