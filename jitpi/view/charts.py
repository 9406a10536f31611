"""The charts every view shares, drawn by matplotlib from ``jitpi.results`` (no pyplot, no global
backend: ``Figure`` directly, at fixed pixel sizes), as PNG or SVG by the file's extension.

One look for every chart: a colour per backend in registry order (``COLOURS``), a marker and line
style per variant (``VARIANT_STYLE``), hollow markers on a GPU. Each series is an SVG group with an
id (``throughput-<backend>-<variant>-<device>``, ``precision-cold-<backend>-<device>``...), so the
page can pick a table row's lines out and tests can find every backend's points.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from jitpi import precision
from jitpi.registry import BACKENDS
from jitpi.results import Key, Kind, Results
from jitpi.sweep.counts import UsageError
from jitpi.sweep.results import atomic_output
from jitpi.view.format import SECONDS_PER_YEAR, seconds, series_order
from jitpi.view.tables import BASELINE, CHART_DIGITS

DPI = 160
OVERLAY_PX = (1600, 900)
WIDE_PX = (1600, 1150)
PAIR_PX = (1920, 720)

PALETTE = (
    "#7f7f7f",  # grey for the first backend, the plain-Python reference
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#843c39",
    "#7b4173",
    "#bd9e39",
    "#ad494a",
)
"""matplotlib's tab10 (the reference in grey first), then darker tab20b tones: distinct lines."""
COLOURS = {backend: PALETTE[index % len(PALETTE)] for index, backend in enumerate(BACKENDS)}
"""Each backend's colour, assigned in registry order, so a backend keeps its colour in every chart."""
VARIANT_STYLE = {"native": ("o", "-"), "shared": ("s", "--"), "naive": ("^", ":")}
"""Each variant's marker and line style, in every chart."""
OTHER_STYLE = ("D", "-.")
GREY = "#555555"
STYLE = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 9.5,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}
TIME_MARKS = (("1 min", 60.0), ("1 hour", 3600.0), ("1 day", 86400.0), ("1 year", SECONDS_PER_YEAR))


def style(key: Key) -> dict[str, Any]:
    """matplotlib keywords of one series: its backend's colour, its variant's marker and line,
    hollow on a GPU."""
    backend, variant, device = key
    colour = COLOURS.get(backend, "#333333")
    marker, linestyle = VARIANT_STYLE.get(variant, OTHER_STYLE)
    face = "white" if device == "gpu" else colour
    return {
        "color": colour,
        "marker": marker,
        "linestyle": linestyle,
        "markerfacecolor": face,
        "markeredgecolor": colour,
    }


def figure(px: tuple[int, int], *, ncols: int = 1) -> tuple[Figure, list[Any]]:
    made = Figure(figsize=(px[0] / DPI, px[1] / DPI), dpi=DPI, layout="constrained")
    return made, list(made.subplots(1, ncols, squeeze=False)[0])


def titles(
    made: Figure, axis: Any | None, title: str, subtitle: str, footer: str, *, legend: bool = True
) -> None:
    """A bold title; how to read it in grey under it; where it was measured along the bottom; the
    legend beside the plot, where it hides no data."""
    made.suptitle(title, fontsize=14, fontweight="bold")
    made.supxlabel(footer, fontsize=8, color="#666666")
    if axis is not None:
        axis.set_title(subtitle, fontsize=9.5, fontweight="normal", color=GREY)
        if legend:
            axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _power_of_ten(value: float) -> str:
    if value <= 0:
        return ""
    exponent = math.log10(value)
    return f"$10^{{{round(exponent)}}}$" if abs(exponent - round(exponent)) < 1e-9 else ""


def plain_log_axis(axis: Any) -> None:
    """Decades written plainly (0.1, 1, 10, 1000), as powers of ten beyond 1e±3."""

    def label(value: float, _position: int) -> str:
        if value <= 0:
            return ""
        exponent = math.log10(value)
        if abs(exponent - round(exponent)) < 1e-9 and not -3 <= exponent <= 3:
            return _power_of_ten(value)
        return f"{value:g}"

    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(NullFormatter())


