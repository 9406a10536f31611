"""drjit-specific properties: the kernel cache that ``DRJIT_CACHE_DIR`` moves (a cold call compiles,
the next process reads the kernel back), one compile for every n, seed, start and chunk edge (the
scalars are opaque), exact shared counts where a launch's block counter carries into its high word,
the native stream against a pure-Python model of its PCG32 runs, counts that the thread count
does not change, the pool's threads used, the naive bound and the availability messages."""

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

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def backend():
    require("drjit")
    registry.load("drjit")
    from jitpi.backends import drjit as module

    return module


def run_python(script: str, env: dict[str, str] | None = None, timeout: int = 300) -> dict:
    """Run ``script`` in a fresh interpreter from the checkout; its last stdout line is JSON."""
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_cold_cache_compiles_into_the_empty_folder_and_the_next_process_reads_it(tmp_path):
    """``cold_cache_environment`` points ``DRJIT_CACHE_DIR`` at an empty folder: the first process
    compiles the shared kernel there (hard misses), the next loads it from there (soft misses only)."""
    require("drjit")
    variables = [cache.variable for cache in registry.REGISTRY["drjit"].jit_caches]
    assert variables[0] == "DRJIT_CACHE_DIR"  # what Dr.Jit-Core's jitc_cache_init reads (1.5.0)
    env = registry.cold_cache_environment(str(tmp_path / "caches"))
    folder = Path(env["DRJIT_CACHE_DIR"])
    assert folder.is_dir() and not any(folder.iterdir())
    script = """
        import json, os
        import jitpi
        import drjit as dr
        hits = jitpi.count_hits(100_003, backend="drjit", variant="shared", seed=3)
        launches, soft, hard = dr.detail.launch_stats()
        files = sorted(
            os.path.relpath(os.path.join(where, name), os.environ["DRJIT_CACHE_DIR"])
            for where, _, names in os.walk(os.environ["DRJIT_CACHE_DIR"]) for name in names
        )
        print(json.dumps({"hits": hits, "soft": soft, "hard": hard, "files": files}))
    """
    cold = run_python(script, env)
    warm = run_python(script, env)
    assert cold["hits"] == warm["hits"] == philox.shared_hits_reference(100_003, 3)
    assert cold["hard"] >= 1 and cold["soft"] == 0, cold
    assert warm["hard"] == 0 and warm["soft"] == cold["hard"], warm
    kernels = [name for name in cold["files"] if not name.startswith(".")]
    assert kernels and set(kernels) <= set(warm["files"]), (cold, warm)


def test_one_compile_serves_every_n_seed_start_and_chunk_edge(backend):
    """The first block, the key and the sample range inside a chunk are opaque scalars and the lane
    count is a launch size, not code: nothing compiles again, whatever the call."""
    for kernel in (backend.shared, backend.native):
        kernel(1001, 1, start=3)
    backend.naive(1001, 1)
    compiled = backend.compile_count()
    for n, seed, start in ((1, 2, 0), (999, 3, 2**31 + 1), (backend.CHUNKS.shared + 3, 2**64 - 1, 2**40 - 7)):
        assert 0 <= backend.shared(n, seed, start=start) <= n
        assert 0 <= backend.native(n, seed, start=start) <= n
        backend.shared(n, seed, start=start, chunk=4096)  # another lane count: the same kernel
    backend.naive(12_345, 2**64 - 1)
    assert backend.compile_count() == compiled


@pytest.mark.parametrize("start", [0, 1, 2**33 - 1001, 2**33 - 2, 2**40 - 4097])
def test_shared_is_exact_where_the_block_counter_carries(backend, start):
    """Sample 2**33 is block 2**32: a launch that crosses it carries from word 0 into word 1 lane by
    lane; odd starts drop the first block's even sample, odd ends the last block's odd one."""
    for seed in (0, 2**64 - 1):
        expected = philox.shared_hits_reference(3001, seed, start)
        for chunk in (None, 3, 1002, 4096):
            assert backend.shared(3001, seed, start=start, chunk=chunk) == expected, (seed, chunk)


