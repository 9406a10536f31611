"""The triton backend: real @triton.jit kernels, checked bit for bit against the numpy Philox reference.

On a machine without a GPU every kernel runs through Triton's interpreter; the tests marked ``gpu``
compare the compiled kernels with it where a GPU is present.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitpi
from jitpi import philox, registry
from jitpi.chunking import split_range

_AVAILABLE, _REASON = jitpi.availability("triton")
if not _AVAILABLE:
    if os.environ.get("JITPI_REQUIRE_ALL"):
        pytest.fail(f"triton must be available in this environment: {_REASON}", pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)
registry.load("triton")  # the registry's import order: Triton before TensorFlow
from jitpi.backends import triton as triton_backend  # noqa: E402

SEEDS = (0, 1, 2**32, 2**64 - 1)


def _gpu() -> None:
    ok, reason = jitpi.availability("triton", "gpu")
    if not ok:
        pytest.skip(reason)


# ------------------------------------------------------------------------------------------------
# shared: bit-identical to the reference
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [3, 2**63 + 5])
@pytest.mark.parametrize(
    "start", [1, 7, 2**31 - 3, 2**31, 2**31 + 1, 2**32 - 1, 2**40 - 5, 2**40 + 3, 2**41 - 2**20 - 1]
)
@pytest.mark.parametrize("chunk", [None, 4097])
def test_shared_sub_ranges_match_reference(start, seed, chunk):
    """Odd starts, starts around int32 and 2**40, and two chunk sizes (one odd, so launches split blocks)."""
    n = 10_001
    expected = philox.shared_hits_reference(n, seed, start)
    assert triton_backend.shared(n, seed, start=start, chunk=chunk) == expected


def test_shared_is_independent_of_chunk_and_split():
    n, seed, start = 100_003, 2**64 - 1, 12_345
    expected = philox.shared_hits_reference(n, seed, start)
    for chunk in (1000, 2**14 + 1, 2**20, 2**22):
        assert triton_backend.shared(n, seed, start=start, chunk=chunk) == expected, chunk
    pieces = split_range(n, 7, align=1)
    assert sum(triton_backend.shared(count, seed, start=start + first) for first, count in pieces) == expected
    for chunk in (1, 2, 3):
        assert triton_backend.shared(41, seed, start=start, chunk=chunk) == philox.shared_hits_reference(
            41, seed, start
        )


# ------------------------------------------------------------------------------------------------
# raw Philox words from the kernel path
# ------------------------------------------------------------------------------------------------

OFFSETS = np.array(
    [0, 1, 2, 3, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**39 + 77, 2**40, 2**62 + 9, 2**63 - 1],
    dtype=np.int64,
)


def _reference_words(offsets: np.ndarray, seed: int) -> np.ndarray:
    blocks = offsets.astype(np.uint64)
    lo = (blocks & np.uint64(philox.MASK32)).astype(np.uint32)
    hi = (blocks >> np.uint64(32)).astype(np.uint32)
    zeros = np.zeros_like(lo)
    return np.stack(philox.philox4x32(lo, hi, zeros, zeros, *philox.split_seed(seed)), axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1])
def test_raw_words_match_numpy_reference(seed):
    offsets = np.concatenate([OFFSETS, np.arange(5000, 5000 + 300, dtype=np.int64)])
    words = triton_backend.block_words(offsets, seed)
    assert words.dtype == np.uint32 and words.shape == (offsets.size, 4)
    np.testing.assert_array_equal(words, _reference_words(offsets, seed))
    scalar = philox.philox4x32_scalar((1, 1, 0, 0), philox.split_seed(seed))  # 2**32 + 1
    assert tuple(int(w) for w in words[list(OFFSETS).index(2**32 + 1)]) == scalar


def test_raw_words_known_answer():
    """Random123's all-zero vector is the only one with counter words 2, 3 = 0 (Triton's layout)."""
    counter, key, expected = philox.KNOWN_ANSWERS[0]
    assert counter == (0, 0, 0, 0) and key == (0, 0)
    assert tuple(int(w) for w in triton_backend.block_words([0], 0)[0]) == expected


# ------------------------------------------------------------------------------------------------
# native and naive
# ------------------------------------------------------------------------------------------------


def test_native_is_deterministic_and_independent_of_chunk():
    n, seed = 50_001, 2**64 - 1
    first = jitpi.count_hits(n, backend="triton", seed=seed)
    assert first == jitpi.count_hits(n, backend="triton", seed=seed)
    assert first == triton_backend.native(n, seed, chunk=4097)
    pieces = split_range(n, 5, align=1)
    assert sum(triton_backend.native(count, seed, start=first_) for first_, count in pieces) == first
    assert first != jitpi.count_hits(n, backend="triton", seed=seed - 1)


def test_native_uses_the_shared_blocks():
    """Same Philox blocks, float32 instead of exact test: the counts differ only where float32 rounding
    moves a point across the circle (~1e-7 of samples), and at samples 2b / 2b+1 alike."""
    n = 2**17 + 1
    for seed, start in ((0, 0), (2**64 - 1, 2**40 - 3)):
        native = triton_backend.native(n, seed, start=start)
        shared = triton_backend.shared(n, seed, start=start)
        assert abs(native - shared) <= 3, (native, shared)


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_native_z_score(seed):
    estimate = jitpi.estimate_pi(2 * 10**5, backend="triton", seed=seed)
    assert abs(estimate.z) < 5, estimate


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_naive_statistics_and_prefixes(seed):
    estimate = jitpi.estimate_pi(2 * 10**5, backend="triton", seed=seed, variant="naive")
    assert abs(estimate.z) < 5, estimate
    assert abs(estimate.pi - 2 * math.sqrt(2)) > 0.05  # x and y never come from one word
    assert estimate.hits == jitpi.count_hits(2 * 10**5, backend="triton", seed=seed, variant="naive")
    counts = [triton_backend.naive(n, seed) for n in range(1, 20)]
    assert counts[0] in (0, 1) and {b - a for a, b in itertools.pairwise(counts)} <= {0, 1}


def test_naive_is_refused_above_its_bound():
    limit = triton_backend.naive_max_n("cpu")
    assert limit == triton_backend.NAIVE_INTERPRETER_MAX_N
    with pytest.raises(ValueError, match=f"above {limit}"):
        jitpi.count_hits(limit + 1, backend="triton", variant="naive")


# ------------------------------------------------------------------------------------------------
# The interpreter: how it is selected, and that it leaves Triton as it found it
# ------------------------------------------------------------------------------------------------


def test_availability_says_interpreter():
    ok, reason = jitpi.availability("triton", "cpu")
    assert ok and "interpreter (TRITON_INTERPRET=1): correct but slow, no CPU compiler" in reason


def test_interpreter_restores_triton_language():
    """The interpreter patches triton.language during a grid; afterwards every attribute is back, so
    compiled kernels in the same process see Triton's own builtins."""
    import triton.language as tl

    spaces = (tl, tl.core, tl.math, tl.standard, tl.random, tl.tensor, tl.dtype)

    def snapshot():
        return [{name: id(value) for name, value in vars(space).items()} for space in spaces]

    before = snapshot()
    triton_backend.shared(1001, 3)
    triton_backend.native(1001, 3)
    triton_backend.naive(1001, 3)
    assert snapshot() == before
    assert type(tl.rand4x).__name__ in ("JITFunction", "InterpretedFunction")


