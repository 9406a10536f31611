"""The models behind every table jitpi shows, built once from ``jitpi.results`` and rendered as
Markdown (``jitpi.view.markdown``) or HTML (``jitpi.view.html``) with the same columns, digits and
order: the leaderboard, throughput against n, and the time to a precision of pi.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from jitpi import precision
from jitpi.results import Key, Kind, Measurement, Results, State, Yardstick
from jitpi.stats import rms, rms_z_band
from jitpi.view.format import MISSING, duration, megabytes, n_label, rate, series_order, times
from jitpi.view.format import rms_z as rms_text

RMS_COVERAGE = 0.99
"""A correct estimator's RMS of z falls outside its band (``rms_z_band``) in 1% of runs."""


# --- the leaderboard -------------------------------------------------------------------------------


@dataclass
class LeaderboardRow:
    """One (backend, variant, device): its throughput at the largest n it measured, its cold first
    call, peak memory and RMS of z; skipped rows of one backend merged (``variant`` lists them)."""

    backend: str
    variant: str
    device: str
    state: State
    rank: int | None = None
    throughput: float | None = None
    throughput_n: int | None = None
    cold_s: float | None = None
    memory_bytes: float | None = None
    memory_n: int | None = None
    rms_z: float | None = None
    rms_note: str = ""
    """Where the RMS comes from: "at 1e6" (over the seeds at one n) or "over 3 n" (one seed each)."""
    rms_band: tuple[float, float] | None = None
    failed: list[str] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.backend, self.variant, self.device)

    @property
    def rms_outside_band(self) -> bool:
        if self.rms_z is None or self.rms_band is None:
            return False
        return not self.rms_band[0] <= self.rms_z <= self.rms_band[1]


@dataclass
class Leaderboard:
    rows: list[LeaderboardRow]
    yardstick: Yardstick | None
    cold_note: str
    """What the cold first call includes, in a few words."""


def _largest(by_n: dict[int, Measurement]) -> Measurement | None:
    return by_n[max(by_n)] if by_n else None


def _row(
    key: Key, series: dict[Kind, dict[Key, dict[int, Measurement]]], memory: dict[Key, dict[int, Measurement]]
) -> LeaderboardRow:
    """The row of ``key`` from every kind's series (``Results.series(kind, measured_only=False)``);
    peak memory from ``memory`` (measured series) where the results have none."""
    every = {kind: by_key.get(key, {}) for kind, by_key in series.items()}
    failed = [
        f"{kind}" + ("" if len(by_n) == 1 else f" at n = {n_label(n)}")
        for kind, by_n in every.items()
        for n, item in by_n.items()
        if item.state == State.FAILED
    ]
    measured = {kind: {n: m for n, m in by_n.items() if m.measured} for kind, by_n in every.items()}
    state = State.MEASURED if any(measured.values()) else State.FAILED if failed else State.SKIPPED
    row = LeaderboardRow(*key, state=state, failed=failed)
    if time := _largest(measured[Kind.TIME]):
        row.throughput, row.throughput_n = time.throughput, time.n
    if cold := _largest(measured[Kind.COLD]):
        row.cold_s = statistics.median(cold.samples) if cold.samples else cold.value
    memory_by_n = measured[Kind.MEMORY] or memory.get(key, {})
    if peak := _largest(memory_by_n):
        row.memory_bytes, row.memory_n = peak.value, peak.n
    accuracy = measured[Kind.ACCURACY]
    if accuracy:
        largest = _largest(accuracy)
        if largest.seeds > 1:  # an RMS over seeds: at the largest n it was measured at
            row.rms_z, row.rms_note, seeds = largest.value, f"at {n_label(largest.n)}", largest.seeds
        else:  # one seed's z at each n: the RMS over them
            values = [item.value for item in accuracy.values()]
            row.rms_z, row.rms_note, seeds = rms(values), f"over {len(values)} n", len(values)
        row.rms_band = rms_z_band(seeds, RMS_COVERAGE)
    return row


