"""numba: ``@njit(parallel=True)`` CPU kernels over fixed chunks and ``numba.cuda`` GPU kernels.

Numba's ``random`` cannot be seeded per thread under ``prange``, so ``native`` (SplitMix64 by
position) and ``shared`` (Philox4x32-10) compute sample ``i`` from ``(seed, i)`` alone: counts do not
depend on threads, chunks or the device, and the GPU kernels count exactly what the CPU ones do.
``naive`` is the article's serial ``random.random()`` loop (CPU only). Constants on unsigned words are
``np.uint64``, since Numba types ``int64 + uint64`` as float64.

Design notes and measurements: docs/backends/numba.md
"""

from __future__ import annotations

import importlib.metadata
import os
import random
import threading

import numba
import numpy as np
from numba import njit, prange

from jitpi import philox
from jitpi.backends import cpu_threads
from jitpi.contract import Backend, Chunks
from jitpi.registry import BackendUnavailable

CHUNKS = Chunks(
    native=1 << 20,  # samples per prange iteration: large enough to amortise scheduling
    shared=1 << 20,  # likewise, whole Philox blocks
    # Samples per kernel launch on a GPU: launches stay short (an estimated 10-20 ms each on an
    # H100, not measured yet), and n = 2**40 takes 256 of them, each some tens of microseconds.
    gpu=1 << 32,
)

NAIVE_MAX_N = 2**40
"""The naive loop keeps no arrays: it accepts every n of the contract."""

NAIVE_ON_GPU = (
    "the naive variant is the article's serial loop of random.random() draws on Numba's one "
    "Mersenne Twister; it has no GPU form (use variant='native' or 'shared' on the GPU)"
)

GPU_THREADS = 256
"""Threads per block on a GPU; a power of two, for the block's tree reduction."""

SIMULATOR_GRID = (2, 32)
"""Blocks and threads per launch under Numba's CUDA simulator, where every GPU thread is a Python
thread: two blocks of 32 still run the grid-stride loop and the block reduction."""

_U32 = np.uint64(0xFFFFFFFF)
_SIGN = np.uint64(0x80000000)
_HALF = np.int64(0x80000000)
_BOUND = np.int64(philox.INSIDE_BOUND)
_S32 = np.uint64(32)
_ZERO = np.uint64(0)

_GAMMA = np.uint64(philox.SPLITMIX_GAMMA)
_MIX1 = np.uint64(philox.SPLITMIX_MUL1)
_MIX2 = np.uint64(philox.SPLITMIX_MUL2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)

_MA = np.uint64(philox.MULTIPLIER_A)
_MB = np.uint64(philox.MULTIPLIER_B)
_KA = np.uint64(philox.KEY_INCREMENT_A)
_KB = np.uint64(philox.KEY_INCREMENT_B)


def _threads() -> None:
    """Honour ``JITPI_THREADS`` (Dask workers set it); otherwise leave numba's own setting alone."""
    if os.environ.get("JITPI_THREADS"):
        numba.set_num_threads(min(cpu_threads(), numba.config.NUMBA_NUM_THREADS))


def device_unavailable_reason(device: str) -> str | None:
    if device == "cpu":
        return None
    try:
        cuda = _cuda()
    except Exception as error:  # a broken CUDA install must not take the CPU kernels down
        return f"numba {numba.__version__}: importing numba.cuda failed: {type(error).__name__}: {error}"
    if cuda.is_available():
        return None
    why = cuda.cuda_error() if hasattr(cuda, "cuda_error") else None
    detail = " ".join(str(why).split()).split(". ")[0].rstrip(".") if why else "no CUDA device visible"
    return f"no CUDA GPU for numba here (numba {numba.__version__}, {_cuda_flavour(cuda)}: {detail})"


def describe(device: str) -> str:
    if device == "gpu":
        return _describe_gpu()
    try:
        layer = numba.threading_layer()
    except ValueError:  # known only once a parallel kernel has run
        layer = f"{numba.config.THREADING_LAYER} (chosen at the first parallel call)"
    threads = numba.get_num_threads()
    return (
        f"numba {numba.__version__}, LLVM-compiled, parallel=True with {threads} "
        f"thread{'s' if threads != 1 else ''} (threading layer {layer})"
    )


