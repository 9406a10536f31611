"""taichi-specific properties: the int32 loop bounds Taichi imposes and the launches that keep under
them, one compilation for every n and chunk, counts independent of the thread count, the offline
cache variable honoured (a cold call compiles), no system compiler needed, one arch per process,
and the CUDA kernel's u32 round function checked on the CPU. The tests marked ``gpu`` need one."""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import require

import jitpi
from jitpi import philox, registry

backend = pytest.importorskip("jitpi.backends.taichi", reason="taichi is not installed")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _taichi_available():
    require("taichi")


def run_python(script: str, env: dict[str, str] | None = None, timeout: int = 120, **argv: str) -> dict:
    """Run ``script`` in a fresh interpreter from the checkout (``argv`` values as its arguments);
    its last stdout line is JSON."""
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *argv.values()],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_taichi_cuts_an_int64_loop_bound_to_int32(tmp_path):
    """The pitfall the kernels are built around: 2**32 + 3 trips run as 3, with only a warning."""
    source = tmp_path / "trips.py"  # Taichi reads a kernel's source from its file
    source.write_text(
        textwrap.dedent(
            """
            import json
            import taichi as ti
            from jitpi.backends import taichi as backend

            backend._ensure_runtime("cpu")

            @ti.kernel
            def trips(n: ti.i64) -> ti.i64:
                count = ti.i64(0)
                for _ in range(n):
                    count += 1
                return count

            print(json.dumps({"trips": trips(2**32 + 3)}))
            """
        )
    )
    assert run_python(f"exec(compile(open({str(source)!r}).read(), {str(source)!r}, 'exec'))")["trips"] == 3


@pytest.mark.parametrize("variant", ["native", "shared"])
def test_long_ranges_are_split_into_launches_under_int32(monkeypatch, variant):
    """With a few parallel indices per launch, many launches still add up to one count."""
    kernel = getattr(backend, variant)
    cases = [(10_001, 7, 4), (999, 2**33 - 3, 1), (4_097, 2**40 - 5_000, 6)]
    expected = [kernel(n, 2**64 - 1, start=start, chunk=chunk) for n, start, chunk in cases]
    monkeypatch.setattr(backend, "GROUPS_PER_LAUNCH", 3)
    assert [kernel(n, 2**64 - 1, start=start, chunk=chunk) for n, start, chunk in cases] == expected
    if variant == "shared":
        assert expected == [philox.shared_hits_reference(n, 2**64 - 1, start) for n, start, _ in cases]


def test_one_compilation_serves_every_n_chunk_and_start():
    for variant in ("native", "shared"):
        backend.BACKEND.kernel(variant)(1_000, 1)
    backend.naive(1_000, 1)
    compiled = backend.compile_count()
    for n, start, chunk in ((1, 0, None), (17, 5, 3), (10**5, 2**33 + 1, 1), (10**6 + 1, 7, 2**20 + 1)):
        backend.native(n, n, start=start, chunk=chunk)
        backend.shared(n, n, start=start, chunk=chunk)
        backend.naive(n, n)
    assert backend.compile_count() == compiled


def native_reference(n: int, seed: int, start: int) -> int:
    """SplitMix64 by position in Python ints: sample i is splitmix64(key + i * GAMMA)."""
    key = philox.splitmix64(seed)
    words = (
        philox.splitmix64((key + i * philox.SPLITMIX_GAMMA) & philox.MASK64) for i in range(start, start + n)
    )
    return sum(philox.inside_scalar(word & philox.MASK32, word >> 32) for word in words)


def test_native_is_splitmix64_by_position():
    """numba's native stream: 785,189 hits at (1e6, 3) there too, and the Python reference anywhere."""
    assert backend.native(10**6, 3) == 785_189
    for n, seed, start in ((10_003, 2**64 - 1, 0), (12_345, 5, 2**40 - 20_000), (7, 0, 3)):
        assert backend.native(n, seed, start=start, chunk=1000) == native_reference(n, seed, start)


def test_thread_count_does_not_change_hits():
    """One thread (JITPI_THREADS=1, read at ti.init) and all of them give the same counts."""
    here = {
        "native": backend.native(10**7 + 3, 2**64 - 1),
        "shared": backend.shared(10**7 + 3, 2**64 - 1, start=1),
        "naive": backend.naive(10**6 + 1, 5),
    }
    assert backend._threads() == jitpi.backends.cpu_threads()
    one_thread = run_python(
        """
        import json
        from jitpi.backends import taichi as backend
        print(json.dumps({
            "native": backend.native(10**7 + 3, 2**64 - 1),
            "shared": backend.shared(10**7 + 3, 2**64 - 1, start=1),
            "naive": backend.naive(10**6 + 1, 5),
            "describe": backend.describe("cpu"),
        }))
        """,
        env={**os.environ, "JITPI_THREADS": "1"},
    )
    assert "1 thread" in one_thread.pop("describe")
    assert one_thread == here


