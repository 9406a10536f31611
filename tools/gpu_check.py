"""Everything jitpi asks of a machine with an NVIDIA GPU, in one command: the GPU tests, the GPU
throughput sweep at n = 1e8 .. 1e11, and the cross-check that every GPU backend counts exactly the
shared stream's CPU hits.

    python3 tools/gpu_check.py --out DIR              # every stage
    python3 tools/gpu_check.py --out DIR --stage sweep --n 1e10,1e11

Runs from a checkout with no install (``PYTHONPATH`` is set to it for every child), with whatever
frameworks the machine's ``python3`` has: a missing one is skipped with its reason, as everywhere
in jitpi. What it writes in DIR: ``gpu-check.log`` (all output, versions and ``nvidia-smi``
first), ``gpu-tests.xml`` (JUnit), ``gpu-sweep.json`` and ``gpu-naive.json`` (``jitpi run``
rows; ``jitpi plot`` draws them) and ``crosscheck.json``. Exit status 0 only if every stage passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPU_BACKENDS = "numba,jax,tensorflow,torch,triton"
STAGES = ("env", "tests", "sweep", "crosscheck")
TEST_FILES = [
    "tests/test_contract.py",
    "tests/test_backend_numba.py",
    "tests/test_backend_jax.py",
    "tests/test_backend_tensorflow.py",
    "tests/test_backend_torch.py",
    "tests/test_backend_triton.py",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check")))
    parser.add_argument("--stage", action="append", choices=STAGES, help="repeatable (default: all)")
    parser.add_argument("--n", default="1e8,1e9,1e10,1e11", help="sweep sample counts (jitpi run --n)")
    parser.add_argument("--backend", default=GPU_BACKENDS, help="sweep backends (jitpi run --backend)")
    parser.add_argument(
        "--cpu-reference", default="numba", help="backend that counts the shared stream on the CPU"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env["PYTHONUNBUFFERED"] = "1"
    log = (args.out / "gpu-check.log").open("a")
    failed = []
    for stage in args.stage or STAGES:
        started = time.perf_counter()
        _say(log, f"\n=== {stage} ===")
        ok = STAGE_RUNNERS[stage](args, env, log)
        _say(log, f"=== {stage}: {'passed' if ok else 'FAILED'} in {time.perf_counter() - started:.0f} s ===")
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
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in process.stdout:
        print(line, end="", flush=True)
        log.write(line)
    log.flush()
    return process.wait()


def stage_env(args, env, log) -> bool:
    if shutil.which("nvidia-smi"):
        query = "name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw"
        _run(["nvidia-smi", f"--query-gpu={query}", "--format=csv"], env, log)
    versions = (
        "import importlib.metadata as m, platform; print('python', platform.python_version());"
        "[print(p, m.version(p)) if p in {d.metadata['Name'] for d in m.distributions()} else print(p, '-')"
        " for p in ('numpy','numba','numba-cuda','jax','jaxlib','jax-cuda13-plugin','jax-cuda12-plugin',"
        "'tensorflow','torch','triton')]"
    )
    _run([sys.executable, "-c", versions], env, log)
    return _run([sys.executable, "-m", "jitpi", "list"], env, log) == 0


def stage_tests(args, env, log) -> bool:
    xml = args.out / "gpu-tests.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "gpu",
        "-rs",
        "-p",
        "no:cacheprovider",
        f"--junitxml={xml}",
    ]
    return _run(command + TEST_FILES, env, log) == 0


def stage_sweep(args, env, log) -> bool:
    def sweep(variants: str, n: str, name: str) -> int:
        command = [sys.executable, "-m", "jitpi", "run", "--device", "gpu", "-b", args.backend]
        return _run([*command, "--variant", variants, "--n", n, "--json", str(args.out / name)], env, log)

    chunked = sweep("shared,native", args.n, "gpu-sweep.json")
    # naive holds whole arrays: 1e9 float32 pairs are 8 GB, 1e10 would not fit on one GPU.
    naive = sweep("naive", "1e8,1e9", "gpu-naive.json")
    return chunked == 0 and naive == 0


def stage_crosscheck(args, env, log) -> bool:
    """Every GPU backend's shared hits at each n equal the CPU's count of the same stream."""
    sweep = args.out / "gpu-sweep.json"
    if not sweep.exists():
        _say(log, f"no {sweep}: run the sweep stage first")
        return False
    rows = [
        row
        for row in json.loads(sweep.read_text())["rows"]
        if row["variant"] == "shared" and row["status"] == "ok"
    ]
    if not rows:
        _say(log, "no shared rows ran on the GPU")
        return False
    seed = rows[0]["seed"]
    reference = {}
    for n in sorted({row["n"] for row in rows}):
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
        reference[n] = int(result.stdout)
    checks = [
        {"backend": row["backend"], "n": row["n"], "gpu_hits": row["hits"], "cpu_hits": reference[row["n"]]}
        for row in rows
    ]
    for check in checks:
        check["equal"] = check["gpu_hits"] == check["cpu_hits"]
        _say(
            log,
            "{backend:>10} n={n:.0e} gpu {gpu_hits} cpu {cpu_hits} {}".format(
                "equal" if check["equal"] else "DIFFERENT", **check
            ),
        )
    (args.out / "crosscheck.json").write_text(
        json.dumps({"cpu_reference": args.cpu_reference, "checks": checks})
    )
    return all(check["equal"] for check in checks)


STAGE_RUNNERS = {"env": stage_env, "tests": stage_tests, "sweep": stage_sweep, "crosscheck": stage_crosscheck}

if __name__ == "__main__":
    raise SystemExit(main())
