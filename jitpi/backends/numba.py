"""numba: ``@njit(parallel=True)`` kernels over fixed chunks, with counter-based generators.

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

Threads: numba's own setting (all cores by default; ``numba.set_num_threads`` changes it), or
``JITPI_THREADS`` when set. Every kernel is compiled on its first call (no ``cache=True``, so
compile time stays measurable) and always called with the same argument types, so one compilation
serves every n. All arithmetic on unsigned words uses ``np.uint64`` constants: in Numba
``int64 + uint64`` is typed float64.
"""

from __future__ import annotations

import os
import random

import numba
import numpy as np
from numba import njit, prange

from jitpi import philox
from jitpi.backends import NO_GPU, cpu_threads

CHUNK = 1 << 20
"""Samples per prange iteration of ``native``: large enough to amortise scheduling."""

SHARED_CHUNK = 1 << 20
"""Samples per prange iteration of ``shared`` (a multiple of 2: whole Philox blocks)."""

SMALLEST_CHUNK = 2

NAIVE_MAX_N = 2**40
"""The naive loop keeps no arrays: it accepts every n of the contract."""

_U32 = np.uint64(0xFFFFFFFF)
_SIGN = np.uint64(0x80000000)
_HALF = np.int64(0x80000000)
_BOUND = np.int64(philox.INSIDE_BOUND)
_S32 = np.uint64(32)
_ZERO = np.uint64(0)

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
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
    return None if device == "cpu" else NO_GPU


def describe(device: str) -> str:
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
def philox_words(c0, c1, c2, c3, k0, k1):
    """Raw Philox4x32-10 words of one block, from the kernel's own round function (for tests)."""
    key0, key1 = np.uint64(k0) & _U32, np.uint64(k1) & _U32
    w0, w1, w2, w3 = _philox(np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3), key0, key1)
    return w0 & _U32, w1 & _U32, w2 & _U32, w3 & _U32


# ---------------------------------------------------------------------------------------------
# native: SplitMix64 by position.


def native_key(seed: int) -> np.uint64:
    """The SplitMix64 state offset of stream ``seed``: the finaliser of ``seed + GAMMA``."""
    z = (seed + int(_GAMMA)) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * int(_MIX1)) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * int(_MIX2)) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(z ^ (z >> 31))


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
    _threads()
    return int(_native_kernel(np.int64(start), np.int64(n), native_key(seed), np.int64(chunk or CHUNK)))


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
    _threads()
    k0, k1 = (np.uint64(word) for word in philox.split_seed(seed))
    end = start + n
    first_block, end_block = start // 2, end // 2  # blocks whose two samples are both in range
    hits = 0
    if start % 2:  # the first block contributes only its odd sample
        hits += int(_shared_edge(np.int64(first_block), k0, k1, False, True))
        first_block += 1
    if end % 2 and end // 2 >= first_block:  # the last block contributes only its even sample
        hits += int(_shared_edge(np.int64(end // 2), k0, k1, True, False))
    if end_block > first_block:
        blocks_per_chunk = max(1, (chunk or SHARED_CHUNK) // 2)
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
    return int(_naive_loop(np.int64(n), np.int64(seed % 2**32)))
