"""Charts of a ``jitpi run`` results file, as PNG (matplotlib's Agg renderer, no display needed).

- ``<backend>-<variant>-<device>.png``: the founding article's pair for each backend: time per
  call against n, and accuracy against n, on log scales;
- ``throughput.png``: steady-state samples per second of every backend against n;
- ``accuracy.png``: |pi_hat - pi| of every backend against n, inside the 1 and 2 sigma envelope
  of the estimator (sigma(n) = ``jitpi.standard_error(n)``);
- ``zscore.png``: the same errors in sigma units, z = (pi_hat - pi) / sigma(n);
- ``first_call.png``: import, first call (compile included) and a steady-state call per backend.

Colours follow ``jitpi.BACKENDS`` (``COLOURS``); files of ``jitpi-sweep/1`` are read through
``jitpi.sweep.results.load_results``, which upgrades them to the current schema.

Figures are made with ``matplotlib.figure.Figure`` directly (no pyplot, no global backend
switch) at fixed pixel sizes: ``OVERLAY_PX`` and ``PAIR_PX``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

import jitpi
from jitpi.sweep.counts import UsageError, format_n, format_seconds
from jitpi.sweep.machine import describe_machine
from jitpi.sweep.results import atomic_output, upgrade

DPI = 160
OVERLAY_PX = (1600, 900)
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

COLOURS = {backend: PALETTE[index % len(PALETTE)] for index, backend in enumerate(jitpi.BACKENDS)}
"""Each backend's colour, assigned in registry order, so a backend keeps its colour in every chart."""
MARKERS = {"native": "o", "shared": "s", "naive": "^"}
LINESTYLES = {"cpu": "-", "gpu": "--"}
ENVELOPE = "#6b7b8c"  # the estimator's sigma bands: a neutral slate, no backend's colour
KIND_COLOURS = {
    "import (framework and backend)": "#c7c7c7",
    "first call": "#e6550d",
    "steady state": "#3182bd",
}

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

Series = tuple[str, str, str]  # backend, variant, device


def plot_all(data: dict[str, Any], out: str) -> list[str]:
    """Write every chart for a results dict (as ``jitpi run --json`` writes it); return the paths."""
    data = upgrade(data)
    rows = [row for row in data.get("rows", []) if row.get("status") == "ok"]
    if not rows:
        raise UsageError("the results hold no measured rows to plot (each row failed or was skipped)")
    series: dict[Series, list[dict[str, Any]]] = {}
    for row in rows:
        series.setdefault((row["backend"], row["variant"], row["device"]), []).append(row)
    for points in series.values():
        points.sort(key=lambda row: row["n"])
    context = _Context(data, series)
    written = []
    with matplotlib.rc_context(STYLE):
        written.append(_save(_throughput(context), out, "throughput.png"))
        written.append(_save(_accuracy(context), out, "accuracy.png"))
        written.append(_save(_zscores(context), out, "zscore.png"))
        if any(_first_call_row(points) for points in series.values()):
            written.append(_save(_first_calls(context), out, "first_call.png"))
        for key, points in series.items():
            written.append(_save(_pair(context, key, points), out, f"{'-'.join(key)}.png"))
    return written


class _Context:
    """What every chart shares: the series, their labels and the machine line."""

    def __init__(self, data: dict[str, Any], series: dict[Series, list[dict[str, Any]]]) -> None:
        self.data = data
        self.series = series
        variants = {key[1] for key in series}
        devices = {key[2] for key in series}
        self.show_variant = len(variants) > 1
        self.show_device = len(devices) > 1
        settings = data.get("settings", {})
        parts = [describe_machine(data, separator="  |  ")]
        if len(variants) == 1 and len(devices) == 1:
            parts.append(f"{next(iter(variants))} variant on {next(iter(devices))}")
        if settings.get("repeat"):
            rows = [row for points in series.values() for row in points]
            fewer = any((row["samples"] or 0) < settings["repeat"] for row in rows)
            parts.append(f"median of {'up to ' if fewer else ''}{settings['repeat']} samples")
        self.machine_line = "  |  ".join(str(part) for part in parts if part)

    def label(self, key: Series) -> str:
        backend, variant, device = key
        extra = [part for part, show in ((variant, self.show_variant), (device, self.show_device)) if show]
        return f"{backend} ({', '.join(extra)})" if extra else backend

    def style(self, key: Series) -> dict[str, Any]:
        backend, variant, device = key
        return {
            "color": COLOURS.get(backend, "#333333"),
            "marker": MARKERS.get(variant, "o"),
            "linestyle": LINESTYLES.get(device, "-"),
        }

    def all_n(self) -> list[int]:
        return sorted({row["n"] for points in self.series.values() for row in points})

    def offsets(self) -> dict[Series, float]:
        """Small multiplicative shifts along n so that points at the same n stay visible."""
        keys = list(self.series)
        middle = (len(keys) - 1) / 2
        return {key: 10 ** (0.025 * (index - middle)) for index, key in enumerate(keys)}


