"""`python faulty_doit.py ARGS`: doit with a pause at one write, for the fault tests.

With FAULT_AT set, the write of a file whose name ends with FAULT_AT stops after its
temporary file is written and before the rename that makes it the file: it writes its pid
to FAULT_HOLD and sleeps, so that a test can deliver a signal at exactly that point.
SIGUSR1 writes every thread's stack to stderr (what a test shows of a run that did not end).
"""

from __future__ import annotations

import faulthandler
import os
import runpy
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pocflow._fs as fs


class _PausingOs:
    """The os module, except that one replace pauses first."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def replace(src: str, dst: Any) -> None:
        if str(dst).endswith(os.environ["FAULT_AT"]):
            Path(os.environ["FAULT_HOLD"]).write_text(str(os.getpid()), encoding="utf-8")
            time.sleep(600)
        os.replace(src, dst)


faulthandler.register(signal.SIGUSR1, all_threads=True)
if os.environ.get("FAULT_AT"):
    fs.os = _PausingOs()  # type: ignore[assignment]
sys.argv = ["doit", *sys.argv[1:]]
runpy.run_module("doit", run_name="__main__")
