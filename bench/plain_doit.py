"""doit as it runs where pocflow is not installed: the bench's plain alternative.

    python bench/plain_doit.py -f plain_dodo.py

pocflow registers its commands (its own ``run`` among them), its backend and its reporter as
doit plugins through entry points, so every ``doit`` in a venv where pocflow is installed
imports pocflow and runs pocflow's ``run`` command, even on a dodo file of plain tasks. A
plain alternative measured that way carries pocflow's import and command wrapper (about
0.1 s a run here) and flatters every ratio to it. This runs doit with pocflow's entry points
left out, through doit's own hook for where entry points come from
(``doit.plugin.entry_points_impl``); everything else is ``python -m doit``.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import doit.plugin


def _without_pocflow(**selection: Any) -> list[EntryPoint]:
    return [p for p in entry_points(**selection) if not p.module.startswith("pocflow")]


def main() -> int:
    doit.plugin.entry_points_impl = lambda: _without_pocflow  # type: ignore[attr-defined]
    from doit.doit_cmd import DoitMain

    return int(DoitMain().run(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
