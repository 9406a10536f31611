"""numba: ``@njit(parallel=True)`` CPU kernels over fixed chunks and ``numba.cuda`` GPU kernels, with
counter-based generators that give both devices the same streams.

Numba's own ``random``/``np.random`` keep one Mersenne Twister per thread that cannot be seeded per
thread under ``prange`` (numba #4452, #8957), so the parallel variants use generators written here
that compute sample ``i`` from ``(seed, i)`` alone. Every count is then independent of the thread
count, the chunk size and the split of the work.

``native``: SplitMix64 (Steele, Lea and Flood, OOPSLA 2014; the generator of Java's
``SplittableRandom``) used as a counter-based generator. Sample ``i`` of stream ``seed`` is the
SplitMix64 output at position ``i``: ``z = key + (i + 1) * GAMMA`` (mod 2**64), then SplitMix64's
finaliser (two xor-shift-multiplies and a xor-shift). ``key`` is the finaliser applied to
``seed + GAMMA``, so neighbouring seeds start far apart on the Weyl sequence. The two 32-bit halves
of the 64-bit output, read as signed integers x and y, are the point; it is inside iff
``x*x + y*y < 2**62``, decided exactly in int64 as ``x*x < 2**62 - y*y`` (the same test as the
shared stream). SplitMix64 passes BigCrush; it is one 64-bit word per sample, so x and y never come
from the same word bits.

``shared``: Philox4x32-10 with Triton's counter layout (see ``jitpi.philox``), fused and
branch-free so that LLVM vectorises the loop over blocks: words live in uint64 lanes holding 32-bit
values and are masked only where they enter a multiply (one ``vpmuludq`` per product), and the exact
inside test squares each sign-extended word with one ``vpmuldq``. A run-time zero xored into the y
words stops LLVM from folding that sign extension into a 64-bit multiply (``vpmullq``); with it the
kernel measured 650 M samples per CPU-second here, against 500 without (and 700 for hand-written
AVX2 intrinsics in C). On an AVX-512 machine ``NUMBA_CPU_NAME=haswell`` (host features kept) drops
LLVM's 256-bit preference and measured about 1,000 M per CPU-second; that is a process-wide Numba
setting, so it is left to the user. Bit-identical to ``jitpi.philox.shared_hits_reference``.

``naive``: the founding article's loop made to run: a serial ``@njit`` loop of ``random.random()``
pairs with Numba's own Mersenne Twister, seeded inside the compiled function with
``random.seed(seed % 2**32)`` (MT19937's ``init_genrand`` takes a 32-bit seed; seeds that differ by
a multiple of 2**32 give the same naive stream). Numba keeps separate generators for ``random`` and
``np.random``, so ``np.random.seed`` would leave ``random.random()`` unseeded; ``random.seed(s)``
makes the stream exactly ``np.random.RandomState(s).random_sample()``, x then y (a test checks it).
A plain loop holds no arrays, so it needs O(1) memory and ``naive_max_n`` is the contract's bound,
2**40 (about 6 hours at the article's speed).

``device="gpu"``: ``native`` and ``shared`` as ``numba.cuda`` kernels computing the same streams, so
a GPU count equals the CPU count of the same (n, seed, start), and the shared one equals
``jitpi.philox.shared_hits_reference``: the cross-check between devices. Why they look as they do:

- A grid-stride loop, over samples (native) or Philox blocks (shared), in one full wave of
  256-thread blocks: as many as the compiled kernel's occupancy lets every SM hold at once
  (``max_cooperative_grid_blocks``), so no SM idles behind a partial second wave. No sample is
  stored: each thread counts its hits in int64, the block sums them in shared memory (a tree, no
  warp shuffles, which the simulator lacks) and thread 0 adds the sum to the block's slot of an
  int64 array. Memory is O(blocks), the counts exact far beyond 2**40, and no atomics are needed.
- The host launches once per ``GPU_CHUNK`` (2**32) samples, passing the launch's sample range as
  int64 ``first`` and ``last``; native indexes samples directly, and shared masks the even sample of
  its first Philox block and the odd one of its last, so any ``start`` and ``chunk`` give the same
  count. The host sums the slots after ``copy_to_host``, which waits for the kernels: timing a call
  times the work. ``chunk`` reads as on the CPU: None or 0 means the default (``GPU_CHUNK``), any
  other value must be a positive integer.
- One explicit signature per kernel, each compiled at the first GPU call of its own variant (a
  process that runs only ``native`` never compiles ``shared``, so timing a first call times one
  compilation), then the same kernel for every n, start and chunk.
- Exact arithmetic: SplitMix64 in uint64 (PTX ``mul.lo``/``add`` wrap modulo 2**64, as the CPU's
  do); Philox words in uint32, each product a uint64 of zero-extended words split back at once, so
  no ``libdevice.umulhi`` is needed (the simulator has no libdevice); the inside test is the CPU's,
  in int64. No signed value can overflow: squares are at most 2**62 and indices below 2**41.
  Compiled for sm_90 here without a GPU (NVVM and ptxas of CUDA 13.0, with numba's built-in target
  and with numba-cuda 0.30): native uses 32 registers and 42-48 SASS instructions a sample, shared
  40 registers and 97 instructions a Philox block (two samples). In shared's PTX (built-in
  target) the high halves come from 18 ``mul.wide.u32`` (rounds 2-10; round 1's product of the
  zero word folds away and its other product is a ``mul.lo.s64`` of the masked counter), but NVVM
  recomputes the low halves with 18 separate ``mul.lo.s32`` on the same operands instead of taking
  them from the wide products (of the PTX's 21 ``mul.lo.s32``, the other three are round 1's low
  half, strength-reduced across the loop, and index arithmetic). ptxas could fuse each pair; this
  one did not: the loop's SASS has 19 ``IMAD.WIDE.U32`` and 19 ``IMAD`` by the Philox
  multipliers, two multiplies a product. (Words kept in uint64 lanes, as on the CPU, gave 64-bit
  multiplies.)
- ``numba.cuda`` is imported on the first GPU question, not with this module: it costs 50 ms with
  numba's built-in target and about 0.5 s with NVIDIA's numba-cuda package (which replaces
  ``numba.cuda`` where it is installed, as on the GPU machines). Under
  ``NUMBA_ENABLE_CUDASIM=1`` (read when numba is first imported) the same kernels run in Numba's
  CUDA simulator, on Python threads, with two blocks of 32 threads; the tests check them there.
- ``naive`` is a serial loop on one Mersenne Twister: it has no GPU form, and
  ``variant_unavailable_reason`` says so to ``jitpi.availability(..., variant="naive")``.

Threads: numba's own setting (all cores by default; ``numba.set_num_threads`` changes it), or
``JITPI_THREADS`` when set. Every CPU kernel is compiled on its first call (no ``cache=True``, so
compile time stays measurable) and always called with the same argument types, so one compilation
serves every n. All arithmetic on unsigned words uses ``np.uint64`` constants: in Numba
``int64 + uint64`` is typed float64.
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
# Counter-based generators, inlined into the kernels.


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
        ``mul.lo.s32`` (see the module docstring). (Words kept in uint64 lanes, as the CPU kernel
        keeps them, compiled to 64-bit multiplies.)
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