def test_cold_cache_compiles_into_the_registry_folder(tmp_path):
    """The registry's variable is the one Taichi reads: an empty folder gets the compiled kernels,
    and a second process loads them from there."""
    env = registry.cold_cache_environment(str(tmp_path))
    (variable,) = (cache.variable for cache in registry.REGISTRY["taichi"].jit_caches)
    assert variable == "TI_OFFLINE_CACHE_FILE_PATH"
    folder = Path(env[variable])
    assert not any(folder.iterdir())
    script = """
        import json, time
        started = time.perf_counter()
        import jitpi
        hits = jitpi.count_hits(10**6, backend="taichi", variant="shared", seed=3)
        print(json.dumps({"hits": hits, "seconds": time.perf_counter() - started}))
        """
    cold = run_python(script, env)
    cached = sorted(path.name for path in folder.iterdir())
    assert any(name.endswith(".tic") for name in cached), cached
    warm = run_python(script, env)
    assert cold["hits"] == warm["hits"] == philox.shared_hits_reference(10**6, 3)
    assert sorted(path.name for path in folder.iterdir()) == cached  # loaded, nothing new compiled


def test_no_system_compiler_is_needed():
    """Taichi's wheel carries LLVM: with nothing on PATH the kernels still compile and count."""
    counts = run_python(
        """
        import json, shutil
        from jitpi.backends import taichi as backend
        assert shutil.which("cc") is None and shutil.which("clang") is None
        print(json.dumps({"shared": backend.shared(1001, 9, start=3), "native": backend.native(1001, 9)}))
        """,
        env={**os.environ, "PATH": ""},
    )
    assert counts["shared"] == philox.shared_hits_reference(1001, 9, 3)
    assert counts["native"] == backend.native(1001, 9)


def test_one_arch_per_process_is_said_and_refused():
    backend.shared(10, 1)  # this process now runs Taichi on the CPU
    reason = backend.device_unavailable_reason("gpu")
    assert "process-wide" in reason and "own" in reason, reason
    with pytest.raises(registry.BackendUnavailable, match="process-wide"):
        backend.shared(10, 1, device="gpu")
    assert backend.device_unavailable_reason("cpu") is None


def test_gpu_without_a_driver_says_what_is_missing():
    reason = backend.cuda_missing_reason()
    if reason is None:
        pytest.skip("a CUDA driver is present")
    assert "libcuda" in reason and "NVIDIA GPU" in reason and backend.VERSION in reason


def test_cuda_round_function_is_exact_on_the_cpu():
    """The GPU's shared kernel (u32 words, the product's halves cast back) is the same stream; it is
    compiled here for the CPU, as Taichi cannot build CUDA code without a driver."""
    kernel = backend._SHARED_KERNELS["gpu"]
    backend._ensure_runtime("cpu")
    seed = 2**64 - 1
    k0, k1 = philox.split_seed(seed)
    for start, n, per in ((0, 10_000, 32), (1, 3, 1), (2**33 - 1001, 3001, 7), (2**40 - 4097, 4097, 32)):
        hits = backend._launch(kernel, start, start + n, per, k0, k1, 0)
        assert hits == philox.shared_hits_reference(n, seed, start), (start, n)


def test_naive_is_the_article_approach_and_bounded():
    assert backend.naive_max_n() <= backend.NAIVE_HARD_MAX == 2**31 - 1
    assert backend.naive(10**6, 7) == backend.naive(10**6, 7)
    estimate = jitpi.estimate_pi(10**6, backend="taichi", variant="naive", seed=11)
    assert abs(estimate.z) < 5, estimate
    with pytest.raises(ValueError, match="n must be"):
        backend.naive(2**31, 1)


def test_counts_past_two_to_the_31_hits():
    n = 2**31 + 2**30
    hits = backend.native(n, 1)
    assert hits > 2**31 and abs(hits - n * math.pi / 4) < 6 * math.sqrt(n * 0.1686)


def test_describe_names_version_compiler_and_threads():
    backend.native(10, 1)
    text = backend.describe("cpu")
    assert backend.VERSION in text and "LLVM" in text and "thread" in text


@pytest.mark.gpu
def test_gpu_counts_equal_the_cpu_counts():
    """GPU and CPU each in a process of their own (Taichi holds one arch per process, and this one
    may hold either): every variant, one compilation for every n."""
    reason = backend.cuda_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    cases = [(10**7 + 3, 5, 0), (10**6 + 1, 2**64 - 1, 2**33 - 7), (3, 1, 2**40 - 3), (2**32 + 12_345, 1, 0)]
    script = """
        import json, sys
        from jitpi.backends import taichi as backend
        device, cases = sys.argv[1], {cases!r}
        out = {{"describe": backend.describe(device)}}
        for variant in ("shared", "native"):
            kernel = getattr(backend, variant)
            kernel(1000, 1, device=device)
            compiled = backend.compile_count()
            out[variant] = [kernel(n, seed, device=device, start=start) for n, seed, start in cases]
            assert backend.compile_count() == compiled
        out["naive"] = backend.naive(10**7, 3, device=device)
        print(json.dumps(out))
        """
    gpu, cpu = (
        run_python(script.format(cases=cases), device=device, timeout=600) for device in ("gpu", "cpu")
    )
    assert "CUDA" in gpu["describe"]
    assert gpu["shared"] == cpu["shared"] and gpu["native"] == cpu["native"]
    assert gpu["shared"][1] == philox.shared_hits_reference(10**6 + 1, 2**64 - 1, 2**33 - 7)
    assert gpu["shared"][3] > 2**31
    assert abs(gpu["naive"] - cpu["naive"]) < 6 * math.sqrt(10**7 * 0.1686)
