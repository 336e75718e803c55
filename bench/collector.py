"""Time a doit command spends in garbage collection, by generation (pocflow's no-op keeps its
task graph out of collections: see docs/performance.md).

Usage, in a workspace:
    python /path/to/bench/collector.py poc-complete
"""

from __future__ import annotations

import atexit
import gc
import sys
import time

from doit.__main__ import main

#: generation -> [collections, seconds]
SPENT = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
_started = [0.0]


def _timed(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        spent = SPENT[info["generation"]]
        spent[0] += 1
        spent[1] += time.perf_counter() - _started[0]


def _report() -> None:
    total = sum(seconds for _, seconds in SPENT.values())
    parts = ", ".join(f"gen{g}: {n} in {s:.3f} s" for g, (n, s) in SPENT.items())
    sys.stderr.write(f"garbage collection: {total:.3f} s ({parts})\n")


if __name__ == "__main__":
    gc.callbacks.append(_timed)
    atexit.register(_report)
    sys.argv = ["doit", *sys.argv[1:]]
    main()
