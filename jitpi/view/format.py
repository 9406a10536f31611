"""How jitpi writes a number, once for every view: the console, Markdown, the page and the charts.

A value that is missing or not finite is written ``MISSING`` everywhere. Throughput is in millions of
samples a second, memory in MB (10**6 bytes), durations in the unit a person reads them in. It
imports no framework (the registry only when ordering backends), so tools that run beside asv with
jitpi installed without its frameworks, such as the gate, use it too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MISSING = "–"
SECONDS_PER_YEAR = 365.25 * 86400.0
"""A Julian year, the unit of the longest durations (a count of 10 places takes years)."""

_SHORT_UNITS = ((1e-3, "µs", 1e-6), (1.0, "ms", 1e-3))
_LONG_UNITS = (
    (120.0, "s", 1.0),
    (7200.0, "min", 60.0),
    (172800.0, "h", 3600.0),
    (2 * SECONDS_PER_YEAR, "days", 86400.0),
)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def rate(samples_per_s: float | None) -> str:
    """Millions of samples a second: thousands separators from 100 up, three figures below."""
    if not _finite(samples_per_s):
        return MISSING
    millions = samples_per_s / 1e6
    return f"{millions:,.0f}" if millions >= 100 else f"{millions:.3g}"


def seconds(value: float | None, *, micro: str = "µs") -> str:
    """A short time in µs, ms or s, three figures (``micro`` is the microsecond's symbol: µs or us)."""
    if not _finite(value):
        return MISSING
    if value < 1e-3:
        return f"{value * 1e6:.3g} {micro}"
    if value < 1.0:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s" if value < 100 else f"{value:.0f} s"


def duration(value: float | None) -> str:
    """Any time as a person reads it: µs, ms, s, min, h, days or years, three figures."""
    if not _finite(value):
        return MISSING
    for limit, unit, scale in (*_SHORT_UNITS, *_LONG_UNITS):
        if value < limit:
            return f"{value / scale:.3g} {unit}"
    years = value / SECONDS_PER_YEAR
    return f"{years:,.0f} years" if years < 1e6 else f"{years:.1e} years"


def n_label(n: float) -> str:
    """A count of samples: ``1e8`` for a power of ten, ``2.5e6`` for one decimal of mantissa from 1e4
    up, ``12,345`` for another count, three figures (``4.27e13``) for a large modelled one (a float)."""
    if not n > 0 or not math.isfinite(n):
        return MISSING
    exponent = math.floor(math.log10(n) + 1e-12)
    mantissa = n / 10**exponent
    if n >= 1000 and abs(mantissa - round(mantissa)) < 1e-9:
        return f"{round(mantissa)}e{exponent}"
    if n >= 10_000 and abs(mantissa * 10 - round(mantissa * 10)) < 1e-9:
        return f"{round(mantissa * 10) / 10:.1f}e{exponent}"
    if isinstance(n, int) or (float(n).is_integer() and n < 1e6):
        return f"{int(n):,}"
    return f"{mantissa:.3g}e{exponent}"


def percent(fraction: float | None) -> str:
    return MISSING if not _finite(fraction) else f"{100 * fraction:.0f}%"


def times(ratio: float | None) -> str:
    """A ratio: ``250×``, ``3.4×``, ``0.021×``."""
    if not _finite(ratio):
        return MISSING
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2g}×"


def megabytes(size: float | None) -> str:
    """Bytes as MB (10**6 bytes) with thousands separators."""
    return MISSING if not _finite(size) else f"{size / 1e6:,.0f}"


def rms_z(value: float | None) -> str:
    return MISSING if not _finite(value) else f"{value:.2f}"


def backend_order(backend: str) -> int:
    """A backend's place in every list: the registry's order, unknown names last."""
    from jitpi.registry import BACKENDS

    return BACKENDS.index(backend) if backend in BACKENDS else len(BACKENDS)


def series_order(key: Sequence[str]) -> tuple:
    """The order of (backend, variant, device, ...) keys: by backend's place, then the rest."""
    return (backend_order(key[0]), *key)