@pytest.mark.parametrize("start", [0, 1, 255, 2**33 - 41, 2**40 - 81])
def test_native_is_drjits_pcg32(backend, start):
    """Sample by sample, the native kernel counts what a Python model of its PCG32 runs (the hashed
    seeding, Dr.Jit's ``next_uint32``, the cell centres and the exact test) counts, across run edges;
    the chunk changes nothing."""
    for seed in (0, 12345, 2**64 - 1):
        counts = [backend.native(1, seed, start=start + i) for i in range(40)]
        assert counts == [backend.native_model(1, seed, start + i) for i in range(40)], (start, seed)
        assert backend.native(300, seed, start=start, chunk=7) == backend.native_model(300, seed, start)
    assert backend.native(10_001, 5) == backend.native_model(10_001, 5)


def test_native_and_shared_are_different_streams(backend):
    assert backend.native(100_003, 5) != backend.shared(100_003, 5)


def test_the_round_functions_agree(backend):
    """``philox_words`` runs the kernel's round function in every form (u64 lanes, one 64-bit
    product, ``dr.mul_hi``) and compares them; the known answers and the reference hold."""
    assert set(backend.SHARED_FORMS) == {"lanes", "wide", "mul_hi"} and backend.SHARED_FORM == "lanes"
    counters = [counter for counter, _, _ in philox.KNOWN_ANSWERS]
    for counter, key, expected in philox.KNOWN_ANSWERS:
        assert backend.philox_words([counter], key) == [expected]
    assert backend.philox_words(counters, (1, 2)) == philox.words_scalar(counters, (1, 2))


@pytest.mark.parametrize("form", ["wide", "mul_hi"])
def test_every_form_counts_the_shared_stream(backend, monkeypatch, form):
    monkeypatch.setattr(backend, "SHARED_FORM", form)
    start = 2**33 - 1001
    assert backend.shared(3001, 7, start=start, chunk=1002) == philox.shared_hits_reference(3001, 7, start)


def test_thread_count_changes_nothing_and_the_pool_follows_it(backend, monkeypatch):
    import drjit as dr

    counts = {}
    for threads in (1, 2, 3):
        monkeypatch.setenv("JITPI_THREADS", str(threads))
        counts[threads] = (
            backend.shared(400_003, 7, start=3, chunk=1000),
            backend.native(400_003, 7, chunk=1000),
        )
        assert dr.thread_count() == threads
    assert len(set(counts.values())) == 1, counts
    assert counts[1][0] == philox.shared_hits_reference(400_003, 7, 3)


def _thread_cpu_ticks() -> dict[str, int]:
    """CPU time (user + system, in clock ticks) of each thread of this process, from /proc."""
    ticks = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a thread that ended meanwhile
            continue
        ticks[task.name] = int(fields[11]) + int(fields[12])
    return ticks


def test_a_long_call_runs_on_every_core(backend, monkeypatch):
    """Dr.Jit's pool runs a launch's blocks on ``cpu_threads()`` threads (the caller is one of them:
    nanothread's pool of size N has N - 1 workers, and a thread waiting for the result works too):
    during a long call that many threads each do a fair share (per-thread CPU time from /proc, which
    a busy machine slows but does not hide)."""
    from jitpi.backends import cpu_threads

    monkeypatch.delenv("JITPI_THREADS", raising=False)
    if cpu_threads() < 2 or not Path("/proc/self/task").is_dir():
        pytest.skip("one core here, or no /proc")
    backend.shared(1000, 1)
    before = _thread_cpu_ticks()
    backend.shared(2**28, 1)
    after = _thread_cpu_ticks()
    work = {tid: after[tid] - before.get(tid, 0) for tid in after}
    total = sum(work.values())
    busy = [tid for tid, ticks in work.items() if ticks >= 0.2 * total / cpu_threads()]
    assert total > 0 and len(busy) >= cpu_threads(), (work, cpu_threads())