def ranked(rows: Sequence[LeaderboardRow]) -> list[LeaderboardRow]:
    """Measured rows fastest first (ranked; those without a throughput after them), then failed,
    then skipped: a backend's skipped variants on one device in one row, and a device where every
    combination skipped in one row."""
    measured = sorted(
        (row for row in rows if row.state == State.MEASURED),
        key=lambda row: (row.throughput is None, -(row.throughput or 0.0), series_order(row.key)),
    )
    for place, row in enumerate((row for row in measured if row.throughput is not None), start=1):
        row.rank = place
    failed = sorted((row for row in rows if row.state == State.FAILED), key=lambda row: series_order(row.key))
    skipped = [row for row in rows if row.state == State.SKIPPED]
    merged: list[LeaderboardRow] = []
    for device in sorted({row.device for row in skipped}):
        on_device = [row for row in skipped if row.device == device]
        everything = [row for row in rows if row.device == device]
        if len(on_device) == len(everything) and len({row.backend for row in on_device}) > 1:
            variants = ", ".join(sorted({row.variant for row in on_device}))
            merged.append(LeaderboardRow("every backend", variants, device, State.SKIPPED))
            continue
        by_backend: dict[str, list[str]] = {}
        for row in sorted(on_device, key=lambda row: series_order(row.key)):
            by_backend.setdefault(row.backend, []).append(row.variant)
        merged += [
            LeaderboardRow(backend, ", ".join(variants), device, State.SKIPPED)
            for backend, variants in by_backend.items()
        ]
    return measured + failed + sorted(merged, key=lambda row: (row.device, series_order(row.key)))


def rows(results: Results, *, memory: Results | None = None) -> list[LeaderboardRow]:
    """A row per series of ``results``, unranked; peak memory from ``memory`` where ``results`` has
    none (a ``jitpi run`` file measures no memory; asv's results do)."""
    series = {kind: results.series(kind, measured_only=False) for kind in Kind}
    peaks = memory.series(Kind.MEMORY) if memory is not None else {}
    return [_row(key, series, peaks) for key in results.combinations()]


def leaderboard(
    results: Results, *, memory: Results | None = None, variants: Sequence[str] | None = None
) -> Leaderboard:
    """Every series of ``results`` (of ``variants`` only, where given) ranked (``rows``, then
    ``ranked``)."""
    chosen = [row for row in rows(results, memory=memory) if variants is None or row.variant in variants]
    ranked_rows = ranked(chosen)
    cold_ns = sorted({n for by_n in results.series(Kind.COLD).values() for n in by_n})
    if results.source.tool == "asv":
        where = f"n = {n_label(cold_ns[0])}" if len(cold_ns) == 1 else "first n"
        cold_note = f"import + compile + {where}"
    else:
        cold_note = "import + first call at its first n"
    return Leaderboard(ranked_rows, results.yardstick, cold_note)


# --- throughput against n --------------------------------------------------------------------------


@dataclass
class ThroughputTable:
    """Samples a second of a warm call, per series (fastest first) and n."""

    ns: list[int]
    rows: list[tuple[Key, dict[int, float]]]
    yardstick: Yardstick | None


def throughput_table(results: Results) -> ThroughputTable:
    series = {
        key: {n: item.throughput for n, item in by_n.items()}
        for key, by_n in results.series(Kind.TIME).items()
    }
    ns = sorted({n for by_n in series.values() for n in by_n})
    order = sorted(series, key=lambda key: (-max(series[key].values()), series_order(key)))
    return ThroughputTable(ns, [(key, series[key]) for key in order], results.yardstick)


# --- time to a precision ---------------------------------------------------------------------------

DIGITS = (3, 5, 7)
"""The decimal places every precision table shows: each two more take 10**4 times the samples."""
CHART_DIGITS = (1.0, 8.0)
"""The precision chart's range: 8 places already take years on a CPU (~4e17 samples)."""
BASELINE = "numpy"


@dataclass(frozen=True)
class Overtakes:
    """Where a curve starts to beat the baseline from a cold start: ``digits`` None means never in
    the range, 0 always; ``reason`` where it cannot be said."""

    digits: float | None = None
    samples: float | None = None
    reason: str = ""


@dataclass
class PrecisionRow:
    curve: precision.Curve
    startup: precision.Estimate | None
    cells: list[tuple[precision.Estimate | None, precision.Estimate]]
    """Per digit of ``DIGITS``: (cold, warm)."""
    overtakes: Overtakes | None
    """None for the baseline itself."""


@dataclass
class PrecisionTable:
    digits: tuple[int, ...]
    samples: list[float]
    rows: list[PrecisionRow]
    baseline: str
    confidence: float
    chart_range: tuple[float, float] = CHART_DIGITS