def _figure(px: tuple[int, int], *, ncols: int = 1) -> tuple[Figure, list[Any]]:
    figure = Figure(figsize=(px[0] / DPI, px[1] / DPI), dpi=DPI, layout="constrained")
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, list(axes)


def _titles(figure: Figure, title: str, footer: str) -> None:
    """A bold title on top; where and how it was measured, small and grey, along the bottom."""
    figure.suptitle(title, fontsize=14, fontweight="bold")
    figure.supxlabel(footer, fontsize=8, color="#666666")


def _overlay_titles(figure: Figure, axis: Any, title: str, subtitle: str, footer: str) -> None:
    """An overlay chart's titles, how to read it in grey under the title, and its legend."""
    _titles(figure, title, footer)
    axis.set_title(subtitle, fontsize=9.5, fontweight="normal", color="#555555")
    _legend(axis)


def _plain_log_axis(axis: Any) -> None:
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(_tick_label))
    axis.set_minor_formatter(NullFormatter())


def _seconds_log_axis(axis: Any) -> None:
    """Decades of seconds written as 100 µs, 1 ms, 10 ms, 0.1 s, 1 s, 10 s."""
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda value, _: _seconds(value) if value > 0 else ""))
    axis.set_minor_formatter(NullFormatter())


def _tick_label(value: float, _position: int) -> str:
    if value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) < 1e-9 and not -3 <= exponent <= 3:
        return f"$10^{{{round(exponent)}}}$"
    return f"{value:g}"


def _n_axis(axis: Any) -> None:
    axis.set_xscale("log")
    axis.set_xlabel("n (samples)")
    axis.xaxis.set_major_locator(LogLocator(base=10))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _n_tick(value)))
    axis.xaxis.set_minor_formatter(NullFormatter())


def _n_tick(value: float) -> str:
    if value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) < 1e-9:
        return f"$10^{{{round(exponent)}}}$"
    return ""


def _legend(axis: Any) -> None:
    """The legend beside the plot, top-aligned with it, where it can hide no data."""
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _save(figure: Figure, out: str, name: str) -> str:
    path = os.path.join(out, name)
    with atomic_output(path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=DPI)
    return path


# --- the overlays ------------------------------------------------------------------------------


def _throughput(context: _Context) -> Figure:
    figure, (axis,) = _figure(OVERLAY_PX)
    for key, points in context.series.items():
        n = np.array([row["n"] for row in points], dtype=float)
        rate = np.array([row["samples_per_s"] for row in points]) / 1e6
        low = n / np.array([row["max_s"] for row in points]) / 1e6
        high = n / np.array([row["min_s"] for row in points]) / 1e6
        style = context.style(key)
        axis.errorbar(
            n,
            rate,
            yerr=[rate - low, high - rate],
            label=context.label(key),
            capsize=3,
            linewidth=1.8,
            markersize=6,
            **style,
        )
    _n_axis(axis)
    axis.set_yscale("log")
    _plain_log_axis(axis.yaxis)
    axis.set_ylabel("throughput (million samples per second)")
    _overlay_titles(
        figure,
        axis,
        "Steady-state throughput against n",
        "higher is better; bars span the fastest and slowest sample",
        context.machine_line,
    )
    return figure


