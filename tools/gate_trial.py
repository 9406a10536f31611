"""How well the regression gate (tools/gate.py) tells a slowdown from load: measured, not assumed.

    python tools/gate_trial.py [--bench REGEX]... | [--gated] [--unchanged 10] [--slowdowns 1.25,1.5,2]
                               [--load 30:60] [--factor F] [--out FILE.json]

From the committed HEAD it makes two commits (in a temporary worktree, kept under refs/gate-trial/,
the working tree untouched): one that changes no code, and one whose ``jitpi.count_hits`` is slowed
on demand: with JITPI_TRIAL_SLOWDOWN=f every count takes f times as long (the difference busy-
waited), and with JITPI_TRIAL_MEMORY=f the process holds f - 1 times its peak memory from its
first count on. So one commit slows every combination's steady state, cold start (the first
count, compile included) and peak memory by about f.

Then it runs the gate command itself, as CI does, ``--unchanged`` times against the unchanged
commit and once against each slowdown, while another process keeps one core busy for part of the
run (``--load ON:OFF``: ON seconds busy, OFF idle, from a random phase). It prints, and writes to
``--out``, each run's verdict, wall time and yardstick, every combination's ratio, and per kind of
combination (overhead-bound, in between, throughput-bound, cold start, memory) the largest ratio
unchanged code showed and the smallest slowdown caught. benchmarks/README.md quotes its figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.grid import COLD, MEMORY, TIME  # noqa: E402

# A cross-section of the gated set, one or two of each kind: a parallel CPU JIT where a busy core
# stalls its parallel region (numba at 1e5), XLA in between, the throughput-bound shared kernel,
# a cold start, and a chunked kernel's memory at 1e8.
TRIAL_BENCH = (
    rf"^{re.escape(TIME)}\('numba', 'native', 'cpu', '1e5'\)$",
    rf"^{re.escape(TIME)}\('jax', 'shared', 'cpu', '1e7'\)$",
    rf"^{re.escape(TIME)}\('numba', 'shared', 'cpu', '1e9'\)$",
    rf"^{re.escape(COLD)}\('numba', 'shared', 'cpu', '1e5'\)$",
    rf"^{re.escape(MEMORY)}\('numba', 'native', 'cpu', '1e8'\)$",
)

SLOWDOWN = """

# A deliberate slowdown, for tools/gate_trial.py only: JITPI_TRIAL_SLOWDOWN=f makes every count
# take f times as long (the difference busy-waited); JITPI_TRIAL_MEMORY=f holds f - 1 times the
# process's peak memory from its first count on.
import os as _os
import resource as _resource
import time as _time

_count_hits_once = count_hits
_held = []


def count_hits(n, **kwargs):
    started = _time.perf_counter()
    hits = _count_hits_once(n, **kwargs)
    end = started + float(_os.environ.get("JITPI_TRIAL_SLOWDOWN", "1")) * (_time.perf_counter() - started)
    memory = float(_os.environ.get("JITPI_TRIAL_MEMORY", "1"))
    if memory > 1 and not _held:
        size = int((memory - 1) * _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024)
        block = bytearray(size)
        block[::4096] = b"\\1" * len(range(0, size, 4096))
        _held.append(block)
    while _time.perf_counter() < end:
        pass
    return hits
