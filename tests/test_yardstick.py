"""The machine's yardstick (benchmarks/bench_yardstick.py): jitpi-free, fixed, counted right, seen by
asv, and known by the same name and sample count to the page, the runner and the gate (through the
suite's grid, jitpi/suite/grid.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from asv_helpers import ROOT, asv, asv_environ, have_tools, light_config, make_repo, suite_importable

from jitpi import registry
from jitpi.suite import grid

discovery = pytest.importorskip("asv_runner.discovery")

SUITE = ROOT / "benchmarks"
NAME = "bench_yardstick.Yardstick.time_quarter_circle"


@pytest.fixture(scope="module")
def yardstick():
    with suite_importable():
        import benchmarks.bench_yardstick as module
    return module


def direct_count(samples: int, seed: int, piece: int | None = None) -> int:
    """The count straight from numpy: the stream's uniforms in order, x the even ones and y the odd
    ones, drawn at once or (for a large count) in pieces of ``piece`` pairs."""
    rng = np.random.Generator(np.random.PCG64(seed))
    hits = 0
    piece = piece or max(samples, 1)
    for start in range(0, samples, piece):
        uniforms = rng.random(2 * min(piece, samples - start))
        x, y = uniforms[0::2], uniforms[1::2]
        hits += int(np.count_nonzero(x * x + y * y < 1.0))
    return hits


def test_importing_it_imports_no_jitpi_and_no_framework():
    """asv's forkserver imports the whole suite once; this module must bring nothing in but numpy."""
    frameworks = sorted(
        {module for info in registry.REGISTRY.values() if info.compiles for module in info.modules}
    )
    script = (
        "import json, sys\n"
        "import numpy\n"
        "before = set(sys.modules)\n"
        "import benchmarks.bench_yardstick\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout.splitlines()[-1])
    assert not [name for name in added if name == "jitpi" or name.startswith("jitpi.")], added
    assert "benchmarks.common" not in added
    assert not [name for name in added if name.split(".")[0] in frameworks], added
    # numpy was imported before: only the package and the module itself (and the standard library).
    third_party = [name for name in added if name.split(".")[0] not in sys.stdlib_module_names]
    assert sorted(third_party) == ["benchmarks", "benchmarks.bench_yardstick", "benchmarks.grid"], added


def test_a_call_counts_what_numpy_counts_on_the_same_stream(yardstick):
    # A tail (n not a multiple of the chunk), a chunk larger than n, a chunk of one pair, nothing.
    for samples, chunk in [(10**5 + 3, 4096), (1000, 1 << 18), (257, 1), (0, 4096)]:
        assert yardstick.count_inside(samples, yardstick.SEED, chunk) == direct_count(samples, yardstick.SEED)
    hits = yardstick.count_inside()
    assert hits == direct_count(yardstick.SAMPLES, yardstick.SEED, piece=5 * 10**6)
    p = math.pi / 4
    z = (hits / yardstick.SAMPLES - p) / math.sqrt(p * (1 - p) / yardstick.SAMPLES)
    assert abs(z) < 6


def test_the_timed_method_does_the_whole_count_each_call_and_returns_nothing(yardstick, monkeypatch):
    calls = []
    monkeypatch.setattr(yardstick, "count_inside", lambda *args, **kwargs: calls.append((args, kwargs)) or 7)
    bench = yardstick.Yardstick()
    assert bench.time_quarter_circle() is None
    assert bench.time_quarter_circle() is None
    assert calls == [((), {}), ((), {})]  # the defaults: SAMPLES points from SEED, every call


def test_asv_discovers_one_unparametrised_timing(yardstick):
    with suite_importable():
        found = {bench.name: bench for bench in discovery.disc_benchmarks(str(SUITE))}
    assert NAME in found
    ours = [name for name in found if name.startswith("bench_yardstick.")]
    assert ours == [NAME]
    bench = found[NAME]
    assert bench.params == [] and bench.param_names == []
    assert bench.number == 1 and bench.version == "1"
    assert bench.repeat == yardstick.Yardstick.repeat and bench.warmup_time > 0


def test_the_suites_grid_names_it_as_asv_discovers_it(yardstick):
    """The page, the release sweep, the runner and the gate read the yardstick's name, sample count
    and version from the grid (jitpi/suite/grid.py): they must be what asv discovers and runs."""
    assert grid.YARDSTICK == NAME
    assert grid.YARDSTICK_SAMPLES == yardstick.SAMPLES
    assert yardstick.Yardstick.version == grid.YARDSTICK_VERSION


@pytest.mark.slow
def test_it_runs_under_asvs_forkserver(tmp_path):
    """One quick asv run of the yardstick alone, in the project's own configuration (forkserver),
    in the development environment (``--python=same``): it is measured."""
    reason = have_tools()
    if reason:
        pytest.skip(reason)
    repo = make_repo(tmp_path / "repo", light_config())
    environ = asv_environ(tmp_path / "home")
    done = asv(repo, environ, "machine", "--yes", "--machine", "yardstick-test", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = asv(
        repo,
        environ,
        "run",
        "--python=same",
        "--launch-method=forkserver",
        "--quick",
        "--show-stderr",
        "-b",
        "Yardstick",
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = next((line for line in done.stdout.splitlines() if NAME in line and "Running" not in line), "")
    assert line.split()[-1].endswith("s") and "failed" not in line and "n/a" not in line, done.stdout