def seconds_log_axis(axis: Any) -> None:
    """Decades of seconds written as 100 µs, 1 ms, 10 ms, 0.1 s, 1 s, 10 s."""
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda value, _: seconds(value) if value > 0 else ""))
    axis.set_minor_formatter(NullFormatter())


def n_axis(axis: Any) -> None:
    axis.set_xscale("log")
    axis.set_xlabel("n (samples)")
    axis.xaxis.set_major_locator(LogLocator(base=10))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _power_of_ten(value)))
    axis.xaxis.set_minor_formatter(NullFormatter())


def save(made: Figure, path: str) -> str:
    """``path`` (.png or .svg), replaced whole: a reader never sees half a chart."""
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in ("png", "svg"):
        raise UsageError(f"a chart's path must end in .png or .svg, got {path!r}")
    with atomic_output(path, "wb") as stream:
        made.savefig(stream, format=fmt, dpi=DPI)
    return path


def _legend_handles(keys: Sequence[Key]) -> list[Line2D]:
    """One handle per backend (its colour), per variant (marker and line) and, with both, per device."""
    handles = [
        Line2D([], [], color=COLOURS.get(backend, "#333333"), linewidth=3, label=backend)
        for backend in sorted({key[0] for key in keys}, key=lambda b: series_order((b,)))
    ]
    for variant in sorted(
        {key[1] for key in keys}, key=lambda v: list(VARIANT_STYLE).index(v) if v in VARIANT_STYLE else 9
    ):
        marker, linestyle = VARIANT_STYLE.get(variant, OTHER_STYLE)
        handles.append(
            Line2D([], [], color=GREY, marker=marker, linestyle=linestyle, label=f"{variant} variant")
        )
    devices = sorted({key[2] for key in keys})
    if len(devices) > 1:
        for device in devices:
            face = "white" if device == "gpu" else GREY
            handles.append(
                Line2D([], [], color=GREY, marker="o", linestyle="none", markerfacecolor=face, label=device)
            )
    return handles


def throughput_chart(results: Results, path: str, footer: str, *, px: tuple[int, int] = OVERLAY_PX) -> str:
    """Throughput (M samples/s) against n, log-log, a line per series with interquartile bars (the
    quartiles of its call times bound the rate)."""
    series = results.series(Kind.TIME)
    if not series:
        raise UsageError("no measured warm time to draw")
    with matplotlib.rc_context({**STYLE, "svg.fonttype": "none", "svg.hashsalt": "throughput"}):
        made, (axis,) = figure(px)
        for key, by_n in series.items():
            n = np.array(list(by_n), dtype=float)
            middle = np.array([m.throughput for m in by_n.values()]) / 1e6
            slow = n / np.array([m.q75 or m.value for m in by_n.values()]) / 1e6
            fast = n / np.array([m.q25 or m.value for m in by_n.values()]) / 1e6
            gid = f"throughput-{'-'.join(key)}"
            keywords = style(key)
            bars = axis.errorbar(
                n,
                middle,
                yerr=[middle - slow, fast - middle],
                fmt="none",
                ecolor=keywords["color"],
                elinewidth=1.0,
                capsize=2,
            )
            for index, artist in enumerate(bars.get_children()):
                artist.set_gid(f"{gid}-iqr-{index}")
            (line,) = axis.plot(n, middle, linewidth=1.5, markersize=6, **keywords)
            line.set_gid(gid)
        n_axis(axis)
        axis.set_yscale("log")
        plain_log_axis(axis.yaxis)
        axis.set_ylabel("throughput (million samples per second)")
        axis.legend(
            handles=_legend_handles(list(series)),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
        )
        titles(
            made,
            axis,
            "Steady-state throughput against n",
            "higher is better; a point per measured n; bars: interquartile range of the samples",
            footer,
            legend=False,
        )
        return save(made, path)


def _long_seconds(value: float) -> str:
    """1 ms, 1 s, 100 s below three hours; 10^k s above (the chart spans 1e-4 s to 1e16 s)."""
    if value <= 0:
        return ""
    return seconds(value) if value < 1e4 else f"$10^{{{round(math.log10(value))}}}$ s"


def _samples_axis(confidence: float):
    """k -> log10 n(k) and back: log10 n = 2 k + log10 n(0), a straight line (precision.samples_for)."""
    offset = math.log10(precision.samples_for(1.0, confidence)) - 2.0
    return (lambda k: 2.0 * np.asarray(k) + offset), (lambda exponent: (np.asarray(exponent) - offset) / 2.0)


