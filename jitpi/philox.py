"""The reference for the ``shared`` stream: Philox4x32-10 with Triton's counter layout.

Block ``b`` has counter ``(b mod 2**32, b div 2**32, 0, 0)`` and key ``(seed mod 2**32,
seed div 2**32)``, exactly what ``tl.randint4x(seed, b)`` computes for an int64 offset ``b``. It
yields sample ``2b`` (words 0 and 1) and sample ``2b + 1`` (words 2 and 3). A sample's words, read
as signed 32-bit x and y, are inside iff ``x*x + y*y < 2**62``, decided in exact integer arithmetic
as ``x*x < 2**62 - y*y`` (both sides fit in int64), so no compiler's rounding can change a count.

The pieces every framework's shared kernel is made of live here once, parametrised by the ops that
differ per framework: the round function (``rounds``), the block range of a sample range and the
masks of its edge blocks (``block_range``, ``sample_masks``), the exact inside test
(``inside_test``), and for the native variants the unit-midpoint mapping of a word to a float and
SplitMix64. The scalar reference (Python ints) and the vectorised numpy one are built from them.
"""

from __future__ import annotations

import operator

try:  # the scalar reference is pure Python, so a PyPy worker without numpy can load this file
    import numpy as np
except ImportError:  # pragma: no cover - CPython always has numpy here
    np = None

ROUNDS = 10
MULTIPLIER_A = 0xD2511F53
MULTIPLIER_B = 0xCD9E8D57
KEY_INCREMENT_A = 0x9E3779B9
KEY_INCREMENT_B = 0xBB67AE85
MASK32 = 0xFFFFFFFF
MASK64 = (1 << 64) - 1
INSIDE_BOUND = 2**62

SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
SPLITMIX_MUL1 = 0xBF58476D1CE4E5B9
SPLITMIX_MUL2 = 0x94D049BB133111EB

