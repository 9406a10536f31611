"""jax-specific properties: the kernel's own Philox words, bit-identity with the reference for any
range, one compilation for every n, compiled memory O(chunk), host-side accumulation across calls,
64-bit types only inside the computation, the naive variant's static n, GPU skips, and counts that
do not change when the chunks are sharded over two CPU devices (``JAX_NUM_CPU_DEVICES=2``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import require

import jitpi
from jitpi import philox

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from jitpi.backends import jax as backend  # noqa: E402


@pytest.fixture(autouse=True)
def _jax_available():
    require("jax")


def test_many_calls_add_up_to_one(monkeypatch):
    """Counts of more than MAX_PER_CALL samples are summed over calls on the host, exactly."""
    native_whole = backend.native(100_003, 4, chunk=1024)
    shared_whole = backend.shared(100_003, 4, start=3)
    monkeypatch.setattr(backend, "MAX_PER_CALL", 4097)  # odd: calls start at odd positions
    assert backend.native(100_003, 4, chunk=1024) == native_whole
    assert backend.shared(100_003, 4, start=3) == shared_whole


def test_native_start_must_be_on_a_chunk_edge():
    chunk = 1024
    with pytest.raises(ValueError, match="multiple of chunk"):
        backend.native(10, 6, chunk=chunk, start=5)


def test_compiled_memory_is_o_chunk():
    """XLA's own buffer plan: temporaries are a few arrays of one chunk, whatever n is."""
    native_bytes, shared_bytes = backend.compiled_temp_bytes()
    assert native_bytes < 64 * backend.CHUNKS.native, native_bytes
    assert shared_bytes < 64 * backend.CHUNKS.shared, shared_bytes


def test_x64_is_never_switched_on_for_other_code():
    backend.native(1000, 1)
    backend.shared(1000, 1)
    backend.naive(1000, 1)
    backend.philox_words([(0, 0, 0, 0)], (0, 0))
    assert jax.config.jax_enable_x64 is False
    assert jnp.arange(3).dtype == jnp.int32
    assert jnp.asarray(1.0).dtype == jnp.float32


def test_native_streams_of_nearby_seeds_differ():
    counts = [backend.native(10_000, seed) for seed in (0, 1, 2, 2**32, 2**64 - 1)]
    assert len(set(counts)) == len(counts), counts


def test_naive_is_the_article_approach():
    """split(key(seed)), two whole uniform arrays, n static: the article's JAX code, made to run."""
    n, seed = 10_001, 5
    key_x, key_y = jax.random.split(jax.random.key(seed))
    x = np.asarray(jax.random.uniform(key_x, (n,)))
    y = np.asarray(jax.random.uniform(key_y, (n,)))
    assert backend.naive(n, seed) == int(np.count_nonzero(x * x + y * y < 1.0))
    assert backend.naive(n, 2**64 - 1) != backend.naive(n, 2**32 - 1)


def test_naive_compiles_once_per_n():
    backend.naive(1234, 0)
    before = backend.compile_counts()["naive"]
    backend.naive(1234, 1)
    assert backend.compile_counts()["naive"] == before
    backend.naive(1235, 0)
    assert backend.compile_counts()["naive"] == before + 1


def test_naive_bound_keeps_xla_array_lengths_int32():
    limit = backend.naive_max_n("cpu")
    assert 10**6 <= limit <= 2**31 - 1


def test_bad_chunk_is_refused():
    with pytest.raises(ValueError, match="chunk"):
        backend.native(10, 0, chunk=backend.CHUNKS.largest + 1)
    with pytest.raises(ValueError, match="chunk"):
        backend.shared(10, 0, chunk=backend.CHUNKS.largest + 2)


@pytest.mark.slow
def test_shared_counts_past_two_to_the_31():
    """n > 2**32: more than 2**31 hits, summed from uint32 per-call counts without wrapping."""
    n = 2**32 + 3
    hits = jitpi.count_hits(n, backend="jax", variant="shared", seed=1)
    assert hits > 2**31
    assert abs(hits - n * math.pi / 4) < 6 * math.sqrt(n * 0.1686)
    ok, _ = jitpi.availability("numba")
    if ok:  # bit-identical to another backend at this size (the numpy reference would take minutes)
        assert hits == jitpi.count_hits(n, backend="numba", variant="shared", seed=1)
    assert backend.shared(5001, 1, start=n - 5001) == philox.shared_hits_reference(5001, 1, n - 5001)


def test_gpu_without_a_gpu_says_why():
    if backend._gpu_devices():
        pytest.skip("a GPU is present")
    reason = backend.device_unavailable_reason("gpu")
    assert reason and "GPU" in reason
    assert jitpi.availability("jax", "gpu") == (False, reason)
    with pytest.raises(jitpi.BackendUnavailable, match="no GPU"):
        jitpi.count_hits(10, backend="jax", device="gpu")


def test_describe_names_version_and_device():
    text = backend.describe("cpu")
    assert jax.__version__ in text and "cpu" in text


