"""tvm: Apache TVM kernels written in TVMScript (``tvm.script.tirx``) and built by ``tvm.compile``, for
the host CPU through TVM's own LLVM (``T.parallel`` on TVM's thread pool) or for CUDA
(``T.thread_binding``).

``shared`` is Philox4x32-10 built from ``jitpi.philox.rounds``: TVMScript's parser evaluates a call
to a plain Python function at parse time, so the rounds unroll into the kernel's TIR, each 32 x 32 ->
64-bit product bound to a variable of its own (``T.bind``). ``native`` is SplitMix64 by position
(the stream of numba's and taichi's native variants: TVM has no random generator for TIR kernels);
``naive`` fills whole float32 arrays with TVM's own generator (``tvm.contrib.random.uniform``,
a Mersenne Twister in TVM's runtime), as the founding article does, and counts them in TIR.
n, start and the seed are run-time arguments: one compile per variant and device serves every call.
Design notes, measurements and the generated code: docs/backends/tvm.md.
"""

# No ``from __future__ import annotations``: the kernels' annotations (T.int64, T.Buffer) are TVMScript.
import importlib.util
import os
import shutil
import threading
from collections.abc import Sequence

import numpy as np
import tvm
from tvm.script import tirx as T

from jitpi import philox
from jitpi.backends import available_memory_bytes, cpu_threads, naive_limit
from jitpi.contract import Backend, Chunks, Words
from jitpi.registry import BackendUnavailable

CHUNKS = Chunks(
    native=1 << 16,  # samples per parallel index on the CPU: an inner loop LLVM vectorises
    shared=1 << 16,
    gpu=1 << 32,  # samples per kernel launch on a GPU (every thread strides over the launch's range)
)
GROUPS_PER_LAUNCH = 1024
"""CPU: parallel indices per kernel launch, each writing its int64 count to one slot of a buffer of
this size; the host loops over launches, so memory is O(1) whatever n is."""
GPU_BLOCKS, GPU_THREADS = 1024, 256
"""GPU grid: 2**18 threads (about one full wave of an H100 or H200), each with an int64 slot."""
SIMULATED_GRID = (2, 32)
"""The GPU kernels built for the CPU (their ``thread_binding`` loops made serial) for the tests."""
NAIVE_BYTES_PER_SAMPLE = 8
"""naive: x and y as float32, one (2, n) array."""

_MASK32 = philox.MASK32
_lock = threading.RLock()


# ---------------------------------------------------------------------------------------------
# Threads. TVM's pool sizes itself from TVM_NUM_THREADS (else OMP_NUM_THREADS, else half of
# std::thread::hardware_concurrency() on x86-64, "ignoring hyper-threading": one thread on a 2-core
# machine), and by default pins its workers and the calling thread to cores. In a process that
# hosts other frameworks the pinning would confine the Python thread (and every thread it starts
# later) to the cores TVM chose, so it is off unless the user asks for it.

_USER_THREADS = os.environ.get("TVM_NUM_THREADS")
os.environ.setdefault("TVM_BIND_THREADS", "0")
_AFFINITY_BIG = 1  # threading::ThreadGroup::kBig, the mode TVM's pool starts in


def _threads() -> int:
    """Threads for this call: ``JITPI_THREADS`` (Dask workers set it) or the user's TVM_NUM_THREADS,
    else every core this process may run on (``jitpi.backends.cpu_threads``)."""
    if _USER_THREADS and not os.environ.get("JITPI_THREADS"):
        return max(1, int(_USER_THREADS))
    return cpu_threads()


def _use_threads() -> int:
    """Size TVM's pool for this call; returns the thread count.

    TVM reads TVM_NUM_THREADS at every parallel launch and makes its pool (one per launching
    thread) at the first, with that many workers; a later, smaller count is set on the pool through
    ``runtime.config_threadpool``.
    """
    threads = _threads()
    if os.environ.get("TVM_NUM_THREADS") != str(threads):
        os.environ["TVM_NUM_THREADS"] = str(threads)
    if threads > 1 and _num_threads() != threads:
        tvm.get_global_func("runtime.config_threadpool")(_AFFINITY_BIG, threads)
    return threads


def _num_threads() -> int:
    """Workers of this thread's TVM pool (making the pool if it does not exist yet)."""
    return int(tvm.runtime.num_threads())


