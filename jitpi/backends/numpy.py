"""numpy: vectorised in fixed chunks, no JIT; the baseline every compiler must beat.

``native`` draws PCG64 uniforms per chunk from ``SeedSequence(seed, spawn_key=(chunk index,))``,
numpy's own recipe for independent streams; ``shared`` is ``jitpi.philox``'s vectorised reference;
``naive`` is the article's whole arrays, refused beyond half the memory available. One thread.

Design notes and measurements: docs/backends/numpy.md
"""

from __future__ import annotations

import numpy as np

from jitpi import philox
from jitpi.backends import available_memory_bytes, naive_limit
from jitpi.chunking import ChunkPlan
from jitpi.contract import Backend, Chunks

CHUNKS = Chunks(native=1 << 20, shared=1 << 19)
NAIVE_BYTES_PER_SAMPLE = 17


def describe(device: str) -> str:
    return f"numpy {np.__version__}, vectorised (no JIT), 1 thread"


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    hits = 0
    for index, count in ChunkPlan(start, n, CHUNKS.pick(chunk, "native")):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))
        pairs = rng.random((count, 2))  # interleaved x, y: a tail is a prefix of its full chunk
        pairs *= pairs
        hits += int(np.count_nonzero(pairs[:, 0] + pairs[:, 1] < 1.0))
    return hits


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    blocks_per_step = max(1, CHUNKS.pick(chunk, "shared") // 2)
    return philox.shared_hits_reference(n, seed, start, blocks_per_step=blocks_per_step)


def naive_max_n(device: str = "cpu") -> int:
    return naive_limit(NAIVE_BYTES_PER_SAMPLE, available_memory_bytes())


def naive(n: int, seed: int, *, device: str = "cpu") -> int:
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    y = rng.random(n)
    x *= x
    y *= y
    x += y
    del y
    return int(np.count_nonzero(x < 1.0))


BACKEND = Backend(
    name="numpy",
    describe=describe,
    kernels={"naive": naive, "native": native, "shared": shared},
    chunks=CHUNKS,
    naive_max_n=naive_max_n,
    philox_words=philox.words_numpy,
)