# ---------------------------------------------------------------------------------------------
# Counter-based generators, inlined into the kernels. Numba keeps its own copies of the Philox
# rounds and SplitMix64 (jitpi.philox holds the reference): an @njit kernel cannot take the Python
# callables ``philox.rounds`` is parametrised by and still inline them into LLVM's vectorised loop.


@njit(inline="always")
def _splitmix64_mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(inline="always")
def _signed(word):
    """A 32-bit word (held in a uint64) as the signed 32-bit integer it encodes, in int64."""
    return np.int64(word ^ _SIGN) - _HALF


@njit(inline="always")
def _inside(x, y):
    return x * x < _BOUND - y * y


@njit(inline="always")
def _philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on 32-bit words held in uint64 lanes; keys must be below 2**32.

    Only the low 32 bits of each returned word are the Philox output: the upper halves carry
    garbage, because masking is done where it is free, on the multiplier inputs (``x & 0xFFFFFFFF``
    times a 32-bit constant is one 32x32->64 vector multiply, ``vpmuludq``). Readers take the low
    half (``_low_signed``), which is all the inside test uses.
    """
    for _ in range(10):
        prod_a = _MA * (c0 & _U32)
        prod_b = _MB * (c2 & _U32)
        c0, c1, c2, c3 = (prod_b >> _S32) ^ c1 ^ k0, prod_b, (prod_a >> _S32) ^ c3 ^ k1, prod_a
        k0 = (k0 + _KA) & _U32
        k1 = (k1 + _KB) & _U32
    return c0, c1, c2, c3


@njit(inline="always")
def _low_signed(word):
    """The low 32 bits of a uint64 as the signed 32-bit integer they encode, in int64."""
    return np.int64(np.int32(word))


@njit
def _philox_words(c0, c1, c2, c3, k0, k1):
    """Raw Philox4x32-10 words of one block, from the kernel's own round function (for tests)."""
    key0, key1 = np.uint64(k0) & _U32, np.uint64(k1) & _U32
    w0, w1, w2, w3 = _philox(np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3), key0, key1)
    return w0 & _U32, w1 & _U32, w2 & _U32, w3 & _U32


# ---------------------------------------------------------------------------------------------
# native: SplitMix64 by position.


def native_key(seed: int) -> np.uint64:
    """The SplitMix64 state offset of stream ``seed``: the finaliser of ``seed + GAMMA``."""
    return np.uint64(philox.splitmix64(seed))


@njit(inline="always")
def _native_range(first, end, key):
    hits = np.int64(0)
    state = key + np.uint64(first + 1) * _GAMMA
    for _ in range(end - first):
        word = _splitmix64_mix(state)
        state += _GAMMA
        x = _signed(word & _U32)
        y = _signed(word >> _S32)
        hits += np.int64(_inside(x, y))
    return hits


