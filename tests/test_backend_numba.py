"""numba-specific properties: the kernels' own Philox words, bit-identity with the reference for any
range, independence from the thread count and the chunk, one compilation for every n, the naive
loop's exact stream, and counts past 2**31 hits. The GPU kernels run here in Numba's CUDA simulator
(in a subprocess: NUMBA_ENABLE_CUDASIM is read when numba is first imported) and compile to PTX
where a CUDA toolkit's NVVM is installed; the tests marked ``gpu`` need a real one."""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import require

import jitpi
from jitpi import philox, registry

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


def test_gpu_is_reported_unavailable_without_one():
    if numba.config.ENABLE_CUDASIM:
        pytest.skip("NUMBA_ENABLE_CUDASIM is set: the simulator stands in for a GPU")
    if backend._cuda().is_available():
        pytest.skip("a CUDA GPU is visible here")
    reason = backend.device_unavailable_reason("gpu")
    assert reason and "no CUDA GPU" in reason and numba.__version__ in reason, reason
    assert jitpi.availability("numba", "gpu") == (False, reason)
    with pytest.raises(jitpi.BackendUnavailable, match="no CUDA GPU"):
        jitpi.count_hits(10, backend="numba", variant="shared", device="gpu")
    with pytest.raises(jitpi.BackendUnavailable, match="no CUDA GPU"):
        backend.native(10, 1, device="gpu")


def test_naive_has_no_gpu_form(monkeypatch):
    """The naive rule, not the missing GPU: the GPU is made to look present, so only the rule refuses."""
    gpu_present = dataclasses.replace(backend.BACKEND, device_unavailable_reason=lambda device: None)
    assert "naive" in gpu_present.unavailable_reason("gpu", "naive")
    for variant, device in (("native", "gpu"), ("shared", "gpu"), ("naive", "cpu")):
        assert gpu_present.unavailable_reason(device, variant) is None
    with pytest.raises(jitpi.BackendUnavailable, match=r"naive.*no GPU form"):
        backend.naive(10, 1, device="gpu")
    monkeypatch.setitem(registry._backends, "numba", gpu_present)
    assert registry.unavailable_reason("numba", "gpu", "native") is None
    assert registry.unavailable_reason("numba", "gpu", "naive") == backend.NAIVE_ON_GPU
    with pytest.raises(jitpi.BackendUnavailable) as refused:
        jitpi.count_hits(10, backend="numba", variant="naive", device="gpu")
    assert refused.value.reason == backend.NAIVE_ON_GPU
    assert jitpi.availability("numba", "gpu", "naive") == (False, backend.NAIVE_ON_GPU)
    assert jitpi.availability("numba", "cpu", "naive") == jitpi.availability("numba", "cpu")


@pytest.mark.parametrize("variant", ["native", "shared"])
def test_chunk_reads_the_same_on_both_devices(variant):
    """None and 0 mean the default chunk on both devices; a negative chunk is refused, not counted as 0."""
    kernel = getattr(backend, variant)
    assert kernel(1001, 3, chunk=0) == kernel(1001, 3, chunk=None) == kernel(1001, 3, chunk=7)
    for device in ("cpu", "gpu"):  # checked before any GPU is looked for
        with pytest.raises(ValueError, match=r"chunk must be a positive integer \(or None or 0"):
            kernel(10, 1, device=device, chunk=-4)


def test_import_leaves_numba_cuda_alone():
    """numba.cuda costs 50 ms (numba's own) to 0.5 s (numba-cuda): imported on the first GPU question."""
    script = "import sys, jitpi.backends.numba; print('numba.cuda' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# The GPU kernels in Numba's CUDA simulator: every GPU thread a Python thread, so n stays small.

SIMULATED_CASES = [
    # (n, seed, start, chunk): tails, odd starts and ends, int32 and 2**32-block boundaries, the
    # contract's last samples, and a small odd chunk (four launches that cut Philox blocks).
    (1, 0, 0, None),
    (7, 3, 5, None),
    (2001, 2**64 - 1, 3, None),
    (999, 9, 2**33 - 500, None),
    (1001, 7, 2**40 - 1001, None),
    (1201, 11, 17, 301),
]

REUSED_CASES = [
    # (n, seed, start, chunk): run after every further compilation is made to fail; chunk 0 means
    # the default, as on the CPU. Few launches: each costs the simulator about 0.4 s.
    (1, 2, 0, None),
    (64, 3, 2**32 - 7, 0),
    (33, 5, 2**40 - 33, 32),
]