def test_largest_chunk_is_accepted_and_one_more_is_not(backend):
    largest = backend.CHUNKS.largest
    assert 2 * (largest // 2) <= 2**32 - 1  # a launch's sample positions are UInt32
    start = 2**40 - 5001
    assert backend.shared(5001, 3, start=start, chunk=largest) == philox.shared_hits_reference(5001, 3, start)
    with pytest.raises(ValueError, match="UInt32"):
        backend.shared(10, 3, chunk=largest + 1)


def test_naive_is_whole_arrays_from_dr_rng(backend):
    assert 1 <= backend.naive_max_n("cpu") <= 2**32 - 1
    assert backend.naive(10_007, 5) == backend.naive(10_007, 5)
    assert backend.naive(10_007, 5) != backend.naive(10_007, 6)
    with pytest.raises(ValueError, match="naive"):
        backend.naive(2**32, 5)


def test_availability_messages(backend):
    """The CPU needs a libLLVM 15 or newer: without one the reason names Debian's package; with no
    GPU the GPU's reason says so and a GPU call is refused with it."""
    assert backend.VERSION in backend.describe("cpu") and "LLVM" in backend.describe("cpu")
    import drjit as dr

    if not dr.has_backend(dr.JitBackend.CUDA):
        reason = backend.device_unavailable_reason("gpu")
        assert reason.startswith("no CUDA GPU for Dr.Jit here"), reason
        assert jitpi.availability("drjit", "gpu") == (False, reason)
        with pytest.raises(jitpi.BackendUnavailable, match="no CUDA GPU"):
            jitpi.count_hits(10, backend="drjit", variant="shared", device="gpu")
    env = dict(os.environ, DRJIT_LIBLLVM_PATH="/nonexistent/libLLVM.so")
    ok, reason = run_python(  # reached only where tensorflow is installed
        """
        import json, jitpi
        print(json.dumps(jitpi.availability("drjit", "cpu", "shared")))
        """,
        env,
    )
    assert not ok and "libllvm15" in reason and "DRJIT_LIBLLVM_PATH" in reason, reason


def test_a_release_older_than_required_is_refused_with_the_reason():
    """Dr.Jit 1.0 has no Philox4x32 or dr.mul_hi: the backend refuses it by name."""
    require("drjit")
    answer = run_python(
        """
        import importlib.metadata, json
        real = importlib.metadata.version
        importlib.metadata.version = lambda name: "1.0.5" if name == "drjit" else real(name)
        import jitpi
        print(json.dumps(jitpi.availability("drjit", "cpu", "shared")))
        """
    )
    ok, reason = answer
    assert not ok and "drjit 1.0.5 is older than 1.1" in reason and "jitpi[drjit]" in reason, reason


@pytest.mark.gpu
def test_gpu_counts_equal_the_cpu_counts(backend):
    require("drjit", "gpu")
    n, start = 10**7 + 3, 2**33 - 5_000_001
    assert backend.shared(n, 5, device="gpu", start=start) == philox.shared_hits_reference(n, 5, start)
    assert backend.native(n, 5, device="gpu", start=start) == backend.native(n, 5, start=start)
    assert backend.native(n, 5, device="gpu", start=start, chunk=1000) == backend.native(n, 5, start=start)
    far = backend.shared(2**32 + 7, 9, device="gpu", start=2**40 - 2**32 - 7)
    assert abs(jitpi.z_score(far, 2**32 + 7)) < 5


def test_drjit_after_tensorflow_is_refused_and_goes_first_otherwise():
    """TensorFlow's libraries export their LLVM to the whole process; Dr.Jit's libLLVM loaded after
    them crashed the process (a segfault at the first kernel, or an abort at exit). Imported first by
    the user, TensorFlow makes drjit unavailable with the reason; the tensorflow backend, loaded
    first, imports drjit before TensorFlow, and both count exactly."""
    require("drjit")
    answer = run_python(
        """
        import importlib.util, json, sys
        if importlib.util.find_spec("tensorflow") is None:
            print(json.dumps(None)); sys.exit(0)
        import jitpi
        tensorflow = jitpi.count_hits(10**5, backend="tensorflow", variant="shared")
        drjit = jitpi.count_hits(10**5, backend="drjit", variant="shared")
        order = list(sys.modules)
        print(json.dumps([tensorflow, drjit, order.index("drjit") < order.index("tensorflow")]))
        """
    )
    if answer is None:
        pytest.skip("needs tensorflow installed")
    assert answer == [philox.REFERENCE_HITS[10**5, 0]] * 2 + [True], answer
    ok, reason = run_python(  # reached only where tensorflow is installed
        """
        import json
        import tensorflow
        import jitpi
        print(json.dumps(jitpi.availability("drjit")))
        """
    )
    assert not ok and "drjit cannot be imported after tensorflow" in reason, reason
