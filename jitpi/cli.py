"""``jitpi``: list the backends, sweep them over n, and chart the results.

    jitpi list                          what can run here, and how
    jitpi run [options]                 sweep backends x variants x devices x n; table on stdout
    jitpi plot RESULTS.json --out DIR   PNG charts from a results file

Tables and progress are drawn with rich: on a terminal, a live progress line (what runs now, for how
long, rows done of all) and coloured statuses; where stdout or stderr is a pipe or a file (CI logs),
plain lines, one per finished row, no control characters, never wrapped.

Exit status: 0 success; 1 a row failed (or nothing could run); 2 a bad argument; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

import jitpi
from jitpi import sweep
from jitpi._validation import check_seed
from jitpi.sweep import Group, Results, UsageError, format_n, format_seconds

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

PLAIN_WIDTH = 10_000
"""Console width where output is not a terminal: tables and messages are never wrapped in a log."""


class _Parser(argparse.ArgumentParser):
    """argparse, but every error is one line on stderr (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _names(values: list[str] | None, *, name: str, choices: Sequence[str]) -> list[str] | None:
    """Repeatable, comma-separated names, each checked against ``choices``."""
    if not values:
        return None
    chosen: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item == "all":
                chosen.extend(choices)
                continue
            if item not in choices:
                raise UsageError(
                    f"--{name}: unknown {name} {item!r} (choose from {', '.join(choices)}, or all)"
                )
            chosen.append(item)
    return list(dict.fromkeys(chosen))


def _positive_int(text: str, *, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a whole number") from None
    if value < 1:
        raise UsageError(f"{what}: must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    """A seed as ``jitpi.count_hits`` takes it (``check_seed``), written in decimal, hex or binary."""
    value: object
    try:
        value = int(text, 0)
    except ValueError:
        value = text
    try:
        return check_seed(value, name="--seed")
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def _seconds(text: str, *, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"{what}: must be a finite number of seconds >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jitpi",
        description="Monte Carlo pi on the JIT compilers of Python's frameworks: list, sweep, chart.",
        epilog="Exit status: 0 success, 1 a row failed, 2 bad arguments, 130 interrupted (Ctrl-C).",
    )
    parser.add_argument("--version", action="version", version=f"jitpi {jitpi.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    listing = commands.add_parser(
        "list", help="backends and devices: version, available or why not, compiled or not"
    )
    listing.add_argument(
        "--backend", "-b", action="append", metavar="NAME", help="repeatable or comma list (default: all)"
    )
    listing.add_argument("--json", action="store_true", help="print the listing as JSON instead of a table")

    run = commands.add_parser(
        "run",
        help="sweep backends x variants x devices x n",
        description=(
            "Time every chosen backend, variant and device at each n: the first call (compile "
            "included) apart from the steady state, which is the median and interquartile range per "
            f"call over --repeat samples of at least {sweep.MIN_SAMPLE_S:g} s each, after a warm-up "
            "call at every n; with pi_hat, its absolute error and z. Each backend runs in its own process."
        ),
    )
    run.add_argument(
        "--backend",
        "-b",
        action="append",
        metavar="NAME",
        help=f"repeatable or comma list of {', '.join(jitpi.BACKENDS)} (default: every available one)",
    )
    run.add_argument(
        "--variant",
        action="append",
        metavar="NAME",
        help=f"repeatable or comma list of {', '.join(jitpi.VARIANTS)} (default: native)",
    )
    run.add_argument(
        "--device",
        action="append",
        metavar="NAME",
        help=f"repeatable or comma list of {', '.join(jitpi.DEVICES)} (default: cpu)",
    )
    run.add_argument(
        "--n",
        action="append",
        metavar="N",
        help=f"sample counts: 1e6, 10**6, decade ranges low:high, comma lists; repeatable "
        f"(default {sweep.DEFAULT_N}; --quick {sweep.QUICK_N})",
    )
    run.add_argument("--seed", default="0", help="stream seed, an integer in [0, 2**64) (default 0)")
    run.add_argument(
        "--repeat",
        metavar="R",
        help=f"steady-state samples per row, each as many calls as last {sweep.MIN_SAMPLE_S:g} s "
        f"(default {sweep.DEFAULT_REPEAT}; --quick {sweep.QUICK_REPEAT})",
    )
    run.add_argument(
        "--row-budget",
        metavar="SECONDS",
        help="seconds of steady-state samples one row may take: a row gets --repeat samples or as "
        "many as fit (at least one), and an n whose single call, predicted from the throughput at "
        "the previous n, would not fit is skipped; 0 never skips "
        f"(default {sweep.DEFAULT_ROW_BUDGET_S:g}; --quick {sweep.QUICK_ROW_BUDGET_S:g})",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="a fast look: smaller n, fewer samples (explicit --n/--repeat/--row-budget win)",
    )
    run.add_argument(
        "--json", metavar="FILE", help="write every row, the machine and versions here (after each row)"
    )
    run.add_argument("--csv", metavar="FILE", help="the same rows as CSV, one line each (after each row)")
    run.add_argument("--plot", metavar="DIR", help="write the charts here when the sweep ends")
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="count on a Dask cluster: the scheduler's address, e.g. tcp://10.0.0.5:8786 (needs "
        "jitpi[dask]); each worker runs chunk tasks with the chosen backend, and hits are summed here",
    )
    run.add_argument(
        "--warm-cache",
        action="store_true",
        help="let JIT compilers use their on-disk caches (default: an empty cache, so the "
        "first call includes a real compile)",
    )

    plot = commands.add_parser("plot", help="PNG charts from a results file written by run --json")
    plot.add_argument("results", metavar="RESULTS.json")
    plot.add_argument("--out", "-o", default="charts", metavar="DIR", help="output folder (default: charts)")

    report = commands.add_parser(
        "report", help="Markdown tables from results files: docs/results.md and the README's leaderboard"
    )
    report.add_argument("results", nargs="+", metavar="RESULTS.json")
    report.add_argument("--out", "-o", required=True, metavar="FILE.md", help="the page to write")
    report.add_argument(
        "--readme",
        metavar="README.md",
        help="also rewrite the leaderboard (from the first results file) between its markers in this file",
    )
    precision = commands.add_parser(
        "precision",
        help="time to k decimal places of pi, cold and warm, modelled from results files (docs/precision.md)",
    )
    precision.add_argument(
        "results",
        nargs="+",
        metavar="RESULTS.json",
        help="run --json files: the first to measure a backend gives its throughput, each adds a cold start",
    )
    precision.add_argument(
        "--confidence", type=float, default=0.95, help="probability of being within the places (default 0.95)"
    )
    precision.add_argument("--plot", metavar="FILE", help="draw the chart here (.png or .svg)")
    precision.add_argument(
        "--out",
        metavar="FILE.md",
        help="rewrite the tables between the precision markers of this page (docs/precision.md)",
    )
    precision.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="BACKEND:VARIANT:PLACES",
        help="repeatable: run that backend cold at the n the places need and set the model beside it",
    )
    page = commands.add_parser(
        "page",
        help="jitpi's comparison page (leaderboard, throughput, time to a precision) beside asv's site",
        description=(
            "Write DIR/index.html from asv's results (the newest commit with a measurement, one "
            "machine): a leaderboard, throughput against n and time to a precision of pi, as inline SVG."
        ),
    )
    page.add_argument(
        "--asv-results", required=True, metavar="DIR", help="asv's results_dir, e.g. .asv/results"
    )
    page.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder, e.g. .asv/html/jitpi")
    page.add_argument(
        "--json",
        metavar="RESULTS.json",
        help="take the leaderboard and the precision curves from this jitpi run --json file instead",
    )
    page.add_argument("--machine", metavar="NAME", help="the asv machine, where the results hold several")
    releases = commands.add_parser(
        "releases",
        help="each compiler across its own releases, in asv environments (docs/releases.md)",
    )
    releases.add_argument(
        "action", choices=("run", "report"), help="run: measure HEAD; report: charts and tables"
    )
    releases.add_argument(
        "backends", nargs="*", metavar="BACKEND", help="run: the compilers whose releases to measure"
    )
    releases.add_argument("--machine", help="asv's machine name (default: this host's)")
    releases.add_argument("--quick", action="store_true", help="run: one sample each, nothing saved")
    releases.add_argument("--results", default=".asv/results", help="report: asv's results folder")
    releases.add_argument(
        "--commit", help="report: the commit (default: each compiler's newest with release results)"
    )
    releases.add_argument("--out", default="docs/releases", metavar="DIR", help="report: output folder")
    return parser


def _check_scheduler(address: str) -> None:
    if importlib.util.find_spec("distributed") is None:
        raise UsageError("--scheduler needs dask.distributed: pip install 'jitpi[dask]'")
    if not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+(:\d+)?/?|[\w.-]+:\d+", address):
        raise UsageError(f"--scheduler must be a scheduler address such as tcp://host:8786, got {address!r}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "precision":
            return cmd_precision(args)
        if args.command == "releases":
            return cmd_releases(args)
        if args.command == "page":
            return cmd_page(args)
        return cmd_plot(args)
    except UsageError as error:
        print(f"jitpi {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"jitpi {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `jitpi list | head -3`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def console_for(stream: TextIO) -> Console:
    """A rich console on ``stream``: colour and live redraws on a terminal; plain unwrapped text, no
    control characters, where ``stream`` is a pipe or a file (whatever FORCE_COLOR says)."""
    if stream.isatty():
        console = Console(file=stream, highlight=False)
        if console.is_terminal and not console.is_dumb_terminal:
            return console
    return Console(file=stream, highlight=False, width=PLAIN_WIDTH, force_terminal=False)


def print_table(table: Table, stream: TextIO) -> None:
    """``table`` on ``stream``: drawn by rich on a terminal; elsewhere the same text, lines right-trimmed."""
    console = console_for(stream)
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    stream.flush()


# --- list --------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    backends = _names(args.backend, name="backend", choices=jitpi.BACKENDS) or jitpi.BACKENDS
    listing = sweep.list_backends([backend for backend in jitpi.BACKENDS if backend in backends])
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    table = _table(["backend", "device", "version", "available", "mode", "details / why not"], "<<<<<<")
    for backend, entry in listing.items():
        for device, info in entry["devices"].items():
            available = Text("yes", style="green") if info["available"] else Text("no", style="yellow")
            table.add_row(
                backend, device, entry["version"] or "-", available, info["mode"] or "-", info["detail"]
            )
    print_table(table, sys.stdout)
    return EXIT_OK


# --- run ---------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    explicit_backends = _names(args.backend, name="backend", choices=jitpi.BACKENDS)
    backends = explicit_backends or list(jitpi.BACKENDS)
    variants = _names(args.variant, name="variant", choices=jitpi.VARIANTS) or ["native"]
    devices = _names(args.device, name="device", choices=jitpi.DEVICES) or ["cpu"]
    if args.quick:
        n_text, repeat, row_budget = sweep.QUICK_N, sweep.QUICK_REPEAT, sweep.QUICK_ROW_BUDGET_S
    else:
        n_text, repeat, row_budget = sweep.DEFAULT_N, sweep.DEFAULT_REPEAT, sweep.DEFAULT_ROW_BUDGET_S
    ns = sweep.parse_n_options(args.n if args.n is not None else [n_text])
    if args.repeat is not None:
        repeat = _positive_int(args.repeat, what="--repeat")
    if args.row_budget is not None:
        row_budget = _seconds(args.row_budget, what="--row-budget")
    seed = _seed(args.seed)
    if args.json:
        sweep.check_writable_file(args.json, what="--json")
    if args.csv:
        sweep.check_writable_file(args.csv, what="--csv")
    if args.json and args.csv and os.path.abspath(args.json) == os.path.abspath(args.csv):
        raise UsageError("--json and --csv name the same file")
    if args.plot:
        _require_matplotlib()
        sweep.check_writable_folder(args.plot, what="--plot", create=True)

    if args.scheduler is not None:
        _check_scheduler(args.scheduler)
    groups = sweep.groups_for(backends, variants, devices)
    settings = {
        "scheduler": args.scheduler,
        "backends": backends if explicit_backends else "available",
        "variants": variants,
        "devices": devices,
        "n": ns,
        "seed": seed,
        "repeat": repeat,
        "min_sample_s": sweep.MIN_SAMPLE_S,
        "unstable_spread": sweep.UNSTABLE_SPREAD,
        "row_budget_s": row_budget,
        "cold_jit_cache": not args.warm_cache,
        "first_call": "first call of each (backend, variant, device) in a fresh process, at its first n; "
        "import excluded (import_s), compile included",
        "steady_state": "at every later n a warm-up call first (warmup_s); then repeat samples, each "
        "as many calls as last min_sample_s; median and IQR per call",
        "command": " ".join(["jitpi", *args.argv]),
    }
    results = Results(settings=settings)

    def save() -> None:
        sweep.write_results(results, json_path=args.json, csv_path=args.csv)

    save()
    progress = SweepProgress(console_for(sys.stderr), total=len(groups) * len(ns))

    def on_event(group: Group, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "row":
            save()
        elif kind == "unavailable":
            progress.total -= len(ns)
            reason = event.get("reason", "")
            if explicit_backends or group.device != "cpu" or group.variant != "native":
                progress.note(f"{group.label}: not run: {reason}")
            else:
                progress.note(f"{group.backend}: not available, left out: {reason}")
        progress.event(group, event)

    try:
        sweep.run_sweep(
            results,
            groups,
            ns,
            seed=seed,
            repeat=repeat,
            row_budget_s=row_budget,
            scheduler=args.scheduler,
            on_event=on_event,
            cold_cache=not args.warm_cache,
        )
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the last write short
        progress.close()
        results.state = "interrupted"
        results.finished = sweep.utc_now()
        save()
        if results.rows:
            print_table(results_table(results.rows), sys.stdout)
        kept = " and ".join(path for path in (args.json, args.csv) if path)
        print(
            f"jitpi run: interrupted after {len(results.rows)} row(s)"
            + (f"; they are kept in {kept}" if kept else ""),
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    progress.close()
    results.state = "complete"
    results.finished = sweep.utc_now()
    save()

    if not results.rows:
        reasons = "; ".join(
            f"{item['backend']} ({item['variant']}, {item['device']}): {item['reason']}"
            for item in results.unavailable
        )
        print(f"jitpi run: nothing could run here: {reasons}", file=sys.stderr)
        return EXIT_FAILED
    print_table(results_table(results.rows), sys.stdout)
    console_for(sys.stderr).print(Text(summary(results)), soft_wrap=True)
    status = EXIT_FAILED if results.failed else EXIT_OK
    if args.plot:
        try:
            written = _plot(results.as_dict(), args.plot)
        except UsageError as error:
            print(f"jitpi run: no charts: {error}", file=sys.stderr)
        except Exception as error:  # the rows are safe in their files; say what went wrong with the charts
            print(f"jitpi run: drawing the charts failed: {type(error).__name__}: {error}", file=sys.stderr)
            status = EXIT_FAILED
        else:
            print(f"jitpi run: {len(written)} charts in {args.plot}", file=sys.stderr)
    if results.failed:
        print(f"jitpi run: {len(results.failed)} row(s) failed", file=sys.stderr)
    return status


def summary(results: Results) -> str:
    """Under the table: what the columns mean, the counts, and every row that was skipped, failed,
    unstable or carries a note, with why; then what did not run and why."""
    rows = results.rows
    lines = [
        "first call = each backend, variant and device's first call in its own fresh process, at its first "
        "n (compile included, import excluded); every later n starts with an untimed warm-up call. "
        f"median = per call, over samples of at least {results.settings['min_sample_s']:g} s; "
        f"spread = interquartile range / median (unstable above {results.settings['unstable_spread']:.0%}); "
        "z = (pi_hat - pi) / sigma(n).",
    ]
    by_status = {
        status: [row for row in rows if row["status"] == status] for status in ("ok", "skipped", "failed")
    }
    unstable = [row for row in by_status["ok"] if row.get("unstable")]
    counts = [f"{len(by_status['ok'])} ok" + (f" ({len(unstable)} unstable)" if unstable else "")]
    counts += [f"{len(by_status[status])} {status}" for status in ("skipped", "failed") if by_status[status]]
    if results.unavailable:
        counts.append(f"{len(results.unavailable)} group(s) not run")
    lines.append(f"{len(rows)} row(s): " + ", ".join(counts) + ".")

    def section(title: str, entries: list[str]) -> None:
        if entries:
            lines.append(f"{title}:")
            lines.extend(f"  {entry}" for entry in entries)

    def where(row: dict[str, Any]) -> str:
        return f"{row['backend']} {row['variant']} {row['device']} n={format_n(row['n'])}"

    section("skipped", [f"{where(row)}: {row['message']}" for row in by_status["skipped"]])
    section("failed", [f"{where(row)}: {row['message']}" for row in by_status["failed"]])
    section("unstable", [f"{where(row)}: spread {row['spread']:.1%}" for row in unstable])
    section("notes", [f"{where(row)}: {row['message']}" for row in by_status["ok"] if row.get("message")])
    section(
        "not run",
        [
            f"{item['backend']} {item['variant']} {item['device']}: {item['reason']}"
            for item in results.unavailable
        ],
    )
    return "\n".join(lines)


# --- plot --------------------------------------------------------------------------------------


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401  (checked before a sweep, not after it)
    except Exception as error:
        raise UsageError(
            f"charts need matplotlib, which does not import here ({type(error).__name__}: {error}); "
            "pip install 'jitpi[plot]'"
        ) from None


def _plot(data: dict[str, Any], out: str) -> list[str]:
    from jitpi import plotting

    return plotting.plot_all(data, out)


def cmd_plot(args: argparse.Namespace) -> int:
    data = sweep.load_results(args.results)
    _require_matplotlib()
    sweep.check_writable_folder(args.out, what="--out", create=True)
    written = _plot(data, args.out)
    for path in written:
        print(path)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from jitpi import report
    from jitpi.sweep.results import write_atomic

    page = report.results_page(args.results)
    targets = [(args.out, page)]
    if args.readme:
        try:
            with open(args.readme, encoding="utf-8") as stream:
                readme = stream.read()
            first_run = [sweep.load_results(args.results[0])]
            targets.append((args.readme, report.replace_leaderboard(readme, report.leaderboard(first_run))))
        except (OSError, ValueError) as error:
            raise UsageError(f"--readme {args.readme!r}: {error}") from None
    for path, text in targets:
        sweep.check_writable_file(path, what="--out" if path == args.out else "--readme")
        write_atomic(path, text)
        print(path)
    return EXIT_OK


def _parse_check(text: str, curves: Sequence[Any]) -> tuple[Any, float]:
    backend, _, rest = text.partition(":")
    variant, _, places = rest.partition(":")
    try:
        digits = float(places)
    except ValueError:
        raise UsageError(f"--check: {text!r} must be BACKEND:VARIANT:PLACES, e.g. numba:shared:4") from None
    if not 0 < digits <= 6:
        raise UsageError(
            f"--check: places must be above 0 and at most 6 (a cold run must finish), got {places!r}"
        )
    for curve in curves:
        if (curve.backend, curve.variant) == (backend, variant) and curve.has_cold:
            return curve, digits
    known = ", ".join(sorted(f"{c.backend}:{c.variant}" for c in curves if c.has_cold)) or "none"
    raise UsageError(f"--check: no cold start of {backend}:{variant} in the results (measured: {known})")


def cmd_precision(args: argparse.Namespace) -> int:
    from jitpi import precision, report
    from jitpi.sweep.results import write_atomic

    try:
        precision._z(args.confidence)
    except ValueError as error:
        raise UsageError(f"--confidence: {error}") from None
    curves = precision.curves_from_sweeps([sweep.load_results(path) for path in args.results])
    if not curves:
        raise UsageError("the results hold no measured rows (each row failed or was skipped)")
    checks = [_parse_check(text, curves) for text in args.check]
    if args.plot:
        _require_matplotlib()
        from jitpi import plotting

        first = sweep.load_results(args.results[0])
        from jitpi.sweep.machine import describe_machine

        footer = f"{describe_machine(first, separator='  |  ')}  |  {first.get('started', '')}"
        print(plotting.plot_precision(curves, args.plot, footer=footer, confidence=args.confidence))
    tables = report.precision_tables(curves, confidence=args.confidence)
    if checks:
        tables += "\n### The model against cold runs\n\n" + report.checks_table(
            [precision.check_cold(curve, digits, args.confidence) for curve, digits in checks]
        )
    if args.out:
        sweep.check_writable_file(args.out, what="--out")
        try:
            with open(args.out, encoding="utf-8") as stream:
                page = report.replace_between(
                    stream.read(), report.PRECISION_START, report.PRECISION_END, tables
                )
        except (OSError, ValueError) as error:
            raise UsageError(f"--out {args.out!r}: {error}") from None
        write_atomic(args.out, page)
        print(args.out)
    else:
        sys.stdout.write(tables)
    return EXIT_OK


def cmd_page(args: argparse.Namespace) -> int:
    from jitpi import site

    _require_matplotlib()
    print(site.write_page(args.asv_results, args.out, sweep_json=args.json, machine=args.machine))
    return EXIT_OK


def cmd_releases(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jitpi import releases

    if args.action == "run":
        if not args.backends:
            raise UsageError(f"releases run needs one or more backends among: {', '.join(releases.RELEASES)}")
        unknown = [backend for backend in args.backends if backend not in releases.RELEASES]
        if unknown:
            raise UsageError(
                f"backends must be among {', '.join(releases.RELEASES)}; got {', '.join(unknown)}"
            )
        return releases.run(args.backends, machine=args.machine, quick=args.quick)
    if args.backends:
        raise UsageError("releases report takes no backends: it reports every release with results")
    results = Path(args.results)
    if not results.is_dir():
        raise UsageError(f"--results {args.results!r} is not a folder of asv results")
    try:
        rows = releases.load_rows(results, args.machine, args.commit)
    except ValueError as error:
        raise UsageError(f"--commit: {error}") from None
    if not rows:
        raise UsageError(f"no release results under {args.results!r}: run `jitpi releases run BACKEND` first")
    _require_matplotlib()
    for path in releases.report(rows, Path(args.out)):
        print(path)
    return EXIT_OK


# --- output ------------------------------------------------------------------------------------


def format_rate(samples_per_s: float | None) -> str:
    if samples_per_s is None:
        return "-"
    millions = samples_per_s / 1e6
    return f"{millions:,.0f}" if millions >= 100 else f"{millions:.3g}"


def _table(header: Sequence[str], align: str) -> Table:
    """A table of plain cells (never read as markup): a bold header over a rule, no outer frame."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for name, side in zip(header, align, strict=True):
        table.add_column(name, justify="right" if side == ">" else "left")
    return table


_STATUS_STYLES = {"ok": "green", "skipped": "yellow", "failed": "bold red"}


def results_table(rows: Sequence[dict[str, Any]]) -> Table:
    header = [
        "backend",
        "variant",
        "device",
        "n",
        "first call",
        "median",
        "spread",
        "samples",
        "M samples/s",
        "pi_hat",
        "|error|",
        "z",
        "status",
    ]
    table = _table(header, "<<<>>>>>>>>><")
    for row in rows:
        ok = row["status"] == "ok"
        spread = Text("-")
        if ok and row.get("spread") is not None:
            spread = Text(f"{row['spread']:.1%}")
            if row.get("unstable"):
                spread = Text(f"{row['spread']:.1%} unstable", style="yellow")
        samples = f"{row['samples']}x{row['calls_per_sample']:,}" if ok and row.get("samples") else "-"
        table.add_row(
            row["backend"],
            row["variant"],
            row["device"],
            format_n(row["n"]),
            format_seconds(row["first_call_s"]) if row.get("first_call_s") is not None else "",
            format_seconds(row["median_s"]) if row.get("median_s") is not None else "-",
            spread,
            samples,
            format_rate(row.get("samples_per_s")),
            f"{row['pi_hat']:.7f}" if row.get("pi_hat") is not None else "-",
            f"{row['abs_error']:.1e}" if row.get("abs_error") is not None else "-",
            f"{row['z']:+.2f}" if row.get("z") is not None else "-",
            Text(row["status"] if ok else row["status"].upper(), style=_STATUS_STYLES.get(row["status"], "")),
        )
    return table


class _StepClock(ProgressColumn):
    """How long the current step (a first call, a warm-up, a sample) has been running."""

    def render(self, task: Task) -> Text:
        started = task.fields.get("step_started")
        if started is None:
            return Text("")
        return Text(f"{time.monotonic() - started:.0f} s in this step", style="dim")


class SweepProgress:
    """Progress of a sweep on stderr, with each finished row printed as it comes.

    On a terminal, a live line below the rows (rich): what runs now (group, n, first call, warm-up,
    calibration or sample k of r), for how long, rows done of all and the time so far. Elsewhere
    (a CI log), one plain line per finished row and per note, nothing redrawn.
    """

    def __init__(self, console: Console, *, total: int) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._live: Progress | None = None
        if console.is_terminal and not console.is_dumb_terminal:
            self._live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeElapsedColumn(),
                _StepClock(),
                console=console,
                transient=True,
            )
            self._task = self._live.add_task("starting", total=max(total, 1), step_started=None)
            self._live.start()

    def event(self, group: Group, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "start":
            self._describe(f"{group.label}: importing")
        elif kind == "step":
            self._describe(f"{group.label} n={format_n(event['n'])}: {event['step']}")
        elif kind == "row":
            self.done += 1
            self._print(self._row_line(event["row"]))
            if self._live is not None:
                self._live.update(self._task, completed=self.done, total=max(self.total, 1))

    def note(self, text: str) -> None:
        self._print(f"note: {text}")
        if self._live is not None:
            self._live.update(self._task, total=max(self.total, 1))

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _describe(self, text: str) -> None:
        if self._live is not None:
            self._live.update(self._task, description=text, step_started=time.monotonic(), refresh=True)

    def _print(self, text: str) -> None:
        self.console.print(Text(text), soft_wrap=True)

    def _row_line(self, row: dict[str, Any]) -> str:
        where = (
            f"[{self.done:>{len(str(self.total))}}/{self.total}] {row['backend']} {row['variant']} "
            f"{row['device']} n={format_n(row['n'])}"
        )
        if row["status"] == "ok":
            first = f", first call {format_seconds(row['first_call_s'])}" if row.get("first_call_s") else ""
            spread = f", spread {row['spread']:.1%}" if row.get("spread") is not None else ""
            unstable = " (unstable)" if row.get("unstable") else ""
            text = (
                f"{where}: {format_seconds(row['median_s'])} median{spread}{unstable}, "
                f"{format_rate(row['samples_per_s'])} M samples/s{first}"
            )
        else:
            text = f"{where}: {row['status']}: {row['message']}"
        minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
        return f"{text}  ({minutes}:{seconds:02d})"


if __name__ == "__main__":
    raise SystemExit(main())
