"""warp-specific properties: the kernel cache that ``WARP_CACHE_PATH`` moves (and no system compiler
needed to fill it), one module per variant, the native stream against a pure-Python model of Warp's
generator at the int32 and epoch edges, counts that the thread count does not change, the GPU's
shared kernel run on the CPU, its PTX, the naive bound and the availability messages."""

from __future__ import annotations

import itertools
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
    require("warp")
    registry.load("warp")
    from jitpi.backends import warp as module

    return module


@pytest.fixture(scope="module")
def wp(backend):
    import warp

    return warp


def test_cache_variable_is_warps_and_a_cold_cache_compiles_without_a_system_compiler(tmp_path):
    """``registry.cold_cache_environment`` points ``WARP_CACHE_PATH`` at an empty folder: Warp's own
    Clang builds the one module of the variant there (PATH holds no compiler), and the next process
    reads it back instead of building it again."""
    require("warp")
    variables = [cache.variable for cache in registry.REGISTRY["warp"].jit_caches]
    assert variables[0] == "WARP_CACHE_PATH"  # what warp._src.build.init_kernel_cache reads
    env = registry.cold_cache_environment(str(tmp_path / "caches"))
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env["PATH"] = str(empty_bin)  # no cc, gcc, clang
    root = str(Path(jitpi.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    script = textwrap.dedent(
        """
        import glob, json, os, time
        import jitpi
        from jitpi import registry
        backend = registry.load("warp")
        folder = os.environ["WARP_CACHE_PATH"]
        hits = jitpi.count_hits(100_003, backend="warp", variant="native", seed=3)
        paths = glob.glob(folder + "/**/*.o", recursive=True)
        objects = {path: os.stat(path).st_mtime_ns for path in paths}
        print(json.dumps({"hits": hits, "objects": objects, "loaded": backend.compile_count()}))
        """
    )
    runs = []
    for _ in range(2):
        command = [sys.executable, "-c", script]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert len(cold["objects"]) == 1 and "native_kernel" in next(iter(cold["objects"])), cold
    assert warm["objects"] == cold["objects"]  # read back, not rebuilt
    assert cold["hits"] == warm["hits"] and cold["loaded"] == warm["loaded"] == 1


def test_each_variant_is_one_module_built_once(backend):
    """Variants are separate Warp modules (a first call of one builds one), and no n, seed or start
    builds anything again."""
    backend.shared(10, 1)
    backend.native(10, 1)
    kernels = (backend.SHARED_KERNELS["cpu"], backend.SHARED_KERNELS["gpu"], backend._native_kernel)
    assert len({kernel.module.name for kernel in (*kernels, backend._naive_fill)}) == 4
    assert {(kernels[0].module.name, "cpu"), (kernels[2].module.name, "cpu")} <= backend._ready
    loaded = backend.compile_count()
    for n, start in ((1, 0), (backend.CHUNKS.native + 1, 2**32 - 7), (3, 2**40 - 3)):
        backend.native(n, 5, start=start)
        backend.shared(n, 5, start=start)
    assert backend.compile_count() == loaded


# A pure-Python model of Warp's generator (warp/native/rand.h) and of the native stream built on it.


def _pcg(state: int) -> int:
    b = (state * 747796405 + 2891336453) & MASK32
    c = (((b >> ((b >> 28) + 4)) ^ b) * 277803737) & MASK32
    return (c >> 22) ^ c


def _native_model(n: int, seed: int, start: int) -> int:
    hits = 0
    for index in range(start, start + n):
        seed_x, seed_y = _module().native_seeds(seed, index >> 32)
        offset_hash = _pcg(index & MASK32)
        x = _pcg(_pcg((seed_x + offset_hash) & MASK32)) >> 8  # rand_init, then randf's draw
        y = _pcg(_pcg((seed_y + offset_hash) & MASK32)) >> 8
        hits += (2 * x + 1) ** 2 + (2 * y + 1) ** 2 < 2**50  # ((k + 1/2) 2**-24)**2 summed, exactly
    return hits


def _module():
    from jitpi.backends import warp

    return warp


@pytest.mark.parametrize("start", [0, 2**31 - 40, 2**32 - 40, 5 * 2**32 - 41, 2**40 - 80])
def test_native_is_warps_generator_at_the_int32_and_epoch_edges(backend, start):
    """Offsets past 2**31 (negative as int32) and the 2**32 epoch edge: the kernel's counts equal the
    model's, sample by sample, so no offset wrapped or lost its epoch key."""
    for seed in (0, 2**64 - 1):
        counts = [backend.native(1, seed, start=start + i) for i in range(80)]
        assert counts == [_native_model(1, seed, start + i) for i in range(80)], (start, seed)
        assert backend.native(80, seed, start=start, chunk=7) == sum(counts)


def test_native_seeds_differ_within_a_run_and_never_coincide(backend):
    """Within one seed, every epoch's (seed_y - seed_x) differs and is odd, so no two samples of a run
    share both generator states; x and y never share one."""
    for seed in (0, 1, 2**64 - 1, 12345):
        differences = [
            (lambda x, y: (y - x) & MASK32)(*backend.native_seeds(seed, epoch)) for epoch in range(256)
        ]
        assert len(set(differences)) == 256 and all(d % 2 for d in differences)
    assert backend.native_seeds(0, 0) != backend.native_seeds(1, 0)


def test_thread_count_changes_nothing_and_the_pool_launches(backend, wp, monkeypatch):
    """Batches of lanes go to a pool of ``cpu_threads()`` Python threads, one launch each: the counts
    are the same for 1, 2 and 3 threads, and with several the launches leave the calling thread."""
    import threading

    launchers = set()
    launch = wp.launch

    def recording_launch(*args, **kwargs):
        launchers.add(threading.current_thread())
        return launch(*args, **kwargs)

    monkeypatch.setattr(wp, "launch", recording_launch)
    counts = {}
    for threads in (1, 2, 3):
        monkeypatch.setenv("JITPI_THREADS", str(threads))
        launchers.clear()
        counts[threads] = (
            backend.shared(400_003, 7, start=3, chunk=1000),
            backend.native(400_003, 7, start=3, chunk=1000),
        )
        if threads > 1:
            assert threading.current_thread() not in launchers and backend._pool_key[0] == threads
    assert len(set(counts.values())) == 1, counts
    assert counts[1][0] == philox.shared_hits_reference(400_003, 7, 3)


def test_a_launch_releases_the_gil(backend, monkeypatch):
    """What the threads rely on: while one Warp launch runs (here one lane of 2**27 samples), another
    Python thread keeps running."""
    import threading
    import time

    monkeypatch.setenv("JITPI_THREADS", "1")
    backend.shared(10, 1)
    worker = threading.Thread(target=backend.shared, args=(2**27, 1), kwargs={"chunk": 2**27})
    began = time.perf_counter()
    worker.start()
    beats = [began]
    while worker.is_alive():
        time.sleep(0.001)
        beats.append(time.perf_counter())
    worker.join()
    longest_wait = max(later - earlier for earlier, later in itertools.pairwise(beats))
    assert longest_wait < (beats[-1] - began) / 3, (longest_wait, beats[-1] - began, len(beats))


def test_a_forked_child_makes_its_own_launching_threads(backend, monkeypatch):
    """A child forked after the pool exists (Dask's and multiprocessing's workers) inherits the pool
    but not its threads; it must not wait on them."""
    import multiprocessing

    monkeypatch.setenv("JITPI_THREADS", "2")
    expected = backend.shared(100_003, 3, chunk=1000)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(backend.shared, (100_003, 3), {"chunk": 1000}).get(timeout=120) == expected


@pytest.mark.parametrize("start", [0, 1, 2**31 - 3, 2**33 - 1001, 2**40 - 4097])
def test_gpu_shared_kernel_counts_the_shared_stream_on_the_cpu(backend, start):
    """The GPU's kernel (uint32 words) runs on the CPU too: the same hits as the reference."""
    kernel = backend.SHARED_KERNELS["gpu"]
    for seed, blocks_per_lane in ((0, 1), (2**64 - 1, 500), (12345, 1 << 13)):
        expected = philox.shared_hits_reference(3001, seed, start)
        assert backend._shared_hits(kernel, "cpu", 3001, seed, start, blocks_per_lane) == expected


def test_gpu_kernels_compile_to_ptx_without_a_gpu(backend, wp, tmp_path):
    """Warp's NVRTC builds the GPU kernels for sm_90 here: one ``mul.wide.u32`` per Philox product,
    int64 atomics for the counts."""
    if not wp.get_cuda_supported_archs():
        pytest.skip(f"this warp-lang {wp.config.version} build has no NVRTC")
    ptx = {}
    for name, kernel in (("shared", backend.SHARED_KERNELS["gpu"]), ("native", backend._native_kernel)):
        (path,) = wp.compile_aot_module(kernel.module, arch=90, use_ptx=True, module_dir=tmp_path / name)
        ptx[name] = path.read_text()
        assert ".target sm_90" in ptx[name] and "atom.global.add.u64" in ptx[name], name
    assert ptx["shared"].count("mul.wide.u32") >= 20 and "xor.b64" not in ptx["shared"]


def test_chunks_bound_the_int32_lane_counters(backend):
    """A lane's loop counter and count are int32: the largest chunk is accepted (and exact), one more
    sample is refused with the reason."""
    largest = backend.CHUNKS.largest
    assert largest * 2 <= 2**31  # a shared lane counts up to 2 * (largest // 2) hits in int32
    start = 2**40 - 5001
    assert backend.shared(5001, 3, start=start, chunk=largest) == philox.shared_hits_reference(5001, 3, start)
    with pytest.raises(ValueError, match="int32"):
        backend.shared(10, 3, chunk=largest + 1)


def test_naive_is_whole_arrays_keyed_by_a_32_bit_seed(backend):
    assert backend.naive_max_n("cpu") <= 2**31 - 1
    assert backend.naive(10_007, 5) == backend.naive(10_007, 5 + 2**32)  # wp.rand_init's seed is int32
    assert backend.naive(10_007, 5) != backend.naive(10_007, 6)
    with pytest.raises(ValueError, match="naive"):
        backend.naive(2**31, 5)


def test_availability_messages(backend, monkeypatch):
    """No GPU: the reason names what is missing; a Warp without its Clang names the library."""
    assert "threads" in backend.describe("cpu") and backend.wp.config.version in backend.describe("cpu")
    if not backend.wp.is_cuda_available():
        reason = backend.device_unavailable_reason("gpu")
        assert reason.startswith("no CUDA GPU for Warp here") and "PTX" in reason, reason
        assert jitpi.availability("warp", "gpu") == (False, reason)
        with pytest.raises(jitpi.BackendUnavailable, match="no CUDA GPU"):
            jitpi.count_hits(10, backend="warp", variant="shared", device="gpu")
    monkeypatch.setattr(backend.wp, "is_cpu_available", lambda: False)
    reason = backend.device_unavailable_reason("cpu")
    assert "warp-clang" in reason and "pip install" in reason, reason


@pytest.mark.gpu
def test_gpu_counts_equal_the_cpu_counts(backend):
    """Integer generators and exact inside tests: every variant counts the same on both devices."""
    require("warp", "gpu")
    n, start = 10**7 + 3, 2**32 - 5_000_001
    assert backend.shared(n, 5, device="gpu", start=start) == philox.shared_hits_reference(n, 5, start)
    assert backend.native(n, 5, device="gpu", start=start) == backend.native(n, 5, start=start)
    assert backend.native(n, 5, device="gpu", start=start, chunk=1000) == backend.native(n, 5, start=start)
    assert backend.naive(n, 5, device="gpu") == backend.naive(n, 5)
    far = backend.shared(2**32 + 7, 9, device="gpu", start=2**40 - 2**32 - 7)
    assert abs(jitpi.z_score(far, 2**32 + 7)) < 5


def test_a_release_older_than_exact_from_is_refused_with_the_reason(backend):
    """Warp releases before 1.16 counted 0 hits for a whole variant in some processes: the backend
    refuses them by name rather than count (here warp's version is set back before jitpi loads it)."""
    script = textwrap.dedent(
        """
        import json, warp, jitpi
        warp.config.version = "1.13.0"
        ok, reason = jitpi.availability("warp", "cpu", "shared")
        print(json.dumps([ok, reason]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ok, reason = json.loads(done.stdout.strip().splitlines()[-1])
    assert not ok
    assert "warp-lang 1.13.0 is older than 1.16" in reason and "pip install 'jitpi[warp]'" in reason, reason
    assert backend.EXACT_FROM == (1, 16)
