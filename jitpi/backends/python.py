"""python: the founding article's plain loop, the reference and the slowest row.

``native`` is the article's loop on a ``random.Random`` re-seeded per chunk from (seed, chunk index),
so any chunk can be counted on its own; ``shared`` is the Philox reference in Python ints, one block
at a time; ``naive`` is the article's function exactly. No arrays: O(1) memory, every n accepted.

Design notes and measurements: docs/backends/python.md
"""

from __future__ import annotations

import random
import sys

from jitpi import philox
from jitpi._validation import MAX_N
from jitpi.chunking import ChunkPlan
from jitpi.contract import Backend, Chunks

CHUNKS = Chunks(native=1 << 16, shared=1 << 16)
"""native: samples per re-seeded Mersenne Twister. shared counts block by block whatever the chunk."""


def describe(device: str) -> str:
    return f"CPython {sys.version.split()[0]}, interpreted, 1 thread"


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    return sum(
        _loop(random.Random((seed << 64) | index).random, count)
        for index, count in ChunkPlan(start, n, CHUNKS.pick(chunk, "native"))
    )


def naive_max_n(device: str = "cpu") -> int:
    return MAX_N


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    return _loop(random.Random(seed).random, n)


def _loop(uniform, count: int) -> int:
    """The founding article's loop."""
    hits = 0
    for _ in range(count):
        x = uniform()
        y = uniform()
        if x * x + y * y < 1.0:
            hits += 1
    return hits


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    CHUNKS.pick(chunk, "shared")  # checked as everywhere; a plain loop has no use for it
    key = philox.split_seed(seed)
    end = start + n
    hits = 0
    for block in range(*philox.block_range(start, n)):
        w0, w1, w2, w3 = philox.philox4x32_scalar((block & philox.MASK32, block >> 32, 0, 0), key)
        take_even, take_odd = philox.sample_masks(2 * block, start, end)
        hits += (take_even and philox.inside_scalar(w0, w1)) + (take_odd and philox.inside_scalar(w2, w3))
    return hits


BACKEND = Backend(
    name="python",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    naive_max_n=naive_max_n,
    philox_words=philox.words_scalar,
)
