"""The reference for the ``shared`` stream: Philox4x32-10 with Triton's counter layout.

Block ``b`` has counter ``(b mod 2**32, b div 2**32, 0, 0)`` and key ``(seed mod 2**32,
seed div 2**32)``, exactly what ``tl.randint4x(seed, b)`` computes for an int64 offset ``b``. It
yields sample ``2b`` (words 0 and 1) and sample ``2b + 1`` (words 2 and 3). A sample's words, read
as signed 32-bit x and y, are inside iff ``x*x + y*y < 2**62``, decided in exact integer arithmetic
as ``x*x < 2**62 - y*y`` (both sides fit in int64), so no compiler's rounding can change a count.

Two implementations live here and only here: a scalar one in Python ints (the readable reference,
used by the ``python`` backend and the known-answer tests) and a vectorised numpy one.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 10
MULTIPLIER_A = 0xD2511F53
MULTIPLIER_B = 0xCD9E8D57
KEY_INCREMENT_A = 0x9E3779B9
KEY_INCREMENT_B = 0xBB67AE85
MASK32 = 0xFFFFFFFF
INSIDE_BOUND = 2**62

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


def split_seed(seed: int) -> tuple[int, int]:
    """The Philox key words of a 64-bit seed: (low 32 bits, high 32 bits)."""
    return seed & MASK32, (seed >> 32) & MASK32


def philox4x32_scalar(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, int, int, int]:
    """Philox4x32-10 of one counter block, in Python ints (the readable reference)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(ROUNDS):
        product_a = MULTIPLIER_A * c0
        product_b = MULTIPLIER_B * c2
        c0, c1, c2, c3 = (
            (product_b >> 32) ^ c1 ^ k0,
            product_b & MASK32,
            (product_a >> 32) ^ c3 ^ k1,
            product_a & MASK32,
        )
        k0 = (k0 + KEY_INCREMENT_A) & MASK32
        k1 = (k1 + KEY_INCREMENT_B) & MASK32
    return c0, c1, c2, c3


def to_signed32(word: int) -> int:
    return word - (1 << 32) if word & 0x80000000 else word


def inside_scalar(x_word: int, y_word: int) -> bool:
    """The exact inside test on two raw 32-bit words."""
    x = to_signed32(x_word)
    y = to_signed32(y_word)
    return x * x < INSIDE_BOUND - y * y


def philox4x32(
    c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, c3: np.ndarray, k0: int, k1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Philox4x32-10 over arrays of counter words (uint32 in, uint32 out), vectorised in numpy."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    key0, key1 = k0 & MASK32, k1 & MASK32
    mask = np.uint64(MASK32)
    shift = np.uint64(32)
    for _ in range(ROUNDS):
        product_a = c0 * np.uint64(MULTIPLIER_A)
        product_b = c2 * np.uint64(MULTIPLIER_B)
        c0, c1, c2, c3 = (
            (product_b >> shift) ^ c1 ^ np.uint64(key0),
            product_b & mask,
            (product_a >> shift) ^ c3 ^ np.uint64(key1),
            product_a & mask,
        )
        key0 = (key0 + KEY_INCREMENT_A) & MASK32
        key1 = (key1 + KEY_INCREMENT_B) & MASK32
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))  # type: ignore[return-value]


def inside(x_words: np.ndarray, y_words: np.ndarray) -> np.ndarray:
    """The exact inside test on arrays of raw uint32 words, in int64."""
    x = x_words.view(np.int32).astype(np.int64)
    y = y_words.view(np.int32).astype(np.int64)
    return x * x < np.int64(INSIDE_BOUND) - y * y


def block_hits(first_block: int, n_blocks: int, seed: int, first_sample: int, end_sample: int) -> int:
    """Hits among samples [first_sample, end_sample) of blocks [first_block, first_block + n_blocks)."""
    blocks = np.arange(first_block, first_block + n_blocks, dtype=np.uint64)
    zeros = np.zeros_like(blocks, dtype=np.uint32)
    lo = (blocks & np.uint64(MASK32)).astype(np.uint32)
    hi = (blocks >> np.uint64(32)).astype(np.uint32)
    w0, w1, w2, w3 = philox4x32(lo, hi, zeros, zeros, *split_seed(seed))
    even = blocks.astype(np.int64) * 2
    hits = inside(w0, w1) & (even >= first_sample) & (even < end_sample)
    odd_hits = inside(w2, w3) & (even + 1 >= first_sample) & (even + 1 < end_sample)
    return int(np.count_nonzero(hits)) + int(np.count_nonzero(odd_hits))


def shared_hits_reference(n: int, seed: int, start: int = 0, *, blocks_per_step: int = 1 << 18) -> int:
    """Hits among samples [start, start + n) of the shared stream, in bounded memory."""
    end = start + n
    first_block, end_block = start // 2, (end + 1) // 2
    total = 0
    for block in range(first_block, end_block, blocks_per_step):
        count = min(blocks_per_step, end_block - block)
        total += block_hits(block, count, seed, start, end)
    return total