def _sigma_envelope(axis: Any, n_values: Sequence[int], errors: Iterable[float]) -> None:
    """Shade |error| < 1 sigma and 1 to 2 sigma, and draw the expected |error|, over the n range."""
    errors = [error for error in errors if error > 0]
    grid = np.logspace(math.log10(min(n_values)) - 0.2, math.log10(max(n_values)) + 0.2, 200)
    sigma = np.array([jitpi.standard_error(int(n)) for n in grid])
    floor = min(min(errors, default=sigma[-1]) / 2, sigma[-1] / 10)
    ceiling = max([*errors, 2 * sigma[0]]) * 2
    axis.fill_between(
        grid, floor, sigma, color=ENVELOPE, alpha=0.20, linewidth=0, label="within 1σ (68% of runs)"
    )
    axis.fill_between(
        grid, sigma, 2 * sigma, color=ENVELOPE, alpha=0.09, linewidth=0, label="1σ to 2σ (27% of runs)"
    )
    axis.plot(grid, sigma, color=ENVELOPE, linewidth=1.0, alpha=0.8)
    axis.plot(grid, 2 * sigma, color=ENVELOPE, linewidth=1.0, alpha=0.6, linestyle="--")
    axis.plot(
        grid,
        math.sqrt(2 / math.pi) * sigma,
        color="#444444",
        linewidth=0.9,
        linestyle=":",
        label="expected |error| = 0.80σ(n) = 1.31/√n",
    )
    axis.set_xlim(grid[0], grid[-1])
    axis.set_ylim(floor, ceiling)


def _plot_scatter_series(axis, context: _Context, field: str) -> None:
    """One line of markers per series, nudged apart along n so that equal n stay readable."""
    offsets = context.offsets()
    for key, points in context.series.items():
        n = np.array([row["n"] for row in points], dtype=float) * offsets[key]
        axis.plot(
            n,
            [row[field] for row in points],
            label=context.label(key),
            markersize=7,
            linewidth=1.0,
            alpha=0.9,
            markeredgecolor="white",
            markeredgewidth=0.6,
            **context.style(key),
        )


def _accuracy(context: _Context) -> Figure:
    figure, (axis,) = _figure(OVERLAY_PX)
    errors = [row["abs_error"] for points in context.series.values() for row in points]
    _sigma_envelope(axis, context.all_n(), errors)
    _plot_scatter_series(axis, context, "abs_error")
    _n_axis(axis)
    axis.set_yscale("log")
    axis.set_ylabel("absolute error |π̂ − π|")
    _overlay_titles(
        figure,
        axis,
        "Accuracy against n, inside the 1σ and 2σ envelope",
        "σ(n) = 4·√(p(1−p)/n) with p = π/4: the estimator's own standard error",
        context.machine_line,
    )
    return figure


def _zscores(context: _Context) -> Figure:
    figure, (axis,) = _figure(OVERLAY_PX)
    all_z = [row["z"] for points in context.series.values() for row in points]
    limit = max(3.0, max(abs(z) for z in all_z) + 0.5)
    n_values = context.all_n()
    left, right = min(n_values) / 10**0.2, max(n_values) * 10**0.2
    axis.axhspan(-1, 1, color=ENVELOPE, alpha=0.20, linewidth=0, label="|z| < 1 (68% of runs)")
    axis.axhspan(1, 2, color=ENVELOPE, alpha=0.09, linewidth=0, label="1 < |z| < 2 (27% of runs)")
    axis.axhspan(-2, -1, color=ENVELOPE, alpha=0.09, linewidth=0)
    axis.axhline(0, color="#444444", linewidth=0.8)
    _plot_scatter_series(axis, context, "z")
    _n_axis(axis)
    axis.set_xlim(left, right)
    axis.set_ylim(-limit, limit)
    axis.set_ylabel("z = (π̂ − π) / σ(n)   (standard errors)")
    _overlay_titles(
        figure,
        axis,
        "Error in units of the standard error",
        "a correct estimator scatters around 0 with unit spread at every n",
        context.machine_line,
    )
    return figure