# ---------------------------------------------------------------------------------------------
# Building blocks, called by the TVMScript parser while it reads a kernel: each returns TIR
# expressions (and ``T.bind`` adds a binding statement to the kernel at the point of the call).


def _u64(value: int):
    """A uint64 constant; values of 2**63 and above (SplitMix64's) need TVM's large-constant form."""
    return tvm.tirx.const(value, "uint64")


def _kept(value):
    """``value`` (a uint64), unchanged, through an LLVM identity TVM cannot see through.

    TVM's statement simplifier substitutes every pure bound value into each later use, which turns
    the ten rounds back into a tree that doubles with every round (18 KB of TIR become 611 KB, and
    TVM's passes over it took most of the shared variant's compile time) until CSE folds it again.
    ``call_llvm_intrin`` is opaque to TVM, so the binding stays; LLVM folds a funnel shift by 0 of a
    value with itself, ``fshl(x, x, 0)``, to ``x``. CPU (LLVM) kernels only.
    """
    return T.call_llvm_intrin("uint64", "llvm.fshl.i64", value, value, _u64(0))


def _mulhilo_lanes(word, multiplier: int):
    """(high, low) of a 32-bit word (the low half of a uint64 lane) times a 32-bit constant; only the
    low 32 bits of ``low`` are the product's. The product is bound once (and kept bound through
    lowering, ``_kept``): without the binding, the ten rounds would form an expression tree that
    doubles with every round."""
    product = T.bind(_kept((word & _u64(_MASK32)) * _u64(multiplier)))
    return product >> _u64(32), product


def _bump_lanes(key, increment: int):
    return (key + _u64(increment)) & _u64(_MASK32)


