"""drjit: Dr.Jit, Mitsuba's tracing JIT. Array code is traced in Python and compiled by the system's
LLVM (libLLVM 15 or newer) into kernels that Dr.Jit's thread pool runs on every core, in SIMD
packets (or by the CUDA driver on a GPU).

Each chunked variant traces one kernel over a fixed chunk of lanes (``dr.arange``), fed by opaque
scalars (the first block or run, the key, the sample range inside the launch), so one compile serves
every n, seed and start; each launch adds its hits into one UInt64 on the device with a symbolic
``dr.scatter_reduce``, and nothing of size chunk is ever stored.

- ``shared``: Philox4x32-10 built from ``jitpi.philox.rounds``, one block per lane, 32-bit words held
  in UInt64 lanes (the fastest of three forms), the exact int64 inside test.
- ``native``: Dr.Jit's ``PCG32``, one generator per run of ``RUN`` samples (its state and increment
  hashed from the seed and the run), drawn in a symbolic ``dr.while_loop``; two words per sample,
  each word's cell centre, the exact integer inside test.
- ``naive``: the article's whole arrays: ``dr.rng(seed).random(Float32, n)`` twice, evaluated, then
  ``dr.count``.

Design notes, the generated code and measurements: docs/backends/drjit.md.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.contract import Backend, Chunks, Words
from jitpi.registry import BackendUnavailable

VERSION = importlib.metadata.version("drjit")
REQUIRES = (1, 1)
"""``dr.rng``, ``dr.mul_hi`` and ``dr.detail.launch_stats`` arrived in Dr.Jit 1.1.0."""
CACHE_DIR_FROM = (1, 5)
"""``DRJIT_CACHE_DIR`` moves the kernel cache from Dr.Jit 1.5.0 on; older releases keep it in
``$HOME/.drjit`` and nothing else moves it."""


def _release(version: str) -> tuple[int, int]:
    major, minor = (int("".join(ch for ch in part if ch.isdigit()) or 0) for part in version.split(".")[:2])
    return major, minor


if _release(VERSION) < REQUIRES:
    raise ImportError(
        f"drjit {VERSION} is older than {'.'.join(map(str, REQUIRES))}, the first release with dr.rng, "
        "dr.mul_hi and dr.detail.launch_stats; pip install 'jitpi[drjit]'"
    )

if _release(VERSION) < CACHE_DIR_FROM and os.environ.get("DRJIT_CACHE_DIR"):
    # A cold first call names an empty folder in DRJIT_CACHE_DIR (jitpi.registry); before 1.5 Dr.Jit
    # reads only $HOME (its cache is $HOME/.drjit), at import, so HOME follows it in this process.
    os.environ["HOME"] = os.environ["DRJIT_CACHE_DIR"]

import drjit as dr  # noqa: E402  (the cache folder must be settled before Dr.Jit initialises)

CHUNKS = Chunks(
    native=1 << 24,  # samples per launch: 2**16 PCG32 lanes of RUN samples
    shared=1 << 24,  # samples per launch: 2**23 Philox blocks, one per lane; no array of this size is stored
    gpu=1 << 28,
    largest=1 << 31,
    largest_why="a launch's lane indices and sample positions are UInt32",
)
SYNC_EVERY = 16
"""Launches queued on Dr.Jit's thread pool before the host waits for them (launches are asynchronous:
Python traces the next chunk while the pool runs the last)."""
NAIVE_BYTES_PER_SAMPLE = 12
"""naive: x and y in float32, the evaluated mask and slack."""
NAIVE_LARGEST_N = 2**32 - 1
"""naive: a Dr.Jit array holds at most 2**32 - 1 entries."""

_JIT_BACKENDS = {"cpu": dr.JitBackend.LLVM, "gpu": dr.JitBackend.CUDA}
_MODULES = {"cpu": "drjit.llvm", "gpu": "drjit.cuda"}
_lock = threading.RLock()


# ---------------------------------------------------------------------------------------------
# Devices and availability.


def device_unavailable_reason(device: str) -> str | None:
    if dr.has_backend(_JIT_BACKENDS[device]):
        return None
    if device == "cpu":
        return (
            f"drjit {VERSION} found no LLVM it can use: its CPU backend loads the system's libLLVM, "
            "version 15 or newer, at run time (Debian/Ubuntu: apt-get install libllvm15; or set "
            "DRJIT_LIBLLVM_PATH to a libLLVM.so)"
        )
    return (
        f"no CUDA GPU for Dr.Jit here (drjit {VERSION} loads the NVIDIA driver's libcuda.so at run time "
        "and found no usable CUDA device)"
    )


def _require(device: str) -> None:
    reason = device_unavailable_reason(device)
    if reason is not None:
        raise BackendUnavailable("drjit", device, reason)


def llvm_version() -> str:
    return ".".join(str(part) for part in dr.detail.llvm_version())


def describe(device: str) -> str:
    if device == "gpu":
        return f"drjit {VERSION}, CUDA kernels (PTX compiled by the driver), chunk {CHUNKS.gpu} samples"
    threads = dr.thread_count() if dr.has_backend(dr.JitBackend.LLVM) else cpu_threads()
    return (
        f"drjit {VERSION}, traced and compiled by the system's LLVM {llvm_version()}, SIMD packets on "
        f"{threads} thread{'s' if threads != 1 else ''} (Dr.Jit's pool)"
    )


def compile_count() -> int:
    """Kernels made ready in this process: compiled by LLVM (hard misses) or read from Dr.Jit's disk
    cache (soft misses); a launch found in the in-memory cache counts nothing."""
    _launches, soft_misses, hard_misses = dr.detail.launch_stats()
    return int(soft_misses + hard_misses)


# ---------------------------------------------------------------------------------------------
# Types per device.


@dataclass(frozen=True)
class _Types:
    """Dr.Jit's array types of one device: ``drjit.llvm`` (CPU) or ``drjit.cuda`` (GPU)."""

    UInt32: type
    UInt64: type
    Int32: type
    Int64: type
    Float32: type
    Float64: type
    PCG32: type
    reduce_mode: object


