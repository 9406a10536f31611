"""The regression gate: is HEAD slower, bigger or broken against BASE? The same command for CI,
the tests and a person.

    python tools/gate.py BASE HEAD [--bench REGEX]... [--factor F] [--rounds R] [--machine NAME]
    make gate BASE=main HEAD=HEAD

It runs the suite on both commits in asv's environment in interleaved rounds, in the order
BASE HEAD HEAD BASE BASE HEAD ..., one ``asv run`` a commit a round, and reads every sample of
every combination from asv's results. A combination's value for a commit is its smallest sample
over all rounds: machine load only ever adds time, a burst of load reaches a few consecutive
rounds and never all of a commit's, so the smallest sample is the least disturbed one, and one
burst cannot decide the verdict either way (benchmarks/README.md has the design and what it
catches, measured by tools/gate_trial.py). A combination regressed when HEAD's value is more
than FACTOR times BASE's.

Exit 0: no regression. 1: a regression (each named, with its ratio). 2: a benchmark that HEAD
broke (with its traceback) or a commit that could not be measured. A combination broken in both
commits is reported and does not fail. In every case the Markdown table goes to .asv/gate.md,
with the machine yardstick of both commits (bench_yardstick: a fixed workload that no commit
changes, so a step in it is the machine, not the code), and the same verdict as data goes to
.asv/gate.json. asv's machine file is made when missing. It needs asv and jitpi installed without
frameworks (it reads asv's results through jitpi.suite.asv_results) and imports no framework.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jitpi.suite.asv_results import values_since  # noqa: E402
from jitpi.suite.grid import COLD, COLD_N, MEMORY, MEMORY_N, N_GRID, NATIVE, SHARED, TIME, YARDSTICK  # noqa: E402
from jitpi.view.format import MISSING, megabytes, seconds  # noqa: E402

# What the PR gate gates by default (asv -b syntax, any match selects), chosen for what a change
# can break and what it costs on 2 cores: the steady state of the native and shared variants at the
# overhead-bound and the throughput-bound n (1e5, 1e9), the shared variant's cold start (the
# compile; every backend's compile machinery is the same for both chunked variants), and the
# chunked variants' peak memory at 1e8 (O(chunk): a kernel that starts materialising its samples
# grows by 1.6 GB there). Left to the site: the naive variant (the article's baseline, not a
# kernel anyone tunes, and the costliest calls), n = 1e7 (between the two regimes gated), the
# accuracy (an RMS z over 16 seeds moves by up to ~50% whenever a stream legitimately changes).
# What it costs and what it catches: benchmarks/README.md ("The regression gate").
GATED = (
    rf"^{re.escape(TIME)}\('\w+', '({NATIVE}|{SHARED})', 'cpu', '({N_GRID[0]}|{N_GRID[-1]})'\)$",
    rf"^{re.escape(COLD)}\('\w+', '{SHARED}', 'cpu', '{COLD_N[0]}'\)$",
    rf"^{re.escape(MEMORY)}\('\w+', '({NATIVE}|{SHARED})', 'cpu', '{MEMORY_N[-1]}'\)$",
)
FACTOR = 1.3
ROUNDS = 3
REPORT = Path(".asv/gate.md")
RECORD = Path(".asv/gate.json")  # the same verdict as data, for scripts (tools/gate_trial.py)
LOGS = Path(".asv/gate")
# The verdict's groups, in the table's order: each one's mark in the table and what it means.
MARKS = {
    "regressed": ("+", "regressed"),
    "broken": ("!", "broken by HEAD"),
    "broken_in_both": ("x", "broken in both"),
    "no_longer_measured": ("?", "measured at BASE only"),
    "improved": ("-", "improved"),
    "new": ("*", "measured at HEAD only (new, or mended)"),
}


@dataclass
class Combination:
    """One combination's round values per commit: a number, nan (skipped) or None (failed)."""

    key: str
    unit: str
    rounds: dict[str, list[float | None]] = field(default_factory=lambda: {"base": [], "head": []})

    def state(self, side: str) -> str:
        values = self.rounds[side]
        if any(value is None for value in values):
            return "failed"
        if not values or all(math.isnan(value) for value in values):
            return "skipped"
        return "measured"

    def best(self, side: str) -> float:
        return min(value for value in self.rounds[side] if value is not None and not math.isnan(value))

    def value(self, side: str) -> float | None:
        """The commit's value as the table shows it: its smallest sample, nan if skipped, None if failed."""
        state = self.state(side)
        return self.best(side) if state == "measured" else None if state == "failed" else math.nan

    @property
    def ratio(self) -> float | None:
        if self.state("base") == self.state("head") == "measured":
            return self.best("head") / self.best("base")
        return None


