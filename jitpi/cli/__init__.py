"""``jitpi``: list the backends, sweep them over n, and chart the results.

    jitpi list                          what can run here, and how
    jitpi run [options]                 sweep backends x variants x devices x n; table on stdout
    jitpi plot RESULTS.json --out DIR   PNG charts from a results file
    jitpi report | precision | page | releases   Markdown, the comparison page, compilers' releases

Tables and progress are drawn with rich: on a terminal, live progress lines (what runs now and for
how long, rows done of all) and coloured statuses; where stdout or stderr is a pipe or a file (CI
logs), plain lines, one per finished row, no control characters, never wrapped.

The commands live in this package's modules: ``run`` (the sweep, its progress and its table),
``documents`` (plot, report, precision, page, releases), ``options`` (exit statuses and argument
checks) and ``console`` (rich on a terminal, plain text elsewhere).

Exit status: 0 success; 1 a row failed (or nothing could run); 2 a bad argument; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rich.text import Text

import jitpi
from jitpi import sweep
from jitpi.cli.console import plain_table, print_table
from jitpi.cli.documents import cmd_page, cmd_plot, cmd_precision, cmd_releases, cmd_report
from jitpi.cli.options import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Parser, UsageError, parse_names
from jitpi.cli.run import cmd_run
from jitpi.view.format import MISSING


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="jitpi",
        description="Monte Carlo pi on the JIT compilers of Python's frameworks: list, sweep, chart.",
        epilog="Exit status: 0 success, 1 a row failed, 2 bad arguments, 130 interrupted (Ctrl-C).",
    )
    parser.add_argument("--version", action="version", version=f"jitpi {jitpi.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
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


def cmd_list(args: argparse.Namespace) -> int:
    backends = parse_names(args.backend, name="backend", choices=jitpi.BACKENDS) or jitpi.BACKENDS
    listing = sweep.list_backends([backend for backend in jitpi.BACKENDS if backend in backends])
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    table = plain_table(["backend", "device", "version", "available", "mode", "details / why not"], "<<<<<<")
    for backend, entry in listing.items():
        for device, info in entry["devices"].items():
            available = Text("yes", style="green") if info["available"] else Text("no", style="yellow")
            table.add_row(
                backend,
                device,
                entry["version"] or MISSING,
                available,
                info["mode"] or MISSING,
                info["detail"],
            )
    print_table(table, sys.stdout)
    return EXIT_OK
