"""tvm: Apache TVM kernels written in TVMScript (``tvm.script.tirx``) and built by ``tvm.compile``, for
the host CPU through TVM's own LLVM (``T.parallel`` on TVM's thread pool) or for CUDA
(``T.thread_binding``).

``shared`` is Philox4x32-10 from ``jitpi.philox.rounds``, which TVMScript's parser runs at parse time,
so the rounds unroll into the kernel's TIR. ``native`` is SplitMix64 by position (numba's and taichi's
native stream: TVM has no random generator for TIR kernels); ``naive`` fills whole float32 arrays with
TVM's own generator (``tvm.contrib.random.uniform``) and counts them in TIR. n, start and the seed are
run-time arguments: one compile per variant and device. Design notes: docs/backends/tvm.md.
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
# Threads. TVM's pool would take half the hardware threads on x86-64 and pin the calling thread to
# cores; jitpi sizes it to every core and leaves pinning off (docs/backends/tvm.md, "Threads").

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
    """Size TVM's pool for this call (TVM reads TVM_NUM_THREADS when it makes the pool, at the first
    launch; a later count goes through ``runtime.config_threadpool``); returns the thread count."""
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
    """``value`` (a uint64), unchanged, through ``fshl(x, x, 0)``: opaque to TVM, whose simplifier
    would otherwise substitute every bound product back into a tree that doubles with each round
    (docs/backends/tvm.md); LLVM folds it to ``x``. CPU (LLVM) kernels only."""
    return T.call_llvm_intrin("uint64", "llvm.fshl.i64", value, value, _u64(0))


def _mulhilo_lanes(word, multiplier: int):
    """(high, low) of a 32-bit word (the low half of a uint64 lane) times a 32-bit constant (only the
    low 32 bits of ``low`` are the product's); the product is bound once, and kept bound."""
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
    """The low 32 bits of a word as a signed integer, held as a two's-complement uint64: squared in
    uint64 the test is exact, and TVM's rewrite of ``a < c - b`` into ``a + b < c`` cannot overflow
    (docs/backends/tvm.md, "The exact inside test")."""
    return word.astype("int32").astype("int64").astype("uint64")


def _inside(x_word, y_word):
    """1 if the point of two words is inside the quarter circle, else 0, as int64 (exact)."""
    return philox.inside_test(x_word, y_word, to_signed=_as_signed).astype("int64")


def _inside_unit_square(x, y):
    """The article's test on two float32 values, compared in float64 (1 or 0, as int64)."""
    x64, y64 = x.astype("float64"), y.astype("float64")
    return (x64 * x64 + y64 * y64 < T.float64(1.0)).astype("int64")


def _splitmix64_mix(z):
    """SplitMix64's finaliser (``jitpi.philox.splitmix64`` less its increment) on a uint64."""
    z = T.bind((z ^ (z >> _u64(30))) * _u64(philox.SPLITMIX_MUL1))
    z = T.bind((z ^ (z >> _u64(27))) * _u64(philox.SPLITMIX_MUL2))
    return z ^ (z >> _u64(31))


def _native_hit(index, key, *_):
    """1 if sample ``index`` of native stream ``key`` (splitmix64(seed)) is inside: its word is
    mix(key + (index + 1) * GAMMA), x the word's low half, y its high (``_``: the kernels' signature)."""
    position = (index + 1).astype("uint64") * _u64(philox.SPLITMIX_GAMMA)
    word = T.bind(_splitmix64_mix(key.astype("uint64") + position))
    return _inside(word, word >> _u64(32))


def _block_hits_lanes(block, k0, k1, opaque_zero, take_even=1, take_odd=1):
    """Hits of the even and (or) the odd sample of Philox block ``block`` (counter (block mod 2**32,
    block div 2**32, 0, 0), key (k0, k1)) with the CPU's round function, as one int64 expression.
    ``opaque_zero`` is 0 at run time: xored into the y words, it keeps LLVM from folding the sign
    extension of a product's low half into a 64-bit multiply (``vpmullq``), as in numba's kernel."""
    counter = block.astype("uint64")
    w0, w1, w2, w3 = _philox_lanes(
        counter, counter >> _u64(32), _u64(0), _u64(0), k0.astype("uint64"), k1.astype("uint64")
    )
    zero = opaque_zero.astype("uint64")
    return _inside(w0, w1 ^ zero) * take_even + _inside(w2, w3 ^ zero) * take_odd


def _block_hits_words(unit, k0, k1, first, last):
    """The hits of Philox block ``unit`` that lie in samples [first, last), with the GPU's round
    function (uint32 words)."""
    block = T.bind(unit)
    take_even, take_odd = block * 2 >= first, block * 2 + 1 < last
    counter = block.astype("uint64")
    low, high, key0, key1 = (word.astype("uint32") for word in (counter, counter >> _u64(32), k0, k1))
    w0, w1, w2, w3 = _philox_words(low, high, T.uint32(0), T.uint32(0), key0, key1)
    zero = T.int64(0)
    return T.if_then_else(take_even, _inside(w0, w1), zero) + T.if_then_else(take_odd, _inside(w2, w3), zero)


# ---------------------------------------------------------------------------------------------
# Kernels (TVMScript). Every offset, count and sum is int64; seeds and keys arrive as int64 (how TVM
# passes Python ints), read as uint64 inside. Nothing is assigned with ``x = ...`` inside a CPU loop
# (TVMScript makes such a name a one-element buffer, which keeps LLVM from vectorising): values are
# ``T.bind`` variables or expressions, and each parallel index sums into its own slot of ``partial``.
# The counting kernels of a device share one shape and signature: a factory builds each from the
# stream's ``hit`` of one unit (a Philox block, or a sample) and its int64 arguments a0, a1 (a2 on the
# CPU): shared's key words (and a run-time zero), native's key (then zeros).


def _parallel_kernel(hit):
    """A CPU kernel: parallel index g counts the units [first + g * per, + per) below ``end`` with
    ``hit(unit, a0, a1, a2)`` into ``partial[g]``."""

    @T.prim_func
    def kernel(
        first: T.int64,
        end: T.int64,
        per: T.int64,
        groups: T.int32,
        a0: T.int64,
        a1: T.int64,
        a2: T.int64,
        partial: T.Buffer((GROUPS_PER_LAUNCH,), "int64"),
    ):
        for g in T.parallel(groups):
            base = T.bind(first + g.astype("int64") * per)
            partial[g] = T.int64(0)
            for i in range(T.min(per, end - base)):
                partial[g] = partial[g] + hit(base + i, a0, a1, a2)

    return kernel


def _shared_edge():
    """Hits of the chosen samples (even: 2 * block, odd: 2 * block + 1) of one Philox block: the odd
    edges of a range, which the parallel kernel (whole blocks, no masks) leaves out."""

    @T.prim_func
    def kernel(
        block: T.int64, even: T.int64, odd: T.int64, k0: T.int64, k1: T.int64, out: T.Buffer((1,), "int64")
    ):
        out[0] = _block_hits_lanes(block, k0, k1, T.int64(0), even, odd)

    return kernel


def _naive_count():
    """The article's count over whole arrays: row 0 holds n x, row 1 n y (float32, compared in float64)."""

    @T.prim_func
    def kernel(xy_handle: T.handle, groups: T.int32, partial: T.Buffer((GROUPS_PER_LAUNCH,), "int64")):
        n = T.int64()
        xy = T.match_buffer(xy_handle, (2, n), "float32")
        per = T.bind((n + groups.astype("int64") - 1) // groups.astype("int64"))
        for g in T.parallel(groups):
            base = T.bind(g.astype("int64") * per)
            partial[g] = T.int64(0)
            for i in range(T.max(T.min(per, n - base), T.int64(0))):
                partial[g] = partial[g] + _inside_unit_square(xy[0, base + i], xy[1, base + i])

    return kernel


def _store_both_forms(counters, i, k0, k1, out):
    """Row i of ``counters`` through both round functions: the CPU's form into out[0, i], the GPU's
    into out[1, i] (``T.buffer_store`` adds each store to the kernel at the point of the call)."""
    row = [counters[i, w] for w in range(4)]
    key = [k.astype("uint64") & _u64(_MASK32) for k in (k0, k1)]
    lanes = _philox_lanes(*(word.astype("uint64") for word in row), *key)
    words = _philox_words(*row, k0.astype("uint32"), k1.astype("uint32"))
    for form, result in enumerate((lanes, words)):
        for w in range(4):
            T.buffer_store(out, result[w].astype("uint32"), [form, i, w])


def _philox_words_both():
    """The test hook's kernel: both round functions on raw counters."""

    @T.prim_func
    def kernel(counters_handle: T.handle, k0: T.int64, k1: T.int64, out_handle: T.handle):
        m = T.int64()
        counters = T.match_buffer(counters_handle, (m, 4), "uint32")
        out = T.match_buffer(out_handle, (2, m, 4), "uint32")
        for i in range(m):
            _store_both_forms(counters, i, k0, k1, out)

    return kernel


CPU_MODULES = {
    "shared": lambda: {"shared_blocks": _parallel_kernel(_block_hits_lanes), "shared_edge": _shared_edge()},
    "native": lambda: {"native_samples": _parallel_kernel(_native_hit)},
    "naive": lambda: {"naive_count": _naive_count()},
    "words": lambda: {"philox_words_both": _philox_words_both()},
}
"""What each CPU compile builds (one module per variant, and the test hook's): the kernels' TVMScript."""


GPU_STREAMS = {
    "shared": (lambda first: first // 2, lambda last: (last + 1) // 2, _block_hits_words),
    "native": (lambda first: first, lambda last: last, _native_hit),
}
"""Per variant, for the GPU's kernel: the first unit of samples [first, last), the end of its units,
and the hits of one unit, ``hit(unit, a0, a1, first, last)``."""


def _gpu_kernel(variant: str, simulated: bool):
    """The GPU's kernel of ``variant``: a grid of ``T.thread_binding`` loops, each thread striding over
    the range's units and adding its hits to its own int64 slot (so launches accumulate until the host
    reads them). ``simulated``: the same kernel with serial loops over a small grid, for the CPU."""
    blocks, threads = SIMULATED_GRID if simulated else (GPU_BLOCKS, GPU_THREADS)
    stride = blocks * threads
    first_unit, end_unit, hit = GPU_STREAMS[variant]

    def grid(extent: int, thread: str):
        return T.serial(extent) if simulated else T.thread_binding(extent, thread=thread)

    @T.prim_func
    def kernel(
        first: T.int64, last: T.int64, a0: T.int64, a1: T.int64, partial: T.Buffer((stride,), "int64")
    ):
        for bx in grid(blocks, "blockIdx.x"):
            for tx in grid(threads, "threadIdx.x"):
                thread = T.bind(bx.astype("int64") * threads + tx.astype("int64"))
                unit = T.bind(first_unit(first))
                todo = T.bind(end_unit(last) - unit - thread)
                hits = T.alloc_buffer((1,), "int64", scope="local")
                hits[0] = partial[thread]
                for j in range((todo + stride - 1) // stride):
                    hits[0] = hits[0] + hit(unit + thread + j * stride, a0, a1, first, last)
                partial[thread] = hits[0]

    return kernel


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


def kernels(what: str, device: str = "cpu") -> dict:
    """The PrimFuncs of ``what`` for ``device``, parsed from their TVMScript now: not at import, as
    the parser runs ``jitpi.philox.rounds`` and takes some tens of milliseconds a kernel."""
    if device == "cpu":
        return CPU_MODULES[what]()
    return {f"{what}_gpu": _gpu_kernel(what, simulated=device == "gpu-simulated")}


_built: dict[tuple[str, str], object] = {}
"""(what, device) -> the executable ``tvm.compile`` made (CPU kernels, GPU kernels, simulated GPU)."""


def build(what: str, device: str = "cpu"):
    """The executable of ``what`` (a variant, or "words") for ``device`` ("cpu", "gpu", or
    "gpu-simulated": the GPU's kernels with serial loops, on the CPU), compiled at its first use."""
    key = (what, device)
    if key not in _built:
        with _lock:
            if key not in _built:
                target = cuda_target(_cuda_arch()) if device == "gpu" else cpu_target()
                _built[key] = tvm.compile(_module(kernels(what, device)), target=target)
    return _built[key]


_functions: dict[tuple[str, str, str], object] = {}


def function(what: str, device: str, name: str):
    """A compiled kernel, looked up once (TVM's first lookup of a function loads the module)."""
    key = (what, device, name)
    if key not in _functions:
        with _lock:
            if key not in _functions:
                _functions[key] = build(what, device)[name]
    return _functions[key]


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


def _count_cpu(kernel, first: int, end: int, per: int, *args: int) -> int:
    """Hits of units [first, end), one launch per at most GROUPS_PER_LAUNCH groups of ``per`` units."""
    _use_threads()
    partial = _zeros(GROUPS_PER_LAUNCH, tvm.cpu(0))
    total = 0
    for launch_first in range(first, end, per * GROUPS_PER_LAUNCH):
        launch_end = min(launch_first + per * GROUPS_PER_LAUNCH, end)
        groups = -(-(launch_end - launch_first) // per)
        kernel(launch_first, launch_end, per, groups, *args, partial)
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
        hits += _count_cpu(kernel, first_block, end_block, max(1, per // 2), k0, k1, 0)  # 0: the opaque zero
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
    return _count_cpu(function("native", "cpu", "native_samples"), start, start + n, per, key, 0, 0)


def _count_gpu(variant: str, device: str, n: int, start: int, per: int, a0: int, a1: int = 0) -> int:
    """Hits among samples [start, start + n): one launch per ``per`` samples into the threads' slots,
    read (and summed) once at the end. ``device`` "gpu-simulated" runs the same on the CPU."""
    if device == "gpu" and (reason := device_unavailable_reason("gpu")) is not None:
        raise BackendUnavailable("tvm", "gpu", reason)
    kernel = function(variant, device, f"{variant}_gpu")
    blocks, threads = (GPU_BLOCKS, GPU_THREADS) if device == "gpu" else SIMULATED_GRID
    partial = _zeros(blocks * threads, tvm.cuda(0) if device == "gpu" else tvm.cpu(0))
    end = start + n
    for first in range(start, end, per):
        kernel(first, min(first + per, end), a0, a1, partial)
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
    Seeded with (seed, 1): TVM reads (0, 0) as "not seeded" (docs/backends/tvm.md, "naive")."""
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
