"""Shares of a PoC's steps for CI jobs that run side by side (`doit --shard K/N`).

Steps that depend on each other, directly or through others, stay in one share (the
weakly connected parts of the Depends On graph): a shard never verifies a step of another
share, so every step is verified by exactly one job and its record — one file per step —
merges with the other shards' records without a conflict. Parts are dealt out largest
first (by the time their steps took at their last verification, else by their number of
steps) to the share with the least so far; ties go by the first step id. The same
workspace gives the same shares on every machine.
"""

from __future__ import annotations

import re

from pocflow.errors import PocflowError
from pocflow.layout import STEP_TASK
from pocflow.record import read_step_record
from pocflow.workspace import Workspace

_SHARD = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")


def parse_shard(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3); a clear error for anything else."""
    match = _SHARD.fullmatch(text.strip())
    if match is None or int(match.group(1)) > int(match.group(2)):
        raise PocflowError(f"--shard {text!r}: give K/N with 1 <= K <= N, e.g. --shard 2/3")
    return int(match.group(1)), int(match.group(2))


def shares(ws: Workspace, count: int) -> list[list[str]]:
    """The step ids of each of count shares of one PoC, each in the workspace's step order."""
    return [[task.partition(":")[2] for task in share] for share in project_shares([ws], count)]


def project_shares(pocs: list[Workspace], count: int) -> list[list[str]]:
    """The steps of every PoC of a project dealt into count shares, as the task names that
    verify them (``step:3b``, ``poc1.step:3b``), each share in PoC and step order. Steps
    of different PoCs never depend on each other: each PoC's parts are its own."""
    #: each step's task name -> (its PoC's place, its place in that PoC's step order)
    position = {
        ws.task(STEP_TASK, sid): (number, index)
        for number, ws in enumerate(pocs)
        for index, sid in enumerate(ws.steps)
    }
    parts: list[tuple[float, list[str]]] = []
    for ws in pocs:
        weight = {sid: _cost(ws, sid) for sid in ws.steps}
        for part in _connected(ws):
            parts.append((sum(weight[s] for s in part), [ws.task(STEP_TASK, s) for s in part]))
    loads = [0.0] * count
    dealt: list[list[str]] = [[] for _ in range(count)]
    for cost, part in sorted(parts, key=lambda p: (-p[0], position[p[1][0]])):
        target = min(range(count), key=lambda i: (loads[i], i))
        loads[target] += cost
        dealt[target] += part
    return [sorted(share, key=position.__getitem__) for share in dealt]


def _connected(ws: Workspace) -> list[list[str]]:
    """The weakly connected parts of the PoC's Depends On graph, each in step order, in the
    order of their first steps."""
    parent = {sid: sid for sid in ws.steps}

    def root(sid: str) -> str:
        while parent[sid] != sid:
            parent[sid] = parent[parent[sid]]
            sid = parent[sid]
        return sid

    for sid, step in ws.steps.items():
        for dep in step.depends_on:
            if dep in parent:
                parent[root(sid)] = root(dep)
    parts: dict[str, list[str]] = {}
    for sid in ws.steps:
        parts.setdefault(root(sid), []).append(sid)
    return list(parts.values())


def _cost(ws: Workspace, step_id: str) -> float:
    """Seconds the step took at its last verification (its record), else 1."""
    record = read_step_record(ws.root / ws.record_path(step_id))
    if record is None:
        return 1.0
    seconds = sum(
        phase.duration_s for phase in (record.implement, record.test) if phase is not None
    )
    return max(seconds, 0.001)
