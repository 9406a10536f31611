"""What every jitpi benchmark shares: the skip rules, compile-and-verify, the base class.

The grid itself (backends, variants, devices, n, seeds) is ``grid.py``: fixed, never read from
the installed jitpi. asv runs that one grid over every commit; a combination that cannot run at a
commit here skips in ``setup`` by raising ``SkipNotImplemented`` (a ``NotImplementedError``) with
the reason, and asv records it as skipped (``n/a``): jitpi at that commit lacks the backend or the
variant, the framework is missing, the device has no GPU, or n is beyond a bound.

Nothing here imports a framework: the suite is imported for discovery and once per benchmark
process, so framework imports happen in ``setup`` (through jitpi's lazy registry), never at import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import itertools
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import jitpi
from jitpi import registry
from jitpi.philox import REFERENCE_HITS
from jitpi.stats import SUSPECT_Z, rms

from .grid import (
    ACCURACY_N,
    BACKENDS,
    COLD_N,
    DEVICES,
    GPU_ONLY_N,
    MEMORY_N,
    N_GRID,
    NAIVE,
    PARAM_NAMES,
    SEED,
    SEEDS,
    SHARED,
    VARIANTS,
    size,
)

try:  # asv_runner's own skip exception, when the suite runs under asv
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:  # pragma: no cover - running a benchmark by hand without asv_runner
    SkipNotImplemented = NotImplementedError

__all__ = [
    "ACCURACY_N",
    "BACKENDS",
    "COLD_N",
    "DEVICES",
    "GPU_ONLY_N",
    "MEMORY_N",
    "N_GRID",
    "PARAM_NAMES",
    "SEED",
    "SEEDS",
    "VARIANTS",
    "grid_params",
    "size",
]

# What asv's setup_cache leaves in the working directory it then runs the class's combinations in.
ASV_CACHE_FILE = "cache.pickle"

VERIFY_N = 10**6  # setup verifies |z| < MAX_Z at min(n, VERIFY_N) (and so compiles)
# ... and a shared count exactly: every grid's min(n, VERIFY_N) has its reference count.
MAX_Z = SUSPECT_Z

# Largest n one call may have on the CPU: the compiled backends run the whole grid (1e9 in 1-10 s
# on the 2-core reference machine); a backend that runs at interpreter speed bounds its variants
# in its registry line (``BackendInfo.cpu_max_n``: the python loop, Triton's interpreter, numpy's
# Philox reference), read without importing the framework.
# The naive variant stops at 1e8 on the CPU: at 1e9 its whole arrays are 8-16 GB, up to half this
# machine (torch's: 29 s a call, 1.25 GB peak at 1e8), and 1e5..1e8 already show its growth; it is
# also bounded by the backend's own ``naive_max_n``. Nothing bounds a GPU here.
CPU_NAIVE_MAX_N = 10**8
CPU_DEFAULT_MAX_N = size(N_GRID[-1])
# The accuracy benchmark draws len(SEEDS) * n samples in one process, once per run (no repeats),
# where a timing benchmark makes several calls: it may draw this many times the per-call bound.
ACCURACY_SAMPLE_FACTOR = 4


def skip(reason: str) -> None:
    """Skip this parameter combination, with the reason (asv shows it with -e)."""
    raise SkipNotImplemented(reason)


def gpu_present() -> bool:
    """Whether this machine has a GPU device node at all (a cheap test before any framework import)."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/dev/kfd"))


def cpu_max_n(backend: str, variant: str) -> int:
    """The suite's bound on one CPU call: the grid's, the naive one's, or the backend's own."""
    default = CPU_NAIVE_MAX_N if variant == "naive" else CPU_DEFAULT_MAX_N
    own = registry.REGISTRY[backend].affordable_n(variant)
    return default if own is None else min(own, default)


