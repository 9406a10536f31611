"""``jitpi run``: the sweep as the command line drives it, its progress on stderr while it runs,
and the table and summary of its rows when it ends."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.console import Group as Lines
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

import jitpi
from jitpi import sweep
from jitpi.cli.console import console_for, plain_table, print_table
from jitpi.cli.documents import plot_charts, require_matplotlib
from jitpi.cli.options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    check_scheduler,
    parse_names,
    parse_positive_int,
    parse_seconds,
    parse_seed,
)
from jitpi.sweep import Group, Results, Row
from jitpi.view.format import MISSING, n_label, rate, seconds


def cmd_run(args: argparse.Namespace) -> int:
    explicit_backends = parse_names(args.backend, name="backend", choices=jitpi.BACKENDS)
    backends = explicit_backends or list(jitpi.BACKENDS)
    variants = parse_names(args.variant, name="variant", choices=jitpi.VARIANTS) or ["native"]
    devices = parse_names(args.device, name="device", choices=jitpi.DEVICES) or ["cpu"]
    if args.quick:
        n_text, repeat, row_budget = sweep.QUICK_N, sweep.QUICK_REPEAT, sweep.QUICK_ROW_BUDGET_S
    else:
        n_text, repeat, row_budget = sweep.DEFAULT_N, sweep.DEFAULT_REPEAT, sweep.DEFAULT_ROW_BUDGET_S
    ns = sweep.parse_n_options(args.n if args.n is not None else [n_text])
    if args.repeat is not None:
        repeat = parse_positive_int(args.repeat, what="--repeat")
    if args.row_budget is not None:
        row_budget = parse_seconds(args.row_budget, what="--row-budget")
    seed = parse_seed(args.seed)
    if args.json:
        sweep.check_writable_file(args.json, what="--json")
    if args.csv:
        sweep.check_writable_file(args.csv, what="--csv")
    if args.json and args.csv and os.path.abspath(args.json) == os.path.abspath(args.csv):
        raise UsageError("--json and --csv name the same file")
    if args.plot:
        require_matplotlib()
        sweep.check_writable_folder(args.plot, what="--plot", create=True)

    if args.scheduler is not None:
        check_scheduler(args.scheduler)
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
            written = plot_charts(results.as_dict(), args.plot)
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
        status: [row for row in rows if row.status == status] for status in ("ok", "skipped", "failed")
    }
    unstable = [row for row in by_status["ok"] if row.unstable]
    counts = [f"{len(by_status['ok'])} ok" + (f" ({len(unstable)} unstable)" if unstable else "")]
    counts += [f"{len(by_status[status])} {status}" for status in ("skipped", "failed") if by_status[status]]
    if results.unavailable:
        counts.append(f"{len(results.unavailable)} group(s) not run")
    lines.append(f"{len(rows)} row(s): " + ", ".join(counts) + ".")

    def section(title: str, entries: list[str]) -> None:
        if entries:
            lines.append(f"{title}:")
            lines.extend(f"  {entry}" for entry in entries)

    def where(row: Row) -> str:
        return f"{row.backend} {row.variant} {row.device} n={n_label(row.n)}"

    section("skipped", [f"{where(row)}: {row.message}" for row in by_status["skipped"]])
    section("failed", [f"{where(row)}: {row.message}" for row in by_status["failed"]])
    section("unstable", [f"{where(row)}: spread {row.spread:.1%}" for row in unstable])
    section("notes", [f"{where(row)}: {row.message}" for row in by_status["ok"] if row.message])
    section(
        "not run",
        [
            f"{item['backend']} {item['variant']} {item['device']}: {item['reason']}"
            for item in results.unavailable
        ],
    )
    return "\n".join(lines)


_STATUS_STYLES = {"ok": "green", "skipped": "yellow", "failed": "bold red"}


def results_table(rows: Sequence[Row]) -> Table:
    """One line per row. The first call is measured at each group's first n only: blank elsewhere."""
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
    table = plain_table(header, "<<<>>>>>>>>><")
    for row in rows:
        ok = row.status == "ok"
        spread = Text(MISSING)
        if ok and row.spread is not None:
            spread = Text(f"{row.spread:.1%}")
            if row.unstable:
                spread = Text(f"{row.spread:.1%} unstable", style="yellow")
        samples = f"{row.samples}x{row.calls_per_sample:,}" if ok and row.samples else MISSING
        table.add_row(
            row.backend,
            row.variant,
            row.device,
            n_label(row.n),
            seconds(row.first_call_s) if row.first_call_s is not None else "",
            seconds(row.median_s),
            spread,
            samples,
            rate(row.samples_per_s),
            f"{row.pi_hat:.7f}" if row.pi_hat is not None else MISSING,
            f"{row.abs_error:.1e}" if row.abs_error is not None else MISSING,
            f"{row.z:+.2f}" if row.z is not None else MISSING,
            Text(row.status if ok else row.status.upper(), style=_STATUS_STYLES.get(row.status, "")),
        )
    return table


class SweepProgress:
    """Progress of a sweep on stderr, with each finished row printed as it comes.

    On a terminal, two live lines below the rows (rich's progress columns): what runs now (group, n,
    first call, warm-up, calibration or sample k of r) and for how long; then rows done of all and
    the time so far. Elsewhere (a CI log), one plain line per finished row and per note, nothing
    redrawn.
    """

    def __init__(self, console: Console, *, total: int) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._live: Live | None = None
        if console.is_terminal and not console.is_dumb_terminal:
            self._step = Progress(
                SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn()
            )
            self._rows = Progress(
                BarColumn(bar_width=20), MofNCompleteColumn(), TextColumn("rows"), TimeElapsedColumn()
            )
            self._step_task = self._step.add_task("starting", total=None)
            self._rows_task = self._rows.add_task("rows", total=max(total, 1))
            self._live = Live(
                Lines(self._step, self._rows), console=console, transient=True, refresh_per_second=10
            )
            self._live.start()

    def event(self, group: Group, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "start":
            self._describe(f"{group.label}: importing")
        elif kind == "step":
            self._describe(f"{group.label} n={n_label(event['n'])}: {event['step']}")
        elif kind == "row":
            self.done += 1
            self._print(self._row_line(event["row"]))
            if self._live is not None:
                self._rows.update(self._rows_task, completed=self.done, total=max(self.total, 1))

    def note(self, text: str) -> None:
        self._print(f"note: {text}")
        if self._live is not None:
            self._rows.update(self._rows_task, total=max(self.total, 1))

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _describe(self, text: str) -> None:
        """A new step: its description, and its clock started again."""
        if self._live is not None:
            self._step.reset(self._step_task, description=text)
            self._live.refresh()

    def _print(self, text: str) -> None:
        self.console.print(Text(text), soft_wrap=True)

    def _row_line(self, row: Row) -> str:
        where = (
            f"[{self.done:>{len(str(self.total))}}/{self.total}] {row.backend} {row.variant} "
            f"{row.device} n={n_label(row.n)}"
        )
        if row.status == "ok":
            first = f", first call {seconds(row.first_call_s)}" if row.first_call_s else ""
            spread = f", spread {row.spread:.1%}" if row.spread is not None else ""
            unstable = " (unstable)" if row.unstable else ""
            text = (
                f"{where}: {seconds(row.median_s)} median{spread}{unstable}, "
                f"{rate(row.samples_per_s)} M samples/s{first}"
            )
        else:
            text = f"{where}: {row.status}: {row.message}"
        minutes, whole_seconds = divmod(int(time.monotonic() - self.started), 60)
        return f"{text}  ({minutes}:{whole_seconds:02d})"
