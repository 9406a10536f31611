"""The shared pieces: statistics, the Philox reference, chunk arithmetic and the decorators."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

import jitpi
from jitpi import philox
from jitpi.chunking import ChunkPlan, pick_chunk, split_range
from jitpi.stats import chi2_sf, dispersion, rms, standard_error, z_score


def test_standard_error_matches_design_table():
    for n, expected in [(10**6, 1.6422e-3), (10**8, 1.6422e-4), (10**12, 1.6422e-6)]:
        assert standard_error(n) == pytest.approx(expected, rel=1e-4)
    assert z_score(785_398, 10**6) == pytest.approx((4 * 0.785398 - math.pi) / 1.6422e-3, rel=1e-3)


@pytest.mark.parametrize(
    ("statistic", "dof", "upper"),
    # Reference upper tails: scipy.stats.chi2.sf, and the 5% and 95% table points.
    [
        (16.0, 16, 0.4529608),
        (26.296, 16, 0.05),
        (32.0, 16, 0.0099998),
        (3.325, 9, 0.95),
        (100.0, 16, 3.464e-14),
    ],
)
def test_chi2_upper_tail(statistic, dof, upper):
    assert chi2_sf(statistic, dof) == pytest.approx(upper, rel=2e-3, abs=1e-15)


def test_dispersion_catches_overlapping_streams():
    rng = np.random.default_rng(1)
    independent = rng.standard_normal(16)
    assert chi2_sf(*dispersion(independent)) > 1e-3
    # Four chunks that reuse one key: variance four times too large.
    inflated = 2.0 * rng.standard_normal(16)
    assert chi2_sf(*dispersion(inflated)) < 1e-3
    assert rms([1.0, -1.0, 1.0, -1.0]) == 1.0


@pytest.mark.parametrize(("counter", "key", "expected"), philox.KNOWN_ANSWERS)
def test_philox_known_answers(counter, key, expected):
    assert philox.philox4x32_scalar(counter, key) == expected
    words = philox.philox4x32(*(np.array([c], dtype=np.uint32) for c in counter), *key)
    assert tuple(int(w[0]) for w in words) == expected


def test_exact_inside_test_at_the_corners():
    most_negative = 0x80000000  # -2**31: x*x = 2**62 exactly, which is outside
    assert not philox.inside_scalar(most_negative, 0)
    assert philox.inside_scalar(0x7FFFFFFF, 0)
    assert philox.inside_scalar(0, 0)
    words = np.array([most_negative, 0x7FFFFFFF, 0, most_negative], dtype=np.uint32)
    assert philox.inside(words, np.zeros(4, dtype=np.uint32)).tolist() == [False, True, True, False]
    assert not philox.inside(np.array([most_negative], np.uint32), np.array([most_negative], np.uint32))[0]


def test_shared_reference_is_additive_over_any_split():
    n, seed = 10_001, 2**64 - 1
    whole = philox.shared_hits_reference(n, seed)
    for parts in (2, 3, 7):
        for align in (1, 2, 64):
            pieces = split_range(n, parts, align=align)
            assert sum(count for _, count in pieces) == n
            assert sum(philox.shared_hits_reference(count, seed, start) for start, count in pieces) == whole
    scalar = sum(
        philox.inside_scalar(*words)
        for block in range(50)
        for words in _pairs(philox.philox4x32_scalar((block, 0, 0, 0), philox.split_seed(seed)))
    )
    assert philox.shared_hits_reference(100, seed) == scalar


def _pairs(words):
    return (words[0], words[1]), (words[2], words[3])


def test_chunk_plan():
    plan = ChunkPlan(start=30, n=25, chunk=10)
    assert list(plan) == [(3, 10), (4, 10), (5, 5)]
    assert (plan.first_chunk, plan.full_chunks, plan.tail, plan.tail_chunk) == (3, 2, 5, 5)
    assert list(ChunkPlan(0, 20, 10)) == [(0, 10), (1, 10)]
    with pytest.raises(ValueError, match="multiple of chunk"):
        ChunkPlan(start=5, n=10, chunk=10)
    with pytest.raises(ValueError, match="chunk"):
        ChunkPlan(start=0, n=10, chunk=0)
    assert split_range(10, 3) == [(0, 4), (4, 4), (8, 2)]
    assert split_range(10, 4, align=4) == [(0, 4), (4, 4), (8, 2)]


def test_bench_time_logs_and_returns_unchanged(caplog):
    @jitpi.bench_time
    def monte_carlo_pi(ln):
        return 4.0 * jitpi.count_hits(ln, backend="numpy") / ln

    with caplog.at_level(logging.INFO, logger="jitpi"):
        value = monte_carlo_pi(1000)
    assert value == 4.0 * jitpi.count_hits(1000, backend="numpy") / 1000
    assert "monte_carlo_pi" in caplog.text and "wall time" in caplog.text
    assert monte_carlo_pi.last_seconds > 0
    assert monte_carlo_pi.__name__ == "monte_carlo_pi"


def test_bench_accuracy_on_float_and_estimate(caplog):
    @jitpi.bench_accuracy
    @jitpi.bench_time
    def monte_carlo_pi(ln):
        return 4.0 * jitpi.count_hits(ln, backend="numpy", seed=3) / ln

    @jitpi.bench_time
    @jitpi.bench_accuracy
    def estimate(n):
        return jitpi.estimate_pi(n, backend="numpy", seed=3)

    with caplog.at_level(logging.INFO, logger="jitpi"):
        value = monte_carlo_pi(10_000)
        result = estimate(10_000)
    assert isinstance(result, jitpi.Estimate) and result.pi == value
    for accuracy in (monte_carlo_pi.last_accuracy, estimate.__wrapped__.last_accuracy):
        assert accuracy["z"] == pytest.approx(result.z)
        assert accuracy["abs_error"] == pytest.approx(result.abs_error)
        assert accuracy["n"] == 10_000
    assert caplog.text.count("sigma") == 2 and "wall time" in caplog.text


def test_bench_accuracy_with_named_or_unknown_n(caplog):
    @jitpi.bench_accuracy(n_arg="samples")
    def named(scale, samples):
        return 3.14

    @jitpi.bench_accuracy
    def unknown():
        return 3.14

    with caplog.at_level(logging.INFO, logger="jitpi"):
        named(2.0, samples=100)
        unknown()
    assert named.last_accuracy["n"] == 100
    assert named.last_accuracy["z"] == pytest.approx((3.14 - math.pi) / standard_error(100))
    assert math.isnan(unknown.last_accuracy["z"]) and "z unknown" in caplog.text

    @jitpi.bench_accuracy
    def not_a_number(n):
        return "pi"

    with pytest.raises(TypeError, match="bench_accuracy"):
        not_a_number(10)


def test_decorators_stack_on_a_jit_function():
    numba = pytest.importorskip("numba")

    @jitpi.bench_accuracy
    @jitpi.bench_time
    @numba.njit
    def monte_carlo_pi(ln):
        acc = 0
        for i in range(ln):
            x = (i * 0.6180339887498949) % 1.0
            y = (i * 0.7548776662466927) % 1.0
            if x * x + y * y < 1.0:
                acc += 1
        return 4.0 * acc / ln

    value = monte_carlo_pi(100_000)
    assert abs(value - math.pi) < 0.01
    assert monte_carlo_pi.last_accuracy["n"] == 100_000


def test_pick_chunk_reads_none_and_zero_as_the_default_and_refuses_the_rest():
    assert pick_chunk(None, 64) == pick_chunk(0, 64) == 64
    assert pick_chunk(7, 64) == 7 and pick_chunk(2**30, 64, largest=2**30) == 2**30
    positive = r"chunk must be a positive integer \(or None or 0 for the default, 64\), got -1"
    with pytest.raises(ValueError, match=positive):
        pick_chunk(-1, 64)
    with pytest.raises(ValueError, match=r"chunk must be in \[1, 8\] \(int32 offsets\), got 9"):
        pick_chunk(9, 4, largest=8, why="int32 offsets")
    with pytest.raises(ValueError, match=r"chunk must be in \[1, 8\], got -3"):
        pick_chunk(-3, 4, largest=8)
