"""The contract every backend keeps, checked the same way for each through its typed ``BACKEND``:
the object itself, its Philox round function against Random123, one compile for every n, the one
chunk rule, exact and deterministic counts of a prefix of one stream, correct statistics, masked
tails and bounded memory."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import subprocess
import sys
import textwrap

import pytest
from conftest import backend_object, is_slow, require

import jitpi
from jitpi import philox, registry
from jitpi.contract import CHUNKED_VARIANTS, Backend
from jitpi.stats import chi2_sf, dispersion, z_score

SEEDS = (0, 1, 12345, 2**64 - 1)
SMALL_CHUNK = 3
"""A tiny odd chunk: every path runs many full chunks and a tail, and a Philox block straddles
chunk edges."""


@pytest.fixture(params=CHUNKED_VARIANTS)
def variant(request, backend) -> str:
    require(backend, variant=request.param)
    return request.param


@pytest.mark.parametrize("name", jitpi.BACKENDS)
def test_every_backend_module_exports_a_checked_backend(name):
    """Where a backend imports, its ``BACKEND`` is a ``Backend`` that keeps the contract."""
    try:
        loaded = registry.load(name)
    except jitpi.BackendUnavailable as error:
        pytest.skip(error.reason)
    assert isinstance(loaded, Backend) and loaded.name == name
    assert loaded.check() == []
    assert {"native", "shared"} <= set(loaded.variants)


def test_the_registry_names_what_a_backend_object_lacks():
    """A module whose ``BACKEND`` is missing or malformed is refused with what is wrong."""
    with pytest.raises(registry.ContractError, match=r"must be a jitpi.contract.Backend, got NoneType"):
        registry.checked(None, "toy")
    broken = Backend(
        name="toy",
        describe=str,
        kernels={"native": print, "naive": print},
        chunks=backend_object("python").chunks,
        philox_words=philox.words_scalar,
        devices=("cpu", "gpu"),
    )
    with pytest.raises(registry.ContractError) as raised:
        registry.checked(broken, "toy")
    message = str(raised.value)
    for problem in ("'native' and 'shared'", "naive_max_n", "device_unavailable_reason"):
        assert problem in message, message


def test_a_variant_the_installed_release_lacks_is_refused_with_its_reason():
    """``not_in_this_release``: an older framework release without an API a variant needs (the
    release sweep installs them) makes that variant unavailable with the reason, the others not."""
    python = backend_object("python")
    old = dataclasses.replace(python, not_in_this_release={"native": "toy 0.1 has no generator"})
    assert old.check() == []
    assert old.unavailable_reason("cpu", "native") == "toy 0.1 has no generator"
    assert old.unavailable_reason("cpu", "shared") is None
    wrong = dataclasses.replace(python, not_in_this_release={"fast": "no such variant"})
    assert any("not_in_this_release" in problem for problem in wrong.check())


def test_philox_words_match_random123_and_the_reference(backend):
    """The backend's own round function: Random123's known answers, and the reference on counters
    whose word 1 is set (blocks past 2**32) under the largest key."""
    hook = backend_object(backend).philox_words
    counters = [counter for counter, _, _ in philox.KNOWN_ANSWERS]
    for counter, key, expected in philox.KNOWN_ANSWERS:
        assert hook([counter], key) == [expected], counter
    key = (philox.MASK32, philox.MASK32)
    blocks = [0, 1, 2**32 - 1, 2**32, 2**40 - 7]
    counters = [(block & philox.MASK32, block >> 32, 0, 0) for block in blocks]
    assert hook(counters, key) == philox.words_scalar(counters, key)


def test_one_compile_serves_every_n(backend, variant):
    """After the first call, no n, seed or start compiles anything again."""
    loaded = backend_object(backend)
    if loaded.compile_count is None:
        pytest.skip(f"{backend} compiles nothing")
    kernel = loaded.kernel(variant)
    chunk = loaded.chunks.default(variant, "cpu")
    kernel(1001, 1, start=chunk if variant == "native" else 1)  # odd ends: any edge kernel compiles too
    compiled = loaded.compile_count()
    assert compiled >= 1 or registry.REGISTRY[backend].affordable_n(variant) is not None
    for n, seed in ((1, 2), (999, 3), (chunk + 1, 4), (2 * chunk + 17, 2**64 - 1)):
        kernel(n, seed, start=chunk)
    assert loaded.compile_count() == compiled


def test_chunk_is_read_the_same_way_everywhere(backend, variant):
    """None or 0 is the default; a negative chunk, a bool or a float is refused by name."""
    kernel = backend_object(backend).kernel(variant)
    default = kernel(1001, 5)
    assert kernel(1001, 5, chunk=0) == default
    assert kernel(1001, 5, chunk=None) == default
    with pytest.raises(ValueError, match="chunk must be"):
        kernel(1001, 5, chunk=-1)
    with pytest.raises(TypeError, match="chunk must be an int or None"):
        kernel(1001, 5, chunk=1.5)


def test_deterministic(backend, variant):
    first = jitpi.count_hits(10_007, backend=backend, seed=7, variant=variant)
    second = jitpi.count_hits(10_007, backend=backend, seed=7, variant=variant)
    assert first == second
    assert isinstance(first, int)
    other_seed = jitpi.count_hits(10_007, backend=backend, seed=8, variant=variant)
    assert other_seed != first or jitpi.count_hits(10_007, backend=backend, seed=9, variant=variant) != first


@pytest.mark.parametrize("n", [10**4, 10**6])
@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_z_score_within_five_sigma(backend, variant, n, seed):
    estimate = jitpi.estimate_pi(n, backend=backend, seed=seed, variant=variant)
    assert estimate.hits == jitpi.count_hits(n, backend=backend, seed=seed, variant=variant)
    assert abs(estimate.z) < 5, estimate
    # The x == y sentinel: taking both coordinates from one word gives pi_hat -> 2*sqrt(2).
    assert abs(estimate.pi - 2 * math.sqrt(2)) > 0.05, estimate


def test_dispersion_over_seeds(backend, variant):
    """Overlapping streams leave the mean unbiased but inflate the variance; sum(z**2) sees it."""
    n = 20_000 if is_slow(backend, variant) else 200_000
    z_scores = [jitpi.estimate_pi(n, backend=backend, seed=seed, variant=variant).z for seed in range(16)]
    statistic, dof = dispersion(z_scores)
    upper = chi2_sf(statistic, dof)
    assert 1e-4 < upper < 1 - 1e-4, (statistic, dof, z_scores)


def test_tails_are_prefixes(backend, variant):
    """Counts of the first n samples: adding one sample adds 0 or 1 hit, across chunk edges too."""
    chunk = backend_object(backend).chunks.default(variant, "cpu")
    sizes = sorted({1, 2, 3, 4, chunk - 1, chunk, chunk + 1, chunk + 2, 2 * chunk + 1})
    hits = {n: jitpi.count_hits(n, backend=backend, seed=3, variant=variant) for n in sizes}
    for n in sizes:
        assert 0 <= hits[n] <= n
        if n + 1 in hits:
            assert hits[n + 1] - hits[n] in (0, 1), (n, hits)
    assert hits[2 * chunk + 1] > hits[chunk + 2]


def test_small_chunk_tails(backend, variant):
    """The same prefix property with a tiny chunk, so every path runs many full chunks and a tail."""
    kernel = backend_object(backend).kernel(variant)
    counts = [kernel(n, 11, device="cpu", chunk=SMALL_CHUNK) for n in range(1, 40)]
    steps = {b - a for a, b in itertools.pairwise(counts)}
    assert steps <= {0, 1} and counts[0] in (0, 1), counts


def test_offsets_beyond_int32(backend, variant):
    """Chunks near 2**40 are counted with 64-bit offsets: no wrap onto the start of the stream."""
    loaded = backend_object(backend)
    kernel = loaded.kernel(variant)
    chunk = loaded.chunks.default(variant, "cpu")
    length = min(chunk, 4096)
    far = (2**40 - chunk) // chunk * chunk
    near_int32 = (2**31 // chunk + 1) * chunk
    counts = [kernel(length, 5, device="cpu", start=start) for start in (0, near_int32, far)]
    for count in counts:
        assert abs(count / length - math.pi / 4) < 6 * math.sqrt(0.17 / length), counts
    if variant == "shared":
        from jitpi.philox import shared_hits_reference

        assert counts == [shared_hits_reference(length, 5, start) for start in (0, near_int32, far)]


def test_split_at_chunk_edges_adds_up(backend, variant):
    """Chunk c depends on (seed, c) alone, so the counts of a split on chunk edges add up to the whole."""
    kernel = backend_object(backend).kernel(variant)
    chunk = 4096
    whole = kernel(3 * chunk + 5, 9, device="cpu", chunk=chunk)
    parts = kernel(chunk, 9, device="cpu", chunk=chunk) + kernel(
        2 * chunk + 5, 9, device="cpu", start=chunk, chunk=chunk
    )
    assert parts == whole


def test_chunk_streams_are_independent(backend, variant):
    """Chunks that reused a stream would inflate the spread of per-chunk counts; sum(z**2) sees it."""
    kernel = backend_object(backend).kernel(variant)
    chunk = 1 << 12 if is_slow(backend, variant) else 1 << 14
    z = [z_score(kernel(chunk, 3, device="cpu", start=c * chunk, chunk=chunk), chunk) for c in range(48)]
    statistic, dof = dispersion(z)
    assert 1e-4 < chi2_sf(statistic, dof) < 1 - 1e-4, z


def test_largest_n_is_accepted_and_one_more_is_not(backend, variant):
    with pytest.raises(ValueError, match="n must be"):
        jitpi.count_hits(2**40 + 1, backend=backend, variant=variant)


def test_memory_is_bounded(backend, variant):
    """Peak RSS of a run at n = 1e8 stays within 64 MiB of one at n = 1e6 (memory O(chunk))."""
    if is_slow(backend, variant):
        pytest.skip(f"{backend} ({variant}) would take minutes at n = 1e8 here")
    script = textwrap.dedent(
        f"""
        import json, resource, jitpi
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        jitpi.count_hits(10**6, backend={backend!r}, variant={variant!r})
        small = peak()
        jitpi.count_hits(10**8, backend={backend!r}, variant={variant!r})
        print(json.dumps({{"small": small, "large": peak()}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    peaks = json.loads(result.stdout.strip().splitlines()[-1])
    assert peaks["large"] - peaks["small"] < 64 * 2**20, peaks


@pytest.fixture
def naive_backend(backend) -> str:
    require(backend, variant="naive")
    return backend


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_naive_statistics(naive_backend, seed):
    """The article's whole-array approach, made to run: deterministic and unbiased."""
    n = 10**5 if is_slow(naive_backend, "naive") else 10**6
    estimate = jitpi.estimate_pi(n, backend=naive_backend, seed=seed, variant="naive")
    assert abs(estimate.z) < 5, estimate
    assert estimate.hits == jitpi.count_hits(n, backend=naive_backend, seed=seed, variant="naive")
    for tiny in (1, 2, 3):
        assert 0 <= jitpi.count_hits(tiny, backend=naive_backend, seed=seed, variant="naive") <= tiny
    other_seed = jitpi.count_hits(n, backend=naive_backend, seed=seed ^ 1, variant="naive")
    assert other_seed != estimate.hits  # the seed reaches the generator (equal with p ~ 1e-3)


def test_naive_refuses_n_beyond_its_bound(naive_backend, monkeypatch):
    loaded = backend_object(naive_backend)
    limit = loaded.naive_max_n("cpu")
    assert 1 <= limit <= 2**40
    bounded = dataclasses.replace(loaded, naive_max_n=lambda device: 1000)
    monkeypatch.setitem(registry._backends, naive_backend, bounded)
    assert 0 <= jitpi.count_hits(1000, backend=naive_backend, variant="naive") <= 1000
    with pytest.raises(ValueError, match=r"n=1001 is above 1000.*naive"):
        jitpi.count_hits(1001, backend=naive_backend, variant="naive")


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_z_score_at_1e8_where_fast(backend, variant, seed):
    if is_slow(backend, variant) or not registry.REGISTRY[backend].compiles:
        pytest.skip(f"{backend} is not fast enough on this CPU for n = 1e8 in a unit test")
    assert abs(jitpi.z_score(jitpi.count_hits(10**8, backend=backend, seed=seed, variant=variant), 10**8)) < 5


@pytest.mark.gpu
@pytest.mark.parametrize("gpu_variant", jitpi.VARIANTS)
def test_gpu_counts(gpu_variant):
    """Every backend with a GPU: deterministic, |z| < 5, and the shared stream equals the CPU's."""
    ran = False
    for name in jitpi.BACKENDS:
        if not jitpi.availability(name, "gpu", gpu_variant)[0]:
            continue
        ran = True
        n = 10**7 + 3
        hits = jitpi.count_hits(n, backend=name, variant=gpu_variant, seed=5, device="gpu")
        assert hits == jitpi.count_hits(n, backend=name, variant=gpu_variant, seed=5, device="gpu"), name
        assert abs(jitpi.z_score(hits, n)) < 5, name
        if gpu_variant == "shared":
            from jitpi.philox import shared_hits_reference

            assert hits == shared_hits_reference(n, 5), name
    if not ran:
        pytest.skip(f"no backend runs the {gpu_variant} variant on a GPU here")
