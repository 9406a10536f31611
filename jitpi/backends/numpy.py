"""numpy: vectorised in fixed chunks, no JIT; the baseline every compiler must beat.

``native`` draws float64 uniforms from a ``numpy.random.Generator`` (PCG64) per chunk, seeded by
``SeedSequence(seed, spawn_key=(chunk index,))``: numpy's own recipe for independent streams.
NumPy runs this single-threaded.
"""

from __future__ import annotations

import numpy as np

from jitpi import philox
from jitpi.backends import NO_GPU
from jitpi.chunking import ChunkPlan

CHUNK = 1 << 20
SHARED_CHUNK = 1 << 19


def device_unavailable_reason(device: str) -> str | None:
    return None if device == "cpu" else NO_GPU


def describe(device: str) -> str:
    return f"numpy {np.__version__}, vectorised (no JIT), 1 thread"


def native(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    hits = 0
    for index, count in ChunkPlan(start, n, chunk or CHUNK):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))
        pairs = rng.random((count, 2))  # interleaved x, y: a tail is a prefix of its full chunk
        pairs *= pairs
        hits += int(np.count_nonzero(pairs[:, 0] + pairs[:, 1] < 1.0))
    return hits


def shared(n: int, seed: int, *, device: str = "cpu", start: int = 0, chunk: int | None = None) -> int:
    blocks_per_step = max(1, (chunk or SHARED_CHUNK) // 2)
    return philox.shared_hits_reference(n, seed, start, blocks_per_step=blocks_per_step)
