"""tensorflow-specific properties: the shared kernel's Philox words and bit-identity with the
reference for any range and chunk, native's words (TensorFlow's own Philox at the documented
counters) and its counts against a scalar reference, one trace (one XLA compile) for every n, chunk
streams that can be counted apart, the naive variant's per-n recompiles and its memory bound, and
the GPU path."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require

import jitpi
from jitpi import philox


@pytest.fixture(scope="module")
def backend():
    require("tensorflow")
    from jitpi import registry

    registry.load("tensorflow")  # through the registry, which imports Triton first
    from jitpi.backends import tensorflow as module

    return module


@pytest.mark.parametrize(("seed", "chunk_index"), [(0, 0), (12345, 7), (2**64 - 1, 2**40 + 5)])
def test_native_words_are_philox_at_the_documented_counters(backend, seed, chunk_index):
    """TF's stateless Philox op, row b = block (b, 0, chunk index + 1) under key seed, as documented."""
    after = chunk_index + 1
    expected = [
        philox.philox4x32_scalar((block, 0, after % 2**32, after >> 32), philox.split_seed(seed))
        for block in range(6)
    ]
    assert backend.native_words(seed, chunk_index, 6) == expected


def _native_reference(n: int, seed: int, chunk: int, start: int = 0) -> int:
    """native's count in Python from the documented layout: sample 2b + h of a chunk is words 2h, 2h + 1."""
    hits = 0
    for sample in range(start, start + n):
        chunk_index, offset = divmod(sample, chunk)
        block, half = divmod(offset, 2)
        after = chunk_index + 1
        words = philox.philox4x32_scalar((block, 0, after % 2**32, after >> 32), philox.split_seed(seed))
        grid = (words[2 * half] >> 9, words[2 * half + 1] >> 9)  # the top 23 bits of x's and y's words
        x, y = (np.float32((k + 0.5) * 2.0**-23) for k in grid)  # exact: 24 significant bits
        hits += bool(x * x + y * y < np.float32(1.0))
    return hits


@pytest.mark.parametrize(
    ("n", "seed", "chunk", "start"), [(19, 11, 3, 0), (1000, 2**64 - 1, 8, 0), (999, 7, 257, 257 * 10**6)]
)
def test_native_counts_match_a_scalar_reference(backend, n, seed, chunk, start):
    """Odd and even chunks, tails and a far start all follow the documented stream, sample by sample."""
    assert backend.native(n, seed, chunk=chunk, start=start) == _native_reference(n, seed, chunk, start)


def test_one_trace_serves_every_n(backend):
    """The trip count and the tail are tensors: a new n, seed or start never retraces."""
    for n in (1, 1000, backend.CHUNKS.native + 1, 3 * backend.CHUNKS.native + 17):
        backend.native(n, n)
    for n in (1, 1001, backend.CHUNKS.shared + 1, 3 * backend.CHUNKS.shared + 17):
        backend.shared(n, n, start=n)
    assert backend.tracing_count("native") == 1
    assert backend.tracing_count("shared") == 1


def test_naive_retraces_per_n(backend):
    jitpi.count_hits(100_000, backend="tensorflow", variant="naive", seed=4)
    traces = backend._naive_run.experimental_get_tracing_count()
    jitpi.count_hits(100_001, backend="tensorflow", variant="naive", seed=4)
    # n is a static shape: a new n is a new trace and a new XLA compile, the cost this baseline shows.
    assert backend._naive_run.experimental_get_tracing_count() == traces + 1


def test_naive_refuses_n_above_its_memory_bound(backend):
    limit = backend.naive_max_n("cpu")
    assert 10**6 <= limit < 2**40
    with pytest.raises(ValueError, match=f"above {limit}"):
        jitpi.count_hits(limit + 1, backend="tensorflow", variant="naive")


def test_describe_names_xla_and_threads(backend):
    text = backend.describe("cpu")
    assert "XLA" in text and f"{backend.THREADS} intra-op threads" in text


def test_chunk_bounds_are_checked(backend):
    with pytest.raises(ValueError, match="chunk must be"):
        backend.native(10, 1, chunk=backend.CHUNKS.largest + 1)
