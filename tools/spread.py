"""Steady-state spread of ``jitpi run``: is every compiled backend's row at n = 1e5 and 1e6 within 5%?

    python tools/spread.py [--backend NAMES] [--variant native] [--n 1e5,1e6] [--repeat 7] [--json FILE]

Runs the sweep of ``jitpi run`` (each backend in its own process, cold JIT caches, a warm-up at every
n, samples of at least ``jitpi.sweep.MIN_SAMPLE_S``) over the backends that compile (``compiles`` in
their registry line, unless ``--backend`` names others), prints each row's spread (interquartile
range / median) against ``GOAL_SPREAD``, and exits 0 when every measured row meets it, 1 when a row
is above it or failed, 2 on a bad argument. Backends not available here are listed, not counted.
Run it on an idle machine: a spread measures the machine as much as the code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import jitpi
from jitpi import registry, sweep
from jitpi.sweep import Group, Results, Row, UsageError
from jitpi.view.format import n_label, seconds

GOAL_SPREAD = 0.05
"""The most IQR / median a row may have: rows 5% apart can then be ranked."""

DEFAULT_N = "1e5,1e6"
DEFAULT_REPEAT = 7


def compiled_backends() -> list[str]:
    """Every backend whose registry line says it compiles, in ``jitpi.BACKENDS`` order."""
    return [name for name in jitpi.BACKENDS if registry.REGISTRY[name].compiles]


def verdict(rows: list[Row], goal: float = GOAL_SPREAD) -> tuple[list[str], bool]:
    """One line per row (its spread and whether it meets ``goal``), and whether all of them do."""
    lines, met = [], True
    for row in rows:
        where = f"{row.backend:<11} {row.variant:<7} {row.device:<4} n={n_label(row.n):<6}"
        if row.status != "ok" or row.spread is None:
            why = row.message or "fewer than two samples: no spread"
            lines.append(f"{where} {row.status.upper()}: {why}")
            met = False
            continue
        ok = row.spread <= goal
        met &= ok
        lines.append(
            f"{where} spread {row.spread:6.1%}  ({row.samples} samples of {row.calls_per_sample:,} "
            f"calls, median {seconds(row.median_s)})  {'ok' if ok else 'ABOVE GOAL'}"
        )
    return lines, met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", "-b", help="comma list (default: every backend that compiles)")
    parser.add_argument("--variant", default="native", help="comma list of variants (default native)")
    parser.add_argument("--device", default="cpu", choices=jitpi.DEVICES)
    parser.add_argument("--n", default=DEFAULT_N, help=f"sample counts as jitpi run takes them ({DEFAULT_N})")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="samples per row (7)")
    parser.add_argument("--goal", type=float, default=GOAL_SPREAD, help="largest spread allowed (0.05)")
    parser.add_argument("--json", metavar="FILE", help="keep the sweep's results file here")
    args = parser.parse_args(argv)
    try:
        backends = args.backend.split(",") if args.backend else compiled_backends()
        variants = args.variant.split(",")
        unknown = [name for name in backends if name not in jitpi.BACKENDS]
        unknown += [name for name in variants if name not in jitpi.VARIANTS]
        if unknown:
            raise UsageError(f"unknown backend or variant {', '.join(unknown)}")
        if args.repeat < 2:
            raise UsageError("--repeat: a spread needs at least 2 samples")
        ns = sweep.parse_n(args.n)
        if args.json:
            sweep.check_writable_file(args.json, what="--json")
    except UsageError as error:
        print(f"spread: error: {error}", file=sys.stderr)
        return 2
    settings = {
        "tool": "tools/spread.py",
        "command": " ".join(["python tools/spread.py", *(argv if argv is not None else sys.argv[1:])]),
        "backends": backends,
        "variants": variants,
        "devices": [args.device],
        "n": ns,
        "seed": 0,
        "repeat": args.repeat,
        "min_sample_s": sweep.MIN_SAMPLE_S,
        "unstable_spread": sweep.UNSTABLE_SPREAD,
        "goal_spread": args.goal,
        "row_budget_s": sweep.DEFAULT_ROW_BUDGET_S,
        "cold_jit_cache": True,
    }
    results = Results(settings=settings)

    def on_event(group: Group, event: dict[str, Any]) -> None:
        if event["event"] == "row":
            row = event["row"]
            print(f"measured {group.label} n={n_label(row.n)}: {row.status}", file=sys.stderr)
            sweep.write_results(results, json_path=args.json, csv_path=None)

    sweep.run_sweep(
        results,
        sweep.groups_for(backends, variants, [args.device]),
        ns,
        seed=0,
        repeat=args.repeat,
        row_budget_s=sweep.DEFAULT_ROW_BUDGET_S,
        on_event=on_event,
    )
    results.state, results.finished = "complete", sweep.utc_now()
    sweep.write_results(results, json_path=args.json, csv_path=None)
    lines, met = verdict(results.rows, args.goal)
    load = results.machine.get("load_average")
    print(f"spread = IQR / median of each row; goal: at most {args.goal:.0%}; load average {load}")
    print("\n".join(lines))
    for item in results.unavailable:
        where = f"{item['backend']:<11} {item['variant']:<7} {item['device']:<4}"
        print(f"{where} not measured: {item['reason']}")
    if not results.rows:
        print("no row was measured: nothing to judge")
        return 1
    print("goal met" if met else "goal NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
