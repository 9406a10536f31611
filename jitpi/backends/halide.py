"""halide: Halide pipelines built from Python, JIT-compiled by the LLVM inside the ``halide`` wheel,
on all cores of the CPU (a parallel, vectorised schedule) or on CUDA (a ``gpu_tile`` schedule).

Every variant is one ``hl.Func`` of lanes: lane ``L`` counts the hits of a run of ``chunk``
consecutive samples (``shared``: ``chunk // 2`` Philox blocks) in an ``RDom`` whose extent is a
``Param``, into an int64 of its own; the host sums a call's lanes as Python ints and calls again for
the next run of lanes, so memory is O(lanes) whatever n is. Every value that changes between calls
(first and end sample or block, the lane's length, the seed's words) is an ``hl.Param``, and each
pipeline is compiled once per process into an ``hl.Callable``, which never compiles again.

``shared`` is Philox4x32-10 built from ``jitpi.philox.rounds`` on Halide ``Expr`` s (the Python
loop unrolls into the pipeline); ``native`` is SplitMix64 by position (numba's and taichi's native
stream), because Halide's ``random_uint``/``random_float`` is a 32-bit quadratic permutation
polynomial keyed by Int(32) coordinates (docs/backends/halide.md); ``naive`` fills two whole
float32 buffers with ``hl.random_float``, as the founding article does, then counts them.
Design notes, measurements and the generated code: docs/backends/halide.md.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import threading
from collections.abc import Callable, Sequence

import numpy as np

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.contract import Backend, Chunks, Words
from jitpi.registry import BackendUnavailable

# Halide's runtime starts its thread pool at the first parallel call with HL_NUM_THREADS threads
# (else one per online CPU, ignoring this process's affinity); a value the user set is kept.
os.environ.setdefault("HL_NUM_THREADS", str(cpu_threads()))

import halide as hl  # after HL_NUM_THREADS, which its runtime reads

VERSION = importlib.metadata.version("halide")

CHUNKS = Chunks(
    # Samples per lane (a lane is one vector lane of a parallel task of 32 lanes): 2**16 leaves n = 1e6
    # in one task, on one thread, and 2**12 was slower at 1e7 (docs/backends/halide.md, "Chunk").
    native=1 << 14,
    shared=1 << 14,
    gpu=1 << 12,  # samples per GPU thread: n = 1e9 is 2.4e5 threads
    largest=2**31 - 1,
    largest_why="a lane's loop is an RDom whose extent is an Int(32) Param",
)
VECTOR = 32
"""CPU lanes per vector: four zmm registers of 64-bit lanes with AVX-512 (docs: 32 measured faster
than 8 and 16, the independent registers hiding the multiplies' latency)."""
LANES_PER_CALL = 1 << 14
"""At most this many lanes (int64 counts) per call: the host's memory is O(lanes), not O(n)."""
GPU_THREADS = 128
"""Threads per GPU block."""
NAIVE_BYTES_PER_SAMPLE = 8
NAIVE_LARGEST_N = 2**31 - 2**22
"""naive: Halide buffers have int32 extents and the count indexes them in Int(32); the last lane's
last index is below n + VECTOR * ceil(n / LANES_PER_CALL), which this bound keeps under 2**31."""
NO_BLOCK = philox.MASK64
"""shared: the ``drop_even``/``drop_odd`` value meaning "no block's sample is dropped"."""

_U32, _U64, _I32, _I64 = hl.UInt(32), hl.UInt(64), hl.Int(32), hl.Int(64)


# ---------------------------------------------------------------------------------------------
# Constants. The bindings turn a Python int above 2**31 - 1 into a C++ double before it meets an
# Expr of another type (pybind11 tries ``int`` then ``double``), so every constant is made an Expr
# of its exact type here: an int64 Expr cast (wrapping) to the type wanted.


def _const(kind: hl.Type, value: int) -> hl.Expr:
    signed = value - (1 << 64) if value >= 1 << 63 else value
    return hl.cast(kind, hl.Expr(signed))


def _u32(value: int) -> hl.Expr:
    return _const(_U32, value)


def _u64(value: int) -> hl.Expr:
    return _const(_U64, value)


_LOW32 = philox.MASK32


def _square(word: hl.Expr) -> hl.Expr:
    """x*x as a UInt(64), x the low 32 bits of a word read as a signed 32-bit integer: the Int(64)
    square (at most 2**62, so exact), reinterpreted as unsigned."""
    signed = hl.cast(_I64, hl.cast(_I32, word))
    return hl.reinterpret(_U64, signed * signed)


def _inside(x_word: hl.Expr, y_word: hl.Expr) -> hl.Expr:
    """``jitpi.philox.inside_test``'s ``x*x + y*y < 2**62``, exactly, the sum in UInt(64).

    Written as the reference writes it, ``x*x < 2**62 - y*y`` in Int(64), Halide's simplifier moved
    ``y*y`` back to the left (it takes signed overflow to be impossible), and ``x*x + y*y`` wraps
    in Int(64) when x = y = -2**31: the vectorised code then counted that point inside. Unsigned,
    each square is at most 2**62 and the sum at most 2**63: no wrap, and unsigned arithmetic gives
    the simplifier nothing to assume. (The bound is an Expr of its exact type: the bindings would
    read the Python int 2**62 as a double.)
    """
    return _square(x_word) + _square(y_word) < _u64(philox.INSIDE_BOUND)


# ---------------------------------------------------------------------------------------------
# The round function, in two forms of Halide Exprs.


def _lane_mulhilo(word, multiplier):
    """32-bit words held in UInt(64) lanes, masked where they enter a multiply: one 32 x 32 -> 64-bit
    vector multiply (``vpmuludq``) per product; only the low 32 bits of each word are Philox's."""
    product = (word & _u64(_LOW32)) * _u64(multiplier)
    return product >> 32, product


def _lane_bump(key, increment):
    return (key + _u64(increment)) & _u64(_LOW32)


def _word_mulhilo(word, multiplier):
    """UInt(32) words: the zero-extended word times the multiplier in UInt(64) (Halide finds the
    widening multiply; ``hl.widening_mul`` itself is not in halide 19's bindings), then each half
    narrowed to UInt(32)."""
    product = hl.cast(_U64, word) * _u64(multiplier)
    return hl.cast(_U32, product >> 32), hl.cast(_U32, product)


def _word_bump(key, increment):
    return key + _u32(increment)  # UInt(32) arithmetic wraps modulo 2**32


FORMS = ("lanes", "words")
"""``lanes``: words in UInt(64) lanes (the CPU's form, as numba's kernel); ``words``: UInt(32)
words (the GPU's form). Both count the same hits: ``philox_words`` checks one against the other."""


def philox_block(c0, c1, c2, c3, k0, k1, form: str):
    """Philox4x32-10 of one counter under one key, as Halide Exprs (words in the form's type); the
    low 32 bits of each returned word are the output."""
    if form == "lanes":
        words = (hl.cast(_U64, word) for word in (c0, c1, c2, c3, k0, k1))
        return philox.rounds(*words, mulhilo=_lane_mulhilo, bump_key=_lane_bump)
    words = (hl.cast(_U32, word) for word in (c0, c1, c2, c3, k0, k1))
    return philox.rounds(*words, mulhilo=_word_mulhilo, bump_key=_word_bump)


# ---------------------------------------------------------------------------------------------
# Pipelines: each returns (the output Func, the Callable's arguments in order).


def _lane_schedule(hits: hl.Func, lane: hl.Var, r: hl.RDom, device: str) -> None:
    """CPU: lanes in vectors of ``VECTOR``, the reduction loop outside the vector and inside one
    parallel task per vector; GPU: one thread per lane, the reduction loop inside the thread."""
    outer, inner = hl.Var("lane_outer"), hl.Var("lane_inner")
    guard = hl.TailStrategy.GuardWithIf
    if device == "gpu":
        hits.gpu_tile(lane, outer, inner, GPU_THREADS, guard)
        hits.update(0).gpu_tile(lane, outer, inner, GPU_THREADS, guard)
        return
    hits.vectorize(lane, VECTOR, guard)
    stage = hits.update(0)
    stage.split(lane, outer, inner, VECTOR, guard).reorder(inner, r.x, outer)
    stage.vectorize(inner).parallel(outer)


def _lanes_of(per_lane: hl.Param) -> tuple[hl.Var, hl.RDom, hl.Expr]:
    lane = hl.Var("lane")
    r = hl.RDom([(0, per_lane)], "r")
    offset = hl.cast(_U64, lane) * hl.cast(_U64, per_lane) + hl.cast(_U64, r.x)
    return lane, r, offset


def _count(cond) -> hl.Expr:
    return hl.select(cond, hl.cast(_I64, 1), hl.cast(_I64, 0))


def build_shared(device: str = "cpu", form: str | None = None, opaque: bool = True):
    """Hits of both samples of Philox blocks [first_block, end_block), less the even sample of block
    ``drop_even`` and the odd one of ``drop_odd`` (the edges of an odd range), per lane.

    ``opaque_zero`` is 0 at run time: xored into the y words, it keeps LLVM from folding the sign
    extension of a product's low half into a 64-bit multiply (numba's and taichi's kernels do the
    same); ``opaque=False`` leaves it out (docs/backends/halide.md compares the two)."""
    form = form or ("words" if device == "gpu" else "lanes")
    first = hl.Param(_U64, "first_block")
    end = hl.Param(_U64, "end_block")
    per_lane = hl.Param(_I32, "blocks_per_lane")
    drop_even = hl.Param(_U64, "drop_even")
    drop_odd = hl.Param(_U64, "drop_odd")
    k0 = hl.Param(_U32, "k0")
    k1 = hl.Param(_U32, "k1")
    zero = hl.Param(_U64 if form == "lanes" else _U32, "opaque_zero")
    lane, r, offset = _lanes_of(per_lane)
    block = first + offset
    w0, w1, w2, w3 = philox_block(block, block >> 32, 0, 0, k0, k1, form)
    if opaque:
        w1, w3 = w1 ^ zero, w3 ^ zero
    live = block < end
    hits = hl.Func("halide_shared")
    hits[lane] = hl.cast(_I64, 0)
    even = live & (block != drop_even) & _inside(w0, w1)
    odd = live & (block != drop_odd) & _inside(w2, w3)
    hits[lane] = hits[lane] + _count(even) + _count(odd)
    _lane_schedule(hits, lane, r, device)
    return hits, [first, end, per_lane, drop_even, drop_odd, k0, k1, zero]


def _splitmix64_mix(z: hl.Expr) -> hl.Expr:
    z = (z ^ (z >> 30)) * _u64(philox.SPLITMIX_MUL1)
    z = (z ^ (z >> 27)) * _u64(philox.SPLITMIX_MUL2)
    return z ^ (z >> 31)


def build_native(device: str = "cpu"):
    """Hits of samples [first, end) of SplitMix64 stream ``key``, per lane: sample ``i``'s word is
    ``mix(key + (i + 1) * GAMMA)``, its low half x and its high half y (numba's native stream)."""
    first = hl.Param(_U64, "first")
    end = hl.Param(_U64, "end")
    per_lane = hl.Param(_I32, "samples_per_lane")
    key = hl.Param(_U64, "key")
    lane, r, offset = _lanes_of(per_lane)
    index = first + offset
    gamma = _u64(philox.SPLITMIX_GAMMA)
    # key + (index + 1) * GAMMA, split into a lane's part (the same for every r, so hoisted out of
    # the loop) and r's part (the same for every lane of a vector: one scalar multiply): written as
    # one product it cost a 64-bit vector multiply (vpmullq) per vector of samples.
    lane_first = first + hl.cast(_U64, lane) * hl.cast(_U64, per_lane) + _u64(1)
    word = _splitmix64_mix((key + lane_first * gamma) + hl.cast(_U64, r.x) * gamma)
    hits = hl.Func("halide_native")
    hits[lane] = hl.cast(_I64, 0)
    hits[lane] = hits[lane] + _count((index < end) & _inside(word, word >> 32))
    _lane_schedule(hits, lane, r, device)
    return hits, [first, end, per_lane, key]


def build_naive_fill(device: str = "cpu"):
    """The article's arrays: x and y, n float32 each, from ``hl.random_float`` (two definitions, so
    two independent draws: Halide tags every definition's random calls apart)."""
    seed = hl.Param(_I32, "seed")
    i = hl.Var("i")
    xs, ys = hl.Func("halide_naive_x"), hl.Func("halide_naive_y")
    xs[i] = hl.random_float(seed)
    ys[i] = hl.random_float(seed)
    outer, inner = hl.Var("i_outer"), hl.Var("i_inner")
    for values in (xs, ys):
        if device == "gpu":
            values.gpu_tile(i, outer, inner, GPU_THREADS, hl.TailStrategy.GuardWithIf)
        else:
            values.split(i, outer, inner, 1 << 16, hl.TailStrategy.GuardWithIf)
            values.parallel(outer).vectorize(inner, VECTOR)
    return [xs, ys], [seed]


def build_naive_count(device: str = "cpu"):
    """Hits among the n values of x and y, per lane, the inside test exact in float64. Indices are
    Int(32), like the buffers' (``NAIVE_LARGEST_N`` keeps a lane's index below 2**31)."""
    xs = hl.ImageParam(hl.Float(32), 1, "xs")
    ys = hl.ImageParam(hl.Float(32), 1, "ys")
    n = hl.Param(_I32, "n")
    per_lane = hl.Param(_I32, "samples_per_lane")
    lane = hl.Var("lane")
    r = hl.RDom([(0, per_lane)], "r")
    index = lane * per_lane + r.x
    clamped = hl.clamp(index, 0, n - 1)
    x = hl.cast(hl.Float(64), xs[clamped])
    y = hl.cast(hl.Float(64), ys[clamped])
    hits = hl.Func("halide_naive_count")
    hits[lane] = hl.cast(_I64, 0)
    hits[lane] = hits[lane] + _count((index < n) & (x * x + y * y < 1.0))
    _lane_schedule(hits, lane, r, device)
    return hits, [xs, ys, n, per_lane]


def build_philox_words(form: str):
    """The raw words of ``philox_block`` for each counter (a (count, 4) uint32 array) under one key."""
    counters = hl.ImageParam(_U32, 2, "counters")
    k0 = hl.Param(_U32, "k0")
    k1 = hl.Param(_U32, "k1")
    j, i = hl.Var("j"), hl.Var("i")
    words = philox_block(counters[0, i], counters[1, i], counters[2, i], counters[3, i], k0, k1, form)
    out = hl.Func(f"halide_philox_words_{form}")
    out[j, i] = hl.cast(_U32, hl.mux(j, list(words)))
    return out, [counters, k0, k1]


# ---------------------------------------------------------------------------------------------
# Targets and compiled Callables.


def cpu_target() -> hl.Target:
    """Halide's JIT target for this machine (``HL_JIT_TARGET``, else the host's features)."""
    return hl.get_jit_target_from_environment()


def _cuda_probe_target() -> hl.Target:
    return cpu_target().with_feature(hl.TargetFeature.CUDA)


def gpu_target() -> hl.Target:
    """``host-cuda`` where a CUDA device is present: Halide then adds the device's compute capability
    (asking the driver); elsewhere the CPU's target with the ``cuda`` feature, which describes the
    schedule but cannot say which GPU it is for."""
    if _cuda_reason() is None:
        return hl.Target("host-cuda")
    return _cuda_probe_target()


@functools.cache
def _cuda_reason() -> str | None:
    try:
        supported = hl.host_supports_target_device(_cuda_probe_target())
    except Exception as error:  # a broken driver must not take the CPU down
        return f"no CUDA GPU for Halide here (halide {VERSION}: probing CUDA failed: {error})"
    if supported:
        return None
    return (
        f"no CUDA GPU for Halide here (halide {VERSION}: the CUDA driver (libcuda.so) or a CUDA device "
        "is missing); Halide still compiles its CUDA schedules to PTX without one"
    )


def device_unavailable_reason(device: str) -> str | None:
    return None if device == "cpu" else _cuda_reason()


_lock = threading.Lock()
_callables: dict[tuple[str, str], hl.Callable] = {}
_compiles = 0

_BUILDERS: dict[str, Callable[[str], tuple]] = {
    "shared": build_shared,
    "native": build_native,
    "naive_fill": build_naive_fill,
    "naive_count": build_naive_count,
}


def _callable(name: str, device: str) -> hl.Callable:
    """The compiled pipeline ``name`` for ``device``, compiled at its first use in this process."""
    key = (name, device)
    found = _callables.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _callables:
            reason = device_unavailable_reason(device)
            if reason is not None:
                raise BackendUnavailable("halide", device, reason)
            _callables[key] = _compile(*_BUILDERS[name](device), gpu_target() if device == "gpu" else None)
        return _callables[key]


def _compile(outputs, arguments, target: hl.Target | None = None) -> hl.Callable:
    global _compiles
    pipeline = hl.Pipeline(outputs)
    compiled = pipeline.compile_to_callable(arguments, target or cpu_target())
    _compiles += 1
    return compiled


def compile_count() -> int:
    """Halide pipelines compiled in this process (an ``hl.Callable`` never compiles again)."""
    return _compiles


ALIGNMENT = 128
"""Bytes to which every array handed to a Callable is aligned. Halide 21's JIT code stores a vector
of lanes with aligned AVX-512 stores: a numpy array only 16-byte aligned (what malloc gives) crashed
the process (SIGSEGV) in about half the runs here, a 64-byte aligned one never did."""


def aligned_empty(shape: int | tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``ALIGNMENT``-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    offset = -raw.ctypes.data % ALIGNMENT
    return raw[offset : offset + nbytes].view(dtype).reshape(shape)


def _lane_counts(name: str, device: str, first: int, end: int, per_lane: int, inputs: tuple) -> int:
    """Hits of units [first, end) (samples or Philox blocks), ``per_lane`` units to a lane, at most
    ``LANES_PER_CALL`` lanes to a call; each lane's count is an int64, summed here as Python ints."""
    run = _callable(name, device)
    total = 0
    units_per_call = LANES_PER_CALL * per_lane
    for call_first in range(first, end, units_per_call):
        call_end = min(end, call_first + units_per_call)
        lanes = -(-(call_end - call_first) // per_lane)
        hits = aligned_empty(-(-lanes // VECTOR) * VECTOR, np.int64)
        run(call_first, call_end, per_lane, *inputs, hits)
        total += int(hits.sum(dtype=np.int64))
    return total


# ---------------------------------------------------------------------------------------------
# Variants.


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    blocks_per_lane = max(1, CHUNKS.pick(chunk, "shared", device) // 2)
    first_block, end_block = philox.block_range(start, n)
    drop_even = first_block if start % 2 else NO_BLOCK  # the first block's even sample precedes start
    drop_odd = end_block - 1 if (start + n) % 2 else NO_BLOCK  # the last block's odd one is past the end
    inputs = (drop_even, drop_odd, *philox.split_seed(seed), 0)
    return _lane_counts("shared", device, first_block, end_block, blocks_per_lane, inputs)


def native_key(seed: int) -> int:
    """The SplitMix64 state offset of stream ``seed`` (numba's ``native_key``)."""
    return philox.splitmix64(seed)


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of SplitMix64 stream ``seed``; any start works."""
    per_lane = CHUNKS.pick(chunk, "native", device)
    return _lane_counts("native", device, start, start + n, per_lane, (native_key(seed),))


def naive_seed(seed: int) -> int:
    """``hl.random_float``'s seed is an Int(32): the 64-bit seed folded by SplitMix64."""
    word = philox.splitmix64(seed) >> 32
    return word - (1 << 32) if word & 0x80000000 else word


def naive_max_n(device: str = "cpu") -> int:
    return min(NAIVE_LARGEST_N, naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes()))


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """The article's whole arrays: n float32 x and y from ``hl.random_float``, then the count."""
    if n > NAIVE_LARGEST_N:
        raise ValueError(f"n={n} is above {NAIVE_LARGEST_N}, the largest the naive halide variant accepts")
    fill = _callable("naive_fill", device)
    count = _callable("naive_count", device)
    xs = aligned_empty(n, np.float32)
    ys = aligned_empty(n, np.float32)
    fill(naive_seed(seed), xs, ys)
    per_lane = max(1, -(-n // LANES_PER_CALL))
    lanes = -(-n // per_lane)
    hits = aligned_empty(-(-lanes // VECTOR) * VECTOR, np.int64)
    count(xs, ys, n, per_lane, hits)
    return int(hits.sum(dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# What the backend says of itself.


def describe(device: str) -> str:
    if device == "gpu":
        return (
            f"halide {VERSION}, CUDA schedule (gpu_tile, {GPU_THREADS} threads a block) for "
            f"{gpu_target()}, {CHUNKS.gpu} samples per GPU thread"
        )
    threads = os.environ.get("HL_NUM_THREADS", "?")
    return (
        f"halide {VERSION}, JIT-compiled by its own LLVM for {cpu_target()}, {VECTOR}-lane vectors, "
        f"parallel tasks on {threads} thread{'s' if threads != '1' else ''} (HL_NUM_THREADS)"
    )


_words_lock = threading.Lock()


@functools.cache
def _words_callables() -> dict[str, hl.Callable]:
    with _words_lock:
        return {form: _compile(*build_philox_words(form)) for form in FORMS}


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """Raw Philox4x32-10 words of both round functions (the CPU's and the GPU's form), run on the
    CPU; returns the CPU's, and raises if the two forms disagree, so checking this hook checks both."""
    array = np.ascontiguousarray(np.asarray(counters, dtype=np.uint32).reshape(-1, 4))
    k0, k1 = (word & philox.MASK32 for word in key)
    outputs = {}
    for form, run in _words_callables().items():
        out = aligned_empty(array.shape, np.uint32)
        run(array, k0, k1, out)
        outputs[form] = out
    if not np.array_equal(outputs["lanes"], outputs["words"]):
        raise RuntimeError(
            f"the two round functions disagree: {outputs['lanes'].tolist()} != {outputs['words'].tolist()}"
        )
    return [tuple(int(word) for word in row) for row in outputs["lanes"]]


def version() -> str:
    return VERSION


BACKEND = Backend(
    name="halide",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