def _philox_lanes(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on 32-bit words held in uint64 lanes (the CPU's form: one ``vpmuludq`` a product)."""
    return philox.rounds(c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo_lanes, bump_key=_bump_lanes)


def _mulhilo_words(word, multiplier: int):
    product = T.bind(word.astype("uint64") * _u64(multiplier))
    return (product >> _u64(32)).astype("uint32"), product.astype("uint32")


def _bump_words(key, increment: int):
    """The key schedule's add modulo 2**32, done in uint64 and truncated: a uint32 sum of two
    constants that TVM folded would have to hold a value above 2**32."""
    return (key.astype("uint64") + _u64(increment)).astype("uint32")


def _philox_words(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint32 words (the GPU's form: one ``mul.wide.u32`` a product)."""
    return philox.rounds(c0, c1, c2, c3, k0, k1, mulhilo=_mulhilo_words, bump_key=_bump_words)


def _as_signed(word):
    """The low 32 bits of a word as a signed integer, held as a 64-bit two's-complement uint64.

    The inside test squares these in uint64: (2**64 - |x|)**2 = x**2 (mod 2**64) and x**2 <= 2**62,
    so the squares are exact, ``2**62 - y*y`` never goes below 0, and TVM's simplifier, which
    rewrites ``a < c - b`` into ``a + b < c`` for signed integers (overflowing int64 at
    x = y = -2**31), has nothing to overflow: the sum is at most 2**63 < 2**64.
    """
    return word.astype("int32").astype("int64").astype("uint64")


def _inside(x_word, y_word):
    """1 if the point of two words is inside the quarter circle, else 0, as int64 (exact)."""
    return philox.inside_test(x_word, y_word, to_signed=_as_signed).astype("int64")


def _inside_unit_square(x, y):
    """The article's test on two float32 values, compared in float64 (1 or 0, as int64)."""
    x64 = x.astype("float64")
    y64 = y.astype("float64")
    return (x64 * x64 + y64 * y64 < T.float64(1.0)).astype("int64")


def _splitmix64_mix(z):
    """SplitMix64's finaliser (``jitpi.philox.splitmix64`` less its increment) on a uint64."""
    z = T.bind((z ^ (z >> _u64(30))) * _u64(philox.SPLITMIX_MUL1))
    z = T.bind((z ^ (z >> _u64(27))) * _u64(philox.SPLITMIX_MUL2))
    return z ^ (z >> _u64(31))


def _native_word(key, index):
    """Sample ``index``'s SplitMix64 word: mix(key + (index + 1) * GAMMA), key = splitmix64(seed)."""
    return _splitmix64_mix(key.astype("uint64") + (index + 1).astype("uint64") * _u64(philox.SPLITMIX_GAMMA))


def _native_hit(key, index):
    """1 if sample ``index`` of the native stream is inside: x is its word's low half, y its high."""
    word = T.bind(_native_word(key, index))
    return _inside(word, word >> _u64(32))


def _block_words_lanes(block, k0, k1):
    """The four Philox words of block ``block`` (int64; counter (block mod 2**32, block div 2**32,
    0, 0), key (k0, k1) as int64), with the CPU's round function."""
    counter = block.astype("uint64")
    return _philox_lanes(
        counter, counter >> _u64(32), _u64(0), _u64(0), k0.astype("uint64"), k1.astype("uint64")
    )


def _block_hits_lanes(block, k0, k1, opaque_zero, take_even=1, take_odd=1):
    """Hits of the even and (or) the odd sample of one Philox block, as one int64 expression.

    ``opaque_zero`` is 0 at run time: xored into the y words, it keeps LLVM from folding the sign
    extension of a product's low half into a 64-bit multiply (``vpmullq``), as in numba's kernel.
    """
    w0, w1, w2, w3 = _block_words_lanes(block, k0, k1)
    zero = opaque_zero.astype("uint64")
    return _inside(w0, w1 ^ zero) * take_even + _inside(w2, w3 ^ zero) * take_odd


def _block_hits_words(block, k0, k1, take_even, take_odd):
    """The same with the GPU's round function (uint32 words); the masks are boolean expressions."""
    counter = block.astype("uint64")
    w0, w1, w2, w3 = _philox_words(
        counter.astype("uint32"),
        (counter >> _u64(32)).astype("uint32"),
        T.uint32(0),
        T.uint32(0),
        k0.astype("uint32"),
        k1.astype("uint32"),
    )
    zero = T.int64(0)
    return T.if_then_else(take_even, _inside(w0, w1), zero) + T.if_then_else(take_odd, _inside(w2, w3), zero)


# ---------------------------------------------------------------------------------------------
# Kernels (TVMScript). Every offset, count and sum is int64; the parallel index is int32 (at most
# GROUPS_PER_LAUNCH). Seeds and keys arrive as int64 (TVM's calling convention passes Python ints
# as int64) and are reinterpreted as uint64 inside.
#
# Inside a CPU loop nothing is assigned with ``x = ...``: TVMScript 0.27 makes every such name a
# one-element buffer, which TVM's lowering allocates with TVMBackendAllocWorkspace inside a parallel
# loop, and its loads and stores keep LLVM from vectorising the loop (the code stays scalar). Values
# are bound with ``T.bind`` (an immutable variable, a register) or stay expressions, and each parallel
# index sums into its own slot of ``partial``, which LLVM keeps in a register across the loop.


def _shared_kernels() -> dict:
    """The shared variant's CPU module: the parallel kernel over whole blocks, and the edge kernel."""

    # Hits of both samples of every Philox block in [first_block, end_block): parallel index g
    # counts blocks [first_block + g * per, + per) into partial[g]. No masks in the loop: the host
    # passes whole blocks and counts a range's odd edges with ``shared_edge``.
    @T.prim_func
    def shared_blocks(
        first_block: T.int64,
        end_block: T.int64,
        per: T.int64,
        groups: T.int32,
        k0: T.int64,
        k1: T.int64,
        opaque_zero: T.int64,
        partial: T.Buffer((GROUPS_PER_LAUNCH,), "int64"),
    ):
        for g in T.parallel(groups):
            base = T.bind(first_block + g.astype("int64") * per)
            partial[g] = T.int64(0)
            for i in range(T.min(per, end_block - base)):
                partial[g] = partial[g] + _block_hits_lanes(base + i, k0, k1, opaque_zero)

    # Hits of the chosen samples (even: 2 * block, odd: 2 * block + 1) of one Philox block.
    @T.prim_func
    def shared_edge(
        block: T.int64,
        take_even: T.int64,
        take_odd: T.int64,
        k0: T.int64,
        k1: T.int64,
        out: T.Buffer((1,), "int64"),
    ):
        out[0] = _block_hits_lanes(block, k0, k1, T.int64(0), take_even, take_odd)

    return {"shared_blocks": shared_blocks, "shared_edge": shared_edge}


def _native_kernels() -> dict:
    """The native variant's CPU module."""

    # Hits of samples [first, end) of SplitMix64 stream ``key``: x is a word's low half, y its high.
    @T.prim_func
    def native_samples(
        first: T.int64,
        end: T.int64,
        per: T.int64,
        groups: T.int32,
        key: T.int64,
        partial: T.Buffer((GROUPS_PER_LAUNCH,), "int64"),
    ):
        for g in T.parallel(groups):
            base = T.bind(first + g.astype("int64") * per)
            partial[g] = T.int64(0)
            for i in range(T.min(per, end - base)):
                partial[g] = partial[g] + _native_hit(key, base + i)

    return {"native_samples": native_samples}


def _naive_kernels() -> dict:
    """The naive variant's CPU module (the count; TVM's generator fills the arrays)."""

    # The article's count over whole arrays: row 0 holds n x, row 1 n y (float32, compared in float64).
    @T.prim_func
    def naive_count(xy_handle: T.handle, groups: T.int32, partial: T.Buffer((GROUPS_PER_LAUNCH,), "int64")):
        n = T.int64()
        xy = T.match_buffer(xy_handle, (2, n), "float32")
        per = T.bind((n + groups.astype("int64") - 1) // groups.astype("int64"))
        for g in T.parallel(groups):
            base = T.bind(g.astype("int64") * per)
            partial[g] = T.int64(0)
            for i in range(T.max(T.min(per, n - base), T.int64(0))):
                partial[g] = partial[g] + _inside_unit_square(xy[0, base + i], xy[1, base + i])

    return {"naive_count": naive_count}


def _words_kernels() -> dict:
    """The test hook's module: both round functions on raw counters."""

    # Both round functions on raw counters (row i of ``counters``): the CPU's form into out[0, i],
    # the GPU's into out[1, i].
    @T.prim_func
    def philox_words_both(counters_handle: T.handle, k0: T.int64, k1: T.int64, out_handle: T.handle):
        m = T.int64()
        counters = T.match_buffer(counters_handle, (m, 4), "uint32")
        out = T.match_buffer(out_handle, (2, m, 4), "uint32")
        for i in range(m):
            lanes = _philox_lanes(
                counters[i, 0].astype("uint64"),
                counters[i, 1].astype("uint64"),
                counters[i, 2].astype("uint64"),
                counters[i, 3].astype("uint64"),
                k0.astype("uint64") & _u64(_MASK32),
                k1.astype("uint64") & _u64(_MASK32),
            )
            words = _philox_words(
                counters[i, 0],
                counters[i, 1],
                counters[i, 2],
                counters[i, 3],
                k0.astype("uint32"),
                k1.astype("uint32"),
            )
            out[0, i, 0] = lanes[0].astype("uint32")
            out[0, i, 1] = lanes[1].astype("uint32")
            out[0, i, 2] = lanes[2].astype("uint32")
            out[0, i, 3] = lanes[3].astype("uint32")
            out[1, i, 0] = words[0]
            out[1, i, 1] = words[1]
            out[1, i, 2] = words[2]
            out[1, i, 3] = words[3]

    return {"philox_words_both": philox_words_both}


def _gpu_kernels(simulated: bool):
    """The GPU's kernels: a grid of ``T.thread_binding`` loops, each thread striding over the range
    and adding its hits to its own int64 slot (so launches accumulate until the host reads them).
    ``simulated``: the same kernels with serial loops over a small grid, for the CPU (tests)."""
    blocks, threads = SIMULATED_GRID if simulated else (GPU_BLOCKS, GPU_THREADS)

    def grid(extent: int, thread: str):
        return T.serial(extent) if simulated else T.thread_binding(extent, thread=thread)

    # Hits of samples [first, last): the blocks first // 2 .. (last + 1) // 2, each sample masked.
    @T.prim_func
    def shared_gpu(
        first: T.int64,
        last: T.int64,
        k0: T.int64,
        k1: T.int64,
        partial: T.Buffer((blocks * threads,), "int64"),
    ):
        for bx in grid(blocks, "blockIdx.x"):
            for tx in grid(threads, "threadIdx.x"):
                thread = T.bind(bx.astype("int64") * threads + tx.astype("int64"))
                first_block = T.bind(first // 2)
                todo = T.bind((last + 1) // 2 - first_block - thread)
                hits = T.alloc_buffer((1,), "int64", scope="local")
                hits[0] = partial[thread]
                for j in range((todo + blocks * threads - 1) // (blocks * threads)):
                    block = T.bind(first_block + thread + j * (blocks * threads))
                    hits[0] = hits[0] + _block_hits_words(
                        block, k0, k1, block * 2 >= first, block * 2 + 1 < last
                    )
                partial[thread] = hits[0]

    # Hits of samples [first, last) of the SplitMix64 stream, grid-stride over samples.
    @T.prim_func
    def native_gpu(
        first: T.int64, last: T.int64, key: T.int64, partial: T.Buffer((blocks * threads,), "int64")
    ):
        for bx in grid(blocks, "blockIdx.x"):
            for tx in grid(threads, "threadIdx.x"):
                thread = T.bind(bx.astype("int64") * threads + tx.astype("int64"))
                todo = T.bind(last - first - thread)
                hits = T.alloc_buffer((1,), "int64", scope="local")
                hits[0] = partial[thread]
                for j in range((todo + blocks * threads - 1) // (blocks * threads)):
                    hits[0] = hits[0] + _native_hit(key, first + thread + j * (blocks * threads))
                partial[thread] = hits[0]

    return {"shared": shared_gpu, "native": native_gpu}


# ---------------------------------------------------------------------------------------------
# Targets and compiled modules.


def cpu_model() -> str:
    """The host CPU as LLVM names it (TVM's default ``mcpu`` is generic x86-64: no AVX at all)."""
    return str(tvm.target.codegen.llvm_get_system_cpu())


def cpu_target():
    return tvm.target.Target({"kind": "llvm", "mcpu": cpu_model()})


def cuda_target(arch: str):
    return tvm.target.Target({"kind": "cuda", "arch": arch}, host={"kind": "llvm", "mcpu": cpu_model()})


def _module(functions: dict) -> tvm.IRModule:
    return tvm.IRModule({name: func.with_attr("global_symbol", name) for name, func in functions.items()})


CPU_MODULES = {
    "shared": _shared_kernels,
    "native": _native_kernels,
    "naive": _naive_kernels,
    "words": _words_kernels,
}
"""What each CPU compile builds (one module per variant, and the test hook's), as functions that parse
the kernels' TVMScript."""


def kernels(what: str, device: str = "cpu") -> dict:
    """The PrimFuncs of ``what`` for ``device``, parsed from their TVMScript now: not at import, as
    the parser runs ``jitpi.philox.rounds`` and takes some tens of milliseconds a kernel."""
    if device == "cpu":
        return CPU_MODULES[what]()
    return {f"{what}_gpu": _gpu_kernels(simulated=device == "gpu-simulated")[what]}


_built: dict[tuple[str, str], object] = {}
"""(what, device) -> the executable ``tvm.compile`` made (CPU kernels, GPU kernels, simulated GPU)."""


def build(what: str, device: str = "cpu"):
    """The executable of ``what`` (a variant, or "words") for ``device`` ("cpu", "gpu", or
    "gpu-simulated": the GPU's kernels with serial loops, on the CPU), compiled at its first use."""
    key = (what, device)
    executable = _built.get(key)
    if executable is not None:
        return executable
    with _lock:
        if key not in _built:
            target = cuda_target(_cuda_arch()) if device == "gpu" else cpu_target()
            _built[key] = tvm.compile(_module(kernels(what, device)), target=target)
        return _built[key]


_functions: dict[tuple[str, str, str], object] = {}


def function(what: str, device: str, name: str):
    """A compiled kernel, looked up once (TVM's first lookup of a function loads the module)."""
    key = (what, device, name)
    found = _functions.get(key)
    if found is None:
        with _lock:
            found = _functions.get(key)
            if found is None:
                found = _functions[key] = build(what, device)[name]
    return found


def compile_count() -> int:
    """Modules ``tvm.compile`` built in this process: one per variant and device (and the hook's)."""
    return len(_built)


def _tensor(array: np.ndarray, device):
    """``array`` copied to a TVM tensor on ``device``."""
    return tvm.runtime.tensor(array, device=device)


def _zeros(size: int, device):
    return _tensor(np.zeros(size, dtype=np.int64), device)


# ---------------------------------------------------------------------------------------------
# The variants.


def _launches(first: int, end: int, per: int):
    """(first, end, groups) of each CPU launch: at most GROUPS_PER_LAUNCH groups of ``per`` units."""
    step = per * GROUPS_PER_LAUNCH
    for launch_first in range(first, end, step):
        launch_end = min(launch_first + step, end)
        yield launch_first, launch_end, -(-(launch_end - launch_first) // per)


def _count_cpu(kernel, first: int, end: int, per: int, *keys: int) -> int:
    _use_threads()
    partial = _zeros(GROUPS_PER_LAUNCH, tvm.cpu(0))
    total = 0
    for launch_first, launch_end, groups in _launches(first, end, per):
        kernel(launch_first, launch_end, per, groups, *keys, partial)
        total += int(partial.numpy()[:groups].sum(dtype=np.int64))
    return total


def _signed64(value: int) -> int:
    """A uint64 as the int64 with the same bits (how TVM passes it)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    per = CHUNKS.pick(chunk, "shared", device)
    k0, k1 = philox.split_seed(seed)
    if device == "gpu":
        return _count_gpu("shared", "gpu", n, start, per, k0, k1)
    end = start + n
    first_block, end_block = start // 2, end // 2  # the blocks whose two samples both lie in range
    hits = 0
    if start % 2:  # the first block gives only its odd sample
        hits += _edge_hits(first_block, False, True, k0, k1)
        first_block += 1
    if end % 2 and end // 2 >= first_block:  # the last block gives only its even sample
        hits += _edge_hits(end // 2, True, False, k0, k1)
    if end_block > first_block:
        kernel = function("shared", "cpu", "shared_blocks")
        hits += _count_cpu(kernel, first_block, end_block, max(1, per // 2), k0, k1, 0)  # 0: opaque_zero
    return hits


def _edge_hits(block: int, take_even: bool, take_odd: bool, k0: int, k1: int) -> int:
    out = _zeros(1, tvm.cpu(0))
    function("shared", "cpu", "shared_edge")(block, int(take_even), int(take_odd), k0, k1, out)
    return int(out.numpy()[0])


def native_key(seed: int) -> int:
    """The SplitMix64 state offset of stream ``seed``: numba's and taichi's native key."""
    return philox.splitmix64(seed)


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of SplitMix64 stream ``seed``; any start works."""
    per = CHUNKS.pick(chunk, "native", device)
    key = _signed64(native_key(seed))
    if device == "gpu":
        return _count_gpu("native", "gpu", n, start, per, key)
    return _count_cpu(function("native", "cpu", "native_samples"), start, start + n, per, key)


def _count_gpu(variant: str, device: str, n: int, start: int, per: int, *keys: int) -> int:
    """Hits among samples [start, start + n): one launch per ``per`` samples into the threads' slots,
    read (and summed) once at the end. ``device`` "gpu-simulated" runs the same on the CPU."""
    if device == "gpu":
        reason = device_unavailable_reason("gpu")
        if reason is not None:
            raise BackendUnavailable("tvm", "gpu", reason)
    kernel = function(variant, device, f"{variant}_gpu")
    blocks, threads = (GPU_BLOCKS, GPU_THREADS) if device == "gpu" else SIMULATED_GRID
    partial = _zeros(blocks * threads, tvm.cuda(0) if device == "gpu" else tvm.cpu(0))
    end = start + n
    for first in range(start, end, per):
        kernel(first, min(first + per, end), *keys, partial)
    return int(partial.numpy().sum(dtype=np.int64))  # the copy waits for the kernels


_uniform = tvm.get_global_func("tvm.contrib.random.uniform", allow_missing=True)

NAIVE_MISSING = (
    "this apache-tvm build has no tvm.contrib.random (TVM's random generator, built with USE_RANDOM), "
    "which the naive variant draws its arrays from"
)


def naive_max_n(device: str = "cpu") -> int:
    return naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes())


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """The article's approach: n x and n y from TVM's generator (one (2, n) float32 array), counted.

    ``tvm.contrib.random.uniform(seed, seed2, low, high, out)`` reseeds a Mersenne Twister from a
    32-bit mix of (seed, seed2) at every call; seed2 = 1 keeps the pair from ever being (0, 0),
    which TVM reads as "not seeded". So the naive stream is keyed by a 32-bit hash of the seed.
    """
    if _uniform is None:
        raise BackendUnavailable("tvm", device, NAIVE_MISSING, "naive")
    samples = tvm.runtime.empty((2, n), "float32", tvm.cpu(0))
    _uniform(_signed64(seed), 1, 0.0, 1.0, samples)
    _use_threads()
    partial = _zeros(GROUPS_PER_LAUNCH, tvm.cpu(0))
    groups = max(1, min(GROUPS_PER_LAUNCH, n // 4096))
    function("naive", "cpu", "naive_count")(samples, groups, partial)
    return int(partial.numpy()[:groups].sum(dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# What the backend says of itself.


def _build_flag(name: str) -> str:
    try:
        return str(tvm.support.libinfo().get(name, "?"))
    except Exception:  # an older or stripped build: not worth failing over
        return "?"


def _cuda_arch() -> str:
    """The GPU's architecture as TVM's CUDA target names it (sm_90 for an H100 or H200)."""
    major, minor = tvm.cuda(0).compute_version.split(".")
    return f"sm_{major}{minor}"


def _cuda_compiler() -> str | None:
    """What compiles TVM's CUDA C here: NVRTC through cuda-bindings (TVM's default), or nvcc."""
    if os.environ.get("TVM_CUDA_COMPILE_MODE", "nvrtc").lower() == "nvcc":
        return "nvcc" if shutil.which("nvcc") else None
    try:
        found = importlib.util.find_spec("cuda.bindings") is not None
    except ModuleNotFoundError:
        found = False
    return "NVRTC (cuda-bindings)" if found else None


def device_unavailable_reason(device: str) -> str | None:
    version = tvm.__version__
    if device == "cpu":
        if tvm.get_global_func("target.build.llvm", allow_missing=True) is None:
            return f"this apache-tvm {version} build has no LLVM code generator (target.build.llvm)"
        return None
    try:
        present = bool(tvm.cuda(0).exist)
    except Exception as error:  # a build without CUDA's device API
        present = False
        detail = f"{type(error).__name__}: {error}"
    else:
        detail = "TVM's CUDA runtime sees no device"
    if not present:
        if _build_flag("USE_CUDA").upper() in ("OFF", "0", "FALSE", "NOTFOUND"):
            detail = "this build has no CUDA runtime (USE_CUDA=OFF)"
        return (
            f"no CUDA GPU for TVM here (apache-tvm {version}: {detail}); TVM still writes its kernels' "
            f"CUDA C without one"
        )
    if _cuda_compiler() is None:
        return (
            f"apache-tvm {version} sees a CUDA GPU but nothing to compile its CUDA C: "
            f"pip install cuda-bindings (NVRTC), or put nvcc on PATH with TVM_CUDA_COMPILE_MODE=nvcc"
        )
    return None


def describe(device: str) -> str:
    version = f"tvm {tvm.__version__} (LLVM {tvm.target.codegen.llvm_version_major(allow_none=True)})"
    if device == "gpu":
        return (
            f"{version}, TVMScript kernels compiled to CUDA for {_cuda_arch()} by {_cuda_compiler()}, "
            f"{GPU_BLOCKS} x {GPU_THREADS} threads, {CHUNKS.gpu} samples per launch"
        )
    threads = _threads()
    return (
        f"{version}, TVMScript kernels compiled by TVM's LLVM for {cpu_model()}, T.parallel on "
        f"{threads} thread{'s' if threads != 1 else ''} (TVM's thread pool)"
    )


def philox_words(counters: Sequence[Words], key: tuple[int, int]) -> list[Words]:
    """Raw Philox4x32-10 words of both round functions (the CPU's uint64 lanes and the GPU's uint32
    words), compiled for the CPU; raises if they disagree, so checking this hook checks both."""
    array = np.asarray(counters, dtype=np.uint32).reshape(-1, 4)
    out = _tensor(np.zeros((2, *array.shape), dtype=np.uint32), tvm.cpu(0))
    k0, k1 = (word & _MASK32 for word in key)
    function("words", "cpu", "philox_words_both")(_tensor(array, tvm.cpu(0)), k0, k1, out)
    cpu_form, gpu_form = out.numpy()
    if not np.array_equal(cpu_form, gpu_form):
        raise RuntimeError(
            f"the CPU and GPU round functions disagree: {cpu_form.tolist()} != {gpu_form.tolist()}"
        )
    return [tuple(int(word) for word in row) for row in cpu_form]  # type: ignore[misc]


BACKEND = Backend(
    name="tvm",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    philox_words=philox_words,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    not_on_gpu={"naive": "TVM's random generator (tvm.contrib.random) fills arrays on the CPU only"},
    not_in_this_release={} if _uniform is not None else {"naive": NAIVE_MISSING},
    naive_max_n=naive_max_n,
    compile_count=compile_count,
)
