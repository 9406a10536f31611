"""Run ``asv run`` with a readable terminal: what runs, how far along, the time left, then a summary.

    python tools/bench.py [--log FILE] [--skipped FILE] [--plain] [--no-machine] [--] ASV_RUN_ARGS...

``asv machine --yes`` first (unless --no-machine), then ``asv run`` with the arguments after ``--``
(or those this script does not know) unchanged, ``--show-stderr`` added when missing. asv's whole
output goes to the log (default ``.asv/bench.log``); the exit status is asv's (130 on Ctrl-C). A
terminal gets ``rich.progress``'s bar, anything else (CI, a pipe) plain lines, one a minute at
least. The summary: per benchmark, the combinations measured, failed and skipped; the skips by
reason (all, per benchmark, in ``--skipped``: ``.asv/skipped.txt``); the yardstick (``YARDSTICK``
in ``jitpi.suite.grid``: how fast the machine counted; compare run times only beside it).

The counts come from asv's **results files** (``.asv/results/<machine>/<commit>-<env>.json``, read
with ``asv.results.Results``): a number is measured, None failed, NaN skipped (or not selected).
asv keeps earlier values of what it did not run, so only benchmarks started after this run began
count, and of those the combinations ``-b`` selected (asv's ``Benchmarks`` says which). The time
left: the unfinished benchmarks' earlier ``duration`` (``history``), less the time since the last
one ended; without it, elapsed time scaled by asv's percentage (rough). asv saves no file for
``--quick`` or an existing environment without ``--set-commit-hash``: each benchmark's status
then comes from its step line, the **one line format of asv's console** read::

      [ 62.50%] ··· bench_time.CountHits.time_count_hits        1/8 failed
      [PERCENT%] DOTS TEXT

PERCENT: asv's share of steps (benchmark x round x commit x environment) begun. DOTS: the depth
(``Benchmarking ENV`` 2, a benchmark 3, its stderr 4). TEXT: ``Running (NAME--)``, a dot added per
step done, for the rounds before a benchmark's last (announced at most every 30 s); ``NAME`` for
its last round, the STATUS (``ok``, ``failed``, ``K/N failed``, ``n/a``, a value) padded on when it
ends; above a benchmark's depth, asv's phase. asv ends a line as the next message begins, so the
unfinished line says what runs now. ``COLUMNS`` is set wide: asv keeps names whole.

**Skip reasons**: a combination skips by raising ``NotImplementedError`` with the reason in
``setup`` (``benchmarks/common.py``); asv_runner prints ``asv: skipped: SkipNotImplemented('...')``,
which ``--show-stderr`` passes on in the benchmark's stderr message, deeper than its step line
(asv's copy in a failing benchmark's table is not counted). A NaN without it: "no reason given".

``tools/suite_costs.py`` writes the suite's costs from a results file into benchmarks/README.md.
Dropped from the earlier runner: reading asv's processes in ``/proc`` (the combination running
now), ``--times`` and ``.asv/bench-times.json`` (the results files give the time left), asv's
result tables and ``For parameters:`` blocks (a failure's exception: see the log line given).
"""

from __future__ import annotations

import argparse
import ast
import codecs
import contextlib
import math
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

from jitpi.suite.grid import BACKENDS, DEVICES, VARIANTS, YARDSTICK, YARDSTICK_SAMPLES
from jitpi.view import format as fmt

LOG, SKIPPED = Path(".asv/bench.log"), Path(".asv/skipped.txt")
ASV_COLUMNS, HEARTBEAT_S = "250", 60.0
HISTORY_FILES = 20  # the newest results files searched for a benchmark's duration
OUTCOMES = ("measured", "failed", "skipped")