def overtakes(
    curve: precision.Curve,
    reference: precision.Curve | None,
    confidence: float,
    span: tuple[float, float] = CHART_DIGITS,
    *,
    baseline: str = BASELINE,
) -> Overtakes | None:
    """Where ``curve`` overtakes ``reference`` (the baseline's curve) from a cold start, over the
    decimal places ``span``; None for the reference itself."""
    if curve is reference:
        return None
    if reference is None or not reference.has_cold:
        return Overtakes(reason=f"no cold start of {baseline}")
    if not curve.has_cold:
        return Overtakes(reason="no cold start measured")
    grid = precision.digit_grid(*span)
    found = precision.crossover(curve, reference, grid, confidence)
    if found is None or found.digits is None:
        return Overtakes(None)
    if found.digits <= grid[0]:
        return Overtakes(0.0)
    return Overtakes(found.digits, found.samples)


def precision_table(
    curves: Sequence[precision.Curve],
    *,
    confidence: float = precision.CONFIDENCE,
    digits: tuple[int, ...] = DIGITS,
    baseline: str = BASELINE,
) -> PrecisionTable:
    """Each backend's fastest variant (``precision.best_per_backend``), fastest warm first at the
    last of ``digits``: import + compile, cold and warm time at each, and where it overtakes
    ``baseline`` from a cold start."""
    best = precision.best_per_backend(curves)
    order = [curve for curve, _ in precision.warm_ranking(best, digits[-1], confidence)]
    reference = next((curve for curve in best if curve.backend == baseline and curve.has_cold), None)
    samples = [precision.samples_for(k, confidence) for k in digits]
    rows = [
        PrecisionRow(
            curve,
            curve.startup(),
            [(curve.cold(n), curve.warm(n)) for n in samples],
            overtakes(curve, reference, confidence, baseline=baseline),
        )
        for curve in order
    ]
    return PrecisionTable(tuple(digits), samples, rows, baseline, confidence)


def each_against_each(
    curves: Sequence[precision.Curve], confidence: float = precision.CONFIDENCE
) -> tuple[list[precision.Curve], list[list[Overtakes | None]]]:
    """From a cold start, where each backend's fastest variant overtakes each other's (None on the
    diagonal), over ``CHART_DIGITS``."""
    fastest = precision.best_per_backend(curves)
    best = [curve for curve in sorted(curves, key=lambda c: series_order(c.key)) if curve in fastest]
    table = [[overtakes(row, other, confidence, baseline=other.backend) for other in best] for row in best]
    return best, table


