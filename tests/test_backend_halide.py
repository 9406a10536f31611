"""halide-specific properties: one compiled Callable per pipeline whatever n, seed or start, and no
on-disk cache; the shared stream from both round functions (UInt(64) lanes and UInt(32) words) at
odd, far and 2**32-crossing starts and over several calls; native against a pure-Python model of
SplitMix64 by position (and numba's native stream); the naive bound; counts the thread count does
not change; the generated CPU code vectorised; the CUDA schedules compiled to PTX without a GPU;
and the availability messages."""

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

ROOT = Path(__file__).resolve().parents[1]
MASK32 = philox.MASK32


@pytest.fixture(scope="module")
def backend():
    require("halide")
    registry.load("halide")
    from jitpi.backends import halide as module

    return module


@pytest.fixture(scope="module")
def hl(backend):
    import halide

    return halide


def _run_script(script: str, env: dict[str, str] | None = None) -> dict:
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_registry_names_only_the_cuda_drivers_cache_and_a_fresh_process_writes_nothing(tmp_path):
    """Halide's JIT keeps its code in memory: a first call in a fresh process whose HOME, TMPDIR and
    XDG_CACHE_HOME are empty folders leaves them empty. The one cache the registry names is the CUDA
    driver's (PTX that Halide hands the driver on a GPU is compiled to machine code and kept there)."""
    require("halide")
    assert [cache.variable for cache in registry.REGISTRY["halide"].jit_caches] == ["CUDA_CACHE_PATH"]
    folders = {name: tmp_path / name.lower() for name in ("HOME", "TMPDIR", "XDG_CACHE_HOME")}
    env = dict(os.environ)
    for name, folder in folders.items():
        folder.mkdir()
        env[name] = str(folder)
    result = _run_script(
        """
        import json, jitpi
        print(json.dumps({"hits": jitpi.count_hits(100_003, backend="halide", variant="shared", seed=3)}))
        """,
        env,
    )
    assert result["hits"] == philox.shared_hits_reference(100_003, 3)
    assert {name: sorted(os.listdir(folder)) for name, folder in folders.items()} == {
        name: [] for name in folders
    }


def test_each_pipeline_is_compiled_once(backend):
    """One Callable per pipeline and device: no n, seed, start or chunk compiles anything again."""
    backend.shared(10, 1)
    backend.native(10, 1)
    compiled = backend.compile_count()
    assert {("shared", "cpu"), ("native", "cpu")} <= set(backend._callables)
    for n, seed, start, chunk in (
        (1, 0, 0, None),
        (10**5 + 1, 2**64 - 1, 2**32 - 7, 1000),
        (3, 5, 2**40 - 3, 3),
    ):
        backend.native(n, seed, start=start, chunk=chunk)
        backend.shared(n, seed, start=start, chunk=chunk)
    assert backend.compile_count() == compiled


