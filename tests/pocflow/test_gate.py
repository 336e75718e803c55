"""The poc-complete gate, called directly on verified and damaged workspaces."""

from __future__ import annotations

import json
from pathlib import Path

from pocflow.gate import check_complete


def test_check_complete_refuses_record_whose_inputs_changed(sample: Path) -> None:
    record_path = sample / "steps/records/step3b.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["inputs"]["PoC/step3b_country_lookup.py"] = "0" * 64  # verified on other bytes
    record_path.write_text(json.dumps(record), encoding="utf-8")
    failure = check_complete(str(sample))
    assert failure is not None
    assert failure.message.splitlines() == [
        "PoC 1 is not complete: 1 of 6 steps not verified:",
        "    step 3b (Country lookup): 🔄 Changed since verified — changed since verified: "
        "PoC/step3b_country_lookup.py",
    ]


def test_check_complete_reports_failed_and_blocked_steps(sample: Path) -> None:
    record_path = sample / "steps/records/step3a.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["verdict"] = "failed"
    record["message"] = "step 3a: 1 of 3 tests failed"
    record_path.write_text(json.dumps(record), encoding="utf-8")
    failure = check_complete(str(sample))
    assert failure is not None
    lines = failure.message.splitlines()
    assert lines[0] == "PoC 1 is not complete: 2 of 6 steps not verified:"
    assert lines[1] == "    step 3a (Country index): ❌ Failed — step 3a: 1 of 3 tests failed"
    assert lines[2] == ("    step 3b (Country lookup): ⬜ Blocked by 3a — waits for step 3a "
                        "(failed); upstream step 3a verified again since")


def test_check_complete_passes_on_verified_sample_and_writes_gate_record(sample: Path) -> None:
    assert check_complete(str(sample)) is None
    gate = json.loads((sample / "steps/records/poc-complete.json").read_text(encoding="utf-8"))
    assert sum(c["total"] for c in gate["counts"].values()) == 36
