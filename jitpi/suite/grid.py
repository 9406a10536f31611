"""The asv suite's grid and benchmark names: the one source the suite, the page, the release sweep,
the bench runner and the gate read.

asv discovers one grid and runs it over every commit, keying each result by its position in the
grid. A grid built from the installed library moves when a commit inserts or removes a backend,
and files numbers under the wrong names. So the lists are written out here:

- append only: a new backend, variant or n goes at the end of its list, never in between;
- never remove: a backend jitpi drops stays, and its combinations skip ("jitpi at this commit has
  no backend ...") on the commits that lack it, as they do on the commits before it arrived;
- tests/test_asv_suite.py fails when the library has a backend, variant or device this grid lacks.

The suite loads this file from the working tree (``benchmarks/grid.py``), never through the jitpi
asv installed at the commit being measured. It imports nothing, so that load needs no environment.
"""

from __future__ import annotations

__all__ = [
    "ACCURACY",
    "ACCURACY_N",
    "BACKENDS",
    "COLD",
    "COLD_N",
    "DEVICES",
    "GPU_ONLY_N",
    "MEMORY",
    "MEMORY_N",
    "NAIVE",
    "NATIVE",
    "N_GRID",
    "PARAM_NAMES",
    "SEED",
    "SEEDS",
    "SHARED",
    "TIME",
    "VARIANTS",
    "YARDSTICK",
    "YARDSTICK_SAMPLES",
    "YARDSTICK_VERSION",
    "key",
    "size",
]

BACKENDS = (
    "python",
    "numpy",
    "numba",
    "jax",
    "tensorflow",
    "torch",
    "triton",
    "warp",
    "taichi",
    "tinygrad",
    "mlx",
    "pypy",
    "mojo",
    "drjit",
    "halide",
    "tvm",
)
VARIANTS = ("naive", "native", "shared")
NAIVE, NATIVE, SHARED = VARIANTS
DEVICES = ("cpu", "gpu")
PARAM_NAMES = ("backend", "variant", "device", "n")

# n is given as a label, "1e5", rather than the int: the site then spaces the values evenly when
# n is its x-axis (a log axis in effect; ints get a linear one, squeezing 1e5..1e9 against 1e10),
# and the labels read better in tables and in -b patterns. ``size(label)`` is the int.
#
# The founding article's range of n, every second decade: overhead-bound, in between, throughput-
# bound. Every point is a process per backend x variant (a framework import and a compile each).
N_GRID = ("1e5", "1e7", "1e9")
# ... and a point only a GPU reaches in reasonable time; it skips on the CPU.
GPU_ONLY_N = ("1e10",)
# Peak memory: the naive variant's O(n) against everyone's O(chunk) (1e8 samples are 1.6 GB of
# float64 pairs, 1e5 are 1.6 MB, well under any framework's baseline).
MEMORY_N = ("1e5", "1e8")
# Accuracy: two n, each over every seed in SEEDS (at 1e6 a bias of 5e-4 in p already shows).
ACCURACY_N = ("1e5", "1e6")
# Cold start: compile time does not depend on n (one compile serves every n), so one small n.
COLD_N = ("1e5",)

SEED = 0  # the stream every timing and memory benchmark counts
SEEDS = tuple(range(16))  # the fixed streams of the accuracy benchmark

# The benchmarks' full names, as asv reports them (module.Class.method).
TIME = "bench_time.CountHits.time_count_hits"
COLD = "bench_cold.ColdStart.timeraw_first_call"
MEMORY = "bench_memory.CountHitsMemory.peakmem_count_hits"
ACCURACY = "bench_accuracy.Accuracy.track_rms_z"
# The machine's yardstick (benchmarks/bench_yardstick.py): not parametrised, so asv's key is the
# bare name; a count of YARDSTICK_SAMPLES points, YARDSTICK_VERSION its asv version (results of
# another workload are not compared with it).
YARDSTICK = "bench_yardstick.Yardstick.time_quarter_circle"
YARDSTICK_SAMPLES = 4 * 10**7
YARDSTICK_VERSION = "1"


def size(label: str) -> int:
    """The number of samples a label such as "1e7" stands for."""
    mantissa, _, exponent = label.partition("e")
    return int(mantissa) * 10 ** int(exponent or 0)


def key(benchmark: str, backend: str, variant: str, device: str, n: str) -> str:
    """One combination as asv names it, ``name('numba', 'shared', 'cpu', '1e9')``: the form
    ``asv run -b`` matches, ``asv compare`` prints and tools/gate.py reports."""
    return f"{benchmark}({backend!r}, {variant!r}, {device!r}, {n!r})"