@njit(parallel=True)
def _native_kernel(start, n, key, chunk):
    n_chunks = (n + chunk - 1) // chunk
    total = np.int64(0)
    for index in prange(n_chunks):
        first = start + index * chunk
        end = min(first + chunk, start + n)
        total += _native_range(first, end, key)
    return total


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of SplitMix64 stream ``seed``; any start works."""
    if device == "gpu":
        return _gpu_count("native", n, start, chunk, (native_key(seed),))
    chunk = CHUNKS.pick(chunk, "native")
    _threads()
    return int(_native_kernel(np.int64(start), np.int64(n), native_key(seed), np.int64(chunk)))


# ---------------------------------------------------------------------------------------------
# shared: Philox4x32-10 by block.


@njit(inline="always")
def _shared_blocks(first_block, end_block, k0, k1, opaque_zero):
    """Hits of both samples of every block in [first_block, end_block).

    ``opaque_zero`` is 0, passed at run time: xoring it into the y words keeps LLVM from folding
    the sign extension of a product's low half into a second, 64-bit multiply (``vpmullq``, three
    times the cost); the inside test then squares each word with one ``vpmuldq``.
    """
    hits = np.int64(0)
    zero = np.uint64(0)
    for block in range(first_block, end_block):
        counter = np.uint64(block)
        w0, w1, w2, w3 = _philox(counter, counter >> _S32, zero, zero, k0, k1)
        x0 = _low_signed(w0)
        y0 = _low_signed(w1 ^ opaque_zero)
        x1 = _low_signed(w2)
        y1 = _low_signed(w3 ^ opaque_zero)
        hits += np.int64(_inside(x0, y0)) + np.int64(_inside(x1, y1))
    return hits


@njit(parallel=True)
def _shared_kernel(first_block, end_block, k0, k1, blocks_per_chunk, opaque_zero):
    n_blocks = end_block - first_block
    n_chunks = (n_blocks + blocks_per_chunk - 1) // blocks_per_chunk
    total = np.int64(0)
    for index in prange(n_chunks):
        lo = first_block + index * blocks_per_chunk
        hi = min(lo + blocks_per_chunk, end_block)
        total += _shared_blocks(lo, hi, k0, k1, opaque_zero)
    return total


@njit
def _shared_edge(block, k0, k1, take_even, take_odd):
    """Hits of the chosen samples of one block (the partial blocks at either end of a range)."""
    counter = np.uint64(block)
    zero = np.uint64(0)
    w0, w1, w2, w3 = _philox(counter, counter >> _S32, zero, zero, k0, k1)
    hits = np.int64(0)
    if take_even and _inside(_low_signed(w0), _low_signed(w1)):
        hits += 1
    if take_odd and _inside(_low_signed(w2), _low_signed(w3)):
        hits += 1
    return hits


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    """Hits among samples [start, start + n) of the shared Philox stream; any start works."""
    k0, k1 = (np.uint64(word) for word in philox.split_seed(seed))
    if device == "gpu":
        return _gpu_count("shared", n, start, chunk, (np.uint32(k0), np.uint32(k1)))
    chunk = CHUNKS.pick(chunk, "shared")
    _threads()
    end = start + n
    first_block, end_block = start // 2, end // 2  # blocks whose two samples are both in range
    hits = 0
    if start % 2:  # the first block contributes only its odd sample
        hits += int(_shared_edge(np.int64(first_block), k0, k1, False, True))
        first_block += 1
    if end % 2 and end // 2 >= first_block:  # the last block contributes only its even sample
        hits += int(_shared_edge(np.int64(end // 2), k0, k1, True, False))
    if end_block > first_block:
        blocks_per_chunk = max(1, chunk // 2)
        hits += int(
            _shared_kernel(
                np.int64(first_block), np.int64(end_block), k0, k1, np.int64(blocks_per_chunk), _ZERO
            )
        )
    return hits


# ---------------------------------------------------------------------------------------------
# naive: the article's loop.


@njit
def _naive_loop(n, seed32):
    random.seed(seed32)
    hits = np.int64(0)
    for _ in range(n):
        x = random.random()
        y = random.random()
        if x * x + y * y < 1.0:
            hits += 1
    return hits


def naive_max_n(device: str = "cpu") -> int:
    return NAIVE_MAX_N


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    """The article's serial ``random.random()`` loop, seeded with ``seed % 2**32``."""
    if device != "cpu":
        raise BackendUnavailable("numba", device, NAIVE_ON_GPU, "naive")
    return int(_naive_loop(np.int64(n), np.int64(seed % 2**32)))


# ---------------------------------------------------------------------------------------------
# GPU: numba.cuda kernels, built on the first GPU call.


cuda = None
"""``numba.cuda`` once ``_cuda`` has imported it. A module global, because Numba's CUDA simulator
runs a kernel by swapping the globals that hold the ``numba.cuda`` module for its fake one."""


def _cuda():
    """``numba.cuda``, imported on first use: importing it costs time (and CUDA may be absent)."""
    global cuda
    if cuda is None:
        from numba import cuda as module

        cuda = module
    return cuda


def _simulated() -> bool:
    return bool(numba.config.ENABLE_CUDASIM)


def _cuda_flavour(cuda) -> str:
    """Which CUDA target ``numba.cuda`` is: Numba's built-in one, or NVIDIA's numba-cuda package."""
    if getattr(cuda, "implementation", "Built-in") == "Built-in":
        return "numba's built-in CUDA target"
    try:
        return f"numba-cuda {importlib.metadata.version('numba-cuda')}"
    except importlib.metadata.PackageNotFoundError:
        return f"numba.cuda ({cuda.implementation})"


