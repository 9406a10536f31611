"""Run ``asv run`` with a readable terminal: progress, failures as they happen, a summary at the end.

    python tools/bench.py [--log FILE] [--skipped FILE] [--plain] [--no-machine] [--] ASV_RUN_ARGS...

It runs ``asv machine --yes`` (unless --no-machine), then ``asv run`` with everything after ``--``
(or every argument this script does not know) unchanged; ``--show-stderr`` is added when
missing, since the skip reasons arrive through it. asv's whole output, unfiltered, goes to the
log (default ``.asv/bench.log``); the terminal gets:

- the phases asv goes through (environments, build, discovery);
- the benchmark running now (``module.Class.method``, how many of its parameter combinations are
  selected, the combination in its process now, for how long);
- how far the whole run is: combinations done out of all (one process each, per round), elapsed
  time and, where earlier runs on this machine timed the same combinations, the time left;
- each failed combination as soon as asv reports its benchmark, with the log line to read;
- at the end: measured, failed and skipped, the skips grouped by reason (every skipped
  combination with its own reason goes to ``.asv/skipped.txt``), and the yardstick's time where
  the run measured it: ``benchmarks/bench_yardstick.py``, a fixed numpy count that no jitpi commit
  changes, which says how fast the machine counted, without which a run time cannot be compared
  with another day's.

A terminal gets a live progress bar (rich); anything else (CI, a pipe) gets plain lines, with a
progress line at most once a minute. The exit status is asv's (2 when a benchmark failed).

How it knows: asv prints a parametrised benchmark only once all its combinations have run, so
the combination running now is read from asv's child processes (``/proc``: each combination is
``python .../asv/benchmark.py run DIR NAME-INDEX ...``), and the selection and rounds from the
``benchmarks.json`` asv writes after discovery, selected with asv's own ``Benchmarks`` class.
Results come from asv's per-benchmark tables and its ``For parameters: ...`` blocks (``-e``).
The time estimate uses how long each combination took (its process and asv's work around it) in
the last run of the same kind on this checkout (quick or full, same ``-a`` attributes), kept in
``.asv/bench-times.json``; what that run did not time is estimated from this run's pace, and
the estimate then says it is rough.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import codecs
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

LOG = Path(".asv/bench.log")
SKIPPED = Path(".asv/skipped.txt")
TIMES = Path(".asv/bench-times.json")
# asv truncates benchmark names to the terminal width less 33 and folds tables to 3/4 of it;
# its child gets a wide one so that every name arrives whole.
ASV_COLUMNS = "250"
PLAIN_HEARTBEAT_S = 60.0
# How often asv's processes are looked at (a combination's process lives a second or more).
POLL_S = 0.5
MAX_FAILURES_SHOWN = 5

# asv's console lines: "[ 12.50%] ··· text" once the run has a total, "· text" before.
MESSAGE = re.compile(r"^(?:\[\s*(?P<pct>\d+(?:\.\d+)?)%\] )?(?P<dots>·+) (?P<text>.*)$")
TOTAL = re.compile(
    r"^Running (\d+) total benchmarks \((\d+) commits \* (\d+) environments \* (\d+) benchmarks\)"
)
SKIP_LINE = re.compile(r"^asv: skipped: (?P<cls>[\w.]*)\((?P<args>.*)\)\s*$")
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")
SEPARATOR = re.compile(r"^[=\- ]+$")
# What a fork of asv's server running one of jitpi's combinations calls itself (benchmarks/common.py).
FORKED_COMBINATION = re.compile(r"^asv:(?P<tag>[0-9a-f]{3}):(?P<idx>\d+)$")
# What a new user waits through the first time.
PHASE_HINTS = {
    "Creating environments": " (a new one installs every framework in asv.conf.json's matrix: minutes)",
}
NO_REASON = "no reason given (n/a without a message: a skip decorator, or a NaN result)"
# The benchmark whose time says how fast this machine counts today: a run time compares with
# another machine's, or another day's on a shared host, only beside it (benchmarks/README.md).
# Not parametrised, so asv's key is its bare name; not jitpi's code, so no commit moves it.
YARDSTICK = "bench_yardstick.Yardstick.time_quarter_circle"


# --------------------------------------------------------------------------------------------
# The suite as asv selected it


@dataclass
class Bench:
    """One asv benchmark: its parameter grid, the combinations selected, its rounds."""

    name: str
    params: list[list[str]]  # each parameter's values, as asv's reprs ("'numpy'")
    selected: list[int | None]  # indices into the product, [None] for an unparametrised one
    rounds: int

    @cached_property
    def combos(self) -> list[tuple[str, ...]]:
        """Every combination, in asv's order (the product of the parameters' values)."""
        return list(itertools.product(*self.params)) if self.params else []

    @property
    def size(self) -> int:
        return len(self.combos) if self.params else 1

    def key(self, idx: int | None) -> str:
        """What asv calls a combination: "name('numpy', 'native', 'cpu', '1e5')"."""
        return self.name if idx is None else f"{self.name}({self.args(idx)})"

    def args(self, idx: int) -> str:
        return ", ".join(self.combos[idx])

    def values(self, idx: int | None) -> list[str]:
        return [] if idx is None else [value.strip("'\"") for value in self.combos[idx]]

    def describe(self) -> str:
        if not self.params:
            return self.name
        if len(self.selected) == self.size:
            return f"{self.name} ({plural(self.size, 'combination')})"
        return f"{self.name} ({len(self.selected)} of {plural(self.size, 'combination')})"


@dataclass
class Entry:
    """One process asv will start: a combination of a benchmark in one round of one pass."""

    bench: Bench
    idx: int | None
    round: int


def load_suite(asv_args: list[str]) -> tuple[dict[str, Bench], list[list[Entry]], bool]:
    """The selected benchmarks; per round in asv's order, the processes asv will start; and whether
    asv interleaves the rounds across commits (one "Benchmarking" pass per round).

    Read after asv has printed "Running N total benchmarks": discovery has then written
    benchmarks.json. The selection and the order are asv's own (``Benchmarks``, run_benchmarks).
    """
    from asv.benchmarks import Benchmarks
    from asv.commands import make_argparser
    from asv.config import Config

    parser, _ = make_argparser()
    args = parser.parse_args(["run", *asv_args])
    benchmarks = Benchmarks.load(Config.load(args.config), regex=args.bench)
    attributes = args.attribute or {}
    suite = {}
    for name in sorted(benchmarks):
        info = benchmarks[name]
        if args.quick:
            rounds = 1
        elif "rounds" in attributes:
            rounds = int(attributes["rounds"])
        else:
            rounds = int(info.get("rounds") or 1)
        selection = benchmarks.benchmark_selection.get(name)
        selected = [None] if not info["params"] else list(selection or [])
        suite[name] = Bench(name, info["params"], selected, rounds)
    # run_benchmarks: rounds from the highest down, benchmarks grouped by setup_cache_key.
    order: dict[object, list[Bench]] = {}
    for name in sorted(benchmarks):
        order.setdefault(benchmarks[name].get("setup_cache_key"), []).append(suite[name])
    max_rounds = max((bench.rounds for bench in suite.values()), default=1)
    rounds = []
    for run_round in range(max_rounds, 0, -1):
        rounds.append(
            [
                Entry(bench, idx, run_round)
                for group in order.values()
                for bench in group
                if bench.rounds >= run_round
                for idx in bench.selected
            ]
        )
    return suite, rounds, bool(args.interleave_rounds)


# --------------------------------------------------------------------------------------------
# asv's output


@dataclass
class Message:
    """One asv log message: its first line, the continuation lines, where it is in the log."""

    dots: int
    text: str
    line_no: int
    rest: list[str] = field(default_factory=list)

    def body(self) -> list[str]:
        """The message's lines as asv was given them (asv indents the continuation lines)."""
        rest = textwrap.dedent("\n".join(self.rest)).split("\n") if self.rest else []
        return [self.text, *rest]


