"""Time to a precision of pi: how long each backend takes, from a cold start and warm, to reach k
decimal places, modelled from measured rows.

pi_hat's error is normal with SE(n) = 1.6422 / sqrt(n) (``jitpi.stats``), so k decimal places,
|pi_hat - pi| <= 0.5e-k at confidence c, take n(k) = (z_c 1.6422 / 0.5e-k)**2 samples. Warm, they
take n / throughput(n): the measured median time per call, interpolated log-log between measured
n and at the largest n's throughput beyond it. Cold adds what a fresh process pays first: the
import and the compile (the cold first call less a warm call at the same n). The band is the same
model through each measured row's quartiles (median -/+ IQR / 2), and the cold start's own spread
where it was measured more than once. Model and cold runs side by side: ``docs/precision.md``.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from jitpi.results import Key, Kind, Results, from_sweep
from jitpi.stats import standard_error

CONFIDENCE = 0.95
STREAM_SAMPLES = 2**65
"""Samples one seed's stream holds (2**64 Philox blocks of two): a larger n needs several seeds."""


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def tolerance(digits: float) -> float:
    """The absolute error k decimal places allow: half a unit in the k-th place, 0.5e-k."""
    if not math.isfinite(digits) or digits <= 0:
        raise ValueError(f"digits must be a positive number of decimal places, got {digits!r}")
    return 0.5 * 10.0 ** (-digits)


def samples_for(digits: float, confidence: float = CONFIDENCE) -> float:
    """n such that |pi_hat - pi| <= 0.5e-digits with probability ``confidence``."""
    return (_z(confidence) * standard_error(1) / tolerance(digits)) ** 2


def digits_for(n: float, confidence: float = CONFIDENCE) -> float:
    """The decimal places n samples reach at ``confidence`` (the inverse of ``samples_for``)."""
    if not n > 0:
        raise ValueError(f"n must be positive, got {n!r}")
    return -math.log10(2.0 * _z(confidence) * standard_error(1) / math.sqrt(n))


@dataclass(frozen=True)
class Point:
    """One measured n: the median seconds per warm call and its interquartile range."""

    n: int
    median_s: float
    iqr_s: float = 0.0

    @property
    def low_s(self) -> float:
        return max(self.median_s - self.iqr_s / 2.0, self.median_s * 1e-3)

    @property
    def high_s(self) -> float:
        return self.median_s + self.iqr_s / 2.0


@dataclass(frozen=True)
class Estimate:
    """Seconds, with the band the measured spread gives."""

    seconds: float
    low: float
    high: float


@dataclass(frozen=True)
class Curve:
    """What was measured for one (backend, variant, device): warm calls at several n, and what a
    cold process pays before its first result at ``points[0].n`` (``startup_s``: import, compile
    and that first call; None where no cold start was measured)."""

    backend: str
    variant: str
    device: str
    points: tuple[Point, ...]
    startup_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError(f"{self.label}: a curve needs at least one measured n")
        ordered = tuple(sorted(self.points, key=lambda point: point.n))
        if any(point.median_s <= 0 or point.n <= 0 for point in ordered):
            raise ValueError(f"{self.label}: every point needs n > 0 and a positive time")
        object.__setattr__(self, "points", ordered)
        object.__setattr__(self, "startup_s", tuple(sorted(self.startup_s)))

    @property
    def label(self) -> str:
        return f"{self.backend} ({self.variant}, {self.device})"

    @property
    def key(self) -> Key:
        return (self.backend, self.variant, self.device)

    @property
    def has_cold(self) -> bool:
        return bool(self.startup_s)

    @property
    def throughput(self) -> float:
        """Samples per second at the largest measured n."""
        last = self.points[-1]
        return last.n / last.median_s

    def _seconds_at(self, n: float, which: str) -> float:
        values = [(point.n, getattr(point, which)) for point in self.points]
        if n <= values[0][0]:
            return values[0][1]  # overhead-bound: no faster than the smallest measured call
        if n >= values[-1][0]:
            return values[-1][1] * n / values[-1][0]  # throughput-bound beyond the largest n
        for (n0, t0), (n1, t1) in itertools.pairwise(values):
            if n0 <= n <= n1:
                fraction = math.log(n / n0) / math.log(n1 / n0)
                return math.exp(math.log(t0) + fraction * math.log(t1 / t0))
        raise AssertionError("unreachable: n lies between the first and last points")

    def warm(self, n: float) -> Estimate:
        """Seconds of warm calls to count n samples."""
        return Estimate(
            self._seconds_at(n, "median_s"), self._seconds_at(n, "low_s"), self._seconds_at(n, "high_s")
        )

    def startup(self) -> Estimate | None:
        """Import and compile: the cold start less a warm call at its n (never below zero)."""
        if not self.startup_s:
            return None
        first = self.points[0]
        middle = statistics.median(self.startup_s)
        return Estimate(
            max(middle - first.median_s, 0.0),
            max(self.startup_s[0] - first.high_s, 0.0),
            max(self.startup_s[-1] - first.low_s, 0.0),
        )

    def cold(self, n: float) -> Estimate | None:
        """Seconds from a fresh process with empty JIT caches to the count of n samples."""
        startup = self.startup()
        if startup is None:
            return None
        warm = self.warm(n)
        return Estimate(startup.seconds + warm.seconds, startup.low + warm.low, startup.high + warm.high)