def _describe_gpu() -> str:
    cuda = _cuda()
    what = f"numba {numba.__version__}, {_cuda_flavour(cuda)}"
    if _simulated():
        return (
            f"{what}: CUDA simulator (NUMBA_ENABLE_CUDASIM=1), kernels interpreted by Python "
            f"threads on the CPU; native and shared only (naive is a CPU loop)"
        )
    name = cuda.get_current_device().name
    name = name.decode() if isinstance(name, bytes) else name
    return (
        f"{what}, CUDA kernels compiled for {name}: one wave of {GPU_THREADS}-thread blocks, "
        f"{CHUNKS.gpu} samples per launch; native and shared only (naive is a CPU loop)"
    )


_NATIVE_SIGNATURE = "void(int64[::1], int64, int64, uint64)"
_SHARED_SIGNATURE = "void(int64[::1], int64, int64, uint32, uint32)"

_gpu_lock = threading.Lock()
_gpu: dict = {}


def _gpu_sources() -> dict:
    """The kernels' Python functions, with their device functions already ``cuda.jit``-ed.

    Every value has a fixed width in both CUDA's typing and the simulator's numpy scalars: indices
    and counts int64, SplitMix64 words uint64, Philox words and keys uint32, and every constant a
    typed numpy scalar (``uint64 op int64`` would be float64 in both).
    """

    @cuda.jit(device=True)
    def splitmix64_mix(z):
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
        return z ^ (z >> _S31)

    @cuda.jit(device=True)
    def philox_block(c0, c1, k0, k1):
        """Philox4x32-10 of counter (c0, c1, 0, 0); words and keys uint32.

        Each product is a 32 x 32 -> 64-bit multiply of zero-extended words whose halves are cast
        back to uint32 at once, and every xor is cast to uint32: NVVM then keeps the words in 32-bit
        registers, taking each high half from a ``mul.wide.u32`` and the low half from a separate
        ``mul.lo.s32`` (PTX and SASS counts: docs/backends/numba.md). (Words kept in uint64 lanes,
        as the CPU kernel keeps them, compiled to 64-bit multiplies.)
        """
        c2 = np.uint32(0)
        c3 = np.uint32(0)
        for _ in range(10):
            prod_a = np.uint64(c0) * _MA
            prod_b = np.uint64(c2) * _MB
            c0, c1, c2, c3 = (
                np.uint32(np.uint32(prod_b >> _S32) ^ c1 ^ k0),
                np.uint32(prod_b & _U32),
                np.uint32(np.uint32(prod_a >> _S32) ^ c3 ^ k1),
                np.uint32(prod_a & _U32),
            )
            k0 = np.uint32((np.uint64(k0) + _KA) & _U32)
            k1 = np.uint32((np.uint64(k1) + _KB) & _U32)
        return c0, c1, c2, c3

    @cuda.jit(device=True)
    def inside(x_word, y_word):
        """The exact inside test of two 32-bit words read as signed integers."""
        x = np.int64(np.int32(x_word))
        y = np.int64(np.int32(y_word))
        return x * x < _BOUND - y * y

    @cuda.jit(device=True)
    def add_block_total(partials, hits):
        """Sum ``hits`` over the block in shared memory; thread 0 adds it to the block's slot."""
        thread = cuda.threadIdx.x
        totals = cuda.shared.array(GPU_THREADS, np.int64)  # blockDim.x <= GPU_THREADS
        totals[thread] = hits
        cuda.syncthreads()
        threads = cuda.blockDim.x
        width = GPU_THREADS // 2
        while width > 0:
            if thread < width and thread + width < threads:
                totals[thread] += totals[thread + width]
            cuda.syncthreads()
            width //= 2
        if thread == 0:
            partials[cuda.blockIdx.x] += totals[0]

    def native_kernel(partials, first, last, key):
        """Hits of samples [first, last) of the SplitMix64 stream, grid-stride over samples."""
        width = np.int64(cuda.blockDim.x)
        stride = width * np.int64(cuda.gridDim.x)
        index = first + np.int64(cuda.blockIdx.x) * width + np.int64(cuda.threadIdx.x)
        state = key + np.uint64(index + 1) * _GAMMA
        step = np.uint64(stride) * _GAMMA
        hits = np.int64(0)
        while index < last:
            word = splitmix64_mix(state)
            if inside(np.uint32(word & _U32), np.uint32(word >> _S32)):
                hits += 1
            state += step
            index += stride
        add_block_total(partials, hits)

    def shared_kernel(partials, first, last, k0, k1):
        """Hits of samples [first, last) of the Philox stream, grid-stride over Philox blocks.

        Block b holds samples 2b and 2b + 1; the blocks run from first // 2 to (last + 1) // 2, so
        only the even sample of the first block and the odd one of the last can fall outside.
        """
        width = np.int64(cuda.blockDim.x)
        stride = width * np.int64(cuda.gridDim.x)
        block = first // 2 + np.int64(cuda.blockIdx.x) * width + np.int64(cuda.threadIdx.x)
        end_block = (last + 1) // 2
        hits = np.int64(0)
        while block < end_block:
            counter = np.uint64(block)
            w0, w1, w2, w3 = philox_block(np.uint32(counter & _U32), np.uint32(counter >> _S32), k0, k1)
            sample = block * 2
            if sample >= first and inside(w0, w1):
                hits += 1
            if sample + 1 < last and inside(w2, w3):
                hits += 1
            block += stride
        add_block_total(partials, hits)

    return {"native": native_kernel, "shared": shared_kernel}