@dataclass
class Outcome:
    bench: str
    key: str
    status: str  # "measured", "failed" or "skipped"
    detail: str = ""  # the value, the skip reason, or the failure's last line
    line_no: int | None = None
    values: list[str] = field(default_factory=list)


def split_blocks(message: Message) -> tuple[dict[str, tuple[list[str], int]], list[str]]:
    """asv's stderr message: {"'a', 'gpu'": (lines, log line)} per "For parameters:" block, and
    the lines before any such block (an unparametrised benchmark's whole output)."""
    blocks: dict[str, tuple[list[str], int]] = {}
    loose: list[str] = []
    current: list[str] | None = None
    for offset, line in enumerate(message.body()):
        if line.startswith("For parameters: "):
            current = []
            blocks[line[len("For parameters: ") :].strip()] = (current, message.line_no + offset)
        elif current is not None:
            current.append(line)
        else:
            loose.append(line)
    return blocks, loose


def skip_reason(lines: list[str]) -> str | None:
    """The reason in asv_runner's "asv: skipped: SkipNotImplemented('...')" line, if any."""
    for line in lines:
        match = SKIP_LINE.match(line.strip())
        if match:
            try:
                values = ast.literal_eval(f"({match['args']},)") if match["args"].strip() else ()
            except (ValueError, SyntaxError):
                return match["args"] or NO_REASON
            return " ".join(str(value) for value in values) or NO_REASON
    return None


def failure_line(lines: list[str]) -> str:
    """The line that says what went wrong: the exception, or asv's timeout note."""
    useful = [line.strip() for line in lines if line.strip()]
    useful = [line for line in useful if not line.startswith("asv: benchmark failed (exit status")]
    for line in reversed(useful):
        if line.startswith("asv: benchmark timed out"):
            return line
    return useful[-1] if useful else "failed (no output; see the log)"


def table_values(message: Message, bench: Bench) -> list[str] | None:
    """Every combination's cell, in product order, from asv's result table; None if unreadable.

    asv prints the grid as a reStructuredText table, folding trailing parameters into columns
    when it fits the width: rows and then columns run in product order either way.
    """
    lines = message.body()
    if not lines or not lines[0].startswith("="):
        return None
    folded = len(lines) > 1 and lines[1].lstrip().startswith("--")
    start = 5 if folded else 3
    rows = []
    for line in lines[start:]:
        if line.strip() and SEPARATOR.match(line):
            break
        rows.append(line.split())
    if not rows or bench.size % len(rows):
        return None
    per_row = bench.size // len(rows)
    if any(len(row) < per_row for row in rows):
        return None
    return [cell for row in rows for cell in row[-per_row:]]