STEP = re.compile(r"^\[\s*(?P<percent>\d+(?:\.\d+)?)%\] (?P<dots>·+) (?P<text>.*?)\s*$")
EARLIER_ROUNDS = re.compile(r"^Running \((?P<name>[^\s()]+)--\)\.*$")
LAST_ROUND = re.compile(r"^(?P<name>[A-Za-z_]\w*(?:\.\w+)+)(?:\s+(?P<status>\S.*))?$")
SKIP = re.compile(r"asv: skipped: \w+\((?P<args>.*)\)\s*$")
NO_REASON = "no reason given (a skip decorator, or a NaN result)"
# The grid's values and numbers, masked so that one reason over many combinations is one line.
MASK = re.compile(rf"\b(?:{'|'.join(BACKENDS + VARIANTS + DEVICES)})\b|\d+(?:\.\d+)?(?:e[+-]?\d+)?")


class Step(NamedTuple):  # a step line: [PERCENT%] DOTS TEXT
    percent: float
    depth: int
    text: str


def parse_step(line: str) -> Step | None:
    match = STEP.match(line.rstrip("\r\n"))
    return Step(float(match["percent"]), len(match["dots"]), match["text"]) if match else None


def skip_reason(line: str) -> str | None:
    """The reason in asv_runner's ``asv: skipped: SkipNotImplemented('...')``, if the line is one."""
    if not (match := SKIP.search(line)):
        return None
    with contextlib.suppress(ValueError, SyntaxError):
        return " ".join(map(str, ast.literal_eval(f"({match['args']},)"))) or NO_REASON
    return match["args"] or NO_REASON


class Selected(NamedTuple):  # a benchmark as this ``asv run`` selected it
    size: int  # combinations in its grid (1 when not parametrised)
    indices: list[int]  # those selected
    rounds: int  # this run's
    round_share: float  # this run's rounds over its ``rounds`` attribute (a full run's)


def load_selection(asv_args: list[str]) -> tuple[dict[str, Selected], str]:
    """The selected benchmarks and the results directory, as asv reads its arguments and files."""
    from asv.benchmarks import Benchmarks
    from asv.commands import make_argparser
    from asv.config import Config

    args = make_argparser()[0].parse_args(["run", *asv_args])
    conf = Config.load(args.config)
    benchmarks = Benchmarks.load(conf, regex=args.bench)
    selection = {}
    for name, info in benchmarks.items():
        size = math.prod(len(values) for values in info["params"]) if info["params"] else 1
        indices = benchmarks.benchmark_selection.get(name) or list(range(size))
        own = int(info.get("rounds") or 1)
        rounds = 1 if args.quick else int((args.attribute or {}).get("rounds", own))
        selection[name] = Selected(size, indices, rounds, rounds / own)
    return selection, conf.results_dir


def results_files(results_dir: str | Path, since: float = 0.0) -> list[Path]:
    """asv's results files under ``results_dir``, newest first (modified at ``since`` or later)."""
    paths = [p for p in Path(results_dir).glob("*/*.json") if p.name != "machine.json"]
    return sorted((p for p in paths if p.stat().st_mtime >= since), key=os.path.getmtime, reverse=True)


def outcomes(results, name: str, indices: list[int] | None = None) -> Counter:
    """measured / failed / skipped over a benchmark's combinations (``indices``: those selected)."""
    values = results.get_result_value(name, results.get_result_params(name))
    values = values if indices is None else [values[i] for i in indices]
    return Counter("failed" if v is None else "skipped" if math.isnan(v) else "measured" for v in values)


def history(results_dir: str, selection: dict[str, Selected]) -> dict[str, float]:
    """Seconds each selected benchmark should take in this run: the newest results file where it
    ran most combinations (not NaN), some selected now, gives its ``duration``, times the share of
    those selected now, scaled to this run's rounds."""
    from asv.results import Results

    best: dict[str, tuple[int, float]] = {}
    for path in results_files(results_dir)[:HISTORY_FILES]:
        with contextlib.suppress(Exception):  # another asv version's file, or one being written
            results = Results.load(str(path))
            for name in selection.keys() & results.duration.keys():
                sel, values = selection[name], results.get_result_value(name, results.get_result_params(name))
                ran = {i for i, v in enumerate(values) if v is None or not math.isnan(v)}
                both = len(ran.intersection(sel.indices)) if len(values) == sel.size else 0
                if both and len(ran) > best.get(name, (0,))[0]:
                    best[name] = (len(ran), results.duration[name] * both / len(ran) * sel.round_share)
    return {name: seconds for name, (_, seconds) in best.items()}


