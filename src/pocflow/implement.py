"""The implement phase: run a step's script(s) in a subprocess, with a timeout and a log."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pocflow._observe import KernelWatch
from pocflow._proc import (
    BoundedOutput,
    LiveEcho,
    drain_in_thread,
    live_terminal,
    wait_exit,
)
from pocflow.fingerprint import digest_of, fingerprint
from pocflow.layout import IMPLEMENT_FILE, METRICS_FILE, PRODUCED_FILE
from pocflow.manifest import Manifest
from pocflow.metrics import METRICS_ENV, check_thresholds, parse_threshold, read_metrics
from pocflow.observed import (
    PROCESS_KEYS,
    add_kernel_facts,
    attribute,
    changed_by_runs,
    child_environ,
    early_message,
    folders_of,
    merge_inputs,
    not_read_by_the_step,
    observed_script_env,
    observer_skips,
    outputs_read,
    read_facts,
    refresh_bytecode,
    settle,
    within,
)
from pocflow.record import ImplementResult, ScriptRun, now_iso, write_produced, write_run_file
from pocflow.redact import redact_bytes, secret_values
from pocflow.settings import kernel_watched
from pocflow.workspace import Step, Workspace

#: seconds the output of a script that ended is still read: a process it started in a
#: session of its own (a server left running) may hold the pipe open for ever
OUTPUT_GRACE_S = 2.0
HELD_NOTE = (
    b"\n--- pocflow ---\nThe script ended, but a process the script started still "
    b"holds its output (it runs in a session of its own, out of pocflow's reach); "
    b"what it writes from here on is not kept.\n"
)
#: seconds between SIGTERM and SIGKILL when a script overruns its timeout
KILL_GRACE_S = 5.0
STDERR_TAIL_LINES = 15
_USAGE_RE = re.compile(r"^\s*(usage|examples?)\b|^\s*>>>", re.I | re.M)


@dataclass(frozen=True)
class ImplementSpec:
    """Everything the implement action needs; plain data, so doit can pickle it for -n."""

    root: str
    step_id: str
    scripts: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    timeout: float
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run_dir: str
    result_file: str
    thresholds: tuple[str, ...] = ()
    manual: str = ""
    scripts_dir: str = "PoC"
    secrets: tuple[str, ...] = ()
    #: files that are outputs (declared ones, upstream steps' writes): never inputs
    not_inputs: tuple[str, ...] = ()
    #: what the scripts read the last time they ran (their modules' bytecode is checked)
    observed_before: tuple[str, ...] = ()
    #: the PoC of the step, as task names address it (None: the project's current PoC)
    poc: int | None = None
    #: the files pocflow writes (pocflow.observed.not_read_by_the_step)
    pocflows: tuple[str, ...] = ()
    #: outputs of the step there as another run left them (pocflow.freshness.foreign_outputs)
    foreign: tuple[str, ...] = ()
    #: where the thresholds and the timeout are set ('steps/step1.yaml:4'; '' for the
    #: timeout of the settings), for the failures they cause
    thresholds_at: str = ""
    timeout_at: str = ""


def implement_spec(ws: Workspace, step: Step, inputs: list[str]) -> ImplementSpec:
    """The implement phase of a step, as plain data."""
    manifest = step.manifest
    return ImplementSpec(
        root=str(ws.root),
        step_id=step.step_id,
        scripts=step.scripts,
        args=manifest.args if manifest else (),
        env=manifest.env if manifest else (),
        timeout=(manifest.timeout if manifest and manifest.timeout else ws.settings.timeout),
        inputs=tuple(inputs),
        outputs=manifest.outputs if manifest else (),
        run_dir=ws.run_dir(step.step_id),
        result_file=f"{ws.run_dir(step.step_id)}/{IMPLEMENT_FILE}",
        thresholds=manifest.thresholds if manifest else (),
        manual=manifest.manual if manifest else "",
        scripts_dir=ws.settings.scripts_dir,
        secrets=manifest.secrets if manifest else (),
        poc=ws.poc,
        thresholds_at=_set_at(manifest, "thresholds"),
        timeout_at=_set_at(manifest, "timeout") if manifest and manifest.timeout else "",
    )


def _set_at(manifest: Manifest | None, key: str) -> str:
    """Where the manifest sets key ('steps/step1.yaml:4'), '' without a manifest."""
    if manifest is None:
        return ""
    line = manifest.lines.get(key)
    return f"{manifest.path}:{line}" if line else manifest.path


def run_implement(
    spec: ImplementSpec, replayed: list[str] | None = None, problem: str = ""
) -> ImplementResult:
    """Check, then run the scripts in order; write the result and return it (its outcome
    and, when failed, one clear message).

    ``replayed``: upstream steps whose scripts were run first for their outputs;
    ``problem``: why the scripts cannot run (replaying failed)."""
    root = Path(spec.root)
    run_dir = root / spec.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    started, start = now_iso(), time.monotonic()
    inputs = fingerprint(root, list(spec.inputs))
    metrics_file = run_dir / METRICS_FILE
    metrics_file.unlink(missing_ok=True)
    runs: list[ScriptRun] = []
    metrics: dict[str, object] = {}
    message = problem or _checkpoint(root, spec)
    observed: dict[str, str] = {}
    written: list[str] = []
    others: dict[str, str] = {}
    first: list[str] = []
    if not message and not spec.manual:
        refresh_bytecode(root, [*spec.inputs, *spec.observed_before])
        runs, message = _run_scripts(root, spec, run_dir, metrics_file)
        observed, written, blind, others, first = _observed(root, spec, runs)
        message = message or blind
        if not message:
            metrics, message = read_metrics(metrics_file, spec.step_id)
            if metrics_file.is_file() and secret_values():  # the script's own file, masked
                metrics_file.write_bytes(redact_bytes(metrics_file.read_bytes()))
        if not message:
            bounds = [t for t in map(parse_threshold, spec.thresholds) if t is not None]
            message = check_thresholds(metrics, bounds, spec.step_id)
            if message and spec.thresholds_at:
                message += f" (thresholds set at {spec.thresholds_at})"
        if not message:
            missing = [out for out in spec.outputs if not (root / out).exists()]
            if missing:
                message = (
                    f"step {spec.step_id}: declared output(s) not written by the "
                    "script: " + ", ".join(missing)
                )
    result = ImplementResult(
        step_id=spec.step_id,
        outcome="failed" if message else "passed",
        message=message,
        started_at=started,
        finished_at=now_iso(),
        duration_s=round(time.monotonic() - start, 3),
        scripts=runs,
        metrics=metrics,
        thresholds=list(spec.thresholds),
        outputs=list(spec.outputs),
        inputs=merge_inputs(inputs, observed),
        manual=spec.manual,
        replayed=list(replayed or []),
        observed=sorted(observed),
        written=written,
        written_digests={path: digest_of(root, path) for path in written},
        outputs_read=others,
        written_first=first,
        folders_left={folder: digest_of(root, folder) for folder in folders_of(written)},
        updated_foreign=[path for path in spec.foreign if path in written and path not in first],
    )
    write_run_file(root / spec.result_file, result)
    if result.outcome == "passed":  # a failure keeps what the scripts last produced
        write_produced(
            (root / spec.result_file).with_name(PRODUCED_FILE), {"written": result.written_digests}
        )
    return result


def _observed(
    root: Path, spec: ImplementSpec, runs: list[ScriptRun]
) -> tuple[dict[str, str], list[str], str, dict[str, str], list[str]]:
    """What the scripts really read (fingerprinted as they were read), what they wrote, why
    what they read is not known ('' when it is), the outputs of other steps they read
    without writing them (fingerprinted as they were read), and what they wrote before
    reading it."""
    every = [read_facts(root / _facts_file(spec, run.path)) for run in runs]
    unseen = [
        run.path
        for run, facts in zip(runs, every, strict=True)
        if not facts.observed and run.exit_code == 0
    ]
    flooded = [
        run.path
        for run, facts in zip(runs, every, strict=True)
        if facts.kernel in ("overflow", "partial")
    ]
    blind = (
        (
            f"step {spec.step_id}: pocflow could not observe {', '.join(unseen)} (Python "
            "did not import pocflow/_site/sitecustomize.py: PYTHONPATH ignored?); what it "
            "read is unknown, so it cannot be verified"
        )
        if unseen
        else (
            f"step {spec.step_id}: what {', '.join(flooded)} read is not known: it opened "
            "more files at once than the kernel could report (its inotify queue "
            "overflowed), or the workspace has more folders than pocflow can watch; have "
            "it open fewer files at a time, or move data it does not read out of the "
            "workspace"
        )
        if flooded
        else ""
    )
    early = set().union(*(facts.early for facts in every))
    if early and not blind:
        blind = early_message(spec.step_id, early, "its scripts")
    written_first = set().union(*(facts.written for facts in every))
    # what the scripts changed: what they wrote first, and what they read and then updated
    written = written_first | changed_by_runs(root, every)
    own_env = dict(spec.env)  # the manifest's variables are settings, not inputs
    digests: dict[str, str] = {}
    # (a file the scripts wrote at all, even back as it was, is theirs too, and so is a
    # database they connected to: a file of tables other steps write, theirs to follow
    # through Depends On — by file, any step writing any table would run every reader)
    own = {*written, *(p for facts in every for p, _ in facts.writes)}
    own.update(path for facts in every for path in facts.databases)
    own.update(out.rstrip("/") for out in spec.outputs)
    others: dict[str, str] = {}
    for facts in every:
        outside = not_read_by_the_step(facts, spec.pocflows)
        keys = {
            k
            for k in attribute(facts, {spec.step_id: ()})[spec.step_id]
            if not (k.startswith("$") and k[1:] in own_env) and k not in outside
        }
        for key, digest in outputs_read(root, facts, keys, spec.not_inputs).items():
            if not within(key.rstrip("/"), own):
                others.setdefault(key, digest)
        keys |= set(PROCESS_KEYS)
        # code the scripts (or Python they started) loaded from beside the workspace, by its
        # path from it ("../libs/helper.py"), as a test session's is
        keys |= set(facts.config.get("outside_code", []))
        digests.update(
            settle(
                root,
                facts,
                keys,
                (*spec.not_inputs, *spec.outputs, *written),
                child_environ(facts),
                updates_are_outputs=True,
                produced=spec.not_inputs,
            )
        )
    return digests, sorted(written), blind, others, sorted(written_first)


def _facts_file(spec: ImplementSpec, script: str) -> str:
    return f"{spec.run_dir}/{Path(script).stem}.facts.jsonl"


def _checkpoint(root: Path, spec: ImplementSpec) -> str:
    """The method's checkpoint on a step's scripts: they exist, and each has a module
    docstring with a usage example. '' when it holds."""
    if not spec.scripts:
        return (
            f"step {spec.step_id} has no script; add {spec.scripts_dir}/step{spec.step_id}_"
            "<description>.py (or run `doit new " + spec.step_id + "`)"
        )
    for script in spec.scripts:
        problem = usage_problem(root / script)
        if problem:
            return f"step {spec.step_id}: {script}: {problem}"
    unset = [name for name in spec.secrets if not os.environ.get(name)]
    if unset and not spec.manual:
        return (
            f"step {spec.step_id}: secret {', '.join(unset)} not set; add "
            f"{unset[0]}=<value> to .env (keep .env out of git) or set it in the environment"
        )
    return ""


def usage_problem(path: Path) -> str:
    """Why a script's module docstring does not carry a usage example; '' when it does."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        return f"line {exc.lineno}: syntax error: {exc.msg}"
    except ValueError as exc:
        return f"cannot be parsed: {exc}"
    docstring = ast.get_docstring(tree)
    if not docstring:
        return (
            "no module docstring; start the script with a docstring that says what it does "
            "and how to run it ('Usage:' and a command line)"
        )
    if not _USAGE_RE.search(docstring):
        return (
            "the module docstring has no usage example; add a 'Usage:' (or 'Example:') "
            "line followed by how to run the script"
        )
    return ""