class Report:
    """The messages asv prints for one benchmark once its final round is done."""

    def __init__(self, bench: Bench, message: Message, info: str):
        self.bench = bench
        self.dots = message.dots
        self.line_no = message.line_no
        self.info = info
        self.table: Message | None = None
        self.errors: list[Message] = []

    def takes(self, message: Message) -> bool:
        if message.dots > self.dots:
            return True
        return message.dots == self.dots and message.text.startswith("=") and self.table is None

    def add(self, message: Message) -> None:
        if message.dots == self.dots:
            self.table = message
        else:
            self.errors.append(message)

    def outcomes(self) -> list[Outcome]:
        bench = self.bench
        blocks: dict[str, tuple[list[str], int]] = {}
        loose: list[str] = []
        loose_line = self.line_no
        for message in self.errors:
            found, rest = split_blocks(message)
            blocks.update(found)
            if rest and not loose:
                loose, loose_line = rest, message.line_no
        if not bench.params:
            return [self._single(loose, loose_line)]
        cells = table_values(self.table, bench) if self.table else None
        failed_count = self._failed_count()
        results = []
        for idx in bench.selected:
            args = bench.args(idx)
            lines, line_no = blocks.get(args, ([], None))
            reason = skip_reason(lines)
            if cells is not None:
                cell = cells[idx]
                status = "failed" if cell == "failed" else "skipped" if cell == "n/a" else "measured"
            elif reason is not None:
                status, cell = "skipped", "n/a"
            elif failed_count and any(line.startswith("Traceback") or "asv: " in line for line in lines):
                status, cell = "failed", "failed"
            else:
                status, cell = "measured", ""
            if status == "skipped":
                detail = reason or NO_REASON
            elif status == "failed":
                detail = failure_line(lines)
            else:
                detail = cell
            results.append(Outcome(bench.name, bench.key(idx), status, detail, line_no, bench.values(idx)))
        return results

    def _failed_count(self) -> int:
        if self.info == "failed":
            return len(self.bench.selected)
        match = re.match(r"(\d+)/\d+ failed", self.info)
        return int(match[1]) if match else 0

    def _single(self, lines: list[str], line_no: int) -> Outcome:
        name = self.bench.name
        if self.info == "failed":
            return Outcome(name, name, "failed", failure_line(lines), line_no)
        if self.info == "n/a":
            return Outcome(name, name, "skipped", skip_reason(lines) or NO_REASON, line_no)
        return Outcome(name, name, "measured", self.info, self.line_no)


# --------------------------------------------------------------------------------------------
# The run's state, fed by asv's output (main thread) and by the process watcher (a thread)