def require(
    backend: str,
    variant: str,
    device: str,
    n: int,
    *,
    calls: int = 1,
    allowance: int = 1,
    shared: bool = False,
) -> None:
    """Skip, with the reason, unless (backend, variant, device) runs here and n is affordable.

    The cheap checks come first, so that a combination that cannot run costs no framework import:
    the device, the size, then the framework (imported here, or with ``shared`` asked once for the
    class's combinations: ``BackendFacts``), the variant and its own bound. The benchmark makes
    ``calls`` calls of n samples, allowed up to ``allowance`` times the per-call bound in all.
    """
    require_affordable(backend, variant, device, n, calls=calls, allowance=allowance)
    facts = BackendFacts.shared(backend, device) if shared else BackendFacts.here(backend, device, (variant,))
    facts.require(variant, n)


def require_in_library(backend: str, variant: str, device: str) -> None:
    """Skip a combination of the fixed grid that the installed jitpi (this commit's) does not have."""
    for what, value, known in (
        ("backend", backend, jitpi.BACKENDS),
        ("variant", variant, jitpi.VARIANTS),
        ("device", device, jitpi.DEVICES),
    ):
        if value not in known:
            skip(f"jitpi at this commit has no {what} {value!r} (it has {', '.join(known)})")


def require_affordable(
    backend: str, variant: str, device: str, n: int, *, calls: int = 1, allowance: int = 1
) -> None:
    """The part of ``require`` that imports no framework: jitpi at this commit has the backend,
    variant and device; the device is here; n is within the bounds."""
    require_in_library(backend, variant, device)
    if device == "gpu" and not gpu_present():
        skip("no GPU on this machine")
    if device == "cpu":
        if n >= min(size(label) for label in GPU_ONLY_N):
            skip(f"n={n:.0e} is measured on a GPU only")
        limit = cpu_max_n(backend, variant)
        if calls * n > allowance * limit:
            what = f"n={n:.0e}" if calls == 1 else f"{calls} calls at n={n:.0e}"
            skip(
                f"{what} is beyond the suite's CPU bound for {backend} ({variant}), "
                f"{allowance * limit:.0e} samples (jitpi.registry's cpu_max_n)"
            )


@dataclass(frozen=True)
class BackendFacts:
    """What ``require`` learns by importing a backend: why each variant cannot run on a device here
    (None where it can), and the naive variant's bound there.

    ``here`` imports the framework. ``shared`` serves a class whose combinations do not otherwise
    need the framework in their own process (the cold start times a child interpreter; accuracy is
    computed once per backend): asv runs every combination of a class that has ``setup_cache`` in
    one working directory (every round, removed when the run ends), so the first combination of a
    backend asks and leaves the answer there, and the others read it instead of importing it again.
    """

    backend: str
    device: str
    reasons: dict[str, str | None]
    naive_max_n: int | None

    @classmethod
    def here(cls, backend: str, device: str, variants: tuple[str, ...] | None = None) -> BackendFacts:
        """Asked of the framework, for ``variants`` (every one jitpi has at this commit, unless a
        combination needs only its own)."""
        if variants is None:
            variants = tuple(variant for variant in VARIANTS if variant in jitpi.VARIANTS)
        reasons = {}
        for variant in variants:
            ok, reason = jitpi.availability(backend, device, variant)
            reasons[variant] = None if ok else reason
        naive_max_n = None
        if NAIVE in reasons and reasons[NAIVE] is None:
            bound = registry.load(backend).naive_max_n
            naive_max_n = None if bound is None else int(bound(device))
        return cls(backend, device, reasons, naive_max_n)

    @classmethod
    def shared(cls, backend: str, device: str) -> BackendFacts:
        path = shared_path("facts", backend, device)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                return cls(**json.loads(path.read_text()))
        facts = cls.here(backend, device)
        if path is not None:
            write_atomically(path, json.dumps(dataclasses.asdict(facts)))
        return facts

    def require(self, variant: str, n: int) -> None:
        reason = self.reasons[variant]
        if reason is not None:
            skip(reason)
        if variant == NAIVE and self.naive_max_n is not None and n > self.naive_max_n:
            skip(
                f"n={n:.0e} is above {self.naive_max_n:.2e}, the naive {self.backend} variant's bound "
                f"on this {self.device}"
            )