@pytest.fixture(scope="module")
def simulated():
    """One simulator subprocess runs every case through the GPU kernels and the API.

    It records the kernel signatures ``cuda.jit`` compiles (the first native call must compile
    native alone), then makes ``cuda.jit`` raise and runs more n, starts and chunks on the kernels
    already built.
    """
    script = textwrap.dedent(
        f"""
        import json, warnings
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy scalars warn on uint64 wraparound
        import jitpi
        from jitpi.backends import numba as backend
        cuda = backend._cuda()
        real_jit, compiled = cuda.jit, []
        def recording_jit(*args, **kwargs):
            if args and isinstance(args[0], str):  # a kernel signature, not a device function
                compiled.append(args[0])
            return real_jit(*args, **kwargs)
        cuda.jit = recording_jit
        first_native = backend.native(5, 1, device="gpu")
        compiled_by_first_native = list(compiled)
        counts = [
            [backend.native(n, seed, device="gpu", start=start, chunk=chunk),
             backend.shared(n, seed, device="gpu", start=start, chunk=chunk)]
            for n, seed, start, chunk in {SIMULATED_CASES!r}
        ]
        built = {{kind: backend._gpu_kernel(kind) for kind in ("native", "shared")}}
        def no_compile(*args, **kwargs):
            raise AssertionError(f"cuda.jit called again: {{args}}")
        cuda.jit = no_compile
        reused = [
            [backend.native(n, seed, device="gpu", start=start, chunk=chunk),
             backend.shared(n, seed, device="gpu", start=start, chunk=chunk)]
            for n, seed, start, chunk in {REUSED_CASES!r}
        ]
        same_kernels = all(backend._gpu_kernel(kind) is built[kind] for kind in built)
        try:
            jitpi.count_hits(10, backend="numba", variant="naive", device="gpu")
            naive_error = None
        except jitpi.BackendUnavailable as error:
            naive_error = error.reason
        print(json.dumps({{
            "counts": counts,
            "api": jitpi.count_hits(1000, backend="numba", variant="shared", seed=4, device="gpu"),
            "gpu": jitpi.availability("numba", "gpu"),
            "naive": jitpi.availability("numba", "gpu", "naive"),
            "naive_error": naive_error,
            "first_native": first_native,
            "compiled_by_first_native": compiled_by_first_native,
            "compiled": compiled,
            "reused": reused,
            "same_kernels": same_kernels,
            "grids": [list(built[kind][1]) for kind in ("native", "shared")],
        }}))
        """
    )
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_simulated_gpu_shared_is_the_reference_stream(simulated):
    got = [shared for _, shared in simulated["counts"]]
    expected = [philox.shared_hits_reference(n, seed, start) for n, seed, start, _ in SIMULATED_CASES]
    assert got == expected, SIMULATED_CASES
    assert simulated["api"] == philox.shared_hits_reference(1000, 4)


def test_simulated_gpu_native_is_the_cpu_stream(simulated):
    got = [native for native, _ in simulated["counts"]]
    expected = [backend.native(n, seed, start=start) for n, seed, start, _ in SIMULATED_CASES]
    assert got == expected, SIMULATED_CASES


def test_simulated_gpu_compiles_each_kernel_once_at_its_first_call(simulated):
    """The first native call compiles native alone; after both are built, no n, start or chunk
    compiles anything again, and the counts stay the CPU's."""
    assert simulated["first_native"] == backend.native(5, 1)
    assert simulated["compiled_by_first_native"] == [backend._NATIVE_SIGNATURE]
    assert simulated["compiled"] == [backend._NATIVE_SIGNATURE, backend._SHARED_SIGNATURE]
    expected = [
        [backend.native(n, seed, start=start), philox.shared_hits_reference(n, seed, start)]
        for n, seed, start, _ in REUSED_CASES
    ]
    assert simulated["reused"] == expected, REUSED_CASES
    assert simulated["same_kernels"]
    assert simulated["grids"] == [list(backend.SIMULATOR_GRID)] * 2


def test_simulated_gpu_is_listed_and_refuses_naive(simulated):
    ok, text = simulated["gpu"]
    assert ok and "simulator" in text and "interpreted" in text, text
    assert simulated["naive"] == [False, backend.NAIVE_ON_GPU]
    assert simulated["naive_error"] == backend.NAIVE_ON_GPU