class Run:
    def __init__(self, asv_args: list[str], history: dict[str, float]):
        self.asv_args = asv_args
        self.history = history
        self.lock = threading.RLock()
        self.started = time.monotonic()
        self.phase = "starting asv"
        self.suite: dict[str, Bench] = {}
        self.schedule: list[Entry] = []
        self.pass_starts: list[int] = []
        self.passes_seen = 0
        self.done = 0  # schedule entries finished
        self.done_since = time.monotonic()  # when self.done last moved
        self.current: int | None = None  # the entry whose process runs now
        self.current_since = 0.0
        self.process_label = ""  # what a process outside the schedule does (discovery ...)
        self.block_seen: set[int] = set()
        self.block_starts: list[int] = []  # where each block (a benchmark in one round) begins
        self.block_labels: list[str] = []  # "round 1/2, benchmark 3/4"
        self.final_started_at: dict[str, float] = {}
        self.outcomes: list[Outcome] = []
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.bench_durations: dict[str, list[float]] = defaultdict(list)
        self.pending: Message | None = None
        self.report: Report | None = None
        self.suite_error: str | None = None
        self.watching = False  # whether asv's processes are seen (/proc), hence each combination
        self.events: list[tuple[str, object]] = []  # for the view: ("phase"|"start"|"result", ...)

    # -- asv's output ---------------------------------------------------------------------

    def feed(self, line: str, line_no: int) -> None:
        match = MESSAGE.match(line)
        with self.lock:
            if match:
                self._flush()
                self.pending = Message(len(match["dots"]), match["text"], line_no)
            elif self.pending is not None and (not line or line.startswith(" ")):
                self.pending.rest.append(line)
            else:
                self._flush()  # a line that is not asv's log (a warning on asv's stderr): the log keeps it

    def partial(self, text: str) -> None:
        """An unfinished line, which is news: asv ends a message's line only when the next message
        begins, so "Creating environments" stays unfinished while the frameworks install, and a
        benchmark's name while all its combinations run."""
        match = MESSAGE.match(text)
        if not match:
            return
        with self.lock:
            self._flush()
            if not match["text"]:
                return  # the dots are complete, the text not yet
            message = Message(len(match["dots"]), match["text"], 0)
            if self.report is not None and not self.report.takes(message):
                self._close_report()  # the next benchmark has begun: report this one now
            name = match["text"].split(" ", 1)[0]
            if name in self.suite:
                self._final_started(name)
            elif self.report is None and not match["text"].startswith(("=", "Running (")):
                self._phase(match["text"].rstrip())

    def close(self) -> None:
        with self.lock:
            self._flush()
            self._close_report()

    def _flush(self) -> None:
        message, self.pending = self.pending, None
        if message is None:
            return
        if self.report is not None:
            if self.report.takes(message):
                self.report.add(message)
                return
            self._close_report()
        self._handle(message)

    def _handle(self, message: Message) -> None:
        text = message.text.rstrip()
        first, _, rest = text.partition(" ")
        if first in self.suite:
            info = rest.strip()
            if info.startswith("skipped"):  # a failed environment or setup_cache: asv fails them all
                why = (
                    "asv: setup_cache failed"
                    if "setup_cache" in info
                    else "asv: the environment failed to build"
                )
                bench = self.suite[first]
                self._record(
                    [Outcome(first, bench.key(idx), "failed", why, message.line_no) for idx in bench.selected]
                )
                return
            self._final_started(first)
            if info:  # without one the benchmark never finished (asv interrupted or crashed)
                self.report = Report(self.suite[first], message, info)
            return
        if text.startswith("Running (") and text.rstrip(".").endswith("--)"):
            name = text.rstrip(".")[len("Running (") : -len("--)")]
            if name in self.suite:
                self._advance_to_block(name, final=False)
            return
        total = TOTAL.match(text)
        if total:
            self._load(int(total[2]), int(total[3]))
        elif text.startswith("Benchmarking "):
            if self.pass_starts:
                self._advance(self.pass_starts[min(self.passes_seen, len(self.pass_starts) - 1)])
            self.passes_seen += 1
            self.done_since = time.monotonic()  # the build before a pass is no combination's time
        self._phase(text)

    def _phase(self, text: str) -> None:
        """What asv does now, said once (the unfinished line and then the finished one)."""
        if text != self.phase:
            self.phase = text
            self.events.append(("phase", text))

    def _close_report(self) -> None:
        report, self.report = self.report, None
        if report is None:
            return
        self._final_done(report.bench.name)
        self._record(report.outcomes(), report.bench)

    def _record(self, outcomes: list[Outcome], bench: Bench | None = None) -> None:
        self.outcomes.extend(outcomes)
        since = self.final_started_at.get(bench.name) if bench else None
        took = time.monotonic() - since if since is not None else None
        self.events.append(("result", (bench, outcomes, took)))

    def _load(self, commits: int, environments: int) -> None:
        try:
            self.suite, rounds, interleave = load_suite(self.asv_args)
        except Exception as error:  # the display degrades to asv's own lines; the run goes on
            self.suite_error = f"{type(error).__name__}: {error}"
            return
        # One pass per commit and environment ("Benchmarking ..."); with --interleave-rounds,
        # one per round, commit and environment.
        count = commits * environments
        if interleave:
            passes = [[run_round] for run_round in rounds for _ in range(count)]
        else:
            passes = [rounds] * count
        max_rounds = len(rounds)
        for number, pass_rounds in enumerate(passes):
            self.pass_starts.append(len(self.schedule))
            for entries in pass_rounds:
                names = list(dict.fromkeys(entry.bench.name for entry in entries))
                for entry in entries:
                    previous = self.schedule[-1] if self.schedule else None
                    if previous is None or previous.bench is not entry.bench or previous.round != entry.round:
                        parts = [f"pass {number + 1}/{len(passes)}"] if len(passes) > 1 else []
                        if max_rounds > 1:
                            parts.append(f"round {max_rounds - entry.round + 1}/{max_rounds}")
                        parts.append(f"benchmark {names.index(entry.bench.name) + 1}/{len(names)}")
                        self.block_starts.append(len(self.schedule))
                        self.block_labels.append(", ".join(parts))
                    self.schedule.append(entry)

    # -- positions in the schedule --------------------------------------------------------

    def _find(self, test, start: int | None = None) -> int | None:
        for j in range(self.done if start is None else start, len(self.schedule)):
            if test(self.schedule[j]):
                return j
        return None

    def _advance_to_block(self, name: str, final: bool) -> int | None:
        j = self._find(lambda e: e.bench.name == name and (e.round == 1 or not final))
        if j is not None:
            self._advance(j)
            self._block_start(j)
        return j

    def _final_started(self, name: str) -> None:
        self._advance_to_block(name, final=True)

    def _final_done(self, name: str) -> None:
        j = self._find(lambda e: e.bench.name == name and e.round == 1)
        if j is None:
            return
        while j < len(self.schedule) and self.schedule[j].bench.name == name and self.schedule[j].round == 1:
            j += 1
        self._advance(j)
        if self.current is not None and self.current < self.done:
            self.current = None

    def _block_start(self, j: int) -> None:
        number = self._block_number(j)
        if number not in self.block_seen:
            self.block_seen.add(number)
            entry = self.schedule[j]
            if entry.round == 1:
                self.final_started_at[entry.bench.name] = time.monotonic()
            self.events.append(("start", (entry, self.block_labels[number])))

    def _block_number(self, j: int) -> int:
        """Which block (one benchmark in one round of one pass) entry j is in, from 0."""
        return bisect.bisect_right(self.block_starts, j) - 1

    # -- the process watcher --------------------------------------------------------------

    def bench_by_tag(self) -> dict[str, str]:
        """The selected benchmarks by the tag their forked processes carry (a tag two share: neither)."""
        with self.lock:
            tags: dict[str, list[str]] = defaultdict(list)
            for name in self.suite:
                tags[class_tag(name)].append(name)
            return {tag: names[0] for tag, names in tags.items() if len(names) == 1}

    def process_started(self, name: str, idx: int | None, mode: str) -> None:
        with self.lock:
            if mode != "run":
                return
            j = self._find(lambda e: e.bench.name == name and e.idx == idx)
            if j is None:
                return
            self._advance(j)
            self.current, self.current_since = j, time.monotonic()
            # A final round's benchmark is announced by asv's own line, which comes after the
            # previous benchmark's report; a process seen here could overtake that report.
            if self.schedule[j].round > 1:
                self._block_start(j)

    def process_ended(self, name: str, idx: int | None, mode: str) -> None:
        with self.lock:
            if mode != "run" or self.current is None:
                return
            entry = self.schedule[self.current]
            if entry.bench.name == name and entry.idx == idx:
                self._advance(self.current + 1)
                self.current = None

    def _advance(self, j: int) -> None:
        """Entries before j are done. The time since the last move is theirs, shared evenly: a
        combination's process and asv's work around it, and processes too short to be seen."""
        if j <= self.done:
            return
        now = time.monotonic()
        share = (now - self.done_since) / (j - self.done)
        for entry in self.schedule[self.done : j]:
            self.durations[entry.bench.key(entry.idx)].append(share)
            self.bench_durations[entry.bench.name].append(share)
        self.done, self.done_since = j, now

    # -- what the view shows --------------------------------------------------------------

    def status(self) -> dict:
        with self.lock:
            now = time.monotonic()
            position = self.current if self.current is not None else self.done
            benchmarking = self.passes_seen > 0 and position < len(self.schedule)
            entry = self.schedule[position] if benchmarking else None
            status = {
                "elapsed": now - self.started,
                "phase": self.phase,
                "doing": self.process_label,
                "done": self.done,
                "total": len(self.schedule),
                "entry": entry,
                "running_for": now - self.current_since if self.current is not None else None,
                "watching": self.watching,
                "block": self._block_number(position) if entry else None,
                "eta": self._eta(now) if benchmarking else None,
            }
            if entry is not None:
                status["label"] = self.block_labels[status["block"]]
                status["in_block"] = position - self.block_starts[status["block"]]
                status["block_size"] = len(entry.bench.selected)
            return status

    def _eta(self, now: float) -> tuple[float, bool] | None:
        """Seconds left and whether the estimate is rough (mostly this run's pace, not history)."""
        if not self.schedule or self.done >= len(self.schedule):
            return None
        observed = [s for runs in self.bench_durations.values() for s in runs]
        pace = sum(observed) / len(observed) if observed else None
        known = guessed = 0.0
        for j in range(self.done, len(self.schedule)):
            entry = self.schedule[j]
            key = entry.bench.key(entry.idx)
            if key in self.history:
                seconds, from_history = self.history[key], True
            elif len(self.bench_durations.get(entry.bench.name, ())) >= 3:
                runs = self.bench_durations[entry.bench.name]
                seconds, from_history = sum(runs) / len(runs), False
            elif pace is not None:
                seconds, from_history = pace, False
            else:
                return None
            if j == self.current:
                seconds = max(seconds - (now - self.current_since), 0.5)
            if from_history:
                known += seconds
            else:
                guessed += seconds
        total = known + guessed
        return total, guessed > 0.25 * total


