"""The smoke run: every combination of the asv suite once, in the development environment, in parallel.

    python tools/smoke.py [--jobs N] [--backends a,b,...]          # make smoke

``asv run -E existing:same --quick -e`` runs each combination of the grid once and saves nothing:
it says whether everything runs here, not how fast (one sample, no rounds). Since its times are not
a measurement, the backends are dealt round-robin (in the grid's order) to N groups that run at
once, one ``asv run`` each, each with its own copy of the configuration and its own results folder
under ``.asv/smoke`` (asv writes its discovery there; nothing else). Each process costs a framework
import and a compile, so on two cores the groups take about half the time of one run. The machine's
yardstick runs in the first group. Exit status: 0 when every group's asv did, else the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.grid import BACKENDS, YARDSTICK  # noqa: E402

OUT = ROOT / ".asv" / "smoke"


def groups(backends: list[str], jobs: int) -> list[list[str]]:
    dealt: list[list[str]] = [[] for _ in range(jobs)]
    for index, backend in enumerate(backends):
        dealt[index % jobs].append(backend)
    return [group for group in dealt if group]


def config(index: int) -> Path:
    """The project's asv configuration with this group's own results and site folders."""
    from jitpi.suite.releases import load_base_config, relocated

    base = load_base_config(ROOT)
    conf = relocated(base, ROOT, results_dir=OUT / f"results-{index}", html_dir=OUT / f"html-{index}")
    path = OUT / f"asv-{index}.conf.json"
    path.write_text(json.dumps(conf, indent=1), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="groups at once (default: cores)"
    )
    parser.add_argument("--backends", help="a comma list of the grid's backends (default: all of them)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    backends = list(BACKENDS) if args.backends is None else args.backends.split(",")
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown or not backends:
        parser.error(
            f"--backends must name backends of the grid ({', '.join(BACKENDS)}); got {args.backends!r}"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    running = []
    for index, group in enumerate(groups(backends, args.jobs)):
        patterns = ["-b", rf"\('({'|'.join(group)})',"] + (["-b", f"^{YARDSTICK}$"] if index == 0 else [])
        command = [sys.executable, "-m", "asv", "run", "--config", str(config(index)), "-E", "existing:same"]
        command += ["--quick", "-e", "--show-stderr", *patterns]
        log = OUT / f"group-{index}.log"
        print(f"smoke: group {index}: {', '.join(group)} (asv's output: {log})", flush=True)
        with log.open("w") as stream:
            running.append(
                (index, log, subprocess.Popen(command, cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT))
            )
    status = 0
    for index, log, process in running:
        code = process.wait()
        status = max(status, code)
        failed = [line.strip() for line in log.read_text().splitlines() if line.rstrip().endswith("failed")]
        print(f"smoke: group {index} exit {code}" + "".join(f"\n  {line}" for line in failed))
    print(f"smoke: {time.monotonic() - started:.0f} s in all; exit {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