# ---------------------------------------------------------------------------------------------
# Several devices: JAX fixes its device count when its backend starts, so each count runs in a
# fresh interpreter with JAX_NUM_CPU_DEVICES set (and JITPI_THREADS, which caps the CPU devices used).

CHUNK = 1 << 18  # backend.CHUNKS.native and .shared, checked below
SHARED_CASES = [  # (n, seed, start, chunk): tails, fewer chunks than devices, odd counts of chunks
    (n, seed, start, chunk)
    for seed in (0, 2**64 - 1)
    for n, start, chunk in [
        (1, 0, None),
        (3, 1, None),
        (CHUNK + 1, 0, None),
        (5 * CHUNK + 77, 7, None),
        (2 * CHUNK - 1, 2**33 - 1001, None),  # the block counter's word 1 changes mid-range
        (100_003, 5, 64),  # 1563 chunks: one device takes one more than the other
    ]
]
NATIVE_CASES = [  # (n, seed, start, chunk)
    (1, 0, 0, None),
    (CHUNK + 1, 2**64 - 1, 0, None),
    (5 * CHUNK + 77, 3, 0, None),
    (10 * 1024 + 17, 6, 3 * 1024, 1024),
    (100_003, 2**64 - 1, 0, 64),
]

DEVICES_SCRIPT = r"""
import json, re, sys

import jax
import numpy as np

from jitpi.backends import jax as backend

shared_cases, native_cases = json.loads(sys.argv[1])
out = {
    "jax_devices": jax.device_count(),
    "device_count": backend.device_count("cpu"),
    "describe": backend.describe("cpu"),
    "chunks": [backend.CHUNKS.native, backend.CHUNKS.shared],
    "shared": [backend.shared(n, s, start=st, chunk=c) for n, s, st, c in shared_cases],
    "native": [backend.native(n, s, start=st, chunk=c) for n, s, st, c in native_cases],
}

# One compilation per chunk size serves every n.
before = backend.compile_counts()
for n in (2, 17, 10**5, 3 * backend.CHUNKS.native + 1):
    backend.native(n, n)
    backend.shared(n, n, start=n % 5)
out["compile_counts"] = [before, backend.compile_counts()]

# Where the work ran: the executables compiled for the mesh, and one call's result.
out["executables"] = {
    f"{variant}:{static}": {
        "devices": devices,
        "num_partitions": re.findall(r"num_partitions=(\d+)", executable.as_text()),
        "all_reduce": "all-reduce" in executable.as_text(),
        "output_devices": len(executable.output_shardings.device_set),
        "temp_bytes": executable.memory_analysis().temp_size_in_bytes,
    }
    for (variant, devices, static), executable in backend.multi_device_executables().items()
}
with jax.enable_x64(True):
    blocks = backend.CHUNKS.shared // 2  # five chunks of samples [0, 10 * blocks), on both devices
    args = (np.uint32(0), np.uint32(0), np.uint64(0), np.int64(0), np.int64(10 * blocks), np.int64(5))
    result = backend._run("shared", args, backend._mesh("cpu"), blocks=blocks)
out["result_shards"] = sorted((shard.device.id, int(shard.data)) for shard in result.addressable_shards)
out["result_total"] = backend.shared(5 * backend.CHUNKS.shared, 0)

# Calls of at most MAX_PER_CALL samples (here odd, so calls start at odd positions), summed on the
# host; 320 calls for the last count: unbounded asynchronous dispatch of that many psum programs
# deadlocks jaxlib 0.10.2 on two CPU devices.
backend.MAX_PER_CALL = 4097
out["many_calls"] = [
    backend.shared(100_003, 4, start=3),
    backend.native(100_003, 4, chunk=1024),
    backend.shared(5 * backend.CHUNKS.shared, 0),
]
print(json.dumps(out))
"""


