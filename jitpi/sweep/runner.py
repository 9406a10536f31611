"""The parent side of a sweep: one worker process per group, rows gathered as they arrive.

Why a process per group: a framework that aborts (an LLVM clash, a segfault, an out-of-memory kill)
takes only its own rows down, which are recorded as failed with what the process said; no
framework's threads, caches or imports colour another's numbers; and the first call is a real first
call. Cold workers get every JIT cache of the registry pointed at an empty folder
(``jitpi.registry.cold_cache_environment``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jitpi
from jitpi import registry
from jitpi.sweep.results import Group, Results, Row
from jitpi.sweep.timing import MIN_SAMPLE_S

DEFAULT_N = "1e5:1e8"
DEFAULT_REPEAT = 5
DEFAULT_ROW_BUDGET_S = 10.0
QUICK_N = "1e4:1e6"
QUICK_REPEAT = 3
QUICK_ROW_BUDGET_S = 2.0

WORKER_MODULE = "jitpi.sweep.worker"

EventHandler = Callable[[Group, dict[str, Any]], None]


@dataclass
class WorkerOutcome:
    returncode: int
    stderr_tail: str


def worker_command(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", WORKER_MODULE, json.dumps(spec)]


def worker_environment(cache_dir: str | None) -> dict[str, str]:
    """This process's environment for a worker; with ``cache_dir``, every JIT cache pointed into it."""
    env = registry.cold_cache_environment(cache_dir) if cache_dir is not None else dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_worker(
    spec: dict[str, Any], on_event: Callable[[dict[str, Any]], None], *, cold_cache: bool = True
) -> WorkerOutcome:
    """Run one worker, passing each event to ``on_event`` as it arrives.

    On KeyboardInterrupt the worker is stopped and the interrupt propagates.
    """
    with contextlib.ExitStack() as stack:
        cache_dir = (
            stack.enter_context(tempfile.TemporaryDirectory(prefix="jitpi-jit-cache-"))
            if cold_cache
            else None
        )
        stderr = stack.enter_context(tempfile.TemporaryFile(mode="w+b"))
        process = subprocess.Popen(
            worker_command(spec),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=worker_environment(cache_dir),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                on_event(event)
            returncode = process.wait()
        except BaseException:
            stop(process)
            raise
        size = stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, size - 20_000))
        tail = stderr.read().decode("utf-8", "replace")
    return WorkerOutcome(returncode, tail)


def stop(process: subprocess.Popen) -> None:
    """End a worker: SIGINT (as Ctrl-C would), then SIGTERM, then SIGKILL, each given a moment."""
    for action, grace in (
        (lambda: process.send_signal(signal.SIGINT), 2.0),
        (process.terminate, 3.0),
        (process.kill, 5.0),
    ):
        if process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            action()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)


def describe_exit(returncode: int, stderr_tail: str) -> str:
    """What a worker's death looked like, in one line."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        how = f"the worker process was killed by {name}"
        if -returncode == signal.SIGKILL:
            how += " (out of memory?)"
    else:
        how = f"the worker process exited with status {returncode}"
    last = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    if last:
        how += f"; its last words: {last[-1][:300]}"
    return how


def groups_for(backends: Iterable[str], variants: Iterable[str], devices: Iterable[str]) -> list[Group]:
    """The sweep's order: backends as in ``jitpi.BACKENDS`` (the reference first), then device, variant."""
    chosen_b, chosen_v, chosen_d = set(backends), set(variants), set(devices)
    return [
        Group(backend, variant, device)
        for backend in jitpi.BACKENDS
        if backend in chosen_b
        for device in jitpi.DEVICES
        if device in chosen_d
        for variant in jitpi.VARIANTS
        if variant in chosen_v
    ]


def run_sweep(
    results: Results,
    groups: Sequence[Group],
    ns: Sequence[int],
    *,
    seed: int,
    repeat: int,
    row_budget_s: float,
    on_event: EventHandler,
    min_sample_s: float = MIN_SAMPLE_S,
    cold_cache: bool = True,
    scheduler: str | None = None,
) -> None:
    """Measure every group in its own process, appending rows to ``results`` as they arrive.

    ``on_event(group, event)`` sees every worker event (``ready``, ``unavailable``, ``step``,
    ``row``) after ``results`` is updated, plus ``start`` before each group and ``row`` events for
    the failed rows made up for the n a dead worker never reported. A ``row`` event's ``row`` is a
    ``Row``: the worker's dict is converted once, here, as it arrives (ValueError if it is not a
    whole row).
    """
    for group in groups:
        spec = {
            "mode": "measure",
            "backend": group.backend,
            "variant": group.variant,
            "device": group.device,
            "ns": list(ns),
            "seed": seed,
            "repeat": repeat,
            "row_budget_s": row_budget_s,
            "min_sample_s": min_sample_s,
            "scheduler": scheduler,
        }
        reported: set[int] = set()
        state = {"unavailable": False}

        def handle(
            event: dict[str, Any],
            group: Group = group,
            reported: set[int] = reported,
            state: dict[str, bool] = state,
        ) -> None:
            kind = event.get("event")
            if kind == "ready":
                results.backends[f"{group.backend} {group.device}"] = {
                    "backend": group.backend,
                    "device": group.device,
                    "version": event.get("version"),
                    "describe": event.get("describe"),
                }
            elif kind == "unavailable":
                state["unavailable"] = True
                results.unavailable.append(
                    {
                        "backend": group.backend,
                        "variant": group.variant,
                        "device": group.device,
                        "reason": event.get("reason", ""),
                    }
                )
            elif kind == "row":
                row = Row.from_dict(event["row"])
                reported.add(row.n)
                results.rows.append(row)
                event = {**event, "row": row}
            on_event(group, event)

        on_event(group, {"event": "start", "ns": list(ns)})
        outcome = run_worker(spec, handle, cold_cache=cold_cache)
        if outcome.returncode in (130, -signal.SIGINT):
            raise KeyboardInterrupt
        if state["unavailable"]:
            continue
        missing = [n for n in ns if n not in reported]
        if missing:
            message = describe_exit(outcome.returncode, outcome.stderr_tail)
            for n in missing:
                row = Row(
                    backend=group.backend,
                    variant=group.variant,
                    device=group.device,
                    n=n,
                    seed=seed,
                    status="failed",
                    message=message,
                )
                results.rows.append(row)
                on_event(group, {"event": "row", "row": row})


def list_backends(backends: Sequence[str] = jitpi.BACKENDS) -> dict[str, dict[str, Any]]:
    """For ``jitpi list``: each backend probed in its own process, all at once."""
    processes = {}
    for backend in backends:
        spec = {"mode": "list", "backend": backend}
        processes[backend] = subprocess.Popen(
            worker_command(spec),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=worker_environment(None),
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    listing: dict[str, dict[str, Any]] = {}
    try:
        for backend, process in processes.items():
            stdout, stderr = process.communicate()
            devices = None
            for line in stdout.splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    event = json.loads(line)
                    if event.get("event") == "list":
                        devices = event["devices"]
            if devices is None:
                why = f"probing it crashed: {describe_exit(process.returncode, stderr)}"
                devices = {
                    device: {"available": False, "detail": why, "mode": None} for device in jitpi.DEVICES
                }
            listing[backend] = {"version": registry.installed_version(backend), "devices": devices}
    finally:
        for process in processes.values():
            if process.poll() is None:
                stop(process)
    return listing
