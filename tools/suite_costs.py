"""The suite's measured costs from one asv results file, as the table in benchmarks/README.md.

    python tools/suite_costs.py [RESULTS_FILE] [--readme FILE] [--print]

RESULTS_FILE is a file ``asv run`` wrote, ``.asv/results/<machine>/<commit>-<env>.json``; by default
the newest under ``.asv/results`` that holds the yardstick (a full run measures it; a release
sweep's files do not). Run it after a full ``make bench``: a file also keeps the values of earlier
runs of the same commit, and a combination a ``-b`` run left out is NaN there, read as skipped.
It replaces what lies between the ``suite-costs`` markers of benchmarks/README.md (or prints it,
with ``--print``) with:

- one row per benchmark in the file, the grid's benchmarks first: its combinations measured (a
  number), skipped (NaN) and failed (None), and its wall minutes, asv's ``duration`` (the sum over
  its rounds of the time from its first process's start to its last's end);
- a row for asv's other durations in the file (``<build>``: building and installing the commit;
  ``<setup_cache ...>``: a class's ``setup_cache``), and the total;
- beneath, the yardstick's time a call (``jitpi.suite.grid.YARDSTICK``, whose time says how fast
  the machine counted that day), the run's date (its earliest ``started_at``, UTC), the commit and
  the machine as asv's results record it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import outcomes, results_files

from jitpi.suite.grid import ACCURACY, COLD, MEMORY, TIME, YARDSTICK, YARDSTICK_SAMPLES
from jitpi.view import format as fmt

README = Path(__file__).resolve().parent.parent / "benchmarks" / "README.md"
BEGIN, END = "<!-- suite-costs:begin -->", "<!-- suite-costs:end -->"
ORDER = (TIME, COLD, MEMORY, ACCURACY, YARDSTICK)
COLUMNS = ("measured", "skipped", "failed")


def order(name: str) -> tuple:
    """The grid's benchmarks first, in the grid's order, then any other by name."""
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def has_yardstick(path: Path) -> bool:
    from asv.results import Results

    return YARDSTICK in Results.load(str(path)).get_all_result_keys()


def cost_table(path: Path) -> str:
    """The Markdown table and the line beneath it, for the results file at ``path``."""
    from asv.results import Results

    results = Results.load(str(path))
    names = sorted(results.get_all_result_keys(), key=order)
    rows = [f"| benchmark | {' | '.join(COLUMNS)} | wall minutes |", "| --- | ---: | ---: | ---: | ---: |"]
    total, minutes = Counter(), 0.0
    for name in names:
        counts, wall = outcomes(results, name), results.duration.get(name, 0.0) / 60
        total, minutes = total + counts, minutes + wall
        cells = " | ".join(str(counts[key]) for key in COLUMNS)
        rows.append(f"| `{name}` | {cells} | {wall:.1f} |")
    other = sum(seconds for key, seconds in results.duration.items() if key.startswith("<")) / 60
    rows.append(f"| asv's build and `setup_cache` | | | | {other:.1f} |")
    cells = " | ".join(str(total[key]) for key in COLUMNS)
    rows.append(f"| all | {cells} | {minutes + other:.1f} |")
    values = results.get_result_value(YARDSTICK, []) if YARDSTICK in names else []
    stick = values[0] if values and values[0] is not None and math.isfinite(values[0]) else None
    yardstick = (
        f"{fmt.seconds(stick)} a call ({fmt.rate(YARDSTICK_SAMPLES / stick)} M samples/s)"
        if stick
        else f"{fmt.MISSING} (not measured)"
    )
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(min(results.started_at.values()) / 1000))
    params = results.params
    machine = ", ".join(str(params[key]) for key in ("cpu", "num_cpu", "os") if params.get(key))
    return "\n".join(
        [
            *rows,
            "",
            f"Yardstick (`{YARDSTICK}`): {yardstick}. Run of {started}, commit "
            f"`{results.commit_hash[:8]}`, machine `{params.get('machine', '?')}`"
            + (f" ({machine})" if machine else "")
            + f"; written by `python tools/suite_costs.py` from `{path.name}`.",
        ]
    )


def write_costs(readme: Path, path: Path) -> None:
    """Replace what lies between the suite-costs markers of ``readme`` with ``cost_table(path)``."""
    text = readme.read_text(encoding="utf-8")
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not (begin and end):
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} markers")
    readme.write_text(f"{head}{BEGIN}\n{cost_table(path)}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "results", nargs="?", type=Path, help="an asv results file (default: the newest with the yardstick)"
    )
    parser.add_argument("--readme", type=Path, default=README, help="where the table goes")
    parser.add_argument("--print", action="store_true", help="print the table instead")
    args = parser.parse_args(argv)
    path = args.results or next(filter(has_yardstick, results_files(Path(".asv/results"))), None)
    if path is None:
        print(
            "No asv results with the yardstick under .asv/results: `make bench` writes them.", file=sys.stderr
        )
        return 1
    if args.print:
        print(cost_table(path))
    else:
        write_costs(args.readme, path)
        print(f"{args.readme}: the suite's costs from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
