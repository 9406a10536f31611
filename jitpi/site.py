"""jitpi's own page in the published asv site: how the backends compare, on one page.

asv's site follows one benchmark across commits; jitpi's question is which compiler is fastest,
from a cold start and warm, at what memory and accuracy. ``write_page`` reads asv's results with
asv's own API (``asv.results``), for one machine and the newest commit that measured anything, and
writes ``<out>/index.html``: a leaderboard, throughput against n for every backend, and the time to
a precision of pi (``jitpi.precision``, drawn by ``jitpi.plotting.plot_precision``). Given a
``jitpi run --json`` file it takes the leaderboard and the precision curves from that instead, and
says under each section which source it used. Where the commit's results hold the machine's
yardstick (``benchmarks/bench_yardstick.py``, a fixed numpy count no jitpi commit changes), each
throughput is also given in yardsticks, so that a step in the machine is told from one in the code.

Charts are static SVG drawn by matplotlib and inlined in the page, with every number also in a table
beside its chart. Not a JavaScript chart library: matplotlib already draws the project's other
charts, with the same colour per backend (``jitpi.plotting.COLOURS``); an inline SVG needs no
library, no vendoring and no network, opens from file:// as well as from ``asv preview``, prints,
and hides nothing behind hover (the tables carry the values). Each series is a group with an id
(``throughput-<backend>-<variant>-<device>``, ``precision-cold-<backend>-<device>``...) so tests find
every backend's points in the DOM, and a few lines of inline script (no library) pick out a table
row's lines in the charts on hover. More in ``docs/site.md``.

    jitpi page --asv-results .asv/results --out .asv/html/jitpi [--json RESULTS.json]
                         [--machine NAME]
"""

from __future__ import annotations

import ast
import html
import itertools
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jitpi.registry import BACKENDS
from jitpi.sweep.counts import UsageError
from jitpi.sweep.machine import describe_machine
from jitpi.sweep.results import check_writable_folder, load_results, write_atomic

Key = tuple[str, str, str]  # backend, variant, device

TIME = "bench_time.CountHits.time_count_hits"
COLD = "bench_cold.ColdStart.timeraw_first_call"
MEMORY = "bench_memory.CountHitsMemory.peakmem_count_hits"
ACCURACY = "bench_accuracy.Accuracy.track_rms_z"
BENCHMARKS = {TIME: "time", COLD: "cold start", MEMORY: "memory", ACCURACY: "accuracy"}
PARAM_NAMES = ("backend", "variant", "device", "n")
# The machine's yardstick (benchmarks/bench_yardstick.py, which holds the facts; a test checks these
# equal it): a fixed numpy count no jitpi commit changes, so dividing a backend's throughput by its
# rate takes out much of the machine's drift. Results of another version of it (another workload)
# are ignored.
YARDSTICK_BENCHMARK = "bench_yardstick.Yardstick.time_quarter_circle"
YARDSTICK_SAMPLES = 4 * 10**7
YARDSTICK_VERSION = "1"
MACHINE_KEYS = ("machine", "arch", "cpu", "num_cpu", "os", "ram")

CONFIDENCE = 0.95
PRECISION_DIGITS = (1.0, 8.0)
"""The chart's range of decimal places: 8 already takes years on a CPU (~4e17 samples)."""
TABLE_DIGITS = (3, 5, 7)
THROUGHPUT_PX = (1600, 1150)
BASELINE = "numpy"
RMS_Z_RANGE = (0.57, 1.46)
"""The RMS of 16 standard normals lies here in 99% of cases (benchmarks/bench_accuracy.py)."""

MEASURED, SKIPPED, FAILED = "measured", "skipped here", "failed"


# --- asv's results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One parameter combination of one benchmark: asv's result (a median for timings), its
    quartiles and samples where asv kept them; ``state`` measured, skipped (NaN) or failed (None)."""

    state: str
    value: float | None = None
    q25: float | None = None
    q75: float | None = None
    samples: tuple[float, ...] = ()
    stats: dict[str, Any] | None = None
    """asv's own statistics (its 99% interval among them), for asv's significance test."""

    @property
    def iqr(self) -> float:
        if self.q25 is None or self.q75 is None:
            return 0.0
        return max(self.q75 - self.q25, 0.0)


@dataclass(frozen=True)
class Yardstick:
    """The yardstick as one environment of the page's commit measured it on the page's machine."""

    seconds: float
    numpy: str  # the version that environment pinned ("" where unknown)

    @property
    def rate(self) -> float:
        """Samples a second."""
        return YARDSTICK_SAMPLES / self.seconds

    def relative(self, samples_per_s: float | None) -> float | None:
        """A throughput in yardsticks."""
        return None if samples_per_s is None else samples_per_s / self.rate


@dataclass
class AsvRun:
    """What one commit measured on one machine: ``data[benchmark][(backend, variant, device)][n]``."""

    results_dir: str
    machine: str
    machine_info: dict[str, str]
    commit: str
    date: int | None
    envs: list[str]
    python: str
    versions: dict[str, str]
    data: dict[str, dict[Key, dict[int, Measure]]]
    newer: list[str] = field(default_factory=list)
    other_envs: list[str] = field(default_factory=list)
    yardstick: Yardstick | None = None
    """None where the commit's results hold no measured yardstick (results older than it)."""

    def measured(self, benchmark: str) -> dict[Key, dict[int, Measure]]:
        """The combinations of ``benchmark`` with a measured value, each with only those n."""
        out = {}
        for key, by_n in self.data.get(benchmark, {}).items():
            kept = {n: m for n, m in sorted(by_n.items()) if m.state == MEASURED}
            if kept:
                out[key] = kept
        return out

    def combinations(self) -> list[Key]:
        return sorted({key for by_key in self.data.values() for key in by_key}, key=_order)

    @property
    def short(self) -> str:
        return self.commit[:8]

    @property
    def day(self) -> str:
        if not self.date:
            return "date unknown"
        return datetime.fromtimestamp(self.date / 1000, UTC).strftime("%Y-%m-%d")


def _asv():
    try:
        import asv.results
        import asv.util
    except ImportError:
        raise UsageError("reading asv results needs asv: pip install -e '.[dev]'") from None
    return asv


