"""tvm-specific properties: one ``tvm.compile`` per variant and nothing on disk, the native stream
against a pure-Python SplitMix64 model at the int32, 2**32 and 2**40 edges, the exact inside test at
the corner TVM's simplifier could overflow, TVM's thread pool (sized and never pinned by jitpi), the
GPU's kernels run on the CPU, their CUDA C written without a GPU, the naive arrays and the
availability messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import require

import jitpi
from jitpi import philox, registry

MASK32 = philox.MASK32


@pytest.fixture(scope="module")
def backend():
    require("tvm")
    registry.load("tvm")
    from jitpi.backends import tvm as module

    return module


def _native_model(n: int, seed: int, start: int) -> int:
    """numba's and taichi's native stream: sample i is splitmix64(key + i * GAMMA), key =
    splitmix64(seed); x its low word, y its high word, read as signed 32-bit integers."""
    key = philox.splitmix64(seed)
    hits = 0
    for index in range(start, start + n):
        word = philox.splitmix64((key + index * philox.SPLITMIX_GAMMA) & philox.MASK64)
        hits += philox.inside_scalar(word & MASK32, word >> 32)
    return hits


def _script(body: str) -> str:
    root = str(Path(jitpi.__file__).resolve().parent.parent)
    return f"import sys; sys.path.insert(0, {root!r})\n" + textwrap.dedent(body)


def _run(script: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _script(script)], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_each_variant_is_one_compile_and_no_n_seed_or_start_compiles_again(backend):
    backend.shared(11, 1, start=1)  # odd edges: the edge kernel is in the same module
    backend.native(11, 1)
    assert {("shared", "cpu"), ("native", "cpu")} <= set(backend._built)
    compiled = backend.compile_count()
    for n, start, seed in ((1, 0, 2), (backend.CHUNKS.native + 3, 2**32 - 7, 3), (5, 2**40 - 5, 2**64 - 1)):
        backend.native(n, seed, start=start)
        backend.shared(n, seed, start=start)
    assert backend.compile_count() == compiled


def test_compiles_in_memory_and_writes_nothing(tmp_path):
    """TVM keeps no compile cache: a fresh process with HOME and TMPDIR in empty folders compiles
    both variants and leaves both folders empty (so the registry declares no cache variable)."""
    require("tvm")
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "XDG_CACHE_HOME": str(home / ".cache")}
    result = _run(
        """
        import json, jitpi
        counts = [jitpi.count_hits(10_001, backend="tvm", variant=v, seed=3) for v in ("native", "shared")]
        print(json.dumps({"counts": counts}))
        """,
        env,
    )
    assert result["counts"][1] == philox.shared_hits_reference(10_001, 3)
    written = [str(path) for path in (*home.rglob("*"), *tmp.rglob("*"))]
    assert written == [], written
    assert registry.REGISTRY["tvm"].jit_caches == ()


@pytest.mark.parametrize("start", [0, 2**31 - 40, 2**32 - 40, 5 * 2**32 - 41, 2**40 - 80])
def test_native_is_splitmix64_by_position(backend, start):
    """Sample by sample against the model past 2**31, across 2**32 and near 2**40: 64-bit offsets,
    and the uint64 key of the largest seed passed through TVM's int64 arguments unchanged."""
    for seed in (0, 2**64 - 1):
        counts = [backend.native(1, seed, start=start + i) for i in range(80)]
        assert counts == [_native_model(1, seed, start + i) for i in range(80)], (start, seed)
        assert backend.native(80, seed, start=start, chunk=7) == sum(counts)


def test_native_counts_what_numba_and_taichi_count(backend):
    """The same stream as numba's and taichi's native variants, where those are installed."""
    mine = backend.native(100_003, 12345, start=2**33 + 1)
    assert mine == _native_model(100_003, 12345, 2**33 + 1)
    for other in ("numba", "taichi"):
        if jitpi.availability(other, "cpu", "native")[0]:
            kernel = registry.load(other).kernel("native")
            assert kernel(100_003, 12345, start=2**33 + 1) == mine, other


def test_inside_test_is_exact_at_every_corner(backend):
    """``_inside`` compiled on its own: the words decide as the reference does, including x = y =
    -2**31, where x*x + y*y = 2**63 would overflow an int64 (TVM's simplifier rewrites ``a < c - b``
    into ``a + b < c`` for signed integers; the backend squares in uint64, where nothing overflows)."""
    import numpy as np
    import tvm
    from tvm.script import tirx as T

    @T.prim_func
    def inside_words(words: T.handle, out: T.handle):
        m = T.int64()
        w = T.match_buffer(words, (m, 2), "uint32")
        o = T.match_buffer(out, (m,), "int64")
        for i in range(m):
            o[i] = backend._inside(w[i, 0].astype("uint64"), w[i, 1].astype("uint64"))

    library = tvm.compile(inside_words.with_attr("global_symbol", "main"), target=backend.cpu_target())
    edges = (0, 1, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1, 3037000499 & MASK32, 2**30, 3 * 2**30)
    pairs = np.array([(x, y) for x in edges for y in edges], dtype=np.uint32)
    out = backend._tensor(np.zeros(len(pairs), dtype=np.int64), tvm.cpu(0))
    library["main"](backend._tensor(pairs, tvm.cpu(0)), out)
    expected = [int(philox.inside_scalar(int(x), int(y))) for x, y in pairs]
    assert out.numpy().tolist() == expected
    assert expected[edges.index(2**31) * (len(edges) + 1)] == 0  # (-2**31, -2**31) is outside


