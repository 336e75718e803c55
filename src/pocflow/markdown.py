"""The rules of Markdown pocflow reads plans and documents by (CommonMark's), one place for
both."""

from __future__ import annotations


def closes_fence(opened: str, fence: str, info: str) -> bool:
    """Whether a fence line (its backticks or tildes, and what follows them) closes the code
    fence opened by ``opened``: of its character, at least as long, with nothing after it
    (a ```bash line inside a ~~~ fence is code)."""
    return fence[0] == opened[0] and len(fence) >= len(opened) and not info.strip()
