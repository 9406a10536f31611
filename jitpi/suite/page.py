"""jitpi's own page in the published asv site: how the backends compare, on one page.

asv's site follows one benchmark across commits; jitpi's question is which compiler is fastest,
from a cold start and warm, at what memory and accuracy. ``write_page`` reads one commit of asv's
results (``jitpi.suite.asv_results.load``) and writes ``<out>/index.html``: the leaderboard,
throughput against n, the time to a precision of pi and, where the results hold release
environments, each compiler across its releases. Given a ``jitpi run --json`` file, the leaderboard
and the precision curves come from that instead; each section names its source. Every table comes
from ``jitpi.view.tables`` (the README's leaderboard is the same builder's), every chart is an
inline SVG from ``jitpi.view.charts`` with its numbers in a table beside it. More in docs/site.md.

    jitpi page --asv-results .asv/results --out .asv/html/jitpi [--json RESULTS.json] [--machine NAME]
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from jitpi import precision
from jitpi.results import Kind, Results, from_sweep
from jitpi.suite import asv_results
from jitpi.sweep.counts import UsageError
from jitpi.sweep.results import check_writable_folder, load_results, write_atomic
from jitpi.view import charts, html, tables
from jitpi.view.html import escape

TITLE = "jitpi: the backends compared"
LEADERBOARD_COLUMN_STATUS = 9


def _describe(results: Results) -> str:
    source = results.source
    if source.tool == "asv":
        return (
            f"asv results in <code>{escape(source.path)}</code>, {escape(source.machine)}, "
            f"<b>{escape(source.label)}</b>"
        )
    return f"<code>{escape(source.path)}</code> (jitpi run --json, {escape(source.label)})"


def _footer(results: Results) -> str:
    return f"{results.source.machine}  |  {results.source.tool}, {results.source.label}"


def _leaderboard(run: Results, sweep: Results | None) -> str:
    shown = sweep or run
    board = tables.leaderboard(shown, memory=run if sweep is not None else None)
    if sweep is None:
        source = (
            f"{_describe(run)}: throughput from bench_time, cold first call from bench_cold, peak memory "
            "from bench_memory, RMS z from bench_accuracy"
        )
    else:
        # A sweep ran elsewhere or another day: no yardstick of this commit beside its throughput.
        board.yardstick = None
        source = (
            f"{_describe(sweep)}: throughput, cold first call and RMS z (one seed, over the n it measured); "
            f"peak memory, which jitpi run does not measure, from {_describe(run)}"
        )
    reading = (
        "<p class=read>Fastest first, by throughput at the largest n each combination measured (one that "
        "only ran small n ranks by its largest). The cold first call is what a fresh process pays: import, "
        "compile and a first count. RMS z near 1 means the estimates scatter as the standard error "
        "predicts. Skipped here: not run on this machine (no GPU, framework or variant missing, or n too "
        "large for the CPU). Hover a row to pick out its lines in the charts.</p>"
    )
    if sweep is None and run.yardstick is None:
        reading += (
            "<p class=note>No yardstick in these results (bench_yardstick, a fixed numpy count measured "
            "beside jitpi's benchmarks since it joined the suite): absolute figures only.</p>"
        )
    table = html.render(
        tables.leaderboard_table(board), ident="leaderboard-table", status_column=LEADERBOARD_COLUMN_STATUS
    )
    return html.section("leaderboard", "Leaderboard", source, table + reading)


def _throughput(run: Results, out: str) -> str:
    path = charts.throughput_chart(run, os.path.join(out, "throughput.svg"), _footer(run), px=charts.WIDE_PX)
    reading = (
        "Each line is one backend (colour) and variant (marker and line style), a point per n measured, "
        "both axes logarithmic; higher is faster. A line rises while the fixed cost of a call dominates "
        "(small n) and flattens at the backend's steady throughput."
    )
    table = html.render(tables.throughput_cells(tables.throughput_table(run)))
    return html.section(
        "throughput",
        "Throughput against n",
        f"{_describe(run)}: bench_time, n / median seconds of a warm call",
        html.figure(html.inline_svg(path, "throughput"), reading, table),
    )


def _precision(curves: list[precision.Curve], shown: Results, out: str) -> str:
    if shown.source.tool == "asv":
        source = f"{_describe(shown)}: warm calls from bench_time, cold start from bench_cold"
    else:
        source = f"{_describe(shown)}: warm calls at each n, cold start = import + first call at its first n"
    path = charts.precision_chart(curves, os.path.join(out, "precision.svg"), footer=_footer(shown))
    table = tables.precision_table(curves)
    reading = (
        f"How long each backend takes to estimate π to k decimal places (x axis) at {table.confidence:.0%} "
        "confidence: solid from a cold start (import, compile, count), dashed warm; lower is faster. Each "
        "extra digit needs 100 times the samples; a dot marks where a backend starts to beat "
        f"{table.baseline} from a cold start. Beyond the largest measured n, times are extrapolated at "
        "that n's throughput."
    )
    return html.section(
        "precision",
        "Time to a precision of π",
        source,
        html.figure(
            html.inline_svg(path, "precision"),
            reading,
            html.render(tables.precision_cells(table)),
            stacked=True,
        ),
    )


def _releases(run: Results, out: str) -> str:
    """Each swept compiler across its releases, where the results hold any: the release report's
    charts beside the page, and a link to its tables."""
    from jitpi.suite import releases

    machine = run.source.machine_name
    try:
        rows = releases.load_rows(Path(run.source.path), machine)
    except ValueError:
        return ""
    if not rows:
        return ""
    written = releases.report(rows, Path(out) / "releases")
    images = "".join(
        f'<figure><img src="releases/{escape(path.name)}" alt="{escape(path.stem)}" '
        'style="max-width:100%"></figure>'
        for path in written
        if path.suffix == ".png"
    )
    table = next(path for path in written if path.suffix == ".md")
    reading = (
        "Throughput at n = 1e9 and the cold first call of each compiler against its own releases, one asv "
        "environment per release, each compiler on one jitpi commit; shaded: a step asv's own test calls "
        f'significant. The tables, with the other packages that moved at each step: <a href="releases/'
        f'{table.name}">{table.name}</a>.'
    )
    source = (
        f"asv results in <code>{escape(run.source.path)}</code>, machine <b>{escape(machine)}</b>, each "
        "compiler's newest commit with results in its release environments (jitpi releases run)"
    )
    return html.section("releases", "Across releases", source, f"{images}<p class=read>{reading}</p>")


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
    run = asv_results.load(results_dir, machine)
    sweep = None
    if sweep_json is not None:
        try:
            sweep = from_sweep(load_results(os.fspath(sweep_json)), os.fspath(sweep_json))
        except UsageError as error:
            raise UsageError(f"--json: {error}") from None
    out = os.fspath(out_dir)
    check_writable_folder(out, what="--out", create=True)

    sections = [_leaderboard(run, sweep)]
    if run.series(Kind.TIME):
        sections.append(_throughput(run, out))
    shown = sweep or run
    if curves := precision.curves(shown):
        sections.append(_precision(curves, shown, out))
    if releases_section := _releases(run, out):
        sections.append(releases_section)

    backends = len(set(run.backends(Kind.TIME)) | set(run.backends(Kind.COLD)))
    lead = (
        f"Monte Carlo π: {backends} backends measured by asv, {escape(run.source.machine)}, "
        f"{escape(run.source.label)}"
    )
    lead += "".join(f"; {escape(note)}" for note in run.notes)
    if sweep is not None:
        lead += f"; leaderboard and time to a precision from {_describe(sweep)}"
    versions = ", ".join(f"{escape(name)} {escape(version)}" for name, version in run.source.versions.items())
    footer = [
        ("Machine (asv)", escape(run.source.machine)),
        (
            "Frameworks (the asv environment's requirements)",
            f"python {escape(run.source.python)}, {versions}",
        ),
        ("asv environments", escape(", ".join(run.source.environments))),
    ]
    if sweep is not None:
        name = os.path.basename(sweep.source.path)
        sweep_versions = ", ".join(f"{escape(k)} {escape(v)}" for k, v in sweep.source.versions.items())
        footer += [
            (f"Machine ({name})", escape(sweep.source.machine)),
            (f"Versions ({name})", sweep_versions),
        ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer.append(("Generated", f"{generated} by <code>jitpi page</code>"))
    index = os.path.join(out, "index.html")
    back = "← asv's pages: one benchmark across commits"
    write_atomic(index, html.page(TITLE, lead, sections, footer, back))
    return Path(index)