def _machines(results_dir: str) -> dict[str, dict[str, str]]:
    """The machine folders of an asv results_dir: name -> its machine.json."""
    asv = _asv()
    found = {}
    for entry in sorted(os.scandir(results_dir), key=lambda entry: entry.name):
        path = os.path.join(entry.path, "machine.json")
        if entry.is_dir() and os.path.isfile(path):
            try:
                info = asv.util.load_json(path, api_version=1)
            except asv.util.UserError:
                continue
            found[str(info.get("machine", entry.name))] = {k: str(v) for k, v in info.items()}
    return found


def param_names_of(results_dir: str) -> dict[str, tuple[str, ...]]:
    """Each benchmark's parameter names from asv's benchmarks.json, or the suite's order."""
    asv = _asv()
    path = os.path.join(results_dir, "benchmarks.json")
    try:
        listed = asv.util.load_json(path, api_version=2)
    except (OSError, asv.util.UserError):
        listed = {}
    found = {}
    for benchmark in BENCHMARKS:
        names = (listed.get(benchmark) or {}).get("param_names")
        found[benchmark] = tuple(names) if names and set(PARAM_NAMES) <= set(names) else PARAM_NAMES
    return found


def size(label: str) -> int:
    """The int n a label such as '1e7' (or '10000000') stands for."""
    mantissa, _, exponent = str(label).lower().partition("e")
    return round(float(mantissa) * 10 ** int(exponent or 0))


def _measure(value: Any, stats: dict | None, samples: list | None) -> Measure:
    if value is None:
        return Measure(FAILED)
    if isinstance(value, float) and math.isnan(value):
        return Measure(SKIPPED)
    stats = stats or {}
    return Measure(
        MEASURED,
        float(value),
        stats.get("q_25"),
        stats.get("q_75"),
        tuple(float(s) for s in samples or () if s is not None),
        stats or None,
    )


def read_result(
    result: Any, param_names: dict[str, tuple[str, ...]]
) -> dict[str, dict[Key, dict[int, Measure]]]:
    """One asv Results object as measures of jitpi's four benchmarks."""
    data: dict[str, dict[Key, dict[int, Measure]]] = {}
    for benchmark in BENCHMARKS:
        if benchmark not in result.get_all_result_keys():
            continue
        params = result.get_result_params(benchmark)
        names = param_names[benchmark]
        if len(params) != len(names):
            continue
        values = result.get_result_value(benchmark, params)
        stats = result.get_result_stats(benchmark, params)
        samples = result.get_result_samples(benchmark, params)
        by_key = data.setdefault(benchmark, {})
        for combo, value, stat, sample in zip(
            itertools.product(*params), values, stats, samples, strict=True
        ):
            named = dict(zip(names, (ast.literal_eval(part) for part in combo), strict=True))
            key = (named["backend"], named["variant"], named["device"])
            by_key.setdefault(key, {})[size(named["n"])] = _measure(value, stat, sample)
    return data


def read_yardstick(results: Sequence[Any]) -> Yardstick | None:
    """The yardstick in the first of ``results`` (one commit's environments) that measured it at
    this version of its workload; None where none did."""
    for result in results:
        if YARDSTICK_BENCHMARK not in result.get_all_result_keys():
            continue
        if str(result.benchmark_version.get(YARDSTICK_BENCHMARK)) != YARDSTICK_VERSION:
            continue
        params = result.get_result_params(YARDSTICK_BENCHMARK)
        values = result.get_result_value(YARDSTICK_BENCHMARK, params)
        if params or len(values) != 1:
            continue
        value = values[0]
        if isinstance(value, float) and math.isfinite(value) and value > 0:
            return Yardstick(value, str(result.params.get("numpy", "")))
    return None


def _merge(
    into: dict[str, dict[Key, dict[int, Measure]]], more: dict[str, dict[Key, dict[int, Measure]]]
) -> None:
    """Several environments of one commit: a measured value wins over a skip, a skip over nothing."""
    rank = {MEASURED: 2, FAILED: 1, SKIPPED: 0}
    for benchmark, by_key in more.items():
        for key, by_n in by_key.items():
            target = into.setdefault(benchmark, {}).setdefault(key, {})
            for n, measure in by_n.items():
                if n not in target or rank[measure.state] > rank[target[n].state]:
                    target[n] = measure


def _count(data: dict[str, dict[Key, dict[int, Measure]]], state: str) -> int:
    return sum(
        m.state == state for by_key in data.values() for by_n in by_key.values() for m in by_n.values()
    )


def load_asv(results_dir: str | os.PathLike[str], machine: str | None = None) -> AsvRun:
    """The newest commit with at least one measured value, for ``machine`` (or the only machine)."""
    asv = _asv()
    results_dir = os.fspath(results_dir)
    where = f"--asv-results {results_dir!r}"
    if not os.path.isdir(results_dir):
        raise UsageError(
            f"{where}: no such folder; give asv's results_dir (asv.conf.json), e.g. .asv/results"
        )
    machines = _machines(results_dir)
    if not machines:
        raise UsageError(
            f"{where}: no asv results found (expected a folder per machine with machine.json and result "
            "files, as `asv run` writes them)"
        )
    if machine is None:
        if len(machines) > 1:
            raise UsageError(
                f"--machine: {where} holds several machines; choose one of {', '.join(machines)}"
            )
        machine = next(iter(machines))
    elif machine not in machines:
        raise UsageError(
            f"--machine {machine!r}: no results for it in {results_dir!r}; machines: {', '.join(machines)}"
        )

    loaded = list(asv.results.iter_results_for_machine(results_dir, machine))
    if not loaded:
        raise UsageError(f"{where}: no asv results found for machine {machine!r} (only its machine.json)")
    # The project's environment pins every framework of asv.conf.json's matrix. Other environments
    # in the same folder pin fewer (jitpi.releases: one compiler and numpy each) and are left out:
    # at each commit, those pinning fewer than its fullest; anywhere, those pinning fewer than half
    # as many as the fullest on the machine (the matrix grows over commits, so not "all of them").
    most = max(len(_requirements(result)) for result in loaded)
    fullest: dict[str, int] = {}
    for result in loaded:
        pins = len(_requirements(result))
        if 2 * pins >= most:
            fullest[result.commit_hash] = max(fullest.get(result.commit_hash, 0), pins)
    by_commit: dict[str, list[Any]] = {}
    others: dict[str, list[Any]] = {}
    for result in loaded:
        main = len(_requirements(result)) == fullest.get(result.commit_hash)
        (by_commit if main else others).setdefault(result.commit_hash, []).append(result)

    def newest(commit: str) -> tuple:
        results = by_commit.get(commit, []) + others.get(commit, [])
        started = max((t for r in results for t in r.started_at.values() if t), default=0)
        return (max(r.date or 0 for r in results), started)

    param_names = param_names_of(results_dir)
    newer = []
    for commit in sorted(set(by_commit) | set(others), key=newest, reverse=True):
        if commit not in by_commit:
            count = len(others[commit])
            newer.append(f"{commit[:8]} has results only in {count} other environment{'s' * (count > 1)}")
            continue
        results = sorted(by_commit[commit], key=lambda r: r.env_name or "")
        data: dict[str, dict[Key, dict[int, Measure]]] = {}
        for result in results:
            _merge(data, read_result(result, param_names))
        if _count(data, MEASURED) == 0:
            total = _count(data, SKIPPED) + _count(data, FAILED)
            failed = _count(data, FAILED)
            outcome = f"{failed} of them failed" if failed else "all skipped"
            newer.append(f"{commit[:8]} measured nothing ({total} combinations, {outcome})")
            continue
        params = results[0].params
        versions = {}
        for result in results:
            versions.update(_requirements(result))
        return AsvRun(
            results_dir=results_dir,
            machine=machine,
            machine_info={k: str(params.get(k, machines[machine].get(k, ""))) for k in MACHINE_KEYS},
            commit=commit,
            date=results[0].date,
            envs=[r.env_name for r in results],
            python=str(params.get("python", "")),
            versions=dict(sorted(versions.items())),
            data=data,
            newer=newer,
            other_envs=sorted(r.env_name for r in others.get(commit, [])),
            yardstick=read_yardstick(results),
        )
    raise UsageError(
        f"{where}: no commit has a measured result for machine {machine!r} "
        f"(every combination skipped or failed: {'; '.join(newer)})"
    )