def _in_fresh_jax(cpu_devices: int) -> dict:
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(cpu_devices), JITPI_THREADS=str(cpu_devices))
    cases = json.dumps([SHARED_CASES, NATIVE_CASES])
    done = subprocess.run(
        [sys.executable, "-c", DEVICES_SCRIPT, cases], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one_device() -> dict:
    require("jax")
    return _in_fresh_jax(1)


@pytest.fixture(scope="module")
def two_devices() -> dict:
    require("jax")
    return _in_fresh_jax(2)


def test_two_cpu_devices_are_used(two_devices):
    """The chunks run on a mesh of both devices: the executables are partitioned in two, end in an
    all-reduce (the psum) and leave the total on both devices."""
    assert two_devices["chunks"] == [CHUNK, CHUNK]
    assert two_devices["jax_devices"] == 2
    assert two_devices["device_count"] == 2
    assert "sharded over 2 cpu devices" in two_devices["describe"]
    executables = two_devices["executables"]
    assert {key.split(":")[0] for key in executables} == {"native", "shared"}, executables
    for key, executable in executables.items():
        assert executable["devices"] == 2, key
        assert executable["num_partitions"] == ["2"], key
        assert executable["all_reduce"], key
        assert executable["output_devices"] == 2, key
        assert executable["temp_bytes"] < 64 * CHUNK, key  # memory O(chunk) on every device
    total = two_devices["result_total"]
    assert two_devices["result_shards"] == [[0, total], [1, total]]


def test_one_cpu_device_runs_unsharded(one_device):
    assert one_device["jax_devices"] == 1
    assert one_device["device_count"] == 1
    assert "1 cpu device" in one_device["describe"]
    assert one_device["executables"] == {}


def test_shared_on_two_devices_matches_the_reference(two_devices, one_device):
    for case, two, one in zip(SHARED_CASES, two_devices["shared"], one_device["shared"], strict=True):
        n, seed, start, _chunk = case
        assert two == one == philox.shared_hits_reference(n, seed, start), case


def test_native_on_two_devices_matches_one_device(two_devices, one_device):
    assert two_devices["native"] == one_device["native"]
    # The in-process count, whatever this process's device count, is the same again.
    n, seed, start, chunk = NATIVE_CASES[-1]
    assert backend.native(n, seed, start=start, chunk=chunk) == one_device["native"][-1]


def test_two_devices_compile_once_and_add_calls_up(two_devices, one_device):
    before, after = two_devices["compile_counts"]
    assert before == after, (before, after)
    assert two_devices["many_calls"] == one_device["many_calls"]
    assert two_devices["many_calls"][0] == philox.shared_hits_reference(100_003, 4, 3)
    assert two_devices["many_calls"][2] == two_devices["result_total"]


WITHOUT_MULHI_SCRIPT = r"""
import json, sys
from jitpi import philox
from jitpi.backends import jax as backend

import jax
import jax.numpy as jnp

backend.HAS_MULHI = False  # as in jax < 0.10: Philox's high words from the widened product
cases = json.loads(sys.argv[1])
with backend._scope("cpu"):
    traced = str(jax.make_jaxpr(lambda w: backend._mulhilo(w, philox.MULTIPLIER_A))(jnp.uint32(7)))
print(json.dumps({
    "traced": traced,
    "override": backend._mulhi_workaround(),
    "devices": backend.device_count("cpu"),
    "shared": [backend.shared(n, s, start=st, chunk=c) for n, s, st, c in cases],
    "words": backend.philox_words([c for c, _, _ in philox.KNOWN_ANSWERS], philox.KNOWN_ANSWERS[0][1]),
}))
"""


@pytest.mark.parametrize("cpu_devices", [1, 2])
def test_shared_without_lax_mulhi_counts_the_same(cpu_devices):
    """The path older releases take (``HAS_MULHI`` false): the same words and counts, on one
    device and on a mesh, where no lowering rule is overridden."""
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(cpu_devices), JITPI_THREADS=str(cpu_devices))
    cases = SHARED_CASES[:6]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MULHI_SCRIPT, json.dumps(cases)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["devices"] == cpu_devices
    assert "mulhi" not in out["traced"] and "uint64" in out["traced"], out["traced"]
    assert out["override"] is None
    counters = [counter for counter, _, _ in philox.KNOWN_ANSWERS]
    assert [tuple(w) for w in out["words"]] == philox.words_scalar(counters, philox.KNOWN_ANSWERS[0][1])
    for case, hits in zip(cases, out["shared"], strict=True):
        n, seed, start, _chunk = case
        assert hits == philox.shared_hits_reference(n, seed, start), case


def test_jitpi_threads_caps_the_cpu_devices(monkeypatch):
    """A Dask worker (JITPI_THREADS=1) stays on one device whatever JAX_NUM_CPU_DEVICES says."""
    monkeypatch.setenv("JITPI_THREADS", "1")
    assert backend.device_count("cpu") == 1
    assert backend._mesh("cpu") is None


@pytest.mark.parametrize("variant", ["native", "shared", "naive"])
def test_kernels_lower_for_cuda_without_a_gpu(variant):
    """Each kernel, at its GPU chunk, lowers to StableHLO for CUDA (jax.export's cross-platform
    lowering: every op has a CUDA lowering rule). XLA's GPU compile itself needs a GPU."""
    from jax import export

    arguments = {
        "native": (backend._native_key(0, "cpu"), np.uint64(0), np.int64(1), np.int64(1)),
        "shared": (np.uint32(0), np.uint32(0), np.uint64(0), np.int64(0), np.int64(1), np.int64(1)),
        "naive": (backend._naive_key(0, "cpu"),),
    }[variant]
    static = {
        "native": lambda *a: backend._native_call(*a, chunk=backend.CHUNKS.gpu),
        "shared": lambda *a: backend._shared_call(*a, blocks=backend.CHUNKS.gpu // 2),
        "naive": lambda key: backend._naive_call(key, 10**6),
    }[variant]
    with jax.enable_x64(True):
        exported = export.export(jax.jit(static), platforms=["cuda"])(*arguments)
    assert exported.platforms == ("cuda",)
    module = exported.mlir_module()
    assert "stablehlo.while" in module or variant == "naive"
