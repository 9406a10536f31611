"""One stream for every compiler: the ``shared`` variant's hits are one integer per (n, seed, start),
whatever the backend, the chunk size or the split of the work, equal to the Philox reference."""

from __future__ import annotations

import pytest
from conftest import backend_object, is_slow, require

import jitpi
from jitpi import philox, registry
from jitpi.chunking import split_range

SIZES = (1, 2, 3, 4, 1000, 2**20 + 1, 10**6)
SEEDS = (0, 1, 2**32, 2**64 - 1)
FAR_STARTS = (1, 7, 2**31 - 3, 2**33 - 1001, 3 * 2**32 + 5, 2**40 - 4097)


@pytest.fixture
def shared_backend(backend) -> str:
    require(backend, variant="shared")
    return backend


@pytest.fixture(scope="module")
def reference() -> dict[tuple[int, int], int]:
    return {(n, seed): philox.shared_hits_reference(n, seed) for n in SIZES for seed in SEEDS}


@pytest.mark.parametrize("seed", SEEDS)
def test_identical_hits_across_backends(shared_backend, seed, reference):
    bound = registry.REGISTRY[shared_backend].affordable_n("shared")
    sizes = [n for n in SIZES if bound is None or n <= bound // 100]  # a pure-Python Philox: ~0.3 M/s
    for n in sizes:
        hits = jitpi.count_hits(n, backend=shared_backend, seed=seed, variant="shared")
        assert hits == reference[n, seed], n


@pytest.mark.parametrize("start", FAR_STARTS)
def test_sub_ranges_and_block_counters_past_two_to_the_32(shared_backend, start):
    """Odd starts, and ranges whose block counter crosses 2**32 (counter word 1 changes)."""
    kernel = backend_object(shared_backend).kernel("shared")
    for seed in (0, 2**64 - 1):
        expected = philox.shared_hits_reference(3001, seed, start)
        assert kernel(3001, seed, start=start) == expected
        assert kernel(3001, seed, start=start, chunk=1002) == expected


def test_chunk_size_and_split_change_nothing(shared_backend):
    kernel = backend_object(shared_backend).kernel("shared")
    n, seed, start = (20_003 if is_slow(shared_backend, "shared") else 100_003), 2**64 - 1, 5
    expected = philox.shared_hits_reference(n, seed, start)
    for chunk in (1002, 4097, None):
        assert kernel(n, seed, start=start, chunk=chunk) == expected, chunk
    pieces = split_range(n, 7, align=1)
    assert sum(kernel(count, seed, start=start + first) for first, count in pieces) == expected


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_fast_backends_agree_at_larger_n(seed):
    """Beyond what the reference does quickly: the compiled backends against each other."""
    counts = {}
    for backend in jitpi.BACKENDS:
        compiled = registry.REGISTRY[backend].compiles
        if compiled and jitpi.availability(backend, "cpu", "shared")[0] and not is_slow(backend, "shared"):
            counts[backend] = jitpi.count_hits(2**26 + 3, backend=backend, seed=seed, variant="shared")
    if len(counts) < 2:
        pytest.skip("needs two compiled backends")
    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize(("n", "seed"), sorted(philox.REFERENCE_HITS))
def test_recorded_reference_counts_are_the_references(n, seed, reference):
    """The counts the asv suite checks every environment against, recounted by the pure-Python
    reference (10**6 is one of SIZES, so the module's reference already holds it)."""
    counted = reference.get((n, seed)) or philox.shared_hits_reference(n, seed)
    assert philox.REFERENCE_HITS[n, seed] == counted