# --------------------------------------------------------------------------------------------
# asv's benchmark processes, seen in /proc


class Watcher(threading.Thread):
    """Polls /proc for asv's benchmark processes: each is one combination (or discovery, or
    setup_cache).

    With ``launch_method: spawn`` they are asv's children, and their command line names the
    combination. With ``forkserver`` (jitpi's) they are children of asv's ``run_server`` child,
    all with its command line; the suite names each (``benchmarks/common.py``, ``process_name``:
    "asv:TAG:INDEX") as soon as its setup starts, and a fork not named yet is looked at again."""

    def __init__(self, pid: int, run: Run):
        super().__init__(daemon=True)
        self.pid = pid
        self.run_state = run
        self.stop = threading.Event()
        self.live: dict[int, tuple[str, int | None, str, float]] = {}
        self.labels: dict[int, str] = {}

    @staticmethod
    def available() -> bool:
        return Path("/proc/self/stat").exists()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(Exception):  # a display helper must never stop the run
                self.poll()
            self.stop.wait(POLL_S)

    @staticmethod
    def children(parents: set[int]) -> dict[int, tuple[int, list[str]]]:
        """pid -> (parent pid, command line) of every process whose parent is in ``parents``."""
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                if parent not in parents:
                    continue
                argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            found[int(entry.name)] = (parent, [arg.decode(errors="replace") for arg in argv])
        return found

    def identify(self, pid: int, parent: int, argv: list[str]) -> tuple[str, int | None, str] | None:
        """(benchmark name, combination index, asv's mode) of one process; None: not yet known."""
        if parent != self.pid:  # a fork of asv's server: its name says which combination it is
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                return None
            match = FORKED_COMBINATION.match(name)
            bench = match and self.run_state.bench_by_tag().get(match["tag"])
            return (bench, int(match["idx"]), "run") if bench else None
        if len(argv) >= 4 and argv[1].endswith(os.path.join("asv", "benchmark.py")):
            mode = argv[2]
            name, idx = (argv[4] if len(argv) > 4 else ""), None
            head, _, tail = name.rpartition("-")
            if tail.isdigit() and head in self.run_state.suite:
                name, idx = head, int(tail)
            return name, idx, mode
        return "", None, "other"

    def poll(self) -> None:
        now = time.monotonic()
        direct = self.children({self.pid})
        servers = {pid for pid, (_, argv) in direct.items() if argv[2:3] == ["run_server"]}
        found = {**direct, **(self.children(servers) if servers else {})}
        for pid, (parent, argv) in found.items():
            if pid in self.live or pid in servers:
                continue
            known = self.identify(pid, parent, argv)
            if known is None:
                continue
            name, idx, mode = known
            self.live[pid] = (name, idx, mode, now)
            self.labels[pid] = describe_process(argv) if parent == self.pid else ""
            self.run_state.process_started(name, idx, mode)
        for pid in set(self.live) - set(found):
            name, idx, mode, _ = self.live.pop(pid)
            self.labels.pop(pid, None)
            self.run_state.process_ended(name, idx, mode)
        # What asv waits for, when it is not a benchmark: pip installing a framework, a build.
        others = [self.labels[pid] for pid in self.live if self.labels.get(pid)]
        self.run_state.process_label = others[-1] if others else ""