_GPU_SIGNATURES = {"native": _NATIVE_SIGNATURE, "shared": _SHARED_SIGNATURE}


def _gpu_kernel(kind: str) -> tuple:
    """The compiled kernel of ``kind`` and the grid it launches with, built at its first call.

    Each kind is compiled on its own, so the first ``native`` call compiles ``native`` alone.
    """
    with _gpu_lock:
        if kind not in _gpu:
            reason = device_unavailable_reason("gpu")
            if reason is not None:
                raise BackendUnavailable("numba", "gpu", reason)
            source = _gpu_sources()[kind]  # device functions are compiled with the kernel using them
            kernel = _cuda().jit(_GPU_SIGNATURES[kind])(source)  # one signature: compiled here, once
            if _simulated():
                grid = SIMULATOR_GRID
            else:  # one full wave: as many blocks as the occupancy lets every SM hold at once
                (overload,) = kernel.overloads.values()
                grid = (overload.max_cooperative_grid_blocks(GPU_THREADS), GPU_THREADS)
            _gpu[kind] = (kernel, grid)
        return _gpu[kind]


def _gpu_count(kind: str, n: int, start: int, chunk: int | None, keys: tuple) -> int:
    """Hits among samples [start, start + n): one launch per ``chunk`` samples, one sum at the end."""
    chunk = CHUNKS.pick(chunk, kind, "gpu")
    kernel, (blocks, threads) = _gpu_kernel(kind)
    partials = _cuda().to_device(np.zeros(blocks, dtype=np.int64))
    launch = kernel[blocks, threads]
    end = start + n
    for first in range(start, end, chunk):
        launch(partials, np.int64(first), np.int64(min(first + chunk, end)), *keys)
    return int(partials.copy_to_host().sum(dtype=np.int64))  # the copy waits for the kernels


def philox_words(counters, key: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The CPU kernels' round function on raw 4-word counters (the known-answer tests)."""
    return [tuple(int(word) for word in _philox_words(*counter, *key)) for counter in counters]


_CPU_KERNELS = (_native_kernel, _shared_kernel, _shared_edge, _naive_loop)


def compile_count() -> int:
    """Signatures compiled so far: one per CPU kernel, one per GPU kernel built."""
    return sum(len(kernel.signatures) for kernel in _CPU_KERNELS) + len(_gpu)


BACKEND = Backend(
    name="numba",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    devices=("cpu", "gpu"),
    device_unavailable_reason=device_unavailable_reason,
    not_on_gpu={"naive": NAIVE_ON_GPU},
    naive_max_n=naive_max_n,
    philox_words=philox_words,
    compile_count=compile_count,
)