def _python(script: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**environment, **env},
    )


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="tensorflow is not installed")
def test_runs_after_tensorflow_in_one_process():
    """jitpi's registry imports triton (without TRITON_INTERPRET) before tensorflow; the interpreted
    kernels must still work when triton.language was imported first."""
    result = _python(
        """
        import sys, jitpi
        jitpi.availability("tensorflow")  # the registry imports triton first, then tensorflow
        import tensorflow
        import triton.language as tl
        assert "triton" in sys.modules and type(tl.rand4x).__name__ == "JITFunction"
        print(jitpi.count_hits(1001, backend="triton", seed=5, variant="shared"))
        print(jitpi.count_hits(1001, backend="triton", seed=5, variant="native"))
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shared, native = (int(line) for line in result.stdout.split())
    assert shared == philox.shared_hits_reference(1001, 5)
    assert native == triton_backend.native(1001, 5)


def test_runs_with_triton_interpret_set_before_import():
    """TRITON_INTERPRET=1 in the environment: every kernel is interpreted; the CPU path is unchanged and
    the GPU is refused with the reason."""
    result = _python(
        """
        import jitpi
        print(jitpi.count_hits(1001, backend="triton", seed=5, variant="shared"))
        print(jitpi.availability("triton", "gpu")[1])
        """,
        TRITON_INTERPRET="1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count, reason = result.stdout.strip().split("\n", 1)
    assert int(count) == philox.shared_hits_reference(1001, 5)
    assert "TRITON_INTERPRET" in reason


# ------------------------------------------------------------------------------------------------
# Compiled for a GPU ahead of time, without one: Triton's own compiler and bundled ptxas
# ------------------------------------------------------------------------------------------------

# The pointer arguments, typed as the launches allocate them; the scalars come from the backend.
POINTERS = {
    "_shared_kernel": {"partials": "*i64"},
    "_native_kernel": {"partials": "*i64"},
    "_naive_kernel": {"partials": "*i32"},
    "_words_kernel": {"out": "*i32", "blocks": "*i64"},
}


@pytest.mark.parametrize("capability", [80, 90])
@pytest.mark.parametrize("name", sorted(POINTERS))
def test_kernels_compile_for_nvidia_gpus_ahead_of_time(name, capability):
    """The interpreter checks no types: compile each kernel, as the GPU path launches it, to a cubin
    for Ampere (sm_80) and Hopper (sm_90). Needs no GPU, only Triton's bundled ptxas."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kernel = getattr(triton_backend, name)
    constexprs = {
        "BLOCK": triton_backend.NAIVE_GPU_BLOCK if name == "_naive_kernel" else triton_backend.GPU_BLOCK
    }
    if name in ("_shared_kernel", "_native_kernel"):
        constexprs["ITERS"] = triton_backend.GPU_ITERS
    signature = {
        **POINTERS[name],
        **triton_backend._SCALARS[kernel],
        **dict.fromkeys(constexprs, "constexpr"),
    }
    source = ASTSource(fn=triton_backend._compiled(kernel), signature=signature, constexprs=constexprs)
    try:
        compiled = triton.compile(
            source, target=GPUTarget("cuda", capability, 32), options=triton_backend.GPU_OPTIONS
        )
    except RuntimeError as error:
        if "ptxas" in str(error).lower() and "not found" in str(error).lower():
            pytest.skip(f"no ptxas for Triton here: {error}")
        raise
    assert compiled.asm["cubin"], "no machine code"
    ptx = compiled.asm["ptx"]
    assert f".target sm_{capability}" in ptx
    if name == "_shared_kernel":
        # The exact inside test squares sign-extended 32-bit words: one 32 x 32 -> 64-bit multiply
        # each (mul.wide.s32), not an emulated 64 x 64-bit one; Philox's mulhi is mul.hi.u32.
        assert "mul.wide.s32" in ptx and "mul.hi.u32" in ptx


# ------------------------------------------------------------------------------------------------
# GPU (compiled): skipped with the reason where there is none
# ------------------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("seed", SEEDS)
def test_gpu_shared_matches_reference(seed):
    _gpu()
    for n, start in ((1, 0), (3, 0), (1000, 7), (2**20 + 1, 2**31 - 3), (10_001, 2**40 + 3)):
        assert triton_backend.shared(n, seed, device="gpu", start=start) == philox.shared_hits_reference(
            n, seed, start
        )
    assert triton_backend.shared(10**6, seed, device="gpu", chunk=4097) == philox.shared_hits_reference(
        10**6, seed
    )


@pytest.mark.gpu
def test_gpu_matches_interpreter():
    """Same words, no FMA contraction: the compiled kernels count what the interpreter counts."""
    _gpu()
    np.testing.assert_array_equal(
        triton_backend.block_words(OFFSETS, 2**64 - 1, device="gpu"), _reference_words(OFFSETS, 2**64 - 1)
    )
    for seed in (0, 2**64 - 1):
        assert triton_backend.native(300_001, seed, device="gpu") == triton_backend.native(300_001, seed)
        assert triton_backend.naive(300_001, seed, device="gpu") == triton_backend.naive(300_001, seed)


@pytest.mark.gpu
def test_gpu_compiles_once():
    _gpu()
    import torch

    for n, seed in ((1, 1), (16, 2**31), (10**7 + 1, 2**64 - 1), (2**33, 0)):
        assert 0 <= triton_backend.shared(n, seed, device="gpu") <= n
        assert 0 <= triton_backend.native(n, seed, device="gpu", start=2**39) <= n
    for kernel in (triton_backend._shared_kernel, triton_backend._native_kernel):
        compiled = triton_backend._compiled(kernel)
        kernels = compiled.device_caches[torch.cuda.current_device()][0]
        assert len(kernels) == 1, kernels.keys()
    estimate = jitpi.estimate_pi(2**34, backend="triton", device="gpu", variant="shared")
    assert abs(estimate.z) < 5, estimate