def shared_path(kind: str, backend: str, device: str, suffix: str = ".json") -> Path | None:
    """Where a class's combinations leave what they share (see ``BackendFacts``), or None where
    nothing is shared: the working directory asv gives the combinations of a class that defines
    ``setup_cache`` for one run, known by the ``cache.pickle`` asv leaves there. A benchmark run
    by hand, elsewhere, shares nothing, so that no file outlives the run that wrote it."""
    here = Path.cwd()
    if not (here / ASV_CACHE_FILE).exists():
        return None
    return here / f"jitpi-{kind}-{backend}-{device}{suffix}"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that a reader sees the whole file or none (a process killed mid-write
    leaves no half file behind)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def process_name(class_name: str, index: int) -> str:
    """What a benchmark process calls itself: "asv:TAG:INDEX", TAG three hex digits of the class
    name's CRC-32 and INDEX asv's index of the combination (15 bytes at most, Linux's limit).

    asv's forkserver gives every combination a fork of one server, all with the server's command
    line; the name is how ``ps``, ``top`` and ``tools/bench.py`` tell which combination runs."""
    return f"asv:{zlib.crc32(class_name.encode()) & 0xFFF:03x}:{index}"


def name_process(benchmark: object, *values: object) -> None:
    """Name this process after its class and combination (Linux only; elsewhere nothing)."""
    cls = type(benchmark)
    index = list(itertools.product(*cls.params)).index(values)
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(process_name(cls.__name__, index))


def compile_and_verify(backend: str, variant: str, device: str, n: int) -> None:
    """Compile (first call) and check the count: a wrong one fails the benchmark, never skips.

    Every variant must give |z| < MAX_Z; the shared variant must also equal the Philox stream's
    count exactly (the pure-Python reference's, recorded), so that no environment, release or
    device of any framework, numpy's included, is timed counting something else."""
    check_n = min(n, VERIFY_N)
    estimate = jitpi.estimate_pi(check_n, backend=backend, seed=SEED, variant=variant, device=device)
    if not abs(estimate.z) < MAX_Z:
        raise RuntimeError(
            f"{backend} ({variant}, {device}) is wrong: pi_hat={estimate.pi!r} at n={check_n}, "
            f"z={estimate.z:.2f} (|z| must be < {MAX_Z})"
        )
    if variant == SHARED:
        expected = REFERENCE_HITS[check_n, SEED]
        if estimate.hits != expected:
            raise RuntimeError(
                f"{backend} ({variant}, {device}) counted {estimate.hits} hits of n={check_n}, seed={SEED}; "
                f"the Philox stream has {expected} (jitpi.philox.REFERENCE_HITS)"
            )


def rms_z(backend: str, variant: str, device: str, n: int, seeds=SEEDS) -> float:
    """Root mean square of the z-scores over ``seeds``: about 1 for a correct estimator at any n."""
    return rms(
        jitpi.estimate_pi(n, backend=backend, seed=seed, variant=variant, device=device).z for seed in seeds
    )


def grid_params(ns: tuple[str, ...]) -> list[list[str]]:
    """asv's ``params`` for backend x variant x device x ``ns``: the fixed grid, as lists."""
    return [list(BACKENDS), list(VARIANTS), list(DEVICES), list(ns)]


class Grid:
    """Base of every benchmark class: backend x variant x device x n, and the common setup.

    ``setup`` leaves the number of samples in ``self.n``. Subclasses set ``params`` (the n axis
    differs by what is measured), ``version`` and their benchmark methods. It has no benchmark of
    its own, so asv's discovery ignores it.
    """

    param_names: ClassVar[list] = list(PARAM_NAMES)
    params: ClassVar[list] = grid_params(N_GRID)

    def setup(self, backend: str, variant: str, device: str, n: str) -> None:
        name_process(self, backend, variant, device, n)
        self.n = size(n)
        require(backend, variant, device, self.n)
        compile_and_verify(backend, variant, device, self.n)