"""


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_commits() -> tuple[str, str, str]:
    """HEAD, a commit on it that changes no code, and one with the on-demand slowdown."""
    base = git("rev-parse", "HEAD")
    identity = ["-c", "user.name=jitpi gate trial", "-c", "user.email=trial@jitpi.invalid"]
    with tempfile.TemporaryDirectory(prefix="jitpi-trial-") as folder:
        tree = Path(folder) / "tree"
        git("worktree", "add", "--detach", str(tree), base)
        try:
            readme = tree / "benchmarks" / "README.md"
            readme.write_text(readme.read_text() + "\nA note, no code (tools/gate_trial.py).\n")
            git(*identity, "commit", "-qam", "gate trial: no code change", cwd=tree)
            unchanged = git("rev-parse", "HEAD", cwd=tree)
            git("checkout", "-q", "--detach", base, cwd=tree)
            api = tree / "jitpi" / "api.py"
            api.write_text(api.read_text() + SLOWDOWN)
            git(*identity, "commit", "-qam", "gate trial: count_hits slowed on demand", cwd=tree)
            slowed = git("rev-parse", "HEAD", cwd=tree)
        finally:
            git("worktree", "remove", "--force", str(tree))
    git("update-ref", "refs/gate-trial/unchanged", unchanged)
    git("update-ref", "refs/gate-trial/slowed", slowed)
    return base, unchanged, slowed


def burn(on_s: float, off_s: float, phase_s: float) -> None:
    """One core busy ON seconds, idle OFF seconds, starting PHASE seconds into the cycle."""
    cycle = on_s + off_s
    start = time.monotonic() - phase_s
    while True:
        if (time.monotonic() - start) % cycle < on_s:
            sum(range(10_000))
        else:
            time.sleep(min(0.5, cycle - (time.monotonic() - start) % cycle))


def kind(key: str) -> str:
    if key.startswith(COLD):
        return "cold start"
    if key.startswith(MEMORY):
        return "peak memory"
    n = re.search(r"'(\de\d+)'\)$", key).group(1)
    return {"1e5": "overhead-bound (1e5)", "1e7": "in between (1e7)"}.get(n, f"throughput-bound ({n})")


def gate(base: str, head: str, bench: list[str], factor: float | None, env: dict[str, str]) -> dict:
    command = [sys.executable, "tools/gate.py", base, head, *(a for b in bench for a in ("--bench", b))]
    if factor is not None:
        command += ["--factor", str(factor)]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.monotonic() - started
    record = json.loads((ROOT / ".asv" / "gate.json").read_text()) if done.returncode in (0, 1, 2) else {}
    if done.returncode not in (0, 1) or not record:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
    return {"exit": done.returncode, "seconds": round(took), **record}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bench", "-b", action="append", help="gate these (asv -b); default: a cross-section"
    )
    parser.add_argument("--gated", action="store_true", help="the gate's whole default subset instead")
    parser.add_argument("--unchanged", type=int, default=10, help="runs against unchanged code (default 10)")
    parser.add_argument("--slowdowns", default="1.25,1.5,2", help="factors injected, one run each")
    parser.add_argument("--load", default="30:60", help="ON:OFF seconds of one busy core ('none': no load)")
    parser.add_argument("--factor", type=float, help="the gate's --factor (default: the gate's own)")
    parser.add_argument("--out", default=".asv/gate-trial.json", help="where the measurements go")
    parser.add_argument("--seed", type=int, default=0, help="seed of the load's random phases")
    args = parser.parse_args(argv)
    try:
        slowdowns = [float(f) for f in args.slowdowns.split(",") if f]
    except ValueError:
        parser.error(f"--slowdowns must be numbers above 1, comma-separated, got {args.slowdowns}")
    if any(f <= 1 for f in slowdowns):
        parser.error(f"--slowdowns must all be above 1, got {args.slowdowns}")
    if args.unchanged < 0:
        parser.error(f"--unchanged must be 0 or more, got {args.unchanged}")
    try:
        load = None if args.load == "none" else tuple(float(x) for x in args.load.split(":"))
    except ValueError:
        load = ()
    if load is not None and (len(load) != 2 or min(load) <= 0):
        parser.error(f"--load must be ON:OFF seconds (both above 0) or 'none', got {args.load}")
    if args.gated and args.bench:
        parser.error("--gated and --bench are two selections: give one")
    bench = [] if args.gated else args.bench or list(TRIAL_BENCH)
    base, unchanged, slowed = make_commits()
    print(f"gate trial: base {base[:8]}, unchanged {unchanged[:8]}, slowed {slowed[:8]}", flush=True)
    plan = [("unchanged", 1.0, unchanged)] * args.unchanged + [("slowed", f, slowed) for f in slowdowns]
    rng = random.Random(args.seed)
    runs = []
    for what, slowdown, head in plan:
        env = {**os.environ, "JITPI_TRIAL_SLOWDOWN": str(slowdown), "JITPI_TRIAL_MEMORY": str(slowdown)}
        burner = None
        if load is not None:
            phase = rng.uniform(0, sum(load))
            burner = multiprocessing.Process(target=burn, args=(*load, phase), daemon=True)
            burner.start()
        try:
            run = gate(base, head, bench, args.factor, env)
        finally:
            if burner is not None:
                burner.terminate()
                burner.join()
        run.update(what=what, slowdown=slowdown)
        runs.append(run)
        ratios = ", ".join(f"{c['ratio']:.2f}" for c in run.get("combinations", []) if c["ratio"] is not None)
        print(
            f"gate trial: {what} x{slowdown}: exit {run['exit']} in {run['seconds']} s; ratios {ratios}",
            flush=True,
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"load": args.load, "bench": bench, "runs": runs}, indent=1))
    print(summary(runs))
    return 0


def summary(runs: list[dict]) -> str:
    """Per kind: the largest ratio unchanged code showed, and which injected slowdowns were caught."""
    kinds: dict[str, dict] = {}
    for run in runs:
        for c in run.get("combinations", []):
            if c["ratio"] is None:  # skipped at both commits (a bound, or no such framework here)
                continue
            entry = kinds.setdefault(kind(c["key"]), {"null": [], "caught": {}, "missed": {}})
            if run["what"] == "unchanged":
                entry["null"].append(c["ratio"])
            else:
                caught = c["verdict"] == "regressed"
                entry["caught" if caught else "missed"].setdefault(run["slowdown"], []).append(c["ratio"])
    null_runs = [run for run in runs if run["what"] == "unchanged"]
    lines = [
        f"unchanged code: {sum(run['exit'] != 0 for run in null_runs)} alarm(s) in {len(null_runs)} runs",
        "| kind | largest ratio, unchanged | slowdowns caught (measured ratio) | missed |",
        "| --- | --- | --- | --- |",
    ]
    for name, entry in sorted(kinds.items()):
        null = [r for r in entry["null"] if r is not None]
        caught = ", ".join(f"{f}x ({min(r):.2f})" for f, r in sorted(entry["caught"].items()))
        missed = ", ".join(
            f"{f}x ({min(r or 0 for r in rs):.2f})" for f, rs in sorted(entry["missed"].items())
        )
        lines.append(
            f"| {name} | {max(null):.2f} | {caught or '-'} | {missed or '-'} |"
            if null
            else f"| {name} | - | {caught or '-'} | {missed or '-'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