def test_thread_count_changes_nothing_and_sizes_tvms_pool(backend, monkeypatch):
    """Counts do not depend on the threads; TVM's pool runs as many as jitpi asks for (at most the
    pool it made at the first launch)."""
    counts = {}
    for threads in (1, 2, 3):
        monkeypatch.setenv("JITPI_THREADS", str(threads))
        counts[threads] = (
            backend.shared(400_003, 7, start=3, chunk=1000),
            backend.native(400_003, 7, start=3, chunk=1000),
        )
        assert os.environ["TVM_NUM_THREADS"] == str(threads)
        if threads > 1:
            assert backend._num_threads() <= threads
    assert len(set(counts.values())) == 1, counts
    assert counts[1][0] == philox.shared_hits_reference(400_003, 7, 3)


def test_threads_are_every_core_and_nothing_is_pinned():
    """TVM alone would take half the hardware threads on x86-64 (one on a 2-core machine) and pin
    its workers and the calling thread to cores; jitpi gives it every core this process may use and
    turns the pinning off, so the Python thread's affinity is the same after a call."""
    require("tvm")
    env = {key: value for key, value in os.environ.items() if key not in ("TVM_NUM_THREADS", "JITPI_THREADS")}
    env.pop("TVM_BIND_THREADS", None)
    result = _run(
        """
        import json, os, jitpi
        before = sorted(os.sched_getaffinity(0))
        jitpi.count_hits(10**6, backend="tvm", variant="shared")
        from jitpi.backends import tvm as backend
        env = {name: os.environ.get(name) for name in ("TVM_NUM_THREADS", "TVM_BIND_THREADS")}
        print(json.dumps({"before": before, "after": sorted(os.sched_getaffinity(0)), "env": env,
                          "pool": backend._num_threads(), "describe": backend.describe("cpu")}))
        """,
        env,
    )
    cores = len(os.sched_getaffinity(0))
    assert result["before"] == result["after"]
    assert result["env"] == {"TVM_NUM_THREADS": str(cores), "TVM_BIND_THREADS": "0"}
    assert result["pool"] == cores and f"{cores} thread" in result["describe"]


@pytest.mark.parametrize("start", [0, 1, 2**31 - 3, 2**33 - 1001, 2**40 - 4097])
def test_gpu_kernels_count_the_streams_on_the_cpu(backend, start):
    """The GPU's kernels (uint32 Philox words, grid-stride loops, masked edges), their thread loops
    made serial over a small grid and built for the CPU: the shared stream's and native's counts."""
    for seed, per in ((0, 1000), (2**64 - 1, 3001), (12345, 1 << 32)):
        expected = philox.shared_hits_reference(3001, seed, start)
        k0, k1 = philox.split_seed(seed)
        assert backend._count_gpu("shared", "gpu-simulated", 3001, start, per, k0, k1) == expected
        key = backend._signed64(backend.native_key(seed))
        assert backend._count_gpu("native", "gpu-simulated", 3001, start, per, key) == backend.native(
            3001, seed, start=start
        )


def test_cuda_c_is_written_without_a_gpu(backend):
    """TVM's CUDA code generator needs no GPU: the kernels become CUDA C for sm_90 with 64-bit
    offsets, one ``__global__`` function each, the thread loops bound to blockIdx.x/threadIdx.x."""
    import tvm

    for variant in ("shared", "native"):
        module = backend._module(backend.kernels(variant, "gpu"))
        try:
            built = tvm.compile(module, target=backend.cuda_target("sm_90"))
        except Exception as error:  # pragma: no cover - depends on the build and the machine
            pytest.skip(f"this apache-tvm build does not write CUDA C here: {type(error).__name__}: {error}")
        sources = [imported.inspect_source() for imported in built.mod.imports]
        cuda = next((source for source in sources if "__global__" in source), None)
        assert cuda is not None, sources
        assert "blockIdx.x" in cuda and "threadIdx.x" in cuda and "int64_t" in cuda, cuda[:2000]


def test_naive_is_whole_arrays_from_tvms_generator(backend):
    if "naive" in backend.BACKEND.not_in_this_release:
        pytest.skip(backend.BACKEND.not_in_this_release["naive"])
    first = backend.naive(100_003, 5)
    assert first == backend.naive(100_003, 5)
    assert first != backend.naive(100_003, 6)
    assert abs(jitpi.z_score(first, 100_003)) < 5
    assert backend.naive_max_n("cpu") >= 10**6


def test_availability_messages(backend):
    import tvm

    text = backend.describe("cpu")
    assert tvm.__version__ in text and "thread" in text and backend.cpu_model() in text
    assert backend.device_unavailable_reason("cpu") is None
    if backend.device_unavailable_reason("gpu") is not None:
        reason = backend.device_unavailable_reason("gpu")
        assert reason.startswith(("no CUDA GPU for TVM here", "apache-tvm")), reason
        assert jitpi.availability("tvm", "gpu") == (False, reason)
        with pytest.raises(jitpi.BackendUnavailable, match="TVM"):
            jitpi.count_hits(10, backend="tvm", variant="shared", device="gpu")
    assert backend.BACKEND.unavailable_reason("gpu", "naive") is not None


@pytest.mark.gpu
def test_gpu_counts_equal_the_cpu_counts(backend):
    require("tvm", "gpu")
    n, start = 10**7 + 3, 2**32 - 5_000_001
    assert backend.shared(n, 5, device="gpu", start=start) == philox.shared_hits_reference(n, 5, start)
    assert backend.native(n, 5, device="gpu", start=start) == backend.native(n, 5, start=start)
    assert backend.native(n, 5, device="gpu", start=start, chunk=1000) == backend.native(n, 5, start=start)
    far = backend.shared(2**32 + 7, 9, device="gpu", start=2**40 - 2**32 - 7)
    assert abs(jitpi.z_score(far, 2**32 + 7)) < 5