_types_cache: dict[str, _Types] = {}


def _types(device: str) -> _Types:
    if device not in _types_cache:
        module = importlib.import_module(_MODULES[device])
        # The CPU's default (Expand: a private copy of the target per thread, no atomics) suits one
        # shared counter; on a GPU each warp adds its lanes first (Local), then one atomic.
        mode = dr.ReduceMode.Auto if device == "cpu" else dr.ReduceMode.Local
        _types_cache[device] = _Types(
            module.UInt32,
            module.UInt64,
            module.Int32,
            module.Int64,
            module.Float32,
            module.Float64,
            module.PCG32,
            mode,
        )
    return _types_cache[device]


def _opaque(dtype: type, value: int):
    """A scalar the kernel reads from memory rather than bakes in: a new value compiles nothing."""
    return dr.opaque(dtype, value, 1)


def _ready(device: str) -> _Types:
    _require(device)
    if device == "cpu":
        threads = cpu_threads()
        if dr.thread_count() != threads:
            dr.set_thread_count(threads)
    return _types(device)


# ---------------------------------------------------------------------------------------------
# The shared stream's words in Dr.Jit ops.


def _mulhilo_mul_hi(t: _Types):
    """(high, low) of a word times a 32-bit constant: ``dr.mul_hi`` and a wrapping UInt32 multiply."""

    def mulhilo(word, multiplier: int):
        return dr.mul_hi(word, t.UInt32(multiplier)), word * t.UInt32(multiplier)

    return mulhilo


def _mulhilo_wide(t: _Types):
    """(high, low) from one 64-bit product of the zero-extended word (Dr.Jit's own Philox does this)."""

    def mulhilo(word, multiplier: int):
        product = t.UInt64(word) * t.UInt64(multiplier)
        return t.UInt32(product >> 32), t.UInt32(product)

    return mulhilo


def _bump(key, increment: int):
    return key + increment  # UInt32 wraps modulo 2**32


def _words_mul_hi(t: _Types, c0, c1, c2, c3, k0, k1):
    """UInt32 words, ``dr.mul_hi`` for the high half."""
    return philox.rounds(c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo_mul_hi(t), bump_key=_bump)


def _words_wide(t: _Types, c0, c1, c2, c3, k0, k1):
    """UInt32 words, one UInt64 product for both halves."""
    return philox.rounds(c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo_wide(t), bump_key=_bump)