def _requirements(result: Any) -> dict[str, str]:
    """The frameworks an asv environment pinned: its parameters less the machine's and python."""
    return {k: str(v) for k, v in result.params.items() if k not in (*MACHINE_KEYS, "python")}


# --- the leaderboard --------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the leaderboard."""

    backend: str
    variant: str
    device: str
    status: str
    throughput: float | None = None
    throughput_n: int | None = None
    cold_s: float | None = None
    memory_bytes: float | None = None
    memory_n: int | None = None
    rms_z: float | None = None
    rms_n: int | None = None
    failed: list[str] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.backend, self.variant, self.device)


def _order(key: Sequence[str]) -> tuple:
    backend = key[0]
    return (BACKENDS.index(backend) if backend in BACKENDS else len(BACKENDS), *key)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def _largest(by_n: dict[int, Measure]) -> tuple[int, Measure] | None:
    measured = [(n, m) for n, m in by_n.items() if m.state == MEASURED]
    return max(measured) if measured else None


def rows_from_asv(run: AsvRun) -> list[Row]:
    """A row per (backend, variant, device) in the results, unsorted."""
    rows = []
    for key in run.combinations():
        states = {
            benchmark: run.data.get(benchmark, {}).get(key, {})
            for benchmark in BENCHMARKS
            if benchmark in run.data
        }
        failed = [
            f"{BENCHMARKS[benchmark]}" + ("" if len(by_n) == 1 else f" at n = {_n_label(n)}")
            for benchmark, by_n in states.items()
            for n, m in sorted(by_n.items())
            if m.state == FAILED
        ]
        measured = any(m.state == MEASURED for by_n in states.values() for m in by_n.values())
        row = Row(*key, status=MEASURED if measured else FAILED if failed else SKIPPED, failed=failed)
        if largest := _largest(states.get(TIME, {})):
            row.throughput_n, measure = largest
            row.throughput = largest[0] / measure.value
        if largest := _largest(states.get(COLD, {})):
            measure = largest[1]
            row.cold_s = _median(measure.samples) if measure.samples else measure.value
        if largest := _largest(states.get(MEMORY, {})):
            row.memory_n, measure = largest
            row.memory_bytes = measure.value
        if largest := _largest(states.get(ACCURACY, {})):
            row.rms_n, measure = largest
            row.rms_z = measure.value
        rows.append(row)
    return rows


def rows_from_sweep(data: dict[str, Any], memory: dict[Key, Row] | None = None) -> list[Row]:
    """A row per (backend, variant, device) of a ``jitpi run --json`` file: throughput at its largest
    measured n, the cold first call (import + first call, empty JIT caches), the RMS of z over its
    measured n; peak memory (which a sweep does not measure) from ``memory`` where given."""
    grouped: dict[Key, list[dict[str, Any]]] = {}
    for item in data.get("rows", []):
        grouped.setdefault((item["backend"], item["variant"], item["device"]), []).append(item)
    rows = []
    for key, items in grouped.items():
        items.sort(key=lambda item: item["n"])
        ok = [item for item in items if item.get("status") == "ok" and item.get("median_s")]
        failed = [f"n = {_n_label(item['n'])}" for item in items if item.get("status") == "failed"]
        row = Row(*key, status=MEASURED if ok else FAILED if failed else SKIPPED, failed=failed)
        if ok:
            row.throughput_n = ok[-1]["n"]
            row.throughput = ok[-1].get("samples_per_s") or ok[-1]["n"] / ok[-1]["median_s"]
            first = next((item for item in items if item.get("first_call_s") is not None), None)
            if first is not None:
                row.cold_s = (first.get("import_s") or 0.0) + first["first_call_s"]
            zs = [item["z"] for item in ok if item.get("z") is not None]
            if zs:
                row.rms_z = math.sqrt(sum(z * z for z in zs) / len(zs))
                row.rms_n = len(zs)
        if memory and key in memory:
            row.memory_bytes, row.memory_n = memory[key].memory_bytes, memory[key].memory_n
        rows.append(row)
    return rows