def class_tag(benchmark: str) -> str:
    """The tag of ``module.Class.method`` in its process's name: the class name's CRC-32, three hex
    digits (as ``benchmarks/common.py``'s ``process_name`` writes it)."""
    parts = benchmark.split(".")
    return f"{zlib.crc32(parts[-2].encode()) & 0xFFF:03x}" if len(parts) >= 3 else ""


def describe_process(argv: list[str]) -> str:
    """A child of asv that is not a benchmark combination, in a few words ("" for those)."""
    if len(argv) > 2 and argv[1].endswith(os.path.join("asv", "benchmark.py")):
        if argv[2] == "discover":
            return "importing the suite to discover its benchmarks"
        if argv[2] in ("run", "run_server"):
            return ""
        return f"asv {argv[2]} {argv[4] if len(argv) > 4 else ''}".strip()
    if "-m" in argv[:-1]:
        module = argv[argv.index("-m") + 1]
        words = [arg for arg in argv[argv.index("-m") + 2 :] if not arg.startswith("-")]
        if module == "pip":
            return shorten("pip " + " ".join(words), 100)
        if module == "build":
            return "building jitpi (python -m build)"
        return shorten(f"python -m {module} " + " ".join(words), 100)
    return shorten(" ".join([os.path.basename(argv[0]), *argv[1:3]]), 100) if argv and argv[0] else ""


# --------------------------------------------------------------------------------------------
# Words and numbers


def clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def left(eta: tuple[float, bool] | None) -> str:
    if eta is None:
        return ""
    seconds, rough = eta
    if seconds < 90:
        words = f"about {max(int(seconds), 1)} s left"
    elif seconds < 5400:
        words = f"about {round(seconds / 60)} min left"
    else:
        words = f"about {seconds / 3600:.1f} h left"
    return words + (" (rough: this run's pace)" if rough else "")


def shorten(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def where(log: Path, line_no: int | None) -> str:
    return f"{log}:{line_no}" if line_no else str(log)


def counts(outcomes: list[Outcome]) -> Counter:
    return Counter(outcome.status for outcome in outcomes)


def counts_text(tally: Counter) -> str:
    parts = [f"{tally[status]} {status}" for status in ("measured", "failed", "skipped") if tally[status]]
    return ", ".join(parts) or "none finished"


def reason_groups(skips: list[Outcome]) -> list[tuple[str, list[Outcome]]]:
    """Skips grouped by the shape of their reason: parameter values and numbers left out.

    "n=1e+09 is beyond the suite's CPU bound for python (native), 1e+07 samples" and the same
    for numba are one group, shown with "…" where its members differ.
    """
    groups: dict[str, list[Outcome]] = defaultdict(list)
    masked = {}
    for outcome in skips:
        text = outcome.detail
        for value in sorted(set(outcome.values), key=len, reverse=True):
            if value:
                text = re.sub(rf"(?<![\w]){re.escape(value)}(?![\w])", "\0", text)
        text = NUMBER.sub("\0", text)
        masked[id(outcome)] = text
        groups[text].append(outcome)
    shown = []
    for key, members in groups.items():
        tokens = [member.detail.split(" ") for member in members]
        shape = key.split(" ")
        if all(len(t) == len(shape) for t in tokens):
            words = []
            for position, mask in enumerate(shape):
                column = {t[position] for t in tokens}
                words.append(column.pop() if len(column) == 1 else re.sub("\0+", "…", mask))
            label = " ".join(words)
        else:
            label = re.sub("\0+", "…", key)
        shown.append((label, members))
    shown.sort(key=lambda item: (-len(item[1]), item[0]))
    return shown


def write_skipped(path: Path, groups: list[tuple[str, list[Outcome]]], command: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    total = sum(len(members) for _, members in groups)
    lines = [
        f"# {total} combinations skipped by: {command}",
        "# grouped by reason; each line: combination: reason",
    ]
    for label, members in groups:
        lines += ["", f"## {label} ({len(members)})"]
        lines += [f"{member.key}: {member.detail}" for member in sorted(members, key=lambda m: m.key)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The two views: a live display on a terminal, plain lines elsewhere


class PlainView:
    def __init__(self, run: Run, log: Path):
        self.run = run
        self.log = log
        self.last_line = time.monotonic()

    def say(self, text: str, style: str = "") -> None:
        elapsed = clock(time.monotonic() - self.run.started)
        for line in text.split("\n"):
            print(f"[{elapsed:>7}] {line}", flush=True)
        self.last_line = time.monotonic()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def tick(self) -> None:
        if time.monotonic() - self.last_line >= PLAIN_HEARTBEAT_S:
            self.say(progress_line(self.run.status()))

    def final(self, text: str, style: str = "") -> None:
        print(text, flush=True)


class LiveView(PlainView):
    def __init__(self, run: Run, log: Path):
        super().__init__(run, log)
        from rich.console import Console
        from rich.live import Live

        self.console = Console(highlight=False)
        self.live = Live(self, console=self.console, refresh_per_second=2, transient=True)
        self.spinner = None

    def start(self) -> None:
        self.live.start()

    def stop(self) -> None:
        self.live.stop()

    def say(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style))

    def tick(self) -> None:
        pass

    def final(self, text: str, style: str = "") -> None:
        self.say(text, style)

    def __rich__(self):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        status = self.run.status()
        if self.spinner is None:
            self.spinner = Spinner("dots", style="cyan")
        spinner = self.spinner
        spinner.update(text=Text(running_line(status)))
        if not status["total"]:
            return Group(
                spinner, Text(f"{clock(status['elapsed'])} elapsed · asv's output: {self.log}", "dim")
            )
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=status["total"], completed=status["done"], width=36),
            Text(overall_line(status)),
        )
        return Group(spinner, bar)