def test_halide_itself_compiles_each_pipeline_once_in_a_fresh_process():
    """What ``compile_count`` counts is what Halide compiles: with ``HL_DEBUG_CODEGEN=1`` Halide
    logs "JIT compiling <pipeline> for <target>" at every JIT compilation, and new n, seeds, starts
    and chunks log nothing more."""
    env = {**os.environ, "HL_DEBUG_CODEGEN": "1", "PYTHONPATH": str(ROOT)}
    script = textwrap.dedent(
        """
        from jitpi import registry
        backend = registry.load("halide")
        for variant in ("shared", "native"):
            kernel = backend.kernel(variant)
            calls = ((1001, 1, 0, None), (10**5 + 3, 2**64 - 1, 7, 1000), (5, 9, 2**40 - 5, 3))
            for n, seed, start, chunk in calls:
                kernel(n, seed, start=start, chunk=chunk)
        print("compiled", backend.compile_count())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    compiled = sorted(
        line.split()[2] for line in log.splitlines() if line.startswith("JIT compiling halide_")
    )
    assert compiled == ["halide_native", "halide_shared"], compiled
    assert "compiled 2" in done.stdout


@pytest.mark.parametrize("start", [0, 1, 2**31 - 3, 2**32 * 2 - 1001, 2**40 - 4097])
@pytest.mark.parametrize("form", ["lanes", "words"])
def test_both_round_functions_count_the_shared_stream(backend, form, start):
    """The CPU's form (UInt(64) lanes) and the GPU's form (UInt(32) words, run here on the CPU):
    the reference's hits at odd, int32-crossing and far starts, blocks past 2**32 included."""
    hits, arguments = backend.build_shared("cpu", form)
    run = backend._compile(hits, arguments)
    key = backend.philox.split_seed
    for seed, blocks_per_lane in ((0, 1), (2**64 - 1, 500), (12345, 1 << 13)):
        first_block, end_block = philox.block_range(start, 3001)
        drop_even = first_block if start % 2 else backend.NO_BLOCK
        drop_odd = end_block - 1 if (start + 3001) % 2 else backend.NO_BLOCK
        lanes = -(-(end_block - first_block) // blocks_per_lane)
        out = backend.aligned_empty(-(-lanes // backend.VECTOR) * backend.VECTOR, "int64")
        run(first_block, end_block, blocks_per_lane, drop_even, drop_odd, *key(seed), 0, out)
        assert int(out.sum()) == philox.shared_hits_reference(3001, seed, start), (seed, blocks_per_lane)


def test_inside_test_is_exact_at_the_int32_extremes(backend, hl):
    """The pipelines' inside test against ``jitpi.philox.inside_scalar`` on words whose squares sit at
    and around the bound: x = y = -2**31 (x*x + y*y = 2**63, which Int(64) cannot hold), -2**31 with
    0 (= 2**62, not inside) and with 1, 2**31 - 1, and the points next to the bound."""
    edges = (0, 1, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF, 0x40000000, 0xC0000000, 0xB504F334)
    pairs = [(x, y) for x in edges for y in edges]
    words = hl.ImageParam(hl.UInt(32), 2, "words")
    i = hl.Var("i")
    inside = hl.Func("inside")
    inside[i] = hl.cast(hl.UInt(8), backend._inside(words[0, i], words[1, i]))
    inside.vectorize(i, 16, hl.TailStrategy.GuardWithIf)
    run = hl.Pipeline(inside).compile_to_callable([words], backend.cpu_target())
    array = backend.np.ascontiguousarray(backend.np.asarray(pairs, dtype=backend.np.uint32))
    out = backend.aligned_empty(len(pairs), "uint8")
    run(array, out)
    assert out.tolist() == [int(philox.inside_scalar(x, y)) for x, y in pairs]


def test_a_count_over_several_calls_adds_up(backend, monkeypatch):
    """A count longer than one call's lanes runs in several calls (here 7 lanes a call, and a tail
    call), each lane's count an int64: the sum is the reference's."""
    monkeypatch.setattr(backend, "LANES_PER_CALL", 7)
    for start in (0, 3, 2**33 + 1):
        assert backend.shared(100_003, 9, start=start, chunk=1000) == philox.shared_hits_reference(
            100_003, 9, start
        )


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 31, 32, 33])
def test_edges_of_one_lane(backend, n):
    """n below, at and above one vector of lanes, with odd starts: the masks of the tail lanes and
    of the dropped edge samples."""
    for start in (0, 1, 2**40 - 33):
        assert backend.shared(n, 4, start=start, chunk=2) == philox.shared_hits_reference(n, 4, start)


def _native_model(n: int, seed: int, start: int) -> int:
    """SplitMix64 by position: sample i's word is splitmix64(key + i * GAMMA), key = splitmix64(seed)."""
    key = philox.splitmix64(seed)
    hits = 0
    for index in range(start, start + n):
        word = philox.splitmix64((key + index * philox.SPLITMIX_GAMMA) & philox.MASK64)
        hits += philox.inside_scalar(word & MASK32, word >> 32)
    return hits


@pytest.mark.parametrize("start", [0, 2**31 - 40, 2**32 - 40, 2**40 - 80])
def test_native_is_splitmix64_by_position(backend, start):
    for seed in (0, 2**64 - 1):
        counts = [backend.native(1, seed, start=start + i) for i in range(80)]
        assert counts == [_native_model(1, seed, start + i) for i in range(80)], (start, seed)
        assert backend.native(80, seed, start=start, chunk=7) == sum(counts)


def test_native_is_numbas_native_stream(backend):
    """The same stream as numba's native variant (and taichi's): equal counts, where numba runs."""
    ok, reason = jitpi.availability("numba", "cpu", "native")
    if not ok:
        pytest.skip(reason)
    numba_native = registry.load("numba").kernel("native")
    for n, seed, start in ((10**6 + 3, 7, 0), (300_001, 2**64 - 1, 2**40 - 300_001)):
        assert backend.native(n, seed, start=start) == numba_native(n, seed, start=start)


def test_thread_count_changes_nothing():
    """HL_NUM_THREADS sets the size of Halide's thread pool; counts are the same for 1 and 3."""
    script = """
        import json, jitpi
        variants = ("native", "shared")
        counts = [jitpi.count_hits(10**6 + 1, backend="halide", variant=v, seed=5) for v in variants]
        print(json.dumps(counts))
        """
    counts = []
    for threads in ("1", "3"):
        env = {**os.environ, "HL_NUM_THREADS": threads}
        counts.append(_run_script(script, env))
    assert counts[0] == counts[1]
    assert counts[0][1] == philox.shared_hits_reference(10**6 + 1, 5)


def test_a_forked_child_counts_after_the_parent_ran_halides_thread_pool(backend):
    """A child forked after Halide's runtime started its threads (Dask's and multiprocessing's
    workers) inherits none of them; its parallel calls must still run, and count the same."""
    import multiprocessing

    expected = backend.shared(1_000_003, 3, chunk=1000)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(backend.shared, (1_000_003, 3), {"chunk": 1000}).get(timeout=120) == expected


def test_naive_is_whole_buffers_of_random_float(backend):
    assert backend.naive_max_n("cpu") <= backend.NAIVE_LARGEST_N < 2**31
    assert backend.naive(10_007, 5) == backend.naive(10_007, 5)
    assert backend.naive(10_007, 5) != backend.naive(10_007, 6)
    assert backend.naive_seed(2**64 - 1) != backend.naive_seed(2**64 - 2)
    with pytest.raises(ValueError, match="naive"):
        backend.naive(backend.NAIVE_LARGEST_N + 1, 5)


def test_cpu_code_is_vectorised(backend, hl, tmp_path):
    """The shared pipeline's assembly for this machine: Philox's products are 32 x 32 -> 64-bit
    vector multiplies (``vpmuludq``), and a scalar ``imul`` does none of them."""
    hits, arguments = backend.build_shared("cpu")
    path = tmp_path / "shared.s"
    hl.Pipeline(hits).compile_to_assembly(str(path), arguments, "shared", backend.cpu_target())
    text = path.read_text()
    assert text.count("vpmuludq") >= 19, text.count("vpmuludq")


def test_gpu_schedules_compile_to_ptx_without_a_gpu(backend, hl, tmp_path):
    """The CUDA schedules (gpu_tile) build for a CUDA target here: Halide's LLVM emits PTX, which the
    host code embeds as text; the shared kernel's round function (UInt(32) words) takes each
    product from one ``mul.wide.u32`` (19 a block, in each of the loop's two copies)."""
    target = hl.Target("x86-64-linux-cuda-cuda_capability_80")
    ptx = {}
    for name, build in (("shared", backend.build_shared), ("native", backend.build_native)):
        outputs, arguments = build("gpu")
        path = tmp_path / f"{name}.s"
        hl.Pipeline(outputs).compile_to_assembly(str(path), arguments, name, target)
        ptx[name] = path.read_text(errors="replace")
        assert ".target sm_80" in ptx[name] and "Generated by LLVM NVPTX" in ptx[name], name
    assert ptx["shared"].count("mul.wide.u32") >= 2 * 19


def test_availability_messages(backend):
    """No GPU: the reason names what is missing; describe names the version and the target."""
    assert backend.VERSION in backend.describe("cpu") and "threads" in backend.describe("cpu")
    reason = backend.device_unavailable_reason("gpu")
    if reason is not None:
        assert reason.startswith("no CUDA GPU for Halide here") and "PTX" in reason, reason
        assert jitpi.availability("halide", "gpu") == (False, reason)
        with pytest.raises(jitpi.BackendUnavailable, match="no CUDA GPU"):
            jitpi.count_hits(10, backend="halide", variant="shared", device="gpu")


def test_a_missing_halide_is_named_with_its_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "halide" else real(name, *a)
    )
    assert registry._missing_modules("halide") == "halide is not installed (pip install 'jitpi[halide]')"


@pytest.mark.gpu
def test_gpu_counts_equal_the_cpu_counts(backend):
    require("halide", "gpu")
    n, start = 10**7 + 3, 2**32 - 5_000_001
    assert backend.shared(n, 5, device="gpu", start=start) == philox.shared_hits_reference(n, 5, start)
    assert backend.native(n, 5, device="gpu", start=start) == backend.native(n, 5, start=start)
    assert backend.native(n, 5, device="gpu", start=start, chunk=1000) == backend.native(n, 5, start=start)
    assert backend.naive(n, 5, device="gpu") == backend.naive(n, 5)
    far = backend.shared(2**32 + 7, 9, device="gpu", start=2**40 - 2**32 - 7)
    assert abs(jitpi.z_score(far, 2**32 + 7)) < 5
