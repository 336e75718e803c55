"""Child processes: they die with pocflow, and their output is kept bounded and masked.

A script or a pytest session may print megabytes, or bytes that are not UTF-8. Its output
is read as bytes; the first ``HEAD_BYTES`` and the last ``TAIL_BYTES`` are kept (the end is
where a failure is) with one line saying how much was left out between them.

With ``doit --verbosity 2`` (doit then shows what a task prints) the output is also shown
as it comes, line by line, masked (LiveEcho).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from pocflow.redact import redact_bytes, redact_cut

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 1024 * 1024
_PR_SET_PDEATHSIG = 1
#: poll(2) takes milliseconds in a C int
_POLL_MAX_S = (2**31 - 1) / 1000


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; elsewhere a
    no-op). For a pytest process started by pocflow (a ``preexec_fn``): a pocflow killed with
    SIGKILL leaves no pytest session running behind it. A step script asks the same from its
    own start instead (pocflow/_site/sitecustomize.py: spawned, not forked; it cannot import
    pocflow, so the steps are written again there)."""
    # a child exec'd from a forked worker (doit -n) starts from Python's own handling of
    # Ctrl-C, not from the worker's (which leaves Ctrl-C to the run: see forked_worker)
    with contextlib.suppress(ValueError):  # (only a main thread may; a fork child is one)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def forked_worker() -> None:
    """In a process forked from a run (doit's parallel workers): die with the run, leave
    Ctrl-C to it (it stops the workers; each printed its own KeyboardInterrupt traceback),
    and end quietly when it stops them with SIGTERM (not through the run's own handler)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wait_exit(process: subprocess.Popen[bytes], timeout: float | None) -> None:
    """Wait for a child to end, like ``process.wait(timeout)`` (raising
    subprocess.TimeoutExpired, the child left running), but woken by the exit itself: Popen's
    own wait with a timeout polls, sleeping in steps that double up to 50 ms, so a 40 ms
    script was seen ending at 63 ms. On Linux a pidfd becomes readable when the child exits;
    elsewhere, or without a timeout, Popen's wait."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if timeout is not None and timeout >= _POLL_MAX_S:
        timeout = None  # beyond what poll(2) takes: as good as none
    if timeout is None or pidfd_open is None or process.returncode is not None:
        process.wait(timeout=timeout)
        return
    try:
        pidfd = pidfd_open(process.pid)
    except OSError:  # an old kernel, or a seccomp policy that forbids it
        process.wait(timeout=timeout)
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(max(timeout, 0) * 1000):
            raise subprocess.TimeoutExpired(process.args, timeout)
    finally:
        os.close(pidfd)
    process.wait()  # it has ended: this only reaps it


def in_main_thread() -> bool:
    """Whether this is the main thread (a child tied to another thread would die with it)."""
    return threading.current_thread() is threading.main_thread()


class BoundedOutput:
    """The first ``head`` and the last ``tail`` bytes of a stream, and how many between."""

    def __init__(
        self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES, echo: LiveEcho | None = None
    ) -> None:
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.echo = echo

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the stream."""
        if self.echo is not None:
            self.echo.feed(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        excess = len(self.tail) - self.tail_limit
        if excess > self.tail_limit:  # trim in large steps: cheap on a flood of output
            del self.tail[:excess]
            self.dropped += excess

    def drain(self, stream: IO[bytes]) -> None:
        """Read stream to its end, keeping each piece as it comes (read1: what the pipe has,
        not a wait for a full buffer — the end of a stream a process still holds is kept)."""
        read = getattr(stream, "read1", stream.read)
        for chunk in iter(lambda: read(1 << 16), b""):
            self.feed(chunk)
        if self.echo is not None:
            self.echo.close()

    def value(self) -> bytes:
        """What is kept, masked, with a line where bytes were left out."""
        dropped = self.dropped + max(0, len(self.tail) - self.tail_limit)
        tail = bytes(self.tail[-self.tail_limit :]) if self.tail_limit else b""
        if not dropped:
            return redact_bytes(bytes(self.head) + tail)
        middle = f"\n[... {dropped} bytes of output left out ...]\n".encode()
        # each side masked apart: a secret cut in two is masked where it was cut
        return (
            redact_cut(redact_bytes(bytes(self.head)), head=True)
            + middle
            + redact_cut(redact_bytes(tail), head=False)
        )


def live_terminal() -> IO[str] | None:
    """The terminal a phase's output is shown on as it comes, or None: only when doit shows
    what a task prints (``--verbosity 2``: doit then gives a python-action a stdout that
    writes to the terminal as well as to its capture)."""
    return getattr(sys.stdout, "orig_stream", None)


class LiveEcho:
    """Shows a child's output on the terminal as it comes: whole lines, masked, each after a
    prefix that says whose it is (``  [step1_load.py] ...``)."""

    def __init__(self, terminal: IO[str], prefix: str) -> None:
        self.terminal, self.prefix = terminal, prefix
        self.pending = b""
        self.lock = threading.Lock()  # stdout and stderr readers share one terminal

    def feed(self, chunk: bytes) -> None:
        """Show every line the chunk completes."""
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        if len(self.pending) > 1 << 16:  # a line without end: show it in pieces
            lines.append(self.pending)
            self.pending = b""
        if lines:
            self._show(lines)

    def close(self) -> None:
        """Show the last line, if it had no newline."""
        if self.pending:
            self._show([self.pending])
            self.pending = b""

    def _show(self, lines: list[bytes]) -> None:
        text = "".join(
            f"{self.prefix}{redact_bytes(line).decode('utf-8', 'replace')}\n" for line in lines
        )
        with self.lock, contextlib.suppress(OSError, ValueError):
            self.terminal.write(text)
            self.terminal.flush()


def follow_file(path: Path, echo: LiveEcho, done: threading.Event) -> threading.Thread:
    """Start a thread that shows what is appended to path (a log a child writes) until done
    is set, then the rest."""

    def follow() -> None:
        position = 0
        while True:
            finished = done.wait(0.1)
            with contextlib.suppress(OSError):
                with path.open("rb") as handle:
                    handle.seek(position)
                    chunk = handle.read()
                position += len(chunk)
                if chunk:
                    echo.feed(chunk)
            if finished:
                echo.close()
                return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    return thread


def drain_in_thread(stream: IO[bytes], sink: BoundedOutput) -> threading.Thread:
    """Start a thread that reads stream into sink."""
    thread = threading.Thread(target=sink.drain, args=(stream,), daemon=True)
    thread.start()
    return thread


def bound_file(path: Path) -> None:
    """Cut a log a child wrote to the first HEAD_BYTES and the last TAIL_BYTES, masked."""
    with contextlib.suppress(FileNotFoundError):
        sink = BoundedOutput()
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > HEAD_BYTES + TAIL_BYTES:
                sink.feed(handle.read(HEAD_BYTES))
                sink.dropped = size - HEAD_BYTES - TAIL_BYTES
                handle.seek(-TAIL_BYTES, os.SEEK_END)
            sink.drain(handle)
        data = sink.value()
        if sink.dropped or data != bytes(sink.head) + bytes(sink.tail):
            path.write_bytes(data)
