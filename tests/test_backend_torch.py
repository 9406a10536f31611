"""torch-specific properties: the compiled Philox words and bit-identity with the reference for any
range and chunk, one compiled graph for every n, the caller's RNG left as it was, chunk streams that
can be counted apart, the naive variant and its memory bound, and the GPU path."""

from __future__ import annotations

import pytest
from conftest import require

import jitpi


@pytest.fixture(scope="module")
def backend():
    require("torch")
    from jitpi import registry

    registry.load("torch")
    from jitpi.backends import torch as module

    return module


@pytest.fixture(scope="module")
def torch(backend):
    import torch

    return torch


def test_one_graph_serves_every_n(backend):
    """The tail limit and the block offsets are tensors: a new n, seed or start compiles nothing."""
    backend.native(1, 1)
    backend.shared(1, 1)
    graphs = backend.compile_count()
    for n in (1000, backend.CHUNKS.native + 1, 2 * backend.CHUNKS.native + 17):
        backend.native(n, n)
    for n in (1001, backend.CHUNKS.shared + 1, 2 * backend.CHUNKS.shared + 17):
        backend.shared(n, n, start=n)
    assert backend.compile_count() == graphs


@pytest.mark.parametrize("variant", ["native", "shared", "naive"])
def test_callers_rng_state_is_left_alone(torch, variant):
    torch.manual_seed(1234)
    expected = torch.rand(5)
    torch.manual_seed(1234)
    jitpi.count_hits(10_007, backend="torch", variant=variant, seed=3)
    assert torch.equal(torch.rand(5), expected)


def test_native_is_deterministic_under_compiled_rng(backend):
    """Inductor's rand is keyed by the tensors the kernel is given: the same seed, the same count."""
    counts = [backend.native(3 * 4096 + 5, seed, chunk=4096) for seed in (9, 10, 11, 12)]
    assert backend.native(3 * 4096 + 5, 9, chunk=4096) == counts[0]
    assert len(set(counts)) > 1, counts


def test_chunk_keys_are_distinct_within_a_run():
    """Two draws per chunk, each with its own key; on the CPU only the low 32 bits count, and they differ."""
    from jitpi.backends.torch import chunk_keys

    for seed in (0, 1, 2**63, 2**64 - 1):
        low = {key & 0xFFFFFFFF for index in range(1 << 14) for key in chunk_keys(seed, index)}
        assert len(low) == 2 << 14
    # The largest index the contract allows (2**40 samples in chunks of one) still fits an int64.
    assert all(0 <= key < 2**63 for seed in (0, 2**64 - 1) for key in chunk_keys(seed, 2**40))


def test_cpu_rng_keeps_32_key_bits(backend, torch):
    """Why native caps a CPU run at 2**31 chunks: keys equal modulo 2**32 draw the same numbers.

    If a torch release keeps all 64 bits, this fails, and the cap can go.
    """
    run = backend._function("native", 4096, torch.device("cpu"))
    cpu = torch.device("cpu")
    limit = backend._scalar(4096, cpu)

    def count(base: int, index: int = 0) -> int:
        return int(run(backend._scalar(base, cpu), backend._scalar(index, cpu), limit))

    assert count(5) == count(5 + 2**32) == count(3, 1) != count(7)


@pytest.mark.parametrize(
    ("config", "setting"),
    [("_inductor", "fallback_random"), ("_dynamo", "disable"), ("_dynamo", "suppress_errors")],
)
def test_native_refuses_settings_that_would_run_its_rng_eagerly(backend, torch, config, setting):
    """Eager ``prims.inductor_random`` is ``torch.rand``, which ignores the key: random counts."""
    with getattr(torch, config).config.patch(**{setting: True}), pytest.raises(RuntimeError, match=setting):
        backend.native(10, 1)


@pytest.mark.parametrize("stance", ["force_eager", "eager_on_recompile"])
def test_native_refuses_a_compile_stance_that_runs_eagerly(backend, torch, stance):
    with torch.compiler.set_stance(stance), pytest.raises(RuntimeError, match=stance):
        backend.native(10, 1)
    assert backend.native(10, 1) == backend.native(10, 1)  # the default stance is back


def test_native_refuses_more_cpu_chunks_than_its_keys_tell_apart(backend):
    with pytest.raises(ValueError, match="at most 2147483648 chunks"):
        backend.native(backend.MAX_CPU_CHUNKS + 1, 1, chunk=1)
    with pytest.raises(ValueError, match="larger chunk"):
        backend.native(1, 1, start=backend.MAX_CPU_CHUNKS * 8, chunk=8)


def test_naive_refuses_n_above_its_memory_bound(backend):
    limit = backend.naive_max_n("cpu")
    assert 10**6 <= limit < 2**40
    with pytest.raises(ValueError, match=f"above {limit}"):
        jitpi.count_hits(limit + 1, backend="torch", variant="naive")


def test_describe_names_inductor_and_threads(backend, torch):
    text = backend.describe("cpu")
    assert "Inductor" in text and f"{torch.get_num_threads()} threads" in text


def test_chunk_bounds_are_checked(backend):
    with pytest.raises(ValueError, match="chunk must be"):
        backend.native(10, 1, chunk=backend.CHUNKS.largest + 1)


def test_native_is_thread_safe():
    """Concurrent calls share compiled kernels; each must still count its own stream."""
    from concurrent.futures import ThreadPoolExecutor

    from jitpi.backends import torch as backend

    def count(seed: int) -> int:
        return backend.native(200 * 1024 + 5, seed, chunk=1024)

    expected = {seed: count(seed) for seed in range(8)}
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            assert dict(zip(expected, pool.map(count, expected), strict=True)) == expected
