"""``jitpi``: list the backends, sweep them over n, and chart the results.

    jitpi list                          what can run here, and how
    jitpi run [options]                 sweep backends x variants x devices x n; table on stdout
    jitpi plot RESULTS.json --out DIR   PNG charts from a results file

Exit status: 0 success; 1 a row failed (or nothing could run); 2 a bad argument; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

import jitpi
from jitpi import sweep
from jitpi.sweep import Group, Results, UsageError, format_n, format_seconds

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    try:
        value = int(text, 0)
    except ValueError:
        raise UsageError(f"--seed: {text!r} is not an integer") from None
    if not 0 <= value < 2**64:
        raise UsageError(f"--seed: must be in [0, 2**64), got {value}")
    return value


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
            "included) apart from the steady state (median and spread of --repeat calls), with "
            "pi_hat, its absolute error and z. Each backend runs in its own process."
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
        metavar="N",
        help=f"sample counts: 1e6, 10**6, decade ranges low:high, comma lists "
        f"(default {sweep.DEFAULT_N}; --quick {sweep.QUICK_N})",
    )
    run.add_argument("--seed", default="0", help="stream seed, an integer in [0, 2**64) (default 0)")
    run.add_argument(
        "--repeat",
        metavar="R",
        help=f"steady-state calls per row (default {sweep.DEFAULT_REPEAT}; --quick {sweep.QUICK_REPEAT})",
    )
    run.add_argument(
        "--row-budget",
        metavar="SECONDS",
        help="seconds of steady-state calls one row may take, predicted from the throughput at the "
        "previous n: a row gets --repeat calls or as many as fit (at least one), and an n whose single "
        "call would not fit is skipped; 0 never skips "
        f"(default {sweep.DEFAULT_ROW_BUDGET_S:g}; --quick {sweep.QUICK_ROW_BUDGET_S:g})",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="a fast look: smaller n, fewer repeats (explicit --n/--repeat/--row-budget win)",
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
    return parser


def _check_scheduler(address: str) -> None:
    if importlib.util.find_spec("distributed") is None:
        raise UsageError("--scheduler needs dask.distributed: pip install 'jitpi[dask]'")
    if not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+(:\d+)?/?|[\w.-]+:\d+", address):
        raise UsageError(f"--scheduler must be a scheduler address such as tcp://host:8786, got {address!r}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return sweep.worker_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "run":
            return cmd_run(args)
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


# --- list --------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    backends = _names(args.backend, name="backend", choices=jitpi.BACKENDS) or jitpi.BACKENDS
    listing = sweep.list_backends([backend for backend in jitpi.BACKENDS if backend in backends])
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    rows = []
    for backend, entry in listing.items():
        for device, info in entry["devices"].items():
            rows.append(
                [
                    backend,
                    device,
                    entry["version"] or "-",
                    "yes" if info["available"] else "no",
                    info["mode"] or "-",
                    info["detail"],
                ]
            )
    print(
        render_table(
            ["backend", "device", "version", "available", "mode", "details / why not"], rows, align="<<<<<<"
        )
    )
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
    ns = sweep.parse_n(args.n if args.n is not None else n_text)
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
        "row_budget_s": row_budget,
        "cold_jit_cache": not args.warm_cache,
        "first_call": "first call of each (backend, variant, device) in a fresh process, at its first n; "
        "import excluded (import_s), compile included",
        "command": " ".join(["jitpi", *args.argv]),
    }
    results = Results(settings=settings)

    def save() -> None:
        sweep.write_results(results, json_path=args.json, csv_path=args.csv)

    save()
    progress = Progress(sys.stderr, total=len(groups) * len(ns))

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
            print(results_table(results.rows))
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
    print(results_table(results.rows))
    print(table_footer(results), file=sys.stderr)
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


def table_footer(results: Results) -> str:
    """Notes under the table: what the columns mean, and every skipped or failed row's message."""
    lines = [
        "first call = the first call of each backend, variant and device in its own fresh process, at its "
        "first n (compile included, import excluded); median and spread = (max - min) / median over "
        f"up to {results.settings['repeat']} steady-state calls; z = (pi_hat - pi) / sigma(n).",
    ]
    for row in results.rows:
        if row["status"] != "ok" or row.get("message"):
            lines.append(
                f"  {row['backend']} {row['variant']} {row['device']} n={format_n(row['n'])}: "
                f"{row['status']}: {row['message']}"
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


# --- output ------------------------------------------------------------------------------------


def format_rate(samples_per_s: float | None) -> str:
    if samples_per_s is None:
        return "-"
    millions = samples_per_s / 1e6
    return f"{millions:,.0f}" if millions >= 100 else f"{millions:.3g}"


def results_table(rows: Sequence[dict[str, Any]]) -> str:
    header = [
        "backend",
        "variant",
        "device",
        "n",
        "first call",
        "median",
        "spread",
        "M samples/s",
        "pi_hat",
        "|error|",
        "z",
        "status",
    ]
    body = []
    for row in rows:
        ok = row["status"] == "ok"
        spread = None
        if ok and row["median_s"] and row["repeat"] > 1:
            spread = (row["max_s"] - row["min_s"]) / row["median_s"]
        body.append(
            [
                row["backend"],
                row["variant"],
                row["device"],
                format_n(row["n"]),
                format_seconds(row["first_call_s"]) if row.get("first_call_s") is not None else "",
                format_seconds(row["median_s"]) if row.get("median_s") is not None else "-",
                f"{spread:.0%}" if spread is not None else "-",
                format_rate(row.get("samples_per_s")),
                f"{row['pi_hat']:.7f}" if row.get("pi_hat") is not None else "-",
                f"{row['abs_error']:.1e}" if row.get("abs_error") is not None else "-",
                f"{row['z']:+.2f}" if row.get("z") is not None else "-",
                row["status"] if ok else row["status"].upper(),
            ]
        )
    return render_table(header, body, align="<<<>>>>>>>><")


def render_table(header: list[str], body: list[list[str]], *, align: str) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=True)]

    def line(cells: list[str]) -> str:
        parts = [f"{cell!s:{side}{width}}" for cell, side, width in zip(cells, align, widths, strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, one plain line per row otherwise.

    Finished rows are printed above the bar as they come, so a long sweep shows its results early.
    """

    def __init__(self, stream: TextIO, *, total: int) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.current = ""
        self.call_started = self.started
        self.tty = stream.isatty()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.tty:
            self._ticker = threading.Thread(target=self._tick, name="jitpi-progress", daemon=True)
            self._ticker.start()

    def event(self, group: Group, event: dict[str, Any]) -> None:
        kind = event["event"]
        with self._lock:
            if kind == "start":
                self.current = f"{group.label}: importing"
                self.call_started = time.monotonic()
            elif kind == "call":
                which = "first call" if event["call"] == "first" else f"call {event['call']}"
                self.current = f"{group.label} n={format_n(event['n'])} {which}"
                self.call_started = time.monotonic()
            elif kind == "row":
                self.done += 1
                self._print_above(self._row_line(event["row"]))
                self.current = f"{group.label}"
            self._draw()

    def note(self, text: str) -> None:
        with self._lock:
            self._print_above(f"note: {text}")
            self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            self.tty = False

    def _row_line(self, row: dict[str, Any]) -> str:
        where = (
            f"[{self.done:>{len(str(self.total))}}/{self.total}] {row['backend']} {row['variant']} "
            f"{row['device']} n={format_n(row['n'])}"
        )
        if row["status"] == "ok":
            first = f", first call {format_seconds(row['first_call_s'])}" if row.get("first_call_s") else ""
            text = (
                f"{where}: {format_seconds(row['median_s'])} median, "
                f"{format_rate(row['samples_per_s'])} M samples/s{first}"
            )
        else:
            text = f"{where}: {row['status']}: {row['message']}"
        return f"{text}  ({self._clock(time.monotonic() - self.started)})"

    @staticmethod
    def _clock(seconds: float) -> str:
        minutes, seconds = divmod(int(seconds), 60)
        return f"{minutes}:{seconds:02d}"

    def _print_above(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        width = shutil.get_terminal_size((100, 20)).columns
        total = max(self.total, 1)
        bar_width = 24
        filled = min(bar_width, round(bar_width * self.done / total))
        now = time.monotonic()
        text = (
            f"[{'#' * filled}{'.' * (bar_width - filled)}] {self.done}/{self.total} "
            f"{self._clock(now - self.started)}  {self.current} "
            f"({now - self.call_started:.0f} s)"
        )
        self.stream.write("\r\x1b[K" + text[: width - 1])
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._draw()


if __name__ == "__main__":
    raise SystemExit(main())