def running_line(status: dict) -> str:
    entry = status.get("entry")
    if entry is None and status["total"] and status["done"] >= status["total"]:
        return "every combination has run; asv is finishing"
    if entry is None:
        doing = status["doing"]
        phase = shorten(status["phase"], 90) + PHASE_HINTS.get(status["phase"], "")
        return phase + (f" · now: {doing}" if doing else "")
    bench = entry.bench
    parts = [bench.describe()]
    if bench.params and status["watching"]:
        args = f"({bench.args(entry.idx)})"
        parts.append(f"combination {status['in_block'] + 1}/{status['block_size']} {args}")
    if status["running_for"] is not None:
        parts.append(f"{int(status['running_for'])} s")
    return " · ".join(parts)


def overall_line(status: dict) -> str:
    parts = [f"{status['done']:,}/{status['total']:,} combination runs"]
    if status.get("label"):
        parts.append(status["label"])
    parts.append(f"{clock(status['elapsed'])} elapsed")
    if status["eta"] is not None:
        parts.append(left(status["eta"]))
    return " · ".join(parts)


def progress_line(status: dict) -> str:
    if not status["total"] or status["entry"] is None:
        return f"{running_line(status)} ({clock(status['elapsed'])} elapsed)"
    return f"{overall_line(status)} | now: {running_line(status)}"


# --------------------------------------------------------------------------------------------
# Running it


def report_event(view: PlainView, run: Run, kind: str, payload, log: Path) -> None:
    if kind == "phase":
        view.say(f"asv: {shorten(payload, 110)}", "dim")
    elif kind == "start":
        entry, label = payload
        view.say(f"{label}: {entry.bench.describe()}")
    elif kind == "result":
        bench, outcomes, took = payload
        tally = counts(outcomes)
        name = bench.name if bench else outcomes[0].bench if outcomes else "?"
        took_text = f" in {clock(took)}" if took is not None else ""
        mark, style = ("✗", "bold red") if tally["failed"] else ("✓", "green")
        view.say(f"{mark} {name}: {counts_text(tally)}{took_text}", style)
        groups = reason_groups([outcome for outcome in outcomes if outcome.status == "failed"])
        for label, members in groups[:MAX_FAILURES_SHOWN]:
            first = members[0]
            what = first.key if len(members) == 1 else f"{len(members)} combinations, first {first.key}"
            view.say(f"    FAILED {what}: {shorten(label)}  [{where(log, first.line_no)}]", "red")
        if len(groups) > MAX_FAILURES_SHOWN:
            rest = sum(len(members) for _, members in groups[MAX_FAILURES_SHOWN:])
            view.say(f"    ... and {rest} more failed otherwise: {log}", "red")


def drain(view: PlainView, run: Run, log: Path) -> None:
    with run.lock:
        events, run.events = run.events, []
    for kind, payload in events:
        report_event(view, run, kind, payload, log)


def load_history(path: Path, mode: str) -> dict[str, float]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get(mode, {}))
    except (OSError, ValueError, AttributeError):
        return {}


def save_history(path: Path, mode: str, durations: dict[str, list[float]]) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    table = data.setdefault(mode, {})
    for key, runs in durations.items():
        table[key] = round(sum(runs) / len(runs), 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def history_mode(asv_args: list[str]) -> str:
    """Runs whose combinations take alike: quick or full, and the same -a attributes."""
    from asv.commands import make_argparser

    parser, _ = make_argparser()
    try:
        args = parser.parse_args(["run", *asv_args])
    except SystemExit:
        return "unknown"
    attributes = ",".join(f"{k}={v}" for k, v in sorted((args.attribute or {}).items()))
    return ("quick" if args.quick else "full") + (f" {attributes}" if attributes else "")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s [--log FILE] [--skipped FILE] [--plain] [--no-machine] [--] ASV_RUN_ARGS...",
        allow_abbrev=False,
    )
    parser.add_argument("--log", type=Path, default=LOG, help=f"asv's full output (default {LOG})")
    parser.add_argument(
        "--skipped", type=Path, default=SKIPPED, help=f"every skip and its reason ({SKIPPED})"
    )
    parser.add_argument(
        "--times", type=Path, default=TIMES, help=f"combination times for estimates ({TIMES})"
    )
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument("--no-machine", action="store_true", help="do not run `asv machine --yes` first")
    if "--" in argv:
        cut = argv.index("--")
        own, asv_args = parser.parse_args(argv[:cut]), argv[cut + 1 :]
    else:
        own, asv_args = parser.parse_known_args(argv)  # allow_abbrev=False: asv's options stay asv's
    if "--show-stderr" not in asv_args and "-e" not in asv_args:
        asv_args = ["--show-stderr", *asv_args]
    return own, asv_args


def asv_environ() -> dict[str, str]:
    environ = dict(os.environ)
    environ["COLUMNS"] = ASV_COLUMNS
    environ["PYTHONIOENCODING"] = "utf-8"
    return environ


