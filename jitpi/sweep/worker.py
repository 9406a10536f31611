"""One (backend, variant, device) group measured in its own process: ``python -m jitpi.sweep.worker SPEC``.

SPEC is a JSON object: ``{"mode": "measure", "backend", "variant", "device", "ns", "seed",
"repeat", "row_budget_s", "min_sample_s", "scheduler"}``, or ``{"mode": "list", "backend"}`` for
``jitpi list``. The worker answers in JSON lines, one event each, on a private copy of its stdout:
``ready`` (the framework imported), ``unavailable`` (with the reason; nothing ran), ``step`` (what
runs now, for the progress display), ``row`` (a finished row: every field of ``ROW_FIELDS``, and
``times_s`` where samples were timed; the parent reads it once, with ``Row.from_dict``) and ``list``.
Its real stdout is pointed at stderr, so nothing a framework prints can corrupt the protocol; the
parent keeps stderr to explain a crash.

Per n: the group's first call (compile included, ``first_call_s``) or, at every later n, a warm-up
call (``warmup_s``: jax's and TensorFlow's naive programs recompile per n); then calibration and
samples (``jitpi.sweep.timing``). The backend's ``compile_count`` is read around every sample.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jitpi
from jitpi import registry
from jitpi.stats import SUSPECT_Z
from jitpi.sweep.results import Group, new_row
from jitpi.sweep.timing import (
    MIN_SAMPLE_S,
    Block,
    calibrate,
    samples_within_budget,
    summarise,
    time_block,
)
from jitpi.view.format import n_label, seconds
from jitpi.view.format import rate as rate_label

Emit = Callable[[dict[str, Any]], None]


def measure_group(
    group: Group,
    ns: Sequence[int],
    *,
    seed: int,
    repeat: int,
    row_budget_s: float,
    emit: Emit,
    min_sample_s: float = MIN_SAMPLE_S,
    scheduler: str | None = None,
) -> None:
    """Measure one group over ascending ``ns``; emit ``ready``, ``unavailable``, ``step``, ``row`` events.

    The row budget: before each n after the first, one call's time is predicted from the throughput
    at the previous n (``n / rate``; throughput grows with n, so this errs long) and an n whose one
    call would not fit is skipped, with the prediction. A row gets ``repeat`` samples, or as many as
    fit the budget at the time per call calibrated at its n (at least one).
    """
    started = time.perf_counter()
    ok, why = jitpi.availability(group.backend, group.device, group.variant)
    import_s = time.perf_counter() - started
    if not ok:
        emit({"event": "unavailable", "reason": why})
        return
    backend = registry.load(group.backend)
    emit(
        {
            "event": "ready",
            "describe": why,
            "version": registry.installed_version(group.backend),
            "import_s": import_s,
        }
    )
    naive_limit = None
    if group.variant == "naive" and backend.naive_max_n is not None:
        naive_limit = int(backend.naive_max_n(group.device))
    client = _dask_client(scheduler) if scheduler else None
    first_pending = True
    rate: tuple[int, float] | None = None  # (n, samples per second) of the last measured row
    for n in ns:
        if naive_limit is not None and n > naive_limit:
            message = (
                f"n above {n_label(naive_limit)}, the most the naive variant accepts here "
                "(it holds every sample in memory at once)"
            )
            emit({"event": "row", "row": new_row(group, n, seed, status="skipped", message=message)})
            continue
        if rate is not None and row_budget_s > 0 and n / rate[1] > row_budget_s:
            message = (
                f"n above what {group.backend} does in reasonable time here ({n / rate[1]:.3g} s per call "
                f"predicted from {rate_label(rate[1])} M samples/s at n={n_label(rate[0])}, over the "
                f"{row_budget_s:g} s row budget; see --row-budget)"
            )
            emit({"event": "row", "row": new_row(group, n, seed, status="skipped", message=message)})
            continue

        def call(n: int = n) -> int:
            return jitpi.count_hits(
                n, backend=group.backend, seed=seed, variant=group.variant, device=group.device, client=client
            )

        def step(what: str, n: int = n) -> None:
            emit({"event": "step", "n": n, "step": what})

        row = new_row(group, n, seed)
        try:
            if first_pending:
                step("first call (compile included)")
                warm = time_block(call, 1, collect_garbage=True)
                row.update(first_call_s=warm.seconds, import_s=import_s)
                first_pending = False
            else:
                step("warm-up")
                warm = time_block(call, 1, collect_garbage=True)
                row["warmup_s"] = warm.seconds
            step("calibrating")
            calibration = calibrate(call, min_sample_s=min_sample_s, compile_count=backend.compile_count)
            calls = calibration.calls_per_sample
            wanted = samples_within_budget(repeat, calls * calibration.per_call_s, row_budget_s)
            samples = [calibration.kept] if calibration.kept is not None else []
            while len(samples) < wanted:
                step(f"sample {len(samples) + 1}/{wanted}" + (f", {calls:,} calls" if calls > 1 else ""))
                samples.append(time_block(call, calls, compile_count=backend.compile_count))
        except jitpi.BackendUnavailable as error:
            if first_pending:  # e.g. a variant this backend does not implement: nothing ran
                emit({"event": "unavailable", "reason": error.reason})
                return
            row.update(status="failed", message=f"{type(error).__name__}: {error}")
        except Exception as error:  # a backend failing at run time is a row, not the end of the sweep
            row.update(status="failed", message=f"{type(error).__name__}: {error}".strip())
        else:
            row.update(_row_statistics(group, n, seed, [warm, *calibration.probes, *samples], samples))
            if row["status"] == "ok":
                notes = []
                if wanted < repeat:
                    notes.append(
                        f"{wanted} of {repeat} samples, as many as fit the {row_budget_s:g} s row budget "
                        f"({seconds(calibration.per_call_s)} a call at this n)"
                    )
                if row["compiles_in_samples"]:
                    notes.append(
                        f"{row['compiles_in_samples']} kernel compile(s) during the timed samples: "
                        "the median may include compile time"
                    )
                row["message"] = "; ".join(notes) or None
                if row["samples_per_s"]:
                    rate = (n, row["samples_per_s"])
        emit({"event": "row", "row": row})


def _row_statistics(
    group: Group, n: int, seed: int, blocks: Sequence[Block], samples: Sequence[Block]
) -> dict[str, Any]:
    """Status, estimate and timing of a row from every block it ran (all must agree) and its samples."""
    distinct = list(dict.fromkeys(hits for block in blocks for hits in block.hits))
    per_call = [sample.per_call_s for sample in samples]
    timing = summarise(per_call)
    compiles = [sample.compiles for sample in samples]
    stats: dict[str, Any] = {
        "status": "ok",
        "samples": len(samples),
        "calls_per_sample": samples[0].calls,
        **timing,
        "samples_per_s": n / timing["median_s"] if timing["median_s"] > 0 else None,
        "compiles_in_samples": None if None in compiles else sum(c for c in compiles if c is not None),
        "times_s": per_call,
    }
    if len(distinct) > 1:
        message = f"not deterministic: the same n and seed gave hits {distinct}"
        return {**stats, "status": "failed", "message": message}
    estimate = jitpi.Estimate(
        backend=group.backend, variant=group.variant, device=group.device, n=n, seed=seed, hits=distinct[0]
    )
    stats.update(
        hits=estimate.hits,
        pi_hat=estimate.pi,
        abs_error=estimate.abs_error,
        sigma=estimate.stderr,
        z=estimate.z,
    )
    if abs(estimate.z) > SUSPECT_Z:
        stats.update(
            status="failed",
            message=f"suspect count: |z| = {abs(estimate.z):.1f} > {SUSPECT_Z:g} "
            "(a correct kernel lands there once in 5e8 runs)",
        )
    return stats


def _dask_client(address: str) -> Any:
    """A client of the Dask scheduler at ``address``, closed when the worker process exits."""
    from dask.distributed import Client

    return Client(address, timeout="30s")


def describe_backend(backend: str) -> dict[str, dict[str, Any]]:
    """For ``jitpi list``: per device, whether it runs, why not, and how (compiled or interpreted)."""
    devices = {}
    for device in jitpi.DEVICES:
        ok, why = jitpi.availability(backend, device)
        mode = None
        if ok:
            if "interpret" in why.lower():
                mode = "interpreted"
            else:
                mode = "compiled (JIT)" if registry.REGISTRY[backend].compiles else "no JIT"
        devices[device] = {"available": ok, "detail": why, "mode": mode}
    return devices


def main(argv: Sequence[str] | None = None) -> int:
    """Run one SPEC; the protocol goes to a private copy of stdout, stdout itself to stderr."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        spec = json.loads(argv[0])
        if not isinstance(spec, dict) or not {"mode", "backend"} <= spec.keys():
            raise ValueError(spec)
    except (IndexError, ValueError):
        print(
            "python -m jitpi.sweep.worker: error: SPEC must be a JSON object with 'mode' and 'backend' "
            "(the worker process of jitpi run and jitpi list)",
            file=sys.stderr,
        )
        return 2
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)

    def emit(event: dict[str, Any]) -> None:
        protocol.write(json.dumps(event) + "\n")
        protocol.flush()

    try:
        if spec["mode"] == "list":
            emit({"event": "list", "devices": describe_backend(spec["backend"])})
        else:
            measure_group(
                Group(spec["backend"], spec["variant"], spec["device"]),
                spec["ns"],
                seed=spec["seed"],
                repeat=spec["repeat"],
                row_budget_s=spec["row_budget_s"],
                min_sample_s=spec.get("min_sample_s", MIN_SAMPLE_S),
                emit=emit,
                scheduler=spec.get("scheduler"),
            )
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the parent went away
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