def precision_chart(
    curves: Sequence[precision.Curve],
    path: str,
    *,
    footer: str,
    confidence: float = precision.CONFIDENCE,
    digits: tuple[float, float] = CHART_DIGITS,
    baseline: str = BASELINE,
) -> str:
    """Seconds to reach k decimal places of pi against k: one colour per backend (its fastest
    variant at the largest n), cold solid, warm dashed, the interquartile band shaded, and where
    each backend starts to beat ``baseline`` from a cold start marked."""
    best = sorted(precision.best_per_backend(curves), key=lambda curve: series_order(curve.key))
    if not best:
        raise UsageError("no measured curve to draw")
    grid = precision.digit_grid(*digits, step=0.02)
    n_values = [precision.samples_for(value, confidence) for value in grid]
    reference = next((curve for curve in best if curve.backend == baseline and curve.has_cold), None)
    with matplotlib.rc_context({**STYLE, "svg.fonttype": "none", "svg.hashsalt": "precision"}):
        made, (axis,) = figure(OVERLAY_PX)
        for curve in best:
            colour = COLOURS.get(curve.backend, "#333333")
            label = f"{curve.backend} ({curve.variant})"
            warm = [curve.warm(n) for n in n_values]
            lines = axis.plot(grid, [e.seconds for e in warm], linestyle="--", color=colour, linewidth=1.4)
            lines[0].set_gid(f"precision-warm-{curve.backend}-{curve.device}")
            if not curve.has_cold:
                lines[0].set_label(f"{label}, warm only")
                continue
            cold = [curve.cold(n) for n in n_values]
            lines = axis.plot(grid, [e.seconds for e in cold], color=colour, linewidth=2.0, label=label)
            lines[0].set_gid(f"precision-cold-{curve.backend}-{curve.device}")
            axis.fill_between(
                grid, [e.low for e in cold], [e.high for e in cold], color=colour, alpha=0.15, lw=0
            )
            if reference is not None and curve is not reference:
                found = precision.crossover(curve, reference, grid, confidence)
                if found is not None and found.digits is not None and found.digits > grid[0]:
                    at = curve.cold(found.samples).seconds
                    axis.plot(
                        [found.digits], [at], marker="o", markersize=7, color=colour, mec="black", mew=0.8
                    )
        for name, value in TIME_MARKS:
            axis.axhline(value, color="#999999", linewidth=0.8, linestyle=":")
            axis.text(grid[0], value * 1.15, name, fontsize=8, color="#777777")
        stream_limit = precision.digits_for(precision.STREAM_SAMPLES, confidence)
        if digits[0] < stream_limit < digits[1]:
            axis.axvline(stream_limit, color="#999999", linewidth=0.8, linestyle="-.")
            axis.text(stream_limit, 1e-3, " one seed's stream\n (2^65 samples)", fontsize=8, color="#777777")
        axis.set_yscale("log")
        axis.yaxis.set_major_locator(LogLocator(base=10, numticks=30))
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _long_seconds(value)))
        axis.yaxis.set_minor_formatter(NullFormatter())
        axis.set_ylabel("time to get there (log scale)")
        axis.set_xlabel(f"decimal places of pi (|error| ≤ 0.5·10^-k at {confidence:.0%} confidence)")
        axis.set_xlim(*digits)
        top = axis.secondary_xaxis("top", functions=_samples_axis(confidence))
        top.set_xlabel("samples needed (log10 n)")
        axis.plot([], [], color=GREY, linewidth=2.0, label="cold: fresh process, empty JIT caches")
        axis.plot([], [], color=GREY, linestyle="--", linewidth=1.4, label="warm: compiled, in process")
        if reference is not None:
            axis.plot(
                [], [], "o", color="#bbbbbb", mec="black", label=f"from here on faster than {baseline}, cold"
            )
        titles(
            made,
            axis,
            "Time to a precision of pi",
            "lower is better; n(k) = (z·1.6422 / 0.5·10^-k)², time from measured throughput; band: quartiles",
            footer,
        )
        return save(made, path)