def ranked(rows: Iterable[Row]) -> list[Row]:
    """Measured rows fastest first (rows without a throughput after them), then failed, then skipped;
    skipped rows of one backend and device merged (variants joined), and a device where every
    combination skipped in one row."""
    rows = list(rows)
    measured = sorted(
        (row for row in rows if row.status == MEASURED),
        key=lambda row: (row.throughput is None, -(row.throughput or 0.0), _order(row.key)),
    )
    failed = sorted((row for row in rows if row.status == FAILED), key=lambda row: _order(row.key))
    skipped = [row for row in rows if row.status == SKIPPED]
    merged: list[Row] = []
    for device in sorted({row.device for row in skipped}):
        on_device = [row for row in skipped if row.device == device]
        everything = [row for row in rows if row.device == device]
        if len(on_device) == len(everything) and len({row.backend for row in on_device}) > 1:
            variants = sorted({row.variant for row in on_device})
            merged.append(Row("every backend", ", ".join(variants), device, SKIPPED))
            continue
        by_backend: dict[str, list[str]] = {}
        for row in sorted(on_device, key=lambda row: _order(row.key)):
            by_backend.setdefault(row.backend, []).append(row.variant)
        merged += [
            Row(backend, ", ".join(variants), device, SKIPPED) for backend, variants in by_backend.items()
        ]
    return measured + failed + sorted(merged, key=lambda row: (row.device, _order(row.key)))


# --- time to a precision ----------------------------------------------------------------------


def curves_from_asv(run: AsvRun) -> list[Any]:
    """``jitpi.precision.Curve``s: bench_time's (n, median, IQR) per combination; the cold start from
    bench_cold (its samples where asv kept them, else its quartiles and median), attached only where
    bench_time measured the cold start's n, which then is the curve's first point."""
    from jitpi.precision import Curve, Point

    times = run.measured(TIME)
    colds = run.measured(COLD)
    curves = []
    for key, by_n in times.items():
        cold = ()
        points = [Point(n, m.value, m.iqr) for n, m in by_n.items()]
        if key in colds:
            cold_n, measure = min(colds[key].items())
            if cold_n in by_n:
                points = [point for point in points if point.n >= cold_n]
                if measure.samples:
                    cold = measure.samples
                else:
                    quartiles = (measure.q25, measure.value, measure.q75)
                    cold = tuple(value for value in quartiles if value is not None)
        curves.append(Curve(*key, points=tuple(points), startup_s=cold))
    return curves


def _precision_table(curves: Sequence[Any], confidence: float) -> str:
    from jitpi import precision

    best = precision.best_per_backend(curves)
    ranking = precision.warm_ranking(best, TABLE_DIGITS[-1], confidence)
    reference = next((curve for curve in best if curve.backend == BASELINE and curve.has_cold), None)
    grid = precision.digit_grid(*PRECISION_DIGITS)
    head = "".join(
        f"<th class=num>{k} digits<br><small>n = {_n_label(precision.samples_for(k, confidence))}</small>"
        "</th>"
        for k in TABLE_DIGITS
    )
    body = []
    for curve, _warm in ranking:
        cells = []
        for k in TABLE_DIGITS:
            n = precision.samples_for(k, confidence)
            cold = curve.cold(n)
            warm = curve.warm(n).seconds
            cold_text = _duration(cold.seconds) if cold else "–"
            cells.append(f"<td class=num>{cold_text} <span class=warm>/ {_duration(warm)}</span></td>")
        if curve is reference or reference is None:
            beats = "–" if curve is reference else "no cold start of numpy"
        elif not curve.has_cold:
            beats = "no cold start measured"
        else:
            found = precision.crossover(curve, reference, grid, confidence)
            if found is None or found.digits is None:
                beats = f"never ({grid[0]:g} to {grid[-1]:g} digits)"
            elif found.digits <= grid[0]:
                beats = "always"
            else:
                beats = f"from {found.digits:.1f} digits <small>(n ≈ {_n_label(found.samples)})</small>"
        where = f"{curve.backend}-{curve.device}"
        series = f"precision-cold-{where} precision-warm-{where}"
        startup = curve.startup()
        startup_text = _duration(startup.seconds) if startup else "–"
        body.append(
            f'<tr data-series="{_e(series)}"><td>{_backend_cell(curve.backend)}</td>'
            f"<td>{_e(curve.variant)}</td><td>{_e(curve.device)}</td><td class=num>{startup_text}</td>"
            f"{''.join(cells)}<td class=nowrap>{beats}</td></tr>"
        )
    return (
        "<table class=data><thead><tr><th>backend</th><th>variant</th><th>device</th>"
        f"<th class=num>import + compile</th>{head}<th>faster than {BASELINE}, cold</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
        "<p class=note>Each cell: <b>cold</b> (fresh process, empty JIT caches) / <span class=warm>warm"
        "</span> (compiled, in the same process), modelled from the measured throughput; each backend's "
        "variant with the highest throughput, fastest warm first.</p>"
    )


# --- charts -----------------------------------------------------------------------------------

VARIANT_STYLE = {"native": ("o", "-"), "shared": ("s", "--"), "naive": ("^", ":")}


def throughput_svg(run: AsvRun, path: str, footer: str) -> str:
    """Throughput (M samples/s) against n, log-log, a line per (backend, variant, device) with
    quartile bars; each line's SVG group is ``throughput-<backend>-<variant>-<device>``."""
    import matplotlib
    from matplotlib.lines import Line2D

    from jitpi import plotting

    series = run.measured(TIME)
    devices = sorted({key[2] for key in series})
    with matplotlib.rc_context({**plotting.STYLE, **_svg_rc("throughput")}):
        figure, (axis,) = plotting._figure(THROUGHPUT_PX)
        for key in sorted(series, key=_order):
            backend, variant, device = key
            by_n = series[key]
            n, rate, low, high = [], [], [], []
            for size, measure in by_n.items():
                middle = size / measure.value / 1e6  # M samples/s; the quartiles of time bound it
                n.append(float(size))
                rate.append(middle)
                low.append(middle - size / (measure.q75 or measure.value) / 1e6)
                high.append(size / (measure.q25 or measure.value) / 1e6 - middle)
            colour = plotting.COLOURS.get(backend, "#333333")
            marker, linestyle = VARIANT_STYLE.get(variant, ("D", "-."))
            gid = f"throughput-{backend}-{variant}-{device}"
            bars = axis.errorbar(
                n, rate, yerr=[low, high], fmt="none", ecolor=colour, elinewidth=1.0, capsize=2
            )
            for index, artist in enumerate(bars.get_children()):
                artist.set_gid(f"{gid}-iqr-{index}")
            (line,) = axis.plot(
                n,
                rate,
                color=colour,
                marker=marker,
                linestyle=linestyle,
                linewidth=1.5,
                markersize=6,
                markerfacecolor="white" if device == "gpu" else colour,
                markeredgecolor=colour,
            )
            line.set_gid(gid)
        plotting._n_axis(axis)
        axis.set_yscale("log")
        plotting._plain_log_axis(axis.yaxis)
        axis.set_ylabel("throughput (million samples per second)")
        handles = [
            Line2D([], [], color=plotting.COLOURS.get(b, "#333333"), linewidth=3, label=b)
            for b in sorted({key[0] for key in series}, key=lambda b: _order((b,)))
        ]
        for variant in sorted(
            {key[1] for key in series},
            key=lambda v: list(VARIANT_STYLE).index(v) if v in VARIANT_STYLE else 9,
        ):
            marker, linestyle = VARIANT_STYLE.get(variant, ("D", "-."))
            handles.append(
                Line2D(
                    [], [], color="#555555", marker=marker, linestyle=linestyle, label=f"{variant} variant"
                )
            )
        if len(devices) > 1:
            for device in devices:
                face = "white" if device == "gpu" else "#555555"
                handles.append(
                    Line2D(
                        [],
                        [],
                        color="#555555",
                        marker="o",
                        linestyle="none",
                        markerfacecolor=face,
                        label=device,
                    )
                )
        axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        figure.suptitle("Steady-state throughput against n", fontsize=14, fontweight="bold")
        axis.set_title(
            "higher is better; a point per measured n; bars: interquartile range of the samples",
            fontsize=9.5,
            fontweight="normal",
            color="#555555",
        )
        figure.supxlabel(footer, fontsize=8, color="#666666")
        figure.savefig(path, format="svg")
    return path


