"""Charts of a ``jitpi run`` results file, as PNG: the founding article's views of one run.

- ``<backend>-<variant>-<device>.png``: the article's pair for each series: time per call against
  n, and accuracy against n, on log scales;
- ``throughput.png``: steady-state samples per second of every series against n
  (``jitpi.view.charts.throughput_chart``, the page's chart);
- ``accuracy.png``: |pi_hat - pi| of every series against n, inside the 1 and 2 sigma envelope of
  the estimator (sigma(n) = ``jitpi.standard_error(n)``);
- ``zscore.png``: the same errors in sigma units, z = (pi_hat - pi) / sigma(n);
- ``first_call.png``: the import, the first call (compile included) and a steady-state call.

Everything is read from ``jitpi.results`` (``from_sweep``), drawn in ``jitpi.view.charts``'s look.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib
import numpy as np

import jitpi
from jitpi.results import Key, Kind, Measurement, Results
from jitpi.sweep.counts import UsageError
from jitpi.view import charts
from jitpi.view.format import n_label, seconds

ENVELOPE = "#6b7b8c"  # the estimator's sigma bands: a neutral slate, no backend's colour
KIND_COLOURS = {"import": "#c7c7c7", "first call": "#e6550d", "steady state": "#3182bd"}


def plot_all(results: Results, out: str) -> list[str]:
    """Write every chart of one run into the folder ``out``; return the paths."""
    context = _Context(results)
    if not context.times:
        raise UsageError("the results hold no measured rows to plot (each row failed or was skipped)")
    written = [charts.throughput_chart(results, os.path.join(out, "throughput.png"), context.footer)]
    with matplotlib.rc_context(charts.STYLE):
        written.append(_accuracy(context, os.path.join(out, "accuracy.png")))
        written.append(_zscores(context, os.path.join(out, "zscore.png")))
        if context.cold:
            written.append(_first_calls(context, os.path.join(out, "first_call.png")))
        for key in context.times:
            written.append(_pair(context, key, os.path.join(out, f"{'-'.join(key)}.png")))
    return written


class _Context:
    """What every chart of one run shares: its series, their labels and the footer."""

    def __init__(self, results: Results) -> None:
        self.results = results
        self.times = results.series(Kind.TIME)
        self.z = results.series(Kind.ACCURACY)
        self.cold = results.series(Kind.COLD)
        keys = list(self.times)
        variants, devices = {key[1] for key in keys}, {key[2] for key in keys}
        self.show_variant, self.show_device = len(variants) > 1, len(devices) > 1
        parts = [results.source.machine]
        if len(variants) == 1 and len(devices) == 1:
            parts.append(f"{next(iter(variants))} variant on {next(iter(devices))}")
        self.footer = "  |  ".join(part for part in parts if part)

    def label(self, key: Key) -> str:
        backend, variant, device = key
        extra = [part for part, show in ((variant, self.show_variant), (device, self.show_device)) if show]
        return f"{backend} ({', '.join(extra)})" if extra else backend

    def all_n(self) -> list[int]:
        return sorted({n for by_n in self.times.values() for n in by_n})

    def offsets(self) -> dict[Key, float]:
        """Small multiplicative shifts along n so that points at the same n stay visible."""
        keys = list(self.z)
        middle = (len(keys) - 1) / 2
        return {key: 10 ** (0.025 * (index - middle)) for index, key in enumerate(keys)}


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


def _scatter(axis: Any, context: _Context, value) -> None:
    """One line of markers per series, nudged apart along n so that equal n stay readable."""
    offsets = context.offsets()
    for key, by_n in context.z.items():
        n = np.array(list(by_n), dtype=float) * offsets[key]
        axis.plot(
            n,
            [value(m) for m in by_n.values()],
            label=context.label(key),
            markersize=7,
            linewidth=1.0,
            alpha=0.9,
            markeredgewidth=0.6,
            **{**charts.style(key), "markeredgecolor": "white"},
        )


def _accuracy(context: _Context, path: str) -> str:
    figure, (axis,) = charts.figure(charts.OVERLAY_PX)
    errors = [m.abs_error for by_n in context.z.values() for m in by_n.values()]
    _sigma_envelope(axis, context.all_n(), errors)
    _scatter(axis, context, lambda m: m.abs_error)
    charts.n_axis(axis)
    axis.set_yscale("log")
    axis.set_ylabel("absolute error |π̂ − π|")
    charts.titles(
        figure,
        axis,
        "Accuracy against n, inside the 1σ and 2σ envelope",
        "σ(n) = 4·√(p(1−p)/n) with p = π/4: the estimator's own standard error",
        context.footer,
    )
    return charts.save(figure, path)


def _zscores(context: _Context, path: str) -> str:
    figure, (axis,) = charts.figure(charts.OVERLAY_PX)
    all_z = [m.value for by_n in context.z.values() for m in by_n.values()]
    limit = max(3.0, max((abs(z) for z in all_z), default=0.0) + 0.5)
    n_values = context.all_n()
    axis.axhspan(-1, 1, color=ENVELOPE, alpha=0.20, linewidth=0, label="|z| < 1 (68% of runs)")
    axis.axhspan(1, 2, color=ENVELOPE, alpha=0.09, linewidth=0, label="1 < |z| < 2 (27% of runs)")
    axis.axhspan(-2, -1, color=ENVELOPE, alpha=0.09, linewidth=0)
    axis.axhline(0, color="#444444", linewidth=0.8)
    _scatter(axis, context, lambda m: m.value)
    charts.n_axis(axis)
    axis.set_xlim(min(n_values) / 10**0.2, max(n_values) * 10**0.2)
    axis.set_ylim(-limit, limit)
    axis.set_ylabel("z = (π̂ − π) / σ(n)   (standard errors)")
    charts.titles(
        figure,
        axis,
        "Error in units of the standard error",
        "a correct estimator scatters around 0 with unit spread at every n",
        context.footer,
    )
    return charts.save(figure, path)


def _first_calls(context: _Context, path: str) -> str:
    figure, (axis,) = charts.figure(charts.OVERLAY_PX)
    entries: list[tuple[Key, Measurement, Measurement]] = []
    for key, by_n in context.cold.items():
        n, cold = min(by_n.items())
        if n in context.times.get(key, {}):
            entries.append((key, cold, context.times[key][n]))
    same_n = len({cold.n for _, cold, _ in entries}) == 1
    kinds = ("import", "first call", "steady state")
    height = 0.26
    positions = np.arange(len(entries))[::-1]
    values = [
        [dict(cold.parts).get(kind) if kind != "steady state" else warm.value for _, cold, warm in entries]
        for kind in kinds
    ]
    present = [value for column in values for value in column if value]
    for index, (kind, column) in enumerate(zip(kinds, values, strict=True)):
        y = positions + (1 - index) * height
        axis.barh(
            y, [value or 0 for value in column], height=height * 0.92, color=KIND_COLOURS[kind], label=kind
        )
        for y_value, value in zip(y, column, strict=True):
            if value:
                axis.text(value * 1.08, y_value, seconds(value), va="center", fontsize=8, color="#333333")
    labels = [context.label(key) + ("" if same_n else f"\nn = {n_label(cold.n)}") for key, cold, _ in entries]
    axis.set_yticks(positions, labels)
    axis.tick_params(axis="y", length=0)
    for tick, (key, _, _) in zip(axis.get_yticklabels(), entries, strict=True):
        tick.set_color(charts.COLOURS.get(key[0], "#333333"))
        tick.set_fontweight("bold")
    axis.set_xscale("log")
    charts.seconds_log_axis(axis.xaxis)
    axis.set_xlim(min(present) / 3, max(present) * 6)
    axis.set_xlabel("time (log scale)")
    axis.grid(axis="y", visible=False)
    where = f"at n = {n_label(entries[0][1].n)}" if same_n else "at each backend's first n"
    charts.titles(
        figure,
        axis,
        "First call (compile included) against a steady-state call",
        f"{where}, each backend in a fresh process; first call − steady call ≈ compile time",
        context.footer,
    )
    return charts.save(figure, path)


def _pair(context: _Context, key: Key, path: str) -> str:
    figure, (time_axis, error_axis) = charts.figure(charts.PAIR_PX, ncols=2)
    keywords = charts.style(key)
    by_n = context.times[key]
    n = np.array(list(by_n), dtype=float)
    median = np.array([m.value for m in by_n.values()])
    low = median - np.array([m.minimum if m.minimum is not None else m.value for m in by_n.values()])
    high = np.array([m.maximum if m.maximum is not None else m.value for m in by_n.values()]) - median
    time_axis.errorbar(
        n,
        median,
        yerr=[low, high],
        capsize=3,
        linewidth=1.8,
        markersize=6,
        label="steady state (median; bars: min to max)",
        **keywords,
    )
    if cold := context.cold.get(key):
        first = min(cold.values(), key=lambda m: m.n)
        first_call = dict(first.parts).get("first call", first.value)
        time_axis.plot(
            [first.n],
            [first_call],
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
    charts.n_axis(time_axis)
    time_axis.set_yscale("log")
    charts.seconds_log_axis(time_axis.yaxis)
    time_axis.set_ylabel("time per call")
    time_axis.set_title("time against n")
    time_axis.legend(loc="best")

    z = context.z.get(key, {})
    errors = [m.abs_error for m in z.values()]
    if z:
        _sigma_envelope(error_axis, list(z), errors)
        error_axis.plot(
            list(z),
            errors,
            markersize=7,
            linewidth=1.2,
            markeredgewidth=0.6,
            label="|π̂ − π|",
            **{**keywords, "markeredgecolor": "white"},
        )
    charts.n_axis(error_axis)
    error_axis.set_yscale("log")
    error_axis.set_ylabel("absolute error |π̂ − π|")
    error_axis.set_title("accuracy against n")
    error_axis.legend(loc="best")

    backend, variant, device = key
    describe = context.results.describe.get(f"{backend} {device}")
    footer = "\n".join(part for part in (describe, context.footer) if part)
    charts.titles(figure, None, f"{backend}: {variant} variant on {device}", "", footer)
    return charts.save(figure, path)