def _words_lanes(t: _Types, c0, c1, c2, c3, k0, k1):
    """32-bit words held in UInt64 lanes: a word is masked where it enters a multiply, so each product
    is one 32 x 32 -> 64-bit vector multiply giving both halves, and the words never change width
    inside the rounds; only the low 32 bits of each result are Philox's (truncated at the end)."""

    def mulhilo(word, multiplier: int):
        product = (word & philox.MASK32) * t.UInt64(multiplier)
        return product >> 32, product

    def bump(key, increment: int):
        return (key + increment) & philox.MASK32

    lanes = (t.UInt64(word) for word in (c0, c1, c2, c3, k0, k1))
    return tuple(t.UInt32(word) for word in philox.rounds(*lanes, mulhilo=mulhilo, bump_key=bump))


SHARED_FORMS = {"lanes": _words_lanes, "wide": _words_wide, "mul_hi": _words_mul_hi}
"""Three ways to write Philox4x32-10's rounds in Dr.Jit ops, all from ``jitpi.philox.rounds``;
``SHARED_FORM`` is the kernels' (the fastest here, docs/backends/drjit.md), ``philox_words`` runs
them all and checks they agree."""
SHARED_FORM = "lanes"


def shared_words(t: _Types, c0, c1, c2, c3, k0, k1, form: str | None = None):
    """Philox4x32-10 (``jitpi.philox.rounds``) on UInt32 words, in one of ``SHARED_FORMS``."""
    return SHARED_FORMS[form or SHARED_FORM](t, c0, c1, c2, c3, k0, k1)


def _signed(t: _Types):
    return lambda word: t.Int64(dr.reinterpret_array(t.Int32, word))


def _shared_block(t: _Types, c0, c1, key):
    """Inside flags of a block's even and odd sample on the shared stream."""
    k0, k1 = key
    zero = t.UInt32(0)
    w0, w1, w2, w3 = shared_words(t, c0, c1, zero, zero, k0, k1)
    to_signed = _signed(t)
    return (
        philox.inside_test(w0, w1, to_signed=to_signed),
        philox.inside_test(w2, w3, to_signed=to_signed),
    )


# ---------------------------------------------------------------------------------------------
# The driver: launches over a fixed chunk of blocks.


def _launch(
    t: _Types, block_fn: Callable, lanes: int, first_block: int, lo: int, hi: int, key, total
) -> None:
    """Trace one launch of ``lanes`` Philox blocks from ``first_block`` and queue it: the hits of the
    block samples whose positions, counted from 2 * first_block, lie in [lo, hi), added to ``total``."""
    lane = dr.arange(t.UInt32, lanes)
    first_low = _opaque(t.UInt32, first_block & philox.MASK32)
    first_high = _opaque(t.UInt32, first_block >> 32)
    c0 = first_low + lane  # the 64-bit block index as two words; a wrap carries into the high word
    c1 = first_high + dr.select(c0 < first_low, t.UInt32(1), t.UInt32(0))
    take_even, take_odd = philox.sample_masks(lane + lane, _opaque(t.UInt32, lo), _opaque(t.UInt32, hi))
    inside_even, inside_odd = block_fn(t, c0, c1, key)
    one, zero = t.UInt32(1), t.UInt32(0)
    hits = dr.select(take_even & inside_even, one, zero) + dr.select(take_odd & inside_odd, one, zero)
    dr.scatter_reduce(dr.ReduceOp.Add, total, t.UInt64(hits), t.UInt32(0), mode=t.reduce_mode)
    dr.eval()  # queue the kernel (with its side effect on ``total``); the host does not wait


MIN_LANES = 2
"""A launch of one lane is another kernel to Dr.Jit (its arrays are scalars); never fewer than two."""