def precision_svg(curves: Sequence[Any], path: str, footer: str, confidence: float) -> str | None:
    """``jitpi.plotting.plot_precision`` to ``path`` (SVG); None where this jitpi has no such chart."""
    import matplotlib

    from jitpi import plotting

    plot = getattr(plotting, "plot_precision", None)
    if plot is None:
        return None
    with matplotlib.rc_context(_svg_rc("precision")):
        plot(curves, path, footer=footer, confidence=confidence, digits=PRECISION_DIGITS)
    return path


def _svg_rc(salt: str) -> dict[str, Any]:
    """Text as text (smaller, selectable, in the page's font) and ids unique to this chart, since
    several SVGs share one HTML document."""
    return {"svg.fonttype": "none", "svg.hashsalt": salt}


def inline_svg(path: str, prefix: str) -> str:
    """An SVG file as an element to inline: no XML prolog, scaled by CSS (viewBox kept), and every id
    that is not a series' own (gid) made unique to this chart."""
    text = Path(path).read_text(encoding="utf-8")
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    text = re.sub(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"', r"\1", text, count=1)
    text = re.sub(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"', r"\1", text, count=1)
    own = re.compile(r"(throughput|precision)-")
    ids = {value for value in re.findall(r'\sid="([^"]+)"', text) if not own.match(value)}

    def rename(match: re.Match) -> str:
        value = match.group(2)
        return f"{match.group(1)}mpl-{prefix}-{value}" if value in ids else match.group(0)

    text = re.sub(r'(\sid=")([^"]+)(?=")', rename, text)
    text = re.sub(r"(#)([^\s#()\"']+)(?=[)\"'])", rename, text)
    return text.replace("<svg ", f'<svg role="img" aria-labelledby="h-{prefix}" ', 1)


# --- the page ---------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _n_label(n: float) -> str:
    exponent = math.log10(n) if n > 0 else 0
    if abs(exponent - round(exponent)) < 1e-9:
        return f"1e{round(exponent)}"
    mantissa = n / 10 ** math.floor(exponent)
    return f"{mantissa:.1f}e{math.floor(exponent)}"


def _rate(samples_per_s: float | None) -> str:
    if samples_per_s is None:
        return "–"
    millions = samples_per_s / 1e6
    return f"{millions:,.0f}" if millions >= 100 else f"{millions:.3g}"


def _times(ratio: float) -> str:
    """A ratio to the yardstick: "250×", "3.4×", "0.021×"."""
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2g}×"


def _throughput_cell(samples_per_s: float | None, yardstick: Yardstick | None, word: str = "") -> str:
    """M samples/s, and beside it that throughput in yardsticks where the results hold one."""
    cell = _rate(samples_per_s)
    if samples_per_s is not None and yardstick is not None:
        ratio = _times(yardstick.relative(samples_per_s))
        cell += f" <small class=yardstick>· {ratio}{f' {word}' if word else ''}</small>"
    return cell


def yardstick_line(yardstick: Yardstick | None) -> str:
    """The page's one line on what the yardstick is and its rate here ("" without one)."""
    if yardstick is None:
        return ""
    numpy = f"numpy {yardstick.numpy}" if yardstick.numpy else "numpy"
    exponent = math.floor(math.log10(YARDSTICK_SAMPLES))
    samples = f"{YARDSTICK_SAMPLES / 10**exponent:g}e{exponent}"
    return (
        f"Yardstick: {numpy}, one thread, {samples} samples of a fixed quarter-circle "
        f"count (bench_yardstick, code no jitpi commit changes), {_rate(yardstick.rate)} M samples/s on "
        "this machine at this commit; × yardstick is a throughput divided by that, which takes out much "
        "of a drift in the CPU's speed between runs (not a GPU's)."
    )


def _duration(seconds: float | None) -> str:
    """Seconds as a person reads them: µs, ms, s, min, h, days or years, three figures."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    for limit, unit, scale in (
        (1e-3, "µs", 1e-6),
        (1.0, "ms", 1e-3),
        (120.0, "s", 1.0),
        (7200.0, "min", 60.0),
        (172800.0, "h", 3600.0),
        (2 * 31_557_600.0, "days", 86400.0),
    ):
        if seconds < limit:
            return f"{seconds / scale:.3g} {unit}"
    years = seconds / 31_557_600.0
    return f"{years:,.0f} years" if years < 1e6 else f"{years:.1e} years"


def _backend_cell(backend: str) -> str:
    from jitpi.plotting import COLOURS

    colour = COLOURS.get(backend, "#999999")
    return f'<span class=swatch style="background:{colour}"></span>{_e(backend)}'


def _leaderboard_html(
    rows: Sequence[Row],
    rms_note: str,
    cold_note: str,
    *,
    flag_rms: bool = True,
    yardstick: Yardstick | None = None,
) -> str:
    body = []
    rank = 0
    for row in rows:
        if row.status == MEASURED and row.throughput is not None:
            rank += 1
            place = str(rank)
        else:
            place = ""
        status_class = {MEASURED: "ok", FAILED: "failed", SKIPPED: "skipped"}[row.status]
        status = row.status
        if row.failed:
            status = (
                f"{row.status}; failed: {', '.join(row.failed)}"
                if row.status == MEASURED
                else (f"failed: {', '.join(row.failed)}")
            )
            status_class = "failed"
        rms = "–"
        if row.rms_z is not None:
            odd = flag_rms and not RMS_Z_RANGE[0] <= row.rms_z <= RMS_Z_RANGE[1]
            rms = f'<span class="{"odd" if odd else ""}">{row.rms_z:.2f}</span>'
            if row.rms_n is not None:
                rms += f" <small>{rms_note.format(n=_n_label(row.rms_n), count=row.rms_n)}</small>"
        memory = "–"
        if row.memory_bytes is not None:
            memory = f"{row.memory_bytes / 1e6:,.0f} <small>at {_n_label(row.memory_n)}</small>"
        backend = _backend_cell(row.backend) if row.backend in BACKENDS else _e(row.backend)
        series = ""
        if row.status == MEASURED:
            where = f"{row.backend}-{row.device}"
            ids = f"throughput-{'-'.join(row.key)} precision-cold-{where} precision-warm-{where}"
            series = f' data-series="{_e(ids)}"'
        body.append(
            f'<tr class="{status_class}"{series}>'
            f"<td class=num>{place}</td><td>{backend}</td><td>{_e(row.variant)}</td><td>{_e(row.device)}</td>"
            f"<td class=num>{_throughput_cell(row.throughput, yardstick, 'yardstick')}</td>"
            f"<td class=num>{_n_label(row.throughput_n) if row.throughput_n else '–'}</td>"
            f"<td class=num>{_duration(row.cold_s)}</td><td class=num>{memory}</td><td class=num>{rms}</td>"
            f"<td class=status>{_e(status)}</td></tr>"
        )
    return (
        "<table class=data id=leaderboard-table><thead><tr><th class=num>#</th><th>backend</th>"
        "<th>variant</th><th>device</th><th class=num>throughput<br><small>M samples/s</small></th>"
        "<th class=num>at n<br><small>its largest measured</small></th>"
        f"<th class=num>cold first call<br><small>{_e(cold_note)}</small></th>"
        "<th class=num>peak memory<br><small>MB (10<sup>6</sup> bytes)</small></th>"
        f"<th class=num>RMS z<br><small>≈ 1.0 is correct</small></th><th>status</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _throughput_table(run: AsvRun) -> str:
    series = run.measured(TIME)
    all_n = sorted({n for by_n in series.values() for n in by_n})
    order = sorted(series, key=lambda key: (-max(n / m.value for n, m in series[key].items()), _order(key)))
    head = "".join(f"<th class=num>n = {_n_label(n)}</th>" for n in all_n)
    body = []
    for key in order:
        cells = "".join(
            f"<td class=num>{_throughput_cell(n / series[key][n].value, run.yardstick)}</td>"
            if n in series[key]
            else "<td class=num>–</td>"
            for n in all_n
        )
        body.append(
            f'<tr data-series="throughput-{_e("-".join(key))}"><td>{_backend_cell(key[0])}</td>'
            f"<td>{_e(key[1])}</td><td>{_e(key[2])}</td>{cells}</tr>"
        )
    relative = (
        f" · N× = N yardsticks ({_rate(run.yardstick.rate)} M samples/s here)." if run.yardstick else ""
    )
    return (
        "<table class=data><thead><tr><th>backend</th><th>variant</th><th>device</th>"
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "<p class=note>M samples/s = n / median seconds of a warm call; – not measured at that n."
        f"{relative}</p>"
    )


def _machine_line(run: AsvRun) -> str:
    info = run.machine_info
    parts = [f"machine {info.get('machine') or run.machine}", info.get("cpu")]
    if info.get("num_cpu"):
        parts.append(f"{info['num_cpu']} CPUs")
    if info.get("ram", "").isdigit():
        parts.append(f"{int(info['ram']) / 2**30:.1f} GiB RAM")
    parts += [info.get("os"), info.get("arch")]
    return ", ".join(part for part in parts if part)


def _versions(versions: dict[str, Any]) -> str:
    return ", ".join(f"{_e(name)} {_e(version)}" for name, version in versions.items() if version)


CSS = """
:root { --ink: #222; --muted: #666; --rule: #e3e3e3; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink);
       background: #fafafa; }
header, main, footer { max-width: 1680px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 18px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 2px 0; color: var(--muted); }
nav.toc a, a.back { color: var(--accent); text-decoration: none; margin-right: 18px; }
nav.toc { margin: 10px 0 0; }
section { background: white; border: 1px solid var(--rule); border-radius: 6px; margin: 18px 0;
          padding: 14px 20px 18px; }
section h2 { margin: 0 0 4px; font-size: 20px; }
p.source { margin: 0 0 12px; color: var(--muted); font-size: 13px; }
p.read { margin: 6px 0 0; font-size: 14px; max-width: 1000px; }
p.note { margin: 6px 0 0; color: var(--muted); font-size: 12.5px; }
.pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 24px; align-items: start; }
.pair.stacked { grid-template-columns: minmax(0, 1fr); }
.pair.stacked figure { max-width: 1250px; }
@media (max-width: 1200px) { .pair { grid-template-columns: minmax(0, 1fr); } }
.scroll { overflow-x: auto; }
.nowrap { white-space: nowrap; }
svg.dim g[id^="throughput-"]:not(.hl), svg.dim g[id^="precision-"]:not(.hl) { opacity: 0.12; }
tr[data-series]:hover td { background: #fff8e1; }
figure { margin: 0; }
figure svg { width: 100%; height: auto; display: block; }
table.data { border-collapse: collapse; font-size: 13.5px; width: 100%; }
table.data th, table.data td { padding: 4px 8px; border-bottom: 1px solid var(--rule); text-align: left;
                               vertical-align: top; }
table.data th { background: #f3f5f7; font-weight: 600; vertical-align: bottom; }
table.data th small, table.data td small { color: var(--muted); font-weight: normal; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.skipped td { color: #999; }
tr.failed td.status { color: #b22222; font-weight: 600; }
tr.ok td.status { color: #2e7d32; }
span.odd { color: #b22222; font-weight: 600; }
span.warm { color: var(--muted); }
span.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
              vertical-align: -1px; }
footer { color: var(--muted); font-size: 12.5px; padding-bottom: 28px; }
footer dt { font-weight: 600; color: var(--ink); margin-top: 6px; }
footer dd { margin: 0 0 0 16px; }
"""


SCRIPT = """
// Hovering a table row highlights its series in the charts (ids: the SVG groups' gid).
document.querySelectorAll("tr[data-series]").forEach(function (row) {
  var ids = row.getAttribute("data-series").split(" ");
  row.addEventListener("mouseenter", function () {
    document.querySelectorAll("figure svg g[id]").forEach(function (g) {
      if (ids.some(function (id) { return g.id === id || g.id.indexOf(id + "-") === 0; })) {
        g.classList.add("hl");
        g.closest("svg").classList.add("dim");
      }
    });
  });
  row.addEventListener("mouseleave", function () {
    document.querySelectorAll(".hl, .dim").forEach(function (el) { el.classList.remove("hl", "dim"); });
  });
});
"""


def _section(ident: str, title: str, source: str, content: str) -> str:
    return (
        f'<section id="{ident}"><h2 id="h-{ident}">{_e(title)}</h2>'
        f"<p class=source>Source: {source}</p>{content}</section>"
    )


def _figure_html(svg: str, reading: str, table: str, *, stacked: bool = False) -> str:
    """A chart with the sentence on how to read it, and its numbers in a table beside it (below it
    where the table is too wide to share the row)."""
    return (
        f'<div class="pair{" stacked" if stacked else ""}"><figure>{svg}<figcaption><p class=read>{reading}'
        f"</p></figcaption></figure><div class=scroll>{table}</div></div>"
    )


def write_page(
    results_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    sweep_json: str | os.PathLike[str] | None = None,
    machine: str | None = None,
) -> Path:
    """Write ``out_dir/index.html`` (its charts also as throughput.svg and precision.svg) from the
    asv results in ``results_dir`` (asv's results_dir: a folder per machine); ``machine`` picks one
    where there are several. With ``sweep_json`` (a ``jitpi run --json`` file) the leaderboard and
    the precision curves come from that file. UsageError, naming the argument at fault, otherwise."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("the page's charts need matplotlib: pip install 'jitpi[plot]'") from None
    run = load_asv(results_dir, machine)
    sweep = None
    if sweep_json is not None:
        try:
            sweep = load_results(os.fspath(sweep_json))
        except UsageError as error:
            raise UsageError(f"--json: {error}") from None
    out = os.fspath(out_dir)
    check_writable_folder(out, what="--out", create=True)
    sources = _Sources(run, sweep, None if sweep_json is None else os.fspath(sweep_json))

    asv_rows = rows_from_asv(run)
    rows = ranked(asv_rows if sweep is None else rows_from_sweep(sweep, {row.key: row for row in asv_rows}))
    sections = [_leaderboard_section(run, rows, sources)]
    if run.measured(TIME):
        sections.append(_throughput_section(run, out, sources))
    if sweep is None:
        curves = curves_from_asv(run)
    else:
        from jitpi.precision import curves_from_sweep

        curves = curves_from_sweep(sweep)
    if curves:
        sections.append(_precision_section(curves, out, sources))
    release_section = _releases_section(run, out)
    if release_section:
        sections.append(release_section)

    index = os.path.join(out, "index.html")
    write_atomic(index, _page(run, sweep, sources, sections))
    return Path(index)


class _Sources:
    """Where each section's numbers come from, in words, and the charts' footers."""

    def __init__(self, run: AsvRun, sweep: dict[str, Any] | None, sweep_path: str | None) -> None:
        self.asv = (
            f"asv results in <code>{_e(run.results_dir)}</code>, machine <b>{_e(run.machine)}</b>, commit "
            f"<b>{_e(run.short)}</b> ({run.day})"
        )
        info = run.machine_info
        self.asv_footer = (
            f"{run.machine}: {info.get('cpu', '')}, {info.get('num_cpu', '?')} CPUs  |  asv results, commit "
            f"{run.short} ({run.day})  |  python {run.python}"
        )
        self.sweep = self.sweep_footer = self.sweep_name = ""
        if sweep is not None and sweep_path is not None:
            self.sweep_name = os.path.basename(sweep_path)
            self.sweep = (
                f"<code>{_e(sweep_path)}</code> (jitpi run --json, started {_e(sweep.get('started') or '?')})"
            )
            self.sweep_footer = f"{describe_machine(sweep)}  |  {self.sweep_name}"


def _leaderboard_section(run: AsvRun, rows: Sequence[Row], sources: _Sources) -> str:
    if not sources.sweep:
        source = (
            f"{sources.asv}: throughput from bench_time, cold first call from bench_cold, peak memory from "
            "bench_memory, RMS z from bench_accuracy (16 seeds)"
        )
        cold_ns = sorted({n for by_n in run.measured(COLD).values() for n in by_n})
        cold_note = "import + compile + " + (
            f"n = {_n_label(cold_ns[0])}" if len(cold_ns) == 1 else "first n"
        )
        rms_note = "at {n}"
    else:
        source = (
            f"{sources.sweep}: throughput, cold first call and RMS z (one seed, over the n it measured); "
            f"peak memory, which jitpi run does not measure, from {sources.asv}"
        )
        cold_note = "import + first call at its first n"
        rms_note = "over {count} n"
    if sources.sweep:
        rms = (
            "RMS z near 1 means the estimates scatter as the standard error predicts (over a few n, one seed)"
        )
    else:
        rms = (
            "RMS z near 1 means the estimates scatter as the standard error predicts (red: outside "
            f"{RMS_Z_RANGE[0]}–{RMS_Z_RANGE[1]}, where 99% of correct runs over 16 seeds fall)"
        )
    reading = (
        "<p class=read>Fastest first, by throughput at the largest n each combination measured (one that "
        "only ran small n ranks by its largest). The cold first call is what a fresh process pays: import, "
        f"compile and a first count. {rms}. Skipped here: not run on this machine (no GPU, framework or "
        "variant missing, or n too large for the CPU). Hover a row to pick out its lines in the charts.</p>"
    )
    # The relative figure only where the throughput is asv's: a sweep file ran elsewhere or another day.
    yardstick = None if sources.sweep else run.yardstick
    table = _leaderboard_html(rows, rms_note, cold_note, flag_rms=not sources.sweep, yardstick=yardstick)
    if yardstick is not None:
        reading += f"<p class=note id=yardstick>{_e(yardstick_line(yardstick))}</p>"
    elif run.yardstick is None:
        reading += (
            "<p class=note>No yardstick in these results (bench_yardstick, a fixed numpy count measured "
            "beside jitpi's benchmarks since it joined the suite): absolute figures only.</p>"
        )
    return _section("leaderboard", "Leaderboard", source, table + reading)


def _throughput_section(run: AsvRun, out: str, sources: _Sources) -> str:
    path = throughput_svg(run, os.path.join(out, "throughput.svg"), sources.asv_footer)
    return _section(
        "throughput",
        "Throughput against n",
        f"{sources.asv}: bench_time, n / median seconds of a warm call",
        _figure_html(
            inline_svg(path, "throughput"),
            "Each line is one backend (colour) and variant (marker and line style), a point per n measured, "
            "both axes logarithmic; higher is faster. A line rises while the fixed cost of a call dominates "
            "(small n) and flattens at the backend's steady throughput.",
            _throughput_table(run),
        ),
    )


def _precision_section(curves: Sequence[Any], out: str, sources: _Sources) -> str:
    if sources.sweep:
        source = f"{sources.sweep}: warm calls at each n, cold start = import + first call at its first n"
        footer = sources.sweep_footer
    else:
        source = f"{sources.asv}: warm calls from bench_time, cold start from bench_cold"
        footer = sources.asv_footer
    path = precision_svg(curves, os.path.join(out, "precision.svg"), footer, CONFIDENCE)
    svg = (
        inline_svg(path, "precision")
        if path
        else (
            "<p class=note>This jitpi has no <code>jitpi.plotting.plot_precision</code>: the table only.</p>"
        )
    )
    reading = (
        f"How long each backend takes to estimate π to k decimal places (x axis) at {CONFIDENCE:.0%} "
        "confidence: solid from a cold start (import, compile, count), dashed warm; lower is faster. Each "
        f"extra digit needs 100 times the samples; a dot marks where a backend starts to beat {BASELINE} "
        "from a cold start. Beyond the largest measured n, times are extrapolated at that n's throughput."
    )
    return _section(
        "precision",
        "Time to a precision of π",
        source,
        _figure_html(svg, reading, _precision_table(curves, CONFIDENCE), stacked=True),
    )


def _releases_section(run: AsvRun, out: str) -> str:
    """Each swept compiler across its releases (``jitpi releases``), where the results hold any:
    the report's charts beside the page and its table; nothing where no release was measured."""
    from jitpi import releases

    try:
        rows = releases.load_rows(Path(run.results_dir), run.machine)
    except ValueError:
        return ""
    if not rows:
        return ""
    written = releases.report(rows, Path(out) / "releases")
    charts = "".join(
        f'<figure><img src="releases/{_e(path.name)}" alt="{_e(path.stem)}" style="max-width:100%"></figure>'
        for path in written
        if path.suffix == ".png"
    )
    table = next(path for path in written if path.suffix == ".md")
    reading = (
        "Throughput at n = 1e9 and the cold first call of each compiler against its own releases, one asv "
        "environment per release, each compiler on one jitpi commit; shaded: a step asv's own test calls "
        "significant. "
        f'The tables, with the other packages that moved at each step: <a href="releases/{table.name}">'
        f"{table.name}</a>."
    )
    return _section(
        "releases",
        "Across releases",
        f"asv results in <code>{_e(run.results_dir)}</code>, machine <b>{_e(run.machine)}</b>, each "
        "compiler's newest commit with results in its release environments (jitpi releases run)",
        f"{charts}<p class=read>{reading}</p>",
    )


def _page(run: AsvRun, sweep: dict[str, Any] | None, sources: _Sources, sections: Sequence[str]) -> str:
    backends = len({key[0] for key in run.measured(TIME)} | {key[0] for key in run.measured(COLD)})
    lead = (
        f"Monte Carlo π: {backends} backends measured by asv on machine <b>{_e(run.machine)}</b> "
        f"({_e(run.machine_info.get('cpu', ''))}, {_e(run.machine_info.get('num_cpu', '?'))} CPUs) at commit "
        f"<b>{_e(run.short)}</b> ({run.day})"
    )
    if run.newer:
        lead += f", the newest commit with a measurement; newer: {_e('; '.join(run.newer))}"
    if run.other_envs:
        count = len(run.other_envs)
        lead += (
            f". Not shown: {count} other asv environment{'s' * (count > 1)} of this commit that pin fewer "
            "frameworks (such as the per-release ones of jitpi.releases)"
        )
    if sweep is not None:
        lead += f"; leaderboard and time to a precision from {sources.sweep}"
    footer = (
        f"<footer><dl><dt>Machine (asv)</dt><dd>{_e(_machine_line(run))}</dd>"
        f"<dt>Frameworks (the asv environment's requirements)</dt>"
        f"<dd>python {_e(run.python)}, {_versions(run.versions)}</dd>"
        f"<dt>asv environment{'s' if len(run.envs) > 1 else ''}</dt><dd>{_e(', '.join(run.envs))}</dd>"
    )
    if sweep is not None:
        footer += (
            f"<dt>Machine ({_e(sources.sweep_name)})</dt><dd>{_e(describe_machine(sweep))}</dd>"
            f"<dt>Versions ({_e(sources.sweep_name)})</dt><dd>{_versions(sweep.get('versions', {}))}</dd>"
        )
    footer += (
        f"<dt>Generated</dt><dd>{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        "<code>jitpi page</code></dd></dl></footer>"
    )
    toc = "".join(
        f'<a href="#{ident}">{title}</a>'
        for ident, title in (
            ("leaderboard", "Leaderboard"),
            ("throughput", "Throughput against n"),
            ("precision", "Time to a precision of π"),
            ("releases", "Across releases"),
        )
        if f'<section id="{ident}"' in "".join(sections)
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        # No favicon request (a 404 where the page is served alone): an empty icon of its own.
        '<link rel=icon href="data:,">'
        f"<title>jitpi: the backends compared</title><style>{CSS}</style></head><body>"
        '<header><p><a class=back href="../index.html">← asv\'s pages: one benchmark across commits</a></p>'
        f"<h1>jitpi: the backends compared</h1><p>{lead}.</p><nav class=toc>{toc}</nav></header>"
        f"<main>{''.join(sections)}</main>{footer}<script>{SCRIPT}</script></body></html>\n"
    )