def curves(*runs: Results) -> list[Curve]:
    """The curves of one or more runs: the first run that measured a (backend, variant, device)
    gives its warm points; every run's cold start of it adds what a cold process pays over a warm
    call at the cold start's n (its samples, each less that run's warm call there), and the curve
    starts at that n."""
    points: dict[Key, tuple[Point, ...]] = {}
    overheads: dict[Key, list[float]] = {}
    cold_n: dict[Key, int] = {}
    for run in runs:
        times = run.series(Kind.TIME)
        colds = run.series(Kind.COLD)
        for key, by_n in times.items():
            points.setdefault(key, tuple(Point(n, m.value, m.iqr or 0.0) for n, m in by_n.items()))
            if key not in colds:
                continue
            n, cold = min(colds[key].items())
            if n not in by_n:
                continue
            cold_n.setdefault(key, n)
            # Without recorded samples, asv's quartiles and median stand for them.
            quartiles = tuple(value for value in (cold.q25, cold.value, cold.q75) if value is not None)
            samples = cold.samples or quartiles
            overheads.setdefault(key, []).extend(sample - by_n[n].value for sample in samples)
    found = []
    for key, measured in points.items():
        start = cold_n.get(key)
        if start is not None:
            measured = tuple(point for point in measured if point.n >= start)
        startup = tuple(overhead + measured[0].median_s for overhead in overheads.get(key, ()))
        found.append(Curve(*key, measured, startup))
    return found


# --- what the curves answer ----------------------------------------------------------------------

DIGIT_STEP = 0.01


def digit_grid(lowest: float, highest: float, step: float = DIGIT_STEP) -> list[float]:
    if not 0 < lowest < highest:
        raise ValueError(
            f"digits must run from a positive lowest to a higher highest, got {lowest}..{highest}"
        )
    count = round((highest - lowest) / step)
    return [lowest + index * step for index in range(count + 1)]


@dataclass(frozen=True)
class Crossover:
    """Where ``curve`` starts to beat ``other`` from a cold start, for good (None: never; the
    grid's lowest digits: from the start)."""

    curve: Curve
    other: Curve
    digits: float | None
    samples: float | None


def crossover(
    curve: Curve, other: Curve, digits: Iterable[float], confidence: float = CONFIDENCE
) -> Crossover | None:
    """The fewest digits from which ``curve`` reaches every higher precision sooner than ``other``,
    both cold; None where either has no cold start."""
    if not (curve.has_cold and other.has_cold):
        return None
    grid = list(digits)
    since = None
    for value in grid:
        n = samples_for(value, confidence)
        ahead = curve.cold(n).seconds < other.cold(n).seconds
        since = (value if since is None else since) if ahead else None
    return Crossover(curve, other, since, None if since is None else samples_for(since, confidence))


def warm_ranking(
    curves: Iterable[Curve], digits: float, confidence: float = CONFIDENCE
) -> list[tuple[Curve, Estimate]]:
    """The curves by warm time to ``digits``, fastest first."""
    n = samples_for(digits, confidence)
    return sorted(((curve, curve.warm(n)) for curve in curves), key=lambda pair: pair[1].seconds)


def best_per_backend(curves: Iterable[Curve]) -> list[Curve]:
    """Each backend's curve with the highest throughput at its largest n (one line per backend)."""
    best: dict[tuple[str, str], Curve] = {}
    for curve in curves:
        key = (curve.backend, curve.device)
        if key not in best or curve.throughput > best[key].throughput:
            best[key] = curve
    return list(best.values())


# --- the model against real cold runs -------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One cold run against the model: a fresh worker process with empty JIT caches counting the
    samples ``digits`` places need, timed from its framework import to the count."""

    curve: Curve
    digits: float
    samples: int
    model: Estimate
    measured_s: float | None
    message: str | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.measured_s is None else self.measured_s / self.model.seconds

    @property
    def within(self) -> bool:
        return self.measured_s is not None and self.model.low <= self.measured_s <= self.model.high


def check_cold(curve: Curve, digits: float, confidence: float = CONFIDENCE, *, seed: int = 0) -> Check:
    """Run ``curve``'s backend cold at n = samples_for(digits) in a new worker (as ``jitpi run``
    does: import, then the first call; caches empty) and set the model beside it."""
    from jitpi.sweep.runner import run_worker

    model = curve.cold(samples_for(digits, confidence))
    if model is None:
        raise ValueError(f"{curve.label}: no cold start was measured, so the model has nothing to check")
    n = math.ceil(samples_for(digits, confidence))
    spec = {
        "mode": "measure",
        "backend": curve.backend,
        "variant": curve.variant,
        "device": curve.device,
        "ns": [n],
        "seed": seed,
        "repeat": 1,
        "row_budget_s": 0.0,
        "min_sample_s": 0.0,
        "scheduler": None,
    }
    rows: list[dict[str, Any]] = []
    reasons: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "row":
            rows.append(event["row"])
        elif event.get("event") == "unavailable":
            reasons.append(event.get("reason", ""))

    outcome = run_worker(spec, on_event, cold_cache=True)
    run = from_sweep({"rows": rows})
    cold = run.series(Kind.COLD).get(curve.key, {}).get(n)
    if cold is None:
        failed = [m.message for m in run.measurements if m.message]
        why = "; ".join(failed + reasons) or outcome.stderr_tail[-300:] or "no row"
        return Check(curve, digits, n, model, None, why)
    return Check(curve, digits, n, model, cold.value)
