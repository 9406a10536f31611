"""numba-specific properties: the kernels' own Philox words, bit-identity with the reference for any
range, independence from the thread count and the chunk, one compilation for every n, the naive
loop's exact stream, and counts past 2**31 hits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import require

import jitpi
from jitpi import philox

numba = pytest.importorskip("numba")
from jitpi.backends import numba as backend  # noqa: E402


@pytest.fixture(autouse=True)
def _numba_available():
    require("numba")


@pytest.fixture
def two_threads():
    """Run the test with 1 and then 2 threads available, restoring the count afterwards."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip(f"numba was started with NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}")
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def with_threads(count: int, function, *args, **kwargs):
    numba.set_num_threads(count)
    return function(*args, **kwargs)


@pytest.mark.parametrize(("counter", "key", "expected"), philox.KNOWN_ANSWERS)
def test_kernel_philox_words_match_random123(counter, key, expected):
    assert tuple(int(word) for word in backend.philox_words(*counter, *key)) == expected


def test_native_does_not_depend_on_chunk_or_split():
    counts = {chunk: backend.native(100_003, 9, chunk=chunk) for chunk in (1, 8, 1000, None)}
    assert len(set(counts.values())) == 1, counts
    whole = backend.native(100_003, 9)
    assert backend.native(40_000, 9) + backend.native(60_003, 9, start=40_000, chunk=40_000) == whole


@pytest.mark.parametrize("variant", ["native", "shared"])
def test_thread_count_does_not_change_hits(two_threads, variant):
    kernel = getattr(backend, variant)
    n = 10**7 + 3
    one = with_threads(1, kernel, n, 2**64 - 1)
    two = with_threads(2, kernel, n, 2**64 - 1)
    assert one == two
    assert with_threads(2, kernel, 1001, 4, chunk=8) == with_threads(1, kernel, 1001, 4, chunk=8)


def test_one_compilation_serves_every_n():
    for n in (1, 17, 10**5, 10**6 + 1):
        backend.native(n, n)
        backend.shared(n, n, start=n % 3)
        backend.naive(n, n)
    for kernel in (backend._native_kernel, backend._shared_kernel, backend._naive_loop):
        assert len(kernel.signatures) == 1, (kernel, kernel.signatures)


def test_native_streams_of_nearby_seeds_differ():
    counts = [backend.native(10_000, seed) for seed in (0, 1, 2, 2**32, 2**64 - 1)]
    assert len(set(counts)) == len(counts), counts


@pytest.mark.parametrize("seed", [0, 5, 2**32 + 5, 2**64 - 1])
def test_naive_is_the_article_loop_on_numbas_mersenne_twister(seed):
    """random.seed(s) in Numba is MT19937's init_genrand(s), as numpy's RandomState(s)."""
    n = 10_001
    draws = np.random.RandomState(seed % 2**32).random_sample(2 * n)
    x, y = draws[0::2], draws[1::2]
    assert backend.naive(n, seed) == int(np.count_nonzero(x * x + y * y < 1.0))


def test_naive_through_the_api():
    estimate = jitpi.estimate_pi(10**6, backend="numba", variant="naive", seed=3)
    assert abs(estimate.z) < 5
    assert backend.naive_max_n("cpu") == 2**40
    with pytest.raises(ValueError, match="n must be"):
        jitpi.count_hits(2**40 + 1, backend="numba", variant="naive")


def test_naive_is_refused_above_its_bound(monkeypatch):
    monkeypatch.setattr(backend, "naive_max_n", lambda device="cpu": 1000)
    assert jitpi.count_hits(1000, backend="numba", variant="naive") == backend.naive(1000, 0)
    with pytest.raises(ValueError, match="naive"):
        jitpi.count_hits(1001, backend="numba", variant="naive")


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["native", "shared"])
def test_counts_past_two_to_the_31(variant):
    """n > 2**32 gives more than 2**31 hits: no int32 anywhere in counters or sums."""
    n = 2**32 + 12_345
    hits = jitpi.count_hits(n, backend="numba", variant=variant, seed=1)
    assert hits > 2**31
    assert abs(hits - n * math.pi / 4) < 6 * math.sqrt(n * 0.1686)
    kernel = getattr(backend, variant)
    split = 2**31 + 1  # odd: the shared stream splits inside a block
    assert kernel(split, 1) + kernel(n - split, 1, start=split) == hits
    if variant == "shared":  # the reference is too slow for the whole range: check its last samples
        assert kernel(5001, 1, start=n - 5001) == philox.shared_hits_reference(5001, 1, n - 5001)


def test_gpu_is_reported_unavailable():
    reason = backend.device_unavailable_reason("gpu")
    assert reason
    assert jitpi.availability("numba", "gpu") == (False, reason)


def test_describe_names_version_and_threads():
    text = backend.describe("cpu")
    assert numba.__version__ in text and "thread" in text