def _run_scripts(
    root: Path, spec: ImplementSpec, run_dir: Path, metrics_file: Path
) -> tuple[list[ScriptRun], str]:
    """Run the scripts in order, stopping at the first that fails."""
    runs: list[ScriptRun] = []
    for script in spec.scripts:
        run = _run_script(root, spec, script, run_dir, metrics_file)
        runs.append(run)
        if run.timed_out:
            return runs, (
                f"step {spec.step_id}: {script} did not finish within "
                f"{spec.timeout:g} s and was stopped; see {run.log} (the timeout is set at "
                f"{spec.timeout_at or 'tool.pocflow.timeout, or its default'})"
            )
        if run.exit_code != 0:
            return runs, (
                f"step {spec.step_id}: {script} exited with code {run.exit_code}"
                f"{_stderr_tail(root / run.log)}\nfull log: {run.log}"
            )
    return runs, ""


def _run_script(
    root: Path, spec: ImplementSpec, script: str, run_dir: Path, metrics_file: Path
) -> ScriptRun:
    log_rel = f"{spec.run_dir}/{Path(script).stem}.log"
    env = dict(os.environ)
    env.update(spec.env)
    env[METRICS_ENV] = str(metrics_file)
    env["POCFLOW_STEP"] = spec.step_id
    # the script's own output unbuffered, so that its log keeps the order it wrote in; the
    # variable is put back as it was before the script runs (pocflow/_site), so that what
    # the script starts does not inherit it
    unbuffered = env.get("PYTHONUNBUFFERED")
    if unbuffered is not None:
        env["POCFLOW_PYTHONUNBUFFERED"] = unbuffered
    env["PYTHONUNBUFFERED"] = "1"
    start = time.monotonic()
    timed_out = False
    terminal = live_terminal()
    echo = LiveEcho(terminal, f"  [{Path(script).name}] ") if terminal is not None else None
    out, err = BoundedOutput(echo=echo), BoundedOutput(echo=echo)
    facts = root / _facts_file(spec, script)
    facts.unlink(missing_ok=True)
    # what the kernel sees opened in the workspace meanwhile: a C library's reads, a child's
    watch = _kernel_watch(root)
    if watch is not None:
        watch.start()
    # no shell: the script path and arguments are passed as they are, never interpreted;
    # Python runs the script itself, observed from its start (pocflow/_site)
    process = subprocess.Popen(
        [sys.executable, script, *spec.args],
        cwd=root,
        env=observed_script_env(env, root, facts),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # dies with pocflow: pocflow/_site/sitecustomize.py
    )
    assert process.stdout is not None and process.stderr is not None
    readers = [drain_in_thread(process.stdout, out), drain_in_thread(process.stderr, err)]
    try:
        wait_exit(process, spec.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop_group(process)
    finally:
        if process.poll() is None:  # interrupted ourselves: take the script down too
            _stop_group(process)
        for reader in readers:
            reader.join(timeout=OUTPUT_GRACE_S)
        held = any(reader.is_alive() for reader in readers)
        if not held:  # (closing a pipe a thread still reads would wait for that thread)
            process.stdout.close()
            process.stderr.close()
        stderr = err.value()
        log = out.value() + (b"\n--- stderr ---\n" + stderr if stderr else b"")
        if held:
            log += HELD_NOTE
        (root / log_rel).unlink(missing_ok=True)  # written anew, never through a link
        (root / log_rel).write_bytes(log)
        if watch is not None:
            add_kernel_facts(
                root,
                facts,
                watch.stop(),
                watch.taken_made,
                watch.overflowed,
                watch.taken_replaced,
                watch.partial,
            )
    return ScriptRun(
        path=script,
        exit_code=process.returncode,
        timed_out=timed_out,
        duration_s=round(time.monotonic() - start, 3),
        log=log_rel,
    )


def _kernel_watch(root: Path) -> KernelWatch | None:
    """This process's watch of the workspace's folders (pocflow._observe.KernelWatch), made
    once and kept: None where the kernel is not asked (pocflow.settings.kernel_watched) or cannot
    be."""
    if not kernel_watched():
        return None
    watch = _WATCHES.get(str(root))
    if watch is None:
        watch = _WATCHES[str(root)] = KernelWatch(str(root), tuple(observer_skips(root)))
    return watch if watch.fd >= 0 else None


_WATCHES: dict[str, KernelWatch] = {}


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the script's whole process group, then SIGKILL what is left after a grace.
    A second signal during the grace (Ctrl-C after SIGTERM) cuts the grace short: the
    group is killed before the interruption goes on."""
    for sig, wait_s in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # children that outlived the leader
            return
        except subprocess.TimeoutExpired:
            continue
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise


def _stderr_tail(log: Path) -> str:
    text = log.read_bytes().decode("utf-8", errors="replace")
    marker = "\n--- stderr ---\n"
    if marker not in text:
        return ""
    lines = text.split(marker, 1)[1].rstrip().splitlines()[-STDERR_TAIL_LINES:]
    return ":\n" + "\n".join("    " + line for line in lines)