class Run:
    """What asv said: ``feed`` takes each complete line, ``look`` the unfinished one; ``say`` shows."""

    def __init__(self, asv_args: list[str], say=print):
        self.asv_args, self.say, self.started, self.anchor = asv_args, say, time.time(), None
        self.selection, self.expected, self.results_dir = {}, {}, None  # asv's; seconds, from history
        self.stepping, self.percent, self.now, self.note = False, 0.0, "asv is starting", ""
        self.finished: set[str] = set()  # in the commit and environment being measured
        self.statuses: dict[str, tuple[str, int]] = {}  # name: (status, log line of its report)
        self.reasons: dict[str, Counter] = defaultdict(Counter)
        self.bench, self.bench_depth, self.depth = None, 0, 0  # the depth of its step line, of this message

    def benchmark(self, step: Step | None) -> tuple[str, bool, str | None] | None:
        """(name, last round?, status once given) if the step names a selected benchmark."""
        if not step or (self.bench and step.depth > self.bench_depth):
            return None
        if match := EARLIER_ROUNDS.match(step.text):
            found = match["name"], False, None
        elif match := LAST_ROUND.match(step.text):
            found = match["name"], True, match["status"]
        else:
            return None
        return found if not self.selection or found[0] in self.selection else None

    def feed(self, line: str, line_no: int) -> None:
        if step := parse_step(line):
            self.depth, self.percent = step.depth, step.percent
        if self.bench and self.depth > self.bench_depth and (reason := skip_reason(line)):
            self.reasons[self.bench][reason] += 1
        if not step:
            if not self.stepping and line.strip():
                self.say(f"asv: {line.strip()}")
            return
        if not self.stepping:  # discovery is done: benchmarks.json holds this run's suite
            self.stepping = True
            try:
                self.selection, self.results_dir = load_selection(self.asv_args)
                self.expected = history(self.results_dir, self.selection)
            except (Exception, SystemExit) as error:  # progress goes on without it
                self.note = f"(asv's selection could not be read: {error})"
        if not (found := self.look(step)):
            if not self.bench or step.depth < self.bench_depth:  # a phase
                if step.text.startswith("Benchmarking "):
                    self.finished, self.anchor = set(), time.time()
                self.now = step.text
                self.say(f"asv: {step.text}")
            return
        name, last, status = found
        self.bench, self.bench_depth = name, step.depth
        if last and status:
            self.statuses[name] = (status, line_no)
            self.finished.add(name)
            self.anchor = time.time()
            where = f" (asv's report: log line {line_no})" if "failed" in status else ""
            self.say(f"{'✗' if where else '✓'} {name}: {status}{where}")

    def look(self, step: Step | None) -> tuple[str, bool, str | None] | None:
        """The step line's benchmark (complete or not); what runs now, said when it changes."""
        if not (found := self.benchmark(step)):
            return None
        name, last, _ = found
        what, sel = name, self.selection.get(name)
        if sel and sel.size > 1:
            what += f" ({len(sel.indices)} of {sel.size} combinations)"
        if sel and sel.rounds > 1:
            what += f", round {sel.rounds} of {sel.rounds}" if last else ", the rounds before its last"
        if what != self.now:
            self.now = what
            self.say(f"{fmt.percent(step.percent / 100):>4} of asv's steps begun: {what}")
        return found

    def left(self) -> str:
        """The time left, as a person reads it."""
        if self.anchor and self.selection and all(name in self.expected for name in self.selection):
            todo = sum(seconds for name, seconds in self.expected.items() if name not in self.finished)
            seconds = todo - (time.time() - self.anchor)
            return f"about {fmt.duration(seconds)} left" if seconds > 0 else "over the estimate"
        rough = (time.time() - self.started) * (100 / self.percent - 1) if 0 < self.percent < 100 else 0
        return f"roughly {fmt.duration(rough)} left" if self.anchor and rough else ""


