"""Everything jitpi asks of a machine with an NVIDIA GPU, in one command: the GPU tests, the GPU
throughput sweep at n = 1e8 .. 1e11, and the cross-check that every GPU backend counts exactly the
shared stream's CPU hits.

    python3 tools/gpu_check.py --out DIR              # every stage
    python3 tools/gpu_check.py --out DIR --stage sweep --backend triton --n 1e10,1e11

Under a per-command time limit, run a stage (or the sweep for one backend) per command: each sweep
writes its own ``gpu-sweep-<backends>.json`` and the cross-check reads all of them.

Runs from a checkout with no install (``PYTHONPATH`` is set to it for every child), with whatever
frameworks the machine's ``python3`` has: a missing one is skipped with its reason, as everywhere
in jitpi. What it writes in DIR: ``gpu-check.log`` (all output, versions and ``nvidia-smi``
first), ``gpu-tests.xml`` (JUnit), ``gpu-sweep-<backends>.json`` and ``gpu-naive-<backends>.json``
(``jitpi run`` rows; ``jitpi plot`` draws them) and ``crosscheck.json``. Exit status 0 only if
every stage passed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("env", "tests", "sweep", "crosscheck")


def gpu_backends() -> str:
    """Every backend whose module has GPU code (``Backend.devices``), comma-separated."""
    import jitpi
    from jitpi import registry

    names = []
    for name in jitpi.BACKENDS:
        try:
            if "gpu" in registry.load(name).devices:
                names.append(name)
        except jitpi.BackendUnavailable:
            continue
    return ",".join(names)


def test_files() -> list[str]:
    """The contract and distributed tests, and every backend's own test file."""
    import jitpi

    own = [f"tests/test_backend_{name}.py" for name in jitpi.BACKENDS]
    return [
        "tests/test_contract.py",
        *(path for path in own if (ROOT / path).exists()),
        "tests/test_shared.py",
        "tests/test_distributed.py",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check")))
    parser.add_argument("--stage", action="append", choices=STAGES, help="repeatable (default: all)")
    parser.add_argument("--n", default="1e8,1e9,1e10,1e11", help="sweep sample counts (jitpi run --n)")
    parser.add_argument(
        "--backend", help="sweep backends (jitpi run --backend; default: every backend with GPU code)"
    )
    parser.add_argument(
        "--row-budget", default="30", help="seconds of steady calls per sweep row (jitpi run --row-budget)"
    )
    parser.add_argument(
        "--cpu-reference", default="numba", help="backend that counts the shared stream on the CPU"
    )
    args = parser.parse_args(argv)
    args.backend = args.backend or gpu_backends()
    args.out = args.out.resolve()  # children run in the checkout, the caller may be elsewhere
    args.out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        # jax would take 75% of the GPU's memory at its first computation, leaving torch and numba
        # (in the same test process) too little.
        "XLA_PYTHON_CLIENT_PREALLOCATE": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "false"),
    }
    failed = []
    with (args.out / "gpu-check.log").open("a") as log:
        for stage in args.stage or STAGES:
            started = time.perf_counter()
            _say(log, f"\n=== {stage} ===")
            ok = STAGE_RUNNERS[stage](args, env, log)
            took = time.perf_counter() - started
            _say(log, f"=== {stage}: {'passed' if ok else 'FAILED'} in {took:.0f} s ===")
            if not ok:
                failed.append(stage)
        _say(log, f"\nfailed stages: {', '.join(failed)}" if failed else "\nevery stage passed")
    return 1 if failed else 0


def _say(log, text: str) -> None:
    print(text, flush=True)
    log.write(text + "\n")
    log.flush()


def _run(command: list[str], env: dict, log) -> int:
    _say(log, "$ " + " ".join(command))
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    for line in process.stdout:
        print(line, end="", flush=True)
        log.write(line)
    log.flush()
    return process.wait()