@dataclass
class Verdict:
    regressed: list[Combination]
    broken: list[Combination]
    broken_in_both: list[Combination]
    no_longer_measured: list[Combination]
    improved: list[Combination]
    new: list[Combination]

    @property
    def exit_code(self) -> int:
        return 2 if self.broken else 1 if self.regressed else 0

    @property
    def headline(self) -> str:
        n = (0, len(self.regressed), len(self.broken))[self.exit_code]
        return ("no regression", f"{n} regression(s)", f"{n} benchmark(s) broken by HEAD")[self.exit_code]

    def group(self, combination: Combination) -> str:
        """The name of the group ``combination`` is in (a key of MARKS), or "" for none."""
        return next((name for name, group in vars(self).items() if any(c is combination for c in group)), "")


def judge(combinations: list[Combination], factor: float) -> Verdict:
    """Sort the gated combinations by what happened to them between the two commits."""
    verdict = Verdict([], [], [], [], [], [])
    for combination in combinations:
        base, head = combination.state("base"), combination.state("head")
        if head == "failed":
            (verdict.broken_in_both if base == "failed" else verdict.broken).append(combination)
        elif base == "measured" and head == "skipped":
            verdict.no_longer_measured.append(combination)
        elif base != "measured" and head == "measured":  # a backend or variant HEAD adds, or mends
            verdict.new.append(combination)
        elif combination.ratio is not None and combination.ratio > factor:
            verdict.regressed.append(combination)
        elif combination.ratio is not None and combination.ratio < 1 / factor:
            verdict.improved.append(combination)
    return verdict


# --- asv ---------------------------------------------------------------------------------------


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.strip()