def _count(
    block_fn: Callable, key_fn: Callable, n: int, seed: int, start: int, device: str, lanes: int
) -> int:
    """Hits among samples [start, start + n) of the stream that ``block_fn`` draws, in launches of at
    most ``lanes`` blocks, each only as wide as the blocks it has left (the masks drop the rest):
    every launch is the same kernel, whatever its width, n, seed and start."""
    with _lock:
        t = _ready(device)
        end = start + n
        first_block, end_block = philox.block_range(start, n)
        key = key_fn(t, seed)
        total = dr.opaque(t.UInt64, 0, 1)
        for index, block in enumerate(range(first_block, end_block, lanes)):
            count = min(lanes, end_block - block)
            lo = max(0, start - 2 * block)
            hi = min(end - 2 * block, 2 * count)
            _launch(t, block_fn, max(count, MIN_LANES), block, lo, hi, key, total)
            if (index + 1) % SYNC_EVERY == 0:
                dr.sync_thread()
        return int(total[0])


def _shared_key(t: _Types, seed: int):
    k0, k1 = philox.split_seed(seed)
    return _opaque(t.UInt32, k0), _opaque(t.UInt32, k1)


def _lanes(chunk: int | None, variant: str, device: str) -> int:
    return max(1, CHUNKS.pick(chunk, variant, device) // 2)


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    return _count(_shared_block, _shared_key, n, seed, start, device, _lanes(chunk, "shared", device))


# ---------------------------------------------------------------------------------------------
# native: Dr.Jit's PCG32, one generator per run of RUN samples, drawn in a symbolic loop.

RUN = 256
"""Samples drawn from one PCG32 generator (one lane's loop): the native stream's unit, fixed, so the
stream does not depend on the chunk."""
PCG32_MULT = 0x5851F42D4C957F2D
INSIDE_BOUND_24 = 2**50
"""native: a word's top 24 bits k give the cell centre (2k + 1) / 2**25; inside iff
(2kx + 1)**2 + (2ky + 1)**2 < 2**50, exactly in UInt64."""


def _mix64(t: _Types, z):
    """SplitMix64's output function (``jitpi.philox.splitmix64`` without the increment), in UInt64."""
    z = (z ^ (z >> 30)) * t.UInt64(philox.SPLITMIX_MUL1)
    z = (z ^ (z >> 27)) * t.UInt64(philox.SPLITMIX_MUL2)
    return z ^ (z >> 31)


def _centre(t: _Types, word):
    return t.UInt64(word >> 8) * 2 + 1


def _native_launch(t: _Types, lanes: int, first_run: int, lo: int, hi: int, key: int, total) -> None:
    """Trace and queue one launch of ``lanes`` generators, runs ``first_run + lane``: the hits of the
    samples whose positions, counted from the first run's first sample, lie in [lo, hi).

    Run r's generator is ``PCG32.seed(initstate, initseq)`` with ``initstate = splitmix64(key + r *
    GAMMA)`` and ``initseq = splitmix64(initstate)``: hashed states and increments, as Dr.Jit's docs
    advise for independent parallel streams (not ``initseq + lane``)."""
    lane = dr.arange(t.UInt32, lanes)
    run = _opaque(t.UInt64, first_run) + t.UInt64(lane)
    state = _mix64(
        t, _opaque(t.UInt64, (key + philox.SPLITMIX_GAMMA) & philox.MASK64) + run * philox.SPLITMIX_GAMMA
    )
    rng = t.PCG32()
    rng.seed(state, _mix64(t, state + philox.SPLITMIX_GAMMA))
    base = lane * RUN
    first, last = _opaque(t.UInt32, lo), _opaque(t.UInt32, hi)
    trips = dr.minimum(t.UInt32(RUN), dr.maximum(last, base) - base)
    one, zero = t.UInt32(1), t.UInt32(0)

    def body(rng, k, hits):
        x = _centre(t, rng.next_uint32())
        y = _centre(t, rng.next_uint32())
        inside = (x * x + y * y < INSIDE_BOUND_24) & (base + k >= first)
        return rng, k + 1, hits + dr.select(inside, one, zero)

    _, _, hits = dr.while_loop(
        state=(rng, t.UInt32(0), t.UInt32(0)), cond=lambda rng, k, hits: k < trips, body=body
    )
    dr.scatter_reduce(dr.ReduceOp.Add, total, t.UInt64(hits), t.UInt32(0), mode=t.reduce_mode)
    dr.eval()


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of Dr.Jit's PCG32 keyed by ``seed``: sample i is draw
    pair i mod RUN of run i // RUN's generator, whatever the chunk; any start works."""
    lanes = max(1, CHUNKS.pick(chunk, "native", device) // RUN)
    with _lock:
        t = _ready(device)
        end = start + n
        first_run, end_run = start // RUN, -(-end // RUN)
        key = philox.splitmix64(seed)
        total = dr.opaque(t.UInt64, 0, 1)
        for index, run in enumerate(range(first_run, end_run, lanes)):
            count = min(lanes, end_run - run)
            lo = max(0, start - run * RUN)
            hi = min(end - run * RUN, count * RUN)
            _native_launch(t, lanes, run, lo, hi, key, total)
            if (index + 1) % SYNC_EVERY == 0:
                dr.sync_thread()
        return int(total[0])


def _pcg32_scalar(state: int, inc: int) -> tuple[int, int]:
    """One PCG32 step in Python ints (Dr.Jit's ``next_uint32``): (new state, output word)."""
    word = (((state >> 18) ^ state) >> 27) & philox.MASK32
    rot = state >> 59
    output = ((word >> rot) | (word << ((-rot) & 31))) & philox.MASK32
    return (state * PCG32_MULT + inc) & philox.MASK64, output


def native_model(n: int, seed: int, start: int = 0) -> int:
    """The native stream in Python ints: each run's generator seeded as ``_native_launch`` does
    (``PCG32.seed``: state 0, one step, add initstate, one step), two words per sample."""
    hits, key = 0, philox.splitmix64(seed)
    for run in range(start // RUN, -(-(start + n) // RUN)):
        initstate = philox.splitmix64((key + run * philox.SPLITMIX_GAMMA) & philox.MASK64)
        inc = ((philox.splitmix64(initstate) << 1) | 1) & philox.MASK64
        state, _ = _pcg32_scalar(0, inc)
        state, _ = _pcg32_scalar((state + initstate) & philox.MASK64, inc)
        for sample in range(run * RUN, (run + 1) * RUN):
            state, x = _pcg32_scalar(state, inc)
            state, y = _pcg32_scalar(state, inc)
            if start <= sample < start + n:
                hits += (2 * (x >> 8) + 1) ** 2 + (2 * (y >> 8) + 1) ** 2 < INSIDE_BOUND_24
    return hits


# ---------------------------------------------------------------------------------------------
# naive: the article's whole arrays.


def naive_max_n(device: str = "cpu") -> int:
    """Largest n whose arrays fit in half the free host memory (a GPU's is not asked before the first
    kernel) and in one Dr.Jit array."""
    return min(NAIVE_LARGEST_N, naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes()))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """n float32 x and n float32 y from ``dr.rng(seed)`` (its Philox4x32, seed and counter opaque),
    evaluated as whole arrays, then ``x*x + y*y < 1`` counted."""
    if not 1 <= n <= NAIVE_LARGEST_N:
        raise ValueError(f"n={n} is above {NAIVE_LARGEST_N}, the largest array the naive drjit variant holds")
    with _lock:
        t = _ready(device)
        rng = dr.rng(seed=_opaque(t.UInt64, seed))
        x = rng.random(t.Float32, n)
        y = rng.random(t.Float32, n)
        dr.eval(x, y)
        hits = dr.count(x * x + y * y < 1.0)
        return int(hits[0]) if hasattr(hits, "__len__") else int(hits)


# ---------------------------------------------------------------------------------------------
# Test hook.


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """Raw Philox4x32-10 words of the shared round function on the CPU; raises if another way of
    writing the rounds (``SHARED_FORMS``) gives other words, so this checks all of them."""
    with _lock:
        t = _ready("cpu")
        columns = [t.UInt32([int(counter[i]) & philox.MASK32 for counter in counters]) for i in range(4)]
        k0, k1 = (_opaque(t.UInt32, word & philox.MASK32) for word in key)
        forms = {}
        for form in SHARED_FORMS:
            words = shared_words(t, *columns, k0, k1, form=form)
            dr.eval(*words)
            forms[form] = [tuple(int(word[i]) for word in words) for i in range(len(counters))]
    chosen = forms[SHARED_FORM]
    if any(rows != chosen for rows in forms.values()):
        raise RuntimeError(f"the round functions disagree: {forms}")
    return chosen  # type: ignore[return-value]


BACKEND = Backend(
    name="drjit",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