def stage_env(args, env, log) -> bool:
    """Versions, the GPU as ``nvidia-smi`` sees it, and ``jitpi list``; fails if no backend has a GPU."""
    if shutil.which("nvidia-smi"):
        query = "name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw"
        _run(["nvidia-smi", f"--query-gpu={query}", "--format=csv"], env, log)
    else:
        _say(log, "nvidia-smi is not on PATH")
    packages = (
        "numpy numba numba-cuda jax jaxlib jax-cuda13-plugin jax-cuda12-plugin "
        "tensorflow tensorflow-cpu torch triton drjit halide apache-tvm apache-tvm-ffi cuda-bindings"
    )
    versions = (
        "import importlib.metadata as m, platform, sys; print('python', platform.python_version())\n"
        "for name in sys.argv[1:]:\n"
        "    try: print(name, m.version(name))\n"
        "    except m.PackageNotFoundError: print(name, '-')"
    )
    _run([sys.executable, "-c", versions, *packages.split()], env, log)
    # One import of every backend: the JSON listing, logged as a line per backend and device.
    command = [sys.executable, "-m", "jitpi", "list", "--json"]
    _say(log, "$ " + " ".join(command))
    listing = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, errors="replace")
    if listing.returncode:
        _say(log, listing.stdout + listing.stderr)
        return False
    on_gpu = []
    for name, entry in json.loads(listing.stdout).items():
        for device, state in entry["devices"].items():
            _say(log, f"{name:>10} {device}  {'yes' if state['available'] else 'no '}  {state['detail']}")
        if entry["devices"]["gpu"]["available"]:
            on_gpu.append(name)
    _say(log, f"backends with a GPU here: {', '.join(on_gpu) or 'none'}")
    return bool(on_gpu)


def stage_tests(args, env, log) -> bool:
    if importlib.util.find_spec("pytest") is None:
        _say(log, f"pytest is not installed for {sys.executable}: the GPU tests cannot run")
        return False
    options = ["-m", "gpu", "-rs", "-p", "no:cacheprovider", f"--junitxml={args.out / 'gpu-tests.xml'}"]
    return _run([sys.executable, "-m", "pytest", *options, *test_files()], env, log) == 0


def stage_sweep(args, env, log) -> bool:
    label = args.backend.replace(",", "-")

    def sweep(variants: str, n: str, name: str) -> int:
        command = [sys.executable, "-m", "jitpi", "run", "--device", "gpu", "-b", args.backend]
        options = ["--variant", variants, "--n", n, "--row-budget", args.row_budget]
        return _run([*command, *options, "--json", str(args.out / f"{name}-{label}.json")], env, log)

    chunked = sweep("shared,native", args.n, "gpu-sweep")
    # naive holds whole arrays: 1e9 float32 pairs are 8 GB, 1e10 would not fit on one GPU.
    naive = sweep("naive", "1e8,1e9", "gpu-naive")
    return chunked == 0 and naive == 0


def stage_crosscheck(args, env, log) -> bool:
    """Every GPU backend's shared hits at each n equal the CPU's count of the same stream."""
    sweeps = sorted(args.out.glob("gpu-sweep*.json"))
    if not sweeps:
        _say(log, f"no gpu-sweep*.json in {args.out}: run the sweep stage first")
        return False
    results = [json.loads(path.read_text()) for path in sweeps]
    shared = [row for result in results for row in result["rows"] if row["variant"] == "shared"]
    for entry in (entry for result in results for entry in result.get("unavailable", [])):
        if entry["variant"] == "shared":
            _say(log, f"not checked: {entry['backend']} unavailable: {entry['reason']}")
    for row in shared:
        if row["status"] != "ok":
            _say(log, f"not checked: {row['backend']} n={row['n']:.0e} {row['status']}: {row.get('message')}")
    rows = [row for row in shared if row["status"] == "ok"]
    if not rows:
        _say(log, "no shared rows ran on the GPU")
        return False
    reference = {}
    for seed, n in sorted({(row["seed"], row["n"]) for row in rows}):
        script = (
            "import jitpi, sys; n, seed = int(sys.argv[1]), int(sys.argv[2]);"
            f"print(jitpi.count_hits(n, backend={args.cpu_reference!r}, variant='shared', seed=seed))"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, str(n), str(seed)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            _say(log, result.stdout + result.stderr)
            return False
        reference[seed, n] = int(result.stdout.split()[-1])  # the last line: the count
    checks = [
        {
            "backend": row["backend"],
            "n": row["n"],
            "seed": row["seed"],
            "gpu_hits": row["hits"],
            "cpu_hits": reference[row["seed"], row["n"]],
        }
        for row in rows
    ]
    for check in checks:
        check["equal"] = check["gpu_hits"] == check["cpu_hits"]
        verdict = "equal" if check["equal"] else "DIFFERENT"
        _say(
            log,
            "{backend:>10} n={n:.0e} gpu {gpu_hits} cpu {cpu_hits} {verdict}".format(
                verdict=verdict, **check
            ),
        )
    report = {"cpu_reference": args.cpu_reference, "sweeps": [path.name for path in sweeps], "checks": checks}
    (args.out / "crosscheck.json").write_text(json.dumps(report, indent=1))
    return all(check["equal"] for check in checks)


STAGE_RUNNERS = {"env": stage_env, "tests": stage_tests, "sweep": stage_sweep, "crosscheck": stage_crosscheck}

if __name__ == "__main__":
    raise SystemExit(main())