def _first_call_row(points: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return next((row for row in points if row.get("first_call_s") is not None), None)


def _first_calls(context: _Context) -> Figure:
    figure, (axis,) = _figure(OVERLAY_PX)
    entries = []
    for key, points in context.series.items():
        row = _first_call_row(points)
        if row is not None:
            entries.append((key, row))
    same_n = len({row["n"] for _, row in entries}) == 1
    kinds = (
        ("import (framework and backend)", "import_s"),
        ("first call", "first_call_s"),
        ("steady state", "median_s"),
    )
    height = 0.26
    positions = np.arange(len(entries))[::-1]
    values = [[row.get(field) for _, row in entries] for _, field in kinds]
    smallest = min(value for column in values for value in column if value)
    for index, ((kind, _field), column) in enumerate(zip(kinds, values, strict=True)):
        y = positions + (1 - index) * height
        widths = [value if value else 0 for value in column]
        axis.barh(y, widths, height=height * 0.92, color=KIND_COLOURS[kind], label=kind)
        for y_value, value in zip(y, column, strict=True):
            if value:
                axis.text(value * 1.08, y_value, _seconds(value), va="center", fontsize=8, color="#333333")
    labels = [context.label(key) + ("" if same_n else f"\nn = {format_n(row['n'])}") for key, row in entries]
    axis.set_yticks(positions, labels)
    axis.tick_params(axis="y", length=0)
    for tick, (key, _row) in zip(axis.get_yticklabels(), entries, strict=True):
        tick.set_color(COLOURS.get(key[0], "#333333"))
        tick.set_fontweight("bold")
    axis.set_xscale("log")
    _seconds_log_axis(axis.xaxis)
    largest = max(value for column in values for value in column if value)
    axis.set_xlim(smallest / 3, largest * 6)
    axis.set_xlabel("time (log scale)")
    axis.grid(axis="y", visible=False)
    where = f"at n = {format_n(entries[0][1]['n'])}" if same_n else "at each backend's first n"
    _overlay_titles(
        figure,
        axis,
        "First call (compile included) against a steady-state call",
        f"{where}, each backend in a fresh process; first call − steady call ≈ compile time",
        context.machine_line,
    )
    return figure


def _seconds(value: float) -> str:
    return format_seconds(value, micro="µs")


# --- the article's pair, per backend -----------------------------------------------------------


def _pair(context: _Context, key: Series, points: list[dict[str, Any]]) -> Figure:
    figure, (time_axis, error_axis) = _figure(PAIR_PX, ncols=2)
    style = context.style(key)
    n = np.array([row["n"] for row in points], dtype=float)
    median = np.array([row["median_s"] for row in points])
    low = median - np.array([row["min_s"] for row in points])
    high = np.array([row["max_s"] for row in points]) - median
    time_axis.errorbar(
        n,
        median,
        yerr=[low, high],
        capsize=3,
        linewidth=1.8,
        markersize=6,
        label="steady state (median; bars: min to max)",
        **style,
    )
    first = _first_call_row(points)
    if first is not None:
        time_axis.plot(
            [first["n"]],
            [first["first_call_s"]],
            marker="X",
            markersize=10,
            linestyle="none",
            color=KIND_COLOURS["first call"],
            label="first call (compile included)",
        )
    # A guide of slope 1 through the largest n: time that grows in proportion to n.
    guide_n = np.array([n[0], n[-1]])
    time_axis.plot(
        guide_n,
        median[-1] * guide_n / n[-1],
        color="#999999",
        linestyle=":",
        linewidth=1.0,
        label="∝ n (linear scaling)",
    )
    _n_axis(time_axis)
    time_axis.set_yscale("log")
    _seconds_log_axis(time_axis.yaxis)
    time_axis.set_ylabel("time per call")
    time_axis.set_title("time against n")
    time_axis.legend(loc="best")

    errors = [row["abs_error"] for row in points]
    _sigma_envelope(error_axis, [row["n"] for row in points], errors)
    error_axis.plot(
        n,
        errors,
        markersize=7,
        linewidth=1.2,
        markeredgecolor="white",
        markeredgewidth=0.6,
        label="|π̂ − π|",
        **style,
    )
    _n_axis(error_axis)
    error_axis.set_yscale("log")
    error_axis.set_ylabel("absolute error |π̂ − π|")
    error_axis.set_title("accuracy against n")
    error_axis.legend(loc="best")

    backend, variant, device = key
    describe = context.data.get("backends", {}).get(f"{backend} {device}", {}).get("describe")
    footer = "\n".join(part for part in (describe, context.machine_line) if part)
    _titles(figure, f"{backend}: {variant} variant on {device}", footer)
    return figure


# --- time to a precision -----------------------------------------------------------------------

TIME_MARKS = (("1 min", 60.0), ("1 hour", 3600.0), ("1 day", 86400.0), ("1 year", 3.156e7))


def plot_precision(
    curves: Sequence[Any],
    path: str,
    *,
    footer: str,
    confidence: float = 0.95,
    digits: tuple[float, float] = (1.0, 10.0),
    baseline: str = "numpy",
) -> str:
    """Seconds to reach k decimal places of pi against k: one colour per backend (its fastest
    variant at the largest n), cold solid, warm dashed, the interquartile band shaded, and where
    each compiled backend starts to beat ``baseline`` from a cold start marked. PNG or SVG by
    ``path``'s extension. Curves are ``jitpi.precision.Curve``; each line's SVG group is
    ``precision-cold-<backend>-<device>`` or ``precision-warm-<backend>-<device>``."""
    from jitpi import precision

    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in ("png", "svg"):
        raise UsageError(f"path must end in .png or .svg, got {path!r}")
    best = sorted(precision.best_per_backend(curves), key=lambda curve: _backend_order(curve.backend))
    if not best:
        raise UsageError("no measured curve to draw")
    grid = precision.digit_grid(*digits, step=0.02)
    n_values = [precision.samples_for(value, confidence) for value in grid]
    reference = next((curve for curve in best if curve.backend == baseline and curve.has_cold), None)
    with matplotlib.rc_context(STYLE):
        figure, (axis,) = _figure(OVERLAY_PX)
        for curve in best:
            colour = COLOURS.get(curve.backend, "#333333")
            label = f"{curve.backend} ({curve.variant})"
            warm = [curve.warm(n) for n in n_values]
            lines = axis.plot(grid, [e.seconds for e in warm], linestyle="--", color=colour, linewidth=1.4)
            lines[0].set_gid(f"precision-warm-{curve.backend}-{curve.device}")
            if curve.has_cold:
                cold = [curve.cold(n) for n in n_values]
                seconds = [e.seconds for e in cold]
                lines = axis.plot(grid, seconds, color=colour, linewidth=2.0, label=label)
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
            else:
                lines[0].set_label(f"{label}, warm only")
        for name, seconds in TIME_MARKS:
            axis.axhline(seconds, color="#999999", linewidth=0.8, linestyle=":")
            axis.text(grid[0], seconds * 1.15, name, fontsize=8, color="#777777")
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
        axis.plot([], [], color="#555555", linewidth=2.0, label="cold: fresh process, empty JIT caches")
        axis.plot([], [], color="#555555", linestyle="--", linewidth=1.4, label="warm: compiled, in process")
        if reference is not None:
            axis.plot(
                [], [], "o", color="#bbbbbb", mec="black", label=f"from here on faster than {baseline}, cold"
            )
        _overlay_titles(
            figure,
            axis,
            "Time to a precision of pi",
            "lower is better; n(k) = (z·1.6422 / 0.5·10^-k)², time from measured throughput; band: quartiles",
            footer,
        )
        written = path
        with atomic_output(path, "wb") as stream:
            figure.savefig(stream, format=fmt, dpi=DPI)
    return written


def _long_seconds(value: float) -> str:
    """1 ms, 1 s, 100 s below three hours; 10^k s above (the chart spans 1e-4 s to 1e16 s)."""
    if value <= 0:
        return ""
    if value < 1e4:
        return _seconds(value)
    return f"$10^{{{round(math.log10(value))}}}$ s"


def _backend_order(backend: str) -> int:
    return jitpi.BACKENDS.index(backend) if backend in jitpi.BACKENDS else len(jitpi.BACKENDS)


def _samples_axis(confidence: float):
    """k -> log10 n(k) and back: log10 n = 2 k + log10 n(0), a straight line (precision.samples_for)."""
    from jitpi import precision

    offset = math.log10(precision.samples_for(1.0, confidence)) - 2.0
    return (lambda k: 2.0 * np.asarray(k) + offset), (lambda exponent: (np.asarray(exponent) - offset) / 2.0)