class View:
    """Plain lines; on a terminal ``rich.progress``'s standard columns (the bar: asv's percentage)."""

    def __init__(self, run: Run, live: bool):
        self.run, self.last, self.progress = run, time.monotonic(), None
        if live:
            from rich import progress as rp

            columns = (rp.SpinnerColumn(), rp.TextColumn("{task.description}"), rp.BarColumn())
            more = (rp.TaskProgressColumn(), rp.TimeElapsedColumn(), rp.TextColumn("{task.fields[left]}"))
            self.progress = rp.Progress(*columns, *more)
            self.task = self.progress.add_task(run.now, total=100, left="")
            self.progress.start()

    def say(self, text: str) -> None:
        if self.progress:
            self.progress.console.print(text, markup=False, highlight=False)
        else:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)
        self.last = time.monotonic()

    def tick(self) -> None:
        run = self.run
        if self.progress:
            self.progress.update(self.task, description=run.now[:80], completed=run.percent, left=run.left())
        elif time.monotonic() - self.last >= HEARTBEAT_S:
            self.say(f"{fmt.percent(run.percent / 100)} of asv's steps · now: {run.now} · {run.left()}")

    def stop(self) -> None:
        if self.progress:
            self.progress.stop()


def stream(process: subprocess.Popen, log, run: Run, view: View, line_no: int) -> bool:
    """Copy asv's output to the log and feed it to ``run``; True if interrupted (Ctrl-C)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer, interrupted, fd = "", False, process.stdout.fileno()
    while True:
        try:
            if select.select([fd], [], [], 1.0)[0]:
                if not (chunk := os.read(fd, 65536)):
                    break
                text = decoder.decode(chunk)
                log.write(text)
                log.flush()
                *lines, buffer = (buffer + text).split("\n")
                for line in lines:
                    line_no += 1
                    run.feed(line, line_no)
                run.look(parse_step(buffer))
            view.tick()
        except KeyboardInterrupt:  # asv, in our process group, had it too; a second one kills it
            if interrupted:
                process.kill()
            else:
                process.send_signal(signal.SIGINT)
            interrupted = True
    if buffer:
        run.feed(buffer, line_no + 1)
    return interrupted


def tally(run: Run) -> tuple[dict[str, Counter], list[float], bool]:
    """Outcomes per benchmark this run started; the yardstick's values; whether asv saved results."""
    from asv.results import Results

    tallies, yardstick = defaultdict(Counter), []
    paths = results_files(run.results_dir, run.started) if run.results_dir else []
    for results in (Results.load(str(path)) for path in paths):
        for name, sel in run.selection.items():
            if results.started_at.get(name, 0) >= run.started * 1000:
                tallies[name] += outcomes(results, name, sel.indices)
                yardstick += results.get_result_value(name, []) if name == YARDSTICK else []
    return tallies, yardstick, bool(paths)


