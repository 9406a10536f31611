"""The estimator's statistics, computed once, on the host, in float64, from an exact hit count.

hits ~ Binomial(n, p) with p = pi / 4, so pi_hat = 4 hits / n has standard error
SE(n) = 4 sqrt(p (1 - p) / n) = 1.6422 / sqrt(n), and z = (pi_hat - pi) / SE(n) is N(0, 1) for a
correct kernel. Accuracy is therefore reported in units of the estimator's own standard error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

P_INSIDE = math.pi / 4.0
"""Probability that a uniform point of the unit square lies inside the quarter circle."""

SUSPECT_Z = 6.0
"""|z| above this marks a count as wrong: a correct kernel gets there once in 5e8 runs (2 P(Z > 6))."""


def standard_error(n: int) -> float:
    """Standard error of pi_hat = 4 hits / n for n samples."""
    return 4.0 * math.sqrt(P_INSIDE * (1.0 - P_INSIDE) / n)


def pi_from_hits(hits: int, n: int) -> float:
    return 4.0 * hits / n


def z_score(hits: int, n: int) -> float:
    """Error of pi_hat in units of its standard error."""
    return (pi_from_hits(hits, n) - math.pi) / standard_error(n)


def dispersion(z_scores: Iterable[float]) -> tuple[float, int]:
    """Sum of z**2 over independent runs and its degrees of freedom (chi-square under H0).

    A single z-test cannot see overlapping streams; overlap leaves the mean unbiased but inflates
    the variance, which this statistic catches.
    """
    values = [float(z) for z in z_scores]
    return sum(z * z for z in values), len(values)


def chi2_sf(statistic: float, dof: int) -> float:
    """Upper tail P(X >= statistic) of a chi-square with ``dof`` degrees of freedom.

    Computed from the regularised upper incomplete gamma function so that numpy is the only
    dependency (scipy is not required).
    """
    if dof <= 0:
        raise ValueError(f"dof must be a positive integer, got {dof!r}")
    return _gamma_q(dof / 2.0, statistic / 2.0)


def rms(values: Iterable[float]) -> float:
    """Root mean square; for z-scores of a correct estimator it sits near 1."""
    data = [float(v) for v in values]
    return math.sqrt(sum(v * v for v in data) / len(data))


def rms_z_band(seeds: int, coverage: float = 0.99) -> tuple[float, float]:
    """Where the RMS of ``seeds`` z-scores of a correct estimator falls with probability ``coverage``,
    equal tails: seeds * RMS**2 is chi-square with ``seeds`` degrees of freedom (0.57-1.46 for 16
    seeds at 99%)."""
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be between 0 and 1 (exclusive), got {coverage!r}")
    tail = (1.0 - coverage) / 2.0

    def quantile(upper_tail: float) -> float:
        low, high = 0.0, 1.0
        while chi2_sf(high, seeds) > upper_tail:
            high *= 2.0
        for _ in range(200):
            middle = (low + high) / 2.0
            low, high = (middle, high) if chi2_sf(middle, seeds) > upper_tail else (low, middle)
        return (low + high) / 2.0

    return math.sqrt(quantile(1.0 - tail) / seeds), math.sqrt(quantile(tail) / seeds)


@dataclass(frozen=True)
class Estimate:
    """One Monte Carlo estimate of pi: the exact hit count and the statistics derived from it.

    Only the first six fields are given; ``pi``, ``stderr``, ``z`` and ``abs_error`` are derived
    from them on construction, so an Estimate can never disagree with its own hit count.
    """

    backend: str
    variant: str
    device: str
    n: int
    seed: int
    hits: int
    pi: float = field(init=False)
    stderr: float = field(init=False)
    z: float = field(init=False)
    abs_error: float = field(init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.hits <= self.n:
            raise ValueError(f"hits must be in [0, n={self.n}], got {self.hits}")
        derived = {
            "pi": pi_from_hits(self.hits, self.n),
            "stderr": standard_error(self.n),
            "z": z_score(self.hits, self.n),
        }
        derived["abs_error"] = abs(derived["pi"] - math.pi)
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @property
    def rel_accuracy(self) -> float:
        """The founding article's accuracy, 1 - |pi_hat - pi| / pi (higher is better)."""
        return 1.0 - self.abs_error / math.pi

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) (Numerical Recipes, series / continued fraction)."""
    if x < 0 or a <= 0:
        raise ValueError("gamma_q needs x >= 0 and a > 0")
    if x == 0:
        return 1.0
    log_prefactor = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefactor))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return math.exp(log_prefactor) * h