KNOWN_ANSWERS = (
    # (counter words, key words, output words): Random123's kat_vectors, "philox4x32 10".
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    (
        (MASK32, MASK32, MASK32, MASK32),
        (MASK32, MASK32),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
)


REFERENCE_HITS = {
    # (n, seed): hits of the shared stream, counted by the pure-Python reference (tests/test_shared.py
    # recounts them): a check that needs no framework, not even numpy, to be right.
    (10**5, 0): 78_602,
    (10**6, 0): 785_850,
}


def split_seed(seed: int) -> tuple[int, int]:
    """The Philox key words of a 64-bit seed: (low 32 bits, high 32 bits)."""
    return seed & MASK32, (seed >> 32) & MASK32


def _masked_add(key, increment: int):
    return (key + increment) & MASK32


def rounds(c0, c1, c2, c3, k0, k1, *, mulhilo, bump_key=_masked_add, xor=operator.xor):
    """Philox4x32-10's ten rounds in any framework's ops: the one copy of the round logic.

    What differs per framework is passed in: ``mulhilo(word, multiplier) -> (high, low)``, the
    32 x 32 -> 64-bit product's halves as words; ``bump_key(key, increment)``, the key schedule's
    add modulo 2**32 (default: a masked add, for Python ints and words held in wider integers);
    ``xor``. Python loops unroll under every tracer (jax, TensorFlow, torch.compile, tinygrad).
    """
    for _ in range(ROUNDS):
        high_b, low_b = mulhilo(c2, MULTIPLIER_B)
        high_a, low_a = mulhilo(c0, MULTIPLIER_A)
        c0, c1, c2, c3 = xor(xor(high_b, c1), k0), low_b, xor(xor(high_a, c3), k1), low_a
        k0 = bump_key(k0, KEY_INCREMENT_A)
        k1 = bump_key(k1, KEY_INCREMENT_B)
    return c0, c1, c2, c3


def inside_test(x_words, y_words, *, to_signed):
    """The exact inside test on words read as signed 32-bit integers (``to_signed``: to int64).

    ``x*x + y*y < 2**62`` is decided as ``x*x < 2**62 - y*y``: both sides fit in int64.
    """
    x = to_signed(x_words)
    y = to_signed(y_words)
    return x * x < INSIDE_BOUND - y * y


UNIT_SHIFT = 9
UNIT_EXPONENT = 0x3F800000
UNIT_OFFSET = 1.0 - 2.0**-24


def unit_midpoint(words, *, bitcast_float32, shift=operator.rshift, bitwise_or=operator.or_):
    """uint32 words -> float32 in (0, 1): the top 23 bits k give (k + 1/2) * 2**-23, exactly.

    Never 0 or 1, and no bias from the float grid; used by the native variants that draw raw words.
    """
    return bitcast_float32(bitwise_or(shift(words, UNIT_SHIFT), UNIT_EXPONENT)) - UNIT_OFFSET


def splitmix64(value: int) -> int:
    """SplitMix64's output for state ``value``: a bijection on 64-bit ints that spreads every bit
    (Steele, Lea and Flood, OOPSLA 2014), in Python ints."""
    value = (value + SPLITMIX_GAMMA) & MASK64
    value = ((value ^ (value >> 30)) * SPLITMIX_MUL1) & MASK64
    value = ((value ^ (value >> 27)) * SPLITMIX_MUL2) & MASK64
    return value ^ (value >> 31)


def _scalar_mulhilo(word: int, multiplier: int) -> tuple[int, int]:
    product = word * multiplier
    return product >> 32, product & MASK32


def philox4x32_scalar(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, int, int, int]:
    """Philox4x32-10 of one counter block, in Python ints (the readable reference)."""
    return rounds(*counter, *key, mulhilo=_scalar_mulhilo)


def words_scalar(counters, key: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The reference words for each counter: the ``philox_words`` hook of backends without kernels."""
    return [philox4x32_scalar(tuple(counter), key) for counter in counters]


def to_signed32(word: int) -> int:
    return word - (1 << 32) if word & 0x80000000 else word


def inside_scalar(x_word: int, y_word: int) -> bool:
    """The exact inside test on two raw 32-bit words."""
    return inside_test(x_word, y_word, to_signed=to_signed32)


def _numpy_mulhilo(words: np.ndarray, multiplier: int) -> tuple[np.ndarray, np.ndarray]:
    product = words * np.uint64(multiplier)
    return product >> np.uint64(32), product & np.uint64(MASK32)


def _numpy_bump(key: np.uint64, increment: int) -> np.uint64:
    return (key + np.uint64(increment)) & np.uint64(MASK32)


def philox4x32(
    c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, c3: np.ndarray, k0: int, k1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Philox4x32-10 over arrays of counter words (uint32 in, uint32 out), vectorised in numpy."""
    words = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    keys = np.uint64(k0 & MASK32), np.uint64(k1 & MASK32)
    out = rounds(*words, *keys, mulhilo=_numpy_mulhilo, bump_key=_numpy_bump)
    return tuple(c.astype(np.uint32) for c in out)  # type: ignore[return-value]


def words_numpy(counters, key: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """``philox4x32`` on a list of 4-word counters: the ``philox_words`` hook of the numpy backend."""
    columns = np.asarray(counters, dtype=np.uint32).reshape(-1, 4).T
    out = np.stack(philox4x32(*columns, *key), axis=1)
    return [tuple(int(word) for word in row) for row in out]


def _numpy_signed(words: np.ndarray) -> np.ndarray:
    return words.view(np.int32).astype(np.int64)


def inside(x_words: np.ndarray, y_words: np.ndarray) -> np.ndarray:
    """The exact inside test on arrays of raw uint32 words, in int64."""
    return inside_test(x_words, y_words, to_signed=_numpy_signed)


def block_range(start: int, n: int) -> tuple[int, int]:
    """[first_block, end_block): the Philox blocks that hold samples [start, start + n)."""
    return start // 2, (start + n + 1) // 2


def sample_masks(even, start, end):
    """Which of a block's two samples (``even`` = 2 * block, and ``even + 1``) lie in [start, end):
    only the first block of a range may lose its even sample, and only the last its odd one."""
    return (even >= start) & (even < end), (even + 1 >= start) & (even + 1 < end)


def block_hits(first_block: int, n_blocks: int, seed: int, first_sample: int, end_sample: int) -> int:
    """Hits among samples [first_sample, end_sample) of blocks [first_block, first_block + n_blocks)."""
    blocks = np.arange(first_block, first_block + n_blocks, dtype=np.uint64)
    zeros = np.zeros_like(blocks, dtype=np.uint32)
    lo = (blocks & np.uint64(MASK32)).astype(np.uint32)
    hi = (blocks >> np.uint64(32)).astype(np.uint32)
    w0, w1, w2, w3 = philox4x32(lo, hi, zeros, zeros, *split_seed(seed))
    take_even, take_odd = sample_masks(blocks.astype(np.int64) * 2, first_sample, end_sample)
    hits = inside(w0, w1) & take_even
    odd_hits = inside(w2, w3) & take_odd
    return int(np.count_nonzero(hits)) + int(np.count_nonzero(odd_hits))


def shared_hits_reference(n: int, seed: int, start: int = 0, *, blocks_per_step: int = 1 << 18) -> int:
    """Hits among samples [start, start + n) of the shared stream, in bounded memory."""
    end = start + n
    first_block, end_block = block_range(start, n)
    total = 0
    for block in range(first_block, end_block, blocks_per_step):
        count = min(blocks_per_step, end_block - block)
        total += block_hits(block, count, seed, start, end)
    return total