def summary(run: Run, code: int, interrupted: bool, own: argparse.Namespace, command: str) -> list[str]:
    tallies, yardstick, saved = tally(run)
    total = sum(tallies.values(), Counter())
    took = f"{fmt.duration(time.time() - run.started)}, asv exit status {code}."
    lines = ["", f"{'Interrupted' if interrupted else 'Done'} in {took}"]
    if saved:
        counts = ", ".join(f"{total[k]} {k}" for k in OUTCOMES)
        lines.append(f"Combinations of the {len(tallies)} benchmarks run: {counts}.")
    elif run.statuses:
        lines.append("asv saved no results (--quick, or an existing environment without --set-commit-hash):")
    for name, (status, line_no) in sorted(run.statuses.items()):
        said = ", ".join(f"{tallies[name][k]} {k}" for k in OUTCOMES) if name in tallies else status
        where = f" (asv's report: log line {line_no})" if "failed" in status else ""
        lines.append(f"  {name}: {said}{where}")
    for name, counts in tallies.items():  # a NaN without a reason line: skipped by a decorator
        if (unexplained := counts["skipped"] - sum(run.reasons[name].values())) > 0:
            run.reasons[name][NO_REASON] += unexplained
    rows = [(name, why, n) for name, reasons in sorted(run.reasons.items()) for why, n in reasons.items()]
    groups = Counter()
    for _, why, count in rows:
        groups[MASK.sub("…", why)] += count
    if groups:
        lines.append(f"{groups.total()} skipped, by reason (the most frequent {min(8, len(groups))}):")
        lines += [f"  {count:>5}  {reason}" for reason, count in groups.most_common(8)]
        text = [f"# Skipped combinations of `{command}`: benchmark, count, reason"]
        own.skipped.parent.mkdir(parents=True, exist_ok=True)
        own.skipped.write_text("\n".join(text + [f"{a}  {c:>5}  {b}" for a, b, c in rows]) + "\n")
        lines.append(f"Every reason, per benchmark: {own.skipped}")
    if yardstick and all(value is not None and math.isfinite(value) for value in yardstick):
        times = ", ".join(fmt.seconds(value) for value in yardstick)
        rates = ", ".join(fmt.rate(YARDSTICK_SAMPLES / value) for value in yardstick)
        lines.append(f"Yardstick {YARDSTICK}: {times} a call ({rates} M samples/s).")
    elif YARDSTICK in run.statuses and not saved:
        lines.append(f"Yardstick {YARDSTICK}: {run.statuses[YARDSTICK][0]} a call.")
    return [*lines, *[run.note] * bool(run.note), f"asv's full output: {own.log}"]


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--log", type=Path, default=LOG, help=f"asv's full output (default {LOG})")
    parser.add_argument("--skipped", type=Path, default=SKIPPED, help=f"the skip reasons ({SKIPPED})")
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument("--no-machine", action="store_true", help="do not run `asv machine --yes` first")
    if "--" in argv:
        cut = argv.index("--")
        own, asv_args = parser.parse_args(argv[:cut]), argv[cut + 1 :]
    else:
        own, asv_args = parser.parse_known_args(argv)
    if "--show-stderr" not in asv_args and "-e" not in asv_args:
        asv_args = ["--show-stderr", *asv_args]
    return own, asv_args


def main(argv: list[str] | None = None) -> int:
    own, asv_args = parse_args(sys.argv[1:] if argv is None else argv)
    sys.stdout.reconfigure(errors="replace")  # a CI log in an ASCII locale still gets every line
    environ = {**os.environ, "COLUMNS": ASV_COLUMNS, "PYTHONIOENCODING": "utf-8"}
    asv, command = [sys.executable, "-m", "asv"], shlex.join(["asv", "run", *asv_args])
    own.log.parent.mkdir(parents=True, exist_ok=True)
    run = Run(asv_args)
    view = View(run, live=not own.plain and sys.stdout.isatty())
    run.say = view.say
    view.say(f"{command}  (asv's full output: {own.log})")
    with open(own.log, "w", encoding="utf-8") as log:
        head = f"# tools/bench.py: {command}\n# started {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        if not own.no_machine:
            machine = subprocess.run([*asv, "machine", "--yes"], capture_output=True, text=True, env=environ)
            head += machine.stdout + machine.stderr + "\n"
        log.write(head)
        log.flush()
        if not own.no_machine and machine.returncode:
            view.stop()
            print(f"asv machine --yes failed (exit {machine.returncode}); see {own.log}")
            return machine.returncode
        run.started = time.time()
        pipe = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        process = subprocess.Popen([*asv, "run", *asv_args], env=environ, **pipe)
        interrupted = stream(process, log, run, view, head.count("\n"))
        code = process.wait()
    view.stop()
    for line in summary(run, code, interrupted, own, command):
        print(line, flush=True)
    return 130 if interrupted else code


if __name__ == "__main__":
    sys.exit(main())
