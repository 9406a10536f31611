"""One row's timing: calibrated steady-state samples, their median and interquartile range.

The method of ``torch.utils.benchmark.Timer.blocked_autorange`` and pyperf: a sample is a block of
calls timed together, as many as make it last ``MIN_SAMPLE_S``, so that the timer's resolution and a
single scheduling hiccup vanish in it; a row takes several samples and reports the median time per
call and the interquartile range (IQR). A row whose spread (IQR / median) is above
``UNSTABLE_SPREAD`` is flagged unstable. The garbage collector is off inside a sample, as ``timeit``
does. The calls per sample come from probe blocks after the warm-up (the warm-up itself may hold a
compile), growing until one lasts a tenth of a sample.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MIN_SAMPLE_S = 0.1
"""A sample lasts at least about this long (pyperf's ``min_time``): timer resolution (under 1 µs)
and one scheduling hiccup (about 1 ms) are then under 1% of it."""

MAX_CALLS_PER_SAMPLE = 10**6
"""Calls per sample never exceed this, however fast a call is."""

UNSTABLE_SPREAD = 0.10
"""IQR / median above this flags a row unstable: ``torch.utils.benchmark`` warns at the same 10%
("this could indicate system fluctuation"); rows that close cannot be ranked from such samples."""


@dataclass(frozen=True)
class Block:
    """Calls timed together: their total time, the distinct counts they returned, kernels compiled."""

    seconds: float
    calls: int
    hits: tuple[int, ...]
    compiles: int | None
    """Kernels the backend compiled while the block ran (None: the backend does not count them)."""

    @property
    def per_call_s(self) -> float:
        return self.seconds / self.calls


def time_block(
    call: Callable[[], int],
    calls: int,
    *,
    compile_count: Callable[[], int] | None = None,
    collect_garbage: bool = False,
) -> Block:
    """``calls`` calls timed together with ``time.perf_counter``; the garbage collector paused unless
    ``collect_garbage`` (a first call or a warm-up is timed as a user would see it)."""
    before = compile_count() if compile_count is not None else None
    paused = not collect_garbage and gc.isenabled()
    if paused:
        gc.disable()
    try:
        tick = time.perf_counter()
        hits = [call() for _ in range(calls)]
        seconds = time.perf_counter() - tick
    finally:
        if paused:
            gc.enable()
    compiles = None if before is None or compile_count is None else compile_count() - before
    return Block(seconds, calls, tuple(dict.fromkeys(hits)), compiles)


@dataclass(frozen=True)
class Calibration:
    """How many calls make a sample, from probe blocks run after the warm-up."""

    calls_per_sample: int
    per_call_s: float
    probes: tuple[Block, ...]
    kept: Block | None
    """A probe that already lasted a sample's time: kept as the row's first sample."""


def calibrate(
    call: Callable[[], int],
    *,
    min_sample_s: float = MIN_SAMPLE_S,
    compile_count: Callable[[], int] | None = None,
) -> Calibration:
    """Probe with 1 call, then more (up to 100 times more each step) until a probe lasts a tenth of a
    sample; calls per sample = ``min_sample_s`` / the shortest time per call a probe measured (a
    probe slowed by a hiccup would make samples too short)."""
    calls = 1
    probes: list[Block] = []
    while True:
        block = time_block(call, calls, compile_count=compile_count)
        probes.append(block)
        if block.seconds >= min_sample_s:
            return Calibration(calls, block.per_call_s, tuple(probes), kept=block)
        if block.seconds >= min_sample_s / 10 or calls >= MAX_CALLS_PER_SAMPLE:
            break
        grow = min(100.0, 1.2 * (min_sample_s / 10) / max(block.seconds, 1e-9))
        calls = min(MAX_CALLS_PER_SAMPLE, max(2 * calls, math.ceil(calls * grow)))
    per_call = min(probe.per_call_s for probe in probes)
    calls_per_sample = min(MAX_CALLS_PER_SAMPLE, max(1, math.ceil(min_sample_s / max(per_call, 1e-12))))
    return Calibration(calls_per_sample, per_call, tuple(probes), kept=None)


def samples_within_budget(repeat: int, sample_s: float, row_budget_s: float) -> int:
    """``repeat`` samples, or as many as fit ``row_budget_s`` (at least one); a budget of 0 never limits."""
    if row_budget_s <= 0 or sample_s <= 0:
        return repeat
    return max(1, min(repeat, int(row_budget_s // sample_s)))


def summarise(per_call_s: Sequence[float]) -> dict[str, Any]:
    """Median, interquartile range (quartiles as numpy's default linear method), min, max, spread
    (IQR / median) and the unstable flag of per-call sample times; IQR needs two samples."""
    median = statistics.median(per_call_s)
    iqr = None
    if len(per_call_s) >= 2:
        first, _, third = statistics.quantiles(per_call_s, n=4, method="inclusive")
        iqr = third - first
    spread = iqr / median if iqr is not None and median > 0 else None
    return {
        "median_s": median,
        "iqr_s": iqr,
        "spread": spread,
        "unstable": spread is not None and spread > UNSTABLE_SPREAD,
        "min_s": min(per_call_s),
        "max_s": max(per_call_s),
    }
