"""Where each step stands, from its verification record and the files on disk now."""

from __future__ import annotations

from dataclasses import dataclass, field

from pocflow.record import StepRecord, fingerprint, read_step_record
from pocflow.workspace import Workspace

#: state -> the label PROJECT_STATE.md shows (the method's vocabulary)
LABELS = {
    "verified": "✅ Complete",
    "stale": "🔄 Changed since verified",
    "failed": "❌ Failed",
    "blocked": "⬜ Blocked",
    "never-run": "🔄 In Progress",
    "not-started": "⬜ Not Started",
}


#: state -> Mermaid style of its node in PROJECT_STATE.md's step graph
STYLES = {
    "verified": "fill:#d4edda,stroke:#28a745,color:#155724",
    "stale": "fill:#fff3cd,stroke:#d39e00,color:#856404",
    "failed": "fill:#f8d7da,stroke:#dc3545,color:#721c24",
    "blocked": "fill:#e2e3e5,stroke:#6c757d,color:#383d41",
    "never-run": "fill:#d1ecf1,stroke:#17a2b8,color:#0c5460",
    "not-started": "fill:#ffffff,stroke:#6c757d,stroke-dasharray:4 2,color:#383d41",
}


@dataclass
class StepStatus:
    """The state of one step and why it is not verified, if it is not."""

    step_id: str
    name: str
    state: str
    record: StepRecord | None
    reasons: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)

    @property
    def is_verified(self) -> bool:
        """Whether the step is verified on its current inputs."""
        return self.state == "verified"

    @property
    def label(self) -> str:
        """The status as PROJECT_STATE.md writes it."""
        if self.state == "blocked":
            return "⬜ Blocked by " + ", ".join(self.blocked_by)
        record = self.record
        if self.state == "verified" and record and record.implement and record.implement.manual:
            return "✅ Complete (tests only)"
        if self.state == "failed" and self.record is not None and self.record.test is not None:
            failing = len(self.record.test.failing)
            if failing:
                return f"❌ Failed ({failing} failing)"
        return LABELS[self.state]

    @property
    def tests(self) -> str:
        """'passed/run' of the last recorded test run ('8/8', '3/3 (+2 skipped)'), or '—'."""
        test = self.record.test if self.record else None
        if test is None or not test.counts.get("total"):
            return "—"
        counts = test.counts
        not_run = counts.get("skipped", 0) + counts.get("xfailed", 0)
        text = f"{counts.get('passed', 0)}/{counts['total'] - not_run}"
        return text + (f" (+{not_run} skipped)" if not_run else "")


def compute_status(ws: Workspace) -> dict[str, StepStatus]:
    """The status of every step, in natural order; staleness and blocking are transitive."""
    own: dict[str, StepStatus] = {}
    for step_id, step in ws.steps.items():
        record = read_step_record(ws.root / ws.record_path(step_id))
        status = StepStatus(step_id, step.name, "verified", record)
        if not step.has_files:
            status.state = "not-started"
            status.reasons.append(f"no files yet: add {ws.settings.scripts_dir}/step{step_id}_"
                                  f"<description>.py and {ws.settings.tests_dir}/test_step"
                                  f"{step_id}_<description>.py")
        elif record is None:
            status.state = "never-run"
            status.reasons.append("never verified")
        elif not record.is_verified:
            status.state = "failed"
            status.reasons.append(record.message or "the last verification failed")
        else:
            now = fingerprint(ws.root, list(record.inputs))
            status.changed = [p for p, digest in now.items() if record.inputs.get(p) != digest]
            if status.changed:
                status.state = "stale"
                status.reasons.append("changed since verified: " + ", ".join(status.changed))
        own[step_id] = status
    for step_id, status in own.items():
        if status.is_verified:
            continue
        unverified = [d for d in ws.steps[step_id].depends_on if not own[d].is_verified]
        if unverified:
            status.state = "blocked"
            status.blocked_by = unverified
            status.reasons.insert(0, "waits for step " + ", ".join(unverified))
    return own