# --- cells: what every renderer writes, in the same words and digits -----------------------------


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, a smaller note beside it, and whether it is flagged (shown in red:
    an RMS of z outside its band, a failure)."""

    text: str
    note: str = ""
    flag: bool = False
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """A rendered-ready table: column titles (with a note under each), rows of cells, and per row
    the chart series it stands for (the page highlights them on hover)."""

    columns: list[tuple[str, str]]
    rows: list[list[Cell]]
    series: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def numeric(self) -> list[bool]:
        """Per column, whether it holds numbers (right-aligned in every rendering)."""
        return [any(row[i].numeric for row in self.rows) for i in range(len(self.columns))]


def _throughput_cell(samples_per_s: float | None, yardstick: Yardstick | None, word: str = "") -> Cell:
    note = ""
    if samples_per_s is not None and yardstick is not None:
        note = f"· {times(yardstick.relative(samples_per_s))}{f' {word}' if word else ''}"
    return Cell(rate(samples_per_s), note, numeric=True)


def yardstick_sentence(yardstick: Yardstick) -> str:
    numpy = f"numpy {yardstick.numpy}" if yardstick.numpy else "numpy"
    return (
        f"Yardstick: {numpy}, one thread, {n_label(yardstick.samples)} samples of a fixed quarter-circle "
        f"count (bench_yardstick, code no jitpi commit changes), {rate(yardstick.rate)} M samples/s on "
        "this machine at this commit; × yardstick is a throughput divided by that, which takes out much "
        "of a drift in the CPU's speed between runs (not a GPU's)."
    )


def leaderboard_table(board: Leaderboard) -> Table:
    columns = [
        ("#", ""),
        ("backend", ""),
        ("variant", ""),
        ("device", ""),
        ("throughput", "M samples/s"),
        ("at n", "its largest measured"),
        ("cold first call", board.cold_note),
        ("peak memory", "MB (10^6 bytes)"),
        ("RMS z", "≈ 1.0 is correct"),
        ("status", ""),
    ]
    rows, series, states = [], [], []
    for row in board.rows:
        status = row.state.value
        if row.failed:
            failed = f"failed: {', '.join(row.failed)}"
            status = f"{status}; {failed}" if row.state == State.MEASURED else failed
        memory = Cell(
            megabytes(row.memory_bytes), f"at {n_label(row.memory_n)}" if row.memory_n else "", numeric=True
        )
        rms_cell = Cell(rms_text(row.rms_z), row.rms_note, flag=row.rms_outside_band, numeric=True)
        rows.append(
            [
                Cell(str(row.rank) if row.rank else "", numeric=True),
                Cell(row.backend),
                Cell(row.variant),
                Cell(row.device),
                _throughput_cell(row.throughput, board.yardstick, "yardstick"),
                Cell(n_label(row.throughput_n) if row.throughput_n else MISSING, numeric=True),
                Cell(duration(row.cold_s), numeric=True),
                memory,
                rms_cell,
                Cell(status, flag=bool(row.failed)),
            ]
        )
        where = f"{row.backend}-{row.device}"
        measured = row.state == State.MEASURED
        series.append(
            f"throughput-{'-'.join(row.key)} precision-cold-{where} precision-warm-{where}"
            if measured
            else ""
        )
        states.append(
            "failed"
            if row.failed
            else {State.MEASURED: "ok", State.FAILED: "failed"}.get(row.state, "skipped")
        )
    notes = []
    low_high = {row.rms_band for row in board.rows if row.rms_band}
    if len(low_high) == 1:
        low, high = next(iter(low_high))
        notes.append(
            f"RMS z in red: outside {low:.2f}–{high:.2f}, where {RMS_COVERAGE:.0%} of correct runs fall "
            "(the RMS of that many standard normals)."
        )
    if board.yardstick is not None:
        notes.append(yardstick_sentence(board.yardstick))
    return Table(columns, rows, series, states, notes)


def throughput_cells(table: ThroughputTable) -> Table:
    columns = [("backend", ""), ("variant", ""), ("device", "")] + [
        (f"n = {n_label(n)}", "") for n in table.ns
    ]
    rows, series = [], []
    for key, by_n in table.rows:
        cells = [Cell(key[0]), Cell(key[1]), Cell(key[2])]
        cells += [_throughput_cell(by_n.get(n), table.yardstick) for n in table.ns]
        rows.append(cells)
        series.append(f"throughput-{'-'.join(key)}")
    notes = ["M samples/s = n / median seconds of a warm call; – not measured at that n."]
    if table.yardstick is not None:
        notes.append(f"N× = N yardsticks ({rate(table.yardstick.rate)} M samples/s here).")
    return Table(columns, rows, series, ["ok"] * len(rows), notes)


def overtakes_text(found: Overtakes | None, span: tuple[float, float] = CHART_DIGITS) -> Cell:
    if found is None:
        return Cell(MISSING)
    if found.reason:
        return Cell(found.reason)
    if found.digits is None:
        return Cell(f"never ({span[0]:g} to {span[1]:g} digits)")
    if found.digits == 0.0:
        return Cell("always")
    return Cell(f"from {found.digits:.1f} digits", f"(n ≈ {n_label(found.samples)})")


def precision_cells(table: PrecisionTable) -> Table:
    columns = [("backend", ""), ("variant", ""), ("device", ""), ("import + compile", "")]
    columns += [
        (f"{k} digits", f"n = {n_label(n)}") for k, n in zip(table.digits, table.samples, strict=True)
    ]
    columns.append((f"faster than {table.baseline}, cold", ""))
    rows, series = [], []
    for row in table.rows:
        curve = row.curve
        cells = [Cell(curve.backend), Cell(curve.variant), Cell(curve.device)]
        cells.append(Cell(duration(row.startup.seconds if row.startup else None), numeric=True))
        for cold, warm in row.cells:
            cells.append(
                Cell(duration(cold.seconds if cold else None), f"/ {duration(warm.seconds)}", numeric=True)
            )
        cells.append(overtakes_text(row.overtakes))
        rows.append(cells)
        where = f"{curve.backend}-{curve.device}"
        series.append(f"precision-cold-{where} precision-warm-{where}")
    notes = [
        f"Confidence {table.confidence:.0%}; k digits means |π̂ − π| ≤ 0.5e-k. Each cell: cold (fresh "
        "process, empty JIT caches) / warm (compiled, in the same process), modelled from the measured "
        "throughput; each backend's variant with the highest throughput, fastest warm first."
    ]
    return Table(columns, rows, series, ["ok"] * len(rows), notes)