def asv(*args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    """asv as the user runs it, in this interpreter; its output appended to ``log``."""
    done = subprocess.run([sys.executable, "-m", "asv", *args], capture_output=True, text=True)
    if log is not None:
        with log.open("a") as out:
            out.write(f"$ asv {' '.join(args)}\n{done.stdout}{done.stderr}\n[exit {done.returncode}]\n")
    return done


def ensure_machine(machine: str | None) -> str:
    """The machine's name, after making asv's machine file (~/.asv-machine.json) if it lacks it."""
    from asv.machine import Machine, MachineCollection

    name = machine or Machine.get_unique_machine_name()
    path = Path(MachineCollection.get_machine_file_path())
    known = json.loads(path.read_text()) if path.exists() else {}
    if name not in known:
        done = asv("machine", "--yes", *(["--machine", name] if machine else []))
        if done.returncode != 0:
            raise SystemExit(f"gate: asv machine failed:\n{done.stdout}{done.stderr}")
        print(f"gate: described this machine to asv as {name!r} ({path})")
    return name


def selection(conf, regexes: list[str]) -> dict[str, str]:
    """asv's own selection of ``regexes`` (from the discovery it saved): each selected combination's
    key, as asv names it, with its benchmark's unit."""
    from asv.benchmarks import Benchmarks

    benchmarks = Benchmarks.load(conf, regex=regexes)
    selected = {}
    for name, bench in benchmarks.items():
        keys = [f"{name}({', '.join(c)})" if c else name for c in itertools.product(*bench["params"])]
        chosen = benchmarks.benchmark_selection[name]
        for key in keys if chosen is None else [keys[index] for index in chosen]:
            selected[key] = bench.get("unit") or "seconds"
    return selected


def traceback_of(key: str, head: str, machine: str, log: Path) -> str:
    """What the combination prints when it fails: run once more at HEAD, alone, with its stderr."""
    args = ("run", "--quick", "--show-stderr", "--machine", machine, "-b", f"^{re.escape(key)}$")
    done = asv(*args, f"{head}^!", log=log)
    text = done.stdout + done.stderr
    start = text.find("Traceback")
    return text[start:] if start >= 0 else text[-4000:]


# --- the verdict in words: the report, the record and the console ------------------------------


def cell(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "failed" if value is None else "skipped"
    if unit == "bytes":
        return f"{megabytes(value)} MB"
    return seconds(value) if unit == "seconds" else f"{value:.3g} {unit}"


def rounds_cell(combination: Combination, side: str) -> str:
    return ", ".join(cell(value, combination.unit) for value in combination.rounds[side])


def findings(verdict: Verdict, factor: float, gated: list[Combination], yardstick: Combination | None):
    """What the verdict rests on, one sentence each: the report's list and the console's summary."""
    measured = [c.ratio for c in gated if c.ratio is not None]
    lines = [f"{len(measured)} combinations compared, {len(gated) - len(measured)} not (skipped or failed)"]
    if measured:
        lines.append(f"ratio HEAD/BASE median {statistics.median(measured):.2f}, largest {max(measured):.2f}")
    if yardstick is not None and yardstick.ratio is not None:
        lines.append(
            f"Machine yardstick ({YARDSTICK}, no jitpi code): BASE {seconds(yardstick.best('base'))} "
            f"[{rounds_cell(yardstick, 'base')}], HEAD {seconds(yardstick.best('head'))} "
            f"[{rounds_cell(yardstick, 'head')}], ratio {yardstick.ratio:.2f}"
        )
    lines += [f"BROKEN BY HEAD {c.key} (its traceback below)" for c in verdict.broken]
    lines += [f"broken in both commits (not HEAD's doing): {c.key}" for c in verdict.broken_in_both]
    lines += [f"measured at BASE, skipped at HEAD: {c.key}" for c in verdict.no_longer_measured]
    lines += [
        f"REGRESSION {c.key}: {c.ratio:.2f}x ({cell(c.best('base'), c.unit)} -> "
        f"{cell(c.best('head'), c.unit)}), more than {factor}x"
        for c in verdict.regressed
    ]
    return lines


def markdown(
    base: str,
    head: str,
    factor: float,
    rounds: int,
    verdict: Verdict,
    combinations: list[Combination],
    yardstick: Combination | None,
    machine: str,
    tracebacks: dict[str, str],
) -> str:
    lines = [
        "<!-- jitpi-gate -->",
        f"## jitpi gate: {verdict.headline}",
        "",
        f"BASE `{base[:8]}` against HEAD `{head[:8]}` on machine `{machine}`: {rounds} interleaved rounds a "
        f"commit; a combination's value is its smallest sample over the rounds; a regression "
        f"is HEAD's more than {factor}x BASE's. Ratio = HEAD / BASE: above 1 is slower or bigger.",
        "",
        *(f"- {line}." for line in findings(verdict, factor, combinations, yardstick)),
        "",
        ", ".join(f"`{mark}` {meaning}" for mark, meaning in MARKS.values()) + ".",
        "",
        "| | combination | BASE | HEAD | ratio | BASE, each round | HEAD, each round |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rank, groups = [*MARKS, ""], {id(c): verdict.group(c) for c in combinations}
    for c in sorted(combinations, key=lambda c: (rank.index(groups[id(c)]), -(c.ratio or 0), c.key)):
        mark = MARKS[groups[id(c)]][0] if groups[id(c)] else ""
        ratio = f"{c.ratio:.2f}" if c.ratio is not None else MISSING
        lines.append(
            f"| {mark} | `{c.key}` | {cell(c.value('base'), c.unit)} | {cell(c.value('head'), c.unit)} "
            f"| {ratio} | {rounds_cell(c, 'base')} | {rounds_cell(c, 'head')} |"
        )
    for key, text in tracebacks.items():
        lines += ["", f"<details><summary>{key} at HEAD</summary>\n\n```\n{text.strip()}\n```\n</details>"]
    return "\n".join(lines) + "\n"


def record(
    base: str,
    head: str,
    factor: float,
    verdict: Verdict,
    gated: list[Combination],
    yardstick: Combination | None,
) -> dict:
    """The verdict as data: every combination's rounds, values, ratio and what happened to it."""

    def number(value: float | None) -> float | str | None:
        return "skipped" if value is not None and math.isnan(value) else value

    def entry(c: Combination) -> dict:
        return {
            "key": c.key,
            "unit": c.unit,
            "base": number(c.value("base")),
            "head": number(c.value("head")),
            "ratio": c.ratio,
            "verdict": verdict.group(c) or ("unchanged" if c.ratio is not None else c.state("head")),
            "base_rounds": [number(v) for v in c.rounds["base"]],
            "head_rounds": [number(v) for v in c.rounds["head"]],
        }

    return {
        "base": base,
        "head": head,
        "factor": factor,
        "exit": verdict.exit_code,
        "yardstick": entry(yardstick) if yardstick is not None else None,
        "combinations": [entry(c) for c in gated],
    }


def run(base: str, head: str, regexes: list[str], factor: float, rounds: int, machine: str | None) -> int:
    from asv.config import Config

    base, head = (git("rev-parse", "--verify", f"{name}^{{commit}}") for name in (base, head))
    conf = Config.load("asv.conf.json")
    machine = ensure_machine(machine)
    LOGS.mkdir(parents=True, exist_ok=True)  # and REPORT's folder, .asv
    for old in LOGS.glob("*.log"):
        old.unlink()
    wanted = [*regexes, f"^{re.escape(YARDSTICK)}$"]
    args = ["run", "--record-samples", "-a", "rounds=1", "--show-stderr", "--machine", machine]
    args += [arg for regex in wanted for arg in ("-b", regex)]
    order = [("base", base), ("head", head)]
    combinations: dict[str, Combination] = {}
    for index in range(rounds):
        for side, commit in order if index % 2 == 0 else order[::-1]:
            log = LOGS / f"round-{index + 1}-{side}.log"
            print(f"gate: round {index + 1}/{rounds}, {side} {commit[:8]} (asv's output: {log})", flush=True)
            started_ms = time.time() * 1000
            done = asv(*args, f"{commit}^!", log=log)
            if not combinations:
                combinations = {key: Combination(key, unit) for key, unit in selection(conf, wanted).items()}
            values = values_since(conf.results_dir, machine, commit, started_ms - 1000)
            if not values:
                output = (done.stdout + done.stderr)[-3000:]
                what = f"asv measured nothing at {side} {commit[:8]} (exit {done.returncode})"
                print(f"gate: {what}:\n{output}", file=sys.stderr)
                REPORT.write_text(f"<!-- jitpi-gate -->\n## jitpi gate: {what}\n\n```\n{output}\n```\n")
                return 2
            for key, combination in combinations.items():
                combination.rounds[side].append(values.get(key))
    yardstick = combinations.pop(YARDSTICK, None)
    gated = list(combinations.values())
    verdict = judge(gated, factor)
    tracebacks = {c.key: traceback_of(c.key, head, machine, LOGS / "tracebacks.log") for c in verdict.broken}
    REPORT.write_text(markdown(base, head, factor, rounds, verdict, gated, yardstick, machine, tracebacks))
    RECORD.write_text(json.dumps(record(base, head, factor, verdict, gated, yardstick), indent=1))
    print("", *(f"gate: {line}" for line in findings(verdict, factor, gated, yardstick)), sep="\n")
    for key, text in tracebacks.items():
        print(f"gate: {key} at HEAD:\n{text.rstrip()}\n")
    print(f"gate: {verdict.headline} (exit {verdict.exit_code}); the table: {REPORT}")
    return verdict.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the commit to compare against (e.g. main, or a merge commit's HEAD^1)")
    parser.add_argument("head", help="the commit under test")
    parser.add_argument(
        "--bench",
        "-b",
        action="append",
        metavar="REGEX",
        help="asv's -b: gate only the combinations whose name(params) this regex searches "
        "(repeatable; default: the gated subset, GATED)",
    )
    parser.add_argument(
        "--factor",
        type=float,
        default=FACTOR,
        help=f"HEAD/BASE above this is a regression (default {FACTOR})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help=f"interleaved rounds a commit (default {ROUNDS}; at least 2)",
    )
    parser.add_argument("--machine", help="asv's machine name (default: asv's, this host's)")
    args = parser.parse_args(argv)
    if not args.factor > 1:
        parser.error(f"--factor must be above 1, got {args.factor}")
    if args.rounds < 2:
        parser.error(f"--rounds must be at least 2 (a burst of load can cover one round), got {args.rounds}")
    for regex in args.bench or ():
        try:
            re.compile(regex)
        except re.error as error:
            parser.error(f"--bench {regex!r} is not a regular expression: {error}")
    os.chdir(ROOT)
    return run(args.base, args.head, list(args.bench or GATED), args.factor, args.rounds, args.machine)


if __name__ == "__main__":
    sys.exit(main())