def main(argv: list[str] | None = None) -> int:
    own, asv_args = parse_args(sys.argv[1:] if argv is None else argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # a CI log in an ASCII locale still gets every line
    log_path: Path = own.log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    asv = [sys.executable, "-m", "asv"]
    command = " ".join(["asv", "run", *asv_args])
    mode = history_mode(asv_args)
    run = Run(asv_args, load_history(own.times, mode))
    view = PlainView(run, log_path) if own.plain or not sys.stdout.isatty() else LiveView(run, log_path)
    view.say(f"{command}  (asv's full output: {log_path})", "bold")

    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"# tools/bench.py: {command}\n# started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        line_no = 2
        if not own.no_machine:
            machine = subprocess.run(
                [*asv, "machine", "--yes"],
                capture_output=True,
                text=True,
                env=asv_environ(),
                stdin=subprocess.DEVNULL,
            )
            log.write(machine.stdout + machine.stderr + "\n")
            line_no += (machine.stdout + machine.stderr).count("\n") + 1
            if machine.returncode:
                view.say(f"asv machine --yes failed (exit {machine.returncode}); see {log_path}", "red")
                return machine.returncode
        log.flush()

        process = subprocess.Popen(
            [*asv, "run", *asv_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=asv_environ(),
        )
        watcher = Watcher(process.pid, run) if Watcher.available() else None
        if watcher:
            run.watching = True
            watcher.start()
        ticker_stop = threading.Event()

        def ticker() -> None:
            while not ticker_stop.wait(1.0):
                drain(view, run, log_path)
                view.tick()

        ticking = threading.Thread(target=ticker, daemon=True)
        view.start()
        ticking.start()
        interrupted = False
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buffer = ""
        while True:
            try:
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                text = decoder.decode(chunk)
                log.write(text)
                log.flush()
                buffer += text
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    line_no += 1
                    run.feed(line, line_no)
                if buffer:
                    run.partial(buffer)
            except KeyboardInterrupt:
                # asv, in the same process group, has had the Ctrl-C too; a second one stops it.
                if interrupted:
                    process.kill()
                else:
                    process.send_signal(signal.SIGINT)
                interrupted = True
        if buffer:
            line_no += 1
            run.feed(buffer, line_no)
        run.close()
        code = process.wait()
        if watcher:
            watcher.stop.set()
            watcher.join(timeout=2)
            watcher.poll()  # asv has exited: its last process ends here, if the thread missed it
        ticker_stop.set()
        ticking.join(timeout=2)
        drain(view, run, log_path)
        view.stop()
    save_history(own.times, mode, run.durations)
    summary(view, run, code, own, command, interrupted)
    return 130 if interrupted else code


def yardstick_lines(outcomes: list[Outcome]) -> list[str]:
    """The yardstick's time in this run, where the run measured it (once per commit and
    environment run; nothing where it did not)."""
    times = [
        outcome.detail
        for outcome in outcomes
        if outcome.key == YARDSTICK and outcome.status == "measured" and outcome.detail
    ]
    if not times:
        return []
    return [
        f"Yardstick ({YARDSTICK}: a fixed numpy count, one thread, that no jitpi commit changes) "
        f"took {', '.join(times)} a call in this run; compare run times between machines or days "
        "only beside it."
    ]


def summary(
    view: PlainView, run: Run, code: int, own: argparse.Namespace, command: str, interrupted: bool
) -> None:
    log = own.log
    tally = counts(run.outcomes)
    elapsed = clock(time.monotonic() - run.started)
    benchmarks = len({outcome.bench for outcome in run.outcomes})
    lines = [""]
    head = "Interrupted" if interrupted else "Done"
    lines.append(
        f"{head} in {elapsed}, asv exit status {code}: {plural(benchmarks, 'benchmark')}, "
        f"{plural(len(run.outcomes), 'combination')}: {counts_text(tally)}."
    )
    lines += yardstick_lines(run.outcomes)
    failed = [outcome for outcome in run.outcomes if outcome.status == "failed"]
    if failed:
        groups = reason_groups(failed)
        lines.append(f"{len(failed)} failed:")
        for label, members in groups[:8]:
            first = members[0]
            lines.append(
                f"  {len(members):>5}  {shorten(label)}  [first: {first.key}, {where(log, first.line_no)}]"
            )
        if len(groups) > 8:
            rest = sum(len(members) for _, members in groups[8:])
            lines.append(f"  {rest:>5}  ({len(groups) - 8} other errors: {log})")
    skips = [outcome for outcome in run.outcomes if outcome.status == "skipped"]
    if skips:
        groups = reason_groups(skips)
        write_skipped(own.skipped, groups, command)
        lines.append(f"{len(skips)} skipped:")
        lines += [f"  {len(members):>5}  {label}" for label, members in groups[:8]]
        if len(groups) > 8:
            rest = sum(len(members) for _, members in groups[8:])
            lines.append(f"  {rest:>5}  ({len(groups) - 8} other reasons)")
        lines.append(f"Every skipped combination with its reason: {own.skipped}")
    if run.suite_error:
        lines.append(f"(progress by combination was unavailable: {run.suite_error})")
    if code and not failed and not interrupted:
        lines.append("asv failed before reporting a benchmark; the end of its output:")
        lines += [f"  {line}" for line in log.read_text(encoding="utf-8").splitlines()[-15:]]
    lines.append(f"asv's full output: {log}")
    style = "bold red" if code else "bold green"
    for line in lines:
        view.final(line, style if line.startswith(head) else "")


if __name__ == "__main__":
    sys.exit(main())