def _cuda_toolkit() -> str | None:
    """A CUDA toolkit directory with NVVM and libdevice, for compiling PTX without a GPU."""
    for home in [os.environ.get("CUDA_HOME", ""), *sorted(glob.glob("/usr/local/cuda*"), reverse=True)]:
        if home and glob.glob(f"{home}/nvvm/libdevice/libdevice*.bc") and glob.glob(f"{home}/*/libnvvm.so*"):
            return home
    return None


def test_gpu_kernels_compile_to_ptx():
    """The simulator does no type inference; NVVM does. Compile both kernels for sm_90 without a GPU."""
    toolkit = _cuda_toolkit()
    if toolkit is None:
        pytest.skip("no CUDA toolkit with NVVM and libdevice here (CUDA_HOME or /usr/local/cuda*)")
    script = textwrap.dedent(
        """
        import types
        import numba.cuda.dispatcher
        from jitpi.backends import numba as backend
        # Device functions are compiled for the current GPU's compute capability: name one.
        numba.cuda.dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
        cuda = backend._cuda()
        sources = backend._gpu_sources()
        for kind, signature in (("native", backend._NATIVE_SIGNATURE), ("shared", backend._SHARED_SIGNATURE)):
            ptx, _ = cuda.compile_ptx(sources[kind], signature, cc=(9, 0))
            assert ".target sm_90" in ptx and ".entry" in ptx, ptx[:500]
            print(kind, len(ptx.splitlines()))
        """
    )
    env = {**os.environ, "CUDA_HOME": toolkit}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert [line.split()[0] for line in result.stdout.split("\n") if line] == ["native", "shared"]


# ---------------------------------------------------------------------------------------------
# A real GPU.


@pytest.fixture
def gpu():
    ok, reason = jitpi.availability("numba", "gpu")
    if not ok:
        pytest.skip(reason)
    if numba.config.ENABLE_CUDASIM:
        pytest.skip("NUMBA_ENABLE_CUDASIM is set: the simulator is not a GPU")


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("n", "seed", "start", "chunk"),
    [
        (10**7 + 3, 5, 0, None),
        (10**6 + 1, 2**64 - 1, 2**33 - 7, None),
        (10**6, 3, 12_345, 2**17 + 1),
        (3, 1, 2**40 - 3, None),
    ],
)
def test_gpu_counts_equal_the_cpu_counts(gpu, n, seed, start, chunk):
    native = backend.native(n, seed, device="gpu", start=start, chunk=chunk)
    assert native == backend.native(n, seed, start=start)
    shared = backend.shared(n, seed, device="gpu", start=start, chunk=chunk)
    assert shared == backend.shared(n, seed, start=start)
    if n <= 10**6 + 1:
        assert shared == philox.shared_hits_reference(n, seed, start)


@pytest.mark.gpu
def test_gpu_one_compilation_serves_every_n(gpu, monkeypatch):
    """After a first call of each kernel, ``cuda.jit`` raises: every further n, start and chunk still runs."""
    built = {kind: backend._gpu_kernel(kind) for kind in ("native", "shared")}

    def no_compile(*args, **kwargs):
        raise AssertionError(f"cuda.jit called again: {args}")

    monkeypatch.setattr(backend._cuda(), "jit", no_compile)
    for n, start, chunk in ((1, 0, None), (17, 5, 3), (10**5, 2**33 + 1, 0), (10**8 + 1, 7, 2**20 + 1)):
        assert backend.native(n, n, device="gpu", start=start, chunk=chunk) == backend.native(
            n, n, start=start
        )
        assert backend.shared(n, n, device="gpu", start=start, chunk=chunk) == backend.shared(
            n, n, start=start
        )
    for kind, (kernel, (blocks, threads)) in built.items():
        assert backend._gpu_kernel(kind) is built[kind]
        assert len(kernel.overloads) == 1, (kind, kernel.overloads)
        assert blocks >= 1 and threads == backend.GPU_THREADS


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["native", "shared"])
def test_gpu_1e9_and_past_two_to_the_31_hits(gpu, variant):
    kernel = getattr(backend, variant)
    assert kernel(10**9, 2, device="gpu") == kernel(10**9, 2)
    n = 2**32 + 12_345
    hits = kernel(n, 1, device="gpu")
    assert hits > 2**31 and abs(hits - n * math.pi / 4) < 6 * math.sqrt(n * 0.1686)
    split = 2**31 + 1  # odd: the shared stream splits inside a Philox block
    assert kernel(split, 1, device="gpu") + kernel(n - split, 1, device="gpu", start=split) == hits
    assert hits == kernel(n, 1)


def test_describe_names_version_and_threads():
    text = backend.describe("cpu")
    assert numba.__version__ in text and "thread" in text
